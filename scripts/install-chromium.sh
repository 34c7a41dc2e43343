#!/usr/bin/env bash
# Installs Debian's `chromium` package (the browser the page's end-to-end
# tests in js/test/browser/ drive through playwright-core), unless
# /usr/bin/chromium is already there, and prints the browser's path:
#   CHROMIUM=$(scripts/install-chromium.sh)
# It uses apt-get non-interactively, through sudo only when not run as
# root. Running it again does nothing but print the path. When the browser
# cannot be had (no apt-get, no root and no sudo, the install fails), it
# exits non-zero with the reason on stderr, which the browser tests print
# when they skip.
#
# Environment: CHROMIUM, a browser path to check instead of /usr/bin/chromium.
set -euo pipefail

log() { printf 'install-chromium: %s\n' "$*" >&2; }
fail() { log "$*"; exit 1; }

browser="${CHROMIUM:-/usr/bin/chromium}"

if [[ -x "$browser" ]]; then
    printf '%s\n' "$browser"
    exit 0
fi
if [[ -n "${CHROMIUM:-}" ]]; then
    fail "CHROMIUM is set to $browser, which is not an executable file"
fi

command -v apt-get >/dev/null 2>&1 ||
    fail "no $browser and no apt-get to install it with (this script knows only Debian's package)"

as_root=()
if [[ "$(id -u)" != 0 ]]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        as_root=(sudo -n)
    else
        fail "no $browser, and installing it needs root: run this as root or with password-less sudo"
    fi
fi

export DEBIAN_FRONTEND=noninteractive
log "installing Debian's chromium package (a few minutes)"
# The package lists may be stale or missing in a fresh container; refresh
# them once, and retry the install after a refresh if it fails without one.
if ! "${as_root[@]}" apt-get install -y -q --no-install-recommends chromium >&2; then
    "${as_root[@]}" apt-get update -q >&2 || fail "apt-get update failed (is the package mirror reachable?)"
    "${as_root[@]}" apt-get install -y -q --no-install-recommends chromium >&2 ||
        fail "apt-get install chromium failed"
fi

[[ -x "$browser" ]] || fail "the chromium package is installed but $browser is missing"
printf '%s\n' "$browser"
