#!/usr/bin/env bash
# Runs the differential fuzz target `wide_lengths` (the sandboxed wasm32
# compiler against the native build, fuzz/fuzz_targets/wide_lengths.rs)
# for SECONDS (default 1800), after seeding its corpus with real modules:
#   scripts/fuzz-wide-lengths.sh [SECONDS]
# Needs a nightly toolchain and cargo-fuzz; installs cargo-fuzz if missing.
# A divergence stops the run and leaves its input under
# fuzz/artifacts/wide_lengths/; rerun one with
#   cargo +nightly fuzz run -s none wide_lengths fuzz/artifacts/wide_lengths/crash-…
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf 'fuzz-wide-lengths: %s\n' "$*" >&2; }
seconds=${1:-1800}
export PATH="$HOME/.cargo/bin:$PATH"
# cargo-fuzz builds in release, which would build the fat-LTO guests; the
# quicker guest profile is the one the tests build, and is reused.
export KILN_GUEST_PROFILE=${KILN_GUEST_PROFILE:-guest}
scripts/setup.sh

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    log "installing a nightly toolchain (cargo-fuzz needs one)"
    rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --help >/dev/null 2>&1; then
    log "installing cargo-fuzz"
    cargo install --locked cargo-fuzz
fi

# Seeds: real modules as they are (mode byte 2: the bytes themselves), so
# that libFuzzer mutates them; and one input of each structured kind.
corpus=fuzz/corpus/wide_lengths
mkdir -p "$corpus"
sightglass=../shared/corpus/sightglass
if [ -d "$sightglass" ]; then
    for wasm in "$sightglass"/*/benchmark.wasm "$sightglass"/shootout/*.wasm; do
        [ -f "$wasm" ] || continue
        # Large modules make each run slow; mutations of small ones reach
        # the same parser paths.
        [ "$(stat -c %s "$wasm")" -le 300000 ] || continue
        name=$(echo "$wasm" | tr '/' '_')
        { printf '\002'; cat "$wasm"; } > "$corpus/seed-$name"
    done
else
    log "no Sightglass corpus at $sightglass: seeding with generated inputs only"
fi
head -c 256 /dev/urandom | { printf '\000'; cat; } > "$corpus/seed-structured"
head -c 4096 /dev/urandom | { printf '\001'; cat; } > "$corpus/seed-smith"

log "fuzzing for ${seconds}s"
exec cargo +nightly fuzz run -s none wide_lengths "$corpus" -- \
    -max_total_time="$seconds" -timeout=120 -rss_limit_mb=16384 -print_final_stats=1
