// A real session on real frames (a live person blinking, cut from a clip at 15 fps and
// decoded by the core), then the evidence, both signatures (verified by the core exactly as
// the server does), a tampered token, and the multipart submission to a local HTTP server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createHash, webcrypto } from 'node:crypto';
import { clipFrames, inlineOptions, pkg, code, coreGlue } from './helpers.js';

const { Liveness, LivenessError, VERSION } = await pkg();
const { base64urlEncode } = await pkg('encoding.js');

const KEY = new Uint8Array(32).map((_, i) => i * 7 + 1);
const session = {
  session_id: 'sess-js-1',
  nonce: 'nonce-js-1',
  session_key: base64urlEncode(KEY),
  alg: 'HS256',
  challenges: ['BLINK'],
  timeout_ms: 8000,
  expires_at: '2099-01-01T00:00:00Z',
  expires_in: 600,
  evidence_url: '/v1/sessions/sess-js-1/evidence',
};

let lv;
const seen = [];
let frames = 0;
let server;
let base;
const received = [];

before(async () => {
  lv = await Liveness.create(inlineOptions({ session, landmarks: true }));
  for (const type of ['phase', 'frame_result', 'challenge_start', 'challenge_result', 'final_result', 'guidance']) {
    lv.addEventListener(type, (e) => seen.push(e.detail));
  }
  lv.on('frame', () => frames++);
  server = createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks);
    if (req.url === '/refuse') {
      res.writeHead(409, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: 'nonce already used', detail: { code: 'nonce_used' } }));
      return;
    }
    const form = await new Response(body, { headers: { 'content-type': req.headers['content-type'] } }).formData();
    received.push({ url: req.url, form });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ verdict: 'h.p.s', result: { label: 'REAL' } }));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${server.address().port}`;
});

after(() => {
  lv?.close();
  server?.close();
});

test('the session runs the server script and nonce', () => {
  assert.deepEqual(lv.script, ['BLINK']);
  assert.equal(lv.nonce, 'nonce-js-1');
  assert.equal(lv.sessionId, 'sess-js-1');
  assert.equal(lv.info.flavour, 'simd');
});

test('evidence before the decision is unavailable', async () => {
  await assert.rejects(lv.evidence(), code('evidence_unavailable'));
  await assert.rejects(lv.sign(), code('evidence_unavailable'));
});

test('real frames of a blinking live person reach final_result REAL with BLINK passed', async () => {
  const files = clipFrames('video_live/moun_blink_drowsy.mp4', 15, 640);
  assert.ok(files.length > 100, `${files.length} frames`);
  let i = 0;
  let last;
  for (const f of files) {
    if (lv.done) break;
    // Decoded by the core's own decoder (RGB).
    const img = await decode(f);
    last = await lv.process({ data: img.data, width: img.width, height: img.height }, (i++ * 1000) / 15);
  }
  assert.ok(lv.done, 'the session decided before the clip ended');
  assert.ok(last.landmarks instanceof Float32Array && last.landmarks.length === 478 * 2, 'landmarks on request');
  const final = seen.find((e) => e.type === 'final_result');
  assert.equal(final.label, 'REAL', JSON.stringify(final));
  assert.deepEqual(final.passed, ['BLINK']);
  assert.ok(final.confidence > 0.5 && final.confidence <= 1);
  assert.deepEqual(lv.result, final);
  // The stream follows the WebSocket document's order.
  const types = seen.filter((e) => e.type !== 'frame_result' && e.type !== 'guidance').map((e) => e.type === 'phase' ? `phase:${e.value}` : e.type);
  assert.deepEqual(types, ['phase:passive', 'phase:active', 'challenge_start', 'challenge_result', 'final_result']);
  assert.ok(seen.some((e) => e.type === 'frame_result' && e.label === 'REAL' && e.confidence >= 0 && e.confidence <= 1));
  assert.equal(frames, i);
  const s = lv.stats();
  assert.equal(s.framesAnalysed, i);
  assert.equal(s.framesDropped, 0);
  assert.ok(s.medianMs > 0 && s.p90Ms >= s.medianMs);
  assert.equal(s.wasm, 'simd');
  // Decided: no more frames.
  const img = await decode(files[0]);
  await assert.rejects(lv.process({ data: img.data, width: img.width, height: img.height }, 1e6), code('session_done'));
});

test('evidence: the core manifest and its items, digests matching the bytes', async () => {
  const { manifest, items } = await lv.evidence();
  assert.equal(manifest.session_id, 'sess-js-1');
  assert.equal(manifest.nonce, 'nonce-js-1');
  assert.equal(manifest.versions.sdk, VERSION);
  assert.deepEqual(manifest.script, ['BLINK']);
  assert.equal(manifest.result.label, 'REAL');
  assert.ok(Math.abs(manifest.created_ms - Date.now()) < 120000);
  assert.ok(items.some((i) => i.kind === 'frame' && i.media_type === 'image/jpeg'));
  assert.ok(items.some((i) => i.kind === 'records'));
  assert.deepEqual(manifest.items, items.map(({ data, ...rest }) => rest));
  for (const item of items) {
    assert.ok(item.data instanceof Uint8Array);
    assert.equal(item.bytes, item.data.length);
    assert.equal(item.sha256, createHash('sha256').update(item.data).digest('hex'));
  }
  // Assembled once: a second call gives the same manifest.
  assert.deepEqual((await lv.evidence()).manifest, manifest);
});

test('sign HS256 (the session key) verifies in the core; a tampered token is refused', async () => {
  const token = await lv.sign();
  const parts = token.split('.');
  assert.equal(parts.length, 3);
  const header = JSON.parse(Buffer.from(parts[0], 'base64url'));
  assert.deepEqual(header, { alg: 'HS256', kid: 'sess-js-1', typ: 'liveproof-evidence+jws' });
  const manifest = await lv.verifyEvidence(token, 'HS256', KEY);
  assert.equal(manifest.session_id, 'sess-js-1');
  // The same signature with the secret as text, bytes or a CryptoKey.
  const key = await webcrypto.subtle.importKey('raw', KEY, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  assert.equal(await lv.sign({ alg: 'HS256', kid: 'sess-js-1', secret: KEY }), token);
  assert.equal(await lv.sign({ alg: 'HS256', kid: 'sess-js-1', secret: key }), token);
  // Tampered signature, tampered payload, wrong key.
  const sig = parts[2];
  const flipped = sig.slice(0, 10) + (sig[10] === 'A' ? 'B' : 'A') + sig.slice(11);
  await assert.rejects(lv.verifyEvidence(`${parts[0]}.${parts[1]}.${flipped}`, 'HS256', KEY), code('bad_signature'));
  const payload = JSON.parse(Buffer.from(parts[1], 'base64url'));
  payload.result.label = 'FAKE';
  const forged = `${parts[0]}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${sig}`;
  await assert.rejects(lv.verifyEvidence(forged, 'HS256', KEY), code('bad_signature'));
  await assert.rejects(lv.verifyEvidence(token, 'HS256', new Uint8Array(32)), code('bad_signature'));
});

test('sign EdDSA with a WebCrypto Ed25519 key verifies in the core', async () => {
  const pair = await webcrypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']);
  const raw = new Uint8Array(await webcrypto.subtle.exportKey('raw', pair.publicKey));
  const token = await lv.sign({ alg: 'EdDSA', kid: 'kiosk-7', privateKey: pair.privateKey });
  assert.deepEqual(JSON.parse(Buffer.from(token.split('.')[0], 'base64url')), { alg: 'EdDSA', kid: 'kiosk-7', typ: 'liveproof-evidence+jws' });
  const manifest = await lv.verifyEvidence(token, 'EdDSA', raw);
  assert.equal(manifest.nonce, 'nonce-js-1');
  const [h, p, s] = token.split('.');
  const flipped = s.slice(0, 20) + (s[20] === 'A' ? 'B' : 'A') + s.slice(21);
  await assert.rejects(lv.verifyEvidence(`${h}.${p}.${flipped}`, 'EdDSA', raw), code('bad_signature'));
  const other = await webcrypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify']);
  await assert.rejects(lv.verifyEvidence(token, 'EdDSA', new Uint8Array(await webcrypto.subtle.exportKey('raw', other.publicKey))), code('bad_signature'));
});

test('sign refuses bad keys with invalid_argument', async () => {
  for (const key of [null, 'secret', { alg: 'RS256', kid: 'a', secret: 'x' }, { alg: 'HS256', secret: KEY }, { alg: 'HS256', kid: 'a' },
    { alg: 'HS256', kid: 'a', secret: new Uint8Array(8) }, { alg: 'EdDSA', kid: 'a', privateKey: KEY }]) {
    await assert.rejects(lv.sign(key), code('invalid_argument'), JSON.stringify(key));
  }
});

test('submit posts the JWS and one part per manifest item, named by the item', async () => {
  const answer = await lv.submit(`${base}/v1/sessions/sess-js-1/evidence`);
  assert.deepEqual(answer, { verdict: 'h.p.s', result: { label: 'REAL' } });
  const { form } = received.at(-1);
  const entries = [...form.entries()];
  assert.equal(entries[0][0], 'evidence');
  assert.equal(typeof entries[0][1], 'string');
  const manifest = await lv.verifyEvidence(entries[0][1], 'HS256', KEY);
  assert.deepEqual(entries.slice(1).map(([name]) => name), manifest.items.map((i) => i.name));
  for (const [name, blob] of entries.slice(1)) {
    const item = manifest.items.find((i) => i.name === name);
    assert.equal(blob.type, item.media_type);
    const bytes = new Uint8Array(await blob.arrayBuffer());
    assert.equal(bytes.length, item.bytes);
    assert.equal(createHash('sha256').update(bytes).digest('hex'), item.sha256);
  }
});

test('submit: a refusal carries the status and the server body; bad arguments are typed', async () => {
  await assert.rejects(lv.submit(`${base}/refuse`), (e) => {
    assert.ok(e instanceof LivenessError);
    assert.equal(e.code, 'submit_failed');
    assert.equal(e.status, 409);
    assert.deepEqual(e.body, { message: 'nonce already used', detail: { code: 'nonce_used' } });
    assert.match(e.message, /409 nonce_used/);
    return true;
  });
  await assert.rejects(lv.submit('http://127.0.0.1:9/unreachable'), (e) => e.code === 'submit_failed' && e.status === undefined);
  await assert.rejects(lv.submit(), code('invalid_argument')); // a relative evidence_url and no page to resolve it against
  await assert.rejects(lv.submit(42), code('invalid_argument'));
  await assert.rejects(lv.submit(`${base}/x`, { ...session, session_id: 'other' }), code('invalid_argument'));
});

test('reset starts a new session on the same engine; a server session needs a new one', async () => {
  await assert.rejects(lv.reset(), code('invalid_option', 'session'));
  await lv.reset({ session: { ...session, session_id: 'sess-js-2', nonce: 'nonce-js-2', challenges: ['LOOK LEFT', 'SMILE'] } });
  assert.deepEqual(lv.script, ['LOOK LEFT', 'SMILE']);
  assert.equal(lv.sessionId, 'sess-js-2');
  assert.equal(lv.done, false);
  assert.equal(lv.result, null);
  await assert.rejects(lv.evidence(), code('evidence_unavailable'));
  const events = await lv.finish();
  assert.equal(events.at(-1).type, 'final_result');
  assert.equal(events.at(-1).label, 'FAKE');
  assert.ok(lv.done);
});

async function decode(file) {
  const glue = await coreGlue();
  const img = glue.decodeImage(new Uint8Array(readFileSync(file)));
  return { width: img.width, height: img.height, data: Uint8Array.from(img.data) };
}
