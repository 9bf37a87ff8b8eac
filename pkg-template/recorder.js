// @ts-check
/**
 * The session's recording: a `MediaRecorder` on the camera stream from `start()` until the
 * decision, added to the evidence as its `clip` item. liveproof-server runs the whole
 * challenge session again over it and decides from that run alone (without a recording its
 * verdict is at best `PASSIVE_ONLY`). On by default with a server session (`recordClip`): a
 * video of the user leaves the device.
 * @module
 */

/** Containers the server decodes, best first. */
const TYPES = ['video/webm;codecs=vp8', 'video/webm;codecs=vp9', 'video/webm', 'video/mp4'];
/** The server refuses videos over 60 s; a longer session is sent without its clip. */
export const MAX_CLIP_MS = 55_000;
/**
 * Recording goes on this long after the decision: the core decides on the frame where the
 * eyes reopen or the pose is held, a few camera frames after they were captured, and the
 * server's own run over the clip needs those frames too.
 */
export const TAIL_MS = 1000;
/** About 1 Mbit/s: a 640×480 face, a few MB for a session. */
const BITS_PER_SECOND = 1_000_000;

/** Whether this runtime can record a clip. */
export function canRecord() {
  return typeof MediaRecorder === 'function' && TYPES.some((t) => MediaRecorder.isTypeSupported?.(t));
}

/** Records one stream; `finish()` resolves with the clip, or null when there is none. */
export class ClipRecorder {
  /** @type {MediaRecorder|null} */ #rec = null;
  /** @type {Blob[]} */ #chunks = [];
  /** performance.now() when recording started: the recording's time 0. */
  #started = 0;
  /** @type {Promise<{data: Uint8Array, type: string}|null>|null} */ #result = null;

  /** @param {MediaStream} stream */
  constructor(stream) {
    const type = TYPES.find((t) => MediaRecorder.isTypeSupported?.(t));
    if (!type) return;
    // The picture only. A `<video>`'s `captureStream()` (or a caller's stream) may carry sound:
    // the server does not use it, it is the user's voice leaving the device, and Firefox refuses
    // to record an audio track into a VP8 WebM at all (`start()` then failed).
    const picture = new MediaStream(stream.getVideoTracks());
    const rec = new MediaRecorder(picture, { mimeType: type, videoBitsPerSecond: BITS_PER_SECOND });
    rec.addEventListener('dataavailable', (e) => { if (e.data.size) this.#chunks.push(e.data); });
    this.#started = performance.now();
    rec.start(1000);
    this.#rec = rec;
  }

  /** Whether a recording is running or was made (false where no container is supported). */
  get recording() { return this.#rec !== null; }

  /** `performance.now()` when the recording started (its time 0), or null without one. */
  get startedAt() { return this.#rec ? this.#started : null; }

  /**
   * A `performance.now()` time on the recording's time base, ms (0 = when the recorder
   * started). The container's first frame is the first camera frame after `start()`, so the
   * recording's own clock may run up to about one camera frame (plus the encoder's start-up)
   * behind this; a server aligning events with the video must allow for that.
   * @param {number} perfNow
   */
  recordingTime(perfNow) { return perfNow - this.#started; }

  /** Stops recording after the tail (idempotent) and resolves with the clip. */
  finish() {
    if (this.#result) return this.#result;
    const rec = this.#rec;
    if (!rec) return (this.#result = Promise.resolve(null));
    this.#result = new Promise((resolve) => setTimeout(resolve, TAIL_MS)).then(() => new Promise((resolve) => {
      const done = async () => {
        const long = performance.now() - this.#started > MAX_CLIP_MS;
        if (long || this.#chunks.length === 0) return resolve(null);
        const blob = new Blob(this.#chunks, { type: rec.mimeType });
        resolve({ data: new Uint8Array(await blob.arrayBuffer()), type: rec.mimeType.split(';')[0] });
      };
      if (rec.state === 'inactive') done();
      else {
        rec.addEventListener('stop', done, { once: true });
        rec.stop();
      }
    }));
    return this.#result;
  }

  /** Stops and drops the recording. */
  discard() {
    this.#chunks = [];
    if (this.#rec && this.#rec.state !== 'inactive') this.#rec.stop();
    this.#result = Promise.resolve(null);
  }
}
