#!/usr/bin/env bash
# spdyproxy's memory during large transfers: checks that the proxy's RSS stays within LIMIT_MIB
# (32 MiB by default) of its RSS before the transfer, while it streams a SIZE-byte body (1 GiB by
# default) each way, over SPDY/3.1 on plain TCP, SPDY/3.1 over TLS (ALPN) and HTTP/1.1:
#
#   download  client <- spdyproxy <- nginx (/usr/sbin/nginx; a sparse SIZE-byte file, sent whole)
#   upload    client -> spdyproxy -> a small Python backend that reads the body and discards it
#             (content-length or chunked) and answers "received N bytes"
#
# The SPDY client is spdycat (`spdycat ... | wc -c` downloads, `spdycat -d FILE` uploads; note
# that spdycat reads the whole upload file into its own memory first), the HTTP/1.1 client curl
# (`curl -T FILE -X POST` streams the upload, with `expect: 100-continue`).
#
# Every case gets a fresh proxy. After one small warm-up exchange of the same kind (so that TLS,
# the backend pool and the buffers exist) and a pause, the peak-RSS counter is reset
# (`echo 5 > /proc/PID/clear_refs`, when permitted) and the baseline is VmRSS from
# /proc/PID/status. VmRSS is then sampled every INTERVAL seconds during the transfer; the peak is
# the larger of the highest sample and VmHWM at the end. Growth = peak - baseline.
#
# Usage: scripts/proxy-memory.sh [BIN_DIR]
#   BIN_DIR holds spdyproxy and spdycat (default: .build-perf/release, e.g. built with
#   `swift build -c release --scratch-path .build-perf --product spdyproxy`, same for spdycat).
# Environment (defaults): SIZE (1073741824 bytes), LIMIT_MIB (32), INTERVAL (0.05 s),
#   CASES (all six: "download-spdy download-tls download-http1 upload-spdy upload-tls upload-http1"),
#   SPDYCAT_ARGS (none; e.g. "-w 20" for a 1 MiB receive window), NGINX (/usr/sbin/nginx).
# Prints one line per case and exits 1 if any growth exceeds LIMIT_MIB (or a transfer failed).
set -euo pipefail

if [ $# -gt 1 ] || [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
fi

cd "$(dirname "$0")/.."
bin=${1:-.build-perf/release}
size=${SIZE:-1073741824}
limit_kib=$((${LIMIT_MIB:-32} * 1024))
interval=${INTERVAL:-0.05}
cases=${CASES:-download-spdy download-tls download-http1 upload-spdy upload-tls upload-http1}
read -r -a spdycat_args <<<"${SPDYCAT_ARGS:-}"
nginx=${NGINX:-/usr/sbin/nginx}
for tool in spdyproxy spdycat; do
    [ -x "$bin/$tool" ] || { echo "proxy-memory: $bin/$tool is not an executable" >&2; exit 2; }
done
bin=$(cd "$bin" && pwd)
command -v curl >/dev/null && command -v python3 >/dev/null && [ -x "$nginx" ] ||
    { echo "proxy-memory: needs curl, python3 and $nginx" >&2; exit 2; }

work=$(mktemp -d)
chmod 755 "$work" # nginx's worker runs as nobody
pids=()           # everything started here, stopped by cleanup
cleanup() {
    local pid
    for pid in "${pids[@]}"; do
        pkill -P "$pid" 2>/dev/null || true # the clients of a transfer running in a subshell
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_listening() { # PID PORT NAME LOG
    for _ in $(seq 400); do
        kill -0 "$1" 2>/dev/null || break
        if (echo >"/dev/tcp/127.0.0.1/$2") 2>/dev/null; then return 0; fi
        sleep 0.05
    done
    echo "proxy-memory: $3 did not listen on port $2" >&2
    tail -20 "$4" >&2
    exit 1
}

stop() { # PID: stop one process started here and forget it
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    local kept=() pid
    for pid in "${pids[@]}"; do [ "$pid" = "$1" ] || kept+=("$pid"); done
    pids=("${kept[@]}")
}

# --- files ---
mkdir -p "$work/www" "$work/nginx"
truncate -s "$size" "$work/www/big.bin" # sparse: nginx still sends every byte
head -c 1024 /dev/urandom >"$work/www/small.bin"
chmod 644 "$work/www/"*
truncate -s "$size" "$work/upload.bin"
head -c 65536 /dev/urandom >"$work/upload-small.bin"

# --- nginx (download backend) ---
nginx_port=$(free_port)
cat >"$work/nginx/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 1;
error_log $work/nginx/error.log warn;
pid $work/nginx/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    server { listen 127.0.0.1:$nginx_port; root $work/www; }
}
EOF
"$nginx" -p "$work/nginx" -c "$work/nginx/nginx.conf" >"$work/nginx/out.log" 2>&1 &
pids+=($!)
wait_listening "$!" "$nginx_port" nginx "$work/nginx/error.log"

# --- discard backend (upload backend) ---
cat >"$work/discard.py" <<'EOF'
import asyncio, sys

async def handle(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            headers = {}
            for line in head.decode("latin-1").split("\r\n")[1:]:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            if headers.get("expect", "").lower() == "100-continue":
                writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            total = 0
            if "chunked" in headers.get("transfer-encoding", "").lower():
                while True:
                    size = int((await reader.readline()).split(b";")[0].strip(), 16)
                    if size == 0:
                        while (await reader.readline()) not in (b"\r\n", b""):
                            pass
                        break
                    left = size
                    while left:
                        chunk = await reader.read(min(left, 1 << 18))
                        if not chunk:
                            raise ConnectionError("end of stream in a chunk")
                        left -= len(chunk)
                    total += size
                    await reader.readexactly(2)
            else:
                left = int(headers.get("content-length", "0"))
                while left:
                    chunk = await reader.read(min(left, 1 << 18))
                    if not chunk:
                        raise ConnectionError("end of stream in the body")
                    left -= len(chunk)
                    total += len(chunk)
            body = b"received %d bytes\n" % total
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: %d\r\n\r\n"
                         % len(body) + body)
            await writer.drain()
            if headers.get("connection", "").lower() == "close":
                break
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()

async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", int(sys.argv[1]), limit=1 << 16)
    async with server:
        await server.serve_forever()

asyncio.run(main())
EOF
discard_port=$(free_port)
python3 "$work/discard.py" "$discard_port" >"$work/discard.log" 2>&1 &
pids+=($!)
wait_listening "$!" "$discard_port" "the discard backend" "$work/discard.log"

status_kib() { sed -n "s/^$2:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$1/status"; }
group() { sed ':a; s/\([0-9]\)\([0-9]\{3\}\)\($\| \)/\1 \2\3/; ta' <<<"$1"; }

failed=0
for case in $cases; do
    direction=${case%%-*}
    transport=${case#*-}
    case $direction in
        download) backend=$nginx_port ;;
        upload) backend=$discard_port ;;
        *) echo "proxy-memory: unknown case $case" >&2; exit 2 ;;
    esac
    proxy_port=$(free_port)
    log="$work/proxy-$case.log"
    access="$work/access-$case.log"
    case $transport in
        spdy | http1)
            proxy_args=(--no-tls --spdy3-1)
            scheme=http
            label_transport="plain TCP"
            ;;
        tls)
            proxy_args=()
            scheme=https
            label_transport="TLS (ALPN)"
            ;;
        *) echo "proxy-memory: unknown case $case" >&2; exit 2 ;;
    esac
    "$bin/spdyproxy" "${proxy_args[@]}" -b "127.0.0.1,$backend" --access-log "$access" "$proxy_port" >"$log" 2>&1 &
    proxy=$!
    pids+=("$proxy")
    wait_listening "$proxy" "$proxy_port" spdyproxy "$log"
    url="$scheme://127.0.0.1:$proxy_port"

    # The transfer itself, and a small one of the same kind for the warm-up; each prints the
    # body bytes it moved.
    transfer() { # FILE_OR_PATH
        local out
        case $direction-$transport in
            download-http1) curl -sS -o /dev/null -w '%{size_download}\n' "$url/$1" ;;
            download-*)
                local tls=()
                [ "$transport" = tls ] && tls=(-k)
                "$bin/spdycat" "${tls[@]}" "${proxy_args[@]}" ${spdycat_args[@]+"${spdycat_args[@]}"} "$url/$1" | wc -c
                ;;
            upload-http1)
                out=$(curl -sS -T "$1" -X POST "$url/upload")
                sed -n 's/^received \([0-9]*\) bytes$/\1/p' <<<"$out"
                ;;
            upload-*)
                local tls=()
                [ "$transport" = tls ] && tls=(-k)
                out=$("$bin/spdycat" "${tls[@]}" "${proxy_args[@]}" ${spdycat_args[@]+"${spdycat_args[@]}"} -d "$1" "$url/upload")
                sed -n 's/^received \([0-9]*\) bytes$/\1/p' <<<"$out"
                ;;
        esac
    }
    if [ "$direction" = download ]; then small=small.bin big=big.bin; else
        small=$work/upload-small.bin big=$work/upload.bin; fi
    warm=$(transfer "$small")
    if [ -z "$warm" ] || [ "$warm" -eq 0 ]; then
        echo "proxy-memory: $case: the warm-up exchange failed" >&2
        tail -5 "$log" "$access" >&2
        exit 1
    fi
    sleep 0.5

    reset="reset"
    echo 5 >"/proc/$proxy/clear_refs" 2>/dev/null || reset="not reset"
    baseline=$(status_kib "$proxy" VmRSS)
    (while kill -0 "$proxy" 2>/dev/null; do
        status_kib "$proxy" VmRSS
        sleep "$interval"
    done) >"$work/samples-$case" 2>/dev/null &
    sampler=$!
    pids+=("$sampler")
    start=$(date +%s.%N)
    # In the background, so that a signal to the script stops it at once (see cleanup).
    transfer "$big" >"$work/moved-$case" 2>"$work/client-$case.log" &
    client=$!
    pids+=("$client")
    wait "$client" || true
    moved=$(cat "$work/moved-$case")
    end=$(date +%s.%N)
    hwm=$(status_kib "$proxy" VmHWM)
    after=$(status_kib "$proxy" VmRSS)
    stop "$sampler"
    stop "$client"
    peak=$(sort -n "$work/samples-$case" | tail -1)
    [ "${peak:-0}" -ge "$hwm" ] || peak=$hwm
    growth=$((peak - baseline))
    # The proxy's own time for the exchange (access log: ... STATUS BYTES BACKEND SECONDS OUTCOME "UA").
    read -r logged_protocol exchange_seconds outcome < <(tail -1 "$access" |
        sed -n 's/^[^"]*"[A-Z]* [^ ]* \([^"]*\)" [0-9]* [0-9]* [^ ]* \([0-9.]*\) \([a-z-]*\) ".*$/\1 \2 \3/p') || true
    stop "$proxy"

    verdict=ok
    if [ "$moved" != "$size" ]; then
        verdict="FAILED: ${moved:-no} bytes moved, $size expected ($(tail -1 "$work/client-$case.log"))"
        failed=1
    elif [ "$growth" -gt "$limit_kib" ]; then
        verdict="FAILED: growth above $(group "$limit_kib") KiB"
        failed=1
    fi
    seconds=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
    rate=$(awk -v n="${moved:-0}" -v s="${exchange_seconds:-0}" 'BEGIN { printf "%.0f", (s > 0 ? n / s / 1e6 : 0) }')
    protocol="SPDY/3.1, $label_transport"
    [ "$transport" = http1 ] && protocol="HTTP/1.1, plain TCP"
    printf '%-8s %-22s baseline %s KiB, peak %s KiB (VmHWM %s, %s), growth %s KiB; %s bytes, proxy %s s (%s MB/s, %s, %s), client %s s; RSS after %s KiB; %s\n' \
        "$direction" "$protocol:" "$(group "$baseline")" "$(group "$peak")" "$(group "$hwm")" "$reset" \
        "$([ "$growth" -ge 0 ] && echo +)$(group "$growth")" "$(group "${moved:-0}")" "${exchange_seconds:-?}" "$rate" \
        "${logged_protocol:-?}" "${outcome:-?}" "$seconds" "$(group "$after")" "$verdict"
done
exit "$failed"
