#!/usr/bin/env bash
# The interoperability suite: our SPDY stack against Netty (SPDY/3.1, and its HTTP mapping
# against the Hummingbird integration), spdystream (SPDY/3) and Wireshark's dissector (SPDY/3),
# and spdyproxy in front of a real nginx (spdycat, Netty and curl through it).
# Builds the peers from Interop/ into .build-interop/ (gitignored), runs every cell with a
# timeout, prints one line per cell and closes with "interop: N passed, N failed"; exits
# non-zero when a cell failed.
#
# Needs the packages of scripts/install-interop-deps.sh (and nginx-light and curl of
# scripts/install-deps.sh). Environment:
#   INTEROP_DRIVER   a built spdy-interop to use instead of building it
#   INTEROP_SPDYPROXY, INTEROP_SPDYCAT
#                    built spdyproxy and spdycat to use instead of building them
#   INTEROP_SCRATCH  SwiftPM scratch path for building them (default .build, which `swift test`
#                    has filled already in CI, so the builds are no-ops there)
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
for tool in javac java go tshark text2pcap curl; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "interop: missing ${missing[*]} (run scripts/install-interop-deps.sh)"
fi

build_started=$(now)
scratch=${INTEROP_SCRATCH:-.build}
case "$scratch" in
/*) bin_dir="$scratch/debug" ;;
*) bin_dir="$root/$scratch/debug" ;;
esac
# Builds a product of the root package (a no-op after `swift test`); prints its path.
build_product() {
    local product=$1
    if swift build --scratch-path "$scratch" --product "$product" >"$logs/build-$product.log" 2>&1; then
        echo "$bin_dir/$product"
    else
        echo "interop: building $product failed" >&2
        tail -30 "$logs/build-$product.log" >&2
    fi
}
driver=${INTEROP_DRIVER:-}
[ -z "$driver" ] && driver=$(build_product spdy-interop)
spdyproxy=${INTEROP_SPDYPROXY:-}
[ -z "$spdyproxy" ] && spdyproxy=$(build_product spdyproxy)
spdycat=${INTEROP_SPDYCAT:-}
[ -z "$spdycat" ] && spdycat=$(build_product spdycat)

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

# spdyproxy in front of a real nginx: nginx (Debian's, with the echo module) on loopback with
# its own prefix, configuration, logs and temp folders under $logs, in the foreground as one
# process, serving small.txt, a 20 MiB big.bin of random bytes (its SHA-256 taken when it is
# written), /headers (the forwarding headers nginx received) and /echo (the request body
# back). In front of it four spdyproxy: TLS with the ephemeral certificate (ALPN: every SPDY
# version and HTTP/1.1), and plain TCP for SPDY/2, SPDY/3 and SPDY/3.1 (SPDY/3 and SPDY/3.1
# share their first bytes, so a plain port speaks one of them; all four serve HTTP/1.1 too).
# Clients: spdycat for each version both ways, Netty's HTTP mapping (plain SPDY/3.1) and curl
# (HTTP/1.1, TLS and plain). Then SIGTERM must stop every proxy with exit status 0, and each
# proxy's access log must hold exactly one line per request made through it.
proxy_group_started=$(now)
proxy_cells=(spdyproxy-nginx-spdycat-spdy2-tls spdyproxy-nginx-spdycat-spdy3-tls
    spdyproxy-nginx-spdycat-spdy3.1-tls spdyproxy-nginx-spdycat-spdy2-plain
    spdyproxy-nginx-spdycat-spdy3-plain spdyproxy-nginx-spdycat-spdy3.1-plain
    spdyproxy-nginx-netty-http-client spdyproxy-nginx-curl-tls spdyproxy-nginx-curl-plain
    spdyproxy-nginx-sigterm spdyproxy-nginx-access-log)
nginx_bin=$(command -v nginx 2>/dev/null || echo /usr/sbin/nginx)
echo_module=/usr/lib/nginx/modules/ngx_http_echo_module.so
proxy_missing=""
if [ ! -x "$nginx_bin" ]; then
    proxy_missing="nginx is missing (nginx-light, scripts/install-deps.sh)"
elif [ ! -f "$echo_module" ]; then
    proxy_missing="nginx's echo module is missing (nginx-light, scripts/install-deps.sh)"
elif ! command -v curl >/dev/null 2>&1; then
    proxy_missing="curl is missing (scripts/install-deps.sh)"
elif [ -z "$spdyproxy" ] || [ ! -x "$spdyproxy" ]; then
    proxy_missing="spdyproxy is not built"
elif [ -z "$spdycat" ] || [ ! -x "$spdycat" ]; then
    proxy_missing="spdycat is not built"
fi

ngx="$logs/nginx"
nginx_pid=""
nginx_port=""
# A free loopback port (nginx cannot listen on port 0 and say which it got): the kernel's
# pick for a port-0 socket, else a random one; start_nginx tries again when bind fails.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' \
        2>/dev/null || shuf -i 20000-32000 -n 1
}

# Starts nginx on a free port; sets nginx_pid and nginx_port once it serves small.txt.
start_nginx() {
    mkdir -p "$ngx/htdocs" "$ngx/logs" "$ngx/tmp"
    printf 'hello from nginx\n' >"$ngx/htdocs/small.txt"
    head -c $((20 << 20)) /dev/urandom >"$ngx/htdocs/big.bin"
    head -c $((3 << 20)) /dev/urandom >"$ngx/upload.bin"
    big_sha=$(sha256sum <"$ngx/htdocs/big.bin" | cut -d' ' -f1)
    upload_sha=$(sha256sum <"$ngx/upload.bin" | cut -d' ' -f1)
    local attempt tries port
    for attempt in 1 2 3 4 5; do
        port=$(free_port)
        # Single process (master_process off): nothing changes user, so the files under
        # $logs stay readable whoever runs the suite.
        cat >"$ngx/nginx.conf" <<CONF
load_module $echo_module;
daemon off;
master_process off;
pid $ngx/logs/nginx.pid;
error_log $ngx/logs/error.log info;
events { worker_connections 1024; }
http {
    log_format proxied '\$remote_addr "\$request" \$status \$body_bytes_sent '
                       '"\$http_x_forwarded_for" "\$http_x_forwarded_proto" "\$http_via"';
    access_log $ngx/logs/access.log proxied;
    client_body_temp_path $ngx/tmp/body;
    proxy_temp_path $ngx/tmp/proxy;
    fastcgi_temp_path $ngx/tmp/fastcgi;
    uwsgi_temp_path $ngx/tmp/uwsgi;
    scgi_temp_path $ngx/tmp/scgi;
    types { text/plain txt; application/octet-stream bin; }
    server {
        listen 127.0.0.1:$port;
        root $ngx/htdocs;
        location = /headers {
            default_type text/plain;
            return 200 "x-forwarded-for=\$http_x_forwarded_for\nx-forwarded-proto=\$http_x_forwarded_proto\nvia=\$http_via\nx-drop-me=\$http_x_drop_me\n";
        }
        location = /echo {
            client_max_body_size 64m;
            client_body_buffer_size 64m;
            echo_read_request_body;
            echo_request_body;
        }
    }
}
CONF
        : >"$ngx/logs/error.log"
        "$nginx_bin" -p "$ngx" -c "$ngx/nginx.conf" -e "$ngx/logs/error.log" >"$ngx/logs/stdout.log" 2>&1 &
        nginx_pid=$!
        pids+=("$nginx_pid")
        for tries in $(seq 600); do
            if [ "$(curl -s --max-time 5 "http://127.0.0.1:$port/small.txt" 2>/dev/null)" = "hello from nginx" ]; then
                nginx_port=$port
                return 0
            fi
            kill -0 "$nginx_pid" 2>/dev/null || break
            sleep 0.1
        done
        # Most likely the port was taken in the meantime: nginx gives up on bind().
        kill "$nginx_pid" 2>/dev/null
        wait "$nginx_pid" 2>/dev/null
        if ! grep -q "Address already in use" "$ngx/logs/error.log"; then return 1; fi
    done
    return 1
}

# Starts one spdyproxy in front of nginx; sets proxy_pid and proxy_port once it printed its
# "IPv4: listen on port N" line. Standard output (the listening lines and the access log)
# goes to $logs/spdyproxy-NAME.log, standard error to .err.
declare -A proxy_pids proxy_ports
start_proxy() {
    local name=$1 tries port=""
    shift
    local log="$logs/spdyproxy-$name.log"
    "$spdyproxy" --threads 2 -b "127.0.0.1,$nginx_port" "$@" 0 >"$log" 2>"$logs/spdyproxy-$name.err" &
    local pid=$!
    pids+=("$pid")
    for tries in $(seq 600); do
        port=$(sed -n 's/^IPv4: listen on port \([0-9][0-9]*\)$/\1/p' "$log" | head -1)
        [ -n "$port" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    proxy_pids[$name]=$pid
    proxy_ports[$name]=$port
    [ -n "$port" ]
}

# Requests made through each proxy, by protocol as its access log names it ("tls spdy/3").
declare -A proxy_requests

# The reason of a cell whose checks ($problems) failed: one FAIL line each.
problem_lines() {
    printf '%d checks failed' "${#problems[@]}"
    printf '\n    FAIL %s' "${problems[@]}"
}

# spdycat through a proxy: small.txt, big.bin and /headers in one session (-O into the cell's
# folder, -v for the response headers), then a 3 MiB POST to /echo.
#   spdycat_cell CELL PROXY VERSION-FLAG PROTOCOL (spdy/3.1 ...) VIA-NAME (SPDY/3.1 ...)
spdycat_cell() {
    local cell=$1 proxy=$2 flag=$3 protocol=$4 via=$5
    local started dir="$logs/$cell" problems=() status scheme=https forwarded_proto=https tls_flags=(-k)
    started=$(now)
    mkdir -p "$dir"
    if [ "$proxy" != tls ]; then
        scheme=http
        forwarded_proto=http
        tls_flags=(--no-tls)
    fi
    local base="$scheme://127.0.0.1:${proxy_ports[$proxy]}"
    (cd "$dir" && timeout -k 5 "$cell_timeout" "$spdycat" "${tls_flags[@]}" "$flag" -t 60 -v -O \
        "$base/small.txt" "$base/big.bin" "$base/headers") >"$dir/spdycat.log" 2>&1
    status=$?
    [ "$status" -eq 0 ] || problems+=("spdycat exit $status for the downloads")
    cmp -s "$dir/small.txt" "$ngx/htdocs/small.txt" || problems+=("small.txt differs")
    local sha
    sha=$(sha256sum <"$dir/big.bin" 2>/dev/null | cut -d' ' -f1)
    [ "$sha" = "$big_sha" ] || problems+=("big.bin has SHA-256 ${sha:-none}, not $big_sha")
    local servers vias
    servers=$(grep -c '^ *server: nginx/' "$dir/spdycat.log")
    vias=$(grep -c '^ *via: 1\.1 spdyproxy$' "$dir/spdycat.log")
    [ "$servers" -eq 3 ] || problems+=("$servers of 3 replies with nginx's server header")
    [ "$vias" -eq 3 ] || problems+=("$vias of 3 replies with via: 1.1 spdyproxy")
    local expected
    expected=$(printf 'x-forwarded-for=127.0.0.1\nx-forwarded-proto=%s\nvia=%s spdyproxy\nx-drop-me=' \
        "$forwarded_proto" "$via")
    [ "$(cat "$dir/headers" 2>/dev/null)" = "$expected" ] ||
        problems+=("nginx received $(tr '\n' ' ' <"$dir/headers" 2>/dev/null), not $(echo "$expected" | tr '\n' ' ')")
    timeout -k 5 "$cell_timeout" "$spdycat" "${tls_flags[@]}" "$flag" -t 60 -d "$ngx/upload.bin" "$base/echo" \
        >"$dir/echo.out" 2>"$dir/echo.log"
    status=$?
    [ "$status" -eq 0 ] || problems+=("spdycat exit $status for the upload")
    sha=$(sha256sum <"$dir/echo.out" | cut -d' ' -f1)
    [ "$sha" = "$upload_sha" ] || problems+=("POST /echo: $(wc -c <"$dir/echo.out") bytes back, SHA-256 $sha")
    proxy_requests["$proxy $protocol"]=$((${proxy_requests["$proxy $protocol"]:-0} + 4))
    if [ "${INTEROP_VERBOSE:-0}" = 1 ]; then show_logs "$dir/echo.log"; fi
    if [ ${#problems[@]} -eq 0 ]; then
        pass "$cell" "$(elapsed "$started")"
    else
        fail "$cell" "$(problem_lines)"
        show_logs "$dir/echo.log"
        grep -v 'recv DATA' "$dir/spdycat.log" >"$dir/spdycat-frames.log"
        show_logs "$dir/spdycat-frames.log"
    fi
}

# curl over HTTP/1.1 through a proxy, five requests on one keep-alive connection: small.txt
# (headers kept), big.bin, /headers with a hop-by-hop header named by connection, a 3 MiB
# POST with content-length (and curl's expect: 100-continue), and a chunked one.
#   curl_cell CELL PROXY
curl_cell() {
    local cell=$1 proxy=$2
    local started dir="$logs/$cell" problems=() status scheme=https common
    started=$(now)
    mkdir -p "$dir"
    [ "$proxy" != tls ] && scheme=http
    local base="$scheme://127.0.0.1:${proxy_ports[$proxy]}"
    common=(-sS --http1.1 --max-time 60 -w '%{http_code} %{num_connects} %{size_download}\n')
    [ "$scheme" = https ] && common+=(-k)
    timeout -k 5 "$cell_timeout" curl "${common[@]}" -D "$dir/small.head" -o "$dir/small.txt" "$base/small.txt" \
        --next "${common[@]}" -o "$dir/big.bin" "$base/big.bin" \
        --next "${common[@]}" -H 'connection: keep-alive, x-drop-me' -H 'x-drop-me: 1' -o "$dir/headers" \
        "$base/headers" \
        --next "${common[@]}" --data-binary "@$ngx/upload.bin" -o "$dir/echo.out" "$base/echo" \
        --next "${common[@]}" -H 'transfer-encoding: chunked' --data-binary "@$ngx/upload.bin" \
        -o "$dir/echo-chunked.out" "$base/echo" >"$dir/curl.log" 2>&1
    status=$?
    [ "$status" -eq 0 ] || problems+=("curl exit $status")
    local codes
    codes=$(awk '{ print $1 }' "$dir/curl.log" | tr '\n' ' ')
    [ "$codes" = "200 200 200 200 200 " ] || problems+=("statuses $codes(5 times 200 expected)")
    local connects
    connects=$(awk '/^[0-9]+ [0-9]+ [0-9]+$/ { n += $2 } END { print n + 0 }' "$dir/curl.log")
    [ "$connects" -eq 1 ] || problems+=("$connects connections for 5 requests (keep-alive expected)")
    cmp -s "$dir/small.txt" "$ngx/htdocs/small.txt" || problems+=("small.txt differs")
    grep -qi '^server: nginx/' "$dir/small.head" || problems+=("no server: nginx/… in the small.txt reply")
    grep -qi '^via: 1\.1 spdyproxy' "$dir/small.head" || problems+=("no via: 1.1 spdyproxy in the small.txt reply")
    local sha
    sha=$(sha256sum <"$dir/big.bin" 2>/dev/null | cut -d' ' -f1)
    [ "$sha" = "$big_sha" ] || problems+=("big.bin has SHA-256 ${sha:-none}, not $big_sha")
    local expected
    expected=$(printf 'x-forwarded-for=127.0.0.1\nx-forwarded-proto=%s\nvia=1.1 spdyproxy\nx-drop-me=' "$scheme")
    [ "$(cat "$dir/headers" 2>/dev/null)" = "$expected" ] ||
        problems+=("nginx received $(tr '\n' ' ' <"$dir/headers" 2>/dev/null), not $(echo "$expected" | tr '\n' ' ')")
    for file in echo.out echo-chunked.out; do
        sha=$(sha256sum <"$dir/$file" 2>/dev/null | cut -d' ' -f1)
        [ "$sha" = "$upload_sha" ] || problems+=("POST /echo ($file): SHA-256 ${sha:-none}, not $upload_sha")
    done
    proxy_requests["$proxy http/1.1"]=$((${proxy_requests["$proxy http/1.1"]:-0} + 5))
    if [ "${INTEROP_VERBOSE:-0}" = 1 ]; then show_logs "$dir/curl.log" "$dir/small.head"; fi
    if [ ${#problems[@]} -eq 0 ]; then
        pass "$cell" "$(elapsed "$started")"
    else
        fail "$cell" "$(problem_lines)"
        show_logs "$dir/curl.log" "$dir/small.head"
    fi
}

proxy_setup_failed=""
if [ -z "$proxy_missing" ]; then
    if ! start_nginx; then
        proxy_setup_failed="nginx did not start"
        show_logs "$ngx/logs/error.log" "$ngx/logs/stdout.log"
    else
        for setup in "tls" "plain2 --no-tls -2" "plain3 --no-tls -3" "plain3.1 --no-tls --spdy3-1"; do
            # shellcheck disable=SC2086 # the name, then the flags
            if ! start_proxy $setup; then
                name=${setup%% *}
                proxy_setup_failed="spdyproxy ($name) did not start"
                show_logs "$logs/spdyproxy-$name.log" "$logs/spdyproxy-$name.err"
                break
            fi
        done
    fi
    echo "interop: started nginx and four spdyproxy in $(elapsed "$proxy_group_started") s"
fi

if [ -n "$proxy_missing" ] || [ -n "$proxy_setup_failed" ]; then
    for cell in "${proxy_cells[@]}"; do fail "$cell" "${proxy_missing:-$proxy_setup_failed}"; done
else
    spdycat_cell spdyproxy-nginx-spdycat-spdy2-tls tls -2 spdy/2 SPDY/2
    spdycat_cell spdyproxy-nginx-spdycat-spdy3-tls tls -3 spdy/3 SPDY/3
    spdycat_cell spdyproxy-nginx-spdycat-spdy3.1-tls tls --spdy3-1 spdy/3.1 SPDY/3.1
    spdycat_cell spdyproxy-nginx-spdycat-spdy2-plain plain2 -2 spdy/2 SPDY/2
    spdycat_cell spdyproxy-nginx-spdycat-spdy3-plain plain3 -3 spdy/3 SPDY/3
    spdycat_cell spdyproxy-nginx-spdycat-spdy3.1-plain plain3.1 --spdy3-1 spdy/3.1 SPDY/3.1

    # Netty's SpdyHttpEncoder/SpdyHttpDecoder (NettyHttpClient's nginx checks: 56 requests).
    started=$(now)
    cell=spdyproxy-nginx-netty-http-client
    if [ "$netty_ok" != 1 ]; then
        fail "$cell" "the Netty peers are not built (libnetty-java, javac)"
    else
        client_log="$logs/$cell.client.log"
        timeout -k 5 "$cell_timeout" $java_command NettyHttpClient "${proxy_ports[plain3.1]}" nginx \
            $((20 << 20)) "$big_sha" >"$client_log" 2>&1
        client_status=$?
        proxy_requests["plain3.1 spdy/3.1"]=$((${proxy_requests["plain3.1 spdy/3.1"]:-0} + 56))
        if [ "${INTEROP_VERBOSE:-0}" = 1 ]; then show_logs "$client_log"; fi
        if [ "$client_status" -eq 0 ]; then
            pass "$cell" "$(elapsed "$started")"
        else
            fail "$cell" "client exit $client_status$(reason_from "$client_log")"
            show_logs "$client_log"
        fi
    fi

    curl_cell spdyproxy-nginx-curl-tls tls
    curl_cell spdyproxy-nginx-curl-plain plain3.1

    # SIGTERM: every proxy stops gracefully (GOAWAY, idle backend connections closed) and
    # exits 0.
    started=$(now)
    cell=spdyproxy-nginx-sigterm
    problems=()
    for name in tls plain2 plain3 plain3.1; do kill -TERM "${proxy_pids[$name]}" 2>/dev/null; done
    for name in tls plain2 plain3 plain3.1; do
        finish_process "${proxy_pids[$name]}" 30
        status=$?
        [ "$status" -eq 0 ] || problems+=("spdyproxy ($name) exit $status after SIGTERM$([ "$status" -eq 124 ] && echo ', still running after 30 s')")
    done
    if [ ${#problems[@]} -eq 0 ]; then
        pass "$cell" "$(elapsed "$started")"
    else
        fail "$cell" "$(problem_lines)"
        for name in tls plain2 plain3 plain3.1; do show_logs "$logs/spdyproxy-$name.err"; done
    fi

    # The access logs, complete now that the proxies have exited: one line per request made
    # through each, of the protocol the client spoke, every one complete; and nginx logged
    # each request once, with the forwarding headers.
    started=$(now)
    cell=spdyproxy-nginx-access-log
    problems=()
    total=0
    for name in tls plain2 plain3 plain3.1; do
        log="$logs/spdyproxy-$name.log"
        for protocol in spdy/2 spdy/3 spdy/3.1 http/1.1; do
            expected=${proxy_requests["$name $protocol"]:-0}
            total=$((total + expected))
            got=$(grep -c "^127\.0\.0\.1 \"[A-Z]* /[^ ]* $protocol\" " "$log")
            [ "$got" -eq "$expected" ] || problems+=("spdyproxy ($name): $got $protocol lines, $expected requests")
        done
        lines=$(grep -vc '^IPv[46]: listen on port ' "$log")
        bad=$(grep -v '^IPv[46]: listen on port ' "$log" |
            grep -Evc "^127\.0\.0\.1 \"(GET|HEAD|POST) /[^ ]* (spdy/2|spdy/3|spdy/3\.1|http/1\.1)\" (200|404) [0-9]+ 127\.0\.0\.1:$nginx_port [0-9]+\.[0-9]{3} complete \"[^\"]*\"$")
        [ "$bad" -eq 0 ] || problems+=("spdyproxy ($name): $bad of $lines lines not of the expected form (complete, from nginx)")
        big_lines=$(grep -c ' /big\.bin ' "$log")
        big_good=$(grep -c " /big\.bin [a-z0-9/.]*\" 200 $((20 << 20)) " "$log")
        [ "$big_lines" -eq "$big_good" ] || problems+=("spdyproxy ($name): a big.bin line without 200 and $((20 << 20)) bytes")
    done
    nginx_lines=$(grep -c . "$ngx/logs/access.log")
    # start_nginx's readiness probe came straight from curl, without forwarding headers.
    nginx_direct=$(grep -c ' "-" "-" "-"$' "$ngx/logs/access.log")
    [ $((nginx_lines - nginx_direct)) -eq "$total" ] ||
        problems+=("nginx logged $((nginx_lines - nginx_direct)) proxied requests, $total were made")
    unforwarded=$(grep -v ' "-" "-" "-"$' "$ngx/logs/access.log" | grep -Evc '"127\.0\.0\.1" "https?" "(SPDY/2|SPDY/3|SPDY/3\.1|1\.1) spdyproxy"$')
    [ "$unforwarded" -eq 0 ] || problems+=("nginx logged $unforwarded proxied requests without x-forwarded-for, -proto and via")
    if [ ${#problems[@]} -eq 0 ]; then
        pass "$cell" "$(elapsed "$started")"
    else
        fail "$cell" "$(problem_lines)"
        for name in tls plain2 plain3 plain3.1; do show_logs "$logs/spdyproxy-$name.log"; done
        show_logs "$ngx/logs/access.log"
    fi
fi
if [ -n "$nginx_pid" ]; then
    kill -TERM "$nginx_pid" 2>/dev/null
    finish_process "$nginx_pid" 10 >/dev/null
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
