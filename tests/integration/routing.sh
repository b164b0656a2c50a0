# tests/integration/routing.sh - read/write routing cases, sourced by run.sh
# (which provides PSQL, PGBENCH, DIRECT, wait_replay, fail, skip, proxy_only).
#
# Every case asks the servers who answered: inet_server_port() is the port of
# the server that ran the statement, and the primary and the two replicas
# listen on different ports (PRIMARY_PORT, REPLICA1_PORT, REPLICA2_PORT from
# cluster.env).  The test configs set read_your_writes_window = RYW_WINDOW
# (2 s); cases that need it to pass sleep RYW_WAIT seconds.
#
# A case that reads in a new session what another session wrote calls
# wait_replay first, so that a replica lagging by a few milliseconds does not
# make it fail.
# shellcheck shell=bash disable=SC2317,SC2154,SC2046

# node_name PORT: which server listens on PORT.
node_name() {
    case $1 in
    "$PRIMARY_PORT") echo primary ;;
    "$REPLICA1_PORT") echo replica1 ;;
    "$REPLICA2_PORT") echo replica2 ;;
    *) echo "port:$1" ;;
    esac
}

# node_names PORT...: the names, space-separated.
node_names() {
    local p out=()
    for p in "$@"; do
        out+=("$(node_name "$p")")
    done
    echo "${out[*]}"
}

# tagged OUTPUT TAG [N]: field N (default 2) of the lines of OUTPUT (psql -At
# -F ' ') whose first field is TAG, one per line.
tagged() {
    awk -v t="$2" -v n="${3:-2}" '$1 == t { print $n }' <<<"$1"
}

# on_primary WHAT PORT...: every PORT is the primary's.
on_primary() {
    local what=$1 p
    shift
    [ $# -gt 0 ] || fail "$what: no result"
    for p in "$@"; do
        [ "$p" = "$PRIMARY_PORT" ] ||
            fail "$what: ran on $(node_name "$p"), expected the primary (all: $(node_names "$@"))"
    done
}

# on_replicas WHAT PORT...: every PORT is a replica's.
on_replicas() {
    local what=$1 p
    shift
    [ $# -gt 0 ] || fail "$what: no result"
    for p in "$@"; do
        [ "$p" = "$REPLICA1_PORT" ] || [ "$p" = "$REPLICA2_PORT" ] ||
            fail "$what: ran on $(node_name "$p"), expected a replica (all: $(node_names "$@"))"
    done
}

# on_both_replicas WHAT PORT...: on_replicas, and each replica is among them.
on_both_replicas() {
    local what=$1
    shift
    on_replicas "$what" "$@"
    [[ " $* " == *" $REPLICA1_PORT "* && " $* " == *" $REPLICA2_PORT "* ]] ||
        fail "$what: not both replicas used: $(node_names "$@")"
}

# on_one_replica WHAT PORT...: on_replicas, all the same one.
on_one_replica() {
    local what=$1 p
    shift
    on_replicas "$what" "$@"
    for p in "$@"; do
        [ "$p" = "$1" ] || fail "$what: moved between servers: $(node_names "$@")"
    done
}

# all_equal WHAT WANT VALUE...: every VALUE is WANT (and there is one).
all_equal() {
    local what=$1 want=$2 v
    shift 2
    [ $# -gt 0 ] || fail "$what: no result"
    for v in "$@"; do
        [ "$v" = "$want" ] || fail "$what: got '$v', expected '$want' (all: $*)"
    done
}

# ---- cases ----------------------------------------------------------------

# Reads in a session that never wrote go to the replicas, in turn.
t_route_reads_alternate() {
    proxy_only
    local args=() out ports p prev="" i
    for i in $(seq 1 10); do
        args+=(-c 'SELECT inet_server_port()')
    done
    out=$(PSQL -At "${args[@]}" 2>&1) || fail "psql failed: $out"
    mapfile -t ports <<<"$out"
    echo "served by: $(node_names "${ports[@]}")"
    [ "${#ports[@]}" -eq 10 ] || fail "expected 10 results, got ${#ports[@]}: $out"
    on_both_replicas "10 reads in one session" "${ports[@]}"
    for p in "${ports[@]}"; do
        [ "$p" != "$prev" ] ||
            fail "two reads in a row on $(node_name "$p"), no alternation: $(node_names "${ports[@]}")"
        prev=$p
    done
}

# INSERT/UPDATE/DELETE run on the primary; the writer sees its writes at once
# and reads from the primary for read_your_writes_window, then from replicas.
t_route_read_your_writes() {
    proxy_only
    local out
    PSQL -q -c 'DROP TABLE IF EXISTS itest_ryw' \
        -c 'CREATE TABLE itest_ryw (id int PRIMARY KEY, v text)' || fail "CREATE TABLE failed"
    wait_replay || fail "replicas did not replay the CREATE TABLE"
    out=$(PSQL -q -At -F ' ' 2>&1 <<EOF
SELECT 'before', inet_server_port();
INSERT INTO itest_ryw VALUES (1, 'a') RETURNING 'insert', inet_server_port();
SELECT 'count1', count(*) FROM itest_ryw;
SELECT 'after_insert', inet_server_port();
INSERT INTO itest_ryw VALUES (2, 'b'), (3, 'c');
UPDATE itest_ryw SET v = 'B' WHERE id = 2 RETURNING 'update', inet_server_port();
SELECT 'seen', v FROM itest_ryw WHERE id = 2;
SELECT 'after_update', inet_server_port();
DELETE FROM itest_ryw WHERE id = 3 RETURNING 'delete', inet_server_port();
SELECT 'count2', count(*) FROM itest_ryw;
SELECT 'after_delete', inet_server_port();
\! sleep $RYW_WAIT
SELECT 'later', inet_server_port();
SELECT 'later', inet_server_port();
EOF
    ) || fail "psql failed: $out"
    echo "$out"
    on_replicas "read before any write" $(tagged "$out" before)
    on_primary "INSERT" $(tagged "$out" insert)
    all_equal "count(*) right after the INSERT" 1 $(tagged "$out" count1)
    on_primary "read right after the INSERT" $(tagged "$out" after_insert)
    on_primary "UPDATE" $(tagged "$out" update)
    all_equal "value right after the UPDATE" B $(tagged "$out" seen)
    on_primary "read right after the UPDATE" $(tagged "$out" after_update)
    on_primary "DELETE" $(tagged "$out" delete)
    all_equal "count(*) right after the DELETE" 2 $(tagged "$out" count2)
    on_primary "read right after the DELETE" $(tagged "$out" after_delete)
    on_replicas "reads ${RYW_WAIT}s after the last write (window $RYW_WINDOW)" \
        $(tagged "$out" later)
    out=$(DIRECT "$PRIMARY_PORT" "SELECT string_agg(id || v, ',' ORDER BY id) FROM itest_ryw") ||
        fail "direct query on the primary failed"
    [ "$out" = "1a,2B" ] || fail "the primary holds '$out', expected '1a,2B'"
}

# BEGIN ... COMMIT runs on the primary, from the first statement on, even when
# that statement (or the whole transaction) only reads.
t_route_transaction() {
    proxy_only
    local out
    PSQL -q -c 'DROP TABLE IF EXISTS itest_rtx' -c 'CREATE TABLE itest_rtx (id int, v text)' ||
        fail "CREATE TABLE failed"
    wait_replay || fail "replicas did not replay the CREATE TABLE"
    out=$(PSQL -q -At -F ' ' 2>&1 <<'EOF'
BEGIN;
SELECT 'tx', inet_server_port();
INSERT INTO itest_rtx VALUES (10, 'tx') RETURNING 'tx', inet_server_port();
SELECT 'tx', inet_server_port();
SELECT 'count', count(*) FROM itest_rtx WHERE id = 10;
UPDATE itest_rtx SET v = 'tx2' WHERE id = 10 RETURNING 'tx', inet_server_port();
SELECT 'tx', inet_server_port();
COMMIT;
EOF
    ) || fail "psql failed: $out"
    echo "$out"
    [ "$(tagged "$out" tx | wc -l)" -eq 5 ] || fail "expected 5 results in the transaction"
    on_primary "statements of BEGIN...COMMIT" $(tagged "$out" tx)
    all_equal "count(*) inside the transaction" 1 $(tagged "$out" count)
    out=$(PSQL -q -At -F ' ' 2>&1 <<'EOF'
BEGIN;
SELECT 'tx', inet_server_port();
SELECT 'tx', inet_server_port();
SELECT 'tx', inet_server_port();
COMMIT;
EOF
    ) || fail "psql failed: $out"
    echo "$out"
    [ "$(tagged "$out" tx | wc -l)" -eq 3 ] || fail "expected 3 results in the read transaction"
    on_primary "reads in a plain BEGIN...COMMIT" $(tagged "$out" tx)
    out=$(DIRECT "$PRIMARY_PORT" "SELECT string_agg(id || v, ',') FROM itest_rtx") ||
        fail "direct query on the primary failed"
    [ "$out" = "10tx2" ] || fail "the primary holds '$out', expected '10tx2'"
}

# BEGIN READ ONLY runs on one replica; a write inside fails there with 25006.
t_route_read_only_tx() {
    proxy_only
    local out err errf=$LOGDIR/route_read_only_tx.err
    PSQL -q -c 'DROP TABLE IF EXISTS itest_rotx' -c 'CREATE TABLE itest_rotx (id int)' ||
        fail "CREATE TABLE failed"
    wait_replay || fail "replicas did not replay the CREATE TABLE"
    out=$(PSQL -q -At -F ' ' 2>&1 <<'EOF'
BEGIN READ ONLY;
SELECT 'ro1', inet_server_port();
SELECT 'ro1', inet_server_port();
SELECT 'ro1', inet_server_port();
COMMIT;
BEGIN READ ONLY;
SELECT 'ro2', inet_server_port();
SELECT 'ro2', inet_server_port();
SELECT 'ro2', inet_server_port();
COMMIT;
EOF
    ) || fail "psql failed: $out"
    echo "$out"
    [ "$(tagged "$out" ro1 | wc -l)" -eq 3 ] || fail "expected 3 results in the first transaction"
    on_one_replica "first BEGIN READ ONLY" $(tagged "$out" ro1)
    [ "$(tagged "$out" ro2 | wc -l)" -eq 3 ] || fail "expected 3 results in the second transaction"
    on_one_replica "second BEGIN READ ONLY" $(tagged "$out" ro2)

    out=$(PSQL -q -At -F ' ' -v ON_ERROR_STOP=0 -v VERBOSITY=verbose 2>"$errf" <<'EOF'
BEGIN READ ONLY;
SELECT 'ro', inet_server_port();
INSERT INTO itest_rotx VALUES (1);
ROLLBACK;
SELECT 'alive', 1;
EOF
    )
    err=$(cat "$errf")
    echo "stdout: $out"
    echo "stderr: $err"
    on_replicas "BEGIN READ ONLY" $(tagged "$out" ro)
    grep -q '25006' <<<"$err" || fail "INSERT in BEGIN READ ONLY: no SQLSTATE 25006 ($err)"
    grep -q 'cannot execute INSERT in a read-only transaction' <<<"$err" ||
        fail "INSERT in BEGIN READ ONLY: unexpected error ($err)"
    all_equal "a query after the failed transaction" 1 $(tagged "$out" alive)
    out=$(DIRECT "$PRIMARY_PORT" 'SELECT count(*) FROM itest_rotx') ||
        fail "direct query on the primary failed"
    [ "$out" = 0 ] || fail "the primary has $out rows in itest_rotx, expected none"
}

# SET/RESET are replayed on every server the session uses.
t_route_session_state() {
    proxy_only
    local out args=() i
    PSQL -q -c 'DROP SCHEMA IF EXISTS s1 CASCADE' -c 'CREATE SCHEMA s1' \
        -c 'DROP TABLE IF EXISTS public.t_sp' \
        -c "CREATE TABLE public.t_sp AS SELECT 'public'::text AS v" \
        -c "CREATE TABLE s1.t_sp AS SELECT 's1'::text AS v" || fail "setup failed"
    wait_replay || fail "replicas did not replay schema s1"
    args+=(-c 'SET search_path = s1, public')
    for i in 1 2 3 4 5 6; do
        args+=(-c "SELECT 'sp', v, inet_server_port() FROM t_sp")
    done
    args+=(-c 'RESET search_path')
    for i in 1 2 3 4; do
        args+=(-c "SELECT 'reset', v, inet_server_port() FROM t_sp")
    done
    args+=(-c "SET application_name = 'itest_route'")
    for i in 1 2 3 4; do
        args+=(-c "SELECT 'app', current_setting('application_name'), inet_server_port()")
    done
    args+=(-c "/* pgrouter_role: primary */
               SELECT 'apph', current_setting('application_name'), inet_server_port()")
    out=$(PSQL -q -At -F ' ' "${args[@]}" 2>&1) || fail "psql failed: $out"
    echo "$out"
    all_equal "t_sp with search_path = s1, public" s1 $(tagged "$out" sp)
    on_both_replicas "reads after SET search_path" $(tagged "$out" sp 3)
    all_equal "t_sp after RESET search_path" public $(tagged "$out" reset)
    on_both_replicas "reads after RESET search_path" $(tagged "$out" reset 3)
    all_equal "current_setting('application_name')" itest_route $(tagged "$out" app)
    on_both_replicas "reads after SET application_name" $(tagged "$out" app 3)
    all_equal "current_setting('application_name') on the primary" itest_route \
        $(tagged "$out" apph)
    on_primary "/* pgrouter_role: primary */ read" $(tagged "$out" apph 3)
}

# /* pgrouter_role: primary */ sends one statement to the primary.
t_route_hint_comment() {
    proxy_only
    local out
    out=$(PSQL -At -F ' ' \
        -c "/* pgrouter_role: primary */ SELECT 'hint', inet_server_port()" \
        -c "/* pgrouter_role: primary */ SELECT 'hint', inet_server_port()" \
        -c "SELECT 'nohint', inet_server_port()" \
        -c "SELECT 'nohint', inet_server_port()" 2>&1) || fail "psql failed: $out"
    echo "$out"
    on_primary "/* pgrouter_role: primary */ SELECT" $(tagged "$out" hint)
    on_both_replicas "SELECT without a hint" $(tagged "$out" nohint)
}

# SET pgrouter.role = primary sends the session's reads to the primary, = auto
# back to the replicas.  The quoted form is checked first, then the unquoted
# one as documented (PRIMARY is a reserved word to PostgreSQL's parser, so the
# statement must not reach the server as it is).
t_route_set_role() {
    proxy_only
    local out
    out=$(PSQL -q -At -F ' ' -c "SET pgrouter.role = 'primary'" \
        -c "SELECT 'p', inet_server_port()" -c "SELECT 'p', inet_server_port()" \
        -c "SELECT 'p', inet_server_port()" -c 'SET pgrouter.role = auto' \
        -c "SELECT 'a', inet_server_port()" -c "SELECT 'a', inet_server_port()" \
        -c "SELECT 'a', inet_server_port()" -c "SELECT 'a', inet_server_port()" 2>&1) ||
        fail "psql failed: $out"
    echo "$out"
    on_primary "reads after SET pgrouter.role = 'primary'" $(tagged "$out" p)
    on_both_replicas "reads after SET pgrouter.role = auto" $(tagged "$out" a)

    out=$(PSQL -q -At -F ' ' -c 'SET pgrouter.role = primary' \
        -c "SELECT 'p', inet_server_port()" -c "SELECT 'p', inet_server_port()" \
        -c 'SET pgrouter.role = auto' \
        -c "SELECT 'a', inet_server_port()" -c "SELECT 'a', inet_server_port()" 2>&1) ||
        fail "SET pgrouter.role = primary (unquoted): $out"
    echo "$out"
    on_primary "reads after SET pgrouter.role = primary" $(tagged "$out" p)
    on_both_replicas "reads after SET pgrouter.role = auto" $(tagged "$out" a)
}

# options=-c pgrouter.role=primary in the startup packet.
t_route_role_option() {
    proxy_only
    local out
    out=$(PGOPTIONS='-c pgrouter.role=primary' PSQL -At -F ' ' \
        -c "SELECT 'o', inet_server_port()" -c "SELECT 'o', inet_server_port()" \
        -c "SELECT 'o', inet_server_port()" 2>&1) || fail "psql with PGOPTIONS failed: $out"
    echo "$out"
    on_primary "reads with options=-c pgrouter.role=primary" $(tagged "$out" o)
}

# /* pgrouter_role: replica */ on a write: ERROR 25006, nothing written, and
# the session goes on.
t_route_replica_hint_write() {
    proxy_only
    local out err errf=$LOGDIR/route_replica_hint_write.err
    PSQL -q -c 'DROP TABLE IF EXISTS itest_hint' -c 'CREATE TABLE itest_hint (id int)' ||
        fail "CREATE TABLE failed"
    out=$(PSQL -q -At -F ' ' -v ON_ERROR_STOP=0 -v VERBOSITY=verbose \
        -c '/* pgrouter_role: replica */ INSERT INTO itest_hint VALUES (1)' \
        -c "SELECT 'alive', 1" 2>"$errf")
    err=$(cat "$errf")
    echo "stdout: $out"
    echo "stderr: $err"
    grep -q 'ERROR:  25006' <<<"$err" ||
        fail "/* pgrouter_role: replica */ INSERT: no ERROR 25006 ($err)"
    all_equal "a query after the refused INSERT" 1 $(tagged "$out" alive)
    out=$(DIRECT "$PRIMARY_PORT" 'SELECT count(*) FROM itest_hint') ||
        fail "direct query on the primary failed"
    [ "$out" = 0 ] || fail "the refused INSERT reached the primary ($out rows)"
}

# A temporary table pins the session to the primary, past the window too.
t_route_sticky_temp() {
    proxy_only
    local out
    out=$(PSQL -q -At -F ' ' 2>&1 <<EOF
CREATE TEMP TABLE tt (x int);
INSERT INTO tt VALUES (1);
SELECT 'row', x FROM tt;
SELECT 'port', inet_server_port();
\! sleep $RYW_WAIT
SELECT 'row', x FROM tt;
SELECT 'later', inet_server_port();
SELECT 'later', inet_server_port();
EOF
    ) || fail "psql failed: $out"
    echo "$out"
    all_equal "SELECT * FROM tt" 1 $(tagged "$out" row)
    [ "$(tagged "$out" row | wc -l)" -eq 2 ] || fail "expected 2 reads of tt"
    on_primary "read after CREATE TEMP TABLE" $(tagged "$out" port)
    on_primary "reads ${RYW_WAIT}s after the temp table's last write" $(tagged "$out" later)
}

# Statements that write although they start with SELECT or WITH.  Each runs
# in a session of its own, so only the statement can send it to the primary.
t_route_write_functions() {
    proxy_only
    local out
    PSQL -q -c 'DROP SEQUENCE IF EXISTS itest_seq' -c 'CREATE SEQUENCE itest_seq' \
        -c 'DROP TABLE IF EXISTS itest_wf' -c 'CREATE TABLE itest_wf (id int PRIMARY KEY, v text)' \
        -c "INSERT INTO itest_wf VALUES (1, 'one')" || fail "setup failed"
    wait_replay || fail "replicas did not replay the setup"

    out=$(PSQL -At -F ' ' -c "SELECT nextval('itest_seq'), inet_server_port()" 2>&1) ||
        fail "SELECT nextval: $out"
    echo "nextval: $out"
    [ "$out" = "1 $PRIMARY_PORT" ] || fail "SELECT nextval gave '$out', expected '1 $PRIMARY_PORT'"
    out=$(PSQL -At -F ' ' -c "SELECT 'x', nextval('itest_seq'), inet_server_port()" 2>&1) ||
        fail "second SELECT nextval: $out"
    [ "$out" = "x 2 $PRIMARY_PORT" ] || fail "second nextval gave '$out'"

    out=$(PSQL -At -F ' ' -c "WITH x AS (INSERT INTO itest_wf VALUES (2, 'two') RETURNING id, v)
                             SELECT x.id, x.v, inet_server_port() FROM x" 2>&1) ||
        fail "WITH ... INSERT ... RETURNING: $out"
    echo "cte: $out"
    [ "$out" = "2 two $PRIMARY_PORT" ] || fail "CTE with INSERT gave '$out'"

    out=$(PSQL -At -F ' ' -c "SELECT id, v, inet_server_port() FROM itest_wf WHERE id = 1
                             FOR UPDATE" 2>&1) || fail "SELECT ... FOR UPDATE: $out"
    echo "for update: $out"
    [ "$out" = "1 one $PRIMARY_PORT" ] || fail "SELECT ... FOR UPDATE gave '$out'"
    out=$(PSQL -At -F ' ' -c "SELECT id, inet_server_port() FROM itest_wf WHERE id = 1
                             FOR SHARE" 2>&1) || fail "SELECT ... FOR SHARE: $out"
    [ "$out" = "1 $PRIMARY_PORT" ] || fail "SELECT ... FOR SHARE gave '$out'"

    # and a plain read of the same table still goes to a replica
    out=$(PSQL -At -F ' ' -c "SELECT 'r', count(*), inet_server_port() FROM itest_wf" 2>&1) ||
        fail "SELECT count(*): $out"
    echo "read: $out"
    on_replicas "plain SELECT of itest_wf" $(tagged "$out" r 3)

    out=$(DIRECT "$PRIMARY_PORT" "SELECT (SELECT last_value FROM itest_seq) || ',' ||
                                         (SELECT string_agg(id::text, ' ' ORDER BY id)
                                          FROM itest_wf)") ||
        fail "direct query on the primary failed"
    [ "$out" = "2,1 2" ] || fail "the primary holds '$out', expected sequence at 2 and rows 1 2"
}

xact_commits() {
    DIRECT "$1" "SELECT xact_commit FROM pg_stat_database WHERE datname = 'appdb'" postgres
}

# pgbench -S -M prepared through pgrouter: both replicas do the work, the
# primary does not.  Each server's committed transactions in appdb are counted
# before and after (queried in database postgres, so that counting does not
# count itself).  A backend publishes its counts at most once a second while
# busy and within 10 s after it goes idle, and pgrouter keeps its servers open:
# so the counts are polled until the replicas together show every transaction
# (deadline 30 s).  round_robin hands out reads in turn, so each replica must
# show half of them; 40% is the bound (the pool may skip a replica whose
# servers are all busy for a moment).
t_route_pgbench_replicas() {
    proxy_only
    local port out n before=() after=() d=() i deadline
    wait_replay || fail "replicas did not replay the pgbench tables"
    for port in "$PRIMARY_PORT" "$REPLICA1_PORT" "$REPLICA2_PORT"; do
        out=$(xact_commits "$port")
        [[ $out =~ ^[0-9]+$ ]] || fail "xact_commit on $(node_name "$port"): '$out'"
        before+=("$out")
    done
    out=$(PGBENCH -n -M prepared -S -c 4 -j 2 -t 1000 2>&1) ||
        fail "pgbench -S -M prepared exited non-zero: $(tail -n 5 <<<"$out")"
    echo "$out"
    n=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")
    [ "$n" = 4000 ] || fail "pgbench processed '${n}' of 4000 transactions"
    if grep -q 'number of failed transactions' <<<"$out"; then
        grep -q 'number of failed transactions: 0 ' <<<"$out" ||
            fail "$(grep 'number of failed' <<<"$out")"
    fi
    deadline=$((SECONDS + 30))
    i=0
    while :; do
        i=$((i + 1))
        after=()
        for port in "$PRIMARY_PORT" "$REPLICA1_PORT" "$REPLICA2_PORT"; do
            out=$(xact_commits "$port")
            [[ $out =~ ^[0-9]+$ ]] || fail "xact_commit on $(node_name "$port"): '$out'"
            after+=("$out")
        done
        d=($((after[0] - before[0])) $((after[1] - before[1])) $((after[2] - before[2])))
        [ $((d[1] + d[2])) -ge "$n" ] && break
        [ "$SECONDS" -lt "$deadline" ] || break
        sleep 0.25
    done
    echo "$n transactions; xact_commit deltas in appdb after $i polls:" \
        "primary ${d[0]}, replica1 ${d[1]}, replica2 ${d[2]}"
    echo "# measured: round_robin over 2 replicas: replica1 ${d[1]}, replica2 ${d[2]} of $n reads"
    [ $((d[1] + d[2])) -ge "$n" ] ||
        fail "$n reads, but the replicas committed only ${d[1]} + ${d[2]} transactions" \
            "30 s later (primary ${d[0]})"
    if [ $((d[1] * 10)) -lt $((n * 4)) ] || [ $((d[2] * 10)) -lt $((n * 4)) ]; then
        fail "round_robin: replica1 committed ${d[1]} and replica2 ${d[2]} of $n reads," \
            "expected each at least 40%"
    fi
    [ "${d[0]}" -lt $((n / 10)) ] ||
        fail "the primary committed ${d[0]} transactions during a read-only pgbench of $n" \
            "(replica1 ${d[1]}, replica2 ${d[2]})"
}

# pgrouter --classify reads statements on stdin and says read or write.
t_route_classify() {
    proxy_only
    local out lines=() want=(read write write write write) i
    "$PGROUTER_BIN" --help 2>&1 | grep -q -e '--classify' || fail "pgrouter --help has no --classify"
    out=$(printf '%s\n' 'SELECT 1' 'INSERT INTO itest_wf VALUES (3)' \
        'SELECT * FROM itest_wf FOR UPDATE' 'BEGIN' "SELECT nextval('itest_seq')" |
        timeout 20 "$PGROUTER_BIN" --classify -c "$ITEST_DIR/main/pgrouter.ini" 2>&1) ||
        fail "pgrouter --classify failed: $out"
    echo "$out"
    mapfile -t lines <<<"$out"
    [ "${#lines[@]}" -eq 5 ] || fail "5 statements, ${#lines[@]} output lines"
    # BEGIN is not a write by itself, but it opens a transaction on the primary
    [[ ${lines[3]} == *primary* ]] || fail "BEGIN: '${lines[3]}' does not name the primary"
    lines[3]="write"
    for i in 0 1 2 3 4; do
        [[ ${lines[$i]} == "${want[$i]} "* || ${lines[$i]} == "${want[$i]}" ]] ||
            fail "line $((i + 1)): '${lines[$i]}', expected it to start with ${want[$i]}"
    done
}
