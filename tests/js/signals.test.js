// Injection signals (signals.js): what the native-function checks tell (a plain wrapper, a
// Proxy, a bound function, a wrapper faking its toString), the scan over a page's globals, the
// frame-interval statistics and the settings-versus-capabilities facts. Node has no camera
// API, so natives are Node's own (Math.max, Map's size getter); the browser tests check the
// real getUserMedia (tests/browser/signals.test.mjs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pkg } from './helpers.js';

const S = await pkg('signals.js');

const trap = { apply: (t, thisArg, args) => Reflect.apply(t, thisArg, args) };

test('nativeProblem: natives pass; wrappers, Proxies and bound functions are reported', () => {
  assert.equal(S.nativeProblem(Math.max, 'max'), null);
  assert.equal(S.nativeProblem(Object.getOwnPropertyDescriptor(Map.prototype, 'size').get, 'get size'), null);
  assert.equal(S.nativeProblem(Function.prototype.toString, 'toString'), null);
  // A plain function wrapper prints its source.
  const real = Math.max;
  function max(...a) { return real(...a); }
  assert.equal(S.nativeProblem(max, 'max'), 'not native code');
  assert.equal(S.nativeProblem((...a) => real(...a), 'max'), 'not native code');
  // A Proxy prints as native code, but without the name.
  assert.equal(S.nativeProblem(new Proxy(Math.max, trap), 'max'), 'proxy or bound function');
  assert.equal(S.nativeProblem(new Proxy(Math.max, {}), 'max'), 'proxy or bound function');
  assert.equal(S.nativeProblem(Math.max.bind(Math), 'max'), 'proxy or bound function');
  // A wrapper that fakes its own toString: the captured Function.prototype.toString ignores it.
  const faked = function max2() { return 1; };
  faked.toString = () => 'function max() { [native code] }';
  assert.equal(S.nativeProblem(faked, 'max'), 'not native code');
  // Another native in its place.
  assert.match(S.nativeProblem(Math.min, 'max'), /native min, not max/);
  assert.equal(S.nativeProblem(undefined, 'max'), 'not a function');
});

test('foreignCode: a Proxy\'s apply trap shows in the stack of an illegal call; the native does not', () => {
  assert.equal(S.foreignCode(Function.prototype.toString), false);
  assert.equal(S.foreignCode(new Proxy(Function.prototype.toString, trap)), true);
  // A wrapper that swallows the illegal receiver does not throw at all.
  assert.equal(S.foreignCode(function getSettings() { return {}; }), true);
});

test('scanWrapped: a page whose getUserMedia is wrapped (plain function or Proxy) is reported by name', () => {
  // Node's own globals have none of the camera API: nothing to report.
  assert.deepEqual(S.scanWrapped(globalThis), []);
  assert.deepEqual(S.wrappedAtLoad(), []);

  class MediaDevices {}
  // Stand-ins for the browser's natives (Node has none by these names): natives of Node with
  // other names would be reported as "native max, not getUserMedia", so the prototype's method
  // is left out and only the instance-level hooks are looked at.
  const page = (gum) => {
    const md = Object.create(MediaDevices.prototype);
    if (gum) md.getUserMedia = gum;
    return { navigator: { mediaDevices: md }, MediaDevices };
  };
  const real = async () => ({});
  const plain = function getUserMedia(c) { return real(c); };
  const proxied = new Proxy(Math.max, trap);
  // The stand-in navigator's `mediaDevices` is a plain data property, not the browser's getter:
  // reported as such, as a page that replaced it would be.
  const scan = (g) => S.scanWrapped(g);
  assert.deepEqual(scan(page(null)), ['Navigator.prototype.mediaDevices']);
  assert.deepEqual(scan(page(plain)), ['Navigator.prototype.mediaDevices', 'getUserMedia']);
  assert.deepEqual(scan(page(proxied)), ['Navigator.prototype.mediaDevices', 'getUserMedia']);
  // A hook on the prototype is reported under the prototype's name.
  class Hooked {}
  Hooked.prototype.getUserMedia = new Proxy(Math.max, trap);
  const hooked = { MediaDevices: Hooked };
  assert.deepEqual(scan(hooked), ['MediaDevices.prototype.getUserMedia']);
  for (const t of S.TARGETS) assert.ok(t.name.length <= S.MAX_NAME, t.name);
  assert.ok(S.TARGETS.length < S.MAX_ENTRIES);
});

test('frame intervals: median and MAD; repeated and backward timestamps ignored; null under 2 intervals', () => {
  const f = new S.FrameIntervals();
  assert.equal(f.stats(), null);
  f.push(0);
  f.push(33);
  assert.equal(f.stats(), null);
  for (const t of [66, 66, 100, 133, 50, 166, 200, 240]) f.push(t);
  // intervals: 33, 33, 34, 33, 33, 34, 40 (66 repeated and 50 ignored; 166 follows 133)
  assert.deepEqual(f.stats(), { count: 7, median_ms: 33, mad_ms: 0 });
  assert.deepEqual(S.intervalStats([10, 20, 30, 40]), { count: 4, median_ms: 25, mad_ms: 10 });
  // A machine-regular stream has a MAD of 0; a camera's jitters.
  const cam = S.intervalStats([33.1, 34.9, 32.2, 33.6, 35.8, 31.9]);
  assert.ok(cam.mad_ms > 0.5, JSON.stringify(cam));
  f.reset();
  assert.equal(f.stats(), null);
});

test('camera facts: settings outside the capabilities, device id unknown to enumerateDevices, label', async () => {
  assert.deepEqual(S.outsideCapabilities(
    { width: 1920, height: 1080, frameRate: 30 },
    { width: { min: 1, max: 1280 }, height: { min: 1, max: 720 }, frameRate: { min: 1, max: 30 } },
  ), ['width', 'height']);
  assert.deepEqual(S.outsideCapabilities({ width: 640, frameRate: 30.4 }, { width: { max: 640 }, frameRate: { max: 30 } }), []);
  assert.deepEqual(await S.cameraFacts(null), { device_label: null, settings_inconsistent: [] });

  const track = {
    label: 'Integrated Camera',
    getSettings: () => ({ deviceId: 'abc', width: 640, height: 480, frameRate: 60 }),
    getCapabilities: () => ({ width: { min: 1, max: 1280 }, height: { min: 1, max: 720 }, frameRate: { min: 1, max: 30 } }),
  };
  const stream = { getVideoTracks: () => [track] };
  const saved = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
  const devices = [{ kind: 'videoinput', deviceId: 'xyz', label: 'Integrated Camera' }];
  Object.defineProperty(globalThis, 'navigator', { value: { mediaDevices: { enumerateDevices: async () => devices } }, configurable: true });
  try {
    assert.deepEqual(await S.cameraFacts(stream), { device_label: 'Integrated Camera', settings_inconsistent: ['frameRate', 'deviceId'] });
    devices[0].deviceId = 'abc';
    assert.deepEqual(await S.cameraFacts(stream), { device_label: 'Integrated Camera', settings_inconsistent: ['frameRate'] });
    devices[0].label = 'OBS Virtual Camera';
    assert.deepEqual((await S.cameraFacts(stream)).settings_inconsistent, ['frameRate', 'label']);
    // Before the camera is granted the ids are empty: no device check.
    devices[0].deviceId = '';
    assert.deepEqual((await S.cameraFacts(stream)).settings_inconsistent, ['frameRate']);
  } finally {
    if (saved) Object.defineProperty(globalThis, 'navigator', saved);
    else delete globalThis.navigator;
  }
});

test('clientSignals: exactly the core\'s keys, within its limits', () => {
  const s = S.clientSignals({
    wrapped: Array.from({ length: 20 }, (_, i) => `api-${i}-${'x'.repeat(80)}`),
    device_label: 'y'.repeat(300),
    settings_inconsistent: ['width', 'width'],
    frame_intervals: { count: 3, median_ms: 33, mad_ms: 1 },
  });
  assert.deepEqual(Object.keys(s), ['wrapped', 'device_label', 'settings_inconsistent', 'frame_intervals']);
  assert.equal(s.wrapped.length, 16);
  assert.ok(s.wrapped.every((n) => n.length <= 64));
  assert.equal(s.device_label.length, 256);
  assert.deepEqual(s.settings_inconsistent, ['width']);
});
