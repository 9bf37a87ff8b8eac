// Parity: the same frames through the native build (the `liveproof analyze` CLI) and through
// the wasm builds (run here in Node) give the same per-frame scores. Both decode the same
// JPEG/PNG bytes with the same Rust decoder, so the only difference left is floating-point
// arithmetic in tract's kernels (x86-64 AVX2/FMA natively, wasm simd128 or scalar here). Both
// load the same weight files: the package's compact ones (its manifest.json says which).
//
//   node --test tests/parity/        (after `cargo test` built target/debug/liveproof and
//                                     scripts/build-pkg.sh built pkg/)
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { pathToFileURL } from "node:url";

const repo = resolve(import.meta.dirname, "../..");
const media = process.env.LIVEPROOF_MEDIA ?? resolve(repo, "../shared/media");
const cli = process.env.LIVEPROOF_CLI ?? resolve(repo, "target/debug/liveproof");
const pkg = resolve(repo, "pkg");

// Per-frame scores must agree within this (the bar); geometry in pixels is reported.
const SCORE_TOL = 1e-4;

let dir;
let files;
let native;

before(() => {
  assert.ok(existsSync(cli), `native CLI missing at ${cli}: run cargo test (or cargo build) first`);
  assert.ok(existsSync(join(pkg, "models", "manifest.json")), "pkg/ missing: run scripts/build-pkg.sh");
  dir = mkdtempSync(join(tmpdir(), "liveproof-parity-"));
  // Ten webcam frames (blink clip, 2 fps) plus stills: EXIF-rotated print attack, a screen
  // replay, an RGBA PNG and a studio portrait.
  execFileSync("ffmpeg", [
    "-loglevel", "error", "-i", join(media, "video_live/moun_blink_drowsy.mp4"),
    "-vf", "fps=2,scale=640:-2", "-frames:v", "10", "-q:v", "3", join(dir, "blink_%02d.jpg"),
  ]);
  files = [
    ...readdirSync(dir).sort().map((f) => join(dir, f)),
    join(media, "spoof/sfas_image_F1_print.jpg"),
    join(media, "spoof/sfas_image_F2_screen.jpg"),
    join(media, "live/fr_obama_32bit_rgba.png"),
    join(media, "live/fr_obama.jpg"),
  ];
  const { engine } = JSON.parse(readFileSync(join(pkg, "models", "manifest.json"), "utf8"));
  assert.equal(engine.weights, "compact", "the package ships the compact weights");
  const out = execFileSync(cli, ["--weights", engine.weights, "analyze", ...files], {
    encoding: "utf8",
    env: { ...process.env, LIVEPROOF_MODELS: process.env.LIVEPROOF_MODELS ?? resolve(repo, "models") },
    maxBuffer: 256 << 20,
  });
  native = out.trim().split("\n").map((l) => JSON.parse(l).record);
});

after(() => dir && rmSync(dir, { recursive: true, force: true }));

async function wasmRecords(flavour) {
  const glue = await import(pathToFileURL(join(pkg, "wasm", `liveproof_${flavour}.js`)).href + `?${flavour}`);
  glue.initSync({ module: readFileSync(join(pkg, "wasm", `liveproof_${flavour}_bg.wasm`)) });
  const manifest = JSON.parse(readFileSync(join(pkg, "models", "manifest.json"), "utf8"));
  // The on-demand emotion model too: these frames compare its scores.
  const models = Object.fromEntries(
    [...manifest.models, ...manifest.on_demand].map((m) => [m.file, new Uint8Array(readFileSync(join(pkg, "models", m.file)))]),
  );
  const engine = new glue.Engine(models, { ...manifest.engine, emotion: true });
  const stages = { pad: true, embedding: true, emotion: true, age_gender: false };
  return files.map((f) => {
    const img = glue.decodeImage(readFileSync(f));
    return engine.analyze(img.data, img.width, img.height, 0, stages);
  });
}

function scores(rec) {
  const f = rec.face;
  if (!f) return {};
  const s = {
    det_score: f.detection.score,
    presence: f.landmarks.presence,
    ear_0: f.landmarks.ear[0],
    ear_1: f.landmarks.ear[1],
    pad_real: f.pad.real,
    pad_v2: f.pad.v2,
    pad_v1se: f.pad.v1se,
    mouth_width: f.landmarks.mouth.width_ratio,
  };
  (f.emotions ?? []).forEach((v, k) => (s[`emotion_${k}`] = v));
  return s;
}

function cosine(a, b) {
  let d = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) { d += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
  return d / Math.sqrt(na * nb);
}

/** Of the frames above, those with a face: all 14 (ten webcam frames and four stills). */
const FRAMES_WITH_A_FACE = 14;

for (const flavour of ["simd", "scalar"]) {
  // scripts/test.sh sets LIVEPROOF_ALL_FLAVOURS=1: there a missing flavour fails instead.
  const built =
    process.env.LIVEPROOF_ALL_FLAVOURS === "1" ||
    existsSync(join(pkg, "wasm", `liveproof_${flavour}_bg.wasm`));
  describe(`native vs wasm ${flavour}`, { skip: !built && `pkg/ has no ${flavour} build` }, () => {
    test("per-frame scores agree within 1e-4; geometry and embeddings agree", async () => {
      const wasm = await wasmRecords(flavour);
      const worst = {};
      let maxPx = 0, minCos = 1, maxPose = 0, compared = 0;
      for (let i = 0; i < files.length; i++) {
        const [n, w] = [native[i], wasm[i]];
        assert.equal(w.faces.length, n.faces.length, `${files[i]}: face count`);
        assert.equal(!!w.face, !!n.face, `${files[i]}: main face`);
        assert.deepEqual(w.guidance, n.guidance, `${files[i]}: guidance`);
        if (!n.face) continue;
        compared += 1;
        const [sn, sw] = [scores(n), scores(w)];
        for (const k of Object.keys(sn)) {
          const d = Math.abs(sn[k] - sw[k]);
          worst[k] = Math.max(worst[k] ?? 0, d);
          assert.ok(d <= SCORE_TOL, `${files[i]}: ${k} native ${sn[k]} wasm ${sw[k]} (|Δ| ${d.toExponential(2)})`);
        }
        const pn = n.face.landmarks.points, pw = w.face.landmarks.points;
        for (let j = 0; j < pn.length; j++) {
          maxPx = Math.max(maxPx, Math.abs(pn[j][0] - pw[j][0]), Math.abs(pn[j][1] - pw[j][1]));
        }
        for (const k of ["yaw", "pitch", "roll"]) {
          maxPose = Math.max(maxPose, Math.abs(n.face.landmarks.pose[k] - w.face.landmarks.pose[k]));
        }
        minCos = Math.min(minCos, cosine(n.face.embedding, w.face.embedding));
      }
      // Frames without a face have no scores to compare: the count is pinned so that a change
      // that loses faces cannot pass by comparing fewer frames.
      assert.equal(compared, FRAMES_WITH_A_FACE, `frames compared (of ${files.length})`);
      assert.ok(maxPx < 0.05, `landmarks differ by ${maxPx} px`);
      assert.ok(maxPose < 0.05, `pose differs by ${maxPose} degrees`);
      assert.ok(minCos > 0.99999, `embedding cosine ${minCos}`);
      const summary = Object.entries(worst).map(([k, v]) => `${k} ${v.toExponential(1)}`).join(", ");
      console.log(
        `# parity ${flavour}: ${files.length} frames, ${compared} with a face; max |Δ| ${summary}; landmarks ${maxPx.toExponential(1)} px; ` +
          `pose ${maxPose.toExponential(1)}°; min embedding cosine ${minCos.toFixed(7)}`,
      );
    });
  });
}
