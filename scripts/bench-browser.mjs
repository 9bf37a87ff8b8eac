// The browser benchmark: serves www/ and pkg/, opens www/bench.html in a browser and prints
// its figures, the payload sizes (raw and gzip) and the ratios to onnxruntime-web.
//   node scripts/bench-browser.mjs [--engine chromium|firefox|webkit] [--frames 45] [--reps 15]
//                                  [--flavours simd,scalar] [--json out.json] [--clip file.y4m]
// chromium (the default): headless Chromium (Debian's, driven by playwright-core) with a fake
// camera playing a real clip (--clip: another Y4M). firefox / webkit: Firefox ESR or WebKitGTK
// through WebDriver (tests/engines/drivers.mjs); their fake cameras show no face, so the page
// cuts the same frames from the source clip (../shared/media/video_live/moun_blink_drowsy.mp4).
// Needs: scripts/build-pkg.sh (pkg/), npm ci (playwright-core, selenium-webdriver,
// onnxruntime-web), ffmpeg, and the engine (scripts/install-deps.sh). Chromium and the default
// clip come from the browser tests' harness (tests/browser/harness.mjs; set LIVEPROOF_CHROMIUM
// for another Chromium binary).
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import { startStaticServer } from "../tests/browser/static-server.mjs";
import { runBenchPage } from "../tests/engines/bench-page.mjs";
import { ENGINES } from "../tests/engines/drivers.mjs";

const repo = resolve(import.meta.dirname, "..");
const { values: args } = parseArgs({
  options: {
    frames: { type: "string", default: "45" },
    reps: { type: "string", default: "15" },
    flavours: { type: "string", default: "simd,scalar" },
    json: { type: "string" },
    clip: { type: "string" },
    engine: { type: "string", default: "chromium" },
  },
});
if (!["chromium", ...ENGINES].includes(args.engine)) throw new Error(`--engine ${args.engine}: expected chromium, ${ENGINES.join(" or ")}`);
if (args.clip && args.engine !== "chromium") throw new Error("--clip is a Y4M for Chromium's fake camera; firefox and webkit cut their frames from the source clip");

function payload() {
  const pkg = resolve(repo, "pkg");
  const size = (files) =>
    files.reduce(
      (a, f) => {
        const b = readFileSync(f);
        return { raw: a.raw + b.length, gzip: a.gzip + gzipSync(b, { level: 9 }).length };
      },
      { raw: 0, gzip: 0 },
    );
  const js = readdirSync(pkg).filter((f) => f.endsWith(".js")).map((f) => join(pkg, f));
  const out = { js: size(js) };
  for (const flavour of ["simd", "scalar"]) {
    const f = join(pkg, "wasm", `liveproof_${flavour}_bg.wasm`);
    if (existsSync(f)) out[`wasm_${flavour}`] = size([f, join(pkg, "wasm", `liveproof_${flavour}.js`)]);
  }
  const manifest = JSON.parse(readFileSync(join(pkg, "models", "manifest.json"), "utf8"));
  out.models = size(manifest.models.map((m) => join(pkg, "models", m.file)));
  // Every file by itself, for the size table (on-demand models are not in the download).
  out.files = [
    ...js.map((f) => ({ file: f.slice(pkg.length + 1), part: "js", ...size([f]) })),
    ...["simd", "scalar"].filter((fl) => out[`wasm_${fl}`]).flatMap((fl) => [
      { file: `wasm/liveproof_${fl}_bg.wasm`, part: `wasm_${fl}`, ...size([join(pkg, "wasm", `liveproof_${fl}_bg.wasm`)]) },
      { file: `wasm/liveproof_${fl}.js`, part: `wasm_${fl}`, ...size([join(pkg, "wasm", `liveproof_${fl}.js`)]) },
    ]),
    ...manifest.models.map((m) => ({ file: `models/${m.file}`, part: "models", weights: m.weights, ...size([join(pkg, "models", m.file)]) })),
    ...(manifest.on_demand ?? []).map((m) => ({ file: `models/${m.file}`, part: "on demand", weights: m.weights, ...size([join(pkg, "models", m.file)]) })),
  ];
  out.download = {
    raw: out.js.raw + (out.wasm_simd ?? out.wasm_scalar).raw + out.models.raw,
    gzip: out.js.gzip + (out.wasm_simd ?? out.wasm_scalar).gzip + out.models.gzip,
  };
  return out;
}

const mb = (b) => `${(b / 1e6).toFixed(2)} MB`;
const ms = (x) => `${x.toFixed(1)} ms`;

const query = `frames=${args.frames}&reps=${args.reps}&flavours=${args.flavours}`;
const server = await startStaticServer();

try {
  const { r, version } = await runBenchPage({ engine: args.engine, serverUrl: server.url, query, y4m: args.clip && resolve(args.clip) });
  if (r.error) throw new Error(r.error);
  r.engine = args.engine;
  r.browser = version;
  r.payload = payload();
  if (args.engine === "chromium") r.chromium = version.replace(/^Chromium /, "");
  console.log(`${version}, ${r.hardwareConcurrency} cores reported, frames ${r.frame_size.join("x")}${r.source === "camera" ? "" : ` (${r.source})`}\n`);
  console.log("| build | cold start → first result | whole frame median (p90) | detect / mesh / PAD medians | live session median (p90), frames/s |");
  console.log("|---|---|---|---|---|");
  for (const f of ["simd", "scalar"]) {
    const x = r[f];
    if (!x) continue;
    console.log(
      `| ${f} | ${ms(x.cold.total_ms)} (wasm ${ms(x.cold.wasm_ms)}, models ${ms(x.cold.models_ms)}, engine ${ms(x.cold.engine_ms)}, frame ${ms(x.cold.first_frame_ms)}) ` +
        `| ${ms(x.whole_frame.wall.median)} (${ms(x.whole_frame.wall.p90)}) | ${ms(x.whole_frame.detect_ms)} / ${ms(x.whole_frame.landmarks_ms)} / ${ms(x.whole_frame.pad_ms)} ` +
        `| ${ms(x.live.median)} (${ms(x.live.p90)}), ${x.live.fps.toFixed(1)} |`,
    );
  }
  const peer = r.simd?.peer;
  if (peer) {
    console.log(`\nPaired with onnxruntime-web ${peer.version ?? ""} (wasm backend, 1 thread, same models, reference inputs), ${peer.reps} reps, medians:`);
    console.log("| stage | tract simd (incl. pre/post-processing) | onnxruntime-web (model run) | ratio |");
    console.log("|---|---|---|---|");
    const o = peer.ort;
    const pad = o.pad_v2.median + o.pad_v1se.median;
    const line = (name, t, x) => console.log(`| ${name} | ${ms(t)} | ${ms(x)} | ${(t / x).toFixed(2)} |`);
    line(`detector (${o.detector.shape.join("x")})`, peer.tract.detect_ms, o.detector.median);
    line(`mesh (${o.landmarks.shape.join("x")})`, peer.tract.landmarks_ms, o.landmarks.median);
    line("PAD pair (2 × 1x3x80x80)", peer.tract.pad_ms, pad);
    line("whole frame", peer.tract.wall.median, o.frame_models_ms);
    console.log(`median of per-rep ratios: ${peer.ratio_median_of_pairs.toFixed(2)}; live session per frame / onnxruntime-web frame: ${(r.simd.live.mean / o.frame_models_ms).toFixed(2)}`);
    if (r.scalar) console.log(`scalar / simd whole frame: ${(r.scalar.whole_frame.wall.median / r.simd.whole_frame.wall.median).toFixed(2)}`);
  }
  const steps = r.simd?.build_steps ?? r.scalar?.build_steps;
  if (steps) {
    console.log("\nEngine build, per model (ms; the core's own log):");
    console.log("| model | parse | typed | declutter | optimise | plan | total |");
    console.log("|---|---|---|---|---|---|---|");
    const sum = { parse: 0, typed: 0, declutter: 0, optimise: 0, plan: 0 };
    for (const [model, t] of Object.entries(steps)) {
      if (typeof t !== "object") continue;
      const row = Object.keys(sum).map((k) => (sum[k] += t[k] ?? 0, (t[k] ?? 0).toFixed(1)));
      console.log(`| ${model} | ${row.join(" | ")} | ${Object.keys(sum).reduce((a, k) => a + (t[k] ?? 0), 0).toFixed(1)} |`);
    }
    console.log(`| all | ${Object.values(sum).map((v) => v.toFixed(1)).join(" | ")} | ${Object.values(sum).reduce((a, b) => a + b, 0).toFixed(1)} |`);
  }
  const p = r.payload;
  console.log("\n| file | part | raw | gzip -9 |");
  console.log("|---|---|---|---|");
  const kb = (b) => `${(b / 1e3).toFixed(1)} kB`;
  for (const f of p.files) console.log(`| ${f.file}${f.weights ? ` (${f.weights})` : ""} | ${f.part} | ${kb(f.raw)} | ${kb(f.gzip)} |`);
  console.log(`\npayload: js ${mb(p.js.raw)} (${mb(p.js.gzip)} gzip), ` +
    Object.keys(p).filter((k) => k.startsWith("wasm_")).map((k) => `${k} ${mb(p[k].raw)} (${mb(p[k].gzip)} gzip)`).join(", ") +
    `, models ${mb(p.models.raw)} (${mb(p.models.gzip)} gzip); one download ${mb(p.download.raw)} (${mb(p.download.gzip)} gzip)`);
  if (args.json) writeFileSync(args.json, JSON.stringify(r, null, 2));
} finally {
  await server.close();
}
