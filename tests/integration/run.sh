#!/usr/bin/env bash
# tests/integration/run.sh - the integration suite: real PostgreSQL (a primary
# and two streaming replicas from tests/cluster.sh), pgrouter in front, driven
# with psql, pgbench, psycopg 3, node-postgres and a raw-socket client (rawpg.py);
# readme.py runs README.md's commands against a `make demo` of its own.
#
# Prints `ok - NAME`, `ok - NAME # SKIP why` or `not ok - NAME: why` per case,
# then `N passed, M failed, K skipped` alone on the last line; exits 1 if anything
# failed.  Under CI=true or PGROUTER_STRICT_SKIPS=1 a skip is a failure unless
# tests/skips.txt lists it (`integration NAME reason`).
# Whatever happens (failure, ctrl-c), pgrouter is killed and PostgreSQL stopped.
#
# Environment:
#   PGROUTER_BIN   pgrouter binary (default ./pgrouter); the Makefile passes it
#   ITEST_DIRECT=1 no pgrouter: run the cases against the primary itself (to
#                  check the tests); proxy-only cases are skipped
#   ITEST_REUSE=1  use the cluster already running in build/itest/cluster (or
#                  start one) and leave it running afterwards
#   ITEST_ONLY=RE  run only the cases whose name matches the regex RE
#   ITEST_DIR      work directory (default build/itest); logs in ITEST_DIR/logs
#   UNIT_TEST_DIR  where the unit test binaries are (default build/tests): those
#                  that need a server run again here against the cluster
#
# Cases are called indirectly through run(); PORT_x/PID_x are set with printf -v.
# shellcheck disable=SC2317,SC2154
set -uo pipefail

START_CWD=$PWD
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 1

ITEST_DIR=${ITEST_DIR:-$ROOT/build/itest}
ITEST_DIRECT=${ITEST_DIRECT:-0}
ITEST_REUSE=${ITEST_REUSE:-0}
ITEST_ONLY=${ITEST_ONLY:-}
CLUSTER_SH=$ROOT/tests/cluster.sh
CLUSTER_DIR=$ITEST_DIR/cluster
LOGDIR=$ITEST_DIR/logs
HERE=$ROOT/tests/integration
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

PGROUTER_BIN=${PGROUTER_BIN:-./pgrouter}
case $PGROUTER_BIN in
/*) ;;
*) PGROUTER_BIN=$START_CWD/$PGROUTER_BIN ;;
esac
UNIT_TEST_DIR=${UNIT_TEST_DIR:-$ROOT/build/tests}
SKIPS_TXT=$ROOT/tests/skips.txt
STRICT_SKIPS=${PGROUTER_STRICT_SKIPS:-}
if [ -z "$STRICT_SKIPS" ] && [ "${CI:-}" = true ]; then
    STRICT_SKIPS=1
fi

PASSED=0
FAILED=0
SKIPPED=0
STARTED_CLUSTER=0
LOCKED=0
PGR_PIDS=()
T0=$SECONDS

# ---- teardown -------------------------------------------------------------

stop_pgrouter() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
}

cleanup() {
    # the trap may fire inside `IFS= read`
    local pid IFS=$' \t\n'
    trap - EXIT INT TERM HUP
    for pid in "${PGR_PIDS[@]}"; do
        stop_pgrouter "$pid"
    done
    if [ "$STARTED_CLUSTER" -eq 1 ] && [ "$ITEST_REUSE" != 1 ]; then
        bash "$CLUSTER_SH" down "$CLUSTER_DIR" >/dev/null 2>&1 ||
            echo "# cluster.sh down $CLUSTER_DIR failed" >&2
    fi
    [ "$LOCKED" -eq 0 ] || rm -rf "$ITEST_DIR/.lock"
}
trap cleanup EXIT
trap 'echo "# interrupted" >&2; exit 130' INT TERM HUP

# ---- reporting ------------------------------------------------------------

REASON=""

# fail MSG: print the reason (run() reports the last line) and end the case;
# every case runs in its own subshell, so exit ends only that case.
fail() {
    local m="$*"
    echo "${m//$'\n'/ | }"
    exit 1
}

skip() {
    echo "SKIP: $*"
    exit 77
}

proxy_only() {
    [ "$ITEST_DIRECT" != 1 ] || skip "proxy-only check (ITEST_DIRECT=1)"
}

# skip_allowed NAME: tests/skips.txt accepts a skip of the case NAME (with a reason).
skip_allowed() {
    [ -f "$SKIPS_TXT" ] &&
        awk -v n="$1" '$1 == "integration" && $2 == n && NF >= 3 { ok = 1 } END { exit !ok }' \
            "$SKIPS_TXT"
}

# count_skip NAME WHY: report a skipped case; under the strict rule (CI=true) a
# skip that tests/skips.txt does not list is a failure.
count_skip() {
    if skip_allowed "$1" || [ "$STRICT_SKIPS" != 1 ]; then
        echo "ok - $1 # SKIP $2"
        SKIPPED=$((SKIPPED + 1))
    else
        echo "not ok - $1: skipped ($2), and under CI=true a skip is a failure unless" \
            "tests/skips.txt lists it"
        FAILED=$((FAILED + 1))
    fi
}

# run NAME FUNCTION: one case, in a subshell so that it cannot disturb the
# others; its output goes to LOGDIR/NAME.log.
run() {
    local name=$1 fn=$2 rc log
    if [ -n "$ITEST_ONLY" ] && ! [[ $name =~ $ITEST_ONLY ]]; then
        return 0
    fi
    log=$LOGDIR/$name.log
    ("$fn") >"$log" 2>&1
    rc=$?
    REASON=$(grep -v '^[[:space:]]*$' "$log" | tail -n 1 | cut -c 1-200)
    if [ $rc -eq 0 ]; then
        echo "ok - $name"
        PASSED=$((PASSED + 1))
    elif [ $rc -eq 77 ]; then
        count_skip "$name" "${REASON#SKIP: }"
    else
        [ $rc -ne 124 ] || REASON="timed out; $REASON"
        echo "not ok - $name: ${REASON:-exit status $rc} (log: ${log#"$ROOT"/})"
        FAILED=$((FAILED + 1))
    fi
}

finish() {
    echo "# $((SECONDS - T0))s, logs in ${LOGDIR#"$ROOT"/}"
    echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
    [ "$FAILED" -eq 0 ]
    exit $?
}

# abort WHY: a failure that makes the remaining cases meaningless.
abort() {
    echo "not ok - $1"
    FAILED=$((FAILED + 1))
    finish
}

# ---- helpers --------------------------------------------------------------

# take_lock: one run at a time per ITEST_DIR, since a run starts by tearing
# down the cluster in ITEST_DIR/cluster, which may be another run's (two
# `make integration` in one checkout).  A directory is the lock, so that no
# file descriptor leaks into the servers; a lock whose owner is gone is taken.
take_lock() {
    local lock=$ITEST_DIR/.lock deadline=$((SECONDS + 300)) owner said=0
    while ! mkdir "$lock" 2>/dev/null; do
        owner=$(cat "$lock/pid" 2>/dev/null)
        if [ -n "$owner" ] && ! kill -0 "$owner" 2>/dev/null; then
            rm -rf "$lock"
            continue
        fi
        if [ "$said" -eq 0 ]; then
            echo "# another run (pid ${owner:-?}) uses ${ITEST_DIR#"$ROOT"/}; waiting" \
                "(at most 300 s; set ITEST_DIR to run side by side)"
            said=1
        fi
        [ "$SECONDS" -lt "$deadline" ] || abort "lock: another run still holds $lock"
        sleep 1
    done
    echo $$ >"$lock/pid"
    LOCKED=1
}

port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# free_port: a port nothing listens on, from 20000-31999: below Linux's ephemeral range
# (32768-60999), so that an outgoing connection cannot take it before its server binds.
free_port() {
    local p=$((20000 + RANDOM % 12000))
    while port_in_use "$p" || [ "$p" -eq 6432 ] || [ "$p" -eq 5432 ]; do
        p=$((p + 1 + RANDOM % 7))
        [ $p -lt 32000 ] || p=20000
    done
    echo "$p"
}

wait_port() {
    local port=$1 pid=$2 deadline=$((SECONDS + $3))
    while ! port_in_use "$port"; do
        kill -0 "$pid" 2>/dev/null || return 1
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.1
    done
}

# child_pid PARENT NAME: pid of PARENT's child process called NAME (from /proc,
# so that procps is not needed).
child_pid() {
    local stat pid rest
    for stat in /proc/[0-9]*/stat; do
        read -r pid rest <"$stat" 2>/dev/null || continue
        # rest is "(comm) state ppid ..."
        if [[ $rest == "($2) "[A-Za-z]" $1 "* ]]; then
            echo "$pid"
            return 0
        fi
    done
    return 1
}

# node_deps: node and npm are there and tests/integration/node's packages are
# installed (`npm ci` if it has a package-lock.json, else `npm install`), again
# whenever package.json or the lock file changes.  Returns 1 with the reason in
# NODE_DEPS_ERROR; a missing node is a failure, never a skip.
NODE_DIR=$HERE/node
NODE_DEPS_ERROR=""
node_deps() {
    local stamp=$NODE_DIR/node_modules/.pgrouter-stamp sum out how=(install --no-package-lock)
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        NODE_DEPS_ERROR="node or npm is not installed (sh tests/deps.sh test installs them)"
        return 1
    fi
    sum=$(cat "$NODE_DIR/package.json" "$NODE_DIR/package-lock.json" 2>/dev/null | cksum)
    [ "$(cat "$stamp" 2>/dev/null)" = "$sum" ] && return 0
    [ -f "$NODE_DIR/package-lock.json" ] && how=(ci)
    echo "# npm ${how[*]} in ${NODE_DIR#"$ROOT"/}"
    out=$(cd "$NODE_DIR" && timeout 300 npm "${how[@]}" --no-audit --no-fund 2>&1)
    if [ $? -ne 0 ]; then
        NODE_DEPS_ERROR="npm ${how[*]} in ${NODE_DIR#"$ROOT"/} failed: $(tail -n 1 <<<"$out")"
        return 1
    fi
    echo "$sum" >"$stamp"
}

t_node_deps() {
    node_deps || fail "$NODE_DEPS_ERROR"
    echo "node $(node --version), npm $(npm --version)"
    ls "$NODE_DIR/node_modules"
}

# psql through the proxy as app; extra arguments follow.
PSQL() {
    PGPASSWORD=${PGPASSWORD-app} timeout 30 "$PGBIN/psql" -X -v ON_ERROR_STOP=1 \
        -h 127.0.0.1 -p "$PGR_PORT" -U app -d appdb "$@"
}

RAWPG() {
    timeout 30 "$PY" "$HERE/rawpg.py" --port "$PGR_PORT" "$@"
}

# DIRECT PORT SQL [DB]: psql straight to the server on PORT (no pgrouter) as the
# superuser; prints unaligned rows.  DB defaults to appdb; pass postgres to
# leave appdb's statistics alone.
DIRECT() {
    PGPASSWORD=postgres timeout 30 "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 \
        -h 127.0.0.1 -p "$1" -U postgres -d "${3:-appdb}" -c "$2"
}

# wait_replay: wait until both replicas have replayed everything the
# primary has committed so far (at most 10 s).  Reads through pgrouter
# go to a replica, so a case that writes in one session and reads in the next
# calls this in between.  The servers run with synchronous_commit = off, so a
# commit may still sit in the primary's WAL buffers, unsent: a synchronous
# commit of our own flushes it, and the primary's flush position after that is
# the target.  The commit must write WAL and have a transaction id to be
# flushed (txid_current() alone is not enough): a transactional logical
# message does both.
wait_replay() {
    local secs=10 lsn port got deadline
    lsn=$(PGPASSWORD=postgres timeout 30 "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 \
        -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -d postgres \
        -c 'SET synchronous_commit = on' \
        -c "SELECT pg_logical_emit_message(true, 'pgrouter-itest', 'wait_replay')" \
        -c 'SELECT pg_current_wal_flush_lsn()' | tail -n 1)
    if [ -z "$lsn" ]; then
        echo "wait_replay: cannot read the primary's WAL position"
        return 1
    fi
    deadline=$((SECONDS + secs))
    for port in "$REPLICA1_PORT" "$REPLICA2_PORT"; do
        while :; do
            got=$(DIRECT "$port" "SELECT pg_last_wal_replay_lsn() >= '$lsn'::pg_lsn" postgres \
                2>/dev/null)
            [ "$got" = t ] && break
            if [ "$SECONDS" -ge "$deadline" ]; then
                echo "wait_replay: replica on port $port has not replayed up to $lsn" \
                    "after ${secs}s: replay at $(DIRECT "$port" \
                    'SELECT pg_last_wal_replay_lsn()' postgres 2>&1)"
                return 1
            fi
            sleep 0.05
        done
    done
}

# The read-your-writes window of the test configs: short, so that the routing
# cases can wait it out (they sleep RYW_WAIT seconds), long enough that a busy
# machine does not let it pass between a write and the next statement.
RYW_WINDOW=2s
RYW_WAIT=3

# write_ini FILE PORT AUTH_TYPE: a pgrouter config for the main cluster.  It is
# derived from the shipped example config/pgrouter.ini (its addresses
# 127.0.0.1:5432/5433/5434 become this cluster's nodes), so that the example is
# exercised too; without it a minimal config is written.
write_ini() {
    local out=$1 port=$2 auth=$3 dir
    dir=$(dirname "$out")
    printf '"app" "app"\n"other" "other"\n"admin" "admin"\n"stats" "stats"\n' \
        >"$dir/userlist.txt"
    if [ -f config/pgrouter.ini ]; then
        sed -e "s/127\.0\.0\.1:5432\b/127.0.0.1:$PRIMARY_PORT/g" \
            -e "s/127\.0\.0\.1:5433\b/127.0.0.1:$REPLICA1_PORT/g" \
            -e "s/127\.0\.0\.1:5434\b/127.0.0.1:$REPLICA2_PORT/g" \
            -e "s/127\.0\.0\.1:5442\b/127.0.0.1:${SHARD_A_PRIMARY_PORT:-5442}/g" \
            -e "s/127\.0\.0\.1:5443\b/127.0.0.1:${SHARD_A_REPLICA_PORT:-5443}/g" \
            -e "s/127\.0\.0\.1:5452\b/127.0.0.1:${SHARD_B_PRIMARY_PORT:-5452}/g" \
            -e "s/127\.0\.0\.1:5453\b/127.0.0.1:${SHARD_B_REPLICA_PORT:-5453}/g" \
            -e "s|^\([[:space:]]*listen_addr[[:space:]]*=\).*|\1 127.0.0.1|" \
            -e "s|^\([[:space:]]*listen_port[[:space:]]*=\).*|\1 $port|" \
            -e "s|^\([[:space:]]*auth_type[[:space:]]*=\).*|\1 $auth|" \
            -e "s|^\([[:space:]]*auth_file[[:space:]]*=\).*|\1 $dir/userlist.txt|" \
            -e '/^[[:space:]]*\(logfile\|pidfile\)[[:space:]]*=/d' \
            -e "s|^\([[:space:]]*read_your_writes_window[[:space:]]*=\).*|\1 $RYW_WINDOW|" \
            config/pgrouter.ini >"$out"
        if ! grep -q '^[[:space:]]*auth_type[[:space:]]*=' "$out"; then
            sed -i "s|^\([[:space:]]*listen_port[[:space:]]*=.*\)|\1\nauth_type = $auth|" "$out"
        fi
        if ! grep -q '^[[:space:]]*read_your_writes_window[[:space:]]*=' "$out"; then
            if grep -q '^\[routing\]' "$out"; then
                sed -i "s|^\[routing\].*|&\nread_your_writes_window = $RYW_WINDOW|" "$out"
            else
                printf '\n[routing]\nread_your_writes_window = %s\n' "$RYW_WINDOW" >>"$out"
            fi
        fi
    else
        cat >"$out" <<EOF
; written by tests/integration/run.sh (no config/pgrouter.ini found)
[pgrouter]
listen_addr = 127.0.0.1
listen_port = $port
auth_type = $auth
auth_file = $dir/userlist.txt
admin_users = admin
stats_users = stats

[cluster.main]
primary = 127.0.0.1:$PRIMARY_PORT
replicas = 127.0.0.1:$REPLICA1_PORT, 127.0.0.1:$REPLICA2_PORT

[routing]
read_your_writes_window = $RYW_WINDOW
EOF
    fi
}

# launch_pgrouter NAME INI LOG: start pgrouter in the background; sets LAUNCHED_PID.
# A wrapper subshell records its exit status for t_pgrouter_sigterm.
launch_pgrouter() {
    local dir=$ITEST_DIR/$1
    rm -f "$dir/pid" "$dir/exit"
    (
        "$PGROUTER_BIN" -c "$2" >"$3" 2>&1 &
        echo $! >"$dir/pid"
        wait $!
        echo $? >"$dir/exit"
    ) &
    while [ ! -s "$dir/pid" ]; do sleep 0.05; done
    LAUNCHED_PID=$(cat "$dir/pid")
}

# start_pgrouter NAME AUTH_TYPE [EDIT]: sets PORT_<NAME> and PID_<NAME>; aborts
# the suite on failure.  Another process may take the port between free_port and
# the bind (other test runs share the machine): then retry on a new port.  EDIT,
# a function, is called with the config file to change what write_ini wrote.
start_pgrouter() {
    local name=$1 auth=$2 edit=${3:-} port ini log pid attempt
    ini=$ITEST_DIR/$name/pgrouter.ini
    log=$ITEST_DIR/$name/pgrouter.log
    mkdir -p "$ITEST_DIR/$name"
    for attempt in 1 2 3; do
        port=$(free_port)
        write_ini "$ini" "$port" "$auth"
        [ -z "$edit" ] || "$edit" "$ini"
        if ! "$PGROUTER_BIN" -t -c "$ini" >"$ITEST_DIR/$name/check.log" 2>&1; then
            sed 's/^/#   /' "$ITEST_DIR/$name/check.log"
            abort "start pgrouter ($name): pgrouter -t rejects $ini"
        fi
        launch_pgrouter "$name" "$ini" "$log"
        pid=$LAUNCHED_PID
        PGR_PIDS+=("$pid")
        wait_port "$port" "$pid" 20 && break
        if [ "$attempt" -lt 3 ] && ! kill -0 "$pid" 2>/dev/null &&
            grep -q -i 'in use' "$log"; then
            echo "# pgrouter ($name): port $port was taken, trying another"
            continue
        fi
        tail -n 20 "$log" | sed 's/^/#   /'
        abort "start pgrouter ($name): not listening on 127.0.0.1:$port (log: $log)"
    done
    printf -v "PORT_$name" '%s' "$port"
    printf -v "PID_$name" '%s' "$pid"
    echo "# pgrouter ($name, auth_type=$auth) pid $pid on 127.0.0.1:$port"
}

# read/write routing: the t_route_* cases
# shellcheck source=tests/integration/routing.sh
. "$HERE/routing.sh"

# tenant sharding: start_shard_pgrouter, the t_shard_* cases
# shellcheck source=tests/integration/sharding.sh
. "$HERE/sharding.sh"

# server faults on a pgrouter with health checks: faults_cases, the t_faults_* cases
# shellcheck source=tests/integration/faults.sh
. "$HERE/faults.sh"

# session state, identity and lexing: state_cases, the t_state_* cases
# shellcheck source=tests/integration/state.sh
. "$HERE/state.sh"

# server logins and start-up on instances of their own: connect_cases, t_connect_*
# shellcheck source=tests/integration/connect.sh
. "$HERE/connect.sh"

# transaction pooling on instances of its own: pooling_cases, the t_pool_* cases
# shellcheck source=tests/integration/pooling.sh
. "$HERE/pooling.sh"

# pipelined extended-protocol batches and postgres.js: pipeline_cases
# shellcheck source=tests/integration/pipeline.sh
. "$HERE/pipeline.sh"

# limits, idle timeouts, session pooling, signals: lifecycle_cases
# shellcheck source=tests/integration/lifecycle.sh
. "$HERE/lifecycle.sh"

# the Prometheus endpoint on an instance of its own: metrics_cases
# shellcheck source=tests/integration/metrics.sh
. "$HERE/metrics.sh"

# connection, disconnection and pooler-error lines, syslog, no secret: logs_cases
# shellcheck source=tests/integration/logs.sh
. "$HERE/logs.sh"

# SHOW STATS and SHOW ROUTES on an instance of their own: stats_cases
# shellcheck source=tests/integration/stats.sh
. "$HERE/stats.sh"

# the console's SHOW CLUSTERS/NODES/BREAKERS/SHARDS and EXPLAIN ROUTE: adminnode_cases
# shellcheck source=tests/integration/adminnode.sh
. "$HERE/adminnode.sh"

# the console's control commands (PAUSE, RECONNECT, KILL...): admincmd_cases
# shellcheck source=tests/integration/admincmd.sh
. "$HERE/admincmd.sh"

# TLS toward clients on an instance of its own: tls_cases
# shellcheck source=tests/integration/tls.sh
. "$HERE/tls.sh"

# ---- cases: plain psql ----------------------------------------------------

t_simple_query() {
    local out
    out=$(PSQL -At -c 'SELECT 1') || fail "psql failed"
    [ "$out" = 1 ] || fail "SELECT 1 printed '$out'"
}

t_describe_table() {
    local out
    PSQL -q -c 'DROP TABLE IF EXISTS itest_desc' \
        -c 'CREATE TABLE itest_desc (id int PRIMARY KEY, note text NOT NULL)' ||
        fail "CREATE TABLE failed"
    # \d runs in a new session, which reads from a replica
    wait_replay || fail "replicas did not replay the CREATE TABLE"
    out=$(PSQL -c '\d itest_desc') || fail "\\d itest_desc failed"
    echo "$out"
    grep -q 'Table "public.itest_desc"' <<<"$out" || fail "\\d shows no table header"
    grep -q 'note.*text.*not null' <<<"$out" || fail "\\d shows no column note"
    grep -q 'itest_desc_pkey' <<<"$out" || fail "\\d shows no primary key index"
    out=$(PSQL -c '\d') || fail "\\d failed"
    grep -q 'itest_desc' <<<"$out" || fail "\\d does not list itest_desc"
    PSQL -q -c 'DROP TABLE itest_desc' || fail "DROP TABLE failed"
}

t_multi_statement() {
    local out
    out=$(PSQL -At -c 'SELECT 1; SELECT 2') || fail "psql failed"
    [ "$out" = $'1\n2' ] || fail "expected both results, got '$out'"
}

t_error_then_query() {
    local out err
    out=$(PSQL -q -At -v ON_ERROR_STOP=0 -v VERBOSITY=verbose 2>"$LOGDIR/error.err" <<'EOF'
SELECT 1/0;
SELECT 42;
BEGIN;
SELECT 1/0;
SELECT 'in failed tx';
ROLLBACK;
SELECT 43;
EOF
    )
    err=$(cat "$LOGDIR/error.err")
    echo "stdout: $out"
    echo "stderr: $err"
    grep -q '22012' <<<"$err" || fail "no SQLSTATE 22012 on stderr"
    grep -q '25P02' <<<"$err" || fail "no SQLSTATE 25P02 for the aborted transaction"
    [ "$out" = $'42\n43' ] || fail "expected 42 and 43 after the errors, got '$out'"
}

t_copy_stdin_stdout() {
    local f=$LOGDIR/copy.data out
    seq 1 1000 | awk '{ printf "%d\tvalue %d\n", $1, $1 * 7 }' >"$f"
    PSQL -q -c 'DROP TABLE IF EXISTS itest_copy' \
        -c 'CREATE TABLE itest_copy (id int, v text)' || fail "CREATE TABLE failed"
    PSQL -q -c 'COPY itest_copy FROM STDIN' <"$f" || fail "COPY FROM STDIN failed"
    wait_replay || fail "replicas did not replay the COPY"
    out=$(PSQL -c 'COPY (SELECT * FROM itest_copy ORDER BY id) TO STDOUT') ||
        fail "COPY TO STDOUT failed"
    diff <(echo "$out") "$f" >/dev/null || fail "COPY TO STDOUT differs from the input"
    # an error inside COPY FROM must leave the session usable
    out=$(printf '1\tok\nnot-a-number\tbad\n' |
        PSQL -At -v ON_ERROR_STOP=0 -c 'COPY itest_copy FROM STDIN' -c 'SELECT count(*) FROM itest_copy' 2>&1)
    grep -q 'invalid input syntax' <<<"$out" || fail "bad COPY row not reported: $out"
    grep -qx '1000' <<<"$out" || fail "session not usable after failed COPY: $out"
}

t_psql_backslash_copy() {
    local f=$LOGDIR/bscopy.in g=$LOGDIR/bscopy.out
    seq 1 1000 | awk '{ printf "%d,\"text, %d\"\n", $1, $1 }' >"$f"
    PSQL -q -c 'DROP TABLE IF EXISTS itest_bscopy' \
        -c 'CREATE TABLE itest_bscopy (id int, v text)' || fail "CREATE TABLE failed"
    PSQL -q -c "\\copy itest_bscopy FROM '$f' WITH (FORMAT csv)" || fail "\\copy from failed"
    wait_replay || fail "replicas did not replay the \\copy"
    PSQL -q -c "\\copy (SELECT * FROM itest_bscopy ORDER BY id) TO '$g' WITH (FORMAT csv)" ||
        fail "\\copy to failed"
    cmp -s "$f" "$g" || fail "\\copy round trip differs"
    PSQL -q -c 'DROP TABLE itest_bscopy' -c 'DROP TABLE IF EXISTS itest_copy' ||
        fail "DROP TABLE failed"
}

t_empty_query() {
    local out
    out=$(PSQL -At -c ';' -c 'SELECT 5') || fail "psql failed"
    [ "$out" = 5 ] || fail "expected 5 after the empty query, got '$out'"
}

t_notice() {
    local err
    err=$(PSQL -q -c "DO \$\$BEGIN RAISE NOTICE 'hello'; END\$\$" 2>&1 >/dev/null) ||
        fail "DO failed: $err"
    grep -q 'NOTICE:  hello' <<<"$err" || fail "no NOTICE on stderr (got '$err')"
}

t_listen_notify() {
    local out
    out=$(PSQL -c 'LISTEN itest_chan' -c "NOTIFY itest_chan, 'payload 1'") ||
        fail "psql failed"
    echo "$out"
    grep -q 'Asynchronous notification "itest_chan" with payload "payload 1" received' \
        <<<"$out" || fail "no Asynchronous notification in the output"
}

t_large_results() {
    local n sum
    n=$(PSQL -At -c "SELECT repeat('x', 10000000)" | tr -d '\n' | tr -d 'x' | wc -c) ||
        fail "psql failed"
    [ "$n" -eq 0 ] || fail "the 10 MB value contains $n unexpected bytes"
    n=$(PSQL -At -c "SELECT repeat('x', 10000000)" | wc -c)
    [ "$n" -eq 10000001 ] || fail "the 10 MB value arrived as $n bytes"
    read -r n sum < <(PSQL -At -c 'SELECT generate_series(1, 200000)' |
        awk '{ n++; s += $1 } END { printf "%d %.0f\n", n, s }')
    [ "$n" = 200000 ] || fail "generate_series gave $n lines"
    [ "$sum" = 20000100000 ] || fail "generate_series lines sum to $sum"
}

t_cancel_psql_sigint() {
    local out=$LOGDIR/cancel_psql.out tpid ppid i n t0
    # not through PSQL: $! must be the timeout process, the parent of psql
    PGPASSWORD=app timeout 30 "$PGBIN/psql" -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGR_PORT" \
        -U app -d appdb -c 'SELECT pg_sleep(29.5)' >"$out" 2>&1 &
    tpid=$!
    # wait until the query really runs, or the SIGINT would only end psql
    for i in $(seq 1 50); do
        n=$(PSQL -At -c "SELECT count(*) FROM pg_stat_activity
                         WHERE query = 'SELECT pg_sleep(29.5)' AND state = 'active'")
        [ "$n" = 1 ] && break
        sleep 0.1
    done
    [ "$n" = 1 ] || fail "the sleeping query never showed up in pg_stat_activity"
    ppid=$(child_pid "$tpid" psql) || fail "cannot find the psql process"
    t0=$SECONDS
    kill -INT "$ppid"
    wait "$tpid"
    cat "$out"
    echo "# measured: SIGINT -> psql returned after $((SECONDS - t0)) s"
    # the message proves the cancel; a psql that returned only when pg_sleep
    # ended (29.5 s) was not cancelled
    [ $((SECONDS - t0)) -lt 25 ] || fail "psql needed $((SECONDS - t0)) s to return"
    grep -q 'canceling statement due to user request' "$out" ||
        fail "no 'canceling statement due to user request': $(head -c 200 "$out")"
}

# ---- cases: authentication, protocol edge cases ---------------------------

t_wrong_password() {
    local err line
    err=$(PGPASSWORD=wrong PSQL -c 'SELECT 1' 2>&1) && fail "login with a wrong password worked"
    echo "$err"
    grep -q 'password authentication failed' <<<"$err" ||
        fail "psql: no 'password authentication failed' ($err)"
    line=$(RAWPG auth --user app --password wrong)
    echo "rawpg: $line"
    [[ $line == "E 28P01 "* ]] || fail "expected SQLSTATE 28P01, got: $line"
}

t_unknown_user() {
    local err line
    err=$(PGPASSWORD=x timeout 30 "$PGBIN/psql" -X -h 127.0.0.1 -p "$PGR_PORT" -U itest_nobody \
        -d appdb -c 'SELECT 1' 2>&1) && fail "login as an unknown user worked"
    echo "$err"
    grep -q 'password authentication failed' <<<"$err" ||
        fail "psql: no 'password authentication failed' ($err)"
    line=$(RAWPG auth --user itest_nobody --password x)
    echo "rawpg: $line"
    [[ $line == "E 28P01 "* ]] || fail "expected SQLSTATE 28P01, got: $line"
}

t_other_user() {
    local out
    out=$(PGPASSWORD=other timeout 30 "$PGBIN/psql" -X -v ON_ERROR_STOP=1 -h 127.0.0.1 \
        -p "$PGR_PORT" -U other -d appdb -At -c 'SELECT current_user') ||
        fail "login as other failed"
    [ "$out" = other ] || fail "current_user is '$out'"
}

# still_serving: the proxy answers a fresh client.
still_serving() {
    local out
    out=$(PSQL -At -c 'SELECT 1' 2>&1)
    [ "$out" = 1 ] || fail "not serving afterwards: $out"
}

# bad_startup LEN: the proxy must answer with an ErrorResponse and hang up;
# PostgreSQL itself just hangs up, which is accepted in direct mode.
bad_startup() {
    local line
    line=$(RAWPG badstartup --len "$1")
    echo "length $1: $line"
    if [ "$ITEST_DIRECT" = 1 ]; then
        [[ $line == "E "* || $line == CLOSED ]] || fail "length $1: $line"
    else
        [[ $line == "E "* && $line != *"stayed open"* ]] ||
            fail "length $1: expected an ErrorResponse and close, got: $line"
    fi
}

t_malformed_startup() {
    bad_startup -5
    bad_startup 0
    bad_startup 3
    bad_startup 100000000
    bad_startup 2147483647
    still_serving
}

t_malformed_message() {
    local len line
    for len in 2147483647 2 -1; do
        line=$(RAWPG badmsg --user app --password app --len "$len")
        echo "length $len: $line"
        if [ "$ITEST_DIRECT" = 1 ]; then
            [[ $line == "E "* || $line == CLOSED ]] || fail "length $len: $line"
        else
            [[ $line == "E "* && $line != *"stayed open"* ]] ||
                fail "length $len: expected an ErrorResponse and close, got: $line"
        fi
    done
    still_serving
}

t_bogus_cancel_request() {
    local line
    line=$(RAWPG cancel)
    echo "$line"
    [ "$line" = CLOSED ] || fail "a CancelRequest with an unknown key got: $line"
    still_serving
}

t_ssl_request() {
    local line err out
    line=$(RAWPG ssl --user app --password app)
    echo "rawpg: $line"
    [[ $line == "OK N, then SELECT 1 -> 1" ]] || fail "SSLRequest: $line"
    err=$(timeout 30 "$PGBIN/psql" -X \
        "host=127.0.0.1 port=$PGR_PORT user=app password=app dbname=appdb sslmode=require" \
        -c 'SELECT 1' 2>&1) && fail "sslmode=require worked without TLS"
    echo "require: $err"
    grep -q 'server does not support SSL' <<<"$err" || fail "sslmode=require: $err"
    out=$(timeout 30 "$PGBIN/psql" -X -At \
        "host=127.0.0.1 port=$PGR_PORT user=app password=app dbname=appdb sslmode=prefer" \
        -c 'SELECT 1' 2>&1)
    [ "$out" = 1 ] || fail "sslmode=prefer: $out"
}

# ---- cases: pgbench -------------------------------------------------------

PGBENCH() {
    PGPASSWORD=app timeout 120 "$PGBIN/pgbench" -h 127.0.0.1 -p "$PGR_PORT" -U app "$@" appdb
}

t_pgbench_init() {
    PGBENCH -i -s 1 -q || fail "pgbench -i failed"
}

pgbench_mode() {
    local out
    out=$(PGBENCH -n -c 4 -j 2 -t 200 -M "$1" 2>&1) || fail "pgbench -M $1 exited non-zero"
    echo "$out"
    grep -q 'number of transactions actually processed: 800/800' <<<"$out" ||
        fail "-M $1: not all 800 transactions processed"
    if grep -q 'number of failed transactions' <<<"$out"; then
        grep -q 'number of failed transactions: 0 ' <<<"$out" ||
            fail "-M $1: $(grep 'number of failed' <<<"$out")"
    fi
}

t_pgbench_simple() { pgbench_mode simple; }
t_pgbench_extended() { pgbench_mode extended; }
t_pgbench_prepared() { pgbench_mode prepared; }

# ---- cases: psycopg -------------------------------------------------------

# run_py LABEL SCRIPT SECS: a Python file of cases that prints its own
# `ok - LABEL: NAME` / `not ok - ...` lines; each becomes one result here.  Its
# stderr goes to LOGDIR/LABEL.log.  ITEST_ONLY is matched against LABEL.
run_py() {
    local label=$1 script=$2 secs=$3 line rc out=$LOGDIR/$1.out log=$LOGDIR/$1.log nbad=0 name
    if [ -n "$ITEST_ONLY" ] && ! [[ $label =~ $ITEST_ONLY ]]; then
        return 0
    fi
    if ! "$PY" -c 'import psycopg' 2>/dev/null; then
        echo "not ok - $label: $PY cannot import psycopg (apt-get install python3-psycopg)"
        FAILED=$((FAILED + 1))
        return
    fi
    PGR_PORT=$PGR_PORT PRIMARY_PORT=$PRIMARY_PORT REPLICA1_PORT=$REPLICA1_PORT \
        REPLICA2_PORT=$REPLICA2_PORT CLUSTER_SH=$CLUSTER_SH CLUSTER_DIR=$CLUSTER_DIR \
        RYW_WAIT=$RYW_WAIT ITEST_DIRECT=$ITEST_DIRECT MAIN_PID=${PID_main:-} \
        PGR_MD5_PORT=${PORT_md5:-} PGR_TRUST_PORT=${PORT_trust:-} \
        timeout "$secs" "$PY" "$HERE/$script" >"$out" 2>"$log"
    rc=$?
    while IFS= read -r line; do
        case $line in
        "ok - "*"# SKIP"*)
            # the case's name without spaces, e.g. pooling:test_x
            name=${line#ok - }
            name=${name%% # SKIP*}
            count_skip "${name// /}" "${line#*# SKIP }"
            ;;
        "ok - "*) PASSED=$((PASSED + 1)); echo "$line" ;;
        "not ok - "*) FAILED=$((FAILED + 1)); nbad=$((nbad + 1)); echo "$line" ;;
        "#"*) echo "$line" ;;
        *) echo "# $line" ;;
        esac
    done <"$out"
    if [ $rc -ne 0 ] && [ $nbad -eq 0 ]; then
        [ $rc -ne 124 ] || rc="timeout after ${secs}s"
        echo "not ok - $label: $script ended with status $rc (log: ${log#"$ROOT"/})"
        FAILED=$((FAILED + 1))
    fi
}

# ---- cases: other auth types ----------------------------------------------

t_md5_instance() {
    proxy_only
    local out err
    out=$(PGPASSWORD=app timeout 30 "$PGBIN/psql" -X -At -h 127.0.0.1 -p "$PORT_md5" -U app \
        -d appdb -c 'SELECT current_user') || fail "md5 login failed"
    [ "$out" = app ] || fail "md5: current_user '$out'"
    out=$(timeout 30 "$PY" "$HERE/rawpg.py" --port "$PORT_md5" auth --user app --password app)
    [[ $out == OK* ]] || fail "rawpg md5 login: $out"
    err=$(PGPASSWORD=wrong timeout 30 "$PGBIN/psql" -X -h 127.0.0.1 -p "$PORT_md5" -U app \
        -d appdb -c 'SELECT 1' 2>&1) && fail "md5 login with a wrong password worked"
    grep -q 'password authentication failed' <<<"$err" || fail "md5 wrong password: $err"
}

t_trust_instance() {
    proxy_only
    local out
    out=$(PGPASSWORD='' timeout 30 "$PGBIN/psql" -X -At -w -h 127.0.0.1 -p "$PORT_trust" -U app \
        -d appdb -c 'SELECT current_user') || fail "trust login without a password failed"
    [ "$out" = app ] || fail "trust: current_user '$out'"
}

# ---- cases: faults --------------------------------------------------------

# primary_down_checks: what a client sees while the primary is stopped.  Run
# in a subshell by t_primary_stopped, which restarts the primary afterwards.
primary_down_checks() {
    local line out rc
    if [ "$ITEST_DIRECT" = 1 ]; then
        out=$(PSQL -c 'SELECT 1' 2>&1) && fail "connected to a stopped primary"
        echo "$out"
        return 0
    fi
    line=$(RAWPG auth --user app --password app)
    echo "rawpg: $line"
    # README: a login needs the primary only while pgrouter has no server
    # parameters cached; t_primary_stopped logged in right before the stop, so
    # the login must work, reads go on and a statement that needs the primary
    # gets ERROR 08006.
    [[ $line == "OK SELECT 1 -> 1" ]] ||
        fail "login and SELECT 1 with the primary down (server parameters cached): $line"
    # not PSQL: a session that stops answering should fail in 10 s, not 30
    out=$(PGPASSWORD=app timeout 10 "$PGBIN/psql" -X -At -F ' ' -h 127.0.0.1 -p "$PGR_PORT" \
        -U app -d appdb -v ON_ERROR_STOP=0 -v VERBOSITY=verbose \
        -c "SELECT 'read', inet_server_port()" -c 'CREATE TABLE itest_pdown (id int)' \
        -c "SELECT 'after', inet_server_port()" 2>&1)
    rc=$?
    echo "psql (exit $rc): $out"
    # shellcheck disable=SC2046
    on_replicas "a read with the primary down" $(tagged "$out" read)
    grep -q 'ERROR:  08006' <<<"$out" ||
        fail "a write with the primary down: expected ERROR 08006, got: $out"
    grep -q "127.0.0.1:$PRIMARY_PORT" <<<"$out" ||
        fail "the write's error does not name the node 127.0.0.1:$PRIMARY_PORT: $out"
    [ -n "$(tagged "$out" after)" ] ||
        fail "no answer to the statement after the write's ERROR 08006 (psql exit $rc)"
}

t_primary_stopped() {
    local out rc started i
    # a login right before, so that pgrouter has the server parameters
    out=$(PSQL -At -c 'SELECT 1' 2>&1)
    [ "$out" = 1 ] || fail "SELECT 1 before the stop: $out"
    bash "$CLUSTER_SH" stop "$CLUSTER_DIR" primary || fail "cluster.sh stop primary failed"
    out=$(primary_down_checks 2>&1)
    rc=$?
    echo "$out"
    # whatever the checks found, the primary comes back for the later cases
    started=$(bash "$CLUSTER_SH" start "$CLUSTER_DIR" primary 2>&1) ||
        fail "cluster.sh start primary failed: $started"
    [ "$rc" -eq 0 ] || fail "$(tail -n 1 <<<"$out")"
    # a breaker may keep the node out of rotation for a few seconds
    for i in $(seq 1 30); do
        out=$(PSQL -At -c '/* pgrouter_role: primary */ SELECT inet_server_port()' 2>&1)
        [ "$out" = "$PRIMARY_PORT" ] && break
        sleep 0.5
    done
    [ "$out" = "$PRIMARY_PORT" ] || fail "no statement on the primary 15 s after it came back: $out"
    if [ "$ITEST_DIRECT" != 1 ]; then
        kill -0 "$PID_main" 2>/dev/null || fail "pgrouter exited"
    fi
}

# ---- cases: unit tests that need a server ---------------------------------

# The unit tests that read PGROUTER_TEST_PGPORT (test_health, test_pqloop) skip
# their server tests without it, as in `make unit`; here each runs again against
# this cluster's primary (and a replica), and every one of its tests must run and
# pass: no skip is accepted.  UNIT_SERVER_BIN is the binary of the current case.
UNIT_SERVER_BIN=""
t_unit_server() {
    local bin=$UNIT_SERVER_BIN out rc runs passed
    [ -x "$bin" ] || fail "no executable $bin (make $bin)"
    out=$(CMOCKA_MESSAGE_OUTPUT=STDOUT PGROUTER_TEST_PGHOST=127.0.0.1 \
        PGROUTER_TEST_PGPORT=$PRIMARY_PORT PGROUTER_TEST_PGREPLICA_PORT=$REPLICA1_PORT \
        PGROUTER_TEST_PGUSER=app PGROUTER_TEST_PGPASSWORD=app PGROUTER_TEST_PGDATABASE=appdb \
        timeout 120 "$bin" 2>&1)
    rc=$?
    echo "$out"
    [ "$rc" -eq 0 ] || fail "$bin exited $rc: $(grep -m 1 -e FAILED -e ERROR <<<"$out")"
    ! grep -q '^\[  SKIPPED \]' <<<"$out" ||
        fail "skipped with a server given: $(grep -m 1 '^\[  SKIPPED \]' <<<"$out")"
    runs=$(grep -c '^\[ RUN      \]' <<<"$out")
    passed=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s).*/\1/p' <<<"$out")
    [ "$runs" -gt 0 ] || fail "no test ran"
    [ "${passed:-0}" -eq "$runs" ] || fail "$runs ran but ${passed:-0} passed"
    echo "all $runs tests ran and passed against 127.0.0.1:$PRIMARY_PORT"
}

# unit_server_cases: one case per unit test source that reads PGROUTER_TEST_PGPORT.
unit_server_cases() {
    local src name
    for src in "$ROOT"/tests/unit/test_*.c; do
        grep -q PGROUTER_TEST_PGPORT "$src" || continue
        name=$(basename "$src" .c)
        UNIT_SERVER_BIN=$UNIT_TEST_DIR/$name
        run "unit_server_${name#test_}" t_unit_server
    done
}

# ---- cases: packaging -----------------------------------------------------

# The compose file: `docker compose config` (or docker-compose, which CI and
# tests/deps.sh install; no Docker daemon is needed) validates it, and a YAML
# read checks the files and services it refers to.
t_docker_compose_config() {
    local out
    if docker compose version >/dev/null 2>&1; then
        out=$(docker compose -f docker/docker-compose.yml config -q 2>&1) ||
            fail "docker compose config: $out"
    elif command -v docker-compose >/dev/null 2>&1; then
        out=$(docker-compose -f docker/docker-compose.yml config -q 2>&1) ||
            fail "docker-compose config: $out"
    else
        fail "neither docker compose nor docker-compose is installed" \
            "(apt-get install docker-compose, or sh tests/deps.sh test)"
    fi
    "$PY" -c 'import yaml' 2>/dev/null ||
        fail "$PY cannot import yaml (apt-get install python3-yaml)"
    out=$("$PY" - docker/docker-compose.yml <<'PYEOF' 2>&1
import os, sys, yaml
path = sys.argv[1]
base = os.path.dirname(path)
doc = yaml.safe_load(open(path))
services = doc["services"]
for name in ("primary", "replica1", "replica2", "pgrouter"):
    assert name in services, "no service %s" % name
build = services["pgrouter"]["build"]
dockerfile = os.path.join(base, build["context"], build["dockerfile"])
assert os.path.isfile(dockerfile), "missing " + dockerfile
for name, svc in services.items():
    for vol in svc.get("volumes", []):
        src = vol.split(":")[0]
        if src.startswith("."):
            assert os.path.exists(os.path.join(base, src)), "%s: missing %s" % (name, src)
    for dep in svc.get("depends_on", {}):
        assert dep in services, "%s depends on unknown %s" % (name, dep)
print("structure ok")
PYEOF
    ) || fail "docker-compose.yml: $out"
    echo "$out"
}

t_docker_pgrouter_ini() {
    proxy_only
    local out
    out=$("$PGROUTER_BIN" -t -c docker/pgrouter.ini 2>&1) || fail "pgrouter -t: $out"
}

t_pgrouter_alive() {
    proxy_only
    local name pid
    for name in main md5 trust shard; do
        pid=PID_$name
        kill -0 "${!pid}" 2>/dev/null ||
            fail "pgrouter ($name) is gone; see ${ITEST_DIR#"$ROOT"/}/$name/pgrouter.log"
        if grep -E -q 'Sanitizer|runtime error:' "$ITEST_DIR/$name/pgrouter.log"; then
            fail "sanitizer report in ${ITEST_DIR#"$ROOT"/}/$name/pgrouter.log"
        fi
    done
}

# SIGTERM with no clients must end the process at once and cleanly: exit 0,
# which under ASan also means no leak report.
t_pgrouter_sigterm() {
    proxy_only
    local pid=$PID_trust i
    kill -TERM "$pid"
    for i in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && fail "still running 10 s after SIGTERM"
    for i in $(seq 1 20); do
        [ -s "$ITEST_DIR/trust/exit" ] && break
        sleep 0.1
    done
    tail -n 20 "$ITEST_DIR/trust/pgrouter.log"
    i=$(cat "$ITEST_DIR/trust/exit" 2>/dev/null)
    [ "$i" = 0 ] || fail "exit status ${i:-unknown} after SIGTERM"
}

# ---- cases: the soak ------------------------------------------------------

# tests/integration/soak.sh: ~100 mixed clients under faults for SOAK_SECS
# (60) s, on a cluster and a pgrouter of its own, so it may follow the faults
# cases; main copies its summary line to the suite's output.
t_soak() {
    proxy_only
    SOAK_DIR=$ITEST_DIR/soak PGROUTER_BIN=$PGROUTER_BIN \
        timeout $((${SOAK_SECS:-60} * 2 + 400)) bash "$HERE/soak.sh"
}

# ---- main -----------------------------------------------------------------

main() {
    local n
    mkdir -p "$ITEST_DIR"
    take_lock
    mkdir -p "$LOGDIR"
    rm -f "$LOGDIR"/*.log

    if [ "$ITEST_REUSE" = 1 ] && bash "$CLUSTER_SH" status "$CLUSTER_DIR" >/dev/null 2>&1 &&
        grep -q '^CLUSTER_SHARDS=1' "$CLUSTER_DIR/cluster.env"; then
        echo "# reusing the cluster in ${CLUSTER_DIR#"$ROOT"/}"
    else
        bash "$CLUSTER_SH" down "$CLUSTER_DIR" >/dev/null 2>&1
        STARTED_CLUSTER=1
        if ! bash "$CLUSTER_SH" up "$CLUSTER_DIR" --shards >"$LOGDIR/cluster-up.log" 2>&1; then
            sed 's/^/#   /' "$LOGDIR/cluster-up.log"
            abort "cluster up"
        fi
        grep -e '^cluster up' -e 'moving to' "$LOGDIR/cluster-up.log" | sed 's/^/# /'
    fi
    # shellcheck disable=SC1091
    . "$CLUSTER_DIR/cluster.env"

    if [ "$ITEST_DIRECT" = 1 ]; then
        PGR_PORT=$PRIMARY_PORT
        echo "# ITEST_DIRECT=1: no pgrouter, testing the primary at 127.0.0.1:$PGR_PORT"
    else
        [ -x "$PGROUTER_BIN" ] || abort "start pgrouter: no executable $PGROUTER_BIN (make first)"
        start_pgrouter main scram-sha-256
        start_pgrouter md5 md5
        start_pgrouter trust trust
        start_shard_pgrouter
        PGR_PORT=$PORT_main
    fi
    export PGR_PORT PGCONNECT_TIMEOUT=10

    unit_server_cases
    run node_deps t_node_deps
    run simple_query t_simple_query
    run describe_table t_describe_table
    run multi_statement t_multi_statement
    run error_then_query t_error_then_query
    run copy_stdin_stdout t_copy_stdin_stdout
    run psql_backslash_copy t_psql_backslash_copy
    run empty_query t_empty_query
    run notice t_notice
    run listen_notify t_listen_notify
    run large_results t_large_results
    run cancel_psql_sigint t_cancel_psql_sigint
    run wrong_password t_wrong_password
    run unknown_user t_unknown_user
    run other_user t_other_user
    run malformed_startup t_malformed_startup
    run malformed_message t_malformed_message
    run bogus_cancel_request t_bogus_cancel_request
    run ssl_request t_ssl_request
    run md5_instance t_md5_instance
    run trust_instance t_trust_instance
    run_py psycopg test_psycopg.py 120
    run_py admin test_admin.py 180
    run_py hostile test_hostile.py 240
    run pgbench_init t_pgbench_init
    run pgbench_simple t_pgbench_simple
    run pgbench_extended t_pgbench_extended
    run pgbench_prepared t_pgbench_prepared
    tls_cases
    run route_reads_alternate t_route_reads_alternate
    run route_read_your_writes t_route_read_your_writes
    run route_transaction t_route_transaction
    run route_read_only_tx t_route_read_only_tx
    run route_session_state t_route_session_state
    run route_hint_comment t_route_hint_comment
    run route_set_role t_route_set_role
    run route_role_option t_route_role_option
    run route_replica_hint_write t_route_replica_hint_write
    run route_sticky_temp t_route_sticky_temp
    run route_write_functions t_route_write_functions
    run route_pgbench_replicas t_route_pgbench_replicas
    run route_classify t_route_classify
    run_py routing test_routing.py 240
    run_py loss test_loss.py 180
    # TLS toward the servers: pgrouter instances of its own (README "TLS toward servers")
    SRVTLS_BIN=$PGROUTER_BIN SRVTLS_DIR=$ITEST_DIR/srvtls run_py srvtls test_srvtls.py 120
    pooling_cases
    state_cases
    pipeline_cases
    connect_cases
    lifecycle_cases
    reload_cases
    logs_cases
    PASSTHRU_DIR=$ITEST_DIR/passthru PASSTHRU_BIN=$PGROUTER_BIN run_py passthru \
        test_passthru.py 180
    # auth_hba_file and auth_query: pgrouters of its own (HBA_DIR/hba_*)
    HBA_DIR=$ITEST_DIR HBA_BIN=$PGROUTER_BIN run_py hba test_hba.py 240
    # SASLprep, channel binding, auth_file modes: pgrouters of its own (SASL_DIR/sasl_*)
    SASL_DIR=$ITEST_DIR SASL_BIN=$PGROUTER_BIN run_py saslprep test_saslprep.py 180
    # login and cancel floods, slow logins, file descriptors: pgrouters of its own
    FLOODS_DIR=$ITEST_DIR FLOODS_BIN=$PGROUTER_BIN run_py floods test_floods.py 150
    # workers = 2: spread, cancel across workers, reload, shutdown: pgrouters of its own
    WORKERS_DIR=$ITEST_DIR WORKERS_BIN=$PGROUTER_BIN run_py workers test_workers.py 240
    metrics_cases
    stats_cases
    admincmd_cases
    shard_cases
    adminnode_cases
    run docker_compose_config t_docker_compose_config
    run docker_pgrouter_ini t_docker_pgrouter_ini
    # README.md's commands, against a `make demo` of their own (ports of this run)
    ITEST_DIR=$ITEST_DIR run_py readme readme.py 1200
    run primary_stopped t_primary_stopped
    run pgrouter_alive t_pgrouter_alive
    run pgrouter_sigterm t_pgrouter_sigterm
    # kill, stop, pause and promote servers; the promotion leaves the old primary
    # stopped, so these stay last
    faults_cases
    run soak t_soak
    [ ! -f "$LOGDIR/soak.log" ] || grep -h '^# soak:' "$LOGDIR/soak.log"

    n=$((PASSED + FAILED + SKIPPED))
    [ "$n" -gt 0 ] || abort "no case matched ITEST_ONLY='$ITEST_ONLY'"
    finish
}

main "$@"
