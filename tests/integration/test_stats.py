#!/usr/bin/python3
"""tests/integration/test_stats.py - SHOW STATS, SHOW STATS_TOTALS, SHOW STATS_AVERAGES,
SHOW ROUTES and the stats_period log line, against the instance stats.sh starts (its
counters move only by what these cases do: nothing else connects to it).

Run by run.sh (run_py) with Debian's /usr/bin/python3 (python3-psycopg).
Environment: STATS_PORT (the instance), STATS_DIR (its config and log);
ITEST_DIRECT=1 skips every case.

What the README promises ("Statistics: SHOW STATS and SHOW ROUTES") and each case checks:
  - N autocommit queries and M transactions (BEGIN; SELECT; COMMIT as three Queries)
    move appdb's total_xact_count by exactly N + M and total_query_count by N + 3M,
    total_received by exactly the bytes of those Query messages (login and Terminate
    not counted), total_sent by exactly the bytes of the answers relayed (PostgreSQL
    15's RowDescription, DataRow, CommandComplete, ReadyForQuery), server assignments
    by one per transaction (plus at most one for the login), and xact time is at least
    query time;
  - SHOW STATS_TOTALS has the same totals under PgBouncer's shorter names, and every
    command has PgBouncer's columns in its order;
  - SHOW ROUTES counts those reads as "read" -> replica, the BEGINs as "transaction" ->
    primary and the statements inside as "inside a transaction" -> pinned, exactly;
  - SHOW STATS_AVERAGES: a burst of queries shows up as queries per second after the next
    stats_period tick (2 s here) and goes back to 0 once a period passes without any;
    the log gets a "stats: database appdb:" line every period;
  - stats_users may run these commands; app may not log in to the console.
Prints one `ok - stats: NAME` or `not ok - stats: NAME: reason` line per case and exits
1 if any failed.  Arguments, if given, are substrings of case names.
"""

import os
import sys
import time

import psycopg
from psycopg import pq

from itest import Suite, check

PORT = os.environ.get("STATS_PORT", "")
STATS_DIR = os.environ.get("STATS_DIR", "")
APP = "host=127.0.0.1 port=%s user=app password=app dbname=appdb connect_timeout=10"
CONSOLE = "host=127.0.0.1 port=%s user=%s password=%s dbname=pgrouter connect_timeout=10"

SUITE = Suite("stats")
case = SUITE.case

STATS_COLS = [
    "database", "total_server_assignment_count", "total_xact_count", "total_query_count",
    "total_received", "total_sent", "total_xact_time", "total_query_time", "total_wait_time",
    "total_client_parse_count", "total_server_parse_count", "total_bind_count",
    "avg_server_assignment_count", "avg_xact_count", "avg_query_count", "avg_recv",
    "avg_sent", "avg_xact_time", "avg_query_time", "avg_wait_time",
    "avg_client_parse_count", "avg_server_parse_count", "avg_bind_count",
]
TOTALS_COLS = [
    "database", "server_assignment_count", "xact_count", "query_count", "bytes_received",
    "bytes_sent", "xact_time", "query_time", "wait_time", "client_parse_count",
    "server_parse_count", "bind_count",
]
AVERAGES_COLS = [
    "database", "server_assignment_count", "xact_count", "query_count", "bytes_received",
    "bytes_sent", "xact_time", "query_time", "wait_time", "avg_client_parse_count",
    "avg_server_parse_count", "avg_bind_count",
]


def console(user="admin"):
    return psycopg.connect(CONSOLE % (PORT, user, user), autocommit=True)


def show(conn, command):
    """Run a console command over the simple query protocol: (column names, rows)."""
    res = conn.pgconn.exec_(command.encode())
    check(res.status == pq.ExecStatus.TUPLES_OK,
          "%s: %s %s" % (command, res.status, (res.error_message or b"").decode()))
    cols = [res.fname(i).decode() for i in range(res.nfields)]
    rows = []
    for r in range(res.ntuples):
        row = {}
        for c in range(res.nfields):
            v = res.get_value(r, c)
            row[cols[c]] = None if v is None else v.decode()
        rows.append(row)
    return cols, rows


def db_row(conn, command, db="appdb"):
    cols, rows = show(conn, command)
    for row in rows:
        if row["database"] == db:
            return cols, {k: (v if k == "database" else int(v)) for k, v in row.items()}
    return cols, None


def routes(conn):
    _, rows = show(conn, "SHOW ROUTES")
    return {(r["rule"], r["target"]): int(r["count"]) for r in rows}


def simple(conn, sql):
    """One Query message; returns its bytes on the wire."""
    res = conn.pgconn.exec_(sql.encode())
    check(res.status in (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK),
          "%s: %s" % (sql, (res.error_message or b"").decode()))
    return 1 + 4 + len(sql.encode()) + 1


def answer_bytes(tag, select_one_column=False):
    """What PostgreSQL 15 answers: [RowDescription, DataRow,] CommandComplete, ReadyForQuery."""
    n = 0
    if select_one_column:
        n += 1 + 4 + 2 + len(b"?column?\0") + 4 + 2 + 4 + 2 + 4 + 2     # one field
        n += 1 + 4 + 2 + 4 + 1                                          # one value "1"
    n += 1 + 4 + len(tag.encode()) + 1
    n += 1 + 4 + 1
    return n


def wait_for(what, cond, secs):
    t0 = time.monotonic()
    while True:
        v = cond()
        if v:
            return v
        check(time.monotonic() - t0 < secs, "%s: not within %.0f s" % (what, secs))
        time.sleep(0.1)


def log_text():
    with open(os.path.join(STATS_DIR, "pgrouter.log"), "rb") as f:
        return f.read().decode(errors="replace")


@case
def test_stats_commands_have_pgbouncer_columns():
    with console() as c:
        check(show(c, "SHOW STATS")[0] == STATS_COLS, "SHOW STATS columns")
        check(show(c, "SHOW STATS_TOTALS")[0] == TOTALS_COLS, "SHOW STATS_TOTALS columns")
        check(show(c, "SHOW STATS_AVERAGES")[0] == AVERAGES_COLS,
              "SHOW STATS_AVERAGES columns")
        check(show(c, "SHOW ROUTES")[0] == ["rule", "target", "count"], "SHOW ROUTES columns")
        res = c.pgconn.exec_(b"SHOW STATS appdb")
        check(res.status == pq.ExecStatus.FATAL_ERROR and
              res.error_field(pq.DiagnosticField.SQLSTATE) == b"42601",
              "SHOW STATS with an argument: %s" % res.status)
    with console("stats") as c:
        check(show(c, "show stats_totals")[0] == TOTALS_COLS, "stats_users run SHOW")
    try:
        psycopg.connect(CONSOLE % (PORT, "app", "app"), autocommit=True).close()
        check(False, "app logged in to the console")
    except psycopg.OperationalError:
        pass


@case
def test_stats_counts_queries_transactions_and_bytes_exactly():
    n_reads, n_tx = 7, 3
    with console() as c:
        # a client of this instance may still be leaving: wait for the counts to settle
        _, before = db_row(c, "SHOW STATS")
        before = before or {k: 0 for k in STATS_COLS if k != "database"}
        r0 = routes(c)
        sent = recv = 0
        with psycopg.connect(APP % PORT, autocommit=True) as a:
            for _ in range(n_reads):
                recv += simple(a, "SELECT 1")
                sent += answer_bytes("SELECT 1", True)
            for _ in range(n_tx):
                recv += simple(a, "BEGIN")
                recv += simple(a, "SELECT 1")
                recv += simple(a, "COMMIT")
                sent += answer_bytes("BEGIN") + answer_bytes("SELECT 1", True)
                sent += answer_bytes("COMMIT")
        _, after = db_row(c, "SHOW STATS")
        check(after is not None, "no appdb row in SHOW STATS")
        d = {k: after[k] - before[k] for k in after if k.startswith("total_")}
        check(d["total_xact_count"] == n_reads + n_tx,
              "xact_count moved by %d, not %d" % (d["total_xact_count"], n_reads + n_tx))
        check(d["total_query_count"] == n_reads + 3 * n_tx,
              "query_count moved by %d, not %d" % (d["total_query_count"],
                                                   n_reads + 3 * n_tx))
        check(d["total_received"] == recv,
              "total_received moved by %d, not %d" % (d["total_received"], recv))
        check(d["total_sent"] == sent,
              "total_sent moved by %d, not %d" % (d["total_sent"], sent))
        check(n_reads + n_tx <= d["total_server_assignment_count"] <= n_reads + n_tx + 1,
              "server_assignment_count moved by %d" % d["total_server_assignment_count"])
        check(d["total_query_time"] > 0, "query time did not move")
        check(d["total_xact_time"] >= d["total_query_time"],
              "xact time %d < query time %d" % (d["total_xact_time"], d["total_query_time"]))
        check(d["total_client_parse_count"] == 0 and d["total_bind_count"] == 0,
              "prepared statement counts moved without prepared statements")
        _, totals = db_row(c, "SHOW STATS_TOTALS")
        for short in TOTALS_COLS[1:]:
            long = {"bytes_received": "total_received",
                    "bytes_sent": "total_sent"}.get(short, "total_" + short)
            # nothing ran in between, so both commands show the same totals
            check(totals[short] == after[long], "%s %d != %s %d" % (short, totals[short], long,
                                                                  after[long]))
        r1 = routes(c)
        moved = {k: r1.get(k, 0) - r0.get(k, 0) for k in set(r0) | set(r1)}
        moved = {k: v for k, v in moved.items() if v != 0}
        want = {("read", "replica"): n_reads, ("transaction", "primary"): n_tx,
                ("inside a transaction", "pinned"): 2 * n_tx}
        check(moved == want, "SHOW ROUTES moved by %s, not %s" % (moved, want))


@case
def test_stats_prepared_statements_are_counted():
    with console() as c:
        _, before = db_row(c, "SHOW STATS")
        with psycopg.connect(APP % PORT, autocommit=True) as a:
            for i in range(4):
                # prepare=True: a named Parse once, then Binds of it
                a.execute("SELECT %s::int", (i,), prepare=True)
        _, after = db_row(c, "SHOW STATS")
        d = {k: after[k] - before[k] for k in after if k.startswith("total_")}
        check(d["total_client_parse_count"] == 1,
              "client_parse_count moved by %d, not 1" % d["total_client_parse_count"])
        check(d["total_server_parse_count"] >= 1,
              "server_parse_count moved by %d" % d["total_server_parse_count"])
        check(d["total_bind_count"] == 4,
              "bind_count moved by %d, not 4" % d["total_bind_count"])
        # the Parse goes out with a Sync of its own (libpq's PQsendPrepare): 5 units
        check(d["total_query_count"] == 5, "query_count moved by %d" % d["total_query_count"])


@case
def test_stats_averages_follow_the_period():
    burst = 40
    with console() as c:
        with psycopg.connect(APP % PORT, autocommit=True) as a:
            for _ in range(burst):
                simple(a, "SELECT 1")

        def seen():
            _, avg = db_row(c, "SHOW STATS_AVERAGES")
            return avg if avg and avg["query_count"] > 0 else None

        # the tick after the burst (2 s period) covers at least part of it
        avg = wait_for("queries per second after the burst", seen, 6)
        check(avg["query_count"] <= burst,
              "avg query_count %d/s for %d queries" % (avg["query_count"], burst))
        check(avg["query_time"] > 0, "avg query_time 0 with queries")

        def quiet():
            _, a2 = db_row(c, "SHOW STATS_AVERAGES")
            return a2 is not None and a2["query_count"] == 0 and a2["xact_count"] == 0

        wait_for("averages back to 0 after a quiet period", quiet, 8)
        _, row = db_row(c, "SHOW STATS")
        check(row["avg_query_count"] == 0, "SHOW STATS avg_query_count not 0 when quiet")
    wait_for("a 'stats: database appdb:' log line",
             lambda: "stats: database appdb: " in log_text(), 6)


def main():
    return SUITE.run(need=[(PORT, "STATS_PORT is not set"),
                           (STATS_DIR, "STATS_DIR is not set")])


if __name__ == "__main__":
    sys.exit(main())
