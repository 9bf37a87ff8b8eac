// @ts-check
/**
 * Options: defaults, validation (every error names the option to fix) and the translation
 * into the core's session and engine settings. Unknown keys are refused, so a misspelt option
 * can never be silently ignored. Nothing here decides liveness: the values are handed to the
 * Rust core, which owns every threshold's meaning.
 * @module
 */

import { LivenessError, invalidOption, describe } from './errors.js';
import { base64urlEncode, base64Decode, randomBytes, utf8 } from './encoding.js';
import { normalizeLight } from './light.js';

/** The challenge actions, in the core's canonical spelling. */
export const ACTIONS = Object.freeze(['BLINK', 'LOOK LEFT', 'LOOK RIGHT', 'LOOK UP', 'LOOK DOWN', 'SMILE']);

/**
 * Core defaults the JS layer needs to know (to double them for `longerTimeouts`). They mirror
 * `ChallengeConfig::default()` in src/challenge/session.rs; tests/js/package.test.js compares
 * them, and every core default index.d.ts states, with the wasm build's `sessionDefaults()`.
 */
export const CORE_DEFAULT_TIMEOUT_MS = 8000;
/** The core's upper bound for `timeout_ms`. */
export const CORE_MAX_TIMEOUT_MS = 120000;
/** The core's `MAX_DETECT_EVERY`. */
export const MAX_DETECT_EVERY = 30;

/**
 * The SDK's own defaults, none of them the core's: the core has no camera, analysis size,
 * transport or model cache, and its `LiveConfig` analyses every frame (`detect_every` 1, what
 * the server runs) where the browser runs the detector on every third frame to keep up with the
 * camera. Challenge, threshold and evidence settings the caller leaves unset are not sent, so
 * the core's defaults apply.
 */
export const DEFAULTS = Object.freeze({
  detectEvery: 3,
  maxAnalysisSide: 640,
  landmarks: false,
  recordClip: false,
  evidence: true,
  wasm: 'auto',
  cacheModels: true,
  transport: 'worker',
  light: true,
  camera: Object.freeze({ facingMode: 'user', width: 640, height: 480, frameRate: 30 }),
});

/** The core's `ActionThresholds` fields (passed through unchanged). */
export const ACTION_THRESHOLD_KEYS = Object.freeze([
  'yaw_deg', 'pitch_deg', 'hold_ms', 'closed_ratio', 'closed_ear_max', 'open_ratio', 'smile_happy', 'smile_width_gain',
]);
/** The core's `QualityConfig` fields (the quality gate and its guidance; passed through unchanged). */
export const QUALITY_KEYS = Object.freeze([
  'min_face_size', 'max_face_size', 'max_center_offset', 'min_brightness', 'max_brightness', 'min_sharpness',
  'max_angle', 'max_cut_off', 'min_presence', 'min_context', 'min_face_px',
]);
/** The core's `EvidenceConfig` fields (passed through unchanged). */
export const EVIDENCE_KEYS = Object.freeze(['max_frames', 'min_interval_ms', 'jpeg_quality', 'max_records']);

const TOP_KEYS = [
  'challenges', 'accessibility', 'camera', 'thresholds', 'quality', 'detectEvery', 'maxAnalysisSide', 'landmarks', 'recordClip', 'evidence',
  'wasm', 'baseUrl', 'models', 'cacheModels', 'session', 'transport', 'light',
];

/** @param {unknown} v @returns {v is Record<string, unknown>} */
export function isPlainObject(v) {
  if (v === null || typeof v !== 'object') return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * @param {unknown} v
 * @param {string} path
 * @param {readonly string[]} keys
 * @returns {Record<string, unknown>}
 */
function object(v, path, keys) {
  if (!isPlainObject(v)) {
    if (!path) throw new LivenessError('invalid_option', `options must be a plain object, got ${describe(v)}`, { option: '' });
    throw invalidOption(path, 'must be a plain object', v);
  }
  for (const k of Object.keys(v)) {
    if (!keys.includes(k)) {
      const p = path ? `${path}.${k}` : k;
      throw new LivenessError('invalid_option', `unknown option \`${p}\`; expected one of ${keys.join(', ')}`, { option: p });
    }
  }
  return v;
}

/** @param {unknown} v @param {string} path */
function bool(v, path) {
  if (typeof v !== 'boolean') throw invalidOption(path, 'must be true or false', v);
  return v;
}

/**
 * @param {unknown} v @param {string} path
 * @param {{min?: number, max?: number, int?: boolean, minExclusive?: boolean}} range
 */
function num(v, path, { min = -Infinity, max = Infinity, int = false, minExclusive = false }) {
  const ok = typeof v === 'number' && Number.isFinite(v) && (!int || Number.isInteger(v))
    && (minExclusive ? v > min : v >= min) && v <= max;
  if (!ok) {
    const kind = int ? 'an integer' : 'a finite number';
    const lo = minExclusive ? `> ${min}` : `≥ ${min}`;
    const span = Number.isFinite(min) && Number.isFinite(max) ? ` in ${minExclusive ? '(' : '['}${min}, ${max}]`
      : Number.isFinite(min) ? ` ${lo}` : '';
    throw invalidOption(path, `must be ${kind}${span}`, v);
  }
  return /** @type {number} */ (v);
}

/**
 * A challenge action in any accepted spelling (`'LOOK LEFT'`, `'look_left'`), canonicalised.
 * @param {unknown} v @param {string} path
 */
export function action(v, path) {
  if (typeof v === 'string') {
    const norm = v.trim().toUpperCase().replace(/[_-]/g, ' ').replace(/\s+/g, ' ');
    if (ACTIONS.includes(norm)) return norm;
  }
  throw invalidOption(path, `must be one of ${ACTIONS.join(', ')} (underscores accepted)`, v);
}

/** @param {unknown} v @param {string} path */
function actionList(v, path) {
  if (!Array.isArray(v) || v.length === 0 || v.length > 10) throw invalidOption(path, 'must be an array of 1 to 10 challenge actions', v);
  return v.map((a, i) => action(a, `${path}[${i}]`));
}

/**
 * A URL (absolute, or relative to the document) as a string.
 * @param {unknown} v @param {string} path
 */
function url(v, path) {
  if (v instanceof URL) return v.href;
  if (typeof v === 'string' && v.length > 0) {
    try {
      const base = typeof location !== 'undefined' ? location.href : undefined;
      return new URL(v, base).href;
    } catch { /* below */ }
  }
  throw invalidOption(path, 'must be a URL (string or URL object)', v);
}

/**
 * @typedef {object} Normalized
 * @property {'worker'|'inline'} transport
 * @property {'auto'|'simd'|'scalar'} wasm
 * @property {string} baseUrl absolute, ends with '/'
 * @property {Record<string, string|Uint8Array>} models
 * @property {boolean} cacheModels
 * @property {{deviceId?: string, facingMode: string, width: number, height: number, frameRate: number}} camera
 * @property {number} detectEvery
 * @property {number} maxAnalysisSide
 * @property {boolean} landmarks
 * @property {boolean} recordClip
 * @property {Record<string, number>|null} evidence
 * @property {Record<string, unknown>} engine partial EngineConfig
 * @property {Challenges} challenges
 * @property {ServerSession|null} session
 * @property {boolean} light show a session's light sequence (option `light`)
 */
/**
 * @typedef {object} Challenges
 * @property {string[]|null} actions
 * @property {number|null} count
 * @property {string[]|null} script
 * @property {string|Uint8Array|null} seed
 * @property {number|null} timeoutMs
 * @property {boolean} noSmile
 * @property {boolean} longerTimeouts
 * @property {number|null} pad
 * @property {number|null} identity
 * @property {Record<string, number>} actionThresholds
 * @property {number|null} [passiveMs] the passive phase, ms: a light session's `passive_ms`
 */
/**
 * @typedef {object} ServerSession
 * @property {string} session_id
 * @property {string} nonce
 * @property {Uint8Array} key
 * @property {string[]} challenges
 * @property {string|null} evidence_url as given (a relative one is resolved when submitting)
 * @property {string|number|null} expires_at
 * @property {number|null} timeout_ms the server's per-challenge timeout
 * @property {import('./light.js').LightPlan|null} light the session's screen-light sequence, or null
 */

/**
 * Validates a server session object (`POST /v1/sessions`).
 * @param {unknown} v
 * @param {string} path
 * @returns {ServerSession}
 */
export function normalizeSession(v, path = 'session') {
  // The server's answer: known fields are checked, others (added by newer servers) ignored.
  if (!isPlainObject(v)) throw invalidOption(path, 'must be the server session object (the JSON answer of POST /v1/sessions)', v);
  const s = v;
  for (const k of ['session_id', 'nonce']) {
    if (typeof s[k] !== 'string' || !(/** @type {string} */ (s[k])).length || /** @type {string} */ (s[k]).length > 128) {
      throw invalidOption(`${path}.${k}`, 'must be a string of 1 to 128 characters', s[k]);
    }
  }
  let key;
  if (s.session_key instanceof Uint8Array) key = s.session_key;
  else if (typeof s.session_key === 'string') {
    try { key = base64Decode(s.session_key); } catch { key = null; }
  }
  if (!key || key.length < 32) throw invalidOption(`${path}.session_key`, 'must be the base64url session key (at least 32 bytes) or its bytes', s.session_key);
  if (s.alg !== undefined && s.alg !== 'HS256') throw invalidOption(`${path}.alg`, 'must be "HS256" (the session key is an HMAC secret)', s.alg);
  const challenges = actionList(s.challenges, `${path}.challenges`);
  let evidenceUrl = null;
  if (s.evidence_url instanceof URL) evidenceUrl = s.evidence_url.href;
  else if (typeof s.evidence_url === 'string' && s.evidence_url) evidenceUrl = s.evidence_url;
  else if (s.evidence_url !== undefined && s.evidence_url !== null) throw invalidOption(`${path}.evidence_url`, 'must be a URL string', s.evidence_url);
  const timeout = s.timeout_ms === undefined || s.timeout_ms === null ? null
    : num(s.timeout_ms, `${path}.timeout_ms`, { min: 0, max: CORE_MAX_TIMEOUT_MS, minExclusive: true });
  if (s.expires_at !== undefined && s.expires_at !== null && typeof s.expires_at !== 'string' && typeof s.expires_at !== 'number') {
    throw invalidOption(`${path}.expires_at`, 'must be a string or number', s.expires_at);
  }
  // The screen-light sequence (null: light off for this session), checked for flashing rules.
  const light = normalizeLight(s.light, `${path}.light`);
  return {
    session_id: /** @type {string} */ (s.session_id),
    nonce: /** @type {string} */ (s.nonce),
    key,
    challenges,
    evidence_url: evidenceUrl,
    expires_at: /** @type {any} */ (s.expires_at ?? null),
    timeout_ms: timeout,
    light,
  };
}

/**
 * @param {unknown} v
 * @param {string} path
 */
function normalizeChallenges(v, path) {
  const c = object(v, path, ['actions', 'count', 'script', 'seed', 'timeoutMs']);
  const out = {
    actions: c.actions === undefined ? null : actionList(c.actions, `${path}.actions`),
    count: c.count === undefined ? null : num(c.count, `${path}.count`, { min: 1, max: 10, int: true }),
    script: c.script === undefined ? null : actionList(c.script, `${path}.script`),
    seed: /** @type {string|Uint8Array|null} */ (null),
    timeoutMs: c.timeoutMs === undefined ? null : num(c.timeoutMs, `${path}.timeoutMs`, { min: 0, max: CORE_MAX_TIMEOUT_MS, minExclusive: true }),
  };
  if (c.seed !== undefined) {
    const ok = (typeof c.seed === 'string' && c.seed.length >= 1 && c.seed.length <= 128)
      || (c.seed instanceof Uint8Array && c.seed.length >= 1 && c.seed.length <= 96);
    if (!ok) throw invalidOption(`${path}.seed`, 'must be a string of 1 to 128 characters (a server nonce) or a Uint8Array of 1 to 96 bytes', c.seed);
    out.seed = c.seed instanceof Uint8Array ? c.seed.slice() : /** @type {string} */ (c.seed);
  }
  if (out.script && (out.actions || out.count !== null || out.seed !== null)) {
    throw invalidOption(`${path}.script`, 'cannot be combined with challenges.actions, challenges.count or challenges.seed (an explicit script replaces the draw)');
  }
  if (out.actions && out.count !== null && out.count > new Set(out.actions).size) {
    throw invalidOption(`${path}.count`, `must not exceed the number of distinct actions in challenges.actions (${new Set(out.actions).size})`, out.count);
  }
  return out;
}

/**
 * Validates and normalises `Liveness.create` options.
 * @param {unknown} input
 * @param {string} defaultBaseUrl
 * @returns {Normalized}
 */
export function normalizeOptions(input, defaultBaseUrl) {
  if (input === undefined) input = {};
  const o = object(input, '', TOP_KEYS);
  /** @param {string} k */
  const has = (k) => o[k] !== undefined;

  const ch = has('challenges') ? normalizeChallenges(o.challenges, 'challenges') : { actions: null, count: null, script: null, seed: null, timeoutMs: null };
  const acc = has('accessibility') ? object(o.accessibility, 'accessibility', ['noSmile', 'longerTimeouts']) : {};
  const noSmile = acc.noSmile === undefined ? false : bool(acc.noSmile, 'accessibility.noSmile');
  const longerTimeouts = acc.longerTimeouts === undefined ? false : bool(acc.longerTimeouts, 'accessibility.longerTimeouts');

  const th = has('thresholds') ? object(o.thresholds, 'thresholds', ['pad', 'identity', ...ACTION_THRESHOLD_KEYS]) : {};
  const pad = th.pad === undefined ? null : num(th.pad, 'thresholds.pad', { min: 0, max: 1 });
  const identity = th.identity === undefined ? null : num(th.identity, 'thresholds.identity', { min: -1, max: 1 });
  /** @type {Record<string, number>} */
  const actionThresholds = {};
  for (const k of ACTION_THRESHOLD_KEYS) {
    if (th[k] !== undefined) actionThresholds[k] = num(th[k], `thresholds.${k}`, { min: 0 });
  }

  const cam = has('camera') ? object(o.camera, 'camera', ['deviceId', 'facingMode', 'width', 'height', 'frameRate']) : {};
  /** @type {{deviceId?: string, facingMode: string, width: number, height: number, frameRate: number}} */
  const camera = { ...DEFAULTS.camera };
  if (cam.deviceId !== undefined) {
    if (typeof cam.deviceId !== 'string' || !cam.deviceId) throw invalidOption('camera.deviceId', 'must be a non-empty string (a MediaDeviceInfo.deviceId)', cam.deviceId);
    camera.deviceId = cam.deviceId;
  }
  if (cam.facingMode !== undefined) {
    if (cam.facingMode !== 'user' && cam.facingMode !== 'environment') throw invalidOption('camera.facingMode', 'must be "user" or "environment"', cam.facingMode);
    camera.facingMode = cam.facingMode;
  }
  if (cam.width !== undefined) camera.width = num(cam.width, 'camera.width', { min: 64, max: 7680, int: true });
  if (cam.height !== undefined) camera.height = num(cam.height, 'camera.height', { min: 64, max: 4320, int: true });
  if (cam.frameRate !== undefined) camera.frameRate = num(cam.frameRate, 'camera.frameRate', { min: 1, max: 240 });

  const detectEvery = has('detectEvery') ? num(o.detectEvery, 'detectEvery', { min: 1, max: MAX_DETECT_EVERY, int: true }) : DEFAULTS.detectEvery;
  const maxAnalysisSide = has('maxAnalysisSide') ? num(o.maxAnalysisSide, 'maxAnalysisSide', { min: 64, max: 4096, int: true }) : DEFAULTS.maxAnalysisSide;
  const landmarks = has('landmarks') ? bool(o.landmarks, 'landmarks') : DEFAULTS.landmarks;

  /** @type {Record<string, number>|null} */
  let evidence = {};
  if (has('evidence')) {
    if (typeof o.evidence === 'boolean') evidence = o.evidence ? {} : null;
    else {
      const e = object(o.evidence, 'evidence', EVIDENCE_KEYS);
      if (e.max_frames !== undefined) evidence.max_frames = num(e.max_frames, 'evidence.max_frames', { min: 1, max: 62, int: true });
      if (e.min_interval_ms !== undefined) evidence.min_interval_ms = num(e.min_interval_ms, 'evidence.min_interval_ms', { min: 0 });
      if (e.jpeg_quality !== undefined) evidence.jpeg_quality = num(e.jpeg_quality, 'evidence.jpeg_quality', { min: 1, max: 100, int: true });
      if (e.max_records !== undefined) evidence.max_records = num(e.max_records, 'evidence.max_records', { min: 1, max: 1e6, int: true });
    }
  }

  const wasm = has('wasm') ? o.wasm : DEFAULTS.wasm;
  if (wasm !== 'auto' && wasm !== 'simd' && wasm !== 'scalar') throw invalidOption('wasm', 'must be "auto", "simd" or "scalar"', wasm);

  let baseUrl = has('baseUrl') ? url(o.baseUrl, 'baseUrl') : defaultBaseUrl;
  if (!baseUrl.endsWith('/')) baseUrl += '/';

  /** @type {Record<string, string|Uint8Array>} */
  const models = {};
  if (has('models')) {
    if (!isPlainObject(o.models)) throw invalidOption('models', 'must be an object of model file name → URL or bytes', o.models);
    for (const [file, v] of Object.entries(o.models)) {
      const p = `models[${JSON.stringify(file)}]`;
      if (v instanceof Uint8Array) models[file] = v;
      else if (v instanceof ArrayBuffer) models[file] = new Uint8Array(v);
      else if (typeof v === 'string' || v instanceof URL) models[file] = new URL(String(v), baseUrl).href;
      else throw invalidOption(p, 'must be a URL (string or URL) or bytes (Uint8Array or ArrayBuffer)', v);
    }
  }
  const cacheModels = has('cacheModels') ? bool(o.cacheModels, 'cacheModels') : DEFAULTS.cacheModels;
  const transport = has('transport') ? o.transport : DEFAULTS.transport;
  if (transport !== 'worker' && transport !== 'inline') throw invalidOption('transport', 'must be "worker" or "inline" (inline: in-process, for tests and Node)', transport);

  const session = has('session') ? normalizeSession(o.session, 'session') : null;
  const light = has('light') ? bool(o.light, 'light') : DEFAULTS.light;
  if (!light && session?.light) {
    throw invalidOption('light', 'is false but the server session has a screen-light sequence (session.light); create the session with the body {"light": false} instead (the server then adds a challenge), and pass that session');
  }
  // A server verifies challenges only from the recording: on by default with a session.
  const recordClip = has('recordClip') ? bool(o.recordClip, 'recordClip') : session !== null || DEFAULTS.recordClip;
  if (session && (ch.script || ch.seed !== null || ch.actions || ch.count !== null)) {
    throw invalidOption('challenges', 'must not set actions, count, script or seed together with `session` (the server session fixes the script and the nonce)');
  }
  const script = session ? session.challenges : ch.script;
  if (noSmile && script && script.includes('SMILE')) {
    throw invalidOption('accessibility.noSmile', session
      ? 'is set but the server session\'s script contains SMILE; create the session without SMILE'
      : 'is set but challenges.script contains SMILE');
  }
  let actions = ch.actions;
  if (noSmile && !script) {
    actions = (actions ?? [...ACTIONS]).filter((a) => a !== 'SMILE');
    if (actions.length === 0) throw invalidOption('accessibility.noSmile', 'leaves no challenge action (challenges.actions only has SMILE)');
    if (ch.count !== null && ch.count > new Set(actions).size) {
      throw invalidOption('challenges.count', `must not exceed the ${new Set(actions).size} actions left once accessibility.noSmile removes SMILE`, ch.count);
    }
  }
  if (session && longerTimeouts) {
    throw invalidOption('accessibility.longerTimeouts', 'cannot lengthen a server session\'s window (the server re-runs with its own timeout); create the session with a longer timeout_ms');
  }
  if (longerTimeouts && (ch.timeoutMs ?? CORE_DEFAULT_TIMEOUT_MS) * 2 > CORE_MAX_TIMEOUT_MS) {
    throw invalidOption('challenges.timeoutMs', `must be at most ${CORE_MAX_TIMEOUT_MS / 2} with accessibility.longerTimeouts (it is doubled)`, ch.timeoutMs);
  }

  /** @type {Record<string, number>} */
  const quality = {};
  if (has('quality')) {
    const q = object(o.quality, 'quality', QUALITY_KEYS);
    for (const k of QUALITY_KEYS) {
      if (q[k] !== undefined) quality[k] = num(q[k], `quality.${k}`, { min: 0 });
    }
  }

  /** @type {Record<string, unknown>} */
  const engine = { age_gender: false };
  if (pad !== null) engine.pad_threshold = pad;
  if (Object.keys(quality).length) engine.quality = quality;

  return {
    transport: /** @type {'worker'|'inline'} */ (transport),
    wasm: /** @type {'auto'|'simd'|'scalar'} */ (wasm),
    baseUrl,
    models,
    cacheModels,
    camera,
    detectEvery,
    maxAnalysisSide,
    landmarks,
    recordClip,
    evidence,
    engine,
    challenges: {
      actions,
      count: ch.count,
      script,
      seed: session ? session.nonce : /** @type {string|Uint8Array|null} */ (ch.seed),
      timeoutMs: session ? session.timeout_ms : ch.timeoutMs,
      noSmile,
      longerTimeouts,
      pad,
      identity,
      actionThresholds,
      passiveMs: session?.light ? session.light.passive_ms : null,
    },
    session,
    light,
  };
}

/**
 * The core's LiveSession options for one session, and the nonce its evidence records.
 * A string seed (a server nonce) is used as its UTF-8 bytes, which is what the server's
 * `seed_from_nonce(nonce)` digests; without a seed, a random nonce string (base64url of 32
 * random bytes) is made and used the same way, so a server can check an offline kiosk's
 * script against its nonce.
 * @param {Challenges} c
 * @param {{detectEvery: number, evidence: Record<string, number>|null}} o
 * @returns {{sessionOptions: Record<string, unknown>, nonce: string}}
 */
export function sessionPlan(c, o) {
  /** @type {Record<string, unknown>} */
  const challenge = {};
  if (c.actions) challenge.actions = [...new Set(c.actions)];
  if (c.count !== null) challenge.count = c.count;
  const timeout = c.timeoutMs ?? (c.longerTimeouts ? CORE_DEFAULT_TIMEOUT_MS : null);
  if (timeout !== null) challenge.timeout_ms = c.longerTimeouts ? timeout * 2 : timeout;
  if (c.pad !== null) challenge.pad_threshold = c.pad;
  if (c.identity !== null) challenge.identity_threshold = c.identity;
  if (Object.keys(c.actionThresholds).length) challenge.thresholds = { ...c.actionThresholds };
  // A light session holds its passive phase while the sequence plays (the server does the same).
  if (c.passiveMs !== null && c.passiveMs !== undefined) challenge.passive_ms = c.passiveMs;

  /** @type {Record<string, unknown>} */
  const live = { detect_every: o.detectEvery };
  if (o.evidence) live.evidence = { ...o.evidence };
  /** @type {Record<string, unknown>} */
  const sessionOptions = { challenge, live };
  let nonce;
  // Without a seed, a fresh random nonce string: the script is drawn from its UTF-8 bytes, as
  // a server drawing a kiosk's script from its nonce does (`seed_from_nonce`).
  let seed = c.seed ?? base64urlEncode(randomBytes(32));
  if (typeof seed === 'string') {
    nonce = seed;
    seed = utf8(seed);
  } else {
    nonce = base64urlEncode(seed);
  }
  if (c.script) sessionOptions.script = [...c.script];
  else sessionOptions.seed = seed;
  return { sessionOptions, nonce };
}

export { describe };
