// The loaded compiler: load() gives one shared compiler, it compiles again
// and again with the same result, and it reports its targets and version.
// Also reports (as test diagnostics) the first compile's time after load
// and a later one's.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, test } from 'node:test';
import { compile, load } from '../../src/index.js';
import { MODULE_WAT_PATH, TARGETS, ensureBuilt, sameBytes } from './support.js';

const target = 'x86_64-unknown-linux-gnu';

before(ensureBuilt);

test('two compiles in a row from one loaded compiler give the same bytes', async (t) => {
  const source = readFileSync(MODULE_WAT_PATH);
  let started = performance.now();
  const compiler = await load();
  const loadMs = performance.now() - started;

  started = performance.now();
  const first = compiler.compile(source, { target });
  const firstMs = performance.now() - started;

  started = performance.now();
  const second = compiler.compile(source, { target });
  const secondMs = performance.now() - started;

  t.diagnostic(
    `primes.wat for ${target}: load ${loadMs.toFixed(0)} ms, ` +
      `first compile ${firstMs.toFixed(0)} ms, second ${secondMs.toFixed(0)} ms`,
  );
  assert.ok(first.bytes instanceof Uint8Array);
  assert.ok(first.bytes.length > 0);
  assert.ok(sameBytes(first.bytes, second.bytes));
  assert.deepEqual({ ...second, bytes: undefined }, { ...first, bytes: undefined });
  // Two results are two arrays, not one buffer reused.
  assert.notEqual(first.bytes.buffer, second.bytes.buffer);
});

test('load() gives the same compiler every time, and compile() uses it', async () => {
  const [a, b] = await Promise.all([load(), load()]);
  assert.equal(a, b);
  assert.equal(await load(), a);

  const source = readFileSync(MODULE_WAT_PATH);
  const viaFunction = await compile(source, { target: 'pulley32' });
  const viaCompiler = a.compile(source, { target: 'pulley32' });
  assert.ok(sameBytes(viaFunction.bytes, viaCompiler.bytes));
});

test('the result describes the artifact', async () => {
  const result = (await load()).compile(readFileSync(MODULE_WAT_PATH), { target });
  assert.deepEqual(Object.keys(result).sort(), ['bytes', 'codeBytes', 'functionCount', 'kind']);
  assert.equal(result.kind, 'module');
  assert.equal(typeof result.functionCount, 'number');
  assert.equal(typeof result.codeBytes, 'number');
  // An ELF image: 0x7f 'E' 'L' 'F'.
  assert.deepEqual([...result.bytes.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46]);
});

test('targets() lists the six targets', async () => {
  assert.deepEqual((await load()).targets(), TARGETS);
});

test('version() names Kiln and Wasmtime 48', async () => {
  const version = (await load()).version();
  assert.match(version, /^kiln \d+\.\d+\.\d+/);
  assert.match(version, /wasmtime 48\./);
});
