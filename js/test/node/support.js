// Shared by the Node tests (not a test file itself): builds the transpiled
// compiler with scripts/build.mjs, finds and runs the native `kiln` CLI the
// artifacts are compared with, and holds the inputs the tests compile.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build, PACKAGE_DIR } from '../../scripts/build.mjs';

export { PACKAGE_DIR };
export const REPO_DIR = resolve(PACKAGE_DIR, '..');
export const FIXTURES = join(REPO_DIR, 'tests', 'fixtures');
export const CLI = join(PACKAGE_DIR, 'bin', 'kiln-js.js');

/** Every target the compiler supports, as `kiln targets` lists them. */
export const TARGETS = [
  'x86_64-unknown-linux-gnu',
  'aarch64-unknown-linux-gnu',
  'riscv64gc-unknown-linux-gnu',
  's390x-unknown-linux-gnu',
  'pulley32',
  'pulley64',
];

/** A core module in the text format (tests/fixtures/primes.wat). */
export const MODULE_WAT_PATH = join(FIXTURES, 'primes.wat');

/** A small component in the text format: two functions lifted from one core module. */
export const COMPONENT_WAT = `(component
  (core module $m
    (func (export "seven") (result i32) i32.const 7)
    (func (export "next") (param i32) (result i32) local.get 0 i32.const 1 i32.add))
  (core instance $i (instantiate $m))
  (func $seven (result u32) (canon lift (core func $i "seven")))
  (func $next (param "x" u32) (result u32) (canon lift (core func $i "next")))
  (export "seven" (func $seven))
  (export "next" (func $next)))
`;

/**
 * Makes sure dist/node/ holds the transpiled compiler, building it when it
 * is missing or stale; fails with what to do when it cannot.
 */
export async function ensureBuilt() {
  try {
    await build();
  } catch (error) {
    throw new Error(
      `the Node tests need the transpiled compiler and building it failed: ${error.message}\n` +
        'Make the component, then run `npm run build` in js/.',
      { cause: error },
    );
  }
}

/** The native CLI: $KILN, or the debug build in the repository's target/. */
export const KILN = process.env.KILN ? resolve(process.env.KILN) : join(REPO_DIR, 'target', 'debug', 'kiln');

const kilnMissing = existsSync(KILN)
  ? null
  : `the native kiln CLI is not at ${KILN} (build it, or set KILN): skipping the comparison with \`kiln compile\``;
let warned = false;

/**
 * Skips test `t` (saying why, also on stderr) when the native CLI is missing.
 *
 * @returns {boolean} true when the test was skipped and must return
 */
export function skipWithoutKiln(t) {
  if (kilnMissing === null) return false;
  if (!warned) {
    console.error(kilnMissing);
    warned = true;
  }
  t.skip(kilnMissing);
  return true;
}

/**
 * Compiles `input` (a path) with the native `kiln compile`, always with an
 * explicit target, and returns the artifact's bytes.
 *
 * @param {string} input
 * @param {string} target
 * @param {string[]} [extra] more arguments (`--baseline`, `--cpu-feature`, `--config`)
 */
export function kilnCompile(input, target, extra = []) {
  const dir = tempDir();
  try {
    const output = join(dir, 'native.cwasm');
    const run = spawnSync(KILN, ['compile', input, '--target', target, '-o', output, ...extra], {
      encoding: 'utf8',
    });
    if (run.status !== 0) {
      throw new Error(`kiln compile ${input} --target ${target} ${extra.join(' ')} exited ${run.status}: ${run.stderr}`);
    }
    return new Uint8Array(readFileSync(output));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A fresh temporary directory; the caller removes it. */
export function tempDir() {
  return mkdtempSync(join(tmpdir(), 'kiln-js-test-'));
}

/** The binary encoding of a module or component in the text format (jco's wasm-tools). */
export async function wasmBinary(wat) {
  const { parse } = await import('@bytecodealliance/jco');
  return new Uint8Array(await parse(wat));
}

/** Bytes from hex, spaces allowed. */
export function hex(text) {
  return new Uint8Array(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
}

/** Whether two byte arrays are identical (without printing megabytes on failure). */
export function sameBytes(a, b) {
  return a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)) === 0;
}

/** Runs the kiln-js CLI with `args` in `cwd`; returns { status, stdout, stderr }. */
export function runCli(args, { cwd = PACKAGE_DIR, input } = {}) {
  return spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', input });
}
