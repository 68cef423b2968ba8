#!/usr/bin/env bash
# spdyproxy's throughput, latency and CPU per request for a small file (FILE_SIZE bytes, 1 KiB by
# default), side by side with the servers it is compared to, all running at once:
#
#   proxy-spdy   spdyload -> spdyproxy (plain TCP, SPDY/3.1) -> nginx
#   proxy-tls    spdyload -> spdyproxy (TLS, SPDY/3.1 by ALPN) -> nginx
#   spdyd-spdy   spdyload -> spdyd (plain TCP, SPDY/3.1), same folder
#   spdyd-tls    spdyload -> spdyd (TLS, SPDY/3.1 by ALPN)
#   nginx-http1  wrk -> nginx (HTTP/1.1)
#   proxy-http1  wrk -> spdyproxy's plain-TCP port (HTTP/1.1, told apart by its first bytes) -> nginx
#
# Two settings: "loaded" (spdyload -c CLIENTS -m STREAMS, i.e. 2 connections x 100 streams;
# wrk -t1 -c CLIENTS*STREAMS keep-alive connections, the same number of requests in flight) and
# "sequential" (one connection, one request at a time: spdyload -c 1 -m 1, wrk -t1 -c1). Every
# run lasts DURATION (loaded) or SEQ_DURATION (sequential) seconds. Each target is warmed up
# first; then ROUNDS rounds run every setting and target in turn, in the order above in odd
# rounds and reversed in even ones (this machine is noisy: both sides of a comparison share its
# moods), and the medians of the rounds are printed at the end.
#
# Server CPU per request is utime + stime (/proc/PID/stat, every thread) of the servers a run
# goes through, over the run, divided by its completed requests: spdyproxy + nginx's workers for
# the proxy rows, spdyd or nginx alone otherwise. The clients' CPU is not in it. "backend conns"
# is how many connections nginx accepted during the run (stub_status), i.e. for the proxy rows
# the connections the proxy opened to its backend.
#
# nginx: Debian's /usr/sbin/nginx, worker_processes NGINX_WORKERS (auto: one per core),
# access_log off, sendfile on, keepalive_requests 1000000 (so that neither the proxy's pooled
# connections nor wrk's are closed every 1000 requests). spdyproxy: --no-access-log (nginx logs
# nothing either), one backend, other settings default. spdyd and spdyproxy with TLS share one
# self-signed P-256 certificate.
#
# Usage: scripts/proxy-bench.sh [BIN_DIR]
#   BIN_DIR holds spdyproxy, spdyd and spdyload (default: .build-perf/release).
# Environment (defaults): ROUNDS (5), DURATION (10), SEQ_DURATION (5), WARMUP (3 seconds per
#   target), CLIENTS (2), STREAMS (100), FILE_SIZE (1024), NGINX_WORKERS (auto),
#   TARGETS (all six, in the order above), SETTINGS ("loaded sequential"),
#   PROXY_ARGS (extra spdyproxy options, none by default), NICE (a prefix for every server and
#   client, e.g. "nice -n 19"; none by default), NGINX (/usr/sbin/nginx).
set -euo pipefail

if [ $# -gt 1 ] || [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
fi

cd "$(dirname "$0")/.."
bin=${1:-.build-perf/release}
rounds=${ROUNDS:-5}
duration=${DURATION:-10}
seq_duration=${SEQ_DURATION:-5}
warmup=${WARMUP:-3}
clients=${CLIENTS:-2}
streams=${STREAMS:-100}
file_size=${FILE_SIZE:-1024}
nginx_workers=${NGINX_WORKERS:-auto}
targets=${TARGETS:-proxy-spdy proxy-tls spdyd-spdy spdyd-tls nginx-http1 proxy-http1}
settings=${SETTINGS:-loaded sequential}
read -r -a proxy_extra <<<"${PROXY_ARGS:-}"
read -r -a nice_prefix <<<"${NICE:-}"
nginx=${NGINX:-/usr/sbin/nginx}
for tool in spdyproxy spdyd spdyload; do
    [ -x "$bin/$tool" ] || { echo "proxy-bench: $bin/$tool is not an executable" >&2; exit 2; }
done
bin=$(cd "$bin" && pwd)
for tool in wrk curl jq openssl python3; do
    command -v "$tool" >/dev/null || { echo "proxy-bench: needs $tool" >&2; exit 2; }
done
[ -x "$nginx" ] || { echo "proxy-bench: needs $nginx" >&2; exit 2; }

work=$(mktemp -d)
chmod 755 "$work" # nginx's workers run as nobody
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start() { # NAME PORT COMMAND...: starts a server, waits until it listens, sets $started
    local name=$1 port=$2 log="$work/$1.log"
    shift 2
    "${nice_prefix[@]}" "$@" >"$log" 2>&1 &
    started=$!
    pids+=("$started")
    for _ in $(seq 400); do
        kill -0 "$started" 2>/dev/null || break
        if (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        sleep 0.05
    done
    echo "proxy-bench: $name did not listen on port $port" >&2
    tail -20 "$log" >&2
    exit 1
}

mkdir -p "$work/www" "$work/nginx"
head -c "$file_size" /dev/urandom >"$work/www/file.bin"
chmod 644 "$work/www/file.bin"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
    -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null

nginx_port=$(free_port)
cat >"$work/nginx/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes $nginx_workers;
error_log $work/nginx/error.log warn;
pid $work/nginx/nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    keepalive_requests 1000000;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    server {
        listen 127.0.0.1:$nginx_port;
        root $work/www;
        location = /nginx-status { stub_status; }
    }
}
EOF
start nginx "$nginx_port" "$nginx" -p "$work/nginx" -c "$work/nginx/nginx.conf"
nginx_pid=$started

proxy_port=$(free_port)
start spdyproxy "$proxy_port" "$bin/spdyproxy" --no-tls --spdy3-1 -b "127.0.0.1,$nginx_port" --no-access-log \
    ${proxy_extra[@]+"${proxy_extra[@]}"} "$proxy_port"
proxy_pid=$started
proxy_tls_port=$(free_port)
start spdyproxy-tls "$proxy_tls_port" "$bin/spdyproxy" -b "127.0.0.1,$nginx_port" --no-access-log \
    ${proxy_extra[@]+"${proxy_extra[@]}"} "$proxy_tls_port" "$work/key.pem" "$work/cert.pem"
proxy_tls_pid=$started
spdyd_port=$(free_port)
start spdyd "$spdyd_port" "$bin/spdyd" --no-tls --spdy3-1 -d "$work/www" "$spdyd_port"
spdyd_pid=$started
spdyd_tls_port=$(free_port)
start spdyd-tls "$spdyd_tls_port" "$bin/spdyd" -d "$work/www" "$spdyd_tls_port" "$work/key.pem" "$work/cert.pem"
spdyd_tls_pid=$started

# nginx's processes: the master and its workers.
nginx_pids() { echo "$nginx_pid" $(cat "/proc/$nginx_pid/task/$nginx_pid/children"); }
# utime + stime of processes, in clock ticks (field 2, the name, may hold spaces: cut after ')').
cpu_ticks() {
    local pid total=0 ticks
    for pid in "$@"; do
        ticks=$(sed 's/^.*) //' "/proc/$pid/stat" | awk '{ print $12 + $13 }')
        total=$((total + ticks))
    done
    echo "$total"
}
nginx_accepts() { curl -s "http://127.0.0.1:$nginx_port/nginx-status" | awk 'NR == 3 { print $1 }'; }

# target -> client kind, URL, the servers' PIDs (space-separated; "nginx" for nginx's processes)
declare -A kind url servers
kind[proxy-spdy]=spdy-plain url[proxy-spdy]="http://127.0.0.1:$proxy_port/file.bin" servers[proxy-spdy]="$proxy_pid nginx"
kind[proxy-tls]=spdy-tls url[proxy-tls]="https://127.0.0.1:$proxy_tls_port/file.bin" servers[proxy-tls]="$proxy_tls_pid nginx"
kind[spdyd-spdy]=spdy-plain url[spdyd-spdy]="http://127.0.0.1:$spdyd_port/file.bin" servers[spdyd-spdy]="$spdyd_pid"
kind[spdyd-tls]=spdy-tls url[spdyd-tls]="https://127.0.0.1:$spdyd_tls_port/file.bin" servers[spdyd-tls]="$spdyd_tls_pid"
kind[nginx-http1]=http1 url[nginx-http1]="http://127.0.0.1:$nginx_port/file.bin" servers[nginx-http1]="nginx"
kind[proxy-http1]=http1 url[proxy-http1]="http://127.0.0.1:$proxy_port/file.bin" servers[proxy-http1]="$proxy_pid nginx"
for target in $targets; do
    [ -n "${kind[$target]:-}" ] || { echo "proxy-bench: unknown target $target" >&2; exit 2; }
done

# Runs one client; prints "REQUESTS REQ_PER_S P50_US P99_US BAD" (BAD: failed, errored or non-2xx).
client() { # TARGET SETTING SECONDS
    local target=$1 setting=$2 seconds=$3 c m out
    if [ "$setting" = loaded ]; then c=$clients m=$streams; else c=1 m=1; fi
    case ${kind[$target]} in
        spdy-plain | spdy-tls)
            local transport=(--spdy3-1)
            [ "${kind[$target]}" = spdy-plain ] && transport=(--no-tls --spdy3-1)
            out=$("${nice_prefix[@]}" "$bin/spdyload" -D "$seconds" -c "$c" -m "$m" "${transport[@]}" --json \
                "${url[$target]}" 2>&1) || { echo "proxy-bench: spdyload failed: $out" >&2; return 1; }
            jq -r '[.requests.done, .requests_per_second, .time_for_request.p50, .time_for_request.p99,
                    .requests.failed + .requests.errored + .status_codes["3xx"] + .status_codes["4xx"]
                    + .status_codes["5xx"]] | map(tostring) | join(" ")' <<<"$out"
            ;;
        http1)
            out=$("${nice_prefix[@]}" wrk -t1 -c $((c * m)) -d "${seconds}s" --latency "${url[$target]}" 2>&1) ||
                { echo "proxy-bench: wrk failed: $out" >&2; return 1; }
            awk '
                function us(v) {
                    if (v ~ /us$/) return v + 0; if (v ~ /ms$/) return v * 1000
                    if (v ~ /m$/) return v * 60e6; if (v ~ /s$/) return v * 1e6; return v
                }
                $1 == "50%" { p50 = us($2) } $1 == "99%" { p99 = us($2) }
                / requests in / { n = $1 } /^Requests\/sec:/ { rate = $2 }
                /Non-2xx or 3xx responses:/ { bad += $NF }
                /Socket errors:/ { gsub(/,/, ""); bad += $4 + $6 + $8 + $10 }
                END { printf "%d %s %s %s %d\n", n, rate, p50, p99, bad }' <<<"$out"
            ;;
    esac
}

pids_of() { # the servers of a target, nginx expanded
    local s out=""
    for s in ${servers[$1]}; do
        if [ "$s" = nginx ]; then out+=" $(nginx_pids)"; else out+=" $s"; fi
    done
    echo "$out"
}

echo "machine: $(nproc) cores, $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "spdyproxy: $bin/spdyproxy ${proxy_extra[*]+${proxy_extra[*]}}; nginx $("$nginx" -v 2>&1 | sed 's/^.*nginx\///'), worker_processes $nginx_workers ($(($(wc -w <<<"$(nginx_pids)") - 1)) workers); wrk $(wrk -v 2>&1 | awk 'NR == 1 { print $2 }')"
echo "loaded: spdyload -c $clients -m $streams (-t 1), wrk -t1 -c $((clients * streams)); sequential: spdyload -c 1 -m 1, wrk -t1 -c1; $duration s / $seq_duration s per run, $rounds rounds"

for target in $targets; do
    client "$target" loaded "$warmup" >/dev/null
done

declare -A results # "setting target" -> lines "rate p50 p99 cpu_total cpu_proxy cpu_nginx conns_per_1000 bad"
ticks_per_second=$(getconf CLK_TCK)
for ((round = 1; round <= rounds; round++)); do
    order=$targets
    if ((round % 2 == 0)); then order=$(tr ' ' '\n' <<<"$targets" | tac | tr '\n' ' '); fi
    for setting in $settings; do
        seconds=$duration
        [ "$setting" = sequential ] && seconds=$seq_duration
        for target in $order; do
            all=$(pids_of "$target")
            nginx_only=""
            [[ ${servers[$target]} == *nginx* ]] && nginx_only=$(nginx_pids)
            accepts_before=$(nginx_accepts)
            before_all=$(cpu_ticks $all)
            before_nginx=$(cpu_ticks $nginx_only)
            line=$(client "$target" "$setting" "$seconds")
            read -r n rate p50 p99 bad <<<"$line"
            after_all=$(cpu_ticks $all)
            after_nginx=$(cpu_ticks $nginx_only)
            accepts_after=$(nginx_accepts)
            read -r cpu cpu_nginx cpu_first conns < <(awk -v a=$((after_all - before_all)) \
                -v g=$((after_nginx - before_nginx)) -v hz="$ticks_per_second" -v n="$n" \
                -v c=$((accepts_after - accepts_before - 1)) 'BEGIN {
                    n = n > 0 ? n : 1
                    printf "%.1f %.1f %.1f %.1f\n", a / hz * 1e6 / n, g / hz * 1e6 / n, (a - g) / hz * 1e6 / n, c * 1000 / n }')
            [[ ${servers[$target]} == *nginx* ]] || cpu_first=$cpu
            [[ ${servers[$target]} == nginx ]] && cpu_first=0.0
            results["$setting $target"]+="$rate $p50 $p99 $cpu $cpu_first $cpu_nginx $conns $bad"$'\n'
            printf 'round %d %-10s %-11s %8.0f req/s  p50 %8.0f µs  p99 %8.0f µs  CPU %6.1f µs/req (%s + nginx %s)  backend conns %s/1000 req  %d requests, %d bad\n' \
                "$round" "$setting" "$target" "$rate" "$p50" "$p99" "$cpu" "$cpu_first" "$cpu_nginx" "$conns" "$n" "$bad"
        done
    done
done

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
column_median() { awk -v k="$2" 'NF { print $k }' <<<"${results[$1]}" | median; }

echo
echo "medians of $rounds rounds (load average now $(cut -d' ' -f1-3 /proc/loadavg)):"
printf '%-10s %-11s %9s %10s %10s %12s %10s %10s %14s %5s\n' setting target "req/s" "p50 µs" "p99 µs" "CPU µs/req" "front" nginx "conns/1000" bad
declare -A p50_median
for setting in $settings; do
    for target in $targets; do
        key="$setting $target"
        bad_total=$(awk 'NF { s += $8 } END { print s + 0 }' <<<"${results[$key]}")
        p50_median[$key]=$(column_median "$key" 2)
        printf '%-10s %-11s %9.0f %10.0f %10.0f %12.1f %10.1f %10.1f %14.1f %5d\n' "$setting" "$target" \
            "$(column_median "$key" 1)" "${p50_median[$key]}" "$(column_median "$key" 3)" "$(column_median "$key" 4)" \
            "$(column_median "$key" 5)" "$(column_median "$key" 6)" "$(column_median "$key" 7)" "$bad_total"
    done
done

echo
for setting in $settings; do
    for pair in "proxy-http1 nginx-http1" "proxy-spdy nginx-http1" "proxy-tls nginx-http1" "proxy-spdy spdyd-spdy" \
        "proxy-tls spdyd-tls"; do
        read -r a b <<<"$pair"
        [ -n "${p50_median[$setting $a]:-}" ] && [ -n "${p50_median[$setting $b]:-}" ] || continue
        awk -v s="$setting" -v a="$a" -v b="$b" -v x="${p50_median[$setting $a]}" -v y="${p50_median[$setting $b]}" \
            'BEGIN { printf "added latency, %s: p50 %s - p50 %s = %.0f µs\n", s, a, b, x - y }'
    done
done
