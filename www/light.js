// Records real screen-light sessions: a nonce → its colour sequence (POST /v1/light/sequence),
// the camera recorded (MediaRecorder, VP8 WebM) while the sequence fills the screen, then the
// recording and the displayed timeline ({nonce, onsets_ms, segments}) to download and score
// with `liveproof light CLIP --nonce N --timeline timeline.json`. The SDK's own pieces do the
// work, so the recording and its time base are exactly a session's: ClipRecorder (time 0 =
// when recording started) and LightDisplay (onset = the animation frame after the colour was
// set, at most 3 changes a second).
import { ClipRecorder, canRecord } from '/pkg/recorder.js';
import { LightDisplay, normalizeLight, cssColour, LIGHT_DELAY_MS } from '/pkg/light.js';

const $ = (id) => document.getElementById(id);
/** What happened, for tests and curious developers. */
const page = (window.lightPage = { nonce: null, segments: null, onsets: null, clip: null, error: null });

function status(text) {
  $('status').textContent = text;
}

function randomNonce() {
  const b = crypto.getRandomValues(new Uint8Array(24));
  return btoa(String.fromCharCode(...b)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** The nonce's sequence from the server, checked against the SDK's flashing rules. */
async function fetchSequence(nonce) {
  let res;
  try {
    res = await fetch('/v1/light/sequence', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ nonce }),
    });
  } catch (e) {
    throw new Error(`the server could not be reached (${e.message}): this page needs liveproof-server (scripts/demo.sh)`);
  }
  if (res.status === 404 || res.status === 405) {
    throw new Error(`this server has no POST /v1/light/sequence route (${res.status}): it is older than the screen-light challenge, or this page is not served by liveproof-server`);
  }
  const text = await res.text();
  if (!res.ok) throw new Error(`POST /v1/light/sequence → ${res.status}: ${text}`);
  const body = JSON.parse(text);
  // The same checks a session's light goes through (segment length, no saturated red).
  const plan = normalizeLight({ segments: body.segments, passive_ms: 1 }, 'segments');
  return plan.segments;
}

const wait = (ms) => new Promise((r) => setTimeout(r, ms));

async function record(ev) {
  ev.preventDefault();
  const nonce = $('nonce').value.trim();
  if (!nonce) return;
  $('record').disabled = true;
  $('result').hidden = true;
  page.error = null;
  let stream = null;
  try {
    if (!canRecord()) throw new Error('this browser cannot record video (MediaRecorder with WebM or MP4)');
    status('Fetching the sequence…');
    const segments = await fetchSequence(nonce);
    page.nonce = nonce;
    page.segments = segments;
    status('Opening the camera…');
    stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 30 }, facingMode: 'user' }, audio: false });
    const stage = $('stage');
    stage.hidden = false;
    $('preview').srcObject = stream;
    await $('preview').play().catch(() => {});
    await stage.requestFullscreen?.().catch(() => {});
    // A second to settle (exposure) before recording starts.
    await wait(1000);
    const clip = new ClipRecorder(stream);
    if (!clip.recording) throw new Error('the recorder did not start');
    const light = new LightDisplay(segments, { toRecording: (t) => clip.recordingTime(t) });
    const finished = new Promise((resolve) => {
      light.onChange((c) => {
        stage.style.background = cssColour(c.colour, '#000');
        if (c.colour === null) resolve();
      });
    });
    light.start(clip.startedAt + LIGHT_DELAY_MS);
    status(`Recording: ${segments.length} colours…`);
    await finished;
    // Wait for the neutral frame to be presented, then the recorder's tail.
    while (light.state === 'running') await wait(20);
    const out = await clip.finish();
    if (!out) throw new Error('the recording is empty (or longer than the server accepts)');
    const onsets = light.onsets.map((t) => Math.round(t * 10) / 10);
    page.onsets = onsets;
    page.clip = { bytes: out.data.length, type: out.type, data: out.data };
    offer(nonce, segments, onsets, out);
    status(`Recorded ${(out.data.length / 1e6).toFixed(2)} MB (${out.type}), ${onsets.length} onsets.`);
  } catch (e) {
    page.error = String(e.message ?? e);
    status(`Error: ${page.error}`);
  } finally {
    for (const t of stream?.getTracks() ?? []) t.stop();
    $('stage').hidden = true;
    $('stage').style.background = '';
    if (document.fullscreenElement) await document.exitFullscreen().catch(() => {});
    $('record').disabled = false;
  }
}

function offer(nonce, segments, onsets, clip) {
  const ext = clip.type.includes('mp4') ? 'mp4' : 'webm';
  const safe = nonce.replace(/[^\w-]/g, '_').slice(0, 40);
  const clipName = `light-${safe}.${ext}`;
  const timeline = { nonce, onsets_ms: onsets, segments };
  const json = JSON.stringify(timeline, null, 1);
  const clipLink = $('clip-link');
  const tlLink = $('timeline-link');
  for (const a of [clipLink, tlLink]) if (a.href.startsWith('blob:')) URL.revokeObjectURL(a.href);
  clipLink.href = URL.createObjectURL(new Blob([clip.data], { type: clip.type }));
  clipLink.download = clipName;
  clipLink.textContent = clipName;
  tlLink.href = URL.createObjectURL(new Blob([json], { type: 'application/json' }));
  const quote = (s) => (/^[\w.@%+=:,/-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  $('cmd').textContent = `liveproof light ${quote(clipName)} --nonce ${quote(nonce)} --timeline timeline.json`;
  $('timeline').textContent = json;
  $('result').hidden = false;
}

$('generate').addEventListener('click', () => { $('nonce').value = randomNonce(); });
$('form').addEventListener('submit', record);
const given = new URLSearchParams(location.search).get('nonce');
$('nonce').value = given ?? randomNonce();
if (new URLSearchParams(location.search).get('autostart') === '1') $('form').requestSubmit();
