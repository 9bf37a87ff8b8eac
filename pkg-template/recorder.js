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
  #started = 0;
  /** @type {Promise<{data: Uint8Array, type: string}|null>|null} */ #result = null;

  /** @param {MediaStream} stream */
  constructor(stream) {
    const type = TYPES.find((t) => MediaRecorder.isTypeSupported?.(t));
    if (!type) return;
    const rec = new MediaRecorder(stream, { mimeType: type, videoBitsPerSecond: BITS_PER_SECOND });
    rec.addEventListener('dataavailable', (e) => { if (e.data.size) this.#chunks.push(e.data); });
    rec.start(1000);
    this.#rec = rec;
    this.#started = performance.now();
  }

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
