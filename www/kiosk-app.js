// Kiosk mode: a walk-up loop on a fixed camera. The page, the SDK, the wasm and the models are
// cached by the service worker (sw.js) so the kiosk keeps working offline; each decision is
// signed with the kiosk's Ed25519 device key and queued in IndexedDB until it reaches the
// server (POST /v1/kiosk/evidence).
import { Liveness, LivenessError, STRINGS } from '/pkg/index.js';
import { DeviceKey, ResultQueue } from '/pkg/kiosk.js';

const $ = (id) => document.getElementById(id);
// Walk-up distance → the smallest face (longer box side over the frame's shorter side) the
// quality gate accepts: farther kiosks accept smaller faces.
const DISTANCE = { near: 0.3, medium: 0.18, far: 0.1 };
const SETTINGS_KEY = 'liveproof-kiosk-settings';
const POLICY_KEY = 'liveproof-kiosk-policy';
const PAUSE_MS = 4000;

const settings = Object.assign(
  { camera: '', distance: 'medium', count: 2, url: '/v1/kiosk/evidence' },
  JSON.parse(localStorage.getItem(SETTINGS_KEY) ?? '{}'),
);
const state = { lv: null, key: null, queue: null, runs: 0, results: [] };
window.kiosk = state; // for the browser tests

function log(msg) {
  const li = document.createElement('li');
  li.textContent = `${new Date().toLocaleTimeString()} ${typeof msg === 'string' ? msg : JSON.stringify(msg)}`;
  $('log').prepend(li);
  while ($('log').children.length > 50) $('log').lastChild.remove();
}

const prompt = (text) => ($('prompt').textContent = text);

async function showQueue() {
  if (state.queue) $('queue').textContent = `queue: ${await state.queue.size()} waiting`;
}

function showNet() {
  $('net').textContent = navigator.onLine ? 'online' : 'offline';
}

async function registerServiceWorker() {
  if (!('serviceWorker' in navigator)) {
    $('offline-ready').textContent = 'no service worker: online only';
    return;
  }
  await navigator.serviceWorker.register('sw.js');
  await navigator.serviceWorker.ready;
  $('offline-ready').textContent = navigator.serviceWorker.controller ? 'works offline' : 'offline after reload';
}

async function listCameras() {
  const select = $('camera');
  const devices = (await navigator.mediaDevices?.enumerateDevices?.()) ?? [];
  select.innerHTML = '<option value="">default</option>';
  for (const d of devices.filter((d) => d.kind === 'videoinput')) {
    const o = new Option(d.label || `camera ${select.length}`, d.deviceId);
    o.selected = d.deviceId === settings.camera;
    select.add(o);
  }
}

// The server decides what a kiosk's script is drawn from (GET /v1/kiosk/policy): it refuses a
// bundle whose script is not its policy's draw from the bundle's nonce. Cached for offline
// starts; before the first contact the SDK's defaults are the server's defaults.
async function loadPolicy() {
  try {
    const res = await fetch(new URL('policy', new URL(settings.url, location.href)), { cache: 'no-store' });
    if (res.ok) {
      const policy = await res.json();
      localStorage.setItem(POLICY_KEY, JSON.stringify(policy));
      return policy;
    }
  } catch {
    // offline: use the cached policy
  }
  return JSON.parse(localStorage.getItem(POLICY_KEY) ?? 'null');
}

async function register() {
  const res = await fetch('/v1/devices', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${$('admin-token').value}` },
    body: JSON.stringify({ public_key: state.key.publicKeyBase64url(), label: `kiosk ${location.host}` }),
  });
  if (!res.ok) throw new Error(`POST /v1/devices → ${res.status}: ${await res.text()}`);
  const { device_id } = await res.json();
  await state.key.setDeviceId(device_id);
  $('device-id').value = device_id;
  $('device').textContent = `device: ${device_id}`;
  log(`registered as ${device_id}`);
}

async function onFinal(e) {
  state.results.push(e);
  prompt(e.label === 'REAL' ? 'Thank you: verified.' : 'Not verified. Please try again.');
  log(e);
  if (state.key.deviceId) {
    const seq = await state.queue.add(state.lv);
    log(`signed and queued (#${seq})`);
    state.queue.flush().catch(() => {}).finally(showQueue);
  } else {
    log('kiosk not registered: result not queued');
  }
  await showQueue();
  setTimeout(next, PAUSE_MS);
}

async function next() {
  const lv = state.lv;
  await lv.stop();
  await lv.reset();
  state.runs++;
  await lv.start();
}

async function boot() {
  showNet();
  addEventListener('online', () => (showNet(), state.queue?.flush().finally(showQueue)));
  addEventListener('offline', showNet);
  $('count').value = settings.count;
  $('distance').value = settings.distance;
  $('url').value = settings.url;
  await registerServiceWorker().catch((e) => log(`service worker: ${e.message}`));

  state.key = await DeviceKey.loadOrCreate('kiosk');
  $('pubkey').textContent = state.key.publicKeyBase64url();
  $('device-id').value = state.key.deviceId ?? '';
  $('device').textContent = `device: ${state.key.deviceId ?? 'not registered'}`;
  state.queue = new ResultQueue({ url: settings.url, deviceKey: state.key });
  state.queue.addEventListener('sent', (e) => (log({ sent: e.detail.seq, verdict: e.detail.response?.result?.label }), showQueue()));
  state.queue.addEventListener('rejected', (e) => (log({ rejected: e.detail.seq, status: e.detail.status }), showQueue()));
  await showQueue();

  const policy = await loadPolicy();
  state.policy = policy;
  prompt('Loading the models…');
  state.lv = await Liveness.create({
    challenges: policy
      ? { actions: policy.actions, count: Math.max(settings.count, policy.count), timeoutMs: policy.timeout_ms }
      : { count: Math.max(settings.count, 2) },
    // The server verifies a kiosk's result only from its recording.
    recordClip: true,
    camera: settings.camera ? { deviceId: settings.camera } : {},
    quality: { min_face_size: DISTANCE[settings.distance] ?? DISTANCE.medium },
    landmarks: false,
  });
  const lv = state.lv;
  lv.on('phase', (d) => d.value === 'passive' && prompt('Look at the camera'));
  lv.on('challenge_start', (d) => prompt(STRINGS.en[d.action] ?? d.action));
  lv.on('guidance', (d) => prompt(d.message));
  lv.on('final_result', onFinal);
  lv.on('error', (err) => log(`error: ${err.code} ${err.message}`));
  await lv.start();
  lv.video.muted = true;
  lv.video.setAttribute('playsinline', '');
  $('preview').prepend(lv.video);
  await listCameras();
  state.ready = true;
  log(`ready: ${lv.info.flavour} build; models from ${[...new Set(lv.info.models.map((m) => m.source))].join('/')}`);
}

// A device id typed here is one an administrator obtained out of band (POST /v1/devices with
// the public key shown below); "Register this kiosk" fills it in by itself.
async function applySettings() {
  const deviceId = $('device-id').value.trim();
  if (deviceId && state.key && deviceId !== state.key.deviceId) {
    await state.key.setDeviceId(deviceId);
    log(`device id set to ${deviceId}`);
  }
  Object.assign(settings, {
    camera: $('camera').value,
    distance: $('distance').value,
    count: Number($('count').value),
    url: $('url').value,
  });
  localStorage.setItem(SETTINGS_KEY, JSON.stringify(settings));
  location.reload();
}

$('settings').addEventListener('submit', (ev) => {
  ev.preventDefault();
  applySettings().catch((e) => log(`settings not applied: ${e.message}`));
});
$('register').addEventListener('click', () => register().catch((e) => log(`registration failed: ${e.message}`)));

boot().catch((err) => {
  prompt(err instanceof LivenessError ? `${err.code}: ${err.message}` : String(err));
  log(`error: ${err.code ?? ''} ${err.message ?? err}`);
});
