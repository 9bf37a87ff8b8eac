// Shared pieces of the browser tests and scripts/bench-browser.mjs: fake-camera clips, Chromium
// with a fake camera, and screenshots into target/browser-tests/.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";

export const repo = resolve(import.meta.dirname, "../..");
export const media = process.env.LIVEPROOF_MEDIA ?? resolve(repo, "../shared/media");
export const outDir = resolve(repo, "target/browser-tests");
const y4mDir = resolve(repo, "target/y4m");

/**
 * A fake-camera clip by name, cut once into target/y4m/: those of ../shared/media/make_y4m.sh
 * plus the named cuts below.
 */
export function clip(name) {
  mkdirSync(y4mDir, { recursive: true });
  const file = join(y4mDir, `${name}.y4m`);
  if (existsSync(file)) return file;
  if (name === "live_headturns_tvl") {
    // A person who turns left (at 2.3 s), blinks, then turns right (7.8 s), as a phone's
    // portrait selfie camera sees it (368x656, 15 fps, 10 s). The camera loops it, so a script
    // of LOOK LEFT and LOOK RIGHT passes in either order: the camera of the server-flow tests,
    // whose server policy draws from those two. Head turns are held, so the client's and the
    // server's runs see them alike whatever the camera's start-up delay. (Letterboxed into
    // 640x480 the same face scores 0.55-0.7 real: the bars look like a screen's edge.)
    execFileSync("ffmpeg", [
      "-v", "error", "-y", "-t", "10", "-i", join(media, "video_live/tvl_real_head_turns.mp4"), "-an",
      "-vf", "fps=15,setsar=1,format=yuv420p", "-f", "yuv4mpegpipe", file,
    ]);
  } else if (name === "live_blink_moun_640x360") {
    // The whole blink clip (12.8 s: a person blinking, drowsy) at 640x360 and 15 fps, the 16:9
    // of a laptop webcam (the tests check that the SDK's video reports this size).
    execFileSync("ffmpeg", [
      "-v", "error", "-y", "-i", join(media, "video_live/moun_blink_drowsy.mp4"), "-an",
      "-vf", "fps=15,scale=640:360,setsar=1,format=yuv420p", "-f", "yuv4mpegpipe", file,
    ]);
  } else if (name === "no_face") {
    // An empty room: a blurred, face-free crop of a real clip (the top-left corner of the
    // crowd clip's sky and buildings), 640x480 at 15 fps, 10 s.
    execFileSync("ffmpeg", [
      "-v", "error", "-y", "-i", join(media, "video_live/fnp_crowd_walking.mp4"),
      "-an", "-vf", "crop=640:480:0:0,fps=15,setsar=1,format=yuv420p", "-t", "4",
      "-f", "yuv4mpegpipe", file,
    ]);
  } else {
    execFileSync(join(media, "make_y4m.sh"), [y4mDir], { stdio: "ignore" });
  }
  if (!existsSync(file)) throw new Error(`no clip ${name} in ${y4mDir}`);
  return file;
}

/**
 * Headless Chromium (Debian's, or the binary named by LIVEPROOF_CHROMIUM) whose camera plays
 * `y4m` (null: Chromium's own generated test pattern, device label "fake_device_0"). A missing Chromium is an error naming its path (scripts/install-deps.sh installs it):
 * the browser tests fail without it, they never skip.
 */
export async function launch(y4m, extraArgs = []) {
  const executablePath = process.env.LIVEPROOF_CHROMIUM ?? "/usr/bin/chromium";
  if (!existsSync(executablePath)) {
    throw new Error(`no Chromium at ${executablePath}: run scripts/install-deps.sh or set LIVEPROOF_CHROMIUM`);
  }
  return chromium.launch({
    executablePath,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--use-fake-ui-for-media-stream",
      "--use-fake-device-for-media-stream",
      ...(y4m ? [`--use-file-for-fake-video-capture=${y4m}`] : []),
      ...extraArgs,
    ],
  });
}

/**
 * A page that reports its errors and console errors to the test log, and records every
 * Content-Security-Policy violation in `window.__cspViolations` (see `cspViolations`).
 */
export async function newPage(browser, context) {
  const ctx = context ?? (await browser.newContext());
  const page = await ctx.newPage();
  await page.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener("securitypolicyviolation", (e) =>
      window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`),
    );
  });
  page.on("pageerror", (e) => console.log(`# [pageerror] ${e.message}`));
  page.on("response", (r) => r.status() >= 400 && console.log(`# [http ${r.status()}] ${r.url()}`));
  page.on("console", (m) => ["error", "warning"].includes(m.type()) && console.log(`# [console.${m.type()}] ${m.text()}`));
  return page;
}

export async function screenshot(page, name) {
  mkdirSync(outDir, { recursive: true });
  const path = join(outDir, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** The Content-Security-Policy violations the page has seen (its document's). */
export function cspViolations(page) {
  return page.evaluate(() => window.__cspViolations ?? []);
}
