# shellcheck shell=bash
# Shared helpers of scripts/vanish.sh, scripts/many-connections.sh and scripts/soak.sh.
# Source it after setting RL_NAME (the script's name, used in messages and the summary line).
#
#   rl_setup BIN_DIR [WAIT_SECONDS]  work dir, trap, tools copied from BIN_DIR into it
#   rl_bg NAME CMD...                start CMD in the background (output in $RL_WORK/NAME.log),
#                                    remember it for the cleanup; its pid is in $RL_PID
#   rl_start_spdyd NAME ARGS...      start spdyd ARGS (port and metrics port may be 0), wait until it
#                                    listens; sets RL_PID, RL_PORT, RL_METRICS_PORT
#   rl_stop PID / rl_kill9 PID       stop a process started here (SIGTERM, then SIGKILL) / SIGKILL it
#   rl_metric MPORT NAME [FILTER]    the sum of a server metric's samples whose labels match FILTER
#                                    (-1 if /metrics cannot be read)
#   rl_rss_kib PID, rl_fds PID, rl_cpu_seconds PID
#   rl_wait_for SECONDS CMD...       poll CMD every 0.1 s until it succeeds (status 1 on time-out)
#   rl_pass / rl_fail NAME DETAILS   one result line; rl_summary prints the totals and exits
#   rl_json FILE EXPR                a value from spdyload --json output (python expression on `j`)
set -uo pipefail # no -e: a failed check must still reach the summary

RL_PASSED=0
RL_FAILED=0
RL_PIDS=()
RL_WORK=""
RL_START_TIME=$(date +%s.%N)

rl_log() { echo "$RL_NAME: $*" >&2; }

rl_cleanup() {
    local pid
    set +e
    for pid in "${RL_PIDS[@]}"; do
        pkill -TERM -P "$pid" 2>/dev/null
        kill -TERM "$pid" 2>/dev/null
    done
    # Anything still there after 3 s is killed.
    for _ in $(seq 30); do
        local alive=0
        for pid in "${RL_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [ $alive = 0 ] && break
        sleep 0.1
    done
    for pid in "${RL_PIDS[@]}"; do
        pkill -KILL -P "$pid" 2>/dev/null
        kill -KILL "$pid" 2>/dev/null
    done
    for pid in "${RL_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
    if [ -n "$RL_WORK" ]; then
        if [ -n "${RL_KEEP:-}" ]; then rl_log "kept $RL_WORK"; else rm -rf "$RL_WORK"; fi
    fi
}

rl_setup() { # BIN_DIR [WAIT_SECONDS]
    local bin=$1 wait=${2:-0} tool
    RL_WORK=$(mktemp -d "/tmp/$RL_NAME.XXXXXX")
    trap rl_cleanup EXIT
    trap 'rl_log "interrupted"; exit 130' INT
    # SIGTERM (the watchdog's, or a CI's): still a summary line, with the run counted as failed.
    trap 'rl_fail stopped "stopped by SIGTERM (time limit?) after $(rl_elapsed) s"; rl_summary; exit 1' TERM
    for _ in $(seq $((wait * 10))); do
        [ -x "$bin/spdyd" ] && [ -x "$bin/spdyload" ] && break
        sleep 0.1
    done
    mkdir -p "$RL_WORK/bin"
    for tool in spdyd spdyload spdycat; do
        if [ ! -x "$bin/$tool" ]; then
            [ "$tool" = spdycat ] && continue
            rl_log "$bin/$tool is not an executable"
            exit 2
        fi
        cp "$bin/$tool" "$RL_WORK/bin/$tool"
    done
    RL_BIN=$RL_WORK/bin
    command -v python3 >/dev/null && command -v curl >/dev/null && command -v openssl >/dev/null ||
        { rl_log "needs python3, curl and openssl"; exit 2; }
}

# Whether a tool knows an option (tools being developed may not have it yet).
rl_has_option() { # TOOL OPTION
    "$RL_BIN/$1" --help 2>&1 | grep -q -- "$2"
}

rl_make_cert() { # -> $RL_WORK/key.pem $RL_WORK/cert.pem
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
        -keyout "$RL_WORK/key.pem" -out "$RL_WORK/cert.pem" >/dev/null 2>&1
}

rl_bg() { # NAME CMD...
    local name=$1
    shift
    "$@" >"$RL_WORK/$name.log" 2>&1 &
    RL_PID=$!
    RL_PIDS+=("$RL_PID")
}

rl_forget() { # PID
    local kept=() pid
    for pid in "${RL_PIDS[@]}"; do [ "$pid" = "$1" ] || kept+=("$pid"); done
    RL_PIDS=("${kept[@]}")
}

rl_stop() { # PID
    kill -TERM "$1" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    rl_forget "$1"
}

rl_kill9() { # PID
    kill -KILL "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    rl_forget "$1"
}

rl_start_spdyd() { # NAME ARGS... (the port argument may be 0, --metrics-port too)
    local name=$1
    shift
    rl_bg "$name" "$RL_BIN/spdyd" "$@"
    local log="$RL_WORK/$name.log" want_metrics=0
    case " $* " in *" --metrics-port "*) want_metrics=1 ;; esac
    RL_PORT="" RL_METRICS_PORT=""
    for _ in $(seq 300); do
        if ! kill -0 "$RL_PID" 2>/dev/null; then break; fi
        RL_PORT=$(sed -n 's/^IPv[46]: listen on port \([0-9]*\)$/\1/p' "$log" | head -1)
        RL_METRICS_PORT=$(sed -n 's|^metrics on http://127.0.0.1:\([0-9]*\)/metrics$|\1|p' "$log" | head -1)
        if [ -n "$RL_PORT" ] && { [ $want_metrics = 0 ] || [ -n "$RL_METRICS_PORT" ]; }; then
            return 0
        fi
        sleep 0.1
    done
    rl_log "spdyd ($name) did not start:"
    tail -20 "$log" >&2
    return 1
}

rl_metrics_text() { # MPORT
    curl -sS --max-time 5 "http://127.0.0.1:$1/metrics"
}

rl_metric() { # MPORT NAME [FILTER: a substring of the label set, e.g. 'status="OK"']
    local text
    text=$(rl_metrics_text "$1") || { echo "-1"; return 1; }
    awk -v name="$2" -v filter="${3:-}" '
        $1 !~ /^#/ {
            split($1, parts, "{")
            if (parts[1] == name && $0 ~ /role="server"/ && (filter == "" || index($0, filter) > 0)) {
                sum += $NF; found = 1
            }
        }
        END { if (found) printf "%.0f\n", sum; else print "0" }' <<<"$text"
}

rl_rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
rl_fds() { ls "/proc/$1/fd" | wc -l; }
# The open fds of PID by kind: "SOCKETS FILES_UNDER_DIR OTHER" (OTHER: epoll, eventfd, pipes, logs).
rl_fd_kinds() { # PID DIR
    find "/proc/$1/fd" -mindepth 1 -maxdepth 1 -printf '%l\n' 2>/dev/null |
        awk -v dir="$2/" '/^socket:/ { s++; next } index($0, dir) == 1 { f++; next } { o++ }
            END { print s + 0, f + 0, o + 0 }'
}
rl_cpu_seconds() { # utime + stime
    local tck
    tck=$(getconf CLK_TCK)
    awk -v tck="$tck" '{ sub(/^.*\) /, ""); printf "%.2f\n", ($12 + $13) / tck }' "/proc/$1/stat"
}
# The number of the server's TCP sockets on PORT that are in a given state (default: all).
rl_sockets() { # PORT [STATE]
    ss -Htn state "${2:-all}" "( sport = :$1 )" 2>/dev/null | wc -l
}

rl_wait_for() { # SECONDS CMD...
    local limit=$1
    shift
    for _ in $(seq $((${limit%.*} * 10))); do
        if "$@"; then return 0; fi
        sleep 0.1
    done
    "$@"
}

rl_json() { # FILE EXPR (python, on j = the last JSON object in FILE)
    python3 - "$1" "$2" <<'EOF'
import json, sys
import os
j = None
lines = open(sys.argv[1], errors="replace") if os.path.exists(sys.argv[1]) else []
for line in lines:
    line = line.strip()
    if line.startswith("{"):
        try:
            j = json.loads(line)
        except ValueError:
            pass
if j is None:
    print("NaN")
else:
    try:
        value = eval(sys.argv[2], {}, {"j": j})
    except Exception:
        value = "NaN"
    print(value if value is not None else "NaN")
EOF
}

rl_pass() { # NAME DETAILS
    RL_PASSED=$((RL_PASSED + 1))
    printf 'PASS %-28s %s [t=%s s]\n' "$1" "$2" "$(rl_elapsed)"
}

rl_fail() { # NAME DETAILS
    RL_FAILED=$((RL_FAILED + 1))
    printf 'FAIL %-28s %s [t=%s s]\n' "$1" "$2" "$(rl_elapsed)"
}

rl_check() { # NAME CONDITION_STATUS DETAILS: pass if CONDITION_STATUS is 0
    if [ "$2" = 0 ]; then rl_pass "$1" "$3"; else rl_fail "$1" "$3"; fi
}

rl_elapsed() { awk -v s="$RL_START_TIME" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }'; }

rl_summary() {
    echo "$RL_NAME: $RL_PASSED passed, $RL_FAILED failed ($(rl_elapsed) s)"
    [ "$RL_FAILED" = 0 ]
}

# A hard limit for the whole script: after SECONDS, SIGTERM the script (its trap cleans up).
rl_watchdog() { # SECONDS
    local main=$$
    (
        trap 'exit 0' TERM
        sleep "$1" &
        wait $! || exit 0 # the sleep was stopped: the cleanup is under way
        echo "FAIL $RL_NAME: the whole run exceeded its time limit of $1 s" >&2
        kill -TERM "$main" 2>/dev/null
    ) &
    RL_PIDS+=("$!")
}

rl_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
