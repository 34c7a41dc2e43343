#!/usr/bin/env bash
# Runs Kiln's tests. Installs and builds what they need first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
exec cargo test --workspace "$@"
