# tests/integration/pooling.sh - transaction pooling cases, sourced by run.sh
# (which provides start_pgrouter, run, run_py, PGBENCH, fail, skip, proxy_only),
# which calls pooling_cases.
#
# Two pgrouter instances of their own, for a primary without replicas so that
# every statement uses one pool (app@appdb on the primary):
#   pool      pool_mode = transaction, default_pool_size = POOL_SIZE (10),
#             query_wait_timeout = POOL_QUERY_WAIT (2 s), max_client_conn = 400
#   poollife  the same with server_lifetime = 1 and server_idle_timeout = 1
# The cases: pgbench -M prepared and node-postgres named statements here, the
# rest in test_pooling.py (200 clients on 10 servers, psycopg prepared
# statements, SET following the client, query_wait_timeout, cancel, lifetime).
# shellcheck shell=bash disable=SC2317,SC2154

POOL_SIZE=10
POOL_QUERY_WAIT=2
NODE_DIR=$HERE/node

# pool_write_ini FILE [KEY = VALUE...]: replace the config start_pgrouter wrote
# with a minimal one (keeping its port and auth settings) plus the given lines.
pool_write_ini() {
    local ini=$1 port auth userlist line
    shift
    port=$(sed -n 's/^[[:space:]]*listen_port[[:space:]]*=[[:space:]]*\([0-9]*\).*/\1/p' "$ini")
    auth=$(sed -n 's/^[[:space:]]*auth_type[[:space:]]*=[[:space:]]*\([^[:space:]]*\).*/\1/p' \
        "$ini")
    userlist=$(dirname "$ini")/userlist.txt
    {
        echo "; written by tests/integration/pooling.sh"
        echo "[pgrouter]"
        echo "listen_addr = 127.0.0.1"
        echo "listen_port = $port"
        echo "auth_type = ${auth:-scram-sha-256}"
        echo "auth_file = $userlist"
        echo "max_client_conn = 400"
        echo "pool_mode = transaction"
        echo "default_pool_size = $POOL_SIZE"
        echo "query_wait_timeout = $POOL_QUERY_WAIT"
        for line in "$@"; do
            echo "$line"
        done
        echo
        echo "[cluster.main]"
        echo "primary = 127.0.0.1:$PRIMARY_PORT"
    } >"$ini.new" && mv "$ini.new" "$ini"
}

pool_ini() {
    pool_write_ini "$1"
}

poollife_ini() {
    pool_write_ini "$1" "server_lifetime = 1" "server_idle_timeout = 1"
}

# pooltimeout: query_timeout = 1 over a primary and two replicas.
pooltimeout_ini() {
    POOL_SIZE=3 pool_write_ini "$1" "query_timeout = 1"
    echo "replicas = 127.0.0.1:$REPLICA1_PORT, 127.0.0.1:$REPLICA2_PORT" >>"$1"
}

# poolrep: reads spread over two replicas, one server per node (capacity 3).
POOLREP_SIZE=1
poolrep_ini() {
    POOL_SIZE=$POOLREP_SIZE POOL_QUERY_WAIT=10 pool_write_ini "$1"
    echo "replicas = 127.0.0.1:$REPLICA1_PORT, 127.0.0.1:$REPLICA2_PORT" >>"$1"
}

# ---- cases ----------------------------------------------------------------

# pgbench's TPC-B-like script with named prepared statements, 8 clients on a
# pool of 10: every transaction succeeds.
t_pool_pgbench_prepared() {
    proxy_only
    local out n
    PGR_PORT=$PORT_pool PGBENCH -i -s 1 -q >/dev/null 2>&1 ||
        fail "pgbench -i through the pool instance failed"
    # a count, not a duration: a busy machine is slower, not wrong
    out=$(PGR_PORT=$PORT_pool PGBENCH -n -M prepared -c 8 -j 2 -t 40 2>&1)
    n=$?
    echo "$out"
    [ "$n" -eq 0 ] || fail "pgbench -M prepared exited $n: $(grep -i -m 1 error <<<"$out")"
    n=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")
    [ "$n" = 320 ] || fail "pgbench processed '${n}' of 320 transactions"
    if grep -q 'number of failed transactions' <<<"$out"; then
        grep -q 'number of failed transactions: 0 ' <<<"$out" ||
            fail "$(grep 'number of failed' <<<"$out")"
    fi
}

# node-postgres named prepared statements from 4 concurrent clients (node/).
t_pool_node_prepared() {
    proxy_only
    local out
    node_deps || fail "node-postgres cannot run: $NODE_DEPS_ERROR"
    out=$(PGR_PORT=$PORT_pool timeout 60 node "$NODE_DIR/prepared.js" 2>&1)
    echo "$out"
    [[ $out == "ok 100 queries"* ]] || fail "node-postgres: $(tail -n 1 <<<"$out")"
    # the named statements must have run on several servers, or re-preparing
    # them on a server that lacks them was never tested
    [[ $out =~ ([0-9]+)\ server\ backends ]] || fail "node-postgres printed no backend count"
    [ "${BASH_REMATCH[1]}" -ge 2 ] ||
        fail "4 node-postgres clients ran on ${BASH_REMATCH[1]} server backend(s), expected >= 2"
}

# 30 pgbench clients, 10x the capacity of a pool of 1 on each of a primary and
# two replicas, reading in every protocol mode: all clients finish with no
# failure (a resumed read once stranded the server its pool handed over and
# every client stalled until query_wait_timeout), and afterwards no node holds
# more pgrouter connections than the pool size.
t_pool_replicas_10x() {
    proxy_only
    local out rc mode port n deadline
    if [ "$(DIRECT "$PRIMARY_PORT" "SELECT to_regclass('pgbench_branches') IS NULL")" = t ]; then
        PGR_PORT=$PORT_poolrep PGBENCH -i -s 1 -q >/dev/null 2>&1 || fail "pgbench -i failed"
    fi
    wait_replay || fail "the replicas did not replay pgbench's tables"
    for mode in simple extended prepared; do
        out=$(PGR_PORT=$PORT_poolrep PGBENCH -n -S -M "$mode" -c 30 -j 2 -T 3 2>&1)
        rc=$?
        echo "$out" | grep -E 'processed|failed|tps|abort'
        [ "$rc" -eq 0 ] || fail "pgbench -S -M $mode -c 30 on pools of 1 exited $rc:" \
            "$(grep -i -m 1 -E 'error|abort' <<<"$out")"
        grep -q 'number of failed transactions: 0 ' <<<"$out" ||
            fail "-M $mode: $(grep 'number of failed' <<<"$out")"
        n=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")
        [ "${n:-0}" -gt 0 ] || fail "-M $mode: no transaction processed"
    done
    # Other pgrouters of the suite log in as app too: count this one's sockets.
    for port in "$PRIMARY_PORT" "$REPLICA1_PORT" "$REPLICA2_PORT"; do
        deadline=$((SECONDS + 10))
        while :; do
            n=$(ss -Htnp state established "( dport = :$port )" |
                grep -c "pid=$PID_poolrep,")
            [ "${n:-99}" -le "$POOLREP_SIZE" ] && break
            [ "$SECONDS" -lt "$deadline" ] ||
                fail "node on port $port: $n pgrouter connections for a pool of $POOLREP_SIZE"
            sleep 0.2
        done
    done
}

# A client that reads a 16 MB answer at 2 MB/s, with query_timeout = 1: the
# replica answers the whole time, pgrouter only waits for the client. The query
# is cancelled as query_timeout says (PostgreSQL's 57014 reaches the client, or
# the answer ends first), but the node is neither blamed (its breaker stays
# closed) nor declared lost (a FATAL 08006 cut the client off after 3.6 MB).
t_pool_slow_reader_query_timeout() {
    proxy_only
    local out log=$ITEST_DIR/pooltimeout/pgrouter.log
    out=$(timeout 90 "$PY" "$HERE/soak.py" slow --port "$PORT_pooltimeout" --mb 16 \
        --kbps 2048 --out "$ITEST_DIR/pooltimeout/slow.json" 2>&1)
    echo "$out"
    case $out in
    *"error: None"* | *"error: E 57014 "*) ;;
    *) fail "the slow reader: $out" ;;
    esac
    grep -E 'lost (replica|primary)|-> open' "$log" &&
        fail "a healthy node was blamed for a slow client (see $log)"
    out=$(PGR_PORT=$PORT_pooltimeout PSQL -At -c 'SELECT 1' 2>&1)
    [ "$out" = 1 ] || fail "SELECT 1 after the slow reader: $out"
}

t_pool_instances_alive() {
    proxy_only
    local name pid
    for name in pool poollife poolrep pooltimeout; do
        pid=PID_$name
        kill -0 "${!pid}" 2>/dev/null ||
            fail "pgrouter ($name) is gone; see ${ITEST_DIR#"$ROOT"/}/$name/pgrouter.log"
        if grep -E -q 'Sanitizer|runtime error:' "$ITEST_DIR/$name/pgrouter.log"; then
            fail "sanitizer report in ${ITEST_DIR#"$ROOT"/}/$name/pgrouter.log"
        fi
    done
}

# pooling_cases: start the two instances (unless ITEST_DIRECT=1 or ITEST_ONLY
# leaves no pooling case) and run the cases.
pooling_cases() {
    local name wanted=0
    for name in pool_pgbench_prepared pool_node_prepared pool_replicas_10x \
        pool_slow_reader_query_timeout pooling pool_instances_alive; do
        if [ -z "$ITEST_ONLY" ] || [[ $name =~ $ITEST_ONLY ]]; then
            wanted=1
        fi
    done
    [ "$wanted" -eq 1 ] || return 0
    if [ "$ITEST_DIRECT" != 1 ]; then
        start_pgrouter pool scram-sha-256 pool_ini
        start_pgrouter poollife scram-sha-256 poollife_ini
        start_pgrouter poolrep scram-sha-256 poolrep_ini
        start_pgrouter pooltimeout scram-sha-256 pooltimeout_ini
    fi
    run pool_pgbench_prepared t_pool_pgbench_prepared
    run pool_node_prepared t_pool_node_prepared
    run pool_replicas_10x t_pool_replicas_10x
    run pool_slow_reader_query_timeout t_pool_slow_reader_query_timeout
    PGR_PORT=${PORT_pool:-$PGR_PORT} POOL_LIFE_PORT=${PORT_poollife:-} POOL_PID=${PID_pool:-} \
        POOL_SIZE=$POOL_SIZE QUERY_WAIT_TIMEOUT=$POOL_QUERY_WAIT \
        run_py pooling test_pooling.py 150
    run pool_instances_alive t_pool_instances_alive
}
