#!/usr/bin/env bash
# The interoperability suite: our SPDY stack against Netty (SPDY/3.1, and its HTTP mapping
# against the Hummingbird integration), spdystream (SPDY/3) and Wireshark's dissector (SPDY/3).
# Builds the peers from Interop/ into .build-interop/ (gitignored), runs every cell with a
# timeout, prints one line per cell and closes with "interop: N passed, N failed"; exits
# non-zero when a cell failed.
#
# Needs the packages of scripts/install-interop-deps.sh. Environment:
#   INTEROP_DRIVER   a built spdy-interop to use instead of building it
#   INTEROP_SCRATCH  SwiftPM scratch path for building it (default .build, which `swift test`
#                    has filled already in CI, so the build is a no-op there)
#   INTEROP_TIMEOUT  seconds per cell (default 120)
#   INTEROP_VERBOSE  1: print every cell's full output
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out="$root/.build-interop"
mkdir -p "$out"
logs=$(mktemp -d)
cell_timeout=${INTEROP_TIMEOUT:-120}
passed=0
failed=0
pids=()

cleanup() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null
    done
    rm -rf "$logs"
}
trap cleanup EXIT

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

pass() {
    passed=$((passed + 1))
    echo "PASS $1 ($2 s)"
}

fail() {
    failed=$((failed + 1))
    echo "FAIL $1: $2"
}

# The reason a cell failed: the FAIL lines its programs printed, else what happened.
reason_from() {
    local lines
    lines=$(grep -h "FAIL" "$@" 2>/dev/null | head -5 | sed 's/^/    /')
    if [ -n "$lines" ]; then printf '\n%s' "$lines"; fi
}

show_logs() {
    local file
    for file in "$@"; do
        [ -s "$file" ] || continue
        echo "  --- $(basename "$file") (last 25 lines)"
        tail -25 "$file" | sed 's/^/  | /'
    done
}

# Waits up to $2 seconds for process $1 to exit, then kills it; the exit status, or 124.
finish_process() {
    local pid=$1 limit=$2 waited=0
    while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt $((limit * 10)) ]; do
        sleep 0.1
        waited=$((waited + 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        return 124
    fi
    wait "$pid"
}

# Starts a server that prints "PORT p" once listening; sets server_pid and server_port.
start_server() {
    local log=$1
    shift
    : >"$log"
    timeout -k 5 "$cell_timeout" "$@" >"$log" 2>&1 &
    server_pid=$!
    pids+=("$server_pid")
    server_port=""
    local tries=0
    while [ "$tries" -lt 300 ]; do
        server_port=$(awk '/^PORT /{ print $2; exit }' "$log")
        [ -n "$server_port" ] && return 0
        kill -0 "$server_pid" 2>/dev/null || return 1
        sleep 0.1
        tries=$((tries + 1))
    done
    return 1
}

# A cell: a server program, then a client program against it; both must exit 0.
#   run_pair NAME "server command" "client command" (the client gets the port as $PORT)
run_pair() {
    local name=$1 server_command=$2 client_command=$3
    local started server_status client_status
    started=$(now)
    local server_log="$logs/$name.server.log" client_log="$logs/$name.client.log"
    if ! start_server "$server_log" bash -c "$server_command"; then
        fail "$name" "the server did not start$(reason_from "$server_log")"
        show_logs "$server_log"
        return
    fi
    PORT=$server_port timeout -k 5 "$cell_timeout" bash -c "$client_command" >"$client_log" 2>&1
    client_status=$?
    finish_process "$server_pid" 20
    server_status=$?
    if [ "${INTEROP_VERBOSE:-0}" = 1 ]; then show_logs "$client_log" "$server_log"; fi
    if [ "$client_status" -eq 0 ] && [ "$server_status" -eq 0 ]; then
        pass "$name" "$(elapsed "$started")"
    else
        local what="client exit $client_status, server exit $server_status"
        if [ "$client_status" -eq 124 ] || [ "$server_status" -eq 124 ]; then what="$what (timed out)"; fi
        fail "$name" "$what$(reason_from "$client_log" "$server_log")"
        show_logs "$client_log" "$server_log"
    fi
}

# --- Build -------------------------------------------------------------------------------

missing=()
for tool in javac java go tshark text2pcap; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "interop: missing ${missing[*]} (run scripts/install-interop-deps.sh)"
fi

build_started=$(now)
driver=${INTEROP_DRIVER:-}
if [ -z "$driver" ]; then
    scratch=${INTEROP_SCRATCH:-.build}
    if swift build --scratch-path "$scratch" --product spdy-interop >"$logs/swift-build.log" 2>&1; then
        driver="$root/$scratch/debug/spdy-interop"
    else
        echo "interop: building spdy-interop failed"
        tail -30 "$logs/swift-build.log"
    fi
fi

netty_jars=""
for jar in common buffer transport codec codec-http handler resolver; do
    netty_jars="$netty_jars/usr/share/java/netty-$jar.jar:"
done
netty_ok=0
if command -v javac >/dev/null 2>&1 && [ -f /usr/share/java/netty-codec-http.jar ]; then
    rm -rf "$out/netty"
    mkdir -p "$out/netty"
    if javac -nowarn -d "$out/netty" -cp "$netty_jars" Interop/netty/*.java >"$logs/javac.log" 2>&1; then
        netty_ok=1
    else
        echo "interop: compiling the Netty peers failed"
        tail -30 "$logs/javac.log"
    fi
fi
java_command="java -Xmx1g -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp $netty_jars$out/netty"

go_ok=0
if command -v go >/dev/null 2>&1 && [ -d /usr/share/gocode/src/github.com/moby/spdystream ]; then
    if GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$out/go-cache" GOFLAGS= \
        go build -o "$out/spdystream-peer" ./Interop/go/spdystream-peer >"$logs/go.log" 2>&1; then
        go_ok=1
    else
        echo "interop: building the spdystream peer failed"
        tail -30 "$logs/go.log"
    fi
fi
# The Hummingbird example app (Integrations/HummingbirdSPDY), for Netty's HTTP mapping. CI has
# built it in the integration stage; elsewhere this builds it (about 5 minutes the first time).
hb_dir="$root/Integrations/HummingbirdSPDY"
hb_example=""
if [ -f "$hb_dir/Package.swift" ]; then
    if swift build --package-path "$hb_dir" --product hummingbird-spdy-example >"$logs/hummingbird-build.log" 2>&1; then
        hb_example="$hb_dir/.build/debug/hummingbird-spdy-example"
    else
        echo "interop: building the Hummingbird example failed"
        tail -30 "$logs/hummingbird-build.log"
    fi
fi
echo "interop: built the driver and the peers in $(elapsed "$build_started") s"

# --- Cells -------------------------------------------------------------------------------

suite_started=$(now)

if [ -z "$driver" ] || [ ! -x "$driver" ]; then
    for cell in netty-client-to-swift-server swift-client-to-netty-server spdystream-client-to-swift-server \
        swift-client-to-spdystream-server tshark-dissects-swift-frames; do
        fail "$cell" "no spdy-interop driver"
    done
else
    # A cell whose peer did not build fails with the reason.
    pair_or_fail() {
        local built=$1 missing=$2
        shift 2
        if [ "$built" = 1 ]; then run_pair "$@"; else fail "$1" "$missing"; fi
    }
    netty_missing="the Netty peers are not built (libnetty-java, javac)"
    go_missing="the spdystream peer is not built (golang-go, golang-github-docker-spdystream-dev)"
    netty_expect=goaway-received,peer-ping,ping-reply,wu-sent-stream,wu-sent-session,wu-received-stream,wu-received-session,100-streams
    pair_or_fail "$netty_ok" "$netty_missing" netty-client-to-swift-server \
        "'$driver' server --version 3.1 --connections 1 --expect $netty_expect --timeout $cell_timeout" \
        "$java_command NettyClient \$PORT"
    pair_or_fail "$netty_ok" "$netty_missing" swift-client-to-netty-server \
        "$java_command NettyServer" \
        "'$driver' client --scenario netty --port \$PORT --timeout $cell_timeout"
    pair_or_fail "$go_ok" "$go_missing" spdystream-client-to-swift-server \
        "'$driver' server --version 3 --connections 1 --expect goaway-received,peer-ping,ping-reply --timeout $cell_timeout" \
        "'$out/spdystream-peer' client \$PORT"
    pair_or_fail "$go_ok" "$go_missing" swift-client-to-spdystream-server \
        "'$out/spdystream-peer' server" \
        "'$driver' client --scenario spdystream --port \$PORT --timeout $cell_timeout"

    # Wireshark: our encoders' SPDY/3 frames, one per packet, as a pcap made by text2pcap.
    started=$(now)
    cell=tshark-dissects-swift-frames
    if command -v tshark >/dev/null 2>&1 && command -v text2pcap >/dev/null 2>&1; then
        fields=()
        for field in frame.number spdy.control_bit spdy.version spdy.type spdy.flags spdy.streamid \
            spdy.associated.streamid spdy.priority spdy.header.name spdy.header.value spdy.data \
            spdy.rst_stream_status spdy.setting.id spdy.setting.value spdy.ping_id \
            spdy.goaway_last_good_stream_id spdy.goaway_status spdy.window_update_delta _ws.expert.message \
            _ws.malformed; do
            fields+=(-e "$field")
        done
        log="$logs/$cell.log"
        if "$driver" frames --dump "$logs/frames.txt" >"$log" 2>&1 &&
            text2pcap -q -D -T 40000,8080 "$logs/frames.txt" "$logs/frames.pcapng" >>"$log" 2>&1 &&
            timeout -k 5 "$cell_timeout" tshark -n -r "$logs/frames.pcapng" -d tcp.port==8080,spdy \
                -T fields -E separator=/t -E 'aggregator=|' "${fields[@]}" >"$logs/tshark.tsv" 2>>"$log" &&
            "$driver" frames --verify "$logs/tshark.tsv" >>"$log" 2>&1; then
            pass "$cell" "$(elapsed "$started")"
        else
            fail "$cell" "the dissection differs from what was encoded$(reason_from "$log")"
            show_logs "$log"
        fi
        if [ "${INTEROP_VERBOSE:-0}" = 1 ]; then show_logs "$log"; fi
    else
        fail "$cell" "tshark or text2pcap is missing"
    fi
fi

# Netty's own HTTP mapping (SpdyHttpEncoder/SpdyHttpDecoder over SpdySessionHandler) as a
# client of the Hummingbird example app over SPDY/3.1 on plain TCP; then SIGTERM must stop the
# app gracefully (exit 0).
started=$(now)
cell=netty-http-client-to-hummingbird
if [ "$netty_ok" != 1 ]; then
    fail "$cell" "the Netty peers are not built (libnetty-java, javac)"
elif [ -z "$hb_example" ] || [ ! -x "$hb_example" ]; then
    fail "$cell" "the Hummingbird example is not built"
else
    server_log="$logs/$cell.server.log"
    client_log="$logs/$cell.client.log"
    "$hb_example" --plain --port 0 >"$server_log" 2>&1 &
    hb_pid=$!
    pids+=("$hb_pid")
    hb_port=""
    for _ in $(seq 300); do
        hb_port=$(sed -n 's/^listening on .*:\([0-9][0-9]*\)$/\1/p' "$server_log" | head -1)
        [ -n "$hb_port" ] && break
        kill -0 "$hb_pid" 2>/dev/null || break
        sleep 0.1
    done
    if [ -z "$hb_port" ]; then
        fail "$cell" "the Hummingbird example did not start"
        show_logs "$server_log"
        kill "$hb_pid" 2>/dev/null
    else
        timeout -k 5 "$cell_timeout" $java_command NettyHttpClient "$hb_port" >"$client_log" 2>&1
        client_status=$?
        kill -TERM "$hb_pid" 2>/dev/null
        finish_process "$hb_pid" 20
        server_status=$?
        if [ "${INTEROP_VERBOSE:-0}" = 1 ]; then show_logs "$client_log" "$server_log"; fi
        if [ "$client_status" -eq 0 ] && [ "$server_status" -eq 0 ]; then
            pass "$cell" "$(elapsed "$started")"
        else
            fail "$cell" "client exit $client_status, server exit $server_status (after SIGTERM)$(reason_from "$client_log")"
            show_logs "$client_log" "$server_log"
        fi
    fi
fi

# Kubernetes: the real kubectl against kube-pod, and our client against kube-pod and against
# a kubelet-like peer on spdystream. Each script prints its own PASS/FAIL lines.
for script in Interop/kubectl/run.sh Interop/KubeClient/run.sh; do
    sub_log="$logs/$(basename "$(dirname "$script")").log"
    bash "$script" 2>&1 | tee "$sub_log"
    sub_passed=$(grep -c '^PASS ' "$sub_log")
    sub_failed=$(grep -c '^FAIL ' "$sub_log")
    if [ "$sub_passed" -eq 0 ] && [ "$sub_failed" -eq 0 ]; then
        fail "$script" "it ran no cell"
    fi
    passed=$((passed + sub_passed))
    failed=$((failed + sub_failed))
done

echo "interop: cells ran in $(elapsed "$suite_started") s"
echo "interop: ${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
