# tests/integration/admincmd.sh - the console's control commands (RELOAD, PAUSE, RESUME,
# RECONNECT, WAIT_CLOSE, KILL, DISABLE, ENABLE, SHUTDOWN) on pgrouter instances of their
# own; sourced by run.sh (which provides start_pgrouter, run_py, ITEST_DIR), which calls
# admincmd_cases.  The checks are in test_admincmd.py.
#
# Instances (the main cluster; admin_users = admin, stats_users = stats, passwords as
# the names):
#   ctl       both replicas, default_pool_size = 4, query_wait_timeout = 2 (a PAUSE
#             longer than that must not fail the clients waiting in it)
#   ctl_shut  no replicas; sent SHUTDOWN, after which it exits
# shellcheck shell=bash disable=SC2317,SC2154

# ctl_write_ini FILE REPLICAS [KEY = VALUE...]: a minimal config in place of what
# start_pgrouter wrote (keeping its port and auth settings), with the admin user, plus
# the given lines in [pgrouter]; REPLICAS=1 lists the main cluster's replicas.
ctl_write_ini() {
    local ini=$1 replicas=$2 port auth line dir
    shift 2
    dir=$(dirname "$ini")
    port=$(sed -n 's/^[[:space:]]*listen_port[[:space:]]*=[[:space:]]*\([0-9]*\).*/\1/p' "$ini")
    auth=$(sed -n 's/^[[:space:]]*auth_type[[:space:]]*=[[:space:]]*\([^[:space:]]*\).*/\1/p' \
        "$ini")
    grep -q '^"admin"' "$dir/userlist.txt" || echo '"admin" "admin"' >>"$dir/userlist.txt"
    grep -q '^"stats"' "$dir/userlist.txt" || echo '"stats" "stats"' >>"$dir/userlist.txt"
    {
        echo "; written by tests/integration/admincmd.sh"
        echo "[pgrouter]"
        echo "listen_addr = 127.0.0.1"
        echo "listen_port = $port"
        echo "auth_type = ${auth:-scram-sha-256}"
        echo "auth_file = $dir/userlist.txt"
        echo "admin_users = admin"
        echo "stats_users = stats"
        for line in "$@"; do
            echo "$line"
        done
        echo
        echo "[cluster.main]"
        echo "primary = 127.0.0.1:$PRIMARY_PORT"
        [ "$replicas" != 1 ] || echo "replicas = 127.0.0.1:$REPLICA1_PORT, 127.0.0.1:$REPLICA2_PORT"
    } >"$ini.new" && mv "$ini.new" "$ini"
}

ctl_ini() { ctl_write_ini "$1" 1 "default_pool_size = 4" "query_wait_timeout = 2"; }
ctl_shut_ini() { ctl_write_ini "$1" 0; }

# admincmd_cases: start the instances (unless ITEST_DIRECT=1 or ITEST_ONLY does not
# match "admincmd") and run test_admincmd.py.
admincmd_cases() {
    local name
    if [ -n "$ITEST_ONLY" ] && ! [[ admincmd =~ $ITEST_ONLY ]]; then
        return 0
    fi
    if [ "$ITEST_DIRECT" != 1 ]; then
        for name in ctl ctl_shut; do
            start_pgrouter "$name" scram-sha-256 "${name}_ini"
        done
    fi
    CTL_DIR=$ITEST_DIR PGBIN=$PGBIN CTL_PORT=${PORT_ctl:-} CTL_PID=${PID_ctl:-} \
        CTL_SHUT_PORT=${PORT_ctl_shut:-} CTL_SHUT_PID=${PID_ctl_shut:-} \
        run_py admincmd test_admincmd.py 180
}
