#!/usr/bin/env bash
# Compiles every runnable Sightglass benchmark in the sandbox, runs the
# artifact natively in its own directory (preopened as `.`), and compares
# stdout and stderr with the `.expected` files beside it. A benchmark with
# no expected output of its own still runs and must exit 0 ("ran").
#   [BASELINE=NAME] scripts/run-corpus.sh [TARGET] [CORPUS_DIR]
# TARGET: x86_64-unknown-linux-gnu (default) or pulley64, run here; or
# aarch64-unknown-linux-gnu, riscv64gc-unknown-linux-gnu or
# s390x-unknown-linux-gnu, run under qemu-user in the cross-built runner
# (scripts/build-runners.sh installs and builds what that needs).
# BASELINE compiles (and runs) every benchmark for that CPU baseline.
set -uo pipefail
cd "$(dirname "$0")/.."
target=${1:-x86_64-unknown-linux-gnu}
corpus=$(realpath "${2:-../shared/corpus/sightglass}")
[ -d "$corpus" ] || { echo "no corpus at $corpus" >&2; exit 1; }
scripts/setup.sh || exit 1
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release -p host || exit 1
kiln=$(realpath target/release/kiln)
emulate=()
case "$target" in
    aarch64-*|riscv64*|s390x-*)
        emulate=(--emulate)
        # Built on demand; scripts/emulate-all.sh rebuilds it first.
        [ -x "target/kiln-runner/$target/release/kiln-runner" ] || scripts/build-runners.sh "$target" || exit 1 ;;
esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0 failed=0 skipped=0 ran=0
printf '%-44s %-8s %9s\n' benchmark result run-ms
while IFS= read -r wasm; do
    dir=$(dirname "$wasm")
    stem=$(basename "$wasm" .wasm)
    name=${wasm#"$corpus"/}
    # Each benchmark's own expected output; a single-benchmark directory's
    # `benchmark.wasm` may use the directory's `default.*.expected`.
    expected_out="$dir/$stem.stdout.expected"
    expected_err="$dir/$stem.stderr.expected"
    if [ ! -f "$expected_out" ] && [ "$stem" = benchmark ]; then
        expected_out="$dir/default.stdout.expected"
        expected_err="$dir/default.stderr.expected"
    fi
    checked=yes
    if [ ! -f "$expected_out" ]; then
        # No oracle: run it all the same, and require a clean exit.
        checked=no
    fi
    cwasm="$work/$stem.cwasm"
    baseline=()
    [ -z "${BASELINE:-}" ] || baseline=(--baseline "$BASELINE")
    if ! "$kiln" compile "$wasm" --target "$target" "${baseline[@]}" -o "$cwasm" 2> "$work/compile.err"; then
        # A refusal that names the baseline able to compile the input (wasm
        # SIMD on riscv64 needs rv64gcv) is retried with that baseline.
        hint=$(grep -o -- '--baseline [a-z0-9.+-]*' "$work/compile.err" | head -1 | cut -d' ' -f2)
        if [ -n "$hint" ]; then
            baseline=(--baseline "$hint")
            name="$name [$hint]"
        fi
        if [ -z "$hint" ] || ! "$kiln" compile "$wasm" --target "$target" "${baseline[@]}" -o "$cwasm" 2> "$work/compile.err"; then
            printf '%-44s %-8s %9s  %s\n' "$name" FAILED - "$(tail -1 "$work/compile.err")"
            failed=$((failed + 1))
            continue
        fi
    fi
    start=$(date +%s%N)
    (cd "$dir" && "$kiln" run "$cwasm" --target "$target" "${baseline[@]}" "${emulate[@]}" --dir . > "$work/out" 2> "$work/err")
    status=$?
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    if [ $checked = no ] && [ $status -eq 0 ]; then
        printf '%-44s %-8s %9s  (no expected output: exit 0 only)\n' "$name" ran "$ms"
        ran=$((ran + 1))
    elif [ $checked = yes ] && [ $status -eq 0 ] && cmp -s "$work/out" "$expected_out" \
        && { [ ! -f "$expected_err" ] || cmp -s "$work/err" "$expected_err"; }; then
        printf '%-44s %-8s %9s\n' "$name" ok "$ms"
        passed=$((passed + 1))
    else
        # A missing input file (not carried into the corpus) is not Kiln's failure.
        if grep -qi "no such file\|not found" "$work/err" 2>/dev/null && [ ! -s "$work/out" ]; then
            printf '%-44s %-8s %9s  (input missing from the corpus: %s)\n' "$name" skipped "$ms" "$(head -c 120 "$work/err" | tr '\n' ' ')"
            skipped=$((skipped + 1))
        else
            printf '%-44s %-8s %9s  exit %s; %s\n' "$name" FAILED "$ms" "$status" "$(head -c 200 "$work/err" | tr '\n' ' ')"
            failed=$((failed + 1))
        fi
    fi
done < <(find "$corpus" -name '*.wasm' | sort)
echo "$target${BASELINE:+ ($BASELINE)}: $passed passed (expected output), $ran ran with no expected output, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
