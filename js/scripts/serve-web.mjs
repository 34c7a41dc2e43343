// A small static file server for Kiln's browser page (js/dist/web/, built by
// build-web.mjs), on 127.0.0.1 only, with no dependency beyond node:http.
//
//   node js/scripts/serve-web.mjs [PORT] [ROOT]    (PORT 0 or absent: a free one)
//
// prints `listening on http://127.0.0.1:PORT/` and serves until interrupted.
// As a module: `const { url, close } = await start({ root, port })`.
// It answers GET and HEAD (405 otherwise), sends the MIME types a browser
// needs (application/wasm for compileStreaming, text/javascript for module
// scripts), refuses `..` and other path tricks, encoded or not (400), lists
// no directories (a directory answers its index.html or 404), and serves
// nothing outside ROOT, symbolic links included.

import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const DEFAULT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'web');

const MIME_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.wat': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.cwasm': 'application/octet-stream',
};

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// The request path as segments, each percent-decoded and checked on its
// own, so that `..`, `%2e%2e`, `%2f`, backslashes and NULs are all refused
// before anything touches the file system.
function pathSegments(rawUrl) {
  const rawPath = rawUrl.split(/[?#]/, 1)[0];
  if (!rawPath.startsWith('/')) throw new HttpError(400, 'the path must start with /');
  const segments = [];
  for (const raw of rawPath.split('/').slice(1)) {
    let segment;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      throw new HttpError(400, 'malformed percent-encoding');
    }
    if (segment === '..' || segment === '.' || /[/\\\0]/.test(segment)) {
      throw new HttpError(400, 'path segments may not be ".", ".." or contain slashes');
    }
    segments.push(segment);
  }
  return segments;
}

async function resolveFile(root, rawUrl) {
  const segments = pathSegments(rawUrl);
  let file = join(root, ...segments);
  let info = await stat(file).catch(() => null);
  if (info?.isDirectory()) {
    file = join(file, 'index.html');
    info = await stat(file).catch(() => null);
  }
  if (!info?.isFile()) throw new HttpError(404, 'not found');
  // A link inside the root may point outside it: judge where it leads.
  const real = await realpath(file);
  if (real !== root && !real.startsWith(root + sep)) throw new HttpError(404, 'not found');
  return { file: real, size: info.size, mtime: info.mtime };
}

function send(res, status, text, extraHeaders = {}) {
  const body = `${text}\n`;
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    ...extraHeaders,
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

async function handle(root, req, res) {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    send(res, 405, 'method not allowed', { allow: 'GET, HEAD' });
    return;
  }
  let found;
  try {
    found = await resolveFile(root, req.url);
  } catch (error) {
    if (error instanceof HttpError) send(res, error.status, error.message);
    else send(res, 500, 'internal server error');
    return;
  }
  res.writeHead(200, {
    'content-type': MIME_TYPES[extname(found.file).toLowerCase()] || 'application/octet-stream',
    'content-length': found.size,
    'last-modified': found.mtime.toUTCString(),
    // Always revalidate: a rebuilt page must not be mixed with old files.
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
  });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  const stream = createReadStream(found.file);
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}

/**
 * Starts serving `root` on 127.0.0.1:`port` (0: a free port).
 * @returns {Promise<{ url: string, port: number, close: () => Promise<void> }>}
 */
export async function start({ root = DEFAULT_ROOT, port = 0 } = {}) {
  const realRoot = await realpath(resolve(root));
  const server = createServer((req, res) => {
    handle(realRoot, req, res).catch(() => res.destroy());
  });
  await new Promise((resolveListen, rejectListen) => {
    server.once('error', rejectListen);
    server.listen(port, '127.0.0.1', resolveListen);
  });
  const actualPort = server.address().port;
  return {
    url: `http://127.0.0.1:${actualPort}/`,
    port: actualPort,
    close: () =>
      new Promise((resolveClose) => {
        server.close(() => resolveClose());
        // Browsers keep connections open; end them so close() returns now.
        server.closeAllConnections();
      }),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const port = Number(process.argv[2] ?? 0);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`serve-web: not a port number: ${process.argv[2]}\n`);
    process.exit(2);
  }
  const root = process.argv[3] ? resolve(process.argv[3]) : DEFAULT_ROOT;
  start({ root, port }).then(
    ({ url, close }) => {
      process.stdout.write(`listening on ${url}\n`);
      for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => close().then(() => process.exit(0)));
    },
    (error) => {
      process.stderr.write(`serve-web: cannot serve ${root}: ${error.message}\n`);
      process.exit(1);
    },
  );
}
