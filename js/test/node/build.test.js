// scripts/build.mjs: a second build of the same component does no work,
// and a missing component is an error that says how to make one.

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { build, OUT_DIR } from '../../scripts/build.mjs';
import { ensureBuilt, PACKAGE_DIR } from './support.js';

test('building again from the same component is skipped', async () => {
  await ensureBuilt();
  const again = await build();
  assert.equal(again.built, false);
  assert.equal(again.outDir, OUT_DIR);
  assert.match(again.sha256, /^[0-9a-f]{64}$/);
  const stamp = JSON.parse(readFileSync(join(OUT_DIR, 'build-stamp.json'), 'utf8'));
  assert.equal(stamp.component_sha256, again.sha256);
  // Node reads the generated ES module as one, thanks to this file.
  assert.deepEqual(JSON.parse(readFileSync(join(OUT_DIR, 'package.json'), 'utf8')), { type: 'module' });
  assert.ok(existsSync(join(OUT_DIR, 'kiln-compiler.js')));
});

test('a missing component is an error naming the command that makes it', async () => {
  const component = join(PACKAGE_DIR, 'dist', 'no-such-component.wasm');
  await assert.rejects(build({ component }), (error) => {
    assert.match(error.message, /no compiler component at .*no-such-component\.wasm/);
    assert.match(error.message, /kiln component -o js\/dist\/kiln-compiler\.wasm/);
    return true;
  });
});
