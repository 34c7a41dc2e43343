// Assembles Kiln's browser page into js/dist/web/: transpiles the compiler
// component with jco into js/dist/web/compiler/ (its WASI imports rewritten
// to preview2-shim's browser implementations, copied next to it as
// compiler/shim/*.js), copies the page's sources from js/web/, and writes the
// service worker with the list of files it keeps for offline use.
//
//   node js/scripts/build-web.mjs            (or: npm run build:web, in js/)
//
// Environment: KILN_COMPONENT, the component to transpile (default
// js/dist/kiln-compiler.wasm). Idempotent: a stamp (js/dist/web/.stamp.json)
// records the SHA-256 of the component and of every input, and a run whose
// inputs are unchanged does nothing. Prints the output directory.

import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const jsDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const sourceDir = join(jsDir, 'web');
const outDir = join(jsDir, 'dist', 'web');
const stampPath = join(outDir, '.stamp.json');
const componentPath = resolve(process.env.KILN_COMPONENT || join(jsDir, 'dist', 'kiln-compiler.wasm'));

// The WASI packages the component imports, each served by one browser shim
// module; every interface of a package is a named export of that module.
const SHIM_PACKAGES = ['cli', 'clocks', 'filesystem', 'io', 'random'];
const COMPILER_NAME = 'kiln-compiler';

function log(message) {
  process.stderr.write(`build-web: ${message}\n`);
}

function sha256(bytes) {
  return createHash('sha256').update(bytes).digest('hex');
}

// The browser build of preview2-shim: its package exports only name the
// Node build for Node, so go from the package's main entry to its sibling.
function shimBrowserDir() {
  const require = createRequire(join(jsDir, 'package.json'));
  const nodeEntry = require.resolve('@bytecodealliance/preview2-shim');
  const dir = join(dirname(nodeEntry), '..', 'browser');
  if (!existsSync(join(dir, 'cli.js'))) {
    throw new Error(`preview2-shim's browser files are not at ${dir}`);
  }
  return dir;
}

// The shim modules the page needs: the five package entry points and
// whatever they import, followed through relative imports.
async function shimClosure(dir) {
  const needed = new Set();
  const queue = SHIM_PACKAGES.map((name) => `${name}.js`);
  while (queue.length > 0) {
    const file = queue.pop();
    if (needed.has(file)) continue;
    needed.add(file);
    const text = await readFile(join(dir, file), 'utf8');
    for (const match of text.matchAll(/(?:^|[\s;}])(?:import|export)\s[^'"]*?from\s*["'](\.\/[^"']+)["']/g)) {
      queue.push(match[1].slice(2));
    }
  }
  return [...needed].sort();
}

async function listFiles(dir, base = dir) {
  const out = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(full, base)));
    else if (entry.isFile()) out.push(relative(base, full).split(sep).join('/'));
  }
  return out.sort();
}

async function hashFiles(dir, files) {
  const h = createHash('sha256');
  for (const file of files) {
    h.update(file).update('\0').update(sha256(await readFile(join(dir, file)))).update('\0');
  }
  return h.digest('hex');
}

async function transpileCompiler(componentBytes, shimDir, shimFiles) {
  const { transpile } = await import('@bytecodealliance/jco');
  const map = {};
  for (const name of SHIM_PACKAGES) map[`wasi:${name}/*`] = `./shim/${name}.js#*`;
  const { files, imports } = await transpile(componentBytes, {
    name: COMPILER_NAME,
    map,
    nodejsCompat: false,
    noTypescript: true,
    quiet: true,
  });
  const unmapped = imports.filter((specifier) => !specifier.startsWith('./shim/'));
  if (unmapped.length > 0) {
    throw new Error(`the component imports something the page has no shim for: ${unmapped.join(', ')}`);
  }
  // Build beside the final directory and swap it in, so that an interrupted
  // build never leaves a half-written compiler behind a valid stamp.
  const staging = join(outDir, 'compiler.partial');
  await rm(staging, { recursive: true, force: true });
  await mkdir(join(staging, 'shim'), { recursive: true });
  for (const [name, bytes] of Object.entries(files)) {
    if (!name.endsWith('.js') && !name.endsWith('.wasm')) continue; // type declarations
    await writeFile(join(staging, name), bytes);
  }
  for (const file of shimFiles) await cp(join(shimDir, file), join(staging, 'shim', file));
  await rm(join(outDir, 'compiler'), { recursive: true, force: true });
  await rename(staging, join(outDir, 'compiler'));
}

// The service worker learns its file list and cache version from a line the
// build fills in; a new build changes the worker's bytes, which is what
// makes browsers install it and drop the previous cache.
async function writeServiceWorker(version) {
  const template = await readFile(join(sourceDir, 'sw.js'), 'utf8');
  const files = (await listFiles(outDir)).filter(
    (file) => !file.startsWith('.') && file !== 'sw.js' && file !== 'README.md',
  );
  const manifest = JSON.stringify({ version, files: ['./', ...files] });
  const marker = /^const BUILD = .*;$/m;
  if (!marker.test(template)) throw new Error('js/web/sw.js has no `const BUILD = ...;` line to fill in');
  await writeFile(join(outDir, 'sw.js'), template.replace(marker, () => `const BUILD = ${manifest};`));
}

async function main() {
  if (!existsSync(componentPath)) {
    throw new Error(
      `no compiler component at ${componentPath} (build it, or set KILN_COMPONENT to one)`,
    );
  }
  const componentBytes = await readFile(componentPath);
  const shimDir = shimBrowserDir();
  const shimFiles = await shimClosure(shimDir);
  const sourceFiles = (await listFiles(sourceDir)).filter((file) => file !== 'README.md');
  const jcoVersion = JSON.parse(
    await readFile(join(jsDir, 'node_modules', '@bytecodealliance', 'jco', 'package.json'), 'utf8'),
  ).version;

  const stamp = {
    component: sha256(componentBytes),
    jco: jcoVersion,
    shim: await hashFiles(shimDir, shimFiles),
    script: sha256(await readFile(fileURLToPath(import.meta.url))),
    sources: await hashFiles(sourceDir, sourceFiles),
  };
  const previous = existsSync(stampPath) ? JSON.parse(await readFile(stampPath, 'utf8')) : {};
  const compilerCurrent =
    existsSync(join(outDir, 'compiler', `${COMPILER_NAME}.js`)) &&
    ['component', 'jco', 'shim', 'script'].every((key) => previous[key] === stamp[key]);
  const allCurrent = compilerCurrent && previous.sources === stamp.sources;

  if (allCurrent) {
    log(`up to date (component ${stamp.component.slice(0, 12)})`);
  } else {
    await mkdir(outDir, { recursive: true });
    await rm(stampPath, { force: true });
    if (compilerCurrent) {
      log('compiler up to date; copying the page');
    } else {
      log(`transpiling ${relative(process.cwd(), componentPath) || componentPath}`);
      const started = performance.now();
      await transpileCompiler(componentBytes, shimDir, shimFiles);
      log(`transpiled in ${Math.round(performance.now() - started)} ms`);
    }
    // Drop what an earlier build copied from a source since removed.
    const keep = new Set(['compiler', ...sourceFiles.map((file) => file.split('/')[0])]);
    for (const entry of await readdir(outDir)) {
      if (!entry.startsWith('.') && !keep.has(entry)) await rm(join(outDir, entry), { recursive: true, force: true });
    }
    for (const file of sourceFiles) {
      if (file === 'sw.js') continue;
      await mkdir(dirname(join(outDir, file)), { recursive: true });
      await cp(join(sourceDir, file), join(outDir, file));
    }
    const version = sha256(JSON.stringify(stamp)).slice(0, 16);
    await writeServiceWorker(version);
    await writeFile(stampPath, `${JSON.stringify({ ...stamp, version }, null, 2)}\n`);
  }
  process.stdout.write(`${outDir}\n`);
}

main().catch((error) => {
  log(error.message);
  process.exit(1);
});
