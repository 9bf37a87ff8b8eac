// Injection signals in real Chromium (pkg-template/signals.js): a page that wraps getUserMedia
// in a Proxy before importing the SDK is reported in the evidence's signals; Chromium's fake
// camera is named as such, and an untouched page reports no wrapped function. And what the
// recording takes from a `<video>` source: its picture, never its sound.
//   node --test tests/browser/signals.test.mjs   (after scripts/build-pkg.sh; needs chromium)
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { startStaticServer } from "./static-server.mjs";
import { clip, launch, media, newPage, repo } from "./harness.mjs";

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

test("a <video> source with sound is recorded without its sound", { timeout: 180_000 }, async () => {
  // A clip with a real audio track (the smile clip's Vorbis), cut short into target/.
  const av = join(repo, "target/browser-tests/with-sound.webm");
  mkdirSync(dirname(av), { recursive: true });
  execFileSync("ffmpeg", ["-v", "error", "-y", "-t", "6", "-i", join(media, "video_live/zub_real_smile_wave.webm"),
    "-c:v", "copy", "-c:a", "copy", av]);
  const page = await newPage(browser);
  await page.route("**/with-sound.webm", (route) => route.fulfill({ path: av, contentType: "video/webm" }));
  await page.goto(`${server.url}/test-pages/blank.html`);
  const out = await page.evaluate(async () => {
    const { Liveness } = await import("/pkg/index.js");
    const video = document.createElement("video");
    video.muted = true;
    video.loop = true;
    video.playsInline = true;
    video.src = "/with-sound.webm";
    document.body.append(video);
    await video.play();
    const sourceAudio = video.captureStream().getAudioTracks().length;
    const lv = await Liveness.create({ recordClip: true, challenges: { script: ["SMILE"], timeoutMs: 30000 } });
    try {
      await lv.start(video);
      await new Promise((r) => setTimeout(r, 3000));
      await lv.finish();
      const { items } = await lv.evidence();
      const clip = items.find((i) => i.kind === "clip");
      return { sourceAudio, clip: clip ? Array.from(clip.data) : null };
    } finally {
      lv.close();
    }
  });
  assert.ok(out.sourceAudio >= 1, "the source must have sound for this test to mean anything");
  assert.ok(out.clip && out.clip.length > 1000, "a clip was recorded");
  const file = join(repo, "target/browser-tests/recorded-from-video.webm");
  writeFileSync(file, Buffer.from(out.clip));
  const streams = execFileSync("ffprobe", ["-v", "error", "-show_entries", "stream=codec_type", "-of", "csv=p=0", file],
    { encoding: "utf8" }).trim().split("\n");
  assert.deepEqual(streams, ["video"], `the recording's streams: ${streams}`);
});
