# tests/integration/lifecycle.sh - client limits, idle timeouts, session pooling and
# signals, each on a pgrouter instance of its own; sourced by run.sh (which
# provides start_pgrouter, run_py, ITEST_DIR), which calls lifecycle_cases.
#
# Instances (all for the main cluster; "life_sig" also has its replicas):
#   life_limit    max_client_conn = 3
#   life_idle     client_idle_timeout = 2, idle_transaction_timeout = 1,
#                 client_login_timeout = 2
#   life_dead     its one replica listens nowhere; read_fallback = error
#   life_session  pool_mode = session, default_pool_size = 1, query_wait_timeout = 1
#   life_sig      default_role = auto; test_lifecycle.py rewrites its config and
#                 sends SIGHUP, then SIGTERM
#   life_int      sent SIGINT
# The checks are in test_lifecycle.py; it ends life_sig and life_int itself.
# shellcheck shell=bash disable=SC2317,SC2154

# life_write_ini FILE REPLICAS [KEY = VALUE...]: a minimal config in place of what
# start_pgrouter wrote (keeping its port and auth settings), plus the given lines
# in [pgrouter]; REPLICAS=1 lists the main cluster's replicas.
life_write_ini() {
    local ini=$1 replicas=$2 port auth line
    shift 2
    port=$(sed -n 's/^[[:space:]]*listen_port[[:space:]]*=[[:space:]]*\([0-9]*\).*/\1/p' "$ini")
    auth=$(sed -n 's/^[[:space:]]*auth_type[[:space:]]*=[[:space:]]*\([^[:space:]]*\).*/\1/p' \
        "$ini")
    {
        echo "; written by tests/integration/lifecycle.sh"
        echo "[pgrouter]"
        echo "listen_addr = 127.0.0.1"
        echo "listen_port = $port"
        echo "auth_type = ${auth:-scram-sha-256}"
        echo "auth_file = $(dirname "$ini")/userlist.txt"
        for line in "$@"; do
            echo "$line"
        done
        echo
        echo "[cluster.main]"
        echo "primary = 127.0.0.1:$PRIMARY_PORT"
        [ "$replicas" != 1 ] || echo "replicas = 127.0.0.1:$REPLICA1_PORT, 127.0.0.1:$REPLICA2_PORT"
    } >"$ini.new" && mv "$ini.new" "$ini"
}

life_limit_ini() { life_write_ini "$1" 0 "max_client_conn = 3"; }
life_idle_ini() {
    life_write_ini "$1" 0 "client_idle_timeout = 2" "idle_transaction_timeout = 1" \
        "client_login_timeout = 2"
}
life_dead_ini() {
    life_write_ini "$1" 0
    printf 'replicas = 127.0.0.1:%s\n\n[health]\nread_fallback = error\n' "$(free_port)" >>"$1"
    printf '\n[breaker]\nfailure_threshold = 1\n' >>"$1"
}
life_session_ini() {
    life_write_ini "$1" 0 "pool_mode = session" "default_pool_size = 1" "query_wait_timeout = 1"
}
life_sig_ini() { life_write_ini "$1" 1; }
life_int_ini() { life_write_ini "$1" 0; }

# lifecycle_cases: start the instances (unless ITEST_DIRECT=1 or ITEST_ONLY does
# not match "lifecycle") and run test_lifecycle.py.
lifecycle_cases() {
    local name
    if [ -n "$ITEST_ONLY" ] && ! [[ lifecycle =~ $ITEST_ONLY ]]; then
        return 0
    fi
    if [ "$ITEST_DIRECT" != 1 ]; then
        for name in life_limit life_idle life_dead life_session life_sig life_int; do
            start_pgrouter "$name" scram-sha-256 "${name}_ini"
        done
    fi
    LIFE_DIR=$ITEST_DIR LIFE_LIMIT_PORT=${PORT_life_limit:-} LIFE_IDLE_PORT=${PORT_life_idle:-} \
        LIFE_SESSION_PORT=${PORT_life_session:-} LIFE_SIG_PORT=${PORT_life_sig:-} \
        LIFE_SIG_PID=${PID_life_sig:-} LIFE_INT_PORT=${PORT_life_int:-} \
        LIFE_INT_PID=${PID_life_int:-} LIFE_DEAD_PORT=${PORT_life_dead:-} \
        run_py lifecycle test_lifecycle.py 240
}

# Instances of test_reload.py (reload, shutdown, online restart under load):
#   life_reload   both replicas, default_pool_size = 3; the test rewrites its
#                 replicas line and sends SIGHUP 20 times during pgbench
#   life_term     shutdown_timeout = 2: SIGTERM with a transaction left open
#   life_restart  restart_socket and pidfile in its directory; restarted online
#                 (SIGUSR2, pgrouter -R) during pgbench; the test ends the last one
life_reload_ini() { life_write_ini "$1" 1 "default_pool_size = 3"; }
life_term_ini() { life_write_ini "$1" 0 "shutdown_timeout = 2"; }
life_restart_ini() {
    local dir
    dir=$(dirname "$1")
    life_write_ini "$1" 1 "default_pool_size = 4" "shutdown_timeout = 30" \
        "restart_socket = $dir/restart.sock" "pidfile = $dir/pgrouter.pid"
}

# reload_cases: start them (unless ITEST_DIRECT=1 or ITEST_ONLY does not match
# "reload") and run test_reload.py.
reload_cases() {
    local name
    if [ -n "$ITEST_ONLY" ] && ! [[ reload =~ $ITEST_ONLY ]]; then
        return 0
    fi
    if [ "$ITEST_DIRECT" != 1 ]; then
        for name in life_reload life_term life_restart; do
            start_pgrouter "$name" scram-sha-256 "${name}_ini"
        done
    fi
    LIFE_DIR=$ITEST_DIR PGBIN=$PGBIN PGROUTER_BIN=$PGROUTER_BIN \
        RELOAD_PORT=${PORT_life_reload:-} RELOAD_PID=${PID_life_reload:-} \
        TERM_PORT=${PORT_life_term:-} TERM_PID=${PID_life_term:-} \
        RESTART_PORT=${PORT_life_restart:-} RESTART_PID=${PID_life_restart:-} \
        run_py reload test_reload.py 300
}
