#!/bin/sh
# tests/unit/run.sh - run cmocka unit test binaries and total their test cases.
#
#   sh tests/unit/run.sh build/tests/test_frame build/tests/test_startup ...
#
# Prints each binary's cmocka output, then `unit: N passed, M failed, K skipped` counting
# test cases from cmocka's "[  PASSED  ] N test(s).", "[  FAILED  ] N test(s)" and
# "[  SKIPPED ] N test(s)" summary lines.  A binary that crashes (ASan abort, signal) or
# exits non-zero without reporting a failed test counts as one failed test, since the
# case it was running never reported.
#
# Skips: every skipped test is named on a `# skipped: NAME` line.  With CI=true or
# PGROUTER_STRICT_SKIPS=1 a skip counts as a failure too, unless tests/skips.txt
# lists it (`unit NAME reason`); see that file for the rule.
# Exits 1 if any binary failed, crashed or is missing, 2 if given nothing to run.

if [ $# -eq 0 ]; then
    echo "usage: $0 TEST_BINARY..." >&2
    exit 2
fi

HERE=$(dirname "$0")
SKIPS_TXT=$HERE/../skips.txt
STRICT=${PGROUTER_STRICT_SKIPS:-}
if [ -z "$STRICT" ] && [ "${CI:-}" = true ]; then
    STRICT=1
fi

# The summary lines parsed below exist only in cmocka's standard format.
CMOCKA_MESSAGE_OUTPUT=STDOUT
export CMOCKA_MESSAGE_OUTPUT

out=$(mktemp "${TMPDIR:-/tmp}/pgrouter-unit.XXXXXX") || exit 1
trap 'rm -f "$out"' EXIT
trap 'exit 130' INT TERM

# Sum the numbers in the summary lines starting with the given cmocka tag (padded to
# cmocka's 10 columns, e.g. "  PASSED  ", "  SKIPPED ").
count()
{
    sed -n "s/^\[$1\] \([0-9][0-9]*\) test(s).*/\1/p" "$out" |
        awk '{ s += $1 } END { print s + 0 }'
}

# The names of the skipped tests: cmocka prints "[  SKIPPED ] name" when the test
# skips and again in its closing list.
skipped_names()
{
    sed -n 's/^\[  SKIPPED \] \([A-Za-z_][A-Za-z0-9_]*\)$/\1/p' "$out" | sort -u
}

# allowed NAME: tests/skips.txt accepts a skip of NAME, with a reason.
allowed()
{
    [ -f "$SKIPS_TXT" ] &&
        awk -v n="$1" '$1 == "unit" && $2 == n && NF >= 3 { ok = 1 } END { exit !ok }' \
            "$SKIPS_TXT"
}

passed=0
failed=0
skipped=0
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
    p=$(count '  PASSED  ')
    f=$(count '  FAILED  ')
    s=$(count '  SKIPPED ')
    passed=$((passed + p))
    failed=$((failed + f))
    skipped=$((skipped + s))
    for name in $(skipped_names); do
        if allowed "$name"; then
            echo "# skipped: $name (expected: tests/skips.txt)"
        elif [ "$STRICT" = 1 ]; then
            echo "# skipped: $name: NOT in tests/skips.txt, counted as a failure (strict)"
            skipped=$((skipped - 1))
            failed=$((failed + 1))
            bad=$((bad + 1))
        else
            echo "# skipped: $name (not in tests/skips.txt: a failure under CI=true)"
        fi
    done
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
    elif [ "$p" -eq 0 ] && [ "$f" -eq 0 ] && [ "$s" -eq 0 ]; then
        # Exit 0 with no summary: not a cmocka binary, or it never ran its tests.
        echo "run.sh: $bin: exited 0 but printed no cmocka summary"
        failed=$((failed + 1))
        bad=$((bad + 1))
    fi
done

echo "unit: $passed passed, $failed failed, $skipped skipped"
[ "$bad" -eq 0 ]
