#!/usr/bin/env bash
# Runs Kiln's tests. Installs and builds what they need first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
# The real wasmtime-cli 48.0.8, for the byte-identity slice (tests/all/stock.rs);
# built once into Kiln's cache directory. KILN_NO_WASMTIME_CLI=1 skips it
# (those tests then say so and skip).
if [ -z "${KILN_NO_WASMTIME_CLI:-}" ]; then
    scripts/install-wasmtime-cli.sh >/dev/null || echo "test: wasmtime-cli could not be installed; its tests will skip" >&2
fi
exec cargo test --workspace "$@"
