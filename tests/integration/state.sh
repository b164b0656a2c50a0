# tests/integration/state.sh - session state that must follow a client and never leak to
# another one, sourced by run.sh (which provides PSQL, DIRECT, start_pgrouter, run, fail,
# skip, proxy_only, wait_replay and routing.sh's on_primary/on_replicas/tagged), which
# calls state_cases.
#
# The main instance (a primary and two replicas) runs the lexing and routing cases; an
# instance of its own, `state1`, has a primary only and default_pool_size = 1, so that
# every client of a user shares one server connection: what one client leaves on it is
# what the next one gets.
# shellcheck shell=bash disable=SC2317,SC2154,SC2046

# state1_ini FILE: one server per pool, transaction mode; postgres may log in too.
state1_ini() {
    local ini=$1 port auth dir
    dir=$(dirname "$ini")
    port=$(sed -n 's/^[[:space:]]*listen_port[[:space:]]*=[[:space:]]*\([0-9]*\).*/\1/p' "$ini")
    auth=$(sed -n 's/^[[:space:]]*auth_type[[:space:]]*=[[:space:]]*\([^[:space:]]*\).*/\1/p' \
        "$ini")
    printf '"postgres" "postgres"\n' >>"$dir/userlist.txt"
    cat >"$ini" <<INI
; written by tests/integration/state.sh
[pgrouter]
listen_addr = 127.0.0.1
listen_port = $port
auth_type = ${auth:-scram-sha-256}
auth_file = $dir/userlist.txt
pool_mode = transaction
default_pool_size = 1
query_wait_timeout = 10

[cluster.main]
primary = 127.0.0.1:$PRIMARY_PORT
INI
}

# PSQL1 USER ARGS...: psql through the state1 instance as USER (password = name).
PSQL1() {
    local user=$1
    shift
    PGPASSWORD=$user timeout 60 "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 \
        -h 127.0.0.1 -p "$PORT_state1" -U "$user" -d appdb "$@"
}

# ---- D: standard_conforming_strings ----------------------------------------

# With standard_conforming_strings = off a backslash escapes a quote in a plain string:
# the text below is three statements, one an INSERT that must reach the primary.
SCS_SQL="SELECT 'a\\', ' ; INSERT INTO itest_scs VALUES (1) ; SELECT 'x' -- '"

t_state_scs_set() {
    local out
    PSQL -q -c 'DROP TABLE IF EXISTS itest_scs' -c 'CREATE TABLE itest_scs (id int)' ||
        fail "CREATE TABLE itest_scs failed"
    wait_replay || fail "replicas did not replay the CREATE TABLE"
    out=$(PSQL -At -c 'SET standard_conforming_strings = off' -c "$SCS_SQL" 2>&1) ||
        fail "after SET standard_conforming_strings = off: $out"
    out=$(DIRECT "$PRIMARY_PORT" 'SELECT count(*) FROM itest_scs')
    [ "$out" = 1 ] || fail "the INSERT hidden behind a backslash-quote did not run: $out rows"
    # RESET: back to standard strings, where the same text is one SELECT (a read)
    out=$(PSQL -At -F ' ' -c 'SET standard_conforming_strings = off' \
        -c 'RESET standard_conforming_strings' \
        -c "SELECT 'n', inet_server_port(), 'a\\' AS b") || fail "after RESET: $out"
    [ "$(tagged "$out" n 3)" = 'a\' ] || fail "after RESET a backslash is not plain: $out"
}

t_state_scs_startup() {
    local out
    PSQL -q -c 'DROP TABLE IF EXISTS itest_scs' -c 'CREATE TABLE itest_scs (id int)' ||
        fail "CREATE TABLE itest_scs failed"
    wait_replay || fail "replicas did not replay the CREATE TABLE"
    out=$(PGOPTIONS='-c standard_conforming_strings=off' PSQL -At -c "$SCS_SQL" 2>&1) ||
        fail "with PGOPTIONS -c standard_conforming_strings=off: $out"
    out=$(DIRECT "$PRIMARY_PORT" 'SELECT count(*) FROM itest_scs')
    [ "$out" = 1 ] || fail "startup option: the hidden INSERT did not run: $out rows"
}

# ---- B: many SETs and many startup options ---------------------------------

# 70 -c options (each its own parameter) and a first query: the session stays.
t_state_many_options() {
    local opts="" i out
    for i in $(seq 1 70); do
        opts="$opts -c itest.opt$i=v$i"
    done
    out=$(PGOPTIONS=$opts PSQL1 app -c 'SELECT 1' -c 'SHOW itest.opt70') ||
        fail "70 startup options: $out"
    [ "$out" = $'1\nv70' ] || fail "70 startup options: got '$out'"
    # and when another client had the server in between (the options are replayed)
    out=$(PGOPTIONS=$opts PSQL1 app -c 'SHOW itest.opt1' -c 'SHOW itest.opt69') ||
        fail "70 startup options, second client: $out"
    [ "$out" = $'v1\nv69' ] || fail "70 startup options replayed: got '$out'"
}

# ---- C: a function created a moment ago ------------------------------------

# Its first call in the session that created it writes: it must reach the primary (on a
# replica it fails with 25006, or the function is not there yet). The call waits out the
# read-your-writes window that the CREATE opened, which would hide the bug.
t_state_new_function() {
    local out
    DIRECT "$PRIMARY_PORT" 'DROP FUNCTION IF EXISTS itest_make_table();
        DROP TABLE IF EXISTS itest_made' >/dev/null || fail "cleanup failed"
    out=$(PSQL -At -c 'CREATE FUNCTION itest_make_table() RETURNS int LANGUAGE plpgsql AS
        $$ BEGIN CREATE TABLE IF NOT EXISTS itest_made (id int);
        INSERT INTO itest_made VALUES (1); RETURN 1; END $$' \
        -c "SELECT pg_sleep($RYW_WAIT)" -c 'SELECT itest_make_table()' 2>&1) ||
        fail "SELECT itest_make_table() right after CREATE FUNCTION: $out"
    out=$(DIRECT "$PRIMARY_PORT" 'SELECT count(*) FROM itest_made')
    [ "$out" = 1 ] || fail "itest_make_table() did not run on the primary: $out rows"
    # CREATE OR REPLACE ... STABLE, then VOLATILE again by ALTER: a write at once again
    out=$(PSQL -At -c 'CREATE OR REPLACE FUNCTION itest_make_table() RETURNS int
        LANGUAGE plpgsql STABLE AS $$ BEGIN RETURN 0; END $$' \
        -c 'ALTER FUNCTION itest_make_table() VOLATILE' \
        -c 'CREATE OR REPLACE FUNCTION itest_make_table() RETURNS int LANGUAGE plpgsql
        VOLATILE AS $$ BEGIN INSERT INTO itest_made VALUES (2); RETURN 2; END $$' \
        -c "SELECT pg_sleep($RYW_WAIT)" -c 'SELECT itest_make_table()' 2>&1) || fail "after ALTER ... VOLATILE: $out"
    out=$(DIRECT "$PRIMARY_PORT" 'SELECT count(*) FROM itest_made WHERE id = 2')
    [ "$out" = 1 ] || fail "the replaced function did not run on the primary: $out rows"
}

# ---- E: node-specific admin functions ---------------------------------------

t_state_node_functions() {
    local out
    DIRECT "$PRIMARY_PORT" 'GRANT EXECUTE ON FUNCTION pg_reload_conf(),
        pg_wal_replay_resume() TO app' >/dev/null || fail "GRANT EXECUTE failed"
    wait_replay || fail "replicas did not replay the GRANT"
    # pg_reload_conf() is harmless to run; it must run on the primary
    out=$(PSQL -At -F ' ' -c "SELECT 'n', inet_server_port(), pg_reload_conf()") ||
        fail "SELECT pg_reload_conf() failed: $out"
    on_primary "pg_reload_conf()" $(tagged "$out" n)
    # pg_wal_replay_pause() only works on a replica: a hint may send it there
    out=$(PSQL -At -F ' ' -c "/* pgrouter_role: replica */ SELECT 'n', inet_server_port(), \
        pg_wal_replay_resume()") || fail "replica hint: pg_wal_replay_resume() failed: $out"
    on_replicas "pg_wal_replay_resume() with a replica hint" $(tagged "$out" n)
}

t_state_instance_alive() {
    proxy_only
    kill -0 "$PID_state1" 2>/dev/null ||
        fail "pgrouter (state1) is gone; see ${ITEST_DIR#"$ROOT"/}/state1/pgrouter.log"
    if grep -E -q 'Sanitizer|runtime error:' "$ITEST_DIR/state1/pgrouter.log"; then
        fail "sanitizer report in ${ITEST_DIR#"$ROOT"/}/state1/pgrouter.log"
    fi
}

state_cases() {
    local name wanted=0
    for name in state_scs_set state_scs_startup state_node_functions state_many_options \
        state_py state_new_function state_instance_alive; do
        if [ -z "$ITEST_ONLY" ] || [[ $name =~ $ITEST_ONLY ]]; then
            wanted=1
        fi
    done
    [ "$wanted" -eq 1 ] || return 0
    if [ "$ITEST_DIRECT" != 1 ]; then
        start_pgrouter state1 scram-sha-256 state1_ini
    fi
    run state_many_options t_state_many_options
    PGR_PORT=${PORT_state1:-$PGR_PORT} run_py state_py test_state.py 180
    run state_scs_set t_state_scs_set
    run state_scs_startup t_state_scs_startup
    run state_node_functions t_state_node_functions
    run state_new_function t_state_new_function
    run state_instance_alive t_state_instance_alive
}
