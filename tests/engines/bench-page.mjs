// Runs www/bench.html in one engine and returns its result (window.benchResult): Chromium with
// a fake camera playing a real clip (playwright-core), Firefox and WebKit through WebDriver on
// frames the page cuts from the source clip (their fake cameras show no face). Shared by
// scripts/bench-browser.mjs (the benchmark) and tests/engines/bench.test.mjs (the page works
// in every engine).
import { existsSync } from "node:fs";
import { join } from "node:path";
import { clip, launch, media } from "../browser/harness.mjs";
import { openBrowser } from "./drivers.mjs";

// The source of Chromium's default camera clip (make_y4m.sh's live_blink_moun: from 1.5 s).
export const SOURCE_CLIP = "video_live/moun_blink_drowsy.mp4";

/**
 * @param {{engine: string, serverUrl: string, query: string, y4m?: string, timeoutMs?: number}} o
 * @returns {Promise<{r: any, version: string}>}
 */
export async function runBenchPage({ engine, serverUrl, query, y4m, timeoutMs = 20 * 60_000 }) {
  if (engine === "chromium") {
    const browser = await launch(y4m ?? clip("live_blink_moun"));
    try {
      const page = await browser.newPage();
      page.on("console", (m) => m.type() === "error" && console.error(`[page] ${m.text()}`));
      await page.goto(`${serverUrl}/bench.html?${query}`);
      await page.waitForFunction(() => window.benchResult, null, { timeout: timeoutMs, polling: 1000 });
      return { r: await page.evaluate(() => window.benchResult), version: `Chromium ${browser.version()}` };
    } finally {
      await browser.close();
    }
  }
  if (!existsSync(join(media, SOURCE_CLIP))) throw new Error(`missing media file ${join(media, SOURCE_CLIP)} (set LIVEPROOF_MEDIA)`);
  const browser = await openBrowser(engine);
  try {
    const { driver } = browser;
    await driver.get(`${serverUrl}/bench.html?${query}&clip=/media/${SOURCE_CLIP}&clipStart=1.5`);
    const r = await driver.wait(() => driver.executeScript("return window.benchResult ?? null"), timeoutMs, `bench.html gave no result in ${timeoutMs / 1000} s`);
    return { r, version: browser.version };
  } finally {
    await browser.quit();
  }
}
