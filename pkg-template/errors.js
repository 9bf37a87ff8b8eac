// @ts-check
/**
 * The one error type of the SDK. Every public entry point throws (or rejects with) a
 * `LivenessError`; `code` is stable and machine-readable, `message` says what to fix.
 * Codes raised by the Rust core (through the wasm `Error.code`) are passed through unchanged
 * (`invalid_frame`, `invalid_argument`, `bad_signature`, ...).
 * @module
 */

/** Codes the JavaScript layer raises itself. */
export const ERROR_CODES = Object.freeze([
  'invalid_option',
  'invalid_argument',
  'closed',
  'not_started',
  'already_started',
  'camera_denied',
  'camera_unavailable',
  'wasm_unsupported',
  'model_fetch',
  'model_checksum',
  'session_done',
  'evidence_unavailable',
  'submit_failed',
  'internal',
]);

export class LivenessError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   * @param {{cause?: unknown, option?: string, status?: number, body?: unknown}} [extra]
   */
  constructor(code, message, extra = {}) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.name = 'LivenessError';
    /** @type {string} */
    this.code = code;
    if (extra.option !== undefined) {
      /** The option at fault (`invalid_option`), as a dotted path. @type {string|undefined} */
      this.option = extra.option;
    }
    if (extra.status !== undefined) {
      /** HTTP status of a refused submission (`submit_failed`). @type {number|undefined} */
      this.status = extra.status;
    }
    if (extra.body !== undefined) {
      /** The server's error body, parsed when JSON (`submit_failed`). @type {unknown} */
      this.body = extra.body;
    }
  }

  /** A plain `{code, message, ...}` object that survives postMessage. */
  toJSON() {
    /** @type {Record<string, unknown>} */
    const out = { code: this.code, message: this.message };
    for (const k of ['option', 'status', 'body']) {
      if (k in this) out[k] = /** @type {any} */ (this)[k];
    }
    return out;
  }

  /**
   * Rebuilds an error from its `toJSON()` form (the worker's replies).
   * @param {{code?: string, message?: string, option?: string, status?: number, body?: unknown}} e
   */
  static fromJSON(e) {
    return new LivenessError(e?.code || 'internal', e?.message || 'unknown error', {
      option: e?.option,
      status: e?.status,
      body: e?.body,
    });
  }
}

/**
 * Any thrown value as a LivenessError: LivenessErrors pass, wasm errors keep their `code`,
 * anything else becomes `fallback`.
 * @param {unknown} e
 * @param {string} [fallback]
 * @returns {LivenessError}
 */
export function toLivenessError(e, fallback = 'internal') {
  if (e instanceof LivenessError) return e;
  const any = /** @type {any} */ (e);
  const code = typeof any?.code === 'string' && any.code ? any.code : fallback;
  const message = typeof any?.message === 'string' ? any.message : String(e);
  return new LivenessError(code, message, { cause: e });
}

/**
 * An `invalid_option` error naming the option.
 * @param {string} option dotted path, e.g. `challenges.count`
 * @param {string} what what was expected
 * @param {unknown} [got]
 */
export function invalidOption(option, what, got) {
  const shown = got === undefined ? '' : `, got ${describe(got)}`;
  return new LivenessError('invalid_option', `option \`${option}\` ${what}${shown}`, { option });
}

/**
 * An `invalid_argument` error for a method argument.
 * @param {string} method e.g. `Liveness.sign`
 * @param {string} what
 * @param {unknown} [got]
 */
export function invalidArgument(method, what, got) {
  const shown = got === undefined ? '' : `, got ${describe(got)}`;
  return new LivenessError('invalid_argument', `${method}: ${what}${shown}`);
}

/** @param {unknown} v */
export function describe(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (v instanceof Uint8Array) return `a Uint8Array of ${v.length} bytes`;
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v);
    case 'number':
    case 'boolean':
    case 'bigint':
      return String(v);
    case 'undefined':
      return 'undefined';
    case 'function':
      return 'a function';
    default:
      return `an object (${Object.prototype.toString.call(v).slice(8, -1)})`;
  }
}
