// The trust model end to end in real Chromium: the demo and kiosk pages served by
// liveproof-server itself, a fake camera playing a real clip, the SDK signing its evidence,
// and the server's own re-run answering with a verdict signed by the key it publishes.
//   node --test tests/browser/   (after cargo test built target/debug/liveproof-server and
//                                 scripts/build-pkg.sh built pkg/)
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { createHmac, createPublicKey, verify } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, test } from "node:test";
import { clip, cspViolations, launch, newPage, repo, screenshot } from "./harness.mjs";
import { checkVerdict } from "../../server/examples/relying-party.mjs";

const BIN = process.env.LIVEPROOF_SERVER_BIN ?? resolve(repo, "target/debug/liveproof-server");
const CLI = resolve(repo, "target/debug/liveproof");
const SECRET = "browser-test-secret-browser-test-secret-01";
let proc;
let base;

async function freePort() {
  const s = createServer();
  await new Promise((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

function jwt(claims) {
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString("base64url");
  const head = `${b64({ alg: "HS256", typ: "JWT" })}.${b64(claims)}`;
  return `${head}.${createHmac("sha256", SECRET).update(head).digest("base64url")}`;
}

/** Verifies a compact EdDSA JWS against the server's JWKS; returns its payload. */
async function verifyVerdict(token) {
  const [h, p, s] = token.split(".");
  const header = JSON.parse(Buffer.from(h, "base64url"));
  const jwks = await (await fetch(`${base}/.well-known/jwks.json`)).json();
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  assert.ok(jwk, `kid ${header.kid} is published`);
  const ok = verify(null, Buffer.from(`${h}.${p}`), createPublicKey({ key: jwk, format: "jwk" }), Buffer.from(s, "base64url"));
  assert.ok(ok, "the verdict's signature verifies with the published key");
  return JSON.parse(Buffer.from(p, "base64url"));
}

before(async () => {
  assert.ok(existsSync(BIN), `${BIN} missing: run cargo test (or cargo build -p liveproof-server)`);
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "liveproof-browser-server-"));
  const config = readFileSync(resolve(repo, "server/config.example.toml"), "utf8")
    .replace(/^addr = .*$/m, `addr = "127.0.0.1:${port}"`)
    .replace(/^database = .*$/m, 'database = ":memory:"')
    .replace(/^secret = .*$/m, `secret = "${SECRET}"`)
    // The policy draws LOOK LEFT and LOOK RIGHT, which the looping camera clip performs in
    // either order.
    .replace(/^actions = .*$/gm, 'actions = ["LOOK LEFT", "LOOK RIGHT"]');
  writeFileSync(join(dir, "config.toml"), config);
  proc = spawn(BIN, [], {
    cwd: repo,
    env: { ...process.env, LIVEPROOF_CONFIG: join(dir, "config.toml"), LIVEPROOF_MODELS: resolve(repo, "models") },
    stdio: "ignore",
  });
  base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 480; i++) {
    if (await fetch(`${base}/readyz`).then((r) => r.ok, () => false)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error("liveproof-server did not become ready");
});
after(() => proc?.kill());

test("demo page: a public server session, the recording, and a REAL verdict from the server's own run", async () => {
  const browser = await launch(clip("live_headturns_tvl"));
  try {
    const page = await newPage(browser);
    await page.goto(`${base}/?server=1&autostart=1`);
    await page.waitForFunction(() => window.demo?.server || window.demo?.error, null, { timeout: 180_000, polling: 250 });
    const seen = await page.evaluate(() => ({ final: window.demo.final, server: window.demo.server, error: window.demo.error }));
    await screenshot(page, "demo-server-verdict");
    assert.equal(seen.error, null);
    assert.equal(seen.final.label, "REAL", JSON.stringify(seen.final));
    assert.ok(seen.server.verdict, JSON.stringify(seen.server));
    const payload = await verifyVerdict(seen.server.verdict);
    assert.deepEqual(payload, seen.server.result);
    console.log(`# server verdict: ${JSON.stringify(payload)}`);
    assert.equal(payload.label, "REAL", `server: ${JSON.stringify(payload)}`);
    // The page sent its recording: the server ran the whole session itself, with the script it
    // drew, and saw it performed.
    // The fake camera's file does not respond to the screen, so light is not asserted (the
    // demo's policy plays it without requiring it).
    assert.deepEqual(payload.checks, { pad: "server", identity: "server", challenges: "server", light: "none" });
    assert.deepEqual(payload.passed, payload.script);
    assert.equal(payload.script.length, 2);
    const rec = payload.server.recording;
    assert.equal(rec.codec, "vp8", JSON.stringify(rec));
    assert.ok(rec.frames_analysed >= 15 && rec.duration_ms > 1000, JSON.stringify(rec));
    assert.equal(rec.outcome.challenges.length, 2);
    console.log(`# server's own run: ${rec.frames_analysed} frames of ${rec.duration_ms} ms, decided at ${rec.decided_at_ms} ms; disagreement ${JSON.stringify(payload.disagreement)}`);
    // What the relying party's backend checks (server/examples/relying-party.mjs).
    const jwks = await (await fetch(`${base}/.well-known/jwks.json`)).json();
    const accepted = await checkVerdict(
      seen.server.verdict,
      jwks,
      { issuer: "liveproof-server", audience: "liveproof-public", sessionId: payload.sub, nonce: payload.nonce },
      { jtiIsNew: () => true },
    );
    assert.equal(accepted.label, "REAL");
    // The page verified it too, with WebCrypto.
    assert.match(await page.textContent("#server-verdict"), /signature verified/);
    // All of it under the server's strict Content-Security-Policy.
    const headers = (await page.request.get(`${base}/`)).headers();
    assert.match(headers["content-security-policy"], /script-src 'self' 'wasm-unsafe-eval'/);
    assert.deepEqual(await cspViolations(page), []);
  } finally {
    await browser.close();
  }
});

test("demo page: a session with screen light plays one onset per colour into the recording; the verdict reports the server's light check", async () => {
  const browser = await launch(clip("live_headturns_tvl"));
  try {
    const page = await newPage(browser);
    await page.goto(`${base}/?server=1&autostart=1`);
    await page.waitForFunction(() => window.demo?.server || window.demo?.error, null, { timeout: 180_000, polling: 250 });
    const seen = await page.evaluate(() => ({
      session: window.demo.session, light: window.demo.light, manifest: window.demo.manifest, server: window.demo.server, error: window.demo.error,
    }));
    await screenshot(page, "demo-light");
    assert.equal(seen.error, null);
    const segments = seen.session?.light?.segments;
    assert.ok(Array.isArray(segments) && segments.length > 0, `the server's session has light (config light = "optional"): ${JSON.stringify(seen.session?.light)}`);
    // The page painted every colour, then went back to neutral.
    assert.deepEqual(seen.light.filter((c) => c.colour).map((c) => c.colour), segments.map((s) => s.colour));
    assert.equal(seen.light.at(-1).colour, null);
    // The evidence manifest carries one onset per segment, increasing, on the recording's time base.
    const onsets = seen.manifest?.light?.onsets_ms;
    assert.ok(Array.isArray(onsets), `manifest.light: ${JSON.stringify(seen.manifest?.light)}`);
    assert.equal(onsets.length, segments.length);
    assert.ok(onsets[0] >= 250, `the first colour ~300 ms after the recording started: ${onsets[0]}`);
    for (let i = 1; i < onsets.length; i++) {
      const gap = onsets[i] - onsets[i - 1];
      assert.ok(gap >= 334, `onset ${i} only ${gap} ms after the previous (at most 3 changes a second)`);
      assert.ok(Math.abs(gap - segments[i - 1].duration_ms) <= 150, `gap ${i}: ${gap} ms for a ${segments[i - 1].duration_ms} ms segment`);
    }
    const payload = await verifyVerdict(seen.server.verdict);
    console.log(`# light: ${JSON.stringify(payload.light)}; injection: ${JSON.stringify(payload.injection)}`);
    assert.equal(typeof payload.light, "object");
    assert.notEqual(payload.light, null, "the verdict has the server's light check");
    assert.equal(payload.light_path, "light");
    // The server derived the same sequence from the nonce and measured each segment on the recording.
    assert.deepEqual(payload.light.segments.map((s) => s.colour), segments.map((s) => s.colour));
    assert.ok(["passed", "failed", "inconclusive"].includes(payload.light.outcome), payload.light.outcome);
    assert.ok(payload.injection && typeof payload.injection.risk === "string", JSON.stringify(payload.injection));
    // Chromium's fake camera is itself an injected stream: its file-path label is flagged (test mode: flagged, not refused).
    assert.ok(payload.injection.reasons.some((r) => r.signal === "virtual_camera"), JSON.stringify(payload.injection));
    assert.notEqual(payload.injection.risk, "low", JSON.stringify(payload.injection));
    // The demo printed both.
    assert.match(await page.textContent("#server-verdict"), /light: .*injection risk: /);
  } finally {
    await browser.close();
  }
});

test("demo page: 'no flash' creates the session with {light: false}: no light, no timeline", async () => {
  const browser = await launch(clip("live_headturns_tvl"));
  try {
    const page = await newPage(browser);
    await page.goto(`${base}/?server=1&autostart=1&noflash=1`);
    await page.waitForFunction(() => window.demo?.server || window.demo?.error, null, { timeout: 180_000, polling: 250 });
    const seen = await page.evaluate(() => ({ session: window.demo.session, light: window.demo.light, manifest: window.demo.manifest, error: window.demo.error }));
    assert.equal(seen.error, null);
    assert.equal(seen.session.light, null);
    assert.deepEqual(seen.light, []);
    assert.equal(seen.manifest?.light ?? null, null);
  } finally {
    await browser.close();
  }
});

test("light page: records a session under its nonce's sequence; liveproof light scores the download", async () => {
  assert.ok(existsSync(CLI), `${CLI} missing: run cargo test (or cargo build --bin liveproof)`);
  const nonce = "browser-light-page";
  const browser = await launch(clip("live_headturns_tvl"));
  try {
    const page = await newPage(browser);
    await page.goto(`${base}/light.html?nonce=${nonce}&autostart=1`);
    await page.waitForFunction(() => window.lightPage?.onsets || window.lightPage?.error, null, { timeout: 60_000, polling: 250 });
    // The bytes behind the page's download link, and the timeline it offers.
    const seen = await page.evaluate(() => {
      const p = window.lightPage;
      return { error: p.error, segments: p.segments, onsets: p.onsets, clip: p.clip && Array.from(p.clip.data), timeline: document.getElementById("timeline").textContent };
    });
    await screenshot(page, "light-page");
    assert.equal(seen.error, null);
    const clipBytes = Buffer.from(seen.clip);
    const drawn = await (await fetch(`${base}/v1/light/sequence`, {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ nonce }),
    })).json();
    assert.deepEqual(seen.segments, drawn.segments, "the page plays the server's draw for the nonce");
    assert.equal(seen.onsets.length, drawn.segments.length);
    // The downloads, scored by the CLI exactly as the server scores a session's recording.
    const dir = mkdtempSync(join(tmpdir(), "liveproof-light-"));
    writeFileSync(join(dir, "light.webm"), clipBytes);
    writeFileSync(join(dir, "timeline.json"), seen.timeline);
    const out = JSON.parse(execFileSync(CLI, ["light", join(dir, "light.webm"), "--nonce", nonce, "--timeline", join(dir, "timeline.json")], {
      env: { ...process.env, LIVEPROOF_MODELS: resolve(repo, "models") }, encoding: "utf8",
    }));
    console.log(`# liveproof light on the fake camera's recording: ${JSON.stringify({ outcome: out.outcome, reason: out.reason, score: out.score, frames: out.frames })}`);
    assert.equal(out.segments.length, drawn.segments.length);
    assert.equal(out.timeline_error, null, "the page's onsets fit the drawn durations");
    assert.ok(out.frames > 20, `frames measured: ${out.frames}`);
  } finally {
    await browser.close();
  }
});

test("kiosk page: offline result signed with the device key, queued, delivered when back online", async () => {
  const browser = await launch(clip("live_headturns_tvl"));
  try {
    const context = await browser.newContext();
    const page = await newPage(browser, context);
    await page.goto(`${base}/kiosk.html`);
    await page.waitForFunction(() => window.kiosk?.ready, null, { timeout: 180_000, polling: 250 });
    // Register the kiosk with an admin token, as an operator would in the settings.
    await page.click("summary");
    await page.fill("#admin-token", jwt({ sub: "operator", scope: "devices:admin", exp: Math.floor(Date.now() / 1000) + 600 }));
    await page.click("#register");
    await page.waitForFunction(() => window.kiosk.key.deviceId, null, { timeout: 30_000 });
    await page.waitForFunction(async () => (await navigator.serviceWorker.ready).active?.state === "activated", null, { timeout: 60_000 });

    await context.setOffline(true);
    await page.reload();
    // A decision, then its bundle signed and queued (after the recording's 1 s tail).
    await page.waitForFunction(() => window.kiosk?.ready && window.kiosk.results.length > 0, null, { timeout: 180_000, polling: 250 });
    for (let i = 0; i < 120 && (await page.evaluate(() => window.kiosk.queue.size())) === 0; i++) {
      await new Promise((r) => setTimeout(r, 250));
    }
    const offline = await page.evaluate(async () => ({ online: navigator.onLine, queued: await window.kiosk.queue.size(), result: window.kiosk.results[0] }));
    await screenshot(page, "kiosk-offline-queued");
    assert.equal(offline.online, false);
    assert.ok(offline.queued >= 1, `queued ${offline.queued}`);

    const sent = page.evaluate(
      () => new Promise((done) => window.kiosk.queue.addEventListener("sent", (e) => done(e.detail.response), { once: true })),
    );
    await context.setOffline(false);
    await page.evaluate(() => window.dispatchEvent(new Event("online")));
    const response = await sent;
    const payload = await verifyVerdict(response.verdict);
    assert.equal(offline.result.label, "REAL", JSON.stringify(offline.result));
    // The kiosk's recording went with it: the server ran the policy's script over it.
    assert.equal(payload.label, "REAL", `server ${JSON.stringify(payload)}`);
    assert.equal(payload.checks.challenges, "server");
    assert.deepEqual(await cspViolations(page), []);
    await screenshot(page, "kiosk-delivered");
  } finally {
    await browser.close();
  }
});

test("kiosk page: a device id registered out of band, entered in the settings, signs its results", async () => {
  const browser = await launch(clip("live_headturns_tvl"));
  try {
    const page = await newPage(browser, await browser.newContext());
    await page.goto(`${base}/kiosk.html`);
    await page.waitForFunction(() => window.kiosk?.ready, null, { timeout: 180_000, polling: 250 });
    assert.equal(await page.evaluate(() => window.kiosk.key.deviceId), null);
    // The operator registers the public key shown on the page with the API, not in the page.
    const publicKey = await page.textContent("#pubkey");
    const res = await fetch(`${base}/v1/devices`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${jwt({ sub: "operator", scope: "devices:admin", exp: Math.floor(Date.now() / 1000) + 600 })}`,
      },
      body: JSON.stringify({ public_key: publicKey, label: "out-of-band kiosk" }),
    });
    assert.equal(res.status, 201, await res.clone().text());
    const { device_id: deviceId } = await res.json();

    await page.click("summary");
    await page.fill("#device-id", deviceId);
    await Promise.all([page.waitForEvent("load"), page.click("#settings button[type=submit]")]);
    await page.waitForFunction(() => window.kiosk?.ready, null, { timeout: 180_000, polling: 250 });
    assert.equal(await page.evaluate(() => window.kiosk.key.deviceId), deviceId, "the id survives the reload");
    assert.equal(await page.textContent("#device"), `device: ${deviceId}`);

    const response = await page.evaluate(
      () => new Promise((done) => window.kiosk.queue.addEventListener("sent", (e) => done(e.detail.response), { once: true })),
    );
    const payload = await verifyVerdict(response.verdict);
    assert.equal(payload.label, "REAL", JSON.stringify(payload));
    assert.equal(payload.sub.startsWith(`kiosk:${deviceId}:`), true, payload.sub);
    await screenshot(page, "kiosk-device-id-entered");
  } finally {
    await browser.close();
  }
});

test("element page: the Web Component renders and starts under the server's Content-Security-Policy", async () => {
  const browser = await launch(clip("live_headturns_tvl"));
  try {
    const page = await newPage(browser);
    await page.goto(`${base}/element.html`);
    await page.waitForFunction(() => customElements.get("liveproof-check"), null, { timeout: 60_000 });
    const styled = await page.evaluate(() => {
      const root = document.querySelector("liveproof-check").shadowRoot;
      return root.adoptedStyleSheets.length === 1 && getComputedStyle(root.querySelector(".stage")).position === "relative";
    });
    assert.ok(styled, "the element's constructed stylesheet applies");
    await page.evaluate(() => {
      const el = document.querySelector("liveproof-check");
      window.__phases = [];
      el.addEventListener("phase", (e) => window.__phases.push(e.detail.value));
    });
    // Playwright's CSS selectors pierce open shadow roots.
    await page.click("liveproof-check button");
    await page.waitForFunction(() => window.__phases.includes("passive"), null, { timeout: 180_000, polling: 250 });
    assert.deepEqual(await cspViolations(page), []);
    await screenshot(page, "element-under-csp");
  } finally {
    await browser.close();
  }
});
