// The kiln-js command line: it writes the API's bytes (atomically, beside the
// input by default), prints one JSON object with --json, lists targets, and
// exits as the native kiln does: 1 for rejected input, 2 for a usage error,
// 5 when the artifact cannot be written, with `error: ...` on stderr.

import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { load } from '../../src/index.js';
import { MODULE_WAT_PATH, TARGETS, ensureBuilt, hex, runCli, sameBytes, tempDir } from './support.js';

const target = 'aarch64-unknown-linux-gnu';

let compiler;
let dir;
let input;

before(async () => {
  await ensureBuilt();
  compiler = await load();
  dir = tempDir();
  input = join(dir, 'primes.wat');
  copyFileSync(MODULE_WAT_PATH, input);
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// Requires exit `status`, and for a failure one `error: ` line first on stderr.
function assertExit(run, status) {
  assert.equal(run.status, status, `exit ${run.status}, stderr: ${run.stderr}`);
  if (status !== 0) {
    assert.match(run.stderr, /^error: \S/);
    assert.equal(run.stdout, '');
  }
}

test('compile -o writes the bytes the API gives, and nothing else', () => {
  const output = join(dir, 'explicit.cwasm');
  const run = runCli(['compile', input, '--target', target, '-o', output]);
  assertExit(run, 0);
  assert.equal(run.stdout, '');
  const expected = compiler.compile(readFileSync(input), { target });
  assert.ok(sameBytes(new Uint8Array(readFileSync(output)), expected.bytes));
  assert.deepEqual(
    readdirSync(dir).filter((name) => name.endsWith('.tmp')),
    [],
    'no temporary file is left behind',
  );
});

test('by default the artifact goes beside the input, named .cwasm', () => {
  const run = runCli(['compile', 'primes.wat', '--target', 'x86_64-unknown-linux-gnu', '--baseline', 'x86-64-v3'], {
    cwd: dir,
  });
  assertExit(run, 0);
  const expected = compiler.compile(readFileSync(input), { target: 'x86_64-unknown-linux-gnu', baseline: 'x86-64-v3' });
  assert.ok(sameBytes(new Uint8Array(readFileSync(join(dir, 'primes.cwasm'))), expected.bytes));
});

test('--json prints one object describing the result', () => {
  const output = join(dir, 'described.cwasm');
  const plain = runCli(['compile', input, '--target', 'pulley64', '-o', output, '--json']);
  assertExit(plain, 0);
  const lines = plain.stdout.trim().split('\n');
  assert.equal(lines.length, 1);
  const described = JSON.parse(lines[0]);
  const written = readFileSync(output);
  assert.equal(described.output, output);
  assert.equal(described.input, input);
  assert.equal(described.target, 'pulley64');
  assert.equal(described.kind, 'module');
  assert.equal(described.function_count, 1);
  assert.equal(described.artifact_bytes, written.length);
  assert.equal(typeof described.code_bytes, 'number');
  assert.ok(described.code_bytes > 0 && described.code_bytes < written.length);
  assert.equal(typeof described.ms, 'number');
  assert.ok(described.ms >= 0);
});

test('garbage input: exit 1, the message with its offset, and an existing output left alone', () => {
  const garbage = join(dir, 'garbage.wasm');
  writeFileSync(garbage, hex('0061736d 01000000 ffffffff'));
  const output = join(dir, 'kept.cwasm');
  writeFileSync(output, 'the old artifact');
  const run = runCli(['compile', garbage, '--target', target, '-o', output]);
  assertExit(run, 1);
  assert.match(run.stderr, /^error: invalid input: .*\(at offset 0x8\)/);
  assert.equal(readFileSync(output, 'utf8'), 'the old artifact');
});

test('an unreadable input, an unknown target or an unknown CPU feature: exit 1', () => {
  assertExit(runCli(['compile', join(dir, 'missing.wasm'), '--target', target]), 1);
  const badTarget = runCli(['compile', input, '--target', 'vax-dec-ultrix', '-o', join(dir, 'x.cwasm')]);
  assertExit(badTarget, 1);
  assert.match(badTarget.stderr, /unsupported target `vax-dec-ultrix`/);
  const badFeature = runCli(['compile', input, '--target', target, '--cpu-feature', 'has_nothing', '-o', join(dir, 'x.cwasm')]);
  assertExit(badFeature, 1);
  assert.match(badFeature.stderr, /^error: unsupported feature: .*has_nothing/);
  assert.ok(!existsSync(join(dir, 'x.cwasm')));
});

test('usage errors: exit 2', () => {
  const noTarget = runCli(['compile', input]);
  assertExit(noTarget, 2);
  assert.match(noTarget.stderr, /--target/);
  assertExit(runCli(['compile', '--target', target]), 2);
  assertExit(runCli(['compile', input, input, '--target', target]), 2);
  assertExit(runCli(['compile', input, '--target', target, '--no-such-flag']), 2);
  assertExit(runCli(['transmogrify']), 2);
  assertExit(runCli([]), 2);
});

test('a --config that is not Wasmtime TOML: exit 2, as kiln compile', () => {
  const config = join(dir, 'bad.toml');
  writeFileSync(config, '[wasm]\nfrobnicate = true\n');
  const run = runCli(['compile', input, '--target', target, '--config', config, '-o', join(dir, 'y.cwasm')]);
  assertExit(run, 2);
  assert.match(run.stderr, /frobnicate/);
});

test('an output that cannot be written: exit 5', () => {
  const run = runCli(['compile', input, '--target', target, '-o', join(dir, 'no', 'such', 'dir', 'out.cwasm')]);
  assertExit(run, 5);
  assert.match(run.stderr, /^error: failed to write /);
});

test('targets, version and --help', () => {
  const targets = runCli(['targets']);
  assertExit(targets, 0);
  assert.deepEqual(targets.stdout.trim().split('\n'), TARGETS);

  const version = runCli(['version']);
  assertExit(version, 0);
  assert.equal(version.stdout.trim(), compiler.version());

  const help = runCli(['--help']);
  assertExit(help, 0);
  assert.match(help.stdout, /kiln-js compile INPUT --target TRIPLE/);
});
