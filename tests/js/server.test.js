// Against the real verification server: an online session (POST /v1/sessions → SDK session on
// real frames → submit → server-signed verdict) and a kiosk (device key registered with
// POST /v1/devices → ResultQueue → /v1/kiosk/evidence). Node has no camera and no
// MediaRecorder, so these bundles carry frames only: the server's verdict is PASSIVE_ONLY at
// best (the recording path is the browser tests'). The relying party's check
// (server/examples/relying-party.mjs) runs on these verdicts. The server binary is
// LIVEPROOF_SERVER_BIN, else the debug build (cargo build -p liveproof-server); a missing one
// fails these tests rather than skipping them.
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
import { checkVerdict } from '../../server/examples/relying-party.mjs';

const BIN = process.env.LIVEPROOF_SERVER_BIN || join(ROOT, 'target', 'debug', 'liveproof-server');
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
  assert.ok(existsSync(BIN), `no liveproof-server at ${BIN}: build it (cargo build -p liveproof-server) or set LIVEPROOF_SERVER_BIN`);
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'liveproof-server-'));
  const config = readFileSync(join(ROOT, 'server', 'config.example.toml'), 'utf8')
    .replace(/^addr = .*$/m, `addr = "127.0.0.1:${port}"`)
    .replace(/^database = .*$/m, 'database = ":memory:"')
    .replace(/^public = false$/m, 'public = true')
    .replace(/^secret = .*$/m, `secret = "${JWT_SECRET}"`)
    // Scripts of two of BLINK and SMILE, which the clip below performs in either order.
    .replace(/^actions = .*$/gm, 'actions = ["BLINK", "SMILE"]');
  writeFileSync(join(dir, 'config.toml'), config);
  proc = spawn(BIN, [], { env: { ...process.env, LIVEPROOF_CONFIG: join(dir, 'config.toml'), LIVEPROOF_MODELS: join(ROOT, 'models') }, stdio: process.env.LIVEPROOF_SERVER_LOG ? 'inherit' : 'ignore' });
  base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 240; i++) {
    const ok = await fetch(`${base}/readyz`).then((r) => r.ok, () => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error('the server did not become ready');
});
after(() => proc?.kill());

/** Feeds a clip of a person who blinks and smiles until the session decides. */
async function runBlinkSmile(lv) {
  const glue = await coreGlue();
  let i = 0;
  for (const f of clipFrames('video_live/lp_d12.mp4', 15, 512)) {
    if (lv.done) break;
    const img = glue.decodeImage(new Uint8Array(readFileSync(f)));
    await lv.process({ data: Uint8Array.from(img.data), width: img.width, height: img.height }, (i++ * 1000) / 15);
  }
  return lv.result;
}

test('online: the server session drives the SDK; without a recording the verdict is PASSIVE_ONLY, and a relying party does not accept it', { timeout: 300000 }, async () => {
  // A public session (the demo page's way): the server's policy alone.
  const refused = await fetch(`${base}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ challenges: ['BLINK'], count: 1 }) });
  assert.equal(refused.status, 403, 'a public creator does not choose the check');
  assert.equal((await refused.json()).detail.code, 'options_not_allowed');
  const res = await fetch(`${base}/v1/sessions`, { method: 'POST' });
  assert.equal(res.status, 201);
  const session = await res.json();
  assert.equal(session.challenges.length, 2);
  const lv = await Liveness.create(inlineOptions({ session }));
  assert.deepEqual(lv.script, session.challenges);
  assert.equal((await runBlinkSmile(lv)).label, 'REAL', 'the on-device result');
  const answer = await lv.submit(base + session.evidence_url);
  assert.equal(answer.verdict.split('.').length, 3);
  const r = answer.result;
  assert.equal(r.label, 'PASSIVE_ONLY', JSON.stringify(r));
  assert.deepEqual(r.passed, [], 'the server saw no challenge');
  assert.deepEqual(r.checks, { pad: 'server', identity: 'server', challenges: 'none', light: 'none' });
  // No recording: no light measured, nothing to judge the frames' source on.
  assert.equal(r.light, null);
  assert.equal(r.injection, null);
  assert.equal(r.sub, session.session_id);
  assert.equal(r.nonce, session.nonce);
  assert.equal(r.aud, 'liveproof-public');
  assert.equal(r.exp - r.iat, 300);
  assert.equal(r.disagreement.label, false, 'the frames pass the passive rules, as the client said');

  // The relying party's check: a valid, fresh verdict for its session, but not a pass.
  const jwks = await (await fetch(`${base}/.well-known/jwks.json`)).json();
  const expected = { issuer: 'liveproof-server', audience: 'liveproof-public', sessionId: session.session_id, nonce: session.nonce };
  const fresh = { jtiIsNew: () => true };
  await assert.rejects(checkVerdict(answer.verdict, jwks, expected, fresh), (e) => e.code === 'not_live' && /PASSIVE_ONLY/.test(e.message));
  await assert.rejects(checkVerdict(answer.verdict, jwks, { ...expected, audience: 'another-bank' }, fresh), (e) => e.code === 'invalid' && /aud/.test(e.message));
  await assert.rejects(checkVerdict(answer.verdict, jwks, { ...expected, sessionId: 'another-session' }, fresh), (e) => e.code === 'other_session');
  await assert.rejects(checkVerdict(answer.verdict, jwks, expected, { ...fresh, currentDate: new Date(Date.now() + 3600_000) }), (e) => e.code === 'invalid' && /exp/.test(e.message));
  await assert.rejects(checkVerdict(answer.verdict, jwks, expected, { jtiIsNew: () => false }), (e) => e.code === 'replayed');
  const [h, , sig] = answer.verdict.split('.');
  const relabelled = Buffer.from(JSON.stringify({ ...r, label: 'REAL', checks: { ...r.checks, challenges: 'server' } })).toString('base64url');
  await assert.rejects(checkVerdict(`${h}.${relabelled}.${sig}`, jwks, expected, fresh), (e) => e.code === 'invalid');

  await assert.rejects(lv.submit(base + session.evidence_url), (e) => e.code === 'submit_failed' && e.status === 409 && e.body.detail.code === 'session_already_verified');
  lv.close();
});

test('kiosk: a registered device key signs, the queue delivers, a replayed nonce is recorded as rejected', { timeout: 300000 }, async () => {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const h = b64({ alg: 'HS256', typ: 'JWT' });
  const p = b64({ sub: 'js-sdk-tests', scope: 'devices:admin', exp: Math.floor(Date.now() / 1000) + 600 });
  const jwt = `${h}.${p}.${createHmac('sha256', JWT_SECRET).update(`${h}.${p}`).digest('base64url')}`;
  const key = await DeviceKey.loadOrCreate('server-test', { dbName: 'server-test' });
  const reg = await fetch(`${base}/v1/devices`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${jwt}` }, body: JSON.stringify({ public_key: key.publicKeyBase64url() }) });
  assert.equal(reg.status, 201);
  await key.setDeviceId((await reg.json()).device_id);
  const queue = new ResultQueue({ url: `${base}/v1/kiosk/evidence`, deviceKey: key, dbName: 'server-test', auto: false });
  const sent = [];
  queue.addEventListener('sent', (e) => sent.push(e.detail.response.result));
  // The kiosk draws its script from the server's kiosk policy with its own nonce.
  const policy = await (await fetch(`${base}/v1/kiosk/policy`)).json();
  assert.deepEqual(policy.actions, ['BLINK', 'SMILE']);
  const lv = await Liveness.create(inlineOptions({ challenges: { actions: policy.actions, count: policy.count } }));
  assert.equal((await runBlinkSmile(lv)).label, 'REAL');
  await queue.add(lv);
  await queue.add(lv); // the same bundle twice: its nonce is spent
  assert.deepEqual(await queue.flush(), { sent: 1, rejected: 1, remaining: 0 });
  // No recording from Node: the frames pass, no challenge is asserted.
  assert.equal(sent[0].label, 'PASSIVE_ONLY', JSON.stringify(sent[0]));
  assert.equal(sent[0].kind, 'kiosk');
  assert.equal(sent[0].aud, 'js-sdk-tests', 'the device owner');
  assert.ok(sent[0].sub.startsWith(`kiosk:${key.deviceId}:`), sent[0].sub);
  const [rejected] = await queue.rejected();
  assert.equal(rejected.status, 409);
  assert.equal(rejected.body.detail.code, 'nonce_used');
  queue.close();
  lv.close();
});
