// End-to-end tests of Kiln's browser page (js/web/, built into js/dist/web/)
// in headless Chromium through playwright-core: compiles through the real
// controls (file input, target, baseline, Compile, Download) and through
// `window.kiln` for all six targets, modules and components, each artifact
// byte-identical to a fresh `kiln compile` of the same input; errors in plain
// words with the page still working after them; a main thread that stays
// responsive while the worker compiles; offline use through the service
// worker. Keeps a screenshot at target/test-artifacts/browser-compile.png.
// Skips, saying why on stderr, when Chromium or the page cannot be had.

import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  ARTIFACTS,
  FIXTURES,
  TARGETS,
  WEB_ROOT,
  compileInPage,
  kilnCompile,
  kilnMissing,
  kilnTargets,
  launchBrowser,
  loadInPage,
  openPage,
  prepare,
  startServer,
} from './harness.mjs';

const unavailable = prepare();
const noKiln = kilnMissing();
if (!unavailable && noKiln) process.stderr.write(`byte-identity tests skipped: ${noKiln}\n`);

// No test of this file should take long; none may hang the run.
const TEST_TIMEOUT = 120_000;
const PRIMES = join(FIXTURES, 'primes.wat');
const COMPONENT_WAT = `(component
  (core module $m (func (export "f") (result i32) i32.const 7))
  (core instance $i (instantiate $m))
  (func $f (result u32) (canon lift (core func $i "f")))
  (export "f" (func $f)))
`;
// A binary module header followed by a section id that does not exist.
const GARBAGE = Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0xee, 0x13, 0x37, 0x00, 0xba, 0xad]);

// Skips the test (saying why) when something it needs is missing.
function lacking(t, ...reasons) {
  const reason = reasons.find(Boolean);
  if (reason) t.skip(reason);
  return Boolean(reason);
}

function assertSameBytes(actual, expected, what) {
  assert.equal(actual.length, expected.length, `${what}: ${actual.length} bytes, kiln compile made ${expected.length}`);
  assert.ok(Buffer.compare(actual, expected) === 0, `${what}: the bytes differ from kiln compile's`);
}

// Runs before the page's own scripts: counts timer ticks and animation
// frames and keeps the longest gap between ticks, to see whether the main
// thread was ever blocked; and records every text the status line shows.
function installTicker() {
  window.__statusLog = [];
  document.addEventListener('DOMContentLoaded', () => {
    const status = document.getElementById('status');
    window.__statusLog.push(status.textContent);
    new MutationObserver(() => window.__statusLog.push(status.textContent)).observe(status, {
      childList: true,
      characterData: true,
      subtree: true,
    });
  });
  const state = { ticks: 0, frames: 0, maxGap: 0, last: performance.now() };
  state.reset = () => {
    state.ticks = 0;
    state.frames = 0;
    state.maxGap = 0;
    state.last = performance.now();
  };
  window.__ticker = state;
  setInterval(() => {
    const now = performance.now();
    state.maxGap = Math.max(state.maxGap, now - state.last);
    state.last = now;
    state.ticks++;
  }, 10);
  const frame = () => {
    state.frames++;
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
}

// A module big enough that compiling it takes a good fraction of a second.
function bigModule(count) {
  const funcs = [];
  for (let i = 0; i < count; i++) {
    funcs.push(`(func (export "f${i}") (param i32 i32) (result i32) (local i32)
  (block (loop
    (local.set 2 (i32.add (local.get 2) (i32.mul (local.get 0) (i32.const ${i + 3}))))
    (local.set 0 (i32.xor (i32.rotl (local.get 0) (i32.const 5)) (local.get 1)))
    (local.set 1 (i32.sub (local.get 1) (i32.const 1)))
    (br_if 1 (i32.eqz (local.get 1)))
    (br 0)))
  (i32.add (local.get 2) (local.get 0)))`);
  }
  return Buffer.from(`(module\n${funcs.join('\n')}\n)\n`);
}

// Compiles the chosen file through the controls and returns the download.
async function compileThroughUi(page, { name, bytes, target, baseline = '' }) {
  await page.setInputFiles('#file', { name, mimeType: 'application/octet-stream', buffer: bytes });
  await page.selectOption('#target', target);
  if (!(await page.isDisabled('#baseline'))) await page.selectOption('#baseline', baseline);
  await page.waitForSelector('#compile:not([disabled])');
  await page.click('#compile');
  await page.waitForSelector('#download:not([hidden]), #error:not([hidden])');
  if (await page.isVisible('#error')) throw new Error(`the page showed an error: ${await page.textContent('#error')}`);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
  const path = await download.path();
  return { filename: download.suggestedFilename(), bytes: await readFile(path) };
}

describe('the Kiln page in headless Chromium', () => {
  let server;
  let browser;
  let page;
  let primes;

  before(async () => {
    if (unavailable) return;
    primes = await readFile(PRIMES);
    server = await startServer();
    browser = await launchBrowser();
    ({ page } = await openPage(browser, server.url, { initScript: installTicker }));
  }, { timeout: TEST_TIMEOUT });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  test('loads the compiler in the worker while the main thread keeps running', { timeout: TEST_TIMEOUT }, async (t) => {
    if (lacking(t, unavailable)) return;
    const info = await loadInPage(page);
    const ticker = await page.evaluate(() => ({ ...window.__ticker }));
    t.diagnostic(
      `compiler loaded in ${Math.round(info.loadMs)} ms; ${ticker.ticks} timer ticks and ${ticker.frames} frames ` +
        `since the page opened, longest gap ${Math.round(ticker.maxGap)} ms; ${info.version}`,
    );
    assert.ok(info.loadMs > 0);
    assert.equal(await page.evaluate(() => document.compatMode), 'CSS1Compat', 'the page renders in quirks mode');
    assert.match(info.version, /wasmtime 48\./);
    assert.ok(ticker.ticks > 0, 'the page timer never ran');
    assert.ok(ticker.maxGap < 500, `the main thread was blocked for ${Math.round(ticker.maxGap)} ms`);
    await page.waitForFunction(() => document.getElementById('status').textContent.startsWith('Compiler ready'));
    const shown = await page.evaluate(() => window.__statusLog.splice(0));
    assert.ok(shown.some((text) => /^Loading the compiler \(\d+ MB of WebAssembly\)/.test(text)), shown.join(' | '));
    assert.match(shown.at(-1), /^Compiler ready \(loaded in [\d.]+ m?s\)\. Choose a file to compile\.$/);
    assert.deepEqual(page.pageErrors, []);
  });

  test('offers the targets and baselines that kiln targets lists', { timeout: TEST_TIMEOUT }, async (t) => {
    if (lacking(t, unavailable, noKiln)) return;
    const info = await loadInPage(page);
    const expected = kilnTargets();
    assert.deepEqual(info.targets, Object.keys(expected));
    assert.deepEqual(info.targets, TARGETS);
    for (const target of info.targets) {
      assert.deepEqual(
        info.baselines[target].map((b) => b.name),
        expected[target],
        `the baselines of ${target}`,
      );
    }
    const options = await page.$$eval('#target option', (all) => all.map((o) => o.value));
    assert.deepEqual(options, info.targets);
    await page.selectOption('#target', 's390x-unknown-linux-gnu');
    const baselines = await page.$$eval('#baseline option', (all) => all.map((o) => o.textContent));
    assert.deepEqual(baselines, ['z14 (default)', 'z15', 'z17']);
    await page.selectOption('#target', 'pulley64');
    assert.ok(await page.isDisabled('#baseline'));
  });

  test('compiles primes.wat through the controls; the download is kiln compile\'s artifact', { timeout: TEST_TIMEOUT }, async (t) => {
    if (lacking(t, unavailable, noKiln)) return;
    const target = 'x86_64-unknown-linux-gnu';
    const download = await compileThroughUi(page, { name: 'primes.wat', bytes: primes, target });
    assert.equal(download.filename, 'primes.cwasm');
    assertSameBytes(download.bytes, await kilnCompile(PRIMES, target), `primes.wat for ${target}`);

    const shown = await page.evaluate(() => window.__statusLog.splice(0));
    assert.ok(shown.includes(`Compiling primes.wat for ${target}…`), shown.join(' | '));
    const status = await page.textContent('#status');
    assert.equal(shown.at(-1), status);
    assert.match(status, /^Done in \d+ ms: primes\.cwasm, [\d,]+ bytes .*, \d+ functions?\.$/);
    assert.match(await page.textContent('#fact-size'), new RegExp(`^${download.bytes.length.toLocaleString('en')} bytes`));
    assert.equal(await page.textContent('#fact-kind'), 'core module');
    assert.equal(await page.textContent('#fact-target'), `${target}, x86-64-v1`);

    await mkdir(ARTIFACTS, { recursive: true });
    const shot = join(ARTIFACTS, 'browser-compile.png');
    await page.screenshot({ path: shot, fullPage: true });
    t.diagnostic(`screenshot: ${shot}`);
  });

  test('compiles a component with a chosen baseline through the controls', { timeout: TEST_TIMEOUT }, async (t) => {
    if (lacking(t, unavailable, noKiln)) return;
    const target = 'aarch64-unknown-linux-gnu';
    const bytes = Buffer.from(COMPONENT_WAT);
    const download = await compileThroughUi(page, { name: 'seven.wat', bytes, target, baseline: 'armv8.1' });
    assert.equal(download.filename, 'seven.cwasm');
    assertSameBytes(download.bytes, await kilnCompile(bytes, target, 'armv8.1'), `the component for ${target} armv8.1`);
    assert.equal(await page.textContent('#fact-kind'), 'component');
    assert.equal(await page.textContent('#fact-target'), `${target}, armv8.1`);
  });

  test('takes a file dropped onto the page', { timeout: TEST_TIMEOUT }, async (t) => {
    if (lacking(t, unavailable)) return;
    const dataTransfer = await page.evaluateHandle((text) => {
      const transfer = new DataTransfer();
      transfer.items.add(new File([text], 'dropped.wat', { type: 'text/plain' }));
      return transfer;
    }, COMPONENT_WAT);
    await page.dispatchEvent('#drop-zone', 'dragenter', { dataTransfer });
    assert.ok(await page.$eval('#drop-zone', (zone) => zone.classList.contains('dragging')));
    await page.dispatchEvent('#drop-zone', 'drop', { dataTransfer });
    await page.waitForFunction(() => document.getElementById('file-name').textContent.startsWith('dropped.wat, '));
    assert.ok(!(await page.$eval('#drop-zone', (zone) => zone.classList.contains('dragging'))));
    await page.selectOption('#target', 'pulley32');
    await page.click('#compile');
    await page.waitForSelector('#download:not([hidden])');
    assert.equal(await page.getAttribute('#download', 'download'), 'dropped.cwasm');
    assert.equal(await page.textContent('#fact-kind'), 'component');
  });

  test('compiles a module and a component for all six targets, as kiln compile does', { timeout: TEST_TIMEOUT }, async (t) => {
    if (lacking(t, unavailable, noKiln)) return;
    const component = Buffer.from(COMPONENT_WAT);
    const times = [];
    for (const target of TARGETS) {
      const module = await compileInPage(page, primes, target);
      assert.equal(module.kind, 'module');
      assert.ok(module.functionCount >= 1);
      assertSameBytes(module.bytes, await kilnCompile(PRIMES, target), `primes.wat for ${target}`);
      const comp = await compileInPage(page, component, target);
      assert.equal(comp.kind, 'component');
      assert.equal(comp.functionCount, 1);
      assertSameBytes(comp.bytes, await kilnCompile(component, target), `the component for ${target}`);
      times.push(`${target} ${Math.round(module.ms)}/${Math.round(comp.ms)} ms`);
    }
    t.diagnostic(`module/component compile times: ${times.join(', ')}`);
  });

  test('compiles for every target\'s highest baseline as kiln compile --baseline does', { timeout: TEST_TIMEOUT }, async (t) => {
    if (lacking(t, unavailable, noKiln)) return;
    const expected = kilnTargets();
    for (const [target, baselines] of Object.entries(expected)) {
      if (baselines.length === 0) continue;
      const highest = baselines.at(-1);
      const result = await compileInPage(page, primes, target, highest);
      assertSameBytes(result.bytes, await kilnCompile(PRIMES, target, highest), `primes.wat for ${target} ${highest}`);
    }
  });

  test('shows invalid input in plain words and keeps working', { timeout: TEST_TIMEOUT }, async (t) => {
    if (lacking(t, unavailable, noKiln)) return;
    await page.setInputFiles('#file', { name: 'garbage.wasm', mimeType: 'application/wasm', buffer: GARBAGE });
    await page.click('#compile');
    await page.waitForSelector('#error:not([hidden])');
    const shown = await page.textContent('#error');
    assert.match(shown, /^The input is not valid WebAssembly \(at byte offset 8\): \S/);
    assert.match(await page.textContent('#status'), /Compiling garbage\.wasm failed/);
    assert.ok(await page.isHidden('#download'), 'a download from an earlier compile is still offered');

    // The same error through the hook: the compiler's kind and offset.
    const failure = await compileInPage(page, GARBAGE, 'x86_64-unknown-linux-gnu').then(
      () => assert.fail('garbage compiled'),
      (error) => error,
    );
    assert.equal(failure.kind, 'invalid-input');
    assert.equal(failure.offset, 8);
    assert.equal(failure.message, shown);
    // Not binary at all: read as text, which does not parse either.
    const text = await compileInPage(page, Buffer.from('garbage, not wasm'), 'pulley64').catch((e) => e);
    assert.equal(text.kind, 'invalid-input');
    assert.match(text.message, /^The input is not valid WebAssembly/);
    const target = await compileInPage(page, primes, 'mips-unknown-linux-gnu').catch((e) => e);
    assert.equal(target.kind, 'unsupported-target');
    assert.match(target.message, /^Unsupported target: /);

    // And the page still compiles.
    const download = await compileThroughUi(page, { name: 'primes.wat', bytes: primes, target: 'pulley64' });
    assertSameBytes(download.bytes, await kilnCompile(PRIMES, 'pulley64'), 'primes.wat for pulley64 after an error');
    assert.ok(await page.isHidden('#error'), 'the old error is still shown');
    assert.deepEqual(page.pageErrors, []);
  });

  test('a compiler that failed to load is loaded again by the next Compile', { timeout: TEST_TIMEOUT }, async (t) => {
    if (lacking(t, unavailable)) return;
    // A copy of the page whose compiler is missing its core wasm at first.
    const dir = await mkdtemp(join(tmpdir(), 'kiln-page-test-'));
    const core = join(dir, 'web', 'compiler', 'kiln-compiler.core.wasm');
    await cp(WEB_ROOT, join(dir, 'web'), { recursive: true });
    await rename(core, join(dir, 'core.wasm'));
    const own = await startServer({ root: join(dir, 'web') });
    const { context, page: visit } = await openPage(browser, own.url, { contextOptions: { serviceWorkers: 'block' } });
    try {
      await visit.waitForSelector('#error:not([hidden])');
      assert.match(await visit.textContent('#error'), /^The compiler could not be loaded: /);
      assert.match(await visit.textContent('#status'), /not loaded/);

      await rename(join(dir, 'core.wasm'), core);
      await visit.setInputFiles('#file', PRIMES);
      await visit.click('#compile');
      await visit.waitForSelector('#download:not([hidden])');
      assert.ok(await visit.isHidden('#error'));
      assert.match(await visit.textContent('#status'), /^Done in /);
      const targets = await visit.$$eval('#target option', (all) => all.map((o) => o.value));
      assert.deepEqual(targets, TARGETS);
    } finally {
      await context.close();
      await own.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('the main thread stays responsive while a compile runs', { timeout: TEST_TIMEOUT }, async (t) => {
    if (lacking(t, unavailable)) return;
    // Grow the input until its compile lasts long enough to tell: a compile
    // on the main thread would stall the page's timer for all of it.
    let run;
    for (let count = 1500; ; count *= 2) {
      run = await page.evaluate(async (source) => {
        const wasm = new TextEncoder().encode(source);
        const ticker = window.__ticker;
        ticker.reset();
        const started = performance.now();
        const result = await window.kiln.compile(wasm, 'x86_64-unknown-linux-gnu');
        const elapsed = performance.now() - started;
        return { ms: result.ms, elapsed, ticks: ticker.ticks, frames: ticker.frames, maxGap: ticker.maxGap };
      }, bigModule(count).toString());
      t.diagnostic(
        `${count} functions: compile ${Math.round(run.ms)} ms (${Math.round(run.elapsed)} ms on the page's clock), ` +
          `${run.ticks} ticks of a 10 ms timer, ${run.frames} frames, longest gap ${Math.round(run.maxGap)} ms`,
      );
      if (run.ms >= 300 || count >= 24000) break;
    }
    assert.ok(run.ms >= 300, `the compile took only ${Math.round(run.ms)} ms, too short to tell`);
    assert.ok(run.maxGap < Math.min(250, run.ms / 2), `the timer stalled for ${Math.round(run.maxGap)} ms`);
    assert.ok(run.ticks >= run.elapsed / 10 / 4, `only ${run.ticks} timer ticks in ${Math.round(run.elapsed)} ms`);
  });

  test('after a first load, a reload with no server and no network still compiles', { timeout: TEST_TIMEOUT }, async (t) => {
    if (lacking(t, unavailable, noKiln)) return;
    // Its own server and context: a first visit, a fresh service worker.
    const own = await startServer();
    const { context, page: visit } = await openPage(browser, own.url);
    try {
      await loadInPage(visit);
      assert.equal(await visit.evaluate(() => window.kiln.offlineReady()), true);
      await own.close();
      await context.setOffline(true);
      await assert.rejects(fetch(own.url), 'the server still answers');

      await visit.reload();
      await visit.waitForFunction(() => window.kiln !== undefined);
      const controlled = await visit.evaluate(() => navigator.serviceWorker.controller !== null);
      assert.ok(controlled, 'the reloaded page is not served by the service worker');
      const info = await loadInPage(visit);
      const target = 'riscv64gc-unknown-linux-gnu';
      const result = await compileInPage(visit, primes, target);
      assertSameBytes(result.bytes, await kilnCompile(PRIMES, target), `primes.wat for ${target}, offline`);
      t.diagnostic(`offline: compiler loaded in ${Math.round(info.loadMs)} ms, compiled in ${Math.round(result.ms)} ms`);
      assert.deepEqual(visit.pageErrors, []);
    } finally {
      await context.close();
      await own.close();
    }
  });

});
