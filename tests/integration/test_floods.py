#!/usr/bin/python3
"""tests/integration/test_floods.py - hostile clients: login floods, cancel floods, slow
logins, and file descriptors running out. Each case starts a pgrouter of its own in front
of the suite's primary (FLOODS_BIN, FLOODS_DIR/NAME/ for its config and log).

  - login_backoff: wrong passwords from one client, answered at once without the backoff
    (auth_failure_delay = 0) and slowed with it (the defaults); meanwhile another user
    from the same address logs in fast, and the attacked user itself at most
    auth_failure_max_delay late;
  - cancel_flood: random cancel keys from many connections; a real cancel of pg_sleep
    still works, the log has summary lines and no line per request, and the
    BackendKeyData pgrouter gives are random (not sequential pids);
  - slow_logins: connections that send nothing or a byte at a time: those over
    max_pending_logins get FATAL 53300 at once, the rest are closed after
    client_startup_timeout, and a normal login works afterwards;
  - fd_limit: under prlimit --nofile small enough that clients and servers exceed it:
    clients get a FATAL/ERROR 53000 naming the file descriptors, the node's breaker stays
    closed, accepting pauses without spinning, and pgrouter recovers when clients leave.
Prints `ok - floods: NAME` / `not ok - floods: NAME: reason` lines; exits 1 if any failed.
"""

import os
import secrets
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

import psycopg

import rawpg
from itest import PRIMARY, Skip, Suite, check, free_port, measured, wait_for

FLOODS_DIR = os.environ.get("FLOODS_DIR", "")
FLOODS_BIN = os.environ.get("FLOODS_BIN", "")
STARTED = []

SUITE = Suite("floods")
case = SUITE.case


def read_log(path, since=0):
    with open(path, "rb") as f:
        f.seek(since)
        return f.read().decode("utf-8", "replace")


def start_own(name, extra, wrap=()):
    """pgrouter NAME with [pgrouter] lines extra (scram, users app/other/admin), in front
    of the primary; returns (proc, port, log path)."""
    if not FLOODS_BIN or not FLOODS_DIR:
        raise Skip("FLOODS_BIN and FLOODS_DIR are not set")
    d = os.path.join(FLOODS_DIR, "floods_" + name)
    os.makedirs(d, exist_ok=True)
    ini, log, users = (os.path.join(d, f) for f in ("pgrouter.ini", "pgrouter.log",
                                                    "userlist.txt"))
    with open(users, "w") as f:
        f.write('"app" "app"\n"other" "other"\n"admin" "admin"\n')
    os.chmod(users, 0o600)
    for _ in range(3):
        port = free_port()
        with open(ini, "w") as f:
            f.write("[pgrouter]\nlisten_addr = 127.0.0.1\nlisten_port = %d\n"
                    "auth_type = scram-sha-256\nauth_file = %s\nadmin_users = admin\n%s\n"
                    "[cluster.main]\nprimary = 127.0.0.1:%d\n" % (port, users, extra, PRIMARY))
        out = open(log, "ab")
        since = out.tell()
        proc = subprocess.Popen(list(wrap) + [FLOODS_BIN, "-c", ini], stdout=out,
                                stderr=subprocess.STDOUT)
        out.close()
        STARTED.append(proc)
        deadline = time.monotonic() + 20
        while proc.poll() is None and time.monotonic() < deadline:
            if "listening on" in read_log(log, since):
                return proc, port, log
            time.sleep(0.05)
        if proc.poll() is not None and "in use" in read_log(log, since):
            continue
        raise AssertionError("pgrouter %s did not start: %s" % (name, read_log(log)[-500:]))
    raise AssertionError("pgrouter %s: no free port" % name)


def stop(proc):
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def dsn(port, user, password, db="appdb", timeout=10):
    return ("host=127.0.0.1 port=%d user=%s password=%s dbname=%s connect_timeout=%d"
            % (port, user, password, db, timeout))


def wrong_logins(port, secs):
    """Wrong passwords for app, one after another, for secs: the attempts made."""
    n, end = 0, time.monotonic() + secs
    while time.monotonic() < end:
        try:
            psycopg.connect(dsn(port, "app", "wrong"), autocommit=True).close()
            raise AssertionError("a wrong password logged in")
        except psycopg.OperationalError as e:
            check("password authentication failed" in str(e), "unexpected error: %s" % e)
        n += 1
    return n


def login_secs(port, user, password):
    t0 = time.monotonic()
    with psycopg.connect(dsn(port, user, password, timeout=15), autocommit=True) as c:
        check(c.execute("SELECT 1").fetchone()[0] == 1, "SELECT 1")
    return time.monotonic() - t0


@case
def login_backoff():
    proc, port, _ = start_own("nobackoff", "auth_failure_delay = 0")
    try:
        before = wrong_logins(port, 2.0) / 2.0
    finally:
        stop(proc)
    proc, port, log = start_own("backoff", "")
    try:
        stop_flag = []
        counts = []

        def attack():
            n, t0 = 0, time.monotonic()
            while not stop_flag:
                n += wrong_logins(port, 0.2)
            counts.append((n, time.monotonic() - t0))
        t = threading.Thread(target=attack)
        t.start()
        time.sleep(2.0)     # the backoff has reached its cap (200 ms doubling to 2 s)
        other = max(login_secs(port, "other", "other") for _ in range(3))
        victim = login_secs(port, "app", "app")
        time.sleep(1.0)
        stop_flag.append(1)
        t.join(30)
        n, secs = counts[0]
        after = n / secs
        measured("floods: wrong passwords per second from one client: %.0f without the backoff, "
                 "%.1f with it (%d in %.1f s); meanwhile another user from the same address "
                 "logged in in %.3f s, the attacked user itself in %.3f s"
                 % (before, after, n, secs, other, victim))
        check(before > 10, "without the backoff only %.1f attempts/s: the machine is too slow "
              "to compare" % before)
        check(after < 4, "%.1f wrong passwords per second with the backoff" % after)
        check(after * 5 < before, "backoff: %.1f/s vs %.1f/s before" % (after, before))
        check(other < 1.5, "another user from the same address took %.3f s" % other)
        check(victim < 2.0 + 1.5, "the attacked user took %.3f s to log in" % victim)
    finally:
        stop(proc)


def cancel_packet(pid, key):
    return struct.pack("!iiII", 16, 80877102, pid, key)


@case
def cancel_flood():
    proc, port, log = start_own("cancel", "stats_period = 2")
    try:
        since = os.path.getsize(log)
        conns = [psycopg.connect(dsn(port, "app", "app"), autocommit=True) for _ in range(5)]
        pids = [c.info.backend_pid for c in conns]
        measured("floods: BackendKeyData pids handed out: %s" % pids)
        check(len(set(pids)) == len(pids), "pids not distinct: %s" % pids)
        check(any(p > (1 << 20) or p < 0 for p in pids), "pids look sequential: %s" % pids)
        steps = sorted(pids)
        check(any(b - a > 1000 for a, b in zip(steps, steps[1:])), "pids are close: %s" % pids)
        stop_flag, sent = [], [0]

        def flood():
            while not stop_flag:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                        s.sendall(cancel_packet(secrets.randbits(32), secrets.randbits(32)))
                        s.recv(1)
                    sent[0] += 1
                except OSError:
                    pass
        threads = [threading.Thread(target=flood) for _ in range(3)]
        for t in threads:
            t.start()
        try:
            time.sleep(0.5)
            victim = conns[0]
            timer = threading.Timer(1.0, victim.cancel)
            timer.start()
            t0 = time.monotonic()
            try:
                victim.execute("SELECT pg_sleep(20)")
                raise AssertionError("pg_sleep(20) was not cancelled")
            except psycopg.errors.QueryCanceled:
                took = time.monotonic() - t0
            timer.join()
            check(took < 8, "cancel took %.1f s during the flood" % took)
            check(victim.execute("SELECT 1").fetchone()[0] == 1, "the victim goes on")
            time.sleep(2.5)
        finally:
            stop_flag.append(1)
            for t in threads:
                t.join(10)
        wait_for("the summary line", lambda: "unknown key" in read_log(log, since), 10)
        text = read_log(log, since)
        per_request = [ln for ln in text.splitlines() if "cancel request for" in ln]
        summaries = [ln for ln in text.splitlines() if "cancel requests in the last" in ln]
        measured("floods: %d random cancel requests in %.1f s (%.0f/s) while a real cancel of "
                 "pg_sleep took %.2f s; %d log lines about cancels (%d summaries)"
                 % (sent[0], took + 3.0, sent[0] / (took + 3.0), took,
                    len(per_request) + len(summaries), len(summaries)))
        check(sent[0] > 100, "only %d cancel requests were sent" % sent[0])
        check(per_request == [], "a line per request: %s" % per_request[:3])
        check(1 <= len(summaries) <= 6, "summary lines: %s" % summaries)
        check(" 1 sent to a server" in "".join(summaries) or
              "(1 sent to a server" in "".join(summaries), "the real cancel is not in the "
              "summary: %s" % summaries)
        for c in conns:
            c.close()
    finally:
        stop(proc)


def startup_error(sock, secs):
    """The FATAL sent to a client that has sent nothing: its fields, or None if closed."""
    try:
        fields, _ = rawpg.next_error(sock, secs)
        return fields
    except (rawpg.Closed, ConnectionResetError):
        return None


@case
def slow_logins():
    proc, port, log = start_own("slow", "max_pending_logins = 20\nmax_client_conn = 200\n"
                                "client_startup_timeout = 2\nstats_period = 2")
    socks = []
    admin = psycopg.connect(dsn(port, "admin", "admin", db="pgrouter"), autocommit=True)
    try:
        for _ in range(19):
            socks.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        # one more that sends a byte per 0.4 s: the startup timeout closes it all the same
        dribble = socket.create_connection(("127.0.0.1", port), timeout=5)
        t0 = time.monotonic()
        time.sleep(0.3)
        lists = {r["list"]: r["items"] for r in admin_rows(admin, "SHOW LISTS")}
        check(lists.get("pending_logins") == 20, "SHOW LISTS: %s" % lists)
        over = []
        for _ in range(5):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(rawpg.startup_packet("app", "appdb"))
            over.append(startup_error(s, 3))
            s.close()
        codes = [f.get("C") if f else None for f in over]
        check(codes == ["53300"] * 5, "startups over max_pending_logins got %s" % codes)
        check("max_pending_logins" in over[0].get("M", ""), "message: %s" % over[0])
        try:
            psycopg.connect(dsn(port, "app", "app"), autocommit=True).close()
            raise AssertionError("a login over max_pending_logins went through")
        except psycopg.OperationalError as e:
            check("max_pending_logins" in str(e), "libpq's client got: %s" % e)
        t_silent = time.monotonic()
        silent = socket.create_connection(("127.0.0.1", port), timeout=5)
        f = startup_error(silent, 4)
        check(f is None or f.get("C") == "08P01", "a silent connection over the cap got %s" % f)
        silent_secs = time.monotonic() - t_silent
        check(silent_secs < 3, "a silent connection over the cap stayed %.1f s" % silent_secs)
        silent.close()
        answer = None
        dribble.settimeout(0.4)
        for b in rawpg.startup_packet("app", "appdb"):
            if time.monotonic() - t0 > 8:
                break
            try:
                dribble.sendall(bytes([b]))
                answer = dribble.recv(4096)
                break       # an ErrorResponse, or b"" (closed)
            except socket.timeout:
                continue
            except OSError:
                answer = b""
                break
        took = time.monotonic() - t0
        check(answer is not None, "the dribbler was not closed within %.1f s" % took)
        check(answer == b"" or b"08P01" in answer, "the dribbler got %r" % answer)
        check(took < 5, "the dribbler stayed %.1f s" % took)
        # the silent 19 are closed by client_startup_timeout (2 s)
        for s in socks:
            f = startup_error(s, 5)
            check(f is None or f.get("C") == "08P01", "a silent connection got %s" % f)
        t1 = time.monotonic()
        check(login_secs(port, "app", "app") < 3, "a normal login after the flood")
        measured("floods: 19 silent connections and a dribbler held; over max_pending_logins "
                 "= 20, startups refused 53300 at once and a silent one closed after %.1f s; "
                 "the dribbler closed after %.1f s; a login after in %.2f s"
                 % (silent_secs, took, time.monotonic() - t1))
        wait_for("the summary line", lambda: "over max_pending_logins" in read_log(log), 10)
    finally:
        admin.close()
        for s in socks:
            s.close()
        stop(proc)


def try_login(port):
    try:
        return login_secs(port, "app", "app") < 5
    except psycopg.Error:
        return False


def cpu_secs(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def admin_rows(conn, cmd):
    cur = psycopg.ClientCursor(conn)
    cur.execute(cmd)
    names = [d.name for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


@case
def fd_limit():
    if subprocess.run(["sh", "-c", "command -v prlimit"], capture_output=True).returncode:
        raise Skip("no prlimit (util-linux)")
    limit = 40
    proc, port, log = start_own("fds", "max_client_conn = 100\ndefault_pool_size = 30\n"
                                "pool_mode = transaction",
                                wrap=("prlimit", "--nofile=%d" % limit, "--"))
    clients = []
    try:
        check("open-file limit is %d" % limit in read_log(log), "no startup warning about the "
              "file descriptor limit: %s" % read_log(log)[-400:])
        admin = psycopg.connect(dsn(port, "admin", "admin", db="pgrouter"), autocommit=True)
        # clients without a transaction until accepting stops: every descriptor is taken
        timeouts = 0
        for _ in range(limit):
            try:
                clients.append(psycopg.connect(dsn(port, "app", "app", timeout=2),
                                               autocommit=True))
            except psycopg.OperationalError as e:
                check("timeout" in str(e) or "file descriptors" in str(e),
                      "a client over the descriptors got: %s" % e)
                timeouts += 1
                break
        check(timeouts == 1, "%d clients connected under --nofile=%d" % (len(clients), limit))
        # each transaction needs a server connection: 2 descriptors pgrouter does not have
        errors = []
        for c in clients:
            try:
                c.execute("BEGIN")
                c.execute("SELECT 1")
            except psycopg.Error as e:
                errors.append(e)
                try:
                    c.execute("ROLLBACK")
                except psycopg.Error:
                    pass
                if len(errors) >= 3:
                    break
        fd_errors = [e for e in errors if "file descriptors" in str(e)]
        measured("floods: under prlimit --nofile=%d: %d clients, then transactions got %s"
                 % (limit, len(clients), [str(e).strip()[:160] for e in errors]))
        check(fd_errors, "no error names the file descriptors: %s" % errors)
        codes = {getattr(e, "sqlstate", None) for e in fd_errors}
        check(codes <= {"53000", "53300"}, "SQLSTATEs %s" % codes)
        check(not any("server closed the connection unexpectedly" in str(e) for e in errors),
              "a client was reset: %s" % errors)
        # accepting is paused or refused now; it must not spin
        cpu0, t0 = cpu_secs(proc.pid), time.monotonic()
        waiting = []
        for _ in range(5):
            try:
                waiting.append(socket.create_connection(("127.0.0.1", port), timeout=2))
            except OSError:
                pass
        time.sleep(2.0)
        cpu = cpu_secs(proc.pid) - cpu0
        measured("floods: out of descriptors with 5 clients knocking: %.2f s CPU in %.1f s"
                 % (cpu, time.monotonic() - t0))
        check(cpu < 0.6, "pgrouter used %.2f s CPU in 2 s while out of descriptors" % cpu)
        breakers = admin_rows(admin, "SHOW BREAKERS")
        states = {str(r.get("state")) for r in breakers}
        check(states == {"closed"}, "breakers: %s" % breakers)
        for w in waiting:
            w.close()
        for c in clients:
            c.close()
        clients = []
        wait_for("a login after the clients left", lambda: try_login(port), 20)
        check({str(r.get("state")) for r in admin_rows(admin, "SHOW BREAKERS")} == {"closed"},
              "a breaker opened")
        admin.close()
    finally:
        for c in clients:
            c.close()
        stop(proc)


if __name__ == "__main__":
    try:
        sys.exit(SUITE.run())
    finally:
        for p in STARTED:
            if p.poll() is None:
                p.kill()
