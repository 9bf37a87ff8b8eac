// The package's API itself in real headless Chromium, outside the demo pages: a fake camera
// playing a live person blinking drives the module worker, the SIMD probe,
// requestVideoFrameCallback, the drop-never-queue frame loop, the Cache API, WebCrypto signing,
// <liveproof-check> (on tests/browser/pages/) and the kiosk's DeviceKey in real IndexedDB.
//   node --test tests/browser/   (after scripts/build-pkg.sh; needs ffmpeg and chromium)
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { startStaticServer } from "./static-server.mjs";
import { clip, launch, newPage, repo } from "./harness.mjs";

let server;
let browser;

before(async () => {
  assert.ok(existsSync(join(repo, "pkg/index.js")), "pkg/ is not built: run scripts/build-pkg.sh first");
  server = await startStaticServer();
  browser = await launch(clip("live_blink_moun_640x360"));
});

after(async () => {
  await browser?.close();
  await server?.close();
});

/** A fresh page on `path` of the static server, and the page errors it reports. */
async function open(path) {
  const page = await newPage(browser);
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(`${server.url}${path}`);
  return { page, errors };
}

test("Liveness in Chromium: worker + SIMD + camera loop reach REAL, evidence signs and verifies", { timeout: 240_000 }, async () => {
  const { page, errors } = await open("/test-pages/blank.html");
  const out = await page.evaluate(async () => {
    const { Liveness } = await import("/pkg/index.js");
    const t0 = performance.now();
    // A long challenge window: on a loaded machine few frames are analysed, and the looping clip
    // blinks again later.
    const lv = await Liveness.create({ challenges: { script: ["BLINK"], timeoutMs: 40000 }, landmarks: true });
    const loadMs = performance.now() - t0;
    const seen = [];
    for (const t of ["phase", "challenge_start", "challenge_result", "final_result", "guidance"]) lv.addEventListener(t, (e) => seen.push(e.detail));
    let frames = 0;
    let landmarks = 0;
    lv.on("frame", (d) => {
      frames++;
      landmarks = d.landmarks?.length ?? -1;
    });
    const final = new Promise((resolve) => lv.on("final_result", resolve));
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
    const token = await lv.sign({ alg: "HS256", kid: "browser-test", secret });
    const manifest = await lv.verifyEvidence(token, "HS256", secret);
    const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
    const raw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
    const edToken = await lv.sign({ alg: "EdDSA", kid: "kiosk", privateKey: pair.privateKey });
    const edManifest = await lv.verifyEvidence(edToken, "EdDSA", raw);
    const cached = (await caches.keys()).filter((k) => k.startsWith("liveproof-models-"));
    lv.close();
    return { loadMs, result, seen, stats, framesAtFinal, framesAfter, landmarks, videoSize, items: manifest.items.length, edSession: edManifest.session_id, sessionId: lv.sessionId, cached, info: lv.info };
  });
  assert.deepEqual(errors, []);
  assert.ok(!out.result.timeout, `no final_result in 120 s: ${JSON.stringify(out.seen)} ${JSON.stringify(out.stats)}`);
  assert.equal(out.result.label, "REAL", JSON.stringify(out));
  assert.deepEqual(out.result.passed, ["BLINK"]);
  assert.equal(out.info.flavour, "simd");
  assert.equal(out.info.transport, "worker");
  assert.equal(out.stats.wasm, "simd");
  assert.ok(out.stats.framesAnalysed >= 10, JSON.stringify(out.stats));
  assert.ok(out.stats.medianMs > 0 && out.stats.p90Ms >= out.stats.medianMs);
  assert.equal(out.framesAfter, out.framesAtFinal, "no frames after final_result");
  assert.equal(out.landmarks, 478 * 2);
  assert.deepEqual(out.videoSize, [640, 360]);
  assert.ok(out.items >= 2);
  assert.equal(out.edSession, out.sessionId);
  assert.equal(out.cached.length, 1);
  console.log(`# chromium: load ${Math.round(out.loadMs)} ms, ${out.stats.framesAnalysed} frames analysed, ${out.stats.framesDropped} dropped, median ${out.stats.medianMs.toFixed(1)} ms, p90 ${out.stats.p90Ms.toFixed(1)} ms`);
  await page.close();
});

test("<liveproof-check> in Chromium: German prompts, progress, bubbling events, aria-live result", { timeout: 240_000 }, async () => {
  const { page, errors } = await open("/test-pages/liveproof-check.html");
  await page.evaluate(async () => {
    window.__events = [];
    for (const t of ["phase", "challenge_start", "challenge_result", "final_result", "guidance", "error"]) {
      document.addEventListener(t, (e) => window.__events.push({ type: t, detail: e.detail, target: e.composedPath()[0].tagName }));
    }
    await import("/pkg/element.js");
    document.querySelector("liveproof-check").options = { challenges: { timeoutMs: 40000 } };
  });
  const el = page.locator("liveproof-check");
  assert.equal(await el.locator("button").textContent(), "Starten");
  await el.locator("button").click();
  await page.waitForFunction(() => window.__events.some((e) => e.type === "final_result" || e.type === "error"), null, { timeout: 150_000 });
  const state = await page.evaluate(() => {
    const root = document.querySelector("liveproof-check").shadowRoot;
    return {
      events: window.__events.map((e) => ({ type: e.type, target: e.target, detail: e.type === "error" ? String(e.detail) : e.detail })),
      prompt: root.querySelector(".prompt").textContent,
      live: root.querySelector('[role="status"]').textContent,
      liveAttr: root.querySelector('[role="status"]').getAttribute("aria-live"),
      progress: root.querySelector(".count").textContent,
      dots: [...root.querySelectorAll(".progress li")].map((li) => li.className),
      button: root.querySelector("button").textContent,
      video: !!root.querySelector("video"),
      mirrored: getComputedStyle(root.querySelector("video") ?? document.body).transform,
    };
  });
  assert.deepEqual(errors, []);
  const final = state.events.find((e) => e.type === "final_result");
  assert.ok(final, JSON.stringify(state));
  assert.equal(final.target, "LIVEPROOF-CHECK");
  assert.equal(final.detail.label, "REAL");
  assert.ok(state.events.some((e) => e.type === "challenge_start" && e.detail.action === "BLINK"));
  assert.equal(state.prompt, "Bestätigt: Sie sind eine echte Person");
  assert.equal(state.live, "Bestätigt: Sie sind eine echte Person");
  assert.equal(state.liveAttr, "polite");
  assert.equal(state.progress, "1 von 1");
  assert.deepEqual(state.dots, ["done"]);
  assert.equal(state.button, "Erneut versuchen");
  assert.equal(state.mirrored, "matrix(-1, 0, 0, 1, 0, 0)");
  await page.close();
});

test("kiosk DeviceKey in Chromium: Ed25519 in real IndexedDB survives a reload, private key stays non-extractable", { timeout: 60_000 }, async () => {
  const { page } = await open("/test-pages/blank.html");
  const make = () =>
    page.evaluate(async () => {
      const { DeviceKey } = await import("/pkg/kiosk.js");
      const key = await DeviceKey.loadOrCreate("browser-test");
      let exported = "refused";
      try {
        await crypto.subtle.exportKey("pkcs8", key.privateKey);
        exported = "exported";
      } catch {
        /* expected */
      }
      return { pub: key.publicKeyBase64url(), extractable: key.privateKey.extractable, exported, id: key.deviceId };
    });
  const first = await make();
  await page.evaluate(async () => {
    const { DeviceKey } = await import("/pkg/kiosk.js");
    await (await DeviceKey.loadOrCreate("browser-test")).setDeviceId("dev-browser");
  });
  await page.reload();
  const second = await make();
  assert.match(first.pub, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(second.pub, first.pub);
  assert.equal(second.extractable, false);
  assert.equal(second.exported, "refused");
  assert.equal(second.id, "dev-browser");
  await page.close();
});
