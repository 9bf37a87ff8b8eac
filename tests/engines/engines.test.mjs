// The SDK end to end in Firefox ESR and WebKitGTK (Chromium has its own tests in
// tests/browser/): a <video> playing real clips from ../shared/media feeds the default worker
// mode (the fake cameras of these engines show no face), through W3C WebDriver (drivers.mjs).
//   node --test --test-concurrency=1 tests/engines/   (after scripts/build-pkg.sh; needs
//   scripts/install-deps.sh: firefox-esr, geckodriver, webkit2gtk-driver, xvfb)
// Each engine's line in the output gives its version, cold start (create → ready) and frames/s.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { compactVerify, importJWK } from "jose";
import { media, repo } from "../browser/harness.mjs";
import { startStaticServer } from "../browser/static-server.mjs";
import { ENGINES, callPage, openBrowser, openPage } from "./drivers.mjs";

// A person blinking (drowsy: long eye closures) and a phone replay of another person's clip.
const LIVE = "video_live/moun_blink_drowsy.mp4";
const REPLAY = "video_spoof/zub_fake_phone_replay.webm";

let server;
before(async () => {
  assert.ok(existsSync(join(repo, "pkg/index.js")), "pkg/ is not built: run scripts/build-pkg.sh first");
  for (const f of [LIVE, REPLAY]) assert.ok(existsSync(join(media, f)), `missing media file ${join(media, f)} (set LIVEPROOF_MEDIA)`);
  server = await startStaticServer();
});
after(() => server?.close());

const b64 = (s) => Buffer.from(s, "base64url");
const fmt = (r) => `cold start ${Math.round(r.coldMs)} ms (models from ${[...new Set(r.info?.models.map((m) => m.source))]}), ${r.stats?.framesAnalysed} frames in ${(r.runMs / 1000).toFixed(1)} s = ${r.fps?.toFixed(1)} frames/s (core median ${r.stats?.medianMs?.toFixed(1)} ms, p90 ${r.stats?.p90Ms?.toFixed(1)} ms, ${r.stats?.framesDropped} dropped)`;

for (const engine of ENGINES) {
  describe(engine, () => {
    let browser;
    let live; // the live session's outcome, whose evidence the third test checks

    before(async () => {
      browser = await openBrowser(engine);
      console.log(`# ${engine}: ${browser.version}`);
    });
    after(() => browser?.quit());

    /** A fresh page running one session on `clip`. */
    async function run(clip, opts) {
      await openPage(browser.driver, `${server.url}/engine-pages/engine.html`);
      const r = await callPage(browser.driver, "session", { clip: `/media/${clip}`, ...opts });
      console.log(`# ${browser.version} ${clip}: ${JSON.stringify(r.result)}; ${fmt(r)}`);
      assert.equal(r.error, undefined, `${r.error}\n${JSON.stringify(r.pageErrors)}`);
      assert.deepEqual(r.pageErrors, []);
      assert.equal(r.info.transport, "worker");
      assert.equal(r.info.flavour, "simd");
      return r;
    }

    test("a live clip reaches final_result REAL with its BLINK passed", { timeout: 150_000 }, async () => {
      // A long challenge window, as in Chromium's API test: on a busy machine few frames are
      // analysed, and the looping clip blinks again later. Recorded where the engine can.
      live = await run(LIVE, { script: ["BLINK"], timeoutMs: 40_000, waitMs: 100_000, recordClip: true, evidence: true });
      assert.ok(live.result, `no final_result in 100 s: ${JSON.stringify(live.events)}`);
      assert.equal(live.result.label, "REAL", JSON.stringify(live.result));
      assert.deepEqual(live.result.passed, ["BLINK"]);
      assert.ok(live.events.some((e) => e.type === "challenge_result" && e.action === "BLINK" && e.status === "passed"), JSON.stringify(live.events));
      assert.ok(live.stats.framesAnalysed >= 10, JSON.stringify(live.stats));
      const clip = live.evidence.items.find((i) => i.name.startsWith("clip."));
      if (engine === "webkit") {
        // WebKit has no HTMLVideoElement.captureStream(): a session fed from a <video> has no
        // recording there (its MediaRecorder also writes empty MP4s on Debian's WebKitGTK).
        assert.equal(live.videoCaptureStream, false, "WebKit gained captureStream(): expect a recording now");
        assert.equal(clip, undefined);
      } else {
        assert.equal(clip?.media_type, "video/webm", `no recording: ${live.evidence.items.map((i) => i.name)}`);
        assert.ok(b64(clip.data).length > 10_000, `recording of ${b64(clip.data).length} bytes`);
      }
    });

    test("a phone replay clip does not reach REAL", { timeout: 120_000 }, async () => {
      const r = await run(REPLAY, { script: ["BLINK"], timeoutMs: 8000, waitMs: 60_000, recordClip: false, evidence: false });
      assert.ok(r.result, `no final_result in 60 s: ${JSON.stringify(r.events)}`);
      assert.equal(r.result.label, "FAKE", JSON.stringify(r.result));
      assert.ok(r.frames.FAKE * 2 > r.frames.REAL + r.frames.FAKE, `${r.frames.FAKE} of ${r.frames.REAL + r.frames.FAKE} frames scored FAKE`);
    });

    test("the live session's signed evidence verifies (HS256 and the kiosk's Ed25519 key, in jose and in the core)", async () => {
      const ev = live?.evidence;
      assert.ok(ev, "the live session produced no evidence (see the first test)");
      const hs = await compactVerify(ev.hs256, b64(ev.secret));
      assert.equal(hs.protectedHeader.alg, "HS256");
      const okp = await importJWK({ kty: "OKP", crv: "Ed25519", x: ev.x }, "EdDSA");
      const ed = await compactVerify(ev.eddsa, okp);
      assert.equal(ed.protectedHeader.alg, "EdDSA");
      assert.equal(ed.protectedHeader.kid, "kiosk-engine-test");
      assert.equal(ev.privateExtractable, false);
      // Both signatures cover the same manifest, which binds every item by its SHA-256.
      assert.deepEqual(ed.payload, hs.payload);
      const manifest = JSON.parse(Buffer.from(ed.payload).toString("utf8"));
      assert.equal(manifest.session_id, ev.sessionId);
      assert.deepEqual(ev.core, { hs256: ev.sessionId, eddsa: ev.sessionId });
      assert.equal(manifest.items.length, ev.items.length);
      for (const item of ev.items) {
        const digest = createHash("sha256").update(b64(item.data)).digest("hex");
        const listed = manifest.items.find((m) => m.name === item.name);
        assert.ok(listed, `${item.name} is not in the manifest`);
        assert.equal(listed.sha256, digest, item.name);
      }
    });
  });
}
