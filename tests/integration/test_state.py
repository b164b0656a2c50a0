#!/usr/bin/python3
"""tests/integration/test_state.py - session state through pgrouter with psycopg 3.

Run by state.sh (through run.sh's run_py).  The pgrouter at PGR_PORT runs
pool_mode = transaction with default_pool_size = 1 for a primary alone, so that every
client of one user shares one server connection: whatever one client leaves on it, the
next one gets, unless pgrouter resets it.  PRIMARY_PORT is the primary, reached directly
as postgres/postgres.  ITEST_DIRECT=1 skips every case.

Prints one `ok - state: NAME` or `not ok - state: NAME: reason` line per case and exits 1
if any failed.
"""

import os
import sys
import time

import psycopg
from itest import Skip, Suite, check  # noqa: E402,F401 - the shared runner

PORT = os.environ.get("PGR_PORT")
PRIMARY = int(os.environ.get("PRIMARY_PORT", "0"))
CONNINFO = "host=127.0.0.1 port=%s user=%s password=%s dbname=appdb connect_timeout=10"

SUITE = Suite("state")
case = SUITE.case

def connect(user="app", **kw):
    kw.setdefault("autocommit", True)
    return psycopg.connect(CONNINFO % (PORT, user, user), **kw)


def direct():
    return psycopg.connect("host=127.0.0.1 port=%d user=postgres password=postgres "
                           "dbname=appdb connect_timeout=10" % PRIMARY, autocommit=True)


def who(conn):
    return conn.execute("SELECT current_user::text, session_user::text").fetchone()


def ensure_role(name, member_of_app=False):
    with direct() as d:
        if d.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone() is None:
            d.execute("CREATE ROLE %s" % name)
        if member_of_app:
            d.execute("GRANT %s TO app" % name)


@case
def set_role_does_not_leak_to_the_next_client():
    ensure_role("itest_r1", member_of_app=True)
    c1, c2 = connect(), connect()
    try:
        c1.execute("SET ROLE itest_r1")
        check(who(c1) == ("itest_r1", "app"), "c1 after SET ROLE: %r" % (who(c1),))
        # the one server now ran c1's SET ROLE; c2 must get it as itself
        got = who(c2)
        check(got == ("app", "app"), "c2 saw %r after c1's SET ROLE (identity leaked)" % (got,))
        check(who(c1) == ("itest_r1", "app"), "c1's role was not restored: %r" % (who(c1),))
        c1.execute("RESET ROLE")
        check(who(c1) == ("app", "app"), "c1 after RESET ROLE: %r" % (who(c1),))
        c1.execute("SET ROLE itest_r1")
    finally:
        c1.close()
    # c1 left without a reset in transaction mode: c2 and a new client still are app
    check(who(c2) == ("app", "app"), "c2 after c1 left: %r" % (who(c2),))
    with connect() as c3:
        check(who(c3) == ("app", "app"), "a new client after c1 left: %r" % (who(c3),))
    c2.close()


@case
def session_authorization_does_not_leak_and_is_replayed_before_role():
    ensure_role("itest_r1", member_of_app=True)
    p1, p2 = connect("postgres"), connect("postgres")
    try:
        p1.execute("SET SESSION AUTHORIZATION app")
        p1.execute("SET ROLE itest_r1")
        check(who(p1) == ("itest_r1", "app"), "p1: %r" % (who(p1),))
        check(who(p2) == ("postgres", "postgres"), "p2 saw %r (identity leaked)" % (who(p2),))
        # replayed: SESSION AUTHORIZATION first, then ROLE (the other order fails)
        check(who(p1) == ("itest_r1", "app"), "p1 not restored: %r" % (who(p1),))
        p1.execute("SET SESSION AUTHORIZATION DEFAULT")
        check(who(p1) == ("postgres", "postgres"), "p1 after DEFAULT: %r" % (who(p1),))
        p1.execute("SET SESSION AUTHORIZATION app")
        # RESET ALL leaves the identity alone, in PostgreSQL and through pgrouter
        p1.execute("RESET ALL")
        check(who(p2) == ("postgres", "postgres"), "p2 after p1's RESET ALL: %r" % (who(p2),))
        check(who(p1) == ("app", "app"), "p1 after RESET ALL: %r" % (who(p1),))
    finally:
        p1.close()
        p2.close()


@case
def a_dropped_role_fails_the_client_clearly_and_runs_nothing():
    with direct() as d:
        d.execute("DROP TABLE IF EXISTS itest_gone_log")
        d.execute("CREATE TABLE itest_gone_log (who text)")
        d.execute("GRANT INSERT ON itest_gone_log TO PUBLIC")
        if d.execute("SELECT 1 FROM pg_roles WHERE rolname = 'itest_gone'").fetchone() is None:
            d.execute("CREATE ROLE itest_gone")
    p1, p2 = connect("postgres"), connect("postgres")
    try:
        p1.execute("SET SESSION AUTHORIZATION itest_gone")
        check(who(p1) == ("itest_gone", "itest_gone"), "p1: %r" % (who(p1),))
        who(p2)     # the server is reset for p2: itest_gone is no longer in use
        with direct() as d:
            d.execute("DROP ROLE itest_gone")
        err = None
        try:
            p1.execute("INSERT INTO itest_gone_log VALUES (session_user)")
        except psycopg.Error as e:
            err = e
        check(err is not None, "p1's INSERT ran although its role was dropped")
        msg = str(err)
        check("does not exist" in msg and "pgrouter" in msg,
              "p1's error does not say why: %s" % msg)
        check(p1.closed or p1.broken, "p1 is still open after the failed restore")
        with direct() as d:
            rows = d.execute("SELECT who FROM itest_gone_log").fetchall()
        check(rows == [], "the INSERT ran as %r" % (rows,))
        check(who(p2) == ("postgres", "postgres"), "p2 afterwards: %r" % (who(p2),))
    finally:
        p1.close()
        p2.close()


@case
def a_thousand_sets_in_autocommit_keep_the_session():
    c1, c2 = connect(), connect()
    try:
        for i in range(1000):
            c1.execute("SET search_path TO public, s%d" % i)
            c1.execute("SELECT 1")
            if i % 100 == 0:
                who(c2)     # the server changes hands: the state is replayed
        got = c1.execute("SHOW search_path").fetchone()[0]
        check(got == "public, s999", "search_path after 1000 SETs: %r" % got)
        check(c2.execute("SHOW search_path").fetchone()[0] == '"$user", public',
              "c2 inherited c1's search_path")
        # a thousand distinct parameters pass the bound: a clear error, the session lives
        err = None
        for i in range(1000):
            try:
                c1.execute("SET itest.v%d = '1'" % i)
            except psycopg.Error as e:
                err = e
                break
        check(err is not None and err.sqlstate == "54000",
              "no 54000 past the bound: %r" % (err,))
        check(c1.execute("SELECT 42").fetchone()[0] == 42, "session gone after the bound")
        check(c1.execute("SHOW itest.v5").fetchone()[0] == "1", "itest.v5 lost")
    finally:
        c1.close()
        c2.close()


@case
def a_rolled_back_set_is_not_replayed():
    c1, c2 = connect(), connect()
    try:
        c1.execute("SET search_path = public, committed_one")
        c1.execute("BEGIN")
        c1.execute("SET search_path = public, rolled_back")
        c1.execute("ROLLBACK")
        check(c1.execute("SHOW search_path").fetchone()[0] == "public, committed_one",
              "search_path right after ROLLBACK")
        who(c2)     # the server changes hands: c1's state is replayed on the way back
        got = c1.execute("SHOW search_path").fetchone()[0]
        check(got == "public, committed_one", "after ROLLBACK and replay: %r" % got)
        # a failed transaction's SET goes too; a committed one stays
        c1.execute("BEGIN")
        c1.execute("SET search_path = public, failed")
        try:
            c1.execute("SELECT 1/0")
        except psycopg.errors.DivisionByZero:
            pass
        c1.execute("COMMIT")
        c1.execute("BEGIN")
        c1.execute("SET TIME ZONE 'Asia/Tokyo'")
        c1.execute("COMMIT")
        who(c2)
        got = c1.execute("SELECT current_setting('search_path'), "
                         "current_setting('TimeZone')").fetchone()
        check(got == ("public, committed_one", "Asia/Tokyo"), "after two transactions: %r"
              % (got,))
        # SET LOCAL ends with its transaction
        c1.execute("BEGIN")
        c1.execute("SET LOCAL search_path = public, local_one")
        c1.execute("COMMIT")
        who(c2)
        got = c1.execute("SHOW search_path").fetchone()[0]
        check(got == "public, committed_one", "after SET LOCAL: %r" % got)
    finally:
        c1.close()
        c2.close()



def main():
    return SUITE.run(need=[(PORT and PRIMARY, "PGR_PORT and PRIMARY_PORT must be set")])


if __name__ == "__main__":
    sys.exit(main())
