#!/usr/bin/env bash
# Runs Kiln's tests. Installs and builds what they need first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
# The real wasmtime-cli 48.0.8 for the byte-identity slice (tests/all/stock.rs)
# is a long build, so it is installed here only with KILN_WASMTIME_CLI=1
# (once, into Kiln's cache directory); without it those tests say so and
# skip, and scripts/stock-identity.sh installs it and runs the whole table.
if [ -n "${KILN_WASMTIME_CLI:-}" ]; then
    scripts/install-wasmtime-cli.sh >/dev/null || echo "test: wasmtime-cli could not be installed; its tests will skip" >&2
fi
exec cargo test --workspace "$@"
