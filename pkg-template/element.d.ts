/**
 * `<liveproof-check>`: a framework-free liveness check UI. Importing `liveproof/element`
 * defines the element.
 *
 * Attributes (all optional): `challenges` (comma-separated action pool), `count`, `seed`,
 * `base-url`, `detect-every`, `no-smile`, `longer-timeouts`, `no-flash` (option `light: false`:
 * a server session must then be created with `{"light": false}`), `lang` (`en`, `de`, `fr`,
 * `es`; otherwise English), `autostart` (start when connected; the browser still asks for the
 * camera). With a server session that has a screen-light sequence, the element paints each
 * colour around the face oval while it records. Events (bubbling, composed, `detail` = the
 * core's message): `phase`, `frame_result`, `challenge_start`, `challenge_result`,
 * `final_result`, `guidance`, plus `light` (`detail`: `{index, colour, t_ms}`) and `error`
 * (`detail`: a LivenessError).
 */
import type {
  Liveness,
  LivenessError,
  LivenessOptions,
  ServerSession,
  CoreEventMap,
  LiveproofStrings,
  LightEventDetail,
} from './index.js';

export type { LiveproofStrings } from './index.js';
/** Built-in strings by language (the same object as `liveproof`'s `STRINGS`). */
export { STRINGS } from './index.js';

/** Events of `<liveproof-check>`: the core events, `light` and `error`. */
export interface LiveproofCheckEventMap extends HTMLElementEventMap, CoreEventMap {
  light: CustomEvent<LightEventDetail>;
  error: CustomEvent<LivenessError> & ErrorEvent;
}

export declare class LiveproofCheck extends HTMLElement {
  static readonly observedAttributes: string[];
  /** The strings in use; assign a partial object to override some. */
  get strings(): LiveproofStrings;
  set strings(value: Partial<LiveproofStrings>);
  /** A server session to run (set before `start()`; set a new one before a retry). */
  session: ServerSession | null;
  /** Extra `Liveness.create` options (attributes take precedence). */
  options: LivenessOptions;
  /** The Liveness instance, once created. */
  readonly liveness: Liveness | null;
  /** Open the camera and run the check. */
  start(): Promise<void>;
  /** Stop the camera. */
  stop(): Promise<void>;
  /** Run a new session. */
  retry(): Promise<void>;

  addEventListener<K extends keyof LiveproofCheckEventMap>(type: K, listener: (this: LiveproofCheck, ev: LiveproofCheckEventMap[K]) => any, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject, options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof LiveproofCheckEventMap>(type: K, listener: (this: LiveproofCheck, ev: LiveproofCheckEventMap[K]) => any, options?: boolean | EventListenerOptions): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject, options?: boolean | EventListenerOptions): void;
}

declare global {
  interface HTMLElementTagNameMap {
    'liveproof-check': LiveproofCheck;
  }
}
