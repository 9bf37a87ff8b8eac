// Calls in the wrong state, the camera's failure modes (with a test double for
// navigator.mediaDevices: Node has no camera), and bad frames: each is a typed LivenessError,
// and the session keeps working afterwards.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { inlineOptions, pkg, code } from './helpers.js';

const { Liveness, LivenessError } = await pkg();
const { EngineHost } = await pkg('engine-host.js');

let lv;
before(async () => {
  lv = await Liveness.create(inlineOptions({ challenges: { script: ['BLINK'] } }));
});
after(() => lv?.close());

const realNavigator = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
function fakeCamera(getUserMedia) {
  Object.defineProperty(globalThis, 'navigator', { value: { mediaDevices: { getUserMedia } }, configurable: true, writable: true });
}
afterEach(() => {
  if (realNavigator) Object.defineProperty(globalThis, 'navigator', realNavigator);
  else delete globalThis.navigator;
});

const grey = (w, h, ch = 4) => ({ data: new Uint8Array(w * h * ch).fill(90), width: w, height: h });

test('a fresh instance is ready with a script and no result', () => {
  assert.equal(lv.state, 'ready');
  assert.deepEqual(lv.script, ['BLINK']);
  assert.equal(lv.done, false);
  assert.equal(lv.result, null);
  assert.equal(lv.video, null);
  const s = lv.stats();
  assert.deepEqual([s.framesAnalysed, s.framesDropped, s.medianMs, s.p90Ms, s.wasm, s.transport], [0, 0, null, null, 'simd', 'inline']);
});

test('camera permission refused → camera_denied, and the instance can try again', async () => {
  fakeCamera(() => Promise.reject(new DOMException('Permission denied', 'NotAllowedError')));
  await assert.rejects(lv.start(), code('camera_denied'));
  assert.equal(lv.state, 'ready');
  await assert.rejects(lv.start(), code('camera_denied'));
});

test('no camera, impossible constraints, no getUserMedia → camera_unavailable', async () => {
  fakeCamera(() => Promise.reject(new DOMException('Requested device not found', 'NotFoundError')));
  await assert.rejects(lv.start(), code('camera_unavailable'));
  const over = new DOMException('Overconstrained', 'OverconstrainedError');
  fakeCamera(() => Promise.reject(over));
  await assert.rejects(lv.start(), code('camera_unavailable'));
  Object.defineProperty(globalThis, 'navigator', { value: {}, configurable: true, writable: true });
  await assert.rejects(lv.start(), code('camera_unavailable'));
  assert.equal(lv.state, 'ready');
});

test('start twice → already_started; process() while starting → already_started', async () => {
  let fail;
  const asked = [];
  fakeCamera((constraints) => {
    asked.push(constraints);
    return new Promise((_, reject) => { fail = reject; });
  });
  const first = lv.start();
  assert.equal(lv.state, 'starting');
  await assert.rejects(lv.start(), code('already_started'));
  await assert.rejects(lv.process(grey(64, 64), 0), code('already_started'));
  // The camera options reached getUserMedia as ideal constraints, front camera by default.
  assert.deepEqual(asked[0], { video: { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 30 }, facingMode: 'user' }, audio: false });
  fail(new DOMException('Could not start video source', 'NotReadableError'));
  await assert.rejects(first, code('camera_unavailable'));
  assert.equal(lv.state, 'ready');
});

test('wrong arguments are typed errors, never bare TypeErrors', async () => {
  await assert.rejects(lv.start('camera'), code('invalid_argument'));
  await assert.rejects(lv.stop(), code('not_started'));
  assert.throws(() => lv.on('nope', () => {}), code('invalid_argument'));
  assert.throws(() => lv.on('phase', 'not a function'), code('invalid_argument'));
  await assert.rejects(lv.process(grey(8, 8), 'soon'), code('invalid_argument'));
  await assert.rejects(lv.process('pixels', 0), code('invalid_frame'));
  await assert.rejects(lv.process(null, 0), code('invalid_frame'));
  await assert.rejects(lv.reset('again'), code('invalid_argument'));
  await assert.rejects(lv.reset({ detectEvery: 2 }), code('invalid_option', 'detectEvery'));
  await assert.rejects(lv.reset({ challenges: { count: 99 } }), code('invalid_option', 'challenges.count'));
  await assert.rejects(lv.verifyEvidence(1, 'HS256', new Uint8Array(32)), code('invalid_argument'));
  await assert.rejects(lv.verifyEvidence('a.b.c', 'none', new Uint8Array(32)), code('invalid_argument'));
  await assert.rejects(lv.verifyEvidence('a.b.c', 'HS256', 'key'), code('invalid_argument'));
  await assert.rejects(lv.verifyEvidence('not a token', 'HS256', new Uint8Array(32)), (e) => e instanceof LivenessError && e.code === 'malformed_signature');
  await assert.rejects(lv.submit('http://127.0.0.1:9/'), code('invalid_argument')); // no server session
  await assert.rejects(lv.sign(), code('invalid_argument')); // no key and no session
});

test('bad frames → typed errors, and the session keeps working', async () => {
  const events = [];
  const off = lv.on('phase', (d) => events.push(d));
  await assert.rejects(lv.process({ data: new Uint8Array(100), width: 64, height: 64 }, 0), code('invalid_frame'));
  await assert.rejects(lv.process({ data: new Uint8Array(0), width: 0, height: 0 }, 0), code('invalid_frame'));
  await assert.rejects(lv.process({ data: new Uint8Array(16), width: -2, height: -2 }, 0), code('invalid_frame'));
  await assert.rejects(lv.process({ data: new Uint8Array(16), width: 2.5, height: 2 }, 0), code('invalid_frame'));
  await assert.rejects(lv.process({ data: 'xxxx', width: 1, height: 1 }, 0), code('invalid_frame'));
  await assert.rejects(lv.process(grey(64, 64), NaN), code('invalid_argument'));
  await assert.rejects(lv.process(grey(64, 64), Infinity), code('invalid_argument'));
  // Still alive: a good RGBA frame and a good RGB frame are analysed.
  const a = await lv.process(grey(160, 120), 10);
  assert.equal(a.record.width, 160);
  assert.deepEqual(a.record.guidance, ['no_face']);
  assert.deepEqual(events, [{ type: 'phase', value: 'passive' }]);
  const b = await lv.process(grey(160, 120, 3), 20);
  assert.equal(b.record.t_ms, 20);
  assert.equal(lv.stats().framesAnalysed, 2);
  off();
  await lv.process(grey(160, 120), 30);
  assert.equal(events.length, 1, 'unsubscribed');
});

test('the host directly: bad frames are typed and the session continues', async () => {
  const host = new EngineHost();
  await assert.rejects(host.handle('frame', { pixels: new Uint8Array(4), width: 1, height: 1, t: 0 }), code('not_started'));
  await host.init({ wasm: 'auto', baseUrl: new URL('../../pkg/', import.meta.url).href, models: inlineOptions().models, cacheModels: true, engine: { age_gender: false }, version: 'test' });
  await assert.rejects(host.handle('frame', { pixels: new Uint8Array(4), width: 1, height: 1, t: 0 }), code('not_started'));
  await assert.rejects(host.handle('startSession', { sessionOptions: { challenge: { count: 0 }, seed: new Uint8Array([1]) } }), code('invalid_argument'));
  await assert.rejects(host.handle('startSession', { sessionOptions: { bogus: 1 } }), code('invalid_argument'));
  const { script } = await host.handle('startSession', { sessionOptions: { seed: new Uint8Array([1, 2, 3]), challenge: { count: 3 } } });
  assert.equal(script.length, 3);
  const px = new Uint8Array(96 * 64 * 4);
  await assert.rejects(host.handle('frame', { pixels: px.subarray(1), width: 96, height: 64, t: 0 }), code('invalid_frame'));
  await assert.rejects(host.handle('frame', { pixels: px, width: 0, height: 64, t: 0 }), code('invalid_frame'));
  await assert.rejects(host.handle('frame', { pixels: px, width: 96, height: 64, t: NaN }), code('invalid_argument'));
  await assert.rejects(host.handle('frame', { pixels: px, width: 1e9, height: 1e9, t: 0 }), code('invalid_frame'));
  await assert.rejects(host.handle('evidence', { session_id: 'a', nonce: 'b', created_ms: 0, sdk_version: 'x' }), code('evidence_unavailable'));
  await assert.rejects(host.handle('explode'), code('internal'));
  const ok = await host.handle('frame', { pixels: px, width: 96, height: 64, t: 5, landmarks: true });
  assert.equal(ok.record.t_ms, 5);
  assert.equal(ok.done, false);
  assert.ok(ok.landmarks instanceof Float32Array);
  const { events } = await host.handle('finish');
  assert.equal(events.at(-1).type, 'final_result');
  await assert.rejects(host.handle('frame', { pixels: px, width: 96, height: 64, t: 6 }), code('session_done'));
  const outcome = await host.handle('outcome');
  assert.equal(outcome.failure.reason, 'no_usable_frames');
  host.close();
  await assert.rejects(host.handle('finish'), code('closed'));
});

test('a closed instance refuses everything with `closed`; close() is idempotent', async () => {
  const other = await Liveness.create(inlineOptions({ challenges: { count: 1 } }));
  other.close();
  other.close();
  assert.equal(other.state, 'closed');
  await assert.rejects(other.start(), code('closed'));
  await assert.rejects(other.stop(), code('closed'));
  await assert.rejects(other.process(grey(8, 8), 0), code('closed'));
  await assert.rejects(other.finish(), code('closed'));
  await assert.rejects(other.reset(), code('closed'));
  await assert.rejects(other.evidence(), code('closed'));
  await assert.rejects(other.sign({ alg: 'HS256', kid: 'k', secret: new Uint8Array(32) }), code('closed'));
  await assert.rejects(other.submit('http://127.0.0.1:9/'), code('closed'));
  await assert.rejects(other.verifyEvidence('a.b.c', 'HS256', new Uint8Array(32)), code('closed'));
});

test('a model whose bytes differ from the manifest is refused with model_checksum', async () => {
  const models = inlineOptions().models;
  const file = Object.keys(models)[0];
  const bad = models[file].slice();
  bad[bad.length - 1] ^= 0xff;
  await assert.rejects(Liveness.create({ transport: 'inline', models: { ...models, [file]: bad } }), code('model_checksum'));
  await assert.rejects(Liveness.create({ transport: 'inline', models: { [file]: 'file:///nonexistent/model.onnx' } }), code('model_fetch'));
  await assert.rejects(Liveness.create({ transport: 'inline', baseUrl: 'file:///nonexistent/' }), code('wasm_fetch'));
});

test('evidence: false → evidence_unavailable even after the decision', async () => {
  const other = await Liveness.create(inlineOptions({ evidence: false, challenges: { count: 1 } }));
  await other.finish();
  assert.ok(other.done);
  await assert.rejects(other.evidence(), code('evidence_unavailable'));
  await assert.rejects(other.start(), code('session_done'));
  await assert.rejects(other.process(grey(8, 8), 0), code('session_done'));
  other.close();
});

test('reset keeps the challenge options (not a given seed) unless overridden', async () => {
  const other = await Liveness.create(inlineOptions({ challenges: { actions: ['LOOK UP', 'LOOK DOWN'], count: 2, seed: 'fixed' } }));
  assert.equal(other.nonce, 'fixed');
  assert.deepEqual([...other.script].sort(), ['LOOK DOWN', 'LOOK UP']);
  await other.finish();
  await other.reset();
  assert.notEqual(other.nonce, 'fixed');
  assert.deepEqual([...other.script].sort(), ['LOOK DOWN', 'LOOK UP']);
  assert.equal(other.done, false);
  await other.reset({ challenges: { script: ['SMILE'] } });
  assert.deepEqual(other.script, ['SMILE']);
  await other.reset();
  assert.deepEqual(other.script, ['SMILE']);
  await assert.rejects(other.reset({ accessibility: { noSmile: true } }), code('invalid_option', 'accessibility.noSmile'));
  other.close();
});

test('stop() or close() while the camera opens: start() rejects and the camera is released', async () => {
  const stopped = [];
  let grant;
  fakeCamera(() => new Promise((resolve) => { grant = resolve; }));
  const stream = { getTracks: () => [{ stop: () => stopped.push('track') }] };
  const starting = lv.start();
  await lv.stop();
  assert.equal(lv.state, 'ready');
  grant(stream);
  await assert.rejects(starting, code('not_started'));
  assert.deepEqual(stopped, ['track']);

  const other = await Liveness.create(inlineOptions({ challenges: { count: 1 } }));
  const second = other.start();
  other.close();
  grant(stream);
  await assert.rejects(second, code('closed'));
  assert.deepEqual(stopped, ['track', 'track']);
  await assert.rejects(Liveness.create(null), code('invalid_option', ''));
});
