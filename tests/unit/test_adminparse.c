/*
 * tests/unit/test_adminparse.c - the admin console's Query string reader: statements split
 * only at ';' outside quotes and comments, blanks and comments trimmed, command words
 * matched without regard to case or blanks and only as whole words.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "router/admin/adminparse.h"

/* Split q; writes the statements as "[a][b]..." into out. */
static const char *split(const char *q, char *out, size_t out_len)
{
    size_t pos = 0, start, end, o = 0, len = strlen(q);

    out[0] = '\0';
    while (adminparse_next(q, len, &pos, &start, &end)) {
        assert_true(start <= end && end <= len && pos <= len);
        o += (size_t)snprintf(out + o, out_len - o, "[%.*s]", (int)(end - start), q + start);
        assert_true(o < out_len);
    }
    assert_int_equal(pos, len);
    return out;
}

static void test_adminparse_splits_at_semicolons_and_trims(void **state)
{
    char out[512];

    (void)state;
    assert_string_equal(split("SHOW POOLS", out, sizeof(out)), "[SHOW POOLS]");
    assert_string_equal(split("SHOW POOLS;", out, sizeof(out)), "[SHOW POOLS]");
    assert_string_equal(split("  show pools ;\n SHOW\tCLIENTS ; ", out, sizeof(out)),
                        "[show pools][SHOW\tCLIENTS][]");
    assert_string_equal(split(";;", out, sizeof(out)), "[][]");
    assert_string_equal(split("", out, sizeof(out)), "");
    assert_string_equal(split("   ", out, sizeof(out)), "[]");
}

static void test_adminparse_keeps_quoted_and_commented_semicolons(void **state)
{
    char out[512];

    (void)state;
    assert_string_equal(split("EXPLAIN ROUTE SELECT ';' ; SHOW X", out, sizeof(out)),
                        "[EXPLAIN ROUTE SELECT ';'][SHOW X]");
    assert_string_equal(split("A 'it''s;' \"a;b\" $q$ ; $q$ $$;$$; B", out, sizeof(out)),
                        "[A 'it''s;' \"a;b\" $q$ ; $q$ $$;$$][B]");
    assert_string_equal(split("A E'\\';' ; B", out, sizeof(out)), "[A E'\\';'][B]");
    /* Without E, a backslash is an ordinary character: the quote ends at the second '. */
    assert_string_equal(split("A '\\';' ; B", out, sizeof(out)), "[A '\\'][' ; B]");
    assert_string_equal(split("-- one; two\nSHOW A /* x; /* y; */ z; */ ; B",
                              out, sizeof(out)), "[SHOW A][B]");
    assert_string_equal(split("SHOW /* a */ A -- x\n", out, sizeof(out)), "[SHOW /* a */ A]");
    /* $1 is a parameter, not a dollar quote. */
    assert_string_equal(split("A $1; B", out, sizeof(out)), "[A $1][B]");
    /* Unterminated quotes and comments run to the end. */
    assert_string_equal(split("A 'x; B", out, sizeof(out)), "[A 'x; B]");
    assert_string_equal(split("A 'x; B  ", out, sizeof(out)), "[A 'x; B  ]");
    assert_string_equal(split("A /* x; B", out, sizeof(out)), "[A]");
    assert_string_equal(split("A $x$ y; B", out, sizeof(out)), "[A $x$ y; B]");
}

static void test_adminparse_matches_words_in_any_case_and_blanks(void **state)
{
    const char *t = "show \t\n POOLS  extra args";
    size_t args = 0;

    (void)state;
    assert_int_equal(adminparse_match("SHOW POOLS", t, strlen(t), &args), 2);
    assert_string_equal(t + args, "extra args");
    t = "Show Pools";
    assert_int_equal(adminparse_match("SHOW POOLS", t, strlen(t), &args), 2);
    assert_int_equal(args, strlen(t));
    t = "RELOAD";
    assert_int_equal(adminparse_match("RELOAD", t, strlen(t), &args), 1);
    assert_int_equal(args, 6);
}

static void test_adminparse_matches_only_whole_words(void **state)
{
    size_t args = 99;
    const char *t;

    (void)state;
    t = "SHOW POOLSX";
    assert_int_equal(adminparse_match("SHOW POOLS", t, strlen(t), &args), 0);
    t = "SHOW STATS_TOTALS";
    assert_int_equal(adminparse_match("SHOW STATS", t, strlen(t), &args), 0);
    t = "SHOWPOOLS";
    assert_int_equal(adminparse_match("SHOW POOLS", t, strlen(t), &args), 0);
    t = "SHOW";
    assert_int_equal(adminparse_match("SHOW POOLS", t, strlen(t), &args), 0);
    t = "SHOW POO";
    assert_int_equal(adminparse_match("SHOW POOLS", t, strlen(t), &args), 0);
    /* Only n bytes count, whatever follows them. */
    t = "SHOW POOLSX";
    assert_int_equal(adminparse_match("SHOW POOLS", t, 10, &args), 2);
    assert_int_equal(args, 10);
}

static void test_adminparse_head_names_two_printable_words(void **state)
{
    char out[16];
    const char *t = "show  \tfoo bar";

    (void)state;
    adminparse_head(t, strlen(t), out, sizeof(out));
    assert_string_equal(out, "show foo");
    adminparse_head("a\x01" "b", 3, out, sizeof(out));
    assert_string_equal(out, "a?b");
    t = "abcdefghijklmnopqrstuvwxyz";
    adminparse_head(t, strlen(t), out, sizeof(out));
    assert_int_equal(strlen(out), sizeof(out) - 1);
    adminparse_head("SELECT", 6, out, sizeof(out));
    assert_string_equal(out, "SELECT");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adminparse_splits_at_semicolons_and_trims),
        cmocka_unit_test(test_adminparse_keeps_quoted_and_commented_semicolons),
        cmocka_unit_test(test_adminparse_matches_words_in_any_case_and_blanks),
        cmocka_unit_test(test_adminparse_matches_only_whole_words),
        cmocka_unit_test(test_adminparse_head_names_two_printable_words),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
