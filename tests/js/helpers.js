// Shared helpers for the SDK tests: they run against the built package in pkg/ (run
// `LIVEPROOF_WASM_FLAVOURS=simd scripts/build-pkg.sh` first), in-process (inline transport).
import { readFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const PKG = join(ROOT, 'pkg');
export const MEDIA = join(ROOT, '..', 'shared', 'media');

if (!existsSync(join(PKG, 'index.js')) || !existsSync(join(PKG, 'models', 'manifest.json'))) {
  throw new Error('pkg/ is not built: run `LIVEPROOF_WASM_FLAVOURS=simd scripts/build-pkg.sh` first');
}

/** Imports a module of the built package. */
export function pkg(path = 'index.js') {
  return import(pathToFileURL(join(PKG, path)).href);
}

/** The package's model files as bytes, by file name (what the tests pass as `models`). */
export function modelBytes() {
  const manifest = JSON.parse(readFileSync(join(PKG, 'models', 'manifest.json'), 'utf8'));
  return Object.fromEntries(manifest.models.map((m) => [m.file, new Uint8Array(readFileSync(join(PKG, 'models', m.file)))]));
}

/** Options for an in-process instance with the models passed as bytes. */
export function inlineOptions(extra = {}) {
  return { transport: 'inline', models: modelBytes(), ...extra };
}

/**
 * JPEG frames cut from a clip with ffmpeg into a temp dir (cached across test files by clip
 * and rate; never committed): returns the sorted file paths.
 */
export function clipFrames(clip, fps = 15, width = 640) {
  const src = join(MEDIA, clip);
  const dir = join(tmpdir(), `liveproof-js-frames-${clip.replace(/[^\w.-]/g, '_')}-${fps}-${width}`);
  const done = join(dir, '.done');
  if (!existsSync(done)) {
    mkdirSync(dir, { recursive: true });
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', src, '-vf', `fps=${fps},scale=${width}:-2`, '-q:v', '2', join(dir, 'f%04d.jpg')]);
    execFileSync('touch', [done]);
  }
  return readdirSync(dir).filter((f) => f.endsWith('.jpg')).sort().map((f) => join(dir, f));
}

/** A LivenessError check for assert.rejects / assert.throws. */
export function code(expected, option) {
  return (e) => {
    if (e?.name !== 'LivenessError') throw new Error(`expected a LivenessError, got ${e?.name}: ${e?.message}`);
    if (e.code !== expected) throw new Error(`expected code ${expected}, got ${e.code}: ${e.message}`);
    if (option !== undefined && e.option !== option) throw new Error(`expected option ${option}, got ${e.option}: ${e.message}`);
    return true;
  };
}

let glue;
/** The wasm glue of the built package, initialised (for `decodeImage` on test stills). */
export async function coreGlue() {
  if (!glue) {
    glue = await pkg('wasm/liveproof_simd.js');
    glue.initSync({ module: readFileSync(join(PKG, 'wasm', 'liveproof_simd_bg.wasm')) });
  }
  return glue;
}
