// Tests of the page's static file server (js/scripts/serve-web.mjs): MIME
// types, refusal of path traversal (plain and percent-encoded), methods,
// no directory listings, nothing served from outside its root. Needs no
// browser: it serves a small tree made here, and the built page if present.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { start } from '../../scripts/serve-web.mjs';
import { JS_DIR, WEB_ROOT } from './harness.mjs';

// A raw request: node:http sends the path exactly as given, where fetch()
// would first resolve `..` away.
function get(url, path, method = 'GET') {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path, method }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('serve-web.mjs', () => {
  let dir;
  let root;
  let server;
  const secret = 'not for the web';
  const wasm = Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-serve-test-'));
    root = join(dir, 'root');
    await mkdir(join(root, 'compiler'), { recursive: true });
    await mkdir(join(root, 'empty'));
    await writeFile(join(dir, 'secret.txt'), secret);
    await writeFile(join(root, 'index.html'), '<!doctype html><title>t</title>');
    await writeFile(join(root, 'main.js'), 'export {};');
    await writeFile(join(root, 'style.css'), 'body {}');
    await writeFile(join(root, 'data.json'), '{}');
    await writeFile(join(root, 'compiler', 'module.core.wasm'), wasm);
    await writeFile(join(root, 'compiler', 'index.html'), '<p>compiler</p>');
    await symlink(join(dir, 'secret.txt'), join(root, 'link.txt'));
    server = await start({ root, port: 0 });
  });

  after(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('listens on 127.0.0.1 with the port it picked', () => {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    assert.ok(server.port > 0);
  });

  test('serves .wasm as application/wasm, with the bytes', async () => {
    const res = await get(server.url, '/compiler/module.core.wasm');
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'application/wasm');
    assert.deepEqual(res.body, wasm);
    assert.equal(Number(res.headers['content-length']), wasm.length);
  });

  test('serves the page types a browser needs', async () => {
    const expected = {
      '/': /^text\/html/,
      '/index.html': /^text\/html/,
      '/main.js': /^text\/javascript/,
      '/style.css': /^text\/css/,
      '/data.json': /^application\/json/,
    };
    for (const [path, type] of Object.entries(expected)) {
      const res = await get(server.url, path);
      assert.equal(res.status, 200, path);
      assert.match(res.headers['content-type'], type, path);
    }
  });

  test('refuses .. traversal, plain and percent-encoded', async () => {
    const attempts = [
      '/../secret.txt',
      '/compiler/../../secret.txt',
      '/%2e%2e/secret.txt',
      '/%2E%2e/secret.txt',
      '/compiler/%2e%2e/%2e%2e/secret.txt',
      '/..%2fsecret.txt',
      '/compiler%2f..%2f..%2fsecret.txt',
      '/..%5csecret.txt',
      '/%252e%252e/secret.txt',
      '/main.js%00.html',
      '/%zz',
    ];
    for (const path of attempts) {
      const res = await get(server.url, path);
      assert.ok([400, 404].includes(res.status), `${path} answered ${res.status}`);
      assert.ok(!res.body.toString().includes(secret), `${path} leaked the file`);
    }
  });

  test('serves nothing a symbolic link leads to outside the root', async () => {
    const res = await get(server.url, '/link.txt');
    assert.equal(res.status, 404);
    assert.ok(!res.body.toString().includes(secret));
  });

  test('lists no directories', async () => {
    const empty = await get(server.url, '/empty/');
    assert.equal(empty.status, 404);
    const withIndex = await get(server.url, '/compiler/');
    assert.equal(withIndex.status, 200);
    assert.equal(withIndex.body.toString(), '<p>compiler</p>');
    assert.ok(!withIndex.body.toString().includes('module.core.wasm'));
  });

  test('answers 404 for missing files', async () => {
    const res = await get(server.url, '/nothing-here.js');
    assert.equal(res.status, 404);
  });

  test('answers HEAD without a body and 405 for other methods', async () => {
    const head = await get(server.url, '/compiler/module.core.wasm', 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-type'], 'application/wasm');
    assert.equal(Number(head.headers['content-length']), wasm.length);
    assert.equal(head.body.length, 0);
    for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
      const res = await get(server.url, '/index.html', method);
      assert.equal(res.status, 405, method);
      assert.match(res.headers.allow, /GET/);
    }
  });

  test('close() stops it even with a connection kept alive', async () => {
    const other = await start({ root, port: 0 });
    const { hostname, port } = new URL(other.url);
    const agent = new Agent({ keepAlive: true });
    await new Promise((resolve, reject) => {
      request({ hostname, port, path: '/', agent }, (res) => {
        res.resume();
        res.on('end', resolve);
      })
        .on('error', reject)
        .end();
    });
    await other.close();
    await assert.rejects(get(other.url, '/'), /ECONNREFUSED/);
    agent.destroy();
  });

  test('as a command, prints its address and serves the built page', { skip: !existsSync(join(WEB_ROOT, 'index.html')) && 'the page is not built' }, async () => {
    const child = spawn(process.execPath, [join(JS_DIR, 'scripts', 'serve-web.mjs'), '0'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const url = await new Promise((resolve, reject) => {
        let seen = '';
        child.stdout.on('data', (chunk) => {
          seen += chunk;
          const match = /^listening on (http:\/\/127\.0\.0\.1:\d+\/)$/m.exec(seen);
          if (match) resolve(match[1]);
        });
        child.once('exit', (code) => reject(new Error(`serve-web.mjs exited ${code}`)));
      });
      const page = await get(url, '/');
      assert.equal(page.status, 200);
      assert.match(page.body.toString(), /<title>Kiln/);
      const core = await get(url, '/compiler/kiln-compiler.core.wasm', 'HEAD');
      assert.equal(core.status, 200);
      assert.equal(core.headers['content-type'], 'application/wasm');
    } finally {
      child.kill('SIGTERM');
    }
  });
});
