#!/bin/sh
# Runs every cmocka test binary given as an argument from the repository root, shows its
# output, and ends with one line "tests: P passed, F failed" over all of them (after a line
# "tests skipped: S" when cmocka skipped some, e.g. without ../shared). Exits non-zero when a
# test failed or a binary ended without cmocka's summary (a crash). A skipped test is neither
# passed nor failed; a binary whose tests were all skipped still prints "[  PASSED  ] 0 test(s)."
# and exits 0, so it is not counted as crashed.
passed=0; failed=0; skipped=0; broken=""
for bin in "$@"; do
    out=$("$bin" 2>&1); status=$?
    printf '%s\n' "$out"
    p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\..*/\1/p' | tail -n 1)
    f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed below:.*/\1/p' | tail -n 1)
    s=$(printf '%s\n' "$out" | sed -n 's/^\[  SKIPPED \] \([0-9]*\) test(s), listed below:.*/\1/p' | tail -n 1)
    passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0})); skipped=$((skipped + ${s:-0}))
    if [ "$status" -ne 0 ] || [ -z "$p$f" ]; then broken="$broken $(basename "$bin")"; fi
done
if [ -n "$broken" ]; then echo "test binaries that failed or crashed:$broken"; fi
if [ "$skipped" -gt 0 ]; then echo "tests skipped: $skipped"; fi
echo "tests: $passed passed, $failed failed"
[ -z "$broken" ] && [ "$failed" -eq 0 ]
