#!/usr/bin/env bash
# Runs `kiln check --json` on every .wasm (core modules and components)
# under the Sightglass corpus, for x86_64 and aarch64, and summarises.
#   scripts/check-corpus.sh [CORPUS_DIR] [RESULTS_FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${1:-../shared/corpus/sightglass}
results=${2:-target/corpus-check.jsonl}
[ -d "$corpus" ] || { echo "no corpus at $corpus" >&2; exit 1; }
scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release -p host
: > "$results"
failed=0
while IFS= read -r wasm; do
    if ! target/release/kiln check "$wasm" --json \
        --target x86_64-unknown-linux-gnu --target aarch64-unknown-linux-gnu >> "$results"; then
        failed=$((failed + 1))
        echo "FAILED: $wasm" >&2
    fi
done < <(find "$corpus" -name '*.wasm' | sort)
total=$(wc -l < "$results")
identical=$(grep -c '"identical":true' "$results" || true)
loaded=$(grep -c '"loaded":true' "$results" || true)
echo "checked $total (input, target) pairs: $identical identical, $loaded loaded on x86_64, $failed inputs with a failure"
echo "results: $results"
[ "$failed" -eq 0 ]
