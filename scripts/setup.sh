#!/usr/bin/env bash
# Installs what building Kiln needs, and nothing when it is already there.
#
# Kiln's compiler is built twice: a wasm32-wasip2 component, and a threaded
# core module for wasm32-unknown-unknown with atomics. The threaded build
# always builds its std from source (the atomics feature changes it), and
# the component does too where rustup lacks the wasm32-wasip2 target (rustup
# here offers only the x86_64 std). Both use Debian's Rust toolchain for the
# web: rustc-web and cargo-web (/usr/bin/cargo, /usr/bin/rustc),
# rust-web-llvm (wasm-component-ld, which turns the linked module into a
# component; only a recommendation of rustc-web, so named here), the std
# sources (rust-web-src) to build the wasm std with -Zbuild-std, lld-22 for
# wasm-ld, and wasi-libc. host/build.rs finds these by their paths.
set -euo pipefail

log() { printf 'setup: %s\n' "$*" >&2; }

if ! command -v cargo >/dev/null 2>&1; then
    if [ -x "$HOME/.cargo/bin/cargo" ]; then
        export PATH="$HOME/.cargo/bin:$PATH"
    else
        log "cargo is not installed: install rustup's stable toolchain first"
        exit 1
    fi
fi

missing=()
[ -x /usr/bin/rustc ] || missing+=(rustc-web)
[ -x /usr/bin/cargo ] || missing+=(cargo-web)
[ -x /usr/lib/rustlib/x86_64-unknown-linux-gnu/bin/wasm-component-ld ] || missing+=(rust-web-llvm)
[ -d /usr/lib/rustlib/src/rust/library/std ] || missing+=(rust-web-src)
[ -x /usr/bin/wasm-ld-22 ] || missing+=(lld-22)
[ -f /usr/lib/wasm32-wasi/libc.a ] || missing+=(wasi-libc)

if [ ${#missing[@]} -eq 0 ]; then
    log "Debian's wasm toolchain is installed"
    exit 0
fi

log "installing ${missing[*]} (and their dependencies)"
sudo=()
if [ "$(id -u)" -ne 0 ]; then
    sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends \
    rustc-web cargo-web rust-web-llvm rust-web-src lld-22 wasi-libc
log "done"
