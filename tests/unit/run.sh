#!/bin/sh
# tests/unit/run.sh - run cmocka unit test binaries and total their test cases.
#
#   sh tests/unit/run.sh build/tests/test_frame build/tests/test_startup ...
#
# Prints each binary's cmocka output, then `unit: N passed, M failed` counting test cases
# from cmocka's "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s)" summary lines.
# A binary that crashes (ASan abort, signal) or exits non-zero without reporting a failed
# test counts as one failed test, since the case it was running never reported.
# Exits 1 if any binary failed, crashed or is missing, 2 if given nothing to run.

if [ $# -eq 0 ]; then
    echo "usage: $0 TEST_BINARY..." >&2
    exit 2
fi

# The summary lines parsed below exist only in cmocka's standard format.
CMOCKA_MESSAGE_OUTPUT=STDOUT
export CMOCKA_MESSAGE_OUTPUT

out=$(mktemp "${TMPDIR:-/tmp}/pgrouter-unit.XXXXXX") || exit 1
trap 'rm -f "$out"' EXIT
trap 'exit 130' INT TERM

# Sum the numbers in the summary lines starting with the given cmocka tag.
count()
{
    sed -n "s/^\[  $1  \] \([0-9][0-9]*\) test(s).*/\1/p" "$out" |
        awk '{ s += $1 } END { print s + 0 }'
}

passed=0
failed=0
bad=0
for bin in "$@"; do
    if [ ! -x "$bin" ]; then
        echo "run.sh: $bin: missing or not executable"
        failed=$((failed + 1))
        bad=$((bad + 1))
        continue
    fi
    "$bin" >"$out" 2>&1
    rc=$?
    cat "$out"
    p=$(count PASSED)
    f=$(count FAILED)
    passed=$((passed + p))
    failed=$((failed + f))
    if [ "$rc" -ne 0 ]; then
        bad=$((bad + 1))
        if [ "$rc" -gt 128 ]; then
            echo "run.sh: $bin: killed by signal $((rc - 128))"
        elif [ "$f" -eq 0 ]; then
            echo "run.sh: $bin: exited $rc without reporting a failed test (crash or leak?)"
        fi
        if [ "$f" -eq 0 ]; then
            failed=$((failed + 1))
        fi
    elif [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
        # Exit 0 with no summary: not a cmocka binary, or it never ran its tests.
        echo "run.sh: $bin: exited 0 but printed no cmocka summary"
        failed=$((failed + 1))
        bad=$((bad + 1))
    fi
done

echo "unit: $passed passed, $failed failed"
[ "$bad" -eq 0 ]
