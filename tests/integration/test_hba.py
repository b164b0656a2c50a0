#!/usr/bin/python3
"""tests/integration/test_hba.py - auth_hba_file rules and auth_query lookups.

Run by run.sh (run_py hba) with Debian's /usr/bin/python3.  Environment: HBA_DIR (run.sh's
ITEST_DIR: each pgrouter this file starts keeps its config, files and log in
HBA_DIR/NAME/), HBA_BIN (the pgrouter binary), PRIMARY_PORT (reached directly as
postgres/postgres), PGBIN.

What the README promises and each case checks:
  - auth_type = hba: the first rule matching connection type, address, database and user
    decides: reject (FATAL 28000 "pg_hba.conf rejects connection ..."), trust, md5 or
    scram-sha-256 (the exchange the client is asked for); no matching rule is FATAL 28000
    "no pg_hba.conf entry ..."; an address rule for 10.0.0.0/8 does not let 127.0.0.1 in;
    the admin console goes through the rules too;
  - with client TLS: hostssl and hostnossl lines follow the connection, and cert admits a
    client whose verified certificate's CN is the user name (no password), and refuses
    another CN or no certificate;
  - `pgrouter -t` on a bad HBA file lists every problem as file:line;
  - SIGHUP with a changed HBA file changes who may log in; a bad one refuses the reload
    and the running rules stay;
  - auth_query: a user only on the server logs in with psql and psycopg (the secret comes
    from a SECURITY DEFINER function, as auth_user, which is no superuser); a wrong
    password and an unknown user both fail 28P01 with the same message; ALTER ROLE ...
    PASSWORD takes effect once auth_query_cache_ttl has passed; a slow lookup (pg_sleep in
    the function) does not hold other clients' queries; 20 concurrent logins of one user
    do one lookup.
The servers keep scram-sha-256 for 127.0.0.1: pgrouter, which has no password of the
auth_query users, logs in to them by SCRAM pass-through with the looked-up secret.

Prints one `ok - hba: NAME` or `not ok - hba: NAME: reason` line per case and exits 1 if any
failed.  Arguments, if given, are substrings of case names.
"""

import hashlib
import os
import re
import signal
import socket
import subprocess
import threading
import time

import psycopg

import rawpg
from itest import PGBIN, PRIMARY, Suite, check, free_port, wait_for  # noqa: E402

HBA_DIR = os.environ.get("HBA_DIR", "")
SUITE = Suite("hba")
case = SUITE.case
STARTED = []
ROLES = {"hba_rej": "rej_pw", "hba_trust": "trust_pw", "hba_md5": "md5_pw",
         "hba_scram": "scram_pw", "hba_authq": "authq_pw", "hba_a": "a_pw",
         "hba_cert": "cert_pw"}
# only on the server: auth_query finds them
QROLES = {"hba_q1": "q1_pw", "hba_qslow": "qslow_pw", "hba_qmany": "qmany_pw"}
STATE = {}

HBA_RULES = """# test_hba.py
host  appdb     hba_rej    127.0.0.1/32  reject
host  all       hba_trust  127.0.0.1/32  trust
host  appdb     hba_md5    127.0.0.1/32  md5
host  appdb     hba_scram  127.0.0.1/32  scram-sha-256
host  postgres  all        10.0.0.0/8    trust
hostnossl postgres,"pgrouter" hba_scram 127.0.0.1 255.0.0.0 scram-sha-256
"""


def direct(dbname="appdb"):
    return psycopg.connect("host=127.0.0.1 port=%d user=postgres password=postgres dbname=%s "
                           "connect_timeout=10" % (PRIMARY, dbname), autocommit=True)


def read_log(path, since=0):
    with open(path, "rb") as f:
        f.seek(since)
        return f.read().decode("utf-8", "replace")


def log_size(path):
    return os.path.getsize(path)


def wait_line(path, pattern, since=0, secs=20):
    rx = re.compile(pattern, re.M)
    found = []
    wait_for("%r in %s" % (pattern, path),
             lambda: found.append(rx.search(read_log(path, since))) or found[-1], secs)
    return found[-1]


def start(name, ini_text, files):
    """Start pgrouter NAME in HBA_DIR/NAME with ini_text (a format with %(port)d) and
    files {name: text}; returns (proc, port, dir)."""
    d = os.path.join(HBA_DIR, name)
    os.makedirs(d, exist_ok=True)
    for fname, text in files.items():
        with open(os.path.join(d, fname), "w") as f:
            f.write(text)
    ini, log = os.path.join(d, "pgrouter.ini"), os.path.join(d, "pgrouter.log")
    for _ in range(3):
        port = free_port()
        with open(ini, "w") as f:
            f.write(ini_text % {"port": port, "primary": PRIMARY, "dir": d})
        out = open(log, "ab")
        since = out.tell()
        proc = subprocess.Popen([os.environ["HBA_BIN"], "-c", ini], stdout=out,
                                stderr=subprocess.STDOUT)
        out.close()
        STARTED.append(proc)
        deadline = time.monotonic() + 20
        while proc.poll() is None and time.monotonic() < deadline:
            if "listening on" in read_log(log, since):
                return proc, port, d
            time.sleep(0.05)
        if proc.poll() is not None and "in use" in read_log(log, since):
            continue
        raise AssertionError("pgrouter %s did not start: %s" % (name, read_log(log, since)[-600:]))
    raise AssertionError("pgrouter %s: no free port in 3 tries" % name)


def login(port, user, password, db="appdb"):
    """Log in with a raw client. Returns (auth request code, None) once logged in (0 trust,
    5 md5, 10 SASL), or (code or None, error fields) when refused."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    sock.settimeout(20)
    code = None
    try:
        sock.sendall(rawpg.startup_packet(user, db))
        code, data = rawpg.expect_auth(sock)
        if code == 5:
            inner = hashlib.md5((password + user).encode()).hexdigest()
            outer = hashlib.md5(inner.encode() + data[:4]).hexdigest()
            sock.sendall(rawpg.msg(b"p", b"md5" + outer.encode() + b"\0"))
            check(rawpg.expect_auth(sock)[0] == 0, "no AuthenticationOk after md5")
        elif code == 10:
            rawpg.scram_login(sock, password, data)
        elif code != 0:
            raise AssertionError("unexpected authentication request %d" % code)
        while True:
            mtype, payload = rawpg.read_msg(sock)
            if mtype == b"E":
                return code, rawpg.parse_error(payload)
            if mtype == b"Z":
                sock.sendall(rawpg.msg(b"X", b""))
                return code, None
    except rawpg.PeerError as e:
        return code, e.fields
    except ValueError as e:
        # SCRAM: a server that fails the exchange answers with an ErrorResponse instead
        raise AssertionError("%s@%s: %s" % (user, db, e))
    finally:
        sock.close()


def refused(port, user, password, db, sqlstate, message=None):
    code, err = login(port, user, password, db)
    check(err is not None, "%s@%s logged in (auth code %s)" % (user, db, code))
    check(err.get("C") == sqlstate, "%s@%s: %s, expected %s" % (user, db, err, sqlstate))
    if message is not None:
        check(err.get("M") == message, "%s@%s: message %r, expected %r"
              % (user, db, err.get("M"), message))
    return err


def logged_in(port, user, password, db, code):
    got, err = login(port, user, password, db)
    check(err is None, "%s@%s refused: %s" % (user, db, err))
    check(got == code, "%s@%s: authentication request %s, expected %s" % (user, db, got, code))


def ensure_roles():
    if STATE.get("roles"):
        return
    with direct() as c:
        for role, pw in list(ROLES.items()) + list(QROLES.items()):
            c.execute("DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '%s') "
                      "THEN CREATE ROLE %s LOGIN; END IF; END$$" % (role, role))
            c.execute("ALTER ROLE %s LOGIN PASSWORD '%s'" % (role, pw))
    STATE["roles"] = True


def hba_instance():
    if "hba" in STATE:
        return STATE["hba"]
    ensure_roles()
    users = "".join('"%s" "%s"\n' % kv for kv in ROLES.items())
    ini = ("[pgrouter]\nlisten_addr = 127.0.0.1\nlisten_port = %(port)d\nauth_type = hba\n"
           "auth_file = userlist.txt\nauth_hba_file = hba.conf\nadmin_users = hba_scram\n"
           "\n[cluster.main]\nprimary = 127.0.0.1:%(primary)d\n")
    STATE["hba"] = start("hba_rules", ini, {"userlist.txt": users, "hba.conf": HBA_RULES})
    return STATE["hba"]


# ---- auth_hba_file ------------------------------------------------------------

@case
def rules_pick_the_exchange_by_user_database_and_address():
    _, port, _ = hba_instance()
    refused(port, "hba_rej", ROLES["hba_rej"], "appdb", "28000",
            'pg_hba.conf rejects connection for host "127.0.0.1", user "hba_rej", database '
            '"appdb", no encryption')
    # trust asks for no password at all: a wrong one does not matter
    logged_in(port, "hba_trust", "not the password", "appdb", 0)
    logged_in(port, "hba_trust", "", "postgres", 0)
    logged_in(port, "hba_md5", ROLES["hba_md5"], "appdb", 5)
    refused(port, "hba_md5", "wrong", "appdb", "28P01")
    logged_in(port, "hba_scram", ROLES["hba_scram"], "appdb", 10)
    refused(port, "hba_scram", "wrong", "appdb", "28P01")
    # the 10.0.0.0/8 trust line is not for 127.0.0.1; nothing else matches hba_md5@postgres
    refused(port, "hba_md5", ROLES["hba_md5"], "postgres", "28000",
            'no pg_hba.conf entry for host "127.0.0.1", user "hba_md5", database "postgres", '
            'no encryption')
    # address and mask, hostnossl: a plain connection from 127.x matches
    logged_in(port, "hba_scram", ROLES["hba_scram"], "postgres", 10)
    refused(port, "hba_rej", ROLES["hba_rej"], "postgres", "28000")


@case
def admin_console_goes_through_the_rules():
    _, port, _ = hba_instance()
    logged_in(port, "hba_scram", ROLES["hba_scram"], "pgrouter", 10)
    refused(port, "hba_md5", ROLES["hba_md5"], "pgrouter", "28000",
            'no pg_hba.conf entry for host "127.0.0.1", user "hba_md5", database "pgrouter", '
            'no encryption')
    with psycopg.connect("host=127.0.0.1 port=%d user=hba_scram password=%s dbname=pgrouter "
                         "connect_timeout=10" % (port, ROLES["hba_scram"]),
                         autocommit=True) as c:
        check(len(c.execute("SHOW POOLS").fetchall()) >= 0, "SHOW POOLS")


@case
def check_mode_lists_every_hba_problem_with_its_line():
    d = os.path.join(HBA_DIR, "hba_check")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "bad.conf"), "w") as f:
        f.write("host all all 127.0.0.1/32 trust\n"
                "host all +staff 127.0.0.1/32 md5\n"
                "# fine\n"
                "host all all db.example.com md5\n"
                "host all all 127.0.0.1/32 ident\n"
                "hostssl all all all md5 clientcert=verify-full\n")
    with open(os.path.join(d, "users.txt"), "w") as f:
        f.write('"a" "b"\n')
    ini = os.path.join(d, "pgrouter.ini")
    with open(ini, "w") as f:
        f.write("[pgrouter]\nlisten_port = 6432\nauth_type = hba\nauth_file = users.txt\n"
                "auth_hba_file = bad.conf\n[cluster.main]\nprimary = 127.0.0.1:5432\n")
    r = subprocess.run([os.environ["HBA_BIN"], "-t", "-c", ini], capture_output=True,
                       text=True, timeout=30)
    out = r.stdout + r.stderr
    check(r.returncode != 0, "pgrouter -t accepted a bad HBA file: %s" % out)
    bad = os.path.join(d, "bad.conf")
    for line, words in ((2, "group membership"), (4, "host names are not supported"),
                        (5, 'method "ident" is not supported'),
                        (6, 'option "clientcert=verify-full" is not supported')):
        check("%s:%d: " % (bad, line) in out and words in out,
              "no %s:%d (%s) in: %s" % (bad, line, words, out))
    check(out.count(bad + ":") == 4, "expected 4 problems: %s" % out)
    # auth_type = hba without a file
    with open(ini, "w") as f:
        f.write("[pgrouter]\nlisten_port = 6432\nauth_type = hba\nauth_file = users.txt\n"
                "[cluster.main]\nprimary = 127.0.0.1:5432\n")
    r = subprocess.run([os.environ["HBA_BIN"], "-t", "-c", ini], capture_output=True,
                       text=True, timeout=30)
    check(r.returncode != 0 and "auth_hba_file is required when auth_type = hba"
          in r.stdout + r.stderr, "auth_type = hba without a file: %s" % (r.stdout + r.stderr))


@case
def sighup_applies_a_changed_hba_file_and_refuses_a_bad_one():
    proc, port, d = hba_instance()
    path = os.path.join(d, "hba.conf")
    log = os.path.join(d, "pgrouter.log")
    try:
        since = log_size(log)
        with open(path, "w") as f:
            f.write("host all hba_trust 127.0.0.1/32 reject\n" + HBA_RULES)
        proc.send_signal(signal.SIGHUP)
        wait_line(log, r"configuration reloaded", since)
        refused(port, "hba_trust", "", "appdb", "28000")
        logged_in(port, "hba_scram", ROLES["hba_scram"], "appdb", 10)
        since = log_size(log)
        with open(path, "w") as f:
            f.write("host all hba_trust 127.0.0.1/32 trust\nhost all all samehost md5\n")
        proc.send_signal(signal.SIGHUP)
        m = wait_line(log, r"reload failed, keeping the running configuration:\n(.*)", since)
        check("hba.conf:2: address \"samehost\" is not supported" in m.group(1),
              "reload error: %r" % m.group(1))
        refused(port, "hba_trust", "", "appdb", "28000")
        logged_in(port, "hba_scram", ROLES["hba_scram"], "appdb", 10)
    finally:
        since = log_size(log)
        with open(path, "w") as f:
            f.write(HBA_RULES)
        proc.send_signal(signal.SIGHUP)
        wait_line(log, r"configuration reloaded", since)
    logged_in(port, "hba_trust", "", "appdb", 0)



TLS_RULES = """# test_hba.py, with client TLS
hostssl    appdb  hba_cert   127.0.0.1/32  cert
hostnossl  appdb  hba_scram  127.0.0.1/32  reject
hostssl    appdb  hba_scram  127.0.0.1/32  scram-sha-256
hostnossl  appdb  hba_md5    127.0.0.1/32  md5
"""


def tls_instance():
    if "tls" in STATE:
        return STATE["tls"]
    ensure_roles()
    ca = os.path.join(HBA_DIR, "hba_tls", "ca")
    r = subprocess.run(["bash", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                             "tlsca.sh"), ca, "hba_cert", "hba_other"],
                       capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, "tlsca.sh: %s" % r.stderr[-300:])
    users = "".join('"%s" "%s"\n' % kv for kv in ROLES.items())
    ini = ("[pgrouter]\nlisten_addr = 127.0.0.1\nlisten_port = %(port)d\nauth_type = hba\n"
           "auth_file = userlist.txt\nauth_hba_file = hba.conf\nclient_tls_sslmode = prefer\n"
           "client_tls_cert_file = %(dir)s/ca/server.crt\n"
           "client_tls_key_file = %(dir)s/ca/server.key\n"
           "client_tls_ca_file = %(dir)s/ca/ca.crt\n"
           "\n[cluster.main]\nprimary = 127.0.0.1:%(primary)d\n")
    STATE["tls"] = start("hba_tls", ini, {"userlist.txt": users, "hba.conf": TLS_RULES})
    STATE["ca"] = ca
    return STATE["tls"]


def tls_connect(port, user, sslmode, password="", cert=None):
    """Connect with psycopg; returns None when logged in, else the error text."""
    extra = ""
    if cert is not None:
        extra = " sslcert=%s/%s.crt sslkey=%s/%s.key" % (STATE["ca"], cert, STATE["ca"], cert)
    try:
        with psycopg.connect("host=127.0.0.1 port=%d user=%s password=%s dbname=appdb "
                             "sslmode=%s connect_timeout=10%s"
                             % (port, user, password or "x", sslmode, extra)) as c:
            check(c.execute("SELECT current_user").fetchone()[0] == user, "current_user")
            check(bool(c.pgconn.ssl_in_use) == (sslmode != "disable"), "ssl_in_use")
        return None
    except psycopg.OperationalError as e:
        return str(e)


@case
def hostssl_hostnossl_and_cert_follow_the_connection():
    _, port, _ = tls_instance()
    e = tls_connect(port, "hba_scram", "disable", ROLES["hba_scram"])
    check(e is not None and 'pg_hba.conf rejects connection for host "127.0.0.1", user '
          '"hba_scram", database "appdb", no encryption' in e, "hba_scram plain: %s" % e)
    e = tls_connect(port, "hba_scram", "require", ROLES["hba_scram"])
    check(e is None, "hba_scram over TLS: %s" % e)
    e = tls_connect(port, "hba_md5", "require", ROLES["hba_md5"])
    check(e is not None and 'no pg_hba.conf entry for host "127.0.0.1", user "hba_md5", '
          'database "appdb", SSL encryption' in e, "hba_md5 over TLS: %s" % e)
    e = tls_connect(port, "hba_md5", "disable", ROLES["hba_md5"])
    check(e is None, "hba_md5 plain: %s" % e)
    # cert: the certificate's CN is the user; no password is asked
    e = tls_connect(port, "hba_cert", "require", cert="hba_cert")
    check(e is None, "hba_cert with its certificate: %s" % e)
    e = tls_connect(port, "hba_cert", "require", cert="hba_other")
    check(e is not None and 'certificate authentication failed for user "hba_cert"' in e,
          "hba_cert with another CN: %s" % e)
    e = tls_connect(port, "hba_cert", "require", ROLES["hba_cert"])
    check(e is not None and "connection requires a valid client certificate" in e,
          "hba_cert without a certificate: %s" % e)
    e = tls_connect(port, "hba_cert", "disable", ROLES["hba_cert"])
    check(e is not None and "no pg_hba.conf entry" in e, "hba_cert plain: %s" % e)


# ---- auth_query ----------------------------------------------------------------

LOOKUP_FN = """
CREATE TABLE IF NOT EXISTS hba_lookups (who text, at timestamptz DEFAULT now());
CREATE OR REPLACE FUNCTION public.hba_lookup(u text, OUT usename name, OUT passwd text)
RETURNS SETOF record LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
    INSERT INTO public.hba_lookups (who) VALUES (u);
    IF u LIKE 'hba_qslow%' THEN
        PERFORM pg_sleep(1.5);
    END IF;
    RETURN QUERY SELECT s.usename, s.passwd::text FROM pg_shadow s WHERE s.usename = u;
END $$;
REVOKE ALL ON FUNCTION public.hba_lookup(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.hba_lookup(text) TO hba_authq;
"""

def authq_instance():
    if "authq" in STATE:
        return STATE["authq"]
    ensure_roles()
    with direct() as c:
        c.execute(LOOKUP_FN)
        c.execute("TRUNCATE hba_lookups")
    users = '"hba_authq" "%s"\n"hba_a" "%s"\n' % (ROLES["hba_authq"], ROLES["hba_a"])
    ini = ("[pgrouter]\nlisten_addr = 127.0.0.1\nlisten_port = %(port)d\n"
           "auth_type = scram-sha-256\nauth_file = userlist.txt\nauth_user = hba_authq\n"
           "auth_query = SELECT usename, passwd FROM public.hba_lookup($1)\n"
           "auth_query_cache_ttl = %(ttl)s\n\n[cluster.main]\nprimary = 127.0.0.1:%(primary)d\n")
    STATE["authq_ini"] = ini
    STATE["authq"] = start("hba_authq", ini.replace("%(ttl)s", "60s"),
                           {"userlist.txt": users})
    return STATE["authq"]


def lookups(who):
    with direct() as c:
        return c.execute("SELECT count(*) FROM hba_lookups WHERE who = %s", (who,)).fetchone()[0]


@case
def auth_query_user_logs_in_with_psql_and_psycopg():
    _, port, _ = authq_instance()
    with psycopg.connect("host=127.0.0.1 port=%d user=hba_q1 password=%s dbname=appdb "
                         "connect_timeout=10" % (port, QROLES["hba_q1"])) as c:
        check(c.execute("SELECT current_user").fetchone()[0] == "hba_q1", "current_user")
    env = dict(os.environ, PGPASSWORD=QROLES["hba_q1"], PGCONNECT_TIMEOUT="10")
    r = subprocess.run([os.path.join(PGBIN, "psql"), "-X", "-At", "-h", "127.0.0.1", "-p",
                        str(port), "-U", "hba_q1", "-d", "appdb", "-c", "SELECT current_user"],
                       capture_output=True, text=True, env=env, timeout=30)
    check(r.returncode == 0 and r.stdout.strip() == "hba_q1", "psql: %r %r"
          % (r.stdout, r.stderr))
    # the second login came from the cache
    check(lookups("hba_q1") == 1, "%d lookups for hba_q1" % lookups("hba_q1"))


@case
def wrong_password_and_unknown_user_fail_alike():
    _, port, _ = authq_instance()
    e1 = refused(port, "hba_q1", "wrong", "appdb", "28P01")
    e2 = refused(port, "hba_nobody", "wrong", "appdb", "28P01")
    check(e1["M"] == 'password authentication failed for user "hba_q1"', e1)
    check(e2["M"] == 'password authentication failed for user "hba_nobody"', e2)
    check(lookups("hba_nobody") == 1, "unknown user looked up %d times" % lookups("hba_nobody"))
    refused(port, "hba_nobody", "again", "appdb", "28P01")
    check(lookups("hba_nobody") == 1, "the unknown user's answer was not cached")


@case
def a_slow_lookup_does_not_hold_other_clients():
    _, port, _ = authq_instance()
    other = psycopg.connect("host=127.0.0.1 port=%d user=hba_a password=%s dbname=appdb "
                            "connect_timeout=10" % (port, ROLES["hba_a"]), autocommit=True)
    done = {}

    def slow_login():
        t0 = time.monotonic()
        done["result"] = login(port, "hba_qslow", QROLES["hba_qslow"], "appdb")
        done["secs"] = time.monotonic() - t0

    try:
        other.execute("SELECT 1")
        t = threading.Thread(target=slow_login)
        t.start()
        worst, answered = 0.0, 0
        while t.is_alive():
            t0 = time.monotonic()
            other.execute("SELECT 1")
            if t.is_alive():
                worst = max(worst, time.monotonic() - t0)
                answered += 1
            time.sleep(0.02)
        t.join()
    finally:
        other.close()
    check(done["result"][1] is None, "the slow login failed: %s" % (done["result"],))
    check(done["secs"] >= 1.4, "the lookup took %.2f s: was it slow?" % done["secs"])
    print("# measured: during a %.2f s auth_query lookup another client ran %d queries, "
          "the slowest %.0f ms" % (done["secs"], answered, worst * 1000), flush=True)
    check(answered >= 3 and worst < 1.0, "other client: %d queries, slowest %.2f s"
          % (answered, worst))


@case
def concurrent_logins_of_one_user_share_one_lookup():
    _, port, _ = authq_instance()
    results = []
    barrier = threading.Barrier(20)

    def one():
        barrier.wait()
        results.append(login(port, "hba_qmany", QROLES["hba_qmany"], "appdb"))

    threads = [threading.Thread(target=one) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    bad = [r for r in results if r[1] is not None]
    check(len(results) == 20 and not bad, "%d logins, failures %s" % (len(results), bad[:3]))
    check(lookups("hba_qmany") == 1, "%d lookups for 20 logins" % lookups("hba_qmany"))


@case
def alter_role_password_takes_effect_after_the_ttl():
    proc, port, d = authq_instance()
    log = os.path.join(d, "pgrouter.log")
    since = log_size(log)
    with open(os.path.join(d, "pgrouter.ini"), "w") as f:
        f.write(STATE["authq_ini"] % {"port": port, "primary": PRIMARY, "ttl": "2s"})
    proc.send_signal(signal.SIGHUP)
    wait_line(log, r"configuration reloaded", since)
    old, new = QROLES["hba_q1"], "q1_new_pw"
    try:
        logged_in(port, "hba_q1", old, "appdb", 10)
        t0 = time.monotonic()
        with direct() as c:
            c.execute("ALTER ROLE hba_q1 PASSWORD '%s'" % new)
        code, err = login(port, "hba_q1", old, "appdb")
        if time.monotonic() - t0 < 1.5:
            check(err is None, "the cached secret was not used within the TTL: %s" % err)
        wait_for("the new password accepted",
                 lambda: login(port, "hba_q1", new, "appdb")[1] is None, 20)
        refused(port, "hba_q1", old, "appdb", "28P01")
    finally:
        with direct() as c:
            c.execute("ALTER ROLE hba_q1 PASSWORD '%s'" % old)


def cleanup():
    for p in STARTED:
        if p.poll() is None:
            p.kill()
            p.wait()


if __name__ == "__main__":
    raise SystemExit(SUITE.run(cleanup=cleanup))
