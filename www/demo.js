// The demo page: the SDK on the camera, an overlay of what the core sees, the event stream,
// the verdict, per-frame timing, and (when liveproof-server serves this page) the server's
// signed verdict on the signed evidence.
import { Liveness, LivenessError, STRINGS } from '/pkg/index.js';

const $ = (id) => document.getElementById(id);

/** @type {Liveness|null} */
let lv = null;
// What happened, for the browser tests and curious developers.
const demo = (window.demo = { events: [], final: null, server: null, error: null, light: [], manifest: null });
let lastRecord = null;

function log(msg) {
  const li = document.createElement('li');
  li.textContent = typeof msg === 'string' ? msg : JSON.stringify(msg);
  $('log').prepend(li);
}

function prompt(text) {
  $('prompt').textContent = text;
}

async function serverReachable() {
  try {
    return (await fetch('/healthz', { cache: 'no-store' })).ok;
  } catch {
    return false;
  }
}

// A public session (this page has no relying-party token): the server's policy alone decides
// the script, its length, its time windows and its screen-light sequence, so the page asks for
// nothing but, when the person asks for it, no flashing (`{"light": false}`: the server adds a
// challenge instead).
async function createServerSession(noFlash) {
  const init = noFlash
    ? { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ light: false }) }
    : { method: 'POST' };
  const res = await fetch('/v1/sessions', init);
  if (!res.ok) throw new Error(`POST /v1/sessions → ${res.status}: ${await res.text()}`);
  return res.json();
}

/** Verifies the server's verdict JWS with WebCrypto against the published JWKS. */
async function verifyVerdict(jws) {
  const [h, p, s] = jws.split('.');
  const header = JSON.parse(atob(h.replace(/-/g, '+').replace(/_/g, '/')));
  const jwks = await (await fetch('/.well-known/jwks.json')).json();
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  if (!jwk) return `no key ${header.kid} in the JWKS`;
  const key = await crypto.subtle.importKey('jwk', jwk, { name: 'Ed25519' }, false, ['verify']);
  const b64 = (t) => Uint8Array.from(atob(t.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
  const ok = await crypto.subtle.verify('Ed25519', key, b64(s), new TextEncoder().encode(`${h}.${p}`));
  return ok ? `signature verified with ${header.kid} from /.well-known/jwks.json` : 'SIGNATURE DOES NOT VERIFY';
}

function drawOverlay(detail) {
  const c = $('overlay');
  const r = detail.record;
  if (c.width !== r.width || c.height !== r.height) {
    c.width = r.width;
    c.height = r.height;
  }
  const g = c.getContext('2d');
  g.clearRect(0, 0, c.width, c.height);
  const ok = r.guidance.length === 0;
  if (r.bbox) {
    g.strokeStyle = ok ? '#3ddc84' : '#ffb020';
    g.lineWidth = 2;
    g.strokeRect(r.bbox.x1, r.bbox.y1, r.bbox.x2 - r.bbox.x1, r.bbox.y2 - r.bbox.y1);
  }
  const pts = detail.landmarks;
  if (pts && pts.length) {
    g.fillStyle = r.tracked ? 'rgba(120,200,255,.8)' : 'rgba(255,255,255,.8)';
    for (let i = 0; i < pts.length; i += 2) g.fillRect(pts[i] - 0.75, pts[i + 1] - 0.75, 1.5, 1.5);
  }
}

// The screen light: the page is the light source, so the whole page around the preview takes
// the colour (painted inside the animation frame the SDK sets it in).
function paintLight(colour) {
  const css = colour ? `rgb(${colour[0]} ${colour[1]} ${colour[2]})` : '';
  document.documentElement.style.background = css;
  document.body.style.background = css;
  $('light-frame').style.background = css;
  $('light-frame').classList.toggle('on', Boolean(colour));
}

/** The server verdict's light and injection parts, whatever shape they come in (null-safe). */
function lightAndInjection(r) {
  const parts = [];
  if ('light' in r) {
    const l = JSON.stringify(r.light ?? null);
    parts.push(`light: ${l.length > 240 ? `${l.slice(0, 240)}…` : l}`);
  }
  if ('injection' in r) {
    const inj = r.injection;
    const reasons = Array.isArray(inj?.reasons) ? inj.reasons.map((x) => (typeof x === 'string' ? x : x?.code ?? x?.kind ?? JSON.stringify(x))).join(', ') : '';
    parts.push(`injection risk: ${inj?.risk ?? 'none'}${reasons ? ` (${reasons})` : ''}`);
  }
  return parts.length ? `; ${parts.join('; ')}` : '';
}

function showTiming() {
  if (!lv) return;
  const s = lv.stats();
  const t = lastRecord?.timings ?? {};
  const f = (v) => (v == null ? '—' : `${v.toFixed(1)} ms`);
  const rows = [
    ['wasm build', `${s.wasm} (${s.transport})`],
    ['frames analysed / dropped', `${s.framesAnalysed} / ${s.framesDropped}`],
    ['per frame, median', f(s.medianMs)],
    ['per frame, p90', f(s.p90Ms)],
    ['analysed frames / s', s.medianMs ? (1000 / s.medianMs).toFixed(1) : '—'],
    ['worker round trip, median', f(s.roundTripMedianMs)],
    ['last frame: detect', f(t.detect_ms)],
    ['last frame: landmarks', f(t.landmarks_ms)],
    ['last frame: anti-spoofing', f(t.pad_ms)],
    ['last frame: tracked', lastRecord ? String(lastRecord.tracked) : '—'],
  ];
  $('timing').tBodies[0].innerHTML = rows.map(([k, v]) => `<tr><td>${k}</td><td>${v}</td></tr>`).join('');
}

async function onFinal(e, session) {
  demo.final = e;
  const v = $('verdict');
  v.className = `verdict ${e.label === 'REAL' ? 'real' : 'fake'}`;
  v.textContent = `${e.label} · confidence ${(e.confidence ?? 0).toFixed(2)} · passed ${e.passed.join(', ') || 'none'}`;
  prompt(e.label === 'REAL' ? 'Done: you are live.' : 'Not verified. Try again with good light.');
  await lv.stop();
  $('stop').disabled = true;
  $('start').disabled = false;
  if (!session) return;
  const sv = $('server-verdict');
  sv.hidden = false;
  sv.textContent = 'Submitting signed evidence…';
  try {
    const res = await lv.submit();
    const r = res.result;
    sv.className = `verdict small ${r.label === 'REAL' ? 'real' : 'fake'}`;
    sv.textContent =
      `Server: ${r.label} (confidence ${Number(r.confidence ?? 0).toFixed(2)}, passed ${r.passed.join(', ') || 'none'}, ` +
      `checked by the server: ${Object.entries(r.checks ?? {}).filter(([, v]) => v === 'server').map(([k]) => k).join(', ')}` +
      `${r.failure ? `, failure: ${JSON.stringify(r.failure)}` : ''}; its own run: ${r.server?.recording ? `${r.server.recording.frames_analysed} frames of ${(r.server.recording.duration_ms / 1000).toFixed(1)} s` : 'no recording'}; ` +
      `disagreement: ${r.disagreement?.any}${lightAndInjection(r)}). ${await verifyVerdict(res.verdict)}. Verdict JWS: ${res.verdict.slice(0, 60)}…`;
    log({ server: r });
    if (r.light !== undefined) log({ light: r.light });
    if (r.injection !== undefined) log({ injection: r.injection });
    demo.manifest = (await lv.evidence()).manifest;
    demo.server = res;
  } catch (err) {
    demo.server = { error: err.toJSON?.() ?? String(err) };
    sv.className = 'verdict small fake';
    sv.textContent = `Server refused: ${err instanceof LivenessError ? `${err.code} ${err.status ?? ''} ${JSON.stringify(err.body ?? err.message)}` : err}`;
  }
}

async function start(ev) {
  ev.preventDefault();
  $('start').disabled = true;
  $('verdict').className = 'verdict';
  $('verdict').textContent = '…';
  $('server-verdict').hidden = true;
  $('log').innerHTML = '';
  demo.light = [];
  demo.manifest = null;
  paintLight(null);
  lv?.close();
  const count = Number($('count').value);
  const noSmile = $('no-smile').checked;
  const options = {
    detectEvery: Number($('detect-every').value),
    landmarks: true,
    accessibility: { noSmile, longerTimeouts: $('longer').checked },
  };
  const script = params.get('challenges')?.split(',').filter(Boolean);
  let session = null;
  try {
    if ($('server').checked && (await serverReachable())) {
      const noFlash = $('no-flash').checked;
      session = await createServerSession(noFlash);
      options.session = session;
      demo.session = session;
      if (noFlash) options.light = false;
      // The server's policy fixes the script and its windows; these options are not ours to set.
      options.accessibility = {};
      // The server decides only from the recording: without it, at best PASSIVE_ONLY.
      options.recordClip = $('record').checked;
      log(`server session ${session.session_id}: ${session.challenges.join(', ')}; light: ${session.light ? `${session.light.segments.length} colours, passive phase ${session.light.passive_ms} ms` : 'none'}`);
      if (session.light && !options.recordClip) log('light: not shown without a recording (the server would have nothing to check it against)');
    } else {
      options.challenges = script ? { script } : { count };
    }
    prompt('Loading the models…');
    lv = await Liveness.create(options);
    demo.lv = lv;
    log(`engine ready: ${lv.info.flavour} build, core ${lv.info.core}; script ${lv.script.join(', ')}`);
    for (const type of ['phase', 'frame_result', 'challenge_start', 'challenge_result', 'guidance', 'final_result']) {
      lv.on(type, (d) => demo.events.push(d));
      if (type !== 'frame_result') lv.on(type, (d) => log(d));
    }
    lv.on('challenge_start', (d) => prompt(STRINGS.en[d.action] ?? d.action));
    lv.on('guidance', (d) => prompt(d.message));
    lv.on('phase', (d) => d.value === 'passive' && prompt('Hold still and look at the camera'));
    lv.on('frame', (d) => {
      lastRecord = d.record;
      drawOverlay(d);
    });
    lv.on('final_result', (d) => onFinal(d, session));
    lv.on('error', (err) => log(`error: ${err.code} ${err.message}`));
    lv.on('light', (d) => {
      paintLight(d.colour);
      demo.light.push(d);
      if (d.index === 0 && d.colour) prompt('Hold still while the screen changes colour');
      log(d.colour ? `light ${d.index}: rgb(${d.colour.join(', ')})` : 'light: off');
    });
    await lv.start();
    lv.video.setAttribute('playsinline', '');
    lv.video.muted = true;
    $('preview').prepend(lv.video);
    $('stop').disabled = false;
    const sig = lv.signals;
    log(`signals: camera ${JSON.stringify(sig.device_label)}${sig.wrapped.length ? `, wrapped: ${sig.wrapped.join(', ')}` : ', no wrapped functions'}`);
  } catch (err) {
    demo.error = err.toJSON?.() ?? String(err);
    prompt(err instanceof LivenessError ? `${err.code}: ${err.message}` : String(err));
    log(`error: ${err.code ?? ''} ${err.message ?? err}`);
    $('start').disabled = false;
  }
}

// URL parameters (used by the browser tests): ?challenges=BLINK,LOOK%20LEFT&server=0&detect=3&autostart=1&noflash=1
const params = new URLSearchParams(location.search);
if (params.get('noflash') === '1') $('no-flash').checked = true;
if (params.has('detect')) $('detect-every').value = params.get('detect');
if (params.get('server') === '0') $('server').checked = false;
$('controls').addEventListener('submit', start);
$('stop').addEventListener('click', async () => {
  await lv?.stop();
  await lv?.finish();
  $('stop').disabled = true;
  $('start').disabled = false;
});
setInterval(showTiming, 500);
serverReachable().then((ok) => {
  $('server-status').textContent = ok ? 'liveproof-server is serving this page.' : 'no server: the check runs on this device only.';
  if (!ok) $('server').checked = false;
  if (params.get('autostart') === '1') $('controls').requestSubmit();
});
