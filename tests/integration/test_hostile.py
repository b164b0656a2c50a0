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
  - a Bind over max_bind_size gets 54000 at Sync and the session goes on; a 30 MB bytea
    parameter under it comes back byte for byte, unnamed and prepared;
  - a 3.x startup with minor > 0 and unknown _pq_. options gets NegotiateProtocolVersion,
    as from PostgreSQL.
Prints `ok - hostile: NAME` or `not ok - hostile: NAME: reason` per case, exits 1 if any
failed. Arguments, if given, are substrings of case names.
"""

import os
import re
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

import psycopg

import rawpg
from itest import PRIMARY, Skip, Suite, check, free_port, measured, wait_for

PORT = int(os.environ.get("PGR_PORT", "0"))
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MB = 1 << 20
MAX_QUERY = 2 * MB          # max_query_size of one of the suite's own pgrouters

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


# ---- large messages ----------------------------------------------------------------

INSTANCES = {}


def unsharded(max_query_size=None, extra=""):
    """A pgrouter of this suite's own: main's config without sharding (its sections
    dropped), on another port, with max_query_size and extra [pgrouter] lines if given.
    Returns (port, pid)."""
    key = (max_query_size or "0") + extra
    if key in INSTANCES:
        return INSTANCES[key]["port"], INSTANCES[key]["proc"].pid
    cluster = os.environ.get("CLUSTER_DIR", os.path.join(ROOT, "build/itest/cluster"))
    main_ini = os.path.join(os.path.dirname(cluster), "main", "pgrouter.ini")
    if not os.path.exists(main_ini):
        raise Skip("no %s (run by run.sh)" % main_ini)
    d = tempfile.mkdtemp(prefix="hostile-")
    port = free_port()
    keep = []
    dropping = False
    for line in open(main_ini).read().splitlines():
        m = re.match(r"\s*\[([^\]]+)\]", line)
        if m:
            name = m.group(1).strip()
            dropping = name in ("sharding", "tenants") or (name.startswith("cluster.") and
                                                           name != "cluster.main")
        if dropping or re.match(r"\s*(logfile|pidfile|stats_listen_port)\s*=", line):
            continue
        if re.match(r"\s*listen_port\s*=", line):
            line = "listen_port = %d" % port
            if max_query_size:
                line += "\nmax_query_size = %s" % max_query_size
            if extra:
                line += "\n" + extra
        keep.append(line)
    ini = os.path.join(d, "pgrouter.ini")
    with open(ini, "w") as f:
        f.write("\n".join(keep) + "\n")
    log = open(os.path.join(d, "pgrouter.log"), "w")
    proc = subprocess.Popen([os.environ.get("PGROUTER_BIN", os.path.join(ROOT, "pgrouter")), "-c", ini], stdout=log,
                            stderr=subprocess.STDOUT)
    INSTANCES[key] = {"port": port, "proc": proc}

    def up():
        check(proc.poll() is None, "pgrouter (%s) exited: see %s" % (ini, d))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return False
    wait_for("pgrouter on port %d" % port, up, 30)
    return port, proc.pid


def stop_instances():
    for inst in INSTANCES.values():
        proc = inst["proc"]
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def big_sql(n, prefix=b"SELECT inet_server_port(), 1 -- "):
    """A statement of n bytes: prefix and a comment of x's."""
    return prefix + b"x" * (n - len(prefix))


def until_ready(s):
    """Messages up to ReadyForQuery as (type, payload) pairs."""
    out = []
    while True:
        t, p = rawpg.read_msg(s)
        out.append((t, p))
        if t == b"Z":
            return out


def errors_of(msgs):
    return [rawpg.parse_error(p) for t, p in msgs if t == b"E"]


@case
def query_over_the_whole_message_bound_streams_to_the_primary():
    port, _ = unsharded()
    with connect(port, []) as s:
        for n in (MB + 100, 3 * MB):
            v = query_raw(s, big_sql(n))
            check(v == str(PRIMARY).encode(), "a %d-byte query ran on port %r, not the "
                  "primary's %d" % (n, v, PRIMARY))
        # inside a transaction it stays on the transaction's server, whatever it is
        query_raw(s, "BEGIN READ ONLY")
        tx = query_raw(s, "SELECT inet_server_port()")
        v = query_raw(s, big_sql(2 * MB))
        check(v == tx, "in a transaction on port %r, the large query ran on %r" % (tx, v))
        query_raw(s, "COMMIT")
        check(query_raw(s, "SELECT 7") == b"7", "the session is not usable afterwards")


@case
def query_over_max_query_size_is_refused_and_the_session_goes_on():
    port, _ = unsharded("2MB")
    with connect(port, []) as s:
        n = 5 * MB
        s.sendall(rawpg.msg(b"Q", big_sql(n - 1) + b"\0"))
        msgs = until_ready(s)
        errs = errors_of(msgs)
        want = "query too large: %d bytes, max_query_size is %d" % (n, MAX_QUERY)
        check(len(errs) == 1 and errs[0].get("C") == "54000" and errs[0].get("M") == want,
              "a %d-byte Query: %r" % (n, errs))
        check(msgs[-1] == (b"Z", b"I"), "no ReadyForQuery 'I' after the refusal: %r"
              % msgs[-1:])
        check(query_raw(s, "SELECT 8") == b"8", "the session is not usable after a refusal")
        # a Query between the whole-message bound and max_query_size still runs
        check(query_raw(s, big_sql(MB + 10)) == str(PRIMARY).encode(),
              "a query under max_query_size did not run on the primary")


@case
def sharded_query_too_large_to_read_for_its_tenant_is_refused():
    with connect(PORT, []) as s:
        try:
            query_raw(s, big_sql(MB + 100))
            raise AssertionError("a 1 MB query with sharding on was not refused")
        except rawpg.PeerError as e:
            check(e.fields.get("C") == "54000", "refused with %r" % e.fields)
        check(query_raw(s, "SELECT 5") == b"5", "the session is not usable afterwards")


def pipeline_mod():
    import test_pipeline
    return test_pipeline


@case
def parse_over_the_bound_is_refused_up_to_sync():
    tp = pipeline_mod()
    for port, n in ((unsharded()[0], 2 * MB), (unsharded("2MB")[0], 3 * MB)):
        with connect(port, []) as s:
            sql = big_sql(n).decode()
            s.sendall(tp.parse("big", sql) + tp.bind("", "big") + tp.execute() + tp.sync())
            msgs = until_ready(s)
            errs = errors_of(msgs)
            check(len(errs) == 1 and errs[0].get("C") == "54000",
                  "port %d: a %d-byte Parse gave %r" % (port, n, errs))
            check([t for t, _ in msgs] == [b"E", b"Z"],
                  "port %d: more than the error and ReadyForQuery: %r" % (port, msgs))
            # the batch after Sync works, and the name was never prepared
            s.sendall(tp.parse("big", "SELECT 9") + tp.bind("", "big") + tp.execute() +
                      tp.sync())
            msgs = until_ready(s)
            check(not errors_of(msgs) and any(t == b"D" for t, _ in msgs),
                  "port %d: the next batch failed: %r" % (port, errors_of(msgs)))


def bind_bytea(portal, stmt, value):
    """A Bind of one binary parameter (value, bytes) asking for binary results."""
    body = (portal.encode() + b"\0" + stmt.encode() + b"\0" + struct.pack("!hh", 1, 1) +
            struct.pack("!hi", 1, len(value)) + value + struct.pack("!hh", 1, 1))
    return rawpg.msg(b"B", body)


@case
def bind_over_max_bind_size_is_refused_up_to_sync():
    tp = pipeline_mod()
    port, _ = unsharded(extra="max_bind_size = 2MB")
    with connect(port, []) as s:
        for stmt in ("", "big"):
            value = b"\x01" * (3 * MB)
            msg = bind_bytea("", stmt, value)
            s.sendall(tp.parse(stmt, "SELECT length($1::bytea)") + msg + tp.execute() +
                      tp.sync())
            msgs = until_ready(s)
            errs = errors_of(msgs)
            want = "bind message too large: %d bytes, max_bind_size is %d" % (
                len(msg) - 5, 2 * MB)
            check(len(errs) == 1 and errs[0].get("C") == "54000" and errs[0].get("M") == want,
                  "statement %r: a %d-byte Bind gave %r" % (stmt, len(msg) - 5, errs))
            check([t for t, _ in msgs] == [b"E", b"Z"],
                  "statement %r: more than the error and ReadyForQuery: %r" % (stmt, msgs))
            # the next batch works, with a Bind under the bound; as in PostgreSQL, where
            # the Parse before the failed Bind ran, a named statement stays prepared
            again = tp.parse(stmt, "SELECT length($1::bytea)") if stmt == "" else b""
            s.sendall(again + bind_bytea("", stmt, b"\x02" * MB) + tp.execute() + tp.sync())
            msgs = until_ready(s)
            rows = [p for t, p in msgs if t == b"D"]
            check(not errors_of(msgs) and len(rows) == 1,
                  "statement %r: the next batch failed: %r" % (stmt, errors_of(msgs)))
            (n,) = struct.unpack("!i", rows[0][6:10])
            check(n == MB, "statement %r: length %d of a %d-byte parameter" % (stmt, n, MB))


@case
def bind_of_30_mb_bytea_round_trips_byte_for_byte():
    port, _ = unsharded()
    value = os.urandom(30 * MB)
    with psycopg.connect("host=127.0.0.1 port=%d user=app password=app dbname=appdb "
                         "connect_timeout=10" % port, autocommit=True) as c:
        for prepare in (False, True):
            cur = c.cursor(binary=True)
            got = cur.execute("SELECT %b::bytea", [value], prepare=prepare).fetchone()
            check(bytes(got[0]) == value, "prepare=%s: the %d bytes came back changed (%d "
                  "bytes)" % (prepare, len(value), len(got[0])))
        check(c.execute("SELECT 6").fetchone()[0] == 6, "the session is not usable afterwards")


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


@case
def memory_stays_bounded_while_clients_send_huge_queries():
    port, pid = unsharded()
    size = int(os.environ.get("HOSTILE_BIG_MB", "16")) * MB
    nclients = 4
    base = rss_kb(pid)
    peak = [base]
    done = threading.Event()
    errors = []

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss_kb(pid))
            time.sleep(0.02)

    def client():
        try:
            with connect(port, []) as s:
                s.settimeout(600)   # the server takes a while to read that much
                v = query_raw(s, big_sql(size))
                if v != str(PRIMARY).encode():
                    errors.append("ran on %r" % v)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    t = threading.Thread(target=sample)
    t.start()
    ths = [threading.Thread(target=client) for _ in range(nclients)]
    t0 = time.monotonic()
    for th in ths:
        th.start()
    for th in ths:
        th.join(300)
    done.set()
    t.join()
    grew = (peak[0] - base) / 1024.0
    measured("pgrouter RSS %.1f MB before, peak %.1f MB (+%.1f MB) while %d clients each "
             "sent a %d MB Query (%.1f s)" % (base / 1024.0, peak[0] / 1024.0, grew, nclients,
                                              size // MB, time.monotonic() - t0))
    check(not errors, "clients failed: %r" % errors)
    check(grew < 64, "RSS grew by %.1f MB for %d x %d MB queries" % (grew, nclients, size // MB))


@case
def other_clients_stay_fast_while_a_huge_query_streams():
    size = int(os.environ.get("HOSTILE_STREAM_MB", "100")) * MB
    port, _ = unsharded()
    done = threading.Event()
    errors = []

    # built before the clock runs: copying 100 MB in Python holds its lock for a while
    msg = rawpg.msg(b"Q", big_sql(size) + b"\0")

    def big():
        try:
            with connect(port, []) as s:
                s.sendall(msg)
                s.settimeout(120)
                until_ready(s)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))
        finally:
            done.set()

    lat = []
    with connect(port, []) as s:
        query_raw(s, "SELECT 1")
        th = threading.Thread(target=big)
        th.start()
        time.sleep(0.2)
        while not done.is_set():
            t0 = time.monotonic()
            query_raw(s, "SELECT 1")
            lat.append(time.monotonic() - t0)
            time.sleep(0.005)
        th.join(120)
    check(not errors, "the large query failed: %r" % errors)
    check(len(lat) >= 10, "only %d queries while %d MB streamed" % (len(lat), size // MB))
    lat.sort()
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    measured("another client's SELECT 1 while a %d MB Query streamed: %d queries, p50 "
             "%.1f ms, p99 %.1f ms, max %.1f ms" % (size // MB, len(lat),
                                                   lat[len(lat) // 2] * 1000, p99 * 1000,
                                                   lat[-1] * 1000))
    # generous for a loaded CI machine; the target is 50 ms
    check(p99 < 0.5, "p99 %.0f ms while a large query streamed" % (p99 * 1000))


def main():
    return SUITE.run(need=[(PORT, "PGR_PORT is not set"), (PRIMARY, "PRIMARY_PORT is not set")],
                     cleanup=stop_instances)


if __name__ == "__main__":
    sys.exit(main())
