// @ts-check
/**
 * The camera: getUserMedia with the SDK's error codes, a video element for a stream, and the
 * frame clock (`requestVideoFrameCallback`, falling back to `requestAnimationFrame`).
 * @module
 */

import { LivenessError } from './errors.js';

/**
 * Opens the camera.
 * @param {{deviceId?: string, facingMode: string, width: number, height: number, frameRate: number}} cam
 * @returns {Promise<MediaStream>}
 */
export async function openCamera(cam) {
  const md = /** @type {any} */ (globalThis).navigator?.mediaDevices;
  if (!md || typeof md.getUserMedia !== 'function') {
    throw new LivenessError('camera_unavailable', 'navigator.mediaDevices.getUserMedia is not available (the page must be a secure context: https or localhost)');
  }
  /** @type {MediaTrackConstraints} */
  const video = {
    width: { ideal: cam.width },
    height: { ideal: cam.height },
    frameRate: { ideal: cam.frameRate },
  };
  if (cam.deviceId) video.deviceId = { exact: cam.deviceId };
  else video.facingMode = cam.facingMode;
  try {
    return await md.getUserMedia({ video, audio: false });
  } catch (e) {
    throw cameraError(e);
  }
}

/**
 * Maps a getUserMedia / play() failure to a LivenessError.
 * @param {unknown} e
 */
export function cameraError(e) {
  const name = /** @type {any} */ (e)?.name;
  const msg = /** @type {any} */ (e)?.message || String(e);
  if (name === 'NotAllowedError' || name === 'SecurityError' || name === 'PermissionDeniedError') {
    return new LivenessError('camera_denied', `camera permission was denied (${name}: ${msg})`, { cause: e });
  }
  if (name === 'OverconstrainedError') {
    const c = /** @type {any} */ (e)?.constraint;
    return new LivenessError('camera_unavailable', `no camera satisfies the constraint ${c ? `\`${c}\`` : ''} (check options.camera)`, { cause: e });
  }
  return new LivenessError('camera_unavailable', `the camera could not be opened (${name || 'Error'}: ${msg})`, { cause: e });
}

/**
 * A muted, inline, playing video element showing `stream`.
 * @param {MediaStream} stream
 * @returns {Promise<HTMLVideoElement>}
 */
export async function videoFor(stream) {
  if (typeof document === 'undefined') {
    throw new LivenessError('camera_unavailable', 'showing a MediaStream needs a document; pass an HTMLVideoElement instead');
  }
  const video = document.createElement('video');
  video.muted = true;
  video.playsInline = true;
  video.autoplay = true;
  video.srcObject = stream;
  await playing(video);
  return video;
}

/**
 * Waits until the video has frame data, starting playback when paused.
 * @param {HTMLVideoElement} video
 */
export async function playing(video) {
  if (video.readyState < 2) {
    await new Promise((resolve, reject) => {
      const done = () => { cleanup(); resolve(undefined); };
      const fail = () => { cleanup(); reject(new LivenessError('camera_unavailable', 'the video element failed to load its source')); };
      const cleanup = () => {
        video.removeEventListener('loadeddata', done);
        video.removeEventListener('error', fail);
      };
      video.addEventListener('loadeddata', done);
      video.addEventListener('error', fail);
      if (video.paused) video.play().catch(() => { /* autoplay policy: loadeddata still fires */ });
    });
  }
  if (video.paused) {
    try {
      await video.play();
    } catch (e) {
      throw cameraError(e);
    }
  }
}

/**
 * Calls `onFrame(tMs, metadata)` once per new video frame until the returned stop function is
 * called. `tMs` is on the `performance.now()` clock (one clock for every frame: the session
 * ignores a frame stamped earlier than the previous one); `metadata` is the
 * `requestVideoFrameCallback` metadata (`captureTime`, `expectedDisplayTime`, …), or null
 * with the `requestAnimationFrame` fallback.
 * @param {HTMLVideoElement} video
 * @param {(tMs: number, metadata: any) => void} onFrame
 * @returns {() => void} stop
 */
export function frameClock(video, onFrame) {
  let active = true;
  /** @type {number} */
  let handle = 0;
  const rvfc = typeof video.requestVideoFrameCallback === 'function';
  let lastTime = -1;
  /** @param {number} now @param {any} [metadata] */
  const tick = (now, metadata) => {
    if (!active) return;
    handle = rvfc ? video.requestVideoFrameCallback(tick) : requestAnimationFrame(tick);
    if (!rvfc) {
      // rAF runs at display rate: only new video frames count.
      if (video.currentTime === lastTime) return;
      lastTime = video.currentTime;
    }
    if (video.readyState < 2 || video.videoWidth === 0) return;
    onFrame(now, rvfc ? metadata ?? null : null);
  };
  handle = rvfc ? video.requestVideoFrameCallback(tick) : requestAnimationFrame(tick);
  return () => {
    active = false;
    if (rvfc) video.cancelVideoFrameCallback?.(handle);
    else cancelAnimationFrame(handle);
  };
}
