// Model caching: fetched models go into the Cache API (name versioned by the package
// version), later loads come from it, and a cached file the engine refuses (SHA-256 differs
// from the manifest) is purged and fetched again once. Node has no Cache API, so the test
// installs a small in-memory CacheStorage double; the models are fetched from the unpacked
// package (file: URLs).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { pkg, code } from './helpers.js';

const { Liveness, VERSION } = await pkg();

class MemoryCache {
  constructor() { this.map = new Map(); }
  async match(url) { const b = this.map.get(String(url)); return b ? new Response(b.slice()) : undefined; }
  async put(url, res) { this.map.set(String(url), new Uint8Array(await res.arrayBuffer())); }
  async delete(url) { return this.map.delete(String(url)); }
}
class MemoryCacheStorage {
  constructor() { this.caches = new Map(); }
  async open(name) { if (!this.caches.has(name)) this.caches.set(name, new MemoryCache()); return this.caches.get(name); }
  async keys() { return [...this.caches.keys()]; }
  async delete(name) { return this.caches.delete(name); }
}

before(() => { globalThis.caches = new MemoryCacheStorage(); });
after(() => { delete globalThis.caches; });

// A fixed script without SMILE: a drawn one has a smile one time in three, and then the engine
// also fetches (and caches) the on-demand emotion model, which the last test covers.
const NO_SMILE = { challenges: { script: ['BLINK'] } };

test('models are cached under the package version, then served from the cache; stale caches are pruned', async () => {
  await globalThis.caches.open('liveproof-models-0.0.1-old');
  const first = await Liveness.create({ transport: 'inline', ...NO_SMILE });
  assert.ok(first.info.models.every((m) => m.source === 'network'));
  first.close();
  const name = `liveproof-models-${VERSION}`;
  const cache = await globalThis.caches.open(name);
  assert.equal(cache.map.size, first.info.models.length);
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(await globalThis.caches.keys(), [name]);
  const second = await Liveness.create({ transport: 'inline', ...NO_SMILE });
  assert.ok(second.info.models.every((m) => m.source === 'cache'));
  second.close();
  const third = await Liveness.create({ transport: 'inline', cacheModels: false, ...NO_SMILE });
  assert.ok(third.info.models.every((m) => m.source === 'network'));
  third.close();
});

test('a corrupt cached model is purged and refetched once', async () => {
  const cache = await globalThis.caches.open(`liveproof-models-${VERSION}`);
  const [url, bytes] = [...cache.map.entries()][0];
  const bad = bytes.slice();
  bad[100] ^= 0x55;
  cache.map.set(url, bad);
  const lv = await Liveness.create({ transport: 'inline', ...NO_SMILE });
  const file = url.split('/').pop();
  assert.equal(lv.info.models.find((m) => m.file === file).source, 'network');
  assert.deepEqual(cache.map.get(url), bytes, 'the good bytes replaced the corrupt entry');
  lv.close();
});

test('a model that is wrong at the source too is model_checksum', async () => {
  const lv0 = await Liveness.create({ transport: 'inline', cacheModels: false, ...NO_SMILE });
  const file = lv0.info.models[0].file;
  lv0.close();
  const cache = await globalThis.caches.open(`liveproof-models-${VERSION}`);
  const url = [...cache.map.keys()].find((u) => u.endsWith(`/${file}`));
  const bad = cache.map.get(url).slice();
  bad[50] ^= 1;
  // The override URL points at a corrupt copy: cached or fetched, it never verifies.
  const { writeFileSync, mkdtempSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'liveproof-badmodel-'));
  writeFileSync(join(dir, file), bad);
  await assert.rejects(Liveness.create({ transport: 'inline', models: { [file]: `file://${dir}/${file}` } }), code('model_checksum'));
});

// The emotion model is the smile challenge's alone: the engine loads without it, and a session
// whose script has a smile fetches it (then caches it) before its first frame.
test('the emotion model is fetched only for a script with a smile, then served from the cache', async () => {
  const manifest = JSON.parse((await import('node:fs')).readFileSync(new URL('../../pkg/models/manifest.json', import.meta.url), 'utf8'));
  const emotion = manifest.on_demand.find((m) => m.role === 'emotion');
  assert.ok(emotion, 'the package lists the emotion model as on demand');
  assert.ok(!manifest.models.some((m) => m.role === 'emotion'));
  const cache = await globalThis.caches.open(`liveproof-models-${VERSION}`);
  const url = [...cache.map.keys()].find((u) => u.endsWith('/models/detector_yunet_dynamic.f16.onnx')).replace(/[^/]+$/, emotion.file);
  cache.map.delete(url);

  const blink = await Liveness.create({ transport: 'inline', challenges: { script: ['BLINK'] } });
  assert.ok(!blink.info.models.some((m) => m.role === 'emotion'));
  assert.ok(!cache.map.has(url), 'no smile, no emotion model');
  blink.close();

  const smile = await Liveness.create({ transport: 'inline', challenges: { script: ['SMILE'] } });
  assert.deepEqual(smile.script, ['SMILE']);
  assert.ok(cache.map.has(url), 'fetched for the smile, then cached');
  smile.close();

  // A wrong file for it is refused by the core like any model.
  const { writeFileSync, mkdtempSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'liveproof-badmodel-'));
  const bad = cache.map.get(url).slice();
  bad[50] ^= 1;
  writeFileSync(join(dir, emotion.file), bad);
  await assert.rejects(
    Liveness.create({ transport: 'inline', cacheModels: false, challenges: { script: ['SMILE'] }, models: { [emotion.file]: `file://${dir}/${emotion.file}` } }),
    code('model_checksum'),
  );
});
