# tests/integration/connect.sh - server logins and start-up, sourced by run.sh
# (which provides start_pgrouter, launch_pgrouter, run, fail, skip, proxy_only,
# DIRECT, RAWPG, PGBENCH), which calls connect_cases.
#
# Instances of their own, for the primary alone:
#   conn     three roles whose server login fails for reasons of their own:
#            pgr_wrongpw (auth_file password differs from the server's),
#            pgr_scram (auth_file holds a SCRAM secret of its password with another
#            salt than the server's: pass-through cannot log in), and app asking for
#            template0 (datallowconn = false) or a database that does not exist
#   connlh   the primary given as localhost:PORT (a name to resolve)
# The cases: test_pqloop against the primary; login errors go to their client
# with the server's SQLSTATE and message, never count against the node's
# breaker, and are not retried in a storm; a FATAL for one session's own reasons
# does not count either; a failing RAND_bytes refuses the client (connrand, an
# instance with a preloaded shim); a node named by host name works; a second
# pgrouter on a port already served refuses to start.
# shellcheck shell=bash disable=SC2317,SC2154

CONN_WRONGPW_SERVER=server-side-pw
CONN_WRONGPW_PROXY=proxy-side-pw
CONN_SCRAM_PW=scram-only-pw

# conn_write_ini FILE NODE_HOST: a minimal config on the port start_pgrouter chose,
# the primary at NODE_HOST:PRIMARY_PORT, and the extra users in the auth_file.
conn_write_ini() {
    local ini=$1 host=$2 port userlist secret
    port=$(sed -n 's/^[[:space:]]*listen_port[[:space:]]*=[[:space:]]*\([0-9]*\).*/\1/p' "$ini")
    userlist=$(dirname "$ini")/userlist.txt
    # A SCRAM secret of pgr_scram's password with a salt of its own, not the server's:
    # pgrouter checks the client with it, but the key it recovers cannot log in there.
    secret=$("$PY" -c 'import base64 as b, hashlib as h, hmac, os, sys
s = os.urandom(16); k = h.pbkdf2_hmac("sha256", sys.argv[1].encode(), s, 4096)
m = lambda t: hmac.new(k, t, h.sha256).digest()
e = lambda x: b.b64encode(x).decode()
print("SCRAM-SHA-256$4096:%s$%s:%s" % (e(s), e(h.sha256(m(b"Client Key")).digest()),
                                       e(m(b"Server Key"))))' "$CONN_SCRAM_PW")
    {
        echo '"app" "app"'
        echo "\"pgr_wrongpw\" \"$CONN_WRONGPW_PROXY\""
        echo "\"pgr_scram\" \"$secret\""
    } >"$userlist"
    cat >"$ini.new" <<EOF
; written by tests/integration/connect.sh
[pgrouter]
listen_addr = 127.0.0.1
listen_port = $port
auth_type = scram-sha-256
auth_file = $userlist
pool_mode = transaction
default_pool_size = 5
query_wait_timeout = 10

[cluster.main]
primary = $host:$PRIMARY_PORT
EOF
    mv "$ini.new" "$ini"
}

conn_ini() {
    conn_write_ini "$1" 127.0.0.1
}

connlh_ini() {
    conn_write_ini "$1" localhost
}

# conn_roles: the roles of the conn instance, on the primary.
conn_roles() {
    DIRECT "$PRIMARY_PORT" "
        DROP ROLE IF EXISTS pgr_wrongpw; DROP ROLE IF EXISTS pgr_scram;
        SET password_encryption = 'scram-sha-256';
        CREATE ROLE pgr_wrongpw LOGIN PASSWORD '$CONN_WRONGPW_SERVER';
        CREATE ROLE pgr_scram LOGIN PASSWORD '$CONN_SCRAM_PW'" postgres >/dev/null &&
        DIRECT "$PRIMARY_PORT" "CREATE TABLE IF NOT EXISTS itest_conn_writes (n int);
            GRANT INSERT, SELECT ON itest_conn_writes TO app" >/dev/null
}

# CONN_RAW ARGS...: rawpg auth against the conn instance; prints its one line.
CONN_RAW() {
    timeout 30 "$PY" "$HERE/rawpg.py" auth --port "$PORT_conn" "$@"
}

# ---- cases ------------------------------------------------------------------

# C and B: a missing database gets the server's SQLSTATE and its exact message,
# once ("FATAL:  FATAL:" was the bug), from psql's point of view too.
t_connect_missing_db_message() {
    proxy_only
    local out
    out=$(CONN_RAW --user app --password app --db pgr_nosuchdb)
    echo "$out"
    [ "$out" = 'E 3D000 FATAL: database "pgr_nosuchdb" does not exist' ] ||
        fail "rawpg: $out"
    out=$(PGPASSWORD=app timeout 30 "$PGBIN/psql" -X -h 127.0.0.1 -p "$PORT_conn" -U app \
        -d pgr_nosuchdb -c 'SELECT 1' 2>&1)
    echo "$out"
    [[ $out == *'failed: FATAL:  database "pgr_nosuchdb" does not exist' ]] ||
        fail "psql: $out"
}

# Each login error reaches its client with the server's SQLSTATE.
t_connect_login_error_sqlstates() {
    proxy_only
    local out
    out=$(CONN_RAW --user app --password app --db template0)
    echo "$out"
    [ "$out" = 'E 55000 FATAL: database "template0" is not currently accepting connections' ] ||
        fail "template0: $out"
    out=$(CONN_RAW --user pgr_wrongpw --password "$CONN_WRONGPW_PROXY" --db appdb)
    echo "$out"
    [ "$out" = 'E 28P01 FATAL: password authentication failed for user "pgr_wrongpw"' ] ||
        fail "wrong password for the server: $out"
    out=$(CONN_RAW --user pgr_scram --password "$CONN_SCRAM_PW" --db appdb)
    echo "$out"
    [[ $out == 'E 28P01 FATAL: the server'"'"'s SCRAM secret for "pgr_scram" differs from pgrouter'"'"'s'* ]] ||
        fail "SCRAM secret with another salt: $out"
}

# conn_burst SECS: failing logins from 2 threads per kind (template0, a wrong
# password for the server, a SCRAM secret the server's salt does not match) for SECS
# seconds; prints the number
# of logins, or "unexpected ..." for an answer other than the expected error.
conn_burst() {
    timeout $(($1 + 60)) "$PY" - "$HERE" "$PORT_conn" "$1" "$CONN_WRONGPW_PROXY" \
        "$CONN_SCRAM_PW" <<'EOF'
import socket, sys, threading, time
sys.path.insert(0, sys.argv[1])
import rawpg
port, secs = int(sys.argv[2]), float(sys.argv[3])
kinds = [("app", "app", "template0", "55000"), ("pgr_wrongpw", sys.argv[4], "appdb", "28P01"),
         ("pgr_scram", sys.argv[5], "appdb", "28P01")]
count, bad, lock = [0], [], threading.Lock()
end = time.monotonic() + secs
def burst(user, password, db, code):
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
                sock.settimeout(30)
                rawpg.login(sock, user, password, db)
            got = "OK"
        except rawpg.PeerError as e:
            got = e.line()
        except Exception as e:
            got = "%s: %s" % (type(e).__name__, e)
        with lock:
            count[0] += 1
            if not got.startswith("E %s " % code):
                bad.append("%s@%s: %s" % (user, db, got))
threads = [threading.Thread(target=burst, args=k) for k in kinds for _ in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("unexpected %s" % bad[0] if bad else count[0])
EOF
}

# A: bursts of failing logins while another client writes (reconnecting for
# every transaction): not one write fails, the breaker never opens, and each
# pool asks the server again only after its cached error expired.
t_connect_login_errors_spare_the_breaker() {
    proxy_only
    local log=$ITEST_DIR/conn/pgrouter.log out n tries pid before refused
    local script=$ITEST_DIR/conn/write.sql
    echo 'INSERT INTO itest_conn_writes VALUES (1);' >"$script"
    before=$(grep -c 'the server refused the login' "$log")
    PGR_PORT=$PORT_conn PGBENCH -n -C -c 2 -j 1 -T 8 -f "$script" >"$ITEST_DIR/conn/bench.out" \
        2>&1 &
    pid=$!
    tries=$(conn_burst 7)
    wait "$pid"
    n=$?
    out=$(cat "$ITEST_DIR/conn/bench.out")
    echo "$out"
    [[ $tries =~ ^[0-9]+$ ]] || fail "a failing login got another answer: $tries"
    [ "$n" -eq 0 ] || fail "pgbench exited $n: $(grep -i -m 1 -e error -e abort <<<"$out")"
    ! grep -q -i aborted <<<"$out" || fail "pgbench: $(grep -i -m 1 aborted <<<"$out")"
    n=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")
    [ "${n:-0}" -ge 10 ] || fail "only '${n}' writes in 8 s"
    if grep -q 'circuit breaker.*-> open' "$log"; then
        fail "breaker opened: $(grep -m 1 'circuit breaker.*-> open' "$log")"
    fi
    refused=$(($(grep -c 'the server refused the login' "$log") - before))
    echo "# $n writes, $tries failing logins, $refused of them reached the server"
    [ "$tries" -ge 12 ] || fail "only $tries failing logins in 7 s"
    # 3 pools, each error kept 3 s, 7 s of bursts from 2 threads each: at most
    # 3 rounds of 2 attempts per pool (some slack), far fewer than the logins.
    [ "$refused" -le 24 ] && [ $((refused * 2)) -lt "$tries" ] ||
        fail "$refused server logins for $tries failing clients (no caching?)"
}

# A: a server that ends one client's session for a reason of that client's own
# (idle_in_transaction_session_timeout, FATAL 25P03) does not count against the
# node: four of them at once (failure_threshold is 3) leave the breaker closed.
t_connect_client_fatal_spares_the_breaker() {
    proxy_only
    local log=$ITEST_DIR/conn/pgrouter.log off i out n
    local script=$ITEST_DIR/conn/idle_tx.sql
    printf '%s\n' 'BEGIN;' "SET LOCAL idle_in_transaction_session_timeout = '200ms';" \
        'SELECT 1;' '\! sleep 1' 'SELECT 2;' >"$script"
    off=$(stat -c %s "$log")
    # At once, so that the four ends follow each other with no success between.
    for i in 1 2 3 4; do
        PGPASSWORD=app timeout 30 "$PGBIN/psql" -X -At -h 127.0.0.1 -p "$PORT_conn" \
            -U app -d appdb -f "$script" >"$ITEST_DIR/conn/idle_tx.$i" 2>&1 &
    done
    wait
    cat "$ITEST_DIR"/conn/idle_tx.*
    n=$(tail -c +"$((off + 1))" "$log" | grep -c 'idle-in-transaction timeout')
    [ "$n" -ge 4 ] || fail "the server ended $n sessions for idle-in-transaction, not 4"
    if tail -c +"$((off + 1))" "$log" | grep -q 'circuit breaker.*-> open'; then
        fail "breaker opened: $(tail -c +"$((off + 1))" "$log" | grep -m 1 'circuit breaker')"
    fi
    out=$(PGPASSWORD=app timeout 30 "$PGBIN/psql" -X -At -h 127.0.0.1 -p "$PORT_conn" \
        -U app -d appdb -c 'SELECT 42' 2>&1)
    [ "$out" = 42 ] || fail "after: $out"
}

# E: when RAND_bytes fails, a new client gets FATAL 58000 (and the log says why)
# instead of a guessable cancel key; once it works again, clients get in. A
# preloaded shim makes RAND_bytes fail while a flag file exists (the process
# needs it at start-up, so it cannot fail from the first call).
t_connect_no_random_cancel_key() {
    proxy_only
    local dir=$ITEST_DIR/connrand so flag pid port out preload i
    mkdir -p "$dir"
    so=$dir/randfail.so
    flag=$dir/fail-now
    rm -f "$flag"
    cat >"$dir/randfail.c" <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <unistd.h>

int RAND_bytes(unsigned char *buf, int num);

/* RAND_bytes fails while the file named by PGR_RANDFAIL exists. */
int RAND_bytes(unsigned char *buf, int num)
{
    static int (*real)(unsigned char *, int);
    const char *flag = getenv("PGR_RANDFAIL");

    if (flag != NULL && access(flag, F_OK) == 0)
        return 0;
    if (real == NULL)
        *(void **)&real = dlsym(RTLD_NEXT, "RAND_bytes");
    return real(buf, num);
}
EOF
    cc -shared -fPIC -o "$so" "$dir/randfail.c" -ldl || fail "cannot build the RAND_bytes shim"
    # An ASan build wants its runtime first among the preloaded libraries.
    preload=$(ldd "$PGROUTER_BIN" | awk '/libasan/ { print $3 }')
    preload="${preload:+$preload }$so"
    port=$(free_port)
    sed "s/^listen_port = .*/listen_port = $port/" "$ITEST_DIR/conn/pgrouter.ini" \
        >"$dir/pgrouter.ini"
    LD_PRELOAD=$preload PGR_RANDFAIL=$flag "$PGROUTER_BIN" -c "$dir/pgrouter.ini" \
        >"$dir/pgrouter.log" 2>&1 &
    pid=$!
    # shellcheck disable=SC2064
    trap "kill -TERM $pid 2>/dev/null" EXIT
    wait_port "$port" "$pid" 20 ||
        fail "pgrouter with the shim did not listen: $(tail -n 3 "$dir/pgrouter.log")"
    : >"$flag"
    out=$(timeout 30 "$PY" "$HERE/rawpg.py" auth --port "$port" --user app --password app)
    echo "$out"
    rm -f "$flag"
    [ "$out" = 'E 58000 FATAL: pgrouter: could not generate a random cancel key' ] ||
        fail "with RAND_bytes failing: $out"
    grep -q 'no random bytes for a cancel key (RAND_bytes failed); client refused' \
        "$dir/pgrouter.log" || fail "not in the log: $(tail -n 3 "$dir/pgrouter.log")"
    for ((i = 0; i < 3; i++)); do
        out=$(timeout 30 "$PY" "$HERE/rawpg.py" auth --port "$port" --user app --password app)
        [ "$out" = 'OK SELECT 1 -> 1' ] || fail "with RAND_bytes working again: $out"
    done
}

# D: a node given by host name is resolved on the loop and works.
t_connect_localhost_node() {
    proxy_only
    local out
    out=$(PGPASSWORD=app timeout 30 "$PGBIN/psql" -X -At -v ON_ERROR_STOP=1 -h 127.0.0.1 \
        -p "$PORT_connlh" -U app -d appdb \
        -c 'INSERT INTO itest_conn_writes VALUES (2)' \
        -c 'SELECT count(*) > 0 FROM itest_conn_writes WHERE n = 2' 2>&1)
    echo "$out"
    [ "$(tail -n 1 <<<"$out")" = t ] || fail "through localhost:$PRIMARY_PORT: $out"
}

# F: a second pgrouter on the port of a running one exits non-zero and says
# why; the first goes on serving.
t_connect_second_instance_refused() {
    proxy_only
    local dir=$ITEST_DIR/conn2 i rc out
    mkdir -p "$dir"
    launch_pgrouter conn2 "$ITEST_DIR/conn/pgrouter.ini" "$dir/pgrouter.log"
    PGR_PIDS+=("$LAUNCHED_PID")
    for ((i = 0; i < 100; i++)); do
        [ -s "$dir/exit" ] && break
        sleep 0.1
    done
    cat "$dir/pgrouter.log"
    rc=$(cat "$dir/exit" 2>/dev/null)
    [ -n "$rc" ] || fail "the second pgrouter is still running after 10 s"
    [ "$rc" -ne 0 ] || fail "the second pgrouter exited 0"
    grep -q "cannot listen on 127.0.0.1:$PORT_conn: address already in use by another process" \
        "$dir/pgrouter.log" ||
        fail "no clear log line: $(tail -n 1 "$dir/pgrouter.log")"
    for ((i = 0; i < 5; i++)); do
        out=$(PGPASSWORD=app timeout 30 "$PGBIN/psql" -X -At -h 127.0.0.1 -p "$PORT_conn" \
            -U app -d appdb -c 'SELECT 1' 2>&1)
        [ "$out" = 1 ] || fail "the first pgrouter no longer serves: $out"
    done
}

# connect_cases: start the instances (unless no connect case is wanted) and run
# the cases.
connect_cases() {
    local name wanted=0
    for name in connect_missing_db_message connect_login_error_sqlstates \
        connect_login_errors_spare_the_breaker connect_client_fatal_spares_the_breaker \
        connect_no_random_cancel_key connect_localhost_node \
        connect_second_instance_refused; do
        if [ -z "$ITEST_ONLY" ] || [[ $name =~ $ITEST_ONLY ]]; then
            wanted=1
        fi
    done
    [ "$wanted" -eq 1 ] || return 0
    if [ "$ITEST_DIRECT" != 1 ]; then
        conn_roles || abort "connect: cannot create the test roles"
        start_pgrouter conn scram-sha-256 conn_ini
        start_pgrouter connlh scram-sha-256 connlh_ini
    fi
    run connect_missing_db_message t_connect_missing_db_message
    run connect_login_error_sqlstates t_connect_login_error_sqlstates
    run connect_login_errors_spare_the_breaker t_connect_login_errors_spare_the_breaker
    run connect_client_fatal_spares_the_breaker t_connect_client_fatal_spares_the_breaker
    run connect_no_random_cancel_key t_connect_no_random_cancel_key
    run connect_localhost_node t_connect_localhost_node
    run connect_second_instance_refused t_connect_second_instance_refused
}
