// Types of @kiln/compiler's Node.js API (src/index.js), written by hand:
// load Kiln's compiler component and compile WebAssembly into Wasmtime 48
// `.cwasm` artifacts.

/** Which of the four ways a compile can fail. */
export type CompileErrorKind =
  /** The input is not valid WebAssembly (binary or text). */
  | 'invalid-input'
  /** The target triple is not one the compiler supports. */
  | 'unsupported-target'
  /** A CPU feature, baseline or wasm proposal is unknown or off, or the input needs one that is off. */
  | 'unsupported-feature'
  /** The compiler itself failed (a bug), or its instance trapped. */
  | 'internal';

/**
 * A compile that failed. Wrong argument types are `TypeError`s instead,
 * thrown before the compiler runs.
 */
export class KilnCompileError extends Error {
  /**
   * @param kind - which kind of failure
   * @param message - what went wrong, in plain words
   * @param offset - byte offset into the input, for `invalid-input` when known
   * @param options - the underlying error, as `cause`
   */
  constructor(kind: CompileErrorKind, message: string, offset?: number, options?: { cause?: unknown });
  readonly name: 'KilnCompileError';
  /** Which kind of failure this is. */
  kind: CompileErrorKind;
  /**
   * Byte offset into the input where the problem was found: only for
   * `invalid-input`, and only when the compiler knows it (not for text input).
   */
  offset: number | undefined;
}

/** What shapes an artifact. Wasmtime loads it only with the same settings. */
export interface CompileOptions {
  /**
   * The target triple: one of {@link Compiler.targets} (`x86_64-unknown-linux-gnu`,
   * `aarch64-unknown-linux-gnu`, `riscv64gc-unknown-linux-gnu`,
   * `s390x-unknown-linux-gnu`, `pulley32`, `pulley64`). Required: the host is
   * never guessed.
   */
  target: string;
  /**
   * A named CPU baseline (`x86-64-v3`, `armv8.1`, `rv64gcv`, `z15`); it goes
   * first in the CPU features, as `kiln compile --baseline`. Default: the
   * target's lowest.
   */
  baseline?: string;
  /** Cranelift CPU flags or presets (`has_avx2`, `has_lse`), after `baseline`; as `--cpu-feature`. */
  cpuFeatures?: string[];
  /**
   * Wasmtime's engine settings as TOML text, in the format of
   * `wasmtime --config FILE` (`[wasm]`, `[optimize]`, `[codegen]`, `[debug]`
   * tables); as `kiln compile --config FILE`. Default: Wasmtime 48's defaults.
   */
  wasmtimeConfig?: string;
}

/** A compiled artifact and facts about it. */
export interface CompileResult {
  /** The `.cwasm` bytes: byte-identical to `kiln compile` with the same options. */
  bytes: Uint8Array;
  /** Whether the input was a core module or a component (and so how the artifact loads). */
  kind: 'module' | 'component';
  /** Functions the input defines (summed over a component's core modules). */
  functionCount: number;
  /** Size in bytes of the artifact's machine code (its `.text` section). */
  codeBytes: number;
}

/** The input: binary wasm or the text format, a core module or a component. A `Buffer` is a `Uint8Array`. */
export type CompileInput = Uint8Array | ArrayBuffer;

/**
 * A loaded compiler, from {@link load}. Its methods run synchronously on the
 * calling thread. If its instance traps, the call fails with an `internal`
 * {@link KilnCompileError} and the next call uses a fresh instance.
 */
export class Compiler {
  private constructor();
  /**
   * Compiles a WebAssembly module or component for a target.
   *
   * @param bytes - the input
   * @param options - `target` is required
   * @returns the artifact
   * @throws `TypeError` for an input that is not bytes, a missing or non-string
   *   `target`, an option of the wrong type, or an unknown option
   * @throws {@link KilnCompileError} when the compile fails
   */
  compile(bytes: CompileInput, options: CompileOptions): CompileResult;
  /** The target triples this compiler supports. */
  targets(): string[];
  /** Kiln's version and the Wasmtime version whose artifacts it produces, e.g. `kiln 0.1.0 (wasmtime 48.0.8)`. */
  version(): string;
}

/**
 * Loads the compiler on first call (imports the transpiled bindings from
 * `dist/node/` and compiles its wasm), and returns the one shared
 * {@link Compiler} on every call.
 *
 * @throws `Error` (as a rejection) when `dist/node/` has not been built: run `npm run build`
 */
export function load(): Promise<Compiler>;

/**
 * Compiles with the shared compiler, loading it on first use.
 *
 * @param bytes - the input
 * @param options - `target` is required
 * @returns the artifact
 * @throws `TypeError` synchronously, before anything loads, for a bad argument
 * @throws {@link KilnCompileError} as a rejection when the compile fails
 */
export function compile(bytes: CompileInput, options: CompileOptions): Promise<CompileResult>;
