/*
 * tests/unit/test_tenant.c - tenant_extract over a table of statements: comment hints,
 * WHERE and IN values, INSERT rows, UPDATE and DELETE, aliases, schemas, quoting, casts,
 * bound parameters in text and binary, and text that only looks like a tenant.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "router/sql/tenant.h"
#include "router/sql/tenantval.h"

static const char *const tables[] = { "accounts", "orders", "billing.invoices" };

static const struct tenant_opts opts = {
    .column = "tenant_id",
    .tables = tables,
    .n_tables = 3,
};

#define S 1u    /* touches a sharded table */
#define O 2u    /* touches another table */
#define U 4u    /* unknown */
#define R 8u    /* has_or */
#define B 16u   /* broad: can match several tenants */

struct tcase {
    const char *sql;
    unsigned flags;
    const char *values;         /* '|' between values, "" for none */
    const char *comment;        /* NULL for none */
};

static const struct tcase cases[] = {
    /* comment hints */
    { "/* tenant=acme */ SELECT * FROM accounts", S, "", "acme" },
    { "SELECT * FROM accounts /*tenant='acme'*/", S, "", "acme" },
    { "SELECT 1 /*application='app',tenant='big%20corp'*/", 0, "", "big corp" },
    { "SELECT 1 /* TENANT = acme, other=1 */", 0, "", "acme" },
    { "SELECT 1 -- tenant=acme\n", 0, "", "acme" },
    { "SELECT 1 /* pgrouter.tenant=acme */", 0, "", "acme" },
    { "SELECT 1 /* mytenant=acme tenant_id=5 */", 0, "", NULL },
    { "SELECT '/* tenant=x */'", 0, "", NULL },
    { "SELECT $$ /* tenant=x */ $$, \"/* tenant=y */\"", 0, "", NULL },
    { "SELECT 1 /* tenant='O\\'Hara' */", 0, "", "O'Hara" },
    { "SELECT 1 /* tenant= */", 0, "", NULL },
    /* WHERE */
    { "SELECT * FROM accounts WHERE tenant_id = 'acme'", S, "acme", NULL },
    { "select * from ACCOUNTS where TENANT_ID='acme' and id = 3", S, "acme", NULL },
    { "SELECT * FROM accounts WHERE id = 3 AND tenant_id = 'acme'::text", S, "acme", NULL },
    { "SELECT * FROM accounts WHERE tenant_id = 'acme'::varchar(20) LIMIT 1", S, "acme",
      NULL },
    { "SELECT * FROM accounts WHERE 'acme' = tenant_id", S, "acme", NULL },
    { "SELECT * FROM accounts WHERE tenant_id = 42", S, "42", NULL },
    { "SELECT * FROM accounts WHERE tenant_id = 0042", S, "42", NULL },
    { "SELECT * FROM accounts WHERE tenant_id = -7", S, "-7", NULL },
    { "SELECT * FROM accounts WHERE tenant_id=-7", S, "-7", NULL },
    { "SELECT * FROM accounts WHERE tenant_id = 1.5", S | U, "", NULL },
    { "SELECT * FROM accounts WHERE tenant_id = 'O''Brien'", S, "O'Brien", NULL },
    { "SELECT * FROM accounts WHERE tenant_id = E'O\\'Brien\\n'", S, "O'Brien\n", NULL },
    { "SELECT * FROM accounts WHERE tenant_id = $$acme$$", S, "acme", NULL },
    { "SELECT * FROM accounts WHERE tenant_id = 'a' || 'b'", S | U, "", NULL },
    { "SELECT * FROM accounts WHERE tenant_id = lower('ACME')", S | U, "", NULL },
    { "SELECT * FROM accounts WHERE tenant_id = pg_catalog.lower('ACME')", S | U, "", NULL },
    { "SELECT * FROM accounts WHERE tenant_id = ANY($1)", S | U | B, "", NULL },
    { "SELECT * FROM accounts WHERE tenant_id = (SELECT 'a')", S | U, "", NULL },
    { "SELECT * FROM accounts a, orders o WHERE a.tenant_id = o.tenant_id", S, "", NULL },
    { "SELECT * FROM accounts WHERE tenant_id = 'a' UNION ALL SELECT * FROM orders "
      "WHERE tenant_id = 'b'", S, "a|b", NULL },
    { "SELECT * FROM accounts WHERE tenant_id <> 'acme'", S | B, "", NULL },
    { "SELECT * FROM accounts WHERE NOT tenant_id = 'acme'", S | B, "", NULL },
    { "SELECT * FROM accounts WHERE tenant_id::text = 'acme'", S, "acme", NULL },
    { "SELECT * FROM accounts WHERE \"tenant_id\" = 'acme'", S, "acme", NULL },
    { "SELECT * FROM accounts WHERE \"Tenant_Id\" = 'acme'", S, "", NULL },
    { "SELECT * FROM accounts WHERE tenant_idx = 'acme'", S, "", NULL },
    { "SELECT * FROM accounts WHERE tenant_id = 'a' OR tenant_id = 'b'", S | R, "a|b",
      NULL },
    { "SELECT * FROM accounts WHERE tenant_id = 'a' OR id = 5", S | R, "a", NULL },
    { "SELECT * FROM accounts WHERE tenant_id = 'a' AND tenant_id = 'a'", S, "a", NULL },
    /* negations and comparisons that can match several tenants */
    { "SELECT * FROM accounts WHERE NOT (tenant_id = 'a')", S | B, "", NULL },
    { "SELECT * FROM accounts WHERE NOT (id = 1 AND (tenant_id = 'a'))", S | B, "", NULL },
    { "SELECT * FROM accounts WHERE NOT (tenant_id IN ('a', 'b'))", S | B, "", NULL },
    { "SELECT * FROM accounts WHERE NOT 'a' = tenant_id", S | B, "", NULL },
    { "SELECT * FROM accounts a WHERE NOT a.tenant_id = 'a'", S | B, "", NULL },
    { "SELECT * FROM accounts WHERE NOT coalesce(tenant_id = 'a', false)", S, "", NULL },
    { "SELECT * FROM accounts WHERE tenant_id != 'a'", S | B, "", NULL },
    { "SELECT * FROM accounts WHERE tenant_id < 'm'", S | B, "", NULL },
    { "SELECT * FROM accounts WHERE tenant_id >= 'm'", S | B, "", NULL },
    { "SELECT * FROM accounts WHERE 'a' <> tenant_id", S | B, "", NULL },
    { "SELECT * FROM accounts WHERE 'm' < tenant_id", S | B, "", NULL },
    { "SELECT * FROM accounts WHERE tenant_id LIKE 'a%'", S | B, "", NULL },
    { "SELECT * FROM accounts WHERE tenant_id NOT LIKE 'a%'", S | B, "", NULL },
    { "SELECT * FROM accounts WHERE tenant_id ILIKE 'A'", S | B, "", NULL },
    { "SELECT * FROM accounts WHERE tenant_id ~ '^a'", S | B, "", NULL },
    { "SELECT * FROM accounts WHERE tenant_id SIMILAR TO 'a'", S | B, "", NULL },
    { "SELECT * FROM accounts WHERE tenant_id BETWEEN 'a' AND 'b'", S | B, "", NULL },
    { "SELECT * FROM accounts WHERE tenant_id IS DISTINCT FROM 'a'", S | B, "", NULL },
    { "SELECT * FROM accounts WHERE tenant_id IS NOT NULL", S | B, "", NULL },
    { "SELECT * FROM accounts WHERE tenant_id IS NULL", S | B, "", NULL },
    { "SELECT * FROM accounts WHERE tenant_id IS NOT DISTINCT FROM 'a'", S, "a", NULL },
    { "SELECT * FROM accounts WHERE tenant_id::text <> 'a'", S | B, "", NULL },
    { "SELECT * FROM accounts WHERE (tenant_id = 'a') = false", S | B, "a", NULL },
    { "SELECT * FROM accounts WHERE (tenant_id = 'a') IS NOT TRUE", S | B, "a", NULL },
    { "SELECT * FROM accounts WHERE tenant_id = 'a' IS FALSE", S | B, "a", NULL },
    { "SELECT * FROM accounts WHERE tenant_id = 'a' = false", S | U | B, "", NULL },
    { "SELECT * FROM accounts WHERE CASE WHEN tenant_id = 'a' THEN false ELSE true END",
      S | U, "", NULL },
    { "DELETE FROM accounts WHERE tenant_id <> 'a'", S | B, "", NULL },
    { "UPDATE accounts SET x = 1 WHERE NOT (tenant_id = 'a')", S | B, "", NULL },
    /* ... and what stays a plain equality */
    { "SELECT * FROM accounts WHERE NOT deleted AND tenant_id = 'a'", S, "a", NULL },
    { "SELECT * FROM accounts WHERE x IS NOT NULL AND tenant_id = 'a'", S, "a", NULL },
    { "SELECT * FROM accounts a WHERE a.tenant_id = 'a' AND NOT EXISTS (SELECT 1 FROM "
      "orders o WHERE o.tenant_id = 'a' AND o.id = a.id)", S, "a", NULL },
    { "SELECT * FROM accounts WHERE id NOT IN (SELECT id FROM orders WHERE tenant_id = 'a') "
      "AND tenant_id = 'a'", S, "a", NULL },
    { "SELECT * FROM accounts WHERE (tenant_id = 'a') AND id = 1", S, "a", NULL },
    { "SELECT * FROM accounts WHERE x NOT BETWEEN 1 AND 2 AND tenant_id = 'a'", S, "a",
      NULL },
    { "SELECT tenant_id || ':' || id FROM accounts WHERE tenant_id = 'a'", S, "a", NULL },
    { "ALTER TABLE accounts ADD CHECK (tenant_id <> '')", S, "", NULL },
    /* IN lists */
    { "SELECT * FROM accounts WHERE tenant_id IN ('a', 'b', 'c')", S, "a|b|c", NULL },
    { "SELECT * FROM accounts WHERE tenant_id IN ('a')", S, "a", NULL },
    { "SELECT * FROM accounts WHERE tenant_id IN (1, 2::int)", S, "1|2", NULL },
    { "SELECT * FROM accounts WHERE tenant_id NOT IN ('a', 'b')", S | B, "", NULL },
    { "SELECT * FROM accounts WHERE tenant_id IN (SELECT t FROM x)", S | O | U | B, "", NULL },
    { "SELECT * FROM accounts WHERE tenant_id IN ('a', upper('b'))", S | U | B, "a", NULL },
    /* aliases, qualification, schemas, quoting */
    { "SELECT * FROM accounts a WHERE a.tenant_id = 'x'", S, "x", NULL },
    { "SELECT * FROM accounts AS a WHERE a.tenant_id = 'x'", S, "x", NULL },
    { "SELECT * FROM accounts WHERE accounts.tenant_id = 'x'", S, "x", NULL },
    { "SELECT * FROM public.accounts p WHERE p.tenant_id = 'x'", S, "x", NULL },
    { "SELECT * FROM public.accounts WHERE public.accounts.tenant_id = 'x'", S, "x", NULL },
    { "SELECT * FROM \"accounts\" WHERE tenant_id = 'x'", S, "x", NULL },
    { "SELECT * FROM \"Accounts\" WHERE tenant_id = 'x'", O, "x", NULL },
    { "SELECT * FROM billing.invoices WHERE tenant_id = 'x'", S, "x", NULL },
    { "SELECT * FROM other.invoices WHERE tenant_id = 'x'", O, "x", NULL },
    { "SELECT * FROM invoices", O, "", NULL },
    { "SELECT * FROM users u WHERE u.tenant_id = 'x'", O, "", NULL },
    { "SELECT * FROM accounts a, users u WHERE u.tenant_id = 'x'", S | O, "", NULL },
    { "SELECT * FROM accounts a, orders o WHERE o.tenant_id = 'x'", S, "x", NULL },
    { "SELECT a, b FROM users u JOIN x ON u.id = x.id, accounts c WHERE c.tenant_id = 'x' "
      "ORDER BY a, b", S | O, "x", NULL },
    { "SELECT a, tenant_id FROM users ORDER BY a, accounts", O, "", NULL },
    /* joins */
    { "SELECT * FROM accounts a JOIN orders o ON o.tenant_id = a.tenant_id "
      "WHERE a.tenant_id = 'acme'", S, "acme", NULL },
    { "SELECT * FROM accounts a LEFT JOIN users u USING (id) WHERE a.tenant_id = $1",
      S | O | U, "", NULL },
    { "SELECT * FROM accounts a JOIN orders o ON o.tenant_id = 'b' AND a.tenant_id = 'a'",
      S, "b|a", NULL },
    /* INSERT */
    { "INSERT INTO accounts (id, tenant_id) VALUES (1, 'acme')", S, "acme", NULL },
    { "INSERT INTO accounts (tenant_id, id) VALUES ('acme', 1), ('acme', 2)", S, "acme",
      NULL },
    { "INSERT INTO accounts (id, tenant_id) VALUES (1, 'a'), (2, 'b') RETURNING id", S,
      "a|b", NULL },
    { "INSERT INTO accounts (id, tenant_id, note) VALUES ((1 + 2), 'a', 'x, y'), "
      "(f(1, 2), 'a'::text, NULL)", S, "a", NULL },
    { "INSERT INTO accounts AS a (id, tenant_id) VALUES (1, 42)", S, "42", NULL },
    { "INSERT INTO public.accounts (id, \"tenant_id\") VALUES (1, 'q')", S, "q", NULL },
    { "INSERT INTO accounts (id, tenant_id) VALUES (1, DEFAULT)", S | U, "", NULL },
    { "INSERT INTO accounts (id, tenant_id) VALUES (1, lower('A'))", S | U, "", NULL },
    { "INSERT INTO accounts VALUES (1, 'acme')", S | U, "", NULL },
    { "INSERT INTO accounts (id) VALUES (1)", S | U, "", NULL },
    { "INSERT INTO accounts (id, tenant_id) SELECT id, tenant_id FROM staging "
      "WHERE tenant_id = 'z'", S | O, "z", NULL },
    { "INSERT INTO logs (tenant_id, msg) VALUES ('a', 'b')", O, "", NULL },
    { "INSERT INTO accounts (id, tenant_id) VALUES (1, 'a') ON CONFLICT (id) DO UPDATE "
      "SET note = 'x'", S, "a", NULL },
    /* UPDATE, DELETE, MERGE */
    { "MERGE INTO accounts a USING staging s ON a.id = s.id WHEN MATCHED THEN UPDATE "
      "SET note = s.note WHEN NOT MATCHED THEN INSERT (id, tenant_id) VALUES (s.id, 'm')",
      S | O, "", NULL },
    { "UPDATE accounts SET note = 'x' WHERE tenant_id = 'acme'", S, "acme", NULL },
    { "UPDATE accounts a SET note = 'x' WHERE a.tenant_id = 'acme' AND a.id = 1", S,
      "acme", NULL },
    { "UPDATE accounts SET tenant_id = 'b' WHERE tenant_id = 'a'", S, "b|a", NULL },
    { "UPDATE accounts SET note = u.note FROM users u WHERE u.id = accounts.id AND "
      "accounts.tenant_id = 'acme'", S | O, "acme", NULL },
    { "DELETE FROM accounts WHERE tenant_id = 'acme'", S, "acme", NULL },
    { "DELETE FROM ONLY accounts a WHERE a.tenant_id IN ('x', 'y')", S, "x|y", NULL },
    { "DELETE FROM accounts USING orders o WHERE o.tenant_id = 'p'", S, "p", NULL },
    /* tables without values, and text that is not a table */
    { "SELECT 1", 0, "", NULL },
    { "SELECT now()", 0, "", NULL },
    { "SELECT EXTRACT(year FROM created) FROM orders WHERE tenant_id = 'e'", S, "e", NULL },
    { "SELECT x IS DISTINCT FROM y FROM accounts", S, "", NULL },
    { "SELECT * FROM generate_series(1, 3) g", 0, "", NULL },
    { "SELECT * FROM (SELECT * FROM accounts WHERE tenant_id = 'in') s", S, "in", NULL },
    { "WITH accts AS (SELECT * FROM accounts WHERE tenant_id = 'w') SELECT * FROM accts",
      S, "w", NULL },
    { "TABLE accounts", S, "", NULL },
    { "TRUNCATE accounts, orders", S, "", NULL },
    { "TRUNCATE TABLE users", O, "", NULL },
    { "COPY accounts (id, tenant_id) FROM STDIN", S, "", NULL },
    { "LOCK TABLE accounts IN SHARE MODE", S, "", NULL },
    { "SELECT * FROM accounts WHERE tenant_id = 'a' FOR UPDATE", S, "a", NULL },
    { "SELECT 'tenant_id = 1' FROM users", O, "", NULL },
    { "SET pgrouter.tenant = 'acme'", 0, "", NULL },
    /* several statements */
    { "SELECT * FROM accounts WHERE tenant_id = 'a'; SELECT * FROM orders o WHERE "
      "o.tenant_id = 'b'", S, "a|b", NULL },
    { "SELECT * FROM accounts a; SELECT * FROM users WHERE a.tenant_id = 'x'", S | O, "",
      NULL },
    /* comment and values together */
    { "/* tenant=acme */ DELETE FROM accounts WHERE tenant_id = 'other'", S, "other",
      "acme" },
    /* unterminated and odd text never crashes */
    { "SELECT * FROM accounts WHERE tenant_id = 'acme", S, "", NULL },
    { "SELECT * FROM accounts WHERE tenant_id =", S, "", NULL },
    { "SELECT * FROM accounts WHERE tenant_id IN (", S | U | B, "", NULL },
    { "INSERT INTO accounts (id, tenant_id) VALUES (1", S | U, "", NULL },
    { "INSERT INTO accounts (id, tenant_id", S, "", NULL },
    { "", 0, "", NULL },
};

/* The values of r joined with '|'. */
static void join_values(const struct tenant_result *r, char *buf, size_t len)
{
    size_t used = 0;

    buf[0] = '\0';
    for (unsigned i = 0; i < r->n_values; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%.*s", i ? "|" : "",
                                 (int)r->values[i].len, r->values[i].p);
}

static void test_tenant_extracts_every_case_in_the_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct tcase *c = &cases[i];
        struct tenant_result r;
        char got[512];
        unsigned flags;

        assert_int_equal(tenant_extract(&opts, c->sql, strlen(c->sql), NULL, &r), 0);
        join_values(&r, got, sizeof(got));
        flags = (r.touches_sharded ? S : 0) | (r.touches_other ? O : 0) |
                (r.unknown ? U : 0) | (r.has_or ? R : 0) | (r.broad ? B : 0);
        if (flags != c->flags || strcmp(got, c->values) != 0 ||
            (c->comment == NULL) != (r.comment == NULL) ||
            (c->comment != NULL && (strlen(c->comment) != r.comment_len ||
                                    memcmp(c->comment, r.comment, r.comment_len) != 0)))
            fail_msg("case %zu: %s\n  flags %u (want %u), values \"%s\" (want \"%s\"), "
                     "comment \"%.*s\" (want \"%s\")", i, c->sql, flags, c->flags, got,
                     c->values, (int)r.comment_len, r.comment ? r.comment : "",
                     c->comment ? c->comment : "(none)");
        assert_int_equal(r.conflict, r.n_values > 1);
    }
}

static void test_tenant_reports_source_and_the_tenant_to_use(void **state)
{
    struct tenant_result r;
    const char *sql;

    (void)state;
    sql = "/* tenant=acme */ SELECT * FROM accounts WHERE tenant_id = 'b'";
    tenant_extract(&opts, sql, strlen(sql), NULL, &r);
    assert_int_equal(r.source, TENANT_SRC_COMMENT);
    assert_int_equal(r.tenant_len, 4);
    assert_memory_equal(r.tenant, "acme", 4);
    assert_int_equal(r.values[0].src, TENANT_SRC_WHERE);
    sql = "INSERT INTO accounts (tenant_id) VALUES ('i')";
    tenant_extract(&opts, sql, strlen(sql), NULL, &r);
    assert_int_equal(r.source, TENANT_SRC_INSERT);
    assert_memory_equal(r.tenant, "i", 1);
    sql = "SELECT * FROM accounts";
    tenant_extract(&opts, sql, strlen(sql), NULL, &r);
    assert_int_equal(r.source, TENANT_SRC_NONE);
    assert_null(r.tenant);
    sql = "SELECT 1 /* tenant=a */ /* tenant=b */";
    tenant_extract(&opts, sql, strlen(sql), NULL, &r);
    assert_memory_equal(r.comment, "a", 1);
    assert_true(r.comment_conflict);
}

static void test_tenant_lists_the_sharded_tables_once_each(void **state)
{
    struct tenant_result r;
    const char *sql = "SELECT * FROM orders o JOIN accounts a ON true JOIN orders o2 "
                      "ON true, billing.invoices i";

    (void)state;
    tenant_extract(&opts, sql, strlen(sql), NULL, &r);
    assert_int_equal(r.n_tables, 3);
    assert_int_equal(r.tables[0], 1);
    assert_int_equal(r.tables[1], 0);
    assert_int_equal(r.tables[2], 2);
}

static void test_tenant_reads_text_parameters(void **state)
{
    const char *const values[] = { "7", "acme", NULL };
    const int32_t lens[] = { 1, 4, -1 };
    struct tenant_params p = { .n = 3, .values = values, .lens = lens };
    struct tenant_result r;
    const char *sql = "SELECT * FROM accounts WHERE id = $1 AND tenant_id = $2";

    (void)state;
    tenant_extract(&opts, sql, strlen(sql), &p, &r);
    assert_int_equal(r.n_values, 1);
    assert_memory_equal(r.values[0].p, "acme", 4);
    assert_ptr_equal(r.values[0].p, values[1]);
    assert_int_equal(r.source, TENANT_SRC_PARAM);
    assert_false(r.unknown);

    sql = "INSERT INTO accounts (id, tenant_id) VALUES ($1, $2), ($1, $2::text)";
    tenant_extract(&opts, sql, strlen(sql), &p, &r);
    assert_int_equal(r.n_values, 1);
    assert_int_equal(r.values[0].src, TENANT_SRC_PARAM);

    sql = "SELECT * FROM accounts WHERE tenant_id = $3";   /* NULL */
    tenant_extract(&opts, sql, strlen(sql), &p, &r);
    assert_int_equal(r.n_values, 0);
    assert_true(r.unknown);

    sql = "SELECT * FROM accounts WHERE tenant_id = $4";   /* not bound */
    tenant_extract(&opts, sql, strlen(sql), &p, &r);
    assert_int_equal(r.n_values, 0);
    assert_true(r.unknown);

    sql = "SELECT * FROM accounts WHERE tenant_id IN ($1, $2)";
    tenant_extract(&opts, sql, strlen(sql), &p, &r);
    assert_int_equal(r.n_values, 2);
    assert_true(r.conflict);

    sql = "SELECT * FROM accounts WHERE tenant_id = $2";
    tenant_extract(&opts, sql, strlen(sql), NULL, &r);
    assert_true(r.unknown);
}

static void test_tenant_decodes_binary_parameters(void **state)
{
    static const char i4[] = { 0, 0, 0, 42 };
    static const char i8[] = { '\xff', '\xff', '\xff', '\xff', '\xff', '\xff', '\xff', '\xf9' };
    static const char i2[] = { 1, 0 };
    static const char uu[] = { '\xa0', '\xee', '\xbc', '\x99', '\x9c', '\x0b', '\x4e', '\xf8',
                               '\xbb', '\x6d', '\x6b', '\xb9', '\xbd', '\x38', '\x0a', '\x11' };
    static const char tx[] = "acme";
    const char *const values[] = { i4, i8, i2, uu, tx, uu };
    const int32_t lens[] = { 4, 8, 2, 16, 4, 16 };
    const int16_t formats[] = { 1 };
    const uint32_t types[] = { 23, 0, 21, 2950, 25, 0 };
    struct tenant_params p = { .n = 6, .values = values, .lens = lens, .formats = formats,
                               .n_formats = 1, .types = types, .n_types = 6 };
    const char *want[] = { "42", "-7", "256", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "acme" };
    struct tenant_result r;
    char sql[96];

    (void)state;
    for (int i = 0; i < 5; i++) {
        snprintf(sql, sizeof(sql), "SELECT * FROM accounts WHERE tenant_id = $%d", i + 1);
        tenant_extract(&opts, sql, strlen(sql), &p, &r);
        assert_int_equal(r.n_values, 1);
        assert_int_equal(r.values[0].len, strlen(want[i]));
        assert_memory_equal(r.values[0].p, want[i], strlen(want[i]));
        assert_false(r.unknown);
    }
    /* 16 bytes of unspecified type: read as text bytes, not guessed to be a uuid */
    tenant_extract(&opts, "SELECT 1 FROM accounts WHERE tenant_id = $6", 43, &p, &r);
    assert_int_equal(r.n_values, 1);
    assert_int_equal(r.values[0].len, 16);
}

static void test_tenant_binary_parameter_of_another_type_is_unknown(void **state)
{
    static const char d[] = { 0, 0, 0, 0, 0, 0, 0, 1 };
    const char *const values[] = { d, "x" };
    const int32_t lens[] = { 8, 1 };
    const int16_t formats[] = { 1, 0 };
    const uint32_t types[] = { 1114, 25 };      /* timestamp, text */
    struct tenant_params p = { .n = 2, .values = values, .lens = lens, .formats = formats,
                               .n_formats = 2, .types = types, .n_types = 2 };
    struct tenant_result r;
    const char *sql = "SELECT * FROM accounts WHERE tenant_id = $1 OR tenant_id = $2";

    (void)state;
    tenant_extract(&opts, sql, strlen(sql), &p, &r);
    assert_true(r.unknown);
    assert_int_equal(r.n_values, 1);
    assert_memory_equal(r.values[0].p, "x", 1);
}

static void test_tenant_keeps_at_most_16_values_and_flags_overflow(void **state)
{
    char sql[512] = "SELECT * FROM accounts WHERE tenant_id IN (";
    struct tenant_result r;

    (void)state;
    for (int i = 0; i < 20; i++)
        snprintf(sql + strlen(sql), sizeof(sql) - strlen(sql), "%s't%d'", i ? ", " : "", i);
    strcat(sql, ")");
    tenant_extract(&opts, sql, strlen(sql), NULL, &r);
    assert_int_equal(r.n_values, TENANT_MAX_VALUES);
    assert_true(r.overflow);
    assert_memory_equal(r.values[15].p, "t15", 3);
}

static void test_tenant_without_a_column_finds_tables_only(void **state)
{
    const struct tenant_opts none = { .column = NULL, .tables = tables, .n_tables = 3 };
    struct tenant_result r;
    const char *sql = "SELECT * FROM accounts WHERE tenant_id = 'a'";

    (void)state;
    tenant_extract(&none, sql, strlen(sql), NULL, &r);
    assert_true(r.touches_sharded);
    assert_int_equal(r.n_values, 0);
}

static void test_tenant_honours_escape_strings(void **state)
{
    const struct tenant_opts esc = { .column = "tenant_id", .tables = tables, .n_tables = 3,
                                     .escape_strings = 1 };
    struct tenant_result r;
    const char *sql = "SELECT * FROM accounts WHERE tenant_id = 'a\\'b'";

    (void)state;
    tenant_extract(&esc, sql, strlen(sql), NULL, &r);
    assert_int_equal(r.n_values, 1);
    assert_int_equal(r.values[0].len, 3);
    assert_memory_equal(r.values[0].p, "a'b", 3);
}

static void test_tenant_reads_only_the_given_length(void **state)
{
    const char *sql = "SELECT * FROM accounts WHERE tenant_id = 12345";
    struct tenant_result r;

    (void)state;
    tenant_extract(&opts, sql, strlen(sql) - 3, NULL, &r);
    assert_int_equal(r.n_values, 1);
    assert_memory_equal(r.values[0].p, "12", 2);
    assert_int_equal(r.values[0].len, 2);
}

/* Each query level that names a sharded table must compare its tenant column with =. */
static void test_tenant_flags_query_levels_without_a_tenant_as_unbounded(void **state)
{
    static const struct {
        const char *sql;
        int unbounded;
    } lv[] = {
        { "SELECT * FROM accounts WHERE id IN (SELECT id FROM accounts WHERE tenant_id = 'a')",
          1 },
        { "SELECT * FROM accounts WHERE EXISTS (SELECT 1 FROM orders o WHERE o.tenant_id = 'a')",
          1 },
        { "SELECT * FROM accounts WHERE tenant_id = 'a' UNION ALL SELECT * FROM orders", 1 },
        { "SELECT * FROM orders UNION ALL SELECT * FROM accounts WHERE tenant_id = 'a'", 1 },
        { "SELECT * FROM accounts WHERE tenant_id = 'a' AND id IN (SELECT a_id FROM orders)", 1 },
        { "WITH x AS (SELECT * FROM accounts) SELECT * FROM x WHERE tenant_id = 'a'", 1 },
        { "SELECT * FROM accounts WHERE tenant_id = 'a'; SELECT * FROM orders", 1 },
        { "SELECT * FROM (SELECT * FROM orders) o, accounts a WHERE a.tenant_id = 'a'", 1 },
        { "(SELECT * FROM accounts) UNION (SELECT * FROM orders WHERE tenant_id = 'a')", 1 },
        { "SELECT * FROM accounts", 1 },
        { "TABLE accounts", 1 },
        /* comparisons that select no rows */
        { "SELECT tenant_id = 'a' FROM accounts", 1 },
        { "SELECT count(*) FILTER (WHERE tenant_id = 'a') FROM accounts", 1 },
        { "SELECT * FROM accounts WHERE coalesce(tenant_id = 'a', true)", 1 },
        { "SELECT * FROM accounts ORDER BY tenant_id = 'a'", 1 },
        { "UPDATE accounts SET tenant_id = 'b'", 1 },
        { "SELECT * FROM accounts a JOIN orders o ON o.id = a.id WHERE a.tenant_id = 'a'", 0 },
        { "SELECT * FROM accounts a JOIN orders o ON (o.tenant_id = 'a' AND a.tenant_id = 'a')",
          0 },
        { "SELECT tenant_id, count(*) FROM accounts GROUP BY tenant_id HAVING tenant_id = 'a'",
          0 },
        { "UPDATE accounts SET tenant_id = 'b' WHERE tenant_id = 'a'", 0 },
        { "COPY (SELECT * FROM accounts WHERE tenant_id = 'a') TO STDOUT", 0 },
        { "SELECT * FROM accounts WHERE tenant_id = 'a'", 0 },
        { "SELECT * FROM accounts WHERE tenant_id IN ('a', 'b')", 0 },
        { "SELECT * FROM (SELECT * FROM accounts WHERE tenant_id = 'a') s", 0 },
        { "WITH x AS (SELECT * FROM accounts WHERE tenant_id = 'a') SELECT * FROM x", 0 },
        { "SELECT * FROM accounts a WHERE a.tenant_id = 'a' AND EXISTS (SELECT 1 FROM orders o "
          "WHERE o.tenant_id = a.tenant_id AND o.id = a.id)", 0 },
        { "SELECT * FROM accounts WHERE tenant_id = 'a' UNION ALL SELECT * FROM orders "
          "WHERE tenant_id = 'a'", 0 },
        { "(SELECT * FROM accounts WHERE tenant_id = 'a') UNION (SELECT * FROM orders "
          "WHERE tenant_id = 'a')", 0 },
        { "SELECT * FROM accounts a JOIN orders o ON o.tenant_id = a.tenant_id "
          "WHERE a.tenant_id = 'acme'", 0 },
        { "SELECT * FROM accounts WHERE (tenant_id = 'a' AND id = 1)", 0 },
        { "INSERT INTO accounts (tenant_id, id) VALUES ('a', 1)", 0 },
        { "INSERT INTO accounts (tenant_id, id) SELECT 'a', id FROM staging", 0 },
        { "UPDATE accounts SET x = 1 WHERE tenant_id = 'a'", 0 },
        { "DELETE FROM accounts WHERE tenant_id = 'a' AND id IN (SELECT id FROM orders "
          "WHERE tenant_id = 'a')", 0 },
        { "SELECT * FROM accounts WHERE tenant_id = 'a' FOR UPDATE", 0 },
        { "SELECT * FROM users u WHERE u.id IN (SELECT 1)", 0 },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(lv) / sizeof(lv[0]); i++) {
        struct tenant_result r;

        assert_int_equal(tenant_extract(&opts, lv[i].sql, strlen(lv[i].sql), NULL, &r), 0);
        if (r.unbounded != lv[i].unbounded)
            fail_msg("case %zu: %s\n  unbounded %d, want %d", i, lv[i].sql, r.unbounded,
                     lv[i].unbounded);
    }
}

/* Parse body (query, types) and Bind rest as a client sends them, through tenantval_bind. */
static void test_tenant_reads_a_bind_messages_parameters(void **state)
{
    /* "SELECT ... $1 ... $2", 2 types: int4, unspecified (the literal's NUL not counted) */
    static const uint8_t parse[] = "SELECT * FROM accounts WHERE id = $1 AND tenant_id = $2"
                                   "\0\0\2\0\0\0\x17\0\0\0\0";
    /* 2 formats (binary, text), 2 values: int4 7 and "acme", then result formats */
    static const uint8_t rest[] = { 0, 2, 0, 1, 0, 0, 0, 2, 0, 0, 0, 4, 0, 0, 0, 7,
                                    0, 0, 0, 4, 'a', 'c', 'm', 'e', 0, 0 };
    struct tenantval_bind b;
    struct tenant_result r;
    size_t sql_len;

    (void)state;
    assert_int_equal(tenantval_bind(&b, parse, sizeof(parse) - 1, rest, sizeof(rest),
                                    &sql_len), 0);
    assert_int_equal(sql_len, strlen((const char *)parse));
    assert_int_equal(b.p.n, 2);
    assert_int_equal(b.p.n_formats, 2);
    assert_int_equal(b.p.n_types, 2);
    assert_int_equal(b.p.types[0], 23);
    assert_int_equal(b.p.lens[1], 4);
    assert_ptr_equal(b.p.values[1], rest + 20);
    tenant_extract(&opts, (const char *)parse, sql_len, &b.p, &r);
    assert_int_equal(r.n_values, 1);
    assert_memory_equal(r.values[0].p, "acme", 4);
    assert_false(r.unknown);

    /* a value running past the message, format codes cut short, no parameter count */
    assert_int_equal(tenantval_bind(&b, parse, sizeof(parse) - 1, rest, 22, &sql_len),
                     -EPROTO);
    assert_int_equal(tenantval_bind(&b, parse, sizeof(parse) - 1, rest, 5, &sql_len),
                     -EPROTO);
    assert_int_equal(tenantval_bind(&b, parse, sizeof(parse) - 1, rest, 1, &sql_len),
                     -EPROTO);
    /* types cut short: none are used, the parameters still are */
    assert_int_equal(tenantval_bind(&b, parse, sizeof(parse) - 3, rest, sizeof(rest),
                                    &sql_len), 0);
    assert_int_equal(b.p.n_types, 0);
    assert_int_equal(b.p.n, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tenant_extracts_every_case_in_the_table),
        cmocka_unit_test(test_tenant_reports_source_and_the_tenant_to_use),
        cmocka_unit_test(test_tenant_lists_the_sharded_tables_once_each),
        cmocka_unit_test(test_tenant_reads_text_parameters),
        cmocka_unit_test(test_tenant_reads_a_bind_messages_parameters),
        cmocka_unit_test(test_tenant_decodes_binary_parameters),
        cmocka_unit_test(test_tenant_binary_parameter_of_another_type_is_unknown),
        cmocka_unit_test(test_tenant_keeps_at_most_16_values_and_flags_overflow),
        cmocka_unit_test(test_tenant_without_a_column_finds_tables_only),
        cmocka_unit_test(test_tenant_honours_escape_strings),
        cmocka_unit_test(test_tenant_reads_only_the_given_length),
        cmocka_unit_test(test_tenant_flags_query_levels_without_a_tenant_as_unbounded),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
