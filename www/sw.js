// The kiosk's service worker. Installing it precaches the kiosk page and the whole SDK package
// as pkg/files.json lists it (the JS, the wasm build this browser will run, the models), so
// the kiosk works with the network off from the first load on. Afterwards every same-origin
// GET (API calls excepted) goes to the network first and falls back to the cache, so a
// redeployed kiosk picks up new files as soon as it is online.
const CACHE = 'liveproof-kiosk-v1';
const API = /^\/(v1|v2|v0\.2|api|liveness|healthz|readyz|metrics|ws|\.well-known)(\/|$)/;
const SHELL = ['kiosk.html', 'kiosk-app.js', 'style.css', 'sw.js'];
// The same probe the SDK uses to choose its wasm build.
const SIMD = WebAssembly.validate(
  new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]),
);

async function precache() {
  const cache = await caches.open(CACHE);
  const { files } = await (await fetch('/pkg/files.json', { cache: 'no-store' })).json();
  const skip = SIMD ? /^wasm\/liveproof_scalar/ : /^wasm\/liveproof_simd/;
  const pkg = files
    .map((f) => f.path)
    .filter((p) => !p.endsWith('.d.ts') && !p.endsWith('.md') && !skip.test(p))
    .map((p) => `/pkg/${p}`);
  await cache.addAll([...SHELL, '/pkg/files.json', ...pkg]);
}

self.addEventListener('install', (event) => {
  event.waitUntil(precache().then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith('liveproof-kiosk-') && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== self.location.origin || API.test(url.pathname)) return;
  event.respondWith(
    (async () => {
      const cache = await caches.open(CACHE);
      try {
        const res = await fetch(event.request);
        if (res.ok && res.type === 'basic') await cache.put(event.request, res.clone());
        return res;
      } catch (err) {
        const hit = await cache.match(event.request, { ignoreSearch: true });
        if (hit) return hit;
        throw err;
      }
    })(),
  );
});
