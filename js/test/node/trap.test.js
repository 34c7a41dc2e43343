// A trap inside the compiler is an 'internal' KilnCompileError, and the
// shared compiler replaces its instance before the next call. The trap is
// injected: this file wraps WebAssembly.Instance (in its own test process)
// so that the compiler's compile export can be made to throw the
// RuntimeError a trap raises, once, after the real call has run.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, test } from 'node:test';
import { compile, KilnCompileError, load } from '../../src/index.js';
import { MODULE_WAT_PATH, ensureBuilt, sameBytes } from './support.js';

const COMPILE_EXPORT = 'kiln:compiler/compiler@0.1.0#compile-with';
const RealInstance = WebAssembly.Instance;
let compilerInstances = 0;
let trapNextCompile = false;

WebAssembly.Instance = function Instance(module, imports) {
  const instance = new RealInstance(module, imports);
  if (!(COMPILE_EXPORT in instance.exports)) return instance;
  compilerInstances += 1;
  const exports = { ...instance.exports };
  const real = exports[COMPILE_EXPORT];
  exports[COMPILE_EXPORT] = (...args) => {
    const result = real(...args);
    if (trapNextCompile) {
      trapNextCompile = false;
      // As a trap would: mid-call, before the bindings read the result or
      // call the post-return function.
      throw new WebAssembly.RuntimeError('unreachable');
    }
    return result;
  };
  return { exports };
};

const target = 'pulley64';

before(ensureBuilt);

test('a trap is an internal error, and the next compile gets a fresh instance', async () => {
  const source = readFileSync(MODULE_WAT_PATH);
  const before = await compile(source, { target });
  const compiler = await load();
  assert.equal(compilerInstances, 1);

  trapNextCompile = true;
  await assert.rejects(compile(source, { target }), (error) => {
    assert.ok(error instanceof KilnCompileError);
    assert.equal(error.kind, 'internal');
    assert.match(error.message, /^the compiler trapped: .*unreachable/);
    assert.equal(error.offset, undefined);
    assert.ok(error.cause instanceof WebAssembly.RuntimeError);
    return true;
  });
  assert.equal(compilerInstances, 1, 'nothing is instantiated until it is needed');

  const after = await compile(source, { target });
  assert.equal(compilerInstances, 2, 'the trapped instance was dropped and a new one made');
  assert.ok(sameBytes(before.bytes, after.bytes));
  assert.equal(await load(), compiler, 'load() still gives the same compiler object');

  // The new instance is used from then on.
  compiler.compile(source, { target });
  compiler.targets();
  assert.equal(compilerInstances, 2);
});

test('a rejected input does not replace the instance', async () => {
  const compiler = await load();
  const instancesBefore = compilerInstances;
  assert.throws(() => compiler.compile(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 255]), { target }), {
    name: 'KilnCompileError',
    kind: 'invalid-input',
  });
  compiler.compile(readFileSync(MODULE_WAT_PATH), { target });
  assert.equal(compilerInstances, instancesBefore);
});
