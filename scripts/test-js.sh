#!/usr/bin/env bash
# Runs the tests of the compiler component outside Kiln (js/): the npm
# package in Node, the page in headless Chromium, and the `wasi:http` build
# under `wasmtime serve` and `jco serve`. scripts/test.sh calls it after
# `cargo test`, whose build leaves the `kiln` CLI it needs in target/debug.
#
# Each part installs what it needs through the project's own scripts: the
# package's pinned npm dependencies (`npm ci`, once per lock file),
# Debian's chromium (scripts/install-chromium.sh), wasmtime-cli 48.0.8
# (scripts/install-wasmtime-cli.sh, which scripts/test.sh has run). Where a
# tool truly cannot be had (no Node.js, no npm registry), this says so on
# stderr and skips; the test files skip their own parts the same way.
#
# Environment: KILN, the `kiln` CLI to use (default target/debug/kiln);
# KILN_JS_TESTS=0 skips everything here.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf 'test-js: %s\n' "$*" >&2; }

if [ "${KILN_JS_TESTS:-1}" = 0 ]; then
    log "KILN_JS_TESTS=0: skipping the Node, browser and wasi:http tests"
    exit 0
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    log "Node.js and npm are not installed: skipping the Node, browser and wasi:http tests"
    exit 0
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
    log "Node.js $(node --version) is older than 20: skipping the Node, browser and wasi:http tests"
    exit 0
fi

kiln=${KILN:-$PWD/target/debug/kiln}
case $kiln in /*) ;; *) kiln=$PWD/$kiln ;; esac
if [ ! -x "$kiln" ]; then
    log "building the kiln CLI"
    cargo build -p host --bin kiln
fi
export KILN=$kiln

# The pinned dependencies, installed again only when the lock file changes.
stamp=js/node_modules/.kiln-lock-sha256
want=$(sha256sum js/package-lock.json | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "installing the npm package's pinned dependencies (npm ci)"
    if ! (cd js && npm ci --no-audit --no-fund --loglevel=error >&2); then
        log "npm ci failed (is the npm registry reachable?): skipping the Node, browser and wasi:http tests"
        exit 0
    fi
    echo "$want" >"$stamp"
fi

# The components this kiln embeds: what the package, the page and the
# wasi:http hosts run, so that they compile with exactly its compiler.
mkdir -p js/dist
"$KILN" component -o js/dist/kiln-compiler.wasm
"$KILN" component --http -o js/dist/kiln-http.wasm

if [ "${KILN_WASMTIME_CLI:-1}" != 0 ] && ! WASMTIME=$(scripts/install-wasmtime-cli.sh --if-installed); then
    log "wasmtime-cli 48.0.8 is not installed: the wasmtime serve tests will skip"
fi
export WASMTIME="${WASMTIME:-}"
[ -n "$WASMTIME" ] || unset WASMTIME

if ! scripts/install-chromium.sh >/dev/null; then
    log "Chromium could not be installed: the browser tests will skip"
fi

cd js
node scripts/build.mjs
node scripts/build-web.mjs
start=$(date +%s)
node --liftoff-only --test test/node/ test/http/ test/browser/
log "Node, browser and wasi:http tests passed ($(( $(date +%s) - start ))s)"
