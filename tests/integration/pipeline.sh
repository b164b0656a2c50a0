# tests/integration/pipeline.sh - pipelined extended-protocol batches compared
# with PostgreSQL's own answers (test_pipeline.py), and postgres.js, which
# pipelines on every connection (node/pipelined.js).  Sourced by run.sh (which
# provides start_pgrouter, run, run_py, DIRECT, wait_replay, node_deps, fail,
# proxy_only),
# which calls pipeline_cases.
#
# Instances: main (transaction pooling, a primary and two replicas), and two of
# their own: pipeprimary (transaction pooling, the primary alone, at most 3
# prepared statements per server) and
# pipesession (pool_mode = session, with the replicas).
# shellcheck shell=bash disable=SC2317,SC2154

pipe_session_ini() {
    sed -i 's|^\([[:space:]]*pool_mode[[:space:]]*=\).*|\1 session|' "$1"
    grep -q '^[[:space:]]*pool_mode[[:space:]]*=[[:space:]]*session' "$1" ||
        sed -i 's|^\[pgrouter\].*|&\npool_mode = session|' "$1"
}

# the primary alone, and few statements per server: pgrouter closes and prepares again
pipe_primary_ini() {
    sed -i -e '/^[[:space:]]*replicas[[:space:]]*=/d' \
        -e 's|^\([[:space:]]*max_prepared_statements[[:space:]]*=\).*|\1 3|' "$1"
    grep -q '^[[:space:]]*max_prepared_statements[[:space:]]*=[[:space:]]*3' "$1" ||
        sed -i 's|^\[pgrouter\].*|&\nmax_prepared_statements = 3|' "$1"
}

# pipe_run LABEL INSTANCE: test_pipeline.py against one pgrouter instance.
pipe_run() {
    local port=PORT_$2
    PGR_PORT=${!port:-$PGR_PORT} PIPE_LABEL=$1 run_py "$1" test_pipeline.py 240
}

# postgres.js: 10 connections, 30 concurrent tasks, 3,000 queries (node/pipelined.js)
# through the main instance (transaction pooling, reads on the replicas).
t_pipeline_postgresjs() {
    proxy_only
    local out
    node_deps || fail "postgres.js cannot run: $NODE_DEPS_ERROR"
    out=$(timeout 120 node "$NODE_DIR/pipelined.js" 2>&1)
    echo "$out"
    [[ $out == "ok 3000 queries, 0 empty results, 0 wrong results, 0 errors"* ]] ||
        fail "postgres.js: $(tail -n 1 <<<"$out")"
}

pipeline_cases() {
    local name wanted=0
    for name in pipeline_tx pipeline_primary pipeline_session pipeline_postgresjs; do
        if [ -z "$ITEST_ONLY" ] || [[ $name =~ $ITEST_ONLY ]]; then
            wanted=1
        fi
    done
    [ "$wanted" -eq 1 ] || return 0
    if ! DIRECT "$PRIMARY_PORT" "DROP TABLE IF EXISTS itest_pipe;
            CREATE TABLE itest_pipe (v int); GRANT ALL ON itest_pipe TO app" >/dev/null ||
        ! wait_replay; then
        echo "not ok - pipeline: cannot create itest_pipe on the primary"
        FAILED=$((FAILED + 1))
        return
    fi
    if [ "$ITEST_DIRECT" != 1 ]; then
        start_pgrouter pipeprimary scram-sha-256 pipe_primary_ini
        start_pgrouter pipesession scram-sha-256 pipe_session_ini
    fi
    pipe_run pipeline_tx main
    pipe_run pipeline_primary pipeprimary
    pipe_run pipeline_session pipesession
    run pipeline_postgresjs t_pipeline_postgresjs
}
