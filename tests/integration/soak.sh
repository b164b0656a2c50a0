#!/usr/bin/env bash
# tests/integration/soak.sh - the whole proxy under concurrent, mixed, faulty load.
#
# Starts a cluster of its own (tests/cluster.sh: a primary and two replicas) and
# one pgrouter in front of it (transaction pooling, default_pool_size = 3, so 9
# servers in all, health checks every 500 ms, breakers with failure_threshold 2),
# then runs for SOAK_SECS seconds, all at the same time, about 100 clients:
#   pgbench -S -M simple, -M extended, -M prepared (20 clients each), pgbench -S -C
#   (4 clients, a new connection per transaction), pgbench TPC-B (10 clients, in
#   rounds of 5 s so that a client aborted by a primary restart is replaced), 10
#   psycopg 3 and 10 node-postgres clients (named prepared statements, transactions
#   on a counter row each, checked), 4 more psycopg clients as soakpt, whose auth_file
#   entry is only its SCRAM secret (pass-through logins to every node), 4 as soakaq,
#   who is not in auth_file (auth_query finds its secret, cached 5 s), a slow
#   client reading 8 MB at 512 kB/s, and an admin console client running SHOW POOLS,
#   SHOW STATS and SHOW NODES every second;
#   a Prometheus scrape of /metrics every 5 s, each checked by promtool; TLS toward
#   clients is on (client_tls_sslmode = prefer): -M extended, -C (a handshake per
#   transaction) and half of the psycopg clients use sslmode=require, the rest plain;
# and, in cycles of 45 s (one more while 40 s remain): kill -9 of replica1 (its
# postmaster and every backend) and its restart, SIGSTOP of replica2 for 3 s, the
# slow client, a restart of the primary (-m fast, then -m immediate in the next
# cycle); besides, 10 SIGHUP reloads spread over the run (the 3rd removes replica2
# from the cluster, the 6th adds it back).
#
# Pass criteria: no client error except those a primary restart makes the
# documented answer (08006, 57P01, 57P03 while the primary is down and up to 8 s
# after it is back; counted and listed by SQLSTATE); no wrong answer; counters
# agree with the commits the clients saw; afterwards pg_stat_activity shows at
# most default_pool_size pgrouter connections per node, none inside a transaction,
# and a burst of 30 clients still gets served; VmRSS of the second half of the run
# within 20 % + 2 MB of the first half (warm-up excluded; not judged under ASan,
# whose quarantine holds freed memory: there LeakSanitizer at exit checks leaks);
# all 10 reloads logged; every console answer well-formed (soak.py admin); every
# metrics scrape answered 200 and clean for promtool (soak.py metrics);
# pgrouter exits 0 on SIGTERM with no sanitizer report in its log.
#
# Prints `# ...` lines, `not ok - soak: WHY` per failed check, and the summary
#   # soak: 60 s, N transactions, errors by SQLSTATE {...}, p99 wait for a server
#   < X ms (pgrouter's histogram, logged at exit), p99 read latency ..., RSS a->b MB
# (the README quotes it); exits 0 when everything passed, 1 otherwise.  Whatever
# happens, everything it started is stopped and the servers are resumed.
#
# Environment:
#   PGROUTER_BIN  pgrouter binary (default ./pgrouter)
#   SOAK_SECS     length of the load (default 60; at least 40)
#   SOAK_DIR      work directory (default build/soak); logs stay there
#   SOAK_KEEP=1   leave the cluster running afterwards (tests/cluster.sh down
#                 SOAK_DIR/cluster to stop it)
#   SOAK_WORKERS  pgrouter's workers (default 1)
# shellcheck disable=SC2317
set -uo pipefail
set -m   # every background job in a process group of its own, to stop it whole

START_CWD=$PWD
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 1
HERE=$ROOT/tests/integration
CLUSTER_SH=$ROOT/tests/cluster.sh
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

SOAK_SECS=${SOAK_SECS:-60}
SOAK_DIR=${SOAK_DIR:-$ROOT/build/soak}
case $SOAK_DIR in
/*) ;;
*) SOAK_DIR=$START_CWD/$SOAK_DIR ;;
esac
SOAK_KEEP=${SOAK_KEEP:-0}
SOAK_WORKERS=${SOAK_WORKERS:-1}
PGROUTER_BIN=${PGROUTER_BIN:-./pgrouter}
case $PGROUTER_BIN in
/*) ;;
*) PGROUTER_BIN=$START_CWD/$PGROUTER_BIN ;;
esac

POOL_SIZE=3
CYCLE=45
CLUSTER_DIR=$SOAK_DIR/cluster
LOG=$SOAK_DIR/logs
INI=$SOAK_DIR/pgrouter.ini
PGR_LOG=$LOG/pgrouter.log
PGR_PID=""
JOBS=()
STOPPED_NODES=""
FAILS=()

say() {
    echo "# $*"
}

not_ok() {
    echo "not ok - soak: $*"
    FAILS+=("$*")
}

# die WHY: a failure after which the soak cannot go on.
die() {
    not_ok "$*"
    echo "soak: FAILED: $*"
    exit 1
}

now() {
    local t=$EPOCHREALTIME
    echo "${t/,/.}"
}

# ---- teardown ---------------------------------------------------------------

cleanup() {
    local rc=$? j n IFS=$' \t\n'
    trap - EXIT INT TERM HUP
    for j in "${JOBS[@]}"; do
        kill -TERM -- "-$j" 2>/dev/null
    done
    if [ -n "$STOPPED_NODES" ] && [ -f "$CLUSTER_DIR/cluster.env" ]; then
        for n in $STOPPED_NODES; do
            signal_node CONT "$n"
        done
    fi
    if [ -n "$PGR_PID" ] && kill -0 "$PGR_PID" 2>/dev/null; then
        kill -TERM "$PGR_PID" 2>/dev/null
        for _ in $(seq 1 50); do
            kill -0 "$PGR_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$PGR_PID" 2>/dev/null
    fi
    for j in "${JOBS[@]}"; do
        kill -KILL -- "-$j" 2>/dev/null
    done
    if [ "$SOAK_KEEP" = 1 ]; then
        say "the cluster stays up: tests/cluster.sh down ${CLUSTER_DIR#"$ROOT"/}"
    else
        timeout 120 bash "$CLUSTER_SH" down "$CLUSTER_DIR" >/dev/null 2>&1 ||
            say "cluster.sh down $CLUSTER_DIR failed"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'echo "soak: interrupted"; exit 130' INT TERM HUP

# ---- helpers ----------------------------------------------------------------

port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

free_port() {
    local p=$((20000 + RANDOM % 12000))
    while port_in_use "$p"; do
        p=$((p + 1 + RANDOM % 7))
        [ $p -lt 32000 ] || p=20000
    done
    echo "$p"
}

# DIRECT PORT SQL: psql as the superuser straight to a node; prints rows.
DIRECT() {
    PGPASSWORD=postgres PGCONNECT_TIMEOUT=5 timeout 20 "$PGBIN/psql" -X -q -At \
        -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U postgres -d appdb -c "$2"
}

node_port() {
    local v
    v=$(echo "$1" | tr '[:lower:]' '[:upper:]')_PORT
    echo "${!v}"
}

node_data() {
    local v
    v=$(echo "$1" | tr '[:lower:]' '[:upper:]')_DATA
    echo "${!v}"
}

pm_pid() {
    local pid
    pid=$(head -n 1 "$(node_data "$1")/postmaster.pid" 2>/dev/null) || return 1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
    echo "$pid"
}

# children PID: pids of PID's children, from /proc/PID/task/*/children (fast:
# a scan of /proc takes seconds on a loaded machine), else from a scan.
children() {
    local f stat pid rest ppid
    for f in /proc/"$1"/task/*/children; do
        if [ -r "$f" ]; then
            cat /proc/"$1"/task/*/children 2>/dev/null | tr ' ' '\n' | grep -v '^$'
            return 0
        fi
    done
    for stat in /proc/[0-9]*/stat; do
        { read -r pid rest <"$stat"; } 2>/dev/null || continue
        rest=${rest##*) }
        read -r _ ppid _ <<<"$rest"
        [ "$ppid" = "$1" ] && echo "$pid"
    done
}

# signal_node SIG NODE: SIG to the node's postmaster, then to all its backends
# (a stopped or killed postmaster forks no new ones; SIGCONT goes the same way).
signal_node() {
    local pid
    pid=$(pm_pid "$2") || return 1
    kill -"$1" "$pid" 2>/dev/null
    # shellcheck disable=SC2046
    kill -"$1" $(children "$pid") 2>/dev/null
    return 0
}

# wait_sql PORT SQL WANT SECS: until SQL on the node prints WANT.
wait_sql() {
    local deadline=$((SECONDS + $4)) got
    while :; do
        got=$(DIRECT "$1" "$2" 2>/dev/null)
        [ "$got" = "$3" ] && return 0
        [ $SECONDS -lt $deadline ] || { echo "$got"; return 1; }
        sleep 0.3
    done
}

# stamp: prefix every line with the time it was read (epoch seconds).
stamp() {
    local line t
    while IFS= read -r line; do
        t=$EPOCHREALTIME
        printf '%s %s\n' "${t/,/.}" "$line"
    done
}

# pgbench_job NAME ARGS...: pgbench through pgrouter; NAME.out gets its report,
# NAME.err its messages stamped with their time, NAME.rc its exit status.
pgbench_job() {
    local name=$1 rc sslmode=disable
    shift
    # TLS for some: extended-protocol reads, and a TLS handshake per transaction (-C)
    case $name in select_extended | select_reconnect) sslmode=require ;; esac
    {
        PGSSLMODE=$sslmode PGPASSWORD=app timeout $((SOAK_SECS + 120)) "$PGBIN/pgbench" -h 127.0.0.1 \
            -p "$PGR_PORT" -U app -n "$@" appdb 2>&1 >"$LOG/$name.out" | stamp >"$LOG/$name.err"
        rc=${PIPESTATUS[0]}
        echo "$rc" >"$LOG/$name.rc"
    }
}

# tpcb_rounds: TPC-B-like writes in rounds of 5 s until the end of the run.
tpcb_rounds() {
    local k=0 left
    while :; do
        left=$(awk -v e="$T_END" -v n="$(now)" 'BEGIN { printf "%d", e - n }')
        [ "$left" -ge 2 ] || break
        [ "$left" -le 5 ] || left=5
        k=$((k + 1))
        pgbench_job "$(printf 'tpcb.%03d' $k)" -c 10 -j 1 -T "$left"
        # a round that could not start must not spin
        [ "$(cat "$LOG/$(printf 'tpcb.%03d' $k).rc")" != 1 ] || sleep 0.5
    done
}

rss_sampler() {
    local kb t
    while kill -0 "$PGR_PID" 2>/dev/null; do
        kb=$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$PGR_PID/status" 2>/dev/null)
        t=$EPOCHREALTIME
        [ -z "$kb" ] || printf '%s %s\n' "${t/,/.}" "$kb" >>"$LOG/rss"
        sleep 1
    done
}

# reloads: 10 SIGHUPs spread over the run, each after a small real change
# of the config (server_idle_timeout 600 <-> 601); the 3rd also takes replica2
# out of the cluster and the 6th puts it back, under the same load.
reloads() {
    local k gap
    gap=$(awk -v s="$SOAK_SECS" 'BEGIN { printf "%.2f", s / 11 }')
    for k in $(seq 1 10); do
        sleep "$gap"
        sed -i "s/^server_idle_timeout = .*/server_idle_timeout = $((600 + k % 2))/" "$INI"
        case $k in
        3) sed -i "s/^replicas = .*/replicas = 127.0.0.1:$REPLICA1_PORT/" "$INI" ;;
        6) sed -i "s/^replicas = .*/replicas = 127.0.0.1:$REPLICA1_PORT, 127.0.0.1:$REPLICA2_PORT/" \
               "$INI" ;;
        esac
        kill -HUP "$PGR_PID" 2>/dev/null || return 1
        echo "$(now) reload $k" >>"$LOG/events"
    done
}

start_job() {
    "$@" &
    JOBS+=($!)
}

# at SECS: sleep until SECS after the start of the load.
at() {
    local d
    d=$(awk -v t0="$T0" -v s="$1" -v n="$(now)" 'BEGIN { d = t0 + s - n; printf "%.2f", (d > 0 ? d : 0) }')
    sleep "$d"
}

event() {
    echo "$(now) $*" >>"$LOG/events"
    say "+$(awk -v t0="$T0" -v n="$(now)" 'BEGIN { printf "%.1f", n - t0 }') s: $*"
}

# ---- faults -----------------------------------------------------------------

# kill_replica NODE: kill -9 the postmaster and every backend, wait until all
# are gone, start the node again and wait until it is a streaming replica.
kill_replica() {
    local node=$1 pid pids p left _i
    pid=$(pm_pid "$node") || { not_ok "kill $node: it is not running"; return; }
    kill -STOP "$pid"
    pids="$pid $(children "$pid")"
    # shellcheck disable=SC2086
    kill -9 $pids 2>/dev/null
    event "kill -9 $node (postmaster $pid and $(($(wc -w <<<"$pids") - 1)) children)"
    for _i in $(seq 1 100); do
        left=0
        for p in $pids; do
            kill -0 "$p" 2>/dev/null && left=1
        done
        [ $left -eq 1 ] || break
        sleep 0.1
    done
    [ $left -eq 0 ] || not_ok "kill -9 $node: processes still there after 10 s"
    sleep 1
    start_node "$node"
}

start_node() {
    local node=$1 port
    port=$(node_port "$node")
    timeout 120 bash "$CLUSTER_SH" start "$CLUSTER_DIR" "$node" >>"$LOG/cluster.log" 2>&1 ||
        not_ok "cluster.sh start $node failed (log: $LOG/cluster.log)"
    grep -q "^$(echo "$node" | tr '[:lower:]' '[:upper:]')_PORT=$port\$" "$CLUSTER_DIR/cluster.env" ||
        not_ok "$node moved to another port when it started again"
    event "$node started"
}

stop_replica() {
    local node=$1
    STOPPED_NODES="$STOPPED_NODES $node"
    signal_node STOP "$node" || { not_ok "SIGSTOP $node: it is not running"; return; }
    event "SIGSTOP $node"
    sleep 3
    signal_node CONT "$node"
    STOPPED_NODES=${STOPPED_NODES% "$node"}
    event "SIGCONT $node"
}

# restart_primary MODE: pg_ctl stop -m MODE, start; the time from the stop to
# the end of the start is a window in which writes may fail (LOG/windows).
restart_primary() {
    local t0 data
    data=$(node_data primary)
    t0=$(now)
    event "primary: pg_ctl stop -m $1"
    (cd /tmp && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$data" -m "$1" -w -t 60 stop) \
        >>"$LOG/cluster.log" 2>&1 || not_ok "pg_ctl stop -m $1 of the primary failed"
    start_node primary
    echo "primary $t0 $(now)" >>"$LOG/windows"
}

as_pg_ok() {
    [ "$(id -u)" -eq 0 ] || return 0
    id postgres >/dev/null 2>&1
}

# faults: cycles of faults every CYCLE s; a cycle that a slow machine delayed starts
# when the last one ended, and only while its 40 s fit before the end of the load.
faults() {
    local c=0 base mode el
    while :; do
        base=$((c * CYCLE))
        el=$(awk -v t0="$T0" -v n="$(now)" 'BEGIN { printf "%d", n - t0 }')
        [ "$el" -le "$base" ] || base=$el
        [ $((base + 40)) -le "$SOAK_SECS" ] || break
        mode=fast
        [ $((c % 2)) -eq 0 ] || mode=immediate
        at $((base + 5))
        kill_replica replica1
        at $((base + 15))
        stop_replica replica2
        at $((base + 20))
        event "slow client starts"
        start_job "$PY" "$HERE/soak.py" slow --port "$PGR_PORT" --mb 8 --kbps 512 \
            --out "$LOG/slow.$c.json" >"$LOG/slow.$c.log" 2>&1
        at $((base + 30))
        restart_primary "$mode"
        c=$((c + 1))
    done
}

# ---- set-up -----------------------------------------------------------------

# With 100 clients on 2 busy cores (and under ASan) a health check may take
# seconds; a failed check opens the node's breaker at once, and with faults.sh's
# 1 s timeout every breaker, the primary's too, opened at the start of a run and
# writes failed.  A killed or stopping node refuses connections: its checks and
# connects fail at once whatever the timeout.
write_ini() {
    cat >"$INI" <<EOF
; written by tests/integration/soak.sh
[pgrouter]
listen_addr = 127.0.0.1
listen_port = $PGR_PORT
workers = $SOAK_WORKERS
auth_type = scram-sha-256
auth_file = $SOAK_DIR/userlist.txt
auth_user = soakauth
auth_query = SELECT usename, passwd FROM public.soak_lookup(\$1)
auth_query_cache_ttl = 5s
admin_users = soakadmin
stats_listen_port = $STATS_PORT
max_client_conn = 200
pool_mode = transaction
default_pool_size = $POOL_SIZE
client_tls_sslmode = prefer
client_tls_cert_file = $SOAK_DIR/ca/server.crt
client_tls_key_file = $SOAK_DIR/ca/server.key
query_wait_timeout = 30
server_connect_timeout = 10
server_idle_timeout = 600

[routing]
read_your_writes = lsn

[health]
health_check_user = postgres
health_check_password = postgres
health_check_database = postgres
health_check_interval = 500ms
health_check_timeout = 5s
read_fallback = primary

[breaker]
failure_threshold = 2
open_timeout = 1s

[cluster.main]
primary = 127.0.0.1:$PRIMARY_PORT
replicas = 127.0.0.1:$REPLICA1_PORT, 127.0.0.1:$REPLICA2_PORT
EOF
    # soakpt: only the secret the server stores, as an operator copies it (pass-through)
    # soakaq is not listed: auth_query (as soakauth) finds its secret on the primary
    printf '"app" "app"\n"soakadmin" "soakadmin"\n"soakauth" "soakauth"\n"soakpt" "%s"\n' \
        "$(DIRECT "$PRIMARY_PORT" \
        "SELECT rolpassword FROM pg_authid WHERE rolname = 'soakpt'")" >"$SOAK_DIR/userlist.txt"
    [ -s "$SOAK_DIR/ca/server.crt" ] || bash "$HERE/tlsca.sh" "$SOAK_DIR/ca" >/dev/null ||
        die "tlsca.sh failed"
}

start_pgrouter() {
    local attempt
    for attempt in 1 2 3; do
        PGR_PORT=$(free_port)
        STATS_PORT=$(free_port)
        while [ "$STATS_PORT" = "$PGR_PORT" ]; do STATS_PORT=$(free_port); done
        write_ini
        "$PGROUTER_BIN" -t -c "$INI" >"$LOG/check.log" 2>&1 ||
            die "pgrouter -t rejects $INI: $(tail -n 3 "$LOG/check.log")"
        "$PGROUTER_BIN" -c "$INI" >>"$PGR_LOG" 2>&1 &
        PGR_PID=$!
        for _ in $(seq 1 200); do
            port_in_use "$PGR_PORT" && return 0
            kill -0 "$PGR_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -0 "$PGR_PID" 2>/dev/null && die "pgrouter not listening on $PGR_PORT after 20 s"
        grep -q -i 'in use' "$PGR_LOG" || break
        say "port $PGR_PORT was taken, trying another (attempt $attempt)"
    done
    die "pgrouter did not start: $(tail -n 3 "$PGR_LOG")"
}

node_ready() {
    command -v node >/dev/null 2>&1 || die "node is not installed (apt-get install nodejs npm)"
    [ -d "$HERE/node/node_modules/pg" ] && return 0
    command -v npm >/dev/null 2>&1 || die "npm is not installed (apt-get install npm)"
    timeout 300 npm install --prefix "$HERE/node" --no-audit --no-fund --no-package-lock \
        >"$LOG/npm.log" 2>&1 || die "npm install in tests/integration/node failed: $(tail -n 2 "$LOG/npm.log")"
    [ -d "$HERE/node/node_modules/pg" ] || die "npm install did not install pg"
}

# ---- after the run ----------------------------------------------------------

# check_servers: pgrouter's server connections on every node come back to at
# most the pool size, none left inside a transaction (30 s deadline).  They are
# told by their user, app: once the load is over nothing else logs in as app,
# and their application_name follows the SET state of the last client.
check_servers() {
    local n port got deadline=$((SECONDS + 30)) sql
    sql="SELECT count(*) || ' ' || count(*) FILTER (WHERE state <> 'idle')
         FROM pg_stat_activity WHERE usename = 'app'"
    for n in primary replica1 replica2; do
        port=$(node_port "$n")
        while :; do
            got=$(DIRECT "$port" "$sql" 2>&1)
            if [[ $got =~ ^([0-9]+)\ 0$ ]] && [ "${BASH_REMATCH[1]}" -le $POOL_SIZE ]; then
                say "$n: ${got% *} pgrouter server connections afterwards (pool size $POOL_SIZE)"
                break
            fi
            if [ $SECONDS -ge $deadline ]; then
                not_ok "$n: pgrouter server connections 30 s after the load (total, not idle):" \
                    "$got (at most $POOL_SIZE idle expected); $(DIRECT "$port" "SELECT
                    string_agg(state || ':' || left(query, 40), ', ') FROM pg_stat_activity
                    WHERE usename = 'app'" 2>&1)"
                break
            fi
            sleep 0.5
        done
    done
}

# check_still_serving: a burst of 30 clients on the pools after the soak.
check_still_serving() {
    local out
    out=$(PGPASSWORD=app timeout 90 "$PGBIN/pgbench" -h 127.0.0.1 -p "$PGR_PORT" -U app -n -S \
        -c 30 -j 2 -t 20 appdb 2>&1)
    if grep -q 'number of transactions actually processed: 600/600' <<<"$out"; then
        say "after the soak: pgbench -S -c 30 -t 20 served all 600 transactions"
    else
        not_ok "after the soak, pgbench -S -c 30 -t 20: $(grep -m 1 -E 'error|processed' \
            <<<"$out")"
    fi
}

check_reloads() {
    local n deadline=$((SECONDS + 10))
    while :; do
        n=$(grep -c 'configuration reloaded' "$PGR_LOG")
        [ "$n" -ge 10 ] && break
        [ $SECONDS -lt $deadline ] || break
        sleep 0.5
    done
    say "$n SIGHUP reloads logged"
    [ "$n" -ge 10 ] || not_ok "$n of 10 SIGHUP reloads logged"
}

stop_pgrouter() {
    local rc
    kill -TERM "$PGR_PID" 2>/dev/null
    for _ in $(seq 1 150); do
        kill -0 "$PGR_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$PGR_PID" 2>/dev/null; then
        not_ok "pgrouter still running 15 s after SIGTERM"
        kill -KILL "$PGR_PID"
    fi
    wait "$PGR_PID"
    rc=$?
    PGR_PID=""
    [ "$rc" -eq 0 ] || not_ok "pgrouter exited with status $rc after SIGTERM (log: $PGR_LOG)"
    if grep -E -q 'Sanitizer|runtime error:' "$PGR_LOG"; then
        not_ok "sanitizer report in $PGR_LOG: $(grep -E -m 1 'Sanitizer|runtime error:' "$PGR_LOG")"
    fi
}

# ---- main -------------------------------------------------------------------

main() {
    local t_load pids j rc_report judge
    [ "$SOAK_SECS" -ge 40 ] 2>/dev/null || die "SOAK_SECS must be a number >= 40"
    [ -x "$PGROUTER_BIN" ] || die "no executable $PGROUTER_BIN (make first)"
    as_pg_ok || die "running as root without a postgres user"
    "$PY" -c 'import psycopg' 2>/dev/null || die "$PY cannot import psycopg"
    mkdir -p "$SOAK_DIR"
    rm -rf "$LOG"
    mkdir -p "$LOG"
    node_ready

    timeout 120 bash "$CLUSTER_SH" down "$CLUSTER_DIR" >/dev/null 2>&1
    timeout 300 bash "$CLUSTER_SH" up "$CLUSTER_DIR" >"$LOG/cluster.log" 2>&1 ||
        die "cluster up failed: $(tail -n 5 "$LOG/cluster.log")"
    # shellcheck disable=SC1091
    . "$CLUSTER_DIR/cluster.env"
    say "$(grep '^cluster up' "$LOG/cluster.log")"

    PGPASSWORD=app timeout 180 "$PGBIN/pgbench" -i -s 1 -q -h 127.0.0.1 -p "$PRIMARY_PORT" \
        -U app appdb >"$LOG/pgbench-init.log" 2>&1 || die "pgbench -i failed"
    PGPASSWORD=app timeout 30 "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 \
        -p "$PRIMARY_PORT" -U app -d appdb \
        -c 'CREATE TABLE soak_counter (id int PRIMARY KEY, n bigint NOT NULL DEFAULT 0)' \
        -c 'INSERT INTO soak_counter (id) SELECT g FROM generate_series(1000, 1099) g
            UNION ALL SELECT g FROM generate_series(2000, 2099) g' >"$LOG/setup.log" 2>&1 ||
        die "creating soak_counter failed: $(cat "$LOG/setup.log")"
    DIRECT "$PRIMARY_PORT" "CREATE ROLE soakpt LOGIN PASSWORD 'soakpt';
        GRANT SELECT ON pgbench_accounts TO soakpt; GRANT SELECT, UPDATE ON soak_counter TO soakpt;
        INSERT INTO soak_counter (id) SELECT g FROM generate_series(3000, 3003) g" \
        >>"$LOG/setup.log" 2>&1 || die "creating soakpt failed: $(cat "$LOG/setup.log")"
    DIRECT "$PRIMARY_PORT" "CREATE ROLE soakaq LOGIN PASSWORD 'soakaq';
        CREATE ROLE soakauth LOGIN PASSWORD 'soakauth';
        GRANT SELECT ON pgbench_accounts TO soakaq; GRANT SELECT, UPDATE ON soak_counter TO soakaq;
        CREATE FUNCTION public.soak_lookup(u text, OUT usename name, OUT passwd text)
            RETURNS SETOF record LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog
            AS 'SELECT usename, passwd FROM pg_shadow WHERE usename = u';
        REVOKE ALL ON FUNCTION public.soak_lookup(text) FROM PUBLIC;
        GRANT EXECUTE ON FUNCTION public.soak_lookup(text) TO soakauth;
        INSERT INTO soak_counter (id) SELECT g FROM generate_series(3100, 3103) g" \
        >>"$LOG/setup.log" 2>&1 || die "creating soakaq failed: $(cat "$LOG/setup.log")"
    for j in REPLICA1_PORT REPLICA2_PORT; do
        wait_sql "${!j}" 'SELECT count(*) FROM soak_counter' 208 30 >/dev/null ||
            die "the replica on ${!j} did not replay the set-up"
    done

    start_pgrouter
    say "pgrouter $PGROUTER_BIN pid $PGR_PID on 127.0.0.1:$PGR_PORT," \
        "default_pool_size = $POOL_SIZE, $SOAK_SECS s"
    start_job rss_sampler

    T0=$(now)
    T_END=$(awk -v t="$T0" -v s="$SOAK_SECS" 'BEGIN { printf "%.3f", t + s }')
    for j in simple extended prepared; do
        start_job pgbench_job "select_$j" -S -M "$j" -c 20 -j 2 -T "$SOAK_SECS" \
            -l --sampling-rate 0.05 --log-prefix "$LOG/lat_$j"
    done
    start_job pgbench_job select_reconnect -S -C -c 4 -j 1 -T "$SOAK_SECS"
    start_job tpcb_rounds
    start_job "$PY" "$HERE/soak.py" psycopg --port "$PGR_PORT" --primary-port "$PRIMARY_PORT" \
        --clients 10 --secs "$SOAK_SECS" --out "$LOG/psycopg.json" >"$LOG/psycopg.log" 2>&1
    start_job "$PY" "$HERE/soak.py" psycopg --port "$PGR_PORT" --primary-port "$PRIMARY_PORT" \
        --user soakpt --password soakpt --row-base 3000 --clients 4 --secs "$SOAK_SECS" \
        --out "$LOG/psycopg_passthru.json" >"$LOG/psycopg_passthru.log" 2>&1
    start_job "$PY" "$HERE/soak.py" psycopg --port "$PGR_PORT" --primary-port "$PRIMARY_PORT" \
        --user soakaq --password soakaq --row-base 3100 --clients 4 --secs "$SOAK_SECS" \
        --out "$LOG/psycopg_authq.json" >"$LOG/psycopg_authq.log" 2>&1
    start_job env PGR_PORT="$PGR_PORT" PRIMARY_PORT="$PRIMARY_PORT" CLIENTS=10 \
        SECS="$SOAK_SECS" OUT="$LOG/node.json" timeout $((SOAK_SECS + 120)) \
        node "$HERE/node/soak.js" >"$LOG/node.log" 2>&1
    start_job "$PY" "$HERE/soak.py" admin --port "$PGR_PORT" --user soakadmin \
        --password soakadmin --nodes 3 --min-nodes 2 --secs "$SOAK_SECS" --out "$LOG/admin.json" \
        >"$LOG/admin.log" 2>&1
    start_job "$PY" "$HERE/soak.py" metrics --port "$STATS_PORT" --secs "$SOAK_SECS" \
        --out "$LOG/metrics.json" >"$LOG/metrics.log" 2>&1
    start_job reloads
    pids=("${JOBS[@]}")

    faults
    # the workloads end on their own at T_END; each has its own timeout
    for j in "${pids[@]:1}"; do
        wait "$j"
    done
    # the slow clients too (started by faults)
    for j in "${JOBS[@]:${#pids[@]}}"; do
        wait "$j"
    done
    t_load=$(now)
    say "load ended after $(awk -v a="$T0" -v b="$t_load" 'BEGIN { printf "%.0f", b - a }') s"
    kill -0 "$PGR_PID" 2>/dev/null || die "pgrouter is gone (log: $PGR_LOG)"

    check_servers
    check_still_serving
    check_reloads
    stop_pgrouter
    wait "${pids[0]}"   # the RSS sampler ends with pgrouter

    # ASan's quarantine keeps freed memory for a while, so RSS grows under ASan
    # whatever pgrouter does; there, LeakSanitizer at exit is the leak check.
    judge=1
    if grep -q -a __asan_init "$PGROUTER_BIN"; then
        judge=0
        say "ASan build: RSS is reported, not judged (LeakSanitizer checks leaks at exit)"
    fi
    "$PY" "$HERE/soak.py" report --dir "$LOG" --t0 "$T0" --t1 "$T_END" --rss-judge "$judge"
    rc_report=$?
    [ "$rc_report" -eq 0 ] || FAILS+=("report")
    if [ ${#FAILS[@]} -gt 0 ]; then
        echo "soak: FAILED: ${FAILS[0]} (and $((${#FAILS[@]} - 1)) more; logs in $LOG)"
        exit 1
    fi
}

main "$@"
