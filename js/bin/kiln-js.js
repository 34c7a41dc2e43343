#!/usr/bin/env node
// kiln-js: the command line of @kiln/compiler. Compiles a .wasm or .wat
// module or component into a Wasmtime 48 .cwasm with Kiln's compiler
// component running in Node, and lists targets and the version. Its exit
// codes are those of the native `kiln` CLI.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';

// One process, one compile: V8's optimizing tier only starts paying off
// after several compiles and keeps the process alive at exit while it
// finishes, so here the compiler runs on the baseline tier only (a single
// compile is about 2-3 times faster from start to exit). Must precede
// loading the compiler.
v8.setFlagsFromString('--liftoff-only');

const { KilnCompileError, load } = await import('../src/index.js');

const EXIT = { ok: 0, rejected: 1, usage: 2, internal: 5 };

const USAGE = `Usage:
  kiln-js compile INPUT --target TRIPLE [--baseline NAME] [--cpu-feature NAME]...
                  [--config FILE] [-o OUTPUT] [--json]
  kiln-js targets
  kiln-js version
  kiln-js --help`;

const HELP = `kiln-js: compile WebAssembly to a Wasmtime 48 .cwasm with Kiln's sandboxed
compiler, running in Node.js. Artifacts are byte-identical to \`kiln compile\`'s.

${USAGE}

Commands:
  compile   Compile a .wasm or .wat module or component (INPUT \`-\`: stdin)
  targets   List the target triples, one per line
  version   Print Kiln's version and the Wasmtime version of its artifacts

Options of compile:
  --target TRIPLE       The target triple (required; see \`kiln-js targets\`)
  --baseline NAME       A named CPU baseline (x86-64-v3, armv8.1, rv64gcv, z15);
                        default: the target's lowest
  --cpu-feature NAME    A Cranelift CPU feature or preset (has_avx2); repeatable
  --config FILE         A Wasmtime TOML configuration file (\`wasmtime --config\`)
  -o, --output OUTPUT   Where to write the artifact; default: the input's name
                        with .cwasm, beside it (out.cwasm for stdin). Written
                        atomically
  --json                Print one JSON object describing the result

Exit codes:
  0  success
  1  input rejected (invalid wasm, unsupported feature or target, unreadable file)
  2  usage error
  5  internal error (the compiler failed, the artifact could not be written,
     or the package is not built)`;

// What the compiler says about a --config it cannot use; the native CLI
// reads the file itself and treats this as a usage error.
const BAD_CONFIG_PREFIX = 'not a Wasmtime config file';

// An error that ends the command with `code`, printed as `error: message`.
class Exit extends Error {
  constructor(code, message, { usage = false } = {}) {
    super(message);
    this.code = code;
    this.usage = usage;
  }
}

const usageError = (message) => new Exit(EXIT.usage, message, { usage: true });

async function main(argv) {
  const [command, ...rest] = argv;
  switch (command) {
    case 'compile':
      return compileCommand(rest);
    case 'targets':
      noArguments('targets', rest);
      for (const target of (await loadCompiler()).targets()) console.log(target);
      return EXIT.ok;
    case 'version':
    case '--version':
    case '-V':
      noArguments('version', rest);
      console.log((await loadCompiler()).version());
      return EXIT.ok;
    case 'help':
    case '--help':
    case '-h':
      console.log(HELP);
      return EXIT.ok;
    case undefined:
      throw usageError('no command given');
    default:
      throw usageError(`unknown command \`${command}\``);
  }
}

function noArguments(command, rest) {
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(HELP);
    throw new Exit(EXIT.ok, '');
  }
  if (rest.length > 0) throw usageError(`\`${command}\` takes no arguments, got \`${rest[0]}\``);
}

async function compileCommand(args) {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        target: { type: 'string' },
        baseline: { type: 'string' },
        'cpu-feature': { type: 'string', multiple: true },
        config: { type: 'string' },
        output: { type: 'string', short: 'o' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw usageError(error.message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(HELP);
    return EXIT.ok;
  }
  if (positionals.length === 0) throw usageError('compile needs an INPUT (a .wasm or .wat file, or `-` for stdin)');
  if (positionals.length > 1) throw usageError(`compile takes one INPUT, got ${positionals.length}`);
  if (values.target === undefined || values.target === '') {
    throw usageError('--target is required (`kiln-js targets` lists the triples)');
  }

  const input = positionals[0];
  const wasm = readInput(input);
  const wasmtimeConfig = values.config === undefined ? undefined : readText(values.config);
  const output = values.output ?? defaultOutput(input);

  const compiler = await loadCompiler();
  const started = performance.now();
  let artifact;
  try {
    artifact = compiler.compile(wasm, {
      target: values.target,
      baseline: values.baseline,
      cpuFeatures: values['cpu-feature'] ?? [],
      wasmtimeConfig,
    });
  } catch (error) {
    throw compileFailure(error, values.config !== undefined);
  }
  const ms = performance.now() - started;

  await writeAtomically(output, artifact.bytes);

  if (values.json) {
    console.log(
      JSON.stringify({
        input,
        output,
        target: values.target,
        kind: artifact.kind,
        function_count: artifact.functionCount,
        code_bytes: artifact.codeBytes,
        artifact_bytes: artifact.bytes.length,
        ms: Math.round(ms * 1000) / 1000,
      }),
    );
  }
  return EXIT.ok;
}

function readInput(path) {
  try {
    return readFileSync(path === '-' ? 0 : path);
  } catch (error) {
    throw new Exit(EXIT.rejected, `failed to read ${path === '-' ? 'stdin' : path}: ${error.message}`);
  }
}

function readText(path) {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new Exit(EXIT.rejected, `failed to read ${path}: ${error.message}`);
  }
}

// foo.wasm and foo.wat give foo.cwasm beside them; stdin gives out.cwasm here.
function defaultOutput(input) {
  if (input === '-') return 'out.cwasm';
  const extension = extname(input);
  return `${extension ? input.slice(0, -extension.length) : input}.cwasm`;
}

async function loadCompiler() {
  try {
    return await load();
  } catch (error) {
    throw new Exit(EXIT.internal, error.message);
  }
}

// The exit and message for a failed compile, worded as the native CLI words them.
function compileFailure(error, hadConfig) {
  if (!(error instanceof KilnCompileError)) return new Exit(EXIT.internal, `internal error: ${error.message}`);
  switch (error.kind) {
    case 'invalid-input': {
      const at = error.offset === undefined ? '' : ` (at offset 0x${error.offset.toString(16)})`;
      return new Exit(EXIT.rejected, `invalid input: ${error.message}${at}`);
    }
    case 'unsupported-target':
      return new Exit(EXIT.rejected, error.message);
    case 'unsupported-feature':
      if (hadConfig && error.message.startsWith(BAD_CONFIG_PREFIX)) {
        return new Exit(EXIT.usage, `usage: ${error.message}`);
      }
      return new Exit(EXIT.rejected, `unsupported feature: ${error.message}`);
    default:
      return new Exit(EXIT.internal, `internal compiler error: ${error.message}`);
  }
}

// Writes to a temporary file in the output's directory, then renames it over
// the output: a failure leaves no file, or the old one, at `path`.
async function writeAtomically(path, bytes) {
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(temporary, bytes, { flag: 'wx' });
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw new Exit(EXIT.internal, `failed to write ${path}: ${error.message}`);
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof Exit)) throw error;
  if (error.message) console.error(`error: ${error.message}`);
  if (error.usage) console.error(`\n${USAGE}\n\nFor more, try \`kiln-js --help\`.`);
  process.exitCode = error.code;
}
