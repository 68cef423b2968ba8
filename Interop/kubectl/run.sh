#!/usr/bin/env bash
# kube-pod against the real kubectl on the PATH (client 1.32, see
# docs/INTEROP.md, "Kubernetes"): exec, attach, cp and port-forward over
# SPDY/3.1, the WebSocket-first fallback, and HTTPS. Starts one kube-pod for the plain cells
# and one with --tls, runs every cell under a timeout, prints one line per cell and closes
# with "kubectl: N passed, N failed"; exits non-zero when a cell failed.
#
# Needs kubectl and python3. Environment:
#   KUBE_POD          the kube-pod binary (default .build/debug/kube-pod, built with
#                     `swift build --product kube-pod` when missing)
#   KUBECTL_TIMEOUT   seconds per cell (default 60)
#   KUBECTL_VERBOSE   1: print every cell's full log
#
# Every kubectl runs as HOME=<tmp> KUBECONFIG=/dev/null kubectl --server=... --cache-dir=<a
# fresh folder per kube-pod>, with KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false and
# KUBECTL_PORT_FORWARD_WEBSOCKETS=false except in websocket-fallback.
set -uo pipefail
script="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$0")/../.."

# --- One cell, run in a child of this script: `run.sh --cell NAME` --------------------------
# A cell reads its setting from the environment (exported below), writes what it did to
# stdout and its files to $CELL_DIR, prints "FAIL: reason" lines and exits non-zero on failure.

say() { echo "$*"; }
bad() {
    echo "FAIL: $*"
    return 1
}
# A failed check that lets the cell go on; the cell fails at its end.
problems=0
problem() {
    echo "FAIL: $*"
    problems=$((problems + 1))
}

# kubectl against the plain kube-pod: SPDY forced (KC), or WebSocket first, kubectl's default
# (KC_WEBSOCKET). Commands through env, so that a background one's $! is kubectl itself.
kc_commands() {
    KC=(env HOME="$KP_HOME" KUBECONFIG=/dev/null KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false
        KUBECTL_PORT_FORWARD_WEBSOCKETS=false kubectl --server="$KP_SERVER" --cache-dir="$KP_CACHE")
    KC_WEBSOCKET=(env -u KUBECTL_REMOTE_COMMAND_WEBSOCKETS -u KUBECTL_PORT_FORWARD_WEBSOCKETS
        HOME="$KP_HOME" KUBECONFIG=/dev/null kubectl --server="$KP_SERVER" --cache-dir="$KP_CACHE")
}
kc() { "${KC[@]}" "$@"; }
kc_websocket() { "${KC_WEBSOCKET[@]}" "$@"; }

# Compares a file with the text of $2 (printf's format, so '\n' works).
same_text() {
    local file=$1 expected
    expected=$(mktemp -p "$CELL_DIR")
    printf "$2" >"$expected"
    cmp -s "$file" "$expected"
}

# Shows a file's text for a FAIL line: at most 300 bytes, escaped.
quoted() {
    head -c 300 "$1" | python3 -c 'import sys; print(repr(sys.stdin.buffer.read())[1:])'
}

# Waits up to $3 seconds for the text $2 in file $1 while process $4 (if given) lives.
wait_for_text() {
    local file=$1 text=$2 limit=$3 pid=${4:-} tries=0
    while [ "$tries" -lt $((limit * 10)) ]; do
        grep -qF -- "$text" "$file" 2>/dev/null && return 0
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
            grep -qF -- "$text" "$file" 2>/dev/null && return 0
            return 1
        fi
        sleep 0.1
        tries=$((tries + 1))
    done
    return 1
}

# Waits up to $2 seconds for process $1 to exit; its status, or 124 (then it is killed).
wait_exit() {
    local pid=$1 limit=$2 tries=0
    while kill -0 "$pid" 2>/dev/null && [ "$tries" -lt $((limit * 10)) ]; do
        sleep 0.1
        tries=$((tries + 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        return 124
    fi
    wait "$pid"
}

# Starts net.py's echo server in the background: sets echo_pid and echo_port.
start_echo_server() {
    local log=$1
    rm -f "$CELL_DIR/echo.port"
    python3 "$KP_SCRIPTS/net.py" echo-server "$CELL_DIR/echo.port" >"$log" 2>&1 &
    echo_pid=$!
    local tries=0
    while [ ! -s "$CELL_DIR/echo.port" ] && [ "$tries" -lt 100 ]; do
        kill -0 "$echo_pid" 2>/dev/null || break
        sleep 0.1
        tries=$((tries + 1))
    done
    echo_port=$(cat "$CELL_DIR/echo.port" 2>/dev/null)
    [ -n "$echo_port" ] || bad "the echo server did not start: $(quoted "$log")"
}

# Starts `port-forward demo LOCAL:REMOTE` with the command array named $1 (KC or
# KC_WEBSOCKET), output in $4; waits for "Forwarding from 127.0.0.1:LOCAL"; sets forward_pid
# (kubectl's).
start_port_forward() {
    local -n runner=$1
    local local_port=$2 remote_port=$3 log=$4
    shift 4
    "${runner[@]}" "$@" port-forward demo "$local_port:$remote_port" >"$log" 2>&1 &
    forward_pid=$!
    if ! wait_for_text "$log" "Forwarding from 127.0.0.1:$local_port -> $remote_port" 20 "$forward_pid"; then
        bad "kubectl port-forward did not report 'Forwarding from 127.0.0.1:$local_port': $(quoted "$log")"
        return 1
    fi
}

# Waits until the echo server's log has $2 CLOSED lines (connections echoed and closed).
wait_for_closed() {
    local log=$1 count=$2 tries=0
    while [ "$(grep -c '^CLOSED ' "$log")" -lt "$count" ] && [ "$tries" -lt 100 ]; do
        sleep 0.1
        tries=$((tries + 1))
    done
    [ "$(grep -c '^CLOSED ' "$log")" -ge "$count" ]
}

cell_exec_stdout_stderr() {
    local d=$CELL_DIR status
    say "kubectl exec demo -- sh -c 'echo out; ls /nonexistent'"
    kc exec demo -- sh -c 'echo out; ls /nonexistent' >"$d/1.out" 2>"$d/1.err"
    status=$?
    say "  exit $status, stdout $(quoted "$d/1.out"), stderr $(quoted "$d/1.err")"
    same_text "$d/1.out" 'out\n' || problem "stdout is not exactly 'out': $(quoted "$d/1.out")"
    grep -qF "ls: cannot access '/nonexistent'" "$d/1.err" || problem "stderr has no ls message"
    grep -qx "out" "$d/1.err" && problem "stdout's line is on stderr too"
    if [ "$status" -eq 0 ]; then
        problem "kubectl exited 0, expected ls's non-zero status"
    else
        grep -qF "command terminated with exit code $status" "$d/1.err" ||
            problem "exit $status, but stderr has no 'command terminated with exit code $status'"
    fi

    say "kubectl exec demo -- echo hello world"
    kc exec demo -- echo hello world >"$d/2.out" 2>"$d/2.err"
    status=$?
    say "  exit $status, stdout $(quoted "$d/2.out"), stderr $(quoted "$d/2.err")"
    [ "$status" -eq 0 ] || problem "echo: kubectl exited $status"
    same_text "$d/2.out" 'hello world\n' || problem "stdout is not exactly 'hello world': $(quoted "$d/2.out")"
    [ ! -s "$d/2.err" ] || problem "echo: stderr is not empty"
    [ "$problems" -eq 0 ]
}

cell_exec_exit_code() {
    local d=$CELL_DIR status
    say "kubectl exec demo -- sh -c 'exit 3'"
    kc exec demo -- sh -c 'exit 3' >"$d/out" 2>"$d/err"
    status=$?
    say "  exit $status, stdout $(quoted "$d/out"), stderr $(quoted "$d/err")"
    [ "$status" -eq 3 ] || bad "kubectl exited $status, expected 3" || return 1
    grep -qF "command terminated with exit code 3" "$d/err" ||
        bad "stderr has no 'command terminated with exit code 3': $(quoted "$d/err")" || return 1
    [ ! -s "$d/out" ] || bad "stdout is not empty: $(quoted "$d/out")"
}

cell_exec_stdin_3mb() {
    local d=$CELL_DIR status
    head -c 3000000 /dev/urandom >"$d/in.bin"
    say "kubectl exec -i demo -- cat < 3000000 random bytes"
    kc exec -i demo -- cat <"$d/in.bin" >"$d/out.bin" 2>"$d/err"
    status=$?
    say "  exit $status, $(stat -c %s "$d/out.bin") bytes back, stderr $(quoted "$d/err")"
    [ "$status" -eq 0 ] || bad "kubectl exited $status" || return 1
    cmp "$d/in.bin" "$d/out.bin" || bad "the bytes back differ from the bytes sent"
}

cell_exec_tty_resize() {
    local limit=$((KUBECTL_TIMEOUT > 15 ? KUBECTL_TIMEOUT - 5 : 10))
    say "kubectl exec -i -t demo -- sh under a 40x100 pty, stty size, 50x120 + SIGWINCH, stty size, exit 4"
    python3 "$KP_SCRIPTS/pty_session.py" "$limit" env HOME="$KP_HOME" KUBECONFIG=/dev/null \
        KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false kubectl --server="$KP_SERVER" --cache-dir="$KP_CACHE" \
        exec -i -t demo -- sh
}

cell_attach() {
    local d=$CELL_DIR status
    say "echo hi | kubectl attach -i demo"
    echo hi | kc attach -i demo >"$d/out" 2>"$d/err"
    status=$?
    say "  exit $status, stdout $(quoted "$d/out"), stderr $(quoted "$d/err")"
    [ "$status" -eq 0 ] || bad "kubectl exited $status" || return 1
    grep -qx "hi" "$d/out" || bad "stdout has no line 'hi': $(quoted "$d/out")"
}

cell_cp_to_pod() {
    local d=$CELL_DIR status
    say "kubectl cp $KP_SRC demo:/tmp/dst"
    kc cp "$KP_SRC" demo:/tmp/dst >"$d/out" 2>"$d/err"
    status=$?
    say "  exit $status, stdout $(quoted "$d/out"), stderr $(quoted "$d/err")"
    [ "$status" -eq 0 ] || bad "kubectl exited $status" || return 1
    [ -d "$KP_ROOT/tmp/dst" ] || bad "no folder ROOT/tmp/dst in the pod" || return 1
    (cd "$KP_ROOT/tmp/dst" && find . | sort | sed 's/^/  pod: /')
    diff -r "$KP_SRC" "$KP_ROOT/tmp/dst" >"$d/diff" 2>&1 ||
        bad "ROOT/tmp/dst differs from the source: $(quoted "$d/diff")"
}

cell_cp_from_pod() {
    local d=$CELL_DIR status
    if ! diff -r "$KP_SRC" "$KP_ROOT/tmp/dst" >/dev/null 2>&1; then
        # cp-to-pod failed: put the tree in the pod by hand, so that this cell stands alone.
        say "ROOT/tmp/dst is not the source tree (cp-to-pod failed?): copying it in locally"
        rm -rf "$KP_ROOT/tmp/dst"
        cp -R "$KP_SRC" "$KP_ROOT/tmp/dst"
    fi
    say "kubectl cp demo:/tmp/dst $d/back"
    kc cp demo:/tmp/dst "$d/back" >"$d/out" 2>"$d/err"
    status=$?
    say "  exit $status, stdout $(quoted "$d/out"), stderr $(quoted "$d/err")"
    [ "$status" -eq 0 ] || bad "kubectl exited $status" || return 1
    [ -d "$d/back" ] || bad "no folder came back" || return 1
    (cd "$d/back" && find . | sort | sed 's/^/  back: /')
    diff -r "$KP_SRC" "$d/back" >"$d/diff" 2>&1 || bad "the tree back differs from the source: $(quoted "$d/diff")"
}

cell_port_forward() {
    local d=$CELL_DIR local_port
    start_echo_server "$d/echo.log" || return 1
    local_port=$(python3 "$KP_SCRIPTS/net.py" free-ports 1)
    say "echo server on $echo_port; kubectl port-forward demo $local_port:$echo_port"
    start_port_forward KC "$local_port" "$echo_port" "$d/port-forward.log" || return 1
    say "two sequential connections (200000 and 500000 bytes)"
    python3 "$KP_SCRIPTS/net.py" echo-client "$local_port" 200000 || problem "the first echo failed"
    python3 "$KP_SCRIPTS/net.py" echo-client "$local_port" 500000 || problem "the second echo failed"
    say "two concurrent connections (1048576 bytes each)"
    python3 "$KP_SCRIPTS/net.py" echo-client "$local_port" 1048576 2 || problem "the concurrent echoes failed"
    wait_for_closed "$d/echo.log" 4
    say "echo server: $(tr '\n' ' ' <"$d/echo.log")"
    local connections echoed handled
    connections=$(grep -c '^CONNECTION ' "$d/echo.log")
    [ "$connections" -eq 4 ] || problem "the echo server saw $connections connections, expected 4"
    echoed=$(awk '/^CLOSED /{ print $3 }' "$d/echo.log" | sort -n | paste -sd ' ' -)
    [ "$echoed" = "200000 500000 1048576 1048576" ] ||
        problem "the echo server's connections carried '$echoed' bytes, expected 200000 500000 1048576 1048576"
    kill -0 "$forward_pid" 2>/dev/null || problem "kubectl port-forward ended: $(quoted "$d/port-forward.log")"
    handled=$(grep -c "Handling connection for $local_port" "$d/port-forward.log")
    [ "$handled" -eq 4 ] || problem "kubectl handled $handled connections, expected 4"
    kill "$forward_pid" "$echo_pid" 2>/dev/null
    wait "$forward_pid" "$echo_pid" 2>/dev/null
    [ "$problems" -eq 0 ]
}

cell_port_forward_error() {
    local d=$CELL_DIR local_port dead_port status
    read -r local_port dead_port <<<"$(python3 "$KP_SCRIPTS/net.py" free-ports 2)"
    say "kubectl port-forward demo $local_port:$dead_port (nothing listens on $dead_port)"
    start_port_forward KC "$local_port" "$dead_port" "$d/port-forward.log" || return 1
    python3 "$KP_SCRIPTS/net.py" connect-once "$local_port"
    wait_exit "$forward_pid" 20
    status=$?
    say "  kubectl exit $status; its output:"
    sed 's/^/  | /' "$d/port-forward.log"
    [ "$status" -ne 124 ] || bad "kubectl port-forward did not exit after the failed connection" || return 1
    [ "$status" -eq 1 ] || bad "kubectl exited $status, expected 1" || return 1
    grep -qF "error forwarding port $dead_port" "$d/port-forward.log" ||
        bad "no 'error forwarding port $dead_port' in kubectl's output" || return 1
    grep -qF "lost connection to pod" "$d/port-forward.log" || bad "no 'lost connection to pod' in kubectl's output"
}

cell_websocket_fallback() {
    local d=$CELL_DIR status
    say "kubectl -v=6 exec demo -- echo fallback (WebSocket first)"
    kc_websocket -v=6 exec demo -- echo fallback >"$d/out" 2>"$d/err"
    status=$?
    say "  exit $status, stdout $(quoted "$d/out")"
    grep -E "fallback|exec\?|Switching" "$d/err" | cut -c1-220 | sed 's/^/  | /'
    [ "$status" -eq 0 ] || bad "kubectl exited $status: $(quoted "$d/err")" || return 1
    same_text "$d/out" 'fallback\n' || bad "stdout is not exactly 'fallback': $(quoted "$d/out")" || return 1
    grep -qF "RemoteCommand fallback" "$d/err" ||
        bad "kubectl's log has no 'RemoteCommand fallback': the WebSocket attempt did not happen" || return 1
    grep -q "POST .*/exec?.* 101 Switching Protocols" "$d/err" ||
        bad "kubectl's log has no SPDY upgrade (POST …/exec 101)" || return 1

    local local_port
    start_echo_server "$d/echo.log" || return 1
    local_port=$(python3 "$KP_SCRIPTS/net.py" free-ports 1)
    say "kubectl -v=6 port-forward demo $local_port:$echo_port (WebSocket first)"
    start_port_forward KC_WEBSOCKET "$local_port" "$echo_port" "$d/port-forward.log" -v=6 || return 1
    python3 "$KP_SCRIPTS/net.py" echo-client "$local_port" 300000 || problem "the echo through the forward failed"
    grep -E "fallback|portforward" "$d/port-forward.log" | cut -c1-220 | sed 's/^/  | /'
    grep -qF "fallback to secondary dialer" "$d/port-forward.log" ||
        problem "kubectl's log has no 'fallback to secondary dialer': no WebSocket attempt"
    grep -q "POST .*/portforward 101 Switching Protocols" "$d/port-forward.log" ||
        problem "kubectl's log has no SPDY upgrade (POST …/portforward 101)"
    wait_for_closed "$d/echo.log" 1
    [ "$(grep -c '^CONNECTION ' "$d/echo.log")" -eq 1 ] ||
        problem "the echo server saw $(grep -c '^CONNECTION ' "$d/echo.log") connections, expected 1"
    kill "$forward_pid" "$echo_pid" 2>/dev/null
    wait "$forward_pid" "$echo_pid" 2>/dev/null
    [ "$problems" -eq 0 ]
}

cell_tls() {
    local d=$CELL_DIR status
    [ -n "${KP_TLS_SERVER:-}" ] || bad "the --tls kube-pod did not start" || return 1
    # kubectl asks for a user name and password on stdin when an https server has no
    # credentials (before any request): a token, which kube-pod ignores, avoids the prompt.
    say "kubectl --insecure-skip-tls-verify --token=... --server=$KP_TLS_SERVER exec demo -- echo secure"
    HOME="$KP_HOME" KUBECONFIG=/dev/null KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false KUBECTL_PORT_FORWARD_WEBSOCKETS=false \
        kubectl --insecure-skip-tls-verify --token=kube-pod-interop --server="$KP_TLS_SERVER" \
        --cache-dir="$KP_TLS_CACHE" exec demo -- echo secure >"$d/out" 2>"$d/err" </dev/null
    status=$?
    say "  exit $status, stdout $(quoted "$d/out"), stderr $(quoted "$d/err")"
    [ "$status" -eq 0 ] || bad "kubectl exited $status" || return 1
    same_text "$d/out" 'secure\n' || bad "stdout is not exactly 'secure': $(quoted "$d/out")"
}

if [ "${1:-}" = --cell ]; then
    kc_commands
    "cell_${2//-/_}"
    exit $?
fi

# --- The suite ------------------------------------------------------------------------------

root=$(pwd)
work=$(mktemp -d)
cell_timeout=${KUBECTL_TIMEOUT:-60}
passed=0
failed=0
pids=()

cleanup() {
    local pid
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

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

show_logs() {
    local file
    for file in "$@"; do
        [ -s "$file" ] || continue
        echo "  --- $(basename "$file") (last 40 lines)"
        tail -40 "$file" | cut -c1-400 | sed 's/^/  | /'
    done
}

# Starts a kube-pod (extra arguments: $3…) with its stdout in $1.out and -v log in $1.log;
# waits for its first line; sets the variable named $2 to its URL. Returns 1 if it did not start.
start_kube_pod() {
    local base=$1 var=$2
    shift 2
    # A limit in case this script is killed without its cleanup.
    timeout -k 5 900 "$kube_pod" --port 0 -v "$@" >"$base.out" 2>"$base.log" &
    pids+=($!)
    local pid=$! tries=0 url=""
    while [ "$tries" -lt 300 ]; do
        url=$(sed -n '1s#^kube-pod: pod default/demo on \(https\{0,1\}://127\.0\.0\.1:[0-9]*\), root .*#\1#p' "$base.out")
        [ -n "$url" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
        tries=$((tries + 1))
    done
    printf -v "$var" '%s' "$url"
    [ -n "$url" ]
}

all_cells=(exec-stdout-stderr exec-exit-code exec-stdin-3mb exec-tty-resize attach cp-to-pod cp-from-pod
    port-forward port-forward-error websocket-fallback tls)

# A cell in a child of this script under timeout (which ends the cell's whole process group).
run_cell() {
    local name=$1 started status
    started=$(now)
    local dir="$work/cells/$name" log="$work/cells/$name.log"
    mkdir -p "$dir"
    local server_log=$work/kube-pod.log
    [ "$name" = tls ] && server_log=$work/kube-pod-tls.log
    local server_lines
    server_lines=$(wc -l <"$server_log" 2>/dev/null || echo 0)
    CELL_DIR=$dir timeout -k 5 "$cell_timeout" bash "$script" --cell "$name" >"$log" 2>&1 </dev/null &
    cell_pid=$!
    pids+=("$cell_pid")
    wait "$cell_pid"
    status=$?
    # The kube-pod -v lines of this cell.
    tail -n +$((server_lines + 1)) "$server_log" >"$work/cells/$name.kube-pod-v.log" 2>/dev/null
    if [ "$status" -eq 0 ]; then
        pass "$name" "$(elapsed "$started")"
    else
        local reason
        reason=$(grep -h "FAIL" "$log" | head -3 | sed 's/^FAIL:* *//' | awk 'NR > 1 { printf "; " } { printf "%s", $0 }')
        [ -n "$reason" ] || reason="exit $status"
        [ "$status" -eq 124 ] && reason="timed out after $cell_timeout s${reason:+; }$reason"
        fail "$name" "$reason"
    fi
    if [ "$status" -ne 0 ] || [ "${KUBECTL_VERBOSE:-0}" = 1 ]; then
        show_logs "$log" "$work/cells/$name.kube-pod-v.log"
    fi
}

fail_all() {
    local cell
    for cell in "${all_cells[@]}"; do fail "$cell" "$1"; done
    echo "kubectl: ${passed} passed, ${failed} failed"
    exit 1
}

kube_pod=${KUBE_POD:-.build/debug/kube-pod}
if [ ! -x "$kube_pod" ] && [ -z "${KUBE_POD:-}" ]; then
    echo "kubectl: building kube-pod"
    if ! swift build --product kube-pod >"$work/swift-build.log" 2>&1; then
        tail -30 "$work/swift-build.log"
        fail_all "building kube-pod failed"
    fi
fi
[ -x "$kube_pod" ] || fail_all "no kube-pod binary at $kube_pod"
case "$kube_pod" in /*) ;; *) kube_pod="$root/$kube_pod" ;; esac
command -v kubectl >/dev/null 2>&1 || fail_all "kubectl is not on the PATH"
command -v python3 >/dev/null 2>&1 || fail_all "python3 is not on the PATH"

suite_started=$(now)
mkdir -p "$work/home" "$work/cache" "$work/cache-tls" "$work/root" "$work/root-tls" "$work/cells"
export KUBECTL_TIMEOUT=$cell_timeout
export KP_HOME="$work/home" KP_CACHE="$work/cache" KP_TLS_CACHE="$work/cache-tls" KP_ROOT="$work/root"
export KP_SCRIPTS="$root/Interop/kubectl" KP_SRC="$work/src"

# The tree for cp: nested folders, 100 KB of random bytes, a text file, a name with a space.
mkdir -p "$KP_SRC/a/b"
head -c 102400 /dev/urandom >"$KP_SRC/a/b/random.bin"
printf 'a small text file\nof two lines\n' >"$KP_SRC/small.txt"
printf 'its name has a space\n' >"$KP_SRC/a/with space.txt"

KP_SERVER=""
KP_TLS_SERVER=""
if ! start_kube_pod "$work/kube-pod" KP_SERVER --root "$work/root"; then
    show_logs "$work/kube-pod.out" "$work/kube-pod.log"
    fail_all "kube-pod did not start"
fi
start_kube_pod "$work/kube-pod-tls" KP_TLS_SERVER --root "$work/root-tls" --tls ||
    show_logs "$work/kube-pod-tls.out" "$work/kube-pod-tls.log"
export KP_SERVER KP_TLS_SERVER
echo "kubectl: $(kubectl version --client 2>/dev/null | head -1); kube-pod on $KP_SERVER and ${KP_TLS_SERVER:-(no TLS)}"

for cell in "${all_cells[@]}"; do
    run_cell "$cell"
done

echo "kubectl: cells ran in $(elapsed "$suite_started") s"
echo "kubectl: ${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
