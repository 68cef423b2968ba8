#!/usr/bin/env bash
# Runs spdyspec against our own spdyd for SPDY/2, SPDY/3 and SPDY/3.1 over plain TCP, and
# SPDY/3.1 over TLS with ALPN, each on a fresh spdyd serving a folder with a small index and
# a 200 000-byte /big (the flow-control cases' resource).
#
#   scripts/spdyspec-spdyd.sh [BIN_DIR]      default: the debug build (swift build first)
#
# Writes a JUnit report per run to $SPDYSPEC_JUNIT_DIR (default: a temporary folder) and ends
# with "spdyspec: N passed, N failed" (runs, not cases); exits 1 when a run had a failed case.
set -uo pipefail
cd "$(dirname "$0")/.."
bin=${1:-$(swift build --show-bin-path)}
for tool in spdyd spdyspec; do
    [ -x "$bin/$tool" ] || { echo "spdyspec-spdyd: $bin/$tool is missing (swift build first)" >&2; exit 2; }
done
work=$(mktemp -d)
junit_dir=${SPDYSPEC_JUNIT_DIR:-$work/junit}
mkdir -p "$work/www" "$junit_dir"
echo "spdyspec" >"$work/www/index.html"
head -c 200000 /dev/zero | tr '\0' 'a' >"$work/www/big"
server=""
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

passed=0 failed=0
run() { # NAME SPDYD_FLAGS SPDYSPEC_FLAGS
    local name=$1 port
    port=$(free_port)
    # shellcheck disable=SC2086
    "$bin/spdyd" $2 -d "$work/www" "$port" >"$work/spdyd-$name.log" 2>&1 &
    server=$!
    for _ in $(seq 1 100); do
        grep -q "listen on port" "$work/spdyd-$name.log" 2>/dev/null && break
        sleep 0.1
    done
    # shellcheck disable=SC2086
    if "$bin/spdyspec" $3 --junit "$junit_dir/$name.xml" 127.0.0.1 "$port" >"$work/$name.txt" 2>&1; then
        passed=$((passed + 1))
        echo "spdyspec: $name: $(tail -1 "$work/$name.txt")"
    else
        failed=$((failed + 1))
        echo "spdyspec: $name FAILED: $(tail -1 "$work/$name.txt")"
        grep -A2 "✘" "$work/$name.txt" | sed 's/^/    /'
    fi
    kill "$server" 2>/dev/null
    wait "$server" 2>/dev/null
    server=""
}
run spdy2 "--no-tls -2" "-2"
run spdy3 "--no-tls -3" "-3"
run spdy31 "--no-tls --spdy3-1" "--spdy3-1"
run spdy31-tls "--spdy3-1" "--spdy3-1 --tls -k"
echo "spdyspec: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
