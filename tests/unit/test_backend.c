/*
 * tests/unit/test_backend.c - the state machines of router/pool: which moves of a backend
 * (enum backend_state) and of a pool's server (enum pool_entry) are legal, and what each
 * event does to a real backend in each state. server_connect is wrapped at link time
 * (-Wl,--wrap, see the Makefile): the "server" is the other end of a loopback TCP
 * connection the test writes to, so the backend's own read, error and close paths run.
 * Every test ends with uv_loop_close() == 0.
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
#include <uv.h>

#include "router/core/log.h"
#include "router/pool/backend.h"
#include "router/pool/poolentry.h"
#include "router/pool/server.h"

struct ctx {
    uv_loop_t loop;
    struct backend be;
    struct stats_pool stats;
    struct stats errors;
    int start_rc;               /* what the wrapped server_connect returns */
    int peer;                   /* the server's end of the stream, -1 when closed */
    /* pool_ops calls */
    unsigned n_ready, n_pool_lost, n_closed;
    int ready_err;              /* the last ready had an error */
    char pool_why[256];
    /* borrower ops calls */
    unsigned n_lost, n_rows, n_captured, n_units;
    char why[256];
};

static struct ctx *cur;

/* ---- fake pool and borrower ---- */

static void t_ready(struct backend *be, const struct pqloop_error *err)
{
    assert_ptr_equal(be, &cur->be);
    cur->n_ready++;
    cur->ready_err = err != NULL;
}

static void t_pool_lost(struct backend *be, const char *why)
{
    assert_ptr_equal(be, &cur->be);
    cur->n_pool_lost++;
    snprintf(cur->pool_why, sizeof(cur->pool_why), "%s", why);
}

static void t_closed(struct backend *be)
{
    assert_ptr_equal(be, &cur->be);
    assert_int_equal(be->state, BACKEND_CLOSED);
    cur->n_closed++;
}

static const struct backend_pool_ops t_pool_ops = {
    .ready = t_ready, .lost = t_pool_lost, .closed = t_closed,
};

static void t_unit_done(struct backend *be, char status, int had_error)
{
    (void)be, (void)status, (void)had_error;
    cur->n_units++;
}

static void t_lost(struct backend *be, const char *why)
{
    assert_int_equal(be->state, BACKEND_LOST);
    cur->n_lost++;
    snprintf(cur->why, sizeof(cur->why), "%s", why);
}

static void t_row(struct backend *be, const uint8_t *body, size_t n)
{
    (void)be, (void)body, (void)n;
    cur->n_rows++;
}

static void t_captured(struct backend *be, int had_error)
{
    (void)be, (void)had_error;
    cur->n_captured++;
}

static int t_async_ok(struct backend *be)
{
    (void)be;
    return 0;
}

static const struct backend_ops t_ops = {
    .unit_done = t_unit_done, .lost = t_lost, .row = t_row, .captured = t_captured,
    .async_ok = t_async_ok,
};

/* ---- the wrapped connect: nothing is dialled until the test says so ---- */

int __wrap_server_connect(struct server *srv, uv_loop_t *loop, const char *host, uint16_t port,
                          const char *const *keys, const char *const *vals,
                          unsigned timeout_ms, void *owner, server_ready_fn on_ready,
                          server_closed_fn on_closed);

int __wrap_server_connect(struct server *srv, uv_loop_t *loop, const char *host, uint16_t port,
                          const char *const *keys, const char *const *vals,
                          unsigned timeout_ms, void *owner, server_ready_fn on_ready,
                          server_closed_fn on_closed)
{
    (void)keys, (void)vals;
    if (cur->start_rc < 0)
        return cur->start_rc;
    server_begin(srv, loop, host, port, timeout_ms, owner, on_ready, on_closed);
    assert_int_equal(uv_timer_init(loop, &srv->connect_timer), 0);
    srv->connect_timer.data = srv;
    srv->handles = 1;
    return 0;
}

static struct ctx *ctx_new(void)
{
    struct ctx *c = calloc(1, sizeof(*c));

    assert_non_null(c);
    assert_int_equal(uv_loop_init(&c->loop), 0);
    c->peer = -1;
    cur = c;
    return c;
}

static int t_connect(struct ctx *c)
{
    static const char *const none[] = { NULL };
    struct backend_dial d = {
        .name = "127.0.0.1:1", .host = "127.0.0.1", .port = 1, .keys = none, .vals = none,
        .timeout_ms = 1000, .stats = &c->stats, .errors = &c->errors,
    };

    return backend_connect(&c->be, &c->loop, &d, NULL, &t_pool_ops);
}

/* A connected TCP pair on loopback: *ours for the backend, the return value the peer's. */
static int t_pair(int *ours)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int l = socket(AF_INET, SOCK_STREAM, 0), peer;

    assert_true(l >= 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(l, 1), 0);
    assert_int_equal(getsockname(l, (struct sockaddr *)&a, &len), 0);
    *ours = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(connect(*ours, (struct sockaddr *)&a, sizeof(a)), 0);
    peer = accept(l, NULL, NULL);
    assert_true(peer >= 0);
    close(l);
    return peer;
}

/* The login finished: take the stream over as server_adopt does, and report success. */
static void t_server_up(struct ctx *c)
{
    struct server *srv = &c->be.srv;
    int fd;

    c->peer = t_pair(&fd);
    assert_int_equal(conn_init(&c->loop, &srv->conn, srv, NULL, NULL, server_conn_closed), 0);
    srv->handles++;
    assert_int_equal(conn_open_fd(&srv->conn, fd), 0);
    server_set_state(srv, SERVER_READY);
    srv->on_ready(srv, NULL);
}

static void t_peer_send(struct ctx *c, char type, const void *body, size_t n)
{
    uint8_t msg[512];
    uint32_t len = htonl((uint32_t)(n + 4));

    assert_true(n + 5 <= sizeof(msg));
    msg[0] = (uint8_t)type;
    memcpy(msg + 1, &len, 4);
    memcpy(msg + 5, body, n);
    assert_int_equal(write(c->peer, msg, n + 5), (ssize_t)(n + 5));
}

static void t_peer_close(struct ctx *c)
{
    close(c->peer);
    c->peer = -1;
}

/* Run the loop until cond (evaluated through the ctx) or 2 s. */
static void t_run_until(struct ctx *c, unsigned *counter, unsigned want)
{
    for (int i = 0; i < 2000 && *counter < want; i++) {
        uv_run(&c->loop, UV_RUN_NOWAIT);
        if (*counter < want)
            usleep(1000);
    }
    assert_int_equal(*counter, want);
}

static void ctx_finish(struct ctx *c)
{
    if (c->peer >= 0)
        close(c->peer);
    assert_int_equal(uv_run(&c->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&c->loop), 0);
    cur = NULL;
    free(c);
}

/* ---- the transition tables ---- */

static void test_backend_state_table_allows_only_the_documented_moves(void **state)
{
    /* legal[from][to], as backend.h documents them */
    static const int legal[5][5] = {
        /* to: CONNECTING READY LOST CLOSING CLOSED */
        [BACKEND_CONNECTING] = { 0, 1, 0, 1, 0 },
        [BACKEND_READY] = { 0, 0, 1, 1, 0 },
        [BACKEND_LOST] = { 0, 0, 0, 1, 0 },
        [BACKEND_CLOSING] = { 0, 0, 0, 0, 1 },
        [BACKEND_CLOSED] = { 0, 0, 0, 0, 0 },
    };

    (void)state;
    for (int from = BACKEND_CONNECTING; from <= BACKEND_CLOSED; from++)
        for (int to = BACKEND_CONNECTING; to <= BACKEND_CLOSED; to++)
            if (backend_state_ok(from, to) != legal[from][to])
                fail_msg("backend %s -> %s: %d", backend_state_name(from),
                         backend_state_name(to), backend_state_ok(from, to));
}

static void test_pool_state_table_allows_only_the_documented_moves(void **state)
{
    static const int legal[5][5] = {
        /* to: NEW CONNECTING IDLE LENT CLOSING */
        [POOL_ENTRY_NEW] = { 0, 1, 0, 0, 0 },
        [POOL_ENTRY_CONNECTING] = { 0, 0, 1, 1, 1 },
        [POOL_ENTRY_IDLE] = { 0, 0, 0, 1, 1 },
        [POOL_ENTRY_LENT] = { 0, 0, 1, 1, 1 },
        [POOL_ENTRY_CLOSING] = { 0, 0, 0, 0, 0 },
    };

    (void)state;
    for (int from = POOL_ENTRY_NEW; from <= POOL_ENTRY_CLOSING; from++)
        for (int to = POOL_ENTRY_NEW; to <= POOL_ENTRY_CLOSING; to++)
            if (poolentry_ok(from, to) != legal[from][to])
                fail_msg("pool entry %d -> %d: %d", from, to, poolentry_ok(from, to));
}

/* ---- events in each state ---- */

static void test_backend_connect_that_cannot_start_reports_nothing(void **state)
{
    struct ctx *c = ctx_new();

    (void)state;
    c->start_rc = -EMFILE;
    assert_int_equal(t_connect(c), -EMFILE);
    assert_int_equal(c->be.state, BACKEND_CONNECTING);
    uv_run(&c->loop, UV_RUN_NOWAIT);
    assert_int_equal(c->n_ready + c->n_closed + c->n_pool_lost, 0);
    srvstmt_free(&c->be.stmts);     /* the pool frees such a backend as it is */
    ctx_finish(c);
}

static void test_backend_connecting_refuses_sends_and_closes_once(void **state)
{
    struct ctx *c = ctx_new();

    (void)state;
    assert_int_equal(t_connect(c), 0);
    assert_int_equal(c->be.state, BACKEND_CONNECTING);
    assert_false(backend_ready(&c->be));
    assert_false(backend_lost(&c->be));
    assert_int_equal(backend_send(&c->be, "x", 1), -EPIPE);
    backend_close(&c->be);
    assert_int_equal(c->be.state, BACKEND_CLOSING);
    assert_true(backend_lost(&c->be));
    backend_close(&c->be);          /* idempotent */
    t_run_until(c, &c->n_closed, 1);
    assert_int_equal(c->n_ready, 0);    /* closed before it connected: no ready */
    ctx_finish(c);
    /* closed is reported once, even after two closes */
}

static void test_backend_ready_relays_captured_rows_and_dropped_units(void **state)
{
    struct ctx *c = ctx_new();
    static const uint8_t row[] = { 0, 1, 0, 0, 0, 1, 'x' };

    (void)state;
    assert_int_equal(t_connect(c), 0);
    t_server_up(c);
    assert_int_equal(c->n_ready, 1);
    assert_false(c->ready_err);
    assert_int_equal(c->be.state, BACKEND_READY);
    assert_true(backend_ready(&c->be));
    backend_start(&c->be);
    c->be.ops = &t_ops;
    assert_int_equal(backend_push_unit(&c->be, BACKEND_SINK_DROP), 0);
    assert_int_equal(backend_push_unit(&c->be, BACKEND_SINK_CAPTURE), 0);
    assert_int_equal(backend_pending(&c->be), 2);
    assert_int_equal(backend_client_pending(&c->be), 0);
    t_peer_send(c, 'C', "SET\0", 4);
    t_peer_send(c, 'Z', "I", 1);
    t_peer_send(c, 'D', row, sizeof(row));
    t_peer_send(c, 'D', row, sizeof(row));
    t_peer_send(c, 'Z', "T", 1);
    t_run_until(c, &c->n_captured, 1);
    assert_int_equal(c->n_rows, 2);
    assert_int_equal(c->n_units, 0);    /* no client unit was pending */
    assert_int_equal(backend_pending(&c->be), 0);
    assert_int_equal(c->be.status, 'T');
    assert_int_equal(c->be.state, BACKEND_READY);
    backend_close(&c->be);
    t_run_until(c, &c->n_closed, 1);
    assert_int_equal(c->n_lost + c->n_pool_lost, 0);    /* a close is not a loss */
    ctx_finish(c);
}

static void test_backend_idle_server_gone_is_the_pools_to_close(void **state)
{
    struct ctx *c = ctx_new();

    (void)state;
    assert_int_equal(t_connect(c), 0);
    t_server_up(c);
    backend_start(&c->be);
    t_peer_close(c);
    t_run_until(c, &c->n_pool_lost, 1);
    assert_int_equal(c->n_lost, 0);     /* nobody borrowed it */
    assert_string_equal(c->pool_why, "server closed the connection");
    assert_int_equal(c->be.state, BACKEND_LOST);
    assert_true(backend_lost(&c->be));
    assert_false(backend_ready(&c->be));
    assert_int_equal(backend_send(&c->be, "x", 1), -EPIPE);
    backend_close(&c->be);
    assert_int_equal(c->be.state, BACKEND_CLOSING);
    t_run_until(c, &c->n_closed, 1);
    assert_int_equal(c->n_pool_lost, 1);    /* reported once */
    ctx_finish(c);
}

static void test_backend_borrowed_server_fatal_goes_to_the_borrower_not_the_client(void **state)
{
    struct ctx *c = ctx_new();
    static const char fatal[] = "SFATAL\0VFATAL\0C57P01\0Mterminating connection\0";

    (void)state;
    assert_int_equal(t_connect(c), 0);
    t_server_up(c);
    backend_start(&c->be);
    c->be.ops = &t_ops;
    assert_int_equal(backend_push_unit(&c->be, BACKEND_SINK_DROP), 0);
    t_peer_send(c, 'E', fatal, sizeof(fatal));
    t_peer_close(c);
    t_run_until(c, &c->n_lost, 1);
    assert_int_equal(c->n_pool_lost, 0);
    assert_string_equal(c->why, "terminating connection");
    assert_string_equal(c->be.fatal_code, "57P01");
    assert_int_equal(c->be.state, BACKEND_LOST);
    backend_close(&c->be);
    t_run_until(c, &c->n_closed, 1);
    ctx_finish(c);
}

static void test_backend_bad_length_is_a_loss_and_later_bytes_are_ignored(void **state)
{
    struct ctx *c = ctx_new();
    static const uint8_t bad[] = { 'C', 0, 0, 0, 2 };    /* length below 4 */

    (void)state;
    assert_int_equal(t_connect(c), 0);
    t_server_up(c);
    backend_start(&c->be);
    c->be.ops = &t_ops;
    assert_int_equal(backend_push_unit(&c->be, BACKEND_SINK_CAPTURE), 0);
    assert_int_equal(write(c->peer, bad, sizeof(bad)), (ssize_t)sizeof(bad));
    t_run_until(c, &c->n_lost, 1);
    assert_string_equal(c->why, "invalid message length from the server");
    /* LOST: a ReadyForQuery now ends nothing */
    t_peer_send(c, 'Z', "I", 1);
    for (int i = 0; i < 20; i++)
        uv_run(&c->loop, UV_RUN_NOWAIT);
    assert_int_equal(c->n_captured, 0);
    assert_int_equal(c->n_lost, 1);
    backend_close(&c->be);
    t_run_until(c, &c->n_closed, 1);
    ctx_finish(c);
}

static void test_backend_failed_connect_is_reported_then_closed(void **state)
{
    struct ctx *c = ctx_new();
    struct pqloop_error err = { .fault = PQLOOP_FAULT_NODE, .sqlstate = "08006",
                                .message = "Connection refused" };

    (void)state;
    assert_int_equal(t_connect(c), 0);
    c->be.srv.on_ready(&c->be.srv, &err);
    assert_int_equal(c->n_ready, 1);
    assert_true(c->ready_err);
    assert_int_equal(c->be.state, BACKEND_CONNECTING);  /* the pool decides: it closes */
    backend_close(&c->be);
    t_run_until(c, &c->n_closed, 1);
    ctx_finish(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backend_state_table_allows_only_the_documented_moves),
        cmocka_unit_test(test_pool_state_table_allows_only_the_documented_moves),
        cmocka_unit_test(test_backend_connect_that_cannot_start_reports_nothing),
        cmocka_unit_test(test_backend_connecting_refuses_sends_and_closes_once),
        cmocka_unit_test(test_backend_ready_relays_captured_rows_and_dropped_units),
        cmocka_unit_test(test_backend_idle_server_gone_is_the_pools_to_close),
        cmocka_unit_test(test_backend_borrowed_server_fatal_goes_to_the_borrower_not_the_client),
        cmocka_unit_test(test_backend_bad_length_is_a_loss_and_later_bytes_are_ignored),
        cmocka_unit_test(test_backend_failed_connect_is_reported_then_closed),
    };

    log_open("/dev/null", 0);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
