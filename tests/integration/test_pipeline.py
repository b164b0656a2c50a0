#!/usr/bin/env python3
"""tests/integration/test_pipeline.py - pipelined extended-protocol batches,
pgrouter against PostgreSQL itself.

Each case is a byte stream of frontend messages (Parse, Bind, Describe,
Execute, Close, Flush, Sync, Query), sent in one piece before anything is
read, as postgres.js, pgx batches and JDBC batches do.  The same stream goes
to the primary directly and to pgrouter, each on a fresh connection, and the
two answers must match message by message: the sequence of message types,
RowDescription column names and types, every DataRow, the CommandComplete
tags, the SQLSTATE of every ErrorResponse and the ReadyForQuery statuses.
Notices and ParameterStatus messages are left out of the comparison.

Every case runs twice, on new connections, so that the second round meets
statements the servers already hold (pgrouter shares one server
statement per text among clients and skips a Parse the server has).

    PGR_PORT=6432 PRIMARY_PORT=5432 python3 test_pipeline.py [LABEL]

Prints `ok - LABEL: CASE` or `not ok - LABEL: CASE: why` per case and exits 1
if any case failed.  LABEL (default `pipeline`) names the pgrouter instance.
"""

import os
import socket
import struct
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rawpg  # noqa: E402

TIMEOUT = 20.0
TABLE = "itest_pipe"


# ---- frontend messages ----------------------------------------------------

def cstr(s):
    return s.encode() + b"\0"


def parse(name, sql, types=()):
    return rawpg.msg(b"P", cstr(name) + cstr(sql) + struct.pack("!h", len(types)) +
                     b"".join(struct.pack("!i", t) for t in types))


def bind(portal, stmt, params=()):
    body = cstr(portal) + cstr(stmt) + struct.pack("!h", 0) + struct.pack("!h", len(params))
    for p in params:
        if p is None:
            body += struct.pack("!i", -1)
        else:
            v = str(p).encode()
            body += struct.pack("!i", len(v)) + v
    return rawpg.msg(b"B", body + struct.pack("!h", 0))


def describe(kind, name):
    return rawpg.msg(b"D", kind.encode() + cstr(name))


def execute(portal="", max_rows=0):
    return rawpg.msg(b"E", cstr(portal) + struct.pack("!i", max_rows))


def close(kind, name):
    return rawpg.msg(b"C", kind.encode() + cstr(name))


def sync():
    return rawpg.msg(b"S", b"")


def flush():
    return rawpg.msg(b"H", b"")


def query(sql):
    return rawpg.msg(b"Q", cstr(sql))


def named(name, sql, params=(), types=()):
    """A new named statement, run once: P / B / D / E / S."""
    return (parse(name, sql, types) + bind("", name, params) + describe("P", "") +
            execute() + sync())


# ---- backend messages -----------------------------------------------------

def summary(mtype, payload):
    """What is compared of one backend message, or None to leave it out."""
    t = mtype.decode()
    if t in "NSA":
        return None     # notices, ParameterStatus, notifications
    if t == "E":
        return "E:" + rawpg.parse_error(payload).get("C", "?")
    if t == "T":
        (n,) = struct.unpack("!h", payload[:2])
        cols, at = [], 2
        for _ in range(n):
            end = payload.index(b"\0", at)
            name = payload[at:end].decode()
            typ = struct.unpack("!i", payload[end + 7:end + 11])[0]
            cols.append("%s/%d" % (name, typ))
            at = end + 19
        return "T:" + ",".join(cols)
    if t == "D":
        (n,) = struct.unpack("!h", payload[:2])
        vals, at = [], 2
        for _ in range(n):
            (vlen,) = struct.unpack("!i", payload[at:at + 4])
            at += 4
            if vlen < 0:
                vals.append("NULL")
            else:
                vals.append(payload[at:at + vlen].decode("utf-8", "replace"))
                at += vlen
        return "D:" + "|".join(vals)
    if t == "C":
        return "C:" + payload.rstrip(b"\0").decode()
    if t == "Z":
        return "Z:" + payload.decode()
    if t == "t":
        (n,) = struct.unpack("!h", payload[:2])
        return "t:" + ",".join(str(struct.unpack("!i", payload[2 + 4 * i:6 + 4 * i])[0])
                               for i in range(n))
    return t


class Peer:
    def __init__(self, name, port):
        self.name = name
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.sock.settimeout(TIMEOUT)
        rawpg.login(self.sock, "app", "app", "appdb")

    def run(self, steps):
        """steps: (bytes, until) pairs; until is the number of ReadyForQuery to
        read, or a message type to read up to (after a Flush)."""
        got = []
        for data, until in steps:
            # sent while the answers are read, so that a long batch cannot deadlock
            sender = threading.Thread(target=self.sock.sendall, args=(data,))
            sender.start()
            z = 0
            while until != 0:
                mtype, payload = rawpg.read_msg(self.sock)
                s = summary(mtype, payload)
                if s is not None:
                    got.append(s)
                if isinstance(until, int):
                    if mtype == b"Z":
                        z += 1
                        if z == until:
                            break
                elif mtype.decode() == until:
                    break
            sender.join()
        return got

    def close(self):
        try:
            self.sock.sendall(rawpg.msg(b"X", b""))
        except OSError:
            pass
        self.sock.close()


def n_ready(data):
    """ReadyForQuery messages a stream of frontend messages is answered with."""
    n, at = 0, 0
    while at < len(data):
        (length,) = struct.unpack("!i", data[at + 1:at + 5])
        if data[at:at + 1] in (b"S", b"Q"):
            n += 1
        at += 1 + length
    return n


def whole(*batches):
    data = b"".join(batches)
    return [(data, n_ready(data))]


# ---- cases ----------------------------------------------------------------

Q1 = "SELECT $1::int * 2 AS twice"
Q2 = "SELECT count(*) AS n FROM generate_series(1, $1::int)"
Q3 = "SELECT g, 'row ' || g AS label FROM generate_series(1, 3) g"


def cases():
    c = {}
    c["two_named"] = whole(named("s1", Q1, [21]), named("s2", Q2, [7]))
    c["ten_named"] = whole(*[named("n%d" % i, Q1 if i % 2 else Q2, [i]) for i in range(10)])
    c["same_text_two_names"] = whole(named("a1", Q2, [5]), named("a2", Q2, [6]),
                                     bind("", "a1", [8]) + execute() + sync())
    c["unnamed"] = whole(parse("", Q1) + bind("", "", [4]) + execute() + sync(),
                         parse("", Q2) + bind("", "", [9]) + describe("P", "") +
                         execute() + sync())
    c["unnamed_then_named"] = whole(
        named("m1", Q2, [3]),
        parse("", Q1) + parse("m2", Q2) + bind("", "", [11]) + execute() + sync(),
        bind("", "m2", [12]) + execute() + sync())
    # pgx's describe-then-execute: the unnamed statement lives on across Syncs
    c["unnamed_across_batches"] = whole(
        parse("", Q1) + describe("S", "") + sync(),
        bind("", "", [5]) + execute() + sync(),
        describe("S", "") + bind("", "", [6]) + execute() + sync(),
        parse("", Q3) + sync(),
        parse("nm", Q2) + bind("", "", []) + execute() + sync(),
        query("SELECT 1"),
        bind("", "", []) + execute() + sync())
    c["prepare_then_use"] = whole(parse("u1", Q1) + parse("u2", Q3) + sync(),
                                  bind("", "u1", [1]) + execute() + sync(),
                                  bind("", "u2") + execute() + sync(),
                                  bind("", "u1", [2]) + execute() + sync())
    c["describe_statement"] = whole(parse("d1", Q1) + describe("S", "d1") + sync(),
                                    describe("S", "d1") + bind("", "d1", [5]) +
                                    describe("P", "") + execute() + sync(),
                                    parse("", Q3) + describe("S", "") + sync())
    c["describe_missing"] = whole(describe("S", "nosuch") + sync(),
                                  named("d2", Q1, [1]))
    c["close_statement"] = whole(named("c1", Q1, [2]),
                                 close("S", "c1") + sync(),
                                 bind("", "c1", [3]) + execute() + sync(),
                                 parse("c1", Q2) + bind("", "c1", [4]) + execute() + sync(),
                                 close("S", "never_prepared") + sync())
    c["close_then_bind_same_batch"] = whole(
        named("cb1", Q1, [1]),
        close("S", "cb1") + bind("", "cb1", [2]) + execute() + sync(),
        parse("cb1", Q2) + bind("", "cb1", [3]) + execute() + sync())
    c["close_skipped_after_error"] = whole(
        named("cs1", Q1, [1]),
        bind("", "nosuch") + execute() + close("S", "cs1") + sync(),
        bind("", "cs1", [2]) + execute() + sync())
    c["many_texts"] = whole(
        *[named("t%d" % k, "SELECT $1::int + %d AS v" % k, [k]) for k in range(8)],
        b"".join(bind("", "t%d" % k, [10 * k]) + execute() for k in range(8)) + sync(),
        b"".join(bind("", "t%d" % k, [k]) + execute() + sync() for k in (7, 0, 3)))
    c["close_portal"] = whole(parse("p1", Q3) + bind("cur", "p1") + execute("cur", 1) +
                              execute("cur", 1) + close("P", "cur") + execute("cur") + sync(),
                              bind("cur", "p1") + execute("cur", 2) + close("P", "cur") +
                              sync())
    c["portal_suspended"] = whole(parse("", Q3) + bind("", "") + execute("", 2) +
                                  execute("", 0) + sync(),
                                  named("ps", Q3))
    c["error_in_first"] = whole(named("e1", "SELECT 1/$1::int", [0]), named("e2", Q1, [8]))
    c["error_mid_batch"] = whole(
        parse("f1", Q1) + bind("", "f1", [1]) + execute() +
        parse("f2", "SELEKT broken") + bind("", "f2") + execute() +
        parse("f3", Q2) + sync(),
        named("f4", Q2, [2]),
        bind("", "f1", [5]) + execute() + sync())
    c["parse_skipped_after_error"] = whole(
        bind("", "nosuch") + execute() + parse("g1", Q1) + sync(),
        bind("", "g1", [1]) + execute() + sync(),
        parse("g1", Q1) + bind("", "g1", [2]) + execute() + sync())
    c["parse_error_then_again"] = whole(
        parse("h1", "SELECT nosuchcolumn") + sync(),
        bind("", "h1") + execute() + sync(),
        parse("h1", "SELECT nosuchcolumn") + sync())
    c["duplicate_name"] = whole(parse("k1", Q1) + sync(),
                                parse("k1", Q2) + sync(),
                                bind("", "k1", [3]) + execute() + sync())
    c["flush"] = [(parse("fl1", Q1) + bind("", "fl1", [6]) + describe("P", "") + execute() +
                   flush(), "C"),
                  (parse("fl2", Q2) + flush(), "1"),
                  (bind("", "fl2", [4]) + execute() + sync() + named("fl3", Q3), 2)]
    # after an error the server skips Flush too: the error comes with the Sync
    c["flush_parse_error"] = [(parse("fe1", "SELEKT 1") + flush(), 0),
                              (bind("", "fe1") + execute() + sync(), 1),
                              (parse("fe1", Q1) + bind("", "fe1", [7]) + execute() + sync(), 1)]
    # more than pgrouter holds of an unsynced batch (1 MB): it goes out in parts
    c["big_batch"] = whole(
        b"".join(parse("" if i % 2 else "bb%d" % i, "SELECT length($1::text) + %d" % (i % 2))
                 + bind("", "" if i % 2 else "bb%d" % i, ["x" * 450])
                 + execute() for i in range(2400)) + sync(),
        named("bb_after", Q1, [2]))
    c["simple_between"] = whole(named("q1", Q1, [1]), query("SELECT 41 + 1"),
                                bind("", "q1", [2]) + execute() + sync())
    c["writes_and_reads"] = whole(
        named("w1", "INSERT INTO %s (v) VALUES ($1::int) RETURNING v" % TABLE, [10]),
        named("r1", Q2, [10]),
        bind("", "w1", [11]) + execute() + sync(),
        bind("", "r1", [12]) + execute() + sync())
    c["transaction"] = whole(
        query("BEGIN"),
        named("x1", "INSERT INTO %s (v) VALUES ($1::int) RETURNING v" % TABLE, [20]),
        named("x2", Q1, [3]),
        bind("", "x1", [21]) + execute() + sync(),
        query("ROLLBACK"),
        bind("", "x2", [4]) + execute() + sync())
    c["implicit_tx_error"] = whole(
        parse("y1", "INSERT INTO %s (v) VALUES ($1::int) RETURNING v" % TABLE) +
        bind("", "y1", [30]) + execute() + parse("y2", "SELECT 1/0") + bind("", "y2") +
        execute() + sync(),
        parse("", "SELECT count(*) FROM %s WHERE v = 30" % TABLE) + bind("", "") +
        execute() + sync())
    return c


def main():
    label = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PIPE_LABEL", "pipeline")
    pgr = int(os.environ["PGR_PORT"])
    direct = int(os.environ["PRIMARY_PORT"])
    only = os.environ.get("PIPE_ONLY", "")
    failed = 0
    for name, steps in cases().items():
        if only and only != name:
            continue
        try:
            for rnd in (1, 2):
                want_peer, got_peer = Peer("postgres", direct), Peer("pgrouter", pgr)
                try:
                    want = want_peer.run(steps)
                    got = got_peer.run(steps)
                finally:
                    want_peer.close()
                    got_peer.close()
                if want != got:
                    raise AssertionError("round %d: postgres %s, pgrouter %s" %
                                         (rnd, " ".join(want), " ".join(got)))
            print("ok - %s: %s" % (label, name))
        except (AssertionError, OSError, ValueError, rawpg.Closed, rawpg.PeerError) as e:
            failed += 1
            print("not ok - %s: %s: %s: %s" % (label, name, type(e).__name__, e))
        sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
