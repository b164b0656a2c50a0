/*
 * tests/unit/test_health.c - health checks on a real libuv loop. Without a server:
 * refused port, a listener that never answers (timeout), a name to resolve, an
 * unresolvable name, stopping before and during a check, bad arguments, LSN parsing.
 * With PGROUTER_TEST_PGPORT set (e.g. from tests/cluster.sh), against that server:
 * role and WAL position, the connection kept between checks, reconnecting after the
 * backend is terminated, a wrong password; and a standby if PGROUTER_TEST_PGREPLICA_PORT
 * is set too. Every loop test ends with uv_loop_close() == 0.
 *
 *   PGROUTER_TEST_PGHOST (127.0.0.1), PGROUTER_TEST_PGUSER (app),
 *   PGROUTER_TEST_PGPASSWORD (app), PGROUTER_TEST_PGDATABASE (appdb)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <uv.h>

#include "router/cluster/health.h"

#define MAX_RESULTS 8

struct ctx {
    uv_loop_t loop;
    struct health_node h;
    struct health_result r[MAX_RESULTS];
    int n_done;
    int n_closed;
    int stop_after;             /* health_stop from the done callback after this many */
    uint64_t started_ms;
    uint64_t done_ms[MAX_RESULTS];
    uint64_t connects[MAX_RESULTS];
    void (*on_done)(struct ctx *c);     /* extra work in the done callback */
    uv_timer_t stopper;
};

static struct ctx *ctx_new(int stop_after)
{
    struct ctx *c = calloc(1, sizeof(*c));

    assert_non_null(c);
    assert_int_equal(uv_loop_init(&c->loop), 0);
    c->stop_after = stop_after;
    uv_update_time(&c->loop);
    c->started_ms = uv_now(&c->loop);
    return c;
}

/* Run the loop to its end; it must close cleanly. */
static void ctx_run_and_free(struct ctx *c)
{
    assert_int_equal(uv_run(&c->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&c->loop), 0);
    free(c);
}

static void closed_cb(struct health_node *h)
{
    struct ctx *c = h->arg;

    c->n_closed++;
}

static void done_cb(struct health_node *h, const struct health_result *r)
{
    struct ctx *c = h->arg;

    assert_ptr_equal(r, &h->last);
    assert_true(c->n_done < MAX_RESULTS);
    c->r[c->n_done] = *r;
    c->done_ms[c->n_done] = uv_now(&c->loop);
    c->connects[c->n_done] = h->connects;
    c->n_done++;
    if (c->on_done != NULL)
        c->on_done(c);
    if (c->n_done >= c->stop_after)
        health_stop(h, closed_cb);
}

static int start(struct ctx *c, const char *host, uint16_t port, const char *const *keys,
                 const char *const *vals, unsigned interval_ms, unsigned timeout_ms)
{
    return health_start(&c->h, &c->loop, host, port, keys, vals, interval_ms, timeout_ms,
                        done_cb, c);
}

/* r's error text contains needle; shows the text when not. */
static void assert_error_has(const struct health_result *r, const char *needle)
{
    if (strstr(r->error, needle) == NULL)
        fail_msg("error \"%s\" lacks \"%s\"", r->error, needle);
}

static const char *const no_ssl_keys[] = { "user", "dbname", "sslmode", NULL };
static const char *const no_ssl_vals[] = { "nobody", "nodb", "disable", NULL };

/* A TCP socket bound to 127.0.0.1 on a free port; listening or not. */
static int local_socket(int do_listen, uint16_t *port)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    if (do_listen)
        assert_int_equal(listen(fd, 8), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

/* A port on 127.0.0.1 where nothing listens (bound, then released). */
static uint16_t closed_port(void)
{
    uint16_t port;

    close(local_socket(0, &port));
    return port;
}

static void test_health_parse_lsn(void **state)
{
    static const char *const bad[] = {
        "", "/", "0/", "/0", "0", "0/0/0", "123456789/0", "0/123456789", "g/0", "0/0 ",
        " 0/0", "0x1/0", "-1/0",
    };
    uint64_t v = 7;

    (void)state;
    assert_int_equal(health_parse_lsn("0/0", &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(health_parse_lsn("16/B374D848", &v), 0);
    assert_int_equal(v, 0x16B374D848ull);
    assert_int_equal(health_parse_lsn("ffffffff/FFFFFFFF", &v), 0);
    assert_int_equal(v, UINT64_MAX);
    assert_int_equal(health_parse_lsn("0/3000148", &v), 0);
    assert_int_equal(v, 0x3000148ull);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v = 7;
        if (health_parse_lsn(bad[i], &v) != -EINVAL)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_int_equal(v, 7);
    }
}

static void test_health_refused_port_fails_within_timeout(void **state)
{
    struct ctx *c = ctx_new(1);

    (void)state;
    assert_int_equal(start(c, "127.0.0.1", closed_port(), no_ssl_keys, no_ssl_vals, 10000,
                           2000), 0);
    assert_int_equal(uv_run(&c->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(c->n_done, 1);
    assert_int_equal(c->n_closed, 1);
    assert_int_equal(c->r[0].ok, 0);
    assert_error_has(&c->r[0], "refused");
    assert_null(strchr(c->r[0].error, '\n'));
    assert_true(c->done_ms[0] - c->started_ms < 2000);
    assert_int_equal(c->h.failures, 1);
    assert_int_equal(c->h.checks, 1);
    assert_int_equal(c->h.connects, 0);
    assert_int_equal(c->r[0].replay_lag_ms, -1);
    ctx_run_and_free(c);
}

static void test_health_failures_count_up_over_checks(void **state)
{
    struct ctx *c = ctx_new(3);

    (void)state;
    assert_int_equal(start(c, "127.0.0.1", closed_port(), NULL, NULL, 20, 1000), 0);
    assert_int_equal(uv_run(&c->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(c->n_done, 3);
    assert_int_equal(c->h.failures, 3);
    /*
     * The interval timer paces the checks: ticks at 0, 20 and 40 ms, so the third check
     * cannot end sooner than 40 ms after the start. (Completion times of successive
     * checks can bunch up on a busy machine, so they are not compared with each other.)
     */
    assert_true(c->done_ms[2] - c->started_ms >= 40);
    ctx_run_and_free(c);
}

static void test_health_silent_server_times_out(void **state)
{
    struct ctx *c = ctx_new(1);
    uint16_t port;
    int fd = local_socket(1, &port);

    (void)state;
    /* The kernel accepts the connection; nobody ever answers the startup packet. */
    assert_int_equal(start(c, "127.0.0.1", port, no_ssl_keys, no_ssl_vals, 10000, 200), 0);
    assert_int_equal(uv_run(&c->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(c->n_done, 1);
    assert_int_equal(c->r[0].ok, 0);
    assert_error_has(&c->r[0], "timeout after 200 ms");
    assert_true(c->done_ms[0] - c->started_ms >= 200);
    assert_true(c->done_ms[0] - c->started_ms < 2000);
    close(fd);
    ctx_run_and_free(c);
}

static void test_health_resolves_name_before_connecting(void **state)
{
    struct ctx *c = ctx_new(1);

    (void)state;
    assert_int_equal(start(c, "localhost", closed_port(), no_ssl_keys, no_ssl_vals, 10000,
                           3000), 0);
    assert_int_equal(uv_run(&c->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(c->n_done, 1);
    assert_int_equal(c->r[0].ok, 0);
    /* The name resolved (to 127.0.0.1 at least), so the failure is the refused port. */
    assert_error_has(&c->r[0], "refused");
    assert_non_null(strstr(c->h.pq.addr_list, "127.0.0.1"));
    ctx_run_and_free(c);
}

static void test_health_unresolvable_name_fails(void **state)
{
    struct ctx *c = ctx_new(1);

    (void)state;
    assert_int_equal(start(c, "no-such-host.invalid", 5432, NULL, NULL, 10000, 1000), 0);
    assert_int_equal(uv_run(&c->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(c->n_done, 1);
    assert_int_equal(c->r[0].ok, 0);
    /* A dead resolver makes this a timeout; either way the check fails. */
    if (strstr(c->r[0].error, "could not resolve host name \"no-such-host.invalid\"") == NULL &&
        strstr(c->r[0].error, "timeout after 1000 ms resolving") == NULL)
        fail_msg("unexpected error: %s", c->r[0].error);
    assert_int_equal(c->n_closed, 1);
    ctx_run_and_free(c);
}

static void test_health_stop_before_first_check(void **state)
{
    struct ctx *c = ctx_new(1);

    (void)state;
    assert_int_equal(start(c, "127.0.0.1", closed_port(), NULL, NULL, 100, 100), 0);
    health_stop(&c->h, closed_cb);
    health_stop(&c->h, closed_cb);
    assert_int_equal(c->n_closed, 0);  /* only from the loop */
    assert_int_equal(uv_run(&c->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(c->n_done, 0);
    assert_int_equal(c->n_closed, 1);
    ctx_run_and_free(c);
}

static void stopper_closed(uv_handle_t *handle)
{
    (void)handle;
}

static void stopper_cb(uv_timer_t *timer)
{
    struct ctx *c = timer->data;

    assert_int_equal(c->h.phase, HEALTH_CONNECTING);
    health_stop(&c->h, closed_cb);
    uv_close((uv_handle_t *)timer, stopper_closed);
}

static void test_health_stop_during_check_reports_nothing(void **state)
{
    struct ctx *c = ctx_new(1);
    uint16_t port;
    int fd = local_socket(1, &port);

    (void)state;
    assert_int_equal(start(c, "127.0.0.1", port, no_ssl_keys, no_ssl_vals, 10000, 5000), 0);
    uv_timer_init(&c->loop, &c->stopper);
    c->stopper.data = c;
    uv_timer_start(&c->stopper, stopper_cb, 50, 0);
    assert_int_equal(uv_run(&c->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(c->n_done, 0);
    assert_int_equal(c->n_closed, 1);
    assert_true(uv_now(&c->loop) - c->started_ms < 1000);
    close(fd);
    ctx_run_and_free(c);
}

static void test_health_start_rejects_bad_arguments(void **state)
{
    static const char *const many_keys[] = {
        "a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8", "a9", "a10", "a11", "a12", "a13",
        "a14", "a15", "a16", "a17", NULL,
    };
    static const char *const many_vals[] = {
        "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15",
        "16", "17", NULL,
    };
    static const char *const one_key[] = { "user", NULL };
    static const char *const null_val[] = { NULL, NULL };
    struct ctx *c = ctx_new(1);
    char long_host[300];

    (void)state;
    memset(long_host, 'h', sizeof(long_host) - 1);
    long_host[sizeof(long_host) - 1] = '\0';
    assert_int_equal(start(c, "", 5432, NULL, NULL, 100, 100), -EINVAL);
    assert_int_equal(start(c, long_host, 5432, NULL, NULL, 100, 100), -EINVAL);
    assert_int_equal(start(c, "127.0.0.1", 5432, NULL, NULL, 0, 100), -EINVAL);
    assert_int_equal(start(c, "127.0.0.1", 5432, NULL, NULL, 100, 0), -EINVAL);
    assert_int_equal(start(c, "127.0.0.1", 5432, many_keys, many_vals, 100, 100), -EINVAL);
    assert_int_equal(start(c, "127.0.0.1", 5432, one_key, null_val, 100, 100), -EINVAL);
    assert_int_equal(start(c, "127.0.0.1", 5432, one_key, NULL, 100, 100), -EINVAL);
    /* Nothing was started, so there is nothing to run or close. */
    ctx_run_and_free(c);
}

/* --- against a real server ------------------------------------------------------- */

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);

    return v != NULL && v[0] != '\0' ? v : dflt;
}

/* The server's port from name, or skip the test when it is not set. */
static uint16_t server_port_or_skip(const char *name)
{
    const char *v = getenv(name);

    if (v == NULL || v[0] == '\0') {
        print_message("%s not set: no server to check, skipped\n", name);
        skip();
    }
    return (uint16_t)atoi(v);
}

static void server_params(const char *keys[5], const char *vals[5], const char *password)
{
    keys[0] = "user";
    vals[0] = env_or("PGROUTER_TEST_PGUSER", "app");
    keys[1] = "password";
    vals[1] = password != NULL ? password : env_or("PGROUTER_TEST_PGPASSWORD", "app");
    keys[2] = "dbname";
    vals[2] = env_or("PGROUTER_TEST_PGDATABASE", "appdb");
    keys[3] = "sslmode";
    vals[3] = "disable";
    keys[4] = NULL;
    vals[4] = NULL;
}

static void test_health_primary_reports_role_and_lsn(void **state)
{
    uint16_t port = server_port_or_skip("PGROUTER_TEST_PGPORT");
    struct ctx *c = ctx_new(3);
    const char *keys[5], *vals[5];

    (void)state;
    server_params(keys, vals, NULL);
    assert_int_equal(start(c, env_or("PGROUTER_TEST_PGHOST", "127.0.0.1"), port, keys, vals,
                           50, 5000), 0);
    assert_int_equal(uv_run(&c->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(c->n_done, 3);
    for (int i = 0; i < 3; i++) {
        if (!c->r[i].ok)
            fail_msg("check %d failed: %s", i, c->r[i].error);
        assert_string_equal(c->r[i].error, "");
        assert_int_equal(c->r[i].in_recovery, 0);
        assert_true(c->r[i].lsn > 0);
        assert_int_equal(c->r[i].receive_lsn, 0);
        assert_int_equal(c->r[i].replay_lag_ms, -1);
        assert_true(c->r[i].rtt_us > 0);
        assert_true(c->r[i].checked_at_ms >= c->started_ms);
        /* One connection serves every check. */
        assert_int_equal(c->connects[i], 1);
    }
    assert_true(c->r[2].lsn >= c->r[0].lsn);
    assert_int_equal(c->h.failures, 0);
    ctx_run_and_free(c);
}

/* From the done callback: have the server end the check connection (blocking, test only). */
static void terminate_check_backend(struct ctx *c)
{
    char port[8], sql[64];
    const char *keys[6], *vals[6];
    PGconn *conn;
    PGresult *res;

    if (c->n_done != 1)
        return;
    assert_non_null(c->h.pq.pg);
    /* user, password, dbname as the check's; then host and port instead of sslmode. */
    server_params(keys, vals, NULL);
    snprintf(port, sizeof(port), "%u", (unsigned)c->h.port);
    keys[3] = "host";
    vals[3] = c->h.host;
    keys[4] = "port";
    vals[4] = port;
    keys[5] = NULL;
    vals[5] = NULL;
    conn = PQconnectdbParams(keys, vals, 0);
    assert_int_equal(PQstatus(conn), CONNECTION_OK);
    snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%d)", PQbackendPID(c->h.pq.pg));
    res = PQexec(conn, sql);
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    assert_string_equal(PQgetvalue(res, 0, 0), "t");
    PQclear(res);
    /*
     * pg_terminate_backend only signals: wait (10 s at most) until the backend has
     * gone, so that on a busy machine the next check cannot be sent to it before it
     * dies. The check interval is long, so the loop sees the close while idle.
     */
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM pg_stat_activity WHERE pid = %d",
             PQbackendPID(c->h.pq.pg));
    for (int i = 0;; i++) {
        res = PQexec(conn, sql);
        assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
        if (strcmp(PQgetvalue(res, 0, 0), "0") == 0) {
            PQclear(res);
            break;
        }
        PQclear(res);
        if (i == 500)
            fail_msg("the terminated check backend is still there after 10 s");
        usleep(20 * 1000);
    }
    PQfinish(conn);
}

static void test_health_reconnects_after_backend_terminated(void **state)
{
    uint16_t port = server_port_or_skip("PGROUTER_TEST_PGPORT");
    struct ctx *c = ctx_new(2);
    const char *keys[5], *vals[5];

    (void)state;
    server_params(keys, vals, NULL);
    c->on_done = terminate_check_backend;
    assert_int_equal(start(c, env_or("PGROUTER_TEST_PGHOST", "127.0.0.1"), port, keys, vals,
                           3000, 5000), 0);
    assert_int_equal(uv_run(&c->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(c->n_done, 2);
    assert_true(c->r[0].ok);
    /* The idle watch saw the connection go; the next check connected afresh and passed. */
    if (!c->r[1].ok)
        fail_msg("check after terminate failed: %s", c->r[1].error);
    assert_int_equal(c->connects[1], 2);
    ctx_run_and_free(c);
}

static void test_health_wrong_password_fails(void **state)
{
    uint16_t port = server_port_or_skip("PGROUTER_TEST_PGPORT");
    struct ctx *c = ctx_new(1);
    const char *keys[5], *vals[5];

    (void)state;
    server_params(keys, vals, "not-the-password");
    assert_int_equal(start(c, env_or("PGROUTER_TEST_PGHOST", "127.0.0.1"), port, keys, vals,
                           10000, 5000), 0);
    assert_int_equal(uv_run(&c->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(c->n_done, 1);
    assert_int_equal(c->r[0].ok, 0);
    assert_error_has(&c->r[0], "password authentication failed");
    ctx_run_and_free(c);
}

static void test_health_replica_reports_recovery_and_lag(void **state)
{
    uint16_t port;
    struct ctx *c;
    const char *keys[5], *vals[5];

    (void)state;
    server_port_or_skip("PGROUTER_TEST_PGPORT");
    port = server_port_or_skip("PGROUTER_TEST_PGREPLICA_PORT");
    c = ctx_new(1);
    server_params(keys, vals, NULL);
    assert_int_equal(start(c, env_or("PGROUTER_TEST_PGHOST", "127.0.0.1"), port, keys, vals,
                           10000, 5000), 0);
    assert_int_equal(uv_run(&c->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(c->n_done, 1);
    if (!c->r[0].ok)
        fail_msg("replica check failed: %s", c->r[0].error);
    assert_int_equal(c->r[0].in_recovery, 1);
    assert_true(c->r[0].lsn > 0);
    assert_true(c->r[0].receive_lsn > 0);
    assert_true(c->r[0].replay_lag_ms >= 0);
    ctx_run_and_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_health_parse_lsn),
        cmocka_unit_test(test_health_refused_port_fails_within_timeout),
        cmocka_unit_test(test_health_failures_count_up_over_checks),
        cmocka_unit_test(test_health_silent_server_times_out),
        cmocka_unit_test(test_health_resolves_name_before_connecting),
        cmocka_unit_test(test_health_unresolvable_name_fails),
        cmocka_unit_test(test_health_stop_before_first_check),
        cmocka_unit_test(test_health_stop_during_check_reports_nothing),
        cmocka_unit_test(test_health_start_rejects_bad_arguments),
        cmocka_unit_test(test_health_primary_reports_role_and_lsn),
        cmocka_unit_test(test_health_reconnects_after_backend_terminated),
        cmocka_unit_test(test_health_wrong_password_fails),
        cmocka_unit_test(test_health_replica_reports_recovery_and_lag),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
