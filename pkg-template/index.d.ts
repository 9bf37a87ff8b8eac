/**
 * liveproof: on-device face liveness for the browser (passive anti-spoofing plus blink /
 * look / smile challenges), the Rust core compiled to WebAssembly and run in a module worker.
 *
 * ```ts
 * import { Liveness } from 'liveproof';
 * const lv = await Liveness.create();
 * lv.addEventListener('final_result', (e) => console.log(e.detail.label));
 * await lv.start();
 * ```
 */

/** The package version. */
export declare const VERSION: string;

/** A challenge action, as the core spells it. Input also accepts `LOOK_LEFT`, any case. */
export type ChallengeAction = 'BLINK' | 'LOOK LEFT' | 'LOOK RIGHT' | 'LOOK UP' | 'LOOK DOWN' | 'SMILE';

/** The six challenge actions. */
export declare const ACTIONS: readonly ChallengeAction[];

/** UI strings by key: the actions (`'LOOK LEFT'`), guidance reasons (`'too_dark'`) and states (`start`, `retry`, `loading`, `camera`, `passive`, `light_hint`, `challenge_passed`, `real`, `fake`, `progress` with `{done}`/`{total}`, `progress_label`, `camera_denied`, `camera_unavailable`, `error`). */
export type LiveproofStrings = Record<string, string>;

/** Built-in user-facing strings by language (`<liveproof-check>`'s; `STRINGS.en['LOOK LEFT']` is a challenge prompt), for pages that draw their own UI. */
export declare const STRINGS: Record<'en' | 'de' | 'fr' | 'es', LiveproofStrings>;

/** The core events re-dispatched by `Liveness` (and `<liveproof-check>`). */
export declare const CORE_EVENTS: readonly ['phase', 'frame_result', 'challenge_start', 'challenge_result', 'final_result', 'guidance'];

/** Why a frame is not (fully) usable: the `reason` of a `guidance` event (the core's codes). */
export type GuidanceReason =
  | 'no_face'
  | 'multiple_faces'
  | 'too_far'
  | 'too_close'
  | 'off_center'
  | 'face_cut_off'
  | 'too_dark'
  | 'too_bright'
  | 'blurry'
  | 'face_turned'
  | 'face_occluded';

// ---------------------------------------------------------------------------------------------
// Events (the WebSocket workflow document's shapes, plus `guidance`)
// ---------------------------------------------------------------------------------------------

/** Phase transition: passive (anti-spoofing on still frames), then active (challenges). */
export interface PhaseEvent { type: 'phase'; value: 'passive' | 'active' }
/** A frame with anti-spoofing: `confidence` is the real probability (0–1). */
export interface FrameResultEvent { type: 'frame_result'; confidence: number; label: 'REAL' | 'FAKE' }
/** The user must now perform `action`. */
export interface ChallengeStartEvent { type: 'challenge_start'; action: ChallengeAction }
/** The outcome of the current challenge. */
export interface ChallengeResultEvent { type: 'challenge_result'; action: ChallengeAction; status: 'passed' | 'failed' }
/** The session's decision. `confidence` is the aggregated real probability scaled by the fraction of challenges passed. */
export interface FinalResultEvent { type: 'final_result'; label: 'REAL' | 'FAKE'; passed: ChallengeAction[]; confidence?: number }
/** Why the current frame cannot be used (sent when the reasons change), with an English message. */
export interface GuidanceEvent { type: 'guidance'; reason: GuidanceReason; message: string }

/** Any core event. */
export type CoreEvent = PhaseEvent | FrameResultEvent | ChallengeStartEvent | ChallengeResultEvent | FinalResultEvent | GuidanceEvent;

/** Axis-aligned box in analysed-frame pixels. */
export interface BBox { x1: number; y1: number; x2: number; y2: number }

/** Per-stage wall time of one frame, ms. */
export interface Timings { detect_ms: number; landmarks_ms: number; pad_ms: number; embed_ms: number; attributes_ms: number; total_ms: number }

/** The core's compact per-frame record (`FrameSummary`); coordinates are in analysed-frame pixels (`width` × `height`, after scaling to `maxAnalysisSide`). */
export interface FrameSummary {
  t_ms: number;
  width: number;
  height: number;
  /** Faces found (1 on tracked frames). */
  faces: number;
  /** True when the mesh tracked the face instead of the detector finding it. */
  tracked: boolean;
  bbox: BBox | null;
  /** Detector score. */
  score: number | null;
  /** Mesh face-presence probability. */
  presence: number | null;
  /** Anti-spoofing: `real` is the live probability (on detector frames only). */
  pad: { real: number; v2: number; v1se: number; celeba?: number } | null;
  /** Mean eye aspect ratio. */
  ear: number | null;
  mouth: { mar: number; width_ratio: number } | null;
  /** Head pose, degrees. */
  pose: { yaw: number; pitch: number; roll: number } | null;
  quality: { brightness: number; sharpness: number; face_size: number; center_offset: [number, number]; cut_off: number } | null;
  /** Emotion model's happy probability, when it ran (smile challenge). */
  happy: number | null;
  guidance: GuidanceReason[];
  timings: Timings;
}

/** Detail of the `frame` event: one analysed frame, for overlays and diagnostics. */
export interface FrameEventDetail {
  record: FrameSummary;
  /** With `options.landmarks`: the 478 mesh points as `[x0, y0, x1, y1, …]` in analysed-frame pixels (empty: no face); otherwise null. */
  landmarks: Float32Array | null;
  /** Main thread → worker → main thread, ms. */
  roundTripMs: number;
}

/** The core events (`CORE_EVENTS`) as dispatched by `Liveness` and `<liveproof-check>`, by type. */
export interface CoreEventMap {
  phase: CustomEvent<PhaseEvent>;
  frame_result: CustomEvent<FrameResultEvent>;
  challenge_start: CustomEvent<ChallengeStartEvent>;
  challenge_result: CustomEvent<ChallengeResultEvent>;
  final_result: CustomEvent<FinalResultEvent>;
  guidance: CustomEvent<GuidanceEvent>;
}

/**
 * Detail of the `light` event: the screen-light colour changes. Dispatched inside the
 * animation frame callback that sets the colour, so a listener that paints it has it on screen
 * in the next frame (whose time is the onset the evidence records).
 */
export interface LightEventDetail {
  /** The segment now shown; `segments.length` when the light went back to neutral (end or stop). */
  index: number;
  /** The colour to paint, or null: neutral (no light). */
  colour: LightColour | null;
  /** Recording time of the animation frame the colour was set in, ms (0 = the recording's start). */
  t_ms: number;
}

/** The events of a `Liveness` instance, by type. */
export interface LivenessEventMap extends CoreEventMap {
  frame: CustomEvent<FrameEventDetail>;
  light: CustomEvent<LightEventDetail>;
  error: CustomEvent<LivenessError>;
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/**
 * Error codes. The SDK's own, then the core's (passed through from the wasm `Error.code`).
 * - `invalid_option`: an option is wrong (`error.option` names it).
 * - `invalid_argument`: a method argument is wrong.
 * - `closed`: the instance was closed.
 * - `not_started`: `stop()` without `start()`.
 * - `already_started`: `start()` twice, or `process()` while the camera runs.
 * - `camera_denied`: the user or policy refused the camera (NotAllowedError).
 * - `camera_unavailable`: no camera, no camera matching `options.camera`, or no getUserMedia.
 * - `wasm_unsupported`: no WebAssembly / no Workers, or `wasm: 'simd'` without SIMD.
 * - `wasm_fetch`: the wasm build or the worker could not be loaded.
 * - `model_fetch`: a model file could not be fetched.
 * - `model_checksum`: a model file's SHA-256 is not the manifest's (after one refetch).
 * - `session_done`: the session has decided; `reset()` for another.
 * - `evidence_unavailable`: evidence before the decision, with `evidence: false`, or without WebCrypto / IndexedDB.
 * - `submit_failed`: the server refused the evidence (`status`, `body`) or could not be reached.
 * - core codes: `invalid_frame`, `invalid_argument`, `model_load`, `inference`, `bad_signature`, `unknown_key`, `malformed_signature`, `invalid_manifest`, ...
 */
export type LivenessErrorCode =
  | 'invalid_option'
  | 'invalid_argument'
  | 'closed'
  | 'not_started'
  | 'already_started'
  | 'camera_denied'
  | 'camera_unavailable'
  | 'wasm_unsupported'
  | 'wasm_fetch'
  | 'model_fetch'
  | 'model_checksum'
  | 'session_done'
  | 'evidence_unavailable'
  | 'submit_failed'
  | 'internal'
  | 'invalid_frame'
  | 'model_load'
  | 'inference'
  | 'bad_signature'
  | 'unknown_key'
  | 'malformed_signature'
  | 'unsupported_algorithm'
  | 'invalid_manifest'
  | (string & {});

/** The one error type: every public entry point throws or rejects with it. */
export declare class LivenessError extends Error {
  constructor(code: string, message: string, extra?: { cause?: unknown; option?: string; status?: number; body?: unknown });
  readonly name: 'LivenessError';
  /** Stable machine-readable code. */
  readonly code: LivenessErrorCode;
  /** `invalid_option`: the option at fault, as a dotted path (`challenges.count`). */
  readonly option?: string;
  /** `submit_failed`: the HTTP status (absent when the server was not reached). */
  readonly status?: number;
  /** `submit_failed`: the server's error body (parsed JSON, e.g. `{message, detail: {code}}`). */
  readonly body?: unknown;
  toJSON(): { code: string; message: string; option?: string; status?: number; body?: unknown };
  static fromJSON(e: { code?: string; message?: string; option?: string; status?: number; body?: unknown }): LivenessError;
}

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

/** The core's `ActionThresholds` (snake_case, passed through unchanged); each defaults to the core's value. */
export interface ActionThresholds {
  /** Head turn, degrees of yaw from the user's neutral pose. Defaults to 18. */
  yaw_deg?: number;
  /** Head tilt, degrees of pitch from the neutral pose. Defaults to 12. */
  pitch_deg?: number;
  /** How long a pose or smile must be held, ms. Defaults to 150. */
  hold_ms?: number;
  /** Eyes count as closed below this fraction of the neutral eye aspect ratio. Defaults to 0.65. */
  closed_ratio?: number;
  /** Absolute ceiling of a closed eye's aspect ratio. Defaults to 0.21. */
  closed_ear_max?: number;
  /** Eyes count as open again above this fraction of the neutral ratio. Defaults to 0.8. */
  open_ratio?: number;
  /** Smile: the emotion model's happy probability at least this. Defaults to 0.6. */
  smile_happy?: number;
  /** Smile: the mouth at least this much wider than at rest. Defaults to 1.08. */
  smile_width_gain?: number;
}

/** The core's `EvidenceConfig` (snake_case, passed through unchanged). */
export interface EvidenceOptions {
  /** Most JPEG frames kept (spread over the session), 1–62. Defaults to 12. */
  max_frames?: number;
  /** Least time between two kept frames, ms. Defaults to 400. */
  min_interval_ms?: number;
  /** JPEG quality of kept frames, 1–100. Defaults to 90. */
  jpeg_quality?: number;
  /** Most per-frame records kept. Defaults to 4096. */
  max_records?: number;
}

/** An sRGB colour, 0–255 per channel. */
export type LightColour = [number, number, number];

/** One colour of a screen-light sequence. */
export interface LightSegment {
  colour: LightColour;
  /** How long it stays, ms (at least 334: at most 3 changes a second). */
  duration_ms: number;
}

/** A session's screen-light challenge (`session.light`). */
export interface SessionLight {
  /** The colours, drawn by the server from the nonce. The SDK refuses segments shorter than 334 ms and saturated red (R / (R + G + B) ≥ 0.8). */
  segments: LightSegment[];
  /** The passive phase the session holds while the light plays, ms (the client's session uses it, as the server's run does). */
  passive_ms: number;
}

/** The evidence's light timeline: when each segment was first on screen, ms on the recording's time base. */
export interface LightTimeline { onsets_ms: number[] }

/** Frame-interval statistics of the camera. */
export interface FrameIntervalStats { count: number; median_ms: number; mad_ms: number }

/**
 * Injection signals the SDK reports with the evidence (`Liveness.signals`). Advisory: whoever
 * runs the page can forge them; the server weighs them as risk hints only.
 */
export interface ClientSignals {
  /** Camera and frame functions found not to be the browser's own (not native code, a Proxy, a wrapper), e.g. `'getUserMedia'`, `'MediaStreamTrack.prototype.getSettings'`. At most 16. */
  wrapped: string[];
  /** The camera track's label. */
  device_label: string | null;
  /** Settings outside the track's capabilities (`width`, `height`, `frameRate`), or `deviceId` / `label` unknown to `enumerateDevices`. */
  settings_inconsistent: string[];
  /** Intervals between camera frames (capture times where the browser gives them). */
  frame_intervals: FrameIntervalStats | null;
}

/** `Liveness.light`. */
export interface LightState {
  segments: LightSegment[];
  /** The colour on screen now, or null. */
  current: LightColour | null;
  /** When each segment shown so far was first on screen (recording time, ms). */
  onsets: number[];
}

/** A session issued by liveproof-server's `POST /v1/sessions`. */
export interface ServerSession {
  session_id: string;
  /** The server nonce: the script's seed, bound into the evidence. */
  nonce: string;
  /** The per-session HMAC key (base64url, ≥ 32 bytes) the evidence is signed with (HS256, kid = session_id). */
  session_key: string | Uint8Array;
  /** Always `'HS256'`. */
  alg?: 'HS256';
  /** The challenge script the server drew from the nonce. */
  challenges: string[];
  /** The server's per-challenge timeout, ms; the client uses the same. */
  timeout_ms?: number;
  expires_at?: string | number | null;
  /** Where `submit()` posts the evidence (`/v1/sessions/{id}/evidence`; a path is resolved against the page). */
  evidence_url?: string | null;
  /** The screen-light sequence, or null: light off for this session (create it with the body `{"light": false}` for no flashing). */
  light?: SessionLight | null;
  /** Other fields of the server's answer are ignored. */
  [field: string]: unknown;
}

/** Options of `Liveness.create`. Every field is optional; unknown keys are refused. */
export interface LivenessOptions {
  /** The challenge script. Not allowed together with `session`, whose script is the server's. */
  challenges?: {
    /** Actions the script is drawn from. Defaults to all six (minus SMILE with `accessibility.noSmile`). */
    actions?: string[];
    /** How many challenges, 1–10 (at most the distinct actions). Defaults to 2 (the core's default). */
    count?: number;
    /** An explicit script instead of a draw (1–10 actions). Defaults to none. */
    script?: string[];
    /**
     * The bytes the script is drawn from: a server nonce (string, used as UTF-8) or bytes.
     * The same seed always gives the same script. Defaults to 32 random bytes from
     * `crypto.getRandomValues`. Offline, it is also the evidence's nonce.
     */
    seed?: string | Uint8Array;
    /** Time allowed per challenge (and for the passive phase to find usable frames), ms, in (0, 120000]. Defaults to 8000 (the core's default). */
    timeoutMs?: number;
  };
  /** Accessibility. */
  accessibility?: {
    /** Remove SMILE from the action pool (an error if an explicit or server script contains it). Defaults to false. */
    noSmile?: boolean;
    /** Double the per-challenge and passive-phase time windows (`timeoutMs`). Defaults to false. */
    longerTimeouts?: boolean;
  };
  /** Camera settings for `start()` without a source (ideal values; the browser picks the nearest). */
  camera?: {
    /** A specific camera (`MediaDeviceInfo.deviceId`, required exactly). Defaults to none: `facingMode` decides. */
    deviceId?: string;
    /** Defaults to `'user'` (the front camera). */
    facingMode?: 'user' | 'environment';
    /** Defaults to 640. */
    width?: number;
    /** Defaults to 480. */
    height?: number;
    /** Defaults to 30. */
    frameRate?: number;
  };
  /** Decision thresholds; unset fields keep the core's defaults. */
  thresholds?: ActionThresholds & {
    /** Anti-spoofing real-probability threshold, 0–1 (frame labels and the final decision). Defaults to 0.5. */
    pad?: number;
    /** Minimum cosine similarity to the passive-phase face that every compared frame (face within 30° of frontal) must reach: the same person throughout, −1–1. Defaults to 0.3. */
    identity?: number;
  };
  /**
   * The quality gate behind `guidance` (the core's `QualityConfig`, snake_case, passed through);
   * unset fields keep the core's defaults. A kiosk's walk-up distance is `min_face_size`.
   */
  quality?: {
    /** Smallest face (longer box side over the frame's shorter side); below it: `too_far`. */
    min_face_size?: number;
    /** Largest face; above it: `too_close`. */
    max_face_size?: number;
    /** Largest face-centre offset from the frame centre, as a fraction of the frame; beyond it: `off_center`. */
    max_center_offset?: number;
    /** Mean face luma (0–100) below which: `too_dark`. */
    min_brightness?: number;
    /** Mean face luma above which: `too_bright`. */
    max_brightness?: number;
    /** Laplacian variance of the 96×96 face patch below which: `blurry`. */
    min_sharpness?: number;
    /** Largest |yaw|, |pitch| or |roll| in degrees for a frontal frame; beyond it: `face_turned`. */
    max_angle?: number;
    /** Fraction of the face box allowed outside the frame; beyond it: `face_cut_off`. */
    max_cut_off?: number;
    /** Minimum mesh face-presence probability; below it: `face_occluded`. */
    min_presence?: number;
    /**
     * Smallest context around the face for a liveness judgement: how many times the face box's
     * size the frame extends to (1 = the frame is all face). Still and video checks refuse a
     * face below it as `too_close` instead of guessing (the core's default is 1.2).
     */
    min_context?: number;
    /** Smallest face (shorter box side, pixels) judged; below it a still is refused as `too_far` (core default 40). */
    min_face_px?: number;
  };
  /** Run the detector and anti-spoofing on every n-th frame (1–30); the mesh tracks the face in between. Defaults to 3. */
  detectEvery?: number;
  /** Frames are scaled down in the worker so their longer side is at most this (64–4096) before analysis. Defaults to 640. */
  maxAnalysisSide?: number;
  /**
   * Record the session with `MediaRecorder` (WebM, ~1 Mbit/s) from `start()` to the decision
   * and add the recording to the evidence as its `clip` item. liveproof-server decides only
   * from its own run of this recording: without it, a verdict is at best `PASSIVE_ONLY` (no
   * challenge verified), never `REAL`. A video of the user then leaves the device: ask for
   * consent. Ignored where `MediaRecorder` is missing; a session over 55 s is sent without its
   * clip. Defaults to true with a server `session`, false otherwise.
   */
  recordClip?: boolean;
  /** Include the mesh landmarks in `frame` events (for overlays). Defaults to false. */
  landmarks?: boolean;
  /** Record evidence (sampled JPEG frames and per-frame records) for `evidence()` / `sign()` / `submit()`: `true`, `false` or the core's `EvidenceConfig`. Defaults to true. */
  evidence?: boolean | EvidenceOptions;
  /** Which wasm build: `'auto'` probes `WebAssembly.validate` on a tiny SIMD module. Defaults to `'auto'`. */
  wasm?: 'auto' | 'simd' | 'scalar';
  /** Where `wasm/` and `models/` are served from. Defaults to the package directory (from `import.meta.url`). */
  baseUrl?: string | URL;
  /** Per-file model overrides by manifest file name: a URL (relative to `baseUrl`) or the bytes. Defaults to `{}` (fetch `models/<file>` from `baseUrl`). */
  models?: Record<string, string | URL | Uint8Array | ArrayBuffer>;
  /** Keep fetched models in the Cache API (cache `liveproof-models-<version>`; a file the engine refuses is purged and refetched once). Defaults to true. */
  cacheModels?: boolean;
  /** A server session: its `challenges` are the script and its `nonce` the seed; `submit()` signs with its key. Defaults to none (offline). */
  session?: ServerSession;
  /** `'worker'` runs inference in a module Web Worker; `'inline'` runs it in-process (for tests and Node: frames must then be raw pixels). Defaults to `'worker'`. */
  transport?: 'worker' | 'inline';
  /**
   * Show a session's screen-light sequence (`session.light`) while recording. `false` with a
   * session that has light is refused (`invalid_option`): for no flashing, create the session
   * with the body `{"light": false}` (the server then adds a challenge). Defaults to true.
   */
  light?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Evidence
// ---------------------------------------------------------------------------------------------

/** One evidence item as listed (and signed) in the manifest. */
export interface EvidenceItemInfo {
  /** Also the multipart field name on submission. */
  name: string;
  kind: 'frame' | 'records' | 'clip';
  media_type: string;
  /** Capture time of a frame, on the session's clock. */
  t_ms?: number;
  bytes: number;
  /** Lower-case hex SHA-256 of `data`. */
  sha256: string;
}

/** An evidence item with its bytes. */
export interface EvidenceItem extends EvidenceItemInfo { data: Uint8Array }

/** The signed description of a bundle (the core's `Manifest`). */
export interface EvidenceManifest {
  v: number;
  session_id: string;
  nonce: string;
  created_ms: number;
  versions: { sdk: string; core: string; models: Record<string, string> };
  script: ChallengeAction[];
  /** Time allowed per challenge, ms (the session's `timeoutMs`). */
  timeout_ms: number;
  challenges: Array<{ action: ChallengeAction; started_ms: number; ended_ms: number; status: 'passed' | 'failed' }>;
  result: { label: 'REAL' | 'FAKE'; passed: ChallengeAction[]; confidence: number; pad_score?: number; failure?: { reason: string; [k: string]: unknown } };
  items: EvidenceItemInfo[];
  /** The screen-light timeline the SDK reported (null: no light played into the recording). */
  light?: LightTimeline | null;
  /** The client's injection signals. */
  signals?: ClientSignals | null;
}

/** `Liveness.evidence()`. */
export interface EvidenceBundle { manifest: EvidenceManifest; items: EvidenceItem[] }

/** A signing key for `sign()`. */
export type SigningKey =
  | { alg: 'HS256'; kid: string; /** base64url text, bytes (≥ 32) or an HMAC CryptoKey. */ secret: string | Uint8Array | CryptoKey }
  | { alg: 'EdDSA'; kid: string; /** An Ed25519 private CryptoKey. */ privateKey: CryptoKey };

/** `Liveness.stats()`. */
export interface LivenessStats {
  framesAnalysed: number;
  /** Camera frames skipped because the previous one was still being analysed. */
  framesDropped: number;
  /** Median of the core's per-frame `timings.total_ms` over the last 300 frames; null before any. */
  medianMs: number | null;
  /** 90th percentile of the same. */
  p90Ms: number | null;
  /** Median main thread → worker → main thread time. */
  roundTripMedianMs: number | null;
  wasm: 'simd' | 'scalar';
  transport: 'worker' | 'inline';
}

/** Build facts of a loaded instance. */
export interface LivenessInfo {
  flavour: 'simd' | 'scalar';
  /** The Rust core's version. */
  core: string;
  simd: boolean;
  transport: 'worker' | 'inline';
  models: Array<{ role: string; file: string; bytes: number; source: 'bytes' | 'cache' | 'network' }>;
}

/** A frame for `process()`: raw RGBA or RGB bytes (an `ImageData` fits). */
export interface RawFrame { data: Uint8Array | Uint8ClampedArray; width: number; height: number }

/**
 * The server's verdict payload (liveproof-server's `openapi.json`, schema `Verdict`): what it
 * verified itself from the session's recording. A relying party acts on the signed `verdict`
 * only after checking it (server/README.md, "What a relying party checks").
 */
export interface VerdictPayload {
  iss: string;
  /** The session id (a kiosk's: `kiosk:<device id>:<session id>`). */
  sub: string;
  /** The relying party it is for. */
  aud: string;
  iat: number;
  exp: number;
  jti: string;
  creator: string;
  nonce: string;
  kind: 'session' | 'kiosk';
  script: ChallengeAction[];
  /** REAL: the server saw the script performed live in the recording; PASSIVE_ONLY: no recording, no challenge asserted. */
  label: 'REAL' | 'FAKE' | 'PASSIVE_ONLY';
  /** Actions the server saw performed. */
  passed: ChallengeAction[];
  confidence: number;
  pad_score: number | null;
  checks: { pad: 'server' | 'none'; identity: 'server' | 'none'; challenges: 'server' | 'none' };
  failure: { reason: string; [k: string]: unknown } | null;
  /** The server's screen-light check of the recording (null: the session had no light). */
  light?: Record<string, unknown> | null;
  /** The server's injection assessment: its own measurements of the recording plus the client's signals. */
  injection?: { risk: 'low' | 'medium' | 'high' | (string & {}); reasons: unknown[]; [k: string]: unknown } | null;
  [k: string]: unknown;
}

/** The answer of `submit()` (liveproof-server's evidence routes). */
export interface SubmitResult {
  /** The server's verdict, a JWS signed with its key (public keys at `/.well-known/jwks.json`). */
  verdict: string;
  /** The signed payload, decoded (for display; trust the JWS). */
  result: VerdictPayload;
  [k: string]: unknown;
}

// ---------------------------------------------------------------------------------------------
// Liveness
// ---------------------------------------------------------------------------------------------

/** One liveness check: a loaded engine (in a worker) and a live session. */
export declare class Liveness extends EventTarget {
  private constructor();
  /** Validates the options, loads the wasm build and the models, and starts a session. */
  static create(options?: LivenessOptions): Promise<Liveness>;

  /** The current session's challenge script. */
  readonly script: ChallengeAction[];
  /** The session id the evidence carries (the server's, or a random one offline). */
  readonly sessionId: string;
  /** The nonce the evidence carries (the server's, or the seed offline). */
  readonly nonce: string;
  readonly state: 'ready' | 'starting' | 'running' | 'closed';
  /** Whether the session has decided. */
  readonly done: boolean;
  /** The `final_result` message once decided, else null. */
  readonly result: FinalResultEvent | null;
  /** The video element frames come from while started (attach it to show a preview). */
  readonly video: HTMLVideoElement | null;
  readonly info: LivenessInfo;
  /** The session's screen-light challenge, or null when the session has none. It plays only while the session is recorded. */
  readonly light: LightState | null;
  /** The injection signals as they stand (what the evidence carries). */
  readonly signals: ClientSignals;

  /** Analyse camera frames: opens the camera per `options.camera`, or uses the given video / stream. */
  start(source?: HTMLVideoElement | MediaStream): Promise<void>;
  /** Stop taking frames and release the camera the SDK opened. The session stays open. */
  stop(): Promise<void>;
  /** Analyse one frame you supply (RGBA/RGB pixels; with the worker transport, any ImageBitmapSource too). */
  process(frame: RawFrame | ImageBitmapSource, tMs?: number): Promise<{ record: FrameSummary; events: CoreEvent[]; landmarks: Float32Array | null }>;
  /** End the session now (undecided → FAKE); resolves with the final events. */
  finish(): Promise<CoreEvent[]>;
  /**
   * A new session on the same engine (a retry), with this instance's `challenges` and
   * `accessibility` options (a given seed is replaced by a fresh random one) unless
   * overridden. A server-session instance needs a new `session`. Stops the camera.
   */
  reset(overrides?: { challenges?: LivenessOptions['challenges']; accessibility?: LivenessOptions['accessibility']; session?: ServerSession }): Promise<void>;
  /** The evidence bundle of the decided session. */
  evidence(): Promise<EvidenceBundle>;
  /** A compact JWS over the evidence manifest; without a key, the server session's (HS256). */
  sign(key?: SigningKey): Promise<string>;
  /** Sign with the session key and POST the evidence (multipart) to `url` or `session.evidence_url`. */
  submit(url?: string | URL, session?: ServerSession, init?: { headers?: Record<string, string>; signal?: AbortSignal }): Promise<SubmitResult>;
  /** Verify a signed manifest with a raw key in the core (the server's check); resolves with the manifest. */
  verifyEvidence(token: string, alg: 'HS256' | 'EdDSA', key: Uint8Array): Promise<EvidenceManifest>;
  /** Frame and timing statistics. */
  stats(): LivenessStats;
  /** Stop everything and terminate the worker. Idempotent. */
  close(): void;

  /** Listen to one event; `fn` receives the `detail`. Returns an unsubscribe function. */
  on<K extends keyof LivenessEventMap>(type: K, fn: (detail: LivenessEventMap[K]['detail'], event: LivenessEventMap[K]) => void): () => void;

  addEventListener<K extends keyof LivenessEventMap>(type: K, listener: (this: Liveness, ev: LivenessEventMap[K]) => any, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof LivenessEventMap>(type: K, listener: (this: Liveness, ev: LivenessEventMap[K]) => any, options?: boolean | EventListenerOptions): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void;
}

export default Liveness;
