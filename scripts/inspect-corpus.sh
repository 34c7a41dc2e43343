#!/usr/bin/env bash
# `kiln inspect --check --input` and `--disasm` on the artifact of every
# wasm file (modules and components) under ../shared/corpus/sightglass, for
# every target (or the targets given); one line per pair that does not
# pass, then the totals. Artifacts are kept in target/inspect-corpus/ and
# reused while newer than their input (INSPECT_CORPUS_FRESH=1 recompiles;
# INSPECT_CORPUS_MATCH=REGEX takes only the inputs whose path matches);
# two jobs at a time. riscv64gc falls back to --baseline rv64gcv where the
# default baseline cannot compile the module (wasm SIMD needs the V
# extension; Cranelift 0.135 panics on some scalar code), naming why.
set -u
cd "$(dirname "$0")/.."
export kiln=target/debug/kiln cache=target/inspect-corpus
corpus=../shared/corpus/sightglass
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu
  riscv64gc-unknown-linux-gnu s390x-unknown-linux-gnu pulley32 pulley64)
[ "${INSPECT_CORPUS_FRESH:-0}" = 1 ] && rm -rf "$cache"
mkdir -p "$cache"

one() {
  local input=$1 target=$2 name
  name=$(echo "${input#*/sightglass/}" | tr / _)
  local artifact="$cache/$target/$name.cwasm" err="$cache/$target/$name.err" note=""
  mkdir -p "$cache/$target"
  if [ ! "$artifact" -nt "$input" ]; then
    if ! "$kiln" compile "$input" --target "$target" -o "$artifact" >/dev/null 2>"$err"; then
      rm -f "$artifact" "$artifact.rv64gcv"
      if [ "${target%%-*}" = riscv64gc ] && grep -m1 -E 'error|panicked' "$err" >"$artifact.rv64gcv" &&
        "$kiln" compile "$input" --target "$target" --baseline rv64gcv -o "$artifact" >/dev/null 2>"$err"; then
        :
      else
        echo "NOCOMPILE $target $input: $(grep -m1 -E 'error|panicked' "$err" || tail -1 "$err")"
        return
      fi
    fi
  fi
  [ -s "$artifact.rv64gcv" ] && note=" (rv64gcv; the default baseline: $(cut -c1-160 "$artifact.rv64gcv"))"
  if "$kiln" inspect "$artifact" --check --input "$input" >/dev/null 2>"$err" &&
    "$kiln" inspect "$artifact" --disasm >/dev/null 2>>"$err"; then
    echo "PASS $target$note $input"
  else
    echo "FAIL $target$note $input: $(tail -1 "$err")"
  fi
}
export -f one

start=$(date +%s)
log=$cache/last-run.txt
: >"$log"
for input in $(find "$corpus" -name '*.wasm' | sort | grep -E "${INSPECT_CORPUS_MATCH:-.}"); do
  for target in "${targets[@]}"; do printf '%s\0%s\0' "$input" "$target"; done
done | xargs -0 -n 2 -P 2 bash -c 'one "$0" "$1"' | tee "$log" | grep -v '^PASS'
pass=$(grep -c '^PASS' "$log") fail=$(grep -c '^FAIL' "$log") none=$(grep -c '^NOCOMPILE' "$log")
echo "passed $pass (rv64gcv: $(grep -c '^PASS [^ ]* (rv64gcv' "$log")), failed $fail, not compiled $none, in $(($(date +%s) - start))s"
[ "$fail" -eq 0 ]
