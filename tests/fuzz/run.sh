#!/bin/sh
# tests/fuzz/run.sh - build the libFuzzer harnesses with clang (ASan + UBSan) and run each
# one, then print a table of each harness's seconds, executions and crashes.
#
#   sh tests/fuzz/run.sh                    # FUZZ_SECS (60) seconds per harness
#   FUZZ_TOTAL=180 sh tests/fuzz/run.sh     # 180 s split evenly among them (CI), >= 5 each
#   FUZZ_RUNS=10000000 FUZZ_SECS=3600 ...   # each stops at 10 M executions or the time
#   FUZZ_ONLY='scram|auth' ...              # only the harnesses whose name matches (grep -E)
#   FUZZ_JOBS=2 FUZZ_MAX_LEN=1024 ...       # two at a time; inputs of at most 1024 bytes
#   FUZZ_SAN=fuzzer FUZZ_OUT=build/fuzzfast # no ASan/UBSan: 5-10x the executions, finds
#                                           # only crashes, hangs and failed asserts
#
# FUZZ_SECONDS is an older name for FUZZ_SECS. Seeds live in tests/fuzz/corpus/<harness>/
# (read only); the corpus a run grows goes to build/fuzz/corpus/<harness>/ and persists, so
# each run starts where the last one stopped. A crash, leak, timeout or out-of-memory input
# is saved as build/fuzz/<harness>-<kind>-<sha1>; replay it with
# `build/fuzz/bin/<harness> FILE`. Ends with `fuzz: N passed, M failed` (one per harness)
# and exits 1 if a harness fails to build or finds anything.

cd "$(dirname "$0")/../.." || exit 1

CLANG=${CLANG:-clang}
FUZZ_SECS=${FUZZ_SECS:-${FUZZ_SECONDS:-60}}
FUZZ_TOTAL=${FUZZ_TOTAL:-}
FUZZ_RUNS=${FUZZ_RUNS:--1}
FUZZ_ONLY=${FUZZ_ONLY:-.}
FUZZ_JOBS=${FUZZ_JOBS:-1}
FUZZ_MAX_LEN=${FUZZ_MAX_LEN:-0}
OUT=${FUZZ_OUT:-build/fuzz}
CFLAGS="-std=c11 -D_GNU_SOURCE -g -O1 -Wall -Wextra -Werror -Wshadow \
-Wstrict-prototypes -Wmissing-prototypes -I. \
-fsanitize=${FUZZ_SAN:-fuzzer,address,undefined} -fno-sanitize-recover=all \
-fno-omit-frame-pointer \
$(pkg-config --cflags libuv libpq 2>/dev/null)"

if ! command -v "$CLANG" >/dev/null 2>&1; then
    echo "fuzz: $CLANG not found; libFuzzer needs clang (set CLANG=...)" >&2
    exit 1
fi
mkdir -p "$OUT/bin" "$OUT/log" || exit 1

# Every harness and what it links: name, then sources and libraries (globs expand at build).
harnesses()
{
    cat <<'EOF'
fuzz_frame protocol/frame.c protocol/msg.c
fuzz_startup protocol/frame.c protocol/startup.c protocol/msg.c
fuzz_options protocol/frame.c protocol/startup.c protocol/msg.c
fuzz_classify router/sql/classify.c router/sql/sqllex.c router/sql/funcset.c
fuzz_cfg config/*.c -linih -lssl -lcrypto
fuzz_userlist config/userlist.c
fuzz_hba config/hba.c
fuzz_admin router/admin/adminparse.c
fuzz_adminarg router/admin/adminarg.c
fuzz_httpreq router/admin/httpreq.c
fuzz_tenant router/sql/tenant.c router/sql/tenantneg.c router/sql/tenantval.c router/sql/sqllex.c protocol/frame.c
fuzz_bind router/sql/tenant.c router/sql/tenantneg.c router/sql/tenantval.c router/sql/sqllex.c protocol/frame.c
fuzz_explain router/sql/explain.c router/cluster/decide.c router/cluster/route.c router/cluster/routing.c router/cluster/shard.c router/sql/classify.c router/sql/sqllex.c router/sql/funcset.c router/sql/tenant.c router/sql/tenantneg.c router/sql/tenantval.c protocol/frame.c config/*.c -linih -lssl -lcrypto
fuzz_extq protocol/extq.c protocol/frame.c
fuzz_unit router/session/unit.c router/session/stmt.c protocol/extq.c protocol/frame.c protocol/msg.c
fuzz_server router/net/conn.c router/net/conntls.c router/net/tls.c router/core/log.c router/core/logsys.c protocol/frame.c protocol/msg.c config/*.c -luv -lssl -lcrypto -linih
fuzz_scram protocol/scram.c protocol/saslprep.c -lcrypto -lidn
fuzz_scramcli protocol/scramcli.c protocol/scram.c protocol/md5auth.c protocol/saslprep.c -lcrypto -lidn
fuzz_saslprep protocol/saslprep.c -lidn
fuzz_srvauth protocol/srvauth.c protocol/scramcli.c protocol/scram.c protocol/saslprep.c protocol/md5auth.c protocol/msg.c protocol/frame.c -lcrypto -lidn
fuzz_auth protocol/auth.c protocol/scram.c protocol/saslprep.c protocol/md5auth.c protocol/startup.c protocol/frame.c protocol/msg.c -lcrypto -lidn
EOF
}

selected=$(harnesses | cut -d' ' -f1 | grep -E -- "$FUZZ_ONLY")
count=$(echo "$selected" | grep -c .)
if [ "$count" -eq 0 ]; then
    echo "fuzz: no harness matches FUZZ_ONLY=$FUZZ_ONLY" >&2
    exit 1
fi
if [ -n "$FUZZ_TOTAL" ]; then
    FUZZ_SECS=$((FUZZ_TOTAL / count))
    [ "$FUZZ_SECS" -lt 5 ] && FUZZ_SECS=5
fi

# Build one harness; its status goes to $OUT/log/<name>.build (0 = built).
build()
{
    name=$1
    shift
    # shellcheck disable=SC2086,SC2068 # CFLAGS and the sources are lists of words
    "$CLANG" $CFLAGS -o "$OUT/bin/$name" "tests/fuzz/$name.c" $@ \
        >"$OUT/log/$name.build.log" 2>&1
    echo $? >"$OUT/log/$name.build"
}

# Two builds at a time: the harnesses build in about half the time on two cores.
echo "fuzz: building $count harnesses"
n=0
for name in $selected; do
    build $(harnesses | grep "^$name ") &
    n=$((n + 1))
    [ $((n % 2)) -eq 0 ] && wait
done
wait

# Run one harness; its table row goes to $OUT/log/<name>.row, its status to <name>.rc.
run()
{
    name=$1
    if [ "$(cat "$OUT/log/$name.build" 2>/dev/null)" != 0 ]; then
        cat "$OUT/log/$name.build.log"
        echo "fuzz: $name: build failed"
        printf '%-16s %6s %12s %9s %8s %s\n' "$name" - - - - "build failed" \
            >"$OUT/log/$name.row"
        echo 1 >"$OUT/log/$name.rc"
        return
    fi
    mkdir -p "$OUT/corpus/$name" "tests/fuzz/corpus/$name"
    before=$(ls "$OUT" | grep -c -E -- "^$name-(crash|leak|timeout|oom)-")
    echo "fuzz: running $name for ${FUZZ_SECS}s"
    start=$(date +%s)
    "$OUT/bin/$name" -max_total_time="$FUZZ_SECS" -runs="$FUZZ_RUNS" -max_len="$FUZZ_MAX_LEN" \
        -timeout=10 -print_final_stats=1 -artifact_prefix="$OUT/$name-" \
        "$OUT/corpus/$name" "tests/fuzz/corpus/$name" >"$OUT/log/$name.log" 2>&1
    rc=$?
    secs=$(($(date +%s) - start))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$OUT/log/$name.log" | tail -n 1)
    if [ -z "$execs" ]; then    # no final stats after a crash: the last status line
        execs=$(grep -o '^#[0-9]*' "$OUT/log/$name.log" | tail -n 1 | tr -d '#')
    fi
    execs=${execs:-0}
    crashes=$(($(ls "$OUT" | grep -c -E -- "^$name-(crash|leak|timeout|oom)-") - before))
    [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ] && crashes=1
    if [ "$rc" -eq 0 ]; then
        result="ok"
        echo "fuzz: $name: $execs runs, no crash"
    else
        result="FAILED: see $OUT/log/$name.log and $OUT/$name-*"
        grep -v '^stat::' "$OUT/log/$name.log" | tail -n 40
        echo "fuzz: $name: CRASH, input saved under $OUT/$name-*"
    fi
    printf '%-16s %6d %12d %9d %8d %s\n' "$name" "$secs" "$execs" \
        $((execs / (secs > 0 ? secs : 1))) "$crashes" "$result" >"$OUT/log/$name.row"
    echo "$rc" >"$OUT/log/$name.rc"
}

n=0
for name in $selected; do
    rm -f "$OUT/log/$name.row" "$OUT/log/$name.rc"
    run "$name" &
    n=$((n + 1))
    [ $((n % FUZZ_JOBS)) -eq 0 ] && wait
done
wait

failed=0
passed=0
echo
printf 'fuzz: %-16s %6s %12s %9s %8s %s\n' harness secs execs execs/s crashes result
for name in $selected; do
    sed 's/^/fuzz: /' "$OUT/log/$name.row"
    if [ "$(cat "$OUT/log/$name.rc" 2>/dev/null)" = 0 ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
    fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
