// Type-checks the package's hand-written .d.ts files the way an app uses them
// (`tsc -p tests/js/tsconfig.json`, run by types.test.js). Never executed.
import { Liveness, LivenessError, STRINGS as PROMPTS, type LivenessOptions, type FinalResultEvent, type SigningKey } from 'liveproof';
import { LiveproofCheck, STRINGS } from 'liveproof/element';
import { DeviceKey, ResultQueue } from 'liveproof/kiosk';

export async function app(video: HTMLVideoElement): Promise<string> {
  const options: LivenessOptions = {
    challenges: { actions: ['BLINK', 'LOOK_LEFT'], count: 2, timeoutMs: 9000, seed: 'nonce' },
    accessibility: { noSmile: true, longerTimeouts: false },
    camera: { facingMode: 'user', width: 640, height: 480, frameRate: 30 },
    thresholds: { pad: 0.5, identity: 0.4, yaw_deg: 20 },
    detectEvery: 3,
    maxAnalysisSide: 640,
    landmarks: true,
    evidence: { max_frames: 8 },
    wasm: 'auto',
    cacheModels: true,
  };
  const lv = await Liveness.create(options);
  lv.addEventListener('final_result', (e) => {
    const label: 'REAL' | 'FAKE' = e.detail.label;
    const passed: string[] = e.detail.passed;
    console.log(label, passed, e.detail.confidence?.toFixed(2));
  });
  lv.addEventListener('challenge_start', (e) => console.log(PROMPTS.en[e.detail.action] ?? e.detail.action));
  lv.addEventListener('guidance', (e) => console.log(e.detail.reason, e.detail.message));
  lv.addEventListener('frame', (e) => console.log(e.detail.record.timings.total_ms, e.detail.landmarks?.length));
  lv.addEventListener('error', (e) => console.log(e.detail.code));
  const off = lv.on('frame_result', (d) => console.log(d.confidence, d.label));
  off();
  lv.on('phase', (d) => console.log(d.value === 'passive'));
  try {
    await lv.start(video);
  } catch (e) {
    if (e instanceof LivenessError && e.code === 'camera_denied') return 'denied';
    throw e;
  }
  const done = await new Promise<FinalResultEvent>((resolve) => lv.addEventListener('final_result', (e) => resolve(e.detail), { once: true }));
  await lv.stop();
  const { manifest, items } = await lv.evidence();
  console.log(manifest.result.label, items.map((i) => [i.name, i.data.byteLength]));
  const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify'])) as CryptoKeyPair;
  const key: SigningKey = { alg: 'EdDSA', kid: 'device-1', privateKey: pair.privateKey };
  const jws: string = await lv.sign(key);
  const s = lv.stats();
  console.log(s.medianMs ?? 0, s.framesDropped, s.wasm, jws, done.passed);
  lv.close();
  return lv.result?.label ?? 'none';
}

export async function online(session: { session_id: string; nonce: string; session_key: string; challenges: string[]; evidence_url: string }) {
  const lv = await Liveness.create({ session });
  await lv.start();
  lv.on('final_result', async () => {
    const { verdict } = await lv.submit();
    console.log(verdict.split('.').length);
  });
}

export function element() {
  const el = document.createElement('liveproof-check');
  const typed: LiveproofCheck = el;
  typed.strings = { start: 'Go' };
  typed.setAttribute('count', '2');
  typed.addEventListener('final_result', (e) => console.log(e.detail.label, e.detail.passed));
  typed.addEventListener('challenge_result', (e) => console.log(e.detail.status));
  typed.addEventListener('error', (e) => console.log(e.detail.code, e.message));
  console.log(STRINGS.de.start, typed.liveness?.script);
  document.body.append(el);
}

export async function kiosk(lv: Liveness) {
  const key = await DeviceKey.loadOrCreate('front-desk');
  const raw: Uint8Array = key.publicKeyRaw();
  console.log(raw.length, key.publicKeyBase64url());
  await key.setDeviceId('dev-1');
  const queue = new ResultQueue({ url: '/v1/kiosk/evidence', deviceKey: key });
  queue.addEventListener('rejected', (e) => console.log(e.detail.status));
  const seq: number = await queue.add(lv);
  const { sent, remaining } = await queue.flush();
  console.log(seq, sent, remaining, await queue.size());
}

export function strictness(lv: Liveness) {
  // The event map is typed: wrong fields and wrong event names do not compile.
  // @ts-expect-error `labels` is not a field of final_result
  lv.addEventListener('final_result', (e) => e.detail.labels);
  // @ts-expect-error challenge_start carries an action, not a status
  lv.on('challenge_start', (d) => d.status);
  // @ts-expect-error unknown option
  void Liveness.create({ detect_every: 3 });
  // @ts-expect-error wasm flavour
  void Liveness.create({ wasm: 'sse' });
}

export async function lightAndSignals(session: import('liveproof').ServerSession): Promise<void> {
  const lv = await Liveness.create({ session, light: true });
  lv.on('light', (d) => {
    const c: [number, number, number] | null = d.colour;
    document.body.style.background = c ? `rgb(${c.join(' ')})` : '';
    console.log(d.index, d.t_ms);
  });
  const l = lv.light;
  if (l) console.log(l.segments[0].duration_ms, l.current, l.onsets.length);
  const s = lv.signals;
  console.log(s.wrapped.includes('getUserMedia'), s.device_label, s.settings_inconsistent, s.frame_intervals?.median_ms);
  const { manifest } = await lv.evidence();
  console.log(manifest.light?.onsets_ms.length, manifest.signals?.wrapped);
  const { result } = await lv.submit();
  console.log(result.light, result.injection?.risk);
  const el = document.createElement('liveproof-check');
  el.setAttribute('no-flash', '');
  el.addEventListener('light', (e) => console.log(e.detail.colour));
  const segs: import('liveproof').LightSegment[] = session.light?.segments ?? [];
  console.log(segs.length);
}
