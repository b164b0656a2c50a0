#!/usr/bin/python3
"""tests/integration/test_workers.py - workers = 2: two event loops in one process. Each
case starts a pgrouter of its own (WORKERS_BIN, WORKERS_DIR/workers_NAME/ for its config
and log) in front of the suite's main cluster, with verbose = 1 so that the log names the
worker serving each client ("c7: served by worker 1").

  - config: `workers` is checked (300 refused at file:line, auto accepted), and a reload
    that changes it keeps the running count with a warning;
  - spread: clients alternate between worker 0 and worker 1, and each runs queries;
  - pgbench: pgbench -S and TPC-B through both workers, no failed transaction;
  - cancel_across: a CancelRequest accepted by the other worker cancels pg_sleep;
  - reload_both: SIGHUP sets query_timeout on both workers (a new client of each hits it);
  - pool_size_total: default_pool_size = 2 bounds the servers of the pool over both workers
    (pgrouter's connections to the primary, /proc/net/tcp), while 8 clients of both run
    transactions at once;
  - query_wait_across: default_pool_size = 1 held by a transaction on one worker; a client
    of the other worker waits and gets query_wait_timeout, then is served;
  - health_once: health checks run once per node per interval with 2 workers (metrics);
    pgrouter_clients_connected counts the clients of both workers;
  - breaker_once: a replica (a forwarder we kill) dies under 8 clients on both workers:
    its breaker opens once, not once per worker;
  - port_refused: a second pgrouter on the same port is refused and exits 1;
  - sigterm: idle clients on both workers are closed, pgrouter exits 0 and says so for
    worker 1; sigint: a transaction open on worker 1 keeps SIGTERM waiting, SIGINT closes
    it without waiting for shutdown_timeout, exit 0.
Prints `ok - workers: NAME` / `not ok - workers: NAME: reason`; exits 1 if any failed.
"""

import os
import re
import signal
import subprocess
import sys
import threading
import time

import psycopg

from itest import (PGBIN, PRIMARY, R1, R2, Skip, Suite, check, free_port, measured,
                   remote_ports, wait_for)

WORKERS_DIR = os.environ.get("WORKERS_DIR", "")
WORKERS_BIN = os.environ.get("WORKERS_BIN", "")
STARTED = []

SUITE = Suite("workers")
case = SUITE.case


def read_log(path, since=0):
    with open(path, "rb") as f:
        f.seek(since)
        return f.read().decode("utf-8", "replace")


def paths(name):
    d = os.path.join(WORKERS_DIR, "workers_" + name)
    os.makedirs(d, exist_ok=True)
    return tuple(os.path.join(d, f) for f in ("pgrouter.ini", "pgrouter.log", "userlist.txt"))


def write_ini(name, port, extra, workers="2"):
    ini, _, users = paths(name)
    if "stats_listen_port" not in extra:
        extra = "stats_listen_port = 0\n" + extra
    with open(users, "w") as f:
        f.write('"app" "app"\n"admin" "admin"\n')
    os.chmod(users, 0o600)
    with open(ini, "w") as f:
        f.write("[pgrouter]\nlisten_addr = 127.0.0.1\nlisten_port = %d\nworkers = %s\n"
                "auth_type = scram-sha-256\nauth_file = %s\nadmin_users = admin\n"
                "verbose = 1\n%s\n"
                "[cluster.main]\nprimary = 127.0.0.1:%d\nreplicas = 127.0.0.1:%d, "
                "127.0.0.1:%d\n" % (port, workers, users, extra, PRIMARY, R1, R2))
    return ini


def start_own(name, extra=""):
    """pgrouter NAME with workers = 2 and [pgrouter] lines extra; (proc, port, log)."""
    if not WORKERS_BIN or not WORKERS_DIR:
        raise Skip("WORKERS_BIN and WORKERS_DIR are not set")
    for _ in range(3):
        port = free_port()
        ini = write_ini(name, port, extra)
        log = paths(name)[1]
        out = open(log, "ab")
        since = out.tell()
        proc = subprocess.Popen([WORKERS_BIN, "-c", ini], stdout=out, stderr=subprocess.STDOUT)
        out.close()
        STARTED.append(proc)
        deadline = time.monotonic() + 20
        while proc.poll() is None and time.monotonic() < deadline:
            text = read_log(log, since)
            if "listening on" in text and "2 workers" in text:
                return proc, port, log
            time.sleep(0.05)
        if proc.poll() is not None and "in use" in read_log(log, since):
            continue
        raise AssertionError("pgrouter %s did not start: %s" % (name, read_log(log)[-500:]))
    raise AssertionError("pgrouter %s: no free port" % name)


def stop(proc):
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def connect(port, user="app", password="app", db="appdb"):
    return psycopg.connect("host=127.0.0.1 port=%d user=%s password=%s dbname=%s "
                           "connect_timeout=10" % (port, user, password, db), autocommit=True)


def worker_of(log, since, n):
    """The workers that served the last n clients logged after since, oldest first."""
    found = re.findall(r"c\d+: served by worker (\d)", read_log(log, since))
    return [int(x) for x in found[-n:]]


def backends(pid, port=PRIMARY):
    """Connections process pid holds to port (other pgrouters of the run use the same
    cluster, so pg_stat_activity alone cannot tell whose they are)."""
    return remote_ports(pid).count(port)


@case
def config():
    if not WORKERS_BIN or not WORKERS_DIR:
        raise Skip("WORKERS_BIN and WORKERS_DIR are not set")
    ini = write_ini("config", 5999, "", workers="300")
    r = subprocess.run([WORKERS_BIN, "-t", "-c", ini], capture_output=True, text=True)
    check(r.returncode == 1, "workers = 300 accepted: %s" % r.stdout)
    check(re.search(r"pgrouter\.ini:\d+: workers: \"300\" is out of range", r.stderr),
          "no file:line error for workers = 300: %s" % r.stderr)
    for good in ("auto", "0", "1", "2", "256"):
        ini = write_ini("config", 5999, "", workers=good)
        r = subprocess.run([WORKERS_BIN, "-t", "-c", ini], capture_output=True, text=True)
        check(r.returncode == 0, "workers = %s refused: %s" % (good, r.stderr))
    proc, port, log = start_own("config")
    try:
        since = len(read_log(log))
        ini = paths("config")[0]
        with open(ini) as f:
            text = f.read()
        with open(ini, "w") as f:
            f.write(text.replace("workers = 2", "workers = 3"))
        proc.send_signal(signal.SIGHUP)
        wait_for("the reload", lambda: "configuration reloaded" in read_log(log, since), 10)
        check("workers = 3 needs a restart; 2 workers go on running" in read_log(log, since),
              "no warning for a reload that changes workers")
        with connect(port) as c:
            check(c.execute("SELECT 1").fetchone()[0] == 1, "SELECT 1 after the reload")
    finally:
        stop(proc)


@case
def spread():
    proc, port, log = start_own("spread")
    try:
        since = len(read_log(log))
        conns = [connect(port) for _ in range(6)]
        served = worker_of(log, since, 6)
        check(sorted(served) == [0, 0, 0, 1, 1, 1], "clients served by workers %s" % served)
        for i, c in enumerate(conns):
            check(c.execute("SELECT %s::int + 1", (i,)).fetchone()[0] == i + 1, "query")
            c.execute("BEGIN")
            c.execute("SELECT txid_current()")
            c.execute("COMMIT")
        for c in conns:
            c.close()
    finally:
        stop(proc)


def run_pgbench(port, args, secs=60):
    p = subprocess.run([PGBIN + "/pgbench", "-h", "127.0.0.1", "-p", str(port), "-U", "app",
                        "-n"] + args + ["appdb"], capture_output=True, text=True, timeout=secs,
                       env=dict(os.environ, PGPASSWORD="app"))
    out = p.stdout + p.stderr
    check(p.returncode == 0, "pgbench %s failed: %s" % (" ".join(args), out[-400:]))
    m = re.search(r"number of failed transactions: (\d+)", out)
    check(m is None or m.group(1) == "0", "pgbench %s: failed transactions" % args)
    tps = re.search(r"tps = ([\d.]+)", out)
    return float(tps.group(1)) if tps else 0.0


@case
def pgbench():
    with psycopg.connect("host=127.0.0.1 port=%d user=postgres password=postgres "
                         "dbname=appdb" % PRIMARY, autocommit=True) as d:
        have = d.execute("SELECT to_regclass('pgbench_accounts') IS NOT NULL").fetchone()[0]
    if not have:
        subprocess.run([PGBIN + "/pgbench", "-i", "-s", "1", "-q", "-h", "127.0.0.1", "-p",
                        str(PRIMARY), "-U", "app", "appdb"], check=True, timeout=120,
                       env=dict(os.environ, PGPASSWORD="app"), capture_output=True)
    proc, port, log = start_own("pgbench")
    try:
        since = len(read_log(log))
        s = run_pgbench(port, ["-S", "-c", "8", "-j", "2", "-T", "4"])
        t = run_pgbench(port, ["-c", "4", "-j", "2", "-T", "4"])
        served = set(worker_of(log, since, 12))
        check(served == {0, 1}, "pgbench clients served by workers %s" % served)
        measured("workers = 2: pgbench -S 8 clients %.0f tps, TPC-B 4 clients %.0f tps "
                 "(2 shared cores, PostgreSQL on the same machine)" % (s, t))
    finally:
        stop(proc)


@case
def cancel_across():
    proc, port, log = start_own("cancel")
    try:
        since = len(read_log(log))
        c = connect(port)
        mine = worker_of(log, since, 1)
        tag = re.findall(r"(c\d+): served by worker", read_log(log, since))[-1]
        t0 = time.monotonic()
        # psycopg's cancel opens the next connection: the other worker accepts it
        threading.Timer(0.5, c.cancel).start()
        try:
            c.execute("SELECT pg_sleep(20)")
            raise AssertionError("pg_sleep(20) was not cancelled")
        except psycopg.errors.QueryCanceled:
            pass
        took = time.monotonic() - t0
        check(took < 5, "the cancel took %.1f s" % took)
        text = read_log(log, since)
        check(re.search(r"cancel: cancel request for %s " % tag, text),
              "the cancel of %s (worker %s) was not forwarded by the other worker: %s"
              % (tag, mine, text[-600:]))
        check(c.execute("SELECT 1").fetchone()[0] == 1, "the client goes on after the cancel")
        measured("a cancel through the other worker: query ended %.2f s after the start "
                 "(cancel sent at 0.5 s)" % took)
        c.close()
    finally:
        stop(proc)


@case
def reload_both():
    proc, port, log = start_own("reload")
    try:
        ini = paths("reload")[0]
        with open(ini) as f:
            text = f.read()
        with open(ini, "w") as f:
            f.write(text.replace("[cluster.main]", "query_timeout = 1s\n[cluster.main]"))
        since = len(read_log(log))
        proc.send_signal(signal.SIGHUP)
        wait_for("both workers reloaded",
                 lambda: "configuration reloaded" in read_log(log, since) and
                 "worker 1: configuration reloaded" in read_log(log, since), 10)
        since = len(read_log(log))
        conns = [connect(port), connect(port)]
        served = worker_of(log, since, 2)
        check(sorted(served) == [0, 1], "the two clients went to workers %s" % served)
        for c, w in zip(conns, served):
            t0 = time.monotonic()
            try:
                c.execute("SELECT pg_sleep(5)")
                raise AssertionError("worker %d: no query_timeout after the reload" % w)
            except psycopg.Error as e:
                check("query_timeout" in str(e) or "timeout" in str(e).lower(),
                      "worker %d: unexpected error %s" % (w, e))
            check(time.monotonic() - t0 < 4, "worker %d: the timeout took too long" % w)
            c.close()
    finally:
        stop(proc)


@case
def pool_size_total():
    proc, port, log = start_own("poolsize", "default_pool_size = 2\nquery_wait_timeout = 30s")
    try:
        since = len(read_log(log))
        conns = [connect(port) for _ in range(8)]
        check(set(worker_of(log, since, 8)) == {0, 1}, "clients on both workers")
        peak = [0]
        stop_watch = threading.Event()

        def watch():
            while not stop_watch.is_set():
                peak[0] = max(peak[0], backends(proc.pid))
                time.sleep(0.05)

        def work(c):
            for _ in range(4):
                c.execute("BEGIN")
                c.execute("SELECT txid_current(), pg_sleep(0.2)")
                c.execute("COMMIT")

        watcher = threading.Thread(target=watch)
        watcher.start()
        threads = [threading.Thread(target=work, args=(c,)) for c in conns]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        took = time.monotonic() - t0
        stop_watch.set()
        watcher.join()
        check(peak[0] >= 1, "no server connection seen")
        check(peak[0] <= 2, "%d servers for app@appdb on the primary over 2 workers, "
              "default_pool_size = 2" % peak[0])
        measured("default_pool_size = 2, 8 clients on 2 workers: at most %d servers on the "
                 "primary; 32 transactions of 0.2 s in %.1f s" % (peak[0], took))
        for c in conns:
            c.close()
    finally:
        stop(proc)


@case
def query_wait_across():
    proc, port, log = start_own("qwait", "default_pool_size = 1\nquery_wait_timeout = 1s")
    try:
        since = len(read_log(log))
        a, b = connect(port), connect(port)
        served = worker_of(log, since, 2)
        check(sorted(served) == [0, 1], "the two clients went to workers %s" % served)
        # a holds the pool's only server: b, on the other worker, may not open a second
        a.execute("BEGIN")
        a.execute("SELECT txid_current()")
        t0 = time.monotonic()
        try:
            b.execute("SELECT txid_current()")
            raise AssertionError("the other worker opened a second server")
        except psycopg.Error as e:
            check("query_wait_timeout" in str(e), "unexpected error: %s" % e)
        took = time.monotonic() - t0
        check(0.9 <= took < 3.5, "query_wait_timeout = 1s answered after %.1f s" % took)
        a.execute("COMMIT")
        check(b.execute("SELECT 1").fetchone()[0] == 1, "b is served once a commits")
        measured("default_pool_size = 1: a client of the other worker waited %.2f s "
                 "(query_wait_timeout = 1s)" % took)
        a.close()
        b.close()
    finally:
        stop(proc)


def metric(port, name, labels):
    """The value of metric name whose labels contain every string in labels."""
    import urllib.request
    text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5).read()
    for line in text.decode().splitlines():
        if (line.startswith(name + "{") or line.startswith(name + " ")) and \
                all(x in line for x in labels):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError("no %s{%s} in /metrics" % (name, labels))


@case
def health_once():
    mport = free_port()
    proc, port, log = start_own("health", "stats_listen_port = %d\n[health]\n"
                                "health_check_user = postgres\nhealth_check_password = "
                                "postgres\nhealth_check_interval = 1s" % mport)
    try:
        conns = [connect(port) for _ in range(4)]     # both workers busy too
        for c in conns:
            c.execute("SELECT 1")
        time.sleep(1.5)
        nodes = ["127.0.0.1:%d" % p for p in (PRIMARY, R1, R2)]
        first = [metric(mport, "pgrouter_node_health_checks_total",
                        ['node="%s"' % n, 'result="ok"']) for n in nodes]
        t0 = time.monotonic()
        time.sleep(5)
        last = [metric(mport, "pgrouter_node_health_checks_total",
                       ['node="%s"' % n, 'result="ok"']) for n in nodes]
        secs = time.monotonic() - t0
        for n, a, b in zip(nodes, first, last):
            check(b - a <= secs + 1.5, "node %s: %d checks in %.1f s at 1 s intervals "
                  "(one per worker?)" % (n, b - a, secs))
            check(b - a >= secs - 2.5, "node %s: only %d checks in %.1f s" % (n, b - a, secs))
        measured("health checks with 2 workers, 1 s interval: %s in %.1f s"
                 % (", ".join("%d" % (b - a) for a, b in zip(first, last)), secs))
        check(metric(mport, "pgrouter_workers", []) == 2, "pgrouter_workers is not 2")
        check(metric(mport, "pgrouter_clients_connected", []) == 4,
              "pgrouter_clients_connected does not count the clients of both workers")
        for c in conns:
            c.close()
    finally:
        stop(proc)


class Forwarder:
    """A TCP forwarder to a node that can be killed at once, as a crashed server would:
    its port refuses from then on and every relayed connection is cut."""

    def __init__(self, target):
        import socket
        self.target = target
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.port = self.lsock.getsockname()[1]
        self.socks = []
        self.dead = False
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        import socket
        while not self.dead:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            u = socket.create_connection(("127.0.0.1", self.target))
            self.socks += [c, u]
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self.pipe, args=(a, b), daemon=True).start()

    def pipe(self, a, b):
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
                x.close()
            except OSError:
                pass

    def kill(self):
        import socket
        self.dead = True
        self.lsock.close()
        for x in list(self.socks):
            try:
                x.shutdown(socket.SHUT_RDWR)
                x.close()
            except OSError:
                pass


@case
def breaker_once():
    fwd = Forwarder(R1)
    proc = None
    try:
        if not WORKERS_BIN or not WORKERS_DIR:
            raise Skip("WORKERS_BIN and WORKERS_DIR are not set")
        proc, port, log = start_own("breaker", "[breaker]\nfailure_threshold = 2\n"
                                    "open_timeout = 60s\nmax_open_timeout = 60s")
        ini = paths("breaker")[0]
        with open(ini) as f:
            text = f.read()
        # the only replica is the forwarder; reads fall back to the primary once it is gone
        text = re.sub(r"replicas = .*", "replicas = 127.0.0.1:%d" % fwd.port, text)
        with open(ini, "w") as f:
            f.write(text)
        since = len(read_log(log))
        proc.send_signal(signal.SIGHUP)
        wait_for("the reload", lambda: "worker 1: configuration reloaded" in
                 read_log(log, since), 10)
        since = len(read_log(log))
        conns = [connect(port) for _ in range(8)]
        check(set(worker_of(log, since, 8)) == {0, 1}, "clients on both workers")
        on_fwd = [c.execute("SELECT inet_server_port()").fetchone()[0] for c in conns]
        check(all(p == R1 for p in on_fwd), "reads did not go through the replica: %s" % on_fwd)
        stop_load = threading.Event()
        errors = []

        def load(c):
            while not stop_load.is_set():
                try:
                    c.execute("SELECT 1")
                except psycopg.Error as e:
                    errors.append(str(e))
                    return

        threads = [threading.Thread(target=load, args=(c,)) for c in conns]
        for t in threads:
            t.start()
        time.sleep(0.5)
        fwd.kill()
        time.sleep(3)
        stop_load.set()
        for t in threads:
            t.join(10)
        name = "127.0.0.1:%d" % fwd.port
        opened = read_log(log, since).count("node %s: circuit breaker closed -> open" % name)
        check(opened == 1, "the breaker of %s opened %d times (2 workers)" % (name, opened))
        measured("replica killed under 8 clients on 2 workers: its breaker opened %d time(s); "
                 "%d clients saw an error" % (opened, len(errors)))
        for c in conns:
            try:
                c.close()
            except psycopg.Error:
                pass
    finally:
        fwd.kill()
        if proc is not None:
            stop(proc)


@case
def port_refused():
    proc, port, log = start_own("refused")
    try:
        ini2 = write_ini("refused2", port, "")
        r = subprocess.run([WORKERS_BIN, "-c", ini2], capture_output=True, text=True,
                           timeout=20)
        text = r.stdout + r.stderr
        check(r.returncode == 1, "a second pgrouter on port %d exited %d" % (port,
                                                                           r.returncode))
        check("address already in use by another process" in text, "refusal: %s" % text)
        with connect(port) as c:
            check(c.execute("SELECT 1").fetchone()[0] == 1, "the first one still serves")
    finally:
        stop(proc)


@case
def sigterm():
    proc, port, log = start_own("sigterm", "shutdown_timeout = 20s")
    since = len(read_log(log))
    conns = [connect(port), connect(port)]
    check(sorted(worker_of(log, since, 2)) == [0, 1], "one client on each worker")
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(15)
    took = time.monotonic() - t0
    check(rc == 0, "exit status %d after SIGTERM" % rc)
    text = read_log(log, since)
    check("worker 1: finished" in text and "pgrouter exiting" in text,
          "no clean exit of both workers: %s" % text[-600:])
    for c in conns:
        try:
            c.execute("SELECT 1")
            raise AssertionError("an idle client survived SIGTERM")
        except psycopg.Error:
            pass
    measured("SIGTERM with an idle client on each of 2 workers: exit 0 in %.2f s" % took)


@case
def sigint():
    proc, port, log = start_own("sigint", "shutdown_timeout = 60s")
    since = len(read_log(log))
    conns = [connect(port), connect(port)]
    served = worker_of(log, since, 2)
    busy = conns[served.index(1)]
    busy.execute("BEGIN")
    busy.execute("SELECT txid_current()")
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    check(proc.poll() is None, "exited with a transaction open on worker 1")
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    rc = proc.wait(15)
    check(rc == 0, "exit status %d after SIGINT" % rc)
    # a client that does not read its FATAL is given up to 5 s to close (as with one worker)
    took = time.monotonic() - t0
    check(took < 8, "SIGINT took %.1f s (shutdown_timeout is 60 s)" % took)
    check("worker 1: finished" in read_log(log, since), "worker 1 did not finish")


def main():
    try:
        return SUITE.run()
    finally:
        for p in STARTED:
            stop(p)


if __name__ == "__main__":
    sys.exit(main())
