/*
 * tests/unit/test_userlist.c - the PgBouncer auth_file format: quoting, comments,
 * secrets kept as written, and every error reported with its line.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/userlist.h"

#define SCRAM_OK "SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVk+/=:c2VydmVy"

/* Collects "line: message\n" for each reported problem. */
struct collected {
    char text[4096];
    int calls;
};

static void collect(void *arg, int line, const char *msg)
{
    struct collected *c = arg;
    size_t used = strlen(c->text);

    snprintf(c->text + used, sizeof(c->text) - used, "%d: %s\n", line, msg);
    c->calls++;
}

static int parse(const char *text, struct collected *errs, struct cfg_user **users,
                 size_t *n)
{
    memset(errs, 0, sizeof(*errs));
    return userlist_parse(text, strlen(text), collect, errs, users, n);
}

static void expect_errors(const char *text, const char *want)
{
    struct collected errs;
    struct cfg_user *users = NULL;
    size_t n = 99;

    assert_int_equal(parse(text, &errs, &users, &n), -EINVAL);
    assert_string_equal(errs.text, want);
    assert_null(users);
    assert_int_equal(n, 99);
}

static void test_userlist_parses_entries_sorted_by_name(void **state)
{
    struct collected errs;
    struct cfg_user *users = NULL;
    size_t n = 0;

    (void)state;
    assert_int_equal(parse("\"zed\" \"z-pass\"\n\"app\" \"app\"\n\"mid\"\t\"m\"", &errs,
                           &users, &n), 0);
    assert_int_equal(errs.calls, 0);
    assert_int_equal(n, 3);
    assert_string_equal(users[0].name, "app");
    assert_string_equal(users[1].name, "mid");
    assert_string_equal(users[2].name, "zed");
    assert_string_equal(userlist_find(users, n, "zed")->secret, "z-pass");
    assert_string_equal(userlist_find(users, n, "mid")->secret, "m");
    assert_null(userlist_find(users, n, "ap"));
    assert_null(userlist_find(users, n, "APP"));
    userlist_free(users, n);
}

static void test_userlist_unescapes_doubled_quotes(void **state)
{
    struct collected errs;
    struct cfg_user *users = NULL;
    size_t n = 0;

    (void)state;
    assert_int_equal(parse("\"we\"\"ird\" \"pa\"\"ss\"\"\"\n\"\"\"\" \"\"\n", &errs, &users, &n),
                     0);
    assert_int_equal(n, 2);
    assert_string_equal(userlist_find(users, n, "we\"ird")->secret, "pa\"ss\"");
    assert_string_equal(userlist_find(users, n, "\"")->secret, "");
    userlist_free(users, n);
}

static void test_userlist_skips_comments_blank_lines_and_crlf(void **state)
{
    struct collected errs;
    struct cfg_user *users = NULL;
    size_t n = 0;

    (void)state;
    assert_int_equal(parse("; a comment \"x\" \"y\"\r\n"
                           "# another\n"
                           "\n"
                           "   \t\n"
                           "   ; indented comment\n"
                           "  \"app\"  \"secret\"  \r\n", &errs, &users, &n), 0);
    assert_int_equal(errs.calls, 0);
    assert_int_equal(n, 1);
    assert_string_equal(users[0].name, "app");
    assert_string_equal(users[0].secret, "secret");
    userlist_free(users, n);
}

static void test_userlist_keeps_md5_and_scram_secrets_as_written(void **state)
{
    struct collected errs;
    struct cfg_user *users = NULL;
    size_t n = 0;

    (void)state;
    assert_int_equal(parse("\"a\" \"md5a8e8bc1e9de2bd6ef3d0bd9e1d1b8e2f\"\n"
                           "\"b\" \"" SCRAM_OK "\"\n"
                           "\"c\" \"md5notreallyhex\"\n", &errs, &users, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(users[0].secret, "md5a8e8bc1e9de2bd6ef3d0bd9e1d1b8e2f");
    assert_string_equal(users[1].secret, SCRAM_OK);
    assert_string_equal(users[2].secret, "md5notreallyhex");   /* a plain password */
    userlist_free(users, n);
}

static void test_userlist_accepts_an_empty_file(void **state)
{
    struct collected errs;
    struct cfg_user *users = (struct cfg_user *)&errs;
    size_t n = 7;

    (void)state;
    assert_int_equal(parse("; nobody yet\n", &errs, &users, &n), 0);
    assert_int_equal(n, 0);
    assert_null(users);
    assert_null(userlist_find(users, n, "app"));
    userlist_free(users, n);
}

static void test_userlist_reports_unterminated_quotes(void **state)
{
    (void)state;
    expect_errors("\"app\" \"app\"\n\"bob\n\"carol\" \"pw\n\"dave\" \"pw\"\"\n",
                  "2: unterminated quoted user name\n"
                  "3: user \"carol\": unterminated quoted password\n"
                  "4: user \"dave\": unterminated quoted password\n");
}

static void test_userlist_reports_trailing_junk(void **state)
{
    (void)state;
    expect_errors("\"app\" \"app\" extra\n\"bob\" \"pw\";comment\n",
                  "1: user \"app\": unexpected text after the password\n"
                  "2: user \"bob\": unexpected text after the password\n");
}

static void test_userlist_reports_missing_or_unquoted_fields(void **state)
{
    (void)state;
    expect_errors("app app\n\"app\"\n\"app\" app\n\"\" \"pw\"\n",
                  "1: expected \"user name\" in double quotes\n"
                  "2: user \"app\": expected \"password\" in double quotes after the user name\n"
                  "3: user \"app\": expected \"password\" in double quotes after the user name\n"
                  "4: empty user name\n");
}

static void test_userlist_reports_duplicate_users_with_first_line(void **state)
{
    (void)state;
    expect_errors("\"app\" \"1\"\n\"bob\" \"2\"\n\"app\" \"3\"\n\"app\" \"4\"\n",
                  "3: duplicate user \"app\" (first on line 1)\n"
                  "4: duplicate user \"app\" (first on line 1)\n");
}

static void test_userlist_reports_malformed_scram_secret(void **state)
{
    (void)state;
    expect_errors("\"a\" \"SCRAM-SHA-256$4096:salt\"\n"
                  "\"b\" \"SCRAM-SHA-256$x:c2FsdA==$a:b\"\n"
                  "\"c\" \"" SCRAM_OK "\"\n"
                  "\"d\" \"" SCRAM_OK "!\"\n",
                  "1: user \"a\": malformed SCRAM secret (expected "
                  "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>)\n"
                  "2: user \"b\": malformed SCRAM secret (expected "
                  "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>)\n"
                  "4: user \"d\": malformed SCRAM secret (expected "
                  "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>)\n");
}

static void test_userlist_reports_nul_bytes(void **state)
{
    static const char text[] = "\"app\" \"a\0b\"\n";
    struct collected errs;
    struct cfg_user *users = NULL;
    size_t n = 0;

    (void)state;
    memset(&errs, 0, sizeof(errs));
    assert_int_equal(userlist_parse(text, sizeof(text) - 1, collect, &errs, &users, &n),
                     -EINVAL);
    assert_string_equal(errs.text, "1: line contains a NUL byte\n");
}

static void test_userlist_load_reads_a_file(void **state)
{
    char path[] = "/tmp/test_userlist_XXXXXX";
    struct collected errs;
    struct cfg_user *users = NULL;
    size_t n = 0;
    int fd;

    (void)state;
    memset(&errs, 0, sizeof(errs));
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "\"app\" \"app\"\n", 12), 12);
    close(fd);
    assert_int_equal(userlist_load(path, collect, &errs, &users, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(users[0].secret, "app");
    userlist_free(users, n);
    unlink(path);
}

static void test_userlist_load_returns_errno_without_reporting(void **state)
{
    struct collected errs;
    struct cfg_user *users = NULL;
    size_t n = 0;

    (void)state;
    memset(&errs, 0, sizeof(errs));
    assert_int_equal(userlist_load("/nonexistent/userlist.txt", collect, &errs, &users, &n),
                     -ENOENT);
    assert_int_equal(userlist_load("/tmp", collect, &errs, &users, &n), -EISDIR);
    assert_int_equal(errs.calls, 0);
    assert_null(users);
}

static void test_userlist_is_plain_tells_passwords_from_secrets(void **state)
{
    (void)state;
    assert_true(userlist_is_plain("app"));
    assert_true(userlist_is_plain(""));
    assert_true(userlist_is_plain("md5"));
    assert_true(userlist_is_plain("md5notreallyahashbutapassword123"));
    assert_true(userlist_is_plain("md5A7D4C2E94D1B2BD0C3F5E4A8A4F2E2F1"));   /* upper case */
    assert_false(userlist_is_plain("md5a7d4c2e94d1b2bd0c3f5e4a8a4f2e2f1"));
    assert_false(userlist_is_plain("SCRAM-SHA-256$4096:c2FsdA==$a:b"));
    assert_false(userlist_is_plain(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_userlist_is_plain_tells_passwords_from_secrets),
        cmocka_unit_test(test_userlist_parses_entries_sorted_by_name),
        cmocka_unit_test(test_userlist_unescapes_doubled_quotes),
        cmocka_unit_test(test_userlist_skips_comments_blank_lines_and_crlf),
        cmocka_unit_test(test_userlist_keeps_md5_and_scram_secrets_as_written),
        cmocka_unit_test(test_userlist_accepts_an_empty_file),
        cmocka_unit_test(test_userlist_reports_unterminated_quotes),
        cmocka_unit_test(test_userlist_reports_trailing_junk),
        cmocka_unit_test(test_userlist_reports_missing_or_unquoted_fields),
        cmocka_unit_test(test_userlist_reports_duplicate_users_with_first_line),
        cmocka_unit_test(test_userlist_reports_malformed_scram_secret),
        cmocka_unit_test(test_userlist_reports_nul_bytes),
        cmocka_unit_test(test_userlist_load_reads_a_file),
        cmocka_unit_test(test_userlist_load_returns_errno_without_reporting),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
