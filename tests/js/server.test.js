// Against the real verification server: an online session (POST /v1/sessions → SDK session on
// real frames → submit → server-signed verdict from its own re-run) and a kiosk (device key
// registered with POST /v1/devices → ResultQueue → /v1/kiosk/evidence). Runs when
// LIVEPROOF_SERVER_BIN names a built liveproof-server (e.g. target/debug/liveproof-server);
// skipped otherwise.
import 'fake-indexeddb/auto';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { readFileSync, writeFileSync, mkdtempSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { ROOT, clipFrames, inlineOptions, pkg, coreGlue } from './helpers.js';

const BIN = process.env.LIVEPROOF_SERVER_BIN;
const skip = BIN && existsSync(BIN) ? false : 'set LIVEPROOF_SERVER_BIN to a built liveproof-server';
const JWT_SECRET = 'js-sdk-test-secret-js-sdk-test-secret-0123';

const { Liveness } = await pkg();
const { DeviceKey, ResultQueue } = await pkg('kiosk.js');
let proc;
let base;

async function freePort() {
  const s = createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

before(async () => {
  if (skip) return;
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'liveproof-server-'));
  const config = readFileSync(join(ROOT, 'server', 'config.example.toml'), 'utf8')
    .replace(/^addr = .*$/m, `addr = "127.0.0.1:${port}"`)
    .replace(/^database = .*$/m, 'database = ":memory:"')
    .replace(/^public = false$/m, 'public = true')
    .replace(/^secret = .*$/m, `secret = "${JWT_SECRET}"`);
  writeFileSync(join(dir, 'config.toml'), config);
  proc = spawn(BIN, [], { env: { ...process.env, LIVEPROOF_CONFIG: join(dir, 'config.toml'), LIVEPROOF_MODELS: join(ROOT, 'models') }, stdio: 'ignore' });
  base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 240; i++) {
    const ok = await fetch(`${base}/readyz`).then((r) => r.ok, () => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error('the server did not become ready');
});
after(() => proc?.kill());

/** Feeds the blink clip until the session decides. */
async function runBlink(lv) {
  const glue = await coreGlue();
  let i = 0;
  for (const f of clipFrames('video_live/moun_blink_drowsy.mp4', 15, 640)) {
    if (lv.done) break;
    const img = glue.decodeImage(new Uint8Array(readFileSync(f)));
    await lv.process({ data: Uint8Array.from(img.data), width: img.width, height: img.height }, (i++ * 1000) / 15);
  }
  return lv.result;
}

test('online: the server session drives the SDK, the evidence is accepted once, the verdict is the server\'s', { skip, timeout: 300000 }, async () => {
  const res = await fetch(`${base}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ challenges: ['BLINK'], count: 1 }) });
  assert.equal(res.status, 201);
  const session = await res.json();
  const lv = await Liveness.create(inlineOptions({ session }));
  assert.deepEqual(lv.script, session.challenges);
  assert.equal((await runBlink(lv)).label, 'REAL');
  const answer = await lv.submit(base + session.evidence_url);
  assert.equal(answer.verdict.split('.').length, 3);
  assert.equal(answer.result.label, 'REAL');
  assert.equal(answer.result.sub, session.session_id);
  assert.equal(answer.result.nonce, session.nonce);
  assert.equal(answer.result.client.claim.accepted, true);
  assert.equal(answer.result.disagreement.any, false);
  await assert.rejects(lv.submit(base + session.evidence_url), (e) => e.code === 'submit_failed' && e.status === 409 && e.body.detail.code === 'session_already_verified');
  lv.close();
});

test('kiosk: a registered device key signs, the queue delivers, a replayed nonce is recorded as rejected', { skip, timeout: 300000 }, async () => {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const h = b64({ alg: 'HS256', typ: 'JWT' });
  const p = b64({ sub: 'js-sdk-tests', exp: Math.floor(Date.now() / 1000) + 600 });
  const jwt = `${h}.${p}.${createHmac('sha256', JWT_SECRET).update(`${h}.${p}`).digest('base64url')}`;
  const key = await DeviceKey.loadOrCreate('server-test', { dbName: 'server-test' });
  const reg = await fetch(`${base}/v1/devices`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${jwt}` }, body: JSON.stringify({ public_key: key.publicKeyBase64url() }) });
  assert.equal(reg.status, 201);
  await key.setDeviceId((await reg.json()).device_id);
  const queue = new ResultQueue({ url: `${base}/v1/kiosk/evidence`, deviceKey: key, dbName: 'server-test', auto: false });
  const sent = [];
  queue.addEventListener('sent', (e) => sent.push(e.detail.response.result));
  const lv = await Liveness.create(inlineOptions({ challenges: { script: ['BLINK'] } }));
  assert.equal((await runBlink(lv)).label, 'REAL');
  await queue.add(lv);
  await queue.add(lv); // the same bundle twice: its nonce is spent
  assert.deepEqual(await queue.flush(), { sent: 1, rejected: 1, remaining: 0 });
  assert.equal(sent[0].label, 'REAL');
  assert.equal(sent[0].kind, 'kiosk');
  const [rejected] = await queue.rejected();
  assert.equal(rejected.status, 409);
  assert.equal(rejected.body.detail.code, 'nonce_used');
  queue.close();
  lv.close();
});
