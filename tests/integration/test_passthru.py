"""tests/integration/test_passthru.py - SCRAM and md5 pass-through: users whose auth_file
entry is only the secret PostgreSQL stores (pg_authid.rolpassword), no plaintext anywhere.

pgrouter verifies the client against the secret, recovers the ClientKey from the client's
proof and logs in to every node with it (its own login, router/pool/srvlogin.c); an md5 secret
answers a server's md5 challenge by itself. The suite starts its own pgrouter (auth_type
md5, so SCRAM secrets use SCRAM and md5 secrets md5; default_pool_size 2) with no
PGPASSWORD or PGPASSFILE in its environment, after creating the roles:
  passthru_scram  password_encryption scram-sha-256; auth_file: its rolpassword
  passthru_md5    password_encryption md5; the cluster's pg_hba has an md5 rule for it
  passthru_salt   auth_file: a secret of the right password with another salt than the
                  server's (the recovered key cannot log in there)
Environment: PASSTHRU_DIR (work directory), PASSTHRU_BIN (pgrouter), PRIMARY_PORT,
REPLICA1_PORT, REPLICA2_PORT, PGBIN.
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
import subprocess
import threading
import time

import psycopg

import rawpg
from itest import PGBIN, PRIMARY, R1, R2, Skip, Suite, check, free_port, measured, \
    wait_for, wait_replay

SUITE = Suite("passthru")
case = SUITE.case
DIR = os.environ.get("PASSTHRU_DIR", "")
STATE = {}          # proc, port, passwords: set up once by the first case that needs it
TOK = secrets.token_hex(4)
PW = {"passthru_scram": "Scram-" + TOK, "passthru_md5": "Md5-" + TOK,
      "passthru_salt": "Salt-" + TOK}


def direct(port=None, dbname="postgres"):
    return psycopg.connect("host=127.0.0.1 port=%d user=postgres password=postgres dbname=%s "
                           "connect_timeout=10" % (port or PRIMARY, dbname), autocommit=True)


def read_log(since=0):
    with open(os.path.join(DIR, "pgrouter.log"), "rb") as f:
        f.seek(since)
        return f.read().decode("utf-8", "replace")


def log_size():
    return os.path.getsize(os.path.join(DIR, "pgrouter.log"))


def other_salt_secret(password):
    """A valid secret of password, with a salt of its own (not the server's)."""
    salt = os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 4096)
    ck = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    sk = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    b64 = lambda b: base64.b64encode(b).decode()    # noqa: E731
    return "SCRAM-SHA-256$4096:%s$%s:%s" % (b64(salt), b64(hashlib.sha256(ck).digest()),
                                            b64(sk))


def set_role(d, role, password, encryption):
    d.execute("DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '%s') THEN "
              "CREATE ROLE %s LOGIN; END IF; END$$" % (role, role))
    d.execute("SET password_encryption = '%s'" % encryption)
    d.execute("ALTER ROLE %s LOGIN PASSWORD '%s'" % (role, password))
    d.execute("RESET password_encryption")
    return d.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s",
                     (role,)).fetchone()[0]


def write_userlist(entries):
    path = os.path.join(DIR, "userlist.txt")
    with open(path + ".new", "w") as f:
        for user, secret in entries.items():
            f.write('"%s" "%s"\n' % (user, secret))
    os.chmod(path + ".new", 0o600)
    os.rename(path + ".new", path)


def die_with_parent():
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)     # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def setup():
    """Roles, the auth_file with secrets only, and pgrouter; once per run."""
    if "port" in STATE:
        return STATE
    check(DIR and os.environ.get("PASSTHRU_BIN"), "PASSTHRU_DIR and PASSTHRU_BIN must be set")
    os.makedirs(DIR, exist_ok=True)
    with direct() as d:
        scram = set_role(d, "passthru_scram", PW["passthru_scram"], "scram-sha-256")
        md5 = set_role(d, "passthru_md5", PW["passthru_md5"], "md5")
        set_role(d, "passthru_salt", PW["passthru_salt"], "scram-sha-256")
    with direct(dbname="appdb") as d:
        d.execute("GRANT ALL ON SCHEMA public TO passthru_scram, passthru_md5, passthru_salt")
        d.execute("CREATE TABLE IF NOT EXISTS passthru_t (who text, n int)")
        d.execute("GRANT ALL ON passthru_t TO passthru_scram, passthru_md5")
    check(scram.startswith("SCRAM-SHA-256$") and md5.startswith("md5"),
          "pg_authid holds %r and %r" % (scram[:14], md5[:3]))
    STATE["entries"] = {"app": "app", "passthru_scram": scram, "passthru_md5": md5,
                        "passthru_salt": other_salt_secret(PW["passthru_salt"])}
    write_userlist(STATE["entries"])
    wait_replay()       # reads go to the replicas: they must know the new secrets
    ini = os.path.join(DIR, "pgrouter.ini")
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith("PGPASS"))
    for _ in range(3):
        port = free_port()
        with open(ini, "w") as f:
            f.write("[pgrouter]\nlisten_addr = 127.0.0.1\nlisten_port = %d\nauth_type = md5\n"
                    "auth_file = %s/userlist.txt\ndefault_pool_size = 2\nverbose = 1\n"
                    "admin_users = app\n\n[cluster.main]\nprimary = 127.0.0.1:%d\n"
                    "replicas = 127.0.0.1:%d, 127.0.0.1:%d\n" % (port, DIR, PRIMARY, R1, R2))
        out = open(os.path.join(DIR, "pgrouter.log"), "ab")
        since = out.tell()
        proc = subprocess.Popen([os.environ["PASSTHRU_BIN"], "-c", ini], stdout=out,
                                stderr=subprocess.STDOUT, env=env, preexec_fn=die_with_parent)
        out.close()
        STATE["proc"] = proc
        deadline = time.monotonic() + 20
        while proc.poll() is None and time.monotonic() < deadline:
            if "listening on" in read_log(since):
                STATE["port"] = port
                return STATE
            time.sleep(0.05)
        if proc.poll() is not None and "in use" in read_log(since):
            continue
        raise AssertionError("pgrouter did not start: %s" % read_log(since)[-500:])
    raise AssertionError("pgrouter: no free port in 3 tries")


def connect(user, password=None, **kw):
    return psycopg.connect("host=127.0.0.1 port=%d user=%s password=%s dbname=appdb "
                           "connect_timeout=10" % (STATE["port"], user,
                                                   password or PW[user]), **kw)


def login_error(user, password):
    """(SQLSTATE, message) of a login that must fail (read by the raw client)."""
    sock = socket.create_connection(("127.0.0.1", STATE["port"]), timeout=20)
    sock.settimeout(20)
    try:
        rawpg.login(sock, user, password, "appdb")
        rawpg.simple_query(sock, "SELECT 1")
    except rawpg.PeerError as e:
        return e.fields.get("C"), e.fields.get("M", "")
    finally:
        sock.close()
    raise AssertionError("%s logged in with %r" % (user, password))


def pgrouter_backends(user):
    """{port: number of server connections pgrouter holds as user} on every node."""
    got = {}
    for port in (PRIMARY, R1, R2):
        with direct(port) as d:
            got[port] = d.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = %s",
                                  (user,)).fetchone()[0]
    return got


def breakers_closed():
    """Every node's breaker is closed, says SHOW BREAKERS on the console."""
    with psycopg.connect("host=127.0.0.1 port=%d user=app password=app dbname=pgrouter "
                         "connect_timeout=10" % STATE["port"], autocommit=True) as c:
        cur = c.execute("SHOW BREAKERS")
        cols = [d.name for d in cur.description]
        rows = [dict(zip(cols, r)) for r in cur.fetchall()]
    check(len(rows) == 3, "SHOW BREAKERS: %r" % rows)
    return all(r.get("state") == "closed" for r in rows), rows


@case
def scram_secret_alone_logs_in_to_every_node():
    setup()
    text = open(os.path.join(DIR, "userlist.txt")).read()
    check(PW["passthru_scram"] not in text, "the plaintext password is in auth_file")
    # psql
    out = subprocess.run([os.path.join(PGBIN, "psql"), "-X", "-At", "-h", "127.0.0.1",
                          "-p", str(STATE["port"]), "-U", "passthru_scram", "-d", "appdb",
                          "-c", "SELECT current_user"], capture_output=True, text=True,
                         timeout=30, env=dict(os.environ, PGPASSWORD=PW["passthru_scram"]))
    check(out.returncode == 0 and out.stdout.strip() == "passthru_scram",
          "psql: %r %r" % (out.stdout, out.stderr))
    # psycopg: reads (replicas) and a write (primary), each on a connection of its own
    ports = set()
    for _ in range(6):
        with connect("passthru_scram", autocommit=True) as c:
            ports.add(c.execute("SELECT inet_server_port()").fetchone()[0])
    check(ports & {R1, R2}, "no read ran on a replica: ports %r" % ports)
    with connect("passthru_scram", autocommit=True) as c:
        c.execute("INSERT INTO passthru_t VALUES ('scram', 1)")
    with direct(dbname="appdb") as d:
        check(d.execute("SELECT count(*) FROM passthru_t WHERE who = 'scram'").fetchone()[0]
              >= 1, "the write is not on the primary")
    held = pgrouter_backends("passthru_scram")
    measured("pass-through servers per node %r, reads answered by ports %r" % (held, ports))
    check(held[PRIMARY] >= 1 and held[R1] + held[R2] >= 1,
          "pgrouter holds no pass-through server on some role: %r" % held)


@case
def many_clients_share_few_pass_through_servers():
    setup()
    script = os.path.join(DIR, "select.sql")
    with open(script, "w") as f:
        f.write("SELECT count(*) FROM passthru_t;\n")
    out = subprocess.run([os.path.join(PGBIN, "pgbench"), "-n", "-h", "127.0.0.1", "-p",
                          str(STATE["port"]), "-U", "passthru_scram", "-c", "8", "-j", "2",
                          "-T", "3", "-f", script, "appdb"], capture_output=True, text=True,
                         timeout=60, env=dict(os.environ, PGPASSWORD=PW["passthru_scram"]))
    check(out.returncode == 0, "pgbench failed: %s %s" % (out.stdout[-400:], out.stderr[-400:]))
    m = re.search(r"number of transactions actually processed: (\d+)", out.stdout)
    check(m and int(m.group(1)) > 0, "pgbench: %s" % out.stdout[-400:])
    held = pgrouter_backends("passthru_scram")
    measured("pgbench -c 8 through a pass-through user: %s transactions, servers per node %r"
             % (m.group(1), held))
    check(all(n <= 2 for n in held.values()), "more than default_pool_size 2: %r" % held)


@case
def wrong_password_is_28p01_and_breakers_stay_closed():
    setup()
    for _ in range(6):
        code, msg = login_error("passthru_scram", "wrong-" + TOK)
        check(code == "28P01", "SQLSTATE %s: %s" % (code, msg))
    closed, rows = breakers_closed()
    check(closed, "a breaker opened: %r" % rows)
    with connect("passthru_scram", autocommit=True) as c:
        check(c.execute("SELECT 1").fetchone()[0] == 1, "the right password no longer works")


@case
def secret_with_another_salt_gives_a_clear_fatal_not_a_node_failure():
    setup()
    for _ in range(6):      # more than the breaker's failure threshold
        code, msg = login_error("passthru_salt", PW["passthru_salt"])
        check(code == "28P01", "SQLSTATE %s: %s" % (code, msg))
        check("differs from pgrouter's" in msg and "pg_authid" in msg,
              "not the clear message: %s" % msg)
    closed, rows = breakers_closed()
    check(closed, "a breaker opened: %r" % rows)
    with connect("passthru_scram", autocommit=True) as c:
        check(c.execute("SELECT 1").fetchone()[0] == 1, "other users are refused too")


@case
def md5_secret_answers_an_md5_server():
    setup()
    with connect("passthru_md5", autocommit=True) as c:
        check(c.execute("SELECT current_user").fetchone()[0] == "passthru_md5", "current_user")
        c.execute("INSERT INTO passthru_t VALUES ('md5', 1)")
    held = pgrouter_backends("passthru_md5")
    check(sum(held.values()) >= 1, "no server opened as passthru_md5: %r" % held)
    code, msg = login_error("passthru_md5", "wrong-" + TOK)
    check(code == "28P01", "SQLSTATE %s: %s" % (code, msg))


@case
def cancel_reaches_a_natively_opened_server():
    setup()
    with connect("passthru_scram", autocommit=True) as c:
        timer = threading.Timer(0.5, c.cancel)
        t0 = time.monotonic()
        timer.start()
        try:
            c.execute("SELECT pg_sleep(20)")
            raise AssertionError("pg_sleep(20) was not cancelled")
        except psycopg.errors.QueryCanceled:
            pass
        finally:
            timer.cancel()
        took = time.monotonic() - t0
        measured("pg_sleep cancelled after %.2f s" % took)
        check(took < 10, "the cancel took %.1f s" % took)
        check(c.execute("SELECT 1").fetchone()[0] == 1, "the connection is unusable")


@case
def changed_secret_takes_effect_on_reload():
    setup()
    old = PW["passthru_scram"]
    new = "Scram2-" + TOK
    with direct() as d:
        secret = set_role(d, "passthru_scram", new, "scram-sha-256")
        # servers opened with the old key are cut: new ones need the new secret's key
        d.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                  "WHERE usename = 'passthru_scram'")
    wait_replay()
    for port in (R1, R2):
        with direct(port) as d:
            d.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE usename = 'passthru_scram'")
    STATE["entries"]["passthru_scram"] = secret
    write_userlist(STATE["entries"])
    since = log_size()
    STATE["proc"].send_signal(signal.SIGHUP)
    wait_for("the reload", lambda: "configuration reloaded" in read_log(since), 15)
    PW["passthru_scram"] = new
    code, msg = login_error("passthru_scram", old)
    check(code == "28P01", "the old password: SQLSTATE %s: %s" % (code, msg))
    with connect("passthru_scram", autocommit=True) as c:
        c.execute("INSERT INTO passthru_t VALUES ('scram2', 1)")
        check(c.execute("SELECT current_user").fetchone()[0] == "passthru_scram", "read")


@case
def native_login_uses_server_tls():
    """server_tls_sslmode (prefer by default) holds for pgrouter's own login too: with the
    cluster's servers on TLS, pg_stat_ssl shows the pass-through connections encrypted."""
    setup()
    with direct() as d:
        if d.execute("SHOW ssl").fetchone()[0] != "on":
            raise Skip("the test cluster's servers run without TLS (ssl = off)")
    with connect("passthru_scram", autocommit=True) as c:
        c.execute("INSERT INTO passthru_t VALUES ('tls', 1)")
        check(c.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
              .fetchone()[0] is True, "the pass-through server that answered is not on TLS")
    with connect("passthru_scram", autocommit=True) as c:     # a read: a replica's server
        c.execute("SELECT count(*) FROM passthru_t").fetchone()
    seen = 0
    for port in (PRIMARY, R1, R2):
        with direct(port) as d:
            rows = d.execute("SELECT s.ssl, s.version FROM pg_stat_ssl s JOIN pg_stat_activity a "
                             "USING (pid) WHERE a.usename = 'passthru_scram'").fetchall()
        seen += len(rows) if port != PRIMARY else 0
        check(all(r[0] for r in rows), "port %d: pass-through servers without TLS: %r"
              % (port, rows))
        measured("port %d: %d pass-through servers, TLS %r" % (port, len(rows),
                                                               sorted({r[1] for r in rows})))
    check(seen >= 1, "no pass-through server on a replica to look at")


@case
def shutdown_is_clean_and_no_secret_is_logged():
    """Last: SIGTERM ends pgrouter with status 0, its log (under ASan: leak and error
    reports) is clean, and neither a password nor a secret of the users is in it."""
    setup()
    proc = STATE["proc"]
    proc.send_signal(signal.SIGTERM)
    check(proc.wait(30) == 0, "exit status %s after SIGTERM" % proc.returncode)
    text = read_log()
    check(not re.search(r"Sanitizer|runtime error:", text), "sanitizer report in the log")
    for user, secret in STATE["entries"].items():
        if user != "app":
            check(secret not in text and secret[-20:] not in text, "%s's secret is logged" % user)
    for user, pw in PW.items():
        check(pw not in text, "%s's password is logged" % user)


def cleanup():
    proc = STATE.get("proc")
    if proc is not None and proc.poll() is None:
        proc.kill()
        proc.wait()


if __name__ == "__main__":
    raise SystemExit(SUITE.run(cleanup=cleanup))
