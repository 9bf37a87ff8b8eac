// Injection signals in real Chromium (pkg-template/signals.js): a page that wraps getUserMedia
// in a Proxy before importing the SDK is reported in the evidence's signals; Chromium's fake
// camera is named as such, and an untouched page reports no wrapped function.
//   node --test tests/browser/signals.test.mjs   (after scripts/build-pkg.sh; needs chromium)
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

/**
 * On `path`: imports the SDK, runs the camera for a few seconds, ends the session and returns
 * `lv.signals` and the evidence manifest's `signals`.
 */
async function run(path, on = browser) {
  const page = await newPage(on);
  await page.goto(`${server.url}${path}`);
  return page.evaluate(async () => {
    const { Liveness } = await import("/pkg/index.js");
    const lv = await Liveness.create({ challenges: { script: ["BLINK"], timeoutMs: 30000 } });
    try {
      await lv.start();
      // Enough camera frames for the interval statistics.
      await new Promise((r) => setTimeout(r, 2500));
      await lv.finish();
      const live = lv.signals;
      const { manifest } = await lv.evidence();
      return { live, manifest: manifest.signals ?? null, hookCalls: window.__hookCalls ?? null };
    } finally {
      lv.close();
    }
  });
}

test("a getUserMedia wrapped in a Proxy before the SDK loads is in the evidence's signals", { timeout: 180_000 }, async () => {
  const out = await run("/test-pages/wrapped-gum.html");
  console.log(`# signals: ${JSON.stringify(out.live)}`);
  assert.ok(out.hookCalls >= 1, "the SDK opened the camera through the hook");
  assert.ok(out.live.wrapped.includes("getUserMedia"), JSON.stringify(out.live));
  // The prototype's method is the browser's own: only the hooked name is reported.
  assert.ok(!out.live.wrapped.includes("MediaDevices.prototype.getUserMedia"), JSON.stringify(out.live));
  assert.ok(out.manifest, "the evidence manifest carries the signals (needs the core's `signals` in the evidence)");
  assert.ok(out.manifest.wrapped.includes("getUserMedia"), JSON.stringify(out.manifest));
});

test("an untouched page reports no wrapped function; a file-fed fake camera is labelled by its file", { timeout: 180_000 }, async () => {
  const out = await run("/test-pages/blank.html");
  console.log(`# signals: ${JSON.stringify(out.live)}`);
  assert.match(out.live.device_label ?? "", /\.y4m$/);
  assert.deepEqual(out.live.wrapped, [], "natives are not reported");
  const fi = out.live.frame_intervals;
  // The clip is 15 fps.
  assert.ok(fi && fi.count >= 10 && Math.abs(fi.median_ms - 1000 / 15) < 10, JSON.stringify(fi));
  assert.ok(out.manifest, "the evidence manifest carries the signals (needs the core's `signals` in the evidence)");
  assert.deepEqual(out.manifest.wrapped, []);
});

test("Chromium's fake camera (its own test pattern): the device label says fake", { timeout: 180_000 }, async () => {
  const own = await launch(null);
  let out;
  try {
    out = await run("/test-pages/blank.html", own);
  } finally {
    await own.close();
  }
  console.log(`# signals: ${JSON.stringify(out.live)}`);
  assert.match(out.live.device_label ?? "", /fake/i);
  assert.deepEqual(out.live.wrapped, [], "natives are not reported");
  const fi = out.live.frame_intervals;
  assert.ok(fi && fi.count >= 10 && fi.median_ms > 0, JSON.stringify(fi));
  assert.ok(Array.isArray(out.live.settings_inconsistent));
  assert.ok(out.manifest, "the evidence manifest carries the signals (needs the core's `signals` in the evidence)");
  assert.match(out.manifest.device_label ?? "", /fake/i);
  assert.deepEqual(out.manifest.wrapped, []);
});
