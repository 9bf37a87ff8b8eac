// The browser benchmark. Everything runs on the page's main thread, one thing at a time, so
// the figures are the engine's own (the SDK adds a worker hop measured separately by
// Liveness.stats()). The peer, onnxruntime-web, runs the same ONNX files on the committed
// reference inputs (tests/fixtures/reference) in the same page. Results: window.benchResult.
const q = new URLSearchParams(location.search);
const FRAMES = Number(q.get('frames') ?? 45);
const REPS = Number(q.get('reps') ?? 15);
const FLAVOURS = (q.get('flavours') ?? 'simd,scalar').split(',');
const ORT = q.get('ort') !== '0';
// Firefox and WebKit have no fake camera with a face: there the frames come from a clip
// (`clip`, a URL), cut as ../shared/media/make_y4m.sh cuts Chromium's camera clip.
const CLIP = q.get('clip');
const CLIP_START = Number(q.get('clipStart') ?? 1.5);
const status = (t) => (document.getElementById('status').textContent = t);
const row = (k, v) => document.getElementById('results').tBodies[0].insertAdjacentHTML('beforeend', `<tr><td>${k}</td><td>${v}</td></tr>`);
const pause = () => new Promise((r) => setTimeout(r, 0));

function stats(xs) {
  const v = [...xs].sort((a, b) => a - b);
  const at = (p) => v[Math.min(v.length - 1, Math.floor(p * v.length))];
  return { n: v.length, median: at(0.5), p90: at(0.9), mean: v.reduce((a, b) => a + b, 0) / v.length };
}

/** RGBA frames from the camera at its own pace (the fake camera plays a Y4M clip at 15 fps). */
async function captureFrames(n) {
  const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 } });
  const video = Object.assign(document.createElement('video'), { srcObject: stream, muted: true, playsInline: true });
  await video.play();
  const canvas = new OffscreenCanvas(video.videoWidth, video.videoHeight);
  const g = canvas.getContext('2d', { willReadFrequently: true });
  const frames = [];
  await new Promise((done) => {
    const grab = () => {
      g.drawImage(video, 0, 0);
      frames.push(g.getImageData(0, 0, canvas.width, canvas.height));
      if (frames.length >= n) done();
      else video.requestVideoFrameCallback(grab);
    };
    video.requestVideoFrameCallback(grab);
  });
  stream.getTracks().forEach((t) => t.stop());
  return frames;
}

/**
 * RGBA frames of a clip at 15 fps from `startS`, scaled to 480 rows and centre-cropped to
 * 640x480 (make_y4m.sh's `scale=-2:480,crop=640:480,fps=15`), by seeking: the same frames in
 * every engine, whatever its playback pace.
 */
async function clipFrames(src, n, startS) {
  const video = Object.assign(document.createElement('video'), { src, muted: true, playsInline: true, preload: 'auto' });
  await new Promise((ok, fail) => {
    video.addEventListener('loadeddata', ok, { once: true });
    video.addEventListener('error', () => fail(new Error(`${src}: ${video.error?.message ?? 'cannot play'}`)), { once: true });
  });
  const canvas = new OffscreenCanvas(640, 480);
  const g = canvas.getContext('2d', { willReadFrequently: true });
  const w = (video.videoWidth * 480) / video.videoHeight;
  const frames = [];
  for (let i = 0; i < n; i++) {
    video.currentTime = startS + i / 15;
    await new Promise((ok) => video.addEventListener('seeked', ok, { once: true }));
    g.drawImage(video, (640 - w) / 2, 0, w, 480);
    frames.push(g.getImageData(0, 0, 640, 480));
  }
  return frames;
}

async function fetchBytes(url) {
  const res = await fetch(url, { cache: 'no-store' });
  if (!res.ok) throw new Error(`${url}: ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

async function benchFlavour(flavour, frames) {
  const out = { flavour };
  const t0 = performance.now();
  // As the SDK does: the model files the package lists download while the wasm compiles.
  const config = { age_gender: false };
  const early = fetchBytes('/pkg/models/manifest.json').then((b) => {
    const listed = JSON.parse(new TextDecoder().decode(b)).models;
    return Object.fromEntries(listed.map((m) => [m.file, fetchBytes(`/pkg/models/${m.file}`)]));
  });
  early.catch(() => {});
  // Each flavour gets its own copy of the glue module (the query makes it a separate module).
  const glue = await import(`/pkg/wasm/liveproof_${flavour}.js?bench`);
  await glue.default({ module_or_path: `/pkg/wasm/liveproof_${flavour}_bg.wasm?${Date.now()}` });
  const t1 = performance.now();
  const models = {};
  const started = await early;
  await Promise.all(glue.requiredModels(config).map(async (e) => (models[e.file] = await (started[e.file] ?? fetchBytes(`/pkg/models/${e.file}`)))));
  const t2 = performance.now();
  // The core logs each model's build steps (parse, typing, declutter, optimisation, plan).
  const buildLog = [];
  const debug = console.debug;
  console.debug = (line) => buildLog.push(String(line));
  glue.setLogLevel('debug');
  const t2b = performance.now();
  let engine;
  try {
    engine = new glue.Engine(models, config);
  } finally {
    glue.setLogLevel('off');
    console.debug = debug;
  }
  const t3 = performance.now();
  out.build_steps = parseBuildLog(buildLog);
  out.build_steps.log_overhead_ms = t2b - t2;
  const f0 = frames[0];
  engine.analyze(f0.data, f0.width, f0.height, 0, { pad: true });
  const t4 = performance.now();
  // models_ms: the wait for the models after the wasm is ready (they download meanwhile).
  out.cold = { wasm_ms: t1 - t0, models_ms: t2 - t1, engine_ms: t3 - t2, first_frame_ms: t4 - t3, total_ms: t4 - t0 };
  status(`${flavour}: whole frames…`);
  await pause();

  // Whole frame: detector + mesh + anti-spoofing pair on every frame (the server's work).
  const n = flavour === 'scalar' ? Math.min(REPS, 10) : REPS;
  const stage = { total_ms: [], detect_ms: [], landmarks_ms: [], pad_ms: [] };
  const wall = [];
  for (let i = 0; i < n; i++) {
    const f = frames[(i + 1) % frames.length];
    const s = performance.now();
    const r = engine.analyze(f.data, f.width, f.height, i, { pad: true });
    wall.push(performance.now() - s);
    for (const k in stage) stage[k].push(r.timings[k]);
  }
  out.whole_frame = { wall: stats(wall), ...Object.fromEntries(Object.entries(stage).map(([k, v]) => [k, stats(v).median])) };
  status(`${flavour}: live session…`);
  await pause();

  // A live session as the SDK runs it: detector + anti-spoofing every 3rd frame, mesh tracking
  // between, challenges and evidence on. Frames are replayed at the camera's 15 fps clock.
  const session = new glue.LiveSession(engine, { script: ['BLINK', 'LOOK LEFT'], live: { detect_every: 3, evidence: {} } });
  const per = [];
  const count = flavour === 'scalar' ? Math.min(frames.length, 15) : frames.length;
  for (let i = 0; i < count && !session.isDone(); i++) {
    const f = frames[i];
    const s = performance.now();
    session.process(f.data, f.width, f.height, i * (1000 / 15));
    per.push(performance.now() - s);
  }
  const live = stats(per);
  out.live = { ...live, fps: 1000 / live.mean };
  session.free();
  if (flavour === 'simd' && ORT) out.peer = await pairedOrt(engine, frames);
  engine.free();
  return out;
}

/** `{model: {parse, typed, declutter, optimise, plan}}` in ms from the core's build log. */
function parseBuildLog(lines) {
  const steps = {};
  for (const line of lines) {
    const m = line.match(/^\[liveproof::models\] (\w+): (.*)$/);
    if (!m) continue;
    for (const [, name, v] of m[2].matchAll(/(parse|typed|decluttered|optimised|planned) ([\d.]+) ms/g)) {
      (steps[m[1]] ??= {})[{ decluttered: 'declutter', optimised: 'optimise', planned: 'plan' }[name] ?? name] = Number(v);
    }
  }
  return steps;
}

function parseNpy(buf) {
  const view = new DataView(buf.buffer, buf.byteOffset);
  const headerLen = view.getUint16(8, true);
  const header = new TextDecoder().decode(buf.subarray(10, 10 + headerLen));
  const shape = header.match(/'shape': \(([^)]*)\)/)[1].split(',').filter((s) => s.trim()).map(Number);
  if (!header.includes("'<f4'")) throw new Error(`npy: float32 expected, got ${header}`);
  const data = new Float32Array(buf.slice(10 + headerLen).buffer);
  return { shape, data };
}

/** Loads the peer: onnxruntime-web sessions of the same four models on their reference inputs. */
async function loadOrt() {
  const ort = await import('/ort/ort.wasm.min.mjs');
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.wasmPaths = '/ort/';
  // The package's own files (the compact weights the SDK loads): onnxruntime-web folds their
  // widening nodes into constants when it creates a session, as tract does.
  const { models: shipped } = JSON.parse(new TextDecoder().decode(await fetchBytes('/pkg/models/manifest.json')));
  const file = (role) => shipped.find((m) => m.role === role).file;
  const cases = [
    ['detector', file('detector'), 'detector_yunet_dynamic__frame_zub_real_smile_wave_t1.0.input.npy'],
    ['landmarks', file('landmarks'), 'landmarks_facemesh478_attention_f16w__frame_moun_blink_drowsy_t1.0.input.npy'],
    ['pad_v2', file('pad_v2'), 'minifasnet_v2_s2.7__sfas_image_T1_real.input.npy'],
    ['pad_v1se', file('pad_v1se'), 'minifasnet_v1se_s4.0__sfas_image_T1_real.input.npy'],
  ];
  const models = [];
  for (const [name, model, input] of cases) {
    const t0 = performance.now();
    const session = await ort.InferenceSession.create(await fetchBytes(`/pkg/models/${model}`), {
      executionProviders: ['wasm'],
      graphOptimizationLevel: 'all',
    });
    const load_ms = performance.now() - t0;
    const { shape, data } = parseNpy(await fetchBytes(`/fixtures/${input}`));
    const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, shape) };
    await session.run(feeds); // warm-up
    models.push({ name, session, feeds, shape, load_ms });
  }
  return { version: ort.env.versions?.web ?? null, models };
}

/**
 * The peer comparison, paired: each repetition runs one whole tract frame and then the four
 * onnxruntime-web models, so both see the same machine state (this VM is shared and noisy).
 */
async function pairedOrt(engine, frames) {
  const peer = await loadOrt();
  const tract = { total_ms: [], detect_ms: [], landmarks_ms: [], pad_ms: [], wall: [] };
  const ort = Object.fromEntries(peer.models.map((m) => [m.name, []]));
  const ratios = [];
  // Warm-up, discarded: V8 first runs wasm on its baseline compiler and tiers hot functions
  // up to the optimising one as they run; both engines get the same chance.
  const WARMUP = 8;
  for (let i = -WARMUP; i < REPS; i++) {
    if (i % 5 === 0) {
      status(`tract vs onnxruntime-web: ${i}/${REPS}…`);
      await pause();
    }
    const f = frames[(i + WARMUP) % frames.length];
    const s = performance.now();
    const r = engine.analyze(f.data, f.width, f.height, i, { pad: true });
    const wall = performance.now() - s;
    let sum = 0;
    const times = [];
    for (const m of peer.models) {
      const t = performance.now();
      await m.session.run(m.feeds);
      times.push(performance.now() - t);
      sum += times.at(-1);
    }
    if (i < 0) continue;
    tract.wall.push(wall);
    for (const k of ['total_ms', 'detect_ms', 'landmarks_ms', 'pad_ms']) tract[k].push(r.timings[k]);
    peer.models.forEach((m, k) => ort[m.name].push(times[k]));
    ratios.push(wall / sum);
  }
  for (const m of peer.models) await m.session.release();
  const med = (xs) => stats(xs).median;
  const out = {
    version: peer.version,
    reps: REPS,
    tract: { wall: stats(tract.wall), detect_ms: med(tract.detect_ms), landmarks_ms: med(tract.landmarks_ms), pad_ms: med(tract.pad_ms) },
    ort: Object.fromEntries(peer.models.map((m) => [m.name, { shape: m.shape, load_ms: m.load_ms, ...stats(ort[m.name]) }])),
    ratio_median_of_pairs: med(ratios),
  };
  out.ort.frame_models_ms = ['detector', 'landmarks', 'pad_v2', 'pad_v1se'].reduce((a, k) => a + out.ort[k].median, 0);
  return out;
}

async function main() {
  const result = { userAgent: navigator.userAgent, hardwareConcurrency: navigator.hardwareConcurrency, frames: FRAMES, reps: REPS };
  status(CLIP ? `Cutting frames from ${CLIP}…` : 'Capturing frames from the camera…');
  const frames = CLIP ? await clipFrames(CLIP, FRAMES, CLIP_START) : await captureFrames(FRAMES);
  result.source = CLIP ? `${CLIP} from ${CLIP_START} s` : 'camera';
  result.frame_size = [frames[0].width, frames[0].height];
  const simd = WebAssembly.validate(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]));
  result.simd_supported = simd;
  for (const flavour of FLAVOURS) {
    if (flavour === 'simd' && !simd) continue;
    status(`${flavour}: cold start…`);
    result[flavour] = await benchFlavour(flavour, frames);
    const r = result[flavour];
    row(`${flavour}: cold start to first frame`, `${r.cold.total_ms.toFixed(0)} ms (wasm ${r.cold.wasm_ms.toFixed(0)}, models ${r.cold.models_ms.toFixed(0)}, engine ${r.cold.engine_ms.toFixed(0)}, first frame ${r.cold.first_frame_ms.toFixed(0)})`);
    row(`${flavour}: whole frame (detect + mesh + PAD)`, `median ${r.whole_frame.wall.median.toFixed(1)} ms, p90 ${r.whole_frame.wall.p90.toFixed(1)} ms`);
    row(`${flavour}: live session (detector every 3rd frame)`, `median ${r.live.median.toFixed(1)} ms, p90 ${r.live.p90.toFixed(1)} ms, ${r.live.fps.toFixed(1)} frames/s`);
  }
  const peer = result.simd?.peer;
  if (peer) {
    row('paired: tract simd whole frame', `median ${peer.tract.wall.median.toFixed(1)} ms`);
    row('paired: onnxruntime-web, the four models of a frame', `${peer.ort.frame_models_ms.toFixed(1)} ms`);
    row('ratio tract / onnxruntime-web (median of paired reps)', peer.ratio_median_of_pairs.toFixed(2));
  }
  status('Done.');
  window.benchResult = result;
}

main().catch((err) => {
  status(`Failed: ${err.message}`);
  window.benchResult = { error: String(err.stack ?? err) };
});
