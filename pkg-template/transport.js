// @ts-check
/**
 * How the main thread talks to the `EngineHost`: through the module worker (the default), or
 * in-process (`inline`: for tests and Node, where there is no camera and frames are raw
 * pixels; in a page it would block the main thread). Both speak the same request/reply
 * protocol, so the SDK code above them is identical.
 * @module
 */

import { LivenessError, toLivenessError } from './errors.js';

/**
 * @typedef {object} Transport
 * @property {'worker'|'inline'} kind
 * @property {(op: string, args?: any, transfer?: Transferable[]) => Promise<any>} request
 * @property {() => void} terminate
 */

/**
 * The module worker transport over a started worker (the caller writes
 * `new Worker(new URL('./worker.js', import.meta.url), {type: 'module'})` literally, which
 * is the form bundlers recognise and rewrite).
 * @param {Worker} worker
 * @param {string} workerUrl for error messages
 * @returns {Transport}
 */
export function workerTransport(worker, workerUrl) {
  let next = 1;
  /** @type {Map<number, {resolve: (v: any) => void, reject: (e: any) => void}>} */
  const pending = new Map();
  /** @type {LivenessError|null} */
  let dead = null;
  const failAll = (/** @type {LivenessError} */ err) => {
    dead = err;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  worker.addEventListener('message', (ev) => {
    const { id, ok, result, error } = ev.data ?? {};
    const p = pending.get(id);
    if (!p) return;
    pending.delete(id);
    if (ok) p.resolve(result);
    else p.reject(LivenessError.fromJSON(error));
  });
  worker.addEventListener('error', (ev) => {
    ev.preventDefault?.();
    failAll(new LivenessError('wasm_fetch', `the liveproof worker failed to load or crashed: ${ev.message || 'unknown error'} (${String(workerUrl)})`));
  });
  worker.addEventListener('messageerror', () => {
    failAll(new LivenessError('internal', 'a message from the liveproof worker could not be deserialised'));
  });
  return {
    kind: 'worker',
    request(op, args, transfer = []) {
      if (dead) return Promise.reject(dead);
      const id = next++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        try {
          worker.postMessage({ id, op, args }, transfer);
        } catch (e) {
          pending.delete(id);
          reject(toLivenessError(e, 'invalid_argument'));
        }
      });
    },
    terminate() {
      failAll(new LivenessError('closed', 'the Liveness instance is closed'));
      worker.terminate();
    },
  };
}

/**
 * The in-process transport (tests and Node).
 * @returns {Promise<Transport>}
 */
export async function inlineTransport() {
  const { EngineHost } = await import('./engine-host.js');
  const host = new EngineHost();
  let closed = false;
  return {
    kind: 'inline',
    async request(op, args) {
      if (closed) throw new LivenessError('closed', 'the Liveness instance is closed');
      try {
        return await host.handle(op, args);
      } catch (e) {
        throw toLivenessError(e);
      }
    },
    terminate() {
      closed = true;
      host.close();
    },
  };
}
