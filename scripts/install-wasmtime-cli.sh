#!/usr/bin/env bash
# Installs the real `wasmtime` CLI, version 48.0.8 (the version Kiln's
# artifacts are for), into Kiln's cache directory, and prints its path:
#   WASMTIME=$(scripts/install-wasmtime-cli.sh)
# With `--if-installed` it only prints the path of one already installed
# (exit 1 if there is none): what `cargo test` uses, so that a test run
# never starts this long build.
#
# Only the tests and scripts that compare Kiln with the real tool need it
# (byte identity of `kiln compile` and `wasmtime compile`, and running
# Kiln's artifacts under a stock `wasmtime run --allow-precompiled`).
# It is built from crates.io with `cargo install --locked` and its default
# Cargo features, so that its engine has stock Wasmtime's defaults, plus
# `all-arch` (Cranelift's other backends, which change no default): a
# default build compiles only for this machine and Pulley, and the
# comparison covers aarch64, riscv64gc and s390x too. The
# build takes a while and happens once per cache directory: the directory
# is named by the version and the toolchain that built it.
set -euo pipefail
log() { printf 'install-wasmtime-cli: %s\n' "$*" >&2; }

version=48.0.8
export PATH="$HOME/.cargo/bin:$PATH"
cache=${KILN_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kiln}
toolchain=$(rustc --version | tr -c 'A-Za-z0-9.\n' '-' | tr -d '\n')
root="$cache/tools/wasmtime-cli-$version-all-arch-$toolchain"
bin="$root/bin/wasmtime"

if [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -q "^wasmtime $version"; then
    echo "$bin"
    exit 0
fi
if [ "${1:-}" = --if-installed ]; then
    exit 1
fi

log "building wasmtime-cli $version into $root (once; several minutes)"
mkdir -p "$cache/tools"
staging=$(mktemp -d "$cache/tools/.wasmtime-cli-XXXXXX")
trap 'rm -rf "$staging"' EXIT
cargo install --locked --quiet wasmtime-cli --version "=$version" --features all-arch --root "$staging" >&2
"$staging/bin/wasmtime" --version | grep -q "^wasmtime $version"
rm -rf "$root"
mv "$staging" "$root"
trap - EXIT
echo "$bin"
