// The screen-light challenge (light.js): validation of a session's sequence (flashing rules),
// the rAF scheduling with a fake animation-frame clock (onsets from the frame after the colour
// was set, at most 3 changes a second), and the Liveness integration without a recording.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pkg, code, inlineOptions } from './helpers.js';

const { LightDisplay, normalizeLight, saturatedRed, MIN_SEGMENT_MS, LIGHT_DELAY_MS } = await pkg('light.js');
const { normalizeOptions, sessionPlan } = await pkg('options.js');
const { Liveness } = await pkg();

const SEGMENTS = [
  { colour: [40, 90, 255], duration_ms: 400 },
  { colour: [255, 255, 255], duration_ms: 500 },
  { colour: [0, 200, 90], duration_ms: 400 },
];
const session = {
  session_id: 's-light',
  nonce: 'n-light',
  session_key: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
  alg: 'HS256',
  challenges: ['BLINK'],
  evidence_url: 'http://127.0.0.1:1/v1/sessions/s-light/evidence',
  light: { segments: SEGMENTS, passive_ms: 2900 },
};

/**
 * A fake requestAnimationFrame: `run(until)` fires the pending callback every `frame` ms
 * (optionally with a stall), like a display.
 */
function fakeFrames({ frame = 1000 / 60, start = 0 } = {}) {
  let now = start;
  let next = null;
  let handle = 0;
  return {
    requestFrame(cb) { next = cb; return ++handle; },
    cancelFrame(h) { if (h === handle) next = null; },
    get now() { return now; },
    /** Runs frames until `until` (ms); `gap(now)` may return a longer interval. */
    run(until, gap = () => frame) {
      while (next && now < until) {
        now += gap(now);
        const cb = next;
        next = null;
        cb(now);
      }
    },
    get pending() { return next !== null; },
  };
}

test('normalizeLight: null, a valid sequence, and every flashing rule refused with the field named', () => {
  assert.equal(normalizeLight(null), null);
  assert.equal(normalizeLight(undefined), null);
  const ok = normalizeLight({ segments: SEGMENTS, passive_ms: 2900, future_field: 1 });
  assert.deepEqual(ok, { segments: SEGMENTS, passive_ms: 2900 });
  const bad = [
    [{ segments: [], passive_ms: 1000 }, 'session.light.segments'],
    [{ segments: SEGMENTS }, 'session.light.passive_ms'],
    [{ segments: SEGMENTS, passive_ms: -1 }, 'session.light.passive_ms'],
    [{ segments: [{ colour: [1, 2], duration_ms: 400 }], passive_ms: 1000 }, 'session.light.segments[0].colour'],
    [{ segments: [{ colour: [1, 2, 256], duration_ms: 400 }], passive_ms: 1000 }, 'session.light.segments[0].colour'],
    [{ segments: [SEGMENTS[0], { colour: [0, 0, 255], duration_ms: 333 }], passive_ms: 1000 }, 'session.light.segments[1].duration_ms'],
    [{ segments: [{ colour: [0, 0, 255], duration_ms: 100 }], passive_ms: 1000 }, 'session.light.segments[0].duration_ms'],
    [{ segments: [{ colour: [255, 0, 0], duration_ms: 400 }], passive_ms: 1000 }, 'session.light.segments[0].colour'],
    [{ segments: [{ colour: [200, 20, 20], duration_ms: 400 }], passive_ms: 1000 }, 'session.light.segments[0].colour'],
    ['flash', 'session.light'],
  ];
  for (const [v, option] of bad) assert.throws(() => normalizeLight(v), code('invalid_option', option), JSON.stringify(v));
  assert.throws(() => normalizeLight({ segments: [{ colour: [255, 0, 0], duration_ms: 400 }], passive_ms: 1000 }), /saturated red/);
  assert.throws(() => normalizeLight({ segments: [{ colour: [0, 0, 255], duration_ms: 200 }], passive_ms: 1000 }), /3 times a second/);
  assert.equal(saturatedRed([204, 25, 25]), true); // 0.8 exactly
  assert.equal(saturatedRed([200, 30, 30]), false);
  assert.equal(saturatedRed([0, 0, 0]), false);
});

test('LightDisplay: colour set in one frame, onset = the next frame, one onset per segment, then neutral', () => {
  const raf = fakeFrames();
  const light = new LightDisplay(SEGMENTS, { ...raf, toRecording: (t) => t - 1000 });
  const changes = [];
  light.onChange((c) => changes.push({ ...c, at: raf.now }));
  light.start(1300);
  raf.run(1200);
  assert.equal(light.current, null, 'nothing before the start time');
  assert.deepEqual(light.onsets, []);
  raf.run(5000);
  assert.equal(light.state, 'finished');
  assert.equal(raf.pending, false, 'no more animation frames once back to neutral');
  assert.equal(light.current, null);
  // Changes: the three colours, then neutral (index 3, colour null).
  assert.deepEqual(changes.map((c) => [c.index, c.colour]), [[0, SEGMENTS[0].colour], [1, SEGMENTS[1].colour], [2, SEGMENTS[2].colour], [3, null]]);
  const onsets = light.onsets;
  assert.equal(onsets.length, 3);
  // The first colour is set in the first frame at or after 1300 and presented one frame later.
  const frame = 1000 / 60;
  assert.ok(changes[0].at >= 1300 && changes[0].at < 1300 + frame, `set at ${changes[0].at}`);
  assert.ok(Math.abs(onsets[0] - (changes[0].at + frame - 1000)) < 1e-6, 'onset: the next frame, in recording time');
  assert.equal(changes[0].t_ms, changes[0].at - 1000, 'change time is recording time');
  // Gaps within half a frame of the durations, on the first onset's schedule (no drift).
  for (let i = 1; i < 3; i++) {
    const gap = onsets[i] - onsets[i - 1];
    assert.ok(Math.abs(gap - SEGMENTS[i - 1].duration_ms) <= frame / 2 + 1e-6, `gap ${i}: ${gap}`);
  }
  assert.ok(Math.abs(onsets[2] - onsets[0] - 900) <= frame / 2 + 1e-6);
  assert.ok(light.endedAt - onsets[2] >= SEGMENTS[2].duration_ms - frame / 2 - 1e-6);
});

test('LightDisplay: at most 3 changes a second even with late frames and segments at the limit', () => {
  const raf = fakeFrames();
  const segs = Array.from({ length: 8 }, (_, i) => ({ colour: i % 2 ? [255, 255, 255] : [0, 0, 255], duration_ms: MIN_SEGMENT_MS }));
  const light = new LightDisplay(segs, raf);
  light.start(0);
  // Jittery display: every 7th frame stalls 120 ms.
  let n = 0;
  raf.run(10_000, () => (++n % 7 === 0 ? 120 : 1000 / 60));
  const onsets = light.onsets;
  assert.equal(onsets.length, 8);
  for (let i = 1; i < onsets.length; i++) {
    assert.ok(onsets[i] - onsets[i - 1] >= MIN_SEGMENT_MS, `gap ${i}: ${onsets[i] - onsets[i - 1]} ms`);
  }
  // In any 1 s window, at most 3 colour changes.
  for (const t of onsets) assert.ok(onsets.filter((o) => o >= t && o < t + 1000).length <= 3);
});

test('LightDisplay: stop() goes neutral and keeps the onsets so far; a stalled tab stalls the sequence', () => {
  const raf = fakeFrames();
  const light = new LightDisplay(SEGMENTS, raf);
  const changes = [];
  light.onChange((c) => changes.push(c));
  light.start(0);
  raf.run(600);
  assert.equal(light.onsets.length, 2);
  assert.deepEqual(light.current, SEGMENTS[1].colour);
  light.stop();
  assert.equal(light.state, 'stopped');
  assert.equal(light.current, null);
  assert.deepEqual(changes.at(-1).colour, null);
  assert.equal(changes.at(-1).index, 3);
  raf.run(5000);
  assert.equal(light.onsets.length, 2, 'nothing after stop()');
  light.stop(); // idempotent

  // A hidden tab gets no frames for 3 s: the segment shown lasts that long, and the onsets say so.
  const raf2 = fakeFrames();
  const l2 = new LightDisplay(SEGMENTS, raf2);
  l2.start(0);
  let stalled = false;
  raf2.run(10_000, (now) => (!stalled && now > 100 ? ((stalled = true), 3000) : 1000 / 60));
  assert.ok(l2.onsets[1] - l2.onsets[0] >= 3000, JSON.stringify(l2.onsets));
  assert.equal(l2.onsets.length, 3);
});

test('options: session.light is validated, its passive_ms drives the core session, light:false with a light session is refused', () => {
  const n = normalizeOptions({ session }, 'file:///pkg/');
  assert.deepEqual(n.session.light, { segments: SEGMENTS, passive_ms: 2900 });
  assert.equal(n.light, true);
  assert.equal(sessionPlan(n.challenges, n).sessionOptions.challenge.passive_ms, 2900);
  // No light: the core's own passive window.
  const plain = normalizeOptions({ session: { ...session, light: null } }, 'file:///pkg/');
  assert.equal(plain.session.light, null);
  assert.equal('passive_ms' in sessionPlan(plain.challenges, plain).sessionOptions.challenge, false);
  assert.equal(normalizeOptions({ session: { ...session, light: null }, light: false }, 'file:///pkg/').light, false);
  assert.throws(() => normalizeOptions({ session, light: false }, 'file:///pkg/'), code('invalid_option', 'light'));
  assert.throws(() => normalizeOptions({ session, light: false }, 'file:///pkg/'), /\{"light": false\}/);
  assert.throws(() => normalizeOptions({ light: 'off' }, 'file:///pkg/'), code('invalid_option', 'light'));
  const red = { ...session, light: { segments: [{ colour: [250, 10, 10], duration_ms: 400 }], passive_ms: 1000 } };
  assert.throws(() => normalizeOptions({ session: red }, 'file:///pkg/'), code('invalid_option', 'session.light.segments[0].colour'));
  assert.ok(LIGHT_DELAY_MS >= 200 && LIGHT_DELAY_MS <= 500);
});

test('Liveness: a light session without a recording shows no light and sends no timeline', async () => {
  const lv = await Liveness.create(inlineOptions({ session, recordClip: false }));
  try {
    const seen = [];
    lv.on('light', (d) => seen.push(d));
    assert.deepEqual(lv.light, { segments: SEGMENTS, current: null, onsets: [] });
    const events = await lv.finish();
    assert.equal(events.at(-1).type, 'final_result');
    assert.deepEqual(seen, [], 'no light without a recording');
    assert.deepEqual(lv.light.onsets, []);
    const s = lv.signals;
    assert.deepEqual(Object.keys(s).sort(), ['device_label', 'frame_intervals', 'settings_inconsistent', 'wrapped']);
    assert.equal(s.device_label, null);
    assert.equal(s.frame_intervals, null);
  } finally {
    lv.close();
  }
  // Without light in the session, the getter is null; light:false there is fine.
  const off = await Liveness.create(inlineOptions({ session: { ...session, light: null }, light: false }));
  try {
    assert.equal(off.light, null);
  } finally {
    off.close();
  }
  await assert.rejects(Liveness.create(inlineOptions({ session, light: false })), code('invalid_option', 'light'));
});
