#!/usr/bin/env bash
# Runs Kiln's tests. Installs and builds what they need first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
# One build of everything, not a loop of small edits: incremental
# compilation's records would only cost time and gigabytes of disk (a CI
# run on a clean clone has run out of disk before). Whoever iterates on
# the code runs cargo directly.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
# The real wasmtime-cli 48.0.8 for the byte-identity slice (tests/all/stock.rs)
# is built once into Kiln's cache directory, named by its version and the
# toolchain that builds it, and reused from there (a long build on a fresh
# machine; KILN_WASMTIME_CLI=0 skips it, and those tests then say so on
# stderr and skip, as they do when the build fails).
if [ "${KILN_WASMTIME_CLI:-1}" != 0 ]; then
    start=$(date +%s)
    if scripts/install-wasmtime-cli.sh >/dev/null; then
        echo "test: wasmtime-cli ready ($(( $(date +%s) - start ))s)" >&2
    else
        echo "test: wasmtime-cli could not be installed; its tests will skip" >&2
    fi
fi
cargo test --workspace "$@"
# The compiler component outside Kiln: Node, Chromium, wasi:http hosts.
exec scripts/test-js.sh
