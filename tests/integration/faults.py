#!/usr/bin/python3
"""tests/integration/faults.py - psycopg 3 side of faults.sh: clients that time
what they see while servers are stopped, paused or promoted, and a reader of
pgrouter's log timestamps.

    faults.py logtime LOG OFFSET REGEX WAIT
        wait up to WAIT s for a line of LOG at or after byte OFFSET that
        matches REGEX; print "EPOCH<TAB>LINE" (EPOCH from the line's UTC
        timestamp), or exit 1 if none came
    faults.py [--port P] reads N [--forbid PORT]... [--need PORT] [--count TABLE=N]
        N reads (SELECT inet_server_port()) in one session, 20 ms apart
    faults.py [--port P] until-port PORT SECS
        read in one session every 20 ms until PORT answers; print the seconds
    faults.py [--port P] primary-down PRIMARY_PORT N
        with the primary stopped: writes must be refused by the open breaker
        (without a connect attempt), reads must work; latencies are printed
    faults.py [--port P] until-write SINCE SECS TABLE [EXPECT_PORT]
        INSERT every 50 ms until one works; print seconds since SINCE (epoch)
    faults.py [--port P] write-loop TABLE SECS UNTIL_PORT
        one session INSERTs every 50 ms until a write runs on UNTIL_PORT
    faults.py [--port P] ryw TABLE PAUSED_PORT SECS
        write, then read it back for SECS: never from PAUSED_PORT, always seen

Figures go to stdout as `# measured: ...`; a failure ends with `FAIL: why` on
stdout and exit status 1.  Every command is bounded by an alarm.
"""

import datetime
import os
import re
import signal
import statistics
import sys
import time

PORT = int(os.environ.get("PGR_PORT", "0"))


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def measured(msg):
    print("# measured: " + msg, flush=True)


def alarm(secs):
    def handler(_sig, _frame):
        fail("no result within %d s (faults.py alarm)" % secs)
    signal.signal(signal.SIGALRM, handler)
    signal.alarm(secs)


def connect():
    import psycopg
    return psycopg.connect("host=127.0.0.1 port=%d user=app password=app dbname=appdb "
                           "connect_timeout=5" % PORT, autocommit=True)


def errinfo(e):
    state = getattr(e, "sqlstate", None) or "-----"
    diag = getattr(e, "diag", None)
    msg = diag.message_primary if diag is not None and diag.message_primary else str(e)
    return state, msg.strip().replace("\n", " | ")


# ---- logtime ---------------------------------------------------------------

STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) UTC ")


def line_epoch(line):
    m = STAMP.match(line)
    if not m:
        return None
    t = datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f")
    return t.replace(tzinfo=datetime.timezone.utc).timestamp()


def cmd_logtime(args):
    path, offset, pattern, wait = args[0], int(args[1]), re.compile(args[2]), float(args[3])
    alarm(int(wait) + 5)
    deadline = time.monotonic() + wait
    while True:
        with open(path, "rb") as f:
            f.seek(offset)
            for raw in f:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                if pattern.search(line):
                    t = line_epoch(line)
                    if t is not None:
                        print("%.3f\t%s" % (t, line))
                        return 0
        if time.monotonic() >= deadline:
            return 1
        time.sleep(0.05)


# ---- reads -----------------------------------------------------------------

def cmd_reads(args):
    n = int(args.pop(0))
    forbid, need = [], None
    table = None
    want = None
    while args:
        opt = args.pop(0)
        if opt == "--forbid":
            forbid.append(int(args.pop(0)))
        elif opt == "--need":
            need = int(args.pop(0))
        elif opt == "--count":
            table, want = args.pop(0).split("=")
            want = int(want)
        else:
            fail("reads: unknown option " + opt)
    alarm(30)
    conn = connect()
    ports = []
    for _ in range(n):
        if table:
            row = conn.execute("SELECT inet_server_port(), count(*) FROM %s" % table).fetchone()
            if row[1] != want:
                fail("read on port %d counted %d rows in %s, expected %d"
                     % (row[0], row[1], table, want))
        else:
            row = conn.execute("SELECT inet_server_port()").fetchone()
        ports.append(row[0])
        time.sleep(0.02)
    print("ports: %s" % " ".join(map(str, ports)))
    for p in forbid:
        if p in ports:
            fail("%d of %d reads ran on port %d" % (ports.count(p), n, p))
    if need is not None and need not in ports:
        fail("none of %d reads ran on port %d" % (n, need))
    return 0


def cmd_until_port(args):
    want, secs = int(args[0]), float(args[1])
    alarm(int(secs) + 15)
    t0 = time.time()
    conn = connect()
    seen = []
    while time.time() - t0 < secs:
        try:
            port = conn.execute("SELECT inet_server_port()").fetchone()[0]
        except Exception as e:  # noqa: BLE001 - any failure is reported
            state, msg = errinfo(e)
            fail("a read failed (%s %s) while waiting for port %d" % (state, msg, want))
        if port == want:
            print("%.3f" % (time.time() - t0))
            return 0
        if not seen or seen[-1] != port:
            seen.append(port)
        time.sleep(0.02)
    fail("port %d answered no read within %.0f s (ports seen: %s)" % (want, secs, seen))
    return 1


# ---- primary down ----------------------------------------------------------

def cmd_primary_down(args):
    primary, n = int(args[0]), int(args[1])
    import psycopg
    alarm(40)
    t0 = time.time()
    try:
        conn = connect()
    except psycopg.Error as e:
        fail("login with the primary stopped: %s %s" % errinfo(e))
    measured("login with the primary stopped took %.0f ms" % ((time.time() - t0) * 1000))
    # the breaker opens on the first failed connection or health check
    deadline = time.time() + 20
    before = []
    while True:
        t = time.time()
        try:
            conn.execute("INSERT INTO faults_pdown VALUES (1)")
            fail("an INSERT worked with the primary stopped")
        except psycopg.Error as e:
            state, msg = errinfo(e)
            ms = (time.time() - t) * 1000
        if "circuit breaker open" in msg:
            break
        before.append("%.0f ms %s %s" % (ms, state, msg))
        if time.time() > deadline:
            fail("no 'circuit breaker open' error 20 s after the stop; got: %s" % before[-3:])
        time.sleep(0.05)
    for b in before:
        print("before the breaker opened: " + b)
    lat, msgs, reads, read_ports, refused = [], {}, 0, [], 0
    for i in range(n):
        t = time.time()
        try:
            conn.execute("INSERT INTO faults_pdown VALUES (2)")
            fail("an INSERT worked with the primary stopped")
        except psycopg.Error as e:
            state, msg = errinfo(e)
            lat.append((time.time() - t) * 1000)
        if "circuit breaker open" in msg:
            refused += 1
        key = "%s %s" % (state, re.sub(r"next try in \d+ ms", "next try in N ms", msg))
        msgs[key] = msgs.get(key, 0) + 1
        if not state.startswith("08"):
            fail("INSERT %d with the primary down: SQLSTATE %s (%s), expected class 08"
                 % (i, state, msg))
        if "127.0.0.1:%d" % primary not in msg:
            fail("INSERT %d: the error does not name 127.0.0.1:%d: %s" % (i, primary, msg))
        # a read in the same session, and one in a new session
        try:
            read_ports.append(conn.execute("SELECT inet_server_port()").fetchone()[0])
            reads += 1
            if i % 4 == 0:
                with connect() as c2:
                    read_ports.append(c2.execute("SELECT inet_server_port()").fetchone()[0])
                reads += 1
        except psycopg.Error as e:
            fail("a read with the primary down failed: %s %s" % errinfo(e))
        time.sleep(0.05)
    for k, v in sorted(msgs.items()):
        print("%3d x %s" % (v, k))
    measured("write errors with the primary down: %d INSERTs, max %.1f ms, median %.1f ms, "
             "min %.1f ms; %d refused by the open breaker"
             % (n, max(lat), statistics.median(lat), min(lat), refused))
    measured("reads with the primary down: %d of %d succeeded, on ports %s"
             % (reads, reads, sorted(set(read_ports))))
    if primary in read_ports:
        fail("a read ran on the stopped primary's port %d" % primary)
    # "at once": the open breaker answers without trying to connect; only the
    # probe of a half-open period may try (open_timeout doubles after each)
    if refused < n // 2:
        fail("only %d of %d INSERTs were refused by the open breaker: %s"
             % (refused, n, sorted(msgs.items())))
    return 0


def cmd_until_write(args):
    since, secs, table = float(args[0]), float(args[1]), args[2]
    expect = int(args[3]) if len(args) > 3 else None
    import psycopg
    alarm(int(secs) + 15)
    conn = None
    last = None
    tries = 0
    while time.time() - since < secs:
        tries += 1
        try:
            if conn is None or conn.closed:
                conn = connect()
            port = conn.execute("INSERT INTO %s VALUES (3) RETURNING inet_server_port()"
                                % table).fetchone()[0]
            print("%.3f\t%d\t%d" % (time.time() - since, port, tries))
            if expect is not None and port != expect:
                fail("the write ran on port %d, expected %d" % (port, expect))
            return 0
        except psycopg.Error as e:
            last = "%s %s" % errinfo(e)
        time.sleep(0.05)
    fail("no write worked within %.0f s (%d tries); last error: %s" % (secs, tries, last))
    return 1


def cmd_write_loop(args):
    """One session writes every 50 ms for up to SECS, until a write runs on
    UNTIL_PORT; one line per attempt: EPOCH OK PORT, or EPOCH ERR SQLSTATE MSG."""
    table, secs, until = args[0], float(args[1]), int(args[2])
    import psycopg
    alarm(int(secs) + 15)
    conn = connect()
    t0 = time.time()
    while time.time() - t0 < secs:
        t = time.time()
        try:
            port = conn.execute("INSERT INTO %s VALUES (4) RETURNING inet_server_port()"
                                % table).fetchone()[0]
            print("%.3f\tOK\t%d" % (t, port), flush=True)
            if port == until:
                return 0
        except psycopg.OperationalError as e:
            print("%.3f\tERR\t%s %s" % ((t,) + errinfo(e)), flush=True)
            if conn.closed:
                print("%.3f\tCLOSED\tthe session was closed" % time.time(), flush=True)
                return 1
        except psycopg.Error as e:
            print("%.3f\tERR\t%s %s" % ((t,) + errinfo(e)), flush=True)
        time.sleep(0.05)
    return 1


# ---- read-your-writes with a lagging replica -------------------------------

def cmd_ryw(args):
    table, paused, secs = args[0], int(args[1]), float(args[2])
    alarm(int(secs) + 20)
    conn = connect()
    before = conn.execute("SELECT count(*) FROM %s" % table).fetchone()[0]
    t0 = time.time()
    conn.execute("INSERT INTO %s SELECT g, repeat('x', 200) FROM generate_series(1, 100) g"
                 % table)
    want = before + 100
    ports = []
    while time.time() - t0 < secs:
        port, cnt = conn.execute("SELECT inet_server_port(), count(*) FROM %s"
                                 % table).fetchone()
        ports.append(port)
        if cnt != want:
            fail("read %d after the write, on port %d: %d rows, expected %d (ports so far %s)"
                 % (len(ports), port, cnt, want, ports))
        if port == paused:
            fail("read %d after the write ran on the paused replica (port %d)"
                 % (len(ports), paused))
        time.sleep(0.05)
    runs = []
    for p in ports:
        if runs and runs[-1][0] == p:
            runs[-1][1] += 1
        else:
            runs.append([p, 1])
    print("%d rows now; reads after the write by port, in order: %s"
          % (want, ", ".join("%d x%d" % (p, k) for p, k in runs)))
    print("ROWS %d" % want)
    print("PORTS %s" % " ".join(str(p) for p in sorted(set(ports))))
    return 0


def main():
    global PORT
    args = sys.argv[1:]
    if len(args) >= 2 and args[0] == "--port":
        PORT = int(args[1])
        args = args[2:]
    if not args:
        fail("usage: see the docstring")
    cmd = args.pop(0)
    fn = {"logtime": cmd_logtime, "reads": cmd_reads, "until-port": cmd_until_port,
          "primary-down": cmd_primary_down, "until-write": cmd_until_write,
          "ryw": cmd_ryw, "write-loop": cmd_write_loop}.get(cmd)
    if fn is None:
        fail("unknown command " + cmd)
    return fn(args)


if __name__ == "__main__":
    sys.exit(main())
