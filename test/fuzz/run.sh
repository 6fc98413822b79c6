#!/bin/sh
# run.sh — runs libFuzzer targets one after another, as `make fuzz` does:
#   sh test/fuzz/run.sh BIN_DIR SECONDS RSS_MB TARGET...
# Each target BIN_DIR/fuzz_TARGET runs SECONDS seconds on a fresh copy of its seed corpus
# (test/fuzz/corpus/TARGET, never written to) in BIN_DIR/TARGET/corpus, with its dictionary
# test/fuzz/TARGET.dict when there is one; its log is BIN_DIR/TARGET/log.txt. Prints one line
# per target: executions, coverage (cov: edges, ft: features), corpus size, peak memory.
# A crash, leak, timeout or out-of-memory leaves its input in BIN_DIR/TARGET/ and makes the
# script exit 1 after the remaining targets have run.
bin_dir=$1; seconds=$2; rss_mb=$3; shift 3
failed=""
for t in "$@"; do
    work="$bin_dir/$t"
    rm -rf "$work"
    mkdir -p "$work/corpus"
    cp test/fuzz/corpus/"$t"/* "$work/corpus/"
    dict=""
    [ -f test/fuzz/"$t".dict ] && dict="-dict=test/fuzz/$t.dict"
    OMP_NUM_THREADS=1 "$bin_dir/fuzz_$t" "$work/corpus" $dict -max_total_time="$seconds" \
        -rss_limit_mb="$rss_mb" -timeout=30 -print_final_stats=1 -artifact_prefix="$work/" \
        >"$work/log.txt" 2>&1
    status=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log.txt")
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$work/log.txt")
    last=$(grep -E '^#[0-9]+' "$work/log.txt" | tail -n 1)
    cov=$(printf '%s\n' "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
    ft=$(printf '%s\n' "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
    corp=$(printf '%s\n' "$last" | sed -n 's/.* corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p')
    printf 'fuzz %-12s %10s execs in %s s  cov: %-6s ft: %-6s corpus: %-12s peak rss: %s MB\n' \
        "$t" "${execs:-?}" "$seconds" "${cov:-?}" "${ft:-?}" "${corp:-?}" "${rss:-?}"
    if [ "$status" -ne 0 ]; then
        echo "fuzz $t FAILED (exit $status); the end of $work/log.txt:"
        grep -E 'ERROR|SUMMARY|property violated|Test unit written|runtime error' "$work/log.txt" | head -n 12
        failed="$failed $t"
    fi
done
if [ -n "$failed" ]; then
    echo "fuzz targets that failed:$failed"
    exit 1
fi
