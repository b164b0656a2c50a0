# tests/integration/sharding.sh - tenant sharding cases, sourced by run.sh,
# which calls start_shard_pgrouter (the pgrouter instance "shard", config from
# write_shard_ini) and shard_cases, and provides run, fail, skip, abort,
# proxy_only, DIRECT, PSQL, tagged, all_equal, free_port, launch_pgrouter,
# wait_port, PY and LOGDIR.
#
# The cluster runs with --shards: besides main (primary + 2 replicas) there are
# shard_a and shard_b, each a primary + 1 streaming replica.  The tables
# accounts and orders exist on all three primaries (t_shard_setup creates them
# directly); the instance's config (write_shard_ini) shards them by tenant_id
# over 4 buckets: 0-1 on shard_a, 2-3 on shard_b, and places some tenants
# explicitly in [tenants].  Every case asks the servers who answered
# (inet_server_port()) or looks at each primary directly for the rows.
#
# Buckets, ((hashtext(t)::bigint % 4) + 4) % 4, of the tenants used below:
#   globex 0, umbrella 0, hooli 0, initech 1, acme 2, t1-t3 3, t5 2, t4 1,
#   t6 0, t7 1, t8 0.  t_shard_hash_sql and t_shard_explicit_placement
#   compute their buckets on a server instead of trusting this list.
# shellcheck shell=bash disable=SC2317,SC2154,SC2046,SC2015,SC2034

SHARD_CLUSTERS=(main shard_a shard_b)

# write_shard_ini FILE PORT AUTH_TYPE: the sharding instance's config.
write_shard_ini() {
    local out=$1 port=$2 auth=$3 dir
    dir=$(dirname "$out")
    printf '"app" "app"\n"other" "other"\n' >"$dir/userlist.txt"
    cat >"$out" <<EOF
; written by tests/integration/sharding.sh
[pgrouter]
listen_addr = 127.0.0.1
listen_port = $port
auth_type = $auth
auth_file = $dir/userlist.txt
default_cluster = main

[routing]
read_your_writes_window = $RYW_WINDOW

[sharding]
tenant_column = tenant_id
sharded_tables = accounts, orders
buckets = 4

[cluster.main]
primary = 127.0.0.1:$PRIMARY_PORT
replicas = 127.0.0.1:$REPLICA1_PORT, 127.0.0.1:$REPLICA2_PORT

[cluster.shard_a]
primary = 127.0.0.1:$SHARD_A_PRIMARY_PORT
replicas = 127.0.0.1:$SHARD_A_REPLICA_PORT
buckets = 0-1

[cluster.shard_b]
primary = 127.0.0.1:$SHARD_B_PRIMARY_PORT
replicas = 127.0.0.1:$SHARD_B_REPLICA_PORT
buckets = 2-3

[tenants]
; acme hashes to bucket 2 (shard_b anyway); hooli hashes to bucket 0 (shard_a)
; but lives on shard_b; vandelay lives on main, which owns no bucket
acme = shard_b
hooli = shard_b
vandelay = main
EOF
}

# psql through the sharding instance as app.
SPSQL() {
    PGPASSWORD=app timeout 30 "$PGBIN/psql" -X -v ON_ERROR_STOP=1 \
        -h 127.0.0.1 -p "$PORT_shard" -U app -d appdb "$@"
}

# shard_primary_port CLUSTER / shard_replica_ports CLUSTER
shard_primary_port() {
    case $1 in
    main) echo "$PRIMARY_PORT" ;;
    shard_a) echo "$SHARD_A_PRIMARY_PORT" ;;
    shard_b) echo "$SHARD_B_PRIMARY_PORT" ;;
    esac
}

shard_replica_ports() {
    case $1 in
    main) echo "$REPLICA1_PORT $REPLICA2_PORT" ;;
    shard_a) echo "$SHARD_A_REPLICA_PORT" ;;
    shard_b) echo "$SHARD_B_REPLICA_PORT" ;;
    esac
}

# shard_node PORT: "cluster/primary" or "cluster/replica" for a server port.
shard_node() {
    local c p
    for c in "${SHARD_CLUSTERS[@]}"; do
        [ "$1" != "$(shard_primary_port "$c")" ] || { echo "$c/primary"; return; }
        for p in $(shard_replica_ports "$c"); do
            [ "$1" != "$p" ] || { echo "$c/replica"; return; }
        done
    done
    echo "port:$1"
}

# served_by WHAT WANT PORT...: each PORT is WANT (cluster/primary or cluster/replica).
served_by() {
    local what=$1 want=$2 p got
    shift 2
    [ $# -gt 0 ] || fail "$what: no result"
    for p in "$@"; do
        got=$(shard_node "$p")
        [ "$got" = "$want" ] || fail "$what: ran on $got, expected $want"
    done
}

# bucket_cluster BUCKET: the owner of a bucket in write_shard_ini.
bucket_cluster() {
    case $1 in
    0 | 1) echo shard_a ;;
    2 | 3) echo shard_b ;;
    *) echo "no-bucket-$1" ;;
    esac
}

# sql_bucket TENANT: the bucket computed by PostgreSQL itself.
sql_bucket() {
    DIRECT "$PRIMARY_PORT" "SELECT ((hashtext('$1')::bigint % 4) + 4) % 4" postgres
}

# where_rows TABLE TENANT: the clusters whose primary holds rows of TENANT in
# TABLE, as "cluster:count" words (nothing if none).
where_rows() {
    local c n out=()
    for c in "${SHARD_CLUSTERS[@]}"; do
        n=$(DIRECT "$(shard_primary_port "$c")" \
            "SELECT count(*) FROM $1 WHERE tenant_id = '$2'") || fail "count on $c failed"
        [ "$n" = 0 ] || out+=("$c:$n")
    done
    echo "${out[*]}"
}

# rows_with_id TABLE ID: how many rows with that id all three primaries hold.
rows_with_id() {
    local c n sum=0
    for c in "${SHARD_CLUSTERS[@]}"; do
        n=$(DIRECT "$(shard_primary_port "$c")" "SELECT count(*) FROM $1 WHERE id = $2") ||
            fail "count on $c failed"
        sum=$((sum + n))
    done
    echo "$sum"
}

# rows_only_on TABLE TENANT CLUSTER [N]: TENANT's rows are on CLUSTER (N of
# them, if given) and on no other cluster.
rows_only_on() {
    local got
    got=$(where_rows "$1" "$2")
    echo "$1 rows of $2: ${got:-none}"
    if [ -n "${4:-}" ]; then
        [ "$got" = "$3:$4" ] || fail "$1 rows of $2: found '${got:-none}', expected '$3:$4'"
    else
        [[ $got == "$3:"* && $got != *" "* ]] ||
            fail "$1 rows of $2: found '${got:-none}', expected rows on $3 only"
    fi
}

# shard_wait_replay: every replica of the three clusters has replayed what its
# primary committed so far (as wait_replay in run.sh, per cluster).
shard_wait_replay() {
    local c lsn port got deadline=$((SECONDS + 10))
    for c in "${SHARD_CLUSTERS[@]}"; do
        lsn=$(PGPASSWORD=postgres timeout 30 "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 \
            -h 127.0.0.1 -p "$(shard_primary_port "$c")" -U postgres -d postgres \
            -c 'SET synchronous_commit = on' \
            -c "SELECT pg_logical_emit_message(true, 'pgrouter-itest', 'wait_replay')" \
            -c 'SELECT pg_current_wal_flush_lsn()' | tail -n 1)
        [ -n "$lsn" ] || { echo "shard_wait_replay: no WAL position from $c"; return 1; }
        for port in $(shard_replica_ports "$c"); do
            while :; do
                got=$(DIRECT "$port" "SELECT pg_last_wal_replay_lsn() >= '$lsn'::pg_lsn" \
                    postgres 2>/dev/null)
                [ "$got" = t ] && break
                if [ "$SECONDS" -ge "$deadline" ]; then
                    echo "shard_wait_replay: $c replica on $port has not replayed $lsn"
                    return 1
                fi
                sleep 0.05
            done
        done
    done
}

# with_errors FILE psql-args...: SPSQL that goes on after errors, verbose
# errors (with SQLSTATE) to FILE; stdout as usual.
with_errors() {
    local errf=$1
    shift
    SPSQL -q -At -F ' ' -v ON_ERROR_STOP=0 -v VERBOSITY=verbose "$@" 2>"$errf"
}

# ---- cases ----------------------------------------------------------------

# The sharded tables, created on every primary directly (pgrouter would send
# DDL on them nowhere in particular), then replayed everywhere.
t_shard_setup() {
    proxy_only
    local c
    for c in "${SHARD_CLUSTERS[@]}"; do
        PGPASSWORD=app timeout 30 "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 \
            -p "$(shard_primary_port "$c")" -U app -d appdb \
            -c 'DROP TABLE IF EXISTS accounts, orders' \
            -c 'CREATE TABLE accounts (tenant_id text NOT NULL, id int, balance numeric)' \
            -c 'CREATE TABLE orders (tenant_id text NOT NULL, id bigint, amount numeric)' ||
            fail "creating the tables on $c failed"
    done
    shard_wait_replay || fail "replicas did not replay the CREATE TABLEs"
}

# INSERTs through pgrouter land on the tenant's cluster, and only there:
# globex (bucket 0) and initech (1) on shard_a, t1 (3) on shard_b, acme on
# shard_b, vandelay on main ([tenants]).  UPDATE and DELETE follow the WHERE.
t_shard_insert_placement() {
    proxy_only
    local out t c
    out=$(SPSQL -q -At -F ' ' 2>&1 <<'EOF'
INSERT INTO accounts (tenant_id, id, balance) VALUES ('globex', 1, 100) RETURNING 'globex', inet_server_port();
INSERT INTO accounts (tenant_id, id, balance) VALUES ('initech', 1, 100) RETURNING 'initech', inet_server_port();
INSERT INTO accounts (id, tenant_id, balance) VALUES (1, 't1', 100), (2, 't1', 50) RETURNING 't1', inet_server_port();
INSERT INTO accounts (tenant_id, id, balance) VALUES ('acme', 1, 100) RETURNING 'acme', inet_server_port();
INSERT INTO accounts (tenant_id, id, balance) VALUES ('vandelay', 1, 100) RETURNING 'vandelay', inet_server_port();
UPDATE accounts SET balance = balance + 1 WHERE tenant_id = 'globex' RETURNING 'upd', inet_server_port();
DELETE FROM accounts WHERE tenant_id = 't1' AND id = 2 RETURNING 'del', inet_server_port();
EOF
    ) || fail "psql failed: $out"
    echo "$out"
    for t in globex:shard_a initech:shard_a t1:shard_b acme:shard_b vandelay:main; do
        c=${t#*:}
        t=${t%%:*}
        served_by "INSERT for $t" "$c/primary" $(tagged "$out" "$t")
        rows_only_on accounts "$t" "$c" 1
    done
    served_by "UPDATE ... WHERE tenant_id = 'globex'" shard_a/primary $(tagged "$out" upd)
    served_by "DELETE ... WHERE tenant_id = 't1'" shard_b/primary $(tagged "$out" del)
    out=$(DIRECT "$SHARD_A_PRIMARY_PORT" "SELECT balance FROM accounts WHERE tenant_id = 'globex'")
    [ "$out" = 101 ] || fail "globex's balance on shard_a is '$out' after the UPDATE, expected 101"
}

# A fresh session reading one tenant's rows is served by that tenant's
# cluster's replica (the rows of t_shard_insert_placement).
t_shard_reads_on_replica() {
    proxy_only
    local out t c
    shard_wait_replay || fail "replicas did not replay the inserts"
    out=$(SPSQL -At -F ' ' \
        -c "SELECT 'globex', inet_server_port(), count(*) FROM accounts WHERE tenant_id = 'globex'" \
        -c "SELECT 'initech', inet_server_port(), count(*) FROM accounts WHERE tenant_id = 'initech'" \
        -c "SELECT 't1', inet_server_port(), count(*) FROM accounts WHERE tenant_id = 't1'" \
        -c "SELECT 'acme', inet_server_port(), count(*) FROM accounts WHERE tenant_id = 'acme'" \
        -c "SELECT 'vandelay', inet_server_port(), count(*) FROM accounts
            WHERE tenant_id = 'vandelay'" 2>&1) || fail "psql failed: $out"
    echo "$out"
    for t in globex:shard_a initech:shard_a t1:shard_b acme:shard_b vandelay:main; do
        c=${t#*:}
        t=${t%%:*}
        served_by "SELECT for $t" "$c/replica" $(tagged "$out" "$t")
        all_equal "count(*) of $t" 1 $(tagged "$out" "$t" 3)
    done
}

# [tenants] wins over the hash: hooli's bucket belongs to shard_a, but
# [tenants] puts it on shard_b.
t_shard_explicit_placement() {
    proxy_only
    local b out
    b=$(sql_bucket hooli) || fail "hashtext on the server failed"
    echo "hooli: bucket $b ($(bucket_cluster "$b") by hash), [tenants] says shard_b"
    [ "$(bucket_cluster "$b")" = shard_a ] ||
        fail "test premise: hooli hashes to bucket $b, not one of shard_a's"
    out=$(SPSQL -q -At -F ' ' \
        -c "INSERT INTO accounts (tenant_id, id, balance) VALUES ('hooli', 1, 5)
            RETURNING 'ins', inet_server_port()" 2>&1) || fail "INSERT failed: $out"
    echo "$out"
    served_by "INSERT for hooli" shard_b/primary $(tagged "$out" ins)
    rows_only_on accounts hooli shard_b 1
    shard_wait_replay || fail "replicas did not replay the insert"
    out=$(SPSQL -At -F ' ' -c "SELECT 'sel', inet_server_port(), count(*) FROM accounts
                               WHERE tenant_id = 'hooli'" 2>&1) || fail "SELECT failed: $out"
    echo "$out"
    served_by "SELECT for hooli" shard_b/replica $(tagged "$out" sel)
    all_equal "count(*) of hooli" 1 $(tagged "$out" sel 3)
}

# /* tenant=x */ and the sqlcommenter form /*tenant='x'*/ pick the cluster of a
# statement that names no tenant itself.
t_shard_comment_hint() {
    proxy_only
    local out want_a want_b
    shard_wait_replay || fail "replicas did not replay"
    want_a=$(DIRECT "$SHARD_A_PRIMARY_PORT" 'SELECT count(*) FROM accounts')
    want_b=$(DIRECT "$SHARD_B_PRIMARY_PORT" 'SELECT count(*) FROM accounts')
    out=$(SPSQL -At -F ' ' \
        -c "/* tenant=initech */ SELECT 'c', inet_server_port(), count(*) FROM accounts" \
        -c "/*tenant='acme'*/ SELECT 'sc', inet_server_port(), count(*) FROM accounts" \
        -c "SELECT 'sc2', inet_server_port(), count(*) FROM accounts /*tenant='globex'*/" \
        -c "/* tenant=acme */ INSERT INTO orders VALUES ('acme', 1, 1)
            RETURNING 'ins', inet_server_port()" 2>&1) || fail "psql failed: $out"
    echo "$out"
    served_by "/* tenant=initech */ SELECT" shard_a/replica $(tagged "$out" c)
    all_equal "/* tenant=initech */ count(*)" "$want_a" $(tagged "$out" c 3)
    served_by "/*tenant='acme'*/ SELECT" shard_b/replica $(tagged "$out" sc)
    all_equal "/*tenant='acme'*/ count(*)" "$want_b" $(tagged "$out" sc 3)
    served_by "trailing /*tenant='globex'*/" shard_a/replica $(tagged "$out" sc2)
    # an INSERT without a column list, placed by the comment
    served_by "/* tenant=acme */ INSERT without a column list" shard_b/primary \
        $(tagged "$out" ins)
    rows_only_on orders acme shard_b 1
}

# SET pgrouter.tenant: a statement without a tenant of its own goes to the
# tenant's cluster, and the setting reaches the servers (current_setting).
t_shard_set_tenant() {
    proxy_only
    local out want_a want_b
    shard_wait_replay || fail "replicas did not replay"
    want_a=$(DIRECT "$SHARD_A_PRIMARY_PORT" 'SELECT count(*) FROM accounts')
    want_b=$(DIRECT "$SHARD_B_PRIMARY_PORT" 'SELECT count(*) FROM accounts')
    out=$(SPSQL -q -At -F ' ' 2>&1 <<'EOF'
SET pgrouter.tenant = 'acme';
SELECT 'cnt', inet_server_port(), count(*) FROM accounts;
SELECT 'cs', current_setting('pgrouter.tenant');
SELECT 'cs_shard', current_setting('pgrouter.tenant'), inet_server_port() FROM accounts LIMIT 1;
SET pgrouter.tenant = 'globex';
SELECT 'cnt2', inet_server_port(), count(*) FROM accounts;
SELECT 'cs2', current_setting('pgrouter.tenant');
EOF
    ) || fail "psql failed: $out"
    echo "$out"
    served_by "SELECT FROM accounts after SET pgrouter.tenant = 'acme'" shard_b/replica \
        $(tagged "$out" cnt)
    all_equal "count(*) FROM accounts for acme (shard_b's)" "$want_b" $(tagged "$out" cnt 3)
    all_equal "current_setting('pgrouter.tenant')" acme $(tagged "$out" cs)
    all_equal "current_setting('pgrouter.tenant') on shard_b" acme $(tagged "$out" cs_shard)
    served_by "current_setting in a SELECT FROM accounts" shard_b/replica \
        $(tagged "$out" cs_shard 3)
    served_by "SELECT FROM accounts after SET pgrouter.tenant = 'globex'" shard_a/replica \
        $(tagged "$out" cnt2)
    all_equal "count(*) FROM accounts for globex (shard_a's)" "$want_a" $(tagged "$out" cnt2 3)
    all_equal "current_setting after the second SET" globex $(tagged "$out" cs2)
}

# options=-c pgrouter.tenant=globex in the startup packet.
t_shard_startup_option() {
    proxy_only
    local out
    out=$(PGOPTIONS='-c pgrouter.tenant=globex' SPSQL -At -F ' ' \
        -c "SELECT 'cnt', inet_server_port(), count(*) FROM accounts" \
        -c "SELECT 'cs', current_setting('pgrouter.tenant'), inet_server_port() FROM accounts
            LIMIT 1" \
        -c "INSERT INTO orders (tenant_id, id, amount)
            VALUES (current_setting('pgrouter.tenant'), 2, 2) RETURNING 'ins', inet_server_port()" \
        2>&1) || fail "psql with PGOPTIONS failed: $out"
    echo "$out"
    served_by "SELECT with options=-c pgrouter.tenant=globex" shard_a/replica $(tagged "$out" cnt)
    all_equal "current_setting('pgrouter.tenant')" globex $(tagged "$out" cs)
    # the INSERT's tenant_id is an expression: the startup parameter places it
    served_by "INSERT of current_setting('pgrouter.tenant')" shard_a/primary \
        $(tagged "$out" ins)
    rows_only_on orders globex shard_a 1
}

# py_routes FORMAT: psycopg (extended protocol, server-side parameters,
# autocommit) reads and writes per tenant; prints "tag tenant port count"
# lines.  FORMAT is s (text parameters) or b (binary parameters).
py_routes() {
    PGR=$PORT_shard FMT=$1 timeout 60 "$PY" - <<'PYEOF'
import os, psycopg
fmt = "%" + os.environ["FMT"]
conn = psycopg.connect(host="127.0.0.1", port=int(os.environ["PGR"]), user="app",
                       password="app", dbname="appdb", autocommit=True)
q = "SELECT inet_server_port(), count(*) FROM accounts WHERE tenant_id = " + fmt
for t in ("globex", "initech", "acme", "t1", "hooli", "vandelay"):
    port, n = conn.execute(q, (t,)).fetchone()
    print("sel", t, port, n)
    port, n = conn.execute(q, (t,), prepare=True).fetchone()
    print("prep", t, port, n)
for i, t in enumerate(("umbrella", "acme", "oscorp", "vandelay")):
    port = conn.execute("INSERT INTO orders (tenant_id, id, amount) VALUES (%s, %s, 1) "
                        "RETURNING inet_server_port()".replace("%s", fmt),
                        (t, 100 + i)).fetchone()[0]
    print("ins", t, port, 1)
PYEOF
}

# check_py_routes OUTPUT: the py_routes lines went where the tenants live.
check_py_routes() {
    local out=$1 tag t c line port n
    for t in globex:shard_a initech:shard_a acme:shard_b t1:shard_b hooli:shard_b vandelay:main; do
        c=${t#*:}
        t=${t%%:*}
        for tag in sel prep; do
            line=$(awk -v g="$tag" -v t="$t" '$1 == g && $2 == t' <<<"$out")
            [ -n "$line" ] || fail "no $tag result for $t"
            read -r _ _ port n <<<"$line"
            served_by "$tag WHERE tenant_id = \$1 ($t)" "$c/replica" "$port"
            [ "$n" -ge 1 ] || fail "$tag for $t counted $n rows on $(shard_node "$port")"
        done
    done
    for t in umbrella:shard_a acme:shard_b oscorp:shard_b vandelay:main; do
        c=${t#*:}
        t=${t%%:*}
        line=$(awk -v t="$t" '$1 == "ins" && $2 == t' <<<"$out")
        [ -n "$line" ] || fail "no ins result for $t"
        read -r _ _ port n <<<"$line"
        served_by "INSERT ... VALUES (\$1, ...) for $t" "$c/primary" "$port"
    done
}

# Extended protocol with text parameters: WHERE tenant_id = $1 and INSERT
# ... VALUES ($1, ...), unnamed and prepared statements.
t_shard_extended_text() {
    proxy_only
    local out
    shard_wait_replay || fail "replicas did not replay"
    out=$(py_routes s 2>&1) || fail "psycopg failed: $(tail -n 3 <<<"$out")"
    echo "$out"
    check_py_routes "$out"
    rows_only_on orders umbrella shard_a 1
    rows_only_on orders oscorp shard_b 1
}

# The same with binary parameters (%b): psycopg declares them as text (OID
# 25) in Parse and sends the bytes.
t_shard_extended_binary() {
    proxy_only
    local out
    DIRECT "$SHARD_A_PRIMARY_PORT" "DELETE FROM orders WHERE id BETWEEN 100 AND 103" &&
        DIRECT "$SHARD_B_PRIMARY_PORT" "DELETE FROM orders WHERE id BETWEEN 100 AND 103" &&
        DIRECT "$PRIMARY_PORT" "DELETE FROM orders WHERE id BETWEEN 100 AND 103" ||
        fail "cleanup failed"
    shard_wait_replay || fail "replicas did not replay"
    out=$(py_routes b 2>&1) || fail "psycopg failed: $(tail -n 3 <<<"$out")"
    echo "$out"
    check_py_routes "$out"
}

# A sharded table and no tenant from anywhere: ERROR 22023, the session goes on.
t_shard_error_no_tenant() {
    proxy_only
    local out err errf=$LOGDIR/shard_error_no_tenant.err
    out=$(with_errors "$errf" <<'EOF'
SELECT count(*) FROM accounts;
SELECT 'alive', 1;
INSERT INTO accounts VALUES ('globex', 9, 9);
SELECT 'alive', 2;
UPDATE orders SET amount = 0;
SELECT 'alive', 3;
EOF
    )
    err=$(cat "$errf")
    echo "stdout: $out"
    echo "stderr: $err"
    [ "$(grep -c 'ERROR:  22023: pgrouter: a statement on sharded table' <<<"$err")" -eq 3 ] ||
        fail "expected three ERROR 22023 'a statement on sharded table', got: $err"
    grep -q 'sharded table "accounts" needs a tenant: add tenant_id = ' <<<"$err" ||
        fail "the error does not name accounts and tenant_id: $err"
    grep -q 'sharded table "orders" needs a tenant' <<<"$err" ||
        fail "the UPDATE's error does not name orders: $err"
    [ "$(tagged "$out" alive | tr '\n' ' ')" = "1 2 3 " ] ||
        fail "the session did not go on after each error: $out"
    [ "$(rows_with_id accounts 9)" = 0 ] || fail "the refused INSERT wrote a row"
}

# The session (or a comment) says one tenant and the statement another:
# ERROR 0A000, the session goes on.
t_shard_error_conflict() {
    proxy_only
    local out err errf=$LOGDIR/shard_error_conflict.err
    out=$(with_errors "$errf" <<'EOF'
SET pgrouter.tenant = 'initech';
SELECT count(*) FROM accounts WHERE tenant_id = 'acme';
SELECT 'alive', 1;
RESET pgrouter.tenant;
/* tenant=initech */ SELECT count(*) FROM accounts WHERE tenant_id = 'acme';
SELECT 'alive', 2;
EOF
    )
    err=$(cat "$errf")
    echo "stdout: $out"
    echo "stderr: $err"
    [ "$(grep -c 'ERROR:  0A000: pgrouter: the statement names tenant "acme" but the session or comment says "initech"' <<<"$err")" -eq 2 ] ||
        fail "expected two ERROR 0A000 'names tenant \"acme\" but ... says \"initech\"': $err"
    [ "$(tagged "$out" alive | tr '\n' ' ')" = "1 2 " ] ||
        fail "the session did not go on after each error: $out"
}

# IN lists: all on one cluster is fine, over two clusters ERROR 0A000.
t_shard_error_in_two_clusters() {
    proxy_only
    local out err errf=$LOGDIR/shard_error_in_two_clusters.err
    shard_wait_replay || fail "replicas did not replay"
    out=$(with_errors "$errf" <<'EOF'
SELECT 'one', inet_server_port(), count(*) FROM accounts WHERE tenant_id IN ('globex', 'initech');
SELECT count(*) FROM accounts WHERE tenant_id IN ('acme', 'globex');
SELECT 'alive', 1;
EOF
    )
    err=$(cat "$errf")
    echo "stdout: $out"
    echo "stderr: $err"
    served_by "IN ('globex', 'initech')" shard_a/replica $(tagged "$out" one)
    all_equal "count(*) of globex and initech" 2 $(tagged "$out" one 3)
    grep -q 'ERROR:  0A000: pgrouter: one statement or batch for tenants on two clusters (' \
        <<<"$err" || fail "IN ('acme', 'globex'): expected ERROR 0A000 'two clusters': $err"
    grep -q 'shard_a' <<<"$err" && grep -q 'shard_b' <<<"$err" ||
        fail "the error does not name both clusters: $err"
    all_equal "a query after the error" 1 $(tagged "$out" alive)
}

# pgrouter --classify and the proxy give the same answer (decide_query): for
# each statement, a refusal in --classify is the same ERROR (SQLSTATE and
# message) from the proxy, and a route names the node that answers.
# Negations and comparisons other than = never pick a cluster, not even with a
# comment or SET naming the tenant.
t_shard_classify_agrees() {
    proxy_only
    local sel="SELECT 'k', inet_server_port(), count(*) FROM accounts" stmts=() lines=()
    local i out err line state msg want errf=$LOGDIR/shard_classify_agrees.err refused=0
    stmts=(
        "$sel WHERE tenant_id = 'globex' OR tenant_id = 'acme'"
        "$sel WHERE tenant_id IN ('globex', 'acme')"
        "$sel WHERE tenant_id = 'globex' OR balance > 5"
        "/* tenant=globex */ $sel WHERE tenant_id = 'acme'"
        "$sel WHERE NOT (tenant_id = 'globex')"
        "$sel WHERE tenant_id <> 'globex'"
        "$sel WHERE tenant_id NOT IN ('globex')"
        "$sel WHERE tenant_id IS DISTINCT FROM 'globex'"
        "$sel WHERE tenant_id LIKE 'glob%'"
        "/* tenant=globex */ $sel WHERE tenant_id <> 'globex'"
        "$sel WHERE id IN (SELECT id FROM orders WHERE tenant_id = 'globex')"
        "$sel WHERE tenant_id = 'globex'"
        "$sel WHERE tenant_id IN ('globex', 'initech')"
        "$sel WHERE tenant_id IS NOT DISTINCT FROM 'acme'"
        "/* tenant=acme */ $sel"
        "SELECT 'k', inet_server_port(), 1"
    )
    shard_wait_replay || fail "replicas did not replay"
    out=$(printf '%s\n' "${stmts[@]}" |
        timeout 20 "$PGROUTER_BIN" --classify -c "$ITEST_DIR/shard/pgrouter.ini" 2>&1) ||
        fail "pgrouter --classify failed: $out"
    echo "$out"
    mapfile -t lines <<<"$out"
    [ "${#lines[@]}" -eq "${#stmts[@]}" ] ||
        fail "${#stmts[@]} statements, ${#lines[@]} lines from --classify"
    for i in "${!stmts[@]}"; do
        line=${lines[$i]}
        out=$(with_errors "$errf" -c "${stmts[$i]}")
        err=$(cat "$errf")
        echo "[$i] ${stmts[$i]}"
        echo "    classify: $line"
        echo "    proxy: ${out:-(no rows)} ${err:+/ $err}"
        if [[ $line =~ ^(read|write)\ [^\ ]+\ refused\ \(SQLSTATE\ ([0-9A-Z]{5}):\ (.*)\)$ ]]; then
            state=${BASH_REMATCH[2]}
            msg=${BASH_REMATCH[3]}
            refused=$((refused + 1))
            grep -qF "ERROR:  $state: $msg" <<<"$err" ||
                fail "[$i] --classify refuses with $state '$msg'; the proxy said: ${err:-$out}"
            [ -z "$out" ] || fail "[$i] refused by --classify, but the proxy answered: $out"
        elif [[ $line =~ ^read\ ([a-z_]+)\ (primary|replica)\ \( ]]; then
            want="${BASH_REMATCH[1]}/${BASH_REMATCH[2]}"
            [ -z "$err" ] || fail "[$i] --classify routes it to $want; the proxy said: $err"
            served_by "[$i] ${stmts[$i]}" "$want" $(tagged "$out" k)
        else
            fail "[$i] unexpected --classify line: $line"
        fi
    done
    [ "$refused" -eq 11 ] || fail "expected 11 refusals from --classify, got $refused"
    # the session's tenant does not make a negation one cluster's either
    out=$(with_errors "$errf" -c "SET pgrouter.tenant = 'globex'" \
        -c "$sel WHERE NOT (tenant_id = 'globex')" -c "$sel WHERE tenant_id <> 'acme'" \
        -c "$sel WHERE tenant_id = 'globex' OR balance > 5")
    err=$(cat "$errf")
    echo "with SET pgrouter.tenant = 'globex': ${out:-(no rows)} / $err"
    [ "$(grep -c 'ERROR:  22023: pgrouter: a statement on sharded table "accounts" needs a tenant: it compares tenant_id with NOT' <<<"$err")" -eq 2 ] ||
        fail "NOT (...) and <> after SET pgrouter.tenant: expected two ERROR 22023: $err"
    served_by "= 'globex' OR balance > 5 after SET pgrouter.tenant = 'globex'" \
        shard_a/replica $(tagged "$out" k)
}

# A transaction stays on one cluster: it starts on shard_b (comment on BEGIN),
# a statement for globex (shard_a) inside is refused with 0A000 naming both.
t_shard_error_tx_cross() {
    proxy_only
    local out err errf=$LOGDIR/shard_error_tx_cross.err
    out=$(with_errors "$errf" <<'EOF'
/* tenant=acme */ BEGIN;
INSERT INTO orders (tenant_id, id, amount) VALUES ('acme', 500, 1) RETURNING 'tx', inet_server_port();
SELECT count(*) FROM orders WHERE tenant_id = 'globex';
ROLLBACK;
SELECT 'alive', 1;
EOF
    )
    err=$(cat "$errf")
    echo "stdout: $out"
    echo "stderr: $err"
    served_by "INSERT for acme in the transaction" shard_b/primary $(tagged "$out" tx)
    grep -q 'ERROR:  0A000: pgrouter: this statement belongs to cluster' <<<"$err" ||
        fail "statement for globex in a shard_b transaction: no ERROR 0A000: $err"
    all_equal "a query after the transaction" 1 $(tagged "$out" alive)
    [ "$(rows_with_id orders 500)" = 0 ] || fail "the rolled back INSERT left a row"
    grep -q 'belongs to cluster "shard_a", but the transaction runs on cluster "shard_b"' \
        <<<"$err" || fail "the message does not name the clusters: $(grep ERROR <<<"$err")"
}

# SET pgrouter.tenant, then a plain BEGIN ... COMMIT (as psql, pgbench and
# psycopg send it: BEGIN alone): the transaction runs on the tenant's cluster.
t_shard_tx_session_tenant() {
    proxy_only
    local out err errf=$LOGDIR/shard_tx_session_tenant.err
    out=$(with_errors "$errf" <<'EOF'
SET pgrouter.tenant = 'globex';
BEGIN;
INSERT INTO orders (tenant_id, id, amount) VALUES ('globex', 600, 1) RETURNING 'tx', inet_server_port();
SELECT 'tx', inet_server_port() FROM orders WHERE tenant_id = 'globex' AND id = 600;
COMMIT;
SELECT 'alive', 1;
EOF
    )
    err=$(cat "$errf")
    echo "stdout: $out"
    echo "stderr: $err"
    [ -z "$err" ] || fail "SET pgrouter.tenant = 'globex'; BEGIN; INSERT for globex: $(grep ERROR <<<"$err" | head -n 1)"
    [ "$(tagged "$out" tx | wc -l)" -eq 2 ] || fail "expected 2 results in the transaction"
    served_by "the transaction of tenant globex" shard_a/primary $(tagged "$out" tx)
    rows_only_on orders globex shard_a
}

# The hash as PostgreSQL computes it: each tenant's row is on the owner of
# ((hashtext(t)::bigint % 4) + 4) % 4.
t_shard_hash_sql() {
    proxy_only
    local t b c out args=() seen=""
    for t in stark soylent cyberdyne wonka tyrell; do
        args+=(-c "INSERT INTO orders (tenant_id, id, amount) VALUES ('$t', 700, 1)")
    done
    SPSQL -q "${args[@]}" || fail "INSERTs failed"
    for t in stark soylent cyberdyne wonka tyrell; do
        b=$(sql_bucket "$t") || fail "hashtext on the server failed"
        c=$(bucket_cluster "$b")
        echo "$t: bucket $b -> $c"
        seen="$seen $c"
        rows_only_on orders "$t" "$c" 1
    done
    [[ $seen == *shard_a* && $seen == *shard_b* ]] || fail "test premise: buckets only on$seen"
}

# pgbench, 4 clients x 50 transactions, a random tenant t1..t8 per transaction: the
# comment on BEGIN places the transaction, the INSERT and SELECT name the same
# tenant.  -M simple: only there does pgbench put :n's value inside a quoted
# string or a comment (the other modes would make it a parameter $1).  Not
# SET pgrouter.tenant before BEGIN: see t_shard_tx_session_tenant.  No failed
# transactions; every tenant has rows, on exactly one cluster, the owner of its
# bucket; both shards got rows.
t_shard_pgbench() {
    proxy_only
    local script=$LOGDIR/shard_pgbench.sql out n t b c got
    cat >"$script" <<'EOF'
\set n random(1, 8)
\set id random(1, 1000000000)
/* tenant=t:n */ BEGIN;
INSERT INTO orders (tenant_id, id, amount) VALUES ('t:n', :id, 1);
SELECT count(*) FROM orders WHERE tenant_id = 't:n';
END;
EOF
    out=$(PGPASSWORD=app timeout 60 "$PGBIN/pgbench" -n -h 127.0.0.1 -p "$PORT_shard" -U app \
        -M simple -f "$script" -c 4 -j 2 -t 50 appdb 2>&1) ||
        fail "pgbench exited non-zero: $(grep -v '^progress' <<<"$out" | tail -n 3)"
    echo "$out"
    n=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")
    [ "$n" = 200 ] || fail "pgbench processed '${n}' of 200 transactions"
    if grep -q 'number of failed transactions' <<<"$out"; then
        grep -q 'number of failed transactions: 0 ' <<<"$out" ||
            fail "$(grep 'number of failed' <<<"$out")"
    fi
    for t in t1 t2 t3 t4 t5 t6 t7 t8; do
        b=$(sql_bucket "$t") || fail "hashtext on the server failed"
        c=$(bucket_cluster "$b")
        got=$(where_rows orders "$t")
        echo "$t: bucket $b -> $c; rows: ${got:-none}"
        # 100+ transactions over 8 tenants: each one got rows (a tenant with
        # none would mean its transactions went nowhere, or the test premise broke)
        [ -n "$got" ] || fail "no rows of $t on any primary after $n pgbench transactions"
        [[ $got == "$c:"* && $got != *" "* ]] ||
            fail "rows of $t: '$got', expected them on $c only"
    done
    for c in shard_a shard_b; do
        got=$(DIRECT "$(shard_primary_port "$c")" \
            "SELECT count(*) FROM orders WHERE tenant_id ~ '^t[1-8]\$'")
        echo "$c: $got pgbench rows"
        [ "$got" -gt 0 ] || fail "$c received no pgbench rows"
    done
}

# The shipped config/pgrouter.ini (the main instance's config) shards
# accounts too: acme lands on shard_b through it, as the demo shows.
t_shard_example_config() {
    proxy_only
    local out
    grep -q '^\[sharding\]' "$ITEST_DIR/main/pgrouter.ini" ||
        fail "config/pgrouter.ini has no [sharding] section (README: make demo shards accounts)"
    out=$(PSQL -q -At -F ' ' \
        -c "INSERT INTO accounts (tenant_id, id, balance) VALUES ('acme', 2, 7)
            RETURNING 'ins', inet_server_port()" 2>&1) || fail "INSERT failed: $out"
    echo "$out"
    served_by "INSERT for acme through config/pgrouter.ini" shard_b/primary $(tagged "$out" ins)
    out=$(DIRECT "$SHARD_B_PRIMARY_PORT" "SELECT count(*) FROM accounts WHERE tenant_id = 'acme'
                                          AND id = 2")
    [ "$out" = 1 ] || fail "shard_b has $out rows of acme with id 2, expected 1"
}

# docker/: the compose file has both shard clusters, each replica streams
# from its own primary, pgrouter waits for them; docker/pgrouter.ini names
# exactly the compose services as its shard nodes.
t_shard_docker_config() {
    local out
    "$PY" -c 'import yaml' 2>/dev/null ||
        fail "$PY cannot import yaml (apt-get install python3-yaml, or sh tests/deps.sh test)"
    out=$("$PY" - docker/docker-compose.yml docker/pgrouter.ini <<'PYEOF' 2>&1
import re, sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
svc = doc["services"]
for c in ("a", "b"):
    p, r = "shard-%s-primary" % c, "shard-%s-replica" % c
    assert p in svc and r in svc, "no services %s, %s" % (p, r)
    assert svc[r]["environment"]["PRIMARY_HOST"] == p, "%s streams from elsewhere" % r
    assert p in svc[r]["depends_on"], "%s does not wait for %s" % (r, p)
    assert "healthcheck" in svc[p], "%s has no healthcheck" % p
    assert "./initdb:/docker-entrypoint-initdb.d:ro" in svc[p]["volumes"], "%s: no initdb" % p
    for n in (p, r):
        assert n in svc["pgrouter"]["depends_on"], "pgrouter does not wait for " + n
ini = open(sys.argv[2]).read()
assert re.search(r"^\[sharding\]", ini, re.M), "docker/pgrouter.ini: no [sharding]"
for c in ("a", "b"):
    sec = re.search(r"^\[cluster\.shard_%s\]\n(.*?)(?=^\[|\Z)" % c, ini, re.M | re.S)
    assert sec, "docker/pgrouter.ini: no [cluster.shard_%s]" % c
    body = sec.group(1)
    assert re.search(r"^primary = shard-%s-primary:5432$" % c, body, re.M), body
    assert re.search(r"^replicas = shard-%s-replica:5432$" % c, body, re.M), body
print("ok")
PYEOF
    ) || fail "docker: $out"
    echo "$out"
    grep -q 'CREATE TABLE accounts' docker/initdb/10-pgrouter.sh ||
        fail "docker/initdb does not create the sharded table accounts"
}

# ---- the instance and the list of cases -----------------------------------

# start_shard_pgrouter: the pgrouter instance "shard" with write_shard_ini's
# config; sets PORT_shard and PID_shard, aborts the suite on failure (as
# start_pgrouter in run.sh, which writes the config from config/pgrouter.ini).
start_shard_pgrouter() {
    local dir=$ITEST_DIR/shard port pid attempt
    [ -n "${SHARD_A_PRIMARY_PORT:-}" ] && [ -n "${SHARD_B_PRIMARY_PORT:-}" ] ||
        abort "start pgrouter (shard): the cluster has no shard nodes (cluster.sh up --shards)"
    mkdir -p "$dir"
    for attempt in 1 2 3; do
        port=$(free_port)
        write_shard_ini "$dir/pgrouter.ini" "$port" scram-sha-256
        if ! "$PGROUTER_BIN" -t -c "$dir/pgrouter.ini" >"$dir/check.log" 2>&1; then
            sed 's/^/#   /' "$dir/check.log"
            abort "start pgrouter (shard): pgrouter -t rejects $dir/pgrouter.ini"
        fi
        launch_pgrouter shard "$dir/pgrouter.ini" "$dir/pgrouter.log"
        pid=$LAUNCHED_PID
        PGR_PIDS+=("$pid")
        wait_port "$port" "$pid" 20 && break
        if [ "$attempt" -lt 3 ] && ! kill -0 "$pid" 2>/dev/null &&
            grep -q -i 'in use' "$dir/pgrouter.log"; then
            echo "# pgrouter (shard): port $port was taken, trying another"
            continue
        fi
        tail -n 20 "$dir/pgrouter.log" | sed 's/^/#   /'
        abort "start pgrouter (shard): not listening on 127.0.0.1:$port"
    done
    PORT_shard=$port
    PID_shard=$pid
    echo "# pgrouter (shard, sharding over main, shard_a, shard_b) pid $pid on 127.0.0.1:$port"
}

# shard_cases: in this order (later cases count rows earlier ones wrote).
shard_cases() {
    run shard_setup t_shard_setup
    run shard_insert_placement t_shard_insert_placement
    run shard_reads_on_replica t_shard_reads_on_replica
    run shard_explicit_placement t_shard_explicit_placement
    run shard_comment_hint t_shard_comment_hint
    run shard_set_tenant t_shard_set_tenant
    run shard_startup_option t_shard_startup_option
    run shard_extended_text t_shard_extended_text
    run shard_extended_binary t_shard_extended_binary
    run shard_error_no_tenant t_shard_error_no_tenant
    run shard_error_conflict t_shard_error_conflict
    run shard_error_in_two_clusters t_shard_error_in_two_clusters
    run shard_error_tx_cross t_shard_error_tx_cross
    run shard_classify_agrees t_shard_classify_agrees
    run shard_tx_session_tenant t_shard_tx_session_tenant
    run shard_hash_sql t_shard_hash_sql
    run shard_pgbench t_shard_pgbench
    run shard_example_config t_shard_example_config
    run shard_docker_config t_shard_docker_config
}
