/*
 * tests/unit/test_replay.c - the SET state a client carries: which statements change it
 * and under what name, one entry per parameter (last SET wins and moves to the end),
 * RESET back to the startup value, RESET ALL sparing the identity, DISCARD ALL, the
 * bounds, and a signature that follows the content.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "router/session/replay.h"

struct pcase {
    const char *sql;
    enum replay_op op;
    const char *name;       /* NULL for REPLAY_NONE and the ALL forms */
};

static const struct pcase pcases[] = {
    { "SET search_path TO public, s1", REPLAY_SET, "search_path" },
    { "set Search_Path = 'a'", REPLAY_SET, "search_path" },
    { "SET SESSION work_mem = '64MB'", REPLAY_SET, "work_mem" },
    { "SET \"TimeZone\" TO 'UTC'", REPLAY_SET, "timezone" },
    { "SET TIME ZONE 'UTC'", REPLAY_SET, "timezone" },
    { "SET TIME ZONE LOCAL", REPLAY_RESET, "timezone" },
    { "SET SCHEMA 'app'", REPLAY_SET, "search_path" },
    { "SET NAMES 'UTF8'", REPLAY_SET, "client_encoding" },
    { "SET XML OPTION DOCUMENT", REPLAY_SET, "xmloption" },
    { "SET my.app_user = '42'", REPLAY_SET, "my.app_user" },
    { "SET \"My\".\"Var\" TO 1", REPLAY_SET, "my.var" },
    { "SET ROLE alice", REPLAY_SET, "role" },
    { "SET SESSION ROLE 'alice'", REPLAY_SET, "role" },
    { "SET ROLE NONE", REPLAY_RESET, "role" },
    { "RESET ROLE", REPLAY_RESET, "role" },
    { "SET SESSION AUTHORIZATION bob", REPLAY_SET, "session_authorization" },
    { "SET SESSION SESSION AUTHORIZATION 'bob'", REPLAY_SET, "session_authorization" },
    { "SET SESSION AUTHORIZATION DEFAULT", REPLAY_RESET, "session_authorization" },
    { "RESET SESSION AUTHORIZATION", REPLAY_RESET, "session_authorization" },
    { "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY", REPLAY_SET,
      "session characteristics" },
    { "SET work_mem TO DEFAULT", REPLAY_RESET, "work_mem" },
    { "SET work_mem = default;", REPLAY_RESET, "work_mem" },
    { "SET application_name = 'default'", REPLAY_SET, "application_name" },
    { "RESET work_mem", REPLAY_RESET, "work_mem" },
    { "RESET TIME ZONE", REPLAY_RESET, "timezone" },
    { "/* c */ reset ALL", REPLAY_RESET_ALL, NULL },
    { "DISCARD ALL", REPLAY_DISCARD_ALL, NULL },
    { "SET LOCAL search_path = x", REPLAY_NONE, NULL },
    { "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", REPLAY_NONE, NULL },
    { "SET CONSTRAINTS ALL DEFERRED", REPLAY_NONE, NULL },
    { "SET search_path FROM CURRENT", REPLAY_NONE, NULL },
    { "DISCARD PLANS", REPLAY_NONE, NULL },
    { "DISCARD TEMP", REPLAY_NONE, NULL },
    { "DEALLOCATE ALL", REPLAY_NONE, NULL },
    { "SELECT 1", REPLAY_NONE, NULL },
    { "", REPLAY_NONE, NULL },
};

static void test_replay_parse_names_what_each_statement_changes(void **state)
{
    size_t bad = 0;

    (void)state;
    for (size_t i = 0; i < sizeof(pcases) / sizeof(pcases[0]); i++) {
        const struct pcase *c = &pcases[i];
        size_t n = strlen(c->sql);
        char *buf = malloc(n + 1);
        struct replay_stmt st;

        assert_non_null(buf);
        memcpy(buf, c->sql, n + 1);
        replay_parse(buf, n, 0, &st);
        if (st.op != c->op || (c->name != NULL && strcmp(st.name, c->name) != 0)) {
            print_error("\"%s\": want op %d name %s, got op %d name %s\n", c->sql, c->op,
                        c->name ? c->name : "-", st.op, st.name);
            bad++;
        }
        free(buf);
    }
    assert_int_equal(bad, 0);
}

static int apply(struct replay *r, const char *sql)
{
    struct replay_stmt st;

    replay_parse(sql, strlen(sql), 0, &st);
    return replay_apply(r, &st, sql, strlen(sql));
}

/* The autocommit loop of issue 9: 1,000 SETs of one parameter are one entry. */
static void test_replay_last_set_wins_one_entry_per_name(void **state)
{
    struct replay r, fresh;
    char sql[64];

    (void)state;
    replay_init(&r);
    replay_init(&fresh);
    for (int i = 0; i < 1000; i++) {
        snprintf(sql, sizeof(sql), "SET search_path TO public, s%d", i);
        assert_int_equal(apply(&r, sql), 1);
    }
    assert_int_equal(r.n, 1);
    assert_string_equal(r.items[0].sql, "SET search_path TO public, s999");
    assert_int_equal(apply(&fresh, "SET search_path TO public, s999"), 1);
    assert_int_equal(r.sig, fresh.sig);
    replay_free(&r);
    replay_free(&fresh);
}

static void test_replay_set_moves_the_entry_to_the_end(void **state)
{
    struct replay r;

    (void)state;
    replay_init(&r);
    apply(&r, "SET a.x = 1");
    apply(&r, "SET b.y = 2");
    apply(&r, "SET A.X = 3");
    assert_int_equal(r.n, 2);
    assert_string_equal(r.items[0].sql, "SET b.y = 2");
    assert_string_equal(r.items[1].sql, "SET A.X = 3");
    replay_free(&r);
}

static void test_replay_reset_removes_and_reset_all_spares_identity(void **state)
{
    struct replay r;
    uint64_t sig;

    (void)state;
    replay_init(&r);
    assert_int_equal(r.sig, 0);
    apply(&r, "SET SESSION AUTHORIZATION bob");
    apply(&r, "SET ROLE alice");
    apply(&r, "SET work_mem = '1MB'");
    apply(&r, "SET search_path = x");
    assert_int_equal(r.n, 4);
    sig = r.sig;
    assert_int_equal(apply(&r, "RESET work_mem"), 1);
    assert_int_equal(r.n, 3);
    assert_int_not_equal(r.sig, sig);
    assert_int_equal(apply(&r, "RESET ALL"), 1);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.items[0].name, "session_authorization");
    assert_string_equal(r.items[1].name, "role");
    assert_int_equal(apply(&r, "DISCARD ALL"), 1);
    assert_int_equal(r.n, 0);
    assert_int_equal(r.sig, 0);
    replay_free(&r);
}

/* SET SESSION AUTHORIZATION ends any SET ROLE: the role entry goes, so it never replays
 * after (or before) the new session user. */
static void test_replay_session_authorization_drops_role(void **state)
{
    struct replay r;

    (void)state;
    replay_init(&r);
    apply(&r, "SET ROLE alice");
    apply(&r, "SET SESSION AUTHORIZATION bob");
    assert_int_equal(r.n, 1);
    assert_string_equal(r.items[0].name, "session_authorization");
    apply(&r, "SET ROLE carol");
    assert_int_equal(r.n, 2);
    assert_string_equal(r.items[1].name, "role");
    apply(&r, "RESET SESSION AUTHORIZATION");
    assert_int_equal(r.n, 0);
    replay_free(&r);
}

static void test_replay_reset_returns_to_the_startup_value(void **state)
{
    static const char base[] = "SELECT pg_catalog.set_config(E'search_path', E'a', false)";
    struct replay r;
    uint64_t start;

    (void)state;
    replay_init(&r);
    assert_int_equal(replay_set_base(&r, "Search_Path", base, strlen(base)), 0);
    start = r.sig;
    assert_int_not_equal(start, 0);
    assert_int_equal(apply(&r, "SET search_path = b"), 1);
    assert_string_equal(r.items[0].sql, "SET search_path = b");
    /* The server went to its own default, not the startup value: not exact. */
    assert_int_equal(apply(&r, "RESET search_path"), 0);
    assert_string_equal(r.items[0].sql, base);
    assert_int_equal(r.sig, start);
    apply(&r, "SET search_path = c");
    assert_int_equal(apply(&r, "DISCARD ALL"), 0);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.sig, start);
    replay_free(&r);
}

static void test_replay_none_changes_nothing(void **state)
{
    struct replay r;
    uint64_t sig;

    (void)state;
    replay_init(&r);
    apply(&r, "SET search_path = a");
    sig = r.sig;
    assert_int_equal(apply(&r, "SET LOCAL search_path = b"), 1);
    assert_int_equal(apply(&r, "SET search_path FROM CURRENT"), 1);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.sig, sig);
    replay_free(&r);
}

static void test_replay_is_bounded_by_names_and_bytes(void **state)
{
    struct replay r;
    struct replay_stmt st;
    char sql[64];
    char *big;
    size_t n = REPLAY_MAX_BYTES;

    (void)state;
    replay_init(&r);
    for (int i = 0; i < REPLAY_MAX_ITEMS; i++) {
        snprintf(sql, sizeof(sql), "SET my.v%d = 1", i);
        assert_int_equal(apply(&r, sql), 1);
    }
    snprintf(sql, sizeof(sql), "SET my.v%d = 1", REPLAY_MAX_ITEMS);
    replay_parse(sql, strlen(sql), 0, &st);
    assert_int_equal(replay_fits(&r, &st, strlen(sql)), -E2BIG);
    assert_int_equal(replay_apply(&r, &st, sql, strlen(sql)), -E2BIG);
    assert_int_equal(r.n, REPLAY_MAX_ITEMS);
    /* Changing a parameter already held still works at the bound. */
    assert_int_equal(apply(&r, "SET my.v7 = 2"), 1);
    assert_int_equal(apply(&r, "RESET my.v8"), 1);
    replay_free(&r);
    /* One statement larger than the byte bound. */
    big = malloc(n + 32);
    assert_non_null(big);
    memcpy(big, "SET my.x = '", 12);
    memset(big + 12, 'a', n);
    memcpy(big + 12 + n, "'", 2);
    replay_init(&r);
    replay_parse(big, strlen(big), 0, &st);
    assert_int_equal(st.op, REPLAY_SET);
    assert_int_equal(replay_fits(&r, &st, strlen(big)), -E2BIG);
    assert_int_equal(replay_set_base(&r, "my.x", big, strlen(big)), -E2BIG);
    assert_int_equal(r.n, 0);
    free(big);
    replay_free(&r);
}

static void test_replay_sig_differs_for_other_values_and_orders(void **state)
{
    struct replay ab, ba, ac;

    (void)state;
    replay_init(&ab);
    replay_init(&ba);
    replay_init(&ac);
    apply(&ab, "SET a.a = 1");
    apply(&ab, "SET b.b = 2");
    apply(&ba, "SET b.b = 2");
    apply(&ba, "SET a.a = 1");
    apply(&ac, "SET a.a = 1");
    apply(&ac, "SET b.b = 3");
    assert_int_not_equal(ab.sig, ba.sig);
    assert_int_not_equal(ab.sig, ac.sig);
    assert_int_not_equal(ab.sig, 0);
    assert_int_not_equal(ab.sig, REPLAY_SIG_DIRTY);
    replay_free(&ab);
    replay_free(&ba);
    replay_free(&ac);
}

/* With standard_conforming_strings = off the name is still found past a backslash. */
static void test_replay_parse_escape_strings_mode(void **state)
{
    const char *sql = "SET application_name = 'a\\' ; RESET ALL; --'";
    struct replay_stmt st;

    (void)state;
    replay_parse(sql, strlen(sql), 1, &st);
    assert_int_equal(st.op, REPLAY_SET);
    assert_string_equal(st.name, "application_name");
}

static void test_replay_copy_is_equal_and_independent(void **state)
{
    static const char base[] = "SELECT pg_catalog.set_config(E'a.b', E'1', false)";
    struct replay r, c;

    (void)state;
    replay_init(&r);
    replay_init(&c);
    assert_int_equal(replay_copy(&c, &r), 0);
    assert_int_equal(c.n, 0);
    assert_int_equal(c.sig, 0);
    assert_int_equal(replay_set_base(&r, "a.b", base, strlen(base)), 0);
    apply(&r, "SET search_path = x");
    assert_int_equal(replay_copy(&c, &r), 0);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.sig, r.sig);
    assert_int_equal(c.bytes, r.bytes);
    apply(&r, "SET search_path = y");
    assert_int_not_equal(c.sig, r.sig);
    assert_string_equal(c.items[1].sql, "SET search_path = x");
    /* The copy keeps the startup value for RESET. */
    assert_int_equal(apply(&c, "SET a.b = 2"), 1);
    assert_int_equal(apply(&c, "RESET a.b"), 0);
    assert_string_equal(c.items[1].sql, base);
    replay_free(&r);
    replay_free(&c);
}

/* A startup setting is packed as data: any byte but NUL survives, quotes and tags too. */
static void test_replay_param_pack_round_trips_any_bytes(void **state)
{
    (void)state;
    const char *value = "x\\'); INSERT INTO t VALUES (1); --\x95\x5c'\x01" "9,9,9:";
    struct replay_param p;
    char *packed;
    size_t len;

    assert_int_equal(replay_param_pack("application_name", 16, value, strlen(value), "SJIS",
                                       &packed, &len), 0);
    assert_int_equal(packed[0], REPLAY_PARAM_TAG);
    assert_int_equal(strlen(packed), len);
    assert_int_equal(replay_param_unpack(packed, &p), 0);
    assert_int_equal(p.nlen, 16);
    assert_memory_equal(p.name, "application_name", 16);
    assert_int_equal(p.vlen, strlen(value));
    assert_memory_equal(p.value, value, p.vlen);
    assert_int_equal(p.elen, 4);
    assert_memory_equal(p.enc, "SJIS", 4);
    free(packed);
    /* no encoding, an empty value */
    assert_int_equal(replay_param_pack("a", 1, "", 0, NULL, &packed, &len), 0);
    assert_int_equal(replay_param_unpack(packed, &p), 0);
    assert_null(p.enc);
    assert_int_equal(p.vlen, 0);
    free(packed);
}

static void test_replay_param_unpack_refuses_what_it_did_not_pack(void **state)
{
    (void)state;
    struct replay_param p;

    assert_int_equal(replay_param_unpack("SET a = 1", &p), -EINVAL);
    assert_int_equal(replay_param_unpack("\x01" "1,1,0:abc", &p), -EINVAL);   /* too long */
    assert_int_equal(replay_param_unpack("\x01" "2,2,0:abc", &p), -EINVAL);   /* too short */
    assert_int_equal(replay_param_unpack("\x01" "1,1:ab", &p), -EINVAL);
    assert_int_equal(replay_param_unpack("\x01" ",1,0:ab", &p), -EINVAL);
    assert_int_equal(replay_param_unpack("\x01" "99999999999999999999999,1,0:ab", &p),
                     -EINVAL);
    assert_int_equal(replay_param_unpack("\x01" "1,1,0:ab", &p), 0);
}

/* What a client runs never looks like a packed setting to the replay list. */
static void test_replay_parse_finds_no_set_in_a_tagged_string(void **state)
{
    (void)state;
    struct replay_stmt st;

    replay_parse("\x01SET a = 1", 10, 0, &st);
    assert_int_equal(st.op, REPLAY_NONE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_parse_names_what_each_statement_changes),
        cmocka_unit_test(test_replay_last_set_wins_one_entry_per_name),
        cmocka_unit_test(test_replay_set_moves_the_entry_to_the_end),
        cmocka_unit_test(test_replay_reset_removes_and_reset_all_spares_identity),
        cmocka_unit_test(test_replay_session_authorization_drops_role),
        cmocka_unit_test(test_replay_reset_returns_to_the_startup_value),
        cmocka_unit_test(test_replay_none_changes_nothing),
        cmocka_unit_test(test_replay_is_bounded_by_names_and_bytes),
        cmocka_unit_test(test_replay_sig_differs_for_other_values_and_orders),
        cmocka_unit_test(test_replay_parse_escape_strings_mode),
        cmocka_unit_test(test_replay_copy_is_equal_and_independent),
        cmocka_unit_test(test_replay_param_pack_round_trips_any_bytes),
        cmocka_unit_test(test_replay_param_unpack_refuses_what_it_did_not_pack),
        cmocka_unit_test(test_replay_parse_finds_no_set_in_a_tagged_string),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
