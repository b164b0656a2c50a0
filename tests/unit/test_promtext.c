/*
 * tests/unit/test_promtext.c - the Prometheus text writer: family headers, label escaping
 * (backslash, quote, newline), bytes that are not UTF-8, numbers, histograms (cumulative
 * buckets, +Inf, _sum, _count) and label sets too long to write.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "router/admin/promtext.h"

static char *take(struct promtext *p)
{
    size_t len = 0;
    char *s = promtext_steal(p, &len);

    assert_non_null(s);
    assert_int_equal(strlen(s), len);
    return s;
}

static void test_promtext_writes_family_and_samples(void **state)
{
    struct promtext p;
    struct promtext_labels l;
    char *s;

    (void)state;
    promtext_init(&p);
    promtext_family(&p, "pgrouter_x_total", "counter", "Things, with a \\ and\na newline.");
    promtext_labels_init(&l);
    promtext_label(&l, "node", "127.0.0.1:5432");
    promtext_label(&l, "user", "app");
    promtext_u64(&p, "pgrouter_x_total", &l, 18446744073709551615ull);
    promtext_u64(&p, "pgrouter_x_total", NULL, 0);
    promtext_f64(&p, "pgrouter_x_total", NULL, 0.25);
    promtext_f64(&p, "pgrouter_x_total", NULL, NAN);
    promtext_f64(&p, "pgrouter_x_total", NULL, -INFINITY);
    s = take(&p);
    assert_string_equal(s,
                        "# HELP pgrouter_x_total Things, with a \\\\ and\\na newline.\n"
                        "# TYPE pgrouter_x_total counter\n"
                        "pgrouter_x_total{node=\"127.0.0.1:5432\",user=\"app\"} "
                        "18446744073709551615\n"
                        "pgrouter_x_total 0\n"
                        "pgrouter_x_total 0.25\n"
                        "pgrouter_x_total NaN\n"
                        "pgrouter_x_total -Inf\n");
    free(s);
}

static void test_promtext_escapes_label_values(void **state)
{
    struct promtext_labels l;

    (void)state;
    promtext_labels_init(&l);
    promtext_label(&l, "user", "a\\b\"c\nd\te");
    assert_string_equal(l.s, "user=\"a\\\\b\\\"c\\nd\te\"");
    promtext_labels_init(&l);
    promtext_label(&l, "database", "");
    assert_string_equal(l.s, "database=\"\"");
}

static void test_promtext_repairs_bytes_that_are_not_utf8(void **state)
{
    struct promtext_labels l;

    (void)state;
    promtext_labels_init(&l);
    /* valid: é (2 bytes), € (3), 𝄞 (4) */
    promtext_label(&l, "u", "\xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e");
    assert_string_equal(l.s, "u=\"\xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e\"");
    /* a stray continuation byte, an overlong '/', a surrogate, a cut sequence, 0xff */
    promtext_labels_init(&l);
    promtext_label(&l, "u", "a\x80" "b\xc0\xaf" "c\xed\xa0\x80" "d\xe2\x82" "e\xff");
    assert_string_equal(l.s, "u=\"a\xef\xbf\xbd" "b\xef\xbf\xbd\xef\xbf\xbd"
                        "c\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
                        "d\xef\xbf\xbd\xef\xbf\xbd" "e\xef\xbf\xbd\"");
}

static void test_promtext_histogram_is_cumulative(void **state)
{
    static const uint64_t counts[4] = { 3, 0, 2, 1 };
    static const double bounds[4] = { 0.001, 0.002, 0.004, 0 };
    struct promtext p;
    struct promtext_labels l;
    char *s;

    (void)state;
    promtext_init(&p);
    promtext_labels_init(&l);
    promtext_label(&l, "node", "n1");
    promtext_histogram(&p, "w_seconds", &l, counts, bounds, 4, 0.0105);
    promtext_histogram(&p, "e_seconds", NULL, counts, bounds, 0, 0);
    s = take(&p);
    assert_string_equal(s,
                        "w_seconds_bucket{node=\"n1\",le=\"0.001\"} 3\n"
                        "w_seconds_bucket{node=\"n1\",le=\"0.002\"} 3\n"
                        "w_seconds_bucket{node=\"n1\",le=\"0.004\"} 5\n"
                        "w_seconds_bucket{node=\"n1\",le=\"+Inf\"} 6\n"
                        "w_seconds_sum{node=\"n1\"} 0.0105\n"
                        "w_seconds_count{node=\"n1\"} 6\n"
                        "e_seconds_bucket{le=\"+Inf\"} 0\n"
                        "e_seconds_sum 0\n"
                        "e_seconds_count 0\n");
    free(s);
}

static void test_promtext_leaves_out_a_label_set_that_does_not_fit(void **state)
{
    struct promtext p;
    struct promtext_labels l;
    char big[2000];
    char *s;

    (void)state;
    memset(big, '"', sizeof(big) - 1);     /* each escapes to two bytes: 3998 */
    big[sizeof(big) - 1] = '\0';
    promtext_init(&p);
    promtext_labels_init(&l);
    promtext_label(&l, "a", big);
    assert_false(l.overflow);
    promtext_label(&l, "b", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                   "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    assert_true(l.overflow);
    promtext_u64(&p, "m", &l, 1);
    promtext_u64(&p, "m", NULL, 2);
    s = take(&p);
    assert_string_equal(s, "m 2\n");
    free(s);
}

static void test_promtext_empty_output_is_an_empty_string(void **state)
{
    struct promtext p;
    char *s;

    (void)state;
    promtext_init(&p);
    s = take(&p);
    assert_string_equal(s, "");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_promtext_writes_family_and_samples),
        cmocka_unit_test(test_promtext_escapes_label_values),
        cmocka_unit_test(test_promtext_repairs_bytes_that_are_not_utf8),
        cmocka_unit_test(test_promtext_histogram_is_cumulative),
        cmocka_unit_test(test_promtext_leaves_out_a_label_set_that_does_not_fit),
        cmocka_unit_test(test_promtext_empty_output_is_an_empty_string),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
