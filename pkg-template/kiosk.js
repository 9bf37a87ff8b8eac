// @ts-check
/**
 * Offline kiosks: a provisioned Ed25519 device key (WebCrypto, private key non-extractable,
 * kept in IndexedDB) and a durable queue of signed evidence bundles that are posted in order
 * once the kiosk is online. A bundle leaves the queue only after the server answered 2xx
 * (sent) or 4xx (rejected: kept in the rejected log with the server's answer); network
 * failures, 5xx, 408 and 429 are retried with exponential backoff, so nothing is lost.
 *
 * ```js
 * import { Liveness } from 'liveproof';
 * import { DeviceKey, ResultQueue } from 'liveproof/kiosk';
 * const key = await DeviceKey.loadOrCreate('front-desk');   // register key.publicKeyBase64url() once
 * const queue = new ResultQueue({ url: '/v1/kiosk/evidence', deviceKey: key });
 * lv.on('final_result', async () => { await queue.add(lv); });
 * ```
 * @module
 */

import { LivenessError, invalidArgument, toLivenessError } from './errors.js';
import { base64urlEncode } from './encoding.js';
import { evidenceForm, postForm } from './signing.js';
import { isPlainObject } from './options.js';

export const DEFAULT_DB_NAME = 'liveproof-kiosk';
const DB_VERSION = 1;
const KEYS = 'keys';
const QUEUE = 'queue';
const REJECTED = 'rejected';

/** @param {string} dbName @returns {Promise<IDBDatabase>} */
function openDb(dbName) {
  const idb = /** @type {any} */ (globalThis).indexedDB;
  if (!idb) return Promise.reject(new LivenessError('evidence_unavailable', 'IndexedDB is not available in this runtime'));
  return new Promise((resolve, reject) => {
    const req = idb.open(dbName, DB_VERSION);
    req.onupgradeneeded = () => {
      const db = req.result;
      if (!db.objectStoreNames.contains(KEYS)) db.createObjectStore(KEYS, { keyPath: 'name' });
      if (!db.objectStoreNames.contains(QUEUE)) db.createObjectStore(QUEUE, { keyPath: 'seq', autoIncrement: true });
      if (!db.objectStoreNames.contains(REJECTED)) db.createObjectStore(REJECTED, { keyPath: 'seq' });
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(new LivenessError('evidence_unavailable', `IndexedDB ${dbName} could not be opened: ${req.error?.message}`));
    req.onblocked = () => reject(new LivenessError('evidence_unavailable', `IndexedDB ${dbName} is blocked by another tab with an older version open`));
  });
}

/**
 * Runs `fn` in one transaction and resolves when it commits.
 * @template T
 * @param {IDBDatabase} db
 * @param {string[]} stores
 * @param {IDBTransactionMode} mode
 * @param {(tx: IDBTransaction) => T} fn
 * @returns {Promise<T>}
 */
function tx(db, stores, mode, fn) {
  return new Promise((resolve, reject) => {
    const t = db.transaction(stores, mode);
    /** @type {T} */
    let out;
    t.oncomplete = () => resolve(out);
    t.onerror = () => reject(new LivenessError('internal', `IndexedDB: ${t.error?.message}`));
    t.onabort = () => reject(new LivenessError('internal', `IndexedDB transaction aborted: ${t.error?.message ?? ''}`));
    out = fn(t);
  });
}

/** @param {IDBRequest} req @returns {Promise<any>} */
function result(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/** A kiosk's Ed25519 device key, persisted in IndexedDB. */
export class DeviceKey {
  /** @type {string} */ #name;
  /** @type {string} */ #dbName;
  /** @type {CryptoKey} */ #privateKey;
  /** @type {CryptoKey} */ #publicKey;
  /** @type {Uint8Array} */ #raw;
  /** @type {string|null} */ #deviceId;

  /**
   * @param {any} record
   * @param {string} dbName
   */
  constructor(record, dbName) {
    if (!record || !(record.raw instanceof Uint8Array)) throw new LivenessError('invalid_argument', 'use `await DeviceKey.loadOrCreate(name)`');
    this.#name = record.name;
    this.#dbName = dbName;
    this.#privateKey = record.privateKey;
    this.#publicKey = record.publicKey;
    this.#raw = record.raw;
    this.#deviceId = record.deviceId ?? null;
  }

  /**
   * Loads the key pair stored under `name`, or generates one (Ed25519, private key
   * non-extractable) and stores it.
   * @param {string} [name]
   * @param {{dbName?: string}} [options]
   */
  static async loadOrCreate(name = 'default', options = {}) {
    if (typeof name !== 'string' || !name) throw invalidArgument('DeviceKey.loadOrCreate', 'name must be a non-empty string', name);
    if (!isPlainObject(options)) throw invalidArgument('DeviceKey.loadOrCreate', 'options must be an object', options);
    const dbName = options.dbName ?? DEFAULT_DB_NAME;
    const subtle = globalThis.crypto?.subtle;
    if (!subtle) throw new LivenessError('evidence_unavailable', 'WebCrypto is not available (a secure context is required)');
    const db = await openDb(dbName);
    try {
      const found = await tx(db, [KEYS], 'readonly', (t) => result(t.objectStore(KEYS).get(name)));
      if (found) return new DeviceKey(found, dbName);
      let pair;
      try {
        pair = /** @type {CryptoKeyPair} */ (await subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']));
      } catch (e) {
        throw new LivenessError('evidence_unavailable', `this browser cannot generate Ed25519 keys with WebCrypto: ${/** @type {Error} */ (e).message}`, { cause: e });
      }
      const raw = new Uint8Array(await subtle.exportKey('raw', pair.publicKey));
      const record = { name, privateKey: pair.privateKey, publicKey: pair.publicKey, raw, deviceId: null, created_ms: Date.now() };
      // `add` (not `put`): if another tab created the key meanwhile, keep theirs.
      try {
        await tx(db, [KEYS], 'readwrite', (t) => { t.objectStore(KEYS).add(record); });
        return new DeviceKey(record, dbName);
      } catch {
        const again = await tx(db, [KEYS], 'readonly', (t) => result(t.objectStore(KEYS).get(name)));
        if (!again) throw new LivenessError('internal', 'the device key could not be stored in IndexedDB');
        return new DeviceKey(again, dbName);
      }
    } finally {
      db.close();
    }
  }

  /**
   * Deletes the stored key pair (de-provisioning).
   * @param {string} name
   * @param {{dbName?: string}} [options]
   */
  static async delete(name, options = {}) {
    const db = await openDb(options.dbName ?? DEFAULT_DB_NAME);
    try {
      await tx(db, [KEYS], 'readwrite', (t) => { t.objectStore(KEYS).delete(name); });
    } finally {
      db.close();
    }
  }

  /** The name the key is stored under. */
  get name() { return this.#name; }
  /** The non-extractable Ed25519 private key. */
  get privateKey() { return this.#privateKey; }
  /** The Ed25519 public key. */
  get publicKey() { return this.#publicKey; }
  /** The device id the server assigned (the JWS `kid`), once set. */
  get deviceId() { return this.#deviceId; }

  /** The raw 32-byte public key, to register with the server (`POST /v1/devices`). */
  publicKeyRaw() { return this.#raw.slice(); }
  /** The raw public key as base64url (no padding). */
  publicKeyBase64url() { return base64urlEncode(this.#raw); }

  /**
   * Records the device id the server assigned when the public key was registered.
   * @param {string} id
   */
  async setDeviceId(id) {
    if (typeof id !== 'string' || !id || id.length > 128) throw invalidArgument('DeviceKey.setDeviceId', 'id must be a string of 1 to 128 characters', id);
    const db = await openDb(this.#dbName);
    try {
      await tx(db, [KEYS], 'readwrite', (t) => {
        const store = t.objectStore(KEYS);
        const get = store.get(this.#name);
        get.onsuccess = () => store.put({ ...get.result, deviceId: id });
      });
    } finally {
      db.close();
    }
    this.#deviceId = id;
  }

  /**
   * The key argument of `Liveness.sign` (EdDSA, kid = the device id).
   * @param {string} [kid] default: the stored device id
   * @returns {{alg: 'EdDSA', kid: string, privateKey: CryptoKey}}
   */
  signingKey(kid) {
    const k = kid ?? this.#deviceId;
    if (typeof k !== 'string' || !k) throw invalidArgument('DeviceKey.signingKey', 'no device id: call setDeviceId(id) after registering, or pass the kid', k);
    return { alg: 'EdDSA', kid: k, privateKey: this.#privateKey };
  }
}

/**
 * @typedef {object} QueuedBundle
 * @property {string} jws
 * @property {Array<{name: string, media_type: string, data: Uint8Array}>} items
 */

/**
 * A durable, ordered queue of signed evidence bundles for `POST /v1/kiosk/evidence`.
 * Events: `sent` ({seq, response}), `rejected` ({seq, status, body}), `retry`
 * ({seq, error, delayMs}).
 */
export class ResultQueue extends EventTarget {
  /** @type {string} */ #url;
  /** @type {DeviceKey|null} */ #key;
  /** @type {string} */ #dbName;
  /** @type {Record<string, string>|undefined} */ #headers;
  /** @type {typeof fetch|undefined} */ #fetch;
  #baseMs;
  #maxMs;
  #attempt = 0;
  /** @type {any} */ #timer = null;
  /** @type {Promise<any>|null} */ #flushing = null;
  #closed = false;
  #auto = true;
  /** @type {(() => void)|null} */ #onOnline = null;

  /**
   * @param {{url: string|URL, deviceKey?: DeviceKey, dbName?: string, headers?: Record<string, string>, fetch?: typeof fetch, retryBaseMs?: number, retryMaxMs?: number, auto?: boolean}} options
   */
  constructor(options) {
    super();
    if (!isPlainObject(options)) throw invalidArgument('ResultQueue', 'options must be an object with at least `url`', options);
    const { url, deviceKey, dbName = DEFAULT_DB_NAME, headers, fetch: f, retryBaseMs = 2000, retryMaxMs = 300000, auto = true } = options;
    if (typeof url !== 'string' && !(url instanceof URL)) throw new LivenessError('invalid_option', 'option `url` must be the kiosk evidence URL', { option: 'url' });
    if (deviceKey !== undefined && !(deviceKey instanceof DeviceKey)) throw new LivenessError('invalid_option', 'option `deviceKey` must be a DeviceKey', { option: 'deviceKey' });
    if (typeof dbName !== 'string' || !dbName) throw new LivenessError('invalid_option', 'option `dbName` must be a non-empty string', { option: 'dbName' });
    if (headers !== undefined && !isPlainObject(headers)) throw new LivenessError('invalid_option', 'option `headers` must be an object of header name → value', { option: 'headers' });
    if (f !== undefined && typeof f !== 'function') throw new LivenessError('invalid_option', 'option `fetch` must be a function', { option: 'fetch' });
    for (const [k, v] of [['retryBaseMs', retryBaseMs], ['retryMaxMs', retryMaxMs]]) {
      if (typeof v !== 'number' || !(v >= 0) || !Number.isFinite(v)) throw new LivenessError('invalid_option', `option \`${k}\` must be a number ≥ 0`, { option: String(k) });
    }
    if (typeof auto !== 'boolean') throw new LivenessError('invalid_option', 'option `auto` must be true or false', { option: 'auto' });
    const base = typeof location !== 'undefined' ? location.href : undefined;
    this.#url = new URL(String(url), base).href;
    this.#key = deviceKey ?? null;
    this.#dbName = dbName;
    this.#headers = /** @type {any} */ (headers);
    this.#fetch = f;
    this.#baseMs = retryBaseMs;
    this.#maxMs = retryMaxMs;
    this.#auto = auto;
    if (auto && typeof addEventListener === 'function') {
      this.#onOnline = () => { this.#attempt = 0; this.flush().catch(() => {}); };
      addEventListener('online', this.#onOnline);
      queueMicrotask(() => { if (isOnline()) this.flush().catch(() => {}); });
    }
  }

  /**
   * Signs a decided session's evidence with the device key and stores it; or stores an
   * already signed `{jws, items}` bundle. Resolves with its sequence number once it is on
   * disk; with `auto`, sending starts right away when online.
   * @param {any} bundle a `Liveness` instance, or `{jws, items}`
   * @returns {Promise<number>}
   */
  async add(bundle) {
    this.#open();
    /** @type {QueuedBundle} */
    let entry;
    if (bundle && typeof bundle.sign === 'function' && typeof bundle.evidence === 'function') {
      if (!this.#key) throw invalidArgument('ResultQueue.add', 'adding a Liveness instance needs the `deviceKey` option');
      const jws = await bundle.sign(this.#key.signingKey());
      const { items } = await bundle.evidence();
      entry = { jws, items: items.map((/** @type {any} */ i) => ({ name: i.name, media_type: i.media_type, data: i.data })) };
    } else if (isPlainObject(bundle) && typeof bundle.jws === 'string' && Array.isArray(bundle.items)) {
      for (const i of bundle.items) {
        if (!isPlainObject(i) || typeof i.name !== 'string' || typeof i.media_type !== 'string' || !(i.data instanceof Uint8Array)) {
          throw invalidArgument('ResultQueue.add', 'each item must be {name, media_type, data: Uint8Array}');
        }
      }
      entry = { jws: bundle.jws, items: bundle.items.map((/** @type {any} */ i) => ({ name: i.name, media_type: i.media_type, data: i.data })) };
    } else {
      throw invalidArgument('ResultQueue.add', 'expected a Liveness instance or {jws, items}', bundle);
    }
    const db = await openDb(this.#dbName);
    let seq;
    try {
      seq = await tx(db, [QUEUE], 'readwrite', (t) => result(t.objectStore(QUEUE).add({ ...entry, queued_ms: Date.now(), attempts: 0 })));
    } finally {
      db.close();
    }
    if (this.#auto && isOnline()) queueMicrotask(() => { if (!this.#closed) this.flush().catch(() => {}); });
    return /** @type {number} */ (await seq);
  }

  /** Number of bundles waiting. @returns {Promise<number>} */
  async size() {
    const db = await openDb(this.#dbName);
    try {
      return await tx(db, [QUEUE], 'readonly', (t) => result(t.objectStore(QUEUE).count()));
    } finally {
      db.close();
    }
  }

  /** Bundles the server refused (4xx), oldest first: `{seq, status, body, rejected_ms, jws}`. */
  async rejected() {
    const db = await openDb(this.#dbName);
    try {
      return await tx(db, [REJECTED], 'readonly', (t) => result(t.objectStore(REJECTED).getAll()));
    } finally {
      db.close();
    }
  }

  /**
   * Posts waiting bundles in order until the queue is empty or a retryable failure (network,
   * 5xx, 408, 429) stops it, in which case a retry is scheduled with exponential backoff.
   * Concurrent calls share one run.
   * @returns {Promise<{sent: number, rejected: number, remaining: number}>}
   */
  flush() {
    this.#open();
    if (!this.#flushing) {
      this.#flushing = this.#run().finally(() => { this.#flushing = null; });
    }
    return this.#flushing;
  }

  async #run() {
    clearTimeout(this.#timer);
    this.#timer = null;
    let sent = 0;
    let rejected = 0;
    for (;;) {
      if (this.#closed) break;
      const db = await openDb(this.#dbName);
      let head;
      try {
        head = await tx(db, [QUEUE], 'readonly', (t) => result(t.objectStore(QUEUE).openCursor()).then((c) => c?.value ?? null));
      } finally {
        db.close();
      }
      if (!head) break;
      try {
        const response = await postForm(this.#url, evidenceForm(head.jws, head.items), { headers: this.#headers, fetch: this.#fetch });
        await this.#remove(head.seq, null);
        sent++;
        this.#attempt = 0;
        this.dispatchEvent(new CustomEvent('sent', { detail: { seq: head.seq, response } }));
      } catch (e) {
        const err = toLivenessError(e, 'submit_failed');
        const status = err.status;
        const permanent = typeof status === 'number' && status >= 400 && status < 500 && status !== 408 && status !== 429;
        if (permanent) {
          await this.#remove(head.seq, { seq: head.seq, status, body: err.body ?? null, message: err.message, rejected_ms: Date.now(), jws: head.jws });
          rejected++;
          this.dispatchEvent(new CustomEvent('rejected', { detail: { seq: head.seq, status, body: err.body ?? null } }));
          continue;
        }
        const delayMs = Math.min(this.#maxMs, this.#baseMs * 2 ** this.#attempt);
        this.#attempt++;
        this.dispatchEvent(new CustomEvent('retry', { detail: { seq: head.seq, error: err, delayMs } }));
        if (!this.#closed) this.#timer = setTimeout(() => { this.flush().catch(() => {}); }, delayMs);
        break;
      }
    }
    return { sent, rejected, remaining: this.#closed ? -1 : await this.size() };
  }

  /**
   * Removes a bundle from the queue, recording it as rejected in the same transaction.
   * @param {number} seq
   * @param {any} rejection
   */
  async #remove(seq, rejection) {
    const db = await openDb(this.#dbName);
    try {
      await tx(db, [QUEUE, REJECTED], 'readwrite', (t) => {
        t.objectStore(QUEUE).delete(seq);
        if (rejection) t.objectStore(REJECTED).put(rejection);
      });
    } finally {
      db.close();
    }
  }

  #open() {
    if (this.#closed) throw new LivenessError('closed', 'this ResultQueue is closed');
  }

  /** Stops automatic sending (the stored bundles stay for the next queue). */
  close() {
    this.#closed = true;
    clearTimeout(this.#timer);
    if (this.#onOnline && typeof removeEventListener === 'function') removeEventListener('online', this.#onOnline);
  }
}

function isOnline() {
  const nav = /** @type {any} */ (globalThis).navigator;
  return !nav || nav.onLine !== false;
}
