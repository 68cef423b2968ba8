#!/usr/bin/env bash
# A soak: mixed load against one spdyd (SPDY/3.1 over TLS, --metrics-port) for DURATION seconds,
# with spdyd's memory and open files sampled throughout. In parallel loops:
#
#   small     spdyload -D 5 -c 4 -m 10 over a 1 KiB file
#   large     spdyload -D 5 -c 2 -m 2 over a 4 MiB file
#             (both with --checksums, where spdyload has it: every body is checked by SHA-256)
#   upload    spdyload -D 5 -c 2 -m 4 -d 256KiB-FILE -H ':method: POST'
#   vanish    spdyload -c 2 -m 20 over the 4 MiB file, killed with SIGKILL after a random
#             0.2-3 s (its errors are expected and not counted against the run)
#   ping      scripts/spdy-rawclient.py ping --tls: a TLS (ALPN spdy/3.1) connection sending a
#             PING every 0.1 s for 10 s and checking every one is answered (and, where spdyload
#             has it, the small loop runs with --ping-interval 1)
#
# Every INTERVAL seconds (10; --quick 1.5) spdyd's VmRSS, open fds (/proc/PID/fd), CPU seconds,
# spdy_streams_active and spdy_connections_active go to a CSV. After the run the least-squares
# slopes over the samples after the warm-up (the first 25 % are skipped) are computed:
#
#   RSS   full run: fails if its growth extrapolated to 30 minutes exceeds max(RSS_PCT % of
#         its mean over the window, RSS_FLOOR_MIB) (5 %, 8 MiB: 0.27 MiB/min for a 70 MiB
#         spdyd). A leak of 100 bytes per request at the ~1,300 requests/s of this load (debug
#         build, 2 cores) is ~7.4 MiB/min, about 28 times that. A steady spdyd's RSS swings
#         between ~59 and ~77 MiB with the responses in flight, and fitted over the ~22 minutes
#         after the warm-up this gave a slope of -0.06 MiB/min in a 30-minute run.
#         --quick: fails if the slope exceeds RSS_QUICK_MIB_PER_MIN (60). The same swings over
#         the ~15 s window of a quick run give slopes between -13 and +18 MiB/min (13 runs
#         measured), so extrapolating to 30 minutes would be noise. 60 MiB/min still catches a
#         leak of ~700 bytes per request, or of any response body. A quick run is a smoke
#         test; the full run is the leak detector. (Any run whose window after the warm-up is
#         shorter than 15 minutes, e.g. --duration 600, is held to the --quick limit.)
#   fds   spdyd's open fds are sampled by kind: sockets, files under the served folder, and the
#         rest (epoll, eventfds, pipes, logs). The total swings with the load (up to ~60 fds:
#         each connection is a socket, each large response in flight an open file, and the
#         vanishing client alone keeps up to 40 streams of the large file open), so its slope
#         is only reported. What must stay flat: sockets - spdy_connections_active (a socket
#         the server no longer counts, or never counted) and the rest; each may grow by at
#         most FD_LIMIT (4) over the window (least-squares slope x window, fitted to the
#         minimum of each sample and its two neighbours: a killed client's socket closes a
#         moment after its connection stops counting, and one sample can catch that moment).
#         After the load every fd count must be back at its baseline (which also catches a
#         leaked file).
#
# Also fails when a loop's requests fail or error (other than the vanishing clients'), a PING
# goes unanswered, a loop hangs, or spdy_streams_active / spdy_connections_active do not return
# to 0 within 30 s after the load stops.
#
# Usage: scripts/soak.sh [--quick] [--duration SECONDS] [--interval SECONDS] [BIN_DIR]
#   (default 1800 s, --quick 22 s; BIN_DIR default .build/debug)
# Environment: RSS_PCT (5), RSS_FLOOR_MIB (8), RSS_QUICK_MIB_PER_MIN (60), FD_LIMIT (4), CSV (a
#   path to keep the samples),
#   RL_KEEP=1 keeps the work directory.
# Prints one PASS/FAIL line per check, then "soak: N passed, N failed".
RL_NAME=soak
quick=0
duration=""
interval=""
args=()
while [ $# -gt 0 ]; do
    case $1 in
    --quick) quick=1 ;;
    --duration) duration=$2; shift ;;
    --interval) interval=$2; shift ;;
    -h | --help)
        sed -n '2,/^RL_NAME=/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
        exit 2
        ;;
    *) args+=("$1") ;;
    esac
    shift
done
cd "$(dirname "$0")/.." || exit 2
. scripts/reliability-lib.sh
if [ $quick = 1 ]; then
    duration=${duration:-22} interval=${interval:-1.5}
else
    duration=${duration:-1800} interval=${interval:-10}
fi
rss_floor=${RSS_FLOOR_MIB:-8}
rss_quick=${RSS_QUICK_MIB_PER_MIN:-60}
rss_pct=${RSS_PCT:-5}
fd_limit=${FD_LIMIT:-4}
rl_setup "${args[0]:-.build/debug}" "${WAIT_BUILD:-0}"
rl_watchdog $((duration + 240))

www=$RL_WORK/www
mkdir -p "$www"
head -c 1024 /dev/urandom >"$www/small.bin"
head -c $((4 << 20)) /dev/urandom >"$www/large.bin"
head -c $((256 << 10)) /dev/urandom >"$RL_WORK/upload.bin"
rl_make_cert
rl_start_spdyd spdyd --spdy3-1 -d "$www" --metrics-port 0 0 "$RL_WORK/key.pem" "$RL_WORK/cert.pem" || exit 1
spid=$RL_PID mport=$RL_METRICS_PORT port=$RL_PORT
base=https://127.0.0.1:$port
load=("$RL_BIN/spdyload" --json)
small_extra=() check=()
rl_has_option spdyload --ping-interval && small_extra=(--ping-interval 1)
if rl_has_option spdyload --checksums; then
    (cd "$www" && sha256sum small.bin large.bin) | sed 's|  |  /|' >"$RL_WORK/sums"
    check=(--checksums "$RL_WORK/sums")
fi

# Warm-up, then the baseline.
timeout 60 "${load[@]}" -n 200 -c 4 -m 10 "$base/small.bin" >/dev/null 2>&1
timeout 60 "${load[@]}" -n 4 -c 2 "$base/large.bin" >/dev/null 2>&1
rl_wait_for 15 eval '[ "$(rl_metric "$mport" spdy_connections_active)" = 0 ]'
sleep 0.3
fds0=$(rl_fds "$spid")
rss0=$(rl_rss_kib "$spid")

stop=$RL_WORK/stop
end=$(($(date +%s) + duration))
# loop NAME CMD...: runs CMD (a spdyload --json with -D) until the stop file exists; appends
# each run's "succeeded failed errored exit verified corrupted" to NAME.runs.
loop() {
    local name=$1
    shift
    while [ ! -e "$stop" ]; do
        local left=$((end - $(date +%s)))
        [ $left -ge 1 ] || break
        local d=$((left < 5 ? left : 5)) status=0
        timeout 60 "$@" -D "$d" >"$RL_WORK/$name.out" 2>&1 || status=$?
        python3 - "$RL_WORK/$name.out" "$status" >>"$RL_WORK/$name.runs" <<'EOF'
import json, sys
j = None
for line in open(sys.argv[1], errors="replace"):
    if line.startswith("{"):
        try: j = json.loads(line)
        except ValueError: pass
r = j["requests"] if j else {}
print(r.get("succeeded", 0), r.get("failed", 0), r.get("errored", 0), sys.argv[2], r.get("verified", 0),
      r.get("corrupted", 0))
EOF
    done
}
vanish_loop() {
    while [ ! -e "$stop" ] && [ "$(date +%s)" -lt $end ]; do
        "$RL_BIN/spdyload" -D 30 -c 2 -m 20 "$base/large.bin" >/dev/null 2>&1 &
        local pid=$!
        sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", 0.2 + 2.8 * r / 32767 }')"
        kill -KILL $pid 2>/dev/null
        wait $pid 2>/dev/null
        echo killed >>"$RL_WORK/vanish.runs"
    done
}
ping_loop() {
    while [ ! -e "$stop" ]; do
        local left=$((end - $(date +%s)))
        [ $left -ge 1 ] || break
        timeout 60 python3 scripts/spdy-rawclient.py ping --tls --port "$port" --interval 0.1 \
            --duration $((left < 10 ? left : 10)) >>"$RL_WORK/ping.runs" 2>&1 ||
            echo '{"ok": false, "error": "exit status '$?'"}' >>"$RL_WORK/ping.runs"
    done
}
loop_pids=()
rl_bg loop-small loop small "${load[@]}" "${small_extra[@]}" "${check[@]}" -c 4 -m 10 "$base/small.bin"
loop_pids+=("$RL_PID")
rl_bg loop-large loop large "${load[@]}" "${check[@]}" -c 2 -m 2 "$base/large.bin"
loop_pids+=("$RL_PID")
rl_bg loop-upload loop upload "${load[@]}" -c 2 -m 4 -d "$RL_WORK/upload.bin" -H ':method: POST' "$base/small.bin"
loop_pids+=("$RL_PID")
rl_bg loop-vanish vanish_loop
loop_pids+=("$RL_PID")
rl_bg loop-ping ping_loop
loop_pids+=("$RL_PID")

csv=$RL_WORK/samples.csv
echo "t_s,rss_kib,fds,sockets,files,other_fds,streams_active,connections_active,cpu_s,requests_ok" >"$csv"
t0=$(date +%s.%N)
while [ "$(date +%s)" -lt $end ]; do
    kill -0 "$spid" 2>/dev/null || break
    read -r sockets files other <<<"$(rl_fd_kinds "$spid" "$www")"
    printf '%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n' \
        "$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')" \
        "$(rl_rss_kib "$spid")" $((sockets + files + other)) "$sockets" "$files" "$other" \
        "$(rl_metric "$mport" spdy_streams_active)" "$(rl_metric "$mport" spdy_connections_active)" \
        "$(rl_cpu_seconds "$spid")" "$(rl_metric "$mport" spdy_streams_closed_total 'status="OK"')" >>"$csv"
    sleep "$interval"
done
touch "$stop"

# The loops end by themselves (their runs are at most 5 s, a vanishing client at most 3 s).
hung=0
for pid in "${loop_pids[@]}"; do
    for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && hung=$((hung + 1))
    rl_stop "$pid"
done
[ -n "${CSV:-}" ] && cp "$csv" "$CSV"
if ! kill -0 "$spid" 2>/dev/null; then
    rl_fail spdyd-alive "spdyd died during the soak"
    rl_summary
    exit 1
fi

# --- the load's own results ---
sum_runs() { awk -v c="$2" '{ s += $c } END { print s + 0 }' "$RL_WORK/$1.runs" 2>/dev/null || echo 0; }
for name in small large upload; do
    runs=$(wc -l <"$RL_WORK/$name.runs" 2>/dev/null || echo 0)
    s=$(sum_runs $name 1) f=$(sum_runs $name 2) e=$(sum_runs $name 3) v=$(sum_runs $name 5) c=$(sum_runs $name 6)
    bad_exit=$(awk '$4 != 0' "$RL_WORK/$name.runs" 2>/dev/null | wc -l)
    ok=0
    [ "$runs" -gt 0 ] && [ "$s" -gt 0 ] && [ "$f" = 0 ] && [ "$e" = 0 ] && [ "$c" = 0 ] && [ "$bad_exit" = 0 ] || ok=1
    sums=""
    [ ${#check[@]} -gt 0 ] && [ $name != upload ] && sums=", bodies checked: $v verified, $c corrupted"
    rl_check "load-$name" $ok "$runs runs: $s succeeded, $f failed, $e errored$sums, $bad_exit runs with a non-zero exit"
done
killed=$(wc -l <"$RL_WORK/vanish.runs" 2>/dev/null || echo 0)
read -r psent pans pbad <<<"$(python3 - "$RL_WORK/ping.runs" <<'EOF'
import json, sys
sent = answered = bad = 0
for line in open(sys.argv[1], errors="replace"):
    if line.startswith("{"):
        j = json.loads(line)
        sent += j.get("sent", 0); answered += j.get("answered", 0); bad += 0 if j.get("ok") else 1
print(sent, answered, bad)
EOF
)"
ok=0
[ "${psent:-0}" -gt 0 ] && [ "$psent" = "$pans" ] && [ "$pbad" = 0 ] || ok=1
rl_check pings $ok "$psent PINGs sent, $pans answered, $pbad failed ping sessions; $killed clients killed with SIGKILL"
rl_check loops-ended $hung "$hung loops did not end within 30 s of the stop"

# --- after the load: back to zero and to the baseline ---
ok=0
rl_wait_for 30 eval '[ "$(rl_metric "$mport" spdy_streams_active)" = 0 ] && [ "$(rl_metric "$mport" spdy_connections_active)" = 0 ] && [ "$(rl_fds "$spid")" -le "$fds0" ]' || ok=1
rss_end=$(rl_rss_kib "$spid")
rl_check after-load $ok "streams_active=$(rl_metric "$mport" spdy_streams_active) connections_active=$(rl_metric "$mport" spdy_connections_active) fds=$(rl_fds "$spid")/baseline $fds0; RSS $((rss0 / 1024)) MiB at the start, $((rss_end / 1024)) MiB at the end"

# --- the slopes ---
read -r n_used window rss_mean rss_slope rss_30 rss_limit fd_slope sockx_slope sockx_growth other_slope \
    other_growth files_max <<<"$(python3 - "$csv" "$rss_pct" "$rss_floor" <<'EOF'
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1]))]
rows = [r for r in rows if r["streams_active"] != "-1" and r["connections_active"] != "-1"]
used = rows[len(rows) // 4:]
def slope(xs, ys):
    n = len(xs)
    if n < 3: return 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else 0.0
t = [float(r["t_s"]) for r in used]
rss = [int(r["rss_kib"]) / 1024 for r in used]                      # MiB
fds = [int(r["fds"]) for r in used]
def running_min(ys):
    # A socket closes a moment after the connection stops counting (a killed client's sockets and
    # files are let go asynchronously): one sample can catch that moment. A leak stays; a lag
    # does not: the minimum of each sample and its neighbours keeps the one and drops the other.
    return [min(ys[max(0, i - 1):i + 2]) for i in range(len(ys))]
sockx = running_min([int(r["sockets"]) - int(r["connections_active"]) for r in used])
other = running_min([int(r["other_fds"]) for r in used])
window = (t[-1] - t[0]) if len(t) > 1 else 0
mean = sum(rss) / len(rss) if rss else 0
s_rss = slope(t, rss) * 60                                          # MiB/min
limit = max(float(sys.argv[2]) / 100 * mean, float(sys.argv[3]))    # MiB per 30 min
print(len(used), f"{window:.0f}", f"{mean:.1f}", f"{s_rss:.4f}", f"{s_rss * 30:.2f}", f"{limit:.1f}",
      f"{slope(t, fds) * 60:.3f}", f"{slope(t, sockx) * 60:.3f}", f"{slope(t, sockx) * window:.2f}",
      f"{slope(t, other) * 60:.3f}", f"{slope(t, other) * window:.2f}", max(int(r["files"]) for r in rows))
EOF
)"
ok=0
[ "${n_used:-0}" -ge 3 ] || ok=1
if [ $quick = 1 ] || [ "${window:-0}" -lt 900 ]; then
    awk -v g="$rss_slope" -v l="$rss_quick" 'BEGIN { exit !(g <= l) }' || ok=1
    limit="limit $rss_quick MiB/min: a window under 15 minutes"
else
    awk -v g="$rss_30" -v l="$rss_limit" 'BEGIN { exit !(g <= l) }' || ok=1
    limit="limit $rss_limit MiB per 30 min"
fi
rl_check rss-slope $ok "$n_used samples over $window s after warm-up: RSS mean $rss_mean MiB, slope $rss_slope MiB/min = $rss_30 MiB per 30 min ($limit)"
ok=0
[ "${n_used:-0}" -ge 3 ] || ok=1
awk -v a="$sockx_growth" -v b="$other_growth" -v l="$fd_limit" 'BEGIN { exit !(a <= l && b <= l) }' || ok=1
rl_check fd-slope $ok "sockets - connections_active: slope $sockx_slope/min = $sockx_growth over the window; other fds: $other_slope/min = $other_growth (limit $fd_limit each); all fds $fd_slope/min (load-dependent; at most $files_max files open at a sample)"
echo "samples: $(($(wc -l <"$csv") - 1)) in $csv$([ -n "${CSV:-}" ] && echo " (copied to $CSV)")"
rl_summary
