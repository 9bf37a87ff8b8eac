// @ts-check
/**
 * Injection signals: advisory facts about the page the SDK runs in, sent with the evidence
 * (`signals`) for the server to weigh. They catch the cheap attacks — a script that hooks
 * `getUserMedia` (or the video element, the frame grab, the track's settings) to feed a
 * synthetic or replayed face, a virtual camera whose settings contradict its own
 * capabilities, a stream whose frames arrive with a machine's regularity — and cost a
 * careful attacker little, because **the browser belongs to the attacker**: a script that runs
 * before this module can replace every function used here, including the ones used to check,
 * and any value sent can be forged by posting the evidence by hand. So the server treats
 * these as risk hints only, and never as a reason to trust a session; what it verifies comes
 * from its own run of the recording.
 *
 * This module checks the functions at evaluation (`index.js` imports it first, so that is when
 * the SDK is loaded), again at `start()` and when the evidence is assembled; a name is
 * reported when any check failed (the union). How a function is judged (`nativeProblem`):
 * - `Function.prototype.toString` of it must be native code (`{ [native code] }`): a plain
 *   JavaScript wrapper prints its own source. The `toString` used is captured here and itself
 *   checked the same way (and a plain function's source must come back as source, so a
 *   `toString` that answers "native code" for everything is caught);
 * - the printed name must be the function's own name: V8, SpiderMonkey and JavaScriptCore
 *   print a Proxy around a function (and a bound function) as `function () { [native code] }`,
 *   without the name, although the Proxy forwards `name`, `length` and `prototype` to its
 *   target (so those cannot tell a Proxy; they do tell a wrapper that fakes its `toString`: a
 *   `function` wrapper has an own `prototype`, natives methods have none);
 * - for side-effect-free functions, a call with an illegal receiver must throw from native
 *   code: a JavaScript wrapper or a Proxy's `apply` trap shows up as a frame with a script
 *   location in the error's stack before this module's own frame (or does not throw at all).
 * What is not robust: a Proxy around `Function.prototype.toString` whose trap lies, and
 * scrubs `error.stack`, passes every check; so does a native from another realm used as a
 * hook; an attacker's script that runs before this module can replace `Reflect.apply` and
 * `Object.getOwnPropertyDescriptor` too; and a hook installed at the browser level (an
 * extension's isolated world, a patched browser, a virtual camera driver) changes no
 * JavaScript function at all. Settings and frame-interval facts are what the camera reports
 * to the page, which the same attacker controls.
 * @module
 */

// Captured at evaluation, before the page's later scripts can swap them.
const fnToString = Function.prototype.toString;
const reflectApply = Reflect.apply;
const getOwnDescriptor = Object.getOwnPropertyDescriptor;
const getProto = Object.getPrototypeOf;
const hasOwn = Object.prototype.hasOwnProperty;
/** This module's URL, to find our own frame in an error's stack. */
const SELF = import.meta.url;

/** Limits of the evidence's `signals` (the core refuses more). */
export const MAX_ENTRIES = 16;
export const MAX_NAME = 64;
export const MAX_LABEL = 256;
/** Most frame intervals kept for the statistics (the latest). */
export const MAX_INTERVALS = 2048;

/**
 * @typedef {object} FrameIntervalStats
 * @property {number} count intervals measured
 * @property {number} median_ms
 * @property {number} mad_ms median absolute deviation from the median
 */
/**
 * @typedef {object} ClientSignals
 * @property {string[]} wrapped functions that are not the browser's own (names of `TARGETS`)
 * @property {string|null} device_label the camera track's label
 * @property {string[]} settings_inconsistent track settings outside the track's capabilities (`width`, `height`, `frameRate`), `deviceId` / `label` unknown to `enumerateDevices`
 * @property {FrameIntervalStats|null} frame_intervals
 */

/**
 * A function's printed form if it is `function NAME() { [native code] }`, else null.
 * @param {string} src
 */
function nativeName(src) {
  const m = /^function\s*([^(]*)\(\)\s*\{\s*\[native code\]\s*\}$/.exec(src);
  return m ? m[1].trim() : null;
}

/** @param {string} n */
const bare = (n) => n.replace(/^[gs]et /, '');

/** A plain function: `toString` must print its source (a minifier may rewrite it, but keeps `return`). */
function probeSource(/** @type {number} */ a) { return a + 1; }

/**
 * Why `f` does not look like the browser's own native function `expected` (e.g.
 * `'getUserMedia'`, `'get srcObject'`), or null when it does. See the module comment for what
 * this can and cannot tell.
 * @param {unknown} f
 * @param {string} [expected]
 * @returns {string|null}
 */
export function nativeProblem(f, expected) {
  if (typeof f !== 'function') return 'not a function';
  let src;
  try {
    src = reflectApply(fnToString, f, []);
  } catch {
    return 'toString refuses it';
  }
  if (typeof src !== 'string' || !/\{\s*\[native code\]\s*\}$/.test(src)) return 'not native code';
  const printed = nativeName(src);
  if (printed === null) return 'not native code';
  if (!printed) return 'proxy or bound function';
  if (expected !== undefined && bare(printed) !== bare(expected)) return `native ${printed}, not ${expected}`;
  const name = getOwnDescriptor(f, 'name');
  if (!name || !('value' in name) || typeof name.value !== 'string' || bare(name.value) !== bare(printed)) return 'name does not match its source';
  if (reflectApply(hasOwn, f, ['prototype'])) return 'has a prototype';
  return null;
}

/**
 * Whether calling `f` with an illegal receiver runs script code besides this module: a native
 * throws a TypeError from native code (no script frame above ours in the stack); a wrapper or a
 * Proxy's trap adds its own frame, or does not throw. Null when the stack cannot be read.
 * Only for functions that have no side effect when called that way.
 * @param {Function} f
 * @returns {boolean|null}
 */
export function foreignCode(f) {
  let stack;
  try {
    reflectApply(f, {}, []);
    return true; // a native with an illegal receiver always throws
  } catch (e) {
    stack = /** @type {any} */ (e)?.stack;
  }
  if (typeof stack !== 'string') return null;
  const lines = stack.split('\n');
  const mine = lines.findIndex((l) => l.includes(SELF));
  if (mine < 0) return null;
  // V8: "TypeError: …" then "    at Object.toString (<anonymous>)"; SpiderMonkey and
  // JavaScriptCore list script frames only. A frame with a script location is foreign.
  return lines.slice(0, mine).some((l) => /:\d+:\d+\)?\s*$/.test(l));
}

/**
 * @typedef {object} Target
 * @property {string} name reported name
 * @property {(g: any) => any} owner where the lookup starts
 * @property {string} key
 * @property {'value'|'get'|'set'} [kind] a method (default) or an accessor's getter / setter
 * @property {(g: any) => any} [home] the prototype the browser defines it on: found elsewhere = redefined
 * @property {boolean} [probe] safe to call with an illegal receiver (`foreignCode`)
 */

/** @param {any} g @param {string} name */
const proto = (g, name) => g?.[name]?.prototype;

/** What is checked. @type {readonly Target[]} */
export const TARGETS = Object.freeze([
  { name: 'Function.prototype.toString', owner: (g) => proto(g, 'Function'), key: 'toString', probe: true },
  { name: 'Navigator.prototype.mediaDevices', owner: (g) => g?.navigator, key: 'mediaDevices', kind: 'get', home: (g) => proto(g, 'Navigator'), probe: true },
  { name: 'getUserMedia', owner: (g) => g?.navigator?.mediaDevices, key: 'getUserMedia', home: (g) => proto(g, 'MediaDevices') },
  { name: 'enumerateDevices', owner: (g) => g?.navigator?.mediaDevices, key: 'enumerateDevices', home: (g) => proto(g, 'MediaDevices') },
  { name: 'getDisplayMedia', owner: (g) => g?.navigator?.mediaDevices, key: 'getDisplayMedia', home: (g) => proto(g, 'MediaDevices') },
  { name: 'MediaDevices.prototype.getUserMedia', owner: (g) => proto(g, 'MediaDevices'), key: 'getUserMedia' },
  { name: 'HTMLVideoElement.prototype.srcObject.get', owner: (g) => proto(g, 'HTMLVideoElement'), key: 'srcObject', kind: 'get', home: (g) => proto(g, 'HTMLMediaElement'), probe: true },
  { name: 'HTMLVideoElement.prototype.srcObject.set', owner: (g) => proto(g, 'HTMLVideoElement'), key: 'srcObject', kind: 'set', home: (g) => proto(g, 'HTMLMediaElement') },
  { name: 'HTMLMediaElement.prototype.play', owner: (g) => proto(g, 'HTMLVideoElement'), key: 'play', home: (g) => proto(g, 'HTMLMediaElement') },
  { name: 'MediaStreamTrack.prototype.getSettings', owner: (g) => proto(g, 'MediaStreamTrack'), key: 'getSettings', probe: true },
  { name: 'MediaStreamTrack.prototype.getCapabilities', owner: (g) => proto(g, 'MediaStreamTrack'), key: 'getCapabilities', probe: true },
  { name: 'createImageBitmap', owner: (g) => g, key: 'createImageBitmap' },
  { name: 'HTMLVideoElement.prototype.requestVideoFrameCallback', owner: (g) => proto(g, 'HTMLVideoElement'), key: 'requestVideoFrameCallback', probe: true },
  { name: 'CanvasRenderingContext2D.prototype.drawImage', owner: (g) => proto(g, 'CanvasRenderingContext2D'), key: 'drawImage', probe: true },
]);

/**
 * Finds a property along the prototype chain.
 * @param {any} obj @param {string} key
 * @returns {{desc: PropertyDescriptor, on: any}|null}
 */
function lookup(obj, key) {
  for (let o = obj, depth = 0; o !== null && o !== undefined && depth < 32; o = getProto(o), depth++) {
    const desc = getOwnDescriptor(o, key);
    if (desc) return { desc, on: o };
  }
  return null;
}

/**
 * Why one target is not the browser's own, or null (also when it does not exist here).
 * @param {Target} t
 * @param {any} g
 * @returns {string|null}
 */
export function targetProblem(t, g) {
  let owner;
  try {
    owner = t.owner(g);
  } catch {
    return null;
  }
  if (owner === null || owner === undefined || (typeof owner !== 'object' && typeof owner !== 'function')) return null;
  let found;
  try {
    found = lookup(owner, t.key);
  } catch {
    return 'lookup throws'; // a Proxy in the prototype chain
  }
  if (!found) return null;
  const { desc, on } = found;
  const home = t.home?.(g);
  if (home && on !== home) return `defined on ${on === owner ? 'the object itself' : 'another prototype'}`;
  const kind = t.kind ?? 'value';
  let f;
  let expected = t.key;
  if (kind === 'value') {
    if (!('value' in desc)) return 'an accessor instead of a method';
    f = desc.value;
  } else {
    if (!(kind in desc)) return `not an accessor with a ${kind}ter`;
    f = kind === 'get' ? desc.get : desc.set;
    if (f === undefined) return null;
    expected = `${kind} ${t.key}`;
  }
  const problem = nativeProblem(f, expected);
  if (problem) return problem;
  if (t.probe && foreignCode(f) === true) return 'script code runs when it is called';
  return null;
}

/**
 * The names of the targets that are not the browser's own in `g`.
 * @param {any} [g]
 * @param {readonly Target[]} [targets]
 * @returns {string[]}
 */
export function scanWrapped(g = globalThis, targets = TARGETS) {
  /** @type {string[]} */
  const out = [];
  for (const t of targets) {
    let problem;
    try {
      problem = targetProblem(t, g);
    } catch {
      problem = 'check throws';
    }
    if (problem) out.push(t.name);
  }
  // The checker itself: `toString` must give a plain function's source back.
  try {
    const src = reflectApply(fnToString, probeSource, []);
    const plain = typeof src === 'string' && src.includes('return') && !src.includes('[native code]');
    if (!plain && !out.includes(TARGETS[0].name)) out.unshift(TARGETS[0].name);
  } catch {
    if (!out.includes(TARGETS[0].name)) out.unshift(TARGETS[0].name);
  }
  return out;
}

/** What was wrapped when the SDK loaded. */
const AT_LOAD = (() => {
  try {
    return scanWrapped();
  } catch {
    return [];
  }
})();

/** The names found wrapped when the SDK was loaded. */
export function wrappedAtLoad() { return [...AT_LOAD]; }

/**
 * Frame intervals of the camera: median and median absolute deviation. Real cameras jitter by
 * a millisecond or more; a stream painted by script is often exactly regular, or runs at a
 * rate its settings do not claim. Advisory.
 */
export class FrameIntervals {
  /** @type {number[]} */ #intervals = [];
  /** @type {number|null} */ #last = null;

  /** @param {number} t a frame's time, ms (capture time where the browser gives it) */
  push(t) {
    if (typeof t !== 'number' || !Number.isFinite(t)) return;
    if (this.#last !== null) {
      const d = t - this.#last;
      if (d <= 0) return; // the same frame again, or a clock step back
      this.#intervals.push(d);
      if (this.#intervals.length > MAX_INTERVALS) this.#intervals.shift();
    }
    this.#last = t;
  }

  /** Starts over (a new camera). */
  reset() {
    this.#intervals = [];
    this.#last = null;
  }

  /** @returns {FrameIntervalStats|null} null with fewer than 2 intervals */
  stats() {
    return intervalStats(this.#intervals);
  }
}

/** @param {number[]} v */
function median(v) {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** @param {number} x */
const round2 = (x) => Math.round(x * 100) / 100;

/**
 * Median and MAD of intervals (ms), or null with fewer than 2.
 * @param {number[]} intervals
 * @returns {FrameIntervalStats|null}
 */
export function intervalStats(intervals) {
  if (intervals.length < 2) return null;
  const med = median(intervals);
  const mad = median(intervals.map((d) => Math.abs(d - med)));
  return { count: intervals.length, median_ms: round2(med), mad_ms: round2(mad) };
}

/**
 * The camera facts of a stream: its track's label, and the settings that contradict the
 * track's capabilities or the device list. Resolves to nulls and [] without a video track.
 * @param {MediaStream|null} stream
 * @returns {Promise<{device_label: string|null, settings_inconsistent: string[]}>}
 */
export async function cameraFacts(stream) {
  const track = /** @type {any} */ (stream)?.getVideoTracks?.()[0];
  if (!track) return { device_label: null, settings_inconsistent: [] };
  /** @type {string[]} */
  const bad = [];
  const label = typeof track.label === 'string' ? track.label.slice(0, MAX_LABEL) : null;
  let settings = {};
  let caps = null;
  try { settings = track.getSettings?.() ?? {}; } catch { /* below */ }
  try { caps = typeof track.getCapabilities === 'function' ? track.getCapabilities() : null; } catch { caps = null; }
  if (caps) bad.push(...outsideCapabilities(settings, caps));
  try {
    const md = /** @type {any} */ (globalThis).navigator?.mediaDevices;
    const devices = typeof md?.enumerateDevices === 'function' ? await md.enumerateDevices() : null;
    const cams = Array.isArray(devices) ? devices.filter((d) => d?.kind === 'videoinput') : [];
    // Ids (and labels) are listed only once the camera was granted; without them, no check.
    const id = /** @type {any} */ (settings).deviceId;
    if (cams.length && cams.every((d) => d.deviceId) && typeof id === 'string' && id) {
      const dev = cams.find((d) => d.deviceId === id);
      if (!dev) bad.push('deviceId');
      else if (label && dev.label && dev.label !== track.label) bad.push('label');
    }
  } catch { /* enumerateDevices refused: no check */ }
  return { device_label: label, settings_inconsistent: bad };
}

/**
 * Settings outside the capability ranges (`width`, `height`, `frameRate`), with half a unit of
 * slack for rounding.
 * @param {Record<string, any>} settings
 * @param {Record<string, any>} caps
 * @returns {string[]}
 */
export function outsideCapabilities(settings, caps) {
  /** @type {string[]} */
  const out = [];
  for (const k of ['width', 'height', 'frameRate']) {
    const v = settings[k];
    const r = caps[k];
    if (typeof v !== 'number' || !r || typeof r !== 'object') continue;
    if ((typeof r.min === 'number' && v < r.min - 0.5) || (typeof r.max === 'number' && v > r.max + 0.5)) out.push(k);
  }
  return out;
}

/**
 * The evidence's `signals`, within the core's limits: exactly these keys.
 * @param {{wrapped: string[], device_label: string|null, settings_inconsistent: string[], frame_intervals: FrameIntervalStats|null}} s
 * @returns {ClientSignals}
 */
export function clientSignals(s) {
  const names = (/** @type {string[]} */ v) => [...new Set(v)].slice(0, MAX_ENTRIES).map((n) => String(n).slice(0, MAX_NAME));
  return {
    wrapped: names(s.wrapped),
    device_label: typeof s.device_label === 'string' ? s.device_label.slice(0, MAX_LABEL) : null,
    settings_inconsistent: names(s.settings_inconsistent),
    frame_intervals: s.frame_intervals ? { ...s.frame_intervals } : null,
  };
}
