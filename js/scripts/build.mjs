#!/usr/bin/env node
// Turns the compiler component (dist/kiln-compiler.wasm, a wasm32-wasip2
// component) into JavaScript that Node can load: jco transpiles it into
// dist/node/, as an ES module exporting `instantiate()` plus the core wasm
// modules it instantiates. The work is skipped when dist/node/ was already
// built from a component with the same SHA-256 by the same jco.
//
//   node scripts/build.mjs            (or: npm run build)
//   KILN_COMPONENT=path/to/component.wasm node scripts/build.mjs
//   node scripts/build.mjs --force    rebuild even when up to date
//
// Other scripts and the tests import `build()` from here.

import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The package's root directory (js/). */
export const PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Where the component is looked for when KILN_COMPONENT is not set. */
export const DEFAULT_COMPONENT = join(PACKAGE_DIR, 'dist', 'kiln-compiler.wasm');

/** Where the transpiled compiler goes; src/index.js loads it from here. */
export const OUT_DIR = join(PACKAGE_DIR, 'dist', 'node');

// The name jco gives the generated files (kiln-compiler.js, kiln-compiler.core.wasm, ...).
const NAME = 'kiln-compiler';
// How the output is generated. Changing anything here must change the stamp,
// so it is part of it.
const TRANSPILE_OPTIONS = {
  name: NAME,
  // `instantiate(getCoreModule, imports)` instead of a module that
  // instantiates itself on import: src/index.js supplies its own closed WASI
  // imports and creates a fresh instance after a trap.
  instantiation: 'async',
  emitTypescriptDeclarations: false,
  quiet: true,
};
const STAMP = 'build-stamp.json';
const LOCK = join(PACKAGE_DIR, 'dist', '.node-build.lock');
// A lock older than this is taken to be left by a build that died (as is
// one whose process is gone).
const STALE_LOCK_MS = 120_000;

/** The component's path: $KILN_COMPONENT (relative to the working directory) or the default. */
export function componentPath() {
  const fromEnv = process.env.KILN_COMPONENT;
  return fromEnv ? resolve(fromEnv) : DEFAULT_COMPONENT;
}

/**
 * Transpiles the compiler component into dist/node/ unless that already
 * holds the output for a component with the same SHA-256.
 *
 * Safe to call from several processes at once (the test runner does): one
 * builds while the others wait on a lock file, then find the stamp current.
 *
 * @param {object} [options]
 * @param {string} [options.component] the component; default {@link componentPath}()
 * @param {boolean} [options.force] rebuild even when the stamp matches
 * @returns {Promise<{ outDir: string, built: boolean, sha256: string, ms: number }>}
 *   `built` is false when the existing output was current
 * @throws {Error} when the component is missing (the message says how to make it)
 */
export async function build({ component = componentPath(), force = false } = {}) {
  const started = performance.now();
  const bytes = await readComponent(component);
  const stamp = {
    component_sha256: createHash('sha256').update(bytes).digest('hex'),
    jco: jcoVersion(),
    options: TRANSPILE_OPTIONS,
  };
  const done = (built) => ({
    outDir: OUT_DIR,
    built,
    sha256: stamp.component_sha256,
    ms: Math.round(performance.now() - started),
  });

  if (!force && (await isCurrent(stamp))) return done(false);

  const release = await acquireLock();
  try {
    // Another process may have finished the same build while this one waited.
    if (!force && (await isCurrent(stamp))) return done(false);

    const { transpile } = await import('@bytecodealliance/jco');
    const { files } = await transpile(bytes, { ...TRANSPILE_OPTIONS });

    // Everything goes into a fresh directory that then replaces dist/node/ in
    // two renames, so a reader never sees half an output.
    const staging = `${OUT_DIR}.staging-${process.pid}`;
    await rm(staging, { recursive: true, force: true });
    for (const [name, contents] of Object.entries(files)) {
      const path = join(staging, name);
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, contents);
    }
    // jco writes ES modules but no package.json; without this one Node
    // would read kiln-compiler.js as CommonJS.
    await writeFile(join(staging, 'package.json'), '{ "type": "module" }\n');
    await writeFile(join(staging, STAMP), `${JSON.stringify(stamp, null, 2)}\n`);

    const old = `${OUT_DIR}.old-${process.pid}`;
    if (existsSync(OUT_DIR)) await rename(OUT_DIR, old);
    await rename(staging, OUT_DIR);
    await rm(old, { recursive: true, force: true });
    return done(true);
  } finally {
    await release();
  }
}

async function readComponent(path) {
  try {
    return await readFile(path);
  } catch (error) {
    if (error.code !== 'ENOENT') throw error;
    const shown = displayPath(path);
    throw new Error(
      `no compiler component at ${shown}: run \`kiln component -o js/dist/kiln-compiler.wasm\` ` +
        'first (from the repository root), or point KILN_COMPONENT at one',
      { cause: error },
    );
  }
}

// A path relative to the working directory when it is below it, else absolute.
function displayPath(path) {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') ? rel : path;
}

// jco's version, from its package.json (which its "exports" do not expose,
// so it is found by walking up from the entry point).
function jcoVersion() {
  let dir = dirname(createRequire(import.meta.url).resolve('@bytecodealliance/jco'));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      const { name, version } = JSON.parse(readFileSync(manifest, 'utf8'));
      if (name === '@bytecodealliance/jco') return version;
    }
    if (dirname(dir) === dir) return 'unknown';
    dir = dirname(dir);
  }
}

async function isCurrent(stamp) {
  let existing;
  try {
    existing = JSON.parse(await readFile(join(OUT_DIR, STAMP), 'utf8'));
  } catch {
    return false;
  }
  return (
    JSON.stringify(existing) === JSON.stringify(stamp) &&
    existsSync(join(OUT_DIR, `${NAME}.js`)) &&
    existsSync(join(OUT_DIR, 'package.json'))
  );
}

// Takes dist/.node-build.lock (created exclusively), waiting while another
// process holds it; returns the function that releases it.
async function acquireLock() {
  await mkdir(dirname(LOCK), { recursive: true });
  for (;;) {
    try {
      const handle = await open(LOCK, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => rm(LOCK, { force: true });
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
    }
    try {
      const { mtimeMs } = await stat(LOCK);
      const holder = Number(await readFile(LOCK, 'utf8'));
      if (Date.now() - mtimeMs > STALE_LOCK_MS || (holder > 0 && !isAlive(holder))) {
        await rm(LOCK, { force: true });
        continue;
      }
    } catch {
      // Released between the two calls: try again at once.
      continue;
    }
    await new Promise((wake) => setTimeout(wake, 100));
  }
}

// Whether process `pid` exists (a lock whose holder has died is stale).
function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

// Run as a script.
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const force = process.argv.includes('--force');
  try {
    const { outDir, built, sha256, ms } = await build({ force });
    const where = displayPath(outDir);
    console.log(
      built
        ? `transpiled the compiler (sha256 ${sha256.slice(0, 12)}) into ${where} in ${ms} ms`
        : `${where} is up to date (sha256 ${sha256.slice(0, 12)})`,
    );
  } catch (error) {
    console.error(`error: ${error.message}`);
    process.exit(1);
  }
}
