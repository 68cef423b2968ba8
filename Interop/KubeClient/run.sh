#!/usr/bin/env bash
# Our Kubernetes client (SPDYKubernetes: exec, attach, port-forward) against two servers:
# the Go kubelet-peer (Interop/go/kubelet-peer, the kubelet's streaming code on
# moby/spdystream, an independent SPDY stack) and kube-pod (our own server side). Builds
# kube-interop, kube-pod and the Go peer, starts each server on a free port, runs
# kube-interop against it, prints one line per server and ends with
# "kube-client: N passed, N failed"; exits non-zero when one failed.
#
# Needs go and golang-github-docker-spdystream-dev (scripts/install-interop-deps.sh).
# Environment:
#   KUBE_INTEROP               a built kube-interop to use instead of building it
#   KUBE_POD                   a built kube-pod to use instead of building it
#   KUBE_INTEROP_SCRATCH       SwiftPM scratch path for building them (default .build)
#   KUBE_INTEROP_CASE_TIMEOUT  seconds per case (default 15)
#   KUBE_INTEROP_PEER_TIMEOUT  seconds for all the cases against one server (default 50)
#   KUBE_INTEROP_VERBOSE       1: print every case's line and details
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
out="$root/.build-interop"
mkdir -p "$out"
logs=$(mktemp -d)
case_timeout=${KUBE_INTEROP_CASE_TIMEOUT:-15}
peer_timeout=${KUBE_INTEROP_PEER_TIMEOUT:-50}
verbose=${KUBE_INTEROP_VERBOSE:-0}
passed=0
failed=0
pids=()

cleanup() {
    local pid
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null
    done
    rm -rf "$logs"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

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

show_logs() {
    local file
    for file in "$@"; do
        [ -s "$file" ] || continue
        echo "  --- $(basename "$file") (last 40 lines)"
        tail -40 "$file" | sed 's/^/  | /'
    done
}

# Starts a server in the background; sets server_pid and server_port once `pattern` (an awk
# program printing the port) finds the port in its stdout, within 15 s.
#   start_server NAME 'awk program' command...
start_server() {
    local name=$1 pattern=$2
    shift 2
    : >"$logs/$name.stdout"
    : >"$logs/$name.log"
    "$@" >"$logs/$name.stdout" 2>"$logs/$name.log" &
    server_pid=$!
    pids+=("$server_pid")
    server_port=""
    local tries=0
    while [ "$tries" -lt 150 ]; do
        server_port=$(awk "$pattern" "$logs/$name.stdout")
        [ -n "$server_port" ] && return 0
        kill -0 "$server_pid" 2>/dev/null || return 1
        sleep 0.1
        tries=$((tries + 1))
    done
    return 1
}

# Runs kube-interop against a started server.
#   run_cell CELL PEER-NAME PEER-ARGUMENT
run_cell() {
    local cell=$1 name=$2 peer=$3 started status reason
    started=$(now)
    local verbose_flag=()
    [ "$verbose" = 1 ] && verbose_flag=(--verbose)
    timeout -k 5 "$peer_timeout" "$driver" --port "$server_port" --peer "$peer" --timeout "$case_timeout" \
        "${verbose_flag[@]}" >"$logs/$cell.client.log" 2>&1
    status=$?
    if [ "$verbose" = 1 ]; then sed 's/^/  /' "$logs/$cell.client.log"; fi
    if [ "$status" -eq 0 ] && grep -q "^kube-interop: [0-9]* passed, 0 failed" "$logs/$cell.client.log"; then
        pass "$cell" "$(elapsed "$started")"
        return
    fi
    reason="kube-interop exit $status"
    [ "$status" -eq 124 ] && reason="$reason (timed out after $peer_timeout s)"
    if ! kill -0 "$server_pid" 2>/dev/null; then reason="$reason; the $name exited"; fi
    local lines
    lines=$(grep -E "^FAIL " "$logs/$cell.client.log" | sed 's/^/    /')
    [ -n "$lines" ] && reason="$reason"$'\n'"$lines"
    fail "$cell" "$reason"
    show_logs "$logs/$cell.client.log" "$logs/$name.log"
}

# --- Build -------------------------------------------------------------------------------

build_started=$(now)
scratch=${KUBE_INTEROP_SCRATCH:-.build}
build_product() {
    local product=$1
    if swift build --scratch-path "$scratch" --product "$product" >"$logs/build-$product.log" 2>&1; then
        echo "$(swift build --scratch-path "$scratch" --show-bin-path)/$product"
    else
        echo "kube-client: building $product failed" >&2
        tail -30 "$logs/build-$product.log" >&2
    fi
}
driver=${KUBE_INTEROP:-}
[ -z "$driver" ] && driver=$(build_product kube-interop)
kube_pod=${KUBE_POD:-}
[ -z "$kube_pod" ] && kube_pod=$(build_product kube-pod)

kubelet_peer=""
if scripts/build-kubelet-peer.sh "$out" >"$logs/build-kubelet-peer.log" 2>&1; then
    kubelet_peer="$out/kubelet-peer"
else
    echo "kube-client: building the kubelet-peer failed"
    tail -30 "$logs/build-kubelet-peer.log"
fi
echo "kube-client: built kube-interop, kube-pod and the kubelet-peer in $(elapsed "$build_started") s"

# --- Cells -------------------------------------------------------------------------------

suite_started=$(now)

if [ -z "$driver" ] || [ ! -x "$driver" ]; then
    fail kube-client-to-kubelet-peer "no kube-interop"
    fail kube-client-to-kube-pod "no kube-interop"
else
    if [ -z "$kubelet_peer" ]; then
        fail kube-client-to-kubelet-peer "the kubelet-peer is not built (go, golang-github-docker-spdystream-dev)"
    elif ! start_server kubelet-peer '/^LISTENING /{ print $2; exit }' \
        "$kubelet_peer" -listen 127.0.0.1:0; then
        fail kube-client-to-kubelet-peer "the kubelet-peer did not start"
        show_logs "$logs/kubelet-peer.stdout" "$logs/kubelet-peer.log"
    else
        run_cell kube-client-to-kubelet-peer kubelet-peer kubelet
        kill "$server_pid" 2>/dev/null
    fi

    if [ -z "$kube_pod" ] || [ ! -x "$kube_pod" ]; then
        fail kube-client-to-kube-pod "no kube-pod"
    elif ! start_server kube-pod 'NR == 1 && match($0, /127\.0\.0\.1:[0-9]+/) { print substr($0, RSTART + 10, RLENGTH - 10); exit }' \
        "$kube_pod" --port 0 --root "$logs/pod-root" --verbose; then
        fail kube-client-to-kube-pod "kube-pod did not start"
        show_logs "$logs/kube-pod.stdout" "$logs/kube-pod.log"
    else
        run_cell kube-client-to-kube-pod kube-pod kube-pod
        kill "$server_pid" 2>/dev/null
    fi
fi

if [ "$verbose" = 1 ]; then echo "kube-client: the cells took $(elapsed "$suite_started") s"; fi
echo "kube-client: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
