#!/usr/bin/env bash
# tests/bench/run.sh - pgrouter against PostgreSQL itself and against PgBouncer
# (`make bench`).  A benchmark, not a test: it prints figures and never fails
# on speed; it exits non-zero only when it cannot set itself up.
#
# What it does:
#   1. starts a primary + 2 replicas (tests/cluster.sh), pgrouter and PgBouncer
#      (Debian's /usr/sbin/pgbouncer) with the same pool settings; pgrouter's
#      cluster is the primary alone, so direct, PgBouncer and pgrouter all reach
#      the same PostgreSQL server and the differences are the proxies' own cost;
#      the servers have ssl = on: both proxies reach them with server_tls_sslmode =
#      require, pgbench direct is plaintext like pgbench to the proxies (PGSSLMODE
#      per scenario);
#      a second pgrouter with server_tls_sslmode = disable runs the select-only and
#      TPC-B scenarios too, for the cost of server TLS;
#   2. pgbench -i -s 10, then for every scenario BENCH_ROUNDS rounds of
#      BENCH_SECONDS seconds, alternating direct / PgBouncer / pgrouter within
#      each round; prints medians and the ratios pgrouter/PgBouncer and
#      pgrouter/direct;
#      each proxy's CPU time per transaction: utime + stime of its process (all
#      threads) from /proc/PID/stat around each run, divided by the transactions
#      pgbench reports; latency at 1 client (scenario lat1): p50 and p99 of every
#      transaction pgbench logs with -l (its per-transaction log, in microseconds);
#   3. memory: VmRSS of each proxy before and while BENCH_IDLE_CONNS idle
#      clients are logged in (tests/bench/idleconns.c);
#   4. a markdown summary on stdout and in build/bench/results.md.
# Worker threads: pgrouter runs with workers = 1 and, as a fourth target, a second
# pgrouter with workers = 2 -- only when `pgrouter -t` accepts that key; otherwise
# "workers=2: not supported by this build" is printed and counted as a skip, and the
# one pgrouter runs without the key (one loop).
# Everything it started is stopped on exit.
#
# Environment:
#   BENCH_ROUNDS       rounds per scenario (default 3)
#   BENCH_SECONDS      seconds per pgbench run (default 10)
#   BENCH_IDLE_CONNS   idle clients for the memory figure (default 10000)
#   BENCH_QUICK=1      smoke run: 1 round of 3 s, 2000 idle clients (about a minute)
#   BENCH_SCENARIOS    scenarios to run (default all: "s8 s64 sprep tpcb sconn s8tls
#                      sconntls lat1"); BENCH_IDLE_CONNS=0 leaves the memory figure out
#   BENCH_WORKERS      worker counts for pgrouter (default "1 2"; "1" runs one pgrouter)
#   PGROUTER_BIN       pgrouter binary (default ./pgrouter)
#   PGBOUNCER_BIN      PgBouncer binary (default /usr/sbin/pgbouncer)
#
# Files (build/bench/): pgrouter.ini, pgrouter.log (pgrouter-plain.*: the one
# without server TLS), pgbouncer.ini, pgbouncer.log,
# logs/*.log (one per pgbench run), logs/xact/ (pgbench -l files of the lat1 runs),
# results.md.
set -uo pipefail

START_CWD=$PWD
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 1

OUT=$ROOT/build/bench
CLUSTER_DIR=$OUT/cluster
LOGS=$OUT/logs
XLOGS=$LOGS/xact     # pgbench's per-transaction logs (lat1), emptied at every start
RESULTS=$OUT/results.md
CLUSTER_SH=$ROOT/tests/cluster.sh

if [ "${BENCH_QUICK:-0}" = 1 ]; then
    ROUNDS=${BENCH_ROUNDS:-1}
    DURATION=${BENCH_SECONDS:-3}
    IDLE_CONNS=${BENCH_IDLE_CONNS:-2000}
else
    ROUNDS=${BENCH_ROUNDS:-3}
    DURATION=${BENCH_SECONDS:-10}
    IDLE_CONNS=${BENCH_IDLE_CONNS:-10000}
fi
POOL_SIZE=20
read -r -a BENCH_WORKERS <<<"${BENCH_WORKERS:-1 2}"
SKIPS=()            # what was not run, and why: printed and counted in the summary
MAX_CLIENT_CONN=20000
SCALE=10

PGROUTER_BIN=${PGROUTER_BIN:-./pgrouter}
case $PGROUTER_BIN in
/*) ;;
*) PGROUTER_BIN=$START_CWD/$PGROUTER_BIN ;;
esac
PGBOUNCER_BIN=${PGBOUNCER_BIN:-/usr/sbin/pgbouncer}

T0=$SECONDS
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

say() { echo "bench: $*"; }
die() {
    echo "bench: $*" >&2
    exit 1
}

[[ $IDLE_CONNS =~ ^[0-9]+$ ]] || die "IDLE_CONNS must be a number, not '$IDLE_CONNS'"
for v in ROUNDS DURATION; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, not '${!v}'"
done

# ---- cleanup ----------------------------------------------------------------

STARTED_CLUSTER=0
PGR_PID=""
PGR_PLAIN_PID=""    # the pgrouter without server TLS
PGR2_PID=""         # the pgrouter with workers = 2
PGB_PID=""          # pgbouncer itself
PGB_WRAP_PID=""     # runuser (or the subshell) that started it
PGB_DIR=""
IDLE_PID=""

# stop_pid PID SIGNAL: send SIGNAL, wait up to 5 s, then SIGKILL.
stop_pid() {
    local pid=$1 i
    [ -n "$pid" ] || return 0
    kill "-$2" "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
}

# shellcheck disable=SC2317 # called through the trap
cleanup() {
    local IFS=$' \t\n'
    trap - EXIT INT TERM HUP
    stop_pid "$IDLE_PID" TERM
    # SIGINT: both proxies close their clients and exit at once
    stop_pid "$PGR_PID" INT
    stop_pid "$PGR_PLAIN_PID" INT
    stop_pid "$PGR2_PID" INT
    stop_pid "$PGB_PID" INT
    stop_pid "$PGB_WRAP_PID" TERM
    wait 2>/dev/null
    if [ -n "$PGB_DIR" ] && [ -d "$PGB_DIR" ]; then
        [ ! -f "$PGB_DIR/pgbouncer.log" ] || cp "$PGB_DIR/pgbouncer.log" "$OUT/pgbouncer.log"
        case $PGB_DIR in
        /tmp/pgrouter-bench.??????) rm -rf "$PGB_DIR" ;;
        esac
    fi
    if [ "$STARTED_CLUSTER" = 1 ]; then
        bash "$CLUSTER_SH" down "$CLUSTER_DIR" >/dev/null 2>&1 ||
            echo "bench: cluster.sh down $CLUSTER_DIR failed" >&2
    fi
}
trap cleanup EXIT
trap 'echo "bench: interrupted" >&2; exit 130' INT TERM HUP

# ---- helpers ----------------------------------------------------------------

port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

TAKEN_PORTS=" 5432 6432 "
free_port() {
    local p=$((20000 + RANDOM % 12000))
    while [[ $TAKEN_PORTS == *" $p "* ]] || port_in_use "$p"; do
        p=$((p + 1 + RANDOM % 7))
        [ $p -lt 32000 ] || p=20000
    done
    TAKEN_PORTS="$TAKEN_PORTS$p "
    echo "$p"
}

# wait_port PORT PID SECS: until something listens on PORT; fails early if PID dies.
wait_port() {
    local port=$1 pid=$2 deadline=$((SECONDS + $3))
    while ! port_in_use "$port"; do
        kill -0 "$pid" 2>/dev/null || return 1
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.1
    done
}

rss_kb() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null
}

# psql_at PORT SQL: one value, as app, through PORT.
psql_at() {
    PGPASSWORD=app timeout 20 "$PGBIN/psql" -X -q -At -h 127.0.0.1 -p "$1" -U app \
        -d appdb -c "$2" 2>&1
}

# median of numbers given as arguments ("" when there are none)
median() {
    [ $# -gt 0 ] || { echo ""; return; }
    printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 }
        END { if (NR % 2) printf "%.0f\n", a[(NR + 1) / 2];
              else printf "%.0f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# ratio A B: A/B with two decimals, or "-" if either is missing.
ratio() {
    if [ -z "$1" ] || [ -z "$2" ] || [ "$2" = 0 ]; then
        echo "-"
    else
        awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f\n", a / b }'
    fi
}

# ---- preparation ------------------------------------------------------------

mkdir -p "$OUT" "$LOGS" || exit 1
rm -f "$LOGS"/*.log "$LOGS"/lat1-* "$RESULTS" "$OUT/pgbouncer.log"
rm -rf "$XLOGS"
mkdir -p "$XLOGS" || exit 1

[ -x "$PGROUTER_BIN" ] || die "no pgrouter binary at $PGROUTER_BIN (make, or set PGROUTER_BIN)"

# open files: 10,000 idle clients need that many descriptors in the load
# program and in each proxy
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null
NOFILE=$(ulimit -n)
if [ "$NOFILE" != unlimited ] && [ "$NOFILE" -lt $((IDLE_CONNS + 200)) ]; then
    say "ulimit -n is $NOFILE (hard limit $(ulimit -Hn)): idle clients cut to $((NOFILE - 200))"
    IDLE_CONNS=$((NOFILE - 200))
fi

say "building build/bench/idleconns"
${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Wshadow \
    -Wstrict-prototypes -Wmissing-prototypes -o "$OUT/idleconns" tests/bench/idleconns.c \
    -lcrypto || die "idleconns does not build (needs libssl-dev)"

HAVE_PGB=1
PGB_VERSION=""
PGB_PREPARED=0
if [ -x "$PGBOUNCER_BIN" ]; then
    PGB_VERSION=$("$PGBOUNCER_BIN" --version 2>/dev/null | sed -n '1s/^PgBouncer //p')
    if [[ $PGB_VERSION =~ ^([0-9]+)\.([0-9]+) ]]; then
        if [ "${BASH_REMATCH[1]}" -gt 1 ] || [ "${BASH_REMATCH[2]}" -ge 21 ]; then
            PGB_PREPARED=1
        fi
    fi
else
    HAVE_PGB=0
    say "no PgBouncer at $PGBOUNCER_BIN: its figures are left out (apt-get install pgbouncer)"
fi
NOTES=()
if [ "$HAVE_PGB" = 1 ] && [ "$PGB_PREPARED" = 0 ]; then
    NOTES+=("PgBouncer $PGB_VERSION has no max_prepared_statements (1.21+), so pgbench -M prepared cannot run through it in transaction mode; that figure is skipped.")
fi

# ---- cluster ----------------------------------------------------------------

if [ -f "$CLUSTER_DIR/cluster.env" ]; then
    say "removing a cluster left over in $CLUSTER_DIR"
    bash "$CLUSTER_SH" down "$CLUSTER_DIR" >/dev/null 2>&1
fi
say "starting PostgreSQL (primary + 2 replicas)"
STARTED_CLUSTER=1
bash "$CLUSTER_SH" up "$CLUSTER_DIR" >"$OUT/cluster.log" 2>&1 ||
    { cat "$OUT/cluster.log" >&2; die "tests/cluster.sh up failed"; }
# shellcheck disable=SC1091
. "$CLUSTER_DIR/cluster.env"
PGVER=$(PGPASSWORD=postgres "$PGBIN/psql" -X -At -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres \
    -d postgres -c 'SHOW server_version' 2>/dev/null)
PGVER=${PGVER%% *}

say "pgbench -i -s $SCALE on the primary"
PGPASSWORD=app "$PGBIN/pgbench" -i -s "$SCALE" -q -h 127.0.0.1 -p "$PRIMARY_PORT" -U app appdb \
    >"$LOGS/init.log" 2>&1 || { tail -n 20 "$LOGS/init.log" >&2; die "pgbench -i failed"; }

# ---- pgrouter ---------------------------------------------------------------

# a certificate for TLS toward clients, for both proxies
rm -rf "$OUT/ca"
bash tests/integration/tlsca.sh "$OUT/ca" >/dev/null 2>&1 || die "tests/integration/tlsca.sh failed"

printf '"app" "app"\n' >"$OUT/userlist.txt"
chmod 600 "$OUT/userlist.txt"

# write_pgrouter_ini INI PORT SERVER_TLS_SSLMODE [WORKERS]: no workers key when WORKERS
# is empty
write_pgrouter_ini() {
    cat >"$1" <<EOF
; written by tests/bench/run.sh
[pgrouter]
listen_addr = 127.0.0.1
listen_port = $2
auth_type = scram-sha-256
auth_file = userlist.txt
max_client_conn = $MAX_CLIENT_CONN
pool_mode = transaction
default_pool_size = $POOL_SIZE
max_prepared_statements = 200
; TLS for the clients that ask (the *tls scenarios); the others stay plain
client_tls_sslmode = prefer
client_tls_cert_file = $OUT/ca/server.crt
client_tls_key_file = $OUT/ca/server.key
server_tls_sslmode = $3
${4:+workers = $4}

; the primary alone: every target of the benchmark reaches the same server
[cluster.main]
primary = 127.0.0.1:$PRIMARY_PORT
EOF
}

# start_pgrouter NAME SERVER_TLS_SSLMODE [WORKERS]: build/bench/NAME.ini and NAME.log;
# sets STARTED_PORT and STARTED_PID.
start_pgrouter() {
    local _attempt ini=$OUT/$1.ini log=$OUT/$1.log
    : >"$log"
    for _attempt in 1 2 3; do
        STARTED_PORT=$(free_port)
        write_pgrouter_ini "$ini" "$STARTED_PORT" "$2" "${3:-}"
        "$PGROUTER_BIN" -t -c "$ini" >"$OUT/$1-check.log" 2>&1 ||
            { cat "$OUT/$1-check.log" >&2; die "pgrouter -t rejects $ini"; }
        "$PGROUTER_BIN" -c "$ini" >>"$log" 2>&1 &
        STARTED_PID=$!
        wait_port "$STARTED_PORT" "$STARTED_PID" 20 && return 0
        if kill -0 "$STARTED_PID" 2>/dev/null || ! grep -qi 'in use' "$log"; then
            tail -n 20 "$log" >&2
            die "pgrouter does not listen on 127.0.0.1:$STARTED_PORT (log: $log)"
        fi
        STARTED_PID=""
    done
    die "pgrouter: no free port after 3 attempts"
}

# ---- PgBouncer --------------------------------------------------------------
# PgBouncer refuses to run as root: as root it runs as postgres, with its files
# in a directory that user owns.  runuser goes through pam_limits, which resets
# the open-files limit, so the limit is raised again inside.

write_pgbouncer_ini() {
    {
        echo "; written by tests/bench/run.sh"
        echo "[databases]"
        echo "appdb = host=127.0.0.1 port=$PRIMARY_PORT dbname=appdb"
        echo
        echo "[pgbouncer]"
        echo "listen_addr = 127.0.0.1"
        echo "listen_port = $1"
        echo "unix_socket_dir ="
        echo "auth_type = scram-sha-256"
        echo "auth_file = $PGB_DIR/userlist.txt"
        echo "pool_mode = transaction"
        echo "default_pool_size = $POOL_SIZE"
        echo "max_client_conn = $MAX_CLIENT_CONN"
        echo "logfile = $PGB_DIR/pgbouncer.log"
        echo "pidfile = $PGB_DIR/pgbouncer.pid"
        # pgrouter does not log connections either
        echo "log_connections = 0"
        echo "log_disconnections = 0"
        # the same server TLS as pgrouter (1.18's default is disable, 1.20's prefer)
        echo "server_tls_sslmode = require"
        [ "$PGB_PREPARED" = 0 ] || echo "max_prepared_statements = 200"
        echo "client_tls_sslmode = allow"
        echo "client_tls_cert_file = $PGB_DIR/server.crt"
        echo "client_tls_key_file = $PGB_DIR/server.key"
    } >"$PGB_DIR/pgbouncer.ini"
}

start_pgbouncer() {
    local _attempt i
    PGB_DIR=$(mktemp -d /tmp/pgrouter-bench.XXXXXX) || die "mktemp failed"
    chmod 755 "$PGB_DIR"
    printf '"app" "app"\n' >"$PGB_DIR/userlist.txt"
    # PgBouncer runs as postgres: a copy of the certificate it can read
    cp "$OUT/ca/server.crt" "$OUT/ca/server.key" "$PGB_DIR/" && chmod 644 "$PGB_DIR"/server.*
    for _attempt in 1 2 3; do
        PGB_PORT=$(free_port)
        write_pgbouncer_ini "$PGB_PORT"
        rm -f "$PGB_DIR/pgbouncer.pid"
        if [ "$(id -u)" -eq 0 ]; then
            chown -R postgres: "$PGB_DIR"
            (cd "$PGB_DIR" && exec runuser -u postgres -- sh -c \
                "ulimit -n $NOFILE 2>/dev/null || ulimit -n \$(ulimit -Hn); exec \"\$0\" \"\$1\"" \
                "$PGBOUNCER_BIN" "$PGB_DIR/pgbouncer.ini") >"$PGB_DIR/stdout.log" 2>&1 &
        else
            (cd "$PGB_DIR" && exec "$PGBOUNCER_BIN" "$PGB_DIR/pgbouncer.ini") \
                >"$PGB_DIR/stdout.log" 2>&1 &
        fi
        PGB_WRAP_PID=$!
        if wait_port "$PGB_PORT" "$PGB_WRAP_PID" 20; then
            for ((i = 0; i < 50; i++)); do
                [ -s "$PGB_DIR/pgbouncer.pid" ] && break
                sleep 0.1
            done
            PGB_PID=$(cat "$PGB_DIR/pgbouncer.pid" 2>/dev/null)
            [ -n "$PGB_PID" ] || die "PgBouncer wrote no pidfile"
            return 0
        fi
        if ! kill -0 "$PGB_WRAP_PID" 2>/dev/null &&
            grep -qi 'in use' "$PGB_DIR/pgbouncer.log" "$PGB_DIR/stdout.log" 2>/dev/null; then
            continue
        fi
        cat "$PGB_DIR/stdout.log" >&2
        tail -n 20 "$PGB_DIR/pgbouncer.log" >&2 2>/dev/null
        die "PgBouncer does not listen on 127.0.0.1:$PGB_PORT"
    done
    die "PgBouncer: no free port after 3 attempts"
}

# Does this build know `workers`?  Without it there is one loop, and workers = 1 is
# left out of the configs.
write_pgrouter_ini "$OUT/workers-probe.ini" "$(free_port)" require 2
HAVE_WORKERS=0
W1=""
if "$PGROUTER_BIN" -t -c "$OUT/workers-probe.ini" >"$OUT/workers-probe.log" 2>&1; then
    HAVE_WORKERS=1
    W1=1
elif ! grep -q workers "$OUT/workers-probe.log"; then
    cat "$OUT/workers-probe.log" >&2
    die "pgrouter -t rejects $OUT/workers-probe.ini for another reason than workers"
fi
RUN_W2=0
for w in "${BENCH_WORKERS[@]}"; do
    [ "$w" = 1 ] && continue
    if [ "$w" != 2 ]; then
        SKIPS+=("workers=$w: only workers = 1 and 2 are benchmarked")
    elif [ "$HAVE_WORKERS" = 1 ]; then
        RUN_W2=1
        continue
    else
        SKIPS+=("workers=$w: not supported by this build")
    fi
    say "${SKIPS[-1]}"
done

say "starting pgrouter (server_tls_sslmode = require) and one with disable"
start_pgrouter pgrouter require "$W1"
PGR_PORT=$STARTED_PORT
PGR_PID=$STARTED_PID
start_pgrouter pgrouter-plain disable "$W1"
PGR_PLAIN_PORT=$STARTED_PORT
PGR_PLAIN_PID=$STARTED_PID
say "pgrouter pid $PGR_PID on 127.0.0.1:$PGR_PORT, without server TLS pid $PGR_PLAIN_PID on 127.0.0.1:$PGR_PLAIN_PORT"
if [ "$RUN_W2" = 1 ]; then
    start_pgrouter pgrouter-w2 require 2
    PGR2_PORT=$STARTED_PORT
    PGR2_PID=$STARTED_PID
    say "pgrouter with workers = 2: pid $PGR2_PID on 127.0.0.1:$PGR2_PORT"
fi
if [ "$HAVE_PGB" = 1 ]; then
    say "starting PgBouncer $PGB_VERSION"
    start_pgbouncer
    say "PgBouncer pid $PGB_PID on 127.0.0.1:$PGB_PORT"
fi

TARGETS=(direct)
[ "$HAVE_PGB" = 0 ] || TARGETS+=(pgbouncer)
TARGETS+=(pgrouter)
[ "$RUN_W2" = 0 ] || TARGETS+=(pgrouter2)
TARGETS+=(plain)
declare -A PORT_OF=([direct]=$PRIMARY_PORT [pgbouncer]=${PGB_PORT:-} [pgrouter]=$PGR_PORT
                    [pgrouter2]=${PGR2_PORT:-} [plain]=$PGR_PLAIN_PORT)
declare -A PID_OF=([pgbouncer]=${PGB_PID:-} [pgrouter]=$PGR_PID [pgrouter2]=${PGR2_PID:-}
                   [plain]=$PGR_PLAIN_PID)
declare -A LABEL=([direct]=direct [pgbouncer]=PgBouncer [pgrouter]=pgrouter
                  [pgrouter2]="pgrouter-w2" [plain]="pgrouter-plain")

for t in "${TARGETS[@]}"; do
    r=$(psql_at "${PORT_OF[$t]}" 'SELECT 1')
    [ "$r" = 1 ] || die "${LABEL[$t]} does not answer SELECT 1 on port ${PORT_OF[$t]}: $r"
done
# each path to the server is what the summary says it is
for t in "${TARGETS[@]}"; do
    r=$(psql_at "${PORT_OF[$t]}" 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')
    want=t
    [ "$t" != plain ] || want=f
    [ "$r" = "$want" ] || die "${LABEL[$t]}: the server session's ssl is '$r', not '$want'"
done
say "direct, PgBouncer and pgrouter all reach the same server, the primary 127.0.0.1:$PRIMARY_PORT"

# ---- memory per idle client -------------------------------------------------

declare -A RSS_BEFORE RSS_AFTER RSS_PER IDLE_OK IDLE_SECS IDLE_PBKDF2

# idle_memory TARGET: log IDLE_CONNS clients in through TARGET, hold them,
# read the proxy's VmRSS.
idle_memory() {
    local t=$1 pid=${PID_OF[$1]} port=${PORT_OF[$1]} out=$LOGS/idle-$1.log i line ok failed secs
    RSS_BEFORE[$t]=$(rss_kb "$pid")
    "$OUT/idleconns" -p "$port" -n "$IDLE_CONNS" -c 64 -t 600 </dev/null >"$out" 2>&1 &
    IDLE_PID=$!
    line=""
    for ((i = 0; i < 6000; i++)); do
        line=$(grep -m1 '^ready ' "$out")
        [ -z "$line" ] || break
        kill -0 "$IDLE_PID" 2>/dev/null || break
        sleep 0.1
    done
    if [ -z "$line" ]; then
        say "${LABEL[$t]}: the idle clients did not get ready (log: $out)"
        stop_pid "$IDLE_PID" TERM
        IDLE_PID=""
        return
    fi
    read -r _ ok failed secs <<<"$line"
    IDLE_OK[$t]=$ok
    IDLE_SECS[$t]=$secs
    sleep 1
    IDLE_PBKDF2[$t]=$(sed -n 's/^pbkdf2 //p' "$out")
    RSS_AFTER[$t]=$(rss_kb "$pid")
    if [ "$ok" -gt 0 ] && [ -n "${RSS_AFTER[$t]}" ]; then
        RSS_PER[$t]=$(awk -v a="${RSS_AFTER[$t]}" -v b="${RSS_BEFORE[$t]}" -v n="$ok" \
            'BEGIN { printf "%.2f\n", (a - b) / n }')
    fi
    say "$(printf '%-9s RSS %7s kB idle, %7s kB with %s clients (%s failed, logins took %ss): %s kB per client' \
        "${LABEL[$t]}" "${RSS_BEFORE[$t]}" "${RSS_AFTER[$t]}" "$ok" "$failed" \
        "${IDLE_SECS[$t]}" "${RSS_PER[$t]:-?}")"
    [ "$failed" = 0 ] || sed -n 's/^idleconns: /    /p' "$out" | head -n 5
    stop_pid "$IDLE_PID" TERM
    wait "$IDLE_PID" 2>/dev/null
    IDLE_PID=""
    grep -q '^closed 0$' "$out" || say "${LABEL[$t]} closed idle clients: $(grep '^closed' "$out")"
    kill -0 "$pid" 2>/dev/null || die "${LABEL[$t]} died during the idle-clients run"
}

if [ "$IDLE_CONNS" -gt 0 ]; then
    say "memory: $IDLE_CONNS idle clients (SCRAM logins, 64 in flight)"
    for t in "${TARGETS[@]}"; do
        [ "$t" = direct ] || [ "$t" = plain ] || [ "$t" = pgrouter2 ] || idle_memory "$t"
    done
    sleep 2     # let the proxies see the goodbyes
fi

# ---- throughput ---------------------------------------------------------------

read -r -a SCEN_IDS <<<"${BENCH_SCENARIOS:-s8 s64 sprep tpcb sconn s8tls sconntls lat1}"
declare -A SCEN_ARGS=(
    [s8]="-S -c 8 -j 2"
    [s64]="-S -c 64 -j 2"
    [sprep]="-S -M prepared -c 8 -j 2"
    [tpcb]="-c 8 -j 2"
    [sconn]="-S -C -c 8 -j 2"
    [s8tls]="-S -c 8 -j 2"
    [sconntls]="-S -C -c 8 -j 2"
    [lat1]="-S -c 1 -j 1"
)
# sslmode of each scenario's clients (libpq's PGSSLMODE)
declare -A SCEN_SSL=([s8tls]=require [sconntls]=require)
declare -A SCEN_DESC=(
    [s8]="select-only, 8 clients"
    [s64]="select-only, 64 clients"
    [sprep]="select-only, prepared, 8 clients"
    [tpcb]="TPC-B-like, 8 clients"
    [sconn]="select-only, new connection per transaction, 8 clients"
    [s8tls]="select-only, 8 clients, TLS (sslmode=require)"
    [sconntls]="select-only, new TLS connection per transaction, 8 clients"
    [lat1]="select-only, 1 client (latency)"
)
declare -A TPS MED FAILS CPUS CPU_MED

# skipped SCENARIO TARGET: true when that pair is not run
skipped() {
    [ "$1" = sprep ] && [ "$2" = pgbouncer ] && [ "$PGB_PREPARED" = 0 ] && return 0
    # the pgrouter without server TLS runs the select-only and TPC-B scenarios only
    [ "$2" = plain ] && [ "$1" != s8 ] && [ "$1" != tpcb ] && return 0
    # workers = 2: the plaintext scenarios (client TLS costs the same in each worker)
    [ "$2" = pgrouter2 ] && [ -n "${SCEN_SSL[$1]:-}" ] && return 0
    # no direct figure over client TLS: the proxies' client TLS is what those measure
    [ -n "${SCEN_SSL[$1]:-}" ] && [ "$2" = direct ]
}

CLK_TCK=$(getconf CLK_TCK)
# cpu_ticks PID: utime + stime of the process, all its threads (fields 14 and 15 of
# /proc/PID/stat, counted after the command name, which may hold blanks)
cpu_ticks() {
    [ -n "$1" ] || return 0
    sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'
}

# bench_one SCENARIO TARGET ROUND: one pgbench run; appends its tps to TPS and the
# proxy's CPU microseconds per transaction to CPUS.
bench_one() {
    local s=$1 t=$2 r=$3 log=$LOGS/$1-$2-$3.log tps rc c0 c1 xacts
    local -a extra=()
    # lat1: pgbench's per-transaction log, one file per run (prefix.PID)
    [ "$s" != lat1 ] || extra=(-l "--log-prefix=$XLOGS/lat1-$t-$r")
    c0=$(cpu_ticks "${PID_OF[$t]:-}")
    # shellcheck disable=SC2086 # SCEN_ARGS is a list of words
    PGSSLMODE=${SCEN_SSL[$s]:-disable} PGPASSWORD=app timeout $((DURATION + 120)) \
        "$PGBIN/pgbench" -n -T "$DURATION" "${extra[@]}" \
        ${SCEN_ARGS[$s]} -h 127.0.0.1 -p "${PORT_OF[$t]}" -U app appdb >"$log" 2>&1
    rc=$?
    c1=$(cpu_ticks "${PID_OF[$t]:-}")
    xacts=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$log")
    if [ -n "$c0" ] && [ -n "$c1" ] && [ -n "$xacts" ] && [ "$xacts" -gt 0 ]; then
        CPUS[$s,$t]="${CPUS[$s,$t]:-} $(awk -v d=$((c1 - c0)) -v hz="$CLK_TCK" -v n="$xacts" \
            'BEGIN { printf "%.1f", d / hz * 1e6 / n }')"
    fi
    tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$log" | head -n 1)
    if [ $rc -ne 0 ] || [ -z "$tps" ]; then
        FAILS[$s,$t]=$((${FAILS[$s,$t]:-0} + 1))
        printf '    round %d %-9s failed (exit %d): %s\n' "$r" "${LABEL[$t]}" "$rc" \
            "$(grep -m1 -i -e error -e abort -e fatal "$log" | cut -c 1-160)"
        return
    fi
    TPS[$s,$t]="${TPS[$s,$t]:-} $tps"
    printf '    round %d %-14s %10.0f tps%s\n' "$r" "${LABEL[$t]}" "$tps" \
        "${CPUS[$s,$t]:+, $(echo "${CPUS[$s,$t]}" | awk '{ print $NF }') CPU us per transaction}"
}

# median1 NUMBERS...: the median with one decimal ("" when there are none)
median1() {
    [ $# -gt 0 ] || { echo ""; return; }
    printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 }
        END { if (NR % 2) printf "%.1f\n", a[(NR + 1) / 2];
              else printf "%.1f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

declare -A LAT_P50 LAT_P99 LAT_N
# latency TARGET: p50 and p99 in ms over every transaction logged in lat1 runs (the
# third field of pgbench's per-transaction log is the latency in microseconds)
latency() {
    local t=$1 line p50 p99 n
    line=$(cat "$XLOGS"/lat1-"$t"-* 2>/dev/null | awk '{ print $3 }' | sort -n |
        awk '{ a[NR] = $1 } END { if (NR > 0) {
            i50 = int(NR * 0.50); if (i50 < 1) i50 = 1;
            i99 = int(NR * 0.99); if (i99 < 1) i99 = 1;
            printf "%.3f %.3f %d\n", a[i50] / 1000, a[i99] / 1000, NR } }')
    [ -n "$line" ] || return 0
    read -r p50 p99 n <<<"$line"
    LAT_P50[$t]=$p50
    LAT_P99[$t]=$p99
    LAT_N[$t]=$n
}

N_RUNS=0
for s in "${SCEN_IDS[@]}"; do
    for t in "${TARGETS[@]}"; do
        skipped "$s" "$t" || N_RUNS=$((N_RUNS + ROUNDS))
    done
done
say "throughput: $N_RUNS pgbench runs of $DURATION s, about $(((N_RUNS * (DURATION + 1) + 59) / 60)) min"
for s in "${SCEN_IDS[@]}"; do
    say "pgbench ${SCEN_ARGS[$s]} -T $DURATION ($ROUNDS round(s)): ${SCEN_DESC[$s]}"
    for ((r = 1; r <= ROUNDS; r++)); do
        for t in "${TARGETS[@]}"; do
            skipped "$s" "$t" || bench_one "$s" "$t" "$r"
        done
    done
    for t in "${TARGETS[@]}"; do
        # shellcheck disable=SC2086
        MED[$s,$t]=$(median ${TPS[$s,$t]:-})
        # shellcheck disable=SC2086
        CPU_MED[$s,$t]=$(median1 ${CPUS[$s,$t]:-})
        [ "$s" != lat1 ] || latency "$t"
    done
    say "  medians: direct ${MED[$s,direct]:-n/a}, PgBouncer ${MED[$s,pgbouncer]:-n/a}, pgrouter ${MED[$s,pgrouter]:-n/a} tps; pgrouter/PgBouncer $(ratio "${MED[$s,pgrouter]}" "${MED[$s,pgbouncer]:-}"), pgrouter/direct $(ratio "${MED[$s,pgrouter]}" "${MED[$s,direct]}")"
    [ "$RUN_W2" = 0 ] || skipped "$s" pgrouter2 ||
        say "  workers = 2: ${MED[$s,pgrouter2]:-n/a} tps; pgrouter-w2/PgBouncer $(ratio "${MED[$s,pgrouter2]:-}" "${MED[$s,pgbouncer]:-}"), pgrouter-w2/pgrouter $(ratio "${MED[$s,pgrouter2]:-}" "${MED[$s,pgrouter]:-}")"
    say "  CPU us per transaction: PgBouncer ${CPU_MED[$s,pgbouncer]:-n/a}, pgrouter ${CPU_MED[$s,pgrouter]:-n/a}${CPU_MED[$s,pgrouter2]:+, pgrouter-w2 ${CPU_MED[$s,pgrouter2]}}"
    [ "$s" != lat1 ] || for t in "${TARGETS[@]}"; do
        [ -z "${LAT_P50[$t]:-}" ] ||
            say "  latency ${LABEL[$t]}: p50 ${LAT_P50[$t]} ms, p99 ${LAT_P99[$t]} ms (${LAT_N[$t]} transactions)"
    done
    skipped "$s" plain || say "  server TLS: pgrouter ${MED[$s,pgrouter]:-n/a} tps, without server TLS ${MED[$s,plain]:-n/a} tps: $(ratio "${MED[$s,pgrouter]:-}" "${MED[$s,plain]:-}")"
    for t in "${TARGETS[@]}"; do
        kill -0 "${PID_OF[$t]:-$$}" 2>/dev/null || die "${LABEL[$t]} has died (see its log)"
    done
done

# ---- summary ------------------------------------------------------------------

PGR_ERRORS=$(grep -c -E '(ERROR|WARNING)' "$OUT/pgrouter.log")
PGR_VERSION=$("$PGROUTER_BIN" --version 2>/dev/null | head -n 1)
if [ "$PGROUTER_BIN" -ef "$ROOT/pgrouter" ]; then
    PGR_BUILD="git $(git describe --always --dirty 2>/dev/null || echo unknown)"
else
    PGR_BUILD="binary $PGROUTER_BIN"
fi
CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)

# rounded TPS...: whole numbers separated by blanks, or "none"
rounded() {
    [ $# -gt 0 ] || { echo none; return; }
    printf '%.0f ' "$@" | sed 's/ $//'
}

# cell SCENARIO TARGET: a median, or why there is none
cell() {
    local s=$1 t=$2
    if [ "$t" = pgbouncer ] && [ "$HAVE_PGB" = 0 ]; then
        echo "n/a"
    elif skipped "$s" "$t"; then
        echo "skipped"
    elif [ -n "${MED[$s,$t]:-}" ]; then
        echo "${MED[$s,$t]}${FAILS[$s,$t]:+ (${FAILS[$s,$t]} failed)}"
    else
        echo "failed"
    fi
}

{
    echo "# pgrouter benchmark"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- machine: nproc $(nproc), ${CPU:-unknown CPU}, Linux $(uname -r); pgbench, both proxies and PostgreSQL share it"
    echo "- PostgreSQL ${PGVER:-?}, PgBouncer ${PGB_VERSION:-not installed}, ${PGR_VERSION:-pgrouter} ($PGR_BUILD)"
    echo "- pgbench scale $SCALE; each figure is the median tps of $ROUNDS run(s) of $DURATION s, the three targets alternating within each round"
    echo "- both proxies: pool_mode = transaction, default_pool_size = $POOL_SIZE, auth_type = scram-sha-256 (plain password in auth_file), max_client_conn = $MAX_CLIENT_CONN, connections not logged"
    echo "- direct, PgBouncer and pgrouter all reach the same PostgreSQL server (the primary; pgrouter's cluster has no replicas), so the ratios measure the proxies' own cost"
    echo "- TLS toward the server (ssl = on): both proxies with server_tls_sslmode = require; pgbench itself (direct and to the proxies) uses PGSSLMODE=disable except in the client-TLS scenarios"
    echo "- load average at the start: $LOAD_START; at the end: $(cut -d' ' -f1-3 /proc/loadavg) (the machine is shared: figures are noisy)"
    if [ "$HAVE_WORKERS" = 1 ]; then
        echo "- pgrouter: workers = 1; pgrouter-w2: workers = 2"
    else
        echo "- pgrouter: this build has no workers key (one loop)"
    fi
    for n in "${NOTES[@]}"; do
        echo "- $n"
    done
    echo
    if [ "$RUN_W2" = 1 ]; then
        echo "| scenario | pgbench | direct tps | PgBouncer tps | pgrouter tps | pgrouter-w2 tps | pgrouter/PgBouncer | pgrouter-w2/PgBouncer | pgrouter/direct | pgrouter-w2/direct |"
        echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    else
        echo "| scenario | pgbench | direct tps | PgBouncer tps | pgrouter tps | pgrouter/PgBouncer | pgrouter/direct |"
        echo "|---|---|---:|---:|---:|---:|---:|"
    fi
    for s in "${SCEN_IDS[@]}"; do
        if [ "$RUN_W2" = 1 ]; then
            echo "| ${SCEN_DESC[$s]} | \`${SCEN_ARGS[$s]}\` | $(cell "$s" direct) | $(cell "$s" pgbouncer) | $(cell "$s" pgrouter) | $(cell "$s" pgrouter2) | $(ratio "${MED[$s,pgrouter]:-}" "${MED[$s,pgbouncer]:-}") | $(ratio "${MED[$s,pgrouter2]:-}" "${MED[$s,pgbouncer]:-}") | $(ratio "${MED[$s,pgrouter]:-}" "${MED[$s,direct]:-}") | $(ratio "${MED[$s,pgrouter2]:-}" "${MED[$s,direct]:-}") |"
        else
            echo "| ${SCEN_DESC[$s]} | \`${SCEN_ARGS[$s]}\` | $(cell "$s" direct) | $(cell "$s" pgbouncer) | $(cell "$s" pgrouter) | $(ratio "${MED[$s,pgrouter]:-}" "${MED[$s,pgbouncer]:-}") | $(ratio "${MED[$s,pgrouter]:-}" "${MED[$s,direct]:-}") |"
        fi
    done
    echo
    echo "Proxy CPU microseconds per transaction (utime + stime of the proxy's process from /proc/PID/stat around each run, over the transactions pgbench counted; median of the rounds):"
    echo
    echo "| scenario | PgBouncer | pgrouter | pgrouter-w2 | pgrouter/PgBouncer |"
    echo "|---|---:|---:|---:|---:|"
    for s in "${SCEN_IDS[@]}"; do
        echo "| ${SCEN_DESC[$s]} | ${CPU_MED[$s,pgbouncer]:--} | ${CPU_MED[$s,pgrouter]:--} | ${CPU_MED[$s,pgrouter2]:--} | $(ratio "${CPU_MED[$s,pgrouter]:-}" "${CPU_MED[$s,pgbouncer]:-}") |"
    done
    if [[ " ${SCEN_IDS[*]} " == *" lat1 "* ]]; then
        echo
        echo "Latency at 1 client (\`-S -c 1\`): every transaction of every round, from pgbench's per-transaction log (\`-l\`), in ms:"
        echo
        echo "| target | p50 | p99 | transactions |"
        echo "|---|---:|---:|---:|"
        for t in "${TARGETS[@]}"; do
            [ -z "${LAT_P50[$t]:-}" ] || echo "| ${LABEL[$t]} | ${LAT_P50[$t]} | ${LAT_P99[$t]} | ${LAT_N[$t]} |"
        done
    fi
    echo
    echo "Server TLS: pgrouter as above (server_tls_sslmode = require) against a second pgrouter with server_tls_sslmode = disable, alternating in the same rounds:"
    echo
    echo "| scenario | pgrouter tps | without server TLS tps | with/without |"
    echo "|---|---:|---:|---:|"
    for s in "${SCEN_IDS[@]}"; do
        skipped "$s" plain ||
            echo "| ${SCEN_DESC[$s]} | $(cell "$s" pgrouter) | $(cell "$s" plain) | $(ratio "${MED[$s,pgrouter]:-}" "${MED[$s,plain]:-}") |"
    done
    echo
    echo "\`-C\`: every transaction opens a new connection and logs in with SCRAM-SHA-256; pgbench (libpq) runs PBKDF2 with 4096 rounds for every login, whatever the target."
    echo
    echo "Per-round tps (direct / PgBouncer / pgrouter${PGR2_PID:+ / pgrouter-w2}):"
    echo
    for s in "${SCEN_IDS[@]}"; do
        # shellcheck disable=SC2086
        echo "- \`${SCEN_ARGS[$s]}\`: $(rounded ${TPS[$s,direct]:-}) / $(rounded ${TPS[$s,pgbouncer]:-}) / $(rounded ${TPS[$s,pgrouter]:-})${PGR2_PID:+ / $(rounded ${TPS[$s,pgrouter2]:-})}"
    done
    echo
    if [ "$IDLE_CONNS" -gt 0 ]; then
        echo "| memory | RSS idle (kB) | RSS with idle clients (kB) | idle clients | kB per idle client | time to log them in (s) | client PBKDF2 runs |"
        echo "|---|---:|---:|---:|---:|---:|---:|"
        for t in "${TARGETS[@]}"; do
            [ "$t" != direct ] || continue
            echo "| ${LABEL[$t]} | ${RSS_BEFORE[$t]:-?} | ${RSS_AFTER[$t]:-?} | ${IDLE_OK[$t]:-0} of $IDLE_CONNS | ${RSS_PER[$t]:-?} | ${IDLE_SECS[$t]:-?} | ${IDLE_PBKDF2[$t]:-?} |"
        done
        echo
        echo "RSS is VmRSS from /proc/PID/status; kB per idle client = (RSS with clients - RSS idle) / clients. The clients (tests/bench/idleconns.c) log in with SCRAM-SHA-256, 64 at a time, and stay idle after ReadyForQuery. \"client PBKDF2 runs\" counts the different salts the client was given: 1 means the proxy keeps one salt per user; one per login means the proxy, and the client, run PBKDF2 for every login."
    fi
    echo
    echo "Skipped: ${#SKIPS[@]}"
    for n in "${SKIPS[@]}"; do
        echo "- $n"
    done
    echo
    echo "pgrouter.log: $PGR_ERRORS ERROR/WARNING line(s) (build/bench/pgrouter.log)"
    echo
    echo "Total time: $((SECONDS - T0)) s."
} >"$RESULTS"

echo
cat "$RESULTS"
if [ "$PGR_ERRORS" -gt 0 ]; then
    echo
    echo "First ERROR/WARNING lines of pgrouter.log:"
    grep -E '(ERROR|WARNING)' "$OUT/pgrouter.log" | head -n 10
fi
echo
say "results in ${RESULTS#"$ROOT"/}"
exit 0
