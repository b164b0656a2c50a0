#!/usr/bin/python3
"""tests/integration/test_psycopg.py - psycopg 3 through pgrouter.

Run with Debian's /usr/bin/python3 (python3-psycopg).  Connects to
127.0.0.1:$PGR_PORT as app/app, database appdb (PGR_USER, PGR_PASSWORD,
PGR_DB override).  Prints one `ok - psycopg: NAME` or `not ok - psycopg: NAME:
reason` line per case and exits 1 if any failed.  Arguments, if given, are
substrings: only cases whose name contains one of them run.
"""

import datetime
import decimal
import hashlib
import os
import sys
import threading
import time

import psycopg
from psycopg import errors
from itest import Skip, Suite, check  # noqa: E402,F401 - the shared runner

PORT = os.environ.get("PGR_PORT")
CONNINFO = "host=127.0.0.1 port=%s user=%s password=%s dbname=%s connect_timeout=10" % (
    PORT,
    os.environ.get("PGR_USER", "app"),
    os.environ.get("PGR_PASSWORD", "app"),
    os.environ.get("PGR_DB", "appdb"),
)
TABLE = "itest_psycopg"

SUITE = Suite("psycopg")
case = SUITE.case

def connect(**kw):
    kw.setdefault("autocommit", True)
    return psycopg.connect(CONNINFO, **kw)


@case
def server_side_parameters():
    with connect() as conn:
        got = conn.execute("SELECT %s::int + %s", (40, 2)).fetchone()[0]
        check(got == 42, "SELECT 40 + 2 gave %r" % (got,))
        got = conn.execute("SELECT %s || %s", ("pg", "router")).fetchone()[0]
        check(got == "pgrouter", "concatenation gave %r" % (got,))
        got = conn.execute("SELECT %s::text IS NULL", (None,)).fetchone()[0]
        check(got is True, "NULL parameter gave %r" % (got,))


@case
def binary_results():
    ts = datetime.datetime(2024, 2, 29, 13, 14, 15, 123456, tzinfo=datetime.timezone.utc)
    with connect() as conn:
        cur = conn.cursor(binary=True)
        cur.execute("""SELECT 42::int4, 9000000000::int8, '\\x00ff10'::bytea,
                              12345.6789::numeric, %s::timestamptz, 'é'::text, NULL::int""",
                    (ts,))
        row = cur.fetchone()
        want = (42, 9000000000, b"\x00\xff\x10", decimal.Decimal("12345.6789"), ts, "é", None)
        check(tuple(row[:2]) == want[:2], "ints %r" % (row[:2],))
        check(bytes(row[2]) == want[2], "bytea %r" % (row[2],))
        check(row[3:] == want[3:], "numeric/timestamptz/text/null %r" % (row[3:],))
        check(cur.pgresult.fformat(0) == 1, "result column 0 is not in binary format")


@case
def large_binary_parameter():
    blob = os.urandom(4 * 1024 * 1024)
    with connect() as conn:
        cur = conn.cursor(binary=True)
        cur.execute("SELECT %b, length(%b), md5(%b)", (blob, blob, blob))
        back, n, digest = cur.fetchone()
        check(n == len(blob), "length %r" % n)
        check(digest == hashlib.md5(blob).hexdigest(), "md5 differs")
        check(bytes(back) == blob, "bytea round trip differs")


@case
def prepared_statements():
    with connect(prepare_threshold=0) as conn:
        for i in range(20):
            got = conn.execute("SELECT %s::int * 2", (i,), prepare=True).fetchone()[0]
            check(got == 2 * i, "prepared execution %d gave %r" % (i, got))
        # on the server that runs them, the statement exists once (pgrouter
        # prepares it under its own pgr_ name, PostgreSQL under psycopg's)
        # however many times it ran; a transaction keeps both on one server
        with conn.transaction():
            got = conn.execute("SELECT %s::int * 2", (21,), prepare=True).fetchone()[0]
            check(got == 42, "prepared execution in a transaction gave %r" % (got,))
            rows = conn.execute("SELECT name FROM pg_prepared_statements "
                                "WHERE statement = 'SELECT $1::int * 2'").fetchall()
        names = sorted(r[0] for r in rows)
        check(len(names) == 1, "the server holds %d copies of the prepared statement: %r"
              % (len(names), names))
        if os.environ.get("ITEST_DIRECT") != "1":
            check(names[0].startswith("pgr_"),
                  "the server-side name is %r, expected pgrouter's pgr_<hash>" % names[0])
    # the default threshold: psycopg prepares after the fifth execution
    with connect() as conn:
        for i in range(10):
            got = conn.execute("SELECT %s::text || 'x'", (str(i),)).fetchone()[0]
            check(got == "%dx" % i, "execution %d gave %r" % (i, got))


@case
def executemany_and_transaction_rollback():
    with connect() as conn:
        conn.execute("DROP TABLE IF EXISTS %s" % TABLE)
        conn.execute("CREATE TABLE %s (id int PRIMARY KEY, v text)" % TABLE)
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO %s VALUES (%%s, %%s)" % TABLE,
                            [(i, "v%d" % i) for i in range(500)])
        n = conn.execute("SELECT count(*) FROM %s" % TABLE).fetchone()[0]
        check(n == 500, "executemany inserted %r rows" % n)

        with conn.transaction() as tx:
            conn.execute("DELETE FROM %s" % TABLE)
            inside = conn.execute("SELECT count(*) FROM %s" % TABLE).fetchone()[0]
            check(inside == 0, "delete in transaction left %r rows" % inside)
            raise psycopg.Rollback(tx)
        n = conn.execute("SELECT count(*) FROM %s" % TABLE).fetchone()[0]
        check(n == 500, "after rollback %r rows" % n)

    # the same with an explicit, non-autocommit connection
    with connect(autocommit=False) as conn:
        conn.execute("INSERT INTO %s VALUES (1000, 'x')" % TABLE)
        status = conn.info.transaction_status
        check(status == psycopg.pq.TransactionStatus.INTRANS,
              "transaction status %r after INSERT" % status)
        conn.rollback()
        n = conn.execute("SELECT count(*) FROM %s WHERE id = 1000" % TABLE).fetchone()[0]
        check(n == 0, "row survived rollback")
        conn.rollback()


@case
def copy_in_and_out():
    rows = [(i, "row %d\twith tab" % i) for i in range(1000)]
    with connect() as conn:
        conn.execute("DROP TABLE IF EXISTS %s_copy" % TABLE)
        conn.execute("CREATE TABLE %s_copy (id int, v text)" % TABLE)
        with conn.cursor() as cur:
            with cur.copy("COPY %s_copy (id, v) FROM STDIN" % TABLE) as copy:
                for r in rows:
                    copy.write_row(r)
            back = []
            with cur.copy("COPY (SELECT id, v FROM %s_copy ORDER BY id) TO STDOUT" % TABLE) \
                    as copy:
                copy.set_types(["int4", "text"])
                for r in copy.rows():
                    back.append(r)
        check(back == rows, "COPY TO gave %d rows, first %r" % (len(back), back[:1]))
        # binary COPY as well
        with conn.cursor() as cur:
            with cur.copy("COPY (SELECT id, v FROM %s_copy ORDER BY id) TO STDOUT "
                          "(FORMAT BINARY)" % TABLE) as copy:
                copy.set_types(["int4", "text"])
                back = list(copy.rows())
        check(back == rows, "binary COPY TO differs")
        conn.execute("DROP TABLE %s_copy" % TABLE)


@case
def server_error_then_usable():
    with connect() as conn:
        try:
            conn.execute("SELECT 1/0")
            raise AssertionError("SELECT 1/0 did not fail")
        except errors.DivisionByZero as e:
            check(e.sqlstate == "22012", "sqlstate %r" % e.sqlstate)
        got = conn.execute("SELECT 'still here'").fetchone()[0]
        check(got == "still here", "after error got %r" % got)
        try:
            conn.execute("SELECT * FROM no_such_table_itest")
            raise AssertionError("no error for a missing table")
        except errors.UndefinedTable as e:
            check(e.sqlstate == "42P01", "sqlstate %r" % e.sqlstate)

    with connect(autocommit=False) as conn:
        try:
            conn.execute("SELECT 1/0")
        except errors.DivisionByZero:
            pass
        status = conn.info.transaction_status
        check(status == psycopg.pq.TransactionStatus.INERROR,
              "transaction status %r after error" % status)
        try:
            conn.execute("SELECT 1")
            raise AssertionError("query in aborted transaction did not fail")
        except errors.InFailedSqlTransaction:
            pass
        conn.rollback()
        check(conn.execute("SELECT 7").fetchone()[0] == 7, "after rollback")
        conn.rollback()


@case
def pipeline_mode():
    with connect() as conn:
        with conn.pipeline():
            curs = [conn.execute("SELECT %s::int", (i,)) for i in range(50)]
        got = [c.fetchone()[0] for c in curs]
        check(got == list(range(50)), "pipeline results %r" % got[:5])
        try:
            with conn.pipeline():
                conn.execute("SELECT 1")
                conn.execute("SELECT 1/0")
                conn.execute("SELECT 2")
            raise AssertionError("error in pipeline not raised")
        except errors.DivisionByZero:
            pass
        check(conn.execute("SELECT 3").fetchone()[0] == 3, "after pipeline error")


@case
def notices_and_parameter_status():
    seen = []
    with connect() as conn:
        conn.add_notice_handler(lambda d: seen.append(d.message_primary))
        conn.execute("DO $$BEGIN RAISE NOTICE 'hello from itest'; END$$")
        check(seen == ["hello from itest"], "notices %r" % seen)
        check(conn.info.parameter_status("server_version") is not None,
              "no server_version ParameterStatus")
        conn.execute("SET application_name = 'itest_psycopg'")
        got = conn.info.parameter_status("application_name")
        check(got == "itest_psycopg", "application_name ParameterStatus %r" % got)


def wait_active(query, secs):
    """Wait until QUERY runs (state active) on one of the servers, asked directly
    (PRIMARY_PORT, REPLICA1_PORT, REPLICA2_PORT as postgres), at most SECS."""
    ports = [int(os.environ[k]) for k in ("PRIMARY_PORT", "REPLICA1_PORT", "REPLICA2_PORT")
             if os.environ.get(k)]
    check(ports, "PRIMARY_PORT/REPLICA1_PORT/REPLICA2_PORT are not set")
    deadline = time.monotonic() + secs
    while True:
        for port in ports:
            with psycopg.connect("host=127.0.0.1 port=%d user=postgres password=postgres "
                                 "dbname=postgres connect_timeout=10" % port,
                                 autocommit=True) as d:
                n = d.execute("SELECT count(*) FROM pg_stat_activity "
                              "WHERE query = %s AND state = 'active'", (query,)).fetchone()[0]
            if n > 0:
                return
        check(time.monotonic() < deadline, "%r did not start within %d s" % (query, secs))
        time.sleep(0.05)


@case
def cancel_from_another_thread():
    with connect() as conn:
        result = {}

        def sleeper():
            t0 = time.monotonic()
            try:
                conn.execute("SELECT pg_sleep(30)")
                result["error"] = None
            except Exception as e:  # noqa: BLE001 - recorded and checked below
                result["error"] = e
            result["t"] = time.monotonic() - t0

        th = threading.Thread(target=sleeper)
        th.start()
        # the query must run on a server before the cancel, or it hits nothing
        wait_active("SELECT pg_sleep(30)", 20)
        t_cancel = time.monotonic()
        conn.cancel()
        th.join(25)
        check(not th.is_alive(), "query still running 25 s after cancel")
        waited = time.monotonic() - t_cancel
        err = result.get("error")
        check(isinstance(err, errors.QueryCanceled),
              "expected QueryCanceled, got %r" % (err,))
        check(err.sqlstate == "57014", "sqlstate %r" % err.sqlstate)
        print("# measured: cancel -> QueryCanceled after %.0f ms" % (waited * 1000), flush=True)
        check(conn.execute("SELECT 5").fetchone()[0] == 5, "connection unusable after cancel")


@case
def many_connections():
    conns = [connect() for _ in range(20)]
    try:
        pids = set()
        for i, c in enumerate(conns):
            check(c.execute("SELECT %s::int", (i,)).fetchone()[0] == i, "connection %d" % i)
            pids.add(c.info.backend_pid)
        check(len(pids) == len(conns), "BackendKeyData pids not distinct: %d" % len(pids))
    finally:
        for c in conns:
            c.close()



def drop_table():
    with connect() as conn:
        conn.execute("DROP TABLE IF EXISTS %s" % TABLE)


def main():
    return SUITE.run(need=[(PORT, "PGR_PORT is not set")], proxy_only=False,
                     cleanup=drop_table)


if __name__ == "__main__":
    sys.exit(main())
