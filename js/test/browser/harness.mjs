// The reusable part of Kiln's browser tests (and of timing scripts): gets
// Chromium (scripts/install-chromium.sh) and the built page
// (js/scripts/build-web.mjs), serves the page (js/scripts/serve-web.mjs),
// launches headless Chromium through playwright-core with the flags this
// closed network needs, opens the page, and drives its `window.kiln` hook:
//
//   const why = prepare();                 // null, or why the browser tests cannot run
//   const server = await startServer();    // { url, close() }
//   const browser = await launchBrowser();
//   const { context, page } = await openPage(browser, server.url);
//   const { loadMs } = await loadInPage(page);
//   const { bytes, ms } = await compileInPage(page, wasmBytes, 'x86_64-unknown-linux-gnu', 'x86-64-v3');
//
// `ms` is measured in the worker around the compile call only; `loadMs` is
// the time the worker took to load the compiler (fetch, compile and
// instantiate its 24 MB of core wasm). The first compile after a page loads
// is the cold one. Also here: the native CLI for byte-identity comparisons
// (kilnCompile, kilnTargets).

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { DEFAULT_ROOT, start } from '../../scripts/serve-web.mjs';

export const JS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const REPO_ROOT = resolve(JS_DIR, '..');
export const WEB_ROOT = DEFAULT_ROOT;
export const FIXTURES = join(REPO_ROOT, 'tests', 'fixtures');
export const ARTIFACTS = join(REPO_ROOT, 'target', 'test-artifacts');
export const KILN = process.env.KILN || join(REPO_ROOT, 'target', 'debug', 'kiln');
// Every target, as `kiln targets` lists them (one list, in the Node tests' support).
export { TARGETS } from '../node/support.js';

// Flags for a machine with no network: without the background-networking
// ones Chromium's own connections are refused and slow it down.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let chromiumPath = null;

function lastLines(text, count = 3) {
  return text.trim().split('\n').slice(-count).join(' / ');
}

/** Installs Chromium if need be; returns its path, or throws with the reason. */
export function ensureChromium() {
  if (chromiumPath) return chromiumPath;
  const run = spawnSync(join(REPO_ROOT, 'scripts', 'install-chromium.sh'), {
    encoding: 'utf8',
    timeout: 15 * 60 * 1000,
  });
  if (run.error) throw new Error(`scripts/install-chromium.sh did not run: ${run.error.message}`);
  if (run.status !== 0) {
    throw new Error(`no Chromium: ${lastLines(run.stderr) || `install-chromium.sh exited ${run.status}`}`);
  }
  chromiumPath = run.stdout.trim().split('\n').pop();
  return chromiumPath;
}

/** Builds the page into js/dist/web/ (a no-op when up to date); throws with the reason. */
export function buildWeb() {
  const run = spawnSync(process.execPath, [join(JS_DIR, 'scripts', 'build-web.mjs')], {
    encoding: 'utf8',
    timeout: 10 * 60 * 1000,
  });
  if (run.error) throw new Error(`build-web.mjs did not run: ${run.error.message}`);
  if (run.status !== 0) throw new Error(`the page did not build: ${lastLines(run.stderr)}`);
}

/**
 * Gets Chromium and builds the page. Returns null when both are there, or
 * why the browser tests cannot run (also printed on stderr), for t.skip.
 */
export function prepare() {
  try {
    ensureChromium();
    buildWeb();
    return null;
  } catch (error) {
    process.stderr.write(`browser tests skipped: ${error.message}\n`);
    return error.message;
  }
}

/** Serves the built page (or `root`) on a free port of 127.0.0.1. */
export function startServer({ root = WEB_ROOT, port = 0 } = {}) {
  return start({ root, port });
}

/** Launches headless Chromium (installing it first if need be). */
export function launchBrowser() {
  return chromium.launch({ executablePath: ensureChromium(), args: CHROMIUM_ARGS });
}

/**
 * Opens the page in a fresh context (its own storage and service worker)
 * and waits until `window.kiln` is there. Options: `initScript`, a function
 * run in the page before its own scripts; `viewport`; `contextOptions`,
 * more of playwright's browser.newContext() options.
 */
export async function openPage(browser, url, { initScript, viewport = { width: 900, height: 820 }, contextOptions = {} } = {}) {
  const context = await browser.newContext({ viewport, acceptDownloads: true, ...contextOptions });
  if (initScript) await context.addInitScript(initScript);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(error));
  page.pageErrors = errors;
  await page.goto(url);
  await page.waitForFunction(() => window.kiln !== undefined);
  return { context, page };
}

/** Waits for the page's compiler to load: { loadMs, version, targets, baselines }. */
export function loadInPage(page) {
  return page.evaluate(() => window.kiln.ready());
}

/**
 * Compiles `bytes` in the page's worker through `window.kiln`. Resolves to
 * { bytes (a Buffer), ms, loadMs, kind, functionCount, codeBytes }; a
 * compile error rejects with an Error whose message is the page's plain
 * words and whose `kind`, `offset` and `detail` are the compiler's.
 */
export async function compileInPage(page, bytes, target, baseline = '') {
  const outcome = await page.evaluate(
    async ({ input, target, baseline }) => {
      const decoded = atob(input);
      const wasm = new Uint8Array(decoded.length);
      for (let i = 0; i < decoded.length; i++) wasm[i] = decoded.charCodeAt(i);
      try {
        const { bytes, ...rest } = await window.kiln.compile(wasm, target, baseline);
        let binary = '';
        for (let i = 0; i < bytes.length; i += 0x8000) {
          binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
        }
        return { ok: true, ...rest, bytes: btoa(binary) };
      } catch (error) {
        return { ok: false, message: error.message, kind: error.kind, offset: error.offset, detail: error.detail };
      }
    },
    { input: Buffer.from(bytes).toString('base64'), target, baseline },
  );
  if (!outcome.ok) {
    throw Object.assign(new Error(outcome.message), {
      kind: outcome.kind,
      offset: outcome.offset,
      detail: outcome.detail,
    });
  }
  const { ok, ...result } = outcome;
  return { ...result, bytes: Buffer.from(outcome.bytes, 'base64') };
}

/** Whether the native CLI is there for byte-identity comparisons: null, or why not. */
export function kilnMissing() {
  return existsSync(KILN) ? null : `no native kiln CLI at ${KILN} (build it, or set KILN)`;
}

/**
 * Compiles with the native CLI: `input` is a path or bytes; `baseline` ''
 * compiles for the target's default. Returns the artifact's bytes.
 */
export async function kilnCompile(input, target, baseline = '') {
  const dir = await mkdtemp(join(tmpdir(), 'kiln-browser-test-'));
  try {
    let inputPath = input;
    if (typeof input !== 'string') {
      const text = input[0] !== 0; // a binary starts with "\0asm"
      inputPath = join(dir, text ? 'input.wat' : 'input.wasm');
      await writeFile(inputPath, input);
    }
    const out = join(dir, 'out.cwasm');
    const args = ['compile', inputPath, '--target', target, '-o', out];
    if (baseline) args.push('--baseline', baseline);
    const run = spawnSync(KILN, args, { encoding: 'utf8', timeout: 5 * 60 * 1000 });
    if (run.status !== 0) {
      throw new Error(`kiln ${args.join(' ')} failed (${run.status}): ${lastLines(run.stderr || '')}`);
    }
    return await readFile(out);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `kiln targets`, parsed: { triple: [baseline names, lowest first] }. */
export function kilnTargets() {
  const run = spawnSync(KILN, ['targets'], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`kiln targets failed: ${run.stderr}`);
  const targets = {};
  let current = null;
  for (const line of run.stdout.split('\n')) {
    if (!line.trim()) continue;
    if (/^\s/.test(line)) targets[current].push(line.trim().split(/\s+/)[0]);
    else targets[(current = line.trim())] = [];
  }
  return targets;
}
