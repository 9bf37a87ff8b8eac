// A static file server for the browser tests and the bench script: www/ at /, pkg/ at /pkg/,
// node_modules/onnxruntime-web/dist at /ort/ (the bench's peer), the reference tensors at
// /fixtures/, the tests' own pages (tests/browser/pages/) at /test-pages/, the engine tests'
// pages (tests/engines/pages/) at /engine-pages/ and the shared media (../shared/media or
// $LIVEPROOF_MEDIA) at /media/, with the right MIME types (application/wasm matters: streaming
// compilation refuses anything else) and byte ranges (WebKit's media player asks for them).
// Loopback only.
import { createReadStream, statSync } from "node:fs";
import { createServer } from "node:http";
import { extname, join, normalize, resolve } from "node:path";

const repo = resolve(import.meta.dirname, "../..");
const MOUNTS = [
  ["/pkg/", resolve(repo, "pkg")],
  ["/ort/", resolve(repo, "node_modules/onnxruntime-web/dist")],
  ["/fixtures/", resolve(repo, "tests/fixtures/reference")],
  ["/test-pages/", resolve(repo, "tests/browser/pages")],
  ["/engine-pages/", resolve(repo, "tests/engines/pages")],
  ["/media/", resolve(process.env.LIVEPROOF_MEDIA ?? resolve(repo, "../shared/media"))],
  ["/", resolve(repo, "www")],
];
const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".onnx": "application/octet-stream",
  ".svg": "image/svg+xml",
  ".webmanifest": "application/manifest+json",
  ".mp4": "video/mp4",
  ".webm": "video/webm",
  ".jpg": "image/jpeg",
};

/** Starts the server on a free port; resolves to `{url, close()}`. */
export function startStaticServer() {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
    const [prefix, root] = MOUNTS.find(([p]) => path.startsWith(p));
    let file = normalize(join(root, path.slice(prefix.length)));
    if (!file.startsWith(root)) {
      res.writeHead(403).end();
      return;
    }
    try {
      if (statSync(file).isDirectory()) file = join(file, "index.html");
      const size = statSync(file).size;
      const head = { "content-type": TYPES[extname(file)] ?? "application/octet-stream", "cache-control": "no-cache", "accept-ranges": "bytes" };
      const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? "");
      if (range && (range[1] || range[2])) {
        // "a-b", "a-" or the suffix "-n" (the last n bytes).
        const start = range[1] ? Number(range[1]) : Math.max(0, size - Number(range[2]));
        const end = range[1] && range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
        if (start > end) {
          res.writeHead(416, { "content-range": `bytes */${size}` }).end();
          return;
        }
        res.writeHead(206, { ...head, "content-range": `bytes ${start}-${end}/${size}`, "content-length": end - start + 1 });
        createReadStream(file, { start, end }).pipe(res);
        return;
      }
      res.writeHead(200, { ...head, "content-length": size });
      createReadStream(file).pipe(res);
    } catch {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found");
    }
  });
  return new Promise((ok) =>
    server.listen(0, "127.0.0.1", () =>
      ok({
        url: `http://127.0.0.1:${server.address().port}`,
        close: () => new Promise((done) => server.close(done)),
      }),
    ),
  );
}
