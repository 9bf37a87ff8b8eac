// The server's cost of verifying SDK sessions from their recordings (scripts/bench-server.sh
// runs it; it can also run alone against any server). Each simulated client does what a
// relying party and the SDK do: creates a session (Bearer token, narrowed to the actions the
// recording performs, re-created until the drawn order is the recording's), builds the
// evidence bundle (the recording as its clip, the SDK's JPEG frames and per-frame records),
// signs the manifest with the session key (HS256), posts it and times the server's answer.
//
//   node benches/session-bench.mjs --base URL --token JWT --recording FILE --frames DIR
//       --challenges "LOOK LEFT,LOOK RIGHT" [--sessions N] [--concurrency N] [--duration S]
//       [--json OUT]
//
// With --duration, each of --concurrency clients submits sessions back to back for that long;
// otherwise --sessions sessions run --concurrency at a time. Reports per-session latency
// (median, p90, p99, max: the POST of the evidence to its verdict), sessions per minute, the
// labels, and the server's own frame counts. Exits 2 when a session is not answered 200 REAL.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { signedBundle } from './evidence-bundle.mjs';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
for (const k of ['base', 'token', 'recording', 'frames', 'challenges']) {
  if (!args[k]) {
    console.error(`session-bench: --${k} is required`);
    process.exit(1);
  }
}
const script = args.challenges.split(',').map((s) => s.trim());
const concurrency = Number(args.concurrency ?? 1);
const sessions = Number(args.sessions ?? 10);
const duration = args.duration ? Number(args.duration) * 1000 : null;
const recording = readFileSync(args.recording);
const recordingType = args.recording.endsWith('.mp4') ? 'video/mp4' : 'video/webm';
const frames = readdirSync(args.frames).filter((f) => f.endsWith('.jpg')).sort().map((f) => readFileSync(join(args.frames, f)));

async function createSession() {
  for (let i = 0; i < 50; i++) {
    const res = await fetch(`${args.base}/v1/sessions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${args.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ challenges: script }),
    });
    if (res.status !== 201) throw new Error(`POST /v1/sessions → ${res.status}: ${await res.text()}`);
    const s = await res.json();
    if (s.challenges.join('|') === script.join('|')) return s;
  }
  throw new Error(`no session drew ${script.join(', ')} in 50 tries`);
}

/** The bundle the SDK would send for this session, signed with its key. */
const evidence = (s) => signedBundle(s, frames.map((data) => ({ data, type: 'image/jpeg' })), { data: recording, type: recordingType });

const results = [];
async function oneSession() {
  const s = await createSession();
  const form = evidence(s);
  const t0 = performance.now();
  const res = await fetch(new URL(s.evidence_url, args.base), { method: 'POST', body: form });
  const body = await res.json().catch(() => ({}));
  const ms = performance.now() - t0;
  const r = body.result ?? {};
  results.push({
    ms, status: res.status, label: r.label ?? null, failure: r.failure ?? body.detail ?? null,
    frames_analysed: r.server?.recording?.frames_analysed ?? null,
    duration_ms: r.server?.recording?.duration_ms ?? null,
    decided_at_ms: r.server?.recording?.decided_at_ms ?? null,
  });
}

const started = performance.now();
if (duration !== null) {
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() - started < duration) await oneSession();
  }));
} else {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < sessions) { next++; await oneSession(); }
  }));
}
const elapsed = (performance.now() - started) / 1000;

const sorted = results.map((r) => r.ms).sort((a, b) => a - b);
const pct = (p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : null);
const labels = {};
for (const r of results) labels[`${r.status} ${r.label}`] = (labels[`${r.status} ${r.label}`] ?? 0) + 1;
const summary = {
  sessions: results.length,
  concurrency,
  elapsed_s: Number(elapsed.toFixed(1)),
  sessions_per_min: Number(((results.length / elapsed) * 60).toFixed(1)),
  latency_ms: {
    median: Math.round(pct(50)), p90: Math.round(pct(90)), p99: Math.round(pct(99)), max: Math.round(sorted.at(-1) ?? 0),
  },
  labels,
  frames_analysed: results[0]?.frames_analysed ?? null,
  recording_ms: results[0]?.duration_ms == null ? null : Math.round(results[0].duration_ms),
  decided_at_ms: results[0]?.decided_at_ms == null ? null : Math.round(results[0].decided_at_ms),
  failures: results.filter((r) => r.status !== 200 || r.label !== 'REAL').slice(0, 3),
};
if (args.json) writeFileSync(args.json, JSON.stringify(summary, null, 2));
console.log(JSON.stringify(summary));
process.exit(summary.failures.length ? 2 : 0);
