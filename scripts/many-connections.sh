#!/usr/bin/env bash
# Many connections against one spdyd (SPDY/3.1 over TLS, --metrics-port, --max-connections 20000
# where spdyd has it):
#
#   a. idle-connections  N connections (10,000; --quick 1,000) that each make one request for a
#                        tiny file and then stay open and idle, opened in batches of BATCH (1,000;
#                        one `spdyload -c BATCH -n BATCH --keep-open` each, started once the
#                        previous batch is established). While they are held:
#                        spdy_connections_active, spdyd's VmRSS and open fds. Reports RSS before,
#                        RSS with N idle connections and the RSS per idle connection.
#   b. connection-burst  N new connections at once, each making one request (one spdyload -c N
#                        -n N -t 2): time, failures, spdyd's peak RSS and CPU seconds (utime +
#                        stime). All N TLS handshakes are asked for together; spdyd runs at
#                        most 128 at once (SPDYServer's maxConcurrentHandshakes) and the rest
#                        wait in the listen backlog, so each started one finishes within the
#                        10 s handshake timeout.
#   c. handshake-flood   two `openssl s_time -new` processes start as many new TLS handshakes as
#                        they can for FLOOD seconds (30; --quick 5) while a good client
#                        (spdyload -D FLOOD -c 1 -m 10) is served: its completed/failed requests
#                        and p99 latency, the handshakes done, spdyd's peak RSS and CPU seconds.
#
# Passes when nothing fails: every connection of a and b is held/served (connections_active
# reaches N in a), the good client of c has no failed or errored request, and
# spdy_connections_active returns to 0 after each case. The open-files limit is raised
# (ulimit -n) for both processes as far as the hard limit allows (N + 1,000 are needed).
#
# Usage: scripts/many-connections.sh [--quick] [BIN_DIR]   (BIN_DIR: default .build/debug)
# Environment: CONNECTIONS (N), BATCH (1000), FLOOD (seconds), RL_KEEP=1 keeps the work directory.
# Prints one PASS/FAIL line per case, then "many-connections: N passed, N failed".
RL_NAME=many-connections
quick=0
args=()
for arg in "$@"; do
    case $arg in
    --quick) quick=1 ;;
    -h | --help)
        sed -n '2,/^RL_NAME=/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
        exit 2
        ;;
    *) args+=("$arg") ;;
    esac
done
cd "$(dirname "$0")/.." || exit 2
. scripts/reliability-lib.sh
if [ $quick = 1 ]; then
    n=${CONNECTIONS:-1000} flood=${FLOOD:-5}
else
    n=${CONNECTIONS:-10000} flood=${FLOOD:-30}
fi
batch=${BATCH:-1000}
# The open-files limit: 65536 if allowed, else as high as the hard limit goes.
hard=$(ulimit -Hn)
if [ "$hard" = unlimited ] || [ "$hard" -ge 65536 ]; then
    ulimit -n 65536
else
    if ulimit -Hn 65536 2>/dev/null; then ulimit -n 65536; else ulimit -n "$hard"; fi
fi
nofile=$(ulimit -n)
if [ "$nofile" -lt $((n + 1000)) ]; then
    echo "$RL_NAME: the open-files limit is $nofile (hard $hard): $((n + 1000)) are needed" >&2
    exit 2
fi
rl_setup "${args[0]:-.build/debug}" "${WAIT_BUILD:-0}"
rl_watchdog "$([ $quick = 1 ] && echo 150 || echo 1200)"

www=$RL_WORK/www
mkdir -p "$www"
printf 'ok\n' >"$www/tiny.txt"
head -c 1024 /dev/urandom >"$www/small.bin"
rl_make_cert
extra=()
if rl_has_option spdyd --max-connections; then
    extra=(--max-connections 20000)
else
    echo "note: spdyd has no --max-connections yet: its default limit (10,000) applies" >&2
fi
rl_start_spdyd spdyd --spdy3-1 -d "$www" --metrics-port 0 "${extra[@]}" 0 "$RL_WORK/key.pem" "$RL_WORK/cert.pem" ||
    exit 1
spid=$RL_PID mport=$RL_METRICS_PORT port=$RL_PORT
base=https://127.0.0.1:$port
connect_timeout=60 # a burst waits in the listen backlog (4096; SYNs beyond it are retried)

# Warm-up: TLS, the event loops, the file cache.
conns() { rl_metric "$mport" spdy_connections_active; }
timeout 60 "$RL_BIN/spdyload" -n 200 -c 20 -m 10 -t 2 "$base/tiny.txt" >/dev/null 2>&1
rl_wait_for 15 eval '[ "$(conns)" = 0 ]'
sleep 0.5
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
secs_between() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# Samples spdyd's VmRSS every 0.2 s into FILE until stopped; peak_rss FILE prints the highest.
start_rss_sampler() { # FILE
    rl_bg rss-sampler bash -c "while :; do awk '/^VmRSS:/ { print \$2 }' /proc/$spid/status; sleep 0.2; done >'$1'"
    sampler=$RL_PID
}
peak_rss() { sort -n "$1" | tail -1; }

settle_to_zero() { # CASE
    local ok=0
    rl_wait_for 60 eval '[ "$(conns)" = 0 ]' || ok=1
    rl_check "$1-closed" $ok "connections_active=$(conns) streams_active=$(rl_metric "$mport" spdy_streams_active) fds=$(rl_fds "$spid") RSS $(mib "$(rl_rss_kib "$spid")") MiB"
}

results=() # rows for the table at the end

# --- a. N idle connections ---
# Opened in batches of BATCH (1,000) connections, one spdyload per batch, each batch once the
# previous one is established: this measures holding N idle connections, not surviving N
# simultaneous TLS handshakes (case b does that). Each spdyload makes one request per connection
# and keeps its connections open (--keep-open) until it is stopped after the measurement, so
# the requests are counted on the server (spdy_streams_closed_total{status="OK"}).
rss0=$(rl_rss_kib "$spid")
fds0=$(rl_fds "$spid")
ok0=$(rl_metric "$mport" spdy_streams_closed_total 'status="OK"')
cpu0=$(rl_cpu_seconds "$spid")
t0=$(date +%s.%N)
idle_pids=()
opened=0 batches=0 stalled=0
while [ $opened -lt "$n" ]; do
    size=$((n - opened < batch ? n - opened : batch))
    batches=$((batches + 1))
    rl_bg "idle-$batches" "$RL_BIN/spdyload" --json -c $size -n $size -m 1 -t 1 -T $connect_timeout \
        --keep-open 3600 "$base/tiny.txt"
    idle_pids+=("$RL_PID")
    opened=$((opened + size))
    # Until this batch is established and answered (at most 120 s).
    if ! rl_wait_for 120 eval '[ "$(conns)" -ge $opened ] && [ "$(rl_metric "$mport" spdy_streams_active)" = 0 ] && [ "$(rl_metric "$mport" spdy_streams_closed_total "status=\"OK\"")" -ge $((ok0 + opened)) ]'; then
        stalled=1
        break
    fi
done
t_all=$(date +%s.%N)
sleep 0.5
held=$(conns)
served=$(($(rl_metric "$mport" spdy_streams_closed_total 'status="OK"') - ok0))
rss1=$(rl_rss_kib "$spid")
fds1=$(rl_fds "$spid")
cpu1=$(rl_cpu_seconds "$spid")
alive=0
for pid in "${idle_pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=$((alive + 1)); done
for pid in "${idle_pids[@]}"; do rl_stop "$pid"; done
per=$(awk -v a="$rss0" -v b="$rss1" -v n="$held" 'BEGIN { if (n > 0) printf "%.1f", (b - a) / n; else print "NaN" }')
cpu=$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { printf "%.2f", b - a }')
ok=0
[ "$held" = "$n" ] && [ "$served" = "$n" ] && [ $stalled = 0 ] && [ $alive = $batches ] || ok=1
details="$held/$n held idle, $served requests answered, in $batches batches of up to $batch, all open after"
details+=" $(secs_between "$t0" "$t_all") s ($alive/$batches clients alive); RSS $(mib "$rss0") -> $(mib "$rss1") MiB"
details+=" = $per KiB per idle connection; fds $fds0 -> $fds1; CPU $cpu s"
[ $stalled = 0 ] || details+=" (STALLED at batch $batches: $(grep -o '"connect_errors":\[[^]]*\]' "$RL_WORK/idle-$batches.log" | head -c 300))"
rl_check idle-connections $ok "$details"
results+=("| a. $n idle connections ($batches x $batch) | held $held/$n, answered $served, open after $(secs_between "$t0" "$t_all") s | RSS $(mib "$rss0") -> $(mib "$rss1") MiB, $per KiB/connection, fds $fds0 -> $fds1 |")
settle_to_zero idle-connections

# --- b. N connections each doing a request ---
cpu0=$(rl_cpu_seconds "$spid")
rssb0=$(rl_rss_kib "$spid")
hsf0=$(rl_metric "$mport" spdy_tls_handshake_failures_total)
start_rss_sampler "$RL_WORK/rss-burst"
out=$RL_WORK/burst.json
t0=$(date +%s.%N)
status=0
timeout 300 "$RL_BIN/spdyload" --json -c "$n" -n "$n" -m 1 -t 2 -T $connect_timeout "$base/tiny.txt" >"$out" 2>&1 ||
    status=$?
t1=$(date +%s.%N)
rl_stop "$sampler"
cpu1=$(rl_cpu_seconds "$spid")
s=$(rl_json "$out" 'j["requests"]["succeeded"]')
f=$(rl_json "$out" 'j["requests"]["failed"]')
e=$(rl_json "$out" 'j["requests"]["errored"]')
connected=$(rl_json "$out" 'j["connected"]')
connect_p50=$(rl_json "$out" 'round(j["time_for_connect"]["p50"] / 1e6, 2)')
connect_max=$(rl_json "$out" 'round(j["time_for_connect"]["max"] / 1e6, 2)')
cpu=$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { printf "%.2f", b - a }')
peak=$(peak_rss "$RL_WORK/rss-burst")
hsf=$(($(rl_metric "$mport" spdy_tls_handshake_failures_total) - hsf0))
ok=0
[ "$s" = "$n" ] && [ $status = 0 ] || ok=1
details="$n connections x 1 request in $(secs_between "$t0" "$t1") s: connected $connected (connect time p50 $connect_p50 s,"
details+=" max $connect_max s), succeeded $s, failed $f, errored $e; TLS handshake failures counted by spdyd $hsf;"
details+=" spdyd RSS $(mib "$rssb0") MiB, peak $(mib "${peak:-0}") MiB, CPU $cpu s"
[ "$e" = 0 ] || details+="; errors: $(rl_json "$out" '"; ".join(j["connect_errors"])')"
rl_check connection-burst $ok "$details"
results+=("| b. $n connections x 1 request | $(secs_between "$t0" "$t1") s, succeeded $s, failed $f, errored $e | RSS peak $(mib "${peak:-0}") MiB, CPU $cpu s |")
settle_to_zero connection-burst

# --- c. TLS handshake flood while a good client is served ---
cpu0=$(rl_cpu_seconds "$spid")
failures0=$(rl_metric "$mport" spdy_tls_handshake_failures_total)
start_rss_sampler "$RL_WORK/rss-flood"
flooders=()
for i in 1 2; do
    rl_bg "flood-$i" timeout $((flood + 30)) openssl s_time -connect "127.0.0.1:$port" -new -time "$flood"
    flooders+=("$RL_PID")
done
out=$RL_WORK/good.json
status=0
timeout $((flood + 60)) "$RL_BIN/spdyload" --json -D "$flood" -c 1 -m 10 "$base/small.bin" >"$out" 2>&1 || status=$?
handshakes=0
for i in 1 2; do
    wait "${flooders[$((i - 1))]}"
    rl_forget "${flooders[$((i - 1))]}"
    h=$(sed -n 's/^\([0-9][0-9]*\) connections in .*real seconds.*/\1/p' "$RL_WORK/flood-$i.log" | head -1)
    handshakes=$((handshakes + ${h:-0}))
done
rl_stop "$sampler"
cpu1=$(rl_cpu_seconds "$spid")
failures1=$(rl_metric "$mport" spdy_tls_handshake_failures_total)
s=$(rl_json "$out" 'j["requests"]["succeeded"]')
f=$(rl_json "$out" 'j["requests"]["failed"]')
e=$(rl_json "$out" 'j["requests"]["errored"]')
p99=$(rl_json "$out" 'round(j["time_for_request"]["p99"] / 1000, 1)')
cpu=$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { printf "%.2f", b - a }')
peak=$(peak_rss "$RL_WORK/rss-flood")
ok=0
[ $status = 0 ] && [ "$s" != NaN ] && [ "$s" -gt 0 ] && [ "$f" = 0 ] && [ "$e" = 0 ] || ok=1
details="good client: $s completed, $f failed, $e errored, p99 $p99 ms; $handshakes handshakes in ${flood} s"
details+=" ($(awk -v h="$handshakes" -v t="$flood" 'BEGIN { printf "%.0f", h / t }')/s), handshake failures counted $((failures1 - failures0));"
details+=" spdyd peak RSS $(mib "${peak:-0}") MiB, CPU $cpu s"
[ $handshakes -gt 0 ] || { ok=1; details+=" (NO HANDSHAKE DONE: $(tail -2 "$RL_WORK/flood-1.log" | tr '\n' ' '))"; }
rl_check handshake-flood $ok "$details"
results+=("| c. ${flood} s handshake flood (2 x s_time -new) | good client $s ok, $f failed, $e errored, p99 $p99 ms; $handshakes handshakes | RSS peak $(mib "${peak:-0}") MiB, CPU $cpu s |")
settle_to_zero handshake-flood

kill -0 "$spid" 2>/dev/null || rl_fail spdyd-alive "spdyd is gone"
echo
echo "| case | result | spdyd |"
echo "| --- | --- | --- |"
printf '%s\n' "${results[@]}"
rl_summary
