#!/usr/bin/env bash
# Cross-builds kiln-runner (Kiln's artifact loader and runner, no compiler)
# for the emulated architectures, installing what that needs first:
#   scripts/build-runners.sh [TRIPLE...]
# (default: aarch64-unknown-linux-gnu riscv64gc-unknown-linux-gnu
# s390x-unknown-linux-gnu). Output: target/kiln-runner/TRIPLE/release/kiln-runner,
# where `kiln run/check/wast --emulate` look for it.
#
# rustup here has only the x86_64 std, so the std for each target is built
# from source by Debian's Rust toolchain (rustc-web + rust-web-src, the same
# one that builds the compiler guests, installed by setup.sh) with
# -Zbuild-std, linked by Debian's cross gcc against the cross C library.
# The runners run under Debian's qemu-user with `-L /usr/TRIPLE-ish`.
# Not needed to build or test Kiln itself.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf 'build-runners: %s\n' "$*" >&2; }

triples=("$@")
[ ${#triples[@]} -gt 0 ] || triples=(aarch64-unknown-linux-gnu riscv64gc-unknown-linux-gnu s390x-unknown-linux-gnu)

scripts/setup.sh

# triple -> Debian's name for the GNU toolchain prefix and the libc package.
gnu_prefix() {
    case "$1" in
        aarch64-unknown-linux-gnu) echo aarch64-linux-gnu ;;
        riscv64gc-unknown-linux-gnu) echo riscv64-linux-gnu ;;
        s390x-unknown-linux-gnu) echo s390x-linux-gnu ;;
        *) log "no emulation for $1"; exit 2 ;;
    esac
}
libc_package() {
    case "$1" in
        aarch64-unknown-linux-gnu) echo libc6-dev-arm64-cross ;;
        riscv64gc-unknown-linux-gnu) echo libc6-dev-riscv64-cross ;;
        s390x-unknown-linux-gnu) echo libc6-dev-s390x-cross ;;
    esac
}

missing=()
command -v qemu-aarch64 >/dev/null 2>&1 || missing+=(qemu-user)
for triple in "${triples[@]}"; do
    prefix=$(gnu_prefix "$triple")
    command -v "$prefix-gcc" >/dev/null 2>&1 || missing+=("gcc-$prefix")
    [ -f "/usr/$prefix/lib/libc.so" ] || missing+=("$(libc_package "$triple")")
done
if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -q
    "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

for triple in "${triples[@]}"; do
    prefix=$(gnu_prefix "$triple")
    upper=$(echo "$triple" | tr 'a-z-' 'A-Z_')
    lower=$(echo "$triple" | tr '-' '_')
    log "building kiln-runner for $triple"
    env -u RUSTFLAGS -u CARGO_BUILD_RUSTFLAGS \
        RUSTC_BOOTSTRAP=1 RUSTC=/usr/bin/rustc \
        "CARGO_TARGET_${upper}_LINKER=$prefix-gcc" \
        "CC_${lower}=$prefix-gcc" "AR_${lower}=$prefix-ar" \
        /usr/bin/cargo build --release --locked -p kiln-runner \
        --target "$triple" -Zbuild-std=std,panic_unwind \
        --target-dir target/kiln-runner-build
    mkdir -p "target/kiln-runner/$triple/release"
    cp "target/kiln-runner-build/$triple/release/kiln-runner" "target/kiln-runner/$triple/release/kiln-runner.partial"
    mv "target/kiln-runner/$triple/release/kiln-runner.partial" "target/kiln-runner/$triple/release/kiln-runner"
done
log "done: $(printf '%s ' "${triples[@]}")"
