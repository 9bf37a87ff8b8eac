// The worker's message protocol, on the real worker.js (in a worker thread with a Web Worker
// global shim): every request carries an id; every reply is {id, ok, result} or
// {id, ok: false, error: {code, message}}; large results are transferred.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PKG, modelBytes } from './helpers.js';

let worker;
let next = 1;
const replies = new Map();
function request(op, args) {
  const id = next++;
  return new Promise((resolve) => {
    replies.set(id, resolve);
    worker.postMessage({ id, op, args });
  });
}

before(() => {
  worker = new Worker(new URL('./fixtures/worker-shim.mjs', import.meta.url), {
    workerData: { workerUrl: pathToFileURL(join(PKG, 'worker.js')).href },
  });
  worker.on('message', (m) => {
    const r = replies.get(m.id);
    replies.delete(m.id);
    r?.(m);
  });
});
after(() => worker?.terminate());

test('replies carry the request id; failures carry {code, message}', async () => {
  const early = await request('frame', { pixels: new Uint8Array(4), width: 1, height: 1, t: 0 });
  assert.equal(early.ok, false);
  assert.equal(early.error.code, 'not_started');
  assert.equal(typeof early.error.message, 'string');

  const init = await request('init', { wasm: 'auto', baseUrl: pathToFileURL(`${PKG}/`).href, models: modelBytes(), cacheModels: false, engine: { age_gender: false }, version: 'test' });
  assert.equal(init.ok, true, JSON.stringify(init.error));
  assert.equal(init.result.flavour, 'simd');
  assert.ok(init.result.models.length >= 5);

  const started = await request('startSession', { sessionOptions: { script: ['BLINK'], live: { detect_every: 3, evidence: {} } } });
  assert.deepEqual(started, { id: started.id, ok: true, result: { script: ['BLINK'] } });

  // Several requests in flight: each reply matches its id.
  const px = new Uint8Array(64 * 48 * 4).fill(60);
  const [a, bad, b] = await Promise.all([
    request('frame', { pixels: px, width: 64, height: 48, t: 0, landmarks: true }),
    request('frame', { pixels: px, width: 65, height: 48, t: 1 }),
    request('frame', { pixels: px, width: 64, height: 48, t: 2 }),
  ]);
  assert.equal(a.ok, true);
  assert.equal(a.result.record.t_ms, 0);
  assert.ok(a.result.landmarks instanceof Float32Array);
  assert.deepEqual(bad.ok, false);
  assert.equal(bad.error.code, 'invalid_frame');
  assert.equal(b.ok, true);
  assert.equal(b.result.record.t_ms, 2);

  const unknown = await request('teleport', {});
  assert.deepEqual(unknown.error.code, 'internal');

  const fin = await request('finish');
  assert.equal(fin.result.events.at(-1).type, 'final_result');
  const ev = await request('evidence', { session_id: 's', nonce: 'n', created_ms: 1, sdk_version: 'test' });
  assert.equal(ev.ok, true);
  assert.equal(ev.result.manifest.session_id, 's');
  const closed = await request('close');
  assert.equal(closed.ok, true);
});
