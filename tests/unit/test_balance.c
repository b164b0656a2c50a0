/*
 * tests/unit/test_balance.c - replica choice: round robin, down marks that expire at an
 * explicit time, everything down, mark_up, clusters without replicas. Clusters are built
 * by hand; the clock is whatever now_ms the test passes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/cfg.h"
#include "router/balance.h"

#define T0 1000000u

/* A cluster "c" with a primary on port 5432 and n replicas on 5433.., plus its balancer. */
struct fixture {
    struct cfg_cluster cl;
    struct cfg_node replicas[3];
    struct balance b;
};

static void node_set(struct cfg_node *n, uint16_t port)
{
    memset(n, 0, sizeof(*n));
    snprintf(n->host, sizeof(n->host), "127.0.0.1");
    n->port = port;
    n->weight = 1;
    snprintf(n->name, sizeof(n->name), "127.0.0.1:%u", (unsigned)port);
}

static struct fixture *fixture_new(size_t n_replicas)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    assert_true(n_replicas <= 3);
    snprintf(f->cl.name, sizeof(f->cl.name), "c");
    node_set(&f->cl.primary, 5432);
    for (size_t i = 0; i < n_replicas; i++)
        node_set(&f->replicas[i], (uint16_t)(5433 + i));
    f->cl.replicas = n_replicas > 0 ? f->replicas : NULL;
    f->cl.n_replicas = n_replicas;
    return f;
}

static void test_balance_round_robin_over_three_replicas(void **state)
{
    static const int want[] = { 0, 1, 2, 0, 1, 2, 0, 1, 2 };
    struct fixture *f = fixture_new(3);

    (void)state;
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        assert_int_equal(balance_pick_replica(&f->b, &f->cl, T0 + i), want[i]);
    free(f);
}

static void test_balance_single_replica_is_always_picked(void **state)
{
    struct fixture *f = fixture_new(1);

    (void)state;
    for (int i = 0; i < 4; i++)
        assert_int_equal(balance_pick_replica(&f->b, &f->cl, T0), 0);
    free(f);
}

static void test_balance_skips_down_replica_until_its_time_passes(void **state)
{
    struct fixture *f = fixture_new(3);

    (void)state;
    balance_mark_down(&f->b, &f->replicas[1], T0, 500, "connection refused");
    assert_true(balance_is_down(&f->b, &f->replicas[1], T0));
    assert_true(balance_is_down(&f->b, &f->replicas[1], T0 + 499));
    assert_false(balance_is_down(&f->b, &f->replicas[0], T0));
    assert_false(balance_is_down(&f->b, &f->replicas[2], T0));

    assert_int_equal(balance_pick_replica(&f->b, &f->cl, T0), 0);
    assert_int_equal(balance_pick_replica(&f->b, &f->cl, T0 + 10), 2);
    assert_int_equal(balance_pick_replica(&f->b, &f->cl, T0 + 20), 0);
    assert_int_equal(balance_pick_replica(&f->b, &f->cl, T0 + 499), 2);

    /* At T0 + 500 the mark has run out: replica 1 is back in turn. */
    assert_false(balance_is_down(&f->b, &f->replicas[1], T0 + 500));
    assert_int_equal(balance_pick_replica(&f->b, &f->cl, T0 + 500), 0);
    assert_int_equal(balance_pick_replica(&f->b, &f->cl, T0 + 500), 1);
    assert_int_equal(balance_pick_replica(&f->b, &f->cl, T0 + 500), 2);
    free(f);
}

static void test_balance_mark_down_again_extends_the_mark(void **state)
{
    struct fixture *f = fixture_new(2);

    (void)state;
    balance_mark_down(&f->b, &f->replicas[0], T0, 100, "timeout");
    balance_mark_down(&f->b, &f->replicas[0], T0 + 50, 100, "timeout");
    assert_true(balance_is_down(&f->b, &f->replicas[0], T0 + 149));
    assert_false(balance_is_down(&f->b, &f->replicas[0], T0 + 150));
    assert_int_equal(balance_pick_replica(&f->b, &f->cl, T0 + 120), 1);
    assert_int_equal(balance_pick_replica(&f->b, &f->cl, T0 + 120), 1);
    free(f);
}

static void test_balance_all_down_gives_minus_one_then_recovers(void **state)
{
    struct fixture *f = fixture_new(3);

    (void)state;
    for (size_t i = 0; i < 3; i++)
        balance_mark_down(&f->b, &f->replicas[i], T0, (unsigned)(1000 * (i + 1)), "lost");
    assert_int_equal(balance_pick_replica(&f->b, &f->cl, T0), -1);
    assert_int_equal(balance_pick_replica(&f->b, &f->cl, T0 + 999), -1);
    /* Replica 0 comes back first, alone. */
    assert_int_equal(balance_pick_replica(&f->b, &f->cl, T0 + 1000), 0);
    assert_int_equal(balance_pick_replica(&f->b, &f->cl, T0 + 1000), 0);
    assert_int_equal(balance_pick_replica(&f->b, &f->cl, T0 + 2000), 1);
    assert_int_equal(balance_pick_replica(&f->b, &f->cl, T0 + 2000), 0);
    free(f);
}

static void test_balance_mark_up_restores_before_the_time(void **state)
{
    struct fixture *f = fixture_new(3);

    (void)state;
    for (size_t i = 0; i < 3; i++)
        balance_mark_down(&f->b, &f->replicas[i], T0, 60000, "lost");
    assert_int_equal(balance_pick_replica(&f->b, &f->cl, T0 + 1), -1);

    balance_mark_up(&f->b, &f->replicas[2]);
    assert_false(balance_is_down(&f->b, &f->replicas[2], T0 + 1));
    assert_true(balance_is_down(&f->b, &f->replicas[0], T0 + 1));
    assert_int_equal(balance_pick_replica(&f->b, &f->cl, T0 + 1), 2);
    assert_int_equal(balance_pick_replica(&f->b, &f->cl, T0 + 2), 2);

    balance_mark_up(&f->b, &f->replicas[0]);
    balance_mark_up(&f->b, &f->replicas[1]);
    assert_int_equal(balance_pick_replica(&f->b, &f->cl, T0 + 3), 0);
    assert_int_equal(balance_pick_replica(&f->b, &f->cl, T0 + 3), 1);
    assert_int_equal(balance_pick_replica(&f->b, &f->cl, T0 + 3), 2);
    free(f);
}

static void test_balance_mark_up_of_unknown_node_is_harmless(void **state)
{
    struct fixture *f = fixture_new(2);
    struct cfg_node other;

    (void)state;
    node_set(&other, 6000);
    balance_mark_up(&f->b, &other);
    assert_false(balance_is_down(&f->b, &other, T0));
    assert_int_equal(balance_pick_replica(&f->b, &f->cl, T0), 0);
    assert_int_equal(balance_pick_replica(&f->b, &f->cl, T0), 1);
    free(f);
}

static void test_balance_cluster_without_replicas_gives_minus_one(void **state)
{
    struct fixture *f = fixture_new(0);

    (void)state;
    assert_int_equal(balance_pick_replica(&f->b, &f->cl, T0), -1);
    assert_int_equal(balance_pick_replica(&f->b, &f->cl, T0 + 1), -1);
    free(f);
}

/* Down marks are per node name, so two clusters sharing a replica see the same mark. */
static void test_balance_down_mark_is_shared_by_clusters_with_the_node(void **state)
{
    struct fixture *f = fixture_new(2);
    struct cfg_cluster other;
    struct cfg_node rep[2];

    (void)state;
    memset(&other, 0, sizeof(other));
    snprintf(other.name, sizeof(other.name), "d");
    node_set(&other.primary, 7000);
    node_set(&rep[0], 5434);    /* the same node as replica 1 of cluster c */
    node_set(&rep[1], 7001);
    other.replicas = rep;
    other.n_replicas = 2;

    balance_mark_down(&f->b, &f->replicas[1], T0, 1000, "refused");
    assert_int_equal(balance_pick_replica(&f->b, &other, T0), 1);
    assert_int_equal(balance_pick_replica(&f->b, &other, T0), 1);
    free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_balance_round_robin_over_three_replicas),
        cmocka_unit_test(test_balance_single_replica_is_always_picked),
        cmocka_unit_test(test_balance_skips_down_replica_until_its_time_passes),
        cmocka_unit_test(test_balance_mark_down_again_extends_the_mark),
        cmocka_unit_test(test_balance_all_down_gives_minus_one_then_recovers),
        cmocka_unit_test(test_balance_mark_up_restores_before_the_time),
        cmocka_unit_test(test_balance_mark_up_of_unknown_node_is_harmless),
        cmocka_unit_test(test_balance_cluster_without_replicas_gives_minus_one),
        cmocka_unit_test(test_balance_down_mark_is_shared_by_clusters_with_the_node),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
