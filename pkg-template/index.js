// @ts-check
/**
 * liveproof: on-device face liveness (passive anti-spoofing + blink / look / smile
 * challenges) for the browser. The Rust core, compiled to WebAssembly, runs in a module
 * worker; this file owns the camera, the frame clock, events, evidence signing and submission.
 *
 * ```js
 * import { Liveness } from 'liveproof';
 * const lv = await Liveness.create({ challenges: { count: 2 } });
 * lv.on('challenge_start', (e) => show(e.action));
 * lv.on('final_result', (e) => console.log(e.label, e.passed, e.confidence));
 * await lv.start();            // opens the front camera
 * ```
 * @module
 */

// First: it checks the camera and frame functions before the page's later scripts run.
import { wrappedAtLoad, scanWrapped, FrameIntervals, cameraFacts, clientSignals } from './signals.js';
import { LivenessError, toLivenessError, invalidArgument, describe } from './errors.js';
import { normalizeOptions, normalizeSession, sessionPlan, isPlainObject } from './options.js';
import { workerTransport, inlineTransport } from './transport.js';
import { openCamera, videoFor, playing, frameClock, cameraError } from './camera.js';
import { checkSigningKey, signJws, evidenceForm, postForm } from './signing.js';
import { randomId } from './encoding.js';
import { ClipRecorder, canRecord } from './recorder.js';
import { LightDisplay, LIGHT_DELAY_MS } from './light.js';
import { VERSION } from './version.js';

export { LivenessError } from './errors.js';
export { ACTIONS } from './options.js';
export { VERSION } from './version.js';
/** The user-facing strings (challenge prompts, guidance, UI states) by language, for pages that draw their own UI. */
export { STRINGS } from './strings.js';

/** The core events, re-dispatched with the core's message object as `detail`. */
export const CORE_EVENTS = Object.freeze(['phase', 'frame_result', 'challenge_start', 'challenge_result', 'final_result', 'guidance']);
const ALL_EVENTS = [...CORE_EVENTS, 'frame', 'light', 'error'];
/** Frame times kept for the timing statistics. */
const STATS_WINDOW = 300;
const TOKEN = Symbol('liveproof.create');

/**
 * @param {number[]} values
 * @param {number} q
 */
function quantile(values, q) {
  if (values.length === 0) return null;
  const v = [...values].sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.floor(q * v.length))];
}

/** @param {number} x */
function round1(x) {
  return Math.round(x * 10) / 10;
}

/** @param {unknown} v */
function isVideoElement(v) {
  return typeof HTMLVideoElement === 'function' && v instanceof HTMLVideoElement;
}

/** @param {unknown} v */
function isMediaStream(v) {
  return typeof MediaStream === 'function' && v instanceof MediaStream;
}

/**
 * One liveness check: a loaded engine and a live session. Events are `CustomEvent`s whose
 * `detail` is the core's message object (`{type: 'final_result', label, passed, confidence}`).
 */
export class Liveness extends EventTarget {
  /** @type {import('./options.js').Normalized} */ #o;
  /** @type {import('./transport.js').Transport} */ #t;
  /** @type {any} */ #info;
  /** The caller's own `challenges` and `accessibility` options, reused by reset(). @type {{challenges?: any, accessibility?: any}} */ #user;
  /** @type {'ready'|'starting'|'running'|'closed'} */ #state = 'ready';
  /** @type {string[]} */ #script = [];
  #nonce = '';
  #sessionId = '';
  #generation = 0;
  #done = false;
  /** @type {any} */ #final = null;
  /** @type {Promise<any>|null} */ #evidence = null;
  /** @type {ClipRecorder|null} */ #clip = null;
  /** The session's screen-light sequence, once it played. @type {LightDisplay|null} */ #light = null;
  /** The decided session's recording, once its light played out. @type {Promise<{data: Uint8Array, type: string}|null>|null} */ #recordingDone = null;
  // injection signals
  /** @type {Set<string>} */ #wrapped = new Set(wrappedAtLoad());
  /** @type {{device_label: string|null, settings_inconsistent: string[]}} */ #camFacts = { device_label: null, settings_inconsistent: [] };
  /** @type {Promise<void>|null} */ #camFactsDone = null;
  #intervals = new FrameIntervals();
  /** Which frame time the intervals use (fixed by the first frame). @type {'captureTime'|'expectedDisplayTime'|'now'|null} */ #intervalClock = null;
  // camera
  /** @type {HTMLVideoElement|null} */ #video = null;
  /** @type {MediaStream|null} */ #stream = null;
  #ownStream = false;
  #ownVideo = false;
  /** @type {(() => void)|null} */ #stopClock = null;
  /** @type {Promise<void>|null} */ #inFlight = null;
  /** @type {number|null} */ #t0 = null;
  // stats
  #analysed = 0;
  #dropped = 0;
  /** @type {number[]} */ #ms = [];
  /** @type {number[]} */ #roundTrip = [];

  /**
   * Use `Liveness.create(options)`.
   * @param {symbol} token
   * @param {import('./options.js').Normalized} o
   * @param {import('./transport.js').Transport} t
   * @param {any} info
   * @param {{challenges?: any, accessibility?: any}} user
   */
  constructor(token, o, t, info, user) {
    if (token !== TOKEN) throw new LivenessError('invalid_argument', 'use `await Liveness.create(options)`, not `new Liveness()`');
    super();
    this.#o = o;
    this.#t = t;
    this.#info = info;
    this.#user = user;
  }

  /**
   * Validates the options, loads the wasm build (SIMD when supported) and the models in a
   * worker, and starts a session.
   * @param {import('./index.js').LivenessOptions} [options]
   * @returns {Promise<Liveness>}
   */
  static async create(options) {
    const o = normalizeOptions(options, new URL('./', import.meta.url).href);
    let t;
    if (o.transport === 'inline') {
      t = await inlineTransport();
    } else {
      if (typeof Worker !== 'function') {
        throw new LivenessError('wasm_unsupported', 'this runtime has no Web Workers; the `inline` transport is for tests and Node');
      }
      // This exact form lets bundlers find and emit the worker.
      const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
      t = workerTransport(worker, new URL('./worker.js', import.meta.url).href);
    }
    try {
      const info = await t.request('init', {
        wasm: o.wasm,
        baseUrl: o.baseUrl,
        models: o.models,
        cacheModels: o.cacheModels,
        engine: o.engine,
        version: VERSION,
      });
      const user = /** @type {any} */ (options) ?? {};
      const lv = new Liveness(TOKEN, o, t, { ...info, transport: t.kind }, { challenges: user.challenges, accessibility: user.accessibility });
      await lv.#newSession(o.challenges, o.session);
      return lv;
    } catch (e) {
      t.terminate();
      throw toLivenessError(e);
    }
  }

  /**
   * @param {import('./options.js').Challenges} challenges
   * @param {import('./options.js').ServerSession|null} session
   */
  async #newSession(challenges, session) {
    const plan = sessionPlan(challenges, this.#o);
    const { script } = await this.#t.request('startSession', { sessionOptions: plan.sessionOptions });
    this.#generation++;
    this.#o = { ...this.#o, challenges, session };
    this.#script = script;
    this.#nonce = plan.nonce;
    this.#sessionId = session ? session.session_id : randomId();
    this.#done = false;
    this.#final = null;
    this.#evidence = null;
    this.#clip?.discard();
    this.#clip = null;
    this.#light?.stop();
    this.#light = null;
    this.#recordingDone = null;
    this.#intervals.reset();
    this.#intervalClock = null;
  }

  /** The challenge script of the current session, e.g. `['BLINK', 'LOOK LEFT']`. */
  get script() { return [...this.#script]; }
  /** The session id the evidence carries (the server's, or a random one offline). */
  get sessionId() { return this.#sessionId; }
  /** The nonce the evidence carries (the server's, or the script seed offline). */
  get nonce() { return this.#nonce; }
  /** `'ready' | 'starting' | 'running' | 'closed'`. */
  get state() { return this.#state; }
  /** Whether the session has decided (a `final_result` was dispatched). */
  get done() { return this.#done; }
  /** The `final_result` message, once decided; otherwise null. */
  get result() { return this.#final ? { ...this.#final } : null; }
  /** The video element frames are taken from while started (to show a preview). */
  get video() { return this.#video; }
  /** Build facts: `{flavour, core, simd, transport, models}`. */
  get info() { return structuredClone(this.#info); }
  /**
   * The session's screen-light challenge: `{segments, current, onsets}` (`current`: the colour
   * on screen now or null; `onsets`: when each segment was first on screen, ms on the
   * recording's time base), or null when the session has no light. The light plays only while
   * the session is recorded (`recordClip`): without a recording the server has nothing to check.
   */
  get light() {
    const plan = this.#o.session?.light;
    if (!plan || !this.#o.light) return null;
    return {
      segments: plan.segments.map((s) => ({ colour: /** @type {[number, number, number]} */ ([...s.colour]), duration_ms: s.duration_ms })),
      current: this.#light?.current ?? null,
      onsets: this.#light ? this.#light.onsets.map(round1) : [],
    };
  }
  /**
   * Injection signals as they stand (what the evidence carries as `signals`): functions found
   * wrapped, the camera's label, settings that contradict its capabilities, frame-interval
   * statistics. Advisory: see signals.js for what they can and cannot tell.
   * @returns {import('./signals.js').ClientSignals}
   */
  get signals() {
    return clientSignals({
      wrapped: [...this.#wrapped],
      device_label: this.#camFacts.device_label,
      settings_inconsistent: this.#camFacts.settings_inconsistent,
      frame_intervals: this.#intervals.stats(),
    });
  }

  /**
   * Listens to one event type; `fn` gets the event's `detail`. Returns an unsubscribe function.
   * @param {string} type
   * @param {(detail: any, event: CustomEvent) => void} fn
   * @returns {() => void}
   */
  on(type, fn) {
    if (!ALL_EVENTS.includes(type)) throw invalidArgument('Liveness.on', `unknown event type; expected one of ${ALL_EVENTS.join(', ')}`, type);
    if (typeof fn !== 'function') throw invalidArgument('Liveness.on', 'the listener must be a function', fn);
    /** @param {Event} ev */
    const listener = (ev) => fn(/** @type {CustomEvent} */ (ev).detail, /** @type {CustomEvent} */ (ev));
    this.addEventListener(type, listener);
    return () => this.removeEventListener(type, listener);
  }

  /** @param {string} type @param {unknown} detail */
  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  #alive() {
    if (this.#state === 'closed') throw new LivenessError('closed', 'this Liveness instance is closed; create a new one');
  }

  /**
   * Starts analysing frames: from the camera (opened per `options.camera`) when called
   * without an argument, or from a playing `HTMLVideoElement` or a `MediaStream`.
   * Resolves once frames flow. Frames are dropped, never queued, while one is analysed.
   * @param {HTMLVideoElement|MediaStream} [source]
   */
  async start(source) {
    this.#alive();
    if (this.#state === 'starting' || this.#state === 'running') throw new LivenessError('already_started', 'start() was already called; call stop() first');
    if (this.#done) throw new LivenessError('session_done', 'the session has already decided; call reset() to run another');
    if (source !== undefined && !isVideoElement(source) && !isMediaStream(source)) {
      throw invalidArgument('Liveness.start', 'the source must be an HTMLVideoElement, a MediaStream or nothing (open the camera)', source);
    }
    if (typeof createImageBitmap !== 'function' && this.#t.kind === 'worker') {
      throw new LivenessError('camera_unavailable', 'createImageBitmap is not available in this runtime');
    }
    this.#state = 'starting';
    try {
      let stream = null;
      let video = null;
      if (source === undefined) {
        stream = await openCamera(this.#o.camera);
        this.#ownStream = true;
      } else if (isMediaStream(source)) {
        stream = /** @type {MediaStream} */ (source);
        this.#ownStream = false;
      } else {
        video = /** @type {HTMLVideoElement} */ (source);
      }
      this.#stream = stream;
      this.#interrupted();
      if (video) {
        this.#ownVideo = false;
        await playing(video);
      } else {
        this.#ownVideo = true;
        video = await videoFor(/** @type {MediaStream} */ (stream));
      }
      this.#interrupted();
      this.#video = video;
      this.#state = 'running';
      if (this.#o.recordClip && this.#o.evidence && !this.#clip && canRecord()) {
        const recorded = stream ?? /** @type {any} */ (video).captureStream?.();
        if (recorded) this.#clip = new ClipRecorder(recorded);
      }
      this.#startLight();
      this.#checkCamera(stream ?? (isMediaStream(video.srcObject) ? /** @type {MediaStream} */ (video.srcObject) : null));
      const v = video;
      this.#stopClock = frameClock(video, (now, meta) => {
        this.#frameTime(now, meta);
        this.#onVideoFrame(v, now);
      });
    } catch (e) {
      this.#releaseCamera();
      if (this.#state === 'starting') this.#state = 'ready';
      throw e instanceof LivenessError ? e : cameraError(e);
    }
  }

  /**
   * Plays the session's light sequence on the recording's time base, once per session, and
   * only while a clip is recorded: without a recording there is nothing for the server to check.
   */
  #startLight() {
    const plan = this.#o.session?.light;
    const clip = this.#clip;
    if (!plan || !this.#o.light || this.#light || !clip?.recording) return;
    const light = new LightDisplay(plan.segments, { toRecording: (t) => clip.recordingTime(t) });
    light.onChange((c) => this.#emit('light', { index: c.index, colour: c.colour, t_ms: round1(c.t_ms) }));
    this.#light = light;
    light.start((clip.startedAt ?? performance.now()) + LIGHT_DELAY_MS);
  }

  /**
   * Injection signals at start(): the functions again (a hook installed after the SDK loaded),
   * the camera's label and settings.
   * @param {MediaStream|null} stream
   */
  #checkCamera(stream) {
    for (const n of scanWrapped()) this.#wrapped.add(n);
    const p = cameraFacts(stream).then((facts) => { this.#camFacts = facts; }, () => {});
    this.#camFactsDone = p;
  }

  /**
   * Records a camera frame's time for the interval statistics: the capture time where the
   * browser reports it, else the expected display time, else the frame callback's time.
   * @param {number} now
   * @param {any} meta
   */
  #frameTime(now, meta) {
    if (this.#intervalClock === null) {
      this.#intervalClock = typeof meta?.captureTime === 'number' ? 'captureTime'
        : typeof meta?.expectedDisplayTime === 'number' ? 'expectedDisplayTime' : 'now';
    }
    const t = this.#intervalClock === 'now' ? now : meta?.[this.#intervalClock];
    if (typeof t === 'number') this.#intervals.push(t);
  }

  /** Throws when stop() or close() was called while start() waited for the camera. */
  #interrupted() {
    if (this.#state === 'closed') throw new LivenessError('closed', 'the instance was closed while the camera opened');
    if (this.#state !== 'starting') throw new LivenessError('not_started', 'stop() was called while the camera opened');
  }

  /**
   * @param {HTMLVideoElement} video
   * @param {number} now
   */
  #onVideoFrame(video, now) {
    if (this.#state !== 'running' || this.#done) return;
    if (this.#inFlight) {
      this.#dropped++;
      return;
    }
    this.#t0 ??= now;
    const t = now - this.#t0;
    const generation = this.#generation;
    const p = createImageBitmap(video)
      .then((bitmap) => this.#analyse({ image: bitmap }, t, [bitmap], generation))
      .catch((e) => {
        const err = toLivenessError(e);
        if (err.code !== 'closed' && err.code !== 'session_done') this.#emit('error', err);
      })
      .finally(() => { if (this.#inFlight === p) this.#inFlight = null; });
    this.#inFlight = p;
  }

  /**
   * Sends one frame to the host and dispatches what it produced.
   * @param {Record<string, unknown>} frame
   * @param {number} t
   * @param {Transferable[]} transfer
   * @param {number} generation
   */
  async #analyse(frame, t, transfer, generation) {
    const started = performance.now();
    const out = await this.#t.request('frame', {
      ...frame, t, maxSide: this.#o.maxAnalysisSide, landmarks: this.#o.landmarks,
    }, transfer);
    if (generation !== this.#generation || this.#state === 'closed') return out; // a reset() or close() overtook it
    const roundTripMs = performance.now() - started;
    this.#analysed++;
    this.#ms.push(out.record.timings.total_ms);
    this.#roundTrip.push(roundTripMs);
    if (this.#ms.length > STATS_WINDOW) { this.#ms.shift(); this.#roundTrip.shift(); }
    this.#emit('frame', { record: out.record, landmarks: out.landmarks ?? null, roundTripMs });
    this.#dispatchCore(out.events);
    return out;
  }

  /** @param {any[]} events */
  #dispatchCore(events) {
    for (const ev of events) {
      if (ev.type === 'final_result') {
        this.#done = true;
        this.#final = ev;
        this.#finishRecording();
      }
      this.#emit(ev.type, ev);
    }
  }

  /**
   * Analyses one frame you supply yourself (instead of `start()`): raw RGBA or RGB pixels
   * `{data, width, height}` (an `ImageData` fits), or, with the worker transport, any
   * `ImageBitmapSource` (video, canvas, bitmap, VideoFrame), scaled to `maxAnalysisSide`.
   * Raw pixels are analysed at their own size. Dispatches the same events as the camera loop.
   * @param {any} frame
   * @param {number} [tMs] capture time in ms on one monotonic clock (default: now)
   * @returns {Promise<{record: any, events: any[], landmarks: Float32Array|null}>}
   */
  async process(frame, tMs) {
    this.#alive();
    if (this.#state === 'starting' || this.#state === 'running') throw new LivenessError('already_started', 'frames come from the camera loop; call stop() before process()');
    if (this.#done) throw new LivenessError('session_done', 'the session has already decided; call reset() to run another');
    if (tMs !== undefined && typeof tMs !== 'number') throw invalidArgument('Liveness.process', 'tMs must be a number of milliseconds', tMs);
    const now = performance.now();
    this.#t0 ??= now;
    const t = tMs ?? now - this.#t0;
    /** @type {Record<string, unknown>} */
    let args;
    /** @type {Transferable[]} */
    let transfer = [];
    if (frame && typeof frame === 'object' && 'data' in frame && 'width' in frame && 'height' in frame && !(typeof ImageData === 'function' && frame instanceof ImageData && this.#t.kind === 'worker')) {
      args = { pixels: frame.data, width: frame.width, height: frame.height };
    } else if (this.#t.kind === 'worker' && frame && typeof frame === 'object' && typeof createImageBitmap === 'function') {
      let bitmap;
      try {
        bitmap = await createImageBitmap(frame);
      } catch (e) {
        throw new LivenessError('invalid_frame', `the frame is not an image source: ${/** @type {Error} */ (e).message}`, { cause: e });
      }
      args = { image: bitmap };
      transfer = [bitmap];
    } else {
      throw new LivenessError('invalid_frame', `a frame must be {data, width, height} (RGBA or RGB bytes)${this.#t.kind === 'worker' ? ' or an ImageBitmapSource' : ''}, got ${describe(frame)}`);
    }
    const generation = this.#generation;
    const out = await this.#analyse(args, t, transfer, generation);
    return { record: out.record, events: out.events, landmarks: out.landmarks ?? null };
  }

  /** Stops taking frames and releases the camera (if the SDK opened it). The session stays open. */
  async stop() {
    this.#alive();
    if (this.#state !== 'running' && this.#state !== 'starting') throw new LivenessError('not_started', 'stop() needs a started instance');
    const wasStarting = this.#state === 'starting';
    this.#state = 'ready';
    this.#releaseCamera();
    if (!wasStarting) await this.#inFlight?.catch(() => {});
  }

  /**
   * Ends the decided session's recording: once its light sequence has played out (the
   * challenges may be done before the last colour, and the server measures every one on the
   * recording; a stalled sequence, e.g. a background tab, is cut 1.5 s after it was due to
   * end), then the recorder's tail. Once per session.
   * @returns {Promise<{data: Uint8Array, type: string}|null>}
   */
  #finishRecording() {
    if (this.#recordingDone) return this.#recordingDone;
    const light = this.#light;
    const clip = this.#clip;
    const played = light
      ? Promise.race([light.done, new Promise((resolve) => setTimeout(resolve, light.remainingMs(performance.now()) + 1500))])
      : Promise.resolve();
    this.#recordingDone = played.then(() => {
      light?.stop();
      return clip ? clip.finish() : null;
    });
    return this.#recordingDone;
  }

  #releaseCamera() {
    this.#stopClock?.();
    this.#stopClock = null;
    // A decided session's light plays out while its recording runs (#finishRecording).
    if (!this.#done) this.#light?.stop();
    if (this.#ownStream && this.#stream) {
      const tracks = this.#stream.getTracks?.() ?? [];
      const stopTracks = () => { for (const track of tracks) track.stop(); };
      // A decided session's recording still takes the rest of its light and its tail.
      if (this.#clip && this.#done) this.#finishRecording().finally(stopTracks);
      else stopTracks();
    }
    if (this.#ownVideo && this.#video) {
      this.#video.pause();
      this.#video.srcObject = null;
    }
    this.#stream = null;
    this.#video = null;
    this.#ownStream = false;
    this.#ownVideo = false;
  }

  /**
   * Ends the session now: an undecided session fails (`final_result` FAKE). Stops the camera.
   * @returns {Promise<any[]>} the final events
   */
  async finish() {
    this.#alive();
    if (this.#state === 'running' || this.#state === 'starting') await this.stop();
    await this.#inFlight?.catch(() => {});
    if (this.#done) return [];
    const { events } = await this.#t.request('finish');
    this.#dispatchCore(events);
    return events;
  }

  /**
   * Starts a new session on the already loaded engine (a retry). It keeps this instance's
   * `challenges` and `accessibility` options (with a fresh random seed when the seed was
   * given) unless `overrides` replaces them. A server session's nonce is spent once, so an
   * instance created with `session` needs a new one here. Stops the camera.
   * @param {{challenges?: any, accessibility?: any, session?: any}} [overrides]
   */
  async reset(overrides = {}) {
    this.#alive();
    if (!isPlainObject(overrides)) throw invalidArgument('Liveness.reset', 'overrides must be an object', overrides);
    for (const k of Object.keys(overrides)) {
      if (!['challenges', 'accessibility', 'session'].includes(k)) {
        throw new LivenessError('invalid_option', `option \`${k}\` cannot change on reset(); only challenges, accessibility and session can`, { option: k });
      }
    }
    if (this.#o.session && !overrides.session) {
      throw new LivenessError('invalid_option', 'option `session` is required by reset(): the previous server session\'s nonce is spent; create a new session on the server', { option: 'session' });
    }
    let challenges = overrides.challenges;
    if (challenges === undefined && !overrides.session && isPlainObject(this.#user.challenges)) {
      const { seed, ...rest } = this.#user.challenges; // a given seed would repeat the script
      challenges = rest;
    }
    const accessibility = overrides.accessibility !== undefined ? overrides.accessibility : this.#user.accessibility;
    // Validate the new parts (the engine-level options stay as they are).
    const merged = normalizeOptions({
      light: this.#o.light,
      ...(challenges !== undefined ? { challenges } : {}),
      ...(accessibility !== undefined ? { accessibility } : {}),
      ...(overrides.session !== undefined ? { session: overrides.session } : {}),
      transport: this.#t.kind,
    }, this.#o.baseUrl);
    const c = { ...merged.challenges, pad: this.#o.challenges.pad, identity: this.#o.challenges.identity, actionThresholds: this.#o.challenges.actionThresholds };
    if (this.#state === 'running' || this.#state === 'starting') await this.stop();
    await this.#inFlight?.catch(() => {});
    await this.#newSession(c, merged.session);
    this.#user = { challenges, accessibility };
    this.#t0 = null;
  }

  /**
   * The evidence bundle of the decided session (assembled once per session by the core):
   * `{manifest, items: [{name, kind, media_type, t_ms, bytes, sha256, data}]}`.
   * @returns {Promise<{manifest: any, items: any[]}>}
   */
  async evidence() {
    this.#alive();
    if (!this.#o.evidence) throw new LivenessError('evidence_unavailable', 'this instance was created with `evidence: false`');
    if (!this.#done) throw new LivenessError('evidence_unavailable', 'evidence is only available once the session has decided (after final_result)');
    if (!this.#evidence) {
      const clip = await this.#finishRecording();
      await this.#camFactsDone;
      for (const n of scanWrapped()) this.#wrapped.add(n);
      // The light's timeline only when it played into a recording that is sent (the onsets are
      // on its time base); otherwise the server has nothing to check it against.
      const light = this.#light && clip ? { onsets_ms: this.#light.onsets.map(round1) } : null;
      const p = this.#t.request('evidence', {
        session_id: this.#sessionId,
        nonce: this.#nonce,
        created_ms: Date.now(),
        sdk_version: VERSION,
        clip: clip?.data ?? null,
        clip_type: clip?.type ?? null,
        light,
        signals: this.signals,
      }, clip ? [clip.data.buffer] : []);
      this.#evidence = p;
      p.catch(() => { if (this.#evidence === p) this.#evidence = null; });
    }
    const b = await this.#evidence;
    // Callers may keep or transfer what they get: hand out copies.
    return { manifest: structuredClone(b.manifest), items: b.items.map((/** @type {any} */ i) => ({ ...i, data: i.data.slice() })) };
  }

  /**
   * Signs the evidence manifest: a compact JWS over the core's signing input, HS256 with
   * `{alg: 'HS256', kid, secret}` or EdDSA with `{alg: 'EdDSA', kid, privateKey}` (Ed25519).
   * Without a key, the server session's key is used (HS256, kid = session id).
   * @param {{alg: 'HS256', kid: string, secret: string|Uint8Array|CryptoKey}|{alg: 'EdDSA', kid: string, privateKey: CryptoKey}} [key]
   * @returns {Promise<string>}
   */
  async sign(key) {
    this.#alive();
    if (key === undefined) {
      const s = this.#o.session;
      if (!s) throw invalidArgument('Liveness.sign', 'a key is required when the instance has no server `session`');
      key = { alg: 'HS256', kid: s.session_id, secret: s.key };
    }
    const k = checkSigningKey(key, 'Liveness.sign');
    await this.evidence();
    const input = await this.#t.request('signingInput', { alg: k.alg, kid: k.kid });
    return signJws(input, k);
  }

  /**
   * Signs the evidence with the session key and POSTs it (multipart: `evidence` = the JWS,
   * then one part per item named by the item name) to `url` or the session's `evidence_url`.
   * Resolves with the server's JSON `{verdict, result}`; a refusal rejects with
   * `submit_failed` carrying `status` and the server's error `body`.
   * @param {string|URL} [url]
   * @param {any} [session] the server session (default: `options.session`)
   * @param {{headers?: Record<string, string>, signal?: AbortSignal}} [init]
   */
  async submit(url, session, init = {}) {
    this.#alive();
    let s = this.#o.session;
    if (session !== undefined) {
      const given = normalizeSession(session, 'session');
      if (s && given.session_id !== s.session_id) {
        throw invalidArgument('Liveness.submit', `the session ${given.session_id} is not this instance's (${s.session_id})`);
      }
      if (!s) {
        // Adopting a session after the fact: its script must be the one that ran.
        if (given.challenges.join('|') !== this.#script.join('|')) {
          throw invalidArgument('Liveness.submit', 'this session\'s challenges are not the script that ran; create the instance with `{session}`');
        }
        if (this.#evidence) throw new LivenessError('evidence_unavailable', 'the evidence was already assembled under another session id; pass the session to Liveness.create');
        this.#sessionId = given.session_id;
        this.#nonce = given.nonce;
        this.#o = { ...this.#o, session: given };
      }
      s = given;
    }
    if (!s) throw invalidArgument('Liveness.submit', 'a server session is required (options.session or the second argument)');
    let target = url ?? s.evidence_url;
    if (target === null || target === undefined) throw invalidArgument('Liveness.submit', 'no URL: pass one or use a session with evidence_url');
    if (typeof target !== 'string' && !(target instanceof URL)) throw invalidArgument('Liveness.submit', 'url must be a string or URL', target);
    if (!isPlainObject(init)) throw invalidArgument('Liveness.submit', 'init must be an object', init);
    const jws = await this.sign({ alg: 'HS256', kid: s.session_id, secret: s.key });
    const { items } = await this.evidence();
    let href;
    try {
      // The server answers a path (`/v1/sessions/{id}/evidence`): relative to the page.
      href = new URL(String(target), typeof location !== 'undefined' ? location.href : undefined).href;
    } catch {
      throw invalidArgument('Liveness.submit', 'the URL is relative and there is no page to resolve it against; pass an absolute URL', String(target));
    }
    return postForm(href, evidenceForm(jws, items), init);
  }

  /**
   * Verifies a signed evidence token with a raw key (HS256 secret or Ed25519 public key) in
   * the core, exactly as the server does; returns the manifest. For tests and kiosk checks.
   * @param {string} token
   * @param {'HS256'|'EdDSA'} alg
   * @param {Uint8Array} key
   */
  async verifyEvidence(token, alg, key) {
    this.#alive();
    if (typeof token !== 'string') throw invalidArgument('Liveness.verifyEvidence', 'token must be a string', token);
    if (alg !== 'HS256' && alg !== 'EdDSA') throw invalidArgument('Liveness.verifyEvidence', 'alg must be "HS256" or "EdDSA"', alg);
    if (!(key instanceof Uint8Array)) throw invalidArgument('Liveness.verifyEvidence', 'key must be a Uint8Array', key);
    return this.#t.request('verifyEvidence', { token, alg, key });
  }

  /**
   * Frame statistics: frames analysed and dropped, median / p90 analysis time (the core's
   * per-frame `timings.total_ms`, last 300 frames) and round trip, the wasm flavour.
   */
  stats() {
    return {
      framesAnalysed: this.#analysed,
      framesDropped: this.#dropped,
      medianMs: quantile(this.#ms, 0.5),
      p90Ms: quantile(this.#ms, 0.9),
      roundTripMedianMs: quantile(this.#roundTrip, 0.5),
      wasm: /** @type {'simd'|'scalar'} */ (this.#info.flavour),
      transport: this.#t.kind,
    };
  }

  /** Stops the camera, frees the engine and terminates the worker. Idempotent. */
  close() {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#releaseCamera();
    this.#t.terminate();
  }
}

export default Liveness;
