// Bad input and bad calls: rejected input becomes a KilnCompileError of the
// right kind (with the byte offset where the compiler knows it), hostile
// input is rejected rather than crashing anything, and wrong arguments are
// TypeErrors thrown before the component is called.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, describe, test } from 'node:test';
import { compile, KilnCompileError, load } from '../../src/index.js';
import { MODULE_WAT_PATH, ensureBuilt, hex, sameBytes, wasmBinary } from './support.js';

const MAGIC_AND_VERSION = '0061736d 01000000';
const target = 'pulley64';

let compiler;
let primesBinary;

before(async () => {
  await ensureBuilt();
  compiler = await load();
  primesBinary = await wasmBinary(readFileSync(MODULE_WAT_PATH, 'utf8'));
});

// Runs `fn`, requires a KilnCompileError of `kind`, and returns it.
function rejects(fn, kind) {
  let caught;
  assert.throws(fn, (error) => {
    caught = error;
    return true;
  });
  assert.ok(caught instanceof KilnCompileError, `expected a KilnCompileError, got ${caught?.stack ?? caught}`);
  assert.ok(caught instanceof Error);
  assert.equal(caught.name, 'KilnCompileError');
  assert.equal(caught.kind, kind, `kind of: ${caught.message}`);
  assert.equal(typeof caught.message, 'string');
  assert.ok(caught.message.length > 0);
  return caught;
}

describe('invalid input', () => {
  test('the wasm header followed by junk: invalid-input at the bad section id', () => {
    const error = rejects(() => compiler.compile(hex(`${MAGIC_AND_VERSION} ff ff ff ff`), { target }), 'invalid-input');
    assert.equal(error.offset, 8);
    assert.match(error.message, /section id/);
  });

  test('a valid module cut short: invalid-input with an offset inside it', () => {
    const truncated = primesBinary.subarray(0, Math.floor(primesBinary.length / 2));
    const error = rejects(() => compiler.compile(truncated, { target }), 'invalid-input');
    assert.equal(typeof error.offset, 'number');
    assert.ok(error.offset > 8 && error.offset <= truncated.length, `offset ${error.offset}`);
  });

  test('empty input', () => {
    rejects(() => compiler.compile(new Uint8Array(0), { target }), 'invalid-input');
  });

  test('neither binary nor text: invalid-input without an offset (a text parse error)', () => {
    const error = rejects(() => compiler.compile(Buffer.from('hello, not wasm'), { target }), 'invalid-input');
    assert.equal(error.offset, undefined);
  });

  test('a text module that does not parse', () => {
    const error = rejects(
      () => compiler.compile(Buffer.from('(module (func (result i32) i32.const))'), { target }),
      'invalid-input',
    );
    assert.match(error.message, /i32/);
  });
});

describe('hostile input is rejected, not a crash', () => {
  test('a section claiming 4 GiB', () => {
    // Type section (id 1) with length 0xffffffff and one byte of contents.
    const error = rejects(() => compiler.compile(hex(`${MAGIC_AND_VERSION} 01 ffffffff0f 00`), { target }), 'invalid-input');
    assert.equal(typeof error.offset, 'number');
  });

  test('a type count of 4 billion in a five-byte section', () => {
    const error = rejects(() => compiler.compile(hex(`${MAGIC_AND_VERSION} 01 05 ffffffff0f`), { target }), 'invalid-input');
    assert.match(error.message, /count|limit/);
  });

  test('a function declaring 4 billion locals', () => {
    // One type () -> (), one function of it, and a body declaring
    // 0xffffffff locals of type i32.
    const module = hex(`${MAGIC_AND_VERSION} 01 04 01 60 00 00  03 02 01 00  0a 0a 01 08 01 ffffffff0f 7f 0b`);
    const error = rejects(() => compiler.compile(module, { target }), 'invalid-input');
    assert.match(error.message, /locals/);
  });

  test('16 MiB of junk after the header', () => {
    const input = new Uint8Array(16 * 1024 * 1024).fill(0xff);
    input.set(hex(MAGIC_AND_VERSION));
    const error = rejects(() => compiler.compile(input, { target }), 'invalid-input');
    assert.equal(error.offset, 8);
  });

  test('the compiler still works after all of that', () => {
    const result = compiler.compile(readFileSync(MODULE_WAT_PATH), { target });
    assert.equal(result.kind, 'module');
  });
});

describe('unsupported targets and features', () => {
  test('an unknown target: unsupported-target naming it and the supported ones', () => {
    const error = rejects(() => compiler.compile(primesBinary, { target: 'mips-unknown-linux-gnu' }), 'unsupported-target');
    assert.match(error.message, /mips-unknown-linux-gnu/);
    assert.match(error.message, /x86_64-unknown-linux-gnu/);
    assert.equal(error.offset, undefined);
  });

  test('an unknown CPU feature: unsupported-feature', () => {
    const error = rejects(
      () => compiler.compile(primesBinary, { target: 'x86_64-unknown-linux-gnu', cpuFeatures: ['has_warp_drive'] }),
      'unsupported-feature',
    );
    assert.match(error.message, /has_warp_drive/);
  });

  test('an unknown baseline: unsupported-feature', () => {
    const error = rejects(
      () => compiler.compile(primesBinary, { target: 'aarch64-unknown-linux-gnu', baseline: 'x86-64-v3' }),
      'unsupported-feature',
    );
    assert.match(error.message, /x86-64-v3/);
  });

  test('input using a proposal the config turns off: unsupported-feature', () => {
    const simd = Buffer.from('(module (func (result v128) v128.const i64x2 0 0))');
    const wasmtimeConfig = '[wasm]\nsimd = false\nrelaxed-simd = false\n';
    const error = rejects(() => compiler.compile(simd, { target, wasmtimeConfig }), 'unsupported-feature');
    assert.match(error.message, /SIMD/i);
  });

  test('a config that is not Wasmtime TOML: unsupported-feature', () => {
    const error = rejects(
      () => compiler.compile(primesBinary, { target, wasmtimeConfig: '[wasm]\nfrobnicate = true\n' }),
      'unsupported-feature',
    );
    assert.match(error.message, /frobnicate/);
  });
});

describe('wrong arguments are TypeErrors, thrown before the compiler runs', () => {
  const notBytes = [
    ['a string', '(module)'],
    ['an array of numbers', [0, 97, 115, 109]],
    ['a Uint16Array', new Uint16Array(4)],
    ['a DataView', new DataView(new ArrayBuffer(8))],
    ['null', null],
    ['undefined', undefined],
    ['a plain object', { length: 8 }],
  ];
  for (const [what, value] of notBytes) {
    test(`input that is ${what}`, () => {
      // Synchronously from compile(): nothing was loaded or called.
      assert.throws(() => compile(value, { target }), TypeError);
      assert.throws(() => compiler.compile(value, { target }), TypeError);
    });
  }

  const badOptions = [
    ['no options', undefined],
    ['no target', {}],
    ['an empty target', { target: '' }],
    ['a target that is not a string', { target: 64 }],
    ['a baseline that is not a string', { target, baseline: ['x86-64-v3'] }],
    ['CPU features that are not an array', { target, cpuFeatures: 'has_avx2' }],
    ['CPU features that are not strings', { target, cpuFeatures: [1] }],
    ['a config that is not text', { target, wasmtimeConfig: { wasm: { gc: false } } }],
    ['an unknown option', { target, cpu_features: ['has_avx2'] }],
  ];
  for (const [what, options] of badOptions) {
    test(what, () => {
      assert.throws(() => compile(primesBinary, options), TypeError);
      assert.throws(() => compiler.compile(primesBinary, options), TypeError);
    });
  }

  test('Buffer, ArrayBuffer and Uint8Array views are all accepted, and equal', async () => {
    const buffer = readFileSync(MODULE_WAT_PATH);
    const arrayBuffer = buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.length);
    // A view into the middle of a larger buffer.
    const padded = new Uint8Array(buffer.length + 16);
    padded.set(buffer, 8);
    const view = padded.subarray(8, 8 + buffer.length);

    const fromBuffer = await compile(buffer, { target });
    const fromArrayBuffer = await compile(arrayBuffer, { target });
    const fromView = await compile(view, { target });
    assert.ok(sameBytes(fromBuffer.bytes, fromArrayBuffer.bytes));
    assert.ok(sameBytes(fromBuffer.bytes, fromView.bytes));
  });
});
