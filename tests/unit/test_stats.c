/*
 * tests/unit/test_stats.c - the counters of router/admin/stats.c: histogram buckets, what a unit
 * and a transaction add (counts, times, bytes charged once), server assignments, routing
 * rules by pointer and by text with a bounded table, error classes, breaker transitions,
 * PgBouncer's averages, the per-database and per-node rollups, and stats_period ticks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "router/cluster/breaker.h"
#include "router/pool/pool.h"
#include "router/cluster/route.h"
#include "router/admin/stats.h"
#include "router/worker.h"

static struct worker test_w;    /* large (node tables): not on the stack */
static struct shared test_sh;

static struct pool *add_pool(struct worker *w, int node_id, const char *db, const char *user)
{
    struct pool *p = calloc(1, sizeof(*p));

    assert_non_null(p);
    p->w = w;
    p->node_id = node_id;
    snprintf(p->db, sizeof(p->db), "%s", db);
    snprintf(p->user, sizeof(p->user), "%s", user);
    p->next = w->pools;
    w->pools = p;
    return p;
}

static void free_pools(struct worker *w)
{
    while (w->pools != NULL) {
        struct pool *p = w->pools;

        w->pools = p->next;
        free(p);
    }
    memset(w, 0, sizeof(*w));
    worker_attach(w, &test_sh);
}

/* One unit from begin to end on ps: start at t0, end at t1 with status. */
static void run_unit(struct stats_pool *ps, struct stats_client *sc, char prev, char status,
                     uint64_t t0, uint64_t t1, uint64_t in_total)
{
    stats_unit_begin(sc, prev, t0);
    stats_unit_end(ps, sc, status, t1, in_total, 0);
}

static void test_stats_buckets_match_the_pool_wait_bounds(void **state)
{
    (void)state;
    assert_int_equal(STATS_BUCKETS, POOL_WAIT_BUCKETS);
    assert_int_equal(stats_bucket_us(0), 0);
    assert_int_equal(stats_bucket_us(999), 0);         /* < 1 ms */
    assert_int_equal(stats_bucket_us(1000), 1);        /* [1, 2) ms */
    assert_int_equal(stats_bucket_us(1999), 1);
    assert_int_equal(stats_bucket_us(2000), 2);        /* [2, 4) ms */
    assert_int_equal(stats_bucket_us(3999), 2);
    assert_int_equal(stats_bucket_us(4000), 3);
    assert_int_equal(stats_bucket_us(1000ull * 1024), 11);
    assert_int_equal(stats_bucket_us(UINT64_MAX), STATS_BUCKETS - 1);
    assert_int_equal(stats_bucket_le_ms(0), 1);
    assert_int_equal(stats_bucket_le_ms(1), 2);
    assert_int_equal(stats_bucket_le_ms(11), 2048);
    assert_int_equal(stats_bucket_le_ms(STATS_BUCKETS - 2), 1ull << (STATS_BUCKETS - 2));
    assert_int_equal(stats_bucket_le_ms(STATS_BUCKETS - 1), 0);     /* +Inf */
    /* every duration is below its bucket's bound and at or above the one before */
    for (uint64_t us = 0; us < 5000000; us += 777) {
        unsigned b = stats_bucket_us(us);

        assert_true(us / 1000 < stats_bucket_le_ms(b));
        if (b > 0)
            assert_true(us / 1000 >= stats_bucket_le_ms(b - 1));
    }
}

static void test_stats_autocommit_units_are_queries_and_transactions(void **state)
{
    struct stats_pool ps;
    struct stats_client sc;

    (void)state;
    memset(&ps, 0, sizeof(ps));
    memset(&sc, 0, sizeof(sc));
    run_unit(&ps, &sc, 'I', 'I', 1000, 1500, 14);
    run_unit(&ps, &sc, 'I', 'I', 2000, 4600, 28);
    assert_int_equal(ps.total.query_count, 2);
    assert_int_equal(ps.total.xact_count, 2);
    assert_int_equal(ps.total.query_time_us, 500 + 2600);
    assert_int_equal(ps.total.xact_time_us, 500 + 2600);
    assert_int_equal(ps.total.received, 28);
    assert_int_equal(ps.query_hist[0], 1);    /* 0.5 ms */
    assert_int_equal(ps.query_hist[2], 1);    /* 2.6 ms */
    assert_int_equal(sc.tx_start_us, 0);
}

static void test_stats_transaction_spans_its_units_and_idle_time(void **state)
{
    struct stats_pool ps;
    struct stats_client sc;

    (void)state;
    memset(&ps, 0, sizeof(ps));
    memset(&sc, 0, sizeof(sc));
    run_unit(&ps, &sc, 'I', 'T', 10000, 10100, 0);     /* BEGIN */
    run_unit(&ps, &sc, 'T', 'T', 20000, 20300, 0);     /* SELECT, 10 ms later */
    run_unit(&ps, &sc, 'T', 'I', 30000, 30050, 0);     /* COMMIT */
    assert_int_equal(ps.total.query_count, 3);
    assert_int_equal(ps.total.xact_count, 1);
    assert_int_equal(ps.total.query_time_us, 100 + 300 + 50);
    assert_int_equal(ps.total.xact_time_us, 30050 - 10000);
    /* a failed transaction ends the same way ('E' then 'I') */
    run_unit(&ps, &sc, 'I', 'E', 40000, 40010, 0);
    run_unit(&ps, &sc, 'E', 'I', 41000, 41010, 0);
    assert_int_equal(ps.total.xact_count, 2);
    assert_int_equal(ps.total.xact_time_us, 20050 + 1010);
}

static void test_stats_held_back_begin_starts_the_transaction_at_its_first_unit(void **state)
{
    struct stats_pool ps;
    struct stats_client sc;

    (void)state;
    memset(&ps, 0, sizeof(ps));
    memset(&sc, 0, sizeof(sc));
    /* sharding: the server says 'T' already when the first unit goes out */
    run_unit(&ps, &sc, 'T', 'T', 5000, 5200, 0);
    run_unit(&ps, &sc, 'T', 'I', 6000, 6100, 0);
    assert_int_equal(ps.total.xact_count, 1);
    assert_int_equal(ps.total.xact_time_us, 1100);
}

static void test_stats_client_bytes_are_charged_once(void **state)
{
    struct stats_pool a, b;
    struct stats_client sc;

    (void)state;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    memset(&sc, 0, sizeof(sc));
    sc.in_charged = 100;    /* login bytes, set aside when the client was greeted */
    run_unit(&a, &sc, 'I', 'I', 1, 2, 120);
    run_unit(&b, &sc, 'I', 'I', 3, 4, 150);
    run_unit(&b, &sc, 'I', 'I', 5, 6, 150);     /* nothing new */
    assert_int_equal(a.total.received, 20);
    assert_int_equal(b.total.received, 30);
    stats_sent(&a, 7);
    stats_sent(&a, 8);
    assert_int_equal(a.total.sent, 15);
}

static void test_stats_prepared_statement_counts_go_to_the_unit_pool(void **state)
{
    struct stats_pool ps;
    struct stats_client sc;

    (void)state;
    memset(&ps, 0, sizeof(ps));
    memset(&sc, 0, sizeof(sc));
    sc.parses = 2;
    sc.binds = 3;
    stats_unit_begin(&sc, 'I', 10);
    stats_unit_end(&ps, &sc, 'I', 20, 0, 4);
    assert_int_equal(ps.total.client_parse_count, 2);
    assert_int_equal(ps.total.bind_count, 3);
    assert_int_equal(ps.total.server_parse_count, 4);
    assert_int_equal(sc.parses, 0);
    assert_int_equal(sc.binds, 0);
}

static void test_stats_assignments_add_wait_time(void **state)
{
    struct stats_pool ps;

    (void)state;
    memset(&ps, 0, sizeof(ps));
    stats_assign(&ps, 0);
    stats_assign(&ps, 2500);
    stats_assign(&ps, 500);
    assert_int_equal(ps.total.server_assignment_count, 3);
    assert_int_equal(ps.total.wait_time_us, 3000);
}

static void test_stats_routes_count_by_rule_text(void **state)
{
    static struct stats st;
    char copy[16];

    (void)state;
    memset(&st, 0, sizeof(st));
    stats_route(&st, "read", ROUTE_REPLICA);
    stats_route(&st, "read", ROUTE_REPLICA);
    stats_route(&st, "transaction", ROUTE_PRIMARY);
    snprintf(copy, sizeof(copy), "%s", "read");    /* same text, another pointer */
    stats_route(&st, copy, ROUTE_REPLICA);
    stats_route(&st, NULL, ROUTE_PRIMARY);
    stats_route(&st, "transaction", ROUTE_REPLICA);    /* same rule, another target */
    assert_int_equal(st.n_routes, 3);
    assert_string_equal(st.routes[0].rule, "read");
    assert_int_equal(st.routes[0].target, ROUTE_REPLICA);
    assert_int_equal(st.routes[0].count, 3);
    assert_string_equal(st.routes[1].rule, "transaction");
    assert_int_equal(st.routes[1].target, ROUTE_PRIMARY);
    assert_int_equal(st.routes[1].count, 1);
    assert_int_equal(st.routes[2].target, ROUTE_REPLICA);
    assert_int_equal(st.routes[2].count, 1);
    assert_int_equal(st.routes_other, 1);
}

static void test_stats_routes_table_is_bounded(void **state)
{
    static struct stats st;
    static char names[STATS_ROUTES_MAX + 5][8];

    (void)state;
    memset(&st, 0, sizeof(st));
    for (int i = 0; i < STATS_ROUTES_MAX + 5; i++) {
        snprintf(names[i], sizeof(names[i]), "r%d", i);
        stats_route(&st, names[i], ROUTE_PRIMARY);
    }
    assert_int_equal(st.n_routes, STATS_ROUTES_MAX);
    assert_int_equal(st.routes_other, 5);
    stats_route(&st, names[0], ROUTE_PRIMARY);  /* known rules still count */
    assert_int_equal(st.routes[0].count, 2);
    assert_int_equal(st.routes_other, 5);
}

static void test_stats_errors_by_class_and_source(void **state)
{
    static struct stats st;

    (void)state;
    memset(&st, 0, sizeof(st));
    stats_error(&st, "08006", STATS_ERR_OWN);
    stats_error(&st, "08001", STATS_ERR_OWN);
    stats_error(&st, "42P01", STATS_ERR_SERVER);
    stats_error(&st, "42601", STATS_ERR_SERVER);
    stats_error(&st, "08P01", STATS_ERR_SERVER);
    stats_error(&st, NULL, STATS_ERR_SERVER);
    stats_error(&st, "x", STATS_ERR_SERVER);
    stats_error(&st, "", STATS_ERR_OWN);
    assert_int_equal(st.n_errors, 3);
    assert_string_equal(st.errors[0].cls, "08");
    assert_int_equal(st.errors[0].own, 2);
    assert_int_equal(st.errors[0].server, 1);
    assert_string_equal(st.errors[1].cls, "42");
    assert_int_equal(st.errors[1].own, 0);
    assert_int_equal(st.errors[1].server, 2);
    assert_string_equal(st.errors[2].cls, "??");
    assert_int_equal(st.errors[2].server, 2);
    assert_int_equal(st.errors[2].own, 1);
}

static void test_stats_breaker_transitions(void **state)
{
    struct stats_node sn;

    (void)state;
    memset(&sn, 0, sizeof(sn));
    stats_breaker(&sn, BREAKER_CLOSED, BREAKER_OPEN);
    stats_breaker(&sn, BREAKER_OPEN, BREAKER_HALF_OPEN);
    stats_breaker(&sn, BREAKER_HALF_OPEN, BREAKER_OPEN);
    stats_breaker(&sn, BREAKER_OPEN, BREAKER_HALF_OPEN);
    stats_breaker(&sn, BREAKER_HALF_OPEN, BREAKER_CLOSED);
    assert_int_equal(sn.breaker_opened, 1);
    assert_int_equal(sn.breaker_half_opened, 2);
    assert_int_equal(sn.breaker_reopened, 1);
    assert_int_equal(sn.breaker_closed, 1);
}

static void test_stats_averages_are_rates_and_means(void **state)
{
    struct stats_counters then, now;
    struct stats_avg a;

    (void)state;
    memset(&then, 0, sizeof(then));
    then.xact_count = 100;
    then.query_count = 300;
    then.received = 1000;
    then.xact_time_us = 5000;
    now = then;
    now.xact_count += 20;           /* over 2 s */
    now.query_count += 60;
    now.server_assignment_count = 40;
    now.received += 4096;
    now.sent = 10000;
    now.xact_time_us += 20 * 1500;  /* 1.5 ms each */
    now.query_time_us = 60 * 400;
    now.wait_time_us = 40 * 25;
    now.bind_count = 7;
    stats_average(&now, &then, 2000000, &a);
    assert_int_equal(a.xact_count, 10);
    assert_int_equal(a.query_count, 30);
    assert_int_equal(a.server_assignment_count, 20);
    assert_int_equal(a.recv, 2048);
    assert_int_equal(a.sent, 5000);
    assert_int_equal(a.xact_time_us, 1500);
    assert_int_equal(a.query_time_us, 400);
    assert_int_equal(a.wait_time_us, 25);
    assert_int_equal(a.bind_count, 3);     /* 3.5/s, rounded down as PgBouncer does */
    /* nothing happened, or no time passed: zeros, never a division by zero */
    stats_average(&then, &then, 2000000, &a);
    assert_int_equal(a.xact_count, 0);
    assert_int_equal(a.xact_time_us, 0);
    stats_average(&now, &then, 0, &a);
    assert_int_equal(a.query_count, 0);
    assert_int_equal(a.query_time_us, 400);
    /* huge counts do not overflow the rate */
    now.sent = then.sent + (UINT64_MAX / 2);
    stats_average(&now, &then, 1000000, &a);
    assert_int_equal(a.sent, (UINT64_MAX / 2) / 1000000 * 1000000);
}

static void test_stats_databases_roll_up_pools_sorted_by_name(void **state)
{
    struct worker *w = &test_w;
    struct stats_db dbs[4];
    struct pool *a1 = add_pool(w, 0, "shop", "app");
    struct pool *a2 = add_pool(w, 1, "shop", "app");
    struct pool *a3 = add_pool(w, 1, "shop", "report");
    struct pool *b = add_pool(w, 0, "billing", "app");
    size_t n;

    (void)state;
    a1->stats.total.query_count = 5;
    a2->stats.total.query_count = 7;
    a3->stats.total.query_count = 1;
    a3->stats.total.received = 100;
    b->stats.total.xact_count = 2;
    n = stats_databases(w, dbs, 4);
    assert_int_equal(n, 2);
    assert_string_equal(dbs[0].name, "billing");
    assert_int_equal(dbs[0].total.xact_count, 2);
    assert_int_equal(dbs[0].total.query_count, 0);
    assert_string_equal(dbs[1].name, "shop");
    assert_int_equal(dbs[1].total.query_count, 13);
    assert_int_equal(dbs[1].total.received, 100);
    /* not enough room: the count says how many there are */
    memset(dbs, 0, sizeof(dbs));
    assert_int_equal(stats_databases(w, dbs, 1), 2);
    assert_string_equal(dbs[0].name, "billing");
    assert_string_equal(dbs[1].name, "");
    assert_int_equal(stats_databases(w, NULL, 0), 2);
    free_pools(w);
}

static void test_stats_node_sums_its_pools(void **state)
{
    struct worker *w = &test_w;
    struct pool *a = add_pool(w, 0, "shop", "app");
    struct pool *b = add_pool(w, 1, "shop", "app");
    struct pool *c = add_pool(w, 1, "billing", "app");
    struct stats_counters sum;
    uint64_t hist[STATS_BUCKETS];

    (void)state;
    a->stats.total.sent = 1;
    b->stats.total.sent = 10;
    c->stats.total.sent = 100;
    b->stats.query_hist[3] = 2;
    c->stats.query_hist[3] = 5;
    a->stats.query_hist[0] = 1;
    stats_sum_node(w, 1, &sum);
    assert_int_equal(sum.sent, 110);
    stats_sum_node(w, 0, &sum);
    assert_int_equal(sum.sent, 1);
    stats_sum_hist(w, 1, hist);
    assert_int_equal(hist[3], 7);
    assert_int_equal(hist[0], 0);
    stats_sum_hist(w, -1, hist);
    assert_int_equal(hist[3], 7);
    assert_int_equal(hist[0], 1);
    free_pools(w);
}

static void test_stats_averages_cover_the_last_complete_period(void **state)
{
    struct worker *w = &test_w;
    struct pool *p = add_pool(w, 0, "shop", "app");
    struct stats_db db;

    (void)state;
    /* before the second tick there is no complete period: zeros */
    stats_maybe_tick(w, 1000000, 2000);     /* first call: the first period starts */
    p->stats.total.query_count = 10;
    p->stats.total.query_time_us = 10 * 300;
    assert_int_equal(stats_databases(w, &db, 1), 1);
    assert_int_equal(db.avg.query_count, 0);
    stats_maybe_tick(w, 2000000, 2000);     /* 1 s: not yet */
    assert_int_equal(w->stats.prev_tick_us, 0);
    stats_maybe_tick(w, 2600000, 2000);     /* 1.6 s: half a second early is on time */
    assert_int_equal(w->stats.prev_tick_us, 1000000);
    assert_int_equal(w->stats.tick_us, 2600000);
    stats_databases(w, &db, 1);
    assert_int_equal(db.avg.query_count, 6);    /* 10 in 1.6 s */
    assert_int_equal(db.avg.query_time_us, 300);
    /* more queries after the tick do not move the averages until the next one */
    p->stats.total.query_count = 1000;
    stats_databases(w, &db, 1);
    assert_int_equal(db.avg.query_count, 6);
    assert_int_equal(db.total.query_count, 1000);
    stats_tick(w, 4600000, 0);
    stats_databases(w, &db, 1);
    assert_int_equal(db.avg.query_count, 495);  /* 990 in 2 s */
    assert_int_equal(db.avg.query_time_us, 0);  /* no time added: 0 per query */
    free_pools(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stats_buckets_match_the_pool_wait_bounds),
        cmocka_unit_test(test_stats_autocommit_units_are_queries_and_transactions),
        cmocka_unit_test(test_stats_transaction_spans_its_units_and_idle_time),
        cmocka_unit_test(test_stats_held_back_begin_starts_the_transaction_at_its_first_unit),
        cmocka_unit_test(test_stats_client_bytes_are_charged_once),
        cmocka_unit_test(test_stats_prepared_statement_counts_go_to_the_unit_pool),
        cmocka_unit_test(test_stats_assignments_add_wait_time),
        cmocka_unit_test(test_stats_routes_count_by_rule_text),
        cmocka_unit_test(test_stats_routes_table_is_bounded),
        cmocka_unit_test(test_stats_errors_by_class_and_source),
        cmocka_unit_test(test_stats_breaker_transitions),
        cmocka_unit_test(test_stats_averages_are_rates_and_means),
        cmocka_unit_test(test_stats_databases_roll_up_pools_sorted_by_name),
        cmocka_unit_test(test_stats_node_sums_its_pools),
        cmocka_unit_test(test_stats_averages_cover_the_last_complete_period),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
