#!/usr/bin/env bash
# The whole proof that Kiln's artifacts are stock Wasmtime 48's, as one
# table: installs the real wasmtime-cli 48.0.8 (scripts/install-wasmtime-cli.sh),
# then compares `kiln compile X --target T` with `wasmtime compile X --target T`
# byte for byte for every Sightglass benchmark.wasm and a sample of
# spec-suite modules on x86_64, aarch64, riscv64gc, s390x and pulley64, and
# for Wasmtime option combinations across -W/-C/-O/-D; then runs every
# runnable Sightglass benchmark compiled by Kiln under a stock
# `wasmtime run --allow-precompiled` and checks its expected output.
# `cargo test` runs a bounded slice of the same tests (tests/all/stock.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
scripts/install-wasmtime-cli.sh >/dev/null
KILN_STOCK_FULL=1 exec cargo test -p host --test all stock:: -- --nocapture --test-threads 1
