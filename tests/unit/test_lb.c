/*
 * tests/unit/test_lb.c - load-balancing strategies, shown as distributions of 10,000
 * picks over three candidates: round robin exact, weighted exact for 2:1:1, random
 * within 5% (fixed-seed generator), least_conn and least_latency preferences,
 * ineligible candidates never picked, and the latency EWMA.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "router/cluster/lb.h"

#define PICKS 10000

static const enum lb_strategy all[] = {
    LB_ROUND_ROBIN, LB_LEAST_CONN, LB_RANDOM, LB_WEIGHTED, LB_LEAST_LATENCY,
};

/* splitmix64: a fixed, decent sequence so the random test is reproducible. */
static uint64_t rand_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void cand3(struct lb_candidate c[3])
{
    for (int i = 0; i < 3; i++) {
        c[i].eligible = 1;
        c[i].weight = 1;
        c[i].active = 0;
        c[i].latency_us = 1000;
    }
}

/* PICKS picks with strategy s into counts[0..2]; fails on -1 or an out-of-range index. */
static void pick_many(enum lb_strategy s, const struct lb_candidate c[3], unsigned counts[3])
{
    struct lb st;
    uint64_t seed = 42;

    lb_init(&st);
    counts[0] = counts[1] = counts[2] = 0;
    for (int i = 0; i < PICKS; i++) {
        int idx = lb_pick(&st, s, c, 3, rand_next(&seed));

        assert_in_range(idx, 0, 2);
        counts[idx]++;
    }
}

/* |got - want| <= pct% of want */
static void assert_near(unsigned got, unsigned want, unsigned pct)
{
    unsigned diff = got > want ? got - want : want - got;

    if ((uint64_t)diff * 100 > (uint64_t)want * pct)
        fail_msg("got %u, want %u within %u%%", got, want, pct);
}

static void test_lb_round_robin_is_exactly_equal(void **state)
{
    struct lb_candidate c[3];
    unsigned n[3];

    (void)state;
    cand3(c);
    pick_many(LB_ROUND_ROBIN, c, n);
    assert_int_equal(n[0], 3334);
    assert_int_equal(n[1], 3333);
    assert_int_equal(n[2], 3333);
}

static void test_lb_round_robin_order_skips_ineligible(void **state)
{
    static const int want[] = { 0, 2, 0, 2, 0 };
    struct lb_candidate c[3];
    struct lb st;

    (void)state;
    cand3(c);
    c[1].eligible = 0;
    lb_init(&st);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        assert_int_equal(lb_pick(&st, LB_ROUND_ROBIN, c, 3, 0), want[i]);
}

static void test_lb_weighted_2_1_1_within_1_percent(void **state)
{
    struct lb_candidate c[3];
    unsigned n[3];

    (void)state;
    cand3(c);
    c[0].weight = 2;
    pick_many(LB_WEIGHTED, c, n);
    assert_near(n[0], 5000, 1);
    assert_near(n[1], 2500, 1);
    assert_near(n[2], 2500, 1);
}

static void test_lb_weighted_2_1_1_spreads_each_cycle_of_4(void **state)
{
    /* Smooth WRR: every 4 picks hold a, b, c and a again; no burst of a. */
    static const int want[] = { 0, 1, 2, 0, 0, 1, 2, 0, 0, 1, 2, 0 };
    struct lb_candidate c[3];
    struct lb st;

    (void)state;
    cand3(c);
    c[0].weight = 2;
    lb_init(&st);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        assert_int_equal(lb_pick(&st, LB_WEIGHTED, c, 3, 0), want[i]);
}

static void test_lb_weighted_large_ratio_and_zero_weight(void **state)
{
    struct lb_candidate c[3];
    unsigned n[3];

    (void)state;
    cand3(c);
    c[0].weight = 1000;
    c[1].weight = 0;    /* taken as 1 */
    c[2].eligible = 0;
    pick_many(LB_WEIGHTED, c, n);
    assert_int_equal(n[2], 0);
    assert_near(n[0], 9990, 1);
    assert_in_range(n[1], 9, 11);
}

static void test_lb_random_within_5_percent(void **state)
{
    struct lb_candidate c[3];
    unsigned n[3];

    (void)state;
    cand3(c);
    pick_many(LB_RANDOM, c, n);
    for (int i = 0; i < 3; i++)
        assert_near(n[i], PICKS / 3, 5);
}

static void test_lb_random_maps_value_onto_eligible_only(void **state)
{
    struct lb_candidate c[3];
    struct lb st;

    (void)state;
    cand3(c);
    c[0].eligible = 0;
    lb_init(&st);
    assert_int_equal(lb_pick(&st, LB_RANDOM, c, 3, 0), 1);
    assert_int_equal(lb_pick(&st, LB_RANDOM, c, 3, 1), 2);
    assert_int_equal(lb_pick(&st, LB_RANDOM, c, 3, 2), 1);
    assert_int_equal(lb_pick(&st, LB_RANDOM, c, 3, UINT64_MAX), 2);
}

static void test_lb_least_conn_picks_the_minimum(void **state)
{
    struct lb_candidate c[3];
    struct lb st;

    (void)state;
    cand3(c);
    c[0].active = 5;
    c[1].active = 2;
    c[2].active = 7;
    lb_init(&st);
    for (int i = 0; i < 10; i++)
        assert_int_equal(lb_pick(&st, LB_LEAST_CONN, c, 3, 0), 1);
    c[1].eligible = 0;
    assert_int_equal(lb_pick(&st, LB_LEAST_CONN, c, 3, 0), 0);
}

static void test_lb_least_conn_follows_counts_as_they_change(void **state)
{
    struct lb_candidate c[3];
    struct lb st;

    (void)state;
    cand3(c);
    lb_init(&st);
    /* The caller counts the picked connection; picks then fill the nodes evenly. */
    for (int i = 0; i < 300; i++) {
        int idx = lb_pick(&st, LB_LEAST_CONN, c, 3, 0);

        assert_in_range(idx, 0, 2);
        c[idx].active++;
    }
    assert_int_equal(c[0].active, 100);
    assert_int_equal(c[1].active, 100);
    assert_int_equal(c[2].active, 100);
}

static void test_lb_least_conn_ties_go_round_robin(void **state)
{
    struct lb_candidate c[3];
    unsigned n[3];

    (void)state;
    cand3(c);
    c[0].active = 3;
    c[1].active = 1;
    c[2].active = 1;
    pick_many(LB_LEAST_CONN, c, n);
    assert_int_equal(n[0], 0);
    assert_int_equal(n[1], PICKS / 2);
    assert_int_equal(n[2], PICKS / 2);
}

static void test_lb_least_latency_prefers_the_faster_node(void **state)
{
    struct lb_candidate c[3];
    unsigned n[3];

    (void)state;
    cand3(c);
    c[0].latency_us = 3000;
    c[1].latency_us = 800;
    c[2].latency_us = 2500;
    pick_many(LB_LEAST_LATENCY, c, n);
    /* 19 of 20 picks to the fastest, the 20th round robin over all three. */
    assert_true(n[1] >= PICKS * 95 / 100);
    assert_true(n[0] > 0 && n[0] < PICKS * 2 / 100);
    assert_true(n[2] > 0 && n[2] < PICKS * 2 / 100);
    assert_int_equal(n[0] + n[1] + n[2], PICKS);
}

static void test_lb_least_latency_shares_between_close_nodes(void **state)
{
    struct lb_candidate c[3];
    unsigned n[3];

    (void)state;
    cand3(c);
    c[0].latency_us = 1000;
    c[1].latency_us = 1200;     /* within 25%: tied with the fastest */
    c[2].latency_us = 1300;     /* 30% slower: explore picks only */
    pick_many(LB_LEAST_LATENCY, c, n);
    assert_near(n[0], n[1], 5);
    assert_true(n[2] > 0 && n[2] < PICKS * 2 / 100);
}

static void test_lb_least_latency_tries_unmeasured_node_first(void **state)
{
    struct lb_candidate c[3];
    struct lb st;

    (void)state;
    cand3(c);
    c[2].latency_us = 0;
    lb_init(&st);
    assert_int_equal(lb_pick(&st, LB_LEAST_LATENCY, c, 3, 0), 2);
    assert_int_equal(lb_pick(&st, LB_LEAST_LATENCY, c, 3, 0), 2);
}

static void test_lb_ineligible_never_picked(void **state)
{
    struct lb_candidate c[3];
    unsigned n[3];

    (void)state;
    for (size_t s = 0; s < sizeof(all) / sizeof(all[0]); s++) {
        for (int off = 0; off < 3; off++) {
            cand3(c);
            c[off].eligible = 0;
            /* Make the ineligible one the most attractive by every measure. */
            c[off].weight = 1000;
            c[off].latency_us = 1;
            c[(off + 1) % 3].active = 4;
            pick_many(all[s], c, n);
            if (n[off] != 0)
                fail_msg("%s picked ineligible candidate %d", lb_strategy_name(all[s]), off);
        }
    }
}

static void test_lb_all_ineligible_returns_minus_one(void **state)
{
    struct lb_candidate c[3];
    struct lb st;

    (void)state;
    cand3(c);
    c[0].eligible = c[1].eligible = c[2].eligible = 0;
    lb_init(&st);
    for (size_t s = 0; s < sizeof(all) / sizeof(all[0]); s++) {
        for (int i = 0; i < 40; i++)
            assert_int_equal(lb_pick(&st, all[s], c, 3, (uint64_t)i), -1);
        assert_int_equal(lb_pick(&st, all[s], c, 0, 0), -1);
    }
    cand3(c);
    assert_int_equal(lb_pick(&st, (enum lb_strategy)99, c, 3, 0), -1);
}

static void test_lb_single_candidate_always_picked(void **state)
{
    struct lb_candidate c[3];
    struct lb st;

    (void)state;
    cand3(c);
    lb_init(&st);
    for (size_t s = 0; s < sizeof(all) / sizeof(all[0]); s++)
        for (int i = 0; i < 50; i++)
            assert_int_equal(lb_pick(&st, all[s], c, 1, (uint64_t)i * 7919), 0);
}

static void test_lb_latency_ewma_alpha_0_2(void **state)
{
    uint32_t e = 0;

    (void)state;
    lb_latency_update(&e, 1000);
    assert_int_equal(e, 1000);
    lb_latency_update(&e, 2000);
    assert_int_equal(e, 1200);
    lb_latency_update(&e, 200);
    assert_int_equal(e, 1000);
    for (int i = 0; i < 100; i++)
        lb_latency_update(&e, 500);
    assert_in_range(e, 498, 502);
    lb_latency_update(&e, UINT32_MAX);
    assert_true(e > 500);
    e = 0;
    lb_latency_update(&e, 0);
    assert_int_equal(e, 1);
}

static void test_lb_strategy_names_round_trip(void **state)
{
    enum lb_strategy s = LB_ROUND_ROBIN;

    (void)state;
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        assert_int_equal(lb_strategy_parse(lb_strategy_name(all[i]), &s), 0);
        assert_int_equal(s, all[i]);
    }
    assert_string_equal(lb_strategy_name(LB_LEAST_LATENCY), "least_latency");
    assert_int_equal(lb_strategy_parse("fastest", &s), -EINVAL);
    assert_string_equal(lb_strategy_name((enum lb_strategy)17), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lb_round_robin_is_exactly_equal),
        cmocka_unit_test(test_lb_round_robin_order_skips_ineligible),
        cmocka_unit_test(test_lb_weighted_2_1_1_within_1_percent),
        cmocka_unit_test(test_lb_weighted_2_1_1_spreads_each_cycle_of_4),
        cmocka_unit_test(test_lb_weighted_large_ratio_and_zero_weight),
        cmocka_unit_test(test_lb_random_within_5_percent),
        cmocka_unit_test(test_lb_random_maps_value_onto_eligible_only),
        cmocka_unit_test(test_lb_least_conn_picks_the_minimum),
        cmocka_unit_test(test_lb_least_conn_follows_counts_as_they_change),
        cmocka_unit_test(test_lb_least_conn_ties_go_round_robin),
        cmocka_unit_test(test_lb_least_latency_prefers_the_faster_node),
        cmocka_unit_test(test_lb_least_latency_shares_between_close_nodes),
        cmocka_unit_test(test_lb_least_latency_tries_unmeasured_node_first),
        cmocka_unit_test(test_lb_ineligible_never_picked),
        cmocka_unit_test(test_lb_all_ineligible_returns_minus_one),
        cmocka_unit_test(test_lb_single_candidate_always_picked),
        cmocka_unit_test(test_lb_latency_ewma_alpha_0_2),
        cmocka_unit_test(test_lb_strategy_names_round_trip),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
