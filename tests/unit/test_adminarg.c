/*
 * tests/unit/test_adminarg.c - router/admin/adminarg.c: the one name a control command takes
 * (plain or quoted, nothing else around or inside it) and a client id.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "router/admin/adminarg.h"

static enum adminarg_rc name(const char *args, char *out, size_t size)
{
    return adminarg_name(args, strlen(args), out, size);
}

static void test_adminarg_name_plain_and_quoted(void **state)
{
    char out[16];

    (void)state;
    assert_int_equal(name("appdb", out, sizeof(out)), ADMINARG_OK);
    assert_string_equal(out, "appdb");
    assert_int_equal(name("\"appdb\"", out, sizeof(out)), ADMINARG_OK);
    assert_string_equal(out, "appdb");
    assert_int_equal(name("'127.0.0.1:5433'", out, sizeof(out)), ADMINARG_OK);
    assert_string_equal(out, "127.0.0.1:5433");
    assert_int_equal(name("b\xc3\xa4r", out, sizeof(out)), ADMINARG_OK);    /* UTF-8 */
    assert_string_equal(out, "b\xc3\xa4r");
}

static void test_adminarg_name_empty_is_told_apart(void **state)
{
    char out[16];

    (void)state;
    assert_int_equal(name("", out, sizeof(out)), ADMINARG_EMPTY);
    assert_int_equal(name("\"\"", out, sizeof(out)), ADMINARG_EMPTY);
    assert_string_equal(out, "");
}

static void test_adminarg_name_refuses_more_than_one_name(void **state)
{
    char out[16];

    (void)state;
    assert_int_equal(name("appdb other", out, sizeof(out)), ADMINARG_BAD);
    assert_string_equal(out, "");
    assert_int_equal(name("\"app db\"", out, sizeof(out)), ADMINARG_BAD);
    assert_int_equal(name("\"appdb'", out, sizeof(out)), ADMINARG_BAD);    /* unmatched */
    assert_int_equal(name("a\tb", out, sizeof(out)), ADMINARG_BAD);
    assert_int_equal(name("a\x7f", out, sizeof(out)), ADMINARG_BAD);
    assert_int_equal(name("\"", out, sizeof(out)), ADMINARG_BAD);
}

static void test_adminarg_name_bounded_by_out(void **state)
{
    char out[6];

    (void)state;
    assert_int_equal(name("12345", out, sizeof(out)), ADMINARG_OK);
    assert_int_equal(name("123456", out, sizeof(out)), ADMINARG_LONG);
    assert_string_equal(out, "");
    assert_int_equal(name("\"12345\"", out, sizeof(out)), ADMINARG_OK);
}

static void test_adminarg_id_digits_in_range_only(void **state)
{
    uint32_t id = 7;

    (void)state;
    assert_int_equal(adminarg_id("42", &id), 0);
    assert_int_equal(id, 42);
    assert_int_equal(adminarg_id("4294967295", &id), 0);
    assert_int_equal(id, UINT32_MAX);
    id = 7;
    assert_int_equal(adminarg_id("4294967296", &id), -1);
    assert_int_equal(adminarg_id("99999999999999999999999", &id), -1);
    assert_int_equal(adminarg_id("0", &id), -1);
    assert_int_equal(adminarg_id("", &id), -1);
    assert_int_equal(adminarg_id("12a", &id), -1);
    assert_int_equal(adminarg_id("-1", &id), -1);
    assert_int_equal(adminarg_id("+1", &id), -1);
    assert_int_equal(id, 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adminarg_name_plain_and_quoted),
        cmocka_unit_test(test_adminarg_name_empty_is_told_apart),
        cmocka_unit_test(test_adminarg_name_refuses_more_than_one_name),
        cmocka_unit_test(test_adminarg_name_bounded_by_out),
        cmocka_unit_test(test_adminarg_id_digits_in_range_only),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
