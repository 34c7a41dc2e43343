#!/usr/bin/env bash
# Proves the cross-compiled artifacts by running them: for aarch64,
# riscv64gc and s390x, every runnable Sightglass benchmark (compiled in the
# sandbox, run under qemu-user, output checked against its .expected files)
# and the spec suite's core and SIMD files (directive pass set beside Wasmtime's own
# on this machine). Installs and builds what it needs first.
#   scripts/emulate-all.sh [CORPUS_DIR]
# Logs: target/emulate-corpus-TRIPLE.txt, target/spec-TRIPLE-emulated.txt.
set -uo pipefail
cd "$(dirname "$0")/.."
corpus=${1:-../shared/corpus/sightglass}
triples=(aarch64-unknown-linux-gnu riscv64gc-unknown-linux-gnu s390x-unknown-linux-gnu)
scripts/build-runners.sh "${triples[@]}" || exit 1
status=0
for triple in "${triples[@]}"; do
    echo "== $triple: Sightglass"
    # riscv64 without V: Cranelift refuses wasm SIMD and fails on some
    # scalar programs too, so the corpus runs on the vector baseline.
    baseline=
    case "$triple" in riscv64*) baseline=rv64gcv ;; esac
    BASELINE=$baseline scripts/run-corpus.sh "$triple" "$corpus" | tee "target/emulate-corpus-$triple.txt" | tail -1
    [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
done
for triple in "${triples[@]}"; do
    echo "== $triple: spec suite (core and SIMD)"
    scripts/spec-suite.sh --emulate "$triple" || status=1
done
exit $status
