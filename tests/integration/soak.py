#!/usr/bin/env python3
"""tests/integration/soak.py - the Python side of the soak test (soak.sh).

Subcommands:
    psycopg --port P --primary-port P --clients N --secs S --out FILE
            [--user U --password W --row-base B]
        N psycopg 3 connections through pgrouter as U (app; soak.sh runs a second set
        as soakpt, whose auth_file entry is only its SCRAM secret: pass-through), rows
        B.. (1000) of soak_counter, each running, until S seconds
        have passed, a read by named prepared statement (autocommit, so it goes
        to a replica) and a transaction that increments its own counter row and
        reads it back (named statements too).  Errors are recorded with their
        time and SQLSTATE; a wrong answer is an error of kind WRONG.  At the end
        each counter row is read from the primary directly and must lie between
        the commits the client saw and those plus the commits whose outcome it
        could not know (connection lost during COMMIT).  Writes FILE (JSON).
    slow --port P --mb M --kbps K --out FILE
        a raw-socket client that selects M MB and reads the answer at K kB/s
        with a small receive buffer; checks every row arrived.  Writes FILE.
    admin --port P --user U --password W --secs S --out FILE
        an admin console client (database pgrouter) that runs SHOW POOLS, SHOW STATS
        and SHOW NODES once a second until S seconds have passed and checks that
        every answer is well-formed: one RowDescription with PgBouncer's (or
        pgrouter's) leading columns, DataRows of as many values, integers where the
        column is an integer, CommandComplete SHOW, ReadyForQuery, no error; NODES
        has one row per node.  Writes FILE (JSON).
    metrics --port P --secs S --out FILE
        scrapes http://127.0.0.1:P/metrics every 5 s until S seconds have passed; each
        answer must be 200 and pass `promtool check metrics` without a word.  Writes
        FILE (JSON).
    report --dir DIR
        reads everything soak.sh left in DIR, prints the checks and the summary
        line, exits 1 if a check failed.

Times are epoch seconds; errors are allowed only inside DIR/windows (the
primary restarts, plus a grace period) and only with the SQLSTATEs of a lost
or refused primary connection.  Standard library and psycopg only.
"""

import argparse
import glob
import json
import os
import random
import re
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rawpg  # noqa: E402  (same directory)

# What a client may see while the primary restarts (README, Failure handling):
# 08006 from pgrouter (primary unavailable, server lost) or from the client
# library (connection lost), 57P01/57P03 relayed from a stopping or starting
# server.
ALLOWED_STATES = {"08006", "57P01", "57P02", "57P03"}
# How long after the primary accepts connections again an error is still
# excused: breaker open_timeout + health interval + slack for a busy machine.
GRACE_SECS = 8.0

ACCOUNTS = 100000


def now():
    return time.time()


# ---- psycopg workload ------------------------------------------------------

def psycopg_worker(idx, args, deadline, res, lock):
    import psycopg

    row = args.row_base + idx
    st = {"reads": 0, "commits": 0, "uncertain": 0, "errors": []}
    conn = None

    def record(kind, e):
        state = getattr(e, "sqlstate", None) or ""
        if not state and kind != "WRONG":
            # libpq found the connection gone: connection_failure
            state = "08006"
        st["errors"].append({"t": now(), "state": state or "WRONG", "kind": kind,
                             "msg": str(e).strip().splitlines()[0][:200] if str(e) else "?"})

    while now() < deadline:
        phase = "connect"
        try:
            if conn is None or conn.closed:
                # half of the clients over TLS (soak.sh turns it on toward clients)
                conn = psycopg.connect(host="127.0.0.1", port=args.port, user=args.user,
                                       password=args.password, dbname="appdb",
                                       connect_timeout=10,
                                       autocommit=True, prepare_threshold=0,
                                       application_name="soak-psycopg",
                                       sslmode="require" if idx % 2 else "disable")
            phase = "read"
            aid = random.randint(1, ACCOUNTS)
            r = conn.execute("SELECT aid, abalance FROM pgbench_accounts WHERE aid = %s",
                             (aid,)).fetchone()
            if r is None or r[0] != aid:
                record("WRONG", Exception("read of aid %d gave %r" % (aid, r)))
            else:
                st["reads"] += 1
            phase = "tx"
            conn.execute("BEGIN")
            n = conn.execute("UPDATE soak_counter SET n = n + 1 WHERE id = %s RETURNING n",
                             (row,)).fetchone()[0]
            m = conn.execute("SELECT n FROM soak_counter WHERE id = %s", (row,)).fetchone()[0]
            if n != m:
                record("WRONG", Exception("counter %d: UPDATE gave %r, SELECT %r" % (row, n, m)))
            phase = "commit"
            conn.execute("COMMIT")
            st["commits"] += 1
        except psycopg.Error as e:
            record(phase, e)
            if phase == "commit":
                st["uncertain"] += 1
            try:
                if conn is not None and not conn.closed:
                    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                        conn.execute("ROLLBACK")
            except psycopg.Error:
                pass
            if conn is not None and (conn.closed or conn.broken):
                conn = None
            time.sleep(0.2)
    if conn is not None:
        conn.close()
    with lock:
        res[idx] = st


def cmd_psycopg(args):
    import psycopg

    deadline = now() + args.secs
    with psycopg.connect(host="127.0.0.1", port=args.primary_port, user="app", password="app",
                         dbname="appdb", autocommit=True) as c:
        start = {r[0]: r[1] for r in c.execute(
            "SELECT id, n FROM soak_counter WHERE id >= %s AND id < %s",
            (args.row_base, args.row_base + args.clients))}
    res, lock = {}, threading.Lock()
    threads = [threading.Thread(target=psycopg_worker, args=(i, args, deadline, res, lock))
               for i in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(args.secs + 120)
    out = {"reads": 0, "commits": 0, "errors": [], "wrong": []}
    with psycopg.connect(host="127.0.0.1", port=args.primary_port, user="app", password="app",
                         dbname="appdb", autocommit=True, connect_timeout=10) as c:
        end = {r[0]: r[1] for r in c.execute(
            "SELECT id, n FROM soak_counter WHERE id >= %s AND id < %s",
            (args.row_base, args.row_base + args.clients))}
    for i in range(args.clients):
        st = res.get(i)
        if st is None:
            out["wrong"].append("client %d did not finish" % i)
            continue
        out["reads"] += st["reads"]
        out["commits"] += st["commits"]
        out["errors"] += st["errors"]
        row = args.row_base + i
        d = end.get(row, 0) - start.get(row, 0)
        if not st["commits"] <= d <= st["commits"] + st["uncertain"]:
            out["wrong"].append("counter %d moved by %d; the client saw %d commits (+%d unknown)"
                                % (row, d, st["commits"], st["uncertain"]))
    out["transactions"] = out["reads"] + out["commits"]
    with open(args.out, "w") as f:
        json.dump(out, f)
    print("psycopg (%s): %d reads, %d commits, %d errors, %d wrong"
          % (args.user, out["reads"], out["commits"], len(out["errors"]), len(out["wrong"])))
    return 0


# ---- slow reader -----------------------------------------------------------

def cmd_slow(args):
    rows = args.mb * 1024
    sql = "SELECT i, repeat('x', 1000) FROM generate_series(1, %d) i" % rows
    out = {"t0": now(), "rows": 0, "bytes": 0, "error": None}
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # a small window, so that the kernel cannot absorb the answer for us
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        sock.settimeout(60)
        sock.connect(("127.0.0.1", args.port))
        rawpg.login(sock, "app", "app", "appdb")
        sock.sendall(rawpg.msg(b"Q", sql.encode() + b"\0"))
        buf = b""
        per_tick = max(1024, args.kbps * 1024 // 20)
        done = False
        last = 0
        while not done:
            t = now()
            chunk = sock.recv(per_tick)
            if not chunk:
                raise rawpg.Closed()
            out["bytes"] += len(chunk)
            buf += chunk
            while len(buf) >= 5:
                (length,) = struct.unpack("!i", buf[1:5])
                if len(buf) < 1 + length:
                    break
                mtype, payload = buf[0:1], buf[5:1 + length]
                buf = buf[1 + length:]
                if mtype == b"D":
                    (vlen,) = struct.unpack("!i", payload[2:6])
                    i = int(payload[6:6 + vlen])
                    if i != last + 1:
                        raise ValueError("row %d after row %d" % (i, last))
                    last = i
                    out["rows"] += 1
                elif mtype == b"E":
                    raise rawpg.PeerError(rawpg.parse_error(payload))
                elif mtype == b"C":
                    out["tag"] = payload.rstrip(b"\0").decode()
                elif mtype == b"Z":
                    done = True
            # a trickle: per_tick bytes every 50 ms
            time.sleep(max(0.0, 0.05 - (now() - t)))
        sock.sendall(rawpg.msg(b"X", b""))
        sock.close()
        if out["rows"] != rows or out.get("tag") != "SELECT %d" % rows:
            out["error"] = "got %d rows (%s) of %d" % (out["rows"], out.get("tag"), rows)
    except rawpg.PeerError as e:
        out["error"] = e.line()
        out["state"] = e.fields.get("C", "")
    except (OSError, ValueError, rawpg.Closed) as e:
        out["error"] = "%s: %s" % (type(e).__name__, e)
    out["t1"] = now()
    with open(args.out, "w") as f:
        json.dump(out, f)
    print("slow client: %d rows, %d bytes in %.1f s, error: %s"
          % (out["rows"], out["bytes"], out["t1"] - out["t0"], out["error"]))
    return 0 if out["error"] is None else 1


# ---- admin console ---------------------------------------------------------

# Leading columns each answer must start with (PgBouncer's for POOLS and STATS).
ADMIN_SHOWS = [
    ("SHOW POOLS", ["database", "user", "cl_active", "cl_waiting"]),
    ("SHOW STATS", ["database", "total_server_assignment_count", "total_xact_count"]),
    ("SHOW NODES", ["cluster", "node", "role"]),
]
ADMIN_INT_TYPES = {20, 21, 23}      # int8, int2, int4


def admin_show(sock, sql):
    """Run sql on the console; returns (columns [(name, type oid)], rows, tag) or raises
    ValueError on anything malformed and rawpg.PeerError on an error."""
    sock.sendall(rawpg.msg(b"Q", sql.encode() + b"\0"))
    cols, rows, tag, error = None, [], None, None
    while True:
        mtype, payload = rawpg.read_msg(sock)
        if mtype == b"T":
            if cols is not None:
                raise ValueError("%s: two RowDescriptions" % sql)
            (n,) = struct.unpack("!h", payload[:2])
            cols, pos = [], 2
            for _ in range(n):
                end = payload.index(b"\0", pos)
                name = payload[pos:end].decode()
                _tab, _att, typ, _len, _mod, fmt = struct.unpack("!ihihih",
                                                                  payload[end + 1:end + 19])
                if fmt != 0:
                    raise ValueError("%s: column %s in binary format" % (sql, name))
                cols.append((name, typ))
                pos = end + 19
        elif mtype == b"D":
            if cols is None:
                raise ValueError("%s: a DataRow before the RowDescription" % sql)
            (n,) = struct.unpack("!h", payload[:2])
            if n != len(cols):
                raise ValueError("%s: a row of %d values for %d columns" % (sql, n, len(cols)))
            row, pos = [], 2
            for name, typ in cols:
                (vlen,) = struct.unpack("!i", payload[pos:pos + 4])
                pos += 4
                v = None
                if vlen >= 0:
                    v = payload[pos:pos + vlen].decode()
                    pos += vlen
                    if typ in ADMIN_INT_TYPES and not re.fullmatch(r"-?\d+", v):
                        raise ValueError("%s: %s = %r is not an integer" % (sql, name, v))
                row.append(v)
            if pos != len(payload):
                raise ValueError("%s: %d bytes after the last value" % (sql, len(payload) - pos))
            rows.append(row)
        elif mtype == b"C":
            tag = payload.rstrip(b"\0").decode()
        elif mtype == b"E":
            error = rawpg.PeerError(rawpg.parse_error(payload))
        elif mtype == b"Z":
            if error is not None:
                raise error
            return cols, rows, tag
        elif mtype != b"N":
            raise ValueError("%s: unexpected message %r" % (sql, mtype))


def cmd_admin(args):
    out = {"rounds": 0, "answers": 0, "bad": [], "max_ms": 0.0, "nodes": args.nodes,
           "node_rows": []}
    deadline = now() + args.secs
    sock = None
    try:
        sock = socket.create_connection(("127.0.0.1", args.port), timeout=30)
        sock.settimeout(30)
        rawpg.login(sock, args.user, args.password, "pgrouter")
        while now() < deadline:
            t = now()
            for sql, lead in ADMIN_SHOWS:
                t1 = now()
                try:
                    cols, rows, tag = admin_show(sock, sql)
                    names = [c[0] for c in (cols or [])]
                    if names[:len(lead)] != lead:
                        raise ValueError("%s: columns %s, expected %s first"
                                         % (sql, names[:len(lead) + 1], lead))
                    if tag != "SHOW":
                        raise ValueError("%s: command tag %r" % (sql, tag))
                    lo = args.min_nodes if args.min_nodes is not None else args.nodes
                    if sql == "SHOW NODES" and len(rows) not in out["node_rows"]:
                        out["node_rows"].append(len(rows))
                    if sql == "SHOW NODES" and not lo <= len(rows) <= args.nodes:
                        raise ValueError("SHOW NODES: %d rows for %d..%d nodes"
                                         % (len(rows), lo, args.nodes))
                    out["answers"] += 1
                except (ValueError, rawpg.PeerError) as e:
                    out["bad"].append({"t": now(), "msg": str(e) if not isinstance(
                        e, rawpg.PeerError) else e.line()})
                out["max_ms"] = max(out["max_ms"], (now() - t1) * 1000)
            out["rounds"] += 1
            time.sleep(max(0.0, 1.0 - (now() - t)))
        sock.sendall(rawpg.msg(b"X", b""))
    except (OSError, rawpg.Closed, rawpg.PeerError, ValueError) as e:
        out["bad"].append({"t": now(), "msg": "the console connection failed: %s: %s"
                           % (type(e).__name__, e)})
    finally:
        if sock is not None:
            sock.close()
    with open(args.out, "w") as f:
        json.dump(out, f)
    print("admin: %d rounds, %d answers, %d bad, slowest %.0f ms"
          % (out["rounds"], out["answers"], len(out["bad"]), out["max_ms"]))
    return 0 if not out["bad"] else 1


# ---- metrics ---------------------------------------------------------------


def cmd_metrics(args):
    out = {"scrapes": 0, "bad": [], "max_ms": 0.0}
    deadline = now() + args.secs
    while now() < deadline:
        t = now()
        try:
            s = socket.create_connection(("127.0.0.1", args.port), timeout=30)
            s.settimeout(30)
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: soak\r\n\r\n")
            answer = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                answer += chunk
            s.close()
            out["max_ms"] = max(out["max_ms"], (now() - t) * 1000)
            head, _, body = answer.partition(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200 "):
                raise ValueError("status %r" % head[:40])
            r = subprocess.run(["promtool", "check", "metrics"], input=body,
                               capture_output=True, timeout=60)
            said = (r.stdout + r.stderr).decode(errors="replace").strip()
            if r.returncode != 0 or said:
                raise ValueError("promtool (exit %d): %s" % (r.returncode, said[:300]))
            out["scrapes"] += 1
        except (OSError, ValueError, subprocess.SubprocessError) as e:
            out["bad"].append({"t": now(), "msg": "%s: %s" % (type(e).__name__, e)})
        time.sleep(max(0.0, 5.0 - (now() - t)))
    with open(args.out, "w") as f:
        json.dump(out, f)
    print("metrics: %d scrapes, %d bad, slowest %.0f ms"
          % (out["scrapes"], len(out["bad"]), out["max_ms"]))
    return 0 if not out["bad"] else 1


# ---- report ----------------------------------------------------------------

# pgbench prints the server's message, not its SQLSTATE: map the texts a
# primary restart can produce; anything else is "?" and never allowed.
PGBENCH_STATES = [
    (r"terminating connection due to administrator command", "57P01"),
    (r"terminating connection due to unexpected postmaster exit|"
     r"terminating connection because of crash of another server process", "57P02"),
    (r"the database system is (shutting down|starting up|not yet accepting|in recovery)",
     "57P03"),
    (r"no server connection available", "53300"),
    (r"pgrouter: cannot connect to primary|is unavailable|was lost", "08006"),
    # a connection that ended under pgbench: libpq's text, or pgbench's own when
    # PQconsumeInput fails ("perhaps the backend died while processing")
    (r"server closed the connection unexpectedly|could not receive data|"
     r"connection to server .* failed|no connection to the server|"
     r"perhaps the backend died while processing", "08006"),
]


def pgbench_state(text):
    for rx, state in PGBENCH_STATES:
        if re.search(rx, text):
            return state
    return "?"


def read_pgbench_errors(path, kind):
    """Error lines of a pgbench stderr file stamped by soak.sh ("EPOCH line")."""
    errs = []
    try:
        lines = open(path, errors="replace").read().splitlines()
    except OSError:
        return errs
    for line in lines:
        t, _, text = line.partition(" ")
        if "error" not in text.lower() and "aborted" not in text:
            continue
        # consequences of the error on the line before
        if re.search(r"^pgbench: (error|fatal): (Run was aborted|could not create connection "
                     r"for setup|client \d+ aborted while establishing)", text):
            continue
        try:
            t = float(t)
        except ValueError:
            continue
        errs.append({"t": t, "state": pgbench_state(text), "kind": kind,
                     "msg": text[:200]})
    return errs


def pgbench_figures(path):
    """(transactions, failed transactions, text) of a pgbench report, or None."""
    try:
        text = open(path, errors="replace").read()
    except OSError:
        return None
    m = re.search(r"number of transactions actually processed: (\d+)", text)
    f = re.search(r"number of failed transactions: (\d+)", text)
    return (int(m.group(1)) if m else None, int(f.group(1)) if f else 0, text)


def percentile(values, q):
    if not values:
        return None
    values = sorted(values)
    k = min(len(values) - 1, max(0, int(round(q * (len(values) - 1)))))
    return values[k]


def cmd_report(args):
    d = args.dir
    fails, notes = [], []
    total = 0
    errors = []   # every error of every client: {t, state, kind, msg}
    excusable = []  # the subset that may be excused by a primary window

    # --- pgbench runs: the reads must not see a single error
    for name in ("select_simple", "select_extended", "select_prepared", "select_reconnect"):
        out = os.path.join(d, name + ".out")
        fig = pgbench_figures(out)
        errs = read_pgbench_errors(os.path.join(d, name + ".err"), name)
        rc = open(os.path.join(d, name + ".rc")).read().strip() \
            if os.path.exists(os.path.join(d, name + ".rc")) else "?"
        if fig is None or fig[0] is None:
            fails.append("%s: pgbench printed no result (exit %s)" % (name, rc))
            errors += errs
            continue
        n, failed, text = fig
        total += n
        notes.append("%s: %d transactions, exit %s" % (name, n, rc))
        errors += errs
        if errs or rc != "0" or failed:
            fails.append("%s: %d error lines, %d failed transactions, exit %s; first: %s"
                         % (name, len(errs), failed, rc, errs[0]["msg"] if errs else "-"))

    # --- TPC-B rounds: errors only inside a primary window
    rounds = sorted(glob.glob(os.path.join(d, "tpcb.*.out")))
    tpcb = 0
    for out in rounds:
        base = out[:-4]
        fig = pgbench_figures(out)
        if fig is not None and fig[0] is not None:
            tpcb += fig[0]
        excusable += read_pgbench_errors(base + ".err", "tpcb")
    total += tpcb
    notes.append("tpcb: %d rounds, %d transactions" % (len(rounds), tpcb))
    if tpcb == 0:
        fails.append("tpcb: no TPC-B transaction committed")

    # --- psycopg and node-postgres
    for name in ("psycopg", "psycopg_passthru", "psycopg_authq", "node"):
        path = os.path.join(d, name + ".json")
        try:
            r = json.load(open(path))
        except (OSError, ValueError) as e:
            fails.append("%s: no result (%s)" % (name, e))
            continue
        total += r.get("transactions", 0)
        notes.append("%s: %d reads, %d commits, %d errors"
                     % (name, r.get("reads", 0), r.get("commits", 0), len(r.get("errors", []))))
        for w in r.get("wrong", []):
            fails.append("%s: %s" % (name, w))
        if r.get("commits", 0) == 0 or r.get("reads", 0) == 0:
            fails.append("%s: no read or no commit succeeded" % name)
        excusable += r.get("errors", [])

    # --- the slow client
    for path in sorted(glob.glob(os.path.join(d, "slow.*.json"))):
        try:
            r = json.load(open(path))
        except (OSError, ValueError) as e:
            fails.append("slow client: no result (%s)" % e)
            continue
        notes.append("slow client: %d rows, %.1f MB in %.1f s"
                     % (r["rows"], r["bytes"] / 1e6, r["t1"] - r["t0"]))
        if r.get("error"):
            fails.append("slow client: %s" % r["error"])
    if not glob.glob(os.path.join(d, "slow.*.json")):
        fails.append("slow client: it never ran")

    # --- the admin console client: every answer well-formed, all along
    try:
        r = json.load(open(os.path.join(d, "admin.json")))
        notes.append("admin console: %d rounds of SHOW POOLS/STATS/NODES, %d answers, slowest "
                     "%.0f ms, SHOW NODES rows seen %s" % (r["rounds"], r["answers"], r["max_ms"],
                                                          sorted(r.get("node_rows", []))))
        for b in r["bad"][:5]:
            fails.append("admin console at +%.1f s: %s" % (b["t"] - args.t0, b["msg"]))
        # once a second for the whole run; a quarter of that on a very busy machine
        if r["rounds"] < (args.t1 - args.t0) / 4:
            fails.append("admin console: only %d rounds in %.0f s"
                         % (r["rounds"], args.t1 - args.t0))
    except (OSError, ValueError, KeyError) as e:
        fails.append("admin console: no result (%s)" % e)

    # --- the metrics endpoint: every scrape answered and clean for promtool
    try:
        r = json.load(open(os.path.join(d, "metrics.json")))
        notes.append("metrics: %d scrapes, promtool clean, slowest %.0f ms"
                     % (r["scrapes"], r["max_ms"]))
        for b in r["bad"][:5]:
            fails.append("metrics at +%.1f s: %s" % (b["t"] - args.t0, b["msg"]))
        if r["scrapes"] < 2:
            fails.append("metrics: only %d scrapes" % r["scrapes"])
    except (OSError, ValueError, KeyError) as e:
        fails.append("metrics: no result (%s)" % e)

    # --- which errors a primary restart excuses
    windows = []
    try:
        for line in open(os.path.join(d, "windows")):
            what, t0, t1 = line.split()
            windows.append((what, float(t0), float(t1)))
    except OSError:
        pass
    for e in excusable:
        ok = e["state"] in ALLOWED_STATES and e["kind"] != "WRONG" and any(
            w == "primary" and t0 - 0.5 <= e["t"] <= t1 + GRACE_SECS for w, t0, t1 in windows)
        e["allowed"] = ok
    errors += excusable
    bad = [e for e in errors if not e.get("allowed")]
    for e in bad[:10]:
        fails.append("error not excused by a primary restart: %s %s at +%.1f s: %s"
                     % (e["kind"], e["state"], e["t"] - args.t0, e["msg"]))
    if len(bad) > 10:
        fails.append("... %d more errors not excused" % (len(bad) - 10))

    by_state = {}
    for e in errors:
        by_state[e["state"]] = by_state.get(e["state"], 0) + 1

    # --- client-side latency of the pgbench -S reads
    lat = []
    for path in glob.glob(os.path.join(d, "lat_*")):
        for line in open(path, errors="replace"):
            p = line.split()
            if len(p) >= 6 and p[2].isdigit():
                lat.append(int(p[2]))
    p99 = percentile(lat, 0.99)
    p50 = percentile(lat, 0.50)

    # --- RSS: the second half of the run against the first (after warm-up)
    rss = []
    try:
        for line in open(os.path.join(d, "rss")):
            t, kb = line.split()
            rss.append((float(t), int(kb)))
    except (OSError, ValueError):
        pass
    rss_text = "RSS ?"
    if len(rss) >= 8:
        t_start, t_end = args.t0, args.t1
        warm = t_start + (t_end - t_start) * 0.15
        mid = (warm + t_end) / 2
        first = [kb for t, kb in rss if warm <= t < mid]
        second = [kb for t, kb in rss if mid <= t <= t_end]
        if first and second:
            a, b = percentile(first, 0.5), percentile(second, 0.5)
            amax, bmax = max(first), max(second)
            rss_text = "RSS %.1f->%.1f MB" % (a / 1024, b / 1024)
            notes.append("RSS (VmRSS) medians %.1f -> %.1f MB, max %.1f -> %.1f MB, "
                         "%d samples, allowed growth %d%% + %d MB"
                         % (a / 1024, b / 1024, amax / 1024, bmax / 1024, len(rss),
                            args.rss_pct, args.rss_mb))
            if args.rss_judge and bmax > amax * (1 + args.rss_pct / 100.0) + args.rss_mb * 1024:
                fails.append("RSS grew: max %.1f MB in the first half, %.1f MB in the second"
                             % (amax / 1024, bmax / 1024))
    else:
        fails.append("RSS: only %d samples" % len(rss))

    # --- pgrouter's own histogram of waits for a server, logged when it exits
    wait_text = "p99 wait for a server ?"
    try:
        m = None
        for line in open(os.path.join(d, "pgrouter.log"), errors="replace"):
            m = re.search(r"pool waits: (\d+) borrows, (\d+) waited for a server, p50 < (\d+) ms, "
                          r"p99 < (\d+) ms, max (\d+) ms, (\d+) query_wait_timeout", line) or m
        if m:
            wait_text = "p99 wait for a server < %s ms (max %s ms)" % (m.group(4), m.group(5))
            notes.append("pgrouter: %s borrows, %s waited for a server, p50 < %s ms, p99 < %s "
                         "ms, max %s ms, %s query_wait_timeout" % m.groups())
            if m.group(6) != "0":
                fails.append("%s clients hit query_wait_timeout" % m.group(6))
    except OSError:
        pass

    for n in notes:
        print("# %s" % n)
    states = ", ".join("%s: %d" % (s, by_state[s]) for s in sorted(by_state))
    where = "all while the primary restarted" if not bad else "%d not excused" % len(bad)
    print("# soak: %d s, %d transactions, errors by SQLSTATE {%s} (%s), %s, p99 read "
          "latency %s ms (client-side, pgbench -S; median %s ms), %s"
          % (round(args.t1 - args.t0), total, states, where, wait_text,
             "%.1f" % (p99 / 1000.0) if p99 is not None else "?",
             "%.1f" % (p50 / 1000.0) if p50 is not None else "?", rss_text))
    if p99 is None:
        fails.append("no pgbench latency log")
    for f in fails:
        print("not ok - soak: %s" % f)
    return 1 if fails else 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("command", choices=["psycopg", "slow", "admin", "metrics", "report"])
    p.add_argument("--port", type=int)
    p.add_argument("--primary-port", type=int)
    p.add_argument("--clients", type=int, default=10)
    p.add_argument("--secs", type=float, default=60)
    p.add_argument("--out")
    p.add_argument("--mb", type=int, default=8)
    p.add_argument("--kbps", type=int, default=512)
    p.add_argument("--user", default="app")
    p.add_argument("--password", default="app")
    p.add_argument("--row-base", type=int, default=1000)
    p.add_argument("--nodes", type=int, default=3)
    p.add_argument("--min-nodes", type=int, default=None,
                   help="fewest SHOW NODES rows allowed (a reload removes a replica)")
    p.add_argument("--dir")
    p.add_argument("--t0", type=float)
    p.add_argument("--t1", type=float)
    p.add_argument("--rss-pct", type=int, default=20)
    p.add_argument("--rss-mb", type=int, default=2)
    p.add_argument("--rss-judge", type=int, default=1)
    args = p.parse_args()
    return {"psycopg": cmd_psycopg, "slow": cmd_slow, "admin": cmd_admin, "metrics": cmd_metrics,
            "report": cmd_report}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
