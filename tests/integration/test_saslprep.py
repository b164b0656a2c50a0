#!/usr/bin/python3
"""tests/integration/test_saslprep.py - SASLprep of auth_file passwords, SCRAM-SHA-256-PLUS
channel binding toward clients, and the modes of files that hold passwords.

Run by run.sh (run_py saslprep) with Debian's /usr/bin/python3.  Environment: SASL_DIR
(each pgrouter this file starts keeps its config, files and log in SASL_DIR/NAME/),
SASL_BIN (the pgrouter binary), PRIMARY_PORT (reached directly as postgres/postgres),
PGBIN.

What the README promises and each case checks:
  - a role whose password has U+00A0 and a decomposed A-ring (A + U+030A), created on the
    server with scram-sha-256 (the server SASLpreps it): psql and psycopg log in through
    pgrouter with the password as typed and with its NFC form, when the auth_file holds
    the plaintext password and when it holds the server's SCRAM secret;
  - on TLS (client_tls_sslmode = require, a CA from tlsca.sh): psql with sslmode=require
    and with verify-full, both with channel_binding=require, and psycopg with
    channel_binding=require log in (SCRAM-SHA-256-PLUS); on the plain instance libpq
    itself refuses channel_binding=require;
  - pgrouter -t with the auth_file at 600, 640, 644 and 662: valid, valid with a WARNING
    naming the mode and chmod 600, and refused with file:line; a running pgrouter logs the
    warning once at start, not per connection.
Prints one `ok - saslprep: NAME` or `not ok - saslprep: NAME: reason` line per case and
exits 1 if any failed.  Arguments, if given, are substrings of case names.
"""

import os
import subprocess
import sys
import time

import psycopg
from psycopg import sql

from itest import PGBIN, PRIMARY, Suite, check, free_port

SASL_DIR = os.environ.get("SASL_DIR", "")
HERE = os.path.dirname(os.path.abspath(__file__))
SUITE = Suite("saslprep")
case = SUITE.case
STARTED = []
STATE = {}
ROLE = "sasl_user"
TYPED = "p\u00a0A\u030angstr\u00f6m"        # no-break space, A + combining ring above
NFC = "p\u00a0\u00c5ngstr\u00f6m"
INI = ("[pgrouter]\nlisten_addr = 127.0.0.1\nlisten_port = %(port)d\n"
       "auth_type = scram-sha-256\nauth_file = userlist.txt\n%(extra)s"
       "\n[cluster.main]\nprimary = 127.0.0.1:%(primary)d\n")


def direct():
    return psycopg.connect("host=127.0.0.1 port=%d user=postgres password=postgres "
                           "dbname=postgres connect_timeout=10" % PRIMARY, autocommit=True)


def read_log(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8", "replace")


def userlist(secret):
    return '"%s" "%s"\n' % (ROLE, secret.replace('"', '""'))


def start(name, users, extra=""):
    """Start pgrouter NAME in SASL_DIR/NAME; returns (proc, port, dir)."""
    d = os.path.join(SASL_DIR, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "userlist.txt"), "w") as f:
        f.write(users)
    os.chmod(os.path.join(d, "userlist.txt"), 0o600)
    ini, log = os.path.join(d, "pgrouter.ini"), os.path.join(d, "pgrouter.log")
    for _ in range(3):
        port = free_port()
        with open(ini, "w") as f:
            f.write(INI % {"port": port, "primary": PRIMARY, "extra": extra})
        with open(log, "wb") as out:
            proc = subprocess.Popen([os.environ["SASL_BIN"], "-c", ini], stdout=out,
                                    stderr=subprocess.STDOUT)
        STARTED.append(proc)
        deadline = time.monotonic() + 20
        while proc.poll() is None and time.monotonic() < deadline:
            if "listening on" in read_log(log):
                return proc, port, d
            time.sleep(0.05)
        if proc.poll() is not None and "in use" in read_log(log):
            continue
        raise AssertionError("pgrouter %s did not start: %s" % (name, read_log(log)[-600:]))
    raise AssertionError("pgrouter %s: no free port in 3 tries" % name)


def drop_role(c):
    """Drop ROLE and whatever a run that was interrupted left it owning."""
    if c.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (ROLE,)).fetchone():
        c.execute("DROP OWNED BY %s" % ROLE)
        c.execute("DROP ROLE %s" % ROLE)


def setup():
    if "secret" in STATE:
        return
    with direct() as c:
        c.execute("SET password_encryption = 'scram-sha-256'")
        drop_role(c)
        # The server SASLpreps the password it is given when it builds the secret.
        c.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(ROLE),
                                                                     sql.Literal(TYPED)))
        STATE["secret"] = c.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s",
                                    (ROLE,)).fetchone()[0]
    check(STATE["secret"].startswith("SCRAM-SHA-256$"), "no SCRAM secret on the server")


def conninfo(port, password, **extra):
    s = ("host=127.0.0.1 port=%d user=%s dbname=postgres connect_timeout=10"
         % (port, ROLE))
    for k, v in extra.items():
        s += " %s=%s" % (k, v)
    return s, password


def psql(port, password, *args, **extra):
    info, pw = conninfo(port, password, **extra)
    env = dict(os.environ, PGPASSWORD=pw)
    return subprocess.run([PGBIN + "/psql", "-X", "-At", info, "-c",
                           "SELECT current_user"] + list(args), capture_output=True,
                          text=True, timeout=60, env=env)


def psycopg_user(port, password, **extra):
    info, pw = conninfo(port, password, **extra)
    with psycopg.connect(info, password=pw, autocommit=True) as c:
        return c.execute("SELECT current_user").fetchone()[0]


def logs_in_both_ways(port):
    for label, pw in (("typed", TYPED), ("NFC", NFC)):
        r = psql(port, pw)
        check(r.returncode == 0 and r.stdout.strip() == ROLE,
              "psql with the %s password: %s" % (label, (r.stderr or r.stdout)[-300:]))
        check(psycopg_user(port, pw) == ROLE, "psycopg with the %s password" % label)
    r = psql(port, "p Angstrom")
    check(r.returncode != 0 and "password authentication failed" in r.stderr,
          "a wrong password was not refused: %s" % r.stderr[-200:])


@case
def plaintext_auth_file_password_is_saslprepped():
    setup()
    _, port, _ = start("sasl_plain", userlist(TYPED))
    logs_in_both_ways(port)


@case
def nfc_plaintext_in_auth_file_matches_too():
    setup()
    _, port, _ = start("sasl_nfc", userlist(NFC))
    logs_in_both_ways(port)


@case
def scram_secret_auth_file_entry():
    setup()
    _, port, _ = start("sasl_secret", userlist(STATE["secret"]))
    logs_in_both_ways(port)


def tls_instance():
    if "tls" in STATE:
        return STATE["tls"]
    setup()
    ca = os.path.join(SASL_DIR, "ca")
    subprocess.run(["bash", os.path.join(HERE, "tlsca.sh"), ca], check=True, timeout=120)
    extra = ("client_tls_sslmode = require\nclient_tls_cert_file = %s/server.crt\n"
             "client_tls_key_file = %s/server.key\nclient_tls_ca_file = %s/ca.crt\n"
             % (ca, ca, ca))
    STATE["tls"] = start("sasl_tls", userlist(TYPED), extra) + (ca,)
    return STATE["tls"]


@case
def psql_channel_binding_require_over_tls():
    _, port, _, ca = tls_instance()
    r = psql(port, TYPED, sslmode="require", channel_binding="require")
    check(r.returncode == 0 and r.stdout.strip() == ROLE,
          "sslmode=require channel_binding=require: %s" % r.stderr[-300:])
    info, pw = conninfo(port, TYPED, sslmode="verify-full", channel_binding="require",
                        sslrootcert=os.path.join(ca, "ca.crt"))
    info = info.replace("host=127.0.0.1", "host=localhost")
    r = subprocess.run([PGBIN + "/psql", "-X", "-At", info, "-c",
                        "SELECT current_user"], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, PGPASSWORD=pw))
    check(r.returncode == 0 and r.stdout.strip() == ROLE,
          "verify-full channel_binding=require: %s" % r.stderr[-300:])


@case
def psycopg_channel_binding_require_over_tls():
    _, port, _, _ = tls_instance()
    check(psycopg_user(port, NFC, sslmode="require", channel_binding="require") == ROLE,
          "psycopg did not log in")


@case
def plain_connection_with_channel_binding_require_is_refused_by_libpq():
    setup()
    if "plain" not in STATE:
        STATE["plain"] = start("sasl_plain_cb", userlist(TYPED))
    _, port, _ = STATE["plain"]
    r = psql(port, TYPED, sslmode="disable", channel_binding="require")
    check(r.returncode != 0, "logged in without channel binding")
    check("channel binding required, but" in r.stderr or "channel binding is required" in
          r.stderr, "unexpected message: %s" % r.stderr[-300:])


def check_config(mode):
    d = os.path.join(SASL_DIR, "sasl_modes")
    os.makedirs(d, exist_ok=True)
    users = os.path.join(d, "userlist.txt")
    with open(users, "w") as f:
        f.write(userlist(TYPED))
    os.chmod(users, mode)
    ini = os.path.join(d, "pgrouter.ini")
    with open(ini, "w") as f:
        f.write(INI % {"port": 6432, "primary": PRIMARY, "extra": ""})
    return subprocess.run([os.environ["SASL_BIN"], "-t", "-c", ini], capture_output=True,
                          text=True, timeout=30), ini, users


@case
def pgrouter_t_judges_auth_file_modes():
    r, ini, users = check_config(0o600)
    check(r.returncode == 0 and r.stderr == "", "600: rc %d %s" % (r.returncode, r.stderr))
    for mode, who in ((0o640, "its group"), (0o644, "everyone")):
        r, ini, users = check_config(mode)
        want = ("WARNING: %s:5: auth_file \"%s\" holds passwords or secrets and is readable "
                "by %s (mode %04o); run chmod 600 %s\n" % (ini, users, who, mode, users))
        check(r.returncode == 0 and r.stderr == want,
              "%o: rc %d stderr %r" % (mode, r.returncode, r.stderr))
    r, ini, users = check_config(0o662)
    want = ("%s:5: auth_file \"%s\" is writable by others (mode 0662), and whoever can "
            "change it controls who may log in; run chmod 600 %s\n" % (ini, users, users))
    check(r.returncode == 1 and r.stderr == want, "662: rc %d %r" % (r.returncode, r.stderr))


@case
def readable_auth_file_warns_once_not_per_connection():
    setup()
    _, port, d = start("sasl_warn", userlist(TYPED))
    os.chmod(os.path.join(d, "userlist.txt"), 0o644)
    # the instance started at 600; restart-free check: a reload must warn once
    proc = STARTED[-1]
    proc.send_signal(1)
    log = os.path.join(d, "pgrouter.log")
    deadline = time.monotonic() + 20
    while "configuration reloaded" not in read_log(log) and time.monotonic() < deadline:
        time.sleep(0.05)
    for _ in range(3):
        check(psycopg_user(port, TYPED) == ROLE, "no login")
    text = read_log(log)
    check(text.count("readable by everyone (mode 0644)") == 1,
          "warning count %d in:\n%s" % (text.count("mode 0644"), text[-800:]))


def cleanup():
    for p in STARTED:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
    with direct() as c:
        drop_role(c)


if __name__ == "__main__":
    sys.exit(SUITE.run(cleanup=cleanup))
