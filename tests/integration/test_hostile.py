#!/usr/bin/python3
"""tests/integration/test_hostile.py - hostile clients against the suite's main pgrouter
(auth_type scram-sha-256, user app/app), byte by byte over raw sockets (rawpg.py):

  - startup settings never become SQL: with standard_conforming_strings=off, an
    application_name carrying \\' and an INSERT inserts nothing and arrives verbatim (as
    PostgreSQL itself shows it); so do an SJIS value whose second byte is 0x5c and
    options="-c ..." values with \\ escapes;
  - a Query in the same write as the SCRAM final message is answered at once;
  - a Query over max_query_size gets 54000 and the session goes on; one over the
    whole-message bound streams to the primary; the memory of 4 clients each sending
    400 MB stays bounded; another client's queries stay fast while 100 MB stream;
  - a 3.x startup with minor > 0 and unknown _pq_. options gets NegotiateProtocolVersion,
    as from PostgreSQL.
Prints `ok - hostile: NAME` or `not ok - hostile: NAME: reason` per case, exits 1 if any
failed. Arguments, if given, are substrings of case names.
"""

import os
import socket
import struct
import sys

import psycopg

import rawpg
from itest import PRIMARY, Skip, Suite, check

PORT = int(os.environ.get("PGR_PORT", "0"))

SUITE = Suite("hostile")
case = SUITE.case


def startup(params, version=rawpg.PROTOCOL_3_0):
    """A StartupMessage with params, a list of (name, value) bytes or str pairs."""
    body = struct.pack("!i", version)
    for k, v in params:
        k = k.encode() if isinstance(k, str) else k
        v = v.encode() if isinstance(v, str) else v
        body += k + b"\0" + v + b"\0"
    body += b"\0"
    return struct.pack("!i", len(body) + 4) + body


def connect(port, params, user="app", password="app", db="appdb"):
    """Logged in with startup params (user and database added) on port."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(startup([("user", user), ("database", db)] + list(params)))
    rawpg.login(s, user, password, db, send_startup=False)
    return s


def query_raw(s, sql):
    """Run sql (bytes or str) as a simple Query; the first column of the first row as
    bytes (None for NULL or no row). Raises rawpg.PeerError on an ErrorResponse."""
    sql = sql.encode() if isinstance(sql, str) else sql
    s.sendall(rawpg.msg(b"Q", sql + b"\0"))
    value, error, seen = None, None, False
    while True:
        t, p = rawpg.read_msg(s)
        if t == b"D" and not seen:
            seen = True
            (n,) = struct.unpack("!h", p[:2])
            if n > 0:
                (vlen,) = struct.unpack("!i", p[2:6])
                value = p[6:6 + vlen] if vlen >= 0 else None
        elif t == b"E":
            error = rawpg.PeerError(rawpg.parse_error(p))
        elif t == b"Z":
            if error:
                raise error
            return value


def primary(sql):
    with psycopg.connect("host=127.0.0.1 port=%d user=postgres password=postgres "
                         "dbname=appdb connect_timeout=10" % PRIMARY, autocommit=True) as c:
        cur = c.execute(sql)
        return cur.fetchall() if cur.description else None


def fresh_table():
    primary("DROP TABLE IF EXISTS itest_hostile_inj")
    primary("CREATE TABLE itest_hostile_inj (x int)")
    primary("GRANT ALL ON itest_hostile_inj TO PUBLIC")


def show_through_both(params, setting):
    """SHOW setting on PostgreSQL directly and through pgrouter (a write first, so the
    statement runs on a pooled server of the primary that got the settings replayed)."""
    got = {}
    for label, port in (("postgres", PRIMARY), ("pgrouter", PORT)):
        with connect(port, params) as s:
            query_raw(s, "INSERT INTO itest_hostile_inj SELECT 1 WHERE false")
            got[label] = query_raw(s, "SHOW " + setting)
            s.sendall(rawpg.msg(b"X", b""))
    return got


@case
def startup_app_name_injection_inserts_nothing():
    fresh_table()
    evil = "x\\'); INSERT INTO itest_hostile_inj VALUES (1); --"
    params = [("standard_conforming_strings", "off"), ("application_name", evil)]
    got = show_through_both(params, "application_name")
    check(got["pgrouter"] == evil.encode(),
          "SHOW application_name through pgrouter: %r, sent %r" % (got["pgrouter"], evil))
    check(got["postgres"] == got["pgrouter"],
          "PostgreSQL shows %r, pgrouter %r" % (got["postgres"], got["pgrouter"]))
    n = primary("SELECT count(*) FROM itest_hostile_inj")[0][0]
    check(n == 0, "the startup value's INSERT ran: %d rows" % n)


@case
def startup_sjis_value_with_5c_second_byte_arrives_verbatim():
    fresh_table()
    # 0x95 0x5c is one SJIS character; a byte-wise quoter doubles its 0x5c, and the
    # server then reads \' as an escaped quote and the next ' as the literal's end.
    evil = (b"\x95\x5c'); INSERT INTO itest_hostile_inj VALUES (2); --")
    for scs in ("off", "on"):
        params = [("client_encoding", "SJIS"), ("standard_conforming_strings", scs),
                  ("itest.v", evil)]
        with connect(PORT, params) as s:
            query_raw(s, "INSERT INTO itest_hostile_inj SELECT 1 WHERE false")
            v = query_raw(s, "SHOW itest.v")
            enc = query_raw(s, "SHOW client_encoding")
            s.sendall(rawpg.msg(b"X", b""))
        check(v == evil, "scs=%s: SHOW itest.v gives %r, sent %r" % (scs, v, evil))
        check(enc == b"SJIS", "scs=%s: client_encoding is %r" % (scs, enc))
    n = primary("SELECT count(*) FROM itest_hostile_inj")[0][0]
    check(n == 0, "the startup value's INSERT ran: %d rows" % n)


@case
def startup_options_values_arrive_as_postgres_reads_them():
    fresh_table()
    # "-c name=value" words with \ escapes: \' and "\ " are a quote and a space
    opts = ("-c standard_conforming_strings=off "
            "-c itest.w=a\\'b\\\\\\'c\\ ');\\ INSERT\\ INTO\\ itest_hostile_inj\\ VALUES\\ (3);--"
            " --application_name=o\\'k")
    params = [("options", opts)]
    w = show_through_both(params, "itest.w")
    check(w["pgrouter"] == w["postgres"] and w["pgrouter"].startswith(b"a'b\\'c '"),
          "SHOW itest.w: PostgreSQL %r, pgrouter %r" % (w["postgres"], w["pgrouter"]))
    a = show_through_both(params, "application_name")
    check(a["pgrouter"] == a["postgres"] == b"o'k",
          "SHOW application_name: PostgreSQL %r, pgrouter %r" % (a["postgres"], a["pgrouter"]))
    n = primary("SELECT count(*) FROM itest_hostile_inj")[0][0]
    check(n == 0, "the options value's INSERT ran: %d rows" % n)


def answer_to_pipelined_query(port, user, trust=False):
    """Log in with SELECT 42 sent in the same write as the last authentication message;
    the answer must come without another byte from us."""
    q = rawpg.msg(b"Q", b"SELECT 42\0")
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    try:
        if trust:
            s.sendall(startup([("user", user), ("database", "appdb")]) + q)
            rawpg.login(s, user, "", "appdb", send_startup=False)
        else:
            s.sendall(startup([("user", user), ("database", "appdb")]))
            rawpg.login(s, user, "app", "appdb", send_startup=False, after=q)
        s.settimeout(5)
        try:
            while True:
                t, p = rawpg.read_msg(s)
                if t == b"D":
                    check(p[6:] == b"42", "the pipelined query answered %r" % p)
                if t == b"Z":
                    return
        except socket.timeout:
            raise AssertionError("no answer to the query pipelined after the login in 5 s")
    finally:
        s.close()


@case
def query_pipelined_with_scram_final_is_answered_at_once():
    answer_to_pipelined_query(PORT, "app")


@case
def query_pipelined_with_md5_or_trust_login_is_answered_at_once():
    md5 = os.environ.get("PGR_MD5_PORT")
    trust = os.environ.get("PGR_TRUST_PORT")
    if not md5 or not trust:
        raise Skip("PGR_MD5_PORT or PGR_TRUST_PORT not set (run by run.sh)")
    answer_to_pipelined_query(int(md5), "app")
    answer_to_pipelined_query(int(trust), "app", trust=True)


def first_answer(port, version, extra):
    """Send a startup with version and extra params; the first message back, then (for
    a 'v') the login and SELECT 1 on the same socket."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    try:
        s.sendall(startup([("user", "app"), ("database", "appdb")] + extra, version))
        t, p = rawpg.read_msg(s)
        if t == b"E":
            return t, rawpg.parse_error(p).get("C"), None
        if t != b"v":
            return t, p, None
        rawpg.login(s, "app", "app", "appdb", send_startup=False)
        return t, p, rawpg.simple_query(s, "SELECT 1")
    finally:
        s.close()


@case
def protocol_versions_negotiated_as_postgres_does():
    for version, extra in (((3 << 16) | 2, []),
                           ((3 << 16) | 1, [("_pq_.compression", "on"), ("_pq_.x", "")]),
                           (3 << 16, [("_pq_.only_this", "1"), ("application_name", "v")]),
                           (4 << 16, [])):
        want = first_answer(PRIMARY, version, extra)
        got = first_answer(PORT, version, extra)
        what = "version %d.%d with %r" % (version >> 16, version & 0xffff, extra)
        check(got == want, "%s: PostgreSQL answers %r, pgrouter %r" % (what, want, got))
        if version >> 16 == 3:
            check(got[0] == b"v" and got[2] == "1",
                  "%s: no NegotiateProtocolVersion and SELECT 1: %r" % (what, got))
        else:
            check(got[0] == b"E", "%s: not refused: %r" % (what, got))


def main():
    return SUITE.run(need=[(PORT, "PGR_PORT is not set"), (PRIMARY, "PRIMARY_PORT is not set")])


if __name__ == "__main__":
    sys.exit(main())
