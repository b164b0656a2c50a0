# tests/integration/logs.sh - connection, disconnection and pooler-error log lines, syslog,
# log keys on reload, and no secret in the log at any verbosity; sourced by run.sh (which
# provides start_pgrouter, run_py, ITEST_DIR), which calls logs_cases.
#
# Instances (the main cluster's primary only):
#   logs_main   the log keys at their defaults, client_idle_timeout = 2, admin_users = app
#   logs_quiet  log_connections = log_disconnections = log_pooler_errors = 0; the test
#               turns them (and verbose) on and off by reload
# test_logs.py starts two more of its own: logs_secret needs PGPASSFILE in its environment
# and verbose = 2 from its first line; logs_syslog may run in a mount namespace of its own.
# shellcheck shell=bash disable=SC2317,SC2154

# logs_write_ini FILE [KEY = VALUE...]: a minimal config in place of what start_pgrouter
# wrote (keeping its port and auth settings), plus the given lines in [pgrouter].
logs_write_ini() {
    local ini=$1 port line
    shift
    port=$(sed -n 's/^[[:space:]]*listen_port[[:space:]]*=[[:space:]]*\([0-9]*\).*/\1/p' "$ini")
    {
        echo "; written by tests/integration/logs.sh"
        echo "[pgrouter]"
        echo "listen_addr = 127.0.0.1"
        echo "listen_port = $port"
        echo "auth_type = scram-sha-256"
        echo "auth_file = $(dirname "$ini")/userlist.txt"
        for line in "$@"; do
            echo "$line"
        done
        echo
        echo "[cluster.main]"
        echo "primary = 127.0.0.1:$PRIMARY_PORT"
    } >"$ini.new" && mv "$ini.new" "$ini"
}

logs_main_ini() { logs_write_ini "$1" "client_idle_timeout = 2" "admin_users = app"; }
logs_quiet_ini() {
    logs_write_ini "$1" "log_connections = 0" "log_disconnections = 0" "log_pooler_errors = 0"
}

# logs_cases: start the instances (unless ITEST_DIRECT=1 or ITEST_ONLY does not match
# "logs") and run test_logs.py.
logs_cases() {
    local name
    if [ -n "$ITEST_ONLY" ] && ! [[ logs =~ $ITEST_ONLY ]]; then
        return 0
    fi
    if [ "$ITEST_DIRECT" != 1 ]; then
        for name in logs_main logs_quiet; do
            start_pgrouter "$name" scram-sha-256 "${name}_ini"
        done
    fi
    LOGS_DIR=$ITEST_DIR LOGS_BIN=$PGROUTER_BIN LOGS_MAIN_PORT=${PORT_logs_main:-} \
        LOGS_QUIET_PORT=${PORT_logs_quiet:-} LOGS_QUIET_PID=${PID_logs_quiet:-} \
        run_py logs test_logs.py 180
}
