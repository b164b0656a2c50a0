#!/usr/bin/python3
"""tests/integration/test_pooling.py - transaction pooling through pgrouter with psycopg 3.

Run by pooling.sh (through run.sh's run_py) with Debian's /usr/bin/python3.  The
pgrouter at PGR_PORT runs pool_mode = transaction, default_pool_size = POOL_SIZE (10),
query_wait_timeout = QUERY_WAIT_TIMEOUT (2 s), for a primary without replicas, so that
every statement uses the one pool app@appdb on the primary.  POOL_LIFE_PORT is a second
pgrouter like it with server_lifetime = 1 and server_idle_timeout = 1.  POOL_PID is the
pid of the first one: its server connections are told from other pgrouters' (which log
in as app too, with the same application_name) by their client ports, read from /proc.
PRIMARY_PORT is the primary, reached directly as postgres/postgres.  ITEST_DIRECT=1
skips every case.

Prints one `ok - pooling: NAME` or `not ok - pooling: NAME: reason` line per case and
exits 1 if any failed.  Arguments, if given, are substrings: only cases whose name
contains one of them run.
"""

import os
import sys
import threading
import time

import psycopg
from psycopg import errors
from itest import Skip, Suite, check  # noqa: E402,F401 - the shared runner

PORT = os.environ.get("PGR_PORT")
LIFE_PORT = os.environ.get("POOL_LIFE_PORT")
PGR_PID = os.environ.get("POOL_PID")
PRIMARY = int(os.environ.get("PRIMARY_PORT", "0"))
POOL_SIZE = int(os.environ.get("POOL_SIZE", "10"))
QUERY_WAIT_TIMEOUT = float(os.environ.get("QUERY_WAIT_TIMEOUT", "2"))
CONNINFO = "host=127.0.0.1 port=%s user=app password=app dbname=appdb connect_timeout=10"

SUITE = Suite("pooling")
case = SUITE.case

def connect(port=None, **kw):
    kw.setdefault("autocommit", True)
    return psycopg.connect(CONNINFO % (port or PORT), **kw)


def direct(dbname="appdb"):
    return psycopg.connect("host=127.0.0.1 port=%d user=postgres password=postgres dbname=%s "
                           "connect_timeout=10" % (PRIMARY, dbname), autocommit=True)


def run_threads(n, target, timeout):
    """Run target(i) in n threads; return the exceptions they raised (index, exc)."""
    errs = []
    lock = threading.Lock()

    def wrap(i):
        try:
            target(i)
        except BaseException as e:  # noqa: BLE001 - reported by the case
            with lock:
                errs.append((i, e))

    threads = [threading.Thread(target=wrap, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    alive = sum(t.is_alive() for t in threads)
    check(alive == 0, "%d of %d threads still running after %.0f s" % (alive, n, timeout))
    return errs


def describe(errs):
    """The first failure of run_threads (check's message is built even when it passes)."""
    if not errs:
        return "none failed"
    i, e = errs[0]
    return "%d failed; first (thread %d): %s %s" % (
        len(errs), i, type(e).__name__, str(e).strip().replace("\n", " | "))


def pgrouter_ports():
    """Local ports of pgrouter's (POOL_PID) TCP connections to the primary."""
    inodes = set()
    fd_dir = "/proc/%s/fd" % PGR_PID
    for fd in os.listdir(fd_dir):
        try:
            link = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue            # closed meanwhile
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, remote, inode = fields[1], fields[2], fields[9]
            if inode in inodes and int(remote.rsplit(":", 1)[1], 16) == PRIMARY:
                ports.add(int(local.rsplit(":", 1)[1], 16))
    return ports


def pool_servers(cur):
    """Server connections of POOL_PID's pool app@appdb on the primary now."""
    rows = cur.execute("""SELECT client_port FROM pg_stat_activity
                          WHERE application_name = 'pgrouter' AND usename = 'app'
                            AND datname = 'appdb'""").fetchall()
    mine = pgrouter_ports()
    return sum(1 for (port,) in rows if port in mine)


@case
def many_clients_share_a_pool_of_10():
    """200 concurrent clients, 5 transactions each, through POOL_SIZE servers."""
    n_clients, n_tx = 200, 5
    check(PGR_PID and os.path.isdir("/proc/%s/fd" % PGR_PID),
          "POOL_PID=%r: no such process to read the connections of" % PGR_PID)
    with direct() as d:
        d.execute("DROP TABLE IF EXISTS itest_pool_many")
        d.execute("CREATE TABLE itest_pool_many (client int, n int, pid int)")
        d.execute("GRANT ALL ON itest_pool_many TO app")
    samples = []
    stop = threading.Event()

    def watch():
        with direct("postgres") as d:
            cur = d.cursor()
            while not stop.is_set():
                samples.append(pool_servers(cur))
                time.sleep(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    start = threading.Barrier(n_clients, timeout=60)

    def client(i):
        try:
            conn = connect()
        except BaseException:
            start.abort()       # the others stop waiting for this one
            raise
        with conn:
            start.wait()
            for n in range(n_tx):
                with conn.transaction():
                    conn.execute("INSERT INTO itest_pool_many VALUES (%s, %s, pg_backend_pid())",
                                 (i, n))
                    conn.execute("SELECT pg_sleep(0.01)")

    t0 = time.monotonic()
    try:
        errs = run_threads(n_clients, client, 90)
    finally:
        stop.set()
        watcher.join(10)
    took = time.monotonic() - t0
    check(not errs, "%d clients x %d transactions: %s" % (n_clients, n_tx, describe(errs)))
    with direct() as d:
        rows, clients, pids = d.execute(
            "SELECT count(*), count(DISTINCT client), count(DISTINCT pid) FROM itest_pool_many"
        ).fetchone()
        d.execute("DROP TABLE itest_pool_many")
    print("# many_clients: %d transactions in %.1f s on %d server backends; pool servers "
          "seen on the primary: max %d over %d samples"
          % (rows, took, pids, max(samples, default=-1), len(samples)), flush=True)
    check(rows == n_clients * n_tx and clients == n_clients,
          "the primary holds %d rows from %d clients, expected %d from %d"
          % (rows, clients, n_clients * n_tx, n_clients))
    check(samples, "no sample of pg_stat_activity was taken")
    check(max(samples) <= POOL_SIZE,
          "up to %d server connections of pgrouter for app@appdb on the primary, "
          "default_pool_size is %d" % (max(samples), POOL_SIZE))
    check(max(samples) >= 1, "no server connection of pgrouter seen while 200 clients ran")
    check(pids <= POOL_SIZE,
          "the transactions ran on %d different server backends, default_pool_size is %d"
          % (pids, POOL_SIZE))


@case
def prepared_statements_shared_across_servers():
    """psycopg prepare=True, 3 statements x 50 transactions in 10 clients, plus noise.

    psycopg names its statements _pg3_0, _pg3_1, ... in the order a connection
    prepares them; each client prepares the three texts in a different order, so
    the same name stands for different statements on different clients."""
    stmts = [
        ("SELECT %s::int * 2 AS v", lambda i, n: (i * 1000 + n,), lambda i, n: (i * 1000 + n) * 2),
        ("SELECT %s::text || '/' || %s::text AS v, pg_backend_pid()",
         lambda i, n: ("c%d" % i, "n%d" % n), lambda i, n: "c%d/n%d" % (i, n)),
        ("SELECT max(x) AS v FROM generate_series(1, %s::int) AS x", lambda i, n: (i + n + 1,),
         lambda i, n: i + n + 1),
    ]
    stop = threading.Event()
    noise_done = []
    servers = {}                # client -> server backends its statements ran on

    def noise(i):
        with connect() as conn:
            while not stop.is_set():
                conn.execute("SELECT pg_sleep(0.002)")
            noise_done.append(i)

    def client(i):
        order = [stmts[(i + k) % 3] for k in range(3)]
        if i % 2:
            order.reverse()
        servers[i] = set()
        with connect() as conn:
            for n in range(50):
                with conn.transaction():
                    for sql, params, want in order:
                        row = conn.execute(sql, params(i, n), prepare=True).fetchone()
                        check(row[0] == want(i, n), "client %d, round %d: %s gave %r, "
                              "expected %r" % (i, n, sql, row[0], want(i, n)))
                        if len(row) > 1:
                            servers[i].add(row[1])

    noisers = [threading.Thread(target=noise, args=(i,), daemon=True) for i in range(4)]
    for t in noisers:
        t.start()
    try:
        errs = run_threads(10, client, 60)
    finally:
        stop.set()
        for t in noisers:
            t.join(10)
    check(not errs, "prepared statements: %s" % describe(errs))
    check(len(noise_done) == 4, "%d of 4 noise clients ended cleanly" % len(noise_done))
    moved = sum(1 for pids in servers.values() if len(pids) >= 2)
    print("# prepared statements: %d of 10 clients ran them on more than one server "
          "(%d server backends in all)" % (moved, len(set().union(*servers.values()))),
          flush=True)
    check(moved == 10, "%d of 10 clients changed servers in 50 transactions on a pool of %d "
          "shared with 4 busy clients, so their statements were not prepared on a second "
          "server: %r" % (moved, POOL_SIZE, servers))
    # shared: each server holds each text once, under pgrouter's name, however
    # many clients prepared it (under psycopg's names _pg3_0, _pg3_1, ...).
    # Holding all POOL_SIZE servers at once, each in a transaction, reaches each.
    texts = [sql.replace("%s", "$%d") for sql, _, _ in stmts]
    texts = [t % tuple(range(1, t.count("$%d") + 1)) for t in texts]
    held_ready = threading.Barrier(POOL_SIZE, timeout=30)
    per_server = {}

    def hold(i):
        with connect(autocommit=False) as conn:
            rows = conn.execute("SELECT pg_backend_pid(), name, statement "
                                "FROM pg_prepared_statements").fetchall()
            pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
            per_server[pid] = [(r[1], r[2]) for r in rows]
            held_ready.wait()
            conn.rollback()

    errs = run_threads(POOL_SIZE, hold, 60)
    check(not errs, "holding the %d servers: %s" % (POOL_SIZE, describe(errs)))
    check(len(per_server) == POOL_SIZE, "%d transactions held only %d servers"
          % (POOL_SIZE, len(per_server)))
    with_any = 0
    for pid, stmts_here in per_server.items():
        client_names = [n for n, _ in stmts_here if n.startswith("_pg3")]
        check(not client_names, "server %d holds statements under client names %r"
              % (pid, client_names))
        for t in texts:
            copies = [n for n, st in stmts_here if st == t]
            check(len(copies) <= 1, "server %d holds %d copies of %r: %r"
                  % (pid, len(copies), t, copies))
        if any(st in texts for _, st in stmts_here):
            with_any += 1
    print("# prepared statements: %d of %d servers hold them, once each" % (with_any, POOL_SIZE),
          flush=True)
    check(with_any >= 2, "only %d server(s) hold the statements of 10 moving clients" % with_any)


@case
def set_search_path_follows_the_client_to_other_servers():
    with direct() as d:
        d.execute("DROP SCHEMA IF EXISTS s_pool CASCADE")
        d.execute("CREATE SCHEMA s_pool AUTHORIZATION app")
        d.execute("CREATE TABLE s_pool.t_where AS SELECT 's_pool'::text AS v")
        d.execute("GRANT SELECT ON s_pool.t_where TO app")
    stop = threading.Event()
    busy_errs = []

    def busy(i):
        try:
            with connect() as conn:
                while not stop.is_set():
                    conn.execute("SELECT pg_sleep(0.003)")
        except psycopg.Error as e:
            busy_errs.append((i, e))

    busies = [threading.Thread(target=busy, args=(i,), daemon=True) for i in range(9)]
    for t in busies:
        t.start()
    seen = []
    try:
        with connect() as conn:
            conn.execute("SET search_path = s_pool, public")
            # at least 20 queries, until two servers answered (at most 30 s)
            deadline = time.monotonic() + 30
            while len(seen) < 20 or (len({r[1] for r in seen}) < 2
                                     and time.monotonic() < deadline):
                seen.append(conn.execute("SELECT current_setting('search_path'), "
                                         "pg_backend_pid(), (SELECT v FROM t_where)").fetchone())
                time.sleep(0.02)
    finally:
        stop.set()
        for t in busies:
            t.join(10)
    with direct() as d:
        d.execute("DROP SCHEMA s_pool CASCADE")
    pids = sorted({r[1] for r in seen})
    print("# search_path: %d queries on %d server backends" % (len(seen), len(pids)), flush=True)
    check(not busy_errs, "a busy client failed: %s" % describe(busy_errs))
    bad = [r for r in seen if r[0] != "s_pool, public" or r[2] != "s_pool"]
    check(not bad, "%d of %d queries did not see search_path = s_pool, public: first %r"
          % (len(bad), len(seen), bad[:1]))
    check(len(pids) >= 2, "all %d queries ran on backend %s: the server never changed, "
          "so the replay was not tested" % (len(seen), pids))


@case
def query_wait_timeout_fails_the_query_with_53300_and_keeps_the_session():
    holders_ready = threading.Barrier(POOL_SIZE + 1, timeout=30)
    release = threading.Event()

    def holder(i):
        with connect(autocommit=False) as conn:
            conn.execute("SELECT pg_sleep(0)")   # BEGIN ...: holds a server
            holders_ready.wait()
            release.wait(30)
            conn.rollback()

    waiter = connect()
    threads = []
    try:
        check(waiter.execute("SELECT 1").fetchone()[0] == 1, "SELECT 1 before the test")
        threads = [threading.Thread(target=holder, args=(i,), daemon=True)
                   for i in range(POOL_SIZE)]
        for t in threads:
            t.start()
        holders_ready.wait()
        t0 = time.monotonic()
        try:
            waiter.execute("SELECT 'no server for me'")
            raise AssertionError("a query with all %d servers held ran (after %.1f s)"
                                 % (POOL_SIZE, time.monotonic() - t0))
        except psycopg.Error as e:
            took = time.monotonic() - t0
            err = e
        print("# query_wait_timeout: error after %.2f s: %s %s"
              % (took, err.sqlstate, str(err).strip()), flush=True)
        check(err.sqlstate == "53300", "SQLSTATE %s, expected 53300: %s" % (err.sqlstate, err))
        check("no server connection available in pool app@appdb" in str(err),
              "the message does not name the pool app@appdb: %s" % err)
        # not before the timeout; how late is printed above (a busy machine is slow)
        check(took >= QUERY_WAIT_TIMEOUT - 0.2,
              "the error came after %.2f s, before query_wait_timeout (%.0f s)"
              % (took, QUERY_WAIT_TIMEOUT))
        release.set()
        for t in threads:
            t.join(10)
        got = waiter.execute("SELECT 42").fetchone()[0]
        check(got == 42, "SELECT 42 after the timeout gave %r" % (got,))
        with waiter.transaction():
            got = waiter.execute("SELECT 43").fetchone()[0]
        check(got == 43, "a transaction after the timeout gave %r" % (got,))
    finally:
        release.set()
        waiter.close()


@case
def cancel_reaches_the_right_query():
    with connect() as keep, connect() as victim:
        pids = {}
        results = {}

        def sleeper(name, conn):
            t0 = time.monotonic()
            try:
                pids[name] = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
                conn.execute("SELECT pg_sleep(5)")
                results[name] = ("done", time.monotonic() - t0)
            except psycopg.Error as e:
                results[name] = (e, time.monotonic() - t0)

        threads = [threading.Thread(target=sleeper, args=("keep", keep), daemon=True),
                   threading.Thread(target=sleeper, args=("victim", victim), daemon=True)]
        for t in threads:
            t.start()
        # both must be in pg_sleep(5) before the cancel, or it could hit nothing
        with direct("postgres") as d:
            deadline = time.monotonic() + 5
            while True:
                n = d.execute("""SELECT count(*) FROM pg_stat_activity
                                 WHERE query = 'SELECT pg_sleep(5)' AND state = 'active'
                                   AND usename = 'app'""").fetchone()[0]
                if n >= 2:
                    break
                check(time.monotonic() < deadline, "the two pg_sleep(5) did not start (%d)" % n)
                time.sleep(0.05)
        t_cancel = time.monotonic()
        victim.cancel()
        threads[1].join(30)
        check("victim" in results, "the cancelled query has not ended 30 s after the cancel")
        res, _ = results["victim"]
        took = time.monotonic() - t_cancel
        check(isinstance(res, errors.QueryCanceled),
              "the cancelled client got %r, expected QueryCanceled" % (res,))
        print("# measured: cancel -> QueryCanceled after %.0f ms" % (took * 1000), flush=True)
        keep_early = results.get("keep")
        threads[0].join(30)
        res, took = results.get("keep", (None, 0))
        check(res == "done", "the other client's pg_sleep(5) got %r (when the victim's "
              "cancel returned: %r)" % (res, keep_early))
        # it ran to its end: not cut short by the cancel
        check(took >= 4.9, "the other client's pg_sleep(5) took %.1f s" % took)
        check(victim.execute("SELECT 7").fetchone()[0] == 7, "the cancelled client is unusable")


@case
def server_lifetime_rotation_does_not_disturb_clients():
    check(LIFE_PORT, "POOL_LIFE_PORT is not set")
    pids = []
    t0 = time.monotonic()
    with connect(LIFE_PORT) as conn:
        conn.execute("SET application_name = 'itest_lifetime'")
        for i in range(30):
            try:
                row = conn.execute("SELECT %s::int, pg_backend_pid(), "
                                   "current_setting('application_name')", (i,)).fetchone()
            except psycopg.Error as e:
                raise AssertionError("query %d of 30 (%.1f s in) failed: %s %s"
                                     % (i + 1, time.monotonic() - t0, e.sqlstate, e)) from e
            check(row[0] == i and row[2] == "itest_lifetime", "query %d gave %r" % (i, row))
            pids.append(row[1])
            time.sleep(0.13)
    changes = sum(1 for a, b in zip(pids, pids[1:]) if a != b)
    print("# server_lifetime: 30 queries in %.1f s on %d server backends, %d changes"
          % (time.monotonic() - t0, len(set(pids)), changes), flush=True)
    check(len(set(pids)) >= 2, "all 30 queries over %.1f s ran on backend %d with "
          "server_lifetime = 1" % (time.monotonic() - t0, pids[0]))



def main():
    return SUITE.run(need=[(PORT and PRIMARY, "PGR_PORT and PRIMARY_PORT must be set")])


if __name__ == "__main__":
    sys.exit(main())
