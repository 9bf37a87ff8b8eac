// The package as published: version agreement, the exports map, `npm pack` contents, and
// the types (the hand-written .d.ts files against a usage file, and the JS sources under
// `checkJs --strict`), with the TypeScript 5 compiler from the dev dependencies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { ROOT, PKG, pkg } from './helpers.js';

const manifest = JSON.parse(readFileSync(join(PKG, 'package.json'), 'utf8'));

test('package.json: name, version, licence, ESM; VERSION agrees', async () => {
  assert.equal(manifest.name, 'liveproof');
  assert.equal(manifest.version, '0.1.0');
  assert.equal(manifest.license, 'Apache-2.0');
  assert.equal(manifest.type, 'module');
  assert.equal((await pkg()).VERSION, manifest.version);
  assert.equal(manifest.dependencies, undefined, 'no runtime dependencies');
});

test('every exports target exists in the built package', () => {
  for (const [key, target] of Object.entries(manifest.exports)) {
    if (key.includes('*')) continue;
    const targets = typeof target === 'string' ? [target] : Object.values(target);
    for (const t of targets) assert.ok(existsSync(join(PKG, t)), `${key} → ${t}`);
  }
});

test('npm pack ships the code, types, wasm and models, nothing else', () => {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts', PKG], { cwd: ROOT, encoding: 'utf8' });
  const [info] = JSON.parse(out);
  const files = info.files.map((f) => f.path).sort();
  for (const f of ['index.js', 'index.d.ts', 'element.js', 'element.d.ts', 'kiosk.js', 'kiosk.d.ts', 'worker.js', 'engine-host.js', 'README.md', 'package.json', 'models/manifest.json', 'files.json', 'wasm/liveproof_simd.js', 'wasm/liveproof_simd_bg.wasm']) {
    assert.ok(files.includes(f), `${f} is packed`);
  }
  const models = JSON.parse(readFileSync(join(PKG, 'models', 'manifest.json'), 'utf8')).models;
  for (const m of models) assert.ok(files.includes(`models/${m.file}`), m.file);
  assert.deepEqual(files.filter((f) => !/^(?:[\w-]+\.(?:js|d\.ts)|README\.md|package\.json|files\.json|models\/[\w.-]+\.(?:onnx|json)|wasm\/liveproof_\w+(?:_bg\.wasm|\.js|\.d\.ts|_bg\.wasm\.d\.ts))$/.test(f)), []);
});

test('types: the .d.ts files type-check a usage file, and the JS sources pass checkJs --strict', () => {
  const tsc = join(ROOT, 'node_modules', '.bin', 'tsc');
  assert.ok(existsSync(tsc), 'run `npm ci` at the repo root (TypeScript is a dev dependency)');
  execFileSync(tsc, ['-p', join(ROOT, 'tests', 'js', 'tsconfig.json')], { encoding: 'utf8' });
  execFileSync(tsc, ['-p', join(ROOT, 'tests', 'js', 'tsconfig.sources.json')], { encoding: 'utf8' });
});

test('the packed tarball installs and works by package name (exports map, inline engine)', { timeout: 240000 }, async () => {
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'liveproof-consumer-'));
  const out = execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir, PKG], { cwd: ROOT, encoding: 'utf8' });
  const tgz = join(dir, JSON.parse(out)[0].filename);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', tgz], { cwd: dir, encoding: 'utf8' });
  writeFileSync(join(dir, 'app.js'), `
    import { Liveness, LivenessError, VERSION } from 'liveproof';
    import { DeviceKey, ResultQueue } from 'liveproof/kiosk';
    import { EngineHost } from 'liveproof/engine-host';
    import pkgJson from 'liveproof/package.json' with { type: 'json' };
    const lv = await Liveness.create({ transport: 'inline', challenges: { script: ['LOOK_UP'] } });
    const r = await lv.process({ data: new Uint8Array(120 * 90 * 4), width: 120, height: 90 }, 0);
    console.log(JSON.stringify({ script: lv.script, version: VERSION, pkg: pkgJson.version, guidance: r.record.guidance,
      kiosk: typeof DeviceKey + typeof ResultQueue + typeof EngineHost, err: new LivenessError('closed', 'x').code, wasm: lv.stats().wasm }));
    lv.close();
  `);
  const res = JSON.parse(execFileSync(process.execPath, ['--no-warnings', 'app.js'], { cwd: dir, encoding: 'utf8' }).trim());
  assert.deepEqual(res, { script: ['LOOK UP'], version: '0.1.0', pkg: '0.1.0', guidance: ['no_face'], kiosk: 'functionfunctionfunction', err: 'closed', wasm: 'simd' });
});

test('the wrapper\'s copies of the core\'s limits match the wasm build\'s', async () => {
  const { CORE_DEFAULT_TIMEOUT_MS, CORE_MAX_TIMEOUT_MS, MAX_DETECT_EVERY, QUALITY_KEYS, ACTION_THRESHOLD_KEYS, EVIDENCE_KEYS } = await pkg('options.js');
  const glue = await pkg('wasm/liveproof_simd.js');
  glue.initSync({ module: readFileSync(join(PKG, 'wasm', 'liveproof_simd_bg.wasm')) });
  const d = glue.sessionDefaults();
  assert.equal(CORE_DEFAULT_TIMEOUT_MS, d.challenge.timeout_ms);
  assert.equal(CORE_MAX_TIMEOUT_MS, d.max_timeout_ms);
  assert.equal(MAX_DETECT_EVERY, d.max_detect_every);
  assert.deepEqual([...QUALITY_KEYS].sort(), Object.keys(d.engine.quality).sort());
  assert.deepEqual([...ACTION_THRESHOLD_KEYS].sort(), Object.keys(d.challenge.thresholds).sort());
  assert.deepEqual([...EVIDENCE_KEYS].sort(), Object.keys(d.evidence).sort());
});
