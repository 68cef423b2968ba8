#!/usr/bin/env bash
# Server CPU time per small request: starts each given server on a free port, serving a fresh
# folder with one file (FILE_SIZE bytes, 1 KiB by default), warms it up, then reads its
# utime+stime (/proc/PID/stat, fields 14 and 15: every thread of the process) before and after
# one spdyload run and divides the difference by the number of requests. Servers are measured
# one after the other, each started afresh and stopped after its run; with ROUNDS > 1 the
# servers alternate round by round (a noisy machine then hurts them alike) and the median of
# the rounds is printed for each.
#
# Usage: scripts/cpu-per-request.sh LABEL 'SERVER COMMAND' [LABEL 'SERVER COMMAND']... SPDYLOAD
#   In a server command {PORT} stands for the port and {DIR} for the folder to serve; the
#   command is run by bash (exec, so that its process is the server's: it must not daemonize).
#   Example:
#     scripts/cpu-per-request.sh \
#         ours 'path/to/spdyd --no-tls -3 -d {DIR} {PORT}' \
#         other 'path/to/other-spdyd --no-tls -3 -d {DIR} {PORT}' \
#         path/to/spdyload
# Environment (defaults): REQUESTS (6000), CLIENTS (2), STREAMS (1; spdyload -m),
#   WARMUP (200 requests), ROUNDS (1), FILE_SIZE (1024),
#   SPDYLOAD_ARGS ('--no-tls -3': the transport and version flags given to spdyload),
#   SCHEME (http; https for servers with TLS, with SPDYLOAD_ARGS such as '--spdy3-1').
# Prints per measurement: LABEL: X.X µs CPU per request (N requests, Y req/s, p50/p99 A/B), the
#   latencies being spdyload's "time for request" percentiles.
# The resolution is one clock tick (getconf CLK_TCK, usually 10 ms) at each end: keep
# REQUESTS x (CPU per request) well above it.
set -euo pipefail

if [ $# -lt 3 ] || [ $(($# % 2)) -ne 1 ]; then
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
fi

requests=${REQUESTS:-6000}
clients=${CLIENTS:-2}
streams=${STREAMS:-1}
warmup=${WARMUP:-200}
rounds=${ROUNDS:-1}
file_size=${FILE_SIZE:-1024}
read -r -a load_args <<<"${SPDYLOAD_ARGS:---no-tls -3}"

args=("$@")
spdyload=${args[$# - 1]}
labels=()
commands=()
for ((i = 0; i < $# - 1; i += 2)); do
    labels+=("${args[i]}")
    commands+=("${args[i + 1]}")
done
[ -x "$spdyload" ] || { echo "cpu-per-request: $spdyload is not an executable" >&2; exit 2; }

ticks_per_second=$(getconf CLK_TCK)
work=$(mktemp -d)
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

mkdir "$work/www"
head -c "$file_size" /dev/urandom >"$work/www/file.bin"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# utime + stime of a process, in clock ticks (field 2, the name, may hold spaces: cut after ')').
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }

# Runs spdyload; prints "REQ_PER_S SUCCEEDED" or fails with its output.
load() {
    local count=$1 port=$2 output
    if ! output=$("$spdyload" -n "$count" -c "$clients" -m "$streams" "${load_args[@]}" \
        "${SCHEME:-http}://127.0.0.1:$port/file.bin" 2>&1); then
        echo "cpu-per-request: spdyload failed:" >&2
        echo "$output" >&2
        return 1
    fi
    local rate succeeded latency
    rate=$(sed -n 's/^finished in .*s, \([0-9.]*\) req\/s.*/\1/p' <<<"$output")
    # spdyload's "time for request:" line: min mean p50 p90 p99 max.
    latency=$(awk '/^time for request:/ { print $6 "/" $8 }' <<<"$output")
    succeeded=$(sed -n 's/^requests: .* \([0-9]*\) succeeded.*/\1/p' <<<"$output")
    if [ -z "$rate" ] || [ "$succeeded" != "$count" ]; then
        echo "cpu-per-request: $count requests asked, ${succeeded:-?} succeeded:" >&2
        echo "$output" >&2
        return 1
    fi
    echo "$rate $succeeded ${latency:-?/?}"
}

# Measures one server; sets result_us (µs CPU per request) and result_rate (req/s).
measure() {
    local label=$1 command=$2 port log
    port=$(free_port)
    log="$work/server.log"
    command=${command//\{PORT\}/$port}
    command=${command//\{DIR\}/$work/www}
    bash -c "exec $command" >"$log" 2>&1 &
    server_pid=$!
    local up=""
    for _ in $(seq 200); do
        kill -0 "$server_pid" 2>/dev/null || break
        if (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then up=1; break; fi
        sleep 0.05
    done
    if [ -z "$up" ]; then
        echo "cpu-per-request: $label did not listen on port $port: $command" >&2
        tail -20 "$log" >&2
        exit 1
    fi
    if [ "$warmup" -gt 0 ]; then load "$warmup" "$port" >/dev/null; fi
    local before after output
    before=$(cpu_ticks "$server_pid")
    output=$(load "$requests" "$port")
    after=$(cpu_ticks "$server_pid")
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
    result_rate=$(awk '{ printf "%.0f", $1 }' <<<"$output")
    result_latency=$(awk '{ print $3 }' <<<"$output")
    result_us=$(awk -v d=$((after - before)) -v hz="$ticks_per_second" -v n="$requests" \
        'BEGIN { printf "%.1f", d / hz * 1e6 / n }')
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

declare -A results
for ((round = 1; round <= rounds; round++)); do
    for i in "${!labels[@]}"; do
        label=${labels[i]}
        measure "$label" "${commands[i]}"
        prefix=""
        [ "$rounds" -gt 1 ] && prefix="round $round: "
        echo "$prefix$label: $result_us µs CPU per request ($requests requests, $result_rate req/s," \
            "p50/p99 $result_latency)"
        results[$label]+="$result_us "
    done
done

if [ "$rounds" -gt 1 ]; then
    for label in "${labels[@]}"; do
        values=${results[$label]% }
        echo "$label: median $(tr ' ' '\n' <<<"$values" | median) µs CPU per request" \
            "($rounds rounds of $requests requests: ${values// /, })"
    done
fi
