// The attackers of scripts/bench-server.sh's `abuse` scenario, run for --duration seconds
// against a server while the script measures legitimate clients beside them (wrk). Each is a
// finding of issue 10, tried as it was found:
//
//   uploads     --uploads N clients posting 30 MiB anonymous evidence bodies back to back
//               (bad signature first, then one 30 MiB item), half to /v1/kiosk/evidence, half
//               to a session that does not exist: the server must answer 4xx after reading
//               the manifest, never buffer the body (RSS is sampled by the script)
//   slowloris   --slowloris N connections that send a request line and then one header line
//               every 5 s, reconnecting when closed: each must be cut off by the header
//               deadline (10 s by default), none held
//   png_bombs   --bombs N clients posting a 16-bit RGBA PNG of 8192 x 8192 (--bomb FILE, about
//               1 MB: 512 MiB once decoded at 16 bits) to /v2/liveness with a valid token:
//               refused from its header (400 image_too_large), no decode
//   public      --public N anonymous clients creating public sessions (rate-limited per IP)
//               and posting, for each one obtained, a bundle of 60 large PNG frames (refused:
//               too_many_frames) and one of 16 (verified, within the public share of the pool)
//
//   node benches/abuse-bench.mjs --base URL --token JWT --bomb FILE --big-frame FILE
//       [--duration S] [--uploads N] [--slowloris N] [--bombs N] [--public N] [--json OUT]
//
// Prints and writes (--json) per attacker: requests, statuses (or "reset" when the server
// closed the connection before answering), median and max time to an answer or close.
// Exits 2 when an attacker got an answer it must not get (2xx for a forged or oversized
// request, 500, a slowloris connection held past the header deadline + 5 s).
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { signedBundle } from './evidence-bundle.mjs';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
for (const k of ['base', 'token', 'bomb', 'big-frame']) {
  if (!args[k]) {
    console.error(`abuse-bench: --${k} is required`);
    process.exit(1);
  }
}
const base = new URL(args.base);
const duration = Number(args.duration ?? 30) * 1000;
const counts = {
  uploads: Number(args.uploads ?? 12),
  slowloris: Number(args.slowloris ?? 200),
  bombs: Number(args.bombs ?? 2),
  public: Number(args.public ?? 2),
};
const headerDeadlineS = Number(args['header-deadline'] ?? 10);
const bomb = readFileSync(args.bomb);
const bigFrame = readFileSync(args['big-frame']);
const started = performance.now();
const running = () => performance.now() - started < duration;

/** Outcomes of one attacker: status (or "reset") counts and times to the answer. */
function tally() {
  return { statuses: {}, ms: [], unexpected: [] };
}
const stats = { uploads: tally(), slowloris: tally(), png_bombs: tally(), public: tally() };
function note(t, status, ms, ok) {
  t.statuses[status] = (t.statuses[status] ?? 0) + 1;
  t.ms.push(ms);
  if (!ok && t.unexpected.length < 5) t.unexpected.push(String(status));
}

/** A raw request with a Buffer body; resolves to the status, or "reset" if the connection
 * closed before an answer. The body is streamed in 1 MiB writes, as a client uploading. */
function rawPost(path, headers, body) {
  return new Promise((resolve) => {
    let done = false;
    const finish = (v) => {
      if (!done) {
        done = true;
        resolve(v);
      }
    };
    const req = http.request(
      { host: base.hostname, port: base.port, path, method: 'POST', headers: { ...headers, 'content-length': body.length }, agent: false },
      (res) => {
        res.resume();
        res.on('end', () => finish(res.statusCode));
        res.on('error', () => finish(res.statusCode));
      },
    );
    req.on('error', () => finish('reset'));
    let off = 0;
    const write = () => {
      while (off < body.length) {
        const chunk = body.subarray(off, off + (1 << 20));
        off += chunk.length;
        if (!req.write(chunk)) {
          req.once('drain', write);
          return;
        }
      }
      req.end();
    };
    write();
  });
}

const boundary = 'abuse-bench-boundary';
function multipart(parts) {
  const chunks = [];
  for (const [name, data, type] of parts) {
    chunks.push(Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="${name}"${type ? `; filename="${name}"\r\ncontent-type: ${type}` : ''}\r\n\r\n`));
    chunks.push(Buffer.isBuffer(data) ? data : Buffer.from(data));
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}
const formType = { 'content-type': `multipart/form-data; boundary=${boundary}` };

async function uploads(i) {
  const forged = 'eyJhbGciOiJIUzI1NiIsImtpZCI6Im5vYm9keSJ9.eyJ2IjoxfQ.c2lnbmF0dXJl';
  const body = multipart([['evidence', forged], ['clip.webm', Buffer.alloc(30 << 20, 0x1a), 'video/webm']]);
  while (running()) {
    const path = i % 2 ? '/v1/kiosk/evidence' : `/v1/sessions/${crypto.randomUUID()}/evidence`;
    const t0 = performance.now();
    const status = await rawPost(path, formType, body);
    // A 4xx, or a reset once the server has read what it reads of a refused body.
    note(stats.uploads, status, performance.now() - t0, status === 'reset' || (status >= 400 && status < 500));
  }
}

function slowloris() {
  return new Promise((resolve) => {
    const loop = () => {
      if (!running()) return resolve();
      const t0 = performance.now();
      const s = net.connect({ host: base.hostname, port: Number(base.port) });
      let timer;
      s.on('connect', () => {
        s.write(`POST /v2/liveness HTTP/1.1\r\nHost: ${base.host}\r\n`);
        timer = setInterval(() => s.write(`X-Slow-${Math.floor(Math.random() * 1e6)}: a\r\n`), 5000);
      });
      s.on('data', () => {});
      s.on('error', () => {});
      s.on('close', () => {
        clearInterval(timer);
        const ms = performance.now() - t0;
        // Closed once its headers were late: within the deadline plus slack.
        if (running()) note(stats.slowloris, 'closed', ms, ms < (headerDeadlineS + 5) * 1000);
        loop();
      });
      // At the end of the run, stop holding it.
      setTimeout(() => s.destroy(), Math.max(0, duration - (performance.now() - started)));
    };
    loop();
  });
}

async function pngBombs() {
  const body = multipart([['image', bomb, 'image/png']]);
  while (running()) {
    const t0 = performance.now();
    const status = await rawPost('/v2/liveness', { ...formType, authorization: `Bearer ${args.token}` }, body);
    note(stats.png_bombs, status, performance.now() - t0, status === 400);
  }
}

async function publicFlood() {
  const frames = (n) => Array.from({ length: n }, () => ({ data: bigFrame, type: 'image/png' }));
  while (running()) {
    const t0 = performance.now();
    const res = await fetch(`${args.base}/v1/sessions`, { method: 'POST' }).catch(() => null);
    const status = res?.status ?? 'reset';
    note(stats.public, `session ${status}`, performance.now() - t0, status === 201 || status === 429);
    if (status !== 201) {
      await res?.arrayBuffer();
      // A flood: ten tries a second per client (the rate limit answers 429 at once).
      await new Promise((r) => setTimeout(r, status === 'reset' ? 200 : 100));
      continue;
    }
    const session = await res.json();
    for (const n of [60, 16]) {
      if (!running()) break;
      const t1 = performance.now();
      const r = await fetch(new URL(session.evidence_url, args.base), { method: 'POST', body: signedBundle(session, frames(n)) }).catch(() => null);
      const s = r?.status ?? 'reset';
      await r?.arrayBuffer();
      // 60 frames (about 60 MB): 422 too_many_frames from the manifest, or a reset once the
      // server has drained what it drains of a refused body. 16: a verdict (200), 409 (one
      // bundle per session) or 503 beyond the public share.
      const ok = n === 60 ? s === 422 || s === 'reset' : [200, 409, 503].includes(s);
      note(stats.public, `bundle${n} ${s}`, performance.now() - t1, ok);
    }
  }
}

const work = [];
for (let i = 0; i < counts.uploads; i++) work.push(uploads(i));
for (let i = 0; i < counts.slowloris; i++) work.push(slowloris());
for (let i = 0; i < counts.bombs; i++) work.push(pngBombs());
for (let i = 0; i < counts.public; i++) work.push(publicFlood());
await Promise.all(work);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? Math.round(s[Math.floor((s.length - 1) / 2)]) : null;
};
const summary = { duration_s: duration / 1000, attackers: counts, results: {} };
let bad = 0;
for (const [name, t] of Object.entries(stats)) {
  bad += t.unexpected.length;
  summary.results[name] = {
    requests: t.ms.length, statuses: t.statuses, median_ms: median(t.ms), max_ms: t.ms.length ? Math.round(Math.max(...t.ms)) : null, unexpected: t.unexpected,
  };
}
summary.pass = bad === 0;
if (args.json) writeFileSync(args.json, JSON.stringify(summary, null, 2));
console.log(JSON.stringify(summary));
process.exit(bad ? 2 : 0);
