// Options validation: every wrong type or range is refused at create() with `invalid_option`
// naming the option, before anything is loaded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pkg, code } from './helpers.js';

const { Liveness, LivenessError } = await pkg();

const session = {
  session_id: 's-1',
  nonce: 'n-1',
  session_key: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
  alg: 'HS256',
  challenges: ['BLINK'],
  expires_at: '2030-01-01T00:00:00Z',
  evidence_url: 'http://127.0.0.1:1/v1/sessions/s-1/evidence',
};

// [options, the option the error must name]
const BAD = [
  [42, ''],
  [{ nope: 1 }, 'nope'],
  [{ challenges: 'BLINK' }, 'challenges'],
  [{ challenges: { actions: [] } }, 'challenges.actions'],
  [{ challenges: { actions: ['JUMP'] } }, 'challenges.actions[0]'],
  [{ challenges: { actions: 'BLINK' } }, 'challenges.actions'],
  [{ challenges: { count: 0 } }, 'challenges.count'],
  [{ challenges: { count: 11 } }, 'challenges.count'],
  [{ challenges: { count: 1.5 } }, 'challenges.count'],
  [{ challenges: { count: '2' } }, 'challenges.count'],
  [{ challenges: { actions: ['BLINK', 'SMILE'], count: 3 } }, 'challenges.count'],
  [{ challenges: { script: ['BLINK', 'WAVE'] } }, 'challenges.script[1]'],
  [{ challenges: { script: ['BLINK'], count: 1 } }, 'challenges.script'],
  [{ challenges: { seed: '' } }, 'challenges.seed'],
  [{ challenges: { seed: 7 } }, 'challenges.seed'],
  [{ challenges: { seed: new Uint8Array(0) } }, 'challenges.seed'],
  [{ challenges: { timeoutMs: 0 } }, 'challenges.timeoutMs'],
  [{ challenges: { timeoutMs: NaN } }, 'challenges.timeoutMs'],
  [{ challenges: { timeoutMs: 200000 } }, 'challenges.timeoutMs'],
  [{ challenges: { timeoutMs: 70000 }, accessibility: { longerTimeouts: true } }, 'challenges.timeoutMs'],
  [{ challenges: { bogus: 1 } }, 'challenges.bogus'],
  [{ accessibility: { noSmile: 'yes' } }, 'accessibility.noSmile'],
  [{ accessibility: { longerTimeouts: 1 } }, 'accessibility.longerTimeouts'],
  [{ accessibility: { noSmile: true }, challenges: { script: ['SMILE'] } }, 'accessibility.noSmile'],
  [{ accessibility: { noSmile: true }, challenges: { actions: ['SMILE'] } }, 'accessibility.noSmile'],
  [{ accessibility: { noSmile: true }, challenges: { count: 6 } }, 'challenges.count'],
  [{ camera: { facingMode: 'front' } }, 'camera.facingMode'],
  [{ camera: { width: -1 } }, 'camera.width'],
  [{ camera: { height: '480' } }, 'camera.height'],
  [{ camera: { frameRate: 0 } }, 'camera.frameRate'],
  [{ camera: { deviceId: 5 } }, 'camera.deviceId'],
  [{ thresholds: { pad: 1.5 } }, 'thresholds.pad'],
  [{ thresholds: { identity: 'high' } }, 'thresholds.identity'],
  [{ thresholds: { yaw_deg: -3 } }, 'thresholds.yaw_deg'],
  [{ thresholds: { yawDeg: 3 } }, 'thresholds.yawDeg'],
  [{ detectEvery: 0 }, 'detectEvery'],
  [{ detectEvery: 31 }, 'detectEvery'],
  [{ detectEvery: 2.5 }, 'detectEvery'],
  [{ maxAnalysisSide: 10 }, 'maxAnalysisSide'],
  [{ maxAnalysisSide: '640' }, 'maxAnalysisSide'],
  [{ landmarks: 'true' }, 'landmarks'],
  [{ evidence: 'yes' }, 'evidence'],
  [{ evidence: { max_frames: 0 } }, 'evidence.max_frames'],
  [{ evidence: { jpeg_quality: 101 } }, 'evidence.jpeg_quality'],
  [{ evidence: { maxFrames: 3 } }, 'evidence.maxFrames'],
  [{ wasm: 'sse' }, 'wasm'],
  [{ baseUrl: 12 }, 'baseUrl'],
  [{ models: [] }, 'models'],
  [{ models: { 'a.onnx': 12 } }, 'models["a.onnx"]'],
  [{ cacheModels: 0 }, 'cacheModels'],
  [{ transport: 'thread' }, 'transport'],
  [{ session: 'abc' }, 'session'],
  [{ session: { ...session, session_id: '' } }, 'session.session_id'],
  [{ session: { ...session, nonce: 5 } }, 'session.nonce'],
  [{ session: { ...session, session_key: 'short' } }, 'session.session_key'],
  [{ session: { ...session, session_key: '!!not base64!!' } }, 'session.session_key'],
  [{ session: { ...session, alg: 'EdDSA' } }, 'session.alg'],
  [{ session: { ...session, challenges: ['BLINK', 'NOD'] } }, 'session.challenges[1]'],
  [{ session: { ...session, timeout_ms: -5 } }, 'session.timeout_ms'],
  [{ session: { ...session, evidence_url: 5 } }, 'session.evidence_url'],
  [{ light: 'no' }, 'light'],
  [{ session: { ...session, light: 'on' } }, 'session.light'],
  [{ session: { ...session, light: { segments: [], passive_ms: 3000 } } }, 'session.light.segments'],
  [{ session: { ...session, light: { segments: [{ colour: [0, 0, 255], duration_ms: 250 }], passive_ms: 3000 } } }, 'session.light.segments[0].duration_ms'],
  [{ session: { ...session, light: { segments: [{ colour: [255, 10, 10], duration_ms: 400 }], passive_ms: 3000 } } }, 'session.light.segments[0].colour'],
  [{ session: { ...session, light: { segments: [{ colour: [0, 0, 255], duration_ms: 400 }], passive_ms: 0 } } }, 'session.light.passive_ms'],
  [{ session: { ...session, light: { segments: [{ colour: [0, 0, 255], duration_ms: 400 }], passive_ms: 3000 } }, light: false }, 'light'],
  [{ session, accessibility: { longerTimeouts: true } }, 'accessibility.longerTimeouts'],
  [{ session, challenges: { count: 1 } }, 'challenges'],
  [{ session: { ...session, challenges: ['SMILE'] }, accessibility: { noSmile: true } }, 'accessibility.noSmile'],
];

for (const [options, option] of BAD) {
  test(`create refuses ${JSON.stringify(options, (k, v) => (v instanceof Uint8Array ? `<${v.length} bytes>` : Number.isNaN(v) ? 'NaN' : v))}`, async () => {
    await assert.rejects(Liveness.create(options), (e) => {
      assert.ok(e instanceof LivenessError, `not a LivenessError: ${e}`);
      code('invalid_option', option)(e);
      if (option) assert.ok(e.message.includes(option.split('[')[0]), `message names the option: ${e.message}`);
      return true;
    });
  });
}

test('new Liveness() is refused in favour of create()', () => {
  assert.throws(() => new Liveness(), code('invalid_argument'));
});

test('underscore and lower-case spellings of actions are accepted', async () => {
  const { normalizeOptions } = await pkg('options.js');
  const o = normalizeOptions({ challenges: { actions: ['look_left', 'Look Right', 'blink'], count: 2 } }, 'file:///x/');
  assert.deepEqual(o.challenges.actions, ['LOOK LEFT', 'LOOK RIGHT', 'BLINK']);
});

test('noSmile removes SMILE and longerTimeouts doubles the core default window', async () => {
  const { normalizeOptions, sessionPlan } = await pkg('options.js');
  const o = normalizeOptions({ accessibility: { noSmile: true, longerTimeouts: true } }, 'file:///x/');
  const { sessionOptions, nonce } = sessionPlan(o.challenges, o);
  assert.ok(!sessionOptions.challenge.actions.includes('SMILE'));
  assert.equal(sessionOptions.challenge.actions.length, 5);
  assert.equal(sessionOptions.challenge.timeout_ms, 16000);
  assert.equal(sessionOptions.live.detect_every, 3);
  assert.deepEqual(sessionOptions.live.evidence, {});
  // Default: a random nonce string (base64url of 32 bytes) whose UTF-8 bytes are the seed, as
  // a server drawing a kiosk's script from its nonce digests it.
  assert.match(nonce, /^[A-Za-z0-9_-]{43}$/);
  assert.deepEqual([...sessionOptions.seed], [...new TextEncoder().encode(nonce)]);
  const o2 = normalizeOptions({ challenges: { timeoutMs: 5000 }, accessibility: { longerTimeouts: true }, evidence: false }, 'file:///x/');
  const p2 = sessionPlan(o2.challenges, o2);
  assert.equal(p2.sessionOptions.challenge.timeout_ms, 10000);
  assert.equal(p2.sessionOptions.live.evidence, undefined);
});

test('a string seed is the nonce and its UTF-8 bytes are the core seed; a session fixes script and nonce', async () => {
  const { normalizeOptions, sessionPlan } = await pkg('options.js');
  const o = normalizeOptions({ challenges: { seed: 'server-nonce' } }, 'file:///x/');
  const p = sessionPlan(o.challenges, o);
  assert.equal(p.nonce, 'server-nonce');
  assert.deepEqual([...p.sessionOptions.seed], [...new TextEncoder().encode('server-nonce')]);
  const s = normalizeOptions({ session }, 'file:///x/');
  const ps = sessionPlan(s.challenges, s);
  assert.equal(ps.nonce, 'n-1');
  assert.deepEqual(ps.sessionOptions.script, ['BLINK']);
  assert.equal(s.session.key.length, 32);
});

test('a server session records the clip by default (the server decides only from it); otherwise it is opt-in', async () => {
  const { normalizeOptions } = await pkg('options.js');
  assert.equal(normalizeOptions({ session }, 'file:///x/').recordClip, true);
  assert.equal(normalizeOptions({ session, recordClip: false }, 'file:///x/').recordClip, false);
  assert.equal(normalizeOptions({}, 'file:///x/').recordClip, false);
  assert.equal(normalizeOptions({ recordClip: true }, 'file:///x/').recordClip, true);
});

test('thresholds pass through to the core names', async () => {
  const { normalizeOptions, sessionPlan } = await pkg('options.js');
  const o = normalizeOptions({ thresholds: { pad: 0.6, identity: 0.5, yaw_deg: 20, hold_ms: 200 } }, 'file:///x/');
  const { sessionOptions } = sessionPlan(o.challenges, o);
  assert.equal(sessionOptions.challenge.pad_threshold, 0.6);
  assert.equal(sessionOptions.challenge.identity_threshold, 0.5);
  assert.deepEqual(sessionOptions.challenge.thresholds, { yaw_deg: 20, hold_ms: 200 });
  assert.equal(o.engine.pad_threshold, 0.6);
  assert.equal(o.engine.age_gender, false);
});

test('a server session: unknown fields of newer servers are ignored, its timeout is used', async () => {
  const { normalizeOptions, sessionPlan } = await pkg('options.js');
  const o = normalizeOptions({ session: { ...session, timeout_ms: 12000, expires_in: 600, something_new: true, evidence_url: '/v1/sessions/s-1/evidence' } }, 'file:///x/');
  assert.equal(o.session.evidence_url, '/v1/sessions/s-1/evidence');
  const { sessionOptions } = sessionPlan(o.challenges, o);
  assert.equal(sessionOptions.challenge.timeout_ms, 12000);
  assert.deepEqual(sessionOptions.script, ['BLINK']);
});
