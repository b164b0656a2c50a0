#!/usr/bin/python3
"""tests/integration/test_reload.py - reload, shutdown and online restart under
load, against the instances lifecycle.sh starts for it (reload_cases).

Run by run.sh (run_py) with Debian's /usr/bin/python3 (python3-psycopg).
Environment: PRIMARY_PORT, REPLICA1_PORT, REPLICA2_PORT (the main cluster, reached
directly as postgres/postgres); LIFE_DIR (each instance's config, log and exit status
live in LIFE_DIR/NAME/); PGBIN (pgbench); PGROUTER_BIN; RELOAD_PORT/_PID,
TERM_PORT/_PID, RESTART_PORT/_PID (life_reload, life_term, life_restart).

What the README promises ("Reload, shutdown and online restart") and each case checks:
  - 20 reloads that add and remove a replica during pgbench -S and TPC-B (more
    clients than default_pool_size): no failed transaction, no aborted client;
  - after the reload that removes a replica, no read reaches it (inet_server_port of
    a client connected before the reload and of a new one) and pgrouter holds no
    connection to it, within a bounded time; after re-adding it, reads reach it again;
  - SIGTERM with a transaction left open: it runs on until shutdown_timeout, then the
    process closes it and exits 0;
  - SIGTERM after a client left while its server connection was still being opened
    (through a relay that delays it): the process exits at once, not after that
    connection finished (it used to go idle then and keep the process running);
  - SIGUSR2 during pgbench -C: the new process takes over the socket (pidfile), no
    connection fails, the old one exits 0; pgrouter -R by hand during pgbench: the
    connected clients stay on the old process until they leave, then it exits; a new
    process with a bad config leaves the old one serving.
Prints one `ok - reload: NAME` or `not ok - reload: NAME: reason` line per case and
exits 1 if any failed.  Arguments, if given, are substrings of case names.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import psycopg

import rawpg

from itest import (PGBIN, PRIMARY, R1, R2, Suite, check, env_int, exit_status, free_port,
                   measured, pid_alive, remote_ports, wait_for)

LIFE_DIR = os.environ.get("LIFE_DIR", "")
CONNINFO = "host=127.0.0.1 port=%s user=app password=app dbname=appdb connect_timeout=10"

SUITE = Suite("reload")
case = SUITE.case


def connect(port):
    return psycopg.connect(CONNINFO % port, autocommit=True)


def path(name, what):
    return os.path.join(LIFE_DIR, name, what)


def log_size(name):
    return os.path.getsize(path(name, "pgrouter.log"))


def log_count(name, text, since=0):
    with open(path(name, "pgrouter.log"), "rb") as f:
        f.seek(since)
        return f.read().count(text.encode())


def set_replicas(name, ports):
    """Rewrite the replicas line of NAME's config: ports listed, or none."""
    ini = path(name, "pgrouter.ini")
    with open(ini) as f:
        text = f.read()
    text = re.sub(r"(?m)^replicas = .*\n", "", text)
    if ports:
        line = "replicas = " + ", ".join("127.0.0.1:%d" % p for p in ports) + "\n"
        text = text.replace("[cluster.main]\n", "[cluster.main]\n" + line)
    with open(ini + ".new", "w") as f:
        f.write(text)
    os.replace(ini + ".new", ini)


def reload(name, pid, secs=20):
    """SIGHUP and wait for its 'configuration reloaded' line."""
    off = log_size(name)
    os.kill(pid, signal.SIGHUP)
    wait_for("'configuration reloaded' after SIGHUP",
             lambda: log_count(name, "configuration reloaded", off) > 0, secs)


def pgbench_tables():
    with psycopg.connect("host=127.0.0.1 port=%d user=postgres password=postgres "
                         "dbname=appdb" % PRIMARY, autocommit=True) as d:
        have = d.execute("SELECT to_regclass('pgbench_accounts') IS NOT NULL").fetchone()[0]
    if not have:
        subprocess.run([PGBIN + "/pgbench", "-i", "-s", "1", "-q", "-h", "127.0.0.1", "-p",
                        str(PRIMARY), "-U", "app", "appdb"], check=True, timeout=120,
                       env=dict(os.environ, PGPASSWORD="app"), stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    lsn = None
    with psycopg.connect("host=127.0.0.1 port=%d user=postgres password=postgres "
                         "dbname=appdb" % PRIMARY, autocommit=True) as d:
        lsn = d.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
    for port in (R1, R2):
        with psycopg.connect("host=127.0.0.1 port=%d user=postgres password=postgres "
                             "dbname=appdb" % port, autocommit=True) as d:
            wait_for("replica %d replays the pgbench tables" % port,
                     lambda: d.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn",
                                       (lsn,)).fetchone()[0], 30)


def pgbench(port, *args):
    """Start pgbench against PORT; returns the Popen (stdout+stderr in .out)."""
    out = open(path("life_reload", "pgbench-%d.out" % time.monotonic_ns()), "w+")
    p = subprocess.Popen([PGBIN + "/pgbench", "-h", "127.0.0.1", "-p", str(port), "-U", "app",
                          "-n", "-P", "1"] + list(args) + ["appdb"], stdout=out,
                         stderr=subprocess.STDOUT, env=dict(os.environ, PGPASSWORD="app"))
    p.out = out
    return p


def pgbench_result(p, what, secs=60):
    """Wait for pgbench P; check it ran transactions and none failed.  Returns the count."""
    rc = p.wait(timeout=secs)
    p.out.seek(0)
    text = p.out.read()
    n = re.search(r"number of transactions actually processed: (\d+)", text)
    failed = re.search(r"number of failed transactions: (\d+)", text)
    bad = [ln for ln in text.splitlines() if "error" in ln.lower() or "abort" in ln.lower()]
    check(rc == 0, "%s: pgbench exited %d: %s" % (what, rc, " | ".join(bad[:3])))
    check(n is not None and int(n.group(1)) > 0, "%s: pgbench processed nothing: %s"
          % (what, text[-300:]))
    check(failed is None or int(failed.group(1)) == 0, "%s: %s failed transactions: %s"
          % (what, failed.group(1) if failed else "?", " | ".join(bad[:3])))
    check(not bad, "%s: pgbench reported: %s" % (what, " | ".join(bad[:3])))
    return int(n.group(1))


def port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def read_ports(conn, n):
    return [conn.execute("SELECT inet_server_port()").fetchone()[0] for _ in range(n)]


# ---- reload ----------------------------------------------------------------

@case
def twenty_reloads_under_pgbench_lose_nothing():
    port, pid = env_int("RELOAD_PORT"), env_int("RELOAD_PID")
    pgbench_tables()
    set_replicas("life_reload", [R1, R2])
    reload("life_reload", pid)
    reads = pgbench(port, "-S", "-c", "6", "-j", "2", "-T", "14")
    writes = pgbench(port, "-c", "4", "-j", "2", "-T", "14")
    layouts = [[R1], [R1, R2], [R2], [R1, R2], []]
    t0 = time.monotonic()
    time.sleep(1)
    for i in range(20):
        set_replicas("life_reload", layouts[i % len(layouts)])
        reload("life_reload", pid)
        time.sleep(0.4)
    took = time.monotonic() - t0
    check(reads.poll() is None and writes.poll() is None,
          "pgbench ended before the 20 reloads were done (%.1f s)" % took)
    n_reads = pgbench_result(reads, "pgbench -S -c 6")
    n_writes = pgbench_result(writes, "pgbench TPC-B -c 4")
    measured("20 reloads in %.1f s under pgbench (default_pool_size = 3): %d read-only and "
             "%d TPC-B transactions, 0 failed" % (took, n_reads, n_writes))
    set_replicas("life_reload", [R1, R2])
    reload("life_reload", pid)


@case
def a_removed_replica_gets_no_reads_and_a_readded_one_does():
    port, pid = env_int("RELOAD_PORT"), env_int("RELOAD_PID")
    set_replicas("life_reload", [R1, R2])
    reload("life_reload", pid)
    before = connect(port)
    try:
        got = read_ports(before, 6)
        check(set(got) == {R1, R2}, "reads with both replicas listed ran on %r" % got)
        check(R2 in remote_ports(pid), "pgrouter holds no connection to replica2 after reads")
        set_replicas("life_reload", [R1])
        reload("life_reload", pid)
        t0 = time.monotonic()
        got = read_ports(before, 10)
        check(set(got) == {R1}, "a client connected before the reload that removed replica2 "
              "read on %r" % got)
        with connect(port) as new:
            got = read_ports(new, 10)
        check(set(got) == {R1}, "a new client after the reload read on %r" % got)
        wait_for("pgrouter's connections to the removed replica2 closed",
                          lambda: R2 not in remote_ports(pid), 10)
        measured("replica removed by reload: reads stopped at once, its idle servers closed "
                 "%.0f ms after the reload" % ((time.monotonic() - t0) * 1000))
        set_replicas("life_reload", [R1, R2])
        reload("life_reload", pid)
        seen = set()
        deadline = time.monotonic() + 10
        while R2 not in seen and time.monotonic() < deadline:
            seen.update(read_ports(before, 4))
        check(R2 in seen, "no read of the client connected before reached replica2 again "
              "after it was re-added (reads ran on %r)" % seen)
    finally:
        before.close()


# ---- shutdown_timeout -------------------------------------------------------

@case
def shutdown_timeout_closes_a_transaction_left_open():
    port, pid = env_int("TERM_PORT"), env_int("TERM_PID")
    conn = psycopg.connect(CONNINFO % port)
    try:
        conn.execute("SELECT 1")    # a transaction, never ended
        t0 = time.monotonic()
        os.kill(pid, signal.SIGTERM)
        time.sleep(1)
        check(conn.execute("SELECT 2").fetchone()[0] == 2,
              "the open transaction was cut before shutdown_timeout (2 s)")
        err = None
        deadline = time.monotonic() + 15
        while err is None and time.monotonic() < deadline:
            time.sleep(0.5)
            try:
                conn.execute("SELECT 3")    # reads the FATAL once the timeout has passed
            except psycopg.OperationalError as e:
                err = e
        took = time.monotonic() - t0
        check(err is not None, "the transaction still ran 15 s after SIGTERM "
              "(shutdown_timeout = 2 s)")
        check(getattr(err, "sqlstate", None) in (None, "57P01") and
              "administrator command" in str(err), "the client was closed with: %s" % err)
        status = exit_status(LIFE_DIR, "life_term", 20)
        took_exit = time.monotonic() - t0
        measured("SIGTERM with a transaction left open, shutdown_timeout = 2 s: the client "
                 "told (57P01) after %.1f s, exit after %.1f s" % (took, took_exit))
        check(status == 0, "exit status %d after shutdown_timeout" % status)
        check(took >= 1.9, "closed after %.1f s, before shutdown_timeout (2 s)" % took)
    finally:
        conn.close()


class SlowProxy:
    """A TCP relay to the primary that waits DELAY s before connecting each client: a
    server connection through it stays in flight that long (TLS and login included)."""

    def __init__(self, delay):
        self.delay = delay
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.relay, args=(c,), daemon=True).start()

    def relay(self, c):
        time.sleep(self.delay)
        try:
            s = socket.create_connection(("127.0.0.1", PRIMARY))
        except OSError:
            c.close()
            return
        threading.Thread(target=self.pipe, args=(c, s), daemon=True).start()
        self.pipe(s, c)

    @staticmethod
    def pipe(a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
        except OSError:
            pass
        for x in (a, b):
            try:
                x.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.sock.close()


@case
def shutdown_with_a_server_connection_in_flight_exits():
    """A client logs in and leaves while its server connection (TLS, server_tls_sslmode
    prefer) is still being opened; SIGTERM then. That connection used to finish after the
    exit had closed the pools, go idle and keep the process running for good."""
    delay = 3.0
    proxy = SlowProxy(delay)
    d = os.path.join(LIFE_DIR, "life_inflight")
    os.makedirs(d, exist_ok=True)
    users, ini, log = (os.path.join(d, f) for f in ("userlist.txt", "pgrouter.ini",
                                                    "pgrouter.log"))
    with open(users, "w") as f:
        f.write('"app" "app"\n')
    os.chmod(users, 0o600)
    port = free_port()
    with open(ini, "w") as f:
        f.write("[pgrouter]\nlisten_addr = 127.0.0.1\nlisten_port = %d\n"
                "auth_type = scram-sha-256\nauth_file = %s\n\n[cluster.main]\n"
                "primary = 127.0.0.1:%d\n" % (port, users, proxy.port))
    with open(log, "ab") as out:
        since = out.tell()
        proc = subprocess.Popen([os.environ.get("PGROUTER_BIN", "pgrouter"), "-c", ini],
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for("pgrouter (life_inflight) listens", lambda: port_open(port), 20)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
            c.sendall(rawpg.startup_packet("app", "appdb"))
            code, data = rawpg.expect_auth(c)
            check(code == 10, "pgrouter asked for auth code %d, not SASL" % code)
            # The password checks out; the login then waits for a primary connection,
            # which the relay holds back: leave while it is in flight.
            c.settimeout(1.0)
            try:
                rawpg.scram_login(c, "app", data)
                check(False, "the login ended with the server connection still delayed")
            except socket.timeout:
                pass
        time.sleep(0.3)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            status = proc.wait(delay + 7)
        except subprocess.TimeoutExpired:
            status = None
        took = time.monotonic() - t0
        with open(log, "rb") as f:
            f.seek(since)
            text = f.read().decode(errors="replace")
        check(status is not None, "still running %.0f s after SIGTERM with a server "
              "connection in flight: %s" % (took, text[-600:]))
        check(status == 0, "exit status %s" % status)
        check("not finished closing" not in text and not re.search(
            r"Sanitizer|runtime error:", text), "the log says: %s" % text[-600:])
        measured("SIGTERM with a server connection in flight (%.0f s to go): exit after "
                 "%.2f s" % (delay, took))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proxy.close()


# ---- online restart -----------------------------------------------------------

def restart_pid():
    """The pid in life_restart's pidfile (0 when unreadable)."""
    try:
        return int(open(path("life_restart", "pgrouter.pid")).read().strip())
    except (OSError, ValueError):
        return 0


def wait_new_pid(old, secs=30):
    """Wait until the pidfile names a live process other than OLD; returns its pid."""
    wait_for("the pidfile names a new live process",
             lambda: restart_pid() not in (0, old) and pid_alive(restart_pid()), secs)
    return restart_pid()


def logins_by(pid):
    """Logins a process logged (log_connections) in life_restart's logs."""
    n = 0
    for f in ("pgrouter.log", "manual.log"):
        try:
            with open(path("life_restart", f), "rb") as fh:
                for line in fh:
                    if (b"[%d]" % pid) in line and b"login from" in line:
                        n += 1
        except OSError:
            pass
    return n


@case
def sigusr2_restart_during_pgbench_connect_refuses_nobody():
    port, first = env_int("RESTART_PORT"), env_int("RESTART_PID")
    check(restart_pid() == first, "the pidfile does not name the running process")
    bench = pgbench(port, "-C", "-S", "-c", "4", "-j", "2", "-T", "8")
    time.sleep(2.5)
    check(bench.poll() is None, "pgbench -C ended early")
    t0 = time.monotonic()
    os.kill(first, signal.SIGUSR2)
    new = wait_new_pid(first)
    measured("SIGUSR2 -> new process %d in the pidfile after %.0f ms"
             % (new, (time.monotonic() - t0) * 1000))
    n = pgbench_result(bench, "pgbench -C -S -c 4 across the restart")
    status = exit_status(LIFE_DIR, "life_restart", 30)
    check(status == 0, "the old process exited with status %d" % status)
    check(logins_by(new) > 0, "the new process served no login during pgbench -C")
    check(logins_by(first) > 0, "the old process served no login before the restart")
    measured("online restart under pgbench -C: %d transactions, 0 failed; logins: old %d, "
             "new %d" % (n, logins_by(first), logins_by(new)))


@case
def restart_by_hand_keeps_connected_clients_on_the_old_process():
    port = env_int("RESTART_PORT")
    old = restart_pid()
    check(old and pid_alive(old), "no life_restart process is running")
    bench = pgbench(port, "-S", "-c", "4", "-j", "2", "-T", "6")
    time.sleep(2)
    check(bench.poll() is None, "pgbench ended early")
    with open(path("life_restart", "manual.log"), "ab") as log:
        subprocess.Popen([os.environ.get("PGROUTER_BIN", "pgrouter"), "-R", "-c",
                          path("life_restart", "pgrouter.ini")], stdin=subprocess.DEVNULL,
                         stdout=log, stderr=log, start_new_session=True)
    new = wait_new_pid(old)
    check(pid_alive(old), "the old process exited while pgbench's connections were open")
    with connect(port) as c:
        check(c.execute("SELECT 1").fetchone()[0] == 1, "a new client after the restart")
    check(logins_by(new) > 0, "the new process did not serve the new client")
    n = pgbench_result(bench, "pgbench -S -c 4 across the restart")
    t0 = time.monotonic()
    wait_for("the old process exits after pgbench's clients left",
             lambda: not pid_alive(old), 30)
    with open(path("life_restart", "pgrouter.log"), "rb") as f:
        report = re.search(rb"Sanitizer|runtime error:", f.read())
    check(report is None, "a sanitizer report from a process that handed over (pgrouter.log)")
    measured("online restart (-R) under pgbench -S: %d transactions, 0 failed, all on the "
             "old process; it exited %.0f ms after pgbench ended"
             % (n, (time.monotonic() - t0) * 1000))


def restart_failures(f):
    try:
        with open(f, "rb") as fh:
            return fh.read().count(b"online restart failed")
    except OSError:
        return 0


@case
def a_restart_that_fails_leaves_the_old_process_serving():
    port = env_int("RESTART_PORT")
    old = restart_pid()
    check(old and pid_alive(old), "no life_restart process is running")
    ini = path("life_restart", "pgrouter.ini")
    with open(ini) as f:
        good = f.read()
    try:
        with open(ini, "a") as f:
            f.write("no_such_key_itest = 1\n")
        # the process pgrouter -R started logs to manual.log
        logs = [path("life_restart", f) for f in ("pgrouter.log", "manual.log")]
        before = [restart_failures(f) for f in logs]
        os.kill(old, signal.SIGUSR2)
        wait_for("'online restart failed' in the log",
                 lambda: [restart_failures(f) for f in logs] != before, 20)
    finally:
        with open(ini, "w") as f:
            f.write(good)
    check(pid_alive(old) and restart_pid() == old, "the old process is gone or the pidfile "
          "changed after a failed restart")
    with connect(port) as c:
        check(c.execute("SELECT 1").fetchone()[0] == 1, "a client after the failed restart")


def cleanup():
    """End the process the restarts left running (run.sh knows only the first)."""
    pid = restart_pid()
    if pid and pid != env_int("RESTART_PID") and pid_alive(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)


def main():
    return SUITE.run(need=[(PRIMARY and LIFE_DIR, "PRIMARY_PORT and LIFE_DIR must be set")],
                     cleanup=cleanup)


if __name__ == "__main__":
    sys.exit(main())
