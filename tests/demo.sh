#!/usr/bin/env bash
# tests/demo.sh - `make demo` / `make demo-down`: a local primary with two
# streaming replicas, two shard clusters (shard_a, shard_b: a primary and a
# replica each) and ./pgrouter in front of them, for trying things by hand.
#
#   bash tests/demo.sh up     start PostgreSQL (build/demo/cluster) and pgrouter
#   bash tests/demo.sh down   stop both (idempotent)
#
# The pgrouter config is config/pgrouter.ini with the real ports of this run
# (build/demo/pgrouter.ini): 127.0.0.1:5432/5433/5434 become main's nodes,
# 5442/5443 shard_a's and 5452/5453 shard_b's.  pgrouter logs to
# build/demo/pgrouter.log.  The sample sharded table accounts is created on
# all three primaries, and a worked example of tenant routing is printed; `up`
# returns once every replica has replayed it.
#
# Environment (for tests; the README shows the defaults):
#   DEMO_DIR   where the demo lives (default build/demo); `down` must get the same
#   DEMO_PORT  pgrouter's port.  Unset: 6432, or a free port if 6432 is taken.
#              Set: exactly that port, or fail (tests/integration/readme.py
#              sets a port picked by its run, so that it never uses 6432).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

DEMO=${DEMO_DIR:-build/demo}
CLUSTER_DIR=$DEMO/cluster
INI=$DEMO/pgrouter.ini
LOG=$DEMO/pgrouter.log
PIDFILE=$DEMO/pgrouter.pid
BIN=${PGROUTER_BIN:-./pgrouter}

die() {
    echo "demo: $*" >&2
    exit 1
}

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

pgrouter_pid() {
    local pid
    [ -f "$PIDFILE" ] || return 0
    pid=$(cat "$PIDFILE")
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        echo "$pid"
    fi
}

up() {
    local port pid i p
    [ -x "$BIN" ] || die "no $BIN; build it first (make)"
    [ -f config/pgrouter.ini ] || die "config/pgrouter.ini is missing"
    if [ -n "$(pgrouter_pid)" ]; then
        die "the demo is already running (pid $(pgrouter_pid)); stop it with: make demo-down"
    fi
    mkdir -p "$DEMO"

    if [ -n "${DEMO_PORT:-}" ]; then
        port=$DEMO_PORT
        ! port_in_use "$port" || die "DEMO_PORT=$port is taken"
    else
        port=6432
        if port_in_use "$port"; then
            port=$(free_port)
            echo "demo: port 6432 is busy, pgrouter listens on $port instead"
        fi
    fi

    bash tests/cluster.sh up "$CLUSTER_DIR" --shards
    # shellcheck disable=SC1091
    . "$CLUSTER_DIR/cluster.env"

    sed -e "s/127\.0\.0\.1:5432\b/127.0.0.1:$PRIMARY_PORT/g" \
        -e "s/127\.0\.0\.1:5433\b/127.0.0.1:$REPLICA1_PORT/g" \
        -e "s/127\.0\.0\.1:5434\b/127.0.0.1:$REPLICA2_PORT/g" \
        -e "s/127\.0\.0\.1:5442\b/127.0.0.1:$SHARD_A_PRIMARY_PORT/g" \
        -e "s/127\.0\.0\.1:5443\b/127.0.0.1:$SHARD_A_REPLICA_PORT/g" \
        -e "s/127\.0\.0\.1:5452\b/127.0.0.1:$SHARD_B_PRIMARY_PORT/g" \
        -e "s/127\.0\.0\.1:5453\b/127.0.0.1:$SHARD_B_REPLICA_PORT/g" \
        -e "s|^\([[:space:]]*listen_port[[:space:]]*=\).*|\1 $port|" \
        -e "s|^\([[:space:]]*auth_file[[:space:]]*=\).*|\1 userlist.txt|" \
        config/pgrouter.ini >"$INI"
    # a private copy of the user list: a checkout's mode depends on the umask (664 under
    # umask 002, which pgrouter refuses for a file holding passwords)
    install -m 600 config/userlist.txt "$DEMO/userlist.txt"

    # the sample sharded table, on every cluster (DDL goes to each primary directly)
    for p in "$PRIMARY_PORT" "$SHARD_A_PRIMARY_PORT" "$SHARD_B_PRIMARY_PORT"; do
        PGPASSWORD=app "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$p" -U app \
            -d appdb -c 'CREATE TABLE IF NOT EXISTS accounts
                         (tenant_id text, id int, balance numeric)' ||
            die "cannot create table accounts on 127.0.0.1:$p"
    done

    # its own session, so that it outlives make and ignores make's ctrl-c
    setsid "$BIN" -c "$INI" >"$LOG" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$PIDFILE"
    for ((i = 0; i < 100; i++)); do
        port_in_use "$port" && break
        if ! kill -0 "$pid" 2>/dev/null; then
            break
        fi
        sleep 0.1
    done
    if ! port_in_use "$port"; then
        echo "demo: pgrouter did not start listening on 127.0.0.1:$port; last lines of $LOG:" >&2
        tail -n 20 "$LOG" >&2
        down
        exit 1
    fi

    cat <<EOF

$("$BIN" --version 2>/dev/null | head -n 1 || echo pgrouter) is running (pid $pid) on 127.0.0.1:$port
  cluster main     primary 127.0.0.1:$PRIMARY_PORT, replicas 127.0.0.1:$REPLICA1_PORT, 127.0.0.1:$REPLICA2_PORT
  cluster shard_a  primary 127.0.0.1:$SHARD_A_PRIMARY_PORT, replica 127.0.0.1:$SHARD_A_REPLICA_PORT (buckets 0-1)
  cluster shard_b  primary 127.0.0.1:$SHARD_B_PRIMARY_PORT, replica 127.0.0.1:$SHARD_B_REPLICA_PORT (buckets 2-3)
  config   $INI
  log      $LOG
EOF
    example "$port"
    wait_replay
    cat <<EOF

Connect:  PGPASSWORD=app psql -h 127.0.0.1 -p $port -U app appdb
Console:  PGPASSWORD=admin psql -h 127.0.0.1 -p $port -U admin pgrouter -c 'SHOW POOLS'
Stop:     make demo-down
EOF
}

# node_label PORT: which demo server listens on PORT.
node_label() {
    case $1 in
    "$PRIMARY_PORT") echo "main's primary" ;;
    "$REPLICA1_PORT" | "$REPLICA2_PORT") echo "a replica of main" ;;
    "$SHARD_A_PRIMARY_PORT") echo "shard_a's primary" ;;
    "$SHARD_A_REPLICA_PORT") echo "shard_a's replica" ;;
    "$SHARD_B_PRIMARY_PORT") echo "shard_b's primary" ;;
    "$SHARD_B_REPLICA_PORT") echo "shard_b's replica" ;;
    *) echo "port $1" ;;
    esac
}

# example PORT: the worked example of tenant sharding, run through pgrouter;
# each statement is printed with what answered it.
example() {
    local port=$1 sql out
    echo
    echo "Tenant sharding, a worked example (table accounts, sharded by tenant_id):"
    while IFS= read -r sql; do
        out=$(PGPASSWORD=app "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 \
            -p "$port" -U app -d appdb -c "$sql" 2>&1 | tail -n 1) || true
        case $sql in
        *inet_server_port*) out=$(node_label "$out") ;;
        esac
        printf '  %s\n      -> %s\n' "$sql" "$out"
    done <<'SQL'
INSERT INTO accounts (tenant_id, id, balance) VALUES ('acme', 1, 100) RETURNING inet_server_port()
INSERT INTO accounts (tenant_id, id, balance) VALUES ('globex', 1, 250) RETURNING inet_server_port()
INSERT INTO accounts (tenant_id, id, balance) VALUES ('initech', 1, 75) RETURNING inet_server_port()
/* tenant=globex */ UPDATE accounts SET balance = balance + 1 WHERE id = 1 RETURNING inet_server_port()
SELECT ((hashtext('globex')::bigint % 4) + 4) % 4 AS bucket
SELECT count(*) FROM accounts
SQL
    cat <<'TXT'
  acme's bucket is 2 (shard_b's), globex's 0 (shard_a's); initech's is 1, but [tenants]
  places it on shard_b.  A statement on accounts needs a tenant: tenant_id = '...' in its
  WHERE clause or INSERT, a /* tenant=... */ comment, or SET pgrouter.tenant = '...'
  (PGOPTIONS='-c pgrouter.tenant=acme' for a whole session); other tables stay on main.
  Reads go to the tenant cluster's replica (after the replica has replayed the rows):
    SELECT *, inet_server_port() FROM accounts WHERE tenant_id = 'acme';
    SET pgrouter.tenant = 'globex';
    SELECT count(*), inet_server_port() FROM accounts;
TXT
}

# wait_replay: every replica has replayed what its primary wrote so far, so
# that reads right after `make demo` see the example's rows (at most 30 s;
# past that only a warning).  The servers commit asynchronously: a synchronous
# commit that writes WAL flushes everything before it.
wait_replay() {
    local pair pri rep lsn got deadline=$((SECONDS + 30))
    for pair in "$PRIMARY_PORT $REPLICA1_PORT" "$PRIMARY_PORT $REPLICA2_PORT" \
        "$SHARD_A_PRIMARY_PORT $SHARD_A_REPLICA_PORT" "$SHARD_B_PRIMARY_PORT $SHARD_B_REPLICA_PORT"; do
        read -r pri rep <<<"$pair"
        lsn=$(PGPASSWORD=postgres "$PGBIN/psql" -X -q -At -h 127.0.0.1 -p "$pri" -U postgres \
            -d postgres -c 'SET synchronous_commit = on' \
            -c "SELECT pg_logical_emit_message(true, 'pgrouter-demo', 'replay')" \
            -c 'SELECT pg_current_wal_flush_lsn()' 2>/dev/null | tail -n 1) || lsn=""
        while [ -n "$lsn" ]; do
            got=$(PGPASSWORD=postgres "$PGBIN/psql" -X -q -At -h 127.0.0.1 -p "$rep" -U postgres \
                -d postgres -c "SELECT pg_last_wal_replay_lsn() >= '$lsn'" 2>/dev/null) || got=""
            [ "$got" = t ] && break
            if [ $SECONDS -ge $deadline ]; then
                echo "demo: the replica on port $rep has not replayed its primary's writes yet"
                return 0
            fi
            sleep 0.1
        done
    done
}

down() {
    local pid i
    pid=$(pgrouter_pid)
    if [ -n "$pid" ]; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        echo "demo: pgrouter (pid $pid) stopped"
    fi
    rm -f "$PIDFILE"
    bash tests/cluster.sh down "$CLUSTER_DIR"
}

case ${1:-} in
up) up ;;
down) down ;;
*)
    echo "usage: bash tests/demo.sh up|down" >&2
    exit 2
    ;;
esac
