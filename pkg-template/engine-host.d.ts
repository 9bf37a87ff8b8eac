/**
 * The inference side of the SDK (what the worker runs), usable in-process for tests and Node.
 * Prefer `Liveness.create({transport: 'inline'})`, which wraps it.
 */
import type { CoreEvent, FrameSummary, EvidenceBundle, EvidenceManifest, LightTimeline, ClientSignals } from './index.js';

/** Whether this runtime supports wasm SIMD (`WebAssembly.validate` on a tiny probe). */
export declare function simdSupported(): boolean;
/** The flavour `'auto'` resolves to here. */
export declare function chooseFlavour(wanted: 'auto' | 'simd' | 'scalar'): 'simd' | 'scalar';
/** Cache API name prefix (the package version is appended). */
export declare const CACHE_PREFIX: string;

export interface InitArgs {
  wasm: 'auto' | 'simd' | 'scalar';
  /** Absolute URL of the package directory, ending with `/` (file: URLs are read from disk under Node). */
  baseUrl: string;
  models: Record<string, string | Uint8Array>;
  cacheModels: boolean;
  /** Partial core EngineConfig, e.g. `{age_gender: false}`. */
  engine: Record<string, unknown>;
  version: string;
}

export declare class EngineHost {
  init(args: InitArgs): Promise<{ flavour: 'simd' | 'scalar'; core: string; simd: boolean; models: Array<{ role: string; file: string; bytes: number; source: 'bytes' | 'cache' | 'network' }> }>;
  /**
   * `sessionOptions`: the core's LiveSession options `{challenge, script?, seed?, live}`. Loads
   * an on-demand model first when the script needs one (SMILE: the emotion model).
   */
  startSession(args: { sessionOptions: Record<string, unknown> }): Promise<{ script: string[] }>;
  frame(args: { image?: unknown; pixels?: Uint8Array | Uint8ClampedArray; width?: number; height?: number; t: number; maxSide?: number; landmarks?: boolean }): { record: FrameSummary; events: CoreEvent[]; landmarks?: Float32Array; done: boolean };
  finish(): { events: CoreEvent[] };
  outcome(): unknown;
  /** `light`: the screen-light timeline (onsets on the recording's time base); `signals`: the client's injection signals. Both passed to the core unchanged. */
  evidence(args: { session_id: string; nonce: string; created_ms: number; sdk_version: string; clip?: Uint8Array | null; clip_type?: string | null; light?: LightTimeline | null; signals?: ClientSignals | null }): EvidenceBundle;
  signingInput(args: { alg: 'HS256' | 'EdDSA'; kid: string }): string;
  verifyEvidence(args: { token: string; alg: 'HS256' | 'EdDSA'; key: Uint8Array }): EvidenceManifest;
  decodeImage(args: { bytes: Uint8Array }): { width: number; height: number; data: Uint8Array };
  close(): void;
  handle(op: string, args?: unknown): Promise<unknown>;
}
