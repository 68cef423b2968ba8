#!/usr/bin/env bash
# Runs spdyspec against the SPDY servers of other stacks, as Interop/run.sh builds them:
#   netty-spdy3.1   Netty 4.1's SPDY server as applications build it (SpdyFrameCodec +
#                   SpdySessionHandler + SpdyHttpEncoder/SpdyHttpDecoder +
#                   SpdyHttpResponseStreamIdHandler, SPDY/3.1) as
#                   Interop/netty/NettySpdyHttpServer, plain TCP, spdyspec --spdy3-1
#   netty-spdy3     the same server with spdyspec -3 (SPDY/3.1 is version 3 on the wire, so
#                   Netty takes SPDY/3 clients too; it keeps its 3.1 session window)
#   spdystream      github.com/moby/spdystream (SPDY/3, no flow control) as
#                   Interop/go/spdystream-server, plain TCP, spdyspec -3
# Both servers answer every path 200 with a small body, and GET /big with 200 000 bytes (the
# flow-control cases' resource). Netty's HTTP layer (SpdyHttpDecoder) answers a request
# without :method, :path, ... with 400 itself; spdystream-server has no HTTP layer.
#
#   scripts/spdyspec-peers.sh [SPDYSPEC_BIN] [OUT_DIR]
#
# SPDYSPEC_BIN defaults to .build/debug/spdyspec (build it first). OUT_DIR (default: a new
# temporary folder, printed at the end) gets NAME.txt (spdyspec's whole output), NAME.xml
# (JUnit) and NAME.server.log per run. Builds into .build-interop/ as Interop/run.sh does
# (needs javac and libnetty-java, golang-go and golang-github-docker-spdystream-dev; see
# scripts/install-interop-deps.sh). The Netty runs and the spdystream run go side by side
# (about 2 minutes in all), each on a fresh server. Prints one line per run and ends with
# "spdyspec-peers: N runs completed, N could not run". Failed cases are findings, not errors:
# the exit status is 0 when every run completed, whatever its cases found, and 2 when a run
# could not happen (spdyspec missing, a peer that did not build or start, spdyspec exit 2, or
# a run past SPDYSPEC_PEERS_RUN_TIMEOUT seconds, default 150).
set -uo pipefail
# Paths given on the command line are taken from the caller's folder.
absolute() { case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
spdyspec=${1:+$(absolute "$1")}
out_dir=${2:+$(absolute "$2")}
cd "$(dirname "$0")/.."
root=$(pwd)
spdyspec=${spdyspec:-$root/.build/debug/spdyspec}
if [ ! -x "$spdyspec" ]; then
    echo "spdyspec-peers: $spdyspec is missing (build spdyspec first, or pass its path)" >&2
    echo "spdyspec-peers: 0 runs completed, 3 could not run"
    exit 2
fi
[ -n "$out_dir" ] || out_dir=$(mktemp -d "${TMPDIR:-/tmp}/spdyspec-peers.XXXXXX")
mkdir -p "$out_dir"
out_dir=$(cd "$out_dir" && pwd)
build="$root/.build-interop"
mkdir -p "$build"
run_timeout=${SPDYSPEC_PEERS_RUN_TIMEOUT:-150}
work=$(mktemp -d)
lane_pids=()

# The lanes (below) kill their own server and spdyspec when told to stop.
cleanup() {
    local pid
    for pid in "${lane_pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
started=$(now)

# --- Build (the steps of Interop/run.sh) ---------------------------------------------------

netty_jars=""
for jar in common buffer transport codec codec-http handler resolver; do
    netty_jars="$netty_jars/usr/share/java/netty-$jar.jar:"
done
netty_missing=""
if ! command -v javac >/dev/null 2>&1 || [ ! -f /usr/share/java/netty-codec-http.jar ]; then
    netty_missing="the Netty server is not built (libnetty-java, javac)"
else
    # A folder of its own, not Interop/run.sh's .build-interop/netty, so that the two can run
    # at the same time.
    rm -rf "$build/netty-spdyspec"
    mkdir -p "$build/netty-spdyspec"
    if ! javac -nowarn -d "$build/netty-spdyspec" -cp "$netty_jars" Interop/netty/NettySpdyHttpServer.java \
        >"$work/javac.log" 2>&1; then
        netty_missing="compiling NettySpdyHttpServer failed"
        tail -30 "$work/javac.log"
    fi
fi
netty_version=$(unzip -p /usr/share/java/netty-codec-http.jar META-INF/MANIFEST.MF 2>/dev/null |
    sed -n 's/^Implementation-Version: *\([^[:space:]]*\).*/\1/p')
java_command="java -Xmx1g -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp $netty_jars$build/netty-spdyspec"

go_missing=""
if ! command -v go >/dev/null 2>&1 || [ ! -d /usr/share/gocode/src/github.com/moby/spdystream ]; then
    go_missing="the spdystream server is not built (golang-go, golang-github-docker-spdystream-dev)"
elif ! GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$build/go-cache" GOFLAGS= \
    go build -o "$build/spdystream-server" ./Interop/go/spdystream-server >"$work/go.log" 2>&1; then
    go_missing="building the spdystream server failed"
    tail -30 "$work/go.log"
fi
echo "spdyspec-peers: built the peers in $(elapsed "$started") s"

# The start functions set server_pid and server_port (in the lane's subshell).
# Starts a server that picks its port on 127.0.0.1 and prints "PORT p", and waits up to
# SECONDS for that line: start_server LOG SECONDS COMMAND...
start_server() {
    local log=$1 seconds=$2 tries
    shift 2
    "$@" >"$log" 2>&1 &
    server_pid=$!
    for tries in $(seq $((seconds * 10))); do
        server_port=$(awk '/^PORT /{ print $2; exit }' "$log")
        [ -n "$server_port" ] && return 0
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    kill "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
    server_pid=""
    return 1
}

# NettySpdyHttpServer; the JVM gets 15 s to start.
# shellcheck disable=SC2086
start_netty() { start_server "$1" 15 $java_command NettySpdyHttpServer; }

start_spdystream() { start_server "$1" 10 "$build/spdystream-server"; }

# One run on a fresh server: run NAME DESCRIPTION MISSING START_FUNCTION SPDYSPEC_FLAGS...
# Writes its line to $work/NAME.line, and "completed" or "not-run" to $work/NAME.result.
run() {
    local name=$1 description=$2 missing=$3 start=$4
    shift 4
    local run_started status summary line result=not-run log="$out_dir/$name.server.log"
    run_started=$(now)
    if [ -n "$missing" ]; then
        line="NOT RUN: $missing"
    elif ! "$start" "$log"; then
        line="NOT RUN: the server did not start"$'\n'"$(tail -10 "$log" | sed 's/^/    /')"
    else
        # In the background, so that the lane's TERM trap runs at once.
        timeout -k 5 "$run_timeout" "$spdyspec" "$@" --no-tls --junit "$out_dir/$name.xml" 127.0.0.1 \
            "$server_port" >"$out_dir/$name.txt" 2>&1 &
        spec_pid=$!
        wait "$spec_pid"
        status=$?
        spec_pid=""
        kill "$server_pid" 2>/dev/null
        wait "$server_pid" 2>/dev/null
        server_pid=""
        summary=$(grep -E '^[0-9]+ cases: ' "$out_dir/$name.txt" | tail -1)
        case "$status" in
        0 | 1)
            result=completed
            line="$summary ($(elapsed "$run_started") s)"
            ;;
        124 | 137) line="NOT COMPLETED: spdyspec ran past ${run_timeout} s" ;;
        *) line="NOT RUN: spdyspec exit $status: $(tail -1 "$out_dir/$name.txt")" ;;
        esac
    fi
    echo "spdyspec-peers: $name ($description): $line" >"$work/$name.line"
    echo "$result" >"$work/$name.result"
}

# A lane runs its runs one after the other, in a subshell of its own; the Netty lane and the
# spdystream lane run side by side (spdystream's run is mostly waiting for timeouts).
lane() {
    server_pid=""
    spec_pid=""
    trap 'kill $spec_pid $server_pid 2>/dev/null; exit 143' TERM INT
    trap '[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null' EXIT
    while [ $# -gt 0 ]; do
        "run_$1"
        shift
    done
}
run_netty-spdy3.1() {
    run netty-spdy3.1 "Netty ${netty_version:-4.1}, SPDY/3.1" "$netty_missing" start_netty --spdy3-1
}
run_netty-spdy3() {
    run netty-spdy3 "Netty ${netty_version:-4.1}, SPDY/3 client on its SPDY/3.1-only server" "$netty_missing" \
        start_netty -3
}
run_spdystream() {
    run spdystream "spdystream, SPDY/3" "$go_missing" start_spdystream -3
}

lane netty-spdy3.1 netty-spdy3 &
lane_pids+=($!)
lane spdystream &
lane_pids+=($!)
wait "${lane_pids[@]}"
lane_pids=()

completed=0
not_run=0
for name in netty-spdy3.1 netty-spdy3 spdystream; do
    cat "$work/$name.line" 2>/dev/null || echo "spdyspec-peers: $name: NOT RUN: its lane stopped"
    if [ "$(cat "$work/$name.result" 2>/dev/null)" = completed ]; then
        completed=$((completed + 1))
    else
        not_run=$((not_run + 1))
    fi
done
echo "spdyspec-peers: reports in $out_dir ($(elapsed "$started") s in all)"
echo "spdyspec-peers: $completed runs completed, $not_run could not run"
[ "$not_run" -eq 0 ] || exit 2
