#!/usr/bin/env bash
# `kiln inspect --check --input` on every Sightglass module of
# ../shared/corpus/sightglass for every target (or the targets given),
# then `--disasm`; prints one line per failure and the totals.
set -u
cd "$(dirname "$0")/.."
kiln=target/debug/kiln
corpus=../shared/corpus/sightglass
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu riscv64gc-unknown-linux-gnu s390x-unknown-linux-gnu pulley32 pulley64)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
pass=0 fail=0 skipped=0 start=$(date +%s)
for input in $(find "$corpus" -name '*.wasm' | sort); do
  for target in "${targets[@]}"; do
    artifact="$out/a.cwasm"
    if ! "$kiln" compile "$input" --target "$target" -o "$artifact" >/dev/null 2>"$out/err"; then
      skipped=$((skipped + 1)); echo "skip (compile refused) $target $input: $(tail -1 "$out/err")"; continue
    fi
    if "$kiln" inspect "$artifact" --check --input "$input" >/dev/null 2>"$out/err" \
      && "$kiln" inspect "$artifact" --disasm >/dev/null 2>>"$out/err"; then
      pass=$((pass + 1))
    else
      fail=$((fail + 1)); echo "FAIL $target $input: $(tail -1 "$out/err")"
    fi
  done
done
echo "passed $pass, failed $fail, not compiled $skipped, in $(( $(date +%s) - start ))s"
[ "$fail" -eq 0 ]
