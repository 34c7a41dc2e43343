// Artifacts from the package are byte-identical to the native
// `kiln compile`'s: a module and a component on every target, binary and
// text input, and with a CPU baseline, extra CPU features or a Wasmtime
// config. Each comparison runs the native CLI afresh.

import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { load } from '../../src/index.js';
import {
  COMPONENT_WAT,
  MODULE_WAT_PATH,
  TARGETS,
  ensureBuilt,
  kilnCompile,
  sameBytes,
  skipWithoutKiln,
  tempDir,
  wasmBinary,
} from './support.js';

let compiler;
let dir;
let componentPath;
let binaryModulePath;

before(async () => {
  await ensureBuilt();
  compiler = await load();
  dir = tempDir();
  componentPath = join(dir, 'component.wat');
  writeFileSync(componentPath, COMPONENT_WAT);
  binaryModulePath = join(dir, 'primes.wasm');
  writeFileSync(binaryModulePath, await wasmBinary(readFileSync(MODULE_WAT_PATH, 'utf8')));
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// Compiles `path` with the package and with `kiln compile` (plus `nativeArgs`)
// and requires the same bytes; returns the package's result.
function assertSameAsNative(path, options, nativeArgs = []) {
  const ours = compiler.compile(readFileSync(path), options);
  const native = kilnCompile(path, options.target, nativeArgs);
  assert.ok(
    sameBytes(ours.bytes, native),
    `${path} for ${options.target} ${nativeArgs.join(' ')}: ${ours.bytes.length} bytes here, ` +
      `${native.length} from kiln compile, and they differ`,
  );
  return ours;
}

describe('a core module (text) matches kiln compile', () => {
  for (const target of TARGETS) {
    test(target, (t) => {
      if (skipWithoutKiln(t)) return;
      const result = assertSameAsNative(MODULE_WAT_PATH, { target });
      assert.equal(result.kind, 'module');
      assert.equal(result.functionCount, 1);
      assert.ok(result.codeBytes > 0 && result.codeBytes < result.bytes.length);
    });
  }
});

describe('a component matches kiln compile', () => {
  for (const target of TARGETS) {
    test(target, (t) => {
      if (skipWithoutKiln(t)) return;
      const result = assertSameAsNative(componentPath, { target });
      assert.equal(result.kind, 'component');
      assert.equal(result.functionCount, 2);
    });
  }
});

describe('options match their kiln compile flags', () => {
  test('binary input (the same module, encoded)', (t) => {
    if (skipWithoutKiln(t)) return;
    const fromBinary = assertSameAsNative(binaryModulePath, { target: 'x86_64-unknown-linux-gnu' });
    const fromText = compiler.compile(readFileSync(MODULE_WAT_PATH), { target: 'x86_64-unknown-linux-gnu' });
    assert.ok(sameBytes(fromBinary.bytes, fromText.bytes), 'text and binary of one module give one artifact');
  });

  test('baseline x86-64-v3 is --baseline x86-64-v3', (t) => {
    if (skipWithoutKiln(t)) return;
    const target = 'x86_64-unknown-linux-gnu';
    const v3 = assertSameAsNative(MODULE_WAT_PATH, { target, baseline: 'x86-64-v3' }, ['--baseline', 'x86-64-v3']);
    const v1 = compiler.compile(readFileSync(MODULE_WAT_PATH), { target });
    assert.ok(!sameBytes(v3.bytes, v1.bytes), 'the baseline reached the compiler: its artifact differs from the default');
  });

  test('baseline armv8.1 on aarch64', (t) => {
    if (skipWithoutKiln(t)) return;
    assertSameAsNative(
      componentPath,
      { target: 'aarch64-unknown-linux-gnu', baseline: 'armv8.1' },
      ['--baseline', 'armv8.1'],
    );
  });

  test('a baseline with an extra CPU feature is --baseline with --cpu-feature', (t) => {
    if (skipWithoutKiln(t)) return;
    assertSameAsNative(
      MODULE_WAT_PATH,
      { target: 'x86_64-unknown-linux-gnu', baseline: 'x86-64-v2', cpuFeatures: ['has_avx2'] },
      ['--baseline', 'x86-64-v2', '--cpu-feature', 'has_avx2'],
    );
  });

  test('wasmtimeConfig is --config', (t) => {
    if (skipWithoutKiln(t)) return;
    const config = '[optimize]\nopt-level = 0\n\n[wasm]\nthreads = false\n';
    const configPath = join(dir, 'wasmtime.toml');
    writeFileSync(configPath, config);
    const target = 'pulley64';
    const configured = assertSameAsNative(MODULE_WAT_PATH, { target, wasmtimeConfig: config }, ['--config', configPath]);
    const plain = compiler.compile(readFileSync(MODULE_WAT_PATH), { target });
    assert.ok(!sameBytes(configured.bytes, plain.bytes), 'the config reached the compiler: its artifact differs');
  });
});
