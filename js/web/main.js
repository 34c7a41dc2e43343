// Kiln page's main-thread script: the controls (file picker and drop zone,
// target and baseline, Compile, Download), talking to the compile worker
// (worker.js) by messages so that nothing heavy runs on this thread, and the
// service worker's registration (sw.js). It also exposes `window.kiln`, the
// same worker's calls for scripts and tests:
//   await kiln.ready()      -> { loadMs, version, targets, baselines }
//   await kiln.compile(bytes, target, baseline?)
//                           -> { bytes, ms, loadMs, kind, functionCount, codeBytes }
//      (bytes: Uint8Array; baseline '' or absent: the target's default; a
//       failed compile rejects with an Error carrying kind, offset, detail)
//   await kiln.offlineReady() -> whether the service worker controls the page

const COMPILER_MB = 24;

// ---- The worker, behind promises -------------------------------------------

class CompileWorker {
  constructor() {
    this.worker = null;
    this.nextId = 1;
    this.pending = new Map(); // id -> { resolve, reject, onProgress }
    this.readyPromise = null;
  }

  spawn() {
    if (this.worker) return this.worker;
    const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module', name: 'kiln-compiler' });
    worker.addEventListener('message', (event) => this.receive(event.data));
    // An error event reaches here only when the worker script itself fails
    // (it could not be fetched, say): nothing pending will be answered.
    worker.addEventListener('error', (event) => {
      event.preventDefault();
      this.discard(worker, { kind: 'load-failed', message: event.message || 'the compile worker did not start', offset: null });
    });
    this.worker = worker;
    return worker;
  }

  // Forgets a worker that can do no more work; the next call starts another.
  discard(worker, error) {
    if (this.worker !== worker) return;
    worker.terminate();
    this.worker = null;
    this.readyPromise = null;
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const request of pending) request.reject(compileError(error));
  }

  receive(message) {
    const request = this.pending.get(message.id);
    if (!request) return;
    if (message.type === 'progress') {
      request.onProgress(message.phase);
      return;
    }
    this.pending.delete(message.id);
    if (message.ok) {
      request.resolve(message.value);
    } else {
      if (message.error.fatal) this.discard(this.worker, message.error);
      request.reject(compileError(message.error));
    }
  }

  request(message, transfer = [], onProgress = () => {}) {
    const worker = this.spawn();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onProgress });
      worker.postMessage({ ...message, id }, transfer);
    });
  }

  ready(onProgress) {
    if (!this.readyPromise) {
      const attempt = this.request({ op: 'load' }, [], onProgress);
      this.readyPromise = attempt;
      attempt.catch(() => {
        if (this.readyPromise === attempt) this.readyPromise = null;
      });
    }
    return this.readyPromise;
  }

  async compile(bytes, target, baseline = '', onProgress = () => {}) {
    const info = await this.ready(onProgress);
    // Send a copy: the caller keeps its bytes.
    const wasm = new Uint8Array(bytes).slice();
    const result = await this.request({ op: 'compile', wasm, target, baseline }, [wasm.buffer], onProgress);
    return { ...result, loadMs: info.loadMs };
  }
}

// The compiler's error, in plain words.
function plainWords({ kind, message, offset }) {
  const at = offset === null || offset === undefined ? '' : ` (at byte offset ${offset})`;
  switch (kind) {
    case 'invalid-input':
      return `The input is not valid WebAssembly${at}: ${message}`;
    case 'unsupported-target':
      return `Unsupported target: ${message}`;
    case 'unsupported-feature':
      return `Unsupported feature: ${message}`;
    case 'internal':
      return `The compiler failed (an internal error, a bug in Kiln): ${message}`;
    case 'crash':
      return `The compiler stopped unexpectedly (${message}). It has been restarted: try again.`;
    case 'load-failed':
      return `The compiler could not be loaded: ${message}`;
    default:
      return `${kind}: ${message}`;
  }
}

function compileError(error) {
  const result = new Error(plainWords(error));
  result.kind = error.kind;
  result.detail = error.message;
  result.offset = error.offset ?? null;
  return result;
}

const compiler = new CompileWorker();

window.kiln = {
  ready: () => compiler.ready(),
  compile: (bytes, target, baseline = '') => compiler.compile(bytes, target, baseline),
  // Resolves once the service worker has cached the page and controls it.
  offlineReady: async () => {
    if (!('serviceWorker' in navigator) || !window.isSecureContext) return false;
    await navigator.serviceWorker.ready;
    if (!navigator.serviceWorker.controller) {
      await new Promise((resolve) => navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true }));
    }
    return true;
  },
};

// ---- The page --------------------------------------------------------------

const $ = (id) => document.getElementById(id);
const ui = {
  dropZone: $('drop-zone'),
  file: $('file'),
  fileName: $('file-name'),
  target: $('target'),
  baseline: $('baseline'),
  baselineHint: $('baseline-hint'),
  compile: $('compile'),
  status: $('status'),
  error: $('error'),
  facts: $('facts'),
  download: $('download'),
  about: $('about'),
  offline: $('offline'),
};

let chosen = null; // { name, bytes }
let info = null; // from kiln.ready()
let busy = false;
let loadFailed = false;
let downloadUrl = null;

const numbers = new Intl.NumberFormat('en');

function formatBytes(n) {
  if (n < 1024) return `${numbers.format(n)} bytes`;
  const kib = n / 1024;
  const short = kib < 1024 ? `${kib.toFixed(1)} KiB` : `${(kib / 1024).toFixed(1)} MiB`;
  return `${numbers.format(n)} bytes (${short})`;
}

function formatMs(ms) {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

function setStatus(text, state = '') {
  ui.status.textContent = text;
  ui.status.className = `status ${state}`.trim();
}

function showError(text) {
  ui.error.textContent = text;
  ui.error.hidden = text === '';
}

function artifactName(inputName) {
  const stem = inputName.replace(/\.(wasm|wat)$/i, '') || 'module';
  return `${stem}.cwasm`;
}

function updateButton() {
  // Before the compiler loads there are no targets to pick; after a failed
  // load, Compile tries loading it again.
  ui.compile.disabled = busy || chosen === null || (info === null && !loadFailed);
}

function option(value, text, title = '') {
  const element = document.createElement('option');
  element.value = value;
  element.textContent = text;
  if (title) element.title = title;
  return element;
}

function fillTargets() {
  ui.target.replaceChildren(...info.targets.map((target) => option(target, target)));
  ui.target.disabled = false;
  fillBaselines();
}

function fillBaselines() {
  const baselines = info.baselines[ui.target.value] || [];
  if (baselines.length === 0) {
    ui.baseline.replaceChildren(option('', 'none'));
    ui.baseline.disabled = true;
    describeBaseline();
    return;
  }
  // The lowest baseline is the default, which the compiler takes as no
  // CPU features at all (what `kiln compile --target` does without
  // `--baseline`); the others are asked for by name.
  ui.baseline.replaceChildren(
    ...baselines.map(({ name, description }, i) =>
      option(i === 0 ? '' : name, i === 0 ? `${name} (default)` : name, description),
    ),
  );
  ui.baseline.disabled = false;
  describeBaseline();
}

function describeBaseline() {
  const selected = ui.baseline.selectedOptions[0];
  if (!ui.baseline.disabled) ui.baselineHint.textContent = selected?.title || '';
  else if (ui.target.value.startsWith('pulley')) ui.baselineHint.textContent = 'Pulley bytecode runs on any CPU.';
  else ui.baselineHint.textContent = 'No named CPU baselines for this target.';
}

function progressText(phase) {
  if (phase === 'loading') return `Loading the compiler (${COMPILER_MB} MB of WebAssembly)…`;
  if (phase === 'compiling' && chosen) return `Compiling ${chosen.name} for ${ui.target.value}…`;
  return 'Working…';
}

async function loadCompiler() {
  setStatus(progressText('loading'), 'busy');
  try {
    info = await compiler.ready((phase) => setStatus(progressText(phase), 'busy'));
  } catch (error) {
    loadFailed = true;
    ui.target.replaceChildren(option('', 'not loaded yet'));
    ui.baseline.replaceChildren(option('', 'not loaded yet'));
    setStatus('The compiler is not loaded. Choose a file and press Compile to try again.');
    showError(error.message);
    updateButton();
    return;
  }
  loadFailed = false;
  showError('');
  fillTargets();
  ui.about.textContent = `${info.version}. The compiler runs as a WebAssembly component in a Web Worker.`;
  setStatus(
    `Compiler ready (loaded in ${formatMs(info.loadMs)}). ${chosen ? 'Press Compile.' : 'Choose a file to compile.'}`,
  );
  updateButton();
}

async function choose(file) {
  if (!file) return;
  chosen = { name: file.name, bytes: new Uint8Array(await file.arrayBuffer()) };
  ui.fileName.textContent = `${file.name}, ${formatBytes(chosen.bytes.length)}`;
  ui.fileName.classList.add('chosen');
  showError('');
  if (info) setStatus('Ready. Press Compile.');
  updateButton();
}

async function compileChosen() {
  if (!chosen || busy) return;
  busy = true;
  updateButton();
  showError('');
  if (!info) {
    await loadCompiler();
    if (!info) {
      busy = false;
      updateButton();
      return;
    }
  }
  ui.facts.hidden = true;
  ui.download.hidden = true;
  if (downloadUrl) URL.revokeObjectURL(downloadUrl);
  downloadUrl = null;

  const input = chosen;
  const target = ui.target.value;
  const baseline = ui.baseline.disabled ? '' : ui.baseline.value;
  setStatus(progressText('compiling'), 'busy');
  try {
    const result = await compiler.compile(input.bytes, target, baseline, (phase) =>
      setStatus(progressText(phase), 'busy'),
    );
    const name = artifactName(input.name);
    const size = result.bytes.length;
    setStatus(
      `Done in ${formatMs(result.ms)}: ${name}, ${formatBytes(size)}, ${numbers.format(result.functionCount)} ` +
        `function${result.functionCount === 1 ? '' : 's'}.`,
      'done',
    );
    $('fact-time').textContent = formatMs(result.ms);
    $('fact-size').textContent = formatBytes(size);
    $('fact-functions').textContent = numbers.format(result.functionCount);
    $('fact-code').textContent = formatBytes(result.codeBytes);
    $('fact-kind').textContent = result.kind === 'component' ? 'component' : 'core module';
    const chosenBaseline = baseline || (info.baselines[target] || [])[0]?.name;
    $('fact-target').textContent = chosenBaseline ? `${target}, ${chosenBaseline}` : target;
    ui.facts.hidden = false;

    downloadUrl = URL.createObjectURL(new Blob([result.bytes], { type: 'application/octet-stream' }));
    ui.download.href = downloadUrl;
    ui.download.download = name;
    ui.download.textContent = `Download ${name}`;
    ui.download.hidden = false;
  } catch (error) {
    setStatus(`Compiling ${input.name} failed.`);
    showError(error.message);
  } finally {
    busy = false;
    updateButton();
  }
}

ui.file.addEventListener('change', () => choose(ui.file.files[0]));
ui.target.addEventListener('change', fillBaselines);
ui.baseline.addEventListener('change', describeBaseline);
ui.compile.addEventListener('click', compileChosen);

// Dropping a file anywhere on the page picks it; the drop zone lights up
// while something is dragged over the window.
let dragDepth = 0;
window.addEventListener('dragenter', (event) => {
  event.preventDefault();
  dragDepth++;
  ui.dropZone.classList.add('dragging');
});
window.addEventListener('dragleave', () => {
  dragDepth = Math.max(0, dragDepth - 1);
  if (dragDepth === 0) ui.dropZone.classList.remove('dragging');
});
window.addEventListener('dragover', (event) => event.preventDefault());
window.addEventListener('drop', (event) => {
  event.preventDefault();
  dragDepth = 0;
  ui.dropZone.classList.remove('dragging');
  choose(event.dataTransfer?.files?.[0]);
});

if ('serviceWorker' in navigator && window.isSecureContext) {
  navigator.serviceWorker
    .register(new URL('./sw.js', import.meta.url))
    .then(() => navigator.serviceWorker.ready)
    .then(() => {
      ui.offline.textContent = 'Saved for offline use: this page keeps working without a network.';
    })
    .catch(() => {
      ui.offline.textContent = 'This page could not be saved for offline use.';
    });
}

loadCompiler();
