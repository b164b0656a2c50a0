/*
 * tests/unit/test_adminnode.c - the rows of SHOW CLUSTERS/NODES/BREAKERS/SHARDS and
 * EXPLAIN ROUTE, built from a worker with a real config snapshot, node table and shard
 * map, without a socket: the reply builder of admin.h is replaced at link time
 * (-Wl,--wrap, see the Makefile) by one that records cells as text. Node states
 * (breaker failures, health results, disabled) are set the way nodes.c sets them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/cfg.h"
#include "router/admin/admin.h"
#include "router/sql/explain.h"
#include "router/cluster/nodes.h"
#include "router/cluster/routing.h"
#include "router/session/session.h"
#include "router/cluster/shard.h"

#define MAX_COLS 32
#define MAX_ROWS 64

/* What a handler built: column names, rows of cells ("\\N" for NULL), tag or error. */
struct admin_reply {
    int n_cols;
    char cols[MAX_COLS][40];
    int n_rows;
    int cell;
    char *rows[MAX_ROWS][MAX_COLS];
    char tag[32];
    char sqlstate[6];
    char error[300];
};

void __wrap_admin_columns(struct admin_reply *r, const struct admin_col *cols, int n);
void __wrap_admin_cell_text(struct admin_reply *r, const char *s);
void __wrap_admin_cell_int(struct admin_reply *r, long long v);
void __wrap_admin_cell_fmt(struct admin_reply *r, const char *fmt, ...);
void __wrap_admin_row_end(struct admin_reply *r);
void __wrap_admin_done(struct admin_reply *r, const char *tag);
void __wrap_admin_error(struct admin_reply *r, const char *sqlstate, const char *fmt, ...);
void __wrap_admin_notice(struct admin_reply *r, const char *fmt, ...);

void __wrap_admin_columns(struct admin_reply *r, const struct admin_col *cols, int n)
{
    assert_true(n <= MAX_COLS);
    r->n_cols = n;
    for (int i = 0; i < n; i++)
        snprintf(r->cols[i], sizeof(r->cols[i]), "%s", cols[i].name);
}

void __wrap_admin_cell_text(struct admin_reply *r, const char *s)
{
    assert_true(r->n_rows < MAX_ROWS);
    assert_true(r->cell < r->n_cols);
    r->rows[r->n_rows][r->cell++] = strdup(s != NULL ? s : "\\N");
}

void __wrap_admin_cell_int(struct admin_reply *r, long long v)
{
    char buf[32];

    snprintf(buf, sizeof(buf), "%lld", v);
    __wrap_admin_cell_text(r, buf);
}

void __wrap_admin_cell_fmt(struct admin_reply *r, const char *fmt, ...)
{
    char buf[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    __wrap_admin_cell_text(r, buf);
}

void __wrap_admin_row_end(struct admin_reply *r)
{
    assert_int_equal(r->cell, r->n_cols);     /* one cell per column, every row */
    r->cell = 0;
    r->n_rows++;
}

void __wrap_admin_done(struct admin_reply *r, const char *tag)
{
    assert_int_equal(r->cell, 0);
    snprintf(r->tag, sizeof(r->tag), "%s", tag);
}

void __wrap_admin_error(struct admin_reply *r, const char *sqlstate, const char *fmt, ...)
{
    va_list ap;

    snprintf(r->sqlstate, sizeof(r->sqlstate), "%s", sqlstate);
    va_start(ap, fmt);
    vsnprintf(r->error, sizeof(r->error), fmt, ap);
    va_end(ap);
}

void __wrap_admin_notice(struct admin_reply *r, const char *fmt, ...)
{
    (void)r;
    (void)fmt;
}

static void reply_free(struct admin_reply *r)
{
    for (int i = 0; i < MAX_ROWS; i++)
        for (int k = 0; k < MAX_COLS; k++)
            free(r->rows[i][k]);
    memset(r, 0, sizeof(*r));
}

/* The cell of row `row` in column `col`, by name. */
static const char *cell(const struct admin_reply *r, int row, const char *col)
{
    assert_true(row < r->n_rows);
    for (int i = 0; i < r->n_cols; i++)
        if (strcmp(r->cols[i], col) == 0)
            return r->rows[row][i];
    fail_msg("no column %s", col);
    return NULL;
}

/* The first row whose column col is value, or -1. */
static int find_row(const struct admin_reply *r, const char *col, const char *value)
{
    for (int i = 0; i < r->n_rows; i++)
        if (strcmp(cell(r, i, col), value) == 0)
            return i;
    return -1;
}

struct fixture {
    uv_loop_t loop;
    struct worker w;
    struct shared sh;           /* the node table (zero: usable as is) */
    struct session *s;
    struct admin_reply r;
};

#define SHARD_INI \
    "[pgrouter]\nauth_type = trust\ndefault_cluster = main\n" \
    "[breaker]\nfailure_threshold = 3\nopen_timeout = 5s\nmax_open_timeout = 60s\n" \
    "[sharding]\ntenant_column = tenant_id\nsharded_tables = accounts\nbuckets = 65536\n" \
    "[cluster.main]\nprimary = 127.0.0.1:5001\n" \
    "replicas = 127.0.0.1:5002, 127.0.0.1:5003 weight=3\nload_balance = weighted\n" \
    "[cluster.shard_a]\nprimary = 127.0.0.1:5004\nreplicas = 127.0.0.1:5005\n" \
    "buckets = 0-32767\n" \
    "[cluster.shard_b]\nprimary = 127.0.0.1:5006\nbuckets = 32768-40000, 40001-65535\n" \
    "primary_reads = on\n" \
    "[tenants]\nacme = shard_b\nhooli = shard_b\nvandelay = main\n"

static struct fixture *fixture_new(const char *ini)
{
    struct fixture *f = calloc(1, sizeof(*f));
    FILE *in = fmemopen((void *)ini, strlen(ini), "r");
    char *errors = NULL;

    assert_non_null(f);
    assert_non_null(in);
    assert_int_equal(cfg_load_stream(in, "test.ini", &f->w.cfg, &errors), 0);
    fclose(in);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    f->w.loop = &f->loop;
    worker_attach(&f->w, &f->sh);
    assert_int_equal(routing_load(&f->w.routing, f->w.cfg), 0);
    assert_int_equal(nodes_sync(f->w.nodes, &f->loop, f->w.cfg), 0);
    f->s = calloc(1, sizeof(*f->s));
    assert_non_null(f->s);
    f->s->w = &f->w;
    f->s->cfg = f->w.cfg;
    return f;
}

static void fixture_free(struct fixture *f)
{
    reply_free(&f->r);
    nodes_close(f->w.nodes, NULL);
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    routing_close(&f->w.routing);
    cfg_unref(f->w.cfg);
    shared_close(&f->sh);
    free(f->s);
    free(f);
}

/* Run the console command `words` (as in adminnode_cmds) with args into f->r. */
static void run(struct fixture *f, const char *words, const char *args)
{
    reply_free(&f->r);
    for (const struct admin_cmd *c = adminnode_cmds; c->words != NULL; c++) {
        if (strcmp(c->words, words) == 0) {
            assert_int_equal(c->fn(f->s, &f->r, args), ADMIN_DONE);
            return;
        }
    }
    fail_msg("no command %s", words);
}

static int node_id(struct fixture *f, const char *name)
{
    for (int i = 0; i < f->w.nodes->count; i++)
        if (strcmp(f->w.nodes->n[i].name, name) == 0)
            return i;
    fail_msg("no node %s", name);
    return -1;
}

static void test_show_clusters_one_row_per_cluster(void **state)
{
    struct fixture *f = fixture_new(SHARD_INI);
    int a, b, m;

    (void)state;
    run(f, "SHOW CLUSTERS", "");
    assert_string_equal(f->r.tag, "SHOW");
    assert_int_equal(f->r.n_rows, 3);
    m = find_row(&f->r, "cluster", "main");
    a = find_row(&f->r, "cluster", "shard_a");
    b = find_row(&f->r, "cluster", "shard_b");
    assert_true(m >= 0 && a >= 0 && b >= 0);
    assert_string_equal(cell(&f->r, m, "primary"), "127.0.0.1:5001");
    assert_string_equal(cell(&f->r, m, "current_primary"), "127.0.0.1:5001");
    assert_string_equal(cell(&f->r, m, "replicas"), "2");
    assert_string_equal(cell(&f->r, m, "load_balance"), "weighted");
    assert_string_equal(cell(&f->r, m, "primary_reads"), "fallback");
    assert_string_equal(cell(&f->r, m, "buckets"), "\\N");
    assert_string_equal(cell(&f->r, m, "tenants"), "1");
    assert_string_equal(cell(&f->r, m, "default"), "yes");
    assert_string_equal(cell(&f->r, a, "buckets"), "0-32767");
    assert_string_equal(cell(&f->r, a, "tenants"), "0");
    assert_string_equal(cell(&f->r, a, "default"), "no");
    assert_string_equal(cell(&f->r, b, "buckets"), "32768-40000, 40001-65535");
    assert_string_equal(cell(&f->r, b, "tenants"), "2");
    assert_string_equal(cell(&f->r, b, "replicas"), "0");
    assert_string_equal(cell(&f->r, b, "primary_reads"), "on");
    /* a promotion seen by health checks: the acting primary changes, the configured not */
    f->w.nodes->cl[0].primary = node_id(f, "127.0.0.1:5002");
    run(f, "SHOW CLUSTERS", "");
    m = find_row(&f->r, "cluster", "main");
    assert_string_equal(cell(&f->r, m, "primary"), "127.0.0.1:5001");
    assert_string_equal(cell(&f->r, m, "current_primary"), "127.0.0.1:5002");
    fixture_free(f);
}

static void test_show_nodes_roles_health_lag_rotation(void **state)
{
    struct fixture *f = fixture_new(SHARD_INI);
    int r1 = node_id(f, "127.0.0.1:5002"), r2 = node_id(f, "127.0.0.1:5003");
    int p = node_id(f, "127.0.0.1:5001");
    struct node *n1 = &f->w.nodes->n[r1];
    uint64_t now = uv_now(&f->loop);
    int row;

    (void)state;
    run(f, "SHOW NODES", "");
    assert_int_equal(f->r.n_rows, 6);
    row = find_row(&f->r, "node", "127.0.0.1:5001");
    assert_string_equal(cell(&f->r, row, "cluster"), "main");
    assert_string_equal(cell(&f->r, row, "role"), "primary");
    assert_string_equal(cell(&f->r, row, "configured_role"), "primary");
    assert_string_equal(cell(&f->r, row, "detected_role"), "\\N");
    assert_string_equal(cell(&f->r, row, "health"), "off");
    assert_string_equal(cell(&f->r, row, "breaker"), "closed");
    assert_string_equal(cell(&f->r, row, "next_probe_ms"), "\\N");
    assert_string_equal(cell(&f->r, row, "in_rotation"), "yes");
    row = find_row(&f->r, "node", "127.0.0.1:5003");
    assert_string_equal(cell(&f->r, row, "role"), "replica");
    assert_string_equal(cell(&f->r, row, "weight"), "3");
    assert_string_equal(cell(&f->r, row, "lag_bytes"), "\\N");

    /* health results as nodes.c records them: the primary at LSN 5000, r1 replayed 3000 */
    f->w.nodes->n[p].have_health = 1;
    f->w.nodes->n[p].health.ok = 1;
    f->w.nodes->n[p].health.lsn = 5000;
    f->w.nodes->n[p].health.checked_at_ms = now;
    f->w.nodes->cl[0].primary_lsn = 5000;
    f->w.nodes->cl[0].primary_lsn_ms = now;
    n1->have_health = 1;
    n1->health.ok = 1;
    n1->health.in_recovery = 1;
    n1->health.lsn = 3000;
    n1->health.replay_lag_ms = 250;
    n1->health.checked_at_ms = now;
    n1->latency_us = 420;
    n1->lagging = 1;
    run(f, "SHOW NODES", "");
    row = find_row(&f->r, "node", "127.0.0.1:5001");
    assert_string_equal(cell(&f->r, row, "detected_role"), "primary");
    assert_string_equal(cell(&f->r, row, "health"), "ok");
    assert_string_equal(cell(&f->r, row, "lag_bytes"), "\\N");
    row = find_row(&f->r, "node", "127.0.0.1:5002");
    assert_string_equal(cell(&f->r, row, "detected_role"), "replica");
    assert_string_equal(cell(&f->r, row, "lag_bytes"), "2000");
    assert_string_equal(cell(&f->r, row, "lag_ms"), "250");
    assert_string_equal(cell(&f->r, row, "latency_us"), "420");
    assert_string_equal(cell(&f->r, row, "checked_ms_ago"), "0");
    assert_string_equal(cell(&f->r, row, "in_rotation"), "no");
    assert_string_equal(cell(&f->r, row, "out_reason"), "lagging");

    /* disabled by hand (the console's DISABLE sets the flag) */
    n1->lagging = 0;
    f->w.nodes->n[r2].disabled = 1;
    run(f, "SHOW NODES", "");
    row = find_row(&f->r, "node", "127.0.0.1:5002");
    assert_string_equal(cell(&f->r, row, "in_rotation"), "yes");
    row = find_row(&f->r, "node", "127.0.0.1:5003");
    assert_string_equal(cell(&f->r, row, "in_rotation"), "no");
    assert_string_equal(cell(&f->r, row, "out_reason"), "disabled");

    /* a failed check opens the breaker: out of rotation, next probe in open_timeout */
    n1->health.ok = 0;
    n1->health.node_down = 1;
    snprintf(n1->health.error, sizeof(n1->health.error), "connection refused");
    breaker_force_open(&n1->br, now);
    run(f, "SHOW NODES", "");
    row = find_row(&f->r, "node", "127.0.0.1:5002");
    assert_string_equal(cell(&f->r, row, "health"), "failed");
    assert_string_equal(cell(&f->r, row, "detected_role"), "\\N");
    assert_string_equal(cell(&f->r, row, "breaker"), "open");
    assert_string_equal(cell(&f->r, row, "next_probe_ms"), "5000");
    assert_string_equal(cell(&f->r, row, "in_rotation"), "no");
    assert_string_equal(cell(&f->r, row, "out_reason"), "breaker open");
    assert_string_equal(cell(&f->r, row, "health_error"), "connection refused");
    fixture_free(f);
}

static void test_show_breakers_counts_failures_and_opens(void **state)
{
    struct fixture *f = fixture_new(SHARD_INI);
    int id = node_id(f, "127.0.0.1:5005");
    uint64_t now = uv_now(&f->loop);
    int row;

    (void)state;
    nodes_failure(f->w.nodes, id, now, "test");
    nodes_failure(f->w.nodes, id, now, "test");
    run(f, "SHOW BREAKERS", "");
    assert_int_equal(f->r.n_rows, 6);
    row = find_row(&f->r, "node", "127.0.0.1:5005");
    assert_string_equal(cell(&f->r, row, "cluster"), "shard_a");
    assert_string_equal(cell(&f->r, row, "state"), "closed");
    assert_string_equal(cell(&f->r, row, "failures"), "2");
    assert_string_equal(cell(&f->r, row, "threshold"), "3");
    assert_string_equal(cell(&f->r, row, "open_timeout_ms"), "5000");
    assert_string_equal(cell(&f->r, row, "max_open_timeout_ms"), "60000");
    assert_string_equal(cell(&f->r, row, "opened_ms_ago"), "\\N");
    assert_string_equal(cell(&f->r, row, "transitions"), "0");
    nodes_failure(f->w.nodes, id, now, "test");
    run(f, "SHOW BREAKERS", "");
    row = find_row(&f->r, "node", "127.0.0.1:5005");
    assert_string_equal(cell(&f->r, row, "state"), "open");
    assert_string_equal(cell(&f->r, row, "opened_ms_ago"), "0");
    assert_string_equal(cell(&f->r, row, "next_probe_ms"), "5000");
    assert_string_equal(cell(&f->r, row, "transitions"), "1");
    assert_string_equal(cell(&f->r, row, "opened"), "1");
    assert_string_equal(cell(&f->r, row, "half_opened"), "0");
    /* its time up and a probe taken: half-open, one probe in flight */
    assert_int_equal(nodes_allow(f->w.nodes, id, now + 5000), 1);
    run(f, "SHOW BREAKERS", "");
    row = find_row(&f->r, "node", "127.0.0.1:5005");
    assert_string_equal(cell(&f->r, row, "state"), "half-open");
    assert_string_equal(cell(&f->r, row, "probes"), "1");
    assert_string_equal(cell(&f->r, row, "max_probes"), "1");
    assert_string_equal(cell(&f->r, row, "transitions"), "2");
    assert_string_equal(cell(&f->r, row, "half_opened"), "1");
    assert_string_equal(cell(&f->r, row, "closed"), "0");
    assert_string_equal(cell(&f->r, row, "reopened"), "0");
    fixture_free(f);
}

static void test_show_shards_ranges_not_buckets(void **state)
{
    struct fixture *f = fixture_new(SHARD_INI);
    char b[16];
    int row;

    (void)state;
    run(f, "SHOW SHARDS", "");
    /* 65536 buckets in three config ranges: two runs of one owner each, then 3 tenants */
    assert_int_equal(f->r.n_rows, 5);
    assert_string_equal(cell(&f->r, 0, "kind"), "buckets");
    assert_string_equal(cell(&f->r, 0, "cluster"), "shard_a");
    assert_string_equal(cell(&f->r, 0, "first_bucket"), "0");
    assert_string_equal(cell(&f->r, 0, "last_bucket"), "32767");
    assert_string_equal(cell(&f->r, 0, "n_buckets"), "65536");
    assert_string_equal(cell(&f->r, 1, "cluster"), "shard_b");
    assert_string_equal(cell(&f->r, 1, "first_bucket"), "32768");
    assert_string_equal(cell(&f->r, 1, "last_bucket"), "65535");
    row = find_row(&f->r, "tenant", "vandelay");
    assert_true(row >= 0);
    assert_string_equal(cell(&f->r, row, "kind"), "tenant");
    assert_string_equal(cell(&f->r, row, "cluster"), "main");
    snprintf(b, sizeof(b), "%d", shard_bucket("vandelay", 8, 65536));
    assert_string_equal(cell(&f->r, row, "bucket"), b);
    assert_string_equal(cell(&f->r, row, "hash_cluster"),
                        shard_bucket("vandelay", 8, 65536) < 32768 ? "shard_a" : "shard_b");
    assert_true(find_row(&f->r, "tenant", "acme") >= 0);
    assert_true(find_row(&f->r, "tenant", "hooli") >= 0);
    /* no [sharding]: no rows, still a result */
    fixture_free(f);
    f = fixture_new("[pgrouter]\nauth_type = trust\n[cluster.main]\nprimary = 127.0.0.1:5001\n");
    run(f, "SHOW SHARDS", "");
    assert_string_equal(f->r.tag, "SHOW");
    assert_int_equal(f->r.n_rows, 0);
    fixture_free(f);
}

static const char *const explain_sql[] = {
    "SELECT 1",
    "INSERT INTO t VALUES (1)",
    "SELECT nextval('s')",
    "/* pgrouter_role: primary */ SELECT 1",
    "/* pgrouter_role: replica */ DELETE FROM t",
    "BEGIN",
    "SELECT * FROM accounts WHERE tenant_id = 'acme'",
    "SELECT * FROM accounts WHERE tenant_id = 'globex'",
    "SELECT * FROM accounts WHERE tenant_id = 'vandelay'",
    "UPDATE accounts SET balance = 0 WHERE tenant_id = 'initech'",
    "SELECT * FROM accounts",
    "SELECT * FROM accounts WHERE tenant_id IN ('acme', 'globex')",
    "/* tenant=hooli */ SELECT now()",
    "SELECT * FROM accounts WHERE tenant_id <> 'acme'",
};

/* EXPLAIN ROUTE's classify column is explain_route_in's line for the same state. */
static void explain_all(struct fixture *f, const char *tenant, enum route_role role)
{
    for (size_t i = 0; i < sizeof(explain_sql) / sizeof(explain_sql[0]); i++) {
        struct decide_session ds;
        char want[EXPLAIN_LINE_MAX];
        const char *sql = explain_sql[i];

        memset(&ds, 0, sizeof(ds));
        ds.tenant = tenant;
        ds.role = role;
        explain_route_in(&f->w.routing, f->w.cfg, &ds, sql, strlen(sql), want, sizeof(want));
        run(f, "EXPLAIN ROUTE", sql);
        assert_string_equal(f->r.tag, "EXPLAIN");
        assert_int_equal(f->r.n_rows, 1);
        assert_string_equal(cell(&f->r, 0, "classify"), want);
        assert_string_equal(cell(&f->r, 0, "route"), strncmp(want, "write", 5) == 0 ? "write"
                            : "read");
        if (strstr(want, " refused (SQLSTATE ") != NULL) {
            assert_string_equal(cell(&f->r, 0, "node"), "\\N");
            assert_non_null(strstr(want, cell(&f->r, 0, "sqlstate")));
            assert_non_null(strstr(want, cell(&f->r, 0, "message")));
        } else {
            assert_string_equal(cell(&f->r, 0, "sqlstate"), "\\N");
            assert_non_null(strstr(want, cell(&f->r, 0, "cluster")));
            assert_non_null(strstr(want, cell(&f->r, 0, "node")));
        }
    }
}

static void test_explain_route_is_the_classify_line(void **state)
{
    struct fixture *f = fixture_new(SHARD_INI);
    int row;

    (void)state;
    explain_all(f, NULL, ROUTE_ROLE_AUTO);
    run(f, "EXPLAIN ROUTE", "SELECT * FROM accounts WHERE tenant_id = 'globex'");
    assert_string_equal(cell(&f->r, 0, "tenant"), "globex");
    assert_string_equal(cell(&f->r, 0, "tenant_rule"), "tenant from the statement");
    row = shard_bucket("globex", 6, 65536);
    assert_string_equal(cell(&f->r, 0, "cluster"), row < 32768 ? "shard_a" : "shard_b");
    run(f, "EXPLAIN ROUTE", "SELECT * FROM accounts");
    assert_string_equal(cell(&f->r, 0, "sqlstate"), "22023");
    assert_string_equal(cell(&f->r, 0, "cluster"), "\\N");

    /* the admin session's own state: SET pgrouter.tenant and pgrouter.role */
    run(f, "SET", "pgrouter.tenant = 'acme'");
    assert_string_equal(f->r.tag, "SET");
    assert_string_equal(f->s->tenant, "acme");
    run(f, "SET", "pgrouter.role TO replica");
    assert_int_equal(f->s->role, ROUTE_ROLE_REPLICA);
    explain_all(f, "acme", ROUTE_ROLE_REPLICA);
    run(f, "EXPLAIN ROUTE", "SELECT * FROM accounts");
    assert_string_equal(cell(&f->r, 0, "cluster"), "shard_b");
    assert_string_equal(cell(&f->r, 0, "tenant_rule"), "tenant from the session");
    run(f, "SET", "pgrouter.tenant = Hooli");     /* unquoted: folded, as PostgreSQL does */
    assert_string_equal(f->s->tenant, "hooli");
    run(f, "RESET", "pgrouter.tenant");
    assert_string_equal(f->r.tag, "RESET");
    assert_string_equal(f->s->tenant, "");
    run(f, "RESET", "pgrouter.role");
    assert_int_equal(f->s->role, ROUTE_ROLE_AUTO);
    explain_all(f, NULL, ROUTE_ROLE_AUTO);
    fixture_free(f);
}

static void test_console_errors(void **state)
{
    struct fixture *f = fixture_new(SHARD_INI);

    (void)state;
    run(f, "EXPLAIN ROUTE", "");
    assert_string_equal(f->r.sqlstate, "42601");
    run(f, "SHOW NODES", "extra");
    assert_string_equal(f->r.sqlstate, "42601");
    run(f, "SET", "work_mem = '1GB'");
    assert_string_equal(f->r.sqlstate, "42704");
    run(f, "SET", "pgrouter.role = sideways");
    assert_string_equal(f->r.sqlstate, "22023");
    assert_int_equal(f->s->role, ROUTE_ROLE_AUTO);
    run(f, "SET", "pgrouter.tenant = 'a'; DROP TABLE t");
    assert_string_equal(f->r.sqlstate, "42704");
    assert_string_equal(f->s->tenant, "");
    fixture_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_show_clusters_one_row_per_cluster),
        cmocka_unit_test(test_show_nodes_roles_health_lag_rotation),
        cmocka_unit_test(test_show_breakers_counts_failures_and_opens),
        cmocka_unit_test(test_show_shards_ranges_not_buckets),
        cmocka_unit_test(test_explain_route_is_the_classify_line),
        cmocka_unit_test(test_console_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
