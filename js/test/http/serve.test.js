// The compiler's `wasi:http` build (`kiln component --http`) served by two
// real hosts, `wasmtime serve` of wasmtime-cli 48.0.8 and `jco serve` in
// Node, on loopback: the same requests must give artifacts byte-identical
// to `kiln compile`'s, and bad requests the same typed JSON errors.
//
// wasmtime-cli comes from scripts/install-wasmtime-cli.sh (the README's test
// command installs it first); a test whose host cannot be had says so on
// stderr and skips.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import {
  COMPONENT_WAT,
  KILN,
  MODULE_WAT_PATH,
  PACKAGE_DIR,
  REPO_DIR,
  TARGETS,
  kilnCompile,
  sameBytes,
  tempDir,
} from '../node/support.js';

/** The handler component: $KILN_HTTP_COMPONENT, or written by `kiln component --http`. */
const COMPONENT = process.env.KILN_HTTP_COMPONENT
  ? resolve(process.env.KILN_HTTP_COMPONENT)
  : join(PACKAGE_DIR, 'dist', 'kiln-http.wasm');
/** The cap the hosts give the handler (`KILN_HTTP_MAX_BODY`), small enough to test. */
const CAP = 256 * 1024;
/** How long a host may take to start: wasmtime compiles the 26 MB component first. */
const START_TIMEOUT_MS = 600_000;

const work = tempDir();
const componentWat = join(work, 'component.wat');
writeFileSync(componentWat, COMPONENT_WAT);

/** Why the component is missing, or null. */
function componentMissing() {
  if (existsSync(COMPONENT)) return null;
  if (!existsSync(KILN)) return `no ${COMPONENT} and no kiln CLI at ${KILN} to write it`;
  const run = spawnSync(KILN, ['component', '--http', '-o', COMPONENT], { encoding: 'utf8' });
  return run.status === 0 ? null : `kiln component --http failed: ${run.stderr}`;
}

/** wasmtime-cli 48.0.8, or null. */
function wasmtimeCli() {
  if (process.env.WASMTIME) return process.env.WASMTIME;
  const run = spawnSync(join(REPO_DIR, 'scripts', 'install-wasmtime-cli.sh'), ['--if-installed'], {
    encoding: 'utf8',
  });
  return run.status === 0 ? run.stdout.trim() : null;
}

/** A free loopback port (for `jco serve`, which takes no port 0). */
function freePort() {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

/**
 * Starts a host process and resolves with its base URL once `ready` finds it
 * in the process's output; rejects if it exits or takes too long.
 */
function startHost(command, args, env, ready) {
  const child = spawn(command, args, {
    cwd: PACKAGE_DIR,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so that stopping it stops what it started
    // (`jco serve` runs the component in a child process).
    detached: true,
  });
  let output = '';
  const url = new Promise((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`${command} did not start in time:\n${output}`)), START_TIMEOUT_MS);
    const look = (chunk) => {
      output += chunk;
      const found = ready(output);
      if (found) {
        clearTimeout(timer);
        done(found);
      }
    };
    child.stdout.on('data', look);
    child.stderr.on('data', look);
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`${command} exited ${code} before serving:\n${output}`));
    });
  });
  return { child, url };
}

/** Stops a host and everything it started. */
function stopHost(host) {
  if (!host || host.child.exitCode !== null) return;
  try {
    process.kill(-host.child.pid, 'SIGKILL');
  } catch {
    host.child.kill('SIGKILL');
  }
}

async function post(base, query, body, headers = {}) {
  const response = await fetch(`${base}/compile?${query}`, { method: 'POST', body, headers, duplex: 'half' });
  return { status: response.status, headers: response.headers, bytes: new Uint8Array(await response.arrayBuffer()) };
}

/**
 * Starts a POST whose body is over the cap and waits for the answer
 * without sending more: with `declared`, only headers with a
 * content-length of CAP + 1; otherwise chunks (no length) until just past
 * the cap. A server that answers before reading a whole body and then
 * closes may reset the connection, and a client still writing would lose
 * the answer; this one stops writing first.
 */
function postOverCap(base, query, { declared }) {
  return new Promise((resolve, reject) => {
    const headers = declared ? { 'content-length': String(CAP + 1) } : { 'transfer-encoding': 'chunked' };
    const request = httpRequest(new URL(`${base}/compile?${query}`), { method: 'POST', headers });
    request.on('response', (response) => {
      const parts = [];
      response.on('data', (part) => parts.push(part));
      response.on('end', () => {
        request.destroy();
        resolve({ status: response.statusCode, bytes: new Uint8Array(Buffer.concat(parts)) });
      });
    });
    request.on('error', reject);
    request.flushHeaders();
    if (!declared) {
      const chunk = new Uint8Array(64 * 1024);
      for (let sent = 0; sent <= CAP; sent += chunk.length) request.write(chunk);
    }
  });
}

function json(reply) {
  return JSON.parse(Buffer.from(reply.bytes).toString('utf8'));
}

/** The requests both hosts get, each with the `kiln compile` arguments that must give the same bytes. */
function identityCases() {
  const module = readFileSync(MODULE_WAT_PATH);
  const component = readFileSync(componentWat);
  const cases = [];
  for (const target of TARGETS) {
    cases.push({ what: `module for ${target}`, input: MODULE_WAT_PATH, body: module, query: { target }, args: [] });
    cases.push({ what: `component for ${target}`, input: componentWat, body: component, query: { target }, args: [] });
  }
  cases.push({
    what: 'module with a baseline and Wasmtime options',
    input: MODULE_WAT_PATH,
    body: module,
    query: { target: 'x86_64-unknown-linux-gnu', baseline: 'x86-64-v3', W: 'gc=n', O: 'opt-level=s' },
    args: ['--baseline', 'x86-64-v3', '-W', 'gc=n', '-O', 'opt-level=s'],
    target: 'x86_64-unknown-linux-gnu',
  });
  return cases;
}

/** The tests every host gets. */
function hostSuite(name, start) {
  describe(name, () => {
    let host = null;
    let skip = null;
    before(async () => {
      skip = componentMissing();
      if (skip) return;
      const started = await start();
      if (typeof started === 'string') {
        skip = started;
        return;
      }
      host = started;
      host.base = await host.url;
    });
    after(() => stopHost(host));
    const skipped = (t) => {
      if (!skip) return false;
      console.error(`${name}: skipping: ${skip}`);
      t.skip(skip);
      return true;
    };

    test('artifacts are byte-identical to kiln compile for every target', async (t) => {
      if (skipped(t)) return;
      for (const c of identityCases()) {
        const reply = await post(host.base, new URLSearchParams(c.query), c.body);
        assert.equal(reply.status, 200, `${c.what}: ${Buffer.from(reply.bytes).toString()}`);
        const expected = kilnCompile(c.input, c.target ?? c.query.target, c.args);
        assert.ok(sameBytes(reply.bytes, expected), `${c.what}: the artifact differs from kiln compile's`);
        assert.equal(reply.headers.get('content-type'), 'application/octet-stream');
        assert.match(reply.headers.get('kiln-artifact-kind'), /^(module|component)$/);
      }
    });

    test('bad input and bad options get typed JSON errors, and the host keeps serving', async (t) => {
      if (skipped(t)) return;
      const x86 = 'target=x86_64-unknown-linux-gnu';
      const garbage = await post(host.base, x86, Buffer.from('\0asm\x01\0\0\0\x01\xff\xff\xff\xff\x0f'));
      assert.equal(garbage.status, 400);
      assert.equal(json(garbage).error, 'invalid-input');
      assert.equal(typeof json(garbage).offset, 'number', 'a binary input names its byte offset');

      const text = readFileSync(MODULE_WAT_PATH);
      const truncated = await post(host.base, x86, text.subarray(0, text.length / 2));
      assert.equal(truncated.status, 400);
      assert.equal(json(truncated).error, 'invalid-input');

      const target = await post(host.base, 'target=vax', text);
      assert.equal(target.status, 422);
      assert.equal(json(target).error, 'unsupported-target');

      const feature = await post(host.base, `${x86}&cpu-feature=has_nothing_such`, text);
      assert.equal(feature.status, 422);
      assert.equal(json(feature).error, 'unsupported-feature');

      const unknown = await post(host.base, `${x86}&opt=3`, text);
      assert.equal(unknown.status, 400);
      assert.equal(json(unknown).error, 'invalid-option');

      const noTarget = await post(host.base, '', text);
      assert.equal(noTarget.status, 400);
      assert.equal(json(noTarget).error, 'invalid-option');

      const wrongMethod = await fetch(`${host.base}/compile`);
      assert.equal(wrongMethod.status, 405);
      const nowhere = await fetch(`${host.base}/nowhere`);
      assert.equal(nowhere.status, 404);
      assert.equal((await nowhere.json()).error, 'not-found');

      const targets = await (await fetch(`${host.base}/targets`)).json();
      assert.deepEqual(targets, TARGETS);

      const still = await post(host.base, x86, text);
      assert.equal(still.status, 200, 'a good compile after the bad ones');
    });

    test('a declared or streamed body over KILN_HTTP_MAX_BODY gets 413 body-too-large', async (t) => {
      if (skipped(t)) return;
      const query = 'target=pulley64';
      // Only the headers: the declared length alone must be refused.
      const declared = await postOverCap(host.base, query, { declared: true });
      assert.equal(declared.status, 413);
      assert.equal(json(declared).error, 'body-too-large');

      // Chunked, with no length: refused once the bytes read pass the cap.
      const streamed = await postOverCap(host.base, query, { declared: false });
      assert.equal(streamed.status, 413);
      assert.equal(json(streamed).error, 'body-too-large');

      const fits = await post(host.base, query, readFileSync(MODULE_WAT_PATH));
      assert.equal(fits.status, 200, 'a body under the cap still compiles');
    });
  });
}

hostSuite('wasmtime serve', async () => {
  const wasmtime = wasmtimeCli();
  if (!wasmtime) return 'wasmtime-cli 48.0.8 is not installed (scripts/install-wasmtime-cli.sh installs it)';
  return startHost(
    wasmtime,
    ['serve', '-Scli', '--addr', '127.0.0.1:0', '--env', `KILN_HTTP_MAX_BODY=${CAP}`, COMPONENT],
    {},
    (output) => output.match(/Serving HTTP on (http:\/\/[^/\s]+)\//)?.[1],
  );
});

hostSuite('jco serve', async () => {
  const port = await freePort();
  const jco = join(PACKAGE_DIR, 'node_modules', '.bin', 'jco');
  if (!existsSync(jco)) return 'jco is not installed (npm ci in js/ installs it)';
  return startHost(
    jco,
    ['serve', '--host', '127.0.0.1', '--port', String(port), COMPONENT],
    { KILN_HTTP_MAX_BODY: String(CAP) },
    (output) => (/listening @/i.test(output) ? `http://127.0.0.1:${port}` : null),
  );
});
