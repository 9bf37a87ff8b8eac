// @ts-check
/**
 * The module worker the SDK creates (`new Worker(new URL('./worker.js', import.meta.url),
 * {type: 'module'})`). It only adapts messages to `EngineHost`: every request is
 * `{id, op, args}` and every reply `{id, ok: true, result}` or
 * `{id, ok: false, error: {code, message}}`. Large results (evidence item bytes, landmarks)
 * are transferred, not copied.
 * @module
 */

import { EngineHost } from './engine-host.js';
import { toLivenessError } from './errors.js';

const host = new EngineHost();
/** @type {any} */
const scope = globalThis;

/** @param {any} result */
function transferables(result) {
  /** @type {Transferable[]} */
  const out = [];
  if (!result || typeof result !== 'object') return out;
  if (result.landmarks instanceof Float32Array) out.push(result.landmarks.buffer);
  if (Array.isArray(result.items)) {
    for (const item of result.items) if (item?.data instanceof Uint8Array) out.push(item.data.buffer);
  }
  return out;
}

scope.addEventListener('message', async (/** @type {MessageEvent} */ ev) => {
  const { id, op, args } = ev.data ?? {};
  if (typeof id !== 'number') return; // not ours
  try {
    const result = await host.handle(op, args);
    /** @type {Transferable[]} */
    let transfer = [];
    try { transfer = transferables(result); } catch { transfer = []; }
    scope.postMessage({ id, ok: true, result }, transfer);
  } catch (e) {
    const err = toLivenessError(e);
    scope.postMessage({ id, ok: false, error: err.toJSON() });
  }
  if (op === 'close') scope.close();
});
