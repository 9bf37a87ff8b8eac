// @ts-check
/**
 * The screen-light challenge: a server session may carry a nonce-drawn sequence of colours
 * (`session.light = {segments: [{colour: [r, g, b], duration_ms}], passive_ms}`) that the page
 * shows on a large area of the screen during the passive phase, while the camera records. The
 * screen lights the face, so a live face in front of it reflects each colour at the time it was
 * shown; a replayed or injected video does not. The SDK only displays the sequence and records
 * when each colour reached the screen (`onsets`, on the recording's time base); the server
 * judges the reflection itself from the recording. Without a recording there is nothing to
 * check, so the light is shown only while a clip is recorded.
 *
 * Photosensitivity: the server's policy changes colours at most 3 times a second and avoids
 * saturated red. The page could pass any object as the session, so the SDK refuses a sequence
 * that breaks either rule (`normalizeLight`), and `LightDisplay` never changes colour sooner
 * than `MIN_SEGMENT_MS` after the previous change, whatever the durations say.
 * @module
 */

import { invalidOption, describe } from './errors.js';

/** The shortest time a colour stays on screen, ms: at most 3 changes per second. */
export const MIN_SEGMENT_MS = 334;
/** A colour whose red share R / (R + G + B) is at least this is saturated red, and refused. */
export const MAX_RED_SHARE = 0.8;
/** The first colour appears this long after the recording started, ms. */
export const LIGHT_DELAY_MS = 300;
/** Most segments a sequence may have (a longer one cannot fit a passive phase). */
export const MAX_SEGMENTS = 64;
/** Longest segment accepted, ms. */
export const MAX_SEGMENT_MS = 10_000;
/** Longest `passive_ms` accepted (the core's upper bound for its time windows). */
export const MAX_PASSIVE_MS = 120_000;

/**
 * @typedef {object} LightSegment
 * @property {[number, number, number]} colour sRGB, 0–255 each
 * @property {number} duration_ms
 */
/**
 * @typedef {object} LightPlan
 * @property {LightSegment[]} segments
 * @property {number} passive_ms the passive phase the session holds while the light plays
 */

/**
 * Whether a colour is saturated red (refused: red flashes are the most provocative for
 * photosensitive people). Black has no hue and passes.
 * @param {readonly number[]} c
 */
export function saturatedRed(c) {
  const sum = c[0] + c[1] + c[2];
  return sum > 0 && c[0] / sum >= MAX_RED_SHARE;
}

/**
 * Validates a session's `light` (the server's answer, passed on by the page): null or
 * `{segments, passive_ms}`. Unknown fields (a newer server's) are ignored. Throws
 * `invalid_option` naming the field, also for sequences that break the flashing rules.
 * @param {unknown} v
 * @param {string} path
 * @returns {LightPlan|null}
 */
export function normalizeLight(v, path = 'session.light') {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v)) throw invalidOption(path, 'must be null or {segments, passive_ms} (the server session\'s light sequence)', v);
  const o = /** @type {Record<string, unknown>} */ (v);
  if (!Array.isArray(o.segments) || o.segments.length === 0 || o.segments.length > MAX_SEGMENTS) {
    throw invalidOption(`${path}.segments`, `must be an array of 1 to ${MAX_SEGMENTS} segments`, o.segments);
  }
  /** @type {LightSegment[]} */
  const segments = o.segments.map((s, i) => {
    const p = `${path}.segments[${i}]`;
    if (!s || typeof s !== 'object' || Array.isArray(s)) throw invalidOption(p, 'must be {colour: [r, g, b], duration_ms}', s);
    const seg = /** @type {Record<string, unknown>} */ (s);
    const c = seg.colour;
    if (!Array.isArray(c) || c.length !== 3 || !c.every((x) => Number.isInteger(x) && x >= 0 && x <= 255)) {
      throw invalidOption(`${p}.colour`, 'must be [r, g, b] with integers 0–255', c);
    }
    const d = seg.duration_ms;
    if (typeof d !== 'number' || !Number.isFinite(d) || d > MAX_SEGMENT_MS) {
      throw invalidOption(`${p}.duration_ms`, `must be a number of ms up to ${MAX_SEGMENT_MS}`, d);
    }
    if (d < MIN_SEGMENT_MS) {
      throw invalidOption(`${p}.duration_ms`, `is shorter than ${MIN_SEGMENT_MS} ms: the screen may change colour at most 3 times a second (photosensitivity); refused`, d);
    }
    if (saturatedRed(c)) {
      throw invalidOption(`${p}.colour`, `is saturated red (R / (R + G + B) ≥ ${MAX_RED_SHARE}): refused for photosensitive users`, c);
    }
    return { colour: /** @type {[number, number, number]} */ ([c[0], c[1], c[2]]), duration_ms: d };
  });
  const passive = o.passive_ms;
  if (typeof passive !== 'number' || !Number.isFinite(passive) || passive <= 0 || passive > MAX_PASSIVE_MS) {
    throw invalidOption(`${path}.passive_ms`, `must be a number of ms in (0, ${MAX_PASSIVE_MS}]`, passive);
  }
  return { segments, passive_ms: passive };
}

/**
 * @typedef {object} LightChange
 * @property {number} index the segment now shown; `segments.length` when the light went back to neutral
 * @property {[number, number, number]|null} colour null: neutral (no light)
 * @property {number} t_ms recording time of the animation frame the colour was set in
 */

/**
 * @typedef {object} LightEnv
 * @property {(cb: (now: number) => void) => number} [requestFrame] default `requestAnimationFrame`
 * @property {(handle: number) => void} [cancelFrame] default `cancelAnimationFrame`
 * @property {(perfNow: number) => number} [toRecording] `performance.now()` time → recording time (ms); default identity
 */

/**
 * Plays a sequence with `requestAnimationFrame`. In one animation frame callback it sets the
 * next colour (`current`) and calls the change listeners, which paint it (so it is in the
 * frame being prepared); the timestamp of the NEXT animation frame is taken as the colour's
 * onset, the moment it was presented. Onsets are kept on the `performance.now()` clock and
 * converted to recording time when read, so they follow the recorder's time base.
 *
 * Scheduling: segment k is due at `firstOnset + (duration of segments before k)` (no drift
 * over the sequence); a colour is set in the frame whose presentation is nearest its due time,
 * and never less than `MIN_SEGMENT_MS` after the previous onset, so the screen changes at most
 * 3 times a second even when frames come late. A background tab gets no animation frames: the
 * sequence then stalls and the onsets say so.
 */
export class LightDisplay {
  /** @type {LightSegment[]} */ #segments;
  /** @type {number[]} start of each segment relative to the first onset, and the total at the end */ #cum;
  #requestFrame;
  #cancelFrame;
  #toRecording;
  /** @type {Set<(c: LightChange) => void>} */ #listeners = new Set();
  /** @type {number[]} performance.now() onsets */ #onsets = [];
  /** @type {number|null} */ #endedAt = null;
  /** -1 before the first colour; segments.length once back to neutral. */
  #index = -1;
  /** @type {number|null} the index set in the previous callback, awaiting its presentation */ #pending = null;
  /** @type {[number, number, number]|null} */ #current = null;
  #startAt = 0;
  /** @type {number|null} */ #lastFrame = null;
  #lastOnset = 0;
  /** @type {number|null} */ #handle = null;
  #state = /** @type {'idle'|'running'|'finished'|'stopped'} */ ('idle');
  /** @type {() => void} */ #resolveDone = () => {};
  /** Resolves once the sequence has finished or was stopped. */
  done = new Promise((resolve) => { this.#resolveDone = () => resolve(undefined); });

  /**
   * @param {LightSegment[]} segments a validated sequence (`normalizeLight`)
   * @param {LightEnv} [env]
   */
  constructor(segments, env = {}) {
    this.#segments = segments.map((s) => ({ colour: /** @type {[number, number, number]} */ ([...s.colour]), duration_ms: s.duration_ms }));
    this.#cum = [0];
    for (const s of this.#segments) this.#cum.push(this.#cum[this.#cum.length - 1] + s.duration_ms);
    const g = /** @type {any} */ (globalThis);
    this.#requestFrame = env.requestFrame ?? ((/** @type {(now: number) => void} */ cb) => g.requestAnimationFrame(cb));
    this.#cancelFrame = env.cancelFrame ?? ((/** @type {number} */ h) => g.cancelAnimationFrame(h));
    this.#toRecording = env.toRecording ?? ((/** @type {number} */ t) => t);
  }

  /** The sequence (copies). */
  get segments() { return this.#segments.map((s) => ({ colour: /** @type {[number, number, number]} */ ([...s.colour]), duration_ms: s.duration_ms })); }
  /** The colour to show now, or null (neutral: before, after, or stopped). */
  get current() { return this.#current ? /** @type {[number, number, number]} */ ([...this.#current]) : null; }
  /** `'idle' | 'running' | 'finished' | 'stopped'`. */
  get state() { return this.#state; }
  /** When each segment shown so far was first on screen, ms on the recording's time base. */
  get onsets() { return this.#onsets.map((t) => this.#toRecording(t)); }
  /** When the screen went back to neutral after the last segment (recording time), or null. */
  get endedAt() { return this.#endedAt === null ? null : this.#toRecording(this.#endedAt); }

  /**
   * Listens to colour changes: called inside the animation frame callback that sets the
   * colour, so a listener that paints puts it on screen in the next frame. Returns an
   * unsubscribe function.
   * @param {(c: LightChange) => void} fn
   */
  onChange(fn) {
    this.#listeners.add(fn);
    return () => { this.#listeners.delete(fn); };
  }

  /**
   * Starts the sequence: the first colour is set in the first animation frame at or after
   * `startAt` (`performance.now()` time). Once only.
   * @param {number} startAt
   */
  start(startAt) {
    if (this.#state !== 'idle') return;
    this.#state = 'running';
    this.#startAt = startAt;
    this.#handle = this.#requestFrame(this.#tick);
  }

  /**
   * How long the rest of the sequence should take from `now` (`performance.now()` time), ms:
   * 0 once it finished or stopped.
   * @param {number} now
   */
  remainingMs(now) {
    if (this.#state === 'finished' || this.#state === 'stopped') return 0;
    const total = this.#cum[this.#cum.length - 1];
    const first = this.#onsets[0] ?? Math.max(this.#startAt, now);
    return Math.max(0, first + total - now);
  }

  /** Stops now (neutral). The onsets so far are kept. Idempotent. */
  stop() {
    this.#resolveDone();
    if (this.#state !== 'running') {
      if (this.#state === 'idle') this.#state = 'stopped';
      return;
    }
    this.#state = 'stopped';
    if (this.#handle !== null) this.#cancelFrame(this.#handle);
    this.#handle = null;
    const wasShowing = this.#current !== null;
    this.#current = null;
    this.#pending = null;
    if (wasShowing) this.#emit(this.#segments.length, this.#lastFrame ?? this.#startAt);
  }

  /** @param {number} now */
  #tick = (now) => {
    if (this.#state !== 'running') return;
    this.#handle = this.#requestFrame(this.#tick);
    const dt = this.#lastFrame === null ? 1000 / 60 : Math.min(Math.max(now - this.#lastFrame, 0), 100);
    this.#lastFrame = now;
    const n = this.#segments.length;
    if (this.#pending !== null) {
      // The colour set in the previous callback was presented with this frame.
      const i = this.#pending;
      this.#pending = null;
      this.#lastOnset = now;
      if (i < n) {
        this.#onsets.push(now);
      } else {
        this.#endedAt = now;
        this.#state = 'finished';
        this.#resolveDone();
        if (this.#handle !== null) this.#cancelFrame(this.#handle);
        this.#handle = null;
      }
      return; // a colour lasts at least one frame
    }
    const next = this.#index + 1;
    let due;
    if (next === 0) {
      due = now >= this.#startAt;
    } else {
      // Set it now if its presentation (the next frame, about now + dt) is nearest its due time.
      const target = this.#onsets[0] + this.#cum[next];
      due = now - this.#lastOnset >= MIN_SEGMENT_MS && now + 1.5 * dt >= target;
    }
    if (!due) return;
    this.#index = next;
    this.#pending = next;
    this.#current = next < n ? /** @type {[number, number, number]} */ ([...this.#segments[next].colour]) : null;
    this.#emit(next, now);
  };

  /** @param {number} index @param {number} now */
  #emit(index, now) {
    /** @type {LightChange} */
    const change = { index, colour: this.current, t_ms: this.#toRecording(now) };
    for (const fn of [...this.#listeners]) {
      try {
        fn(change);
      } catch (e) {
        // A page's listener must not stop the sequence.
        queueMicrotask(() => { throw e; });
      }
    }
  }
}

/**
 * CSS colour of a light colour (`rgb(r g b)`), or `fallback` for neutral.
 * @param {readonly number[]|null} c
 * @param {string} [fallback]
 */
export function cssColour(c, fallback = 'transparent') {
  return c ? `rgb(${c[0]} ${c[1]} ${c[2]})` : fallback;
}

export { describe };
