#!/usr/bin/python3
"""tests/integration/test_adminnode.py - the admin console's SHOW CLUSTERS, SHOW NODES,
SHOW BREAKERS, SHOW SHARDS and EXPLAIN ROUTE against the instance adminnode.sh starts
(its config: ADMIN_INI), driven with psql as the console's users.

What the README promises and each case checks:
  - SHOW CLUSTERS and SHOW SHARDS say what the config says (buckets as ranges, each
    [tenants] entry with the bucket PostgreSQL's hashtext() gives it);
  - SHOW NODES: every node with its configured and detected role; a replica whose replay
    is paused shows the lag (bytes as the servers count them, and time) and leaves the
    rotation past max_replica_lag_bytes, and comes back once it replays again;
  - a stopped replica: its breaker shows open in SHOW BREAKERS and SHOW NODES, its health
    failed; it is started again and seen healthy within a bounded time;
  - a replica taken out by the console's DISABLE shows out of rotation ("disabled") until
    ENABLE;
  - EXPLAIN ROUTE's classify column equals `pgrouter --classify`'s line for the same
    config, for plain, tenant and refused statements; SET pgrouter.tenant and
    pgrouter.role in the console change what EXPLAIN ROUTE answers.

Environment: ADMIN_PORT, ADMIN_INI, PGROUTER_BIN, PGBIN, PRIMARY_PORT, REPLICA1_PORT,
REPLICA2_PORT, SHARD_{A,B}_{PRIMARY,REPLICA}_PORT, CLUSTER_SH, CLUSTER_DIR.
Waits have deadlines; how long things took is printed as `# measured:` lines.
"""

import os
import subprocess
import sys
import time

import psycopg

from itest import PGBIN, Skip, Suite, check, measured  # noqa: E402,F401 - shared runner

PORTS = {k: int(os.environ.get(k, "0") or 0) for k in (
    "ADMIN_PORT", "PRIMARY_PORT", "REPLICA1_PORT", "REPLICA2_PORT", "SHARD_A_PRIMARY_PORT",
    "SHARD_A_REPLICA_PORT", "SHARD_B_PRIMARY_PORT", "SHARD_B_REPLICA_PORT")}
SEP = "\x1f"

SUITE = Suite("adminnode")
case = SUITE.case


def node(key):
    return "127.0.0.1:%d" % PORTS[key]


def psql(*commands, user="admin", options=None):
    """Run commands in one console session; returns the result sets, each a list of
    dicts (NULL as None). Every command must return rows (or be a SET/RESET)."""
    conninfo = "host=127.0.0.1 port=%d user=%s dbname=pgrouter connect_timeout=10" % (
        PORTS["ADMIN_PORT"], user)
    if options:
        conninfo += " options='%s'" % options
    args = [os.path.join(PGBIN, "psql"), "-X", "-q", "-A", "-F", SEP, "-P", "footer=off",
            "-P", "null=\\N", "-v", "ON_ERROR_STOP=1", conninfo]
    for c in commands:
        args += ["-c", c]
    env = dict(os.environ, PGPASSWORD=user)
    p = subprocess.run(args, capture_output=True, text=True, timeout=30, env=env)
    check(p.returncode == 0, "psql %s: exit %d: %s" % (commands, p.returncode,
                                                        p.stderr.strip()))
    lines = p.stdout.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    # -A output of several results: each is a header, then rows with as many fields;
    # a line equal to the current header, or with another field count, starts the next
    # (callers put one SHOW per session, or EXPLAIN ROUTEs, whose results have one row)
    results, cur, hdr = [], None, None
    for line in lines:
        fields = line.split(SEP)
        if hdr is None or fields == hdr or len(fields) != len(hdr):
            hdr, cur = fields, []
            results.append(cur)
            continue
        cur.append({k: (None if v == "\\N" else v) for k, v in zip(hdr, fields)})
    return results


def show(what, user="admin"):
    res = psql("SHOW " + what, user=user)
    check(len(res) == 1, "SHOW %s: %d result sets" % (what, len(res)))
    return res[0]


def by(rows, key):
    return {r[key]: r for r in rows}


def direct(port, sql, dbname="postgres"):
    """Run sql on the server at port as postgres; the first column of its first row, or
    None for a statement without rows."""
    with psycopg.connect("host=127.0.0.1 port=%d user=postgres password=postgres dbname=%s "
                         "connect_timeout=10" % (port, dbname), autocommit=True) as c:
        cur = c.execute(sql)
        return cur.fetchone()[0] if cur.description is not None else None


def wait_for(what, cond, secs):
    deadline = time.monotonic() + secs
    t0 = time.monotonic()
    last = None
    while True:
        last = cond()
        if last:
            return time.monotonic() - t0, last
        check(time.monotonic() < deadline, "%s: not within %.0f s" % (what, secs))
        time.sleep(0.2)


def cluster(*args):
    p = subprocess.run(["bash", os.environ["CLUSTER_SH"]] + list(args[:1]) +
                       [os.environ["CLUSTER_DIR"]] + list(args[1:]),
                       capture_output=True, text=True, timeout=120)
    check(p.returncode == 0, "cluster.sh %s: %s" % (" ".join(args), p.stderr.strip()))


ALL_NODES = {
    "PRIMARY_PORT": ("main", "primary"), "REPLICA1_PORT": ("main", "replica"),
    "REPLICA2_PORT": ("main", "replica"), "SHARD_A_PRIMARY_PORT": ("shard_a", "primary"),
    "SHARD_A_REPLICA_PORT": ("shard_a", "replica"),
    "SHARD_B_PRIMARY_PORT": ("shard_b", "primary"),
    "SHARD_B_REPLICA_PORT": ("shard_b", "replica"),
}


def all_healthy():
    rows = by(show("NODES"), "node")
    for key in ALL_NODES:
        r = rows.get(node(key))
        if r is None or r["health"] != "ok" or r["breaker"] != "closed":
            return None
    return rows


# ---- SHOW CLUSTERS, SHOW SHARDS ----------------------------------------------

@case
def show_clusters_matches_the_config():
    rows = by(show("CLUSTERS"), "cluster")
    check(sorted(rows) == ["main", "shard_a", "shard_b"], "clusters: %s" % sorted(rows))
    m, a, b = rows["main"], rows["shard_a"], rows["shard_b"]
    check(m["primary"] == node("PRIMARY_PORT") and m["current_primary"] == m["primary"],
          "main's primary: %s" % m)
    check(m["replicas"] == "2" and m["default"] == "yes" and m["buckets"] is None and
          m["tenants"] == "1" and m["load_balance"] == "round_robin" and
          m["primary_reads"] == "fallback", "main: %s" % m)
    check(a["primary"] == node("SHARD_A_PRIMARY_PORT") and a["replicas"] == "1" and
          a["buckets"] == "0-1" and a["tenants"] == "0" and
          a["load_balance"] == "least_latency" and a["default"] == "no", "shard_a: %s" % a)
    check(b["buckets"] == "2-3" and b["tenants"] == "2" and b["primary_reads"] == "on",
          "shard_b: %s" % b)
    # stats_users may run the SHOW commands too
    check(len(show("CLUSTERS", user="stats")) == 3, "SHOW CLUSTERS as stats")


@case
def show_shards_matches_the_config():
    rows = show("SHARDS")
    ranges = [(r["cluster"], r["first_bucket"], r["last_bucket"], r["n_buckets"])
              for r in rows if r["kind"] == "buckets"]
    check(ranges == [("shard_a", "0", "1", "4"), ("shard_b", "2", "3", "4")],
          "bucket ranges: %s" % ranges)
    tenants = {r["tenant"]: r for r in rows if r["kind"] == "tenant"}
    check(sorted(tenants) == ["acme", "hooli", "vandelay"], "tenants: %s" % sorted(tenants))
    owner = {0: "shard_a", 1: "shard_a", 2: "shard_b", 3: "shard_b"}
    for name, placed in (("acme", "shard_b"), ("hooli", "shard_b"), ("vandelay", "main")):
        t = tenants[name]
        bucket = direct(PORTS["PRIMARY_PORT"],
                        "SELECT ((hashtext('%s')::bigint %% 4) + 4) %% 4" % name)
        check(t["cluster"] == placed and t["bucket"] == str(bucket) and
              t["hash_cluster"] == owner[bucket],
              "%s: %s (hashtext bucket %d)" % (name, t, bucket))
    check(len(rows) == 5, "%d rows" % len(rows))


# ---- SHOW NODES --------------------------------------------------------------

@case
def show_nodes_roles_and_health():
    waited, rows = wait_for("every node healthy in SHOW NODES", all_healthy, 20)
    measured("SHOW NODES: all 7 nodes health ok %.1f s into the case" % waited)
    check(len(rows) == 7, "%d nodes" % len(rows))
    for key, (cl, role) in ALL_NODES.items():
        r = rows[node(key)]
        check(r["cluster"] == cl and r["role"] == role and r["configured_role"] == role and
              r["detected_role"] == role, "%s: %s" % (key, r))
        check(r["in_rotation"] == "yes" and r["out_reason"] is None, "%s: %s" % (key, r))
        check(r["checked_ms_ago"] is not None and int(r["checked_ms_ago"]) < 5000,
              "%s checked long ago: %s" % (key, r))
        if role == "replica":
            # lag_ms stays unknown (NULL) until the replica replays a commit
            check(r["lag_bytes"] is not None and int(r["lag_bytes"]) >= 0 and
                  (r["lag_ms"] is None or int(r["lag_ms"]) >= 0), "%s lag: %s" % (key, r))
        else:
            check(r["lag_bytes"] is None and r["lag_ms"] is None, "%s lag: %s" % (key, r))
    check(rows[node("REPLICA2_PORT")]["weight"] == "3", "weight of replica2")
    check(rows[node("REPLICA1_PORT")]["weight"] == "1", "weight of replica1")


@case
def show_nodes_lag_of_a_paused_replica():
    """Replay paused on shard_a's replica, 1 MB of WAL on its primary: the lag SHOW NODES
    gives is the servers' own difference, and the replica leaves the rotation."""
    wait_for("every node healthy", all_healthy, 20)
    rep, prim = PORTS["SHARD_A_REPLICA_PORT"], PORTS["SHARD_A_PRIMARY_PORT"]
    # a commit the replica replays first: lag_ms counts from the last replayed commit
    direct(prim, "CREATE TABLE IF NOT EXISTS adminnode_lag (v text)")
    direct(prim, "INSERT INTO adminnode_lag VALUES ('committed before the pause')")
    lsn = direct(prim, "SELECT pg_current_wal_lsn()::text")
    wait_for("shard_a's replica replays the first INSERT", lambda: direct(
        rep, "SELECT pg_last_wal_replay_lsn() >= '%s'::pg_lsn" % lsn), 10)
    direct(rep, "SELECT pg_wal_replay_pause()")
    try:
        time.sleep(1)
        direct(prim, "INSERT INTO adminnode_lag SELECT repeat('x', 1000) "
                     "FROM generate_series(1, 1000)")

        def lagging():
            r = by(show("NODES"), "node")[node("SHARD_A_REPLICA_PORT")]
            # the checks after the INSERT's commit: the whole 1 MB behind
            # (and out of the rotation once its own check saw that far behind)
            ok = r["lag_bytes"] is not None and int(r["lag_bytes"]) >= 1000000
            return r if ok and r["out_reason"] == "lagging" else None
        waited, r = wait_for("shard_a's replica 1 MB behind in SHOW NODES", lagging, 20)
        measured("paused replica shown 1 MB behind and out of rotation %.1f s after the "
                 "INSERT" % waited)
        # the servers' own count, around the SHOW: replay is paused, the primary idle
        want = direct(prim, "SELECT pg_current_wal_lsn()::text")
        replayed = direct(rep, "SELECT pg_last_wal_replay_lsn()::text")
        real = direct(prim, "SELECT pg_wal_lsn_diff('%s', '%s')::bigint" % (want, replayed))
        lag = int(r["lag_bytes"])
        print("# lag_bytes %d, servers say %d" % (lag, real), flush=True)
        check(abs(lag - real) <= 256 * 1024, "lag_bytes %d, servers' difference %d"
              % (lag, real))
        check(r["in_rotation"] == "no" and r["out_reason"] == "lagging" and
              r["breaker"] == "closed" and r["health"] == "ok", "paused replica: %s" % r)
        check(r["lag_ms"] is not None and int(r["lag_ms"]) >= 900,
              "lag_ms 1 s after the last replayed commit: %s" % r)
    finally:
        direct(rep, "SELECT pg_wal_replay_resume()")

    def caught_up():
        r = by(show("NODES"), "node")[node("SHARD_A_REPLICA_PORT")]
        return r if r["in_rotation"] == "yes" else None
    waited, r = wait_for("shard_a's replica back in rotation", caught_up, 30)
    measured("replica back in rotation %.1f s after replay resumed" % waited)
    direct(prim, "DROP TABLE IF EXISTS adminnode_lag")


@case
def stopped_replica_opens_its_breaker():
    wait_for("every node healthy", all_healthy, 20)
    name = node("SHARD_B_REPLICA_PORT")
    t0 = time.monotonic()
    cluster("stop", "shard_b_replica")
    try:
        def opened():
            b = by(show("BREAKERS"), "node")[name]
            return b if b["state"] == "open" else None
        waited, b = wait_for("SHOW BREAKERS: open for the stopped replica", opened, 15)
        measured("breaker open in SHOW BREAKERS %.1f s after the stop" % waited)
        check(b["cluster"] == "shard_b" and b["threshold"] == "1" and
              b["open_timeout_ms"] == "1000" and b["opened_ms_ago"] is not None and
              b["next_probe_ms"] is not None and int(b["next_probe_ms"]) <= 1000 and
              int(b["transitions"]) >= 1 and int(b["opened"]) >= 1, "SHOW BREAKERS: %s" % b)
        n = by(show("NODES"), "node")[name]
        # open again after each failed check; half-open only between a lapse and a check
        check(n["breaker"] in ("open", "half-open") and n["health"] == "failed" and
              n["in_rotation"] == "no" and n["health_error"] and n["detected_role"] is None,
              "SHOW NODES: %s" % n)
        others = by(show("BREAKERS"), "node")
        check(all(r["state"] == "closed" for k, r in others.items() if k != name),
              "other breakers: %s" % {k: r["state"] for k, r in others.items()})
    finally:
        cluster("start", "shard_b_replica")

    def healthy():
        n = by(show("NODES"), "node")[name]
        return n if n["health"] == "ok" and n["breaker"] != "open" else None
    waited, n = wait_for("the restarted replica healthy in SHOW NODES", healthy, 30)
    measured("restarted replica healthy %.1f s after its start (%.1f s after the stop)"
             % (waited, time.monotonic() - t0))


@case
def disabled_replica_is_out_of_rotation():
    """The console's DISABLE (admincmd.c) sets the flag SHOW NODES reads."""
    name = node("REPLICA1_PORT")
    psql("DISABLE " + name)
    try:
        r = by(show("NODES"), "node")[name]
        check(r["in_rotation"] == "no" and r["out_reason"] == "disabled",
              "after DISABLE: %s" % r)
    finally:
        psql("ENABLE " + name)
    r = by(show("NODES"), "node")[name]
    check(r["in_rotation"] == "yes" and r["out_reason"] is None, "after ENABLE: %s" % r)


# ---- EXPLAIN ROUTE -----------------------------------------------------------

STATEMENTS = [
    "SELECT 1",
    "SELECT * FROM pg_class",
    "INSERT INTO t VALUES (1)",
    "UPDATE t SET v = 1",
    "SELECT nextval('s')",
    "SELECT * FROM t FOR UPDATE",
    "/* pgrouter_role: primary */ SELECT 1",
    "/* pgrouter_role: replica */ SELECT 1",
    "/* pgrouter_role: replica */ DELETE FROM t",
    "BEGIN",
    "SET work_mem = '64MB'",
    "CREATE TEMP TABLE x (a int)",
    "SELECT * FROM accounts WHERE tenant_id = 'acme'",
    "SELECT * FROM accounts WHERE tenant_id = 'globex'",
    "SELECT * FROM accounts WHERE tenant_id = 'vandelay'",
    "INSERT INTO accounts (tenant_id, id) VALUES ('initech', 1)",
    "UPDATE orders SET amount = 0 WHERE tenant_id = 'hooli'",
    "/* tenant=acme */ SELECT now()",
    "SELECT * FROM accounts",
    "SELECT * FROM accounts WHERE tenant_id IN ('acme', 'globex')",
    "SELECT * FROM accounts WHERE tenant_id <> 'acme'",
    "/* tenant=globex */ SELECT * FROM accounts WHERE tenant_id = 'acme'",
]


def classify_lines(statements):
    p = subprocess.run([os.environ["PGROUTER_BIN"], "--classify", "-c", os.environ["ADMIN_INI"]],
                       input="\n".join(statements) + "\n", capture_output=True, text=True,
                       timeout=30)
    check(p.returncode == 0, "pgrouter --classify: exit %d: %s" % (p.returncode, p.stderr))
    lines = p.stdout.rstrip("\n").split("\n")
    check(len(lines) == len(statements), "--classify printed %d lines for %d statements"
          % (len(lines), len(statements)))
    return lines


@case
def explain_route_matches_classify():
    want = classify_lines(STATEMENTS)
    res = psql(*["EXPLAIN ROUTE " + s for s in STATEMENTS])
    check(len(res) == len(STATEMENTS), "%d results for %d statements"
          % (len(res), len(STATEMENTS)))
    refused = 0
    for sql, line, rows in zip(STATEMENTS, want, res):
        check(len(rows) == 1, "EXPLAIN ROUTE %s: %d rows" % (sql, len(rows)))
        r = rows[0]
        check(r["classify"] == line, "EXPLAIN ROUTE %s:\n  console:    %s\n  --classify: %s"
              % (sql, r["classify"], line))
        check(line.startswith(r["route"] + " "), "route column %s for %s" % (r["route"], line))
        if " refused (SQLSTATE " in line:
            refused += 1
            check(r["sqlstate"] and r["sqlstate"] in line and r["message"] in line and
                  r["node"] is None, "refusal columns: %s" % r)
        else:
            check(r["sqlstate"] is None and line.split(" ")[1] == r["cluster"],
                  "cluster column: %s for %s" % (r, line))
    check(refused >= 4, "only %d refused statements in the list" % refused)
    print("# %d statements, %d refused: EXPLAIN ROUTE = --classify" % (len(want), refused),
          flush=True)


@case
def explain_route_uses_the_console_session_state():
    res = psql("SET pgrouter.tenant = 'acme'",
               "EXPLAIN ROUTE SELECT * FROM accounts",
               "SET pgrouter.role = primary",
               "EXPLAIN ROUTE SELECT * FROM accounts",
               "RESET pgrouter.tenant",
               "EXPLAIN ROUTE SELECT * FROM accounts", user="stats")
    check(len(res) == 3, "%d results" % len(res))
    a, b, c = res[0][0], res[1][0], res[2][0]
    check(a["cluster"] == "shard_b" and a["node"] == "replica" and a["tenant"] == "acme" and
          a["tenant_rule"] == "tenant from the session", "tenant acme: %s" % a)
    check(b["cluster"] == "shard_b" and b["node"] == "primary", "role primary: %s" % b)
    check(c["sqlstate"] == "22023" and c["cluster"] is None, "no tenant: %s" % c)
    # the tenant of the connection's options, as a client's
    res = psql("EXPLAIN ROUTE SELECT * FROM accounts", options="-c pgrouter.tenant=hooli")
    r = res[0][0]
    check(r["cluster"] == "shard_b" and r["tenant"] == "hooli", "options tenant: %s" % r)
    # SET of anything else is refused
    p = subprocess.run([os.path.join(PGBIN, "psql"), "-X", "-c", "SET work_mem = '1GB'",
                        "host=127.0.0.1 port=%d user=admin dbname=pgrouter" % PORTS["ADMIN_PORT"]],
                       capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, PGPASSWORD="admin"))
    check(p.returncode != 0 and "pgrouter.tenant" in p.stderr, "SET work_mem: %s" % p.stderr)


def main():
    need = [(PORTS["ADMIN_PORT"], "ADMIN_PORT is not set (adminnode.sh starts the instance)"),
            (os.environ.get("ADMIN_INI"), "ADMIN_INI is not set")]
    return SUITE.run(need=need)


if __name__ == "__main__":
    sys.exit(main())
