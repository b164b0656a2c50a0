#!/usr/bin/python3
"""tests/integration/test_logs.py - the log lines an operator reads, and no secret in them.

Run by logs.sh (through run.sh's run_py) with Debian's /usr/bin/python3.  Environment:
LOGS_DIR (run.sh's ITEST_DIR: each instance's config and log are in LOGS_DIR/NAME/),
LOGS_MAIN_PORT (log keys at their defaults, client_idle_timeout = 2), LOGS_QUIET_PORT and
LOGS_QUIET_PID (log_connections, log_disconnections, log_pooler_errors = 0 at start),
LOGS_BIN (the pgrouter binary: the secrets case starts its own), PRIMARY_PORT,
REPLICA1_PORT, REPLICA2_PORT (reached directly as postgres/postgres).

What the README promises and each case checks:
  - a login line (cN user@db, client address:port, user, database, auth method), and a
    disconnection line with the same cN, a plausible duration and the reason: the client
    closed (with or without Terminate), a FATAL pgrouter sent (SQLSTATE and message: a
    server lost inside a transaction, client_idle_timeout, the console's KILL), pgrouter
    shutting down;
  - a failed login says why (FATAL 28P01), never with the password;
  - an admin console session gets the same lines, its errors too;
  - log_pooler_errors = 0 and log_connections/log_disconnections = 0 silence their lines,
    and a reload turns them (and verbose) on and off again;
  - syslog = 1, set by a reload, sends the same lines to /dev/log with syslog_ident and
    syslog_facility, and syslog = 0 stops it (a pgrouter of the case's own, which sees a
    socket of the test as /dev/log: see DevLog); a reload that sets logfile moves the
    lines there, and the next reload reopens it (log rotation);
  - at verbose = 2, through SCRAM, md5 and plain auth_file entries, failed logins, health
    checks with a password (right, then wrong), a startup packet carrying password-like
    parameters and reloads, the log holds none of the passwords, secrets, md5 responses,
    SCRAM client proofs or server signatures used.

Prints one `ok - logs: NAME` or `not ok - logs: NAME: reason` line per case and exits 1
if any failed.  Arguments, if given, are substrings of case names.
"""

import base64
import ctypes
import hashlib
import hmac
import os
import re
import secrets
import signal
import socket
import stat
import struct
import subprocess
import time

import psycopg

import rawpg
from itest import (PRIMARY, Skip, Suite, check, env_int,  # noqa: E402 - shared runner
                   free_port, wait_replay)

LOGS_DIR = os.environ.get("LOGS_DIR", "")
REPLICAS = [int(os.environ.get(k, "0")) for k in ("REPLICA1_PORT", "REPLICA2_PORT")]

SUITE = Suite("logs")
case = SUITE.case
STARTED = []        # pgrouter processes this file started (the secrets case)


def log_path(name):
    return os.path.join(LOGS_DIR, name, "pgrouter.log")


def read_log(path, since=0):
    with open(path, "rb") as f:
        f.seek(since)
        return f.read().decode("utf-8", "replace")


def wait_for(what, cond, secs):
    deadline = time.monotonic() + secs
    while True:
        got = cond()
        if got:
            return got
        check(time.monotonic() < deadline, "%s: not within %.0f s" % (what, secs))
        time.sleep(0.05)


def wait_line(path, pattern, since=0, secs=15):
    """The first match of regex pattern in the log after offset since (waits for it)."""
    rx = re.compile(pattern, re.M)
    return wait_for("%r in %s" % (pattern, path), lambda: rx.search(read_log(path, since)), secs)


def raw_login(port, user, password, db="appdb", seen=None):
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    sock.settimeout(20)
    rawpg.login(sock, user, password, db, seen=seen)
    return sock


def terminate(sock):
    sock.sendall(rawpg.msg(b"X", b""))
    sock.close()


def direct(port=None, dbname="appdb"):
    return psycopg.connect("host=127.0.0.1 port=%d user=postgres password=postgres dbname=%s "
                           "connect_timeout=10" % (port or PRIMARY, dbname), autocommit=True)


def reload(pid, path, since):
    os.kill(pid, signal.SIGHUP)
    wait_line(path, r"configuration reloaded", since)


# ---- connections and disconnections -----------------------------------------

def login_and_disconnect_lines(path, port, local_port, since, reason):
    """The cN of the login and disconnection lines of the client at local_port."""
    addr = r"127\.0\.0\.1:%d" % local_port
    m = wait_line(path, r"LOG (c\d+) app@appdb: login from %s user=app database=appdb "
                  r"auth=scram-sha-256$" % addr, since)
    tag = m.group(1)
    d = wait_line(path, r"LOG %s app@appdb: disconnect from %s user=app database=appdb "
                  r"duration=(\d+\.\d{3})s reason: (.*)$" % (tag, addr), since)
    check(d.group(2) == reason, "%s: reason %r, expected %r" % (tag, d.group(2), reason))
    return tag, float(d.group(1))


@case
def login_and_disconnection_lines_with_duration_and_reason():
    port = env_int("LOGS_MAIN_PORT")
    path = log_path("logs_main")
    since = os.path.getsize(path)
    t0 = time.monotonic()
    sock = raw_login(port, "app", "app")
    local = sock.getsockname()[1]
    time.sleep(1.0)
    terminate(sock)
    wall = time.monotonic() - t0
    tag, secs = login_and_disconnect_lines(path, port, local, since,
                                           "client closed the connection")
    print("# measured: %s held %.3f s by the client, %.3f s in the log" % (tag, wall, secs))
    check(1.0 <= secs <= wall + 0.5, "duration %.3f s for a client that stayed %.3f s"
          % (secs, wall))

    sock = raw_login(port, "app", "app")
    local = sock.getsockname()[1]
    sock.close()        # no Terminate
    login_and_disconnect_lines(path, port, local, since,
                               "client closed the connection without Terminate")


@case
def failed_login_says_why_without_the_password():
    port = env_int("LOGS_MAIN_PORT")
    path = log_path("logs_main")
    since = os.path.getsize(path)
    wrong = "WrongPw-" + secrets.token_hex(8)
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    local = sock.getsockname()[1]
    try:
        rawpg.login(sock, "app", wrong, "appdb")
        raise AssertionError("a wrong password logged in")
    except rawpg.PeerError as e:
        check(e.fields.get("C") == "28P01", "SQLSTATE %s" % e.fields.get("C"))
    finally:
        sock.close()
    m = wait_line(path, r"LOG (c\d+) app@appdb: login failed from 127\.0\.0\.1:%d user=app "
                  r"database=appdb duration=\d+\.\d{3}s reason: FATAL 28P01 password "
                  r"authentication failed for user \"app\"$" % local, since)
    wait_line(path, r"LOG %s app@appdb: pooler error: FATAL 28P01 password authentication "
              r"failed for user \"app\"$" % m.group(1), since)
    check(wrong not in read_log(path), "the wrong password is in the log")


@case
def server_lost_inside_a_transaction_is_the_reason():
    port = env_int("LOGS_MAIN_PORT")
    path = log_path("logs_main")
    since = os.path.getsize(path)
    conn = psycopg.connect("host=127.0.0.1 port=%d user=app password=app dbname=appdb "
                           "connect_timeout=10" % port)
    local = socket.socket(fileno=os.dup(conn.fileno())).getsockname()[1]
    try:
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]    # opens a transaction
        with direct() as d:
            check(d.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0],
                  "pg_terminate_backend(%d) failed" % pid)
        try:
            conn.execute("SELECT 1")
            raise AssertionError("the transaction went on after its server was killed")
        except psycopg.OperationalError:
            pass
    finally:
        conn.close()
    addr = r"127\.0\.0\.1:%d" % local
    m = wait_line(path, r"LOG (c\d+) app@appdb: login from %s " % addr, since)
    d = wait_line(path, r"LOG %s app@appdb: disconnect from %s user=app database=appdb "
                  r"duration=\d+\.\d{3}s reason: (.*)$" % (m.group(1), addr), since)
    check(d.group(1).startswith("FATAL 08006 pgrouter: server connection to primary ")
          and "lost inside a transaction" in d.group(1), "reason %r" % d.group(1))


@case
def client_idle_timeout_is_the_reason():
    port = env_int("LOGS_MAIN_PORT")
    path = log_path("logs_main")
    since = os.path.getsize(path)
    sock = raw_login(port, "app", "app")
    local = sock.getsockname()[1]
    try:
        sock.settimeout(15)
        mtype, payload = rawpg.read_msg(sock)
        check(mtype == b"E", "expected the idle timeout's ErrorResponse, got %r" % mtype)
        check(rawpg.parse_error(payload).get("C") == "57P05", "not 57P05: %r" % payload)
    finally:
        sock.close()
    addr = r"127\.0\.0\.1:%d" % local
    m = wait_line(path, r"LOG (c\d+) app@appdb: login from %s " % addr, since)
    d = wait_line(path, r"LOG %s app@appdb: disconnect from %s user=app database=appdb "
                  r"duration=(\d+\.\d{3})s reason: (.*)$" % (m.group(1), addr), since)
    check(d.group(2).startswith("FATAL 57P05 "), "reason %r" % d.group(2))
    check(2.0 <= float(d.group(1)) < 30, "duration %s s with client_idle_timeout = 2"
          % d.group(1))


@case
def admin_console_session_and_its_errors_are_logged():
    port = env_int("LOGS_MAIN_PORT")
    path = log_path("logs_main")
    since = os.path.getsize(path)
    sock = raw_login(port, "app", "app", db="pgrouter")
    local = sock.getsockname()[1]
    try:
        rawpg.simple_query(sock, "SHOW NO_SUCH_THING")
        raise AssertionError("an unknown console command did not fail")
    except rawpg.PeerError as e:
        code = e.fields.get("C")
    try:
        rawpg.simple_query(sock, "KILL 4000000000")
        raise AssertionError("KILL of a client that does not exist did not fail")
    except rawpg.PeerError as e:
        kill_code, kill_msg = e.fields.get("C"), e.fields.get("M")
    terminate(sock)
    addr = r"127\.0\.0\.1:%d" % local
    m = wait_line(path, r"LOG (c\d+) app@pgrouter: login from %s user=app database=pgrouter "
                  r"auth=scram-sha-256$" % addr, since)
    wait_line(path, r"LOG %s app@pgrouter: pooler error: ERROR %s .*NO_SUCH_THING"
              % (m.group(1), code), since)
    wait_line(path, r"LOG %s app@pgrouter: pooler error: ERROR %s %s$"
              % (m.group(1), kill_code, re.escape(kill_msg)), since)
    wait_line(path, r"LOG %s app@pgrouter: disconnect from %s user=app database=pgrouter "
              r"duration=\d+\.\d{3}s reason: client closed the connection$"
              % (m.group(1), addr), since)


@case
def admin_kill_is_the_reason():
    port = env_int("LOGS_MAIN_PORT")
    path = log_path("logs_main")
    since = os.path.getsize(path)
    victim = raw_login(port, "app", "app")
    local = victim.getsockname()[1]
    addr = r"127\.0\.0\.1:%d" % local
    tag = wait_line(path, r"LOG (c(\d+)) app@appdb: login from %s " % addr, since)
    admin = raw_login(port, "app", "app", db="pgrouter")
    try:
        rawpg.simple_query(admin, "KILL %s" % tag.group(2))
    finally:
        terminate(admin)
    victim.settimeout(15)
    try:
        mtype, payload = rawpg.read_msg(victim)
        check(mtype == b"E" and rawpg.parse_error(payload).get("C") == "57P01",
              "the killed client got %r %r" % (mtype, payload))
    finally:
        victim.close()
    d = wait_line(path, r"LOG %s app@appdb: disconnect from %s user=app database=appdb "
                  r"duration=\d+\.\d{3}s reason: (.*)$" % (tag.group(1), addr), since)
    check(re.match(r"FATAL 57P01 .*KILL %s" % tag.group(2), d.group(1)),
          "reason %r" % d.group(1))


# ---- the keys, on and off by reload ------------------------------------------

QUIET_BASE = ["verbose = 0"]


def quiet_config(*lines):
    """Rewrite logs_quiet's config with lines in [pgrouter] (other sections kept)."""
    ini = os.path.join(LOGS_DIR, "logs_quiet", "pgrouter.ini")
    text = open(ini).read()
    keep = [ln for ln in text.split("\n") if not re.match(
        r"\s*(verbose|log_connections|log_disconnections|log_pooler_errors|syslog\w*)\s*=", ln)]
    out = []
    for ln in keep:
        out.append(ln)
        if ln.strip() == "[pgrouter]":
            out.extend(lines)
    with open(ini + ".new", "w") as f:
        f.write("\n".join(out))
    os.rename(ini + ".new", ini)


def some_traffic(port):
    """A login that ends with Terminate and a failed login; returns their client ports."""
    sock = raw_login(port, "app", "app")
    ok = sock.getsockname()[1]
    rawpg.simple_query(sock, "SELECT 1")
    terminate(sock)
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    bad = sock.getsockname()[1]
    try:
        rawpg.login(sock, "app", "not-the-password", "appdb")
        raise AssertionError("a wrong password logged in")
    except rawpg.PeerError:
        pass
    finally:
        sock.close()
    return ok, bad


@case
def log_keys_off_silence_and_reload_turns_them_and_verbose_on():
    port = env_int("LOGS_QUIET_PORT")
    pid = env_int("LOGS_QUIET_PID")
    path = log_path("logs_quiet")
    quiet_config("log_connections = 0", "log_disconnections = 0", "log_pooler_errors = 0",
                 "verbose = 0")
    since = os.path.getsize(path)
    reload(pid, path, since)
    since = os.path.getsize(path)
    ok, bad = some_traffic(port)
    time.sleep(0.5)
    # the reload's own line comes after anything the traffic logged
    reload(pid, path, since)
    text = read_log(path, since)
    for what in ("login from", "disconnect from", "login failed", "pooler error", "DEBUG"):
        check(what not in text, "%r logged with the keys off: %r" % (what, text[-400:]))

    quiet_config("log_connections = 1", "log_disconnections = 1", "log_pooler_errors = 1",
                 "verbose = 1")
    since = os.path.getsize(path)
    reload(pid, path, since)
    wait_line(path, r"LOG verbose 0 -> 1$", since)
    ok, bad = some_traffic(port)
    wait_line(path, r"login from 127\.0\.0\.1:%d " % ok, since)
    wait_line(path, r"disconnect from 127\.0\.0\.1:%d .* reason: client closed the connection$"
              % ok, since)
    wait_line(path, r"login failed from 127\.0\.0\.1:%d .* reason: FATAL 28P01 " % bad, since)
    wait_line(path, r"pooler error: FATAL 28P01 ", since)
    wait_line(path, r" DEBUG c\d+", since)

    quiet_config("log_connections = 1", "log_disconnections = 1", "log_pooler_errors = 0",
                 "verbose = 0")
    since = os.path.getsize(path)
    reload(pid, path, since)
    wait_line(path, r"LOG verbose 1 -> 0$", since)
    since = os.path.getsize(path)
    ok, bad = some_traffic(port)
    wait_line(path, r"login failed from 127\.0\.0\.1:%d " % bad, since)
    text = read_log(path, since)
    check("pooler error" not in text, "a pooler error with log_pooler_errors = 0")
    check(" DEBUG " not in text, "DEBUG lines after verbose went back to 0")


# ---- syslog ------------------------------------------------------------------

class DevLog:
    """A syslog socket of the test's own that pgrouter sees as /dev/log: bound at /dev/log
    where the machine has none; else bound in LOGS_DIR and mounted over /dev/log in a
    mount namespace of pgrouter's own (wrap() gives the command prefix), so that the
    machine's /dev/log is never touched."""

    def __init__(self, d):
        self.own_path = not os.path.lexists("/dev/log")
        self.path = "/dev/log" if self.own_path else os.path.join(d, "dev-log")
        if not self.own_path:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
            probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"],
                                   capture_output=True, timeout=10)
            if probe.returncode != 0:
                raise Skip("the machine has its own /dev/log and no mount namespace can be "
                           "made to hide it (unshare: %s); tests/skips.txt"
                           % probe.stderr.decode().strip()[:80])
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            self.sock.bind(self.path)
        except OSError as e:
            self.sock.close()
            raise AssertionError("cannot bind %s: %s" % (self.path, e)) from None
        self.ino = os.stat(self.path).st_ino
        os.chmod(self.path, 0o666)
        self.sock.settimeout(0.2)

    def wrap(self):
        if self.own_path:
            return []
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                'mount --bind "$0" /dev/log && exec "$@"', self.path]

    def messages(self, secs):
        """Every datagram that arrives within secs."""
        got, deadline = [], time.monotonic() + secs
        while time.monotonic() < deadline:
            try:
                got.append(self.sock.recv(65536).decode("utf-8", "replace"))
            except socket.timeout:
                pass
        return got

    def wait(self, pattern, secs=15):
        rx, deadline = re.compile(pattern), time.monotonic() + secs
        while time.monotonic() < deadline:
            try:
                m = self.sock.recv(65536).decode("utf-8", "replace")
            except socket.timeout:
                continue
            if rx.search(m):
                return m
        raise AssertionError("no syslog message matching %r within %.0f s" % (pattern, secs))

    def close(self):
        self.sock.close()
        try:
            if os.stat(self.path).st_ino == self.ino:
                os.unlink(self.path)
        except OSError:
            pass


@case
def syslog_and_logfile_on_reload():
    d = os.path.join(LOGS_DIR, "logs_syslog")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "userlist.txt"), "w") as f:
        f.write('"app" "app"\n')
    dev = DevLog(d)
    state = {"syslog": "syslog = 0"}

    def write_ini(ini, port):
        with open(ini + ".new", "w") as f:
            f.write("[pgrouter]\nlisten_addr = 127.0.0.1\nlisten_port = %d\n"
                    "auth_file = %s/userlist.txt\n%s\nsyslog_ident = pgr-itest\n"
                    "syslog_facility = local3\n\n[cluster.main]\nprimary = 127.0.0.1:%d\n"
                    % (port, d, state["syslog"], PRIMARY))
        os.rename(ini + ".new", ini)

    try:
        proc, port = start_own("logs_syslog", write_ini, dict(os.environ), dev.wrap())
        path, ini = log_path("logs_syslog"), os.path.join(d, "pgrouter.ini")
        ok, _ = some_traffic(port)
        wait_line(path, r"disconnect from 127\.0\.0\.1:%d " % ok)
        check(not [m for m in dev.messages(0.5) if "pgr-itest" in m], "syslog = 0 sent lines")

        state["syslog"] = "syslog = 1"
        write_ini(ini, port)
        since = os.path.getsize(path)
        reload(proc.pid, path, since)
        ok, bad = some_traffic(port)
        # local3 (19) * 8 + info (6) = 158; glibc: "<PRI>Mmm dd hh:mm:ss IDENT[PID]: TEXT"
        m = dev.wait(r"^<158>.*pgr-itest\[%d\]: c\d+ app@appdb: login from 127\.0\.0\.1:%d "
                     r"user=app database=appdb auth=scram-sha-256$" % (proc.pid, ok))
        print("# syslog: %s" % m)
        dev.wait(r"^<158>.*pgr-itest\[%d\]: c\d+ app@appdb: disconnect from 127\.0\.0\.1:%d "
                 % (proc.pid, ok))
        dev.wait(r"^<158>.*pgr-itest\[%d\]: c\d+ app@appdb: login failed from "
                 r"127\.0\.0\.1:%d " % (proc.pid, bad))
        check("login from 127.0.0.1:%d " % ok in read_log(path, since),
              "the line went to syslog but not to the log file")

        state["syslog"] = "syslog = 0"
        write_ini(ini, port)
        since = os.path.getsize(path)
        reload(proc.pid, path, since)
        dev.messages(0.5)       # whatever was on its way
        ok, _ = some_traffic(port)
        wait_line(path, r"disconnect from 127\.0\.0\.1:%d " % ok, since)
        late = [m for m in dev.messages(1.0) if "pgr-itest" in m]
        check(not late, "syslog = 0 after reload, still sent: %r" % late[:2])

        # logfile by reload, and reopened by the next one after a rotation
        logfile = os.path.join(d, "file.log")
        state["syslog"] = "syslog = 0\nlogfile = %s" % logfile
        write_ini(ini, port)
        os.kill(proc.pid, signal.SIGHUP)
        wait_for("the new logfile", lambda: os.path.exists(logfile), 15)
        wait_line(logfile, r"configuration reloaded")
        ok, _ = some_traffic(port)
        wait_line(logfile, r"disconnect from 127\.0\.0\.1:%d " % ok)
        os.rename(logfile, logfile + ".1")
        os.kill(proc.pid, signal.SIGHUP)
        wait_for("the logfile after the rotation", lambda: os.path.exists(logfile), 15)
        wait_line(logfile, r"configuration reloaded")
        ok2, _ = some_traffic(port)
        wait_line(logfile, r"disconnect from 127\.0\.0\.1:%d " % ok2)
        check("127.0.0.1:%d " % ok2 not in read_log(logfile + ".1"),
              "written to the rotated file after the reload")
        proc.send_signal(signal.SIGTERM)
        check(proc.wait(20) == 0, "exit status %s after SIGTERM" % proc.returncode)
    finally:
        dev.close()


# ---- no secret in the log at verbose 2 --------------------------------------

def b64(b):
    return base64.b64encode(b).decode()


def scram_secret(password):
    """(auth_file secret, StoredKey, ServerKey) for password, as PostgreSQL stores it."""
    salt = os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 4096)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored = hashlib.sha256(client_key).digest()
    server = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    return ("SCRAM-SHA-256$4096:%s$%s:%s" % (b64(salt), b64(stored), b64(server)),
            b64(stored), b64(server))


def die_with_parent():
    """In the child: SIGKILL when this test process dies (a timeout), not a leftover."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)     # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def start_own(name, write_ini, env, wrap=()):
    """Start pgrouter NAME (behind the command prefix wrap, which ends by exec'ing it)
    with the config write_ini(path, port) writes; returns (proc, port)."""
    d = os.path.join(LOGS_DIR, name)
    os.makedirs(d, exist_ok=True)
    ini, log = os.path.join(d, "pgrouter.ini"), os.path.join(d, "pgrouter.log")
    for attempt in range(3):
        port = free_port()
        write_ini(ini, port)
        out = open(log, "wb" if attempt == 0 else "ab")     # this run's lines only
        since = out.tell()
        proc = subprocess.Popen(list(wrap) + [os.environ["LOGS_BIN"], "-c", ini], stdout=out,
                                stderr=subprocess.STDOUT, env=env, preexec_fn=die_with_parent)
        out.close()
        STARTED.append(proc)
        deadline = time.monotonic() + 20
        while proc.poll() is None and time.monotonic() < deadline:
            if "listening on" in read_log(log, since):
                return proc, port
            time.sleep(0.05)
        if proc.poll() is not None and "in use" in read_log(log, since):
            continue        # another process took the port meanwhile
        raise AssertionError("pgrouter %s did not start: %s" % (name, read_log(log, since)[-500:]))
    raise AssertionError("pgrouter %s: no free port in 3 tries" % name)


def ensure_role(d, role, password):
    d.execute("DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '%s') THEN "
              "CREATE ROLE %s LOGIN; END IF; END$$" % (role, role))
    d.execute("ALTER ROLE %s LOGIN PASSWORD '%s'" % (role, password))


def startup_with_password_params(port, user, password, extra):
    """Log in with a startup packet that also carries extra (name, value) parameters."""
    body = struct.pack("!i", rawpg.PROTOCOL_3_0)
    for k, v in [("user", user), ("database", "appdb")] + extra:
        body += k.encode() + b"\0" + v.encode() + b"\0"
    body += b"\0"
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    sock.settimeout(20)
    try:
        sock.sendall(struct.pack("!i", len(body) + 4) + body)
        rawpg.login(sock, user, password, "appdb", send_startup=False)
        rawpg.simple_query(sock, "SELECT 1")
    except (rawpg.PeerError, rawpg.Closed):
        pass        # refused or not: only the log matters here
    finally:
        sock.close()


@case
def no_password_or_secret_in_the_log_at_verbose_2():
    check(os.environ.get("LOGS_BIN"), "LOGS_BIN is not set")
    tok = secrets.token_hex(6)
    pw = {u: "%sPw-%s" % (u.capitalize(), tok) for u in ("plain", "md5", "scram", "health")}
    wrong = ["Wrong%s-%s" % (w, tok) for w in ("Plain", "Md5", "Scram", "Nobody", "Health")]
    md5_entry = "md5" + hashlib.md5((pw["md5"] + "logs_md5").encode()).hexdigest()
    scram_entry, stored_key, server_key = scram_secret(pw["scram"])
    startup_pw, option_pw = "StartupPw-" + tok, "OptionPw-" + tok
    users = {"logs_plain": pw["plain"], "logs_md5": pw["md5"], "logs_scram": pw["scram"]}
    with direct() as d:
        for u, p in users.items():
            ensure_role(d, u, p)
        ensure_role(d, "logs_health", pw["health"])
    wait_replay()       # reads go to the replicas: they must know the new passwords
    d = os.path.join(LOGS_DIR, "logs_secret")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "userlist.txt"), "w") as f:
        f.write('"app" "app"\n"logs_plain" "%s"\n"logs_md5" "%s"\n"logs_scram" "%s"\n'
                % (pw["plain"], md5_entry, scram_entry))
    pgpass = os.path.join(d, "pgpass")
    with open(pgpass, "w") as f:
        f.write("127.0.0.1:*:*:logs_md5:%s\n127.0.0.1:*:*:logs_scram:%s\n"
                % (pw["md5"], pw["scram"]))
    os.chmod(pgpass, stat.S_IRUSR | stat.S_IWUSR)      # libpq ignores a readable one
    state = {"auth": "md5", "health": pw["health"]}

    def write_ini(ini, port):
        state["port"] = port
        with open(ini + ".new", "w") as f:
            f.write("[pgrouter]\nlisten_addr = 127.0.0.1\nlisten_port = %d\nauth_type = %s\n"
                    "auth_file = %s/userlist.txt\nverbose = 2\n\n[cluster.main]\n"
                    "primary = 127.0.0.1:%d\nreplicas = 127.0.0.1:%d, 127.0.0.1:%d\n\n"
                    "[health]\nhealth_check_user = logs_health\nhealth_check_password = %s\n"
                    "health_check_interval = 200ms\n"
                    % (port, state["auth"], d, PRIMARY, REPLICAS[0], REPLICAS[1],
                       state["health"]))
        os.rename(ini + ".new", ini)

    env = dict(os.environ, PGPASSFILE=pgpass)
    proc, port = start_own("logs_secret", write_ini, env)
    path = log_path("logs_secret")
    exchanged = []

    def logins(methods):
        for user, password in users.items():
            seen = {}
            sock = raw_login(port, user, password, seen=seen)
            got = rawpg.simple_query(sock, "SELECT current_user")
            check(got == user, "%s: current_user %r (the server login failed?)" % (user, got))
            terminate(sock)
            exchanged.extend(seen.values())
            with psycopg.connect("host=127.0.0.1 port=%d user=%s password=%s dbname=appdb "
                                 "connect_timeout=10" % (port, user, password)) as c:
                check(c.execute("SELECT current_user").fetchone()[0] == user, user)
            m = wait_line(path, r"login from \S+ user=%s database=appdb auth=(\S+)$" % user,
                          since)
            check(m.group(1) == methods[user], "%s logged in with %s, expected %s"
                  % (user, m.group(1), methods[user]))
        for user, password in (("logs_plain", wrong[0]), ("logs_md5", wrong[1]),
                               ("logs_scram", wrong[2]), ("nobody", wrong[3])):
            sock = socket.create_connection(("127.0.0.1", port), timeout=20)
            try:
                seen = {}
                rawpg.login(sock, user, password, "appdb", seen=seen)
                raise AssertionError("%s logged in with a wrong password" % user)
            except rawpg.PeerError as e:
                check(e.fields.get("C") == "28P01", "%s: SQLSTATE %s" % (user, e.fields))
            finally:
                sock.close()
            exchanged.extend(seen.values())
            wait_line(path, r"login failed from \S+ user=%s .*reason: FATAL 28P01 " % user, since)
        startup_with_password_params(port, "logs_plain", pw["plain"],
                                     [("password", startup_pw),
                                      ("options", "-c logs.password=%s" % option_pw)])

    try:
        since = 0
        # the health check logs in with its password (as logs_health) on every node
        with direct() as c:
            wait_for("a health check logged in as logs_health", lambda: c.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE usename = 'logs_health'")
                .fetchone()[0] > 0, 15)
        logins({"logs_plain": "md5", "logs_md5": "md5", "logs_scram": "scram-sha-256"})

        # reload: SCRAM for everyone who can, another health check password; and the
        # server's password for logs_health changes, so that the health check's next login
        # fails and libpq's error message is logged.  Its connections are cut on the
        # replicas only (a cut counts against the node: the primary's breaker stays shut).
        state["auth"], state["health"] = "scram-sha-256", wrong[4]
        write_ini(os.path.join(d, "pgrouter.ini"), port)
        since = os.path.getsize(path)
        reload(proc.pid, path, since)
        q = "SELECT rolpassword FROM pg_authid WHERE rolname = 'logs_health'"
        with direct() as c:
            c.execute("ALTER ROLE logs_health PASSWORD 'ServerOnly-%s'" % tok)
            want = c.execute(q).fetchone()[0]
        for rport in REPLICAS:
            with direct(rport) as c:
                wait_for("the replica on %d replays the new password" % rport,
                         lambda: c.execute(q).fetchone()[0] == want, 10)
                c.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE usename = 'logs_health'")
        wait_line(path, r"health check cannot log in: .*password authentication failed for "
                  r"user \"logs_health\"", since, 20)
        users.pop("logs_md5")       # an md5 secret cannot answer SCRAM
        logins({"logs_plain": "scram-sha-256", "logs_scram": "scram-sha-256"})

        # shutting down with a client connected: its reason says so
        sock = raw_login(port, "app", "app")
        local = sock.getsockname()[1]
        since = os.path.getsize(path)
        proc.send_signal(signal.SIGINT)
        mtype, payload = rawpg.read_msg(sock)
        check(mtype == b"E" and rawpg.parse_error(payload).get("C") == "57P01",
              "SIGINT: the client got %r %r" % (mtype, payload))
        sock.close()
        check(proc.wait(20) == 0, "exit status %s after SIGINT" % proc.returncode)
        wait_line(path, r"disconnect from 127\.0\.0\.1:%d user=app database=appdb "
                  r"duration=\d+\.\d{3}s reason: pgrouter shutting down$" % local, since, 5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    text = read_log(path)
    check(" DEBUG " in text, "no DEBUG line: was verbose = 2 applied?")
    check(not re.search(r"Sanitizer|runtime error:", text), "sanitizer report in %s" % path)
    check(len(exchanged) >= 6, "the exchanges were not recorded: %r" % exchanged)
    needles = dict(("password %d" % i, p) for i, p in enumerate(pw.values()))
    needles.update(("wrong password %d" % i, p) for i, p in enumerate(wrong))
    needles.update({"md5 auth_file entry": md5_entry, "md5 hash": md5_entry[3:],
                    "SCRAM auth_file entry": scram_entry, "SCRAM StoredKey": stored_key,
                    "SCRAM ServerKey": server_key, "startup password parameter": startup_pw,
                    "password in options": option_pw})
    needles.update(("exchanged value %d" % i, v) for i, v in enumerate(exchanged))
    found = [what for what, v in needles.items() if v in text]
    print("# measured: %d secrets looked for in %d lines of %s" % (len(needles),
                                                                  text.count("\n"), path))
    check(not found, "in the log: %s" % ", ".join(found))


def cleanup():
    for p in STARTED:
        if p.poll() is None:
            p.kill()
            p.wait()


if __name__ == "__main__":
    raise SystemExit(SUITE.run(cleanup=cleanup))
