// @ts-check
/**
 * The inference side of the SDK: loads the wasm build and the models, owns the core `Engine`
 * and `LiveSession`, and turns frames into `{record, events}`. It runs inside the module
 * worker (`worker.js` only adapts it to messages) or in-process (the `inline` transport, for
 * tests and Node). It holds no liveness logic of its own: every decision is the core's.
 * @module
 */

import { LivenessError, toLivenessError, invalidArgument } from './errors.js';

/**
 * The smallest module using a simd128 instruction: `WebAssembly.validate` accepts it only
 * where wasm SIMD is supported (the same probe as MediaPipe's fileset resolver).
 */
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
]);

/** Largest frame side the host accepts (the core's own limit is checked after). */
const MAX_SIDE = 16384;

/** Whether this runtime supports wasm SIMD. */
export function simdSupported() {
  try {
    return typeof WebAssembly === 'object' && WebAssembly.validate(SIMD_PROBE);
  } catch {
    return false;
  }
}

/**
 * The wasm flavour to load.
 * @param {'auto'|'simd'|'scalar'} wanted
 * @returns {'simd'|'scalar'}
 */
export function chooseFlavour(wanted) {
  if (typeof WebAssembly !== 'object' || typeof WebAssembly.instantiate !== 'function') {
    throw new LivenessError('wasm_unsupported', 'this runtime has no WebAssembly');
  }
  const simd = simdSupported();
  if (wanted === 'simd' && !simd) {
    throw new LivenessError('wasm_unsupported', 'option `wasm` is "simd" but this runtime has no wasm SIMD; use "auto" or "scalar"');
  }
  if (wanted === 'auto') return simd ? 'simd' : 'scalar';
  return wanted;
}

const isNode = !!(/** @type {any} */ (globalThis).process?.versions?.node);

/**
 * Fetches a URL's bytes. `file:` URLs are read from disk under Node (whose fetch has no
 * file: support), so the inline transport works on an unpacked package.
 * @param {string} url
 * @param {string} code error code on failure
 * @param {RequestInit} [init]
 * @returns {Promise<{bytes: Uint8Array, response?: Response}>}
 */
async function fetchBytes(url, code, init) {
  if (url.startsWith('file:') && isNode) {
    const fsName = 'node:fs/promises'; // a variable: bundlers must not pull fs into browser code
    try {
      const fs = await import(/* @vite-ignore */ fsName);
      return { bytes: new Uint8Array(await fs.readFile(new URL(url))) };
    } catch (e) {
      throw new LivenessError(code, `${url}: ${/** @type {Error} */ (e).message}`, { cause: e });
    }
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (e) {
    throw new LivenessError(code, `${url}: network error (${/** @type {Error} */ (e).message})`, { cause: e });
  }
  if (!response.ok) throw new LivenessError(code, `${url}: HTTP ${response.status} ${response.statusText}`.trim());
  const bytes = new Uint8Array(await response.arrayBuffer());
  return { bytes, response };
}

/**
 * @typedef {object} InitArgs
 * @property {'auto'|'simd'|'scalar'} wasm
 * @property {string} baseUrl absolute, ends with '/'
 * @property {Record<string, string|Uint8Array>} models per-file overrides
 * @property {boolean} cacheModels
 * @property {Record<string, unknown>} engine partial EngineConfig
 * @property {string} version package version (names the model cache)
 */

/** Cache API name prefix; the package version is appended. */
export const CACHE_PREFIX = 'liveproof-models-';

export class EngineHost {
  constructor() {
    /** @type {any} the wasm-bindgen module */
    this.glue = null;
    /** @type {any} */
    this.engine = null;
    /** @type {any} */
    this.session = null;
    /** @type {'simd'|'scalar'|null} */
    this.flavour = null;
    /** @type {InitArgs|null} what init was given (on-demand models load the same way) */
    this.args = null;
    /** @type {Cache|null} */
    this.cache = null;
    /** @type {any} OffscreenCanvas for scaling image frames */
    this.canvas = null;
    /** @type {any} */
    this.ctx = null;
    this.closed = false;
  }

  /**
   * Loads the wasm build and the models and builds the engine.
   * @param {InitArgs} args
   */
  async init(args) {
    this.#alive();
    if (this.engine) throw new LivenessError('already_started', 'the engine is already loaded');
    const flavour = chooseFlavour(args.wasm);
    const glueUrl = new URL(`wasm/liveproof_${flavour}.js`, args.baseUrl).href;
    const wasmUrl = new URL(`wasm/liveproof_${flavour}_bg.wasm`, args.baseUrl).href;
    // Browsers stream-compile the wasm while the glue and the models download; Node reads
    // file: URLs from disk.
    const wasmSource = wasmUrl.startsWith('file:') ? fetchBytes(wasmUrl, 'wasm_fetch').then((r) => r.bytes) : fetch(wasmUrl);
    wasmSource.catch(() => {}); // reported by the instantiation below
    const cache = args.cacheModels ? await openCache(args.version) : null;
    const early = prefetchModels(args, cache);
    let glue;
    try {
      glue = await import(/* @vite-ignore */ glueUrl);
    } catch (e) {
      throw new LivenessError('wasm_fetch', `could not load the ${flavour} wasm glue ${glueUrl}: ${/** @type {Error} */ (e).message}`, { cause: e });
    }
    try {
      await glue.default({ module_or_path: wasmSource });
    } catch (e) {
      throw new LivenessError('wasm_fetch', `could not instantiate ${wasmUrl}: ${/** @type {Error} */ (e).message}`, { cause: e });
    }
    this.glue = glue;
    this.flavour = flavour;
    this.args = args;
    this.cache = cache;
    const build = glue.buildInfo();

    // The core decides which files this configuration loads; the early downloads serve those
    // they cover.
    /** @type {Array<{role: string, file: string, sha256: string, bytes: number}>} */
    const entries = call(() => glue.requiredModels(args.engine));
    const prefetched = await early;
    /** @type {Record<string, ModelFile>} */
    const files = {};
    await Promise.all(entries.map(async (e) => {
      files[e.file] = await (prefetched[e.file] ?? loadModel(e.file, args, cache, false));
    }));

    let engine;
    try {
      engine = this.#engine(files, args.engine);
    } catch (e) {
      const err = toLivenessError(e);
      // The core names the refused file; older builds did not, then every cached file is suspect.
      const bad = /** @type {any} */ (e)?.cause?.file ?? /** @type {any} */ (e)?.file;
      const cached = Object.entries(files).filter(([file, f]) => f.source === 'cache' && (!bad || file === bad));
      if (err.code !== 'model_checksum' || cached.length === 0) throw err;
      // A cached file went bad (storage corruption, or a file cached by another build):
      // purge it and fetch it again, once.
      for (const [file, f] of cached) {
        await cache?.delete(/** @type {string} */ (f.url));
        files[file] = await loadModel(file, args, null, true);
      }
      engine = this.#engine(files, args.engine);
    }
    this.engine = engine;
    if (cache) {
      // Only bytes the engine accepted are cached.
      await Promise.all(Object.values(files).map((f) => cacheModel(cache, f)));
      pruneOldCaches(args.version);
    }
    return {
      flavour,
      core: build.core,
      simd: build.simd,
      models: entries.map((e) => ({ role: e.role, file: e.file, bytes: e.bytes, source: files[e.file].source })),
    };
  }

  /**
   * @param {Record<string, {bytes: Uint8Array}>} files
   * @param {Record<string, unknown>} config
   */
  #engine(files, config) {
    /** @type {Record<string, Uint8Array>} */
    const bytes = {};
    for (const [k, v] of Object.entries(files)) bytes[k] = v.bytes;
    return call(() => new this.glue.Engine(bytes, config));
  }

  /**
   * Starts a (new) live session on the loaded engine.
   * @param {{sessionOptions: Record<string, unknown>}} args
   * @returns {Promise<{script: string[]}>}
   */
  async startSession({ sessionOptions }) {
    this.#ready();
    let next;
    try {
      next = new this.glue.LiveSession(this.engine, sessionOptions);
    } catch (e) {
      // The script needs a model the engine loads on demand (a smile: the emotion model).
      const err = /** @type {any} */ (e);
      if (err?.code !== 'model_missing' || !err.role || !err.file) throw toLivenessError(e);
      await this.#addModel(err.role, err.file);
      next = call(() => new this.glue.LiveSession(this.engine, sessionOptions));
    }
    this.session?.free();
    this.session = next;
    return { script: call(() => next.script()) };
  }

  /**
   * Fetches (or takes from the cache) an on-demand model file and loads it into the engine.
   * A cached copy the core refuses is purged and fetched again, once.
   * @param {string} role
   * @param {string} file
   */
  async #addModel(role, file) {
    const args = /** @type {InitArgs} */ (this.args);
    let f = await loadModel(file, args, this.cache, false);
    try {
      call(() => this.engine.addModel(role, f.bytes));
    } catch (e) {
      if (/** @type {any} */ (e).code !== 'model_checksum' || f.source !== 'cache') throw e;
      await this.cache?.delete(/** @type {string} */ (f.url));
      f = await loadModel(file, args, null, true);
      call(() => this.engine.addModel(role, f.bytes));
    }
    if (this.cache) await cacheModel(this.cache, f);
  }

  /**
   * Analyses one frame. Either `image` (ImageBitmap, VideoFrame, canvas, ImageData...: drawn
   * into an OffscreenCanvas scaled so its longer side is at most `maxSide`, then closed) or
   * `pixels` + `width` + `height` (RGBA or RGB bytes, analysed at their own size).
   * @param {{image?: any, pixels?: Uint8Array|Uint8ClampedArray, width?: number, height?: number, t: number, maxSide?: number, landmarks?: boolean}} args
   * @returns {{record: any, events: any[], landmarks?: Float32Array, done: boolean}}
   */
  frame(args) {
    let image = args?.image;
    try {
      const s = this.#running();
      let { pixels, width, height } = args;
      if (image) {
        ({ pixels, width, height } = this.#draw(image, args.maxSide ?? 640));
      } else {
        if (!(pixels instanceof Uint8Array || pixels instanceof Uint8ClampedArray)) {
          throw new LivenessError('invalid_frame', `frame pixels must be a Uint8Array or Uint8ClampedArray of RGBA or RGB bytes, got ${typeof pixels}`);
        }
        for (const [k, v] of [['width', width], ['height', height]]) {
          if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_SIDE) {
            throw new LivenessError('invalid_frame', `frame ${k} must be an integer in [0, ${MAX_SIDE}], got ${String(v)}`);
          }
        }
      }
      if (typeof args.t !== 'number') throw new LivenessError('invalid_argument', `frame time must be a number of milliseconds, got ${typeof args.t}`);
      const step = call(() => s.process(pixels, width, height, args.t));
      /** @type {{record: any, events: any[], landmarks?: Float32Array, done: boolean}} */
      const out = { record: step.record, events: step.events, done: s.isDone() };
      if (args.landmarks) out.landmarks = s.landmarks();
      return out;
    } finally {
      image?.close?.();
    }
  }

  /**
   * @param {any} image
   * @param {number} maxSide
   */
  #draw(image, maxSide) {
    if (typeof OffscreenCanvas !== 'function') {
      throw new LivenessError('invalid_frame', 'image frames need OffscreenCanvas; pass raw pixels (with width and height) instead');
    }
    const w = image.displayWidth ?? image.videoWidth ?? image.width;
    const h = image.displayHeight ?? image.videoHeight ?? image.height;
    if (!(w > 0 && h > 0)) throw new LivenessError('invalid_frame', `the image has no pixels (${w}x${h})`);
    const scale = Math.min(1, maxSide / Math.max(w, h));
    const width = Math.max(1, Math.round(w * scale));
    const height = Math.max(1, Math.round(h * scale));
    if (!this.canvas) {
      this.canvas = new OffscreenCanvas(width, height);
      this.ctx = this.canvas.getContext('2d', { willReadFrequently: true, alpha: false });
    } else if (this.canvas.width !== width || this.canvas.height !== height) {
      this.canvas.width = width;
      this.canvas.height = height;
    }
    if (typeof ImageData === 'function' && image instanceof ImageData) {
      // drawImage takes no ImageData; putImageData cannot scale.
      if (scale !== 1) throw new LivenessError('invalid_frame', `an ImageData frame larger than maxAnalysisSide (${maxSide}) cannot be scaled; pass an ImageBitmap`);
      this.ctx.putImageData(image, 0, 0);
    } else {
      this.ctx.drawImage(image, 0, 0, width, height);
    }
    const pixels = this.ctx.getImageData(0, 0, width, height).data;
    return { pixels, width, height };
  }

  /** Ends the stream: an undecided session fails. @returns {{events: any[]}} */
  finish() {
    this.#session();
    return { events: call(() => this.session.finish()) };
  }

  /** The session's outcome, or null before the decision. */
  outcome() {
    this.#session();
    return call(() => this.session.outcome()) ?? null;
  }

  /**
   * The evidence bundle of the decided session. `light` (the screen-light timeline,
   * `{onsets_ms}`) and `signals` (the client's injection signals) go to the core unchanged: it
   * validates them (unknown keys refused) and binds them into the signed manifest.
   * @param {{session_id: string, nonce: string, created_ms: number, sdk_version: string, clip?: Uint8Array|null, clip_type?: string|null, light?: {onsets_ms: number[]}|null, signals?: import('./signals.js').ClientSignals|null}} a
   */
  evidence(a) {
    const s = this.#session();
    if (!s.isDone()) throw new LivenessError('evidence_unavailable', 'evidence is only available once the session has decided (after final_result)');
    const clip = a.clip instanceof Uint8Array ? a.clip : undefined;
    return call(() => s.evidence(a.session_id, a.nonce, a.created_ms, a.sdk_version, clip, clip ? String(a.clip_type) : undefined, a.light ?? null, a.signals ?? null));
  }

  /**
   * The JWS signing input of the last assembled bundle.
   * @param {{alg: string, kid: string}} a
   */
  signingInput(a) {
    const s = this.#session();
    return call(() => s.signingInput(a.alg, a.kid));
  }

  /**
   * Verifies a signed manifest with a raw key (tests and kiosk self-checks).
   * @param {{token: string, alg: string, key: Uint8Array}} a
   */
  verifyEvidence(a) {
    this.#ready();
    return call(() => this.glue.verifyEvidence(a.token, a.alg, a.key));
  }

  /**
   * Decodes a JPEG/PNG/WebP still into RGB (the core decoder; tests and tools).
   * @param {{bytes: Uint8Array}} a
   */
  decodeImage(a) {
    this.#ready();
    if (!(a?.bytes instanceof Uint8Array)) throw invalidArgument('decodeImage', 'bytes must be a Uint8Array', a?.bytes);
    return call(() => this.glue.decodeImage(a.bytes));
  }

  /** Frees the wasm objects. Idempotent. */
  close() {
    this.closed = true;
    try { this.session?.free(); } catch { /* already freed */ }
    try { this.engine?.free(); } catch { /* already freed */ }
    this.session = null;
    this.engine = null;
    this.canvas = null;
    this.ctx = null;
  }

  /**
   * Dispatches a request by name (the worker and inline transports use this).
   * @param {string} op
   * @param {any} args
   */
  async handle(op, args) {
    switch (op) {
      case 'init': return this.init(args);
      case 'startSession': return this.startSession(args);
      case 'frame': return this.frame(args);
      case 'finish': return this.finish();
      case 'outcome': return this.outcome();
      case 'evidence': return this.evidence(args);
      case 'signingInput': return this.signingInput(args);
      case 'verifyEvidence': return this.verifyEvidence(args);
      case 'decodeImage': return this.decodeImage(args);
      case 'close': return this.close();
      default: throw new LivenessError('internal', `unknown request ${JSON.stringify(op)}`);
    }
  }

  #alive() {
    if (this.closed) throw new LivenessError('closed', 'the engine host is closed');
  }

  #ready() {
    this.#alive();
    if (!this.engine) throw new LivenessError('not_started', 'the engine is not loaded yet');
  }

  #session() {
    this.#ready();
    if (!this.session) throw new LivenessError('not_started', 'no live session has been started');
    return this.session;
  }

  #running() {
    const s = this.#session();
    if (s.isDone()) throw new LivenessError('session_done', 'the session has already decided; start a new one (reset())');
    return s;
  }
}

/**
 * Runs a wasm call, turning its `Error` (with `code`) into a LivenessError.
 * @template T
 * @param {() => T} f
 * @returns {T}
 */
function call(f) {
  try {
    return f();
  } catch (e) {
    throw toLivenessError(e);
  }
}

/** @param {string} version */
async function openCache(version) {
  if (typeof caches === 'undefined') return null;
  try {
    return await caches.open(CACHE_PREFIX + version);
  } catch {
    return null; // opaque origins and some private modes refuse the Cache API
  }
}

/** Deletes model caches of other package versions (best effort). @param {string} version */
function pruneOldCaches(version) {
  if (typeof caches === 'undefined') return;
  caches.keys().then((keys) => Promise.all(keys
    .filter((k) => k.startsWith(CACHE_PREFIX) && k !== CACHE_PREFIX + version)
    .map((k) => caches.delete(k)))).catch(() => {});
}

/** @typedef {{bytes: Uint8Array, source: 'bytes'|'cache'|'network', url?: string}} ModelFile */

/**
 * Starts downloading the files the package's models/manifest.json lists (the default engine's),
 * before the wasm is ready to say which files the configuration needs. Without that manifest
 * (a custom layout) nothing starts early.
 * @param {InitArgs} args
 * @param {Cache|null} cache
 * @returns {Promise<Record<string, Promise<ModelFile>>>}
 */
async function prefetchModels(args, cache) {
  /** @type {Record<string, Promise<ModelFile>>} */
  const started = {};
  try {
    const { bytes } = await fetchBytes(new URL('models/manifest.json', args.baseUrl).href, 'model_fetch');
    for (const m of JSON.parse(new TextDecoder().decode(bytes)).models) {
      const p = loadModel(m.file, args, cache, false);
      p.catch(() => {}); // a failure is reported where the file is awaited, if it is needed
      started[m.file] = p;
    }
  } catch { /* fetched after the wasm loads instead */ }
  return started;
}

/**
 * Caches a downloaded model file the engine accepted (best effort).
 * @param {Cache} cache
 * @param {ModelFile} f
 */
async function cacheModel(cache, f) {
  if (f.source !== 'network' || !f.url) return;
  await cache.put(f.url, new Response(/** @type {any} */ (f.bytes), { headers: { 'content-type': 'application/octet-stream' } })).catch(() => {});
}

/**
 * One model file's bytes: given bytes, the cache, or the network.
 * @param {string} file
 * @param {InitArgs} args
 * @param {Cache|null} cache
 * @param {boolean} reload bypass the HTTP cache too
 * @returns {Promise<ModelFile>}
 */
async function loadModel(file, args, cache, reload) {
  const override = args.models[file];
  if (override instanceof Uint8Array) return { bytes: override, source: 'bytes' };
  const url = override ?? new URL(`models/${file}`, args.baseUrl).href;
  if (cache) {
    try {
      const hit = await cache.match(url);
      if (hit) return { bytes: new Uint8Array(await hit.arrayBuffer()), source: 'cache', url };
    } catch { /* a broken cache entry is refetched */ }
  }
  const { bytes } = await fetchBytes(url, 'model_fetch', reload ? { cache: 'reload' } : undefined);
  return { bytes, source: 'network', url };
}
