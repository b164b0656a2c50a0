# tests/integration/metrics.sh - the Prometheus endpoint, on a pgrouter instance of its
# own; sourced by run.sh (which provides start_pgrouter, run_py, free_port, ITEST_DIR),
# which calls metrics_cases.
#
# Instance "metrics": the main cluster (primary and both replicas), health checks every
# second, stats_listen_port on a port picked by the run. The checks are in test_metrics.py
# (promtool check metrics on the output, 404/405/400, an over-long and a slow request,
# 200 scrapes at once under pgbench, counters before and after a known workload, and
# moving the endpoint by reload).
# shellcheck shell=bash disable=SC2317,SC2154

metrics_ini() {
    local ini=$1 port auth
    port=$(sed -n 's/^[[:space:]]*listen_port[[:space:]]*=[[:space:]]*\([0-9]*\).*/\1/p' "$ini")
    auth=$(sed -n 's/^[[:space:]]*auth_type[[:space:]]*=[[:space:]]*\([^[:space:]]*\).*/\1/p' \
        "$ini")
    METRICS_STATS_PORT=$(free_port)
    while [ "$METRICS_STATS_PORT" = "$port" ]; do METRICS_STATS_PORT=$(free_port); done
    cat >"$ini.new" <<EOF
; written by tests/integration/metrics.sh
[pgrouter]
listen_addr = 127.0.0.1
listen_port = $port
auth_type = ${auth:-scram-sha-256}
auth_file = $(dirname "$ini")/userlist.txt
stats_listen_addr = 127.0.0.1
stats_listen_port = $METRICS_STATS_PORT
default_pool_size = 10

[cluster.main]
primary = 127.0.0.1:$PRIMARY_PORT
replicas = 127.0.0.1:$REPLICA1_PORT, 127.0.0.1:$REPLICA2_PORT

[health]
health_check_interval = 1s
health_check_user = app
EOF
    mv "$ini.new" "$ini"
}

# metrics_cases: start the instance (unless ITEST_DIRECT=1 or ITEST_ONLY does not match
# "metrics") and run test_metrics.py.
metrics_cases() {
    if [ -n "$ITEST_ONLY" ] && ! [[ metrics =~ $ITEST_ONLY ]]; then
        return 0
    fi
    METRICS_STATS_PORT=
    if [ "$ITEST_DIRECT" != 1 ]; then
        start_pgrouter metrics scram-sha-256 metrics_ini
        METRICS_STATS_PORT=$(sed -n 's/^stats_listen_port = //p' "$ITEST_DIR/metrics/pgrouter.ini")
    fi
    METRICS_DIR=$ITEST_DIR/metrics METRICS_PORT=${PORT_metrics:-} \
        METRICS_STATS_PORT=$METRICS_STATS_PORT METRICS_PID=${PID_metrics:-} PGBIN=$PGBIN \
        run_py metrics test_metrics.py 240
}
