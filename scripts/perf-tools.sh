#!/usr/bin/env bash
# Side-by-side load tests of the command-line tools (docs/PERFORMANCE.md, "Tools"):
#   1. spdyload -> spdyd and spdyload -> Netty 4.1's SPDY/3.1 server (Benchmarks/netty),
#      alternating, each ROUNDS times: 100 000 requests for a 1 KiB file over 2 connections
#      x 100 streams, and one 100 MiB file (64 KiB windows, then -w 24);
#   2. spdyd's memory with 1 000 idle sessions (VmRSS before and after, per session).
# Plain TCP, SPDY/3.1, release builds, one machine. Needs libnetty-java and a JDK.
#
# Usage: scripts/perf-tools.sh [ROUNDS]   (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)"

swift build -c release --product spdyd >/dev/null
swift build -c release --product spdyload >/dev/null
bin=$(swift build -c release --show-bin-path)

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/www" "$work/netty"
head -c 1024 /dev/urandom >"$work/www/1k.bin"
head -c $((100 << 20)) /dev/urandom >"$work/www/100m.bin"

jars=$(ls /usr/share/java/netty-{common,buffer,transport,codec,codec-http,handler,resolver}.jar | paste -sd:)
javac -nowarn -d "$work/netty" -cp "$jars" Benchmarks/netty/NettySpdyFileServer.java
netty_version=$(dpkg-query -W -f '${Version}' libnetty-java 2>/dev/null || echo unknown)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }

spdyd_port=$(free_port)
"$bin/spdyd" --no-tls --spdy3-1 -d "$work/www" "$spdyd_port" >"$work/spdyd.log" 2>&1 &
pids+=($!)
netty_port=$(free_port)
java -Xmx2g -cp "$jars:$work/netty" NettySpdyFileServer "$netty_port" "$work/www" >"$work/netty.log" 2>&1 &
pids+=($!)
wait_port "$spdyd_port"
wait_port "$netty_port"

# Warm up both (the JVM's JIT above all).
for port in "$spdyd_port" "$netty_port"; do
    "$bin/spdyload" -n 20000 -c 2 -m 100 --no-tls --spdy3-1 "http://127.0.0.1:$port/1k.bin" >/dev/null
done

summary() { python3 -c '
import json, sys
r = json.load(sys.stdin)
t = r.get("time_for_request") or {}
print("%-8s %10.0f req/s %9.1f MB/s  ok=%d failed=%d errored=%d  p50=%.2fms p99=%.2fms" % (
    sys.argv[1], r["requests_per_second"], r["bytes_per_second"] / 1e6, r["requests"]["succeeded"],
    r["requests"]["failed"], r["requests"]["errored"], t.get("p50", 0) / 1000, t.get("p99", 0) / 1000))' "$1"; }

echo "netty: libnetty-java $netty_version, $(java -version 2>&1 | head -1)"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
for round in $(seq "$rounds"); do
    echo "--- round $round: 100 000 x 1 KiB, -c 2 -m 100"
    for name in spdyd netty; do
        port=$spdyd_port; [ "$name" = netty ] && port=$netty_port
        "$bin/spdyload" -n 100000 -c 2 -m 100 --no-tls --spdy3-1 --json "http://127.0.0.1:$port/1k.bin" | summary "$name"
    done
    echo "--- round $round: 1 x 100 MiB, 64 KiB windows / -w 24 (16 MiB windows)"
    for window in "" "-w 24"; do
        for name in spdyd netty; do
            port=$spdyd_port; [ "$name" = netty ] && port=$netty_port
            # shellcheck disable=SC2086
            "$bin/spdyload" -n 1 $window --no-tls --spdy3-1 --json "http://127.0.0.1:$port/100m.bin" \
                | summary "$name${window:+ ($window)}"
        done
    done
done

echo "--- spdyd memory with 1 000 idle sessions"
kill "${pids[0]}"
wait "${pids[0]}" 2>/dev/null || true
"$bin/spdyd" --no-tls --spdy3-1 -d "$work/www" "$spdyd_port" >"$work/spdyd2.log" 2>&1 &
pid=$!
pids+=("$pid")
wait_port "$spdyd_port"
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
"$bin/spdyload" -n 1000 -c 1 --no-tls --spdy3-1 "http://127.0.0.1:$spdyd_port/1k.bin" >/dev/null
sleep 1
before=$(rss "$pid")
"$bin/spdyload" -n 1000 -c 1000 -m 1 -t 2 --keep-open 20 --no-tls --spdy3-1 "http://127.0.0.1:$spdyd_port/1k.bin" \
    >"$work/idle.txt" &
load=$!
sleep 12
open=$(ls "/proc/$pid/fd" | wc -l)
after=$(rss "$pid")
wait "$load"
grep -E "^requests:" "$work/idle.txt"
echo "spdyd VmRSS: $before KiB before, $after KiB with the sessions open ($open descriptors);" \
    "per session: $(( (after - before) * 1024 / 1000 )) bytes"
