#!/usr/bin/python3
"""tests/integration/test_admincmd.py - the console's control commands, against the
instances admincmd.sh starts (admin_users = admin).

Run by run.sh (run_py) with Debian's /usr/bin/python3 (python3-psycopg).
Environment: PRIMARY_PORT, REPLICA1_PORT, REPLICA2_PORT (the main cluster, reached
directly as postgres/postgres); CTL_DIR (each instance's config, log and exit status
live in CTL_DIR/NAME/); PGBIN (pgbench); CTL_PORT, CTL_PID (ctl: both replicas,
default_pool_size = 4, query_wait_timeout = 2); CTL_SHUT_PORT, CTL_SHUT_PID (ctl_shut).

What the README promises ("Control commands") and each case checks:
  - a stats_users login gets 42501 for every control command, and nothing happens;
  - RESUME while a PAUSE still waits cancels it: that PAUSE answers 57014;
  - PAUSE returns only once a client's open transaction has committed (it blocks for
    as long as the transaction stays open); a query sent during the PAUSE waits, longer
    than query_wait_timeout, and completes after RESUME without an error; PAUSE closes
    pgrouter's idle servers; PAUSE twice and RESUME unpaused are errors (55000);
  - RECONNECT: the next transaction runs on a new server (pg_backend_pid), the old one
    is closed; WAIT_CLOSE blocks while a server marked by RECONNECT is still in a
    transaction and returns once it has been given back and closed;
  - KILL <id> (the id column of SHOW CLIENTS) and KILL_CLIENT <id> close that client with
    FATAL 57P01 and nobody else; an unknown id is 42704; KILL <db> closes that
    database's clients and holds new ones until RESUME <db>;
  - DISABLE host:port: no read reaches that replica (inet_server_port) while a
    transaction already on it finishes there; ENABLE brings it back; the primary and
    an unknown node are refused;
  - RELOAD of a config with an error answers ERROR F0000 naming file:line, and the
    running configuration keeps working; a good config reloads;
  - pgbench through pgrouter during PAUSE/RESUME/RECONNECT cycles: 0 failed
    transactions;
  - SHUTDOWN (as SIGTERM): no new clients, an idle client gets FATAL 57P01, a
    transaction finishes (then its client is closed), exit 0; PgBouncer's
    WAIT_FOR_CLIENTS/WAIT_FOR_SERVERS are refused (0A000).
Prints one `ok - admincmd: NAME` or `not ok - admincmd: NAME: reason` line per case and
exits 1 if any failed.  Arguments, if given, are substrings of case names.
"""

import os
import re
import socket
import subprocess
import sys
import threading
import time

import psycopg

import rawpg
from itest import (PGBIN, PRIMARY, R1, R2, Suite, check, env_int, local_ports, measured,
                   wait_for)

CTL_DIR = os.environ.get("CTL_DIR", "")
CONNINFO = "host=127.0.0.1 port=%s user=app password=app dbname=%s connect_timeout=10"

SUITE = Suite("admincmd")
case = SUITE.case


def connect(port, dbname="appdb"):
    return psycopg.connect(CONNINFO % (port, dbname), autocommit=True)


def admin(port):
    """The console as admin_users' admin, over the simple query protocol."""
    return psycopg.connect("host=127.0.0.1 port=%d user=admin password=admin dbname=pgrouter "
                           "connect_timeout=10" % port, autocommit=True,
                           cursor_factory=psycopg.ClientCursor)


def direct(port, dbname="postgres"):
    return psycopg.connect("host=127.0.0.1 port=%d user=postgres password=postgres "
                           "dbname=%s" % (port, dbname), autocommit=True)


def refused(conn, sql, sqlstate, text=None):
    """sql on conn fails with sqlstate (and text in its message); returns the message."""
    try:
        conn.execute(sql)
    except psycopg.Error as e:
        check(e.sqlstate == sqlstate, "%s: SQLSTATE %s (%s), expected %s"
              % (sql, e.sqlstate, str(e).strip(), sqlstate))
        check(text is None or text in str(e), "%s: %r lacks %r" % (sql, str(e), text))
        return str(e)
    check(False, "%s worked; expected an error %s" % (sql, sqlstate))
    return ""


def closed_by(conn, text):
    """conn, idle when pgrouter closed it, fails its next query with text in the error
    (libpq reads the FATAL while idle, so no SQLSTATE comes with it)."""
    try:
        conn.execute("SELECT 1")
    except psycopg.Error as e:
        check(e.sqlstate in (None, "57P01"), "SQLSTATE %s: %s" % (e.sqlstate, e))
        check(text in str(e), "%r lacks %r" % (str(e), text))
        return
    check(False, "the closed client's query worked")


class Bg:
    """fn() in a thread: .done, .result, .error, .took (seconds)."""

    def __init__(self, fn):
        self.result = self.error = None
        self.took = None
        self.t0 = time.monotonic()

        def run():
            try:
                self.result = fn()
            except Exception as e:  # noqa: BLE001 - reported by the case
                self.error = e
            self.took = time.monotonic() - self.t0

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    @property
    def done(self):
        return not self.thread.is_alive()

    def join(self, what, secs):
        self.thread.join(secs)
        check(self.done, "%s: still not done after %.0f s" % (what, secs))
        if self.error is not None:
            raise AssertionError("%s failed: %s" % (what, self.error))
        return self.result


def servers_of(pid, node):
    """Backend pids on node that are pgrouter PID's pooled servers."""
    ports = local_ports(pid)
    with direct(node) as d:
        rows = d.execute("SELECT pid FROM pg_stat_activity WHERE application_name = 'pgrouter' "
                         "AND client_port = ANY(%s)", (ports,)).fetchall()
    return {r[0] for r in rows}


def alive(node, backend_pid):
    with direct(node) as d:
        return d.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s",
                         (backend_pid,)).fetchone()[0] > 0


def tx_pid(conn):
    """pg_backend_pid() in a transaction (BEGIN pins to the primary)."""
    with conn.transaction():
        return conn.execute("SELECT pg_backend_pid()").fetchone()[0]


def read_ports(conn, n):
    return [conn.execute("SELECT inet_server_port()").fetchone()[0] for _ in range(n)]


def local_port(conn):
    sock = socket.socket(fileno=os.dup(conn.pgconn.socket))
    try:
        return sock.getsockname()[1]
    finally:
        sock.close()


def client_id(adm, port):
    """The id in SHOW CLIENTS of the client whose local port is port."""
    cur = adm.execute("SHOW CLIENTS")
    names = [c.name for c in cur.description]
    check("id" in names and "port" in names, "SHOW CLIENTS has no id/port column: %r" % names)
    for row in cur.fetchall():
        r = dict(zip(names, row))
        if str(r["port"]) == str(port):
            return int(r["id"])
    check(False, "no row of SHOW CLIENTS has port %d" % port)
    return 0


def resume_quietly(port):
    try:
        with admin(port) as adm:
            adm.execute("RESUME")
    except psycopg.Error:
        pass


# ---- PAUSE / RESUME ----------------------------------------------------------

@case
def stats_users_may_not_run_control_commands():
    port = env_int("CTL_PORT")
    with psycopg.connect("host=127.0.0.1 port=%d user=stats password=stats "
                         "dbname=pgrouter connect_timeout=10" % port, autocommit=True,
                         cursor_factory=psycopg.ClientCursor) as watcher:
        for cmd in ("RELOAD", "PAUSE", "RESUME", "RECONNECT", "WAIT_CLOSE", "KILL 1",
                    "KILL_CLIENT 1", "KILL appdb", "DISABLE 127.0.0.1:%d" % R1,
                    "ENABLE 127.0.0.1:%d" % R1, "SHUTDOWN"):
            refused(watcher, cmd, "42501")
        check(watcher.execute("SHOW VERSION").fetchone() is not None, "SHOW after the refusals")
    with admin(port) as adm:
        refused(adm, "RESUME", "55000", "not paused")     # the refused PAUSE did nothing
    with connect(port) as c:
        check(c.execute("SELECT 1").fetchone()[0] == 1, "a client after the refused SHUTDOWN")


@case
def pause_waits_for_the_open_transaction_and_resume_lets_waiters_go():
    port, pid = env_int("CTL_PORT"), env_int("CTL_PID")
    holder = connect(port)
    waiter = connect(port)
    adm = admin(port)
    try:
        holder.execute("BEGIN")
        holder.execute("SELECT 1")
        paused = Bg(lambda: adm.execute("PAUSE"))
        time.sleep(1.0)
        check(not paused.done, "PAUSE returned while a transaction was open (%r)"
              % paused.error)
        # A query during the PAUSE waits (it has no server yet).
        query = Bg(lambda: waiter.execute("SELECT 42").fetchone()[0])
        time.sleep(0.5)
        check(not query.done, "a query ran during the PAUSE: %r" % (query.result or query.error))
        commit_at = time.monotonic()
        holder.execute("COMMIT")
        paused.join("PAUSE after the COMMIT", 10)
        blocked = paused.took
        check(paused.t0 + blocked >= commit_at, "PAUSE returned before the COMMIT")
        measured("PAUSE blocked %.2f s, until the open transaction committed (%.0f ms after "
                 "the COMMIT)" % (blocked, (paused.t0 + blocked - commit_at) * 1000))
        # Its idle servers are closed once PAUSE returns.
        for node in (PRIMARY, R1, R2):
            left = servers_of(pid, node)
            check(not left, "after PAUSE pgrouter still holds servers %r on %d" % (left, node))
        with admin(port) as adm2:
            refused(adm2, "PAUSE", "55000", "already paused")
            refused(adm2, "RESUME appdb", "55000", "paused as a whole")
        # Longer than query_wait_timeout (2 s): the waiting query does not time out.
        time.sleep(2.5)
        check(not query.done, "the query waiting in the PAUSE ended: %r"
              % (query.result or query.error))
        adm.execute("RESUME")
        got = query.join("the query held by PAUSE, after RESUME", 10)
        check(got == 42, "the held query returned %r" % got)
        measured("a query sent during PAUSE waited %.1f s (query_wait_timeout = 2 s) and "
                 "completed after RESUME" % query.took)
        refused(adm, "RESUME", "55000", "not paused")
        check(holder.execute("SELECT 1").fetchone()[0] == 1, "holder after RESUME")
    finally:
        resume_quietly(port)
        for c in (holder, waiter, adm):
            c.close()


@case
def resume_cancels_a_pause_that_still_waits():
    port = env_int("CTL_PORT")
    holder = connect(port)
    adm = admin(port)
    try:
        holder.execute("BEGIN")
        holder.execute("SELECT 1")
        paused = Bg(lambda: adm.execute("PAUSE"))
        time.sleep(0.5)
        check(not paused.done, "PAUSE returned while a transaction was open")
        with admin(port) as adm2:
            adm2.execute("RESUME")
        paused.thread.join(5)
        check(paused.done, "the PAUSE still waits 5 s after RESUME")
        e = paused.error
        check(isinstance(e, psycopg.Error) and e.sqlstate == "57014" and
              "cancelled by RESUME" in str(e), "the cancelled PAUSE answered %r" % e)
        check(holder.execute("SELECT 2").fetchone()[0] == 2, "the holder after RESUME")
        holder.execute("COMMIT")
        refused(adm, "RESUME", "55000", "not paused")
    finally:
        resume_quietly(port)
        holder.close()
        adm.close()


@case
def pause_of_one_database_leaves_the_others():
    port = env_int("CTL_PORT")
    adm = admin(port)
    other = connect(port, "postgres")
    app = connect(port)
    try:
        adm.execute("PAUSE postgres")
        check(app.execute("SELECT 1").fetchone()[0] == 1, "appdb while postgres is paused")
        held = Bg(lambda: other.execute("SELECT 2").fetchone()[0])
        time.sleep(0.7)
        check(not held.done, "a query on the paused database ran: %r"
              % (held.result or held.error))
        refused(adm, "PAUSE postgres", "55000", "already paused")
        refused(adm, "RESUME appdb", "55000", "not paused")
        adm.execute("RESUME postgres")
        check(held.join("the query on postgres after RESUME postgres", 10) == 2,
              "the held query's answer")
    finally:
        resume_quietly(port)
        for c in (adm, other, app):
            c.close()


# ---- RECONNECT / WAIT_CLOSE -------------------------------------------------

@case
def reconnect_gives_the_next_transaction_a_new_server():
    port = env_int("CTL_PORT")
    c = connect(port)
    adm = admin(port)
    try:
        first = tx_pid(c)
        check(tx_pid(c) == first, "without RECONNECT the idle server is reused")
        t0 = time.monotonic()
        adm.execute("RECONNECT")
        took = time.monotonic() - t0
        check(took < 2, "RECONNECT took %.1f s" % took)
        after = tx_pid(c)
        check(after != first, "after RECONNECT the transaction ran on the same server %d"
              % first)
        wait_for("the old server %d closed" % first, lambda: not alive(PRIMARY, first), 10)
        adm.execute("RECONNECT appdb")
        check(tx_pid(c) != after, "RECONNECT appdb kept the server")
    finally:
        c.close()
        adm.close()


@case
def wait_close_waits_until_the_marked_servers_are_closed():
    port = env_int("CTL_PORT")
    c = connect(port)
    adm = admin(port)
    try:
        adm.execute("WAIT_CLOSE")       # nothing is marked: at once
        c.execute("BEGIN")
        busy = c.execute("SELECT pg_backend_pid()").fetchone()[0]
        adm.execute("RECONNECT")
        waiting = Bg(lambda: adm.execute("WAIT_CLOSE"))
        time.sleep(0.8)
        check(not waiting.done, "WAIT_CLOSE returned while a marked server was in a "
              "transaction (%r)" % waiting.error)
        check(alive(PRIMARY, busy), "RECONNECT closed a server in a transaction")
        c.execute("COMMIT")
        waiting.join("WAIT_CLOSE after the COMMIT", 10)
        wait_for("the marked server %d closed" % busy, lambda: not alive(PRIMARY, busy), 5)
        measured("WAIT_CLOSE returned %.2f s after it was sent, once the transaction ended"
                 % waiting.took)
        check(tx_pid(c) != busy, "the next transaction reused the marked server")
    finally:
        c.close()
        adm.close()


# ---- KILL ---------------------------------------------------------------------

@case
def kill_closes_that_client_with_57P01():
    port = env_int("CTL_PORT")
    victim = socket.create_connection(("127.0.0.1", port), timeout=10)
    bystander = connect(port)
    adm = admin(port)
    try:
        # A raw client: libpq reads a FATAL that comes while it is idle as the reason the
        # connection closed, and its SQLSTATE is lost on the way.
        rawpg.login(victim, "app", "app", "appdb")
        check(rawpg.simple_query(victim, "SELECT 1") == "1", "the victim before KILL")
        vid = client_id(adm, victim.getsockname()[1])
        t0 = time.monotonic()
        adm.execute("KILL %d" % vid)
        fields, before = rawpg.next_error(victim, 5)
        took = time.monotonic() - t0
        check(fields.get("C") == "57P01" and fields.get("S") == "FATAL" and
              "terminated by admin" in fields.get("M", ""), "the killed client got %r" % fields)
        check(rawpg.closed_after(victim, 5), "the killed client's connection stays open")
        measured("KILL %d: the client got FATAL 57P01 %r after %.0f ms"
                 % (vid, fields.get("M"), took * 1000))
        check(bystander.execute("SELECT 1").fetchone()[0] == 1, "the other client after KILL")
        refused(adm, "KILL %d" % vid, "42704", "no client")
        refused(adm, "KILL 4000000000", "42704", "no client")
        # KILL_CLIENT, PgBouncer 1.21's name; a psycopg client sees the message.
        adm.execute("KILL_CLIENT %d" % client_id(adm, local_port(bystander)))
        closed_by(bystander, "terminated by admin")
    finally:
        victim.close()
        bystander.close()
        adm.close()


@case
def kill_database_closes_its_clients_and_holds_new_ones():
    port = env_int("CTL_PORT")
    victim = connect(port, "postgres")
    app = connect(port)
    adm = admin(port)
    try:
        check(victim.execute("SELECT 1").fetchone()[0] == 1, "a client of postgres")
        adm.execute("KILL postgres")
        closed_by(victim, "killed by admin")
        check(app.execute("SELECT 1").fetchone()[0] == 1, "appdb's client after KILL postgres")
        newcomer = Bg(lambda: connect(port, "postgres").execute("SELECT 3").fetchone()[0])
        time.sleep(0.7)
        check(not newcomer.done, "a new client of the killed database went on: %r"
              % (newcomer.result or newcomer.error))
        adm.execute("RESUME postgres")
        check(newcomer.join("a new client of postgres after RESUME", 10) == 3,
              "the new client's answer")
        refused(adm, "KILL pgrouter", "55000", "console")
    finally:
        resume_quietly(port)
        for c in (victim, app, adm):
            c.close()


# ---- DISABLE / ENABLE ---------------------------------------------------------

@case
def disable_takes_a_replica_out_of_rotation_and_enable_brings_it_back():
    port = env_int("CTL_PORT")
    c = connect(port)
    tx = connect(port)
    adm = admin(port)
    node = "127.0.0.1:%d" % R1
    try:
        seen = set()
        deadline = time.monotonic() + 10
        while seen != {R1, R2} and time.monotonic() < deadline:
            seen.update(read_ports(c, 4))
        check(seen == {R1, R2}, "reads before DISABLE ran on %r" % seen)
        # A read-only transaction on replica1 when DISABLE comes finishes there.
        for _ in range(20):
            tx.execute("BEGIN READ ONLY")
            if tx.execute("SELECT inet_server_port()").fetchone()[0] == R1:
                break
            tx.execute("ROLLBACK")
        else:
            check(False, "no read-only transaction reached replica1")
        adm.execute("DISABLE %s" % node)
        got = read_ports(c, 12)
        check(set(got) == {R2}, "reads after DISABLE %s ran on %r" % (node, got))
        check(tx.execute("SELECT inet_server_port()").fetchone()[0] == R1,
              "the transaction open on the disabled replica moved")
        tx.execute("COMMIT")
        refused(adm, "DISABLE 127.0.0.1:%d" % PRIMARY, "55000", "primary")
        refused(adm, "DISABLE 127.0.0.1:1", "42704", "no node")
        refused(adm, "ENABLE", "42601")
        adm.execute("ENABLE '%s'" % node)
        seen = set()
        deadline = time.monotonic() + 10
        while R1 not in seen and time.monotonic() < deadline:
            seen.update(read_ports(c, 4))
        check(R1 in seen, "no read reached %s after ENABLE (reads ran on %r)" % (node, seen))
    finally:
        try:
            adm.execute("ENABLE %s" % node)
        except psycopg.Error:
            pass
        for conn in (c, tx, adm):
            conn.close()


# ---- RELOAD -----------------------------------------------------------------------

@case
def reload_of_a_broken_config_is_an_error_and_the_old_one_stays():
    port = env_int("CTL_PORT")
    ini = os.path.join(CTL_DIR, "ctl", "pgrouter.ini")
    with open(ini) as f:
        good = f.read()
    c = connect(port)
    adm = admin(port)
    try:
        with open(ini + ".new", "w") as f:
            f.write(good.replace("[pgrouter]\n", "[pgrouter]\ndefault_pool_size = banana\n", 1))
        os.replace(ini + ".new", ini)
        msg = refused(adm, "RELOAD", "F0000", "pgrouter.ini:")
        check("default_pool_size" in msg, "the RELOAD error does not name the key: %r" % msg)
        check(c.execute("SELECT 1").fetchone()[0] == 1, "a client after the failed RELOAD")
        with connect(port) as fresh:
            check(fresh.execute("SELECT 1").fetchone()[0] == 1, "a new client after it")
        measured("RELOAD of a broken config answered: %r" % msg.splitlines()[0])
    finally:
        with open(ini + ".new", "w") as f:
            f.write(good)
        os.replace(ini + ".new", ini)
    try:
        adm.execute("RELOAD")
        check(c.execute("SELECT 1").fetchone()[0] == 1, "a client after the good RELOAD")
    finally:
        c.close()
        adm.close()


# ---- under load ---------------------------------------------------------------------

SCRIPT = """\\set id random(1, 10)
BEGIN;
UPDATE itest_ctl SET v = v + 1 WHERE id = :id;
SELECT v FROM itest_ctl WHERE id = :id;
END;
SELECT v FROM itest_ctl WHERE id = :id;
"""


def ctl_table():
    with psycopg.connect("host=127.0.0.1 port=%d user=app password=app dbname=appdb"
                         % PRIMARY, autocommit=True) as d:
        d.execute("CREATE TABLE IF NOT EXISTS itest_ctl (id int PRIMARY KEY, v bigint)")
        d.execute("INSERT INTO itest_ctl SELECT g, 0 FROM generate_series(1, 10) g "
                  "ON CONFLICT DO NOTHING")
        lsn = d.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
    for node in (R1, R2):
        with direct(node, "appdb") as d:
            wait_for("replica %d replays itest_ctl" % node,
                     lambda: d.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn",
                                       (lsn,)).fetchone()[0], 30)


@case
def pgbench_through_pause_resume_reconnect_cycles_loses_nothing():
    port = env_int("CTL_PORT")
    ctl_table()
    script = os.path.join(CTL_DIR, "ctl", "pgbench.sql")
    with open(script, "w") as f:
        f.write(SCRIPT)
    out = open(os.path.join(CTL_DIR, "ctl", "pgbench.out"), "w+")
    bench = subprocess.Popen([PGBIN + "/pgbench", "-h", "127.0.0.1", "-p", str(port), "-U",
                              "app", "-n", "-M", "extended", "-c", "6", "-j", "2", "-T", "10",
                              "-f", script, "appdb"], stdout=out, stderr=subprocess.STDOUT,
                             env=dict(os.environ, PGPASSWORD="app"))
    adm = admin(port)
    pauses = []
    try:
        time.sleep(1)
        for _ in range(4):
            t0 = time.monotonic()
            adm.execute("PAUSE")
            pauses.append(time.monotonic() - t0)
            time.sleep(0.3)
            adm.execute("RESUME")
            time.sleep(0.3)
            adm.execute("RECONNECT")
            time.sleep(0.3)
            adm.execute("WAIT_CLOSE")
        check(bench.poll() is None, "pgbench ended before the cycles were done")
        rc = bench.wait(timeout=60)
    finally:
        resume_quietly(port)
        adm.close()
        if bench.poll() is None:
            bench.kill()
            bench.wait()
    out.seek(0)
    text = out.read()
    n = re.search(r"number of transactions actually processed: (\d+)", text)
    failed = re.search(r"number of failed transactions: (\d+)", text)
    bad = [ln for ln in text.splitlines() if "error" in ln.lower() or "abort" in ln.lower()]
    check(rc == 0, "pgbench exited %d: %s" % (rc, " | ".join(bad[:3])))
    check(n is not None and int(n.group(1)) > 0, "pgbench processed nothing: %s" % text[-300:])
    check(failed is None or int(failed.group(1)) == 0, "%s failed transactions: %s"
          % (failed.group(1) if failed else "?", " | ".join(bad[:3])))
    check(not bad, "pgbench reported: %s" % " | ".join(bad[:3]))
    measured("pgbench -c 6 (default_pool_size = 4) through 4 PAUSE/RESUME/RECONNECT/"
             "WAIT_CLOSE cycles: %s transactions, 0 failed; PAUSE took %s s"
             % (n.group(1), ", ".join("%.2f" % p for p in pauses)))


# ---- SHUTDOWN (last: it ends ctl_shut) ------------------------------------------------

@case
def shutdown_closes_idle_clients_lets_transactions_finish_and_exits():
    port, pid = env_int("CTL_SHUT_PORT"), env_int("CTL_SHUT_PID")
    idle = connect(port)
    busy = connect(port)
    adm = admin(port)
    try:
        refused(adm, "SHUTDOWN WAIT_FOR_SERVERS", "0A000", "not supported")
        refused(adm, "SHUTDOWN WAIT_FOR_CLIENTS", "0A000", "not supported")
        busy.execute("BEGIN")
        busy.execute("SELECT 1")
        adm.execute("SHUTDOWN")

        def no_new_clients():
            try:
                connect(port).close()
                return False
            except psycopg.OperationalError:
                return True

        wait_for("new clients refused after SHUTDOWN", no_new_clients, 5)
        closed_by(idle, "administrator command")
        # The transaction goes on to its end, and then its client is closed.
        check(busy.execute("SELECT 2").fetchone()[0] == 2, "the open transaction after SHUTDOWN")
        busy.execute("COMMIT")
        check(os.path.exists("/proc/%d" % pid), "pgrouter exited before the transaction ended")
        closed_by(busy, "administrator command")
    finally:
        for c in (idle, busy, adm):
            c.close()
    # run.sh's launcher writes the exit status once the process has ended.
    exit_file = os.path.join(CTL_DIR, "ctl_shut", "exit")
    took = wait_for("pgrouter exits once its clients are gone", lambda: os.path.exists(exit_file),
                    10)
    with open(exit_file) as f:
        status = f.read().strip()
    check(status == "0", "pgrouter exited with status %s after SHUTDOWN" % status)
    measured("SHUTDOWN: idle client closed at once, the open transaction committed, pgrouter "
             "exited %.2f s after the last client was closed" % took)


def main():
    return SUITE.run(need=[(PRIMARY and CTL_DIR, "PRIMARY_PORT and CTL_DIR must be set")])


if __name__ == "__main__":
    sys.exit(main())
