#!/usr/bin/python3
"""tests/integration/test_metrics.py - the Prometheus endpoint of the "metrics" instance
that metrics.sh starts (main cluster, health checks every second, stats_listen_port).

Run by run.sh (run_py) with Debian's /usr/bin/python3 (python3-psycopg).
Environment: METRICS_PORT (clients), METRICS_STATS_PORT (/metrics), METRICS_PID,
METRICS_DIR (its pgrouter.ini and log), PGBIN (pgbench); ITEST_DIRECT=1 skips every case.

What each case checks:
  - promtool: `promtool check metrics` prints nothing and exits 0 on a scrape taken
    while clients work; the answer is 200 with the 0.0.4 text content type and
    Connection: close; every family the README lists is there;
  - refusals: another path is 404, POST 405 (Allow: GET, HEAD), garbage 400; each
    connection is closed after the answer;
  - too_long: a 64 KiB request head gets 400 and the connection closes;
  - slow_request: half a request line, then nothing: 408 and closed after the 5 s
    request deadline, not before;
  - concurrent_scrapes: 200 scrapes at once while pgbench runs through the proxy:
    every one gets a whole exposition, pgbench has no failed transaction;
  - counters: while pgbench runs as app, a raw client as "other" (a database/user pair
    nobody else uses) runs N queries and E failing ones: that pair's pools count exactly
    N + E more queries, transactions and server assignments, exactly the bytes of those
    Query messages received, E more errors of class 22 from the server, and the wait
    histogram's count follows the assignments; routing decisions and the query-time
    histogram grow by at least N + E;
  - nodes: every node is up, breakers closed, the primary has role="primary", replicas
    have lag gauges;
  - reload: stats_listen_port moved by SIGHUP serves on the new port and no longer on the
    old one; 0 turns it off; a replica a reload removes leaves the per-node families and
    comes back when added again.

Prints one `ok - metrics: NAME` or `not ok - metrics: NAME: reason` line per case and exits
1 if any failed. Arguments, if given, are substrings of case names.
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
from itest import (PGBIN, Skip, Suite, check,  # noqa: E402,F401 - the shared runner
                   free_port, measured)

PORT = int(os.environ.get("METRICS_PORT") or 0)
STATS_PORT = int(os.environ.get("METRICS_STATS_PORT") or 0)
PID = int(os.environ.get("METRICS_PID") or 0)
DIR = os.environ.get("METRICS_DIR", "")

SUITE = Suite("metrics")
case = SUITE.case

FAMILIES = [
    "pgrouter_info", "pgrouter_clients", "pgrouter_clients_login", "pgrouter_clients_connected",
    "pgrouter_pool_clients_active", "pgrouter_pool_clients_waiting", "pgrouter_pool_servers",
    "pgrouter_pool_wait_seconds", "pgrouter_node_breaker_state",
    "pgrouter_node_breaker_transitions_total", "pgrouter_node_up",
    "pgrouter_node_health_checks_total", "pgrouter_node_replica_lag_bytes",
    "pgrouter_node_replica_lag_seconds",
]


def http(req, port=None, timeout=20.0):
    """Send raw bytes, read until the server closes; returns (answer bytes, seconds)."""
    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port or STATS_PORT), timeout=timeout)
    s.settimeout(timeout)
    try:
        if req:
            s.sendall(req)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                raise AssertionError("connection reset after %r" % out[:60]) from None
            except socket.timeout:
                raise AssertionError("no close within %.0f s (got %r)"
                                     % (timeout, out[:60])) from None
            if not chunk:
                return out, time.monotonic() - t0
            out += chunk
    finally:
        s.close()


def split(answer):
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return lines[0], headers, body


def scrape(port=None):
    answer, _ = http(b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n", port)
    status, headers, body = split(answer)
    check(status == "HTTP/1.1 200 OK", "scrape: %s" % status)
    check(int(headers.get("content-length", -1)) == len(body),
          "Content-Length %s for %d bytes" % (headers.get("content-length"), len(body)))
    return body.decode("utf-8"), headers


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?')


def parse(text):
    """{(name, frozenset(labels.items())): value} of every sample."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        check(m is not None, "unparsable line %r" % line)
        labels = {}
        if m.group(3):
            for lm in LABEL.finditer(m.group(3)):
                labels[lm.group(1)] = lm.group(2)
        out[(m.group(1), frozenset(labels.items()))] = float(m.group(4))
    return out


def total(samples, name, **want):
    """Sum of the samples of name whose labels include want."""
    n = 0.0
    for (nm, labels), v in samples.items():
        d = dict(labels)
        if nm == name and all(d.get(k) == x for k, x in want.items()):
            n += v
    return n


def promtool(text):
    r = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                       capture_output=True, timeout=60)
    return r.returncode, (r.stdout + r.stderr).decode(errors="replace").strip()


class Pgbench:
    """pgbench as app through the proxy in the background: a read (SELECT of a random
    number, like -S but needing no pgbench tables) per transaction."""

    def __init__(self, secs, clients=4):
        env = dict(os.environ, PGPASSWORD="app")
        script = os.path.join(DIR, "read.sql")
        with open(script, "w") as f:
            f.write("\\set aid random(1, 100000)\nSELECT :aid;\n")
        self.p = subprocess.Popen(
            [os.path.join(PGBIN, "pgbench"), "-h", "127.0.0.1", "-p", str(PORT), "-U", "app",
             "-n", "-f", script, "-c", str(clients), "-j", "2", "-T", str(secs), "appdb"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def finish(self, timeout=120):
        out, _ = self.p.communicate(timeout=timeout)
        text = out.decode(errors="replace")
        check(self.p.returncode == 0, "pgbench failed: %s" % text[-400:])
        m = re.search(r"number of failed transactions: (\d+)", text)
        check(m is None or m.group(1) == "0", "pgbench: %s" % (m.group(0) if m else ""))
        m = re.search(r"number of transactions actually processed: (\d+)", text)
        check(m is not None and int(m.group(1)) > 0, "pgbench processed nothing: %s" % text[-300:])
        return int(m.group(1))


def need_instance():
    if not STATS_PORT:
        raise Skip("no metrics instance (ITEST_DIRECT=1)")


@case
def promtool_passes():
    need_instance()
    bench = Pgbench(4)
    try:
        time.sleep(1)
        text, headers = scrape()
    finally:
        bench.finish()
    check(headers.get("content-type") == "text/plain; version=0.0.4; charset=utf-8",
          "Content-Type %r" % headers.get("content-type"))
    check(headers.get("connection") == "close", "Connection %r" % headers.get("connection"))
    rc, out = promtool(text)
    check(rc == 0, "promtool check metrics exit %d: %s" % (rc, out[:500]))
    check(out == "", "promtool printed: %s" % out[:500])
    for fam in FAMILIES:
        check(("# TYPE %s " % fam) in text, "no family %s" % fam)
    parse(text)
    measured("exposition %d bytes, %d samples, promtool clean" % (len(text), len(parse(text))))


@case
def refusals():
    need_instance()
    answer, _ = http(b"GET /other HTTP/1.1\r\nHost: t\r\n\r\n")
    check(split(answer)[0] == "HTTP/1.1 404 Not Found", "GET /other: %r" % answer[:40])
    answer, _ = http(b"GET / HTTP/1.0\r\n\r\n")
    check(split(answer)[0] == "HTTP/1.1 404 Not Found", "GET /: %r" % answer[:40])
    answer, _ = http(b"POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc")
    status, headers, _ = split(answer)
    check(status == "HTTP/1.1 405 Method Not Allowed", "POST: %r" % answer[:40])
    check(headers.get("allow") == "GET, HEAD", "Allow %r" % headers.get("allow"))
    for junk in (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
                 b"GET /metrics HTTP/2.0\r\n\r\n", b"GET /metrics\r\n\r\n",
                 b"GET /metrics HTTP/1.1\r\nbad header\r\n\r\n"):
        answer, _ = http(junk)
        check(split(answer)[0] == "HTTP/1.1 400 Bad Request", "%r: %r" % (junk[:20], answer[:40]))
    # HEAD: the headers of a scrape, no body
    answer, _ = http(b"HEAD /metrics HTTP/1.1\r\n\r\n")
    status, headers, body = split(answer)
    check(status == "HTTP/1.1 200 OK" and body == b"" and int(headers["content-length"]) > 1000,
          "HEAD: %r" % answer[:200])


@case
def too_long():
    need_instance()
    req = b"GET /metrics HTTP/1.1\r\nX-Long: " + b"a" * 65536 + b"\r\n\r\n"
    answer, secs = http(req, timeout=15)
    check(split(answer)[0] == "HTTP/1.1 400 Bad Request", "64 KiB head: %r" % answer[:60])
    measured("64 KiB request head: 400 and closed after %.2f s" % secs)


@case
def slow_request():
    need_instance()
    answer, secs = http(b"GET /metr", timeout=30)
    check(split(answer)[0] == "HTTP/1.1 408 Request Timeout", "half a request: %r" % answer[:60])
    check(secs >= 4.8, "closed after %.2f s, before the 5 s deadline" % secs)
    measured("half a request line: 408 and closed after %.2f s (deadline 5 s)" % secs)


@case
def concurrent_scrapes():
    need_instance()
    results = [None] * 200
    bench = Pgbench(6, clients=8)

    def one(i):
        try:
            answer, secs = http(b"GET /metrics HTTP/1.1\r\n\r\n", timeout=60)
            status, headers, body = split(answer)
            ok = (status == "HTTP/1.1 200 OK" and int(headers["content-length"]) == len(body)
                  and body.startswith(b"# HELP pgrouter_info") and body.endswith(b"\n"))
            results[i] = (ok, secs, status)
        except Exception as e:  # noqa: BLE001 - reported below
            results[i] = (False, 0.0, repr(e))

    try:
        time.sleep(1)
        t0 = time.monotonic()
        threads = [threading.Thread(target=one, args=(i,)) for i in range(200)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(90)
        wall = time.monotonic() - t0
    finally:
        n = bench.finish()
    bad = [r for r in results if r is None or not r[0]]
    check(not bad, "%d of 200 scrapes failed, e.g. %r" % (len(bad), bad[:3]))
    slowest = max(r[1] for r in results)
    measured("200 concurrent scrapes in %.2f s (slowest %.2f s) while pgbench -c 8 ran "
             "%d transactions with 0 failed" % (wall, slowest, n))
    rc, out = promtool(scrape()[0])
    check(rc == 0 and out == "", "promtool after the scrapes: %s" % out[:300])


def login_other():
    """A raw socket logged in as "other" on appdb (the login borrows a server too, so it
    happens before the first scrape)."""
    sock = socket.create_connection(("127.0.0.1", PORT), timeout=20)
    sock.settimeout(20)
    rawpg.login(sock, "other", "other", "appdb")
    return sock


def run_workload(sock, n_ok, n_err):
    """On sock: n_ok SELECTs, n_err failing ones. Returns the bytes of the Query messages
    sent."""
    sent = 0
    try:
        for i in range(n_ok):
            sql = "SELECT %d" % i
            check(rawpg.simple_query(sock, sql) == str(i), "SELECT %d" % i)
            sent += 1 + 4 + len(sql) + 1
        for i in range(n_err):
            sql = "SELECT 1/0 AS e%d" % i
            try:
                rawpg.simple_query(sock, sql)
                raise AssertionError("1/0 worked")
            except rawpg.PeerError as e:
                check(e.fields.get("C") == "22012", "1/0: %s" % e.line())
            sent += 1 + 4 + len(sql) + 1
    finally:
        sock.sendall(rawpg.msg(b"X", b""))
        sock.close()
    return sent


@case
def counters():
    need_instance()
    n_ok, n_err = 40, 5
    bench = Pgbench(6)
    try:
        time.sleep(1)
        sock = login_other()
        before = parse(scrape()[0])
        sent = run_workload(sock, n_ok, n_err)
        after = parse(scrape()[0])
    finally:
        bench.finish()
    units = n_ok + n_err
    pair = {"database": "appdb", "user": "other"}

    def diff(name, **want):
        return total(after, name, **want) - total(before, name, **want)

    got = {
        "queries": diff("pgrouter_pool_queries_total", **pair),
        "transactions": diff("pgrouter_pool_transactions_total", **pair),
        "assignments": diff("pgrouter_pool_server_assignments_total", **pair),
        "received bytes": diff("pgrouter_pool_received_bytes_total", **pair),
        "wait count": diff("pgrouter_pool_wait_seconds_count", **pair),
        "errors 22": diff("pgrouter_errors_total", **{"class": "22", "source": "server"}),
    }
    want = {"queries": units, "transactions": units, "assignments": units,
            "received bytes": sent, "wait count": units, "errors 22": n_err}
    for k in want:
        check(got[k] == want[k], "%s moved by %s, want %s (all: %r)" % (k, got[k], want[k], got))
    check(diff("pgrouter_pool_sent_bytes_total", **pair) > 0, "no bytes sent to other")
    check(diff("pgrouter_routes_total") >= units, "routes moved by %s" % diff("pgrouter_routes_total"))
    check(diff("pgrouter_query_duration_seconds_count") >= units,
          "query histogram moved by %s" % diff("pgrouter_query_duration_seconds_count"))
    check(diff("pgrouter_pool_queries_total", database="appdb", user="app") > 0,
          "pgbench's pools did not move")
    measured("other@appdb: %d queries, %d transactions, %d bytes in, %d errors of class 22: "
             "exact; pgbench's app@appdb +%d queries meanwhile"
             % (got["queries"], got["transactions"], got["received bytes"], got["errors 22"],
                diff("pgrouter_pool_queries_total", database="appdb", user="app")))


@case
def nodes():
    need_instance()
    deadline = time.monotonic() + 30
    while True:
        s = parse(scrape()[0])
        ups = [(dict(k[1]), v) for k, v in s.items() if k[0] == "pgrouter_node_up"]
        if len(ups) == 3 and all(v == 1 for _, v in ups):
            break
        check(time.monotonic() < deadline, "nodes not all up after 30 s: %r" % ups)
        time.sleep(0.5)
    roles = sorted(d["role"] for d, _ in ups)
    check(roles == ["primary", "replica", "replica"], "roles %r" % roles)
    states = [v for k, v in s.items() if k[0] == "pgrouter_node_breaker_state"]
    check(states == [0, 0, 0], "breaker states %r" % states)
    lag = [dict(k[1])["role"] for k in s if k[0] == "pgrouter_node_replica_lag_bytes"]
    check(lag == ["replica", "replica"], "lag bytes reported for %r" % lag)
    checks = total(s, "pgrouter_node_health_checks_total", result="ok")
    check(checks >= 3, "health checks ok: %s" % checks)


def set_stats_port(port):
    ini = os.path.join(DIR, "pgrouter.ini")
    with open(ini) as f:
        text = f.read()
    text = re.sub(r"(?m)^stats_listen_port = .*$", "stats_listen_port = %d" % port, text)
    with open(ini + ".new", "w") as f:
        f.write(text)
    os.rename(ini + ".new", ini)
    os.kill(PID, signal.SIGHUP)


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
        return False
    except ConnectionRefusedError:
        return True


@case
def reload_moves_the_endpoint():
    need_instance()
    new = free_port()
    try:
        set_stats_port(new)
        deadline = time.monotonic() + 20
        while refused(new) or not refused(STATS_PORT):
            check(time.monotonic() < deadline, "after SIGHUP: %d refused %s, %d refused %s"
                  % (new, refused(new), STATS_PORT, refused(STATS_PORT)))
            time.sleep(0.2)
        scrape(new)
        set_stats_port(0)
        deadline = time.monotonic() + 20
        while not refused(new):
            check(time.monotonic() < deadline, "stats_listen_port = 0: %d still served" % new)
            time.sleep(0.2)
    finally:
        set_stats_port(STATS_PORT)
    deadline = time.monotonic() + 20
    while refused(STATS_PORT):
        check(time.monotonic() < deadline, "back on %d: refused" % STATS_PORT)
        time.sleep(0.2)
    # clients were served throughout
    with psycopg.connect("host=127.0.0.1 port=%d user=app password=app dbname=appdb "
                         "connect_timeout=10" % PORT, autocommit=True) as c:
        check(c.execute("SELECT 7").fetchone()[0] == 7, "SELECT 7")


@case
def reload_removes_a_node():
    need_instance()
    r2 = "127.0.0.1:%s" % os.environ.get("REPLICA2_PORT", "0")
    ini = os.path.join(DIR, "pgrouter.ini")
    with open(ini) as f:
        orig = f.read()

    def nodes_shown():
        return {dict(k[1])["node"] for k in parse(scrape()[0])
                if k[0] == "pgrouter_node_breaker_state"}

    def rewrite(text):
        with open(ini + ".new", "w") as f:
            f.write(text)
        os.rename(ini + ".new", ini)
        os.kill(PID, signal.SIGHUP)

    check(r2 in nodes_shown(), "%s not shown before the reload" % r2)
    try:
        rewrite(re.sub(r", 127\.0\.0\.1:%s\b" % r2.split(":")[1], "", orig))
        deadline = time.monotonic() + 20
        while r2 in nodes_shown():
            check(time.monotonic() < deadline, "%s still shown 20 s after its removal" % r2)
            time.sleep(0.2)
    finally:
        rewrite(orig)
    deadline = time.monotonic() + 20
    while r2 not in nodes_shown():
        check(time.monotonic() < deadline, "%s not back 20 s after it was added again" % r2)
        time.sleep(0.2)
    rc, out = promtool(scrape()[0])
    check(rc == 0 and out == "", "promtool after the reloads: %s" % out[:300])


def main():
    return SUITE.run()


if __name__ == "__main__":
    sys.exit(main())
