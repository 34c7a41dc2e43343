// @kiln/compiler for Node.js: loads Kiln's compiler component (transpiled by
// scripts/build.mjs into dist/node/) and compiles WebAssembly modules and
// components into Wasmtime 48 `.cwasm` artifacts, byte-identical to what
// `kiln compile` writes for the same target and options.
//
// The component gets a closed set of WASI imports written here, not the
// host's: no environment variables, no preopened directories, no stdin,
// and its stdout and stderr go into a buffer that is read only to recover
// the message of a panic. Calling `exit` or trapping ends that instance;
// the next call gets a fresh one.

import { randomFillSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { types } from 'node:util';

const DIST_URL = new URL('../dist/node/', import.meta.url);
const BINDINGS_URL = new URL('kiln-compiler.js', DIST_URL);

// The line the component's panic hook writes to stderr before it traps
// (kiln_guest::PANIC_PREFIX).
const PANIC_PREFIX = 'kiln-guest panic: ';
// How much of the component's stdout and stderr is kept (the last bytes).
const OUTPUT_LIMIT = 64 * 1024;

const ERROR_KINDS = new Set(['invalid-input', 'unsupported-target', 'unsupported-feature', 'internal']);
const OPTION_NAMES = new Set(['target', 'baseline', 'cpuFeatures', 'wasmtimeConfig']);

/**
 * A compile that failed: the input was rejected, the target or a feature is
 * not supported, or the compiler itself failed.
 */
export class KilnCompileError extends Error {
  /**
   * @param {'invalid-input' | 'unsupported-target' | 'unsupported-feature' | 'internal'} kind
   * @param {string} message what went wrong, in plain words
   * @param {number} [offset] byte offset into the input (invalid-input only, when known)
   * @param {{ cause?: unknown }} [options]
   */
  constructor(kind, message, offset, options) {
    super(message, options);
    this.name = 'KilnCompileError';
    /** Which of the four kinds of failure this is. */
    this.kind = kind;
    /** Byte offset into the input where the problem was found, or undefined. */
    this.offset = offset;
  }
}

/**
 * A loaded compiler. Its methods run the compiler synchronously on the
 * calling thread (a compile blocks the event loop while it runs).
 */
export class Compiler {
  #bindings;
  #instance = null;
  #host = null;

  /** @private Use {@link load}. */
  constructor(bindings) {
    this.#bindings = bindings;
    this.#instantiate();
  }

  /**
   * Compiles a WebAssembly module or component (binary or text) for a target.
   *
   * @param {Uint8Array | ArrayBuffer} bytes the input (a Buffer is a Uint8Array)
   * @param {CompileOptions} options `target` is required
   * @returns {CompileResult}
   * @throws {TypeError} when `bytes` or an option has the wrong type, or `target` is missing
   * @throws {KilnCompileError} when the compile fails
   */
  compile(bytes, options) {
    const wasm = inputBytes(bytes);
    const witOptions = toWitOptions(options);
    const artifact = this.#call((api) => api.compileWith(wasm, witOptions));
    return {
      bytes: artifact.bytes,
      kind: artifact.kind,
      functionCount: artifact.functionCount,
      codeBytes: Number(artifact.codeBytes),
    };
  }

  /**
   * The target triples this compiler supports.
   *
   * @returns {string[]}
   */
  targets() {
    return this.#call((api) => api.targets());
  }

  /**
   * Kiln's version and the Wasmtime version whose artifacts it produces.
   *
   * @returns {string}
   */
  version() {
    return this.#call((api) => api.version());
  }

  // Runs `fn` against the current instance, creating one first when the last
  // one trapped, and turns whatever it throws into a KilnCompileError.
  #call(fn) {
    if (this.#instance === null) {
      try {
        this.#instantiate();
      } catch (error) {
        throw new KilnCompileError('internal', `the compiler could not be instantiated: ${error.message}`, undefined, {
          cause: error,
        });
      }
    }
    const api = this.#instance;
    const host = this.#host;
    host.clearOutput();
    try {
      return fn(api);
    } catch (error) {
      const payload = componentErrorPayload(error);
      if (payload !== undefined) throw this.#fromPayload(payload, error);
      // Anything else (a trap, the guest calling exit, a host failure) may
      // have left the instance half-way through a call: it is never used again.
      this.#instance = null;
      this.#host = null;
      throw new KilnCompileError('internal', trapMessage(error, host.output()), undefined, {
        cause: error,
      });
    }
  }

  #instantiate() {
    const host = createWasiHost();
    const { instantiate, modules } = this.#bindings;
    const getCoreModule = (name) => {
      const module = modules.get(name);
      if (!module) throw new Error(`the transpiled compiler has no core module ${name}; run \`npm run build\``);
      return module;
    };
    // Synchronous: the core modules are compiled already, so a fresh instance
    // (after a trap) costs only its instantiation.
    const instantiateCore = (module, imports) => new WebAssembly.Instance(module, imports);
    const root = instantiate(getCoreModule, host.imports, instantiateCore);
    if (typeof root?.compiler?.compileWith !== 'function') {
      throw new Error('the transpiled compiler did not instantiate synchronously; rebuild it with `npm run build`');
    }
    this.#instance = root.compiler;
    this.#host = host;
  }

  #fromPayload({ tag, val }, cause) {
    switch (tag) {
      case 'invalid-input':
        return new KilnCompileError(
          tag,
          val.message,
          val.offset === undefined ? undefined : Number(val.offset),
          { cause },
        );
      case 'unsupported-target': {
        let supported = '';
        try {
          supported = ` (supported: ${this.#instance.targets().join(', ')})`;
        } catch {
          // The list is a courtesy; the error stands without it, and an
          // instance that failed to give it is not used again.
          this.#instance = null;
          this.#host = null;
        }
        return new KilnCompileError(tag, `unsupported target \`${val}\`${supported}`, undefined, { cause });
      }
      default:
        return new KilnCompileError(tag, String(val), undefined, { cause });
    }
  }
}

/**
 * @typedef {object} CompileOptions
 * @property {string} target target triple, one of `targets()`; required
 * @property {string} [baseline] a named CPU baseline (`x86-64-v3`, `armv8.1`, ...), placed first in the CPU features
 * @property {string[]} [cpuFeatures] Cranelift CPU flags or baselines (`has_avx2`, ...), after `baseline`
 * @property {string} [wasmtimeConfig] Wasmtime settings as the TOML text of `wasmtime --config FILE`
 */

/**
 * @typedef {object} CompileResult
 * @property {Uint8Array} bytes the `.cwasm` artifact
 * @property {'module' | 'component'} kind what the input was
 * @property {number} functionCount functions defined by the input
 * @property {number} codeBytes size of the artifact's machine code (`.text`)
 */

let bindingsPromise = null;
let sharedPromise = null;

/**
 * Loads the compiler: imports the transpiled bindings and compiles its core
 * wasm once per process, then instantiates it. Every call returns the same
 * shared {@link Compiler}, which the {@link compile} function also uses.
 *
 * @returns {Promise<Compiler>}
 * @throws {Error} when dist/node/ has not been built (`npm run build`)
 */
export function load() {
  sharedPromise ??= loadBindings().then(
    (bindings) => new Compiler(bindings),
    (error) => {
      sharedPromise = null;
      throw error;
    },
  );
  return sharedPromise;
}

/**
 * Compiles a WebAssembly module or component with the shared compiler,
 * loading it on first use.
 *
 * @param {Uint8Array | ArrayBuffer} bytes the input, binary or text (a Buffer is a Uint8Array)
 * @param {CompileOptions} options `target` is required
 * @returns {Promise<CompileResult>}
 * @throws {TypeError} (synchronously, before any loading) for a bad argument or a missing `target`
 * @throws {KilnCompileError} (as a rejection) when the compile fails
 */
export function compile(bytes, options) {
  // Checked here so that a bad call throws before anything loads.
  const wasm = inputBytes(bytes);
  toWitOptions(options);
  return load().then((compiler) => compiler.compile(wasm, options));
}

async function loadBindings() {
  bindingsPromise ??= (async () => {
    if (!existsSync(BINDINGS_URL)) {
      throw new Error(
        `the compiler is not built (${fileURLToPath(BINDINGS_URL)} is missing): ` +
          'run `npm run build` in the package directory (js/)',
      );
    }
    const { instantiate } = await import(BINDINGS_URL.href);
    const names = (await readdir(DIST_URL)).filter((name) => name.endsWith('.wasm'));
    const compiled = await Promise.all(
      names.map(async (name) => [name, await WebAssembly.compile(await readFile(new URL(name, DIST_URL)))]),
    );
    return { instantiate, modules: new Map(compiled) };
  })().catch((error) => {
    bindingsPromise = null;
    throw error;
  });
  return bindingsPromise;
}

function inputBytes(bytes) {
  if (types.isUint8Array(bytes)) return bytes;
  if (types.isArrayBuffer(bytes)) return new Uint8Array(bytes);
  throw new TypeError(`the input must be a Uint8Array, Buffer or ArrayBuffer, not ${describe(bytes)}`);
}

function toWitOptions(options) {
  if (options === null || typeof options !== 'object') {
    throw new TypeError('options with a `target` (a triple such as x86_64-unknown-linux-gnu) are required');
  }
  for (const name of Object.keys(options)) {
    if (!OPTION_NAMES.has(name)) {
      throw new TypeError(`unknown option \`${name}\` (known: ${[...OPTION_NAMES].join(', ')})`);
    }
  }
  const { target, baseline, cpuFeatures = [], wasmtimeConfig = '' } = options;
  if (typeof target !== 'string' || target === '') {
    throw new TypeError(
      `\`target\` must be a target triple such as x86_64-unknown-linux-gnu, not ${describe(target)}`,
    );
  }
  if (baseline !== undefined && typeof baseline !== 'string') {
    throw new TypeError(`\`baseline\` must be a string such as x86-64-v3, not ${describe(baseline)}`);
  }
  if (!Array.isArray(cpuFeatures) || !cpuFeatures.every((feature) => typeof feature === 'string')) {
    throw new TypeError(`\`cpuFeatures\` must be an array of strings, not ${describe(cpuFeatures)}`);
  }
  if (typeof wasmtimeConfig !== 'string') {
    throw new TypeError(`\`wasmtimeConfig\` must be TOML text (a string), not ${describe(wasmtimeConfig)}`);
  }
  return {
    triple: target,
    cpuFeatures: baseline === undefined ? [...cpuFeatures] : [baseline, ...cpuFeatures],
    wasmtimeConfig,
  };
}

function describe(value) {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'object') return value.constructor?.name ?? 'an object';
  return `a ${typeof value}`;
}

// The compile-error payload of an error the bindings threw for an `err`
// result, or undefined for anything else.
function componentErrorPayload(error) {
  if (error === null || typeof error !== 'object' || !Object.hasOwn(error, 'payload')) return undefined;
  const { payload } = error;
  return payload && ERROR_KINDS.has(payload.tag) ? payload : undefined;
}

// A trapped call's message: the panic the component reported just before,
// when it did, else what the trap says.
function trapMessage(error, output) {
  const panic = output
    .split('\n')
    .filter((line) => line.startsWith(PANIC_PREFIX))
    .at(-1);
  if (panic) return `the compiler panicked: ${panic.slice(PANIC_PREFIX.length)}`;
  const what = error instanceof Error ? error.message : String(error);
  return error instanceof WebAssembly.RuntimeError ? `the compiler trapped: ${what}` : `the compiler failed: ${what}`;
}

// The WASI imports one component instance gets: enough for the Rust standard
// library to start, and no access to anything outside the instance.
function createWasiHost() {
  let chunks = [];
  let kept = 0;
  const capture = (contents) => {
    chunks.push(Buffer.from(contents));
    kept += contents.length;
    while (kept > OUTPUT_LIMIT && chunks.length > 1) kept -= chunks.shift().length;
  };

  class InputStream {
    read() {
      throw { tag: 'closed' };
    }
    blockingRead() {
      throw { tag: 'closed' };
    }
  }
  class OutputStream {
    checkWrite() {
      return BigInt(OUTPUT_LIMIT);
    }
    write(contents) {
      capture(contents);
    }
    blockingWriteAndFlush(contents) {
      capture(contents);
    }
    flush() {}
    blockingFlush() {}
  }
  class IoError {
    toDebugString() {
      return 'error';
    }
  }
  // No descriptor is ever handed out (there are no preopens), so these
  // methods are unreachable; each answers as if the descriptor were closed.
  class Descriptor {}
  for (const method of ['readViaStream', 'writeViaStream', 'appendViaStream', 'getFlags', 'getType', 'stat', 'openAt', 'metadataHash']) {
    Descriptor.prototype[method] = () => {
      throw 'bad-descriptor';
    };
  }
  class DirectoryEntryStream {}
  class TerminalInput {}
  class TerminalOutput {}

  const stdin = new InputStream();
  const stdout = new OutputStream();
  const stderr = new OutputStream();

  // jco's bindings look imports up by interface name without the version.
  const imports = {
    'wasi:cli/environment': {
      getEnvironment: () => [],
      getArguments: () => [],
      initialCwd: () => undefined,
    },
    'wasi:cli/exit': {
      exit(status) {
        throw new Error(`the compiler called exit (${status?.tag === 'ok' ? 'success' : 'failure'})`);
      },
    },
    'wasi:cli/stdin': { getStdin: () => stdin },
    'wasi:cli/stdout': { getStdout: () => stdout },
    'wasi:cli/stderr': { getStderr: () => stderr },
    'wasi:cli/terminal-input': { TerminalInput },
    'wasi:cli/terminal-output': { TerminalOutput },
    'wasi:cli/terminal-stdin': { getTerminalStdin: () => undefined },
    'wasi:cli/terminal-stdout': { getTerminalStdout: () => undefined },
    'wasi:cli/terminal-stderr': { getTerminalStderr: () => undefined },
    'wasi:clocks/monotonic-clock': {
      now: () => process.hrtime.bigint(),
      resolution: () => 1n,
    },
    'wasi:clocks/wall-clock': {
      now() {
        const ms = Date.now();
        return { seconds: BigInt(Math.floor(ms / 1000)), nanoseconds: (ms % 1000) * 1_000_000 };
      },
      resolution: () => ({ seconds: 0n, nanoseconds: 1_000_000 }),
    },
    'wasi:filesystem/preopens': { getDirectories: () => [] },
    'wasi:filesystem/types': {
      Descriptor,
      DirectoryEntryStream,
      filesystemErrorCode: () => undefined,
    },
    'wasi:io/error': { Error: IoError },
    'wasi:io/streams': { InputStream, OutputStream },
    'wasi:random/insecure-seed': {
      insecureSeed() {
        const seed = randomFillSync(new BigUint64Array(2));
        return [seed[0], seed[1]];
      },
    },
  };

  return {
    imports,
    clearOutput() {
      chunks = [];
      kept = 0;
    },
    output: () => Buffer.concat(chunks).toString('utf8'),
  };
}
