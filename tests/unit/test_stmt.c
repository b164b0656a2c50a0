/*
 * tests/unit/test_stmt.c - the client's prepared-statement table (copies, content ids,
 * replacement, removal, growth), server-side names, the per-server statement set (LRU
 * eviction, growth).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "router/sql/classify.h"
#include "router/session/stmt.h"

/* Parse bodies after the name: query NUL, int16 n, n int32 type OIDs. */
static const uint8_t body_sel1[] = { 'S', 'E', 'L', 'E', 'C', 'T', ' ', '1', 0, 0, 0 };
static const uint8_t body_sel2[] = { 'S', 'E', 'L', 'E', 'C', 'T', ' ', '2', 0, 0, 0 };
/* "SELECT $1" with one parameter of type int4 (23), then of type text (25). */
static const uint8_t body_p_int4[] = { 'S', 'E', 'L', 'E', 'C', 'T', ' ', '$', '1', 0,
                                       0, 1, 0, 0, 0, 23 };
static const uint8_t body_p_text[] = { 'S', 'E', 'L', 'E', 'C', 'T', ' ', '$', '1', 0,
                                       0, 1, 0, 0, 0, 25 };

/* Entries reachable through the buckets, to check t->n against. */
static size_t stmt_count(const struct stmt_table *t)
{
    size_t n = 0;

    for (size_t i = 0; i < t->n_buckets; i++)
        for (const struct stmt *e = t->buckets[i]; e != NULL; e = e->next)
            n++;
    return n;
}

static void test_stmt_get_on_empty_table_is_null_and_remove_is_harmless(void **state)
{
    struct stmt_table t;

    (void)state;
    stmt_table_init(&t);
    assert_null(stmt_get(&t, "a"));
    stmt_remove(&t, "a");
    stmt_clear(&t);
    assert_int_equal(t.n, 0);
    stmt_table_free(&t);
}

static void test_stmt_put_copies_name_and_body_and_sets_content_id(void **state)
{
    struct stmt_table t;
    char name[] = "s1";
    uint8_t *body = malloc(sizeof(body_p_int4));
    struct stmt *e;

    (void)state;
    assert_non_null(body);
    memcpy(body, body_p_int4, sizeof(body_p_int4));
    stmt_table_init(&t);
    e = stmt_put(&t, name, body, sizeof(body_p_int4), 1, CLASSIFY_F_CURSOR);
    assert_non_null(e);
    /* Scribble over and free the caller's buffers: the table must hold its own. */
    memset(body, 'x', sizeof(body_p_int4));
    free(body);
    name[0] = 'z';
    assert_null(stmt_get(&t, "z1"));
    assert_ptr_equal(stmt_get(&t, "s1"), e);
    assert_string_equal(e->name, "s1");
    assert_int_equal(e->body_len, sizeof(body_p_int4));
    assert_memory_equal(e->body, body_p_int4, sizeof(body_p_int4));
    assert_int_equal(e->id, stmt_id(body_p_int4, sizeof(body_p_int4)));
    assert_int_not_equal(e->id, 0);
    assert_int_equal(e->write, 1);
    assert_int_equal(e->flags, CLASSIFY_F_CURSOR);
    assert_int_equal(t.n, 1);
    stmt_table_free(&t);
}

static void test_stmt_same_text_and_types_under_two_names_share_one_id(void **state)
{
    struct stmt_table t;
    struct stmt *a, *b;

    (void)state;
    stmt_table_init(&t);
    a = stmt_put(&t, "first", body_p_int4, sizeof(body_p_int4), 0, 0);
    b = stmt_put(&t, "second", body_p_int4, sizeof(body_p_int4), 0, 0);
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_not_equal(a, b);
    assert_int_equal(t.n, 2);
    assert_int_equal(a->id, b->id);
    stmt_table_free(&t);
}

static void test_stmt_id_differs_for_other_parameter_types_or_text(void **state)
{
    uint64_t i4 = stmt_id(body_p_int4, sizeof(body_p_int4));

    (void)state;
    assert_int_not_equal(i4, stmt_id(body_p_text, sizeof(body_p_text)));
    assert_int_not_equal(stmt_id(body_sel1, sizeof(body_sel1)),
                         stmt_id(body_sel2, sizeof(body_sel2)));
    /* No parameter types is not the same statement as one unspecified (0) type. */
    {
        static const uint8_t untyped[] = { 'S', 'E', 'L', 'E', 'C', 'T', ' ', '$', '1', 0,
                                           0, 1, 0, 0, 0, 0 };
        static const uint8_t none[] = { 'S', 'E', 'L', 'E', 'C', 'T', ' ', '$', '1', 0,
                                        0, 0 };

        assert_int_not_equal(stmt_id(untyped, sizeof(untyped)), stmt_id(none, sizeof(none)));
    }
    /* Deterministic: the same bytes give the same id every time. */
    assert_int_equal(i4, stmt_id(body_p_int4, sizeof(body_p_int4)));
}

static void test_stmt_put_replacing_an_entry_changes_its_body_and_id(void **state)
{
    struct stmt_table t;
    struct stmt *e;
    uint64_t old_id;

    (void)state;
    stmt_table_init(&t);
    e = stmt_put(&t, "q", body_sel1, sizeof(body_sel1), 0, 0);
    assert_non_null(e);
    old_id = e->id;
    e = stmt_put(&t, "q", body_p_text, sizeof(body_p_text), 1, CLASSIFY_F_SESSION);
    assert_non_null(e);
    assert_int_equal(t.n, 1);
    assert_int_equal(stmt_count(&t), 1);
    assert_ptr_equal(stmt_get(&t, "q"), e);
    assert_int_not_equal(e->id, old_id);
    assert_int_equal(e->id, stmt_id(body_p_text, sizeof(body_p_text)));
    assert_int_equal(e->body_len, sizeof(body_p_text));
    assert_memory_equal(e->body, body_p_text, sizeof(body_p_text));
    assert_int_equal(e->write, 1);
    assert_int_equal(e->flags, CLASSIFY_F_SESSION);
    stmt_table_free(&t);
}

static void test_stmt_remove_drops_only_that_name(void **state)
{
    struct stmt_table t;

    (void)state;
    stmt_table_init(&t);
    assert_non_null(stmt_put(&t, "a", body_sel1, sizeof(body_sel1), 0, 0));
    assert_non_null(stmt_put(&t, "b", body_sel1, sizeof(body_sel1), 0, 0));
    assert_non_null(stmt_put(&t, "c", body_sel2, sizeof(body_sel2), 0, 0));
    stmt_remove(&t, "b");
    assert_null(stmt_get(&t, "b"));
    assert_non_null(stmt_get(&t, "a"));
    assert_non_null(stmt_get(&t, "c"));
    assert_int_equal(t.n, 2);
    assert_int_equal(stmt_count(&t), 2);
    /* Unknown name and a second remove: no error, nothing else goes. */
    stmt_remove(&t, "b");
    stmt_remove(&t, "nope");
    assert_int_equal(t.n, 2);
    assert_int_equal(stmt_count(&t), 2);
    stmt_table_free(&t);
}

static void test_stmt_clear_drops_everything_and_table_stays_usable(void **state)
{
    struct stmt_table t;
    char name[16];

    (void)state;
    stmt_table_init(&t);
    for (int i = 0; i < 40; i++) {
        snprintf(name, sizeof(name), "s%d", i);
        assert_non_null(stmt_put(&t, name, body_sel1, sizeof(body_sel1), 0, 0));
    }
    stmt_clear(&t);
    assert_int_equal(t.n, 0);
    assert_int_equal(stmt_count(&t), 0);
    assert_null(stmt_get(&t, "s0"));
    assert_null(stmt_get(&t, "s39"));

    assert_non_null(stmt_put(&t, "s5", body_sel2, sizeof(body_sel2), 1, 0));
    assert_int_equal(t.n, 1);
    assert_memory_equal(stmt_get(&t, "s5")->body, body_sel2, sizeof(body_sel2));
    stmt_table_free(&t);
}

static void test_stmt_grows_past_2000_entries_and_finds_each(void **state)
{
    enum { N = 2600 };
    struct stmt_table t;
    char name[32];

    (void)state;
    stmt_table_init(&t);
    for (unsigned i = 0; i < N; i++) {
        uint8_t body[7] = { 'Q', (uint8_t)(i >> 8), (uint8_t)i, 'x', 0, 0, 0 };

        snprintf(name, sizeof(name), "stmt_%u", i);
        assert_non_null(stmt_put(&t, name, body, sizeof(body), (int)(i & 1), i));
    }
    assert_int_equal(t.n, N);
    assert_int_equal(stmt_count(&t), N);
    for (unsigned i = 0; i < N; i++) {
        uint8_t body[7] = { 'Q', (uint8_t)(i >> 8), (uint8_t)i, 'x', 0, 0, 0 };
        struct stmt *e;

        snprintf(name, sizeof(name), "stmt_%u", i);
        e = stmt_get(&t, name);
        assert_non_null(e);
        assert_string_equal(e->name, name);
        assert_int_equal(e->body_len, sizeof(body));
        assert_memory_equal(e->body, body, sizeof(body));
        assert_int_equal(e->id, stmt_id(body, sizeof(body)));
        assert_int_equal(e->write, (int)(i & 1));
        assert_int_equal(e->flags, i);
    }
    assert_null(stmt_get(&t, "stmt_2600"));
    assert_null(stmt_get(&t, "stmt_"));

    /* Removing every other one leaves the rest findable. */
    for (unsigned i = 0; i < N; i += 2) {
        snprintf(name, sizeof(name), "stmt_%u", i);
        stmt_remove(&t, name);
    }
    assert_int_equal(t.n, N / 2);
    assert_int_equal(stmt_count(&t), N / 2);
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

/* "pgr_" then exactly 16 lowercase hex digits that read back as id. */
static void assert_server_name_is(uint64_t id)
{
    char out[STMT_SERVER_NAME_LEN];
    char want[32];

    memset(out, '#', sizeof(out));
    stmt_server_name(id, out);
    assert_int_equal(strlen(out), STMT_SERVER_NAME_LEN - 1);
    assert_memory_equal(out, "pgr_", 4);
    for (int i = 4; i < 20; i++)
        assert_true((out[i] >= '0' && out[i] <= '9') || (out[i] >= 'a' && out[i] <= 'f'));
    assert_int_equal(strtoull(out + 4, NULL, 16), id);
    snprintf(want, sizeof(want), "pgr_%016llx", (unsigned long long)id);
    assert_string_equal(out, want);
}

static void test_stmt_server_name_is_pgr_and_16_lowercase_hex(void **state)
{
    char out[STMT_SERVER_NAME_LEN];

    (void)state;
    stmt_server_name(1, out);
    assert_string_equal(out, "pgr_0000000000000001");
    stmt_server_name(0xABCDEF0123456789ull, out);
    assert_string_equal(out, "pgr_abcdef0123456789");
    stmt_server_name(UINT64_MAX, out);
    assert_string_equal(out, "pgr_ffffffffffffffff");
    assert_server_name_is(stmt_id(body_sel1, sizeof(body_sel1)));
    assert_server_name_is(stmt_id(body_p_text, sizeof(body_p_text)));
}

static void test_srvstmt_add_has_remove(void **state)
{
    struct srvstmt s;

    (void)state;
    srvstmt_init(&s);
    assert_int_equal(srvstmt_has(&s, 7), 0);
    assert_int_equal(srvstmt_add(&s, 7), 0);
    assert_int_equal(srvstmt_add(&s, 9), 0);
    assert_int_equal(s.n, 2);
    /* Adding what is there already does not count it twice. */
    assert_int_equal(srvstmt_add(&s, 7), 0);
    assert_int_equal(s.n, 2);
    assert_int_equal(srvstmt_has(&s, 7), 1);
    assert_int_equal(srvstmt_has(&s, 9), 1);
    assert_int_equal(srvstmt_has(&s, 8), 0);
    srvstmt_remove(&s, 7);
    assert_int_equal(srvstmt_has(&s, 7), 0);
    assert_int_equal(srvstmt_has(&s, 9), 1);
    assert_int_equal(s.n, 1);
    /* Removing an id the set does not hold changes nothing. */
    srvstmt_remove(&s, 1234);
    assert_int_equal(s.n, 1);
    assert_int_equal(srvstmt_has(&s, 9), 1);
    srvstmt_free(&s);
}

static void test_srvstmt_evict_on_empty_set_returns_0(void **state)
{
    struct srvstmt s;
    uint64_t keep[] = { 1 };

    (void)state;
    srvstmt_init(&s);
    assert_int_equal(srvstmt_evict(&s, NULL, 0), 0);
    assert_int_equal(srvstmt_add(&s, 1), 0);
    srvstmt_remove(&s, 1);
    assert_int_equal(srvstmt_evict(&s, keep, 1), 0);
    assert_int_equal(srvstmt_evict(&s, NULL, 0), 0);
    srvstmt_free(&s);
}

static void test_srvstmt_evict_takes_least_recently_added_in_order(void **state)
{
    struct srvstmt s;

    (void)state;
    srvstmt_init(&s);
    assert_int_equal(srvstmt_add(&s, 30), 0);
    assert_int_equal(srvstmt_add(&s, 10), 0);
    assert_int_equal(srvstmt_add(&s, 20), 0);
    assert_int_equal(srvstmt_evict(&s, NULL, 0), 30);
    assert_int_equal(srvstmt_has(&s, 30), 0);
    assert_int_equal(s.n, 2);
    assert_int_equal(srvstmt_evict(&s, NULL, 0), 10);
    assert_int_equal(srvstmt_evict(&s, NULL, 0), 20);
    assert_int_equal(s.n, 0);
    assert_int_equal(srvstmt_evict(&s, NULL, 0), 0);
    srvstmt_free(&s);
}

static void test_srvstmt_has_marks_use_so_evict_takes_least_recently_used(void **state)
{
    struct srvstmt s;

    (void)state;
    srvstmt_init(&s);
    assert_int_equal(srvstmt_add(&s, 1), 0);
    assert_int_equal(srvstmt_add(&s, 2), 0);
    assert_int_equal(srvstmt_add(&s, 3), 0);
    /* Use 1 then 2: 3 is now the least recently used although added last. */
    assert_int_equal(srvstmt_has(&s, 1), 1);
    assert_int_equal(srvstmt_has(&s, 2), 1);
    assert_int_equal(srvstmt_evict(&s, NULL, 0), 3);
    assert_int_equal(srvstmt_evict(&s, NULL, 0), 1);
    assert_int_equal(srvstmt_evict(&s, NULL, 0), 2);
    srvstmt_free(&s);
}

static void test_srvstmt_add_of_held_id_marks_it_used(void **state)
{
    struct srvstmt s;

    (void)state;
    srvstmt_init(&s);
    assert_int_equal(srvstmt_add(&s, 1), 0);
    assert_int_equal(srvstmt_add(&s, 2), 0);
    assert_int_equal(srvstmt_add(&s, 1), 0);
    assert_int_equal(srvstmt_evict(&s, NULL, 0), 2);
    srvstmt_free(&s);
}

static void test_srvstmt_evict_skips_ids_in_keep(void **state)
{
    struct srvstmt s;
    uint64_t keep[] = { 5, 99, 6 };
    uint64_t keep_all[] = { 7, 6, 5 };

    (void)state;
    srvstmt_init(&s);
    assert_int_equal(srvstmt_add(&s, 5), 0);
    assert_int_equal(srvstmt_add(&s, 6), 0);
    assert_int_equal(srvstmt_add(&s, 7), 0);
    assert_int_equal(srvstmt_evict(&s, keep_all, 3), 0);
    assert_int_equal(s.n, 3);
    /* 5 and 6 are older but kept: 7 goes. */
    assert_int_equal(srvstmt_evict(&s, keep, 3), 7);
    assert_int_equal(s.n, 2);
    assert_int_equal(srvstmt_has(&s, 5), 1);
    assert_int_equal(srvstmt_has(&s, 6), 1);
    assert_int_equal(srvstmt_evict(&s, keep, 3), 0);
    assert_int_equal(s.n, 2);
    /* Keeping only 6 leaves 5, the least recently used other. */
    assert_int_equal(srvstmt_evict(&s, &keep[2], 1), 5);
    assert_int_equal(s.n, 1);
    srvstmt_free(&s);
}

/* Ids spread like content hashes, never 0. */
static uint64_t spread_id(unsigned i)
{
    return ((uint64_t)i + 1) * 0x9E3779B97F4A7C15ull;
}

static void test_srvstmt_grows_past_1000_ids_and_has_is_right_for_each(void **state)
{
    enum { N = 1500 };
    struct srvstmt s;

    (void)state;
    srvstmt_init(&s);
    for (unsigned i = 0; i < N; i++)
        assert_int_equal(srvstmt_add(&s, spread_id(i)), 0);
    /* Small sequential ids collide in the low bits differently: add those too. */
    for (unsigned i = 1; i <= N; i++)
        assert_int_equal(srvstmt_add(&s, i), 0);
    assert_int_equal(s.n, 2 * N);
    for (unsigned i = 0; i < N; i++) {
        assert_int_equal(srvstmt_has(&s, spread_id(i)), 1);
        assert_int_equal(srvstmt_has(&s, i + 1), 1);
        assert_int_equal(srvstmt_has(&s, spread_id(i) + 1), 0);
    }
    assert_int_equal(srvstmt_has(&s, N + 1), 0);
    /* Remove every other one; the rest are still found and LRU order survived growth. */
    for (unsigned i = 0; i < N; i += 2)
        srvstmt_remove(&s, spread_id(i));
    assert_int_equal(s.n, 2 * N - N / 2);
    for (unsigned i = 0; i < N; i++)
        assert_int_equal(srvstmt_has(&s, spread_id(i)), (int)(i % 2));
    /* The has() loop used spread ids last, in order: 1..N are the least recently used. */
    assert_int_equal(srvstmt_evict(&s, NULL, 0), 1);
    srvstmt_free(&s);
}

static void test_srvstmt_clear_forgets_all_and_set_stays_usable(void **state)
{
    struct srvstmt s;

    (void)state;
    srvstmt_init(&s);
    for (unsigned i = 1; i <= 50; i++)
        assert_int_equal(srvstmt_add(&s, i), 0);
    srvstmt_clear(&s);
    assert_int_equal(s.n, 0);
    for (unsigned i = 1; i <= 50; i++)
        assert_int_equal(srvstmt_has(&s, i), 0);
    assert_int_equal(srvstmt_evict(&s, NULL, 0), 0);
    assert_int_equal(srvstmt_add(&s, 3), 0);
    assert_int_equal(srvstmt_has(&s, 3), 1);
    assert_int_equal(s.n, 1);
    srvstmt_free(&s);
    assert_null(s.slots);
    assert_int_equal(s.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stmt_get_on_empty_table_is_null_and_remove_is_harmless),
        cmocka_unit_test(test_stmt_put_copies_name_and_body_and_sets_content_id),
        cmocka_unit_test(test_stmt_same_text_and_types_under_two_names_share_one_id),
        cmocka_unit_test(test_stmt_id_differs_for_other_parameter_types_or_text),
        cmocka_unit_test(test_stmt_put_replacing_an_entry_changes_its_body_and_id),
        cmocka_unit_test(test_stmt_remove_drops_only_that_name),
        cmocka_unit_test(test_stmt_clear_drops_everything_and_table_stays_usable),
        cmocka_unit_test(test_stmt_grows_past_2000_entries_and_finds_each),
        cmocka_unit_test(test_stmt_server_name_is_pgr_and_16_lowercase_hex),
        cmocka_unit_test(test_srvstmt_add_has_remove),
        cmocka_unit_test(test_srvstmt_evict_on_empty_set_returns_0),
        cmocka_unit_test(test_srvstmt_evict_takes_least_recently_added_in_order),
        cmocka_unit_test(test_srvstmt_has_marks_use_so_evict_takes_least_recently_used),
        cmocka_unit_test(test_srvstmt_add_of_held_id_marks_it_used),
        cmocka_unit_test(test_srvstmt_evict_skips_ids_in_keep),
        cmocka_unit_test(test_srvstmt_grows_past_1000_ids_and_has_is_right_for_each),
        cmocka_unit_test(test_srvstmt_clear_forgets_all_and_set_stays_usable),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
