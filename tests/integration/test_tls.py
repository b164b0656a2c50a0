#!/usr/bin/python3
"""tests/integration/test_tls.py - TLS toward clients, against the instance tls.sh starts
(client_tls_sslmode = require, a CA made by tlsca.sh for this run).

Run by run.sh (tls_cases) with Debian's /usr/bin/python3 (python3-psycopg).
Environment: TLS_PORT, TLS_PID, TLS_DIR (the instance's pgrouter.ini and pgrouter.log),
TLS_CA_DIR (ca.crt, server.crt/.key, app.crt/.key), PGR_PORT (the plain main instance),
PRIMARY_PORT, PGBIN, PGROUTER_BIN, NODE_DIR and NODE_OK (1 if node_modules is usable).

What the README promises ("TLS toward clients") and each case checks:
  - psql, psycopg 3, node-postgres and postgres.js with sslmode=require and verify-full
    (the test CA, host name localhost); a CA that did not sign the certificate fails;
  - a plain startup under require is refused with FATAL 28000; GSSENCRequest gets 'N'
    and an SSLRequest after it 'S'; bytes sent after an SSLRequest before the answer are
    refused (08P01, CVE-2021-23214); garbage instead of a ClientHello is a clean close
    with a log line, and pgrouter goes on serving;
  - SHOW CLIENTS shows the protocol/cipher/key exchange in its tls column (empty when
    plain);
  - tens of MB of COPY out and in and pipelined extended-protocol batches over TLS are
    byte-exact; pgbench over TLS with more clients than the pool fails nothing;
  - verify-ca demands a client certificate signed by client_tls_ca_file;
  - SIGHUP reloads the certificate (new connections get the new one, a connection made
    before keeps working); a key that does not match refuses the reload and keeps the
    old certificate; pgrouter -t names a bad TLS key with file:line.
Prints one `ok - tls: NAME` or `not ok - tls: NAME: reason` line per case and exits 1 if
any failed.  Arguments, if given, are substrings of case names.
"""

import hashlib
import os
import re
import signal
import socket
import ssl
import struct
import subprocess
import sys
import time

import psycopg

import rawpg
from itest import PGBIN, PRIMARY, Skip, Suite, check, env_int, measured, wait_for

TLS_DIR = os.environ.get("TLS_DIR", "")
CA_DIR = os.environ.get("TLS_CA_DIR", "")
CA = os.path.join(CA_DIR, "ca.crt")
INI = os.path.join(TLS_DIR, "pgrouter.ini")
LOG = os.path.join(TLS_DIR, "pgrouter.log")
GSSENC_REQUEST_CODE = 80877104

SUITE = Suite("tls")
case = SUITE.case


def port():
    return env_int("TLS_PORT")


def conninfo(sslmode, host="127.0.0.1", user="app", password="app", db="appdb", **extra):
    s = ("host=%s port=%d user=%s password=%s dbname=%s sslmode=%s connect_timeout=10"
         % (host, port(), user, password, db, sslmode))
    for k, v in extra.items():
        s += " %s=%s" % (k, v)
    return s


def connect(sslmode="require", **kw):
    extra = {k: kw.pop(k) for k in list(kw) if k in ("sslrootcert", "sslcert", "sslkey",
                                                     "application_name", "host")}
    host = extra.pop("host", "127.0.0.1")
    kw.setdefault("autocommit", True)
    return psycopg.connect(conninfo(sslmode, host=host, **extra), **kw)


def psql(info, *args, env=None):
    return subprocess.run([PGBIN + "/psql", "-X", "-At", info] + list(args),
                          capture_output=True, text=True, timeout=60, env=env)


def log_size():
    return os.path.getsize(LOG)


def log_since(off):
    with open(LOG, "rb") as f:
        f.seek(off)
        return f.read().decode("utf-8", "replace")


def set_keys(**keys):
    """Set [pgrouter] keys of the instance's config (client_tls_sslmode=...)."""
    with open(INI) as f:
        text = f.read()
    for k, v in keys.items():
        text, n = re.subn(r"(?m)^%s\s*=.*$" % k, "%s = %s" % (k, v), text)
        if n == 0:
            text = text.replace("[pgrouter]\n", "[pgrouter]\n%s = %s\n" % (k, v), 1)
    with open(INI + ".new", "w") as f:
        f.write(text)
    os.replace(INI + ".new", INI)


def reload(expect="configuration reloaded"):
    off = log_size()
    os.kill(env_int("TLS_PID"), signal.SIGHUP)
    wait_for("'%s' after SIGHUP" % expect, lambda: expect in log_since(off), 20)
    return log_since(off)


def raw(timeout=10):
    s = socket.create_connection(("127.0.0.1", port()), timeout=timeout)
    s.settimeout(timeout)
    return s


def ssl_request(sock):
    sock.sendall(struct.pack("!ii", 8, rawpg.SSL_REQUEST_CODE))
    return rawpg.recv_exact(sock, 1)


def tls_wrap(sock, verify=False):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if verify:
        ctx.load_verify_locations(CA)
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx.wrap_socket(sock, server_hostname="localhost")


def served_cert():
    """The DER certificate pgrouter serves to a new TLS connection now."""
    with raw() as s:
        check(ssl_request(s) == b"S", "SSLRequest not answered 'S'")
        t = tls_wrap(s)
        der = t.getpeercert(binary_form=True)
        t.close()
        return der


def file_der(path):
    return ssl.PEM_cert_to_DER_cert(open(path).read())


# ---- clients --------------------------------------------------------------

@case
def psql_require_and_verify_full():
    r = psql(conninfo("require"), "-c", r"\conninfo")
    check(r.returncode == 0, "psql sslmode=require: %s" % r.stderr.strip())
    check("SSL connection (protocol: TLSv1.3" in r.stdout, "no TLS in \\conninfo: %s"
          % r.stdout.strip())
    for host in ("localhost", "127.0.0.1"):
        r = psql(conninfo("verify-full", host=host, sslrootcert=CA), "-c",
                 "SELECT current_user || '/' || 6 * 7")
        check(r.returncode == 0 and r.stdout.strip() == "app/42",
              "psql verify-full host=%s: %s %s" % (host, r.stdout.strip(), r.stderr.strip()))
    # A CA that did not sign pgrouter's certificate: the client must refuse.
    other = os.path.join(CA_DIR, "other", "ca.crt")
    r = psql(conninfo("verify-full", host="localhost", sslrootcert=other), "-c", "SELECT 1")
    check(r.returncode != 0 and "certificate verify failed" in r.stderr,
          "verify-full against another CA: rc %d %s" % (r.returncode, r.stderr.strip()))


@case
def psycopg_require_and_verify_full():
    with connect("require") as c:
        check(c.pgconn.ssl_in_use, "psycopg require: no TLS")
        check(c.execute("SELECT 1").fetchone()[0] == 1, "psycopg require: SELECT 1")
    with connect("verify-full", host="localhost", sslrootcert=CA) as c:
        check(c.pgconn.ssl_in_use, "psycopg verify-full: no TLS")
        check(c.execute("SELECT %s::int + 1", (41,)).fetchone()[0] == 42,
              "psycopg verify-full: query")


@case
def node_pg_and_postgres_js():
    if os.environ.get("NODE_OK") != "1":
        raise Skip("node_modules of tests/integration/node not installed")
    env = dict(os.environ, PGR_PORT=str(port()), TLS_CA=CA)
    r = subprocess.run(["node", os.path.join(os.environ["NODE_DIR"], "tls.js")],
                       capture_output=True, text=True, timeout=120, env=env)
    out = (r.stdout + r.stderr).strip()
    check(r.returncode == 0 and out.startswith("ok "), "node tls.js: %s" % out[-600:])
    for want in ("pg-require TLSv1.3", "pg-verify-full TLSv1.3", "postgres-require",
                 "postgres-verify-full"):
        check(want in out, "node tls.js did not report %s: %s" % (want, out))


# ---- the protocol around TLS ----------------------------------------------

@case
def plain_startup_refused_under_require():
    with raw() as s:
        s.sendall(rawpg.startup_packet("app", "appdb"))
        mtype, payload = rawpg.read_msg(s)
        check(mtype == b"E", "a plain startup got %r, not an ErrorResponse" % mtype)
        f = rawpg.parse_error(payload)
        check(f.get("S") == "FATAL" and f.get("C") == "28000",
              "plain startup: %s" % rawpg.PeerError(f).line())
        check("requires TLS" in f.get("M", ""), "message: %s" % f.get("M"))
        check(rawpg.closed_after(s), "the connection stayed open")
    r = psql(conninfo("disable"), "-c", "SELECT 1")
    check(r.returncode != 0 and "pgrouter requires TLS" in r.stderr,
          "psql sslmode=disable: %s" % r.stderr.strip())
    # A CancelRequest stays plain (libpq sends it so): it is not refused for that.
    with raw() as s:
        s.sendall(struct.pack("!iiii", 16, rawpg.CANCEL_REQUEST_CODE, 1, 2))
        check(rawpg.closed_after(s), "a plain CancelRequest was not just closed")


@case
def gssenc_then_ssl_then_login():
    with raw() as s:
        s.sendall(struct.pack("!ii", 8, GSSENC_REQUEST_CODE))
        check(rawpg.recv_exact(s, 1) == b"N", "GSSENCRequest not answered 'N'")
        check(ssl_request(s) == b"S", "SSLRequest after GSSENC not answered 'S'")
        t = tls_wrap(s, verify=True)
        rawpg.login(t, "app", "app", "appdb")
        check(rawpg.simple_query(t, "SELECT 'over ' || 'tls'") == "over tls", "query")
        t.close()
    with raw() as s:
        # A second SSLRequest inside TLS, before the startup packet: a protocol violation.
        check(ssl_request(s) == b"S", "SSLRequest not answered 'S'")
        t = tls_wrap(s)
        t.sendall(struct.pack("!ii", 8, rawpg.SSL_REQUEST_CODE))
        mtype, payload = rawpg.read_msg(t)
        f = rawpg.parse_error(payload) if mtype == b"E" else {}
        check(f.get("C") == "08P01" and "uses TLS already" in f.get("M", ""),
              "an SSLRequest inside TLS got %r %s" % (mtype, f))
        t.close()


@case
def unencrypted_data_after_ssl_request_refused():
    with raw() as s:
        # SSLRequest and a startup packet in one write: the startup was not protected.
        s.sendall(struct.pack("!ii", 8, rawpg.SSL_REQUEST_CODE) +
                  rawpg.startup_packet("app", "appdb"))
        first = rawpg.recv_exact(s, 1)
        check(first == b"E", "answered %r instead of an ErrorResponse" % first)
        (length,) = struct.unpack("!i", rawpg.recv_exact(s, 4))
        f = rawpg.parse_error(rawpg.recv_exact(s, length - 4))
        check(f.get("C") == "08P01" and
              f.get("M") == "received unencrypted data after SSL request",
              "got %s" % rawpg.PeerError(f).line())
        check(rawpg.closed_after(s), "the connection stayed open")


@case
def garbage_instead_of_client_hello():
    off = log_size()
    t0 = time.monotonic()
    with raw() as s:
        check(ssl_request(s) == b"S", "SSLRequest not answered 'S'")
        s.sendall(b"GET / HTTP/1.1\r\nHost: pgrouter\r\n\r\n" + os.urandom(300))
        s.settimeout(10)
        closed = False
        try:
            while s.recv(4096):
                pass
            closed = True
        except ConnectionResetError:
            closed = True
        except socket.timeout:
            pass
        check(closed, "pgrouter kept a connection that sent garbage open")
    check(time.monotonic() - t0 < 10, "took %.1f s to close" % (time.monotonic() - t0))
    wait_for("a log line for the failed handshake",
             lambda: re.search(r"TLS handshake from 127\.0\.0\.1:\d+ failed",
                               log_since(off)), 10)
    with connect("require") as c:
        check(c.execute("SELECT 2").fetchone()[0] == 2, "pgrouter stopped serving")


@case
def show_clients_tls_column():
    with connect("require", application_name="tls_probe"):
        with psycopg.connect(conninfo("require", user="admin", password="admin",
                                      db="pgrouter"), autocommit=True) as adm:
            cur = adm.execute("SHOW CLIENTS")
            cols = [d.name for d in cur.description]
            check("tls" in cols, "SHOW CLIENTS has no tls column: %s" % cols)
            check(cols.index("tls") == cols.index("remote_pid") + 1 and
                  cols.index("application_name") == cols.index("tls") + 1,
                  "tls is not between remote_pid and application_name: %s" % cols)
            rows = [dict(zip(cols, r)) for r in cur.fetchall()]
            probe = [r for r in rows if r["application_name"] == "tls_probe"]
            check(len(probe) == 1, "no tls_probe row: %s" % rows)
            check(re.fullmatch(r"TLSv1\.3/TLS_[A-Z0-9_]+/ECDH=\w+", probe[0]["tls"]),
                  "tls column %r" % probe[0]["tls"])
    # The plain main instance: the column is there and empty.
    main = int(os.environ["PGR_PORT"])
    with psycopg.connect("host=127.0.0.1 port=%d user=admin password=admin dbname=pgrouter "
                         "sslmode=disable" % main, autocommit=True) as adm:
        cur = adm.execute("SHOW CLIENTS")
        cols = [d.name for d in cur.description]
        rows = [dict(zip(cols, r)) for r in cur.fetchall()]
        check(rows and all(r["tls"] == "" for r in rows), "plain clients' tls: %s"
              % [r["tls"] for r in rows])


# ---- traffic over TLS -----------------------------------------------------

COPY_SQL = ("COPY (SELECT i, repeat(md5(i::text), 16) FROM generate_series(1, 60000) i) "
            "TO STDOUT")


def copy_out(c):
    h = hashlib.sha256()
    n = 0
    with c.cursor().copy(COPY_SQL) as cp:
        for block in cp:
            h.update(block)
            n += len(block)
    return n, h.hexdigest()


@case
def large_copy_out_and_in_byte_exact():
    direct = psycopg.connect("host=127.0.0.1 port=%d user=app password=app dbname=appdb "
                             "sslmode=disable" % PRIMARY, autocommit=True)
    with direct, connect("require") as c:
        want = copy_out(direct)
        got = copy_out(c)
        check(want[0] > 25 * 1024 * 1024, "COPY out is only %d bytes" % want[0])
        check(got == want, "COPY out over TLS: %d bytes %s, direct %d bytes %s"
              % (got + want))
        # A large result set (not COPY): rows of 8 kB, 40 MB in all.
        rows = c.execute("SELECT i, repeat(chr(65 + i % 26), 8192) FROM "
                         "generate_series(1, 5000) i").fetchall()
        check(len(rows) == 5000 and all(r[1] == chr(65 + r[0] % 26) * 8192 for r in rows),
              "large result over TLS differs")
        # COPY in: 20 MB through TLS, checked on the primary directly.
        c.execute("DROP TABLE IF EXISTS itest_tls_copy")
        c.execute("CREATE TABLE itest_tls_copy (i int, t text)")
        h = hashlib.md5()
        with c.cursor().copy("COPY itest_tls_copy FROM STDIN") as cp:
            for i in range(1, 40001):
                line = "%d\t%s\n" % (i, ("%08d" % i) * 64)
                cp.write(line)
                h.update(("%08d" % i).encode() * 64)
        got = direct.execute("SELECT count(*), md5(string_agg(t, '' ORDER BY i)) "
                             "FROM itest_tls_copy").fetchone()
        check(got == (40000, h.hexdigest()), "COPY in over TLS: %s" % (got,))
        c.execute("DROP TABLE itest_tls_copy")


@case
def pipelined_extended_protocol():
    with connect("require") as c:
        with c.pipeline():
            curs = []
            for i in range(400):
                cur = c.cursor()
                cur.execute("SELECT %s::int * 3, repeat('x', %s)", (i, i * 37))
                curs.append((i, cur))
        for i, cur in curs:
            row = cur.fetchone()
            check(row == (i * 3, "x" * (i * 37)), "pipelined query %d: %r" % (i, row[:1]))


def pgbench(port_, sslmode, secs, clients, *extra):
    env = dict(os.environ, PGPASSWORD="app", PGSSLMODE=sslmode)
    r = subprocess.run([PGBIN + "/pgbench", "-h", "127.0.0.1", "-p", str(port_), "-U", "app",
                        "-n", "-S", "-c", str(clients), "-j", "2", "-T", str(secs)] +
                       list(extra) + ["appdb"], capture_output=True, text=True,
                       timeout=secs + 120, env=env)
    out = r.stdout + r.stderr
    n = re.search(r"number of transactions actually processed: (\d+)", out)
    failed = re.search(r"number of failed transactions: (\d+)", out)
    tps = re.search(r"tps = ([\d.]+) \(without initial", out)
    check(r.returncode == 0 and n and int(n.group(1)) > 0,
          "pgbench sslmode=%s: rc %d %s" % (sslmode, r.returncode, out[-400:]))
    check(failed is None or int(failed.group(1)) == 0, "pgbench failed transactions: %s"
          % out[-400:])
    return float(tps.group(1)) if tps else 0.0


@case
def pgbench_over_tls_more_clients_than_pool():
    with psycopg.connect("host=127.0.0.1 port=%d user=app password=app dbname=appdb "
                         "sslmode=disable" % PRIMARY, autocommit=True) as d:
        have = d.execute("SELECT to_regclass('pgbench_accounts') IS NOT NULL").fetchone()[0]
    if not have:
        raise Skip("no pgbench tables (pgbench_init did not run)")
    # default_pool_size is 20: 30 clients queue for servers, over TLS, extended protocol.
    tls = pgbench(port(), "require", 4, 30, "-M", "extended")
    plain = pgbench(int(os.environ["PGR_PORT"]), "disable", 4, 30, "-M", "extended")
    measured("pgbench -S -M extended -c 30 -T 4: TLS %.0f tps, plain %.0f tps (ratio %.2f)"
             % (tls, plain, tls / plain if plain else 0))


# ---- certificates ---------------------------------------------------------

@case
def verify_ca_requires_a_client_certificate():
    set_keys(client_tls_sslmode="verify-ca")
    try:
        reload()
        off = log_size()
        r = psql(conninfo("require"), "-c", "SELECT 1")
        check(r.returncode != 0, "verify-ca let in a client without a certificate")
        wait_for("a log line for the refused handshake",
                 lambda: "TLS handshake from 127.0.0.1" in log_since(off), 10)
        r = psql(conninfo("verify-full", host="localhost", sslrootcert=CA,
                          sslcert=os.path.join(CA_DIR, "app.crt"),
                          sslkey=os.path.join(CA_DIR, "app.key")),
                 "-c", "SELECT 'with cert'")
        check(r.returncode == 0 and r.stdout.strip() == "with cert",
              "verify-ca with a client certificate: %s" % r.stderr.strip())
        # A certificate from another CA is refused too.
        r = psql(conninfo("require", sslcert=os.path.join(CA_DIR, "other", "app.crt"),
                          sslkey=os.path.join(CA_DIR, "other", "app.key")), "-c", "SELECT 1")
        check(r.returncode != 0, "verify-ca let in a certificate of another CA")
    finally:
        set_keys(client_tls_sslmode="require")
        reload()
    with connect("require") as c:
        check(c.execute("SELECT 1").fetchone()[0] == 1, "require again after verify-ca")


@case
def certificates_reloaded_on_sighup():
    first = os.path.join(CA_DIR, "server.crt")
    second_dir = os.path.join(CA_DIR, "other")
    second = os.path.join(second_dir, "server.crt")
    check(served_cert() == file_der(first), "not serving %s at the start" % first)
    before = connect("require")
    try:
        set_keys(client_tls_cert_file=second,
                 client_tls_key_file=os.path.join(second_dir, "server.key"))
        reload()
        check(served_cert() == file_der(second), "still the old certificate after SIGHUP")
        check(before.execute("SELECT 'kept'").fetchone()[0] == "kept",
              "a connection from before the reload broke")
        # A key that is not the certificate's: the reload is refused, the cert stays.
        set_keys(client_tls_key_file=os.path.join(CA_DIR, "server.key"))
        text = reload(expect="reload failed")
        check("client_tls_key_file" in text, "the refusal does not name the key: %s" % text)
        check(served_cert() == file_der(second), "a refused reload changed the certificate")
    finally:
        before.close()
        set_keys(client_tls_cert_file=first,
                 client_tls_key_file=os.path.join(CA_DIR, "server.key"))
        reload()
    check(served_cert() == file_der(first), "the first certificate did not come back")


@case
def check_mode_names_bad_tls_key_with_line():
    bad = os.path.join(TLS_DIR, "bad.ini")
    with open(INI) as f:
        text = f.read()
    text = re.sub(r"(?m)^client_tls_key_file\s*=.*$",
                  "client_tls_key_file = " + os.path.join(CA_DIR, "app.key"), text)
    with open(bad, "w") as f:
        f.write(text)
    line = [i + 1 for i, ln in enumerate(text.splitlines())
            if ln.startswith("client_tls_key_file")][0]
    r = subprocess.run([os.environ["PGROUTER_BIN"], "-t", "-c", bad], capture_output=True,
                       text=True, timeout=30)
    out = r.stdout + r.stderr
    check(r.returncode == 1, "pgrouter -t exited %d: %s" % (r.returncode, out))
    check("%s:%d: client_tls_key_file:" % (bad, line) in out and "is not the key of" in out,
          "pgrouter -t said: %s" % out.strip())


if __name__ == "__main__":
    sys.exit(SUITE.run())
