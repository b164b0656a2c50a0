# tests/integration/adminnode.sh - the admin console's SHOW CLUSTERS, SHOW NODES,
# SHOW BREAKERS, SHOW SHARDS and EXPLAIN ROUTE, on a pgrouter instance of their own
# ("adminnode"); sourced by run.sh (which provides start_pgrouter, run_py, free_port,
# ITEST_DIR), which calls adminnode_cases.
#
# The instance has the sharding layout of sharding.sh (main, shard_a with buckets 0-1,
# shard_b with 2-3, acme/hooli on shard_b and vandelay on main), health checks every
# 500 ms, max_replica_lag_bytes 64kB and a breaker that opens at the first failure, and
# the console users admin (admin_users) and stats (stats_users). The checks are in
# test_adminnode.py; it pauses replay on shard_a's replica and stops shard_b's replica,
# and restores both itself.
# shellcheck shell=bash disable=SC2317,SC2154

# adminnode_ini FILE: a config in place of what start_pgrouter wrote (keeping its port).
adminnode_ini() {
    local ini=$1 port dir
    dir=$(dirname "$ini")
    port=$(sed -n 's/^[[:space:]]*listen_port[[:space:]]*=[[:space:]]*\([0-9]*\).*/\1/p' "$ini")
    printf '"app" "app"\n"admin" "admin"\n"stats" "stats"\n' >"$dir/userlist.txt"
    cat >"$ini.new" <<EOF
; written by tests/integration/adminnode.sh
[pgrouter]
listen_addr = 127.0.0.1
listen_port = $port
auth_type = scram-sha-256
auth_file = $dir/userlist.txt
default_cluster = main
admin_users = admin
stats_users = stats

[health]
health_check_user = postgres
health_check_password = postgres
health_check_database = postgres
health_check_interval = 500ms
health_check_timeout = 2s
max_replica_lag_bytes = 64kB

[breaker]
failure_threshold = 1
open_timeout = 1s

[sharding]
tenant_column = tenant_id
sharded_tables = accounts, orders
buckets = 4

[cluster.main]
primary = 127.0.0.1:$PRIMARY_PORT
replicas = 127.0.0.1:$REPLICA1_PORT, 127.0.0.1:$REPLICA2_PORT weight=3

[cluster.shard_a]
primary = 127.0.0.1:$SHARD_A_PRIMARY_PORT
replicas = 127.0.0.1:$SHARD_A_REPLICA_PORT
buckets = 0-1
load_balance = least_latency

[cluster.shard_b]
primary = 127.0.0.1:$SHARD_B_PRIMARY_PORT
replicas = 127.0.0.1:$SHARD_B_REPLICA_PORT
buckets = 2-3
primary_reads = on

[tenants]
acme = shard_b
hooli = shard_b
vandelay = main
EOF
    mv "$ini.new" "$ini"
}

# t_adminnode_exit: after the console's cases the instance is alive, exits 0 on SIGTERM
# (under ASan: no leak report) and its log holds no sanitizer report.
t_adminnode_exit() {
    proxy_only
    local pid=$PID_adminnode log=$ITEST_DIR/adminnode/pgrouter.log i st
    kill -0 "$pid" 2>/dev/null || fail "pgrouter (adminnode) is gone; see $log"
    kill -TERM "$pid"
    for ((i = 0; i < 100; i++)); do
        [ -s "$ITEST_DIR/adminnode/exit" ] && break
        sleep 0.1
    done
    st=$(cat "$ITEST_DIR/adminnode/exit" 2>/dev/null)
    ! grep -E -q 'Sanitizer|runtime error:' "$log" ||
        fail "sanitizer report in $log: $(grep -E -m 1 'Sanitizer|runtime error:' "$log")"
    [ "$st" = 0 ] || fail "pgrouter (adminnode) exit status ${st:-unknown} 10 s after SIGTERM"
}

# adminnode_cases: start the instance (unless ITEST_DIRECT=1 or ITEST_ONLY does not
# match "adminnode") and run test_adminnode.py.
adminnode_cases() {
    if [ -n "$ITEST_ONLY" ] && ! [[ adminnode =~ $ITEST_ONLY ]]; then
        return 0
    fi
    [ "$ITEST_DIRECT" = 1 ] || start_pgrouter adminnode scram-sha-256 adminnode_ini
    ADMIN_PORT=${PORT_adminnode:-} ADMIN_INI=$ITEST_DIR/adminnode/pgrouter.ini \
        PGROUTER_BIN=$PGROUTER_BIN PGBIN=$PGBIN \
        SHARD_A_PRIMARY_PORT=$SHARD_A_PRIMARY_PORT SHARD_A_REPLICA_PORT=$SHARD_A_REPLICA_PORT \
        SHARD_B_PRIMARY_PORT=$SHARD_B_PRIMARY_PORT SHARD_B_REPLICA_PORT=$SHARD_B_REPLICA_PORT \
        run_py adminnode test_adminnode.py 180
    run adminnode_exit t_adminnode_exit
}
