#!/usr/bin/python3
"""tests/integration/test_lifecycle.py - client limits, idle timeouts, session
pooling and signals, against the instances lifecycle.sh starts.

Run by run.sh (run_py) with Debian's /usr/bin/python3 (python3-psycopg).
Environment: PRIMARY_PORT, REPLICA1_PORT, REPLICA2_PORT (the main cluster,
reached directly as postgres/postgres); LIFE_DIR (run.sh's ITEST_DIR: each
instance's config, log and exit status live in LIFE_DIR/NAME/); LIFE_*_PORT and
LIFE_SIG_PID, LIFE_INT_PID (see lifecycle.sh); ITEST_DIRECT=1 skips every case.

What the README promises and each case checks:
  - max_client_conn: a client past it gets FATAL 53300; a freed slot is reusable;
  - client_idle_timeout: FATAL 57P05 after that long idle, not before;
  - idle_transaction_timeout: FATAL 25P03, and the transaction does not commit;
  - client_login_timeout: FATAL 08P01 for a client that does not log in;
  - read_fallback = error: with no replica up, reads get ERROR 08006 and the
    session goes on (writes and primary-hinted reads work);
  - pool_mode = session: a client keeps its server until it leaves, then the
    server is reset (server_reset_query) before the next client gets it;
  - SIGHUP: new clients get the new settings, connected ones keep theirs; a
    config with errors is refused and the old one stays;
  - SIGTERM: no new clients, idle ones get FATAL 57P01, a transaction may run on and
    COMMIT, exit 0 then;
  - SIGINT: every client gets FATAL 57P01, the process exits at once (status 0).
Waits have deadlines; how long things took is printed as `# measured:` lines.

Prints one `ok - lifecycle: NAME` or `not ok - lifecycle: NAME: reason` line per
case and exits 1 if any failed.  Arguments, if given, are substrings of case names.
"""

import os
import signal
import socket
import sys
import time

import psycopg

import rawpg
from itest import (PRIMARY, Skip, Suite, check, env_int,  # noqa: E402,F401 - shared
                   exit_status, measured, pid_alive, wait_for)

REPLICAS = {int(os.environ.get("REPLICA1_PORT", "0")), int(os.environ.get("REPLICA2_PORT", "0"))}
LIFE_DIR = os.environ.get("LIFE_DIR", "")
CONNINFO = "host=127.0.0.1 port=%s user=app password=app dbname=appdb connect_timeout=10"

SUITE = Suite("lifecycle")
case = SUITE.case

def connect(port, **kw):
    kw.setdefault("autocommit", True)
    return psycopg.connect(CONNINFO % port, **kw)


def direct(dbname="appdb"):
    return psycopg.connect("host=127.0.0.1 port=%d user=postgres password=postgres dbname=%s "
                           "connect_timeout=10" % (PRIMARY, dbname), autocommit=True)


def raw_login(port, timeout=20.0):
    """A logged-in raw socket (rawpg) as app."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.settimeout(timeout)
    rawpg.login(sock, "app", "app", "appdb")
    return sock


def raw_wait_error(sock, secs):
    """Wait up to SECS for the peer's next message; it must be an ErrorResponse,
    and the peer must close after it.  Returns (fields, seconds waited)."""
    sock.settimeout(secs)
    t0 = time.monotonic()
    try:
        mtype, payload = rawpg.read_msg(sock)
    except socket.timeout:
        raise AssertionError("the peer said nothing for %.0f s" % secs) from None
    except rawpg.Closed:
        raise AssertionError("the peer closed without an ErrorResponse") from None
    waited = time.monotonic() - t0
    check(mtype == b"E", "expected an ErrorResponse, got message %r" % mtype)
    fields = rawpg.parse_error(payload)
    sock.settimeout(10)
    try:
        rest = sock.recv(1)
    except ConnectionResetError:
        rest = b""
    except socket.timeout:
        raise AssertionError("the connection stayed open 10 s after %s %s"
                             % (fields.get("S"), fields.get("C"))) from None
    check(rest == b"", "bytes after %s %s: %r" % (fields.get("S"), fields.get("C"), rest))
    return fields, waited


def life_path(name, what):
    return os.path.join(LIFE_DIR, name, what)


def log_has(name, text, since=0):
    with open(life_path(name, "pgrouter.log"), "rb") as f:
        f.seek(since)
        return text.encode() in f.read()


def log_size(name):
    return os.path.getsize(life_path(name, "pgrouter.log"))


# ---- max_client_conn -------------------------------------------------------

@case
def max_client_conn_refuses_with_53300():
    port = env_int("LIFE_LIMIT_PORT")
    held = [connect(port) for _ in range(3)]
    try:
        for i, c in enumerate(held):
            check(c.execute("SELECT %s::int", (i,)).fetchone()[0] == i, "client %d" % i)
        sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        sock.settimeout(20)
        try:
            rawpg.login(sock, "app", "app", "appdb")
            raise AssertionError("a 4th client logged in with max_client_conn = 3")
        except rawpg.PeerError as e:
            f = e.fields
        finally:
            sock.close()
        print("# 4th client: %s %s %s" % (f.get("S"), f.get("C"), f.get("M")), flush=True)
        check(f.get("C") == "53300" and f.get("S") == "FATAL",
              "expected FATAL 53300, got %s %s: %s" % (f.get("S"), f.get("C"), f.get("M")))
        check("max_client_conn" in f.get("M", ""), "the message does not name "
              "max_client_conn: %s" % f.get("M"))
        for i, c in enumerate(held):
            check(c.execute("SELECT 1").fetchone()[0] == 1, "held client %d after the refusal" % i)
        held.pop().close()

        def fourth():
            try:
                with connect(port) as c:
                    return c.execute("SELECT 7").fetchone()[0] == 7
            except psycopg.OperationalError:
                return False
        waited = wait_for("a client in the freed slot", fourth, 20)
        measured("max_client_conn: a freed slot was taken %.0f ms after the close"
                 % (waited * 1000))
    finally:
        for c in held:
            c.close()


# ---- idle timeouts ---------------------------------------------------------

@case
def client_idle_timeout_closes_idle_clients_with_57P05():
    port = env_int("LIFE_IDLE_PORT")
    # a client busier than the timeout is left alone
    with connect(port) as busy:
        t0 = time.monotonic()
        while time.monotonic() - t0 < 5:
            check(busy.execute("SELECT 1").fetchone()[0] == 1, "a busy client failed")
            time.sleep(0.2)
    sock = raw_login(port)
    try:
        check(rawpg.simple_query(sock, "SELECT 1") == "1", "SELECT 1")
        f, waited = raw_wait_error(sock, 30)
    finally:
        sock.close()
    measured("client_idle_timeout = 2 s: FATAL after %.2f s idle" % waited)
    check(f.get("S") == "FATAL" and f.get("C") == "57P05",
          "expected FATAL 57P05, got %s %s: %s" % (f.get("S"), f.get("C"), f.get("M")))
    check(waited >= 1.9, "closed after %.2f s, client_idle_timeout is 2 s" % waited)


@case
def idle_transaction_timeout_closes_with_25P03_and_rolls_back():
    port = env_int("LIFE_IDLE_PORT")
    with direct() as d:
        d.execute("DROP TABLE IF EXISTS itest_life_tx")
        d.execute("CREATE TABLE itest_life_tx (id int)")
        d.execute("GRANT ALL ON itest_life_tx TO app")
    sock = raw_login(port)
    try:
        rawpg.simple_query(sock, "BEGIN")
        rawpg.simple_query(sock, "INSERT INTO itest_life_tx VALUES (1)")
        f, waited = raw_wait_error(sock, 30)
    finally:
        sock.close()
    measured("idle_transaction_timeout = 1 s: FATAL after %.2f s idle in a transaction"
             % waited)
    check(f.get("S") == "FATAL" and f.get("C") == "25P03",
          "expected FATAL 25P03, got %s %s: %s" % (f.get("S"), f.get("C"), f.get("M")))
    check(waited >= 0.9, "closed after %.2f s, idle_transaction_timeout is 1 s" % waited)

    def gone():
        with direct() as d:
            return d.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = 'app' "
                             "AND state LIKE 'idle in transaction%'").fetchone()[0] == 0
    wait_for("the server's transaction ends", gone, 20)
    with direct() as d:
        n = d.execute("SELECT count(*) FROM itest_life_tx").fetchone()[0]
        d.execute("DROP TABLE itest_life_tx")
    check(n == 0, "the timed-out transaction's row was committed")


@case
def client_login_timeout_closes_with_08P01():
    port = env_int("LIFE_IDLE_PORT")
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    try:
        sock.sendall(rawpg.startup_packet("app", "appdb"))
        t0 = time.monotonic()
        f, seen = rawpg.next_error(sock, 30)     # after the authentication request
        waited = time.monotonic() - t0
        check(rawpg.closed_after(sock), "the connection stayed open after the FATAL")
    finally:
        sock.close()
    measured("client_login_timeout = 2 s: FATAL after %.2f s without a password" % waited)
    check(f.get("S") == "FATAL" and f.get("C") == "08P01",
          "expected FATAL 08P01, got %s %s: %s" % (f.get("S"), f.get("C"), f.get("M")))
    check("client_login_timeout" in f.get("M", ""), "the message does not name "
          "client_login_timeout: %s" % f.get("M"))
    check(seen == [b"R"], "messages before the FATAL: %r" % seen)
    check(waited >= 1.9, "closed after %.2f s, client_login_timeout is 2 s" % waited)


# ---- read_fallback = error -------------------------------------------------

@case
def read_fallback_error_refuses_reads_with_08006():
    port = env_int("LIFE_DEAD_PORT")
    with connect(port) as conn:
        errs = []
        for _ in range(10):
            try:
                got = conn.execute("SELECT inet_server_port()").fetchone()[0]
                raise AssertionError("a read ran on port %d with the only replica down and "
                                     "read_fallback = error" % got)
            except psycopg.Error as e:
                errs.append((e.sqlstate, str(e).strip().split("\n")[0]))
            check(not conn.closed, "the session was closed after a refused read: %r"
                  % errs[-1:])
        print("# refused reads: %s" % sorted(set(errs)), flush=True)
        check(all(state == "08006" for state, _ in errs),
              "SQLSTATEs of the refused reads: %r" % sorted(set(errs)))
        check(any("can take reads now" in m for _, m in errs),
              "no read got 'no replica ... can take reads now': %r" % sorted(set(errs)))
        got = conn.execute("/* pgrouter_role: primary */ SELECT inet_server_port()").fetchone()[0]
        check(got == PRIMARY, "a primary-hinted read ran on port %d" % got)
        with conn.transaction():
            got = conn.execute("SELECT inet_server_port()").fetchone()[0]
        check(got == PRIMARY, "a transaction ran on port %d" % got)


# ---- pool_mode = session ---------------------------------------------------

@case
def session_mode_keeps_the_server_and_resets_it():
    port = env_int("LIFE_SESSION_PORT")
    a = connect(port)
    try:
        a.execute("SET application_name = 'itest_session_a'")
        a.execute("PREPARE itest_sq AS SELECT 1")
        a.execute("CREATE TEMP TABLE itest_st (x int)")
        pids = {a.execute("SELECT pg_backend_pid()").fetchone()[0] for _ in range(5)}
        check(len(pids) == 1, "a session-mode client moved between servers: %r" % pids)
        pid_a = pids.pop()
        # the pool's one server belongs to a while a is connected, idle or not
        # (at its login or its first statement: either waits query_wait_timeout)
        t0 = time.monotonic()
        f = None
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        sock.settimeout(30)
        try:
            rawpg.login(sock, "app", "app", "appdb")
            rawpg.simple_query(sock, "SELECT 1")
        except rawpg.PeerError as e:
            f = e.fields
        finally:
            sock.close()
        check(f is not None, "a second client ran a statement while the pool's only "
              "server belonged to a connected session-mode client")
        print("# second client: %s %s %s (after %.1f s)" % (f.get("S"), f.get("C"), f.get("M"),
                                                            time.monotonic() - t0), flush=True)
        check(f.get("C") == "53300", "expected SQLSTATE 53300, got %s %s: %s"
              % (f.get("S"), f.get("C"), f.get("M")))
        check(a.execute("EXECUTE itest_sq").fetchone()[0] == 1, "a's prepared statement")
        check(a.execute("SELECT pg_backend_pid()").fetchone()[0] == pid_a, "a moved")
    finally:
        a.close()
    # a left: the next client gets the same server (pool of one), reset
    deadline = time.monotonic() + 20
    while True:
        try:
            c = connect(port)
            break
        except psycopg.OperationalError:
            check(time.monotonic() < deadline, "no login within 20 s after a left")
            time.sleep(0.1)
    with c:
        row = c.execute("SELECT pg_backend_pid(), current_setting('application_name'), "
                        "(SELECT count(*) FROM pg_prepared_statements), "
                        "to_regclass('pg_temp.itest_st') IS NULL").fetchone()
    print("# next client: %r" % (row,), flush=True)
    check(row[0] == pid_a, "the next client got backend %d, not a's %d (pool of one)"
          % (row[0], pid_a))
    check(row[1] != "itest_session_a", "a's application_name survived on the server")
    check(row[2] == 0, "%d prepared statement(s) of a survived on the server" % row[2])
    check(row[3], "a's temp table survived on the server")


# ---- signals ---------------------------------------------------------------

def ports_of(conn, n):
    return [conn.execute("SELECT inet_server_port()").fetchone()[0] for _ in range(n)]


@case
def sighup_reloads_for_new_clients():
    port, pid = env_int("LIFE_SIG_PORT"), env_int("LIFE_SIG_PID")
    ini = life_path("life_sig", "pgrouter.ini")
    before = connect(port)
    try:
        got = ports_of(before, 4)
        check(set(got) <= REPLICAS, "reads before the reload ran on %r" % got)
        with open(ini) as f:
            good = f.read()
        with open(ini, "a") as f:
            f.write("\n[routing]\ndefault_role = primary\n")
        off = log_size("life_sig")
        os.kill(pid, signal.SIGHUP)
        waited = wait_for("'configuration reloaded' in the log",
                          lambda: log_has("life_sig", "configuration reloaded", off), 20)
        measured("SIGHUP -> configuration reloaded: %.0f ms" % (waited * 1000))
        with connect(port) as new:
            got = ports_of(new, 4)
        check(set(got) == {PRIMARY}, "a client after the reload (default_role = primary) "
              "read on %r" % got)
        got = ports_of(before, 4)
        check(set(got) <= REPLICAS, "a client connected before the reload read on %r: it "
              "should keep its settings" % got)

        # a config with an error: refused, logged, the running one stays
        with open(ini, "a") as f:
            f.write("no_such_key_itest = 1\n")
        off = log_size("life_sig")
        os.kill(pid, signal.SIGHUP)
        wait_for("'reload failed' in the log",
                 lambda: log_has("life_sig", "reload failed", off), 20)
        check(pid_alive(pid), "pgrouter exited after a reload with errors")
        with connect(port) as new:
            got = ports_of(new, 4)
        check(set(got) == {PRIMARY}, "after a refused reload a new client read on %r" % got)
        with open(ini, "w") as f:
            f.write(good)
    finally:
        before.close()


@case
def sigterm_closes_idle_clients_and_lets_a_transaction_commit():
    port, pid = env_int("LIFE_SIG_PORT"), env_int("LIFE_SIG_PID")
    check(pid_alive(pid), "life_sig is not running")
    a = connect(port, autocommit=False)
    b = raw_login(port)
    try:
        a.execute("SELECT 1")       # a is in a transaction now
        off = log_size("life_sig")
        t0 = time.monotonic()
        os.kill(pid, signal.SIGTERM)
        f, seen = rawpg.next_error(b, 20)
        print("# idle client: %s %s %s" % (f.get("S"), f.get("C"), f.get("M")), flush=True)
        check(f.get("S") == "FATAL" and f.get("C") == "57P01",
              "the idle client got %s %s: %s" % (f.get("S"), f.get("C"), f.get("M")))
        check(log_has("life_sig", "shutting down", off), "no 'shutting down' line logged")
        refused = None
        try:
            with connect(port) as c:
                c.execute("SELECT 1")
        except psycopg.OperationalError as e:
            refused = e
        check(refused is not None, "a new client logged in after SIGTERM")
        print("# new client after SIGTERM: %s" % str(refused).strip().replace("\n", " | "),
              flush=True)
        for i in range(3):
            check(a.execute("SELECT %s::int", (i,)).fetchone()[0] == i,
                  "statement %d of the open transaction after SIGTERM" % i)
        check(pid_alive(pid), "pgrouter exited with a transaction open")
        a.commit()
    finally:
        a.close()
        b.close()
    status = exit_status(LIFE_DIR, "life_sig", 30)
    measured("SIGTERM: idle client closed, the transaction committed, exit %.0f ms after the "
             "signal" % ((time.monotonic() - t0) * 1000))
    check(status == 0, "exit status %d after SIGTERM" % status)


@case
def sigint_sends_57P01_and_exits():
    port, pid = env_int("LIFE_INT_PORT"), env_int("LIFE_INT_PID")
    idle = raw_login(port)
    busy = raw_login(port)
    try:
        check(rawpg.simple_query(idle, "SELECT 1") == "1", "SELECT 1")
        busy.sendall(rawpg.msg(b"Q", b"SELECT pg_sleep(30), 'itest_sigint'\0"))

        def sleeping():
            with direct("postgres") as d:
                return d.execute("SELECT count(*) FROM pg_stat_activity WHERE "
                                 "query LIKE '%itest_sigint%' AND state = 'active' "
                                 "AND pid <> pg_backend_pid()").fetchone()[0] > 0
        wait_for("pg_sleep(30) running", sleeping, 20)
        t0 = time.monotonic()
        os.kill(pid, signal.SIGINT)
        for what, sock in (("idle", idle), ("busy", busy)):
            f, seen = rawpg.next_error(sock, 20)
            print("# %s client: %s %s %s (after %r)" % (what, f.get("S"), f.get("C"),
                                                       f.get("M"), seen), flush=True)
            check(f.get("S") == "FATAL" and f.get("C") == "57P01",
                  "the %s client got %s %s: %s" % (what, f.get("S"), f.get("C"), f.get("M")))
            check(rawpg.closed_after(sock), "the %s client's connection stayed open" % what)
            sock.close()    # pgrouter waits (up to 5 s) for a told client to hang up
        status = exit_status(LIFE_DIR, "life_int", 20)
        measured("SIGINT: both clients told and the process gone after %.0f ms"
                 % ((time.monotonic() - t0) * 1000))
        check(status == 0, "exit status %d after SIGINT" % status)
    finally:
        idle.close()
        busy.close()



def main():
    return SUITE.run(need=[(PRIMARY and LIFE_DIR, "PRIMARY_PORT and LIFE_DIR must be set")])


if __name__ == "__main__":
    sys.exit(main())
