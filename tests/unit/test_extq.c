/*
 * tests/unit/test_extq.c - Parse, Bind, Describe and Close bodies: well-formed ones give
 * the names and text in place; every malformed one gives -EPROTO. Each body is a heap
 * copy of exactly its length (an empty one points one past a 1-byte buffer) so ASan
 * reports any read outside it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/extq.h"

/* A body in its own allocation of exactly n bytes. */
struct body {
    uint8_t *alloc;
    const uint8_t *p;
    size_t n;
};

static void body_make(struct body *b, const void *bytes, size_t n)
{
    b->alloc = malloc(n > 0 ? n : 1);
    assert_non_null(b->alloc);
    if (n > 0)
        memcpy(b->alloc, bytes, n);
    b->p = n > 0 ? b->alloc : b->alloc + 1;
    b->n = n;
}

static void body_free(struct body *b)
{
    free(b->alloc);
    memset(b, 0, sizeof(*b));
}

/* Body literals hold NULs, so their length is the array's size without the final NUL. */
#define LIT(s) (s), (sizeof(s) - 1)

static int parse_of(const void *bytes, size_t n)
{
    struct body b;
    const char *name = NULL, *query = NULL;
    size_t query_len = 0;
    int rc;

    body_make(&b, bytes, n);
    rc = extq_parse(b.p, b.n, &name, &query, &query_len);
    body_free(&b);
    return rc;
}

static int bind_of(const void *bytes, size_t n)
{
    struct body b;
    const char *portal = NULL, *stmt = NULL;
    int rc;

    body_make(&b, bytes, n);
    rc = extq_bind(b.p, b.n, &portal, &stmt);
    body_free(&b);
    return rc;
}

static int target_of(const void *bytes, size_t n)
{
    struct body b;
    const char *name = NULL;
    char kind = 0;
    int rc;

    body_make(&b, bytes, n);
    rc = extq_target(b.p, b.n, &kind, &name);
    body_free(&b);
    return rc;
}

static void test_extq_parse_reads_name_query_and_no_parameters(void **state)
{
    struct body b;
    const char *name = NULL, *query = NULL;
    size_t query_len = 0;

    (void)state;
    body_make(&b, LIT("s1\0SELECT 1\0\0\0"));
    assert_int_equal(extq_parse(b.p, b.n, &name, &query, &query_len), 0);
    assert_ptr_equal(name, (const char *)b.p);
    assert_string_equal(name, "s1");
    assert_ptr_equal(query, (const char *)b.p + 3);
    assert_string_equal(query, "SELECT 1");
    assert_int_equal(query_len, 8);
    body_free(&b);
}

static void test_extq_parse_reads_parameter_types(void **state)
{
    struct body b;
    const char *name = NULL, *query = NULL;
    size_t query_len = 0;

    (void)state;
    body_make(&b, LIT("\0SELECT $1, $2\0\0\2\0\0\0\x17\0\0\0\x19"));
    assert_int_equal(extq_parse(b.p, b.n, &name, &query, &query_len), 0);
    assert_string_equal(name, "");
    assert_string_equal(query, "SELECT $1, $2");
    assert_int_equal(query_len, 13);
    body_free(&b);
}

static void test_extq_parse_accepts_empty_name_and_empty_query(void **state)
{
    struct body b;
    const char *name = NULL, *query = NULL;
    size_t query_len = 99;

    (void)state;
    body_make(&b, LIT("\0\0\0\0"));
    assert_int_equal(extq_parse(b.p, b.n, &name, &query, &query_len), 0);
    assert_string_equal(name, "");
    assert_string_equal(query, "");
    assert_int_equal(query_len, 0);
    body_free(&b);
}

static void test_extq_parse_accepts_many_parameters(void **state)
{
    enum { NP = 300 };
    static const char head[] = "p\0SELECT 1\0";
    size_t n = sizeof(head) - 1 + 2 + NP * 4;
    uint8_t *buf = calloc(1, n);

    (void)state;
    assert_non_null(buf);
    memcpy(buf, head, sizeof(head) - 1);
    buf[sizeof(head) - 1] = NP >> 8;
    buf[sizeof(head)] = NP & 0xff;
    assert_int_equal(parse_of(buf, n), 0);
    /* One byte short or long of 300 types is wrong. */
    assert_int_equal(parse_of(buf, n - 1), -EPROTO);
    free(buf);
}

static void test_extq_parse_rejects_malformed_bodies(void **state)
{
    static const struct {
        const char *what;
        const char *bytes;
        size_t n;
    } bad[] = {
        { "empty body", LIT("") },
        { "name without NUL", LIT("s1") },
        { "query missing", LIT("s1\0") },
        { "query without NUL", LIT("s1\0SELECT 1") },
        { "no parameter count", LIT("s1\0SELECT 1\0") },
        { "half a parameter count", LIT("s1\0SELECT 1\0\0") },
        { "count 1, no type", LIT("s1\0SELECT 1\0\0\1") },
        { "count 1, three bytes of type", LIT("s1\0SELECT 1\0\0\1\0\0\0") },
        { "count 2, one type", LIT("s1\0SELECT 1\0\0\2\0\0\0\x17") },
        { "count 1, two types", LIT("s1\0SELECT 1\0\0\1\0\0\0\x17\0\0\0\x17") },
        { "count 0, trailing byte", LIT("s1\0SELECT 1\0\0\0x") },
        { "count 0, trailing NUL", LIT("s1\0SELECT 1\0\0\0\0") },
        { "count 65535, no types", LIT("s1\0SELECT 1\0\xff\xff") },
        { "count 65535, one type", LIT("s1\0SELECT 1\0\xff\xff\0\0\0\x17") },
        { "count 16384 would wrap 4*n in 16 bits", LIT("s1\0SELECT 1\0\x40\0") },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = parse_of(bad[i].bytes, bad[i].n);

        if (rc != -EPROTO)
            print_error("Parse %s: got %d\n", bad[i].what, rc);
        assert_int_equal(rc, -EPROTO);
    }
}

static void test_extq_bind_reads_portal_and_statement(void **state)
{
    struct body b;
    const char *portal = NULL, *stmt = NULL;

    (void)state;
    /* Portal "cur", statement "s1", no formats, one text parameter "42", no result formats. */
    body_make(&b, LIT("cur\0s1\0\0\0\0\1\0\0\0\2" "42\0\0"));
    assert_int_equal(extq_bind(b.p, b.n, &portal, &stmt), 0);
    assert_ptr_equal(portal, (const char *)b.p);
    assert_string_equal(portal, "cur");
    assert_ptr_equal(stmt, (const char *)b.p + 4);
    assert_string_equal(stmt, "s1");
    body_free(&b);
}

static void test_extq_bind_accepts_unnamed_portal_and_statement(void **state)
{
    struct body b;
    const char *portal = NULL, *stmt = NULL;

    (void)state;
    body_make(&b, LIT("\0\0\0\0\0\0\0\0"));
    assert_int_equal(extq_bind(b.p, b.n, &portal, &stmt), 0);
    assert_string_equal(portal, "");
    assert_string_equal(stmt, "");
    assert_ptr_equal(stmt, (const char *)b.p + 1);
    body_free(&b);
}

static void test_extq_bind_rejects_malformed_bodies(void **state)
{
    static const struct {
        const char *what;
        const char *bytes;
        size_t n;
    } bad[] = {
        { "empty body", LIT("") },
        { "portal without NUL", LIT("cur") },
        { "statement missing", LIT("cur\0") },
        { "statement without NUL", LIT("cur\0s1") },
        { "unnamed portal, statement without NUL", LIT("\0s") },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = bind_of(bad[i].bytes, bad[i].n);

        if (rc != -EPROTO)
            print_error("Bind %s: got %d\n", bad[i].what, rc);
        assert_int_equal(rc, -EPROTO);
    }
}

static void test_extq_target_reads_statement_and_portal(void **state)
{
    struct body b;
    const char *name = NULL;
    char kind = 0;

    (void)state;
    body_make(&b, LIT("Ss1\0"));
    assert_int_equal(extq_target(b.p, b.n, &kind, &name), 0);
    assert_int_equal(kind, 'S');
    assert_ptr_equal(name, (const char *)b.p + 1);
    assert_string_equal(name, "s1");
    body_free(&b);

    body_make(&b, LIT("Pcur\0"));
    assert_int_equal(extq_target(b.p, b.n, &kind, &name), 0);
    assert_int_equal(kind, 'P');
    assert_string_equal(name, "cur");
    body_free(&b);

    body_make(&b, LIT("S\0"));
    assert_int_equal(extq_target(b.p, b.n, &kind, &name), 0);
    assert_int_equal(kind, 'S');
    assert_string_equal(name, "");
    body_free(&b);
}

static void test_extq_target_rejects_malformed_bodies(void **state)
{
    static const struct {
        const char *what;
        const char *bytes;
        size_t n;
    } bad[] = {
        { "empty body", LIT("") },
        { "kind only", LIT("S") },
        { "kind only, portal", LIT("P") },
        { "lowercase kind", LIT("ss1\0") },
        { "unknown kind", LIT("Xs1\0") },
        { "NUL kind", LIT("\0s1\0") },
        { "name without NUL", LIT("Ss1") },
        { "trailing byte", LIT("Ss1\0x") },
        { "trailing NUL", LIT("Ss1\0\0") },
        { "unnamed, trailing byte", LIT("P\0x") },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = target_of(bad[i].bytes, bad[i].n);

        if (rc != -EPROTO)
            print_error("Describe/Close %s: got %d\n", bad[i].what, rc);
        assert_int_equal(rc, -EPROTO);
    }
}

/* Every prefix of a good body stops short somewhere: none may pass or read past its end. */
static void test_extq_every_truncation_is_rejected(void **state)
{
    static const char parse[] = "s1\0SELECT $1\0\0\1\0\0\0\x17";
    static const char bind[] = "cur\0s1\0";
    static const char target[] = "Ss1\0";

    (void)state;
    assert_int_equal(parse_of(parse, sizeof(parse) - 1), 0);
    for (size_t n = 0; n < sizeof(parse) - 1; n++)
        assert_int_equal(parse_of(parse, n), -EPROTO);
    assert_int_equal(bind_of(bind, sizeof(bind) - 1), 0);
    for (size_t n = 0; n < sizeof(bind) - 1; n++)
        assert_int_equal(bind_of(bind, n), -EPROTO);
    assert_int_equal(target_of(target, sizeof(target) - 1), 0);
    for (size_t n = 0; n < sizeof(target) - 1; n++)
        assert_int_equal(target_of(target, n), -EPROTO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_extq_parse_reads_name_query_and_no_parameters),
        cmocka_unit_test(test_extq_parse_reads_parameter_types),
        cmocka_unit_test(test_extq_parse_accepts_empty_name_and_empty_query),
        cmocka_unit_test(test_extq_parse_accepts_many_parameters),
        cmocka_unit_test(test_extq_parse_rejects_malformed_bodies),
        cmocka_unit_test(test_extq_bind_reads_portal_and_statement),
        cmocka_unit_test(test_extq_bind_accepts_unnamed_portal_and_statement),
        cmocka_unit_test(test_extq_bind_rejects_malformed_bodies),
        cmocka_unit_test(test_extq_target_reads_statement_and_portal),
        cmocka_unit_test(test_extq_target_rejects_malformed_bodies),
        cmocka_unit_test(test_extq_every_truncation_is_rejected),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
