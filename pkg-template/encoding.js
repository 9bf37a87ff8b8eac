// @ts-check
/**
 * Byte helpers: base64url (RFC 4648 §5, no padding), UTF-8, random bytes. No dependencies.
 * @module
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * base64url without padding.
 * @param {Uint8Array} bytes
 */
export function base64urlEncode(bytes) {
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += ALPHABET[n >> 18] + ALPHABET[(n >> 12) & 63] + ALPHABET[(n >> 6) & 63] + ALPHABET[n & 63];
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i] << 16;
    out += ALPHABET[n >> 18] + ALPHABET[(n >> 12) & 63];
  } else if (rest === 2) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out += ALPHABET[n >> 18] + ALPHABET[(n >> 12) & 63] + ALPHABET[(n >> 6) & 63];
  }
  return out;
}

/**
 * Decodes base64url or standard base64, padded or not. Throws on any other character.
 * @param {string} text
 * @returns {Uint8Array}
 */
export function base64Decode(text) {
  const s = text.replace(/=+$/, '');
  if (!/^[A-Za-z0-9+/_-]*$/.test(s) || s.length % 4 === 1) throw new Error('not base64');
  const out = new Uint8Array(Math.floor((s.length * 3) / 4));
  let bits = 0;
  let acc = 0;
  let o = 0;
  for (const ch of s) {
    const v = ch === '+' ? 62 : ch === '/' ? 63 : ALPHABET.indexOf(ch);
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 255;
    }
  }
  return out;
}

/** @param {string} s */
export function utf8(s) {
  return new TextEncoder().encode(s);
}

/** @param {number} n */
export function randomBytes(n) {
  return crypto.getRandomValues(new Uint8Array(n));
}

/** A random identifier (offline session ids). */
export function randomId() {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  return base64urlEncode(randomBytes(16));
}

/** @param {Uint8Array} bytes */
export function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
