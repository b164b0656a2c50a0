/*
 * tests/unit/test_catalog.c - what a CREATE/ALTER FUNCTION leaves VOLATILE (and under which
 * name), and a function noted from its DDL classifying as a write at once, before and
 * after a catalog load.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "router/sql/catalog.h"
#include "router/sql/classify.h"
#include "router/cluster/routing.h"

struct dcase {
    const char *sql;
    int esc;
    int vol;
    const char *name;       /* with vol = 1 */
};

static const struct dcase dcases[] = {
    { "CREATE FUNCTION make_table() RETURNS void LANGUAGE sql AS 'CREATE TABLE t (a int)'",
      0, 1, "make_table" },
    { "create or replace function App.Tp_Ins_Data(a int, b text DEFAULT 'stable') "
      "returns int language plpgsql as $$ begin insert into t values (a); return 1; end $$",
      0, 1, "app.tp_ins_data" },
    { "CREATE FUNCTION \"Mixed\"() RETURNS int VOLATILE LANGUAGE sql AS 'SELECT 1'", 0, 1,
      "mixed" },
    { "CREATE FUNCTION f() RETURNS int LANGUAGE sql STABLE AS 'SELECT 1'", 0, 0, NULL },
    { "CREATE FUNCTION f() RETURNS int IMMUTABLE LANGUAGE sql AS $b$SELECT 1$b$", 0, 0, NULL },
    /* The body's words are not options. */
    { "CREATE FUNCTION g() RETURNS int LANGUAGE sql AS 'SELECT 1 -- stable'", 0, 1, "g" },
    { "CREATE FUNCTION h() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT stable FROM t; END",
      0, 1, "h" },
    /* standard_conforming_strings = off: the quote after the backslash is escaped. */
    { "CREATE FUNCTION e() RETURNS text LANGUAGE sql AS 'SELECT ''\\' STABLE'", 1, 1, "e" },
    { "ALTER FUNCTION s.f(int) VOLATILE", 0, 1, "s.f" },
    { "ALTER FUNCTION f() STABLE", 0, 0, NULL },
    { "ALTER FUNCTION f() RENAME TO g", 0, 0, NULL },
    { "DROP FUNCTION f()", 0, 0, NULL },
    { "CREATE TABLE f (a int)", 0, 0, NULL },
    { "CREATE PROCEDURE p() LANGUAGE sql AS 'SELECT 1'", 0, 0, NULL },
};

static void test_catalog_ddl_volatile_reads_name_and_volatility(void **state)
{
    size_t bad = 0;

    (void)state;
    for (size_t i = 0; i < sizeof(dcases) / sizeof(dcases[0]); i++) {
        const struct dcase *c = &dcases[i];
        char name[130] = "";
        int vol = catalog_ddl_volatile(c->sql, strlen(c->sql), c->esc, name, sizeof(name));

        if (vol != c->vol || (c->vol && strcmp(name, c->name) != 0)) {
            print_error("\"%s\": want %d %s, got %d %s\n", c->sql, c->vol,
                        c->name ? c->name : "-", vol, name);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

static int is_write(const struct catalog_db *d, const char *sql)
{
    struct classify_result cr;

    classify_sql(&d->opts, sql, strlen(sql), &cr);
    return cr.write;
}

/* Issue 9: SELECT make_table() right after its CREATE FUNCTION went to a replica. */
static void test_catalog_note_write_takes_effect_at_once_and_survives_nothing_else(void **st)
{
    struct routing r;
    struct catalog c = { NULL };
    struct catalog_db *d;

    (void)st;
    memset(&r, 0, sizeof(r));
    funcset_init(&r.writes);
    funcset_init(&r.exempt);
    assert_int_equal(funcset_add(&r.writes, "my_configured", 13), 0);
    r.opts.writes = &r.writes;
    r.opts.exempt = &r.exempt;
    d = catalog_db(&c, "appdb", &r);
    assert_non_null(d);
    assert_false(is_write(d, "SELECT make_table()"));
    /* Never loaded: noting builds the set from the built-in and configured names. */
    assert_int_equal(catalog_note_write(d, &r, "make_table", 10), 0);
    assert_true(is_write(d, "SELECT make_table()"));
    assert_true(is_write(d, "SELECT my_configured()"));
    assert_true(is_write(d, "SELECT nextval('s')"));
    assert_int_equal(funcset_count(&r.writes), 1);     /* the shared set is untouched */
    /* Qualified: both the bare and the qualified name, as a catalog load gives them. */
    assert_int_equal(catalog_note_write(d, &r, "app.tp_ins_data", 15), 0);
    assert_true(is_write(d, "SELECT app.tp_ins_data()"));
    assert_true(is_write(d, "SELECT tp_ins_data()"));
    /* A load replaces the list with the catalog's. */
    catalog_begin(d);
    assert_int_equal(catalog_finish(d, &r, 1, 1000), 0);
    assert_false(is_write(d, "SELECT make_table()"));
    assert_true(is_write(d, "SELECT my_configured()"));
    catalog_close(&c);
    routing_close(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_catalog_ddl_volatile_reads_name_and_volatility),
        cmocka_unit_test(test_catalog_note_write_takes_effect_at_once_and_survives_nothing_else),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
