#!/usr/bin/python3
"""tests/integration/test_srvtls.py - TLS from pgrouter to the PostgreSQL servers.

Run by run.sh (run_py) with Debian's /usr/bin/python3 (python3-psycopg). Environment:
SRVTLS_BIN (the pgrouter binary), SRVTLS_DIR (a work directory: each instance's config
and log), CLUSTER_DIR (its cluster.env names the test CA: CLUSTER_CA_FILE, CLUSTER_TLS_DIR
with the client certificate tlscert.crt/key), PRIMARY_PORT, REPLICA1_PORT (reached
directly as postgres/postgres). Every server of the test cluster has ssl = on with a
certificate for localhost and 127.0.0.1 signed by the test CA; role tlsonly may log in
only over TLS (hostssl, hostnossl reject), role tlscert only with a client certificate
whose CN is tlscert (hostssl ... cert).

The cases start pgrouter instances of their own (the primary as localhost, the replica
as 127.0.0.1, so verify-full checks both of the certificate's names):
  require     server_tls_sslmode = require, no CA
  full        verify-full with the test CA and the client certificate of tlscert
  disable     server_tls_sslmode = disable
  wrongca     verify-full with another CA
and check: the hostssl-only role works over require and verify-full (pg_stat_ssl says
ssl through pgrouter, SHOW SERVERS names the protocol) and fails clearly with disable;
a wrong CA gives FATAL 08001 naming the node and the reason; large COPY in and out and
large results are byte-exact over server TLS; pipelined extended protocol; the client
certificate toward the server (HBA "cert"), and its absence refused; a cancel reaches a
server whose session is TLS (the cancel itself is plaintext: libpq 15); pgrouter -t
refuses verify-full without server_tls_ca_file.

Prints one `ok - srvtls: NAME` or `not ok - srvtls: NAME: reason` line per case and exits
1 if any failed. Arguments, if given, are substrings of case names.
"""

import ctypes
import hashlib
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
from itest import PRIMARY, R1, Suite, check, free_port, wait_for  # noqa: E402

BIN = os.environ.get("SRVTLS_BIN", "")
DIR = os.environ.get("SRVTLS_DIR", "")
CLUSTER_DIR = os.environ.get("CLUSTER_DIR", "")
TABLE = "itest_srvtls"

SUITE = Suite("srvtls")
case = SUITE.case
STARTED = {}        # name -> (proc, port)


def cluster_env():
    env = {}
    with open(os.path.join(CLUSTER_DIR, "cluster.env")) as f:
        for line in f:
            m = re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", line.strip())
            if m:
                env[m.group(1)] = m.group(2).strip("'\"")
    return env


CENV = cluster_env() if CLUSTER_DIR else {}
CA = CENV.get("CLUSTER_CA_FILE", "")
TLS_DIR = CENV.get("CLUSTER_TLS_DIR", "")


def die_with_parent():
    """In the child: SIGKILL when this test process dies (a timeout), not a leftover."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)     # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def write_ini(name, port, tls_lines):
    d = os.path.join(DIR, name)
    os.makedirs(d, exist_ok=True)
    users = os.path.join(d, "userlist.txt")
    with open(users, "w") as f:
        for u in ("app", "tlsonly", "tlscert", "admin"):
            f.write('"%s" "%s"\n' % (u, u))
    os.chmod(users, 0o600)
    ini = os.path.join(d, "pgrouter.ini")
    with open(ini, "w") as f:
        f.write("[pgrouter]\nlisten_addr = 127.0.0.1\nlisten_port = %d\n"
                "auth_type = scram-sha-256\nauth_file = %s\nadmin_users = admin\n"
                "%s\n[cluster.main]\nprimary = localhost:%d\nreplicas = 127.0.0.1:%d\n"
                % (port, users, "\n".join(tls_lines), PRIMARY, R1))
    return ini


def start(name, *tls_lines):
    """pgrouter NAME with the given server_tls_* lines; returns its port (started once)."""
    if name in STARTED:
        return STARTED[name][1]
    log = os.path.join(DIR, name, "pgrouter.log")
    for _ in range(3):
        port = free_port()
        ini = write_ini(name, port, tls_lines)
        out = open(log, "wb")
        proc = subprocess.Popen([BIN, "-c", ini], stdout=out, stderr=subprocess.STDOUT,
                                preexec_fn=die_with_parent)
        out.close()
        deadline = time.monotonic() + 20
        text = ""
        while proc.poll() is None and time.monotonic() < deadline:
            with open(log, errors="replace") as f:
                text = f.read()
            if "listening on" in text:
                STARTED[name] = (proc, port)
                return port
            time.sleep(0.05)
        proc.kill()
        proc.wait()
        if "in use" not in text:
            raise AssertionError("pgrouter %s did not start: %s" % (name, text[-500:]))
    raise AssertionError("pgrouter %s: no free port in 3 tries" % name)


def require():
    return start("require", "server_tls_sslmode = require")


def full():
    return start("full", "server_tls_sslmode = verify-full", "server_tls_ca_file = " + CA,
                 "server_tls_cert_file = " + os.path.join(TLS_DIR, "tlscert.crt"),
                 "server_tls_key_file = " + os.path.join(TLS_DIR, "tlscert.key"))


def connect(port, user, **kw):
    return psycopg.connect("host=127.0.0.1 port=%d user=%s password=%s dbname=appdb "
                           "connect_timeout=15 sslmode=disable" % (port, user, user), **kw)


def direct():
    return psycopg.connect("host=127.0.0.1 port=%d user=postgres password=postgres "
                           "dbname=appdb connect_timeout=10" % PRIMARY, autocommit=True)


def refused(port, user):
    """(SQLSTATE, message) of the FATAL a login through pgrouter must end with (a raw
    client: libpq does not hand the SQLSTATE of a failed login to psycopg)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    sock.settimeout(20)
    try:
        rawpg.login(sock, user, user, "appdb")
    except rawpg.PeerError as e:
        return e.fields.get("C", ""), e.fields.get("M", "")
    finally:
        sock.close()
    raise AssertionError("%s logged in through port %d" % (user, port))


def ssl_of_session(conn):
    """(ssl, version, client_dn, port) of the server session behind conn."""
    return conn.execute("SELECT ssl, version, client_dn, inet_server_port() FROM pg_stat_ssl "
                        "WHERE pid = pg_backend_pid()").fetchone()


def show_servers_tls(port):
    with psycopg.connect("host=127.0.0.1 port=%d user=admin password=admin dbname=pgrouter "
                         "sslmode=disable" % port, autocommit=True) as a:
        cur = a.execute("SHOW SERVERS")
        cols = [c.name for c in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]


@case
def hostssl_only_role_works_over_require():
    port = require()
    with connect(port, "tlsonly", autocommit=True) as c:
        ssl, version, _, _ = ssl_of_session(c)
        check(ssl is True, "pg_stat_ssl.ssl through pgrouter is %r" % ssl)
        check(version.startswith("TLSv1."), "TLS version %r" % version)
        rows = show_servers_tls(port)
        mine = [r for r in rows if r["user"] == "tlsonly"]
        check(mine, "SHOW SERVERS lists no server of tlsonly: %s" % rows)
        check(all(r["tls"].startswith("TLSv1.") and "/" in r["tls"] for r in mine),
              "SHOW SERVERS tls column: %s" % [r["tls"] for r in mine])


@case
def hostssl_only_role_works_over_verify_full_by_name_and_address():
    port = full()
    seen = set()
    with connect(port, "tlsonly", autocommit=True) as c:
        for _ in range(6):     # reads alternate: the primary (localhost) and the replica
            ssl, _, _, srv_port = ssl_of_session(c)
            check(ssl is True, "pg_stat_ssl.ssl is %r on port %d" % (ssl, srv_port))
            seen.add(srv_port)
        with c.transaction():   # BEGIN pins the primary, reached as "localhost"
            ssl, _, _, srv_port = ssl_of_session(c)
            check(ssl is True and srv_port == PRIMARY, "in a transaction: ssl %r on port %d"
                  % (ssl, srv_port))
            seen.add(srv_port)
    check(PRIMARY in seen, "no session on the primary (localhost:%d): %s" % (PRIMARY, seen))


@case
def hostssl_only_role_fails_clearly_with_disable():
    port = start("disable", "server_tls_sslmode = disable")
    state, msg = refused(port, "tlsonly")
    check(state == "28000" and "no encryption" in msg,
          "tlsonly with server_tls_sslmode = disable: %s %s" % (state, msg))
    with connect(port, "app", autocommit=True) as c:
        ssl = ssl_of_session(c)[0]
        check(ssl is False, "app with server_tls_sslmode = disable: pg_stat_ssl.ssl is %r"
              % ssl)
    rows = [r for r in show_servers_tls(port) if r["user"] == "app"]
    check(rows and all(r["tls"] == "" for r in rows), "SHOW SERVERS tls: %s" % rows)


@case
def verify_full_against_a_wrong_ca_fails_clearly():
    other = os.path.join(DIR, "otherca")
    subprocess.run(["bash", os.path.join(os.path.dirname(__file__), "tlsca.sh"), other],
                   check=True, stdout=subprocess.DEVNULL)
    port = start("wrongca", "server_tls_sslmode = verify-full",
                 "server_tls_ca_file = " + os.path.join(other, "ca.crt"))
    state, msg = refused(port, "app")
    check(state == "08001", "SQLSTATE %r: %s" % (state, msg))
    check("localhost:%d" % PRIMARY in msg and "certificate verify failed" in msg,
          "the FATAL names neither the node nor the reason: %s" % msg)


@case
def client_certificate_toward_the_server():
    with connect(full(), "tlscert", autocommit=True) as c:
        ssl, _, dn, _ = ssl_of_session(c)
        check(ssl is True and dn == "/CN=tlscert", "pg_stat_ssl: ssl %r, client_dn %r"
              % (ssl, dn))
    # Without server_tls_cert_file, HBA "cert" turns the login down: the server's words.
    state, msg = refused(require(), "tlscert")
    check(state == "28000" and "certificate" in msg, "tlscert without a certificate: %s %s"
          % (state, msg))


@case
def large_copy_in_and_out_byte_exact():
    with direct() as d:
        d.execute("DROP TABLE IF EXISTS %s" % TABLE)
        d.execute("CREATE TABLE %s (n int, b text)" % TABLE)
        d.execute("GRANT ALL ON %s TO tlsonly" % TABLE)
    rows = []
    for i in range(6000):   # ~16 MB of text with every escape COPY knows
        rows.append(b"%d\t%s\\\\\\t\\n%s\n" % (i, hashlib.sha512(b"%d" % i).hexdigest().encode()
                                               * 20, bytes([0xc3, 0xa5]) * 8))
    data = b"".join(rows)
    with connect(full(), "tlsonly") as c:
        with c.cursor() as cur:
            with cur.copy("COPY %s FROM STDIN" % TABLE) as cp:
                for k in range(0, len(data), 65536):
                    cp.write(data[k:k + 65536])
            out = bytearray()
            with cur.copy("COPY (SELECT * FROM %s ORDER BY n) TO STDOUT" % TABLE) as cp:
                for chunk in cp:
                    out += chunk
        c.commit()
    check(bytes(out) == data, "COPY out differs from COPY in (%d vs %d bytes)"
          % (len(out), len(data)))


@case
def large_results_byte_exact():
    with connect(full(), "tlsonly", autocommit=True) as c:
        got = hashlib.md5()
        n = 0
        for (v,) in c.execute("SELECT repeat(md5(i::text), 64) FROM generate_series(1, 12000) i "
                              "ORDER BY i"):
            got.update(v.encode())
            n += len(v)
        want = c.execute("SELECT md5(string_agg(repeat(md5(i::text), 64), '' ORDER BY i)) "
                         "FROM generate_series(1, 12000) i").fetchone()[0]
    check(n == 12000 * 2048, "%d bytes of rows" % n)
    check(got.hexdigest() == want, "the rows' md5 %s is not the server's %s"
          % (got.hexdigest(), want))


@case
def pipelined_extended_protocol():
    with connect(full(), "tlsonly", autocommit=True) as c:
        with c.pipeline():
            curs = [c.execute("SELECT %s::int * 2, ssl FROM pg_stat_ssl WHERE pid = "
                              "pg_backend_pid()", (i,), prepare=(i % 2 == 0)) for i in range(300)]
        for i, cur in enumerate(curs):
            row = cur.fetchone()
            check(row == (i * 2, True), "pipelined query %d answered %r" % (i, row))


@case
def cancel_reaches_a_tls_server_session():
    with connect(full(), "tlsonly", autocommit=True) as c:
        timer = threading.Timer(1.0, c.cancel)
        timer.start()
        t0 = time.monotonic()
        try:
            c.execute("SELECT pg_sleep(30)")
            raise AssertionError("pg_sleep(30) was not cancelled")
        except psycopg.errors.QueryCanceled:
            pass
        finally:
            timer.cancel()
        check(time.monotonic() - t0 < 15, "the cancel took %.1f s" % (time.monotonic() - t0))
        check(c.execute("SELECT 1").fetchone() == (1,), "the session is unusable after it")


@case
def check_refuses_verify_full_without_ca():
    ini = write_ini("badcfg", free_port(), ["server_tls_sslmode = verify-full"])
    p = subprocess.run([BIN, "-t", "-c", ini], capture_output=True, text=True, timeout=30)
    check(p.returncode == 1 and "server_tls_sslmode = verify-full needs server_tls_ca_file"
          in p.stderr + p.stdout, "pgrouter -t: exit %d: %s" % (p.returncode, p.stderr))


def cleanup():
    for proc, _ in STARTED.values():
        proc.terminate()
    for proc, _ in STARTED.values():
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    with direct() as d:
        d.execute("DROP TABLE IF EXISTS %s" % TABLE)


def main():
    return SUITE.run(need=[(BIN and DIR and CA and PRIMARY and R1,
                            "SRVTLS_BIN, SRVTLS_DIR, CLUSTER_DIR (with CLUSTER_CA_FILE), "
                            "PRIMARY_PORT and REPLICA1_PORT must be set")],
                     cleanup=cleanup)


if __name__ == "__main__":
    sys.exit(main())
