#!/usr/bin/env bash
# A bad network between our client and our server: spdyload against spdyd across a veth pair
# whose link loses packets, is slow, is far away, or goes down, for both transports (SPDY/3.1
# over TLS and plain-TCP SPDY/3). Every body is checked against its SHA-256 (spdyload
# --checksums; without that option, the byte counts are checked instead), spdyload runs under
# a hard `timeout` (a hang fails), and after every run spdyd must be idle again in bounded
# time: no spdy_connections_active or spdy_streams_active on its metrics (--metrics-port) and no
# socket of its own left open (ss: established or close-wait).
#
# Topology (two network namespaces this script makes and removes, named after its PID):
#
#   client ns  10.77.0.1/24 [veth] ============ [veth] 10.77.0.2/24  server ns
#   spdyload                                                        spdyd --spdy3-1 (TLS) :8443, metrics :9101
#                                                                   spdyd --no-tls -3     :8080, metrics :9102
#                                                                   delay-relay.py :9443 -> :8443, :9080 -> :8080
#
# Conditions, each run with the small files (all in one spdyload run, -c 1 -m 100) and with the
# big file (-n 1 -w 24), unless said otherwise:
#   baseline          nothing
#   loss-1%, loss-5%  nftables in both namespaces: an input-hook rule `iifname VETH numgen random
#                     mod 100 < P drop`, so each direction loses P % of its packets
#   rate-10mbit       tc tbf rate 10mbit burst 32kbit latency 400ms on both ends
#   delay-100ms       the client connects to scripts/delay-relay.py (in the server namespace, in
#                     front of spdyd), which holds every chunk 100 ms +- 20 ms each way, in order
#   outage-5s         the big file through tbf at 100mbit (both ends); the server's end of the
#                     veth goes down 2 s after spdyload starts, for 5 s: TCP carries it through
#   outage-30s        the same, down for 30 s, with --ping-interval 2 and no retry: spdyload must
#                     end while the link is down, with the request errored, and spdyd must be
#                     idle once the link is back (within 180 s)
#   outage-15s-retry  the same, down for 15 s, with --retry 8 --ping-interval 2: the request is
#                     sent again on a new connection and completes, checksum verified (while
#                     the link is down each connect fails after ~3 s, EHOSTUNREACH: 5 retries
#                     with their backoff cover about 18 s, 8 about 40)
# The veths have gso_max_segs 1, so a packet is at most one MTU (as on a real link).
#
# Without --quick: 1,000 small files (200 B to 16 KiB), a 100 MiB file, every condition, the
# transports one after the other; several minutes. With --quick: 100 small files, a 10 MiB file,
# baseline, loss-5%, rate-10mbit (small files only), delay-100ms, outage-3s and
# outage-4s-retry (80mbit, down 0.7 s after the start; --retry 5 --ping-interval 1), the two
# transports side by side on the same link; about 40 s.
#
# Each run prints `faults: TRANSPORT CONDITION SET: completed N/M, bytes B, time T s, errors E,
# checksums V ok / C bad, server idle after S s` (then notes) and PASS or FAIL; at the end
# `faults: N passed, N failed`, with exit status 1 if any run failed. A run that needs an
# option spdyload lacks (--ping-interval, --retry) is reported as SKIP and not counted.
#
# Usage: scripts/faults.sh [--quick] [BIN_DIR]
#   BIN_DIR holds spdyd and spdyload (default .build/debug); they are copied first, so a rebuild
#   during the run does not disturb it. Needs root (namespaces), ip and ss (iproute2), tc (tbf),
#   nft, python3, openssl, curl, jq, timeout, sha256sum.
# Environment: ONLY (the conditions to run, space-separated, e.g. "baseline loss-5%"),
#   TRANSPORTS ("tls plain"), FAULTS_KEEP=1 (keep the temporary folder: logs, spdyload's JSON,
#   results.tsv).
set -euo pipefail

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}
quick=0
positional=()
for arg in "$@"; do
    case $arg in
        --quick) quick=1 ;;
        -h | --help) usage ;;
        -*) echo "faults: unknown option $arg" >&2; usage ;;
        *) positional+=("$arg") ;;
    esac
done
[ ${#positional[@]} -le 1 ] || usage

cd "$(dirname "$0")/.."
repo=$(pwd)
bin=${positional[0]:-.build/debug}
for tool in spdyd spdyload; do
    [ -x "$bin/$tool" ] || { echo "faults: $bin/$tool is not an executable" >&2; exit 2; }
done
for tool in ip ss tc nft python3 openssl curl jq timeout sha256sum; do
    command -v "$tool" >/dev/null || { echo "faults: needs $tool" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "faults: needs root (network namespaces)" >&2; exit 2; }

script_start=$(date +%s.%N)
tag=$$
ns_c=faults-$tag-client
ns_s=faults-$tag-server
veth_c=flt${tag}c # at most 15 characters
veth_s=flt${tag}s
addr_c=10.77.0.1
addr_s=10.77.0.2
work=$(mktemp -d /tmp/faults.XXXXXX)

cleanup() {
    local status=$? pid ns
    trap - EXIT INT TERM HUP
    trap '' PIPE # a reader that went away (| tee, killed too) must not stop the clean-up
    set +e
    # This shell's background jobs that still run (spdyd, the relays, spdyload's runner)...
    for pid in $(jobs -p); do kill "$pid" 2>/dev/null; done
    for ns in "$ns_c" "$ns_s"; do
        # ... and whatever still runs in our namespaces: this script started all of it.
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
    done
    wait 2>/dev/null
    for ns in "$ns_c" "$ns_s"; do ip netns del "$ns" 2>/dev/null || true; done
    if [ "${FAULTS_KEEP:-0}" = 1 ]; then
        echo "faults: logs kept in $work" >&2
    else
        rm -rf "$work"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
in_c() { ip netns exec "$ns_c" "$@"; }
in_s() { ip netns exec "$ns_s" "$@"; }

# The binaries and the relay, copied.
mkdir -p "$work/bin"
cp "$bin/spdyd" "$bin/spdyload" "$work/bin/"
cp "$repo/scripts/delay-relay.py" "$work/bin/"
spdyload_help=$("$work/bin/spdyload" --help 2>&1 || true)
has_option() { grep -q -- "$1" <<<"$spdyload_help"; }
has_checksums=0 has_retry=0 has_ping=0
has_option --checksums && has_checksums=1
has_option --retry && has_retry=1
has_option --ping-interval && has_ping=1
if [ $has_checksums = 0 ]; then
    echo "faults: spdyload has no --checksums: bodies are checked by their byte counts only" >&2
fi

# The documents: small files of 200 B to 16 KiB and one big one, random bytes, and their
# SHA-256 with the request path as the file name.
if [ $quick = 1 ]; then small_count=100 big_mib=10; else small_count=1000 big_mib=100; fi
docroot=$work/www
mkdir -p "$docroot/s"
python3 - "$docroot" "$small_count" "$work/checksums.txt" <<'EOF'
import hashlib, os, random, sys
root, count, sums = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(sums, "w") as out:
    for i in range(1, count + 1):
        data = os.urandom(random.randint(200, 16384))
        with open(os.path.join(root, "s", f"{i:04d}.bin"), "wb") as f:
            f.write(data)
        out.write(f"{hashlib.sha256(data).hexdigest()}  /s/{i:04d}.bin\n")
EOF
head -c $((big_mib << 20)) /dev/urandom >"$docroot/big.bin"
echo "$(sha256sum <"$docroot/big.bin" | cut -d' ' -f1)  /big.bin" >>"$work/checksums.txt"
small_bytes=$(find "$docroot/s" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')
big_bytes=$((big_mib << 20))
mapfile -t small_paths < <(grep -o ' /s/.*' "$work/checksums.txt" | cut -c2-)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=$addr_s" \
    -addext "subjectAltName=IP:$addr_s" -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null

# The network: two namespaces, one veth pair, no offloads that would make a "packet" 64 KiB.
ip netns add "$ns_c"
ip netns add "$ns_s"
ip link add "$veth_c" netns "$ns_c" type veth peer name "$veth_s" netns "$ns_s"
ip -n "$ns_c" addr add "$addr_c/24" dev "$veth_c"
ip -n "$ns_s" addr add "$addr_s/24" dev "$veth_s"
for end in "$ns_c $veth_c" "$ns_s $veth_s"; do
    read -r ns dev <<<"$end"
    ip -n "$ns" link set lo up
    ip -n "$ns" link set "$dev" gso_max_segs 1 2>/dev/null || true
    ip -n "$ns" link set "$dev" up
done

start() { # LOG COMMAND...: runs it in the server namespace, in the background
    local log=$1
    shift
    ip netns exec "$ns_s" "$@" >"$log" 2>&1 &
}
listening() { # PORT
    [ -n "$(in_s ss -Hltn "sport = :$1")" ]
}
wait_listening() { # NAME PORT...
    local name=$1 port
    shift
    for _ in $(seq 200); do
        for port; do listening "$port" || { sleep 0.05; continue 2; }; done
        return 0
    done
    echo "faults: $name did not start" >&2
    tail -n 20 "$work"/*.log >&2
    exit 1
}
fetches() { # URL [SECONDS]: an HTTP/1.1 request from the client namespace gets 200 in time (3 s)
    [ "$(in_c curl -sk --max-time "${2:-3}" -o /dev/null -w '%{http_code}' "$1")" = 200 ]
}
tls_metrics=9101
start "$work/spdyd-tls.log" "$work/bin/spdyd" --spdy3-1 --metrics-port 9101 -d "$docroot" 8443 \
    "$work/key.pem" "$work/cert.pem"
start "$work/spdyd-plain.log" "$work/bin/spdyd" --no-tls -3 --metrics-port 9102 -d "$docroot" 8080
start "$work/relay-tls.log" python3 "$work/bin/delay-relay.py" --verbose --host "$addr_s" 9443 127.0.0.1:8443 100 20
start "$work/relay-plain.log" python3 "$work/bin/delay-relay.py" --verbose --host "$addr_s" 9080 127.0.0.1:8080 100 20
wait_listening servers 8443 8080 9101 9102 9443 9080
fetches "http://$addr_s:8080/s/0001.bin" || { echo "faults: plain spdyd does not answer" >&2; exit 1; }
fetches "https://$addr_s:8443/s/0001.bin" || { echo "faults: TLS spdyd does not answer" >&2; exit 1; }
if ! { fetches "https://$addr_s:9443/s/0001.bin" && fetches "http://$addr_s:9080/s/0001.bin"; }; then
    echo "faults: the delay relays do not answer" >&2
    exit 1
fi

# --- the conditions ---

# Loss: every packet arriving on either end is dropped with probability PERCENT %.
set_loss() { # PERCENT
    local end ns dev
    for end in "$ns_c $veth_c" "$ns_s $veth_s"; do
        read -r ns dev <<<"$end"
        ip netns exec "$ns" nft -f - <<EOF
table inet faults {
    chain input {
        type filter hook input priority 0; policy accept;
        iifname "$dev" numgen random mod 100 < $1 drop
    }
}
EOF
    done
}
set_rate() { # RATE BURST
    in_c tc qdisc replace dev "$veth_c" root tbf rate "$1" burst "$2" latency 400ms
    in_s tc qdisc replace dev "$veth_s" root tbf rate "$1" burst "$2" latency 400ms
}
link_down() { ip -n "$ns_s" link set "$veth_s" down; }
link_up() { ip -n "$ns_s" link set "$veth_s" up; }
clear_conditions() {
    in_c nft delete table inet faults 2>/dev/null || true
    in_s nft delete table inet faults 2>/dev/null || true
    in_c tc qdisc del dev "$veth_c" root 2>/dev/null || true
    in_s tc qdisc del dev "$veth_s" root 2>/dev/null || true
    link_up
}

# The sum of a metric's samples on spdyd's endpoint (empty if it is not there).
metric() { # TEXT NAME
    awk -v name="$2" '$1 == name || index($1, name "{") == 1 { s += $NF; n++ } END { if (n) print s + 0 }' <<<"$1"
}
# spdyd's sockets on PORT that it has not closed yet (established or close-wait), e.g.
# "1 close-wait" (nothing: none).
open_sockets() { # PORT
    in_s ss -Htn state established state close-wait "sport = :$1" | awk '{ n[tolower($1)]++ }
        END { for (s in n) { printf "%s%d %s", sep, n[s], s; sep = ", " } }'
}
# Waits until spdyd has no connection and no stream (by its metrics, when it has them) and no
# socket, counting from FROM (a time from `now`); prints the seconds from FROM to the first look
# that found it idle, and what was still open at the first look if that was not idle; or
# "never (...)".
server_idle() { # FROM PORT METRICS_PORT_OR_EMPTY LIMIT_SECONDS
    local from=$1 text c=0 s=0 k first="" state
    while :; do
        if [ -n "$3" ]; then
            text=$(in_s curl -s --max-time 2 "http://127.0.0.1:$3/metrics" || true)
            c=$(metric "$text" spdy_connections_active)
            s=$(metric "$text" spdy_streams_active)
        fi
        k=$(open_sockets "$2")
        if [ "$c" = 0 ] && [ "$s" = 0 ] && [ -z "$k" ]; then
            echo "$(elapsed "$from" "$(now)") s${first:+ (at first: $first)}"
            return 0
        fi
        state="${3:+connections ${c:-?}, streams ${s:-?}, }sockets ${k:-none}"
        [ -n "$first" ] || first=$state
        if awk -v a="$from" -v b="$(now)" -v l="$4" 'BEGIN { exit !(b - a > l) }'; then
            echo "never (after ${4} s: $state)"
            return 1
        fi
        sleep 0.2
    done
}

passed=0 failed=0 skipped=0
results=$work/results.tsv
printf 'transport\tcondition\tset\tcompleted\tbytes\ttime_s\terrors\tchecksums_ok\tchecksums_bad\tserver_idle\tverdict\tnotes\n' >"$results"

# A transport's settings: sets label, scheme, port (spdyd's), relay_port, metrics_port, flags.
describe() { # TRANSPORT
    case $1 in
        tls) label="tls-spdy/3.1" scheme=https port=8443 relay_port=9443 metrics_port=$tls_metrics flags=() ;;
        plain) label="plain-spdy/3" scheme=http port=8080 relay_port=9080 metrics_port=9102 flags=(--no-tls -3) ;;
    esac
}
# The requests of a set: sets count, expected_bytes, load (spdyload's options) and paths.
requests_of() { # SET
    if [ "$1" = small ]; then
        paths=("${small_paths[@]}") count=${#small_paths[@]} expected_bytes=$small_bytes
        load=(-n "$count" -c 1 -m 100)
    else
        paths=(/big.bin) count=1 expected_bytes=$big_bytes
        load=(-n 1 -c 1 -m 1 -w 24)
    fi
    [ $has_checksums = 1 ] && load+=(--checksums "$work/checksums.txt")
    return 0
}

declare -A runner started_at before_outage
# Starts spdyload for TRANSPORT in the background (under `timeout LIMIT`); writes
# $work/ID.json, .err and .status ("EXIT_STATUS END_TIME").
launch() { # TRANSPORT ID SET LIMIT [SPDYLOAD_OPTION...]
    local transport=$1 id=$2 set=$3 limit=$4 label scheme port relay_port metrics_port flags paths count \
        expected_bytes load
    shift 4
    describe "$transport"
    requests_of "$set"
    [ "${VIA_RELAY:-0}" = 1 ] && port=$relay_port
    local uris=("${paths[@]/#/$scheme://$addr_s:$port}")
    rm -f "$work/$id.status"
    started_at[$transport]=$(now)
    (
        rc=0
        timeout -k 5 "$limit" ip netns exec "$ns_c" "$work/bin/spdyload" --json "${flags[@]}" "${load[@]}" "$@" \
            "${uris[@]}" >"$work/$id.json" 2>"$work/$id.err" || rc=$?
        echo "$rc $(now)" >"$work/$id.status.new"
        mv "$work/$id.status.new" "$work/$id.status"
    ) &
    runner[$transport]=$!
}

# Reads what spdyload reported and what spdyd's state came to, prints the run's line, counts it.
report() { # TRANSPORT ID CONDITION SET EXPECT LIMIT DOWN_AT UP_AT IDLE
    local transport=$1 id=$2 condition=$3 set=$4 expect=$5 limit=$6 down_at=$7 up_at=$8 idle=$9
    local label scheme port relay_port metrics_port flags paths count expected_bytes load
    describe "$transport"
    requests_of "$set"
    local rc end note="" ok=1
    read -r rc end <"$work/$id.status"
    [ -n "${before_outage[$transport]:-}" ] && { note+="; the run had ended before the link went down"; ok=0; }

    # What spdyload reported (fields are "?" when it printed no JSON).
    local total="?" succeeded="?" errored="?" bytes="?" verified=- corrupted=- retried=- errors=""
    if jq -e . "$work/$id.json" >/dev/null 2>&1; then
        IFS=$'\t' read -r total succeeded errored bytes verified corrupted retried errors < <(jq -r '
            def find(k): first(.. | objects | select(has(k)) | .[k]) // "-";
            [.requests.total, .requests.succeeded, .requests.errored, .body_bytes,
             find("verified"), find("corrupted"), find("retried"),
             ((.request_errors // []) + (.connect_errors // []) | unique | join("; ")) + ""]
            | map(tostring) | @tsv' "$work/$id.json")
    fi
    local first_error
    first_error=$(grep -v '^[[:space:]]*$' "$work/$id.err" | head -n 1 | cut -c1-200 || true)

    case $idle in never*) ok=0 ;; esac
    case $rc in
        124 | 137) note+="; HANG: killed by timeout after $limit s"; ok=0 ;;
    esac
    if [ "$expect" = complete ]; then
        [ "$succeeded" = "$count" ] || ok=0
        if [ $has_checksums = 1 ]; then
            [ "$verified" = "$count" ] && [ "$corrupted" = 0 ] || ok=0
        else
            [ "$bytes" = "$expected_bytes" ] || ok=0
        fi
        [ "$rc" = 0 ] || { note+="; exit status $rc"; ok=0; }
    else
        # The dead connection must be noticed while the link is down, and the request errored.
        if [ "$total" = "?" ]; then
            note+="; no report"
            ok=0
        elif [ "$succeeded" != 0 ] || [ "$errored" = 0 ]; then
            note+="; the request was not counted as errored"
            ok=0
        fi
        if [ -n "$up_at" ] && awk -v e="$end" -v u="$up_at" 'BEGIN { exit !(e > u) }'; then
            note+="; spdyload ended only after the link was back"
            ok=0
        fi
    fi
    [ -n "$down_at" ] && note+="; ended $(elapsed "$down_at" "$end") s after the link went down"
    [ -n "$retried" ] && [ "$retried" != - ] && [ "$retried" != 0 ] && note+="; retried $retried"
    [ -n "$errors" ] && note+="; errors: $errors"
    [ -z "$errors" ] && [ "$ok" = 0 ] && [ -n "$first_error" ] && note+="; stderr: $first_error"
    local checks
    if [ $has_checksums = 1 ]; then
        checks="checksums $verified ok / $corrupted bad"
    else
        checks="checksums - ok / - bad (no --checksums; bytes $([ "$bytes" = "$expected_bytes" ] && echo match ||
            echo "differ, expected $expected_bytes"))"
    fi
    local verdict=PASS seconds
    [ $ok = 1 ] || verdict=FAIL
    seconds=$(elapsed "${started_at[$transport]}" "$end")
    echo "faults: $label $condition $set: completed $succeeded/$count, bytes $bytes, time $seconds s," \
        "errors $errored, $checks, server idle after $idle${note} $verdict"
    if [ $ok = 1 ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        if [ -s "$work/$id.err" ]; then sed 's/^/    spdyload: /' "$work/$id.err" | tail -n 5; fi
    fi
    printf '%s\t%s\t%s\t%s/%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$condition" "$set" "$succeeded" "$count" \
        "$bytes" "$seconds" "$errored" "$verified" "$corrupted" "$idle" "$verdict" "${note#; }" >>"$results"
}

# Runs one condition for every transport, reported one line each: the transports one after the
# other, or (--quick) side by side on the same link.
#   run SETUP CONDITION SET EXPECT LIMIT [SPDYLOAD_OPTION...]
# SETUP: a command that makes the condition ("" for none); it is undone after each run.
# SET: small or big. EXPECT: complete (every request completes, bodies verified) or dead (the
# link is down longer than the client's PING timeout: spdyload must end while it is down, the
# request errored). LIMIT: the hard limit on spdyload's run, in seconds. From the environment:
# OUTAGE_AT and OUTAGE_FOR (seconds; the server's end of the link goes down OUTAGE_AT s after
# spdyload starts, for OUTAGE_FOR s), VIA_RELAY=1 (connect through the delay relay), IDLE_LIMIT
# (the seconds spdyd gets to free everything after spdyload ended or the link came back; 10).
run() {
    local setup=$1 condition=$2 set=$3 expect=$4 limit=$5
    shift 5
    local groups=() group transport setup_command=()
    if [ $parallel = 1 ]; then groups=("$transports"); else read -r -a groups <<<"$transports"; fi
    read -r -a setup_command <<<"$setup"
    for group in "${groups[@]}"; do
        [ ${#setup_command[@]} = 0 ] || "${setup_command[@]}"
        for transport in $group; do
            before_outage[$transport]=""
            launch "$transport" "$(tr -c 'a-zA-Z0-9.\n-' _ <<<"$transport-$condition-$set")" "$set" "$limit" "$@"
        done
        local down_at="" up_at=""
        if [ -n "${OUTAGE_AT:-}" ]; then
            sleep "$OUTAGE_AT"
            for transport in $group; do
                [ ! -e "$work/$(tr -c 'a-zA-Z0-9.\n-' _ <<<"$transport-$condition-$set").status" ] ||
                    before_outage[$transport]=1
            done
            link_down
            down_at=$(now)
            sleep "$OUTAGE_FOR"
            link_up
            up_at=$(now)
        fi
        # spdyd frees what each run left, watched from the moment that run ended (or the link
        # came back), both servers at once.
        local pending=$group next id rc end from
        while [ -n "$pending" ]; do
            next=""
            for transport in $pending; do
                id=$(tr -c 'a-zA-Z0-9.\n-' _ <<<"$transport-$condition-$set")
                if [ ! -e "$work/$id.status" ]; then
                    next+=" $transport"
                    continue
                fi
                wait "${runner[$transport]}" || true
                local label scheme port relay_port metrics_port flags
                describe "$transport"
                read -r rc end <"$work/$id.status"
                from=$end
                if [ -n "$up_at" ] && awk -v e="$end" -v u="$up_at" 'BEGIN { exit !(u > e) }'; then from=$up_at; fi
                server_idle "$from" "$port" "$metrics_port" "${IDLE_LIMIT:-10}" >"$work/$id.idle" &
                runner[$transport]=$!
            done
            pending=${next# }
            [ -z "$pending" ] || sleep 0.05
        done
        for transport in $group; do wait "${runner[$transport]}" || true; done
        for transport in $group; do
            id=$(tr -c 'a-zA-Z0-9.\n-' _ <<<"$transport-$condition-$set")
            report "$transport" "$id" "$condition" "$set" "$expect" "$limit" "$down_at" "$up_at" "$(cat "$work/$id.idle")"
        done
        clear_conditions
    done
}

skip() { # CONDITION WHY
    echo "faults: $1: SKIP ($2)"
    skipped=$((skipped + 1))
}

wanted() { # CONDITION
    [ -z "${ONLY:-}" ] && return 0
    [[ " $ONLY " == *" $1 "* ]]
}

transports=${TRANSPORTS:-tls plain}
for transport in $transports; do
    case $transport in tls | plain) ;; *) echo "faults: unknown transport $transport" >&2; exit 2 ;; esac
done
echo "faults: $small_count small files ($small_bytes bytes), a $big_mib MiB file; spdyload $(
    [ $has_checksums = 1 ] && echo "--checksums" || echo "without --checksums"
)$([ $has_retry = 1 ] && echo ", --retry")$([ $has_ping = 1 ] && echo ", --ping-interval"); set up in $(
    elapsed "$script_start" "$(now)") s"

if [ $quick = 1 ]; then
    parallel=1 limit=30 losses=5 rate_sets=small
    outage_rate=80mbit outage_at=0.7 short=3 retry_long=4 retries=5 retry_ping=1 long_limit=30
else
    parallel=0 limit=600 losses="1 5" rate_sets="small big"
    outage_rate=100mbit outage_at=2 short=5 long=30 retry_long=15 retries=8 retry_ping=2 long_limit=120
fi
if wanted baseline; then
    for set in small big; do run "" baseline "$set" complete "$limit"; done
fi
for percent in $losses; do
    wanted "loss-$percent%" || continue
    for set in small big; do run "set_loss $percent" "loss-$percent%" "$set" complete "$limit"; done
done
if wanted rate-10mbit; then
    for set in $rate_sets; do run "set_rate 10mbit 32kbit" rate-10mbit "$set" complete "$limit"; done
fi
if wanted delay-100ms; then
    for set in small big; do VIA_RELAY=1 run "" delay-100ms "$set" complete "$limit"; done
fi
# Outages: the big file through a rate limit, so that the link goes down mid-transfer.
if wanted "outage-${short}s"; then
    OUTAGE_AT=$outage_at OUTAGE_FOR=$short run "set_rate $outage_rate 64kb" "outage-${short}s" big complete "$limit"
fi
if [ $quick = 0 ] && wanted "outage-${long}s"; then
    if [ $has_ping = 1 ]; then
        OUTAGE_AT=$outage_at OUTAGE_FOR=$long IDLE_LIMIT=180 run "set_rate $outage_rate 64kb" "outage-${long}s" big \
            dead "$long_limit" --ping-interval 2
    else
        skip "outage-${long}s" "spdyload has no --ping-interval"
    fi
fi
if wanted "outage-${retry_long}s-retry"; then
    if [ $has_ping = 1 ] && [ $has_retry = 1 ]; then
        OUTAGE_AT=$outage_at OUTAGE_FOR=$retry_long IDLE_LIMIT=180 run "set_rate $outage_rate 64kb" \
            "outage-${retry_long}s-retry" big complete "$long_limit" --retry "$retries" --ping-interval "$retry_ping"
    else
        skip "outage-${retry_long}s-retry" "spdyload has no --retry or --ping-interval"
    fi
fi

[ $skipped = 0 ] || echo "faults: $skipped skipped (spdyload lacks an option they need)"
[ "${FAULTS_KEEP:-0}" = 1 ] && echo "faults: results in $results"
echo "faults: total time $(elapsed "$script_start" "$(now)") s"
echo "faults: $passed passed, $failed failed"
[ $failed = 0 ]
