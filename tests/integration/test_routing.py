#!/usr/bin/python3
"""tests/integration/test_routing.py - read/write routing through pgrouter with psycopg 3.

Run by run.sh with Debian's /usr/bin/python3 (python3-psycopg).  Environment:
PGR_PORT (pgrouter), PRIMARY_PORT, REPLICA1_PORT, REPLICA2_PORT (the servers,
reached directly as postgres/postgres), CLUSTER_SH and CLUSTER_DIR (to stop
and start replica1), RYW_WAIT (seconds that outlast read_your_writes_window),
ITEST_DIRECT=1 (no pgrouter: every case is skipped).

Which server ran a statement is told by inet_server_port().  Prints one
`ok - routing: NAME` or `not ok - routing: NAME: reason` line per case and
exits 1 if any failed.  Arguments, if given, are substrings: only cases whose
name contains one of them run.  replica_stopped stops replica1 and starts it
again, so it runs last.
"""

import os
import signal
import subprocess
import sys
import threading
import time

import psycopg
from itest import Skip, Suite, check  # noqa: E402,F401 - the shared runner

PORT = os.environ.get("PGR_PORT")
PRIMARY = int(os.environ.get("PRIMARY_PORT", "0"))
REPLICA1 = int(os.environ.get("REPLICA1_PORT", "0"))
REPLICA2 = int(os.environ.get("REPLICA2_PORT", "0"))
REPLICAS = {REPLICA1, REPLICA2}
CLUSTER_SH = os.environ.get("CLUSTER_SH", "")
CLUSTER_DIR = os.environ.get("CLUSTER_DIR", "")
RYW_WAIT = float(os.environ.get("RYW_WAIT", "2"))
CONNINFO = ("host=127.0.0.1 port=%s user=app password=app dbname=appdb connect_timeout=10"
            % PORT)

SUITE = Suite("routing")
case = SUITE.case

def connect(**kw):
    kw.setdefault("autocommit", True)
    return psycopg.connect(CONNINFO, **kw)


def direct(port, dbname="appdb"):
    return psycopg.connect("host=127.0.0.1 port=%d user=postgres password=postgres dbname=%s "
                           "connect_timeout=10" % (port, dbname), autocommit=True)


def name(port):
    return {PRIMARY: "primary", REPLICA1: "replica1", REPLICA2: "replica2"}.get(
        port, "port:%s" % port)


def names(ports):
    return " ".join(name(p) for p in ports)


def wait_replay(timeout=10.0):
    """Both replicas have replayed what the primary committed (see run.sh)."""
    with direct(PRIMARY, "postgres") as c:
        c.execute("SET synchronous_commit = on")
        c.execute("SELECT pg_logical_emit_message(true, 'pgrouter-itest', 'wait_replay')")
        lsn = c.execute("SELECT pg_current_wal_flush_lsn()").fetchone()[0]
    deadline = time.monotonic() + timeout
    for port in (REPLICA1, REPLICA2):
        with direct(port, "postgres") as c:
            while True:
                done = c.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn",
                                 (str(lsn),)).fetchone()[0]
                if done:
                    break
                check(time.monotonic() < deadline,
                      "%s has not replayed up to %s after %.0f s" % (name(port), lsn, timeout))
                time.sleep(0.05)


@case
def prepared_reads_on_replicas():
    with connect() as conn:
        ports = [conn.execute("SELECT inet_server_port()", prepare=True).fetchone()[0]
                 for _ in range(20)]
        print("prepared SELECT inet_server_port(): %s" % names(ports), file=sys.stderr)
        check(set(ports) <= REPLICAS, "prepared read ran on: %s" % names(ports))
        check(set(ports) == REPLICAS, "not both replicas used: %s" % names(ports))

        ports = []
        for i in range(20):
            v, s, p = conn.execute("SELECT %s::int * 3, %s::text || '!', inet_server_port()",
                                   (i, "v%d" % i), prepare=True).fetchone()
            check(v == 3 * i and s == "v%d!" % i,
                  "execution %d of the parameterized read gave %r, %r" % (i, v, s))
            ports.append(p)
        print("prepared parameterized read: %s" % names(ports), file=sys.stderr)
        check(set(ports) == REPLICAS, "parameterized read ran on: %s" % names(ports))

    # the default threshold: psycopg prepares from the sixth execution on
    with connect() as conn:
        ports = []
        for i in range(12):
            v, p = conn.execute("SELECT %s::int + 100, inet_server_port()", (i,)).fetchone()
            check(v == i + 100, "execution %d gave %r" % (i, v))
            ports.append(p)
        check(set(ports) == REPLICAS, "auto-prepared read ran on: %s" % names(ports))


@case
def prepared_writes_interleaved():
    with connect() as conn:
        conn.execute("DROP TABLE IF EXISTS itest_route_prep")
        conn.execute("CREATE TABLE itest_route_prep (id int PRIMARY KEY, port int)")
    wait_replay()
    insert = "INSERT INTO itest_route_prep VALUES (%s, inet_server_port()) RETURNING port"
    count = "SELECT count(*), inet_server_port() FROM itest_route_prep"
    with connect() as conn:
        replica_reads = []
        for i in range(30):
            p = conn.execute(insert, (i,), prepare=True).fetchone()[0]
            check(p == PRIMARY, "INSERT %d ran on %s" % (i, name(p)))
            n, p = conn.execute(count, prepare=True).fetchone()
            check(n == i + 1, "count(*) after INSERT %d is %d" % (i, n))
            check(p == PRIMARY, "read right after INSERT %d ran on %s" % (i, name(p)))
            if i % 10 == 9:
                # past the read-your-writes window: the same statements on a replica
                time.sleep(RYW_WAIT)
                wait_replay()
                for _ in range(2):
                    n, p = conn.execute(count, prepare=True).fetchone()
                    check(n == i + 1, "count(*) on %s after the window: %d" % (name(p), n))
                    replica_reads.append(p)
        print("reads after the window: %s" % names(replica_reads), file=sys.stderr)
        check(set(replica_reads) == REPLICAS,
              "reads after the window ran on: %s" % names(replica_reads))
    with direct(PRIMARY) as c:
        rows = c.execute("SELECT count(*), min(port), max(port) FROM itest_route_prep").fetchone()
        check(rows == (30, PRIMARY, PRIMARY), "the primary holds %r" % (rows,))
        c.execute("DROP TABLE itest_route_prep")


@case
def implicit_transaction_on_primary():
    # psycopg without autocommit sends BEGIN before the first statement
    with connect(autocommit=False) as conn:
        ports = [conn.execute("SELECT inet_server_port()").fetchone()[0] for _ in range(3)]
        conn.commit()
        check(set(ports) == {PRIMARY}, "reads inside BEGIN...COMMIT ran on: %s" % names(ports))
    # and a read-only transaction stays on one replica
    with connect(autocommit=False) as conn:
        conn.read_only = True
        ports = [conn.execute("SELECT inet_server_port()").fetchone()[0] for _ in range(3)]
        conn.commit()
        check(len(set(ports)) == 1 and ports[0] in REPLICAS,
              "reads inside BEGIN READ ONLY ran on: %s" % names(ports))


def session_ports(conn, n):
    """(port, pid) of n plain reads in the session."""
    return [tuple(conn.execute("SELECT inet_server_port(), pg_backend_pid()").fetchone())
            for _ in range(n)]


@case
def volatile_functions_are_writes():
    """README: user-defined VOLATILE functions are writes (read from the primary's
    catalog, again after a SIGHUP and after CREATE FUNCTION through pgrouter);
    STABLE ones stay reads."""
    with direct(PRIMARY) as d:
        d.execute("DROP TABLE IF EXISTS itest_vol")
        d.execute("CREATE TABLE itest_vol (id int, port int)")
        d.execute("GRANT ALL ON itest_vol TO app")
        for f in ("itest_vol_direct", "itest_vol_proxy", "itest_stable_port"):
            d.execute("DROP FUNCTION IF EXISTS %s()" % f)
        # created behind pgrouter's back: known after a SIGHUP
        d.execute("CREATE FUNCTION itest_vol_direct() RETURNS int LANGUAGE sql AS "
                  "'INSERT INTO itest_vol VALUES (1, inet_server_port()) "
                  "RETURNING inet_server_port()'")
        d.execute("CREATE FUNCTION itest_stable_port() RETURNS int LANGUAGE sql STABLE AS "
                  "'SELECT inet_server_port()'")
        d.execute("GRANT EXECUTE ON FUNCTION itest_vol_direct(), itest_stable_port() TO app")
    wait_replay()
    pid = os.environ.get("MAIN_PID")
    check(pid, "MAIN_PID (the main pgrouter's pid) is not set")
    os.kill(int(pid), signal.SIGHUP)
    deadline = time.monotonic() + 30
    refused = 0
    while True:
        try:
            with connect() as conn:
                port = conn.execute("SELECT itest_vol_direct()").fetchone()[0]
            break
        except psycopg.errors.ReadOnlySqlTransaction:
            refused += 1        # the list is not read again yet
            check(time.monotonic() < deadline, "SELECT itest_vol_direct() still ran on a "
                  "replica 30 s after the SIGHUP (%d tries)" % refused)
            time.sleep(0.1)
    print("# volatile: itest_vol_direct() on the primary after SIGHUP (%d tries refused "
          "by a replica first)" % refused, flush=True)
    check(port == PRIMARY, "SELECT itest_vol_direct() ran on %s" % name(port))

    # created through pgrouter: a write from the session's next statement on, and
    # for new sessions
    with connect() as conn:
        conn.execute("CREATE FUNCTION itest_vol_proxy() RETURNS int LANGUAGE sql AS "
                     "'INSERT INTO itest_vol VALUES (2, inet_server_port()) "
                     "RETURNING inet_server_port()'")
        try:
            port = conn.execute("SELECT itest_vol_proxy()").fetchone()[0]
        except psycopg.Error as e:
            raise AssertionError("SELECT itest_vol_proxy() right after its CREATE FUNCTION "
                                 "through pgrouter: %s %s" % (e.sqlstate, e)) from e
        check(port == PRIMARY, "the first call ran on %s" % name(port))
    time.sleep(RYW_WAIT)        # past the writer's read-your-writes window
    for _ in range(4):
        with connect() as conn:
            port = conn.execute("SELECT itest_vol_proxy()").fetchone()[0]
            check(port == PRIMARY, "SELECT itest_vol_proxy() in a new session ran on %s"
                  % name(port))
            ports = [conn.execute("SELECT itest_stable_port()").fetchone()[0]
                     for _ in range(2)]
            check(set(ports) <= {PRIMARY} | REPLICAS, "ports %r" % ports)
    wait_replay()
    with connect() as conn:
        ports = [conn.execute("SELECT itest_stable_port()").fetchone()[0] for _ in range(4)]
    check(set(ports) == REPLICAS, "the STABLE function ran on %s, expected both replicas"
          % names(ports))
    with direct(PRIMARY) as d:
        rows = d.execute("SELECT id, count(*) FROM itest_vol GROUP BY id ORDER BY id").fetchall()
        d.execute("DROP FUNCTION itest_vol_direct(), itest_vol_proxy(), itest_stable_port()")
        d.execute("DROP TABLE itest_vol")
    check(rows == [(1, 1), (2, 5)], "the primary holds %r, expected [(1, 1), (2, 5)]" % rows)


@case
def sql_prepare_keeps_the_server():
    """README: SQL PREPARE/EXECUTE keep the client on the server where it prepared
    (reads would otherwise alternate between the replicas)."""
    with connect() as conn:
        conn.execute("PREPARE itest_q AS SELECT inet_server_port(), pg_backend_pid()")
        got = []
        for _ in range(6):
            got.append(tuple(conn.execute("EXECUTE itest_q").fetchone()))
            got += session_ports(conn, 1)
        print("# PREPARE: %s" % got, file=sys.stderr)
        check(len(set(got)) == 1, "after PREPARE the session moved: %r" % got)
        conn.execute("DEALLOCATE itest_q")


@case
def advisory_lock_pins_to_the_primary():
    """README: a session advisory lock pins the client to its primary server; the
    server is not handed to another client while the lock is held."""
    with connect() as a:
        a.execute("SELECT pg_advisory_lock(424242)")
        got = session_ports(a, 6)
        check({p for p, _ in got} == {PRIMARY}, "reads after pg_advisory_lock ran on %s"
              % names([p for p, _ in got]))
        check(len(set(got)) == 1, "reads after pg_advisory_lock moved: %r" % got)
        with direct(PRIMARY, "postgres") as d:
            holder = d.execute("SELECT pid FROM pg_locks WHERE locktype = 'advisory' "
                               "AND objid = 424242 AND granted").fetchall()
        check(holder == [(got[0][1],)], "the lock is held by %r, the session reads on "
              "backend %d" % (holder, got[0][1]))
        others = []
        for _ in range(3):
            b = connect(autocommit=False)
            others.append(b)
            others_pid = b.execute("SELECT pg_backend_pid()").fetchone()[0]
            check(others_pid != got[0][1], "another client's transaction got the server "
                  "that holds the advisory lock (backend %d)" % others_pid)
        for b in others:
            b.close()
        check(a.execute("SELECT pg_advisory_unlock(424242)").fetchone()[0] is True,
              "pg_advisory_unlock on the session's server found no lock")


@case
def with_hold_cursor_pins_to_the_primary():
    with connect() as conn:
        conn.execute("DECLARE itest_c CURSOR WITH HOLD FOR "
                     "SELECT g, inet_server_port(), pg_backend_pid() "
                     "FROM generate_series(1, 100) g")
        rows = [tuple(conn.execute("FETCH 1 FROM itest_c").fetchone()) for _ in range(6)]
        got = session_ports(conn, 4)
        check([r[0] for r in rows] == [1, 2, 3, 4, 5, 6], "FETCH gave %r" % rows)
        check({r[1:] for r in rows} | set(got) == {rows[0][1:]},
              "the cursor's rows and the session's reads ran on more than one server: %r %r"
              % (rows, got))
        check(rows[0][1] == PRIMARY, "the WITH HOLD cursor ran on %s" % name(rows[0][1]))
        conn.execute("CLOSE itest_c")


def cluster(cmd, node, *more):
    r = subprocess.run(["bash", CLUSTER_SH, cmd, CLUSTER_DIR, node] + list(more),
                       capture_output=True,
                       text=True, timeout=120, check=False)
    return r.returncode, (r.stdout + r.stderr).strip()


def env_port(node):
    """The node's port as cluster.env has it now (a restart may move it)."""
    key = node.upper() + "_PORT="
    with open(os.path.join(CLUSTER_DIR, "cluster.env")) as f:
        for line in f:
            if line.startswith(key):
                return int(line[len(key):].strip())
    return None


@case
def replica_stopped():
    """New sessions keep working while replica1 stops (pg_ctl -m immediate: its
    backends vanish without a goodbye); it gets reads again once back.  A read
    whose server dies before answering is run again elsewhere, so not one
    session may fail, during the stop either."""
    check(CLUSTER_SH and CLUSTER_DIR, "CLUSTER_SH/CLUSTER_DIR not set")
    ev = {}

    def stopper():
        time.sleep(1.0)
        ev["begin"] = time.monotonic()
        ev["rc"], ev["out"] = cluster("stop", "replica1", "immediate")
        ev["end"] = time.monotonic()

    try:
        stop_and_start(stopper, ev)
    finally:
        # whatever failed, the later cases need replica1 back (a no-op if it runs)
        cluster("start", "replica1")


def stop_and_start(stopper, ev):
    th = threading.Thread(target=stopper)
    results = []    # (start, end, ok, port or error)
    t_first = time.monotonic()
    th.start()
    try:
        while True:
            after = [r for r in results if "end" in ev and r[0] > ev["end"]]
            if len(results) >= 50 and len(after) >= 20:
                break
            check(time.monotonic() - t_first < 90, "the loop took over 90 s")
            t0 = time.monotonic()
            try:
                with connect() as conn:
                    one, port = conn.execute("SELECT 1, inet_server_port()").fetchone()
                ok, what = one == 1, port
            except psycopg.Error as e:
                ok, what = False, "%s %s" % (e.sqlstate, str(e).strip().replace("\n", " | "))
            results.append((t0, time.monotonic(), ok, what))
            time.sleep(0.05)
    finally:
        th.join(150)
    check(ev.get("rc") == 0, "cluster.sh stop replica1 failed: %s" % ev.get("out"))
    before, inflight, after = [], [], []
    for r in results:
        if r[1] < ev["begin"]:
            before.append(r)
        elif r[0] > ev["end"]:
            after.append(r)
        else:
            inflight.append(r)
    print("stop took %.2f s; %d sessions before, %d during, %d after"
          % (ev["end"] - ev["begin"], len(before), len(inflight), len(after)), file=sys.stderr)
    for r in results:
        print("  %+.3f %s %s" % (r[0] - ev["begin"], "ok" if r[2] else "FAILED",
                                 name(r[3]) if r[2] else r[3]), file=sys.stderr)
    bad = [r for r in inflight if not r[2]]
    print("# replica_stopped: %d of %d session(s) in flight during the stop failed"
          % (len(bad), len(inflight)))
    for r in bad:
        print("#   %s" % r[3])
    check(all(r[2] for r in before), "failed before the stop: %r" % [r[3] for r in before
                                                                     if not r[2]])
    check(not bad, "%d of %d sessions in flight during the stop failed (the read should "
          "have run again on another node), first: %s" % (len(bad), len(inflight), bad[0][3]
                                                          if bad else ""))
    failed_after = [r[3] for r in after if not r[2]]
    check(not failed_after, "%d of %d sessions started after the stop failed, first: %s"
          % (len(failed_after), len(after), failed_after[:1]))
    check({r[3] for r in before} == REPLICAS,
          "before the stop reads ran on: %s" % names(sorted({r[3] for r in before})))
    ports_after = [r[3] for r in after]
    check(REPLICA1 not in ports_after, "served by the stopped replica1?")
    check(REPLICA2 in ports_after, "after the stop no read ran on replica2: %s"
          % names(sorted(set(ports_after))))

    rc, out = cluster("start", "replica1")
    check(rc == 0, "cluster.sh start replica1 failed: %s" % out)
    moved = env_port("replica1")
    check(moved == REPLICA1, "replica1 came back on port %s, pgrouter has %d (port was taken)"
          % (moved, REPLICA1))
    with direct(REPLICA1, "postgres") as c:
        check(c.execute("SELECT pg_is_in_recovery()").fetchone()[0],
              "replica1 is not in recovery after the restart")
    t_back = time.monotonic()
    seen = []
    while REPLICA1 not in seen:
        check(time.monotonic() - t_back < 30,
              "no read on replica1 within 30 s of its restart: %s" % names(sorted(set(seen))))
        try:
            with connect() as conn:
                seen.append(conn.execute("SELECT inet_server_port()").fetchone()[0])
        except psycopg.Error as e:
            raise AssertionError("a session failed after replica1 came back: %s %s"
                                 % (e.sqlstate, e)) from e
        time.sleep(0.2)
    print("# replica_stopped: replica1 served a read %.1f s after its restart"
          % (time.monotonic() - t_back))



def main():
    return SUITE.run(need=[(PORT and PRIMARY and REPLICA1 and REPLICA2,
                            "PGR_PORT, PRIMARY_PORT, REPLICA1_PORT, REPLICA2_PORT must be set")])


if __name__ == "__main__":
    sys.exit(main())
