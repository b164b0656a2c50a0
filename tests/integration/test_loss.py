#!/usr/bin/python3
"""tests/integration/test_loss.py - a server lost under a client, through pgrouter.

Run by run.sh (run_py) with Debian's /usr/bin/python3 (python3-psycopg), against
the main instance (a primary and two replicas, read_retries = 1).  Environment:
PGR_PORT, PRIMARY_PORT, REPLICA1_PORT, REPLICA2_PORT (the servers, reached
directly as postgres/postgres), ITEST_DIRECT=1 (no pgrouter: every case skips).

The server connection is lost the way a server that is shut down or crashes
loses it: pg_terminate_backend() of the backend serving the client, from a
direct connection.  What the client must see (README, "Failure handling" and
"Errors pgrouter sends itself"):
  - mid-answer, autocommit: ERROR 08006 "... was lost", and the session goes on;
  - inside a transaction (running or idle in it): FATAL 08006 "... was lost
    inside a transaction", the connection closes, nothing of it commits;
  - inside COPY: FATAL 08006, the connection closes, no row is stored;
  - in the middle of a row pgrouter already relayed in part (a client that reads
    slowly, so the server blocked mid-send): the connection closes without a FATAL,
    which the client would take for the rest of that row; every whole message it
    got is intact;
  - a client that hangs up (Terminate) while megabytes of its answer are still queued
    toward it: pgrouter closes the server without freeing what is still being written
    (under ASan this was a heap-use-after-free), and serves the next client.

Prints one `ok - loss: NAME` or `not ok - loss: NAME: reason` line per case and
exits 1 if any failed.  Arguments, if given, are substrings of case names.
"""

import os
import select
import socket
import struct
import sys
import time

import psycopg

import rawpg
from itest import Skip, Suite, check  # noqa: E402,F401 - the shared runner

PORT = os.environ.get("PGR_PORT")
PRIMARY = int(os.environ.get("PRIMARY_PORT", "0"))
REPLICA1 = int(os.environ.get("REPLICA1_PORT", "0"))
REPLICA2 = int(os.environ.get("REPLICA2_PORT", "0"))
CONNINFO = ("host=127.0.0.1 port=%s user=app password=app dbname=appdb connect_timeout=10"
            % PORT)
TABLE = "itest_loss"

SUITE = Suite("loss")
case = SUITE.case

def connect(**kw):
    kw.setdefault("autocommit", True)
    return psycopg.connect(CONNINFO, **kw)


def direct(port, dbname="appdb"):
    return psycopg.connect("host=127.0.0.1 port=%d user=postgres password=postgres dbname=%s "
                           "connect_timeout=10" % (port, dbname), autocommit=True)


def terminate(port, pid):
    with direct(port, "postgres") as d:
        ok = d.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0]
    check(ok, "pg_terminate_backend(%d) on port %d found no such backend" % (pid, port))


def wait_query(port, like, secs=20):
    """The pid of the backend on PORT running a statement LIKE like (at most SECS)."""
    deadline = time.monotonic() + secs
    with direct(port, "postgres") as d:
        while True:
            row = d.execute("SELECT pid FROM pg_stat_activity WHERE query LIKE %s "
                            "AND pid <> pg_backend_pid() AND usename = 'app'",
                            (like,)).fetchone()
            if row:
                return row[0]
            check(time.monotonic() < deadline, "no statement like %r on port %d within %d s"
                  % (like, port, secs))
            time.sleep(0.05)


def error_of(e):
    return getattr(e, "sqlstate", None), str(e).strip().replace("\n", " | ")


def rows_on_primary(where):
    with direct(PRIMARY) as d:
        return d.execute("SELECT count(*) FROM %s WHERE %s" % (TABLE, where)).fetchone()[0]


def setup_table():
    with direct(PRIMARY) as d:
        d.execute("DROP TABLE IF EXISTS %s" % TABLE)
        d.execute("CREATE TABLE %s (id int, note text)" % TABLE)
        d.execute("GRANT ALL ON %s TO app" % TABLE)


@case
def replica_lost_mid_answer():
    """A read streaming rows from a replica loses its server after rows reached the
    client: ERROR 08006 naming the lost server, then the session goes on."""
    with connect() as conn:
        cur = conn.cursor()
        got, err = [], None
        sql = ("SELECT g, inet_server_port(), pg_backend_pid(), "
               "CASE WHEN g % 100 = 0 THEN pg_sleep(0.05) END "
               "FROM generate_series(1, 100000) g")
        try:
            for row in cur.stream(sql):
                got.append(row)
                if len(got) == 250:
                    port, pid = row[1], row[2]
                    check(port in (REPLICA1, REPLICA2), "the read ran on port %d" % port)
                    terminate(port, pid)
        except psycopg.Error as e:
            err = e
        check(err is not None, "the read ended normally with %d rows although its server "
              "was terminated" % len(got))
        state, msg = error_of(err)
        print("# mid-answer after %d rows: %s %s" % (len(got), state, msg), flush=True)
        check(len(got) >= 250, "the error came after %d rows" % len(got))
        check(state == "08006", "SQLSTATE %s, expected 08006: %s" % (state, msg))
        check("was lost" in msg, "the message does not say the server was lost: %s" % msg)
        check(not conn.closed, "the connection was closed; README: the session goes on")
        check(conn.execute("SELECT 41 + 1").fetchone()[0] == 42, "a read after the loss")
        n = conn.execute("SELECT count(*) FROM generate_series(1, 1000)").fetchone()[0]
        check(n == 1000, "a second read after the loss gave %r" % n)


def raw_login():
    sock = socket.create_connection(("127.0.0.1", int(PORT)), timeout=20)
    sock.settimeout(20)
    rawpg.login(sock, "app", "app", "appdb")
    return sock


def check_fatal_lost(fields, where, sock):
    """FIELDS (an ErrorResponse) is FATAL 08006 '... was lost WHERE', and the
    connection closes after it."""
    sev, code, msg = fields.get("S"), fields.get("C"), fields.get("M", "")
    print("# lost %s: %s %s %s" % (where, sev, code, msg), flush=True)
    check(sev == "FATAL" and code == "08006", "expected FATAL 08006, got %s %s: %s"
          % (sev, code, msg))
    check("was lost " + where in msg, "the message does not say 'was lost %s': %s"
          % (where, msg))
    check(rawpg.closed_after(sock), "the connection stayed open after the FATAL")


@case
def primary_lost_inside_a_running_transaction():
    setup_table()
    sock = raw_login()
    try:
        rawpg.simple_query(sock, "BEGIN")
        rawpg.simple_query(sock, "INSERT INTO %s VALUES (1, 'in tx')" % TABLE)
        sock.sendall(rawpg.msg(b"Q", b"SELECT pg_sleep(30), 'itest_loss_sleep'\0"))
        terminate(PRIMARY, wait_query(PRIMARY, "%itest_loss_sleep%"))
        fields, _ = rawpg.next_error(sock, 30)
        check_fatal_lost(fields, "inside a transaction", sock)
    finally:
        sock.close()
    check(rows_on_primary("true") == 0, "rows of the lost transaction were committed")


@case
def primary_lost_while_idle_in_a_transaction():
    """The server is lost between two statements of a transaction: the client is
    told (FATAL 08006), and no later statement runs outside the transaction."""
    setup_table()
    sock = raw_login()
    try:
        rawpg.simple_query(sock, "BEGIN")
        pid = int(rawpg.simple_query(sock, "SELECT pg_backend_pid()"))
        rawpg.simple_query(sock, "INSERT INTO %s VALUES (1, 'before the loss')" % TABLE)
        terminate(PRIMARY, pid)
        # PostgreSQL tells a client idle in a transaction at once; pgrouter may
        # instead answer the next statement
        try:
            fields, seen = rawpg.next_error(sock, 5)
        except socket.timeout:
            sock.sendall(rawpg.msg(b"Q", ("INSERT INTO %s VALUES (2, 'after the loss')"
                                          % TABLE).encode() + b"\0"))
            fields, seen = rawpg.next_error(sock, 30)
        check(not seen, "messages before the error: %r" % seen)
        check_fatal_lost(fields, "inside a transaction", sock)
    finally:
        sock.close()
    n = rows_on_primary("true")
    check(n == 0, "%d row(s) of the lost transaction are on the primary" % n)


def copy_data(i):
    return rawpg.msg(b"d", ("%d\trow %d\n" % (i, i)).encode())


@case
def primary_lost_during_copy_from():
    setup_table()
    sock = raw_login()
    try:
        sock.sendall(rawpg.msg(b"Q", ("COPY %s (id, note) FROM STDIN" % TABLE).encode() + b"\0"))
        mtype, _ = rawpg.read_msg(sock)
        check(mtype == b"G", "expected CopyInResponse, got %r" % mtype)
        sock.sendall(b"".join(copy_data(i) for i in range(200)))
        terminate(PRIMARY, wait_query(PRIMARY, "COPY %s%%" % TABLE))
        # go on sending until pgrouter answers (or stops reading)
        deadline = time.monotonic() + 20
        i = 200
        fields = None
        while fields is None:
            check(time.monotonic() < deadline, "no answer 20 s after the server was lost")
            r, _, _ = select.select([sock], [], [], 0.05)
            if r:
                fields, _ = rawpg.next_error(sock, 20)
                break
            try:
                sock.sendall(b"".join(copy_data(i + k) for k in range(50)))
            except OSError:
                fields, _ = rawpg.next_error(sock, 20)
            i += 50
        check_fatal_lost(fields, "during COPY", sock)
    finally:
        sock.close()
    n = rows_on_primary("true")
    check(n == 0, "%d row(s) of the lost COPY are on the primary" % n)


@case
def replica_lost_during_copy_to():
    sock = raw_login()
    try:
        sock.sendall(rawpg.msg(b"Q", b"COPY (SELECT g, inet_server_port(), pg_backend_pid(), "
                               b"CASE WHEN g % 100 = 0 THEN pg_sleep(0.05) END "
                               b"FROM generate_series(1, 100000) g) TO STDOUT\0"))
        got = 0
        sock.settimeout(30)
        while True:
            mtype, payload = rawpg.read_msg(sock)
            if mtype == b"E":
                fields = rawpg.parse_error(payload)
                break
            check(mtype in (b"H", b"d"), "unexpected message %r during COPY TO" % mtype)
            if mtype == b"d":
                got += 1
                if got == 250:
                    f = payload.split(b"\t")
                    port, pid = int(f[1]), int(f[2])
                    check(port in (REPLICA1, REPLICA2), "COPY TO ran on port %d" % port)
                    terminate(port, pid)
        check(got >= 250, "the error came after %d rows" % got)
        check_fatal_lost(fields, "during COPY", sock)
    finally:
        sock.close()



@case
def primary_lost_in_the_middle_of_a_row_corrupts_nothing():
    sock = raw_login()
    try:
        rawpg.simple_query(sock, "BEGIN")
        pid = int(rawpg.simple_query(sock, "SELECT pg_backend_pid()"))
        # 20 MB the client does not read yet: the server blocks in the middle of a row
        sock.sendall(rawpg.msg(b"Q", b"SELECT repeat('x', 1000) FROM "
                               b"generate_series(1, 20000)\0"))
        time.sleep(1.0)
        terminate(PRIMARY, pid)
        time.sleep(0.5)
        buf = b""
        sock.settimeout(30)
        while True:
            d = sock.recv(1 << 20)
            if not d:
                break
            buf += d
    finally:
        sock.close()
    row = struct.pack("!hi", 1, 1000) + b"x" * 1000
    off, rows, fatal = 0, 0, None
    while off + 5 <= len(buf):
        mtype = buf[off:off + 1]
        (n,) = struct.unpack("!i", buf[off + 1:off + 5])
        if off + 1 + n > len(buf):
            break
        payload = buf[off + 5:off + 1 + n]
        off += 1 + n
        check(fatal is None, "a %r message after the FATAL" % mtype)
        if mtype == b"D":
            check(payload == row, "row %d is corrupt: %r..." % (rows + 1, payload[-80:]))
            rows += 1
        elif mtype == b"E":
            fatal = rawpg.parse_error(payload)
        else:
            check(mtype == b"T", "unexpected message %r" % mtype)
    tail = buf[off:]
    check(b"was lost" not in tail, "the FATAL went into the unfinished row: %r" % tail[-120:])
    check(fatal is None or (fatal.get("S"), fatal.get("C")) == ("FATAL", "08006"),
          "the error was %r" % fatal)
    print("# lost mid-row: %d whole rows, %d bytes of an unfinished one, %s" %
          (rows, len(tail), "then FATAL" if fatal else "then the connection closed"),
          flush=True)
    check(rows < 20000, "every row arrived: the server was not lost mid-answer")


@case
def client_hangs_up_with_an_answer_still_queued():
    for _ in range(3):
        sock = raw_login()
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
            sock.sendall(rawpg.msg(b"Q", b"SELECT repeat('x', 1000) FROM "
                                   b"generate_series(1, 20000)\0"))
            time.sleep(0.5)     # pgrouter has a forwarded slice queued toward us now
            sock.sendall(rawpg.msg(b"X", b""))
            # Read a little, past pgrouter's close deadline (5 s) but not the whole answer:
            # through an 8 kB window the megabytes the kernel still holds for us would take
            # a minute, and the freeing under a queued write happens before that.
            deadline = time.monotonic() + 6.5
            sock.settimeout(0.5)
            while time.monotonic() < deadline:
                try:
                    if not sock.recv(1 << 16):
                        break
                except socket.timeout:
                    time.sleep(0.2)
        except OSError:
            pass
        finally:
            sock.close()
    with connect() as c:
        check(c.execute("SELECT 1").fetchone()[0] == 1, "no answer after the hang-ups")


def drop_table():
    with direct(PRIMARY) as d:
        d.execute("DROP TABLE IF EXISTS %s" % TABLE)


def main():
    return SUITE.run(need=[(PORT and PRIMARY and REPLICA1 and REPLICA2,
                            "PGR_PORT, PRIMARY_PORT, REPLICA1_PORT, REPLICA2_PORT must be set")],
                     cleanup=drop_table)


if __name__ == "__main__":
    sys.exit(main())
