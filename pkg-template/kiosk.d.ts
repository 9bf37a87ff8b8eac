/**
 * Offline kiosks: an Ed25519 device key kept in IndexedDB, and a durable queue of signed
 * evidence bundles posted in order to `POST /v1/kiosk/evidence` when online.
 */
import type { Liveness, LivenessError } from './index.js';

/** Default IndexedDB database name. */
export declare const DEFAULT_DB_NAME: string;

/** A kiosk's Ed25519 device key (private key non-extractable), persisted in IndexedDB. */
export declare class DeviceKey {
  private constructor();
  /** Loads the key pair stored under `name` (default `'default'`), or generates and stores one. */
  static loadOrCreate(name?: string, options?: { dbName?: string }): Promise<DeviceKey>;
  /** Deletes a stored key pair. */
  static delete(name: string, options?: { dbName?: string }): Promise<void>;
  readonly name: string;
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
  /** The id the server assigned at registration (the JWS `kid`), once set. */
  readonly deviceId: string | null;
  /** Raw 32-byte public key (register it with `POST /v1/devices`). */
  publicKeyRaw(): Uint8Array;
  /** The raw public key, base64url without padding. */
  publicKeyBase64url(): string;
  /** Stores the device id the server assigned. */
  setDeviceId(id: string): Promise<void>;
  /** The `Liveness.sign` key: EdDSA with kid = `kid` or the stored device id. */
  signingKey(kid?: string): { alg: 'EdDSA'; kid: string; privateKey: CryptoKey };
}

/** A signed bundle as stored in the queue. */
export interface QueuedBundle {
  jws: string;
  items: Array<{ name: string; media_type: string; data: Uint8Array }>;
}

/** A bundle the server refused with a 4xx. */
export interface RejectedBundle {
  seq: number;
  status: number;
  body: unknown;
  message: string;
  rejected_ms: number;
  jws: string;
}

export interface ResultQueueOptions {
  /** The kiosk evidence URL (`/v1/kiosk/evidence`). */
  url: string | URL;
  /** Signs bundles added as Liveness instances. */
  deviceKey?: DeviceKey;
  /** Defaults to `'liveproof-kiosk'`. */
  dbName?: string;
  /** Extra request headers (e.g. authentication). */
  headers?: Record<string, string>;
  /** A fetch implementation. Defaults to `globalThis.fetch`. */
  fetch?: typeof fetch;
  /** First retry delay, doubled per failure. Defaults to 2000 ms. */
  retryBaseMs?: number;
  /** Longest retry delay. Defaults to 300000 ms. */
  retryMaxMs?: number;
  /** Send on construction and on the window's `online` event. Defaults to true. */
  auto?: boolean;
}

export interface ResultQueueEventMap {
  sent: CustomEvent<{ seq: number; response: unknown }>;
  rejected: CustomEvent<{ seq: number; status: number; body: unknown }>;
  retry: CustomEvent<{ seq: number; error: LivenessError; delayMs: number }>;
}

/**
 * Durable ordered queue. A bundle leaves it only after a 2xx (sent) or a 4xx other than
 * 408/429 (rejected, recorded); anything else is retried with exponential backoff.
 */
export declare class ResultQueue extends EventTarget {
  constructor(options: ResultQueueOptions);
  /** Signs a decided Liveness session with the device key (or takes a signed bundle) and stores it; resolves with its sequence number. */
  add(bundle: Liveness | QueuedBundle): Promise<number>;
  /** Bundles waiting. */
  size(): Promise<number>;
  /** Bundles the server refused, oldest first. */
  rejected(): Promise<RejectedBundle[]>;
  /** Post waiting bundles in order until empty or a retryable failure. */
  flush(): Promise<{ sent: number; rejected: number; remaining: number }>;
  /** Stop automatic sending (stored bundles stay). */
  close(): void;

  addEventListener<K extends keyof ResultQueueEventMap>(type: K, listener: (this: ResultQueue, ev: ResultQueueEventMap[K]) => any, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
}
