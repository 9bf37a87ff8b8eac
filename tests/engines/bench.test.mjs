// The benchmark page (www/bench.html) runs in all three engines: a short run (6 frames, 3
// repetitions, the simd build) must give every figure the benchmark reports, the onnxruntime-web
// peer included. A functional check, not a measurement: the figures themselves come from
// `node scripts/bench-browser.mjs --engine ENGINE` outside CI (README "Performance").
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startStaticServer } from "../browser/static-server.mjs";
import { runBenchPage } from "./bench-page.mjs";
import { ENGINES } from "./drivers.mjs";

// The models an engine build loads (the core's own names in its build log).
const BUILT = ["yunet", "facemesh", "minifasnet_v2", "minifasnet_v1se", "mobilefacenet"];

let server;
before(async () => (server = await startStaticServer()));
after(() => server?.close());

for (const engine of ["chromium", ...ENGINES]) {
  test(`bench.html in ${engine} reports cold start, build steps, frame times and the peer ratio`, { timeout: 240_000 }, async () => {
    const { r, version } = await runBenchPage({ engine, serverUrl: server.url, query: "frames=6&reps=3&flavours=simd", timeoutMs: 200_000 });
    assert.equal(r.error, undefined, r.error);
    const x = r.simd;
    console.log(`# ${version}: cold ${Math.round(x.cold.total_ms)} ms, frame ${x.whole_frame.wall.median.toFixed(1)} ms, peer ratio ${x.peer.ratio_median_of_pairs.toFixed(2)} (3 reps: not a measurement)`);
    for (const k of ["wasm_ms", "engine_ms", "first_frame_ms", "total_ms"]) assert.ok(x.cold[k] > 0, `cold.${k} = ${x.cold[k]}`);
    assert.deepEqual(Object.keys(x.build_steps).filter((k) => typeof x.build_steps[k] === "object").sort(), [...BUILT].sort());
    for (const m of BUILT) assert.ok(x.build_steps[m].optimise > 0, `${m}: ${JSON.stringify(x.build_steps[m])}`);
    assert.equal(x.whole_frame.wall.n, 3);
    assert.ok(x.whole_frame.wall.median > 0 && x.whole_frame.landmarks_ms > 0 && x.whole_frame.pad_ms > 0);
    assert.ok(x.live.n > 0 && x.live.fps > 0, JSON.stringify(x.live));
    assert.ok(Number.isFinite(x.peer.ratio_median_of_pairs) && x.peer.ratio_median_of_pairs > 0, JSON.stringify(x.peer));
  });
}
