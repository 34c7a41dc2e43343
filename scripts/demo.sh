#!/usr/bin/env bash
# Kiln's main job on its built-in example: compiles it in the sandbox for
# every target, verifies each artifact against a native compile, and runs
# the ones this machine can run. Installs and builds what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release -p host
exec target/release/kiln demo "$@"
