/*
 * tests/bench/bench_classify.c - classifier throughput: a corpus of ~50 varied statements
 * (reads, writes, CTEs, comments, strings, transaction and session statements) classified
 * in a loop for about two seconds on one core. Prints statements per second; the figure
 * is information, not a verdict.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "router/sql/classify.h"
#include "router/sql/funcset.h"

static const char *const corpus[] = {
    "SELECT 1",
    "select * from accounts where id = $1",
    "SELECT a.id, a.name, b.total FROM accounts a JOIN balances b ON b.account_id = a.id "
    "WHERE a.tenant_id = $1 ORDER BY b.total DESC LIMIT 20",
    "SELECT count(*) FROM orders WHERE created_at > now() - interval '1 day'",
    "select o.id, sum(l.qty * l.price) from orders o join lines l using (order_id) "
    "group by o.id having sum(l.qty) > 10",
    "SELECT * FROM t WHERE note = 'for update; delete from t' AND x IN (1, 2, 3)",
    "SELECT * FROM t FOR UPDATE",
    "SELECT * FROM jobs WHERE state = 'queued' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED",
    "select * from (select * from t for share) s",
    "WITH recent AS (SELECT * FROM events WHERE ts > now() - interval '5 min') "
    "SELECT kind, count(*) FROM recent GROUP BY kind",
    "WITH moved AS (DELETE FROM queue WHERE id = $1 RETURNING *) "
    "INSERT INTO done SELECT * FROM moved",
    "INSERT INTO t (a, b, c) VALUES ($1, $2, $3)",
    "INSERT INTO t VALUES (nextval('t_id_seq'), 'x') ON CONFLICT (id) DO UPDATE SET b = 'x'",
    "UPDATE accounts SET balance = balance - $1 WHERE id = $2",
    "DELETE FROM sessions WHERE expires_at < now()",
    "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET v = s.v",
    "select nextval('order_seq')",
    "SELECT pg_catalog.set_config('search_path', '', false)",
    "SELECT pg_advisory_xact_lock(42)",
    "select lower(name), upper(city), coalesce(zip, '') from customers where id = 7",
    "/* pgrouter_role: replica */ SELECT * FROM reports WHERE month = '2024-01'",
    "-- dashboard\nSELECT id, title FROM posts ORDER BY published_at DESC LIMIT 10",
    "SELECT $$ a dollar ; quoted string $$, E'it\\'s', U&'d\\0061t'",
    "SELECT \"Mixed Case\", \"select\" FROM \"Weird Table\"",
    "VALUES (1, 'a'), (2, 'b')",
    "TABLE settings",
    "SHOW search_path",
    "EXPLAIN SELECT * FROM t WHERE id = 1",
    "EXPLAIN ANALYZE DELETE FROM t WHERE id = 1",
    "EXPLAIN (ANALYZE false, FORMAT JSON) UPDATE t SET a = 1",
    "COPY t TO STDOUT WITH (FORMAT csv)",
    "COPY t (a, b) FROM STDIN",
    "COPY (SELECT * FROM t WHERE a > 1) TO STDOUT",
    "BEGIN",
    "BEGIN READ ONLY",
    "START TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY",
    "COMMIT",
    "ROLLBACK",
    "SAVEPOINT sp1",
    "ROLLBACK TO SAVEPOINT sp1",
    "SET search_path TO app, public",
    "SET pgrouter.role = replica",
    "SET pgrouter.tenant = 'acme'",
    "RESET ALL",
    "DISCARD ALL",
    "PREPARE q (int) AS SELECT * FROM t WHERE id = $1",
    "EXECUTE q(1)",
    "DEALLOCATE q",
    "CREATE TEMP TABLE scratch (id int, v text)",
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS t_a ON t (a)",
    "ALTER TABLE t ADD COLUMN d timestamptz DEFAULT now()",
    "SELECT id FROM users WHERE email = 'a@b.c'; SELECT id FROM roles WHERE name = 'x'",
    "LISTEN jobs",
};

#define N_CORPUS (sizeof(corpus) / sizeof(corpus[0]))

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 2.0, start, elapsed;
    size_t lens[N_CORPUS], n_defaults, bytes = 0;
    const char *const *defaults = classify_default_writes(&n_defaults);
    unsigned long long stmts = 0, writes = 0;
    struct funcset fs;
    struct classify_opts o;

    funcset_init(&fs);
    for (size_t i = 0; i < n_defaults; i++) {
        if (funcset_add(&fs, defaults[i], strlen(defaults[i])) != 0)
            return 1;
    }
    o.writes = &fs;
    o.exempt = NULL;
    o.escape_strings = 0;
    for (size_t i = 0; i < N_CORPUS; i++) {
        lens[i] = strlen(corpus[i]);
        bytes += lens[i];
    }
    start = now_s();
    do {
        for (int rep = 0; rep < 100; rep++) {
            for (size_t i = 0; i < N_CORPUS; i++) {
                struct classify_result r;

                classify_sql(&o, corpus[i], lens[i], &r);
                writes += (unsigned)r.write;
                stmts += r.n_statements;
            }
        }
        elapsed = now_s() - start;
    } while (elapsed < seconds);
    printf("classify: %zu texts (%zu bytes on average), %llu statements in %.2f s, "
           "%llu writes\n", N_CORPUS, bytes / N_CORPUS, stmts, elapsed, writes);
    printf("classify: %.2f million statements/s on one core (target 2)\n",
           (double)stmts / elapsed / 1e6);
    funcset_close(&fs);
    return 0;
}
