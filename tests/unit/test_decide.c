/*
 * tests/unit/test_decide.c - one routing decision: a table of statements, each with a
 * session state, goes through decide_query (what the proxy calls for a simple Query) and
 * through explain_route_in (what `pgrouter --classify` prints); both must give the
 * expected cluster and node, or refuse with the expected SQLSTATE and the same message.
 * The config is the integration suite's sharded one: buckets 0-1 on shard_a, 2-3 on
 * shard_b, acme placed on shard_b. globex hashes to bucket 0, initech to 1, t1 to 3.
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
#include "router/cluster/decide.h"
#include "router/sql/explain.h"
#include "router/cluster/routing.h"

#define SHARD_INI \
    "[pgrouter]\nauth_type = trust\ndefault_cluster = main\n" \
    "[sharding]\ntenant_column = tenant_id\nsharded_tables = accounts, orders\nbuckets = 4\n" \
    "[cluster.main]\nprimary = 127.0.0.1:5001\nreplicas = 127.0.0.1:5002\n" \
    "[cluster.shard_a]\nprimary = 127.0.0.1:5003\nreplicas = 127.0.0.1:5004\nbuckets = 0-1\n" \
    "[cluster.shard_b]\nprimary = 127.0.0.1:5005\nreplicas = 127.0.0.1:5006\nbuckets = 2-3\n" \
    "[tenants]\nacme = shard_b\n"

struct dcase {
    const char *tenant;         /* session tenant (SET or startup), NULL for none */
    const char *tx;             /* cluster of an open transaction, NULL for none */
    const char *sql;
    const char *want;           /* "cluster node", or a SQLSTATE when refused */
};

#define NEEDS "22023"
#define TWO "0A000"

static const struct dcase cases[] = {
    /* the four statements --classify used to route while the proxy refused them */
    { NULL, NULL, "SELECT * FROM accounts WHERE tenant_id = 'globex' OR tenant_id = 'acme'",
      NEEDS },
    { NULL, NULL, "SELECT * FROM accounts WHERE tenant_id = 'globex' OR tenant_id = 'initech'",
      NEEDS },
    { NULL, NULL, "SELECT * FROM accounts WHERE tenant_id IN ('globex', 'acme')", TWO },
    { NULL, NULL, "SELECT * FROM accounts WHERE tenant_id = 'globex' OR balance > 5", NEEDS },
    { NULL, NULL, "/* tenant=globex */ SELECT * FROM accounts WHERE tenant_id = 'acme'", TWO },
    /* comment and statement */
    { NULL, NULL, "/* tenant=globex */ SELECT * FROM accounts WHERE tenant_id = 'initech'",
      TWO },
    { NULL, NULL, "SELECT * FROM accounts WHERE tenant_id = 'acme' /* tenant=acme */",
      "shard_b replica" },
    { NULL, NULL, "/* tenant=globex */ /* tenant=acme */ SELECT 1", TWO },
    { NULL, NULL, "/* tenant=acme */ SELECT * FROM accounts", "shard_b replica" },
    { NULL, NULL, "/* tenant=acme */ SELECT now()", "shard_b replica" },
    /* plain statements */
    { NULL, NULL, "SELECT * FROM accounts WHERE tenant_id = 'globex'", "shard_a replica" },
    { NULL, NULL, "SELECT * FROM accounts WHERE tenant_id IN ('globex', 'initech')",
      "shard_a replica" },
    { NULL, NULL, "SELECT * FROM accounts WHERE tenant_id IS NOT DISTINCT FROM 't1'",
      "shard_b replica" },
    { NULL, NULL, "INSERT INTO accounts (tenant_id, id) VALUES ('acme', 1)", "shard_b primary" },
    { NULL, NULL, "UPDATE orders SET amount = 0 WHERE tenant_id = 'globex'", "shard_a primary" },
    { NULL, NULL, "SELECT * FROM accounts", NEEDS },
    { NULL, NULL, "INSERT INTO accounts VALUES ('globex', 1)", NEEDS },
    { NULL, NULL, "SELECT 1", "main replica" },
    { NULL, NULL, "SELECT nextval('s')", "main primary" },
    /* negations and other comparisons never pick a cluster */
    { NULL, NULL, "SELECT * FROM accounts WHERE NOT (tenant_id = 'globex')", NEEDS },
    { NULL, NULL, "SELECT * FROM accounts WHERE NOT tenant_id = 'globex'", NEEDS },
    { NULL, NULL, "SELECT * FROM accounts WHERE tenant_id <> 'globex'", NEEDS },
    { NULL, NULL, "SELECT * FROM accounts WHERE tenant_id != 'globex'", NEEDS },
    { NULL, NULL, "SELECT * FROM accounts WHERE tenant_id NOT IN ('globex')", NEEDS },
    { NULL, NULL, "SELECT * FROM accounts WHERE tenant_id IS DISTINCT FROM 'globex'", NEEDS },
    { NULL, NULL, "SELECT * FROM accounts WHERE tenant_id < 'h'", NEEDS },
    { NULL, NULL, "SELECT * FROM accounts WHERE tenant_id > 'h'", NEEDS },
    { NULL, NULL, "SELECT * FROM accounts WHERE tenant_id LIKE 'glob%'", NEEDS },
    { NULL, NULL, "SELECT * FROM accounts WHERE tenant_id BETWEEN 'a' AND 'b'", NEEDS },
    { NULL, NULL, "SELECT * FROM accounts WHERE tenant_id IS NOT NULL", NEEDS },
    { NULL, NULL, "SELECT * FROM accounts WHERE tenant_id = ANY ('{globex}')", NEEDS },
    { NULL, NULL, "SELECT * FROM accounts WHERE tenant_id IN (SELECT 'globex')", NEEDS },
    { NULL, NULL, "SELECT * FROM accounts WHERE (tenant_id = 'globex') = false", NEEDS },
    { NULL, NULL, "DELETE FROM accounts WHERE tenant_id <> 'globex'", NEEDS },
    /* ... not even when a comment or the session names the tenant */
    { NULL, NULL, "/* tenant=globex */ SELECT * FROM accounts WHERE tenant_id <> 'globex'",
      NEEDS },
    { NULL, NULL, "/* tenant=globex */ SELECT * FROM accounts WHERE NOT (tenant_id = 'globex')",
      NEEDS },
    { "globex", NULL, "SELECT * FROM accounts WHERE NOT (tenant_id = 'globex')", NEEDS },
    { "globex", NULL, "SELECT * FROM accounts WHERE tenant_id NOT IN ('acme')", NEEDS },
    /* a tenant in one query level does not bound another's rows */
    { NULL, NULL, "SELECT * FROM accounts WHERE id IN (SELECT id FROM accounts "
      "WHERE tenant_id = 'globex')", NEEDS },
    { NULL, NULL, "SELECT * FROM accounts WHERE tenant_id = 'globex' UNION ALL "
      "SELECT * FROM orders", NEEDS },
    { NULL, NULL, "SELECT * FROM accounts a WHERE a.tenant_id = 'globex' AND EXISTS (SELECT 1 "
      "FROM orders o WHERE o.tenant_id = a.tenant_id AND o.id = a.id)", "shard_a replica" },
    { "globex", NULL, "SELECT * FROM accounts WHERE id IN (SELECT id FROM orders)",
      "shard_a replica" },
    { NULL, NULL, "SELECT tenant_id = 'globex' FROM accounts", NEEDS },
    { NULL, NULL, "UPDATE accounts SET tenant_id = 'globex'", NEEDS },
    { NULL, NULL, "UPDATE accounts SET tenant_id = 'globex' WHERE tenant_id = 'initech'",
      "shard_a primary" },
    { NULL, NULL, "UPDATE accounts SET tenant_id = 'acme' WHERE tenant_id = 'initech'", TWO },
    /* the session's tenant */
    { "globex", NULL, "SELECT * FROM accounts", "shard_a replica" },
    { "globex", NULL, "SELECT * FROM accounts WHERE tenant_id = 'globex' OR balance > 5",
      "shard_a replica" },
    { "globex", NULL, "SELECT * FROM accounts WHERE tenant_id = 'acme'", TWO },
    { "globex", NULL, "SELECT * FROM accounts WHERE tenant_id = 'globex' OR tenant_id = 'acme'",
      TWO },
    { "globex", NULL, "/* tenant=acme */ SELECT * FROM accounts", "shard_b replica" },
    { "globex", NULL, "SELECT 1", "main replica" },
    { "globex", NULL, "BEGIN", "shard_a primary" },
    { "acme", NULL, "INSERT INTO orders (tenant_id, id) VALUES (current_setting('x'), 1)",
      "shard_b primary" },
    /* inside a transaction */
    { NULL, "shard_b", "SELECT * FROM orders WHERE tenant_id = 'globex'", TWO },
    { NULL, "shard_b", "SELECT * FROM orders WHERE tenant_id = 'acme'", "shard_b pinned" },
    { NULL, "shard_b", "SELECT 1", "shard_b pinned" },
};

struct fixture {
    struct cfg *cfg;
    struct routing r;
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    FILE *f = fmemopen((void *)SHARD_INI, strlen(SHARD_INI), "r");
    char *errors = NULL;

    if (fx == NULL || f == NULL)
        return -1;
    if (cfg_load_stream(f, "decide.ini", &fx->cfg, &errors) != 0) {
        fprintf(stderr, "%s", errors != NULL ? errors : "config rejected\n");
        fclose(f);
        return -1;
    }
    fclose(f);
    if (routing_load(&fx->r, fx->cfg) != 0)
        return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;

    routing_close(&fx->r);
    cfg_unref(fx->cfg);
    free(fx);
    return 0;
}

/* What the proxy does with decide_query's answer: "cluster node" or the SQLSTATE. */
static void proxy_outcome(const struct decide_route *dr, char *buf, size_t n)
{
    const char *node = "primary";

    if (dr->sqlstate != NULL) {
        snprintf(buf, n, "%s", dr->sqlstate);
        return;
    }
    switch (dr->d.target) {
    case ROUTE_REPLICA:
        node = "replica";
        break;
    case ROUTE_PINNED:
        node = "pinned";
        break;
    case ROUTE_ANY:
        node = "any";
        break;
    case ROUTE_PRIMARY:
    case ROUTE_ERROR:
        break;
    }
    snprintf(buf, n, "%s %s", dr->cluster->name, node);
}

static void session_of(const struct fixture *fx, const struct dcase *c,
                       struct decide_session *ds)
{
    memset(ds, 0, sizeof(*ds));
    ds->tenant = c->tenant;
    if (c->tx != NULL) {
        ds->in_tx = 1;
        ds->tx_cluster = cfg_find_cluster(fx->cfg, c->tx);
        assert_non_null(ds->tx_cluster);
    }
}

static void test_decide_proxy_and_classify_agree_on_every_statement(void **state)
{
    struct fixture *fx = *state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct dcase *c = &cases[i];
        struct decide_session ds;
        struct decide_route dr;
        char got[256], line[512], want_line[600];

        session_of(fx, c, &ds);
        assert_int_equal(decide_query(fx->cfg, &fx->r, NULL, &ds, c->sql, strlen(c->sql), &dr),
                         0);
        proxy_outcome(&dr, got, sizeof(got));
        if (strcmp(got, c->want) != 0)
            fail_msg("case %zu: %s\n  the proxy's decision: %s (want %s; rule %s; %s)", i,
                     c->sql, got, c->want, dr.rule != NULL ? dr.rule : "-", dr.message);
        explain_route_in(&fx->r, fx->cfg, &ds, c->sql, strlen(c->sql), line, sizeof(line));
        if (dr.sqlstate != NULL) {
            /* --classify says refused, with the proxy's SQLSTATE and message */
            snprintf(want_line, sizeof(want_line), " refused (SQLSTATE %s: %s)", dr.sqlstate,
                     dr.message);
            if (strstr(line, want_line) == NULL)
                fail_msg("case %zu: %s\n  --classify: %s\n  proxy: SQLSTATE %s: %s", i, c->sql,
                         line, dr.sqlstate, dr.message);
        } else {
            const char *node = strchr(c->want, ' ') + 1;

            snprintf(want_line, sizeof(want_line), " %s %s (", dr.cluster->name,
                     strcmp(node, "pinned") == 0 || strcmp(node, "any") == 0
                     ? "current server" : node);
            if (strstr(line, want_line) == NULL || strstr(line, "refused") != NULL)
                fail_msg("case %zu: %s\n  --classify: %s\n  proxy: %s", i, c->sql, line, got);
        }
        assert_true(strncmp(line, dr.cr.write ? "write " : "read ", dr.cr.write ? 6 : 5) == 0);
    }
}

/* The refusals name the table, the column and what to do, as the README shows. */
static void test_decide_refusals_say_what_to_do(void **state)
{
    struct fixture *fx = *state;
    struct decide_session ds;
    struct decide_route dr;
    const char *neg = "SELECT * FROM orders WHERE NOT (tenant_id = 'globex')";
    const char *none = "SELECT * FROM orders";

    memset(&ds, 0, sizeof(ds));
    assert_int_equal(decide_query(fx->cfg, &fx->r, NULL, &ds, none, strlen(none), &dr), 0);
    assert_string_equal(dr.sqlstate, "22023");
    assert_non_null(strstr(dr.message, "pgrouter: a statement on sharded table \"orders\" "
                           "needs a tenant: add tenant_id = '...'"));
    assert_int_equal(decide_query(fx->cfg, &fx->r, NULL, &ds, neg, strlen(neg), &dr), 0);
    assert_string_equal(dr.sqlstate, "22023");
    assert_non_null(strstr(dr.message, "sharded table \"orders\" needs a tenant: it compares "
                           "tenant_id with NOT"));
    assert_int_equal(dr.d.target, ROUTE_ERROR);
    assert_null(dr.tn.cluster);
}

/* decide_tenant with bound parameters (the proxy's Bind path) follows the same rules. */
static void test_decide_tenant_reads_parameters_and_refuses_negations(void **state)
{
    struct fixture *fx = *state;
    const char *vals[1] = { "acme" };
    int32_t lens[1] = { 4 };
    struct tenant_params p = { .n = 1, .values = vals, .lens = lens };
    struct decide_session ds;
    struct decide_tenant tn;
    const char *eq = "SELECT * FROM accounts WHERE tenant_id = $1";
    const char *ne = "SELECT * FROM accounts WHERE tenant_id <> $1";

    memset(&ds, 0, sizeof(ds));
    assert_int_equal(decide_tenant(fx->cfg, &fx->r.shard, &ds, eq, strlen(eq), &p, &tn), 0);
    assert_null(tn.sqlstate);
    assert_ptr_equal(tn.cluster, cfg_find_cluster(fx->cfg, "shard_b"));
    assert_string_equal(tn.tenant, "acme");
    assert_int_equal(tn.placed, 1);
    assert_int_equal(decide_tenant(fx->cfg, &fx->r.shard, &ds, ne, strlen(ne), &p, &tn), 0);
    assert_string_equal(tn.sqlstate, "22023");
    assert_null(tn.cluster);
    ds.tenant = "acme";
    assert_int_equal(decide_tenant(fx->cfg, &fx->r.shard, &ds, ne, strlen(ne), &p, &tn), 0);
    assert_string_equal(tn.sqlstate, "22023");
    /* sharding off: no decision at all */
    assert_int_equal(decide_tenant(fx->cfg, NULL, &ds, eq, strlen(eq), &p, &tn), 0);
    assert_null(tn.sqlstate);
    assert_null(tn.cluster);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decide_proxy_and_classify_agree_on_every_statement),
        cmocka_unit_test(test_decide_refusals_say_what_to_do),
        cmocka_unit_test(test_decide_tenant_reads_parameters_and_refuses_negations),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
