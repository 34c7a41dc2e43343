// Kiln page's compile worker (a module worker): loads the transpiled compiler
// component (compiler/kiln-compiler.js, whose 24 MB core wasm the browser
// compiles here, off the page's main thread) and runs compiles for main.js.
//
// Messages in:  { id, op: 'load' }                       -> { loadMs, version, targets, baselines }
//               { id, op: 'compile', wasm, target, baseline } -> { bytes, ms, kind, functionCount, codeBytes }
// Messages out: { id, ok: true, value } | { id, ok: false, error: { kind, message, offset } }
//               { id, type: 'progress', phase: 'loading' | 'compiling' }
// `ms` is measured here around the compile call only; `loadMs` is the time
// the compiler took to load (fetch, compile and instantiate its wasm).
// A failure that is not one of the compiler's own errors (a trap) leaves the
// component unusable; the reply then says `fatal: true` and main.js replaces
// this worker.

// The named CPU baselines of each target, lowest (the default) first, as
// `kiln targets` lists them. The component's interface has no call that
// lists them, so the page keeps them here; a baseline is handed to the
// compiler as the first of its cpu-features.
const BASELINES = {
  'x86_64-unknown-linux-gnu': [
    ['x86-64-v1', 'every x86-64 CPU (SSE2)'],
    ['x86-64-v2', 'SSE3, SSSE3, SSE4.1, SSE4.2, POPCNT, CMPXCHG16B (2009 on)'],
    ['x86-64-v3', 'v2 plus AVX, AVX2, BMI1, BMI2, FMA, LZCNT (Haswell, Zen 1 on)'],
    ['x86-64-v4', 'v3 plus AVX-512 F, VL, DQ (Skylake-SP, Zen 4 on)'],
  ],
  'aarch64-unknown-linux-gnu': [
    ['armv8.0', 'every AArch64 CPU'],
    ['armv8.1', 'Large System Extensions atomics (Graviton 2, Ampere, Apple M1 on)'],
    ['armv8.4', 'armv8.1 plus dot product (Graviton 3, Apple M1 on)'],
  ],
  'riscv64gc-unknown-linux-gnu': [
    ['rv64gc', 'RV64 IMAFD with Zicsr, Zifencei, the Linux minimum'],
    ['rv64gcv', 'rv64gc plus the vector extension (1.0)'],
    ['rva23u64', "the RVA23 application profile's bit manipulation, vector, Zicond, Zfa"],
  ],
  's390x-unknown-linux-gnu': [
    ['z14', 'z14 (z/Architecture 12th edition), Cranelift\'s minimum'],
    ['z15', 'z15 (13th edition): miscellaneous-instruction-extensions 3, vector enhancements 2'],
    ['z17', 'z17 (15th edition): also MIE 4, vector enhancements 3'],
  ],
};

let loading = null; // Promise of { compiler, loadMs, version, targets }
let loaded = false;

// Tells main.js, for the request `id`, what is under way.
function progress(id, phase) {
  self.postMessage({ id, type: 'progress', phase });
}

function load(id) {
  if (!loading) {
    loading = (async () => {
      progress(id, 'loading');
      const started = performance.now();
      const { compiler } = await import('./compiler/kiln-compiler.js');
      const loadMs = performance.now() - started;
      loaded = true;
      return { compiler, loadMs, version: compiler.version(), targets: compiler.targets() };
    })();
  }
  return loading;
}

async function info(id) {
  const { loadMs, version, targets } = await load(id);
  const baselines = {};
  for (const target of targets) {
    baselines[target] = (BASELINES[target] || []).map(([name, description]) => ({ name, description }));
  }
  return { loadMs, version, targets, baselines };
}

async function compile({ id, wasm, target, baseline }) {
  const { compiler } = await load(id);
  progress(id, 'compiling');
  const options = { triple: target, cpuFeatures: baseline ? [baseline] : [], wasmtimeConfig: '' };
  const started = performance.now();
  const artifact = compiler.compileWith(new Uint8Array(wasm), options);
  const ms = performance.now() - started;
  // The artifact's bytes may be a view into the component's memory, which
  // cannot be transferred: hand over a copy that owns its buffer.
  const bytes = artifact.bytes.slice();
  return {
    value: {
      bytes,
      ms,
      kind: artifact.kind,
      functionCount: artifact.functionCount,
      codeBytes: Number(artifact.codeBytes),
    },
    transfer: [bytes.buffer],
  };
}

// The compiler's own errors arrive as a ComponentError whose payload is the
// WIT compile-error variant. Anything else (a trap, a compiler that did not
// load) leaves this worker of no further use: `fatal` asks for a new one.
function describe(error) {
  const payload = error && error.payload;
  if (payload && typeof payload.tag === 'string') {
    if (payload.tag === 'invalid-input') {
      const offset = payload.val.offset === undefined ? null : Number(payload.val.offset);
      return { kind: payload.tag, message: payload.val.message, offset, fatal: false };
    }
    return { kind: payload.tag, message: String(payload.val), offset: null, fatal: false };
  }
  return {
    kind: loaded ? 'crash' : 'load-failed',
    message: (error && error.message) || String(error),
    offset: null,
    fatal: true,
  };
}

self.addEventListener('message', async (event) => {
  const { id, op } = event.data;
  try {
    let reply;
    if (op === 'load') reply = { value: await info(id) };
    else if (op === 'compile') reply = await compile(event.data);
    else throw new Error(`unknown request ${op}`);
    self.postMessage({ id, ok: true, value: reply.value }, reply.transfer || []);
  } catch (error) {
    self.postMessage({ id, ok: false, error: describe(error) });
  }
});
