// Times one compile, wasm in and Wasmtime 48 `.cwasm` out, through every way
// Kiln offers, in one run, on the same inputs and for the same target, and
// prints one table row per input and way with its ratio to native Wasmtime
// on one thread:
//
//   node js/scripts/timing.mjs [--reps N] [--warmups N] [--warm-ms MS] [--liftoff] [--json] [FILE...]
//
// By default the inputs are three Sightglass modules of different sizes from
// ../shared/corpus/sightglass (relative to the repository): quicksort,
// pulldown-cmark and sqlite3. With no FILE and no corpus it says so and
// exits 0. The target is x86_64-unknown-linux-gnu. The ways:
//
//  1. native Wasmtime, one thread, in-process, and
//  2. Kiln's sandboxed compiler component (one instance): both are the
//     medians of `kiln bench --json --reps N` (`native_1t_ms`,
//     `component_ms`, KILN or target/debug/kiln). A tiny `kiln bench` runs
//     first, untimed, so that a guest the compiler's cache has to rebuild
//     after a change does not land in these figures.
//  3. the Node package (js/src/index.js): cold is the first compile of the
//     input in a fresh Node process right after `load()`, one child process
//     per input, run with Node's default V8 flags (this script run with
//     `--node-child` prints its measurement as JSON); warm is the median of
//     N compiles in this process after the warm-ups (below). `load()`'s
//     time is reported beside them. With `--liftoff`, a second cold child
//     per input runs under `node --liftoff-only` (V8 then keeps the
//     compiler's wasm on its baseline compiler, Liftoff, and never tiers
//     hot functions up to TurboFan: less compiling at start, slower code).
//  4. the browser page (js/dist/web/, built by js/scripts/build-web.mjs) in
//     headless Chromium, driven through js/test/browser/harness.mjs: cold is
//     the first compile after the page's compiler loaded, in a fresh browser
//     context per input; warm is the median of N later compiles in that
//     page after the warm-ups. Both are the page worker's own measurement
//     around the compile call; the page's load time is reported beside them.
//  5. the `wasi:http` handler (js/dist/kiln-http.wasm) under `wasmtime serve`
//     of wasmtime-cli 48.0.8 (scripts/install-wasmtime-cli.sh
//     --if-installed): each input is POSTed to
//     /compile?target=x86_64-unknown-linux-gnu; the time is the whole
//     request, from sending to the last byte of the answer. `wasmtime serve`
//     makes a fresh instance per request, so every request is cold for its
//     instance: the first request of each input is reported, and the median
//     of N more. The server's start time is reported beside them.
//
// Warm-ups: V8 runs the compiler's wasm on its baseline code first and
// compiles hot functions with TurboFan on background threads, so how soon
// a compile is "warm" depends on wall time, not on a count (on a busy
// 2-core machine a 189 kB input took a dozen compiles, seconds, to settle).
// Each warm figure therefore follows at least `--warmups` compiles (default
// 2) and at least `--warm-ms` of compiling (default 5000), per input.
//
// Every artifact of ways 3 to 5 must be byte-identical to `kiln compile`'s
// for the same input and target (`kiln bench` checks ways 1 and 2 itself):
// the run fails, exit 1, otherwise. A way whose pieces are missing (the
// Node build, the page, Chromium, wasmtime-cli) is skipped, and the reason
// printed under the table. Medians are as `kiln bench` takes them (the upper middle of an
// even count). Progress goes to stderr; the table, or with `--json` one JSON
// object per row and then a summary object without `input`, to stdout.
// Nothing else runs in this script's steps at the same time: the ways run
// one after the other, and each host is stopped before the next starts.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { load } from '../src/index.js';

const SCRIPT = fileURLToPath(import.meta.url);
const JS_DIR = resolve(dirname(SCRIPT), '..');
const REPO_ROOT = resolve(JS_DIR, '..');
const CORPUS = resolve(REPO_ROOT, '..', 'shared', 'corpus', 'sightglass');
const DEFAULT_INPUTS = ['quicksort/benchmark.wasm', 'pulldown-cmark/benchmark.wasm', 'sqlite3/sqlite3.wasm'];
const TARGET = 'x86_64-unknown-linux-gnu';
const KILN = process.env.KILN || join(REPO_ROOT, 'target', 'debug', 'kiln');
const HTTP_COMPONENT = join(JS_DIR, 'dist', 'kiln-http.wasm');
const NODE_BINDINGS = join(JS_DIR, 'dist', 'node', 'kiln-compiler.js');
const WEB_PAGE = join(JS_DIR, 'dist', 'web', 'index.html');
/** How long `wasmtime serve` may take to start (its first start compiles the 26 MB component). */
const SERVE_START_TIMEOUT_MS = 10 * 60 * 1000;
/** A module for the untimed warm-up `kiln bench`. */
const TINY_WAT = '(module (func (export "f") (param i32) (result i32) local.get 0 i32.const 1 i32.add))\n';

/** The ways, in table order: key, label. */
const WAYS = [
  ['native-1t', 'native Wasmtime, 1 thread'],
  ['component', 'Kiln component (kiln bench)'],
  ['node-cold', 'Node, cold (fresh process)'],
  ['node-cold-liftoff', 'Node, cold, --liftoff-only'],
  ['node-warm', 'Node, warm'],
  ['browser-cold', 'Chromium page, cold'],
  ['browser-warm', 'Chromium page, warm'],
  ['http-first', 'wasmtime serve, 1st request'],
  ['http', 'wasmtime serve, request'],
];

function log(message) {
  process.stderr.write(`timing: ${message}\n`);
}

/** The median as `kiln bench` takes it: the upper middle of an even count. */
function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** `quicksort/benchmark.wasm`: an input's last two path components, as `kiln bench` names it. */
function shortName(file) {
  return `${basename(dirname(file))}/${basename(file)}`;
}

function sameBytes(a, b) {
  return a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)) === 0;
}

/** Runs a command to its end; resolves to { status, stdout, stderr }, stderr also shown when `echo`. */
function run(command, args, { echo = false, cwd = REPO_ROOT, env = process.env } = {}) {
  return new Promise((done, fail) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [];
    const err = [];
    child.stdout.on('data', (chunk) => out.push(chunk));
    child.stderr.on('data', (chunk) => {
      err.push(chunk);
      if (echo) process.stderr.write(chunk);
    });
    child.once('error', fail);
    child.once('close', (status, signal) =>
      done({ status: status ?? signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }),
    );
  });
}

function lastLines(text, count = 3) {
  return text.trim().split('\n').slice(-count).join(' / ');
}

// --- The child that measures a cold Node compile ----------------------------

/** `--node-child FILE OUT`: load, compile FILE once, write the artifact to OUT, print the times. */
async function nodeChild(file, out) {
  const input = await readFile(file);
  let started = performance.now();
  const compiler = await load();
  const loadMs = performance.now() - started;
  started = performance.now();
  const artifact = compiler.compile(input, { target: TARGET });
  const coldMs = performance.now() - started;
  await writeFile(out, artifact.bytes);
  process.stdout.write(
    `${JSON.stringify({ loadMs, coldMs, kind: artifact.kind, functionCount: artifact.functionCount, codeBytes: artifact.codeBytes })}\n`,
  );
}

// --- The ways ------------------------------------------------------------------

/** The rows collected so far, and what failed identity. */
class Results {
  rows = [];
  startup = [];
  skipped = [];
  mismatches = [];
  checked = 0;

  add(input, way, ms, note, extra = {}) {
    this.rows.push({ input, way, ms, note, ...extra });
  }

  /** Checks `bytes` against the reference artifact of `input`; a mismatch fails the run at the end of the way. */
  check(input, way, bytes) {
    const reference = input.reference;
    this.checked += 1;
    if (!sameBytes(bytes, reference)) {
      let at = 0;
      while (at < bytes.length && at < reference.length && bytes[at] === reference[at]) at += 1;
      const message = `${input.name}: the ${way} artifact (${bytes.length} bytes) differs from kiln compile's (${reference.length} bytes) from byte ${at}`;
      this.mismatches.push(message);
      log(`MISMATCH: ${message}`);
    }
  }

  /** Fails loudly when any artifact so far was not byte-identical. */
  assertIdentical() {
    if (this.mismatches.length > 0) {
      throw new Error(`artifacts are not byte-identical:\n  ${this.mismatches.join('\n  ')}`);
    }
  }
}

/** Reads the inputs and compiles each once with `kiln compile`: the reference artifacts. */
async function prepareInputs(files, work) {
  const inputs = [];
  for (const [index, file] of files.entries()) {
    const bytes = await readFile(file);
    const out = join(work, `reference-${index}.cwasm`);
    const compiled = await run(KILN, ['compile', file, '--target', TARGET, '-o', out]);
    if (compiled.status !== 0) throw new Error(`kiln compile ${file} failed (${compiled.status}): ${lastLines(compiled.stderr)}`);
    inputs.push({ file, name: shortName(file), bytes, reference: await readFile(out) });
  }
  return inputs;
}

/** Ways 1 and 2: `kiln bench`, after an untimed tiny one that warms the guest caches. */
async function kilnBench(inputs, reps, results, work) {
  const tiny = join(work, 'warm-up.wat');
  await writeFile(tiny, TINY_WAT);
  log('kiln bench warm-up (tiny module, untimed)');
  const warm = await run(KILN, ['bench', '--json', '--reps', '1', '--target', TARGET, tiny]);
  if (warm.status !== 0) throw new Error(`kiln bench warm-up failed (${warm.status}): ${lastLines(warm.stderr)}`);

  log(`kiln bench --reps ${reps} (native 1 thread and the component, among its other measurements)`);
  const started = performance.now();
  const bench = await run(KILN, ['bench', '--json', '--reps', String(reps), '--target', TARGET, ...inputs.map((i) => i.file)], {
    echo: true,
  });
  if (bench.status !== 0) throw new Error(`kiln bench failed (${bench.status}): ${lastLines(bench.stderr)}`);
  const lines = bench.stdout
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line));
  const summary = lines.find((line) => line.input === undefined) ?? null;
  const byName = new Map(lines.filter((line) => line.input !== undefined).map((line) => [line.input, line]));
  for (const input of inputs) {
    const row = byName.get(input.name);
    if (!row) throw new Error(`kiln bench printed no row for ${input.name}`);
    input.native1tMs = row.native_1t_ms;
    input.bench = row;
    results.add(input, 'native-1t', row.native_1t_ms, `kiln bench, median of ${reps}`);
    results.add(input, 'component', row.component_ms, `kiln bench, median of ${reps}`);
  }
  return { summary, wallMs: performance.now() - started };
}

/** Way 3, cold: one fresh Node process per input (and per flag set). */
async function nodeCold(inputs, results, work, { liftoff }) {
  const way = liftoff ? 'node-cold-liftoff' : 'node-cold';
  const flags = liftoff ? ['--liftoff-only'] : [];
  const loads = [];
  for (const [index, input] of inputs.entries()) {
    log(`Node cold${liftoff ? ' (--liftoff-only)' : ''}: ${input.name}`);
    const out = join(work, `node-cold-${liftoff ? 'liftoff-' : ''}${index}.cwasm`);
    const started = performance.now();
    const child = await run(process.execPath, [...flags, SCRIPT, '--node-child', input.file, out]);
    const processMs = performance.now() - started;
    if (child.status !== 0) throw new Error(`the Node child for ${input.name} failed (${child.status}): ${lastLines(child.stderr)}`);
    const measured = JSON.parse(child.stdout.trim().split('\n').pop());
    results.check(input, way, await readFile(out));
    results.add(input, way, measured.coldMs, `1st compile after load() (${Math.round(measured.loadMs)} ms); process ${Math.round(processMs)} ms in all`, {
      loadMs: measured.loadMs,
      processMs,
      flags,
    });
    loads.push(measured.loadMs);
  }
  results.startup.push({
    what: `Node load(), fresh process${liftoff ? ', --liftoff-only' : ''}`,
    ms: median(loads),
    note: `median of ${loads.length} (one per input): ${loads.map((ms) => Math.round(ms)).join(', ')}`,
  });
}

/**
 * Calls `compileOnce` (which checks its artifact and resolves to its ms)
 * for the warm-ups, at least `warm.count` times and `warm.ms` of compiling,
 * then `reps` times: { times, warmups } of the timed calls.
 */
async function warmThenTime(reps, warm, compileOnce) {
  let warmups = 0;
  let spent = 0;
  while (warmups < warm.count || spent < warm.ms) {
    spent += await compileOnce();
    warmups += 1;
  }
  const times = [];
  for (let i = 0; i < reps; i++) times.push(await compileOnce());
  return { times, warmups };
}

/** Way 3, warm: N compiles per input in this process after the warm-ups. */
async function nodeWarm(inputs, reps, warm, results) {
  const started = performance.now();
  const compiler = await load();
  const loadMs = performance.now() - started;
  results.startup.push({ what: 'Node load(), this process', ms: loadMs, note: 'before its warm compiles' });
  for (const input of inputs) {
    log(`Node warm: ${input.name} (warm-ups, then ${reps} timed)`);
    const { times, warmups } = await warmThenTime(reps, warm, () => {
      const begun = performance.now();
      const artifact = compiler.compile(input.bytes, { target: TARGET });
      const ms = performance.now() - begun;
      results.check(input, 'node-warm', artifact.bytes);
      return ms;
    });
    results.add(input, 'node-warm', median(times), `median of ${reps} after ${warmups} warm-ups`, { times, warmups });
  }
}

/** Way 4: the page in headless Chromium, a fresh context per input. */
async function browserWay(inputs, reps, warm, results) {
  const harness = await import('../test/browser/harness.mjs');
  if (!existsSync(WEB_PAGE)) return 'the page is not built (node js/scripts/build-web.mjs)';
  try {
    harness.ensureChromium();
  } catch (error) {
    return error.message;
  }
  const server = await harness.startServer();
  let browser = null;
  try {
    browser = await harness.launchBrowser();
    results.browserVersion = browser.version();
    const loads = [];
    for (const input of inputs) {
      log(`Chromium: ${input.name} (fresh context; cold, warm-ups, ${reps} timed)`);
      const { context, page } = await harness.openPage(browser, server.url);
      try {
        const { loadMs } = await harness.loadInPage(page);
        loads.push(loadMs);
        const cold = await harness.compileInPage(page, input.bytes, TARGET);
        results.check(input, 'browser-cold', cold.bytes);
        results.add(input, 'browser-cold', cold.ms, `1st compile after the page loaded (${Math.round(loadMs)} ms)`, { loadMs });
        const { times, warmups } = await warmThenTime(reps, warm, async () => {
          const again = await harness.compileInPage(page, input.bytes, TARGET);
          results.check(input, 'browser-warm', again.bytes);
          return again.ms;
        });
        results.add(input, 'browser-warm', median(times), `median of ${reps} after ${warmups} warm-ups`, { times, warmups });
        if (page.pageErrors.length > 0) throw new Error(`the page threw: ${page.pageErrors.map((e) => e.message).join('; ')}`);
      } finally {
        await context.close();
      }
    }
    results.startup.push({
      what: 'Chromium page, compiler load (fresh context)',
      ms: median(loads),
      note: `median of ${loads.length} (one per input): ${loads.map((ms) => Math.round(ms)).join(', ')}`,
    });
  } finally {
    if (browser) await browser.close();
    await server.close();
  }
  return null;
}

/** wasmtime-cli 48.0.8's path, or null. */
function wasmtimeCli() {
  if (process.env.WASMTIME) return process.env.WASMTIME;
  const found = spawnSync(join(REPO_ROOT, 'scripts', 'install-wasmtime-cli.sh'), ['--if-installed'], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim().split('\n').pop() : null;
}

/** Starts `wasmtime serve` in its own process group; resolves to { child, base, startMs }. */
function startServe(wasmtime) {
  const started = performance.now();
  const child = spawn(wasmtime, ['serve', '-Scli', '--addr', '127.0.0.1:0', HTTP_COMPONENT], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group, stopped as one
  });
  let output = '';
  const ready = new Promise((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`wasmtime serve did not start in time:\n${output}`)), SERVE_START_TIMEOUT_MS);
    const look = (chunk) => {
      output += chunk;
      // Up to the slash after the port: a chunk may end inside the port.
      const base = output.match(/Serving HTTP on (http:\/\/[^/\s]+)\//)?.[1];
      if (base) {
        clearTimeout(timer);
        child.stdout.off('data', look);
        child.stderr.off('data', look);
        // Keep draining its output so that a full pipe never stalls it.
        child.stdout.resume();
        child.stderr.resume();
        done({ child, base, startMs: performance.now() - started });
      }
    };
    child.stdout.on('data', look);
    child.stderr.on('data', look);
    child.once('error', (error) => {
      clearTimeout(timer);
      fail(error);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`wasmtime serve exited ${code} before serving:\n${output}`));
    });
  });
  return { child, ready };
}

/** Stops `wasmtime serve` and its process group. */
function stopServe(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}

/** One POST of `input` to the handler: { ms, bytes }; a non-200 answer throws. */
async function postCompile(base, input) {
  const begun = performance.now();
  const response = await fetch(`${base}/compile?target=${TARGET}`, { method: 'POST', body: input.bytes });
  const bytes = new Uint8Array(await response.arrayBuffer());
  const ms = performance.now() - begun;
  if (response.status !== 200) {
    throw new Error(`wasmtime serve (${base}) answered ${response.status} for ${input.name}: ${Buffer.from(bytes).toString('utf8').slice(0, 500)}`);
  }
  return { ms, bytes };
}

/** Way 5: the wasi:http handler under `wasmtime serve`. */
async function httpWay(inputs, reps, results) {
  if (!existsSync(HTTP_COMPONENT)) return `no ${HTTP_COMPONENT} (kiln component --http -o it)`;
  const wasmtime = wasmtimeCli();
  if (!wasmtime) return 'wasmtime-cli 48.0.8 is not installed (scripts/install-wasmtime-cli.sh installs it)';
  const version = spawnSync(wasmtime, ['--version'], { encoding: 'utf8' });
  results.wasmtimeVersion = version.stdout.trim();
  log(`wasmtime serve: starting (${results.wasmtimeVersion})`);
  const { child, ready } = startServe(wasmtime);
  // The server has its own process group, which an interrupt at the
  // terminal does not reach: stop it on the way out, however that is.
  const stopOnExit = () => stopServe(child);
  const stopOnSignal = (signal) => {
    stopServe(child);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('exit', stopOnExit);
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  try {
    const { base, startMs } = await ready;
    results.startup.push({ what: 'wasmtime serve start', ms: startMs, note: 'spawn to "Serving HTTP on"' });
    for (const input of inputs) {
      log(`wasmtime serve: ${input.name} (1st request, ${reps} timed)`);
      const first = await postCompile(base, input);
      results.check(input, 'http-first', first.bytes);
      results.add(input, 'http-first', first.ms, 'whole request; fresh instance');
      const times = [];
      for (let i = 0; i < reps; i++) {
        const reply = await postCompile(base, input);
        results.check(input, 'http', reply.bytes);
        times.push(reply.ms);
      }
      results.add(input, 'http', median(times), `median of ${reps} more; each a fresh instance`, { times });
    }
  } finally {
    stopServe(child);
    process.off('exit', stopOnExit);
    process.off('SIGINT', stopOnSignal);
    process.off('SIGTERM', stopOnSignal);
  }
  return null;
}

// --- Report -----------------------------------------------------------------

function fmtMs(ms) {
  if (ms === null || ms === undefined) return '-';
  return ms >= 100 ? ms.toFixed(0) : ms.toFixed(1);
}

function table(header, rows) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const right = header.map((h) => h === 'ms' || h.startsWith('x '));
  const line = (cells) =>
    cells
      .map((cell, i) => (right[i] ? cell.padStart(widths[i]) : cell.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

function report(inputs, results, meta, asJson) {
  const order = new Map(WAYS.map(([key], index) => [key, index]));
  const labels = new Map(WAYS);
  const rows = [];
  for (const input of inputs) {
    const mine = results.rows.filter((row) => row.input === input).sort((a, b) => order.get(a.way) - order.get(b.way));
    for (const row of mine) {
      rows.push({
        input: input.name,
        bytes: input.bytes.length,
        way: row.way,
        ms: row.ms,
        ratio_native_1t: input.native1tMs ? row.ms / input.native1tMs : null,
        note: row.note,
        ...(row.times ? { times_ms: row.times } : {}),
        ...(row.warmups !== undefined ? { warmups: row.warmups } : {}),
        ...(row.loadMs !== undefined ? { load_ms: row.loadMs } : {}),
        ...(row.processMs !== undefined ? { process_ms: row.processMs } : {}),
      });
    }
  }
  if (asJson) {
    for (const row of rows) process.stdout.write(`${JSON.stringify(row)}\n`);
    process.stdout.write(`${JSON.stringify({ ...meta, startup: results.startup, skipped: results.skipped })}\n`);
    return;
  }
  const body = rows.map((row) => [
    row.input,
    row.bytes >= 10_000 ? `${Math.round(row.bytes / 1000)} kB` : `${row.bytes} B`,
    labels.get(row.way),
    fmtMs(row.ms),
    row.ratio_native_1t === null ? '-' : `${row.ratio_native_1t.toFixed(2)}x`,
    row.note,
  ]);
  const out = [];
  out.push(`Compile to ${TARGET}, ms (x native = ms / native Wasmtime on one thread, same input)`);
  out.push('');
  out.push(table(['input', 'size', 'way', 'ms', 'x native', 'note'], body));
  out.push('');
  out.push(table(['startup', 'ms', 'note'], results.startup.map((s) => [s.what, fmtMs(s.ms), s.note])));
  for (const skipped of results.skipped) out.push(`skipped: ${skipped}`);
  out.push('');
  out.push(`artifacts: all ${meta.artifacts_checked} from the ways measured here byte-identical to kiln compile's for their input`);
  out.push(
    `machine: ${meta.cores} cores (${meta.cpu}); Node ${meta.node}; ${meta.chromium ?? 'no Chromium'}; ${meta.wasmtime ?? 'no wasmtime-cli'}; kiln at ${meta.kiln}`,
  );
  out.push(`load average before: ${meta.loadavg_before}; after: ${meta.loadavg_after}`);
  out.push(`reps ${meta.reps}; warm-ups at least ${meta.warmups} and ${meta.warm_ms} ms per input; whole run ${(meta.total_ms / 1000).toFixed(1)} s (kiln bench ${(meta.kiln_bench_ms / 1000).toFixed(1)} s of it)`);
  process.stdout.write(`${out.join('\n')}\n`);
}

// --- Main -------------------------------------------------------------------

function procLoadavg() {
  try {
    return spawnSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).stdout.trim();
  } catch {
    return loadavg()
      .map((value) => value.toFixed(2))
      .join(' ');
  }
}

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      reps: { type: 'string', default: '5' },
      warmups: { type: 'string', default: '2' },
      'warm-ms': { type: 'string', default: '5000' },
      liftoff: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      'node-child': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values['node-child']) {
    await nodeChild(positionals[0], positionals[1]);
    return;
  }
  if (values.help) {
    process.stdout.write('usage: node js/scripts/timing.mjs [--reps N] [--warmups N] [--warm-ms MS] [--liftoff] [--json] [FILE...]\n');
    return;
  }
  const reps = Number(values.reps);
  const warmups = Number(values.warmups);
  if (!Number.isInteger(reps) || reps < 1) throw new Error(`--reps must be a whole number of at least 1, not ${values.reps}`);
  if (!Number.isInteger(warmups) || warmups < 0) throw new Error(`--warmups must be a whole number, not ${values.warmups}`);
  const warmMs = Number(values['warm-ms']);
  if (!(warmMs >= 0)) throw new Error(`--warm-ms must be a number of milliseconds, not ${values['warm-ms']}`);
  const warm = { count: warmups, ms: warmMs };

  let files = positionals.map((file) => resolve(file));
  if (files.length === 0) {
    files = DEFAULT_INPUTS.map((name) => join(CORPUS, name));
    const missing = files.filter((file) => !existsSync(file));
    if (missing.length > 0) {
      process.stdout.write(`timing: the Sightglass corpus is missing (${missing.join(', ')}); pass input files instead\n`);
      return;
    }
  }
  if (!existsSync(KILN)) throw new Error(`no kiln CLI at ${KILN} (build it, or set KILN)`);

  const loadavgBefore = procLoadavg();
  const startedAll = performance.now();
  const work = await mkdtemp(join(tmpdir(), 'kiln-timing-'));
  const results = new Results();
  try {
    log(`load average before: ${loadavgBefore}`);
    log(`reference artifacts: kiln compile ${files.map(shortName).join(', ')}`);
    const inputs = await prepareInputs(files, work);

    const bench = await kilnBench(inputs, reps, results, work);

    if (existsSync(NODE_BINDINGS)) {
      await nodeCold(inputs, results, work, { liftoff: false });
      if (values.liftoff) await nodeCold(inputs, results, work, { liftoff: true });
      await nodeWarm(inputs, reps, warm, results);
    } else {
      results.skipped.push(`Node: the package is not built (${NODE_BINDINGS} is missing; npm run build in js/)`);
    }
    results.assertIdentical();

    const noBrowser = await browserWay(inputs, reps, warm, results);
    if (noBrowser) results.skipped.push(`Chromium: ${noBrowser}`);
    results.assertIdentical();

    const noHttp = await httpWay(inputs, reps, results);
    if (noHttp) results.skipped.push(`wasmtime serve: ${noHttp}`);
    results.assertIdentical();

    for (const skipped of results.skipped) log(`skipped ${skipped}`);
    const meta = {
      target: TARGET,
      reps,
      warmups,
      warm_ms: warmMs,
      cores: availableParallelism(),
      cpu: cpus()[0]?.model ?? 'unknown',
      node: process.version,
      chromium: results.browserVersion ? `Chromium ${results.browserVersion}` : null,
      wasmtime: results.wasmtimeVersion ?? null,
      kiln: KILN,
      loadavg_before: loadavgBefore,
      loadavg_after: procLoadavg(),
      kiln_bench_ms: bench.wallMs,
      kiln_bench_summary: bench.summary,
      artifacts_checked: results.checked,
      identical: true,
      total_ms: performance.now() - startedAll,
    };
    report(inputs, results, meta, values.json);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((error) => {
  process.stderr.write(`timing: FAILED: ${error.stack || error.message}\n`);
  process.exit(1);
});
