# tests/integration/stats.sh - SHOW STATS, SHOW STATS_TOTALS, SHOW STATS_AVERAGES,
# SHOW ROUTES and the stats_period log line, on a pgrouter instance of their own so that
# the counters move only by what the checks do; sourced by run.sh (which provides
# start_pgrouter, run_py, ITEST_DIR), which calls stats_cases.
#
# Instance:
#   stats   the main cluster with its replicas; stats_period = 2, admin_users = admin,
#           stats_users = stats
# The checks are in test_stats.py.
# shellcheck shell=bash disable=SC2317,SC2154

# stats_ini FILE: a minimal config in place of what start_pgrouter wrote (keeping its
# port and auth settings).
stats_ini() {
    local ini=$1 port
    port=$(sed -n 's/^[[:space:]]*listen_port[[:space:]]*=[[:space:]]*\([0-9]*\).*/\1/p' "$ini")
    {
        echo "; written by tests/integration/stats.sh"
        echo "[pgrouter]"
        echo "listen_addr = 127.0.0.1"
        echo "listen_port = $port"
        echo "auth_type = scram-sha-256"
        echo "auth_file = $(dirname "$ini")/userlist.txt"
        echo "admin_users = admin"
        echo "stats_users = stats"
        echo "stats_period = 2"
        echo
        echo "[cluster.main]"
        echo "primary = 127.0.0.1:$PRIMARY_PORT"
        echo "replicas = 127.0.0.1:$REPLICA1_PORT, 127.0.0.1:$REPLICA2_PORT"
    } >"$ini.new" && mv "$ini.new" "$ini"
}

# stats_cases: start the instance (unless ITEST_DIRECT=1 or ITEST_ONLY does not match
# "stats") and run test_stats.py.
stats_cases() {
    if [ -n "$ITEST_ONLY" ] && ! [[ stats =~ $ITEST_ONLY ]]; then
        return 0
    fi
    [ "$ITEST_DIRECT" = 1 ] || start_pgrouter stats scram-sha-256 stats_ini
    STATS_DIR=$ITEST_DIR/stats STATS_PORT=${PORT_stats:-} run_py stats test_stats.py 120
}
