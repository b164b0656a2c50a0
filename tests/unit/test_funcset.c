/*
 * tests/unit/test_funcset.c - the function-name set: folding on add, exact lookups,
 * duplicates, bad lengths, growth past many names, reuse after close.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "router/sql/funcset.h"

static void test_funcset_finds_what_was_added(void **state)
{
    struct funcset fs;

    (void)state;
    funcset_init(&fs);
    assert_false(funcset_has(&fs, "nextval", 7));
    assert_int_equal(funcset_add(&fs, "NextVal", 7), 0);
    assert_int_equal(funcset_add(&fs, "app.Bump", 8), 0);
    assert_true(funcset_has(&fs, "nextval", 7));
    assert_true(funcset_has(&fs, "app.bump", 8));
    /* Lookups are exact: the caller folds. */
    assert_false(funcset_has(&fs, "NextVal", 7));
    assert_false(funcset_has(&fs, "nextva", 6));
    assert_false(funcset_has(&fs, "nextvalx", 8));
    assert_false(funcset_has(&fs, "bump", 4));
    assert_false(funcset_has(&fs, "", 0));
    assert_int_equal(funcset_count(&fs), 2);
    funcset_close(&fs);
    assert_int_equal(funcset_count(&fs), 0);
    assert_false(funcset_has(&fs, "nextval", 7));
}

static void test_funcset_ignores_duplicates_and_rejects_bad_names(void **state)
{
    struct funcset fs;
    char big[FUNCSET_NAME_MAX + 1];

    (void)state;
    funcset_init(&fs);
    assert_int_equal(funcset_add(&fs, "setval", 6), 0);
    assert_int_equal(funcset_add(&fs, "SETVAL", 6), 0);
    assert_int_equal(funcset_count(&fs), 1);
    assert_int_equal(funcset_add(&fs, "x", 0), -EINVAL);
    memset(big, 'a', sizeof(big));
    assert_int_equal(funcset_add(&fs, big, sizeof(big)), -EINVAL);
    assert_int_equal(funcset_add(&fs, big, sizeof(big) - 1), 0);
    assert_true(funcset_has(&fs, big, sizeof(big) - 1));
    assert_false(funcset_has(&fs, big, sizeof(big)));
    assert_int_equal(funcset_count(&fs), 2);
    funcset_close(&fs);
}

static void test_funcset_grows_and_keeps_every_name(void **state)
{
    struct funcset fs;
    char name[32];

    (void)state;
    funcset_init(&fs);
    for (int i = 0; i < 5000; i++) {
        int n = snprintf(name, sizeof(name), "fn_%d", i);

        assert_int_equal(funcset_add(&fs, name, (size_t)n), 0);
    }
    assert_int_equal(funcset_count(&fs), 5000);
    for (int i = 0; i < 5000; i++) {
        int n = snprintf(name, sizeof(name), "fn_%d", i);

        assert_true(funcset_has(&fs, name, (size_t)n));
    }
    assert_false(funcset_has(&fs, "fn_5000", 7));
    /* The table stays at most half full, so a miss always finds an empty slot. */
    assert_true(fs.cap >= 2 * fs.n);
    funcset_close(&fs);
    assert_int_equal(funcset_add(&fs, "again", 5), 0);
    assert_true(funcset_has(&fs, "again", 5));
    funcset_close(&fs);
}

static void test_funcset_null_is_empty(void **state)
{
    (void)state;
    assert_false(funcset_has(NULL, "nextval", 7));
    assert_int_equal(funcset_count(NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_funcset_finds_what_was_added),
        cmocka_unit_test(test_funcset_ignores_duplicates_and_rejects_bad_names),
        cmocka_unit_test(test_funcset_grows_and_keeps_every_name),
        cmocka_unit_test(test_funcset_null_is_empty),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
