#!/usr/bin/env bash
# Builds the libFuzzer targets of Fuzz/ (ASan + libFuzzer, release) and runs each one for
# a given time on a copy of its seed corpus (Fuzz/Corpus/<target>/), so the repository is
# never written to.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET…]     default: 60 seconds, all four targets
#   scripts/fuzz.sh --seeds                            rewrite Fuzz/Corpus/ from the generator
#
# Prints one line per target (executions, corpus growth, crashes) and a final
# "fuzz: N passed, N failed"; exits non-zero if a target crashed (a crash, a broken
# invariant, a leak, a timeout of 10 s on one input or more than 2 GiB), with the path of
# the input that did it. Reproduce with: Fuzz/.build/release/<target> <input>.
#
# Environment:
#   FUZZ_WORK=DIR   keep the corpora in DIR/<target>/corpus (created from the seeds when
#                   missing) so that successive runs build on each other; default: a
#                   temporary directory, removed after a passing run.
#   FUZZ_NICE=N     run the fuzzers under `nice -n N` (default 0).
#   FUZZ_ASAN=0     build without AddressSanitizer (libFuzzer's coverage only), in
#                   Fuzz/.build-noasan: two to four times the executions per second, for long
#                   runs. Swift's own checks (bounds, overflow, force-unwraps, preconditions)
#                   and the targets' invariants still stop the run; only memory errors in C
#                   code (zlib) would go unseen, which the ASan build covers.
set -uo pipefail
cd "$(dirname "$0")/.."

ALL_TARGETS=(FuzzFrameDecoder FuzzHeaderBlock FuzzSession FuzzRoundTrip)
if [ "${FUZZ_ASAN:-1}" = 0 ]; then
    SCRATCH=Fuzz/.build-noasan
    SANITIZERS=fuzzer
else
    SCRATCH=Fuzz/.build
    SANITIZERS=fuzzer,address
fi
BIN=$SCRATCH/release

build() {
    # --sanitize=fuzzer makes SwiftPM link libFuzzer's main and compile the executables
    # as libraries (no Swift main), but it hands swiftc -sanitize=fuzzer and
    # -sanitize=address as two flags and the last one wins: the Swift code would get ASan
    # and no coverage instrumentation (libFuzzer then sees only the C code's few hundred
    # counters and never grows the corpus). -Xswiftc -sanitize=fuzzer,address comes last
    # and gives both. -Xswiftc alone does not link: SwiftPM then links each executable
    # with --defsym main=<module>_main, which does not exist. ld.gold warns once per ASan
    # helper symbol ("Cannot export local symbol"); those lines are noise.
    echo "fuzz: building (release, -sanitize=$SANITIZERS)"
    local flags=(--sanitize=fuzzer)
    [ "$SANITIZERS" = fuzzer,address ] && flags+=(--sanitize=address)
    swift build -c release --package-path Fuzz --scratch-path "$SCRATCH" \
        "${flags[@]}" -Xswiftc "-sanitize=$SANITIZERS" 2>&1 |
        grep -v "warning: Cannot export local symbol"
    return "${PIPESTATUS[0]}"
}

if [ "${1:-}" = "--seeds" ]; then
    build || exit 1
    for target in "${ALL_TARGETS[@]}"; do
        rm -rf "Fuzz/Corpus/$target"
        mkdir -p "Fuzz/Corpus/$target"
        SPDY_FUZZ_WRITE_SEEDS="$PWD/Fuzz/Corpus/$target" "$BIN/$target" || exit 1
    done
    exit 0
fi

seconds=60
if [ $# -gt 0 ] && [[ "$1" =~ ^[0-9]+$ ]]; then
    seconds=$1
    shift
fi
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${ALL_TARGETS[@]}")
for target in "${targets[@]}"; do
    if [ ! -d "Fuzz/Corpus/$target" ]; then
        echo "fuzz: unknown target $target (known: ${ALL_TARGETS[*]})"
        exit 2
    fi
done

if ! build; then
    echo "fuzz: build failed"
    echo "fuzz: 0 passed, ${#targets[@]} failed"
    exit 1
fi

if [ -n "${FUZZ_WORK:-}" ]; then
    work=$FUZZ_WORK
    keep=1
else
    work=$(mktemp -d "${TMPDIR:-/tmp}/spdy-fuzz.XXXXXX")
    keep=0
fi
mkdir -p "$work"

passed=0
failed=0
total_execs=0
for target in "${targets[@]}"; do
    dir="$work/$target"
    mkdir -p "$dir/artifacts"
    if [ ! -d "$dir/corpus" ]; then
        mkdir -p "$dir/corpus"
        cp "Fuzz/Corpus/$target"/* "$dir/corpus/"
    fi
    before=$(find "$dir/corpus" -type f | wc -l)
    log="$dir/fuzz.log"
    start=$(date +%s)
    # libFuzzer stops itself after -max_total_time; the outer timeout only guards a wedged run.
    (cd "$dir" && timeout --kill-after=30 $((seconds * 2 + 300)) nice -n "${FUZZ_NICE:-0}" \
        "$OLDPWD/$BIN/$target" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 -artifact_prefix="$dir/artifacts/" corpus) >"$log" 2>&1
    status=$?
    elapsed=$(($(date +%s) - start))
    execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -1)
    execs=${execs:-0}
    total_execs=$((total_execs + execs))
    after=$(find "$dir/corpus" -type f | wc -l)
    crashes=$(find "$dir/artifacts" -type f | wc -l)
    # The Swift code has tens of thousands of coverage counters; a few hundred means only
    # the C code was instrumented and the run explored nothing.
    counters=$(sed -n 's/.*Loaded [0-9]* modules *(\([0-9]*\) inline 8-bit counters.*/\1/p' "$log" | head -1)
    if [ "${counters:-0}" -lt 10000 ] && [ "$status" -eq 0 ]; then
        echo "fuzz: $target: only ${counters:-0} coverage counters: the Swift code is not instrumented"
        status=1
    fi
    if [ "$status" -eq 0 ] && [ "$crashes" -eq 0 ]; then
        passed=$((passed + 1))
        echo "fuzz: $target: $execs executions in ${elapsed} s, corpus $before -> $after files, 0 crashes"
    else
        failed=$((failed + 1))
        keep=1
        echo "fuzz: $target: FAILED (exit $status) after $execs executions in ${elapsed} s, $crashes crash input(s)"
        grep -E "^==[0-9]+==ERROR|^SUMMARY|Fatal error|fuzz invariant broken" "$log" | head -5 | sed 's/^/fuzz:   /'
        for input in "$dir/artifacts"/*; do
            [ -f "$input" ] && echo "fuzz:   input: $input (reproduce: $BIN/$target $input)"
        done
        echo "fuzz:   log: $log"
    fi
done

echo "fuzz: $total_execs executions in total"
if [ "$keep" -eq 0 ]; then rm -rf "$work"; else echo "fuzz: corpora and logs in $work"; fi
echo "fuzz: ${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
