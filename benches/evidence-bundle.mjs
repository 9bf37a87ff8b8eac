// An SDK-shaped evidence bundle, signed with the session key (HS256), as a FormData ready to
// post to the session's evidence_url. Shared by the benchmarks (session-bench.mjs: honest
// sessions; abuse-bench.mjs: an anonymous client flooding with oversized bundles).
import { createHmac, createHash } from 'node:crypto';

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');
const item = (name, kind, mediaType, tMs, data) => ({
  name, kind, media_type: mediaType, ...(tMs === null ? {} : { t_ms: tMs }), bytes: data.length, sha256: sha256(data),
});
const record = (t) => ({
  t_ms: t, width: 640, height: 480, faces: 1, bbox: null, score: null, presence: null,
  pad: { real: 0.95, v2: 0.95, v1se: 0.95 }, ear: null, mouth: null, pose: null, quality: null,
  happy: null, guidance: [],
  timings: { detect_ms: 0, landmarks_ms: 0, pad_ms: 0, embed_ms: 0, attributes_ms: 0, total_ms: 0 },
});

/**
 * @param session the POST /v1/sessions answer
 * @param frames [{ data: Buffer, type: 'image/jpeg' | 'image/png' }], one every 400 ms
 * @param clip optional { data: Buffer, type: 'video/webm' | 'video/mp4' }
 */
export function signedBundle(session, frames, clip = null) {
  const items = [];
  const parts = [];
  frames.forEach((f, i) => {
    const ext = f.type === 'image/png' ? 'png' : 'jpg';
    const name = `frame-${String(i).padStart(3, '0')}.${ext}`;
    items.push(item(name, 'frame', f.type, 400 * (i + 1), f.data));
    parts.push([name, f.data, f.type]);
  });
  const records = Buffer.from(JSON.stringify(frames.map((_, i) => record(400 * (i + 1)))));
  items.push(item('records.json', 'records', 'application/json', null, records));
  parts.push(['records.json', records, 'application/json']);
  if (clip) {
    const clipName = clip.type === 'video/mp4' ? 'clip.mp4' : 'clip.webm';
    items.push(item(clipName, 'clip', clip.type, null, clip.data));
    parts.push([clipName, clip.data, clip.type]);
  }
  const manifest = {
    v: 1, session_id: session.session_id, nonce: session.nonce, created_ms: Date.now(),
    versions: { sdk: 'bench', core: '0', models: {} },
    script: session.challenges, timeout_ms: session.timeout_ms, challenges: [],
    result: { label: 'REAL', passed: session.challenges, confidence: 0.95 },
    items,
  };
  const header = b64url(JSON.stringify({ alg: 'HS256', kid: session.session_id, typ: 'liveproof-evidence+jws' }));
  const payload = b64url(JSON.stringify(manifest));
  const sig = createHmac('sha256', Buffer.from(session.session_key, 'base64url')).update(`${header}.${payload}`).digest('base64url');
  const form = new FormData();
  form.append('evidence', `${header}.${payload}.${sig}`);
  for (const [name, data, type] of parts) form.append(name, new Blob([data], { type }), name);
  return form;
}
