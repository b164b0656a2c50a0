/*
 * tests/unit/test_stmt.c - the prepared-statement table (copies, replacement, close and
 * stale copies, lost servers, growth) and the ordered replay list of session statements.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "router/classify.h"
#include "router/stmt.h"

static const uint8_t parse_a[] = { 'P', 0, 0, 0, 14, 'a', 0, 'S', 'E', 'L', 'E', 'C', 'T',
                                   ' ', '1', 0, 0, 0 };
static const uint8_t parse_b[] = { 'P', 0, 0, 0, 9, 'a', 0, 'X', 0, 0, 0 };

/* Entries reachable through the buckets, to check t->n against. */
static size_t stmt_count(const struct stmt_table *t)
{
    size_t n = 0;

    for (size_t i = 0; i < t->n_buckets; i++)
        for (const struct stmt *e = t->buckets[i]; e != NULL; e = e->next)
            n++;
    return n;
}

static void test_stmt_get_on_empty_table_is_null(void **state)
{
    struct stmt_table t;

    (void)state;
    stmt_table_init(&t);
    assert_null(stmt_get(&t, ""));
    assert_null(stmt_get(&t, "a"));
    stmt_close(&t, "a");
    stmt_forget_slot(&t, 3);
    assert_int_equal(t.n, 0);
    stmt_table_free(&t);
}

static void test_stmt_put_copies_name_and_parse_bytes(void **state)
{
    struct stmt_table t;
    char name[] = "s1";
    uint8_t *msg = malloc(sizeof(parse_a));
    struct stmt *e;

    (void)state;
    assert_non_null(msg);
    memcpy(msg, parse_a, sizeof(parse_a));
    stmt_table_init(&t);
    e = stmt_put(&t, name, msg, sizeof(parse_a), 1, CLASSIFY_F_CURSOR);
    assert_non_null(e);
    /* Scribble over and free the caller's buffers: the table must hold its own. */
    memset(msg, 0xee, sizeof(parse_a));
    free(msg);
    name[0] = 'x';

    assert_ptr_equal(stmt_get(&t, "s1"), e);
    assert_null(stmt_get(&t, "x1"));
    assert_string_equal(e->name, "s1");
    assert_ptr_not_equal(e->name, name);
    assert_int_equal(e->parse_len, sizeof(parse_a));
    assert_memory_equal(e->parse, parse_a, sizeof(parse_a));
    assert_int_equal(e->write, 1);
    assert_int_equal(e->flags, CLASSIFY_F_CURSOR);
    assert_int_equal(e->on, 0);
    assert_int_equal(e->stale, 0);
    assert_int_equal(e->closed, 0);
    assert_int_equal(t.n, 1);
    stmt_table_free(&t);
}

static void test_stmt_unnamed_statement_is_its_own_entry(void **state)
{
    struct stmt_table t;
    struct stmt *unnamed, *named;

    (void)state;
    stmt_table_init(&t);
    unnamed = stmt_put(&t, "", parse_a, sizeof(parse_a), 0, 0);
    named = stmt_put(&t, "a", parse_b, sizeof(parse_b), 1, 0);
    assert_non_null(unnamed);
    assert_non_null(named);
    assert_ptr_not_equal(unnamed, named);
    assert_ptr_equal(stmt_get(&t, ""), unnamed);
    assert_ptr_equal(stmt_get(&t, "a"), named);
    assert_int_equal(t.n, 2);
    stmt_table_free(&t);
}

static void test_stmt_replacement_marks_old_holders_stale(void **state)
{
    struct stmt_table t;
    struct stmt *e, *again;

    (void)state;
    stmt_table_init(&t);
    e = stmt_put(&t, "a", parse_a, sizeof(parse_a), 0, 0);
    assert_non_null(e);
    e->on = (1u << 0) | (1u << 2);
    e->stale = 1u << 5;

    again = stmt_put(&t, "a", parse_b, sizeof(parse_b), 1, CLASSIFY_F_SESSION);
    assert_ptr_equal(again, e);
    assert_int_equal(t.n, 1);
    assert_int_equal(e->on, 0);
    assert_int_equal(e->stale, (1u << 0) | (1u << 2) | (1u << 5));
    assert_int_equal(e->parse_len, sizeof(parse_b));
    assert_memory_equal(e->parse, parse_b, sizeof(parse_b));
    assert_int_equal(e->write, 1);
    assert_int_equal(e->flags, CLASSIFY_F_SESSION);
    stmt_table_free(&t);
}

static void test_stmt_put_after_close_reopens_the_entry(void **state)
{
    struct stmt_table t;
    struct stmt *e;

    (void)state;
    stmt_table_init(&t);
    e = stmt_put(&t, "a", parse_a, sizeof(parse_a), 0, 0);
    e->on = 1u << 1;
    stmt_close(&t, "a");
    assert_ptr_equal(stmt_get(&t, "a"), e);
    assert_int_equal(e->closed, 1);

    assert_ptr_equal(stmt_put(&t, "a", parse_b, sizeof(parse_b), 0, 0), e);
    assert_int_equal(e->closed, 0);
    assert_int_equal(e->stale, 1u << 1);
    assert_int_equal(e->on, 0);
    stmt_table_free(&t);
}

static void test_stmt_close_without_holders_removes_entry(void **state)
{
    struct stmt_table t;

    (void)state;
    stmt_table_init(&t);
    assert_non_null(stmt_put(&t, "a", parse_a, sizeof(parse_a), 0, 0));
    assert_non_null(stmt_put(&t, "b", parse_b, sizeof(parse_b), 0, 0));
    stmt_close(&t, "a");
    assert_null(stmt_get(&t, "a"));
    assert_non_null(stmt_get(&t, "b"));
    assert_int_equal(t.n, 1);
    assert_int_equal(stmt_count(&t), 1);
    /* Closing an unknown name changes nothing. */
    stmt_close(&t, "nope");
    assert_int_equal(t.n, 1);
    stmt_table_free(&t);
}

static void test_stmt_close_moves_holders_to_stale_and_keeps_entry(void **state)
{
    struct stmt_table t;
    struct stmt *e;

    (void)state;
    stmt_table_init(&t);
    e = stmt_put(&t, "a", parse_a, sizeof(parse_a), 0, 0);
    e->on = (1u << 3) | (1u << 7);
    stmt_close(&t, "a");
    assert_ptr_equal(stmt_get(&t, "a"), e);
    assert_int_equal(e->on, 0);
    assert_int_equal(e->stale, (1u << 3) | (1u << 7));
    assert_int_equal(e->closed, 1);
    assert_int_equal(t.n, 1);
    stmt_table_free(&t);
}

static void test_stmt_close_keeps_entry_with_only_stale_copies(void **state)
{
    struct stmt_table t;
    struct stmt *e;

    (void)state;
    stmt_table_init(&t);
    e = stmt_put(&t, "a", parse_a, sizeof(parse_a), 0, 0);
    e->stale = 1u << 4;
    stmt_close(&t, "a");
    assert_ptr_equal(stmt_get(&t, "a"), e);
    assert_int_equal(e->stale, 1u << 4);
    assert_int_equal(e->closed, 1);
    stmt_table_free(&t);
}

static void test_stmt_forget_slot_clears_bits_everywhere(void **state)
{
    struct stmt_table t;
    struct stmt *a, *b;

    (void)state;
    stmt_table_init(&t);
    a = stmt_put(&t, "a", parse_a, sizeof(parse_a), 0, 0);
    b = stmt_put(&t, "b", parse_b, sizeof(parse_b), 0, 0);
    a->on = (1u << 2) | (1u << 31);
    a->stale = 1u << 2;
    b->on = 1u << 1;
    b->stale = (1u << 2) | (1u << 0);

    stmt_forget_slot(&t, 2);
    assert_ptr_equal(stmt_get(&t, "a"), a);
    assert_ptr_equal(stmt_get(&t, "b"), b);
    assert_int_equal(a->on, 1u << 31);
    assert_int_equal(a->stale, 0);
    assert_int_equal(b->on, 1u << 1);
    assert_int_equal(b->stale, 1u << 0);

    stmt_forget_slot(&t, 31);
    assert_int_equal(a->on, 0);
    /* Not closed: an open entry stays even with no holder. */
    assert_ptr_equal(stmt_get(&t, "a"), a);
    assert_int_equal(t.n, 2);
    stmt_table_free(&t);
}

static void test_stmt_forget_slot_removes_closed_entries_without_stale_copies(void **state)
{
    struct stmt_table t;
    struct stmt *a, *b;

    (void)state;
    stmt_table_init(&t);
    a = stmt_put(&t, "a", parse_a, sizeof(parse_a), 0, 0);
    b = stmt_put(&t, "b", parse_b, sizeof(parse_b), 0, 0);
    assert_non_null(stmt_put(&t, "c", parse_b, sizeof(parse_b), 0, 0));
    a->on = 1u << 6;
    b->on = (1u << 6) | (1u << 9);
    stmt_close(&t, "a");
    stmt_close(&t, "b");
    assert_int_equal(a->stale, 1u << 6);
    assert_int_equal(b->stale, (1u << 6) | (1u << 9));

    stmt_forget_slot(&t, 6);
    assert_null(stmt_get(&t, "a"));
    assert_ptr_equal(stmt_get(&t, "b"), b);
    assert_int_equal(b->stale, 1u << 9);
    assert_non_null(stmt_get(&t, "c"));
    assert_int_equal(t.n, 2);
    assert_int_equal(stmt_count(&t), 2);

    stmt_forget_slot(&t, 9);
    assert_null(stmt_get(&t, "b"));
    assert_non_null(stmt_get(&t, "c"));
    assert_int_equal(t.n, 1);
    assert_int_equal(stmt_count(&t), 1);
    stmt_table_free(&t);
}

static void test_stmt_clear_drops_everything_and_table_stays_usable(void **state)
{
    struct stmt_table t;
    char name[16];

    (void)state;
    stmt_table_init(&t);
    for (int i = 0; i < 40; i++) {
        struct stmt *e;

        snprintf(name, sizeof(name), "s%d", i);
        e = stmt_put(&t, name, parse_a, sizeof(parse_a), 0, 0);
        assert_non_null(e);
        e->on = 1u;
        e->stale = 2u;
    }
    stmt_clear(&t);
    assert_int_equal(t.n, 0);
    assert_int_equal(stmt_count(&t), 0);
    assert_null(stmt_get(&t, "s0"));
    assert_null(stmt_get(&t, "s39"));

    assert_non_null(stmt_put(&t, "s5", parse_b, sizeof(parse_b), 1, 0));
    assert_int_equal(t.n, 1);
    assert_memory_equal(stmt_get(&t, "s5")->parse, parse_b, sizeof(parse_b));
    stmt_table_free(&t);
}

static void test_stmt_grows_past_1000_entries_and_finds_each(void **state)
{
    enum { N = 2500 };
    struct stmt_table t;
    char name[32];

    (void)state;
    stmt_table_init(&t);
    for (unsigned i = 0; i < N; i++) {
        uint8_t msg[8] = { 'P', (uint8_t)(i >> 8), (uint8_t)i, 0, 0, 0, 0, 0 };
        struct stmt *e;

        snprintf(name, sizeof(name), "stmt_%u", i);
        e = stmt_put(&t, name, msg, sizeof(msg), (int)(i & 1), i);
        assert_non_null(e);
        e->on = i;
    }
    assert_int_equal(t.n, N);
    assert_int_equal(stmt_count(&t), N);
    for (unsigned i = 0; i < N; i++) {
        struct stmt *e;

        snprintf(name, sizeof(name), "stmt_%u", i);
        e = stmt_get(&t, name);
        assert_non_null(e);
        assert_string_equal(e->name, name);
        assert_int_equal(e->parse_len, 8);
        assert_int_equal(e->parse[1], (uint8_t)(i >> 8));
        assert_int_equal(e->parse[2], (uint8_t)i);
        assert_int_equal(e->write, (int)(i & 1));
        assert_int_equal(e->flags, i);
        assert_int_equal(e->on, i);
    }
    assert_null(stmt_get(&t, "stmt_2500"));
    assert_null(stmt_get(&t, "stmt_"));

    /* Removing every other one leaves the rest findable. */
    for (unsigned i = 0; i < N; i += 2) {
        snprintf(name, sizeof(name), "stmt_%u", i);
        stmt_get(&t, name)->on = 0;
        stmt_close(&t, name);
    }
    assert_int_equal(t.n, N / 2);
    for (unsigned i = 0; i < N; i++) {
        snprintf(name, sizeof(name), "stmt_%u", i);
        if (i % 2 == 0)
            assert_null(stmt_get(&t, name));
        else
            assert_non_null(stmt_get(&t, name));
    }
    stmt_table_free(&t);
    assert_int_equal(t.n, 0);
    assert_null(t.buckets);
}

static void test_replay_versions_increase_and_text_is_exact(void **state)
{
    static const char sql[] = "SET search_path = app;garbage";
    struct replay r;

    (void)state;
    replay_init(&r);
    assert_int_equal(r.version, 0);
    assert_int_equal(r.n, 0);
    /* Only len bytes are taken, and the copy is terminated. */
    assert_int_equal(replay_add(&r, sql, strlen("SET search_path = app"), 0), 1);
    assert_int_equal(replay_add(&r, "SET work_mem = '64MB'", 21, 0), 2);
    assert_int_equal(replay_add(&r, "PREPARE p AS SELECT 1", 21, 0), 3);
    assert_int_equal(r.version, 3);
    assert_int_equal(r.n, 3);
    assert_string_equal(r.items[0].sql, "SET search_path = app");
    assert_ptr_not_equal(r.items[0].sql, sql);
    assert_string_equal(r.items[1].sql, "SET work_mem = '64MB'");
    assert_string_equal(r.items[2].sql, "PREPARE p AS SELECT 1");
    assert_int_equal(r.items[0].version, 1);
    assert_int_equal(r.items[1].version, 2);
    assert_int_equal(r.items[2].version, 3);
    /* An empty statement is still an item. */
    assert_int_equal(replay_add(&r, "", 0, 0), 4);
    assert_string_equal(r.items[3].sql, "");
    replay_free(&r);
    assert_int_equal(r.n, 0);
    assert_null(r.items);
}

static void test_replay_reset_drops_earlier_items_and_keeps_counting(void **state)
{
    struct replay r;

    (void)state;
    replay_init(&r);
    assert_int_equal(replay_add(&r, "SET a.b = 1", 11, 0), 1);
    assert_int_equal(replay_add(&r, "SET a.c = 2", 11, 0), 2);
    assert_int_equal(replay_add(&r, "RESET ALL", 9, 1), 3);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.items[0].sql, "RESET ALL");
    assert_int_equal(r.items[0].version, 3);
    assert_int_equal(replay_add(&r, "SET a.d = 3", 11, 0), 4);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.items[1].sql, "SET a.d = 3");
    assert_int_equal(r.items[1].version, 4);
    assert_int_equal(replay_add(&r, "DISCARD ALL", 11, 1), 5);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.items[0].sql, "DISCARD ALL");
    replay_free(&r);
}

static void test_replay_grows_past_its_first_capacity(void **state)
{
    struct replay r;
    char sql[32];

    (void)state;
    replay_init(&r);
    for (unsigned i = 1; i <= 100; i++) {
        int len = snprintf(sql, sizeof(sql), "SET x.v%u = %u", i, i);

        assert_int_equal(replay_add(&r, sql, (size_t)len, 0), i);
    }
    assert_int_equal(r.n, 100);
    for (unsigned i = 1; i <= 100; i++) {
        snprintf(sql, sizeof(sql), "SET x.v%u = %u", i, i);
        assert_string_equal(r.items[i - 1].sql, sql);
        assert_int_equal(r.items[i - 1].version, i);
    }
    replay_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stmt_get_on_empty_table_is_null),
        cmocka_unit_test(test_stmt_put_copies_name_and_parse_bytes),
        cmocka_unit_test(test_stmt_unnamed_statement_is_its_own_entry),
        cmocka_unit_test(test_stmt_replacement_marks_old_holders_stale),
        cmocka_unit_test(test_stmt_put_after_close_reopens_the_entry),
        cmocka_unit_test(test_stmt_close_without_holders_removes_entry),
        cmocka_unit_test(test_stmt_close_moves_holders_to_stale_and_keeps_entry),
        cmocka_unit_test(test_stmt_close_keeps_entry_with_only_stale_copies),
        cmocka_unit_test(test_stmt_forget_slot_clears_bits_everywhere),
        cmocka_unit_test(test_stmt_forget_slot_removes_closed_entries_without_stale_copies),
        cmocka_unit_test(test_stmt_clear_drops_everything_and_table_stays_usable),
        cmocka_unit_test(test_stmt_grows_past_1000_entries_and_finds_each),
        cmocka_unit_test(test_replay_versions_increase_and_text_is_exact),
        cmocka_unit_test(test_replay_reset_drops_earlier_items_and_keeps_counting),
        cmocka_unit_test(test_replay_grows_past_its_first_capacity),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
