// The SDK in real headless Chromium with a fake camera playing real clips (client side only;
// tests/browser/server.test.mjs covers the flows with liveproof-server). Screenshots of every
// run go to target/browser-tests/.
//   node --test tests/browser/   (after scripts/build-pkg.sh; needs ffmpeg and chromium)
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startStaticServer } from "./static-server.mjs";
import { clip, launch, newPage, screenshot } from "./harness.mjs";

let server;
before(async () => (server = await startStaticServer()));
after(() => server?.close());

/** Runs the demo page on a clip until final_result (or an error); returns what it saw. */
async function runDemo(clipName, query, shot) {
  const browser = await launch(clip(clipName));
  try {
    const page = await newPage(browser);
    await page.goto(`${server.url}/?${query}&server=0&autostart=1`);
    await page.waitForFunction(() => window.demo?.final || window.demo?.error, null, { timeout: 120_000, polling: 250 });
    const seen = await page.evaluate(() => ({
      final: window.demo.final,
      error: window.demo.error,
      events: window.demo.events,
      stats: window.demo.lv?.stats(),
    }));
    await screenshot(page, shot);
    console.log(`# ${shot}: ${JSON.stringify(seen.final)} stats ${JSON.stringify(seen.stats)}`);
    return seen;
  } finally {
    await browser.close();
  }
}

const types = (events) => events.filter((e) => e.type !== "frame_result").map((e) => (e.type === "guidance" ? `guidance:${e.reason}` : e.type));

test("a live clip reaches final_result REAL with its challenge passed", async () => {
  const seen = await runDemo("live_blink_moun", "challenges=BLINK", "demo-live-blink");
  assert.equal(seen.error, null);
  assert.equal(seen.final.label, "REAL", JSON.stringify(seen.final));
  assert.deepEqual(seen.final.passed, ["BLINK"]);
  const t = types(seen.events);
  const order = ["phase", "challenge_start", "challenge_result", "final_result"].map((x) => t.indexOf(x));
  assert.ok(order.every((i, k) => i >= 0 && (k === 0 || i > order[k - 1])), `event order: ${t.join(" ")}`);
  assert.deepEqual(seen.events.find((e) => e.type === "challenge_result"), { type: "challenge_result", action: "BLINK", status: "passed" });
  const frames = seen.events.filter((e) => e.type === "frame_result");
  assert.ok(frames.length >= 3, `frame_result events: ${frames.length}`);
  assert.ok(frames.every((f) => f.confidence >= 0 && f.confidence <= 1 && ["REAL", "FAKE"].includes(f.label)));
  assert.ok(seen.stats.framesAnalysed >= 10, `analysed ${seen.stats.framesAnalysed} frames`);
});

test("a phone replay clip does not pass", async () => {
  const seen = await runDemo("spoof_phone_replay_zub", "challenges=BLINK", "demo-spoof-replay");
  assert.equal(seen.error, null);
  assert.equal(seen.final.label, "FAKE", JSON.stringify(seen.final));
  const frames = seen.events.filter((e) => e.type === "frame_result");
  const fake = frames.filter((f) => f.label === "FAKE").length;
  assert.ok(fake * 2 > frames.length, `${fake} of ${frames.length} frames scored FAKE`);
});

test("a clip without a face gives no_face guidance and no pass", async () => {
  const seen = await runDemo("no_face", "challenges=BLINK", "demo-no-face");
  assert.equal(seen.error, null);
  assert.ok(types(seen.events).includes("guidance:no_face"), types(seen.events).join(" "));
  assert.equal(seen.final.label, "FAKE");
  assert.deepEqual(seen.final.passed, []);
  assert.ok(!seen.events.some((e) => e.type === "frame_result"), "no face, no anti-spoofing score");
});

test("the kiosk page works with the network off after the first load", async () => {
  const browser = await launch(clip("live_blink_moun"));
  try {
    const context = await browser.newContext();
    const page = await newPage(browser, context);
    await page.goto(`${server.url}/kiosk.html`);
    await page.waitForFunction(() => window.kiosk?.ready, null, { timeout: 120_000, polling: 250 });
    // The service worker has precached the page and the package.
    await page.waitForFunction(async () => (await navigator.serviceWorker.ready).active?.state === "activated", null, { timeout: 60_000 });
    await context.setOffline(true);
    await page.reload();
    await page.waitForFunction(() => window.kiosk?.ready, null, { timeout: 120_000, polling: 250 });
    assert.equal(await page.evaluate(() => navigator.onLine), false);
    await page.waitForFunction(() => window.kiosk.results.length > 0, null, { timeout: 120_000, polling: 250 });
    const result = await page.evaluate(() => window.kiosk.results[0]);
    await screenshot(page, "kiosk-offline");
    assert.ok(["REAL", "FAKE"].includes(result.label), JSON.stringify(result));
    const sources = await page.evaluate(() => window.kiosk.lv.info.models.map((m) => m.source));
    assert.ok(sources.every((s) => s !== "network"), `models came from ${sources}`);
  } finally {
    await browser.close();
  }
});
