/*
 * tests/unit/test_breaker.c - circuit breaker: every transition, the doubling of the
 * open period and its cap, the half-open probe limit, forced opening, transition
 * reporting and which SQLSTATEs count as failures. Time is whatever the test passes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "router/cluster/breaker.h"

#define T0 1000000u

/* threshold 3, open 1 s doubling up to 8 s, 1 probe */
static const struct breaker_params params = { 3, 1000, 8000, 1 };

static void fail_n(struct breaker *b, unsigned n, uint64_t now)
{
    for (unsigned i = 0; i < n; i++)
        breaker_failure(b, now);
}

/* Drive b from closed to open at now. */
static void open_at(struct breaker *b, uint64_t now)
{
    fail_n(b, params.failure_threshold, now);
    assert_int_equal(b->state, BREAKER_OPEN);
}

static void test_breaker_starts_closed_and_allows(void **state)
{
    struct breaker b;

    (void)state;
    breaker_init(&b, &params);
    assert_int_equal(breaker_state(&b, T0), BREAKER_CLOSED);
    for (int i = 0; i < 100; i++)
        assert_true(breaker_allow(&b, T0));
    assert_int_equal(breaker_retry_at(&b), 0);
    assert_int_equal(b.transitions, 0);
}

static void test_breaker_opens_at_threshold_consecutive_failures(void **state)
{
    struct breaker b;

    (void)state;
    breaker_init(&b, &params);
    fail_n(&b, 2, T0);
    assert_int_equal(breaker_state(&b, T0), BREAKER_CLOSED);
    assert_true(breaker_allow(&b, T0));
    breaker_failure(&b, T0 + 5);
    assert_int_equal(breaker_state(&b, T0 + 5), BREAKER_OPEN);
    assert_false(breaker_allow(&b, T0 + 5));
    assert_int_equal(breaker_retry_at(&b), T0 + 5 + 1000);
    assert_int_equal(b.transitions, 1);
}

static void test_breaker_success_resets_failure_count(void **state)
{
    struct breaker b;

    (void)state;
    breaker_init(&b, &params);
    fail_n(&b, 2, T0);
    breaker_success(&b, T0);
    fail_n(&b, 2, T0);
    assert_int_equal(breaker_state(&b, T0), BREAKER_CLOSED);
    breaker_failure(&b, T0);
    assert_int_equal(breaker_state(&b, T0), BREAKER_OPEN);
}

static void test_breaker_open_refuses_until_timeout_then_half_open(void **state)
{
    struct breaker b;

    (void)state;
    breaker_init(&b, &params);
    open_at(&b, T0);
    assert_false(breaker_allow(&b, T0 + 999));
    assert_int_equal(breaker_state(&b, T0 + 999), BREAKER_OPEN);
    /* Reading the state does not change it; allowing does. */
    assert_int_equal(breaker_state(&b, T0 + 1000), BREAKER_HALF_OPEN);
    assert_int_equal(b.state, BREAKER_OPEN);
    assert_true(breaker_allow(&b, T0 + 1000));
    assert_int_equal(b.state, BREAKER_HALF_OPEN);
    assert_int_equal(breaker_retry_at(&b), 0);
    assert_int_equal(b.transitions, 2);
}

static void test_breaker_half_open_success_closes_and_resets_timeout(void **state)
{
    struct breaker b;
    uint64_t now = T0;

    (void)state;
    breaker_init(&b, &params);
    open_at(&b, now);
    /* One failed probe doubles the period to 2 s. */
    now += 1000;
    assert_true(breaker_allow(&b, now));
    breaker_failure(&b, now);
    assert_int_equal(breaker_retry_at(&b), now + 2000);
    now += 2000;
    assert_true(breaker_allow(&b, now));
    breaker_success(&b, now);
    assert_int_equal(breaker_state(&b, now), BREAKER_CLOSED);
    assert_true(breaker_allow(&b, now));
    /* Opening again starts from open_timeout_ms, not the doubled value. */
    open_at(&b, now);
    assert_int_equal(breaker_retry_at(&b), now + 1000);
}

static void test_breaker_failed_probe_doubles_up_to_cap(void **state)
{
    static const unsigned want[] = { 2000, 4000, 8000, 8000, 8000 };
    struct breaker b;
    uint64_t now = T0;

    (void)state;
    breaker_init(&b, &params);
    open_at(&b, now);
    now += 1000;
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        assert_true(breaker_allow(&b, now));
        breaker_failure(&b, now);
        assert_int_equal(b.state, BREAKER_OPEN);
        assert_int_equal(breaker_retry_at(&b), now + want[i]);
        assert_false(breaker_allow(&b, now + want[i] - 1));
        now += want[i];
    }
}

static void test_breaker_doubling_does_not_wrap_near_uint_max(void **state)
{
    static const struct breaker_params big = { 1, 3000000000u, 4000000000u, 1 };
    struct breaker b;

    (void)state;
    breaker_init(&b, &big);
    breaker_failure(&b, 0);
    assert_true(breaker_allow(&b, 3000000000u));
    breaker_failure(&b, 3000000000u);
    assert_int_equal(b.timeout_ms, 4000000000u);
}

static void test_breaker_half_open_limits_probes(void **state)
{
    static const struct breaker_params two = { 1, 100, 400, 2 };
    struct breaker b;

    (void)state;
    breaker_init(&b, &two);
    breaker_failure(&b, T0);
    assert_true(breaker_allow(&b, T0 + 100));
    assert_true(breaker_allow(&b, T0 + 100));
    assert_false(breaker_allow(&b, T0 + 100));
    assert_false(breaker_allow(&b, T0 + 5000));
    assert_int_equal(breaker_state(&b, T0 + 100), BREAKER_HALF_OPEN);
    breaker_success(&b, T0 + 101);
    assert_int_equal(b.state, BREAKER_CLOSED);
    /* The other probe's late answer changes nothing. */
    breaker_success(&b, T0 + 102);
    assert_int_equal(b.state, BREAKER_CLOSED);
}

static void test_breaker_new_half_open_period_has_fresh_probes(void **state)
{
    struct breaker b;

    (void)state;
    breaker_init(&b, &params);
    open_at(&b, T0);
    assert_true(breaker_allow(&b, T0 + 1000));
    assert_false(breaker_allow(&b, T0 + 1000));
    breaker_failure(&b, T0 + 1000);
    assert_true(breaker_allow(&b, T0 + 3000));
    assert_false(breaker_allow(&b, T0 + 3000));
}

static void test_breaker_ignores_late_reports_while_open(void **state)
{
    struct breaker b;

    (void)state;
    breaker_init(&b, &params);
    open_at(&b, T0);
    breaker_success(&b, T0 + 1);
    breaker_failure(&b, T0 + 2);
    assert_int_equal(b.state, BREAKER_OPEN);
    assert_int_equal(breaker_retry_at(&b), T0 + 1000);
    assert_int_equal(b.timeout_ms, 1000);
}

static void test_breaker_force_open_from_closed_and_half_open(void **state)
{
    struct breaker b;

    (void)state;
    breaker_init(&b, &params);
    breaker_force_open(&b, T0);
    assert_int_equal(b.state, BREAKER_OPEN);
    assert_int_equal(breaker_retry_at(&b), T0 + 1000);

    assert_true(breaker_allow(&b, T0 + 1000));
    breaker_force_open(&b, T0 + 1200);
    assert_int_equal(b.state, BREAKER_OPEN);
    /* Forced opening keeps the period as it is: no doubling. */
    assert_int_equal(breaker_retry_at(&b), T0 + 2200);
}

static void test_breaker_force_open_extends_but_never_shortens(void **state)
{
    struct breaker b;

    (void)state;
    breaker_init(&b, &params);
    open_at(&b, T0);
    breaker_force_open(&b, T0 + 500);
    assert_int_equal(breaker_retry_at(&b), T0 + 1500);
    breaker_force_open(&b, T0 + 100);
    assert_int_equal(breaker_retry_at(&b), T0 + 1500);
}

static void test_breaker_changed_reports_each_change_once(void **state)
{
    struct breaker b;
    enum breaker_state from = BREAKER_HALF_OPEN;

    (void)state;
    breaker_init(&b, &params);
    assert_false(breaker_changed(&b, &from));
    open_at(&b, T0);
    assert_true(breaker_changed(&b, &from));
    assert_int_equal(from, BREAKER_CLOSED);
    assert_int_equal(b.state, BREAKER_OPEN);
    assert_false(breaker_changed(&b, &from));
    assert_true(breaker_allow(&b, T0 + 1000));
    assert_true(breaker_changed(&b, NULL));
    breaker_success(&b, T0 + 1000);
    assert_true(breaker_changed(&b, &from));
    assert_int_equal(from, BREAKER_HALF_OPEN);
    assert_int_equal(b.transitions, 3);
}

static void test_breaker_init_normalises_zero_params(void **state)
{
    static const struct breaker_params zero = { 0, 500, 0, 0 };
    struct breaker b;

    (void)state;
    breaker_init(&b, &zero);
    assert_int_equal(b.p.failure_threshold, 1);
    assert_int_equal(b.p.half_open_probes, 1);
    assert_int_equal(b.p.max_open_timeout_ms, 500);
    breaker_failure(&b, T0);
    assert_int_equal(b.state, BREAKER_OPEN);
    assert_true(breaker_allow(&b, T0 + 500));
    breaker_failure(&b, T0 + 500);
    assert_int_equal(breaker_retry_at(&b), T0 + 1000);
}

static void test_breaker_state_names(void **state)
{
    (void)state;
    assert_string_equal(breaker_state_name(BREAKER_CLOSED), "closed");
    assert_string_equal(breaker_state_name(BREAKER_OPEN), "open");
    assert_string_equal(breaker_state_name(BREAKER_HALF_OPEN), "half-open");
    assert_string_equal(breaker_state_name((enum breaker_state)42), "?");
}

static void test_breaker_counts_connection_and_shutdown_errors(void **state)
{
    static const char *const yes[] = {
        "08000", "08003", "08006", "08001", "08004", "08P01",
        "57P01", "57P02", "57P03",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        assert_int_equal(breaker_counts(yes[i]), 1);
}

static void test_breaker_ignores_sql_errors(void **state)
{
    static const char *const no[] = {
        "42601", /* syntax_error */
        "23505", /* unique_violation */
        "42501", /* insufficient_privilege */
        "40001", /* serialization_failure */
        "57014", /* query_canceled */
        "53200", /* out_of_memory */
        "57P04", /* database_dropped */
        "25006", /* read_only_sql_transaction */
        "53300", /* too_many_connections: also a role's or database's CONNECTION LIMIT */
        "3D000", /* invalid_catalog_name: no such database */
        "28P01", /* invalid_password */
        "28000", /* invalid_authorization_specification: no such role, pg_hba */
        "55000", /* object_not_in_prerequisite_state: datallowconn = false */
        "00000", "", "08", "0800", "080000", "57P0", "5330", "X8000",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        assert_int_equal(breaker_counts(no[i]), 0);
    assert_int_equal(breaker_counts(NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_breaker_starts_closed_and_allows),
        cmocka_unit_test(test_breaker_opens_at_threshold_consecutive_failures),
        cmocka_unit_test(test_breaker_success_resets_failure_count),
        cmocka_unit_test(test_breaker_open_refuses_until_timeout_then_half_open),
        cmocka_unit_test(test_breaker_half_open_success_closes_and_resets_timeout),
        cmocka_unit_test(test_breaker_failed_probe_doubles_up_to_cap),
        cmocka_unit_test(test_breaker_doubling_does_not_wrap_near_uint_max),
        cmocka_unit_test(test_breaker_half_open_limits_probes),
        cmocka_unit_test(test_breaker_new_half_open_period_has_fresh_probes),
        cmocka_unit_test(test_breaker_ignores_late_reports_while_open),
        cmocka_unit_test(test_breaker_force_open_from_closed_and_half_open),
        cmocka_unit_test(test_breaker_force_open_extends_but_never_shortens),
        cmocka_unit_test(test_breaker_changed_reports_each_change_once),
        cmocka_unit_test(test_breaker_init_normalises_zero_params),
        cmocka_unit_test(test_breaker_state_names),
        cmocka_unit_test(test_breaker_counts_connection_and_shutdown_errors),
        cmocka_unit_test(test_breaker_ignores_sql_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
