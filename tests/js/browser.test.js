// End to end in real Chromium (Debian's /usr/bin/chromium driven by playwright-core) with a
// fake camera playing frames of a live person blinking: the module worker, the SIMD probe,
// requestVideoFrameCallback, the drop-never-queue frame loop, the Cache API, WebCrypto
// signing and <liveproof-check>. A missing Chromium fails these tests (scripts/install-deps.sh
// installs it); it never skips them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { existsSync, createReadStream, statSync } from 'node:fs';
import { join, extname, normalize } from 'node:path';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { ROOT, MEDIA } from './helpers.js';

const CHROMIUM = process.env.LIVEPROOF_CHROMIUM ?? '/usr/bin/chromium';

const TYPES = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.html': 'text/html', '.wasm': 'application/wasm', '.json': 'application/json', '.onnx': 'application/octet-stream' };
let server;
let origin;
let browser;

/** The fake camera: the blink clip at 15 fps as Y4M (a temp file, never committed). */
function fakeCameraFile() {
  const out = join(tmpdir(), 'liveproof-js-blink-640x360-15.y4m');
  if (!existsSync(out)) {
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', join(MEDIA, 'video_live', 'moun_blink_drowsy.mp4'), '-vf', 'fps=15,scale=640:360', '-pix_fmt', 'yuv420p', out]);
  }
  return out;
}

before(async () => {
  assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: run scripts/install-deps.sh or set LIVEPROOF_CHROMIUM`);
  // A static server for pkg/ (as /pkg/) and the test page, like any web app hosting the package.
  server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname));
    const file = path.startsWith('/pkg/') ? join(ROOT, path) : join(ROOT, 'tests', 'js', 'browser', path === '/' ? 'page.html' : path);
    if (!file.startsWith(ROOT) || !existsSync(file) || statSync(file).isDirectory()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
    createReadStream(file).pipe(res);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${server.address().port}`;
  const { chromium } = await import('playwright-core');
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${fakeCameraFile()}`],
  });
});

after(async () => {
  await browser?.close();
  server?.close();
});

test('Liveness in Chromium: worker + SIMD + camera loop reach REAL, evidence signs and verifies', { timeout: 240000 }, async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${origin}/blank.html`);
  const out = await page.evaluate(async () => {
    const { Liveness } = await import('/pkg/index.js');
    const t0 = performance.now();
    // A long challenge window: on a loaded machine few frames are analysed, and the looping clip
    // blinks again later.
    const lv = await Liveness.create({ challenges: { script: ['BLINK'], timeoutMs: 40000 }, landmarks: true });
    const loadMs = performance.now() - t0;
    const seen = [];
    for (const t of ['phase', 'challenge_start', 'challenge_result', 'final_result', 'guidance']) lv.addEventListener(t, (e) => seen.push(e.detail));
    let frames = 0;
    let landmarks = 0;
    lv.on('frame', (d) => { frames++; landmarks = d.landmarks?.length ?? -1; });
    const final = new Promise((resolve) => lv.on('final_result', resolve));
    await lv.start();
    const videoSize = [lv.video.videoWidth, lv.video.videoHeight];
    const result = await Promise.race([final, new Promise((r) => setTimeout(() => r({ timeout: true }), 120000))]);
    const framesAtFinal = frames;
    await new Promise((r) => setTimeout(r, 500));
    const framesAfter = frames;
    await lv.stop();
    const stats = lv.stats();
    // Sign with HS256 and verify in the core, as the server would.
    const secret = crypto.getRandomValues(new Uint8Array(32));
    const token = await lv.sign({ alg: 'HS256', kid: 'browser-test', secret });
    const manifest = await lv.verifyEvidence(token, 'HS256', secret);
    const pair = await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']);
    const raw = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
    const edToken = await lv.sign({ alg: 'EdDSA', kid: 'kiosk', privateKey: pair.privateKey });
    const edManifest = await lv.verifyEvidence(edToken, 'EdDSA', raw);
    const cached = (await caches.keys()).filter((k) => k.startsWith('liveproof-models-'));
    lv.close();
    return { loadMs, result, seen, stats, framesAtFinal, framesAfter, landmarks, videoSize, items: manifest.items.length, edSession: edManifest.session_id, sessionId: lv.sessionId, cached, info: lv.info };
  });
  assert.deepEqual(errors, []);
  assert.ok(!out.result.timeout, `no final_result in 120 s: ${JSON.stringify(out.seen)} ${JSON.stringify(out.stats)}`);
  assert.equal(out.result.label, 'REAL', JSON.stringify(out));
  assert.deepEqual(out.result.passed, ['BLINK']);
  assert.equal(out.info.flavour, 'simd');
  assert.equal(out.info.transport, 'worker');
  assert.equal(out.stats.wasm, 'simd');
  assert.ok(out.stats.framesAnalysed >= 10, JSON.stringify(out.stats));
  assert.ok(out.stats.medianMs > 0 && out.stats.p90Ms >= out.stats.medianMs);
  assert.equal(out.framesAfter, out.framesAtFinal, 'no frames after final_result');
  assert.equal(out.landmarks, 478 * 2);
  assert.deepEqual(out.videoSize, [640, 360]);
  assert.ok(out.items >= 2);
  assert.equal(out.edSession, out.sessionId);
  assert.equal(out.cached.length, 1);
  console.log(`# chromium: load ${Math.round(out.loadMs)} ms, ${out.stats.framesAnalysed} frames analysed, ${out.stats.framesDropped} dropped, median ${out.stats.medianMs.toFixed(1)} ms, p90 ${out.stats.p90Ms.toFixed(1)} ms`);
  await page.close();
});

test('<liveproof-check> in Chromium: German prompts, progress, bubbling events, aria-live result', { timeout: 240000 }, async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${origin}/`);
  await page.evaluate(async () => {
    window.__events = [];
    for (const t of ['phase', 'challenge_start', 'challenge_result', 'final_result', 'guidance', 'error']) {
      document.addEventListener(t, (e) => window.__events.push({ type: t, detail: e.detail, target: e.composedPath()[0].tagName }));
    }
    await import('/pkg/element.js');
    document.querySelector('liveproof-check').options = { challenges: { timeoutMs: 40000 } };
  });
  const el = page.locator('liveproof-check');
  assert.equal(await el.locator('button').textContent(), 'Starten');
  await el.locator('button').click();
  await page.waitForFunction(() => window.__events.some((e) => e.type === 'final_result' || e.type === 'error'), null, { timeout: 150000 });
  const state = await page.evaluate(() => {
    const root = document.querySelector('liveproof-check').shadowRoot;
    return {
      events: window.__events.map((e) => ({ type: e.type, target: e.target, detail: e.type === 'error' ? String(e.detail) : e.detail })),
      prompt: root.querySelector('.prompt').textContent,
      live: root.querySelector('[role="status"]').textContent,
      liveAttr: root.querySelector('[role="status"]').getAttribute('aria-live'),
      progress: root.querySelector('.count').textContent,
      dots: [...root.querySelectorAll('.progress li')].map((li) => li.className),
      button: root.querySelector('button').textContent,
      video: !!root.querySelector('video'),
      mirrored: getComputedStyle(root.querySelector('video') ?? document.body).transform,
    };
  });
  assert.deepEqual(errors, []);
  const final = state.events.find((e) => e.type === 'final_result');
  assert.ok(final, JSON.stringify(state));
  assert.equal(final.target, 'LIVEPROOF-CHECK');
  assert.equal(final.detail.label, 'REAL');
  assert.ok(state.events.some((e) => e.type === 'challenge_start' && e.detail.action === 'BLINK'));
  assert.equal(state.prompt, 'Bestätigt: Sie sind eine echte Person');
  assert.equal(state.live, 'Bestätigt: Sie sind eine echte Person');
  assert.equal(state.liveAttr, 'polite');
  assert.equal(state.progress, '1 von 1');
  assert.deepEqual(state.dots, ['done']);
  assert.equal(state.button, 'Erneut versuchen');
  assert.equal(state.mirrored, 'matrix(-1, 0, 0, 1, 0, 0)');
  await page.close();
});

test('kiosk DeviceKey in Chromium: Ed25519 in real IndexedDB survives a reload, private key stays non-extractable', { timeout: 60000 }, async () => {
  const page = await browser.newPage();
  await page.goto(`${origin}/blank.html`);
  const make = () => page.evaluate(async () => {
    const { DeviceKey } = await import('/pkg/kiosk.js');
    const key = await DeviceKey.loadOrCreate('browser-test');
    let exported = 'refused';
    try { await crypto.subtle.exportKey('pkcs8', key.privateKey); exported = 'exported'; } catch { /* expected */ }
    return { pub: key.publicKeyBase64url(), extractable: key.privateKey.extractable, exported, id: key.deviceId };
  });
  const first = await make();
  await page.evaluate(async () => {
    const { DeviceKey } = await import('/pkg/kiosk.js');
    await (await DeviceKey.loadOrCreate('browser-test')).setDeviceId('dev-browser');
  });
  await page.reload();
  const second = await make();
  assert.match(first.pub, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(second.pub, first.pub);
  assert.equal(second.extractable, false);
  assert.equal(second.exported, 'refused');
  assert.equal(second.id, 'dev-browser');
  await page.close();
});
