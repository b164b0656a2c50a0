/*
 * tests/unit/test_httpreq.c - the metrics endpoint's request parser: the requests
 * Prometheus and curl send, every kind of malformed head, bytes arriving one at a time,
 * and the size limit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "router/admin/httpreq.h"

static enum httpreq_rc parse(const char *text, struct httpreq *r)
{
    return httpreq_parse(text, strlen(text), 0, r);
}

static void test_httpreq_parses_a_prometheus_scrape(void **state)
{
    static const char req[] =
        "GET /metrics HTTP/1.1\r\n"
        "Host: 127.0.0.1:9187\r\n"
        "User-Agent: Prometheus/2.42.0\r\n"
        "Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5\r\n"
        "Accept-Encoding: gzip\r\n"
        "X-Prometheus-Scrape-Timeout-Seconds: 10\r\n"
        "\r\n";
    struct httpreq r;

    (void)state;
    assert_int_equal(parse(req, &r), HTTPREQ_OK);
    assert_int_equal(r.method, HTTPREQ_GET);
    assert_int_equal(r.minor, 1);
    assert_int_equal(r.path_len, 8);
    assert_memory_equal(r.path, "/metrics", 8);
    assert_ptr_equal(r.path, req + 4);
    assert_int_equal(r.head_len, sizeof(req) - 1);
    assert_int_equal(r.n_headers, 5);
}

static void test_httpreq_accepts_bare_lf_http10_and_no_headers(void **state)
{
    struct httpreq r;

    (void)state;
    assert_int_equal(parse("GET /metrics HTTP/1.0\n\n", &r), HTTPREQ_OK);
    assert_int_equal(r.minor, 0);
    assert_int_equal(r.n_headers, 0);
    assert_int_equal(r.head_len, 23);
    assert_int_equal(parse("HEAD / HTTP/1.1\r\nHost:x\n\r\n", &r), HTTPREQ_OK);
    assert_int_equal(r.method, HTTPREQ_HEAD);
    assert_int_equal(r.path_len, 1);
    assert_int_equal(r.n_headers, 1);
}

static void test_httpreq_path_stops_at_query_or_fragment(void **state)
{
    struct httpreq r;

    (void)state;
    assert_int_equal(parse("GET /metrics?name[]=x HTTP/1.1\r\n\r\n", &r), HTTPREQ_OK);
    assert_int_equal(r.path_len, 8);
    assert_int_equal(parse("GET /a#frag HTTP/1.1\r\n\r\n", &r), HTTPREQ_OK);
    assert_int_equal(r.path_len, 2);
    assert_int_equal(parse("GET /metrics/ HTTP/1.1\r\n\r\n", &r), HTTPREQ_OK);
    assert_int_equal(r.path_len, 9);
}

static void test_httpreq_other_methods_parse_as_other(void **state)
{
    struct httpreq r;

    (void)state;
    assert_int_equal(parse("POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", &r),
                     HTTPREQ_OK);
    assert_int_equal(r.method, HTTPREQ_OTHER);
    assert_int_equal(r.head_len, 45);
    /* methods are case-sensitive */
    assert_int_equal(parse("get /metrics HTTP/1.1\r\n\r\n", &r), HTTPREQ_OK);
    assert_int_equal(r.method, HTTPREQ_OTHER);
    assert_int_equal(parse("GETS /metrics HTTP/1.1\r\n\r\n", &r), HTTPREQ_OK);
    assert_int_equal(r.method, HTTPREQ_OTHER);
}

static void test_httpreq_refuses_malformed_request_lines(void **state)
{
    static const char *const bad[] = {
        "\r\n\r\n",
        "GET\r\n\r\n",
        "GET /metrics\r\n\r\n",
        "GET  /metrics HTTP/1.1\r\n\r\n",
        "GET /metrics  HTTP/1.1\r\n\r\n",
        "GET /metrics HTTP/1.1 \r\n\r\n",
        " GET /metrics HTTP/1.1\r\n\r\n",
        "GET metrics HTTP/1.1\r\n\r\n",
        "GET http://h/metrics HTTP/1.1\r\n\r\n",
        "GET * HTTP/1.1\r\n\r\n",
        "GET /metrics HTTP/2.0\r\n\r\n",
        "GET /metrics HTTP/1.2\r\n\r\n",
        "GET /metrics HTTP/1.10\r\n\r\n",
        "GET /metrics http/1.1\r\n\r\n",
        "GET /metrics HTTP/1\r\n\r\n",
        "GET /met\trics HTTP/1.1\r\n\r\n",
        "GET /m\xc3\xa9trics HTTP/1.1\r\n\r\n",
        "G(T /metrics HTTP/1.1\r\n\r\n",
        "GET /metrics HTTP/1.1\r\r\n\r\n",
    };
    struct httpreq r;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (parse(bad[i], &r) != HTTPREQ_BAD)
            fail_msg("accepted: %s", bad[i]);
    }
}

static void test_httpreq_refuses_malformed_headers(void **state)
{
    static const char *const bad[] = {
        "GET / HTTP/1.1\r\nHost 127.0.0.1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost : x\r\n\r\n",
        "GET / HTTP/1.1\r\n: x\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
        "GET / HTTP/1.1\r\n\tfolded: x\r\n\r\n",
        "GET / HTTP/1.1\r\nA: b\x01\r\n\r\n",
        "GET / HTTP/1.1\r\nA: b\x7f\r\n\r\n",
        "GET / HTTP/1.1\r\nA: b\rc\r\n\r\n",
        "GET / HTTP/1.1\r\nA\x80: b\r\n\r\n",
    };
    struct httpreq r;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (parse(bad[i], &r) != HTTPREQ_BAD)
            fail_msg("accepted: %s", bad[i]);
    }
    /* tabs and bytes 0x80-0xff in a value are allowed */
    assert_int_equal(parse("GET / HTTP/1.1\r\nA:\tb \xc3\xa9\r\n\r\n", &r), HTTPREQ_OK);
}

static void test_httpreq_nul_is_refused_anywhere(void **state)
{
    static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    char buf[sizeof(req)];
    struct httpreq r;

    (void)state;
    for (size_t i = 0; i + 1 < sizeof(req); i++) {
        if (req[i] == '\n')
            continue;       /* a NUL there just ends the line's content early */
        memcpy(buf, req, sizeof(req));
        buf[i] = '\0';
        if (httpreq_parse(buf, sizeof(req) - 1, 0, &r) != HTTPREQ_BAD)
            fail_msg("NUL at %zu accepted", i);
    }
}

static void test_httpreq_waits_for_more_byte_by_byte(void **state)
{
    static const char req[] = "GET /metrics HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n";
    struct httpreq r;

    (void)state;
    for (size_t n = 0; n + 1 < sizeof(req) - 1; n++)
        assert_int_equal(httpreq_parse(req, n, 0, &r), HTTPREQ_AGAIN);
    assert_int_equal(httpreq_parse(req, sizeof(req) - 1, 0, &r), HTTPREQ_OK);
    assert_int_equal(r.head_len, sizeof(req) - 1);
}

static void test_httpreq_refuses_garbage_before_the_head_is_whole(void **state)
{
    struct httpreq r;

    (void)state;
    /* a TLS ClientHello, a PostgreSQL startup packet: refused without waiting for more */
    assert_int_equal(httpreq_parse("\x16\x03\x01\x02\x00\x01", 6, 0, &r), HTTPREQ_BAD);
    assert_int_equal(httpreq_parse("\0\0\0\x08\x04\xd2\x16\x2f", 8, 0, &r), HTTPREQ_BAD);
    assert_int_equal(parse("GARBAGE\r\nmore", &r), HTTPREQ_BAD);
    assert_int_equal(parse("GET / HTTP/1.1\r\nbad header\r\nHost: x", &r), HTTPREQ_BAD);
    assert_int_equal(parse("GET / HTTP/1.1\r\nHost: x\ry", &r), HTTPREQ_BAD);
    /* a CR as the last byte so far may still be followed by its LF */
    assert_int_equal(parse("GET / HTTP/1.1\r", &r), HTTPREQ_AGAIN);
}

static void test_httpreq_limits_the_head(void **state)
{
    size_t n = HTTPREQ_MAX + 100;
    char *buf = malloc(n);
    struct httpreq r;
    size_t fill;

    (void)state;
    assert_non_null(buf);
    /* "GET / HTTP/1.1\r\nX: aaaa...": no end in sight */
    memset(buf, 'a', n);
    memcpy(buf, "GET / HTTP/1.1\r\nX: ", 19);
    assert_int_equal(httpreq_parse(buf, HTTPREQ_MAX - 1, 0, &r), HTTPREQ_AGAIN);
    assert_int_equal(httpreq_parse(buf, HTTPREQ_MAX, 0, &r), HTTPREQ_TOO_LONG);
    assert_int_equal(httpreq_parse(buf, n, 0, &r), HTTPREQ_TOO_LONG);
    /* a request line alone longer than the limit */
    memset(buf, 'a', n);
    memcpy(buf, "GET /", 5);
    assert_int_equal(httpreq_parse(buf, n, 0, &r), HTTPREQ_TOO_LONG);
    assert_int_equal(httpreq_parse(buf, 64, 32, &r), HTTPREQ_TOO_LONG);
    /* a head of exactly the limit passes, one byte more does not */
    fill = HTTPREQ_MAX - 19 - 4;
    memcpy(buf, "GET / HTTP/1.1\r\nX: ", 19);
    memset(buf + 19, 'b', fill);
    memcpy(buf + 19 + fill, "\r\n\r\n", 4);
    assert_int_equal(httpreq_parse(buf, HTTPREQ_MAX, 0, &r), HTTPREQ_OK);
    assert_int_equal(r.head_len, HTTPREQ_MAX);
    assert_int_equal(httpreq_parse(buf, HTTPREQ_MAX, HTTPREQ_MAX - 1, &r), HTTPREQ_TOO_LONG);
    free(buf);
}

static void test_httpreq_ignores_bytes_after_the_head(void **state)
{
    static const char req[] = "GET /metrics HTTP/1.1\r\n\r\nGET /other HTTP/1.1\r\n\x01\x02";
    struct httpreq r;

    (void)state;
    assert_int_equal(httpreq_parse(req, sizeof(req) - 1, 0, &r), HTTPREQ_OK);
    assert_int_equal(r.head_len, 25);
    assert_int_equal(r.path_len, 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_httpreq_parses_a_prometheus_scrape),
        cmocka_unit_test(test_httpreq_accepts_bare_lf_http10_and_no_headers),
        cmocka_unit_test(test_httpreq_path_stops_at_query_or_fragment),
        cmocka_unit_test(test_httpreq_other_methods_parse_as_other),
        cmocka_unit_test(test_httpreq_refuses_malformed_request_lines),
        cmocka_unit_test(test_httpreq_refuses_malformed_headers),
        cmocka_unit_test(test_httpreq_nul_is_refused_anywhere),
        cmocka_unit_test(test_httpreq_waits_for_more_byte_by_byte),
        cmocka_unit_test(test_httpreq_refuses_garbage_before_the_head_is_whole),
        cmocka_unit_test(test_httpreq_limits_the_head),
        cmocka_unit_test(test_httpreq_ignores_bytes_after_the_head),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
