/*
 * tests/unit/test_hba.c - the auth_hba_file format (config/hba.c): records, lists, quotes,
 * addresses and masks, continuation lines, every unsupported feature an error at its
 * line, and first-match lookup by connection type, address, database and user.
 */
#include <arpa/inet.h>
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

#include "config/hba.h"

struct collected {
    char text[8192];
    int calls;
};

static void collect(void *arg, int line, const char *msg)
{
    struct collected *c = arg;
    size_t used = strlen(c->text);

    snprintf(c->text + used, sizeof(c->text) - used, "%d: %s\n", line, msg);
    c->calls++;
}

static struct hba *parse_ok(const char *text)
{
    struct collected errs;
    struct hba *h = NULL;

    memset(&errs, 0, sizeof(errs));
    assert_int_equal(hba_parse(text, strlen(text), collect, &errs, &h), 0);
    assert_string_equal(errs.text, "");
    assert_non_null(h);
    return h;
}

static void expect_errors_n(const char *text, size_t len, const char *want)
{
    struct collected errs;
    struct hba *h = (struct hba *)&errs;    /* must stay untouched */

    memset(&errs, 0, sizeof(errs));
    assert_int_equal(hba_parse(text, len, collect, &errs, &h), -EINVAL);
    assert_string_equal(errs.text, want);
    assert_ptr_equal(h, (struct hba *)&errs);
}

static void expect_errors(const char *text, const char *want)
{
    expect_errors_n(text, strlen(text), want);
}

/* The line of the rule matching (tls, addr, db, user), or 0 when none does. */
static int match_line(const struct hba *h, int tls, const char *addr, const char *db,
                      const char *user)
{
    struct hba_client c;
    const struct hba_rule *r;

    memset(&c, 0, sizeof(c));
    c.tls = tls;
    c.db = db;
    c.user = user;
    if (inet_pton(AF_INET, addr, c.addr) == 1)
        c.family = 4;
    else if (inet_pton(AF_INET6, addr, c.addr) == 1)
        c.family = 6;
    else
        fail_msg("bad test address %s", addr);
    r = hba_match(h, &c);
    return r != NULL ? r->line : 0;
}

static void test_hba_parses_records_in_file_order(void **state)
{
    struct hba *h = parse_ok("# comment\n"
                             "\n"
                             "host  all  all  127.0.0.1/32  trust   # trailing\n"
                             "hostssl shop,\"My DB\" app, bob 10.0.0.0/8 scram-sha-256\n"
                             "hostnossl all +x\"\" ::1/128 md5\n"
                             "local all all reject\n"
                             "host sameuser all 192.168.1.0 255.255.255.0 md5\n"
                             "hostssl all all all cert\n");

    (void)state;
    assert_int_equal(h->n, 6);
    assert_int_equal(h->rules[0].line, 3);
    assert_int_equal(h->rules[0].conn, HBA_HOST);
    assert_true(h->rules[0].dbs.all);
    assert_true(h->rules[0].users.all);
    assert_int_equal(h->rules[0].method, HBA_TRUST);
    assert_int_equal(h->rules[1].conn, HBA_HOSTSSL);
    assert_int_equal(h->rules[1].dbs.n, 2);
    assert_string_equal(h->rules[1].dbs.names[1], "My DB");
    assert_int_equal(h->rules[1].users.n, 2);
    assert_string_equal(h->rules[1].users.names[1], "bob");
    assert_int_equal(h->rules[1].method, HBA_SCRAM);
    /* a quoted part makes +x a plain name, not a group */
    assert_string_equal(h->rules[2].users.names[0], "+x");
    assert_int_equal(h->rules[2].family, 6);
    assert_int_equal(h->rules[3].conn, HBA_LOCAL);
    assert_int_equal(h->rules[3].method, HBA_REJECT);
    assert_true(h->rules[4].dbs.sameuser);
    assert_int_equal(h->rules[4].mask[3], 0);
    assert_int_equal(h->rules[4].mask[2], 255);
    assert_int_equal(h->rules[5].method, HBA_CERT);
    assert_true(h->rules[5].any_addr);
    hba_free(h);
}

static void test_hba_quoted_keyword_is_a_name(void **state)
{
    struct hba *h = parse_ok("host \"all\" all 0.0.0.0/0 trust\n");

    (void)state;
    assert_false(h->rules[0].dbs.all);
    assert_int_equal(h->rules[0].dbs.n, 1);
    assert_int_equal(match_line(h, 0, "1.2.3.4", "shop", "u"), 0);
    assert_int_equal(match_line(h, 0, "1.2.3.4", "all", "u"), 1);
    hba_free(h);
}

static void test_hba_joins_continuation_lines(void **state)
{
    struct hba *h = parse_ok("host shop,\\\nstats all \\\n127.0.0.1/32 md5\nhost all all all "
                             "reject\n");

    (void)state;
    assert_int_equal(h->n, 2);
    assert_int_equal(h->rules[0].line, 1);
    assert_int_equal(h->rules[0].dbs.n, 2);
    assert_string_equal(h->rules[0].dbs.names[1], "stats");
    assert_int_equal(h->rules[1].line, 4);
    hba_free(h);
}

static void test_hba_first_match_wins(void **state)
{
    struct hba *h = parse_ok("host shop admin 127.0.0.1/32 reject\n"
                             "hostssl all all 127.0.0.1/32 cert\n"
                             "host shop all 127.0.0.1/32 scram-sha-256\n"
                             "host all app 10.0.0.0/8 md5\n"
                             "hostnossl all all 192.168.0.0 255.255.0.0 trust\n"
                             "host sameuser all ::/0 md5\n"
                             "local all all trust\n");

    (void)state;
    assert_int_equal(match_line(h, 0, "127.0.0.1", "shop", "admin"), 1);
    assert_int_equal(match_line(h, 1, "127.0.0.1", "shop", "admin"), 1);
    assert_int_equal(match_line(h, 1, "127.0.0.1", "shop", "app"), 2);
    assert_int_equal(match_line(h, 0, "127.0.0.1", "shop", "app"), 3);
    assert_int_equal(match_line(h, 0, "127.0.0.1", "other", "app"), 0);
    assert_int_equal(match_line(h, 0, "10.200.3.4", "other", "app"), 4);
    assert_int_equal(match_line(h, 0, "11.0.0.1", "other", "app"), 0);
    assert_int_equal(match_line(h, 0, "192.168.7.7", "x", "y"), 5);
    assert_int_equal(match_line(h, 1, "192.168.7.7", "x", "y"), 0);
    assert_int_equal(match_line(h, 0, "::1", "bob", "bob"), 6);
    assert_int_equal(match_line(h, 0, "::1", "bob", "alice"), 0);
    /* local lines never match: pgrouter has no Unix socket for clients */
    assert_int_equal(match_line(h, 0, "127.0.0.2", "x", "y"), 0);
    hba_free(h);
}

static void test_hba_no_rules_match_nothing(void **state)
{
    struct hba *h = parse_ok("# only comments\n\n   \n");

    (void)state;
    assert_int_equal(h->n, 0);
    assert_int_equal(match_line(h, 0, "127.0.0.1", "a", "b"), 0);
    assert_null(hba_match(NULL, &(struct hba_client){ .family = 4, .db = "a", .user = "b" }));
    hba_free(h);
}

static void test_hba_reports_every_unsupported_feature_with_its_line(void **state)
{
    (void)state;
    expect_errors("host all all 127.0.0.1/32 trust\n"
                  "host all +admins 127.0.0.1/32 md5\n"
                  "host @dbs all 127.0.0.1/32 md5\n"
                  "host all /^u.*$ 127.0.0.1/32 md5\n"
                  "host replication all 127.0.0.1/32 md5\n"
                  "host all all db.example.com md5\n"
                  "host all all samenet md5\n"
                  "host all all 127.0.0.1/32 peer\n"
                  "host all all 127.0.0.1/32 ldap ldapserver=x\n"
                  "host all all 127.0.0.1/32 md5 clientcert=verify-full\n"
                  "include other.conf\n"
                  "hostgssenc all all all md5\n"
                  "host all all 127.0.0.1/32 password\n",
                  "2: user \"+admins\": group membership and replication are not supported "
                  "by pgrouter\n"
                  "3: database \"@dbs\": included files are not supported by pgrouter\n"
                  "4: user \"/^u.*$\": regular expressions are not supported by pgrouter\n"
                  "5: database \"replication\": group membership and replication are not "
                  "supported by pgrouter\n"
                  "6: address \"db.example.com\": host names are not supported by pgrouter; "
                  "give an IP address with a CIDR mask\n"
                  "7: address \"samenet\" is not supported by pgrouter\n"
                  "8: authentication method \"peer\" is not supported by pgrouter (trust, "
                  "reject, md5, scram-sha-256, cert)\n"
                  "9: authentication method \"ldap\" is not supported by pgrouter (trust, "
                  "reject, md5, scram-sha-256, cert)\n"
                  "10: authentication option \"clientcert=verify-full\" is not supported by "
                  "pgrouter\n"
                  "11: included files are not supported by pgrouter\n"
                  "12: connection type \"hostgssenc\" is not supported by pgrouter\n"
                  "13: authentication method \"password\" is not supported by pgrouter "
                  "(trust, reject, md5, scram-sha-256, cert)\n");
}

static void test_hba_reports_malformed_records(void **state)
{
    (void)state;
    expect_errors("hots all all 127.0.0.1/32 md5\n"
                  "host all\n"
                  "host all all\n"
                  "host all all 127.0.0.1/32\n"
                  "host all all 127.0.0.1/33 md5\n"
                  "host all all 127.0.0.1 md5\n"
                  "host all all 127.0.0.1 ffff::0 md5\n"
                  "host all all 300.1.1.1/8 md5\n"
                  "host \"shop all all md5\n"
                  "host all all 127.0.0.1/32 md5,\n"
                  "host a,,b all all md5\n"
                  "host all all all md4\n"
                  "host all all all cert\n"
                  "host,local all all all md5\n"
                  "host all all 1.2.3.4/x md5\n"
                  "host all all 127.0.0.1\n",
                  "1: invalid connection type \"hots\"\n"
                  "2: end-of-line before role specification\n"
                  "3: end-of-line before IP address specification\n"
                  "4: end-of-line before authentication method\n"
                  "5: invalid CIDR mask in address \"127.0.0.1/33\"\n"
                  "6: invalid IP mask \"md5\" for address \"127.0.0.1\"\n"
                  "7: invalid IP mask \"ffff::0\" for address \"127.0.0.1\"\n"
                  "8: invalid IP address \"300.1.1.1\"\n"
                  "9: unterminated quoted string\n"
                  "10: a comma-separated list ends with a comma\n"
                  "11: empty name in a comma-separated list\n"
                  "12: invalid authentication method \"md4\"\n"
                  "13: cert authentication is only supported on hostssl lines\n"
                  "14: connection type: a list is not allowed here\n"
                  "15: invalid CIDR mask in address \"1.2.3.4/x\"\n"
                  "16: end-of-line before netmask specification (or give the address as "
                  "CIDR, \"127.0.0.1/32\")\n");
}

static void test_hba_bounds_names_lines_and_files(void **state)
{
    char big[HBA_MAX_LINE + 64];
    char name[HBA_MAX_NAME + 2];
    char text[256];
    struct hba *h = NULL;

    (void)state;
    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    snprintf(text, sizeof(text), "host %s all all md5\n", name);
    expect_errors(text, "1: database name \"nnnnnnnnnnnnnnnnnnnn...\" is longer than 63 "
                  "bytes\n");
    memset(big, ' ', sizeof(big));
    memcpy(big, "host", 4);
    big[sizeof(big) - 1] = '\0';
    expect_errors(big, "1: record too long (at most 8192 characters)\n");
    expect_errors_n("host all all all md5\nhost a\0b all all md5\n", 41,
                    "2: line contains a NUL byte\n");
    assert_int_equal(hba_parse("", (size_t)HBA_MAX_FILE + 1, NULL, NULL, &h), -EFBIG);
    assert_null(h);
}

static void test_hba_load_reads_a_file_and_reports_errno(void **state)
{
    char path[] = "/tmp/test_hba_XXXXXX";
    int fd = mkstemp(path);
    struct collected errs;
    struct hba *h = NULL;

    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "host all all all md5\n", 21), 21);
    close(fd);
    memset(&errs, 0, sizeof(errs));
    assert_int_equal(hba_load(path, collect, &errs, &h), 0);
    assert_int_equal(h->n, 1);
    hba_free(h);
    unlink(path);
    assert_int_equal(hba_load(path, collect, &errs, &h), -ENOENT);
    assert_int_equal(errs.calls, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hba_parses_records_in_file_order),
        cmocka_unit_test(test_hba_quoted_keyword_is_a_name),
        cmocka_unit_test(test_hba_joins_continuation_lines),
        cmocka_unit_test(test_hba_first_match_wins),
        cmocka_unit_test(test_hba_no_rules_match_nothing),
        cmocka_unit_test(test_hba_reports_every_unsupported_feature_with_its_line),
        cmocka_unit_test(test_hba_reports_malformed_records),
        cmocka_unit_test(test_hba_bounds_names_lines_and_files),
        cmocka_unit_test(test_hba_load_reads_a_file_and_reports_errno),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
