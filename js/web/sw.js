// Kiln page's service worker: keeps the page, its scripts and the compiler's
// core wasm in a cache when installed, and answers from that cache first, so
// that a page loaded once still opens and compiles offline. The build
// (js/scripts/build-web.mjs) fills in the BUILD line below with this build's
// version and file list; a new build makes a new cache and drops the old one.

const BUILD = { version: 'unbuilt', files: [] };
const CACHE_PREFIX = 'kiln-web-';
const CACHE = `${CACHE_PREFIX}${BUILD.version}`;

self.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      // Bypass the HTTP cache: what is kept must be this build's files.
      await cache.addAll(BUILD.files.map((file) => new Request(file, { cache: 'reload' })));
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith(CACHE_PREFIX) && name !== CACHE) await caches.delete(name);
      }
      await self.clients.claim();
    })(),
  );
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET' || new URL(request.url).origin !== self.location.origin) return;
  event.respondWith(
    (async () => {
      const cache = await caches.open(CACHE);
      const kept = await cache.match(request, { ignoreSearch: true });
      return kept || fetch(request);
    })(),
  );
});
