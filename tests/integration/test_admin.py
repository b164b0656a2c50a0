#!/usr/bin/python3
"""tests/integration/test_admin.py - the admin console (the virtual database `pgrouter`)
against the suite's main pgrouter, whose config gives admin_users = admin and
stats_users = stats (passwords equal the names).

Run by run.sh (run_py) with Debian's /usr/bin/python3 (python3-psycopg).
Environment: PGR_PORT (the main pgrouter), PGBIN (psql and pgbench; default
/usr/lib/postgresql/15/bin).

What the README's "Admin console" promises and each case checks:
  - psql works: aligned output, -x, -A -t, several statements in one -c;
  - psycopg reads SHOW POOLS by column name (a ClientCursor: simple queries);
  - SHOW POOLS/CLIENTS/SERVERS/DATABASES have PgBouncer's columns in its order first;
  - SHOW CLIENTS shows another client with its user, database and application_name;
  - SHOW POOLS and SHOW SERVERS see a transaction hold a server, and see it go back;
  - a user in neither list is refused (28000); a stats user may SHOW, not run an admin
    command (42501); an unknown command is 42601; the extended protocol gets 0A000 and
    the session goes on after Sync; an empty query gets EmptyQueryResponse;
  - a Query over 1 MB is FATAL 54000, one just under is answered;
  - 20000 pipelined queries are all answered, in order;
  - 50 admin clients at once while pgbench runs through pgrouter: no pgbench failure.
Prints one `ok - admin: NAME` or `not ok - admin: NAME: reason` line per case and exits 1
if any failed.  Arguments, if given, are substrings of case names.
"""

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

import psycopg

import rawpg
from itest import PGBIN, Suite, check

PORT = int(os.environ.get("PGR_PORT", "0"))

SUITE = Suite("admin")
case = SUITE.case

# PgBouncer's columns, in its order (its usage documentation); pgrouter's own follow.
POOLS_COLS = ["database", "user", "cl_active", "cl_waiting", "cl_active_cancel_req",
              "cl_waiting_cancel_req", "sv_active", "sv_active_cancel", "sv_being_canceled",
              "sv_idle", "sv_used", "sv_tested", "sv_login", "maxwait", "maxwait_us",
              "pool_mode", "load_balance_hosts"]
CONN_COLS = ["type", "user", "database", "replication", "state", "addr", "port",
             "local_addr", "local_port", "connect_time", "request_time", "wait", "wait_us",
             "close_needed", "ptr", "link", "remote_pid", "tls", "application_name",
             "prepared_statements", "id"]
DATABASES_COLS = ["name", "host", "port", "database", "force_user", "pool_size",
                  "min_pool_size", "reserve_pool_size", "server_lifetime", "pool_mode",
                  "load_balance_hosts", "max_connections", "current_connections",
                  "max_client_connections", "current_client_connections", "paused",
                  "disabled"]


def admin(user="admin", db="pgrouter", **kw):
    return psycopg.connect("host=127.0.0.1 port=%d user=%s password=%s dbname=%s "
                           "connect_timeout=10" % (PORT, user, user, db),
                           autocommit=True, **kw)


def show(conn, cmd):
    """Run cmd with the simple query protocol; returns (column names, rows as dicts)."""
    cur = psycopg.ClientCursor(conn)
    cur.execute(cmd)
    names = [d.name for d in cur.description]
    return names, [dict(zip(names, r)) for r in cur.fetchall()]


def psql(*args, user="admin", db="pgrouter"):
    env = dict(os.environ, PGPASSWORD=user, PGCONNECT_TIMEOUT="10")
    p = subprocess.run([PGBIN + "/psql", "-X", "-h", "127.0.0.1", "-p", str(PORT), "-U", user,
                        db] + list(args), env=env, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def raw_login(user, db="pgrouter"):
    s = socket.create_connection(("127.0.0.1", PORT), timeout=30)
    rawpg.login(s, user, user, db)
    return s


def raw_until_ready(s):
    """Messages up to and including ReadyForQuery, as (type, payload) pairs."""
    out = []
    while True:
        t, p = rawpg.read_msg(s)
        out.append((t, p))
        if t == b"Z":
            return out


def version():
    with admin() as c:
        return show(c, "SHOW VERSION")[1][0]["version"]


def wait_for(what, cond, secs=20):
    deadline = time.monotonic() + secs
    while True:
        got = cond()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError("%s: not within %d s" % (what, secs))
        time.sleep(0.05)


@case
def psql_aligned_expanded_and_unaligned():
    v = version()
    check(v.startswith("pgrouter "), "SHOW VERSION says %r" % v)
    rc, out, err = psql("-c", "SHOW VERSION")
    check(rc == 0, "psql failed: %s" % err)
    lines = out.splitlines()
    check(lines[0].strip() == "version" and set(lines[1].strip()) == {"-"} and
          lines[2].strip() == v and lines[3] == "(1 row)", "aligned output %r" % out)
    rc, out, err = psql("-x", "-c", "SHOW VERSION")
    check(rc == 0 and out.splitlines()[1] == "version | " + v, "expanded output %r %s"
          % (out, err))
    rc, out, err = psql("-A", "-t", "-c", "SHOW VERSION")
    check(rc == 0 and out == v + "\n", "unaligned tuples-only output %r %s" % (out, err))
    # \x toggled inside psql, then several statements in one string
    rc, out, err = psql("-A", "-t", "-c", "\\x", "-c", "show   version ; SHOW LISTS;")
    check(rc == 0 and "version|" + v in out and "list|pools" in out,
          "\\x and two statements: %r %s" % (out, err))


@case
def psycopg_reads_pools_by_name():
    with psycopg.connect("host=127.0.0.1 port=%d user=app password=app dbname=appdb "
                         "connect_timeout=10" % PORT, autocommit=True) as app:
        app.execute("SELECT 1")     # so that a pool exists
    with admin() as c:
        check(c.info.parameter_status("client_encoding") == "UTF8", "client_encoding")
        check(c.info.parameter_status("standard_conforming_strings") == "on",
              "standard_conforming_strings")
        check("pgrouter" in (c.info.parameter_status("server_version") or ""),
              "server_version %r" % c.info.parameter_status("server_version"))
        names, rows = show(c, "SHOW POOLS")
        check(any(r["database"] == "appdb" and r["user"] == "app" for r in rows),
              "SHOW POOLS has no appdb/app row: %r" % rows)
        for r in rows:
            check(isinstance(r["cl_active"], int) and isinstance(r["sv_idle"], int),
                  "integer columns come back as %r" % r)
            check(r["pool_mode"] in ("transaction", "session"), "pool_mode %r" % r)
            check(r["role"] in ("primary", "replica"), "role %r" % r)
            check(r["node"].startswith("127.0.0.1:"), "node %r" % r)
    # `pgbouncer` is the same console, for PgBouncer's tools
    with admin(db="pgbouncer") as c:
        check(show(c, "SHOW VERSION")[1][0]["version"].startswith("pgrouter"), "alias")


@case
def columns_follow_pgbouncer_order():
    with admin() as c:
        for cmd, want in (("SHOW POOLS", POOLS_COLS), ("SHOW CLIENTS", CONN_COLS),
                          ("SHOW SERVERS", CONN_COLS), ("SHOW DATABASES", DATABASES_COLS)):
            names, _ = show(c, cmd)
            check(names[:len(want)] == want, "%s columns %r, expected %r first"
                  % (cmd, names, want))
        names, rows = show(c, "SHOW LISTS")
        check(names == ["list", "items"], "SHOW LISTS columns %r" % names)
        check({"databases", "users", "pools", "used_clients", "used_servers"} <=
              {r["list"] for r in rows}, "SHOW LISTS rows %r" % rows)
        names, rows = show(c, "SHOW CONFIG")
        check(names[:4] == ["key", "value", "default", "changeable"], "SHOW CONFIG %r" % names)
        conf = {r["key"]: r for r in rows}
        check(conf["admin_users"]["value"] == "admin", "admin_users %r" % conf.get("admin_users"))
        check(conf["listen_port"]["value"] == str(PORT), "listen_port %r" % conf["listen_port"])
        check(conf["listen_port"]["changeable"] == "no", "listen_port is not changeable")
        for k, r in conf.items():
            if "password" in k:
                check(r["value"] in ("", "********"), "%s shown as %r" % (k, r["value"]))
        names, rows = show(c, "SHOW DATABASES")
        check({"main", "pgrouter"} <= {r["name"] for r in rows}, "databases %r" % rows)
        names, rows = show(c, "SHOW HELP")
        cmds = {r["command"] for r in rows}
        check({"SHOW POOLS", "SHOW CLIENTS", "SHOW SERVERS", "SHOW DATABASES", "SHOW LISTS",
               "SHOW CONFIG", "SHOW VERSION", "SHOW HELP"} <= cmds, "SHOW HELP %r" % cmds)


@case
def clients_shows_another_client():
    other = psycopg.connect("host=127.0.0.1 port=%d user=app password=app dbname=appdb "
                            "application_name=admin_probe connect_timeout=10" % PORT,
                            autocommit=True)
    try:
        other.execute("SELECT 1")
        with admin() as c:
            _, rows = show(c, "SHOW CLIENTS")
            mine = [r for r in rows if r["application_name"] == "admin_probe"]
            check(len(mine) == 1, "SHOW CLIENTS rows for admin_probe: %r" % mine)
            r = mine[0]
            check(r["type"] == "C" and r["user"] == "app" and r["database"] == "appdb",
                  "client row %r" % r)
            check(r["state"] == "idle" and r["addr"] == "127.0.0.1" and r["port"] > 0,
                  "client row %r" % r)
            check(r["local_port"] == PORT and r["cluster"] == "main", "client row %r" % r)
            check(r["connect_time"].endswith(" UTC"), "connect_time %r" % r["connect_time"])
            me = [r for r in rows if r["database"] == "pgrouter" and r["state"] == "active"]
            check(len(me) >= 1 and me[0]["user"] == "admin", "the console's own row %r" % me)
    finally:
        other.close()
    with admin() as c:
        wait_for("the client leaves SHOW CLIENTS", lambda: not any(
            r["application_name"] == "admin_probe" for r in show(c, "SHOW CLIENTS")[1]))


def pool_row(c, user, role="primary"):
    rows = [r for r in show(c, "SHOW POOLS")[1]
            if r["database"] == "appdb" and r["user"] == user and r["role"] == role]
    return rows[0] if rows else None


@case
def pools_and_servers_follow_a_transaction():
    # user `other` has pools of its own, so the suite's other clients do not interfere
    tx = psycopg.connect("host=127.0.0.1 port=%d user=other password=other dbname=appdb "
                         "application_name=admin_tx connect_timeout=10" % PORT)
    try:
        tx.execute("SELECT 1")
        # psycopg opened a transaction (not autocommit): it holds a primary server now
        with admin() as c:
            r = wait_for("SHOW POOLS sees the transaction", lambda: (
                lambda r: r if r and r["sv_active"] >= 1 and r["cl_active"] >= 1 else None)(
                    pool_row(c, "other")))
            check(r["cl_waiting"] == 0, "pool row %r" % r)
            _, servers = show(c, "SHOW SERVERS")
            held = [s for s in servers if s["user"] == "other" and s["state"] == "active"]
            check(held and held[0]["application_name"] == "admin_tx" and
                  held[0]["link"].startswith("c") and held[0]["remote_pid"] > 0,
                  "SHOW SERVERS rows %r" % held)
            _, clients = show(c, "SHOW CLIENTS")
            cl = [x for x in clients if x["application_name"] == "admin_tx"]
            check(cl and cl[0]["state"] == "active" and cl[0]["link"] == held[0]["ptr"],
                  "the client's link %r and the server %r" % (cl, held[0]))
            tx.commit()
            r = wait_for("the server goes back", lambda: (
                lambda r: r if r and r["sv_active"] == 0 and r["sv_idle"] >= 1 else None)(
                    pool_row(c, "other")))
    finally:
        tx.close()


def raw_error(user, db="pgrouter"):
    s = socket.create_connection(("127.0.0.1", PORT), timeout=30)
    try:
        rawpg.login(s, user, user, db)
    except rawpg.PeerError as e:
        return e.fields
    finally:
        s.close()
    return None


@case
def refusals_have_sqlstates():
    f = raw_error("app")
    check(f is not None and f.get("C") == "28000" and f.get("S") == "FATAL",
          "a user outside admin_users/stats_users got %r" % f)
    f = raw_error("other", db="pgbouncer")
    check(f is not None and f.get("C") == "28000", "other@pgbouncer got %r" % f)
    with admin() as c:
        try:
            show(c, "SHOW NO_SUCH_THING")
            raise AssertionError("an unknown command succeeded")
        except psycopg.Error as e:
            check(e.sqlstate == "42601", "unknown command: %s %s" % (e.sqlstate, e))
            check("SHOW NO_SUCH_THING" in str(e) and "SHOW HELP" in (e.diag.message_hint or ""),
                  "unknown command message %r hint %r" % (str(e), e.diag.message_hint))
        try:
            show(c, "SELECT 1")
            raise AssertionError("SELECT 1 succeeded on the console")
        except psycopg.Error as e:
            check(e.sqlstate == "42601", "SELECT 1: %s" % e.sqlstate)
        check(show(c, "SHOW VERSION")[1], "the session goes on after errors")
    with admin(user="stats") as c:
        _, rows = show(c, "SHOW POOLS")
        help_rows = show(c, "SHOW HELP")[1]
        admin_only = [r["command"] for r in help_rows if r["users"] == "admin"]
        for r in help_rows:
            if r["command"] in ("SHOW POOLS", "SHOW CLIENTS", "SHOW SERVERS", "SHOW LISTS",
                                "SHOW DATABASES", "SHOW CONFIG", "SHOW VERSION"):
                check(r["users"] == "admin, stats" and show(c, r["command"])[0],
                      "stats user and %r" % r)
        if not admin_only:
            return      # no admin-only command has landed: nothing to refuse yet
        try:
            show(c, admin_only[0])
            raise AssertionError("stats user ran %s" % admin_only[0])
        except psycopg.Error as e:
            check(e.sqlstate == "42501", "%s as stats user: %s %s"
                  % (admin_only[0], e.sqlstate, e))


@case
def extended_protocol_refused_then_session_goes_on():
    s = raw_login("admin")
    try:
        s.sendall(rawpg.msg(b"P", b"\0SHOW VERSION\0\0\0") +
                  rawpg.msg(b"B", b"\0\0\0\0\0\0\0\0") +
                  rawpg.msg(b"D", b"P\0") + rawpg.msg(b"E", b"\0\0\0\0\0") +
                  rawpg.msg(b"S", b""))
        got = raw_until_ready(s)
        check([t for t, _ in got] == [b"E", b"Z"], "answer %r" % got)
        check(rawpg.parse_error(got[0][1]).get("C") == "0A000", "error %r" % got[0][1])
        check(got[1][1] == b"I", "ReadyForQuery %r" % got[1][1])
        # the session is usable again, and an empty query is EmptyQueryResponse
        check(rawpg.simple_query(s, "SHOW VERSION").startswith("pgrouter"), "after Sync")
        s.sendall(rawpg.msg(b"Q", b" ; \0"))
        check([t for t, _ in raw_until_ready(s)] == [b"I", b"Z"], "empty query")
        # an error stops the rest of the string, as in PostgreSQL
        s.sendall(rawpg.msg(b"Q", b"SHOW VERSION; SHOW NOPE; SHOW VERSION\0"))
        types = [t for t, _ in raw_until_ready(s)]
        check(types == [b"T", b"D", b"C", b"E", b"Z"], "multi-statement answer %r" % types)
    finally:
        s.close()
    # psycopg's default cursor with parameters uses the extended protocol
    with admin() as c:
        try:
            c.execute("SHOW VERSION WHERE %s", (1,))
            raise AssertionError("the extended protocol was accepted")
        except psycopg.Error as e:
            check(e.sqlstate == "0A000", "extended protocol: %s %s" % (e.sqlstate, e))
        check(show(c, "SHOW VERSION")[1], "the connection goes on")


@case
def query_over_1mb_is_refused():
    s = raw_login("admin")
    try:
        s.sendall(rawpg.msg(b"Q", b"SHOW VERSION -- " + b"x" * (1 << 20) + b"\0"))
        t, p = rawpg.read_msg(s)
        f = rawpg.parse_error(p) if t == b"E" else {}
        check(f.get("C") == "54000" and f.get("S") == "FATAL", "answer %r %r" % (t, p[:120]))
    finally:
        s.close()
    s = raw_login("admin")      # just under the limit is a query like any other
    try:
        got = rawpg.simple_query(s, "SHOW VERSION -- " + "x" * ((1 << 20) - 100))
        check(got.startswith("pgrouter"), "a long query: %r" % got)
    finally:
        s.close()


@case
def pipelined_queries_all_answered():
    s = raw_login("admin")
    n = 20000
    try:
        s.sendall(rawpg.msg(b"Q", b"SHOW VERSION\0") * n + rawpg.msg(b"Q", b"SHOW LISTS\0"))
        rows = 0
        for _ in range(n):
            types = [t for t, _ in raw_until_ready(s)]
            check(types == [b"T", b"D", b"C", b"Z"], "answer %r" % types)
            rows += 1
        last = raw_until_ready(s)
        check(sum(t == b"D" for t, _ in last) > 5, "the last query is SHOW LISTS: %r"
              % [t for t, _ in last])
    finally:
        s.close()
    check(rows == n, "%d of %d answered" % (rows, n))


@case
def fifty_admin_clients_during_pgbench():
    script = tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False)
    script.write("SELECT 1;\n")
    script.close()
    env = dict(os.environ, PGPASSWORD="app")
    bench = subprocess.Popen([PGBIN + "/pgbench", "-n", "-h", "127.0.0.1", "-p", str(PORT),
                              "-U", "app", "-c", "8", "-j", "2", "-T", "6", "-f", script.name,
                              "appdb"], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    errors, counts = [], []
    ready = threading.Barrier(51)
    stop = []

    def worker(i):
        n = 0
        try:
            with admin(user="admin" if i % 2 else "stats") as c:
                ready.wait(60)      # all 50 logged in at once
                while not stop:
                    for cmd in ("SHOW POOLS", "SHOW CLIENTS", "SHOW SERVERS", "SHOW LISTS"):
                        show(c, cmd)
                        n += 1
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append("%d: %r" % (i, e))
            ready.abort()
        counts.append(n)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    try:
        ready.wait(60)
        with admin() as c:
            _, rows = show(c, "SHOW CLIENTS")
        busy = sum(r["database"] == "pgrouter" for r in rows)
        time.sleep(3)
    except threading.BrokenBarrierError:
        busy = 0
    stop.append(1)
    for t in threads:
        t.join(60)
    out, _ = bench.communicate(timeout=120)
    os.unlink(script.name)
    check(not errors, "admin clients failed: %s" % errors[:3])
    check(busy >= 51, "SHOW CLIENTS saw %d console clients at once" % busy)
    check(len(counts) == 50 and min(counts) > 0, "commands per admin client %r" % counts)
    check(bench.returncode == 0, "pgbench exit %d: %s" % (bench.returncode, out[-500:]))
    check("number of failed transactions: 0 " in out or "failed" not in out,
          "pgbench: %s" % out[-500:])
    tps = [l for l in out.splitlines() if l.startswith("tps")]
    print("# measured: 50 admin clients ran %d SHOW commands in 3 s while pgbench %s"
          % (sum(counts), tps[0] if tps else "?"), flush=True)


if __name__ == "__main__":
    sys.exit(SUITE.run(need=[(PORT, "PGR_PORT is not set")]))
