#!/usr/bin/env bash
# The compile service's load test, on loopback only:
#   scripts/load-test.sh [SECONDS]             both set-ups below, in turn
#   scripts/load-test.sh --single [SECONDS]    one `kiln serve`
#   scripts/load-test.sh --replicas [SECONDS]  two behind HAProxy, one killed mid-test
#
# Good load comes from `wrk` (Debian's), which checks every 200 body byte
# for byte against `kiln compile`'s artifact for that input
# (scripts/load/good.lua); hostile load comes from `kiln-load`
# (host/src/bin/kiln-load), which checks every hostile answer's status.
# Single server: wrk alone for SECONDS, then wrk with the hostile mix for
# SECONDS. Replicas: wrk with the hostile mix through HAProxy for SECONDS,
# one replica SIGKILLed halfway. The report (JSON lines and a summary)
# goes to target/load-test/; the script exits non-zero on any corrupt or
# wrong answer, or an unhealthy service at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf 'load-test: %s\n' "$*" >&2; }

case "${1:-}" in
    --single) replicas=0; shift ;;
    --replicas) replicas=1; shift ;;
    *)
        "$0" --single "$@"
        cp -r target/load-test target/load-test-single
        "$0" --replicas "$@"
        rm -rf target/load-test-replicas
        mv target/load-test target/load-test-replicas
        mv target/load-test-single target/load-test
        log "reports: target/load-test (single server), target/load-test-replicas"
        exit 0 ;;
esac
seconds=${1:-30}
target=x86_64-unknown-linux-gnu

need() {
    command -v "$1" >/dev/null && return 0
    log "installing $2 (Debian)"
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get install -y "$2" >/dev/null 2>&1 || { $sudo apt-get update >/dev/null 2>&1 && $sudo apt-get install -y "$2" >/dev/null; }
}
need wrk wrk
[ $replicas = 1 ] && need haproxy haproxy

scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
log "building kiln and kiln-load"
cargo build -p host --bins 2>&1 | tail -1 >&2
kiln=$PWD/target/debug/kiln
load=$PWD/target/debug/kiln-load

out=$PWD/target/load-test
rm -rf "$out"
mkdir -p "$out/expected"

# Good inputs: the fixtures, and Sightglass modules of a few sizes when
# the corpus is present. Each input's expected artifact is `kiln compile`'s.
inputs=(tests/fixtures/math.wat tests/fixtures/primes.wat tests/fixtures/adder.wat)
for name in noop quicksort richards; do
    file=../shared/corpus/sightglass/$name/benchmark.wasm
    [ -f "$file" ] && inputs+=("$file")
done
pairs=()
for input in "${inputs[@]}"; do
    name=$(echo "$input" | tr '/.' '__')
    "$kiln" compile "$input" --target $target -o "$out/expected/$name.cwasm" >/dev/null
    digest=$(sha256sum "$input" | cut -d' ' -f1)
    pairs+=("$PWD/$input=$digest=$out/expected/$name.cwasm")
done
module=$out/module.wasm
cp tests/fixtures/primes.wat "$module"

cat >"$out/serve.toml" <<EOF
max_body = "8MiB"
concurrency = 2
queue = 64
jobs = 2
header_timeout_s = 5
body_timeout_s = 5
grace_s = 30
[limits]
timeout_s = 3
max_memory = "1GiB"
EOF

pids=()
cleanup() { for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

# Starts a replica; sets $port and $pid.
start_server() {
    local fifo=$out/stdout.$1
    "$kiln" serve --listen 127.0.0.1:0 --config "$out/serve.toml" --log-json \
        >"$fifo" 2>"$out/serve.$1.log" &
    pid=$!
    pids+=("$pid")
    for _ in $(seq 600); do
        port=$(sed -n 's|^listening on http://127.0.0.1:||p' "$fifo")
        [ -n "$port" ] && return 0
        sleep 0.1
    done
    log "replica $1 did not start"; cat "$out/serve.$1.log" >&2; exit 1
}

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kib() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }

run_wrk() { # ADDR SECONDS REPORT
    wrk -t2 -c8 -d"$2"s --timeout 60s -s scripts/load/good.lua "http://$1" -- $target "${pairs[@]}" \
        | tail -1 >"$3"
    cat "$3" >&2
}

hostile() { # ADDR SECONDS REPORT
    "$load" --addr "$1" --seconds "$2" --threads 4 --max-body $((8 << 20)) --body-timeout 5 \
        --module "$module" --target $target >"$3" || true
    cat "$3" >&2
}

if [ $replicas = 0 ]; then
    start_server one
    addr=127.0.0.1:$port
    server=$pid
    # Warm up (the first compile loads the guest), then measure.
    curl -sf --data-binary @tests/fixtures/math.wat "http://$addr/v1/compile?target=$target" -o /dev/null
    rss_start=$(rss_kib "$server")
    log "single server: wrk alone, ${seconds}s"
    run_wrk "$addr" "$seconds" "$out/good-alone.json"
    rss_mid=$(rss_kib "$server")
    log "single server: wrk with the hostile mix, ${seconds}s"
    hostile "$addr" "$seconds" "$out/hostile.json" &
    hostile_pid=$!
    run_wrk "$addr" "$seconds" "$out/good-mixed.json"
    wait $hostile_pid
    sleep 1
    rss_end=$(rss_kib "$server")
    hwm=$(hwm_kib "$server")
    healthy=$(curl -s -o /dev/null -w '%{http_code}' "http://$addr/healthz")
    check=$(curl -s -o /dev/null -w '%{http_code}' --data-binary @tests/fixtures/math.wat "http://$addr/v1/compile?target=$target")
    curl -s "http://$addr/metrics" >"$out/metrics.txt"
    kill -TERM "$server"
    wait "$server" && exit_status=0 || exit_status=$?
    printf '{"rss_start_kib":%s,"rss_after_good_kib":%s,"rss_end_kib":%s,"rss_peak_kib":%s,"healthz_after":%s,"compile_after":%s,"exit_after_sigterm":%s}\n' \
        "$rss_start" "$rss_mid" "$rss_end" "$hwm" "$healthy" "$check" "$exit_status" | tee "$out/server.json" >&2
    [ "$healthy" = 200 ] && [ "$check" = 200 ] && [ "$exit_status" = 0 ] || exit 1
    # The bound on growth: what the sandbox keeps for reuse (pooled and
    # zeroed guest memories, the compiled guests) stays under 256 MiB
    # above the warm start, whatever the traffic was.
    if [ $(( rss_end - rss_start )) -gt $(( 256 * 1024 )) ]; then
        log "the server grew by $(( (rss_end - rss_start) / 1024 )) MiB, past the 256 MiB bound"
        exit 1
    fi
else
    start_server a; port_a=$port; pid_a=$pid
    start_server b; port_b=$port; pid_b=$pid
    front=$(( 20000 + RANDOM % 20000 ))
    sed -e "s/__FRONT__/$front/" -e "s/__A__/$port_a/" -e "s/__B__/$port_b/" \
        scripts/load/haproxy.cfg >"$out/haproxy.cfg"
    haproxy -f "$out/haproxy.cfg" -db >"$out/haproxy.log" 2>&1 &
    pids+=("$!")
    addr=127.0.0.1:$front
    for _ in $(seq 100); do
        curl -sf "http://$addr/readyz" >/dev/null && break
        sleep 0.1
    done
    for p in $port_a $port_b; do
        curl -sf --data-binary @tests/fixtures/math.wat "http://127.0.0.1:$p/v1/compile?target=$target" -o /dev/null
    done
    log "two replicas behind HAProxy: wrk with the hostile mix, ${seconds}s; replica a SIGKILLed at $((seconds / 2))s"
    hostile "$addr" "$seconds" "$out/hostile.json" &
    hostile_pid=$!
    ( sleep $((seconds / 2)); kill -9 "$pid_a"; log "replica a killed" ) &
    run_wrk "$addr" "$seconds" "$out/good-replicas.json"
    wait $hostile_pid
    healthy=$(curl -s -o /dev/null -w '%{http_code}' "http://$addr/healthz")
    check=$(curl -s -o /dev/null -w '%{http_code}' --data-binary @tests/fixtures/math.wat "http://$addr/v1/compile?target=$target")
    printf '{"healthz_after":%s,"compile_after":%s}\n' "$healthy" "$check" | tee "$out/server.json" >&2
    [ "$healthy" = 200 ] && [ "$check" = 200 ] || exit 1
fi

# Any corrupt artifact or wrong hostile answer fails the run.
corrupt=$(cat "$out"/good-*.json | sed -n 's/.*"corrupt":\([0-9]*\).*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
wrong=$(sed -n 's/.*"wrong":\([0-9]*\),.*/\1/p' "$out/hostile.json")
log "corrupt artifacts: $corrupt; wrong hostile answers: ${wrong:-?}"
[ "$corrupt" = 0 ] && [ "${wrong:-1}" = 0 ]
