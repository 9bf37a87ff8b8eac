// @ts-check
/**
 * `<liveproof-check>`: a framework-free liveness check UI (Shadow DOM). A mirrored camera
 * preview with an oval face guide, the current prompt, progress, an `aria-live` region, and
 * the SDK's six events re-dispatched (bubbling, composed) from the element.
 *
 * ```html
 * <script type="module">
 *   import 'liveproof/element';
 *   document.querySelector('liveproof-check')
 *     .addEventListener('final_result', (e) => console.log(e.detail.label));
 * </script>
 * <liveproof-check lang="de" count="2"></liveproof-check>
 * ```
 * Importing this module defines the element (a side effect).
 * @module
 */

import { Liveness, CORE_EVENTS, LivenessError } from './index.js';
import { stringsFor } from './strings.js';
import { cssColour } from './light.js';

export { STRINGS } from './strings.js';

const ATTRIBUTES = ['challenges', 'count', 'seed', 'base-url', 'detect-every', 'no-smile', 'longer-timeouts', 'no-flash', 'lang'];

/** The element's styles: a constructed stylesheet, so a strict Content-Security-Policy (no inline
 * styles) need not relax `style-src` for it. */
const CSS = `
  :host { display: inline-block; position: relative; width: 100%; max-width: 480px; font: inherit; color: #fff; contain: content; }
  :host([hidden]) { display: none; }
  .stage { position: relative; aspect-ratio: 3 / 4; background: #111; border-radius: 12px; overflow: hidden; }
  .stage video { position: absolute; inset: 0; width: 100%; height: 100%; object-fit: cover; transform: scaleX(-1); }
  svg { position: absolute; inset: 0; width: 100%; height: 100%; pointer-events: none; }
  .mask { fill: rgba(0, 0, 0, 0.55); }
  /* The screen-light challenge: the screen lights the face, so the colour fills everything
     around the face oval (.mask's fill, set through the CSSOM, which a strict CSP allows); the
     prompt keeps a solid backing to stay readable on light colours. */
  .stage[data-light="on"] .prompt { background: rgba(0, 0, 0, 0.7); }
  .oval { fill: none; stroke: #fff; stroke-width: 1.2; transition: stroke 0.2s; }
  .stage[data-state="warn"] .oval { stroke: #f5b400; }
  .stage[data-state="ok"] .oval { stroke: #35c46a; }
  .stage[data-state="real"] .oval { stroke: #35c46a; stroke-width: 2; }
  .stage[data-state="fake"] .oval { stroke: #e5484d; stroke-width: 2; }
  .prompt { position: absolute; left: 0; right: 0; bottom: 0; padding: 12px 16px 16px; text-align: center;
    font-size: 1.15em; line-height: 1.3; background: linear-gradient(transparent, rgba(0, 0, 0, 0.75)); min-height: 2.6em; }
  .progress { position: absolute; top: 10px; left: 0; right: 0; display: flex; gap: 8px; justify-content: center; align-items: center; font-size: 0.9em; }
  .progress ol { display: flex; gap: 6px; margin: 0; padding: 0; list-style: none; }
  .progress li { width: 10px; height: 10px; border-radius: 50%; border: 2px solid #fff; }
  .progress li.done { background: #35c46a; border-color: #35c46a; }
  .progress li.current { background: #fff; }
  .actions { position: absolute; inset: 0; display: flex; align-items: center; justify-content: center; }
  button { font: inherit; font-size: 1.05em; padding: 0.6em 1.4em; border-radius: 999px; border: 0; background: #fff; color: #111; cursor: pointer; }
  button:focus-visible { outline: 3px solid #35c46a; outline-offset: 2px; }
  .sr { position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0; }
  [hidden] { display: none !important; }
`;

const TEMPLATE = `
<div class="stage" part="stage">
  <div class="preview" part="preview"></div>
  <svg viewBox="0 0 30 40" preserveAspectRatio="xMidYMid slice" aria-hidden="true">
    <defs><mask id="m"><rect width="30" height="40" fill="#fff"/><ellipse cx="15" cy="18.5" rx="9" ry="12.5" fill="#000"/></mask></defs>
    <rect class="mask" width="30" height="40" mask="url(#m)"/>
    <ellipse class="oval" part="oval" cx="15" cy="18.5" rx="9" ry="12.5"/>
  </svg>
  <div class="progress" part="progress" hidden>
    <ol></ol><span class="count"></span>
  </div>
  <div class="prompt" part="prompt" aria-hidden="true"></div>
  <div class="actions"><button type="button" part="button"></button></div>
</div>
<div class="sr" role="status" aria-live="polite" aria-atomic="true"></div>
`;

/** @type {CSSStyleSheet|null} */
let sheet = null;

/**
 * Gives a shadow root the element's styles: one shared constructed stylesheet where the
 * browser has them (not subject to a page's `style-src`), else a `<style>` element.
 * @param {ShadowRoot} root
 */
function adoptStyles(root) {
  if ('adoptedStyleSheets' in root && typeof CSSStyleSheet === 'function' && 'replaceSync' in CSSStyleSheet.prototype) {
    if (!sheet) {
      sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
    }
    root.adoptedStyleSheets = [sheet];
  } else {
    const style = document.createElement('style');
    style.textContent = CSS;
    root.prepend(style);
  }
}

/** Parses a comma-separated list of challenge actions. @param {string|null} v */
function list(v) {
  return v === null ? undefined : v.split(',').map((s) => s.trim()).filter(Boolean);
}

/** Parses an integer attribute (left as-is when not a number, so validation names it). @param {string|null} v */
function int(v) {
  if (v === null) return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : v;
}

export class LiveproofCheck extends HTMLElement {
  static get observedAttributes() { return ATTRIBUTES; }

  /** @type {Liveness|null} */ #lv = null;
  /** @type {Promise<Liveness>|null} */ #creating = null;
  /** @type {Record<string, string>} */ #overrides = {};
  /** @type {any} */ #session = null;
  /** @type {Record<string, unknown>} */ #options = {};
  #passed = 0;
  /** @type {string|null} */ #current = null;
  /** @type {string|null} */ #shownGuidance = null;
  /** @type {'idle'|'loading'|'running'|'done'|'error'} */ #phase = 'idle';
  /** @type {Array<() => void>} */ #unsubscribe = [];
  /** @type {ShadowRoot} */ #root;

  constructor() {
    super();
    this.#root = this.attachShadow({ mode: 'open' });
    this.#root.innerHTML = TEMPLATE;
    adoptStyles(this.#root);
    this.#$('button').addEventListener('click', () => {
      (this.#phase === 'done' || this.#phase === 'error' ? this.retry() : this.start()).catch(() => { /* reported via the error event */ });
    });
  }

  /** @param {string} sel @returns {any} */
  #$(sel) {
    return /** @type {any} */ (this.#root.querySelector(sel));
  }

  /** @returns {HTMLElement} */
  #stage() { return this.#$('.stage'); }

  /** The strings in use (the `lang` language with `strings` overrides). */
  get strings() { return stringsFor(this.getAttribute('lang') || this.closest?.('[lang]')?.getAttribute('lang'), this.#overrides); }
  /** Overrides some or all strings (see `STRINGS.en` for the keys). */
  set strings(v) {
    this.#overrides = v && typeof v === 'object' ? { ...v } : {};
    this.#render();
  }

  /** A server session (`POST /v1/sessions`) to run; set before `start()`. */
  get session() { return this.#session; }
  set session(v) {
    this.#session = v ?? null;
    this.#discard();
  }

  /** Extra `Liveness.create` options (attributes take precedence). */
  get options() { return { ...this.#options }; }
  set options(v) {
    this.#options = v && typeof v === 'object' ? { ...v } : {};
    this.#discard();
  }

  /** The running `Liveness` instance, once started. */
  get liveness() { return this.#lv; }

  connectedCallback() {
    this.#render();
    if (this.hasAttribute('autostart')) this.start().catch(() => {});
  }

  disconnectedCallback() {
    this.#close();
  }

  attributeChangedCallback() {
    if (this.#phase === 'idle' || this.#phase === 'done' || this.#phase === 'error') this.#discard();
    this.#render();
  }

  /** The `Liveness.create` options from the attributes and the `options` property. */
  #createOptions() {
    /** @type {any} */
    const o = { ...this.#options };
    /** @type {any} */
    const ch = { ...(o.challenges ?? {}) };
    const actions = list(this.getAttribute('challenges'));
    if (actions) ch.actions = actions;
    const count = int(this.getAttribute('count'));
    if (count !== undefined) ch.count = count;
    const seed = this.getAttribute('seed');
    if (seed !== null) ch.seed = seed;
    if (Object.keys(ch).length) o.challenges = ch;
    /** @type {any} */
    const acc = { ...(o.accessibility ?? {}) };
    if (this.hasAttribute('no-smile')) acc.noSmile = true;
    if (this.hasAttribute('longer-timeouts')) acc.longerTimeouts = true;
    if (Object.keys(acc).length) o.accessibility = acc;
    const base = this.getAttribute('base-url');
    if (base !== null) o.baseUrl = base;
    const every = int(this.getAttribute('detect-every'));
    if (every !== undefined) o.detectEvery = every;
    if (this.hasAttribute('no-flash')) o.light = false;
    if (this.#session) o.session = this.#session;
    return o;
  }

  async #instance() {
    if (this.#lv) return this.#lv;
    if (!this.#creating) {
      this.#creating = Liveness.create(this.#createOptions()).then((lv) => {
        if (!this.isConnected) {
          lv.close();
          throw new LivenessError('closed', 'the element was removed from the document while loading');
        }
        this.#lv = lv;
        this.#wire(lv);
        return lv;
      }).finally(() => { this.#creating = null; });
    }
    return this.#creating;
  }

  /** @param {Liveness} lv */
  #wire(lv) {
    for (const type of CORE_EVENTS) {
      this.#unsubscribe.push(lv.on(type, (detail) => {
        this.#onCore(type, detail);
        this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
      }));
    }
    this.#unsubscribe.push(lv.on('frame', (detail) => this.#onFrame(detail)));
    // Painted inside the animation frame that sets the colour: on screen in the next frame,
    // the onset the evidence records.
    this.#unsubscribe.push(lv.on('light', (detail) => {
      this.#paintLight(detail.colour);
      this.dispatchEvent(new CustomEvent('light', { detail, bubbles: true, composed: true }));
    }));
    this.#unsubscribe.push(lv.on('error', (err) => this.dispatchEvent(new CustomEvent('error', { detail: err, bubbles: true, composed: true }))));
  }

  /** Opens the camera and runs the check. Rejects (and dispatches `error`) on failure. */
  async start() {
    if (this.#phase === 'loading' || this.#phase === 'running') return;
    this.#phase = 'loading';
    this.#passed = 0;
    this.#current = null;
    this.#shownGuidance = null;
    this.#prompt(this.strings.loading, false);
    this.#render();
    try {
      const lv = await this.#instance();
      if (lv.done) await lv.reset(this.#session ? { session: this.#session } : {});
      this.#prompt(this.strings.camera, false);
      await lv.start();
      const video = lv.video;
      if (video) {
        video.setAttribute('part', 'video');
        video.setAttribute('aria-hidden', 'true');
        this.#$('.preview').replaceChildren(video);
      }
      this.#phase = 'running';
      this.#prompt(this.strings.passive, true);
      this.#render();
    } catch (e) {
      this.#fail(e);
      throw e;
    }
  }

  /** Stops the camera (the session stays; `start()` resumes it). */
  async stop() {
    if (this.#lv?.state === 'running') await this.#lv.stop();
    this.#$('.preview').replaceChildren();
    if (this.#phase === 'running' || this.#phase === 'loading') this.#phase = 'idle';
    this.#render();
  }

  /** Runs a new session (a server session needs a fresh `session` property first). */
  async retry() {
    if (this.#lv) {
      if (this.#lv.state === 'running') await this.#lv.stop();
      try {
        await this.#lv.reset(this.#session ? { session: this.#session } : {});
      } catch (e) {
        this.#fail(e);
        throw e;
      }
    }
    this.#phase = 'idle';
    return this.start();
  }

  /** @param {unknown} e */
  #fail(e) {
    const err = e instanceof LivenessError ? e : new LivenessError('internal', String(e));
    this.#phase = 'error';
    const s = this.strings;
    const text = err.code === 'camera_denied' ? s.camera_denied : err.code === 'camera_unavailable' ? s.camera_unavailable : s.error;
    this.#stage().dataset.state = 'fake';
    this.#prompt(text, true);
    this.#render();
    this.dispatchEvent(new CustomEvent('error', { detail: err, bubbles: true, composed: true }));
  }

  /** @param {string} type @param {any} d */
  #onCore(type, d) {
    const s = this.strings;
    switch (type) {
      case 'challenge_start':
        this.#current = d.action;
        this.#shownGuidance = null;
        this.#prompt(s[d.action] ?? d.action, true);
        break;
      case 'challenge_result':
        if (d.status === 'passed') this.#passed++;
        this.#current = null;
        if (d.status === 'passed') this.#prompt(s.challenge_passed, false);
        break;
      case 'guidance':
        // Announce changes only; the visible prompt follows every frame (#onFrame).
        this.#announce(s[d.reason] ?? d.message);
        break;
      case 'final_result':
        // A light sequence still playing goes on (the recording runs until it ends).
        if (!this.#lv?.light?.current) this.#paintLight(null);
        this.#phase = 'done';
        this.#current = null;
        this.#stage().dataset.state = d.label === 'REAL' ? 'real' : 'fake';
        this.#prompt(d.label === 'REAL' ? s.real : s.fake, true);
        this.#lv?.stop().catch(() => {});
        break;
      default:
        break;
    }
    this.#render();
  }

  /** @param {{record: any}} detail */
  #onFrame({ record }) {
    if (this.#phase !== 'running') return;
    const g = record.guidance?.[0] ?? null;
    if (g !== this.#shownGuidance) {
      this.#shownGuidance = g;
      const s = this.strings;
      const lightOn = this.#stage().dataset.light === 'on';
      const text = g ? (s[g] ?? g) : this.#current ? (s[this.#current] ?? this.#current) : lightOn ? s.light_hint : s.passive;
      this.#prompt(text, false);
    }
    this.#stage().dataset.state = g ? 'warn' : 'ok';
  }

  /**
   * Paints the light colour around the oval (null: back to the normal dimmed mask).
   * @param {readonly number[]|null} colour
   */
  #paintLight(colour) {
    const mask = this.#$('.mask');
    const stage = this.#stage();
    const wasOn = stage.dataset.light === 'on';
    if (colour) {
      mask.style.fill = cssColour(colour);
      stage.dataset.light = 'on';
      if (!wasOn && !this.#current) this.#prompt(this.strings.light_hint, true);
    } else {
      mask.style.fill = '';
      delete stage.dataset.light;
      if (wasOn && this.#phase === 'running' && !this.#current) this.#prompt(this.strings.passive, false);
    }
  }

  /** @param {string} text @param {boolean} announce */
  #prompt(text, announce) {
    this.#$('.prompt').textContent = text;
    if (announce) this.#announce(text);
  }

  /** @param {string} text */
  #announce(text) {
    const live = this.#$('[role="status"]');
    // Re-setting the same text is not announced: clear first.
    if (live.textContent === text) live.textContent = '';
    live.textContent = text;
  }

  #render() {
    const s = this.strings;
    const button = this.#$('button');
    const idle = this.#phase === 'idle' || this.#phase === 'done' || this.#phase === 'error';
    button.hidden = !idle;
    button.textContent = this.#phase === 'idle' ? s.start : s.retry;
    if (this.#phase === 'idle' && !this.#$('.prompt').textContent) this.#$('.prompt').textContent = '';
    const total = this.#lv?.script.length ?? 0;
    const progress = this.#$('.progress');
    progress.hidden = !(total > 0 && this.#phase !== 'idle');
    if (total > 0) {
      const ol = this.#$('.progress ol');
      if (ol.children.length !== total) ol.replaceChildren(...Array.from({ length: total }, () => document.createElement('li')));
      [...ol.children].forEach((li, i) => {
        li.className = i < this.#passed ? 'done' : i === this.#passed && this.#current ? 'current' : '';
      });
      const count = this.#$('.count');
      count.textContent = s.progress.replace('{done}', String(this.#passed)).replace('{total}', String(total));
      progress.setAttribute('role', 'progressbar');
      progress.setAttribute('aria-label', s.progress_label);
      progress.setAttribute('aria-valuemin', '0');
      progress.setAttribute('aria-valuemax', String(total));
      progress.setAttribute('aria-valuenow', String(this.#passed));
    }
  }

  /** Drops the instance so the next start() uses the new settings. */
  #discard() {
    if (this.#phase === 'loading' || this.#phase === 'running') return;
    this.#close();
  }

  #close() {
    this.#paintLight(null);
    for (const u of this.#unsubscribe) u();
    this.#unsubscribe = [];
    this.#lv?.close();
    this.#lv = null;
    this.#phase = 'idle';
    this.#passed = 0;
    this.#current = null;
    delete this.#stage().dataset.state;
    this.#$('.preview')?.replaceChildren();
  }
}

if (typeof customElements !== 'undefined' && !customElements.get('liveproof-check')) {
  customElements.define('liveproof-check', LiveproofCheck);
}
