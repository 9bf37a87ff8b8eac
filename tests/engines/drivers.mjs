// Firefox and WebKit through W3C WebDriver: the driver process (geckodriver, or WebKitGTK's
// WebKitWebDriver under xvfb-run) is started here, in its own process group, on a free loopback
// port, and the whole group is killed when the browser is quit. selenium-webdriver only talks to
// it (`usingServer`): it never runs its Selenium Manager, so nothing is downloaded.
// scripts/install-deps.sh installs the browsers and drivers; a missing one is an error, never a skip.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { delimiter, join } from "node:path";
import { Builder } from "selenium-webdriver";

export const ENGINES = ["firefox", "webkit"];

const FIREFOX = process.env.LIVEPROOF_FIREFOX ?? "/usr/bin/firefox-esr";
const MINIBROWSER = process.env.LIVEPROOF_MINIBROWSER ?? "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser";

/** `name` on PATH (also ~/.cargo/bin, where `cargo install geckodriver` puts it), or null. */
function which(name) {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), join(process.env.HOME ?? "/root", ".cargo/bin")];
  return dirs.map((d) => join(d, name)).find((f) => existsSync(f)) ?? null;
}

function need(path, what) {
  if (!path || !existsSync(path)) throw new Error(`${what} not found${path ? ` at ${path}` : ""}: run scripts/install-deps.sh`);
  return path;
}

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
    s.on("error", fail);
  });
}

/** What each engine needs: the driver command and the session's capabilities. */
function recipe(engine, port) {
  if (engine === "firefox") {
    return {
      cmd: need(which("geckodriver"), "geckodriver"),
      args: ["--host", "127.0.0.1", "--port", String(port)],
      caps: {
        browserName: "firefox",
        "moz:firefoxOptions": { binary: need(FIREFOX, "Firefox ESR"), args: ["-headless"] },
      },
    };
  }
  if (engine === "webkit") {
    need(which("xvfb-run"), "xvfb-run");
    need(which("WebKitWebDriver"), "WebKitWebDriver (webkit2gtk-driver)");
    return {
      // WebKitGTK has no headless mode: MiniBrowser draws into a virtual X server.
      cmd: which("xvfb-run"),
      args: ["-a", "WebKitWebDriver", `--host=127.0.0.1`, `--port=${port}`],
      caps: {
        browserName: "MiniBrowser",
        "webkitgtk:browserOptions": { binary: need(MINIBROWSER, "MiniBrowser"), args: ["--automation"] },
      },
    };
  }
  throw new Error(`unknown engine ${engine}; expected one of ${ENGINES.join(", ")}`);
}

async function waitReady(url, proc, log) {
  for (let i = 0; i < 100; i++) {
    if (proc.exitCode !== null) throw new Error(`the driver exited (${proc.exitCode}): ${log.join("").slice(-2000)}`);
    try {
      const r = await fetch(`${url}/status`);
      if (r.ok) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the driver did not answer on ${url} within 10 s: ${log.join("").slice(-2000)}`);
}

/**
 * A browser of `engine` ("firefox" | "webkit") under a driver process started for it.
 * Resolves to `{driver, version, quit()}`; `quit()` ends the session and kills the driver's
 * process group (xvfb-run, Xvfb, the driver and the browser), whatever happened before.
 */
export async function openBrowser(engine) {
  const port = await freePort();
  const r = recipe(engine, port);
  const proc = spawn(r.cmd, r.args, { detached: true, stdio: ["ignore", "pipe", "pipe"] });
  const log = [];
  const keep = (d) => log.push(String(d)) > 200 && log.shift();
  proc.stdout.on("data", keep);
  proc.stderr.on("data", keep);
  const kill = () => {
    try {
      process.kill(-proc.pid, "SIGKILL");
    } catch {
      /* already gone */
    }
  };
  // Also when the test process itself dies early.
  process.once("exit", kill);
  let driver;
  try {
    const url = `http://127.0.0.1:${port}`;
    await waitReady(url, proc, log);
    driver = await new Builder().usingServer(url).withCapabilities(r.caps).build();
    await driver.manage().setTimeouts({ script: 300_000, pageLoad: 60_000 });
    const caps = await driver.getCapabilities();
    const version = `${engine === "webkit" ? "WebKitGTK" : "Firefox"} ${caps.get("browserVersion")}`;
    return {
      driver,
      version,
      log: () => log.join(""),
      async quit() {
        await driver.quit().catch(() => {});
        kill();
        process.removeListener("exit", kill);
      },
    };
  } catch (e) {
    await driver?.quit().catch(() => {});
    kill();
    process.removeListener("exit", kill);
    throw e;
  }
}

/**
 * Calls `window.__engine[fn](arg)` in the page (an async function returning JSON) and returns
 * its value; a rejection in the page comes back as `{error}`.
 */
export function callPage(driver, fn, arg) {
  return driver.executeAsyncScript(
    `const done = arguments[arguments.length - 1];
     window.__engine[arguments[0]](arguments[1]).then(done, (e) => done({ error: String(e?.stack ?? e) }));`,
    fn,
    arg ?? null,
  );
}

/** Opens `url` and waits until the page's module set `window.__engine`. */
export async function openPage(driver, url) {
  await driver.get(url);
  await driver.wait(() => driver.executeScript("return !!window.__engine"), 30_000, `${url} never set window.__engine`);
}
