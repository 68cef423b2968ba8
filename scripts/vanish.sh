#!/usr/bin/env bash
# Peers that vanish: spdyd must forget a peer that disappears without a word, and keep serving.
#
#   a. kill9-*    a client (spdyload -c 1 -m 100) is killed with SIGKILL while its 100 streams are
#                 active (confirmed by spdy_streams_active > 0): over large responses (the server
#                 is writing) and over requests the server never answers (the server is only
#                 reading). Then spdy_streams_active and spdy_connections_active must return to 0,
#                 spdyd's open fds to their baseline (within SETTLE seconds), and a good client
#                 (spdyload -n 100) must get 100 answers.
#   b. restart-*  spdyd is killed (SIGKILL) under load and restarted on the same port: a spdyload
#                 without --retry must end by itself with the lost requests counted as errors
#                 (succeeded + failed + errored = -n), one with --retry 8 must complete every
#                 request (skipped while spdyload has no --retry). 8 retries back off for 8 s at
#                 least (100 ms doubled up to 5 s, then a random point in the upper half): time
#                 enough for a restart on a slow machine.
#   c. rst-*      a raw client (scripts/spdy-rawclient.py) over plain SPDY/3.1 vanishes with a
#                 TCP RST (SO_LINGER {1, 0}): after 5 bytes of a SETTINGS frame; inside a
#                 SYN_STREAM (a real, ~9 KB compressed header block, of which the frame header
#                 and 100 bytes are sent); while the server sends a 100 MiB response on 4 streams
#                 (the windows opened wide, 4 MiB read); with 100 unanswered streams open; and 10
#                 clients downloading at once that all vanish together. The last three also over
#                 TLS (ALPN spdy/3.1). The same checks as in a follow.
#
# Every case runs against a TLS SPDY/3.1 spdyd; a and b also against a plain-TCP one (without
# --quick), c against a plain-TCP one always (the raw client's partial frames are plain-TCP
# cases). Every spdyd runs with --metrics-port and the checks read its /metrics and /proc.
#
# Usage: scripts/vanish.sh [--quick] [BIN_DIR]   (BIN_DIR: default .build/debug; waits up to
#        WAIT_BUILD seconds, default 0, for BIN_DIR/spdyd to appear)
# Environment: SETTLE (seconds allowed to return to the baseline, default 20), ROUNDS (times
#   cases a and c are repeated, default 3, --quick 1), RL_KEEP=1 keeps the work directory.
# Prints one PASS/FAIL line per case, then "vanish: N passed, N failed"; exits 1 on a failure.
RL_NAME=vanish
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
settle=${SETTLE:-20}
rounds=${ROUNDS:-$([ $quick = 1 ] && echo 1 || echo 3)}
rl_setup "${args[0]:-.build/debug}" "${WAIT_BUILD:-0}"
rl_watchdog "$([ $quick = 1 ] && echo 120 || echo 900)"
raw=(timeout 60 python3 scripts/spdy-rawclient.py)

www=$RL_WORK/www
mkdir -p "$www"
head -c 1024 /dev/urandom >"$www/small.bin"
truncate -s $((100 << 20)) "$www/big.bin" # sparse: read as zeros, costs no disk
rl_make_cert
hang_path='/small.bin?spdyd_do_not_respond_to_req=yes'

# --- helpers ---
# settled MPORT PID BASE_FDS: streams and connections at 0, fds back at the baseline.
settled() {
    [ "$(rl_metric "$1" spdy_streams_active)" = 0 ] &&
        [ "$(rl_metric "$1" spdy_connections_active)" = 0 ] &&
        [ "$(rl_fds "$2")" -le "$3" ]
}

# check_settled CASE MPORT PID BASE_FDS EXTRA_DETAILS: one result line.
check_settled() {
    local name=$1 mport=$2 pid=$3 base=$4 extra=$5 t0 t1 ok=0
    t0=$(date +%s.%N)
    rl_wait_for "$settle" settled "$mport" "$pid" "$base" || ok=1
    t1=$(date +%s.%N)
    kill -0 "$pid" 2>/dev/null || ok=1
    local details
    details="$extra; after $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s:"
    details+=" streams_active=$(rl_metric "$mport" spdy_streams_active)"
    details+=" connections_active=$(rl_metric "$mport" spdy_connections_active)"
    details+=" fds=$(rl_fds "$pid" 2>/dev/null || echo gone)/baseline $base"
    kill -0 "$pid" 2>/dev/null || details+=" SPDYD DIED"
    rl_check "$name" $ok "$details"
}

# good_client CASE URI_BASE SPDYLOAD_ARGS...: 100 requests, all must succeed.
good_client() {
    local name=$1 base=$2 out=$RL_WORK/good.json
    shift 2
    local ok=0
    timeout 60 "$RL_BIN/spdyload" --json -n 100 -c 1 -m 10 "$@" "$base/small.bin" >"$out" 2>&1 || ok=1
    local s
    s=$(rl_json "$out" 'j["requests"]["succeeded"]')
    [ "$s" = 100 ] || ok=1
    rl_check "$name" $ok "good client: $s/100 succeeded, errored=$(rl_json "$out" 'j["requests"]["errored"]')"
}

# baseline MPORT PID URI_BASE SPDYLOAD_ARGS...: warm the server up, wait until its connections
# are gone (a TLS connection whose peer closed without close_notify can take NIOSSL's 5 s
# shutdown timeout), then its fd count (printed).
baseline() {
    local mport=$1 pid=$2 base=$3
    shift 3
    timeout 60 "$RL_BIN/spdyload" -n 20 -c 2 -m 5 "$@" "$base/small.bin" >/dev/null 2>&1 || true
    rl_wait_for "$settle" eval '[ "$(rl_metric "$mport" spdy_connections_active)" = 0 ]' || true
    sleep 0.2
    rl_fds "$pid"
}

# --- a. a client killed with SIGKILL mid-stream ---
case_a() { # LABEL URI_BASE SPDYLOAD_ARGS... (against the server in $spid / $smport)
    local label=$1 base=$2 round
    shift 2
    local basefds
    basefds=$(baseline "$smport" "$spid" "$base" "$@")
    for round in $(seq "$rounds"); do
        local what path
        for what in large hang; do
            if [ $what = large ]; then path=/big.bin; else path=$hang_path; fi
            # Not under timeout: the SIGKILL must hit spdyload itself (the cleanup ends it otherwise).
            rl_bg "kill9-$label" "$RL_BIN/spdyload" -n 100 -c 1 -m 100 "$@" "$base$path"
            local lpid=$RL_PID
            local streams=0 sent0
            # Confirm the streams are active (and for "large", that data is flowing).
            for _ in $(seq 100); do
                streams=$(rl_metric "$smport" spdy_streams_active)
                [ "$streams" -gt 0 ] && break
                sleep 0.1
            done
            sleep 0.5
            streams=$(rl_metric "$smport" spdy_streams_active)
            sent0=$(rl_metric "$smport" spdy_bytes_total 'direction="sent"')
            rl_kill9 "$lpid"
            local ok=0
            [ "$streams" -gt 0 ] || ok=1
            local name="kill9-$label-$what"
            [ "$rounds" -gt 1 ] && name+="#$round"
            if [ $ok != 0 ]; then
                rl_fail "$name" "streams never became active (streams_active=$streams)"
                continue
            fi
            local sent=""
            [ $what = large ] && sent=", $((sent0 >> 20)) MiB sent by the server so far"
            check_settled "$name" "$smport" "$spid" "$basefds" "killed with streams_active=$streams$sent"
        done
    done
    good_client "kill9-$label-good-client" "$base" "$@"
}

spdyd_tls() { rl_start_spdyd "$1" --spdy3-1 -d "$www" --metrics-port 0 "${2:-0}" "$RL_WORK/key.pem" "$RL_WORK/cert.pem"; }
spdyd_plain() { rl_start_spdyd "$1" --no-tls --spdy3-1 -d "$www" --metrics-port 0 "${2:-0}"; }

spdyd_tls spdyd-tls
spid=$RL_PID smport=$RL_METRICS_PORT tls_port=$RL_PORT
tls_base=https://127.0.0.1:$tls_port
spdyd_plain spdyd-plain
ppid=$RL_PID pmport=$RL_METRICS_PORT plain_port=$RL_PORT
plain_base=http://127.0.0.1:$plain_port

case_a tls "$tls_base"
if [ $quick = 0 ]; then
    spid=$ppid smport=$pmport case_a plain "$plain_base" --no-tls --spdy3-1
fi

# --- b. the server killed with SIGKILL and restarted on the same port under load ---
case_b() { # tls|plain LABEL RETRY_ARGS...
    local transport=$1 label=$2
    shift 2
    local start=spdyd_tls uri=https
    if [ "$transport" = plain ]; then
        start=spdyd_plain uri=http
        set -- --no-tls --spdy3-1 "$@"
    fi
    $start "spdyd-restart-$label"
    local rpid=$RL_PID rmport=$RL_METRICS_PORT rport=$RL_PORT
    local n=${RESTART_REQUESTS:-6000} out=$RL_WORK/restart-$label.json t0 t1
    t0=$(date +%s.%N)
    rl_bg "restart-$label-load" timeout 90 "$RL_BIN/spdyload" --json -n "$n" -c 4 -m 10 "$@" \
        "$uri://127.0.0.1:$rport/small.bin"
    local lpid=$RL_PID lout=$RL_WORK/restart-$label-load.log
    # Kill once the load runs (1/10 of the requests answered).
    local done_before=0
    for _ in $(seq 300); do
        done_before=$(rl_metric "$rmport" spdy_streams_closed_total 'status="OK"')
        [ "$done_before" -ge $((n / 10)) ] && break
        kill -0 "$lpid" 2>/dev/null || break
        sleep 0.05
    done
    local still_running=0
    kill -0 "$lpid" 2>/dev/null && still_running=1
    rl_kill9 "$rpid"
    sleep 0.5
    local restarted=0
    $start "spdyd-restart-$label-2" "$rport" && restarted=1
    local rpid2=$RL_PID rmport2=$RL_METRICS_PORT
    local status=0
    wait "$lpid" || status=$?
    rl_forget "$lpid"
    t1=$(date +%s.%N)
    local secs
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    local s f e
    s=$(rl_json "$lout" 'j["requests"]["succeeded"]')
    f=$(rl_json "$lout" 'j["requests"]["failed"]')
    e=$(rl_json "$lout" 'j["requests"]["errored"]')
    local retried
    retried=$(rl_json "$lout" 'j["requests"].get("retried", 0)')
    local served_after=0
    [ $restarted = 1 ] && served_after=$(rl_metric "$rmport2" spdy_streams_closed_total 'status="OK"')
    local details="-n $n: succeeded=$s failed=$f errored=$e retried=$retried in $secs s (exit $status); killed after $done_before answered"
    details+=", $served_after answered by the restarted spdyd"
    local ok=0
    [ $still_running = 1 ] || { ok=1; details+=" (LOAD ENDED BEFORE THE KILL: raise RESTART_REQUESTS)"; }
    [ $restarted = 1 ] || { ok=1; details+=" (RESTART FAILED)"; }
    if [ $status = 124 ] || [ $status = 137 ]; then
        ok=1 details+=" (HUNG: killed by timeout)"
    elif [ $status -gt 128 ]; then
        ok=1 details+=" (CRASHED: signal $((status - 128)), see $(tail -c 300 "$lout" | tr '\n' ' '))"
    fi
    [ "$s" != NaN ] || { ok=1; details+=" (NO REPORT)"; }
    if [ "$s" != NaN ]; then
        [ $((s + f + e)) = "$n" ] || { ok=1; details+=" (NOT ACCOUNTED: $((s + f + e)) != $n)"; }
        if [ "${label%-retry}" != "$label" ] && [ "${label%-no-retry}" = "$label" ]; then
            [ "$s" = "$n" ] || { ok=1; details+=" (NOT ALL COMPLETED WITH --retry)"; }
        else
            [ "$e" -gt 0 ] || details+=" (no error although the server was killed)"
        fi
    fi
    rl_check "restart-$label" $ok "$details"
    if [ $restarted = 1 ]; then
        local ok2=0
        rl_wait_for "$settle" settled "$rmport2" "$rpid2" 100000 || ok2=1
        rl_check "restart-$label-settled" $ok2 \
            "restarted spdyd: streams_active=$(rl_metric "$rmport2" spdy_streams_active) connections_active=$(rl_metric "$rmport2" spdy_connections_active)"
        rl_stop "$rpid2"
    fi
}
for transport in tls $([ $quick = 0 ] && echo plain); do
    case_b $transport "$transport-no-retry"
    if rl_has_option spdyload --retry; then
        case_b $transport "$transport-retry" --retry 8
    else
        echo "SKIP restart-$transport-retry     spdyload has no --retry yet"
    fi
done

# --- c. TCP RST mid-frame / mid-response from a raw client ---
raw_case() { # NAME MPORT PID BASEFDS RAWCLIENT_ARGS... : one raw client, RST once the server has it
    local name=$1 mport=$2 pid=$3 base=$4
    shift 4
    local until=$RL_WORK/until-$name
    rm -f "$until"
    rl_bg "raw-$name" "${raw[@]}" "$@" --until "$until"
    local cpid=$RL_PID log=$RL_WORK/raw-$name.log
    rl_wait_for 20 grep -q READY "$log" || true
    # The server has the connection (an fd more than the baseline), and the streams if any.
    rl_wait_for 10 eval '[ "$(rl_fds "$pid")" -gt "$base" ]' || true
    local want_streams=$RAW_STREAMS
    if [ "$want_streams" -gt 0 ]; then
        rl_wait_for 10 eval '[ "$(rl_metric "$mport" spdy_streams_active)" -ge "$want_streams" ]' || true
    fi
    local fds_before streams_before conns_before
    fds_before=$(rl_fds "$pid")
    streams_before=$(rl_metric "$mport" spdy_streams_active)
    conns_before=$(rl_metric "$mport" spdy_connections_active)
    touch "$until"
    local status=0
    wait "$cpid" || status=$?
    rl_forget "$cpid"
    local ok=0
    [ $status = 0 ] || ok=1
    [ "$fds_before" -gt "$base" ] || ok=1
    [ "$streams_before" -ge "$want_streams" ] || ok=1
    if [ $ok != 0 ]; then
        rl_fail "$name" "raw client exit $status, before the RST: fds=$fds_before streams_active=$streams_before: $(tail -1 "$log")"
        return
    fi
    check_settled "$name" "$mport" "$pid" "$base" \
        "RST with connections_active=$conns_before streams_active=$streams_before fds=$fds_before"
}

case_c() { # LABEL MPORT PID PORT [--tls]
    local label=$1 mport=$2 pid=$3 port=$4 tlsarg=${5:-} round basefds
    local load_args=(--no-tls --spdy3-1) base=http://127.0.0.1:$port
    [ -n "$tlsarg" ] && load_args=() base=https://127.0.0.1:$port
    basefds=$(baseline "$mport" "$pid" "$base" "${load_args[@]}")
    for round in $(seq "$rounds"); do
        local sfx=""
        [ "$rounds" -gt 1 ] && sfx="#$round"
        if [ -z "$tlsarg" ]; then
            RAW_STREAMS=0 raw_case "rst-$label-partial-settings$sfx" "$mport" "$pid" "$basefds" \
                partial --port "$port" --bytes 5
            RAW_STREAMS=0 raw_case "rst-$label-partial-syn$sfx" "$mport" "$pid" "$basefds" \
                partial-syn --port "$port" --length 16000 --bytes 100
        fi
        RAW_STREAMS=1 raw_case "rst-$label-download$sfx" "$mport" "$pid" "$basefds" \
            download /big.bin --streams 4 --read $((4 << 20)) --port "$port" $tlsarg
        RAW_STREAMS=100 raw_case "rst-$label-unanswered$sfx" "$mport" "$pid" "$basefds" \
            hang "$hang_path" --streams 100 --port "$port" $tlsarg
        # Ten at once, all vanishing together.
        local until=$RL_WORK/until-many cpids=() i
        rm -f "$until"
        for i in $(seq 10); do
            rl_bg "raw-many-$i" "${raw[@]}" download /big.bin --streams 2 --read $((1 << 20)) \
                --port "$port" $tlsarg --until "$until"
            cpids+=("$RL_PID")
        done
        for i in $(seq 10); do rl_wait_for 30 grep -q READY "$RL_WORK/raw-many-$i.log" || true; done
        local streams_before fds_before conns_before
        streams_before=$(rl_metric "$mport" spdy_streams_active)
        conns_before=$(rl_metric "$mport" spdy_connections_active)
        fds_before=$(rl_fds "$pid")
        touch "$until"
        local bad=0 cpid
        for cpid in "${cpids[@]}"; do
            wait "$cpid" || bad=$((bad + 1))
            rl_forget "$cpid"
        done
        if [ $bad != 0 ] || [ "$conns_before" -lt 10 ]; then
            rl_fail "rst-$label-ten-at-once$sfx" "$bad raw clients failed; connections_active=$conns_before before the RSTs"
        else
            check_settled "rst-$label-ten-at-once$sfx" "$mport" "$pid" "$basefds" \
                "RST with connections_active=$conns_before streams_active=$streams_before fds=$fds_before"
        fi
    done
    good_client "rst-$label-good-client" "$base" "${load_args[@]}"
}

case_c plain "$pmport" "$ppid" "$plain_port"
case_c tls "$smport" "$spid" "$tls_port" --tls

# Both servers are still the same processes.
for p in "$spid" "$ppid"; do
    kill -0 "$p" 2>/dev/null || rl_fail "spdyd-alive" "spdyd $p is gone"
done
rl_summary
