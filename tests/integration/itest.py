"""tests/integration/itest.py - the case runner the test_*.py suites share.

A suite collects its cases with the @case decorator of its Suite, and main() returns
Suite.run(...), which prints per case `ok - SUITE: NAME`, `ok - SUITE: NAME # SKIP why`
(the integration runner counts those as skips) or `not ok - SUITE: NAME: why`, with the
traceback and the case's time on stderr. It also holds what several suites share: the
cluster's ports and PGBIN from the environment, env_int, measured, wait_for, pid_alive,
exit_status, free_port, local_ports and remote_ports. Standard library only.
"""

import os
import random
import socket
import sys
import time
import traceback


class Skip(Exception):
    """Raised by a case that cannot run here; reported with its reason."""


def check(cond, what):
    if not cond:
        raise AssertionError(what)


# The main cluster as run.sh exports it (reached directly as postgres/postgres), and
# the PostgreSQL programs (pgbench).
PRIMARY = int(os.environ.get("PRIMARY_PORT", "0"))
R1 = int(os.environ.get("REPLICA1_PORT", "0"))
R2 = int(os.environ.get("REPLICA2_PORT", "0"))
PGBIN = os.environ.get("PGBIN", "/usr/lib/postgresql/15/bin")


def env_int(key):
    """The integer in environment variable KEY; the case fails if it is not set."""
    v = os.environ.get(key)
    check(v, "%s is not set" % key)
    return int(v)


def measured(msg):
    """A figure for the log: `# measured: MSG` on stdout."""
    print("# measured: " + msg, flush=True)


def wait_for(what, cond, secs):
    """Poll cond() until true; fails after SECS. Returns the seconds it took."""
    t0 = time.monotonic()
    while not cond():
        check(time.monotonic() - t0 < secs, "%s: not within %.0f s" % (what, secs))
        time.sleep(0.05)
    return time.monotonic() - t0


def wait_replay(secs=15.0):
    """Both replicas have replayed everything the primary has written so far (a role or
    password just created there must be there before pgrouter sends a read)."""
    import psycopg

    def conn(port):
        return psycopg.connect("host=127.0.0.1 port=%d user=postgres password=postgres "
                               "dbname=postgres connect_timeout=10" % port, autocommit=True)

    with conn(PRIMARY) as c:
        lsn = str(c.execute("SELECT pg_current_wal_lsn()").fetchone()[0])
    for port in (R1, R2):
        with conn(port) as c:
            wait_for("the replica on port %d replaying up to %s" % (port, lsn),
                     lambda: c.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn",
                                       (lsn,)).fetchone()[0], secs)


def pid_alive(pid):
    """Whether process PID exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def exit_status(root, name, secs):
    """The exit status run.sh's launcher writes to ROOT/NAME/exit once instance NAME has
    ended; fails if it is not there within SECS."""
    f = os.path.join(root, name, "exit")
    wait_for("exit status of %s" % name,
             lambda: os.path.exists(f) and open(f).read().strip() != "", secs)
    return int(open(f).read().strip())


def free_port():
    """A 127.0.0.1 port nothing listens on right now, from 20000-31999: below Linux's
    ephemeral range (32768-60999), so an outgoing connection cannot take it before the
    server that is to listen there binds it."""
    while True:
        p = random.randint(20000, 31999)
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", p))
            return p
        except OSError:
            continue
        finally:
            s.close()


def established_ports(pid, field):
    """Ports of the TCP connections process PID has established, from /proc/net/tcp{,6}:
    FIELD 1 is the local address, 2 the remote one."""
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if f[9] in inodes and f[3] == "01":     # ESTABLISHED
                ports.append(int(f[field].rsplit(":", 1)[1], 16))
    return ports


def local_ports(pid):
    """Local ports of the TCP connections process PID has established."""
    return established_ports(pid, 1)


def remote_ports(pid):
    """Remote ports of the TCP connections process PID has established."""
    return established_ports(pid, 2)


class Suite:
    def __init__(self, name):
        self.name = name
        self.cases = []

    def case(self, fn):
        self.cases.append(fn)
        return fn

    def run(self, need=(), proxy_only=True, cleanup=None):
        """Run the cases named on the command line (all without arguments).

        need: (value, message) pairs; a case fails with message unless every value is
        true. proxy_only: with ITEST_DIRECT=1 every case is skipped. cleanup: called
        once at the end, its errors ignored. Returns the exit status (1 if any failed).
        """
        only = sys.argv[1:]
        failed = 0
        for fn in self.cases:
            label = fn.__name__
            if only and not any(o in label for o in only):
                continue
            try:
                if proxy_only and os.environ.get("ITEST_DIRECT") == "1":
                    raise Skip("proxy-only check (ITEST_DIRECT=1)")
                for value, message in need:
                    check(value, message)
                t0 = time.monotonic()
                fn()
                print("ok - %s: %s" % (self.name, label), flush=True)
                print("# %s: %.1f s" % (label, time.monotonic() - t0), file=sys.stderr,
                      flush=True)
            except Skip as e:
                print("ok - %s: %s # SKIP %s" % (self.name, label, e), flush=True)
            except Exception as e:  # noqa: BLE001 - every failure is reported the same way
                failed += 1
                reason = "%s: %s" % (type(e).__name__, str(e).strip().replace("\n", " | "))
                print("not ok - %s: %s: %s" % (self.name, label, reason[:300]), flush=True)
                traceback.print_exc(file=sys.stderr)
        if cleanup is not None:
            try:
                cleanup()
            except Exception:  # noqa: BLE001 - cleanup only
                pass
        return 1 if failed else 0
