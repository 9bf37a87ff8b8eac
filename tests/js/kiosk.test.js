// Kiosk mode: the Ed25519 device key (WebCrypto, non-extractable, persisted in IndexedDB;
// fake-indexeddb stands in for the browser's store) and the durable result queue posting
// signed bundles in order to a local HTTP server that verifies them with the core.
import 'fake-indexeddb/auto';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { inlineOptions, pkg, code, coreGlue } from './helpers.js';

const { Liveness } = await pkg();
const { DeviceKey, ResultQueue } = await pkg('kiosk.js');

let server;
let base;
let plan = []; // statuses to answer, in order; then 200
const got = [];
let glue;

before(async () => {
  glue = await coreGlue();
  server = createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const form = await new Response(Buffer.concat(chunks), { headers: { 'content-type': req.headers['content-type'] } }).formData();
    got.push({ url: req.url, form, auth: req.headers.authorization });
    const status = plan.shift() ?? 200;
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(status < 300 ? { verdict: `v${got.length}`, result: {} } : { message: `refused ${status}`, detail: { code: status === 422 ? 'evidence_too_old' : 'unavailable' } }));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${server.address().port}`;
});
after(() => server?.close());

test('DeviceKey: created once, persisted, private key not extractable', async () => {
  const a = await DeviceKey.loadOrCreate('front-desk', { dbName: 'kiosk-test-1' });
  assert.equal(a.privateKey.extractable, false);
  assert.equal(a.privateKey.algorithm.name, 'Ed25519');
  assert.equal(a.publicKeyRaw().length, 32);
  assert.match(a.publicKeyBase64url(), /^[A-Za-z0-9_-]{43}$/);
  assert.equal(a.deviceId, null);
  assert.throws(() => a.signingKey(), code('invalid_argument'));
  await a.setDeviceId('dev-42');
  const b = await DeviceKey.loadOrCreate('front-desk', { dbName: 'kiosk-test-1' });
  assert.deepEqual(b.publicKeyRaw(), a.publicKeyRaw());
  assert.equal(b.deviceId, 'dev-42');
  assert.deepEqual(b.signingKey(), { alg: 'EdDSA', kid: 'dev-42', privateKey: b.privateKey });
  const other = await DeviceKey.loadOrCreate('back-door', { dbName: 'kiosk-test-1' });
  assert.notDeepEqual(other.publicKeyRaw(), a.publicKeyRaw());
  await DeviceKey.delete('back-door', { dbName: 'kiosk-test-1' });
  const again = await DeviceKey.loadOrCreate('back-door', { dbName: 'kiosk-test-1' });
  assert.notDeepEqual(again.publicKeyRaw(), other.publicKeyRaw());
  await assert.rejects(DeviceKey.loadOrCreate(''), code('invalid_argument'));
  await assert.rejects(a.setDeviceId(7), code('invalid_argument'));
});

test('ResultQueue: options are validated', () => {
  assert.throws(() => new ResultQueue(), code('invalid_argument'));
  assert.throws(() => new ResultQueue({ url: 5 }), code('invalid_option'));
  assert.throws(() => new ResultQueue({ url: base, deviceKey: {} }), code('invalid_option'));
  assert.throws(() => new ResultQueue({ url: base, retryBaseMs: -1 }), code('invalid_option'));
});

test('ResultQueue: signed bundles survive failures, go out in order, 4xx is recorded as rejected', async () => {
  const key = await DeviceKey.loadOrCreate('front-desk', { dbName: 'kiosk-test-2' });
  await key.setDeviceId('dev-7');
  const url = `${base}/v1/kiosk/evidence`;
  const queue = new ResultQueue({ url, deviceKey: key, dbName: 'kiosk-test-2', auto: false, retryBaseMs: 60000, headers: { authorization: 'Bearer kiosk' } });
  // Three decided sessions (ended early: FAKE, but with evidence) signed with the device key.
  const lv = await Liveness.create(inlineOptions({ challenges: { script: ['BLINK'] } }));
  const grey = { data: new Uint8Array(160 * 120 * 4).fill(80), width: 160, height: 120 };
  const nonces = [];
  for (let i = 0; i < 3; i++) {
    if (i) await lv.reset();
    await lv.process(grey, 0);
    await lv.finish();
    nonces.push(lv.nonce);
    assert.equal(await queue.add(lv), i + 1);
  }
  lv.close();
  assert.equal(await queue.size(), 3);
  await assert.rejects(queue.add({ jws: 'x', items: [{ name: 'a' }] }), code('invalid_argument'));

  const events = [];
  for (const t of ['sent', 'rejected', 'retry']) queue.addEventListener(t, (e) => events.push([t, e.detail.seq, e.detail.status ?? e.detail.delayMs ?? null]));

  // The server is down (503): nothing leaves the queue; a retry is scheduled.
  plan = [503];
  assert.deepEqual(await queue.flush(), { sent: 0, rejected: 0, remaining: 3 });
  assert.deepEqual(events, [['retry', 1, 60000]]);
  // Then: first accepted, second refused for good, third accepted.
  plan = [200, 422, 200];
  assert.deepEqual(await queue.flush(), { sent: 2, rejected: 1, remaining: 0 });
  assert.deepEqual(events.slice(1), [['sent', 1, null], ['rejected', 2, 422], ['sent', 3, null]]);
  queue.close();

  // Order and layout of what the server received, verified with the device's public key.
  assert.equal(got.length, 4);
  const seen = [];
  for (const { url: u, form, auth } of got) {
    assert.equal(u, '/v1/kiosk/evidence');
    assert.equal(auth, 'Bearer kiosk');
    const entries = [...form.entries()];
    assert.equal(entries[0][0], 'evidence');
    const manifest = glue.verifyEvidence(entries[0][1], 'EdDSA', key.publicKeyRaw());
    assert.deepEqual(entries.slice(1).map(([n]) => n), manifest.items.map((i) => i.name));
    assert.equal(JSON.parse(Buffer.from(entries[0][1].split('.')[0], 'base64url')).kid, 'dev-7');
    seen.push(manifest.nonce);
  }
  assert.deepEqual(seen, [nonces[0], nonces[0], nonces[1], nonces[2]]);
  const rejected = await queue.rejected();
  assert.equal(rejected.length, 1);
  assert.equal(rejected[0].seq, 2);
  assert.equal(rejected[0].status, 422);
  assert.deepEqual(rejected[0].body, { message: 'refused 422', detail: { code: 'evidence_too_old' } });
  assert.throws(() => queue.flush(), code('closed'));
});

test('ResultQueue: network failure keeps the bundle', async () => {
  const queue = new ResultQueue({ url: 'http://127.0.0.1:9/unreachable', dbName: 'kiosk-test-3', auto: false, retryBaseMs: 60000 });
  await queue.add({ jws: 'a.b.c', items: [{ name: 'records.json', media_type: 'application/json', data: new Uint8Array([91, 93]) }] });
  const r = await queue.flush();
  assert.deepEqual(r, { sent: 0, rejected: 0, remaining: 1 });
  queue.close();
  assert.equal(await new ResultQueue({ url: 'http://x/', dbName: 'kiosk-test-3', auto: false }).size(), 1);
});
