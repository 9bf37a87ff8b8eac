// @ts-check
/**
 * Client side of the trust model, with WebCrypto only: signs the core's JWS signing input
 * (HS256 with an online session's key, EdDSA with a kiosk's Ed25519 device key) and posts an
 * evidence bundle as multipart/form-data (`evidence` = the JWS, then one part per item named
 * by the item name).
 * @module
 */

import { LivenessError, invalidArgument } from './errors.js';
import { base64urlEncode, base64Decode, utf8 } from './encoding.js';
import { isPlainObject } from './options.js';

function subtle() {
  const s = globalThis.crypto?.subtle;
  if (!s) throw new LivenessError('evidence_unavailable', 'WebCrypto (crypto.subtle) is not available: signing needs a secure context (https or localhost)');
  return s;
}

/** @param {unknown} k @returns {k is CryptoKey} */
function isCryptoKey(k) {
  return typeof CryptoKey === 'function' ? k instanceof CryptoKey : !!k && typeof k === 'object' && 'algorithm' in k && 'usages' in k;
}

/**
 * Validates a signing key argument.
 * @param {unknown} key
 * @param {string} method
 * @returns {{alg: 'HS256'|'EdDSA', kid: string, secret?: unknown, privateKey?: CryptoKey}}
 */
export function checkSigningKey(key, method) {
  if (!isPlainObject(key)) throw invalidArgument(method, 'key must be {alg: "HS256", kid, secret} or {alg: "EdDSA", kid, privateKey}', key);
  if (typeof key.kid !== 'string' || key.kid.length === 0 || key.kid.length > 256) throw invalidArgument(method, 'key.kid must be a non-empty string', key.kid);
  if (key.alg === 'HS256') {
    const s = key.secret;
    const ok = (typeof s === 'string' && s.length > 0) || s instanceof Uint8Array || isCryptoKey(s);
    if (!ok) throw invalidArgument(method, 'key.secret must be a base64url string, a Uint8Array or an HMAC CryptoKey', s);
    return { alg: 'HS256', kid: key.kid, secret: s };
  }
  if (key.alg === 'EdDSA') {
    const k = key.privateKey;
    if (!isCryptoKey(k) || k.type !== 'private' || k.algorithm?.name !== 'Ed25519') {
      throw invalidArgument(method, 'key.privateKey must be an Ed25519 private CryptoKey', k);
    }
    return { alg: 'EdDSA', kid: key.kid, privateKey: k };
  }
  throw invalidArgument(method, 'key.alg must be "HS256" or "EdDSA"', key.alg);
}

/**
 * The HMAC key for an HS256 secret.
 * @param {unknown} secret base64url string, bytes or CryptoKey
 */
async function hmacKey(secret) {
  if (isCryptoKey(secret)) return secret;
  let bytes;
  if (secret instanceof Uint8Array) bytes = secret;
  else {
    try {
      bytes = base64Decode(/** @type {string} */ (secret));
    } catch {
      throw invalidArgument('sign', 'key.secret is not base64url text');
    }
  }
  if (bytes.length < 32) throw invalidArgument('sign', `an HS256 secret needs at least 32 bytes, got ${bytes.length}`);
  return subtle().importKey('raw', /** @type {Uint8Array<ArrayBuffer>} */ (bytes), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
}

/**
 * Signs a JWS signing input (`header.payload`) and returns the compact JWS.
 * @param {string} signingInput
 * @param {{alg: 'HS256'|'EdDSA', secret?: unknown, privateKey?: CryptoKey}} key validated
 */
export async function signJws(signingInput, key) {
  const data = utf8(signingInput);
  let sig;
  try {
    if (key.alg === 'HS256') {
      sig = await subtle().sign('HMAC', await hmacKey(key.secret), data);
    } else {
      sig = await subtle().sign('Ed25519', /** @type {CryptoKey} */ (key.privateKey), data);
    }
  } catch (e) {
    if (e instanceof LivenessError) throw e;
    throw new LivenessError('invalid_argument', `signing with ${key.alg} failed: ${/** @type {Error} */ (e).message}`, { cause: e });
  }
  return `${signingInput}.${base64urlEncode(new Uint8Array(sig))}`;
}

/**
 * The multipart body of a submission: part `evidence` is the JWS, then each item as a part
 * named by its item name (a Blob of its media type).
 * @param {string} jws
 * @param {Array<{name: string, media_type: string, data: Uint8Array}>} items
 */
export function evidenceForm(jws, items) {
  const form = new FormData();
  form.append('evidence', jws);
  for (const item of items) {
    form.append(item.name, new Blob([/** @type {any} */ (item.data)], { type: item.media_type }), item.name);
  }
  return form;
}

/**
 * POSTs a form and returns the parsed JSON answer; a non-2xx answer or a network failure is a
 * `submit_failed` LivenessError carrying `status` and the server's error `body`.
 * @param {string} url
 * @param {FormData} form
 * @param {{headers?: Record<string, string>, fetch?: typeof fetch, signal?: AbortSignal}} [init]
 */
export async function postForm(url, form, init = {}) {
  const doFetch = init.fetch ?? globalThis.fetch;
  let res;
  try {
    res = await doFetch(url, { method: 'POST', body: form, headers: init.headers, signal: init.signal });
  } catch (e) {
    throw new LivenessError('submit_failed', `could not reach ${url}: ${/** @type {Error} */ (e).message}`, { cause: e });
  }
  const text = await res.text().catch(() => '');
  /** @type {unknown} */
  let body = text;
  try { body = JSON.parse(text); } catch { /* not JSON */ }
  if (!res.ok) {
    const b = /** @type {any} */ (body);
    const code = b?.detail?.code ? ` ${b.detail.code}` : '';
    const msg = typeof b?.message === 'string' ? `: ${b.message}` : '';
    throw new LivenessError('submit_failed', `the server refused the evidence: HTTP ${res.status}${code}${msg}`, { status: res.status, body });
  }
  if (typeof body !== 'object' || body === null) {
    throw new LivenessError('submit_failed', `the server answered ${res.status} without a JSON body`, { status: res.status, body });
  }
  return body;
}
