/*
 * tests/unit/test_pool.c - pool state without a server: idle servers taken back most
 * recently used first, waiters served in arrival order, leaving the queue from any place,
 * query_wait_timeout, server_lifetime and server_idle_timeout. The servers are fake
 * backends that never connected: a zeroed struct with an initialised (never started)
 * connect timer, so that backend_close -> server_close closes a real libuv handle and
 * the close ends in pool_server_closed as for a real one. The pool's limits are set so
 * that it never opens a connection (n_connecting is checked to stay 0); the node is
 * 127.0.0.1:1 in case it tried. Every test ends with uv_loop_close() == 0.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "config/cfg.h"
#include "router/pool/backend.h"
#include "router/pool/pool.h"
#include "router/pool/server.h"
#include "router/session/stmt.h"
#include "router/worker.h"

#define MAX_WAITERS 8

struct ctx {
    struct worker w;            /* first: a fake server finds its ctx through pool->w */
    struct shared sh;           /* nodes and the server budget (zero: usable as is) */
    uv_loop_t loop;
    struct cfg cfg;
    char empty[1];              /* server_check_query and server_reset_query */
    struct pool *p;
    int owner;                  /* what a borrowed server's owner points at */
    unsigned n_closed;          /* fake servers whose close finished */
    struct pool_waiter wt[MAX_WAITERS];
    int done_order[MAX_WAITERS];            /* waiter index, in callback order */
    struct backend *done_be[MAX_WAITERS];
    const char *done_err[MAX_WAITERS];
    unsigned n_done;
};

/* A pool of default_pool_size servers for db/user on node 0; nothing else is limited. */
static struct ctx *ctx_new(int default_pool_size)
{
    struct ctx *c = calloc(1, sizeof(*c));
    struct node *n;

    assert_non_null(c);
    assert_int_equal(uv_loop_init(&c->loop), 0);
    c->w.loop = &c->loop;
    c->w.cfg = &c->cfg;
    worker_attach(&c->w, &c->sh);
    c->cfg.default_pool_size = default_pool_size;
    c->cfg.server_connect_timeout_ms = 1000;
    c->cfg.server_check_query = c->empty;
    c->cfg.server_reset_query = c->empty;
    n = &c->w.nodes->n[0];
    n->id = 0;
    snprintf(n->host, sizeof(n->host), "127.0.0.1");
    n->port = 1;
    snprintf(n->name, sizeof(n->name), "127.0.0.1:1");
    c->w.nodes->count = 1;
    c->p = pool_get(&c->w, 0, "db", "user", NULL);
    assert_non_null(c->p);
    return c;
}

static void fake_closed(struct server *srv)
{
    struct backend *be = srv->owner;
    struct ctx *c = (struct ctx *)be->pool->w;

    c->n_closed++;
    srvstmt_free(&be->stmts);
    backend_set_state(be, BACKEND_CLOSED);
    pool_server_closed(be);
}

/*
 * A server of c's pool that a session holds now: counted in n_used and in the budget,
 * owner set, status idle, created at created_ms. Closing it is safe: its only libuv handle is the timer.
 */
static struct backend *fake_borrowed(struct ctx *c, uint64_t created_ms)
{
    struct backend *be = calloc(1, sizeof(*be));

    assert_non_null(be);
    srvstmt_init(&be->stmts);
    be->pool = c->p;
    be->name = c->p->node;
    be->state = BACKEND_READY;
    be->pool_state = POOL_ENTRY_LENT;
    be->status = 'I';
    be->created_ms = created_ms;
    be->owner = &c->owner;
    be->srv.state = SERVER_READY;
    be->srv.loop = &c->loop;
    be->srv.owner = be;
    be->srv.on_closed = fake_closed;
    snprintf(be->srv.node, sizeof(be->srv.node), "%s", c->p->node);
    assert_int_equal(uv_timer_init(&c->loop, &be->srv.connect_timer), 0);
    be->srv.connect_timer.data = &be->srv;
    be->srv.handles = 1;
    c->p->n_used++;
    /* as pool_open would have: the server holds a unit of the process's budget */
    assert_int_equal(budget_take(c->p->budget, 1000, c->p->budget_db, 0), 1);
    return be;
}

static void waiter_done(struct pool_waiter *wt, struct backend *be, const char *err)
{
    struct ctx *c = wt->arg;

    assert_true(c->n_done < MAX_WAITERS);
    assert_null(wt->pool);      /* off the queue before it hears */
    c->done_order[c->n_done] = (int)(wt - c->wt);
    c->done_be[c->n_done] = be;
    c->done_err[c->n_done] = err;
    c->n_done++;
    if (be != NULL)
        be->owner = &c->owner;  /* attached, as a session does */
}

static void queue(struct ctx *c, int i, uint64_t now_ms)
{
    c->wt[i].done = waiter_done;
    c->wt[i].arg = c;
    assert_int_equal(pool_wait(c->p, &c->wt[i], now_ms), 0);
}

static uint64_t now(struct ctx *c)
{
    return uv_now(&c->loop);
}

/* Close what the pool holds, let the closes finish, free the pools: the loop must close. */
static void ctx_finish(struct ctx *c, unsigned want_closed)
{
    pool_close_all(&c->w);
    assert_int_equal(c->p->n_idle, 0);
    assert_int_equal(uv_run(&c->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(c->n_closed, want_closed);
    assert_int_equal(c->p->n_connecting, 0);
    pool_free_all(&c->w);
    assert_null(c->w.pools);
    assert_int_equal(uv_loop_close(&c->loop), 0);
    shared_close(&c->sh);
    free(c);
}

static void test_pool_get_returns_one_pool_per_db_and_user(void **state)
{
    struct ctx *c = ctx_new(2);
    struct pool *again, *other_db, *other_user;

    (void)state;
    again = pool_get(&c->w, 0, "db", "user", NULL);
    other_db = pool_get(&c->w, 0, "db2", "user", NULL);
    other_user = pool_get(&c->w, 0, "db", "user2", "secret");
    assert_ptr_equal(again, c->p);
    assert_ptr_not_equal(other_db, c->p);
    assert_ptr_not_equal(other_user, c->p);
    assert_ptr_not_equal(other_user, other_db);
    assert_string_equal(c->p->node, "127.0.0.1:1");
    assert_string_equal(other_user->password, "secret");
    /* a changed password (auth_file reload) replaces the stored one */
    assert_ptr_equal(pool_get(&c->w, 0, "db", "user2", "new"), other_user);
    assert_string_equal(other_user->password, "new");
    ctx_finish(c, 0);
}

static void test_pool_release_keeps_server_idle_and_take_returns_most_recent_first(void **state)
{
    struct ctx *c = ctx_new(2);
    struct backend *a = fake_borrowed(c, now(c));
    struct backend *b = fake_borrowed(c, now(c));

    (void)state;
    assert_int_equal(c->p->n_used, 2);
    assert_null(pool_take(c->p, now(c)));
    pool_release(a, 0);
    assert_int_equal(c->p->n_idle, 1);
    assert_int_equal(c->p->n_used, 1);
    assert_null(a->owner);
    pool_release(b, 0);
    assert_int_equal(c->p->n_idle, 2);
    assert_int_equal(c->p->n_used, 0);
    assert_ptr_equal(c->p->idle, b);

    assert_ptr_equal(pool_take(c->p, now(c)), b);
    assert_int_equal(c->p->n_idle, 1);
    assert_int_equal(c->p->n_used, 1);
    assert_null(b->pool_next);
    assert_ptr_equal(pool_take(c->p, now(c)), a);
    assert_int_equal(c->p->n_idle, 0);
    assert_int_equal(c->p->n_used, 2);
    assert_null(pool_take(c->p, now(c)));
    assert_int_equal(c->p->n_served, 2);

    /* taken back again after another round, still most recent first */
    a->owner = &c->owner;
    b->owner = &c->owner;
    pool_release(b, 0);
    pool_release(a, 0);
    assert_ptr_equal(pool_take(c->p, now(c)), a);
    pool_release(a, 0);
    assert_int_equal(c->p->n_idle, 2);
    assert_int_equal(c->p->n_used, 0);
    assert_int_equal(c->p->n_connecting, 0);
    assert_int_equal(c->n_closed, 0);
    ctx_finish(c, 2);
}

static void test_pool_wait_on_a_full_pool_neither_opens_nor_calls_back(void **state)
{
    struct ctx *c = ctx_new(1);
    struct backend *a = fake_borrowed(c, now(c));

    (void)state;
    queue(c, 0, now(c));
    assert_int_equal(c->n_done, 0);
    assert_int_equal(c->p->n_waiting, 1);
    assert_int_equal(c->p->n_connecting, 0);
    assert_ptr_equal(c->wt[0].pool, c->p);
    pool_unwait(&c->wt[0]);
    assert_int_equal(c->p->n_waiting, 0);
    assert_null(c->p->wait_head);
    assert_null(c->p->wait_tail);
    pool_release(a, 0);
    assert_int_equal(c->n_done, 0);
    assert_int_equal(c->p->n_idle, 1);
    ctx_finish(c, 1);
}

static void test_pool_waiters_get_released_servers_in_arrival_order(void **state)
{
    struct ctx *c = ctx_new(3);
    struct backend *s[3];

    (void)state;
    for (int i = 0; i < 3; i++)
        s[i] = fake_borrowed(c, now(c));
    for (int i = 0; i < 3; i++)
        queue(c, i, now(c) + (uint64_t)i);
    assert_int_equal(c->p->n_waiting, 3);
    assert_int_equal(c->p->n_connecting, 0);
    assert_int_equal(c->n_done, 0);

    /* released in the order 2, 0, 1: the waiters still get them 0, 1, 2 */
    pool_release(s[2], 0);
    assert_int_equal(c->n_done, 1);
    assert_int_equal(c->done_order[0], 0);
    assert_ptr_equal(c->done_be[0], s[2]);
    assert_null(c->done_err[0]);
    assert_int_equal(c->p->n_waiting, 2);
    assert_int_equal(c->p->n_used, 3);
    assert_int_equal(c->p->n_idle, 0);

    pool_release(s[0], 0);
    assert_int_equal(c->n_done, 2);
    assert_int_equal(c->done_order[1], 1);
    assert_ptr_equal(c->done_be[1], s[0]);

    pool_release(s[1], 0);
    assert_int_equal(c->n_done, 3);
    assert_int_equal(c->done_order[2], 2);
    assert_ptr_equal(c->done_be[2], s[1]);
    assert_int_equal(c->p->n_waiting, 0);
    assert_null(c->p->wait_head);
    assert_null(c->p->wait_tail);
    assert_int_equal(c->p->n_used, 3);
    assert_int_equal(c->p->n_idle, 0);
    assert_int_equal(c->p->n_served, 3);
    assert_int_equal(c->p->n_connecting, 0);

    /* with nobody waiting any more, the next release goes idle */
    pool_release(s[2], 0);
    assert_int_equal(c->n_done, 3);
    assert_int_equal(c->p->n_idle, 1);
    assert_int_equal(c->p->n_used, 2);
    /* the two still borrowed: a session gives them up as broken */
    pool_discard(s[0]);
    pool_discard(s[1]);
    assert_int_equal(c->p->n_used, 0);
    ctx_finish(c, 3);
}

static void test_pool_unwait_from_middle_head_and_tail_keeps_the_others_in_order(void **state)
{
    struct ctx *c = ctx_new(1);
    struct backend *s = fake_borrowed(c, now(c));
    const int want[] = { 2, 4, 5 };

    (void)state;
    for (int i = 0; i < 5; i++)
        queue(c, i, now(c));
    pool_unwait(&c->wt[1]);                 /* middle */
    assert_null(c->wt[1].pool);
    assert_int_equal(c->p->n_waiting, 4);
    pool_unwait(&c->wt[4]);                 /* tail */
    assert_int_equal(c->p->n_waiting, 3);
    assert_ptr_equal(c->p->wait_tail, &c->wt[3]);
    assert_null(c->wt[3].next);
    pool_unwait(&c->wt[0]);                 /* head */
    assert_int_equal(c->p->n_waiting, 2);
    assert_ptr_equal(c->p->wait_head, &c->wt[2]);
    pool_unwait(&c->wt[0]);                 /* not queued any more: no effect */
    assert_int_equal(c->p->n_waiting, 2);
    pool_unwait(&c->wt[3]);                 /* tail again: the tail moves back to 2 */
    assert_ptr_equal(c->p->wait_tail, &c->wt[2]);
    /* a waiter queued now must come after 2, not after a removed one */
    queue(c, 4, now(c));
    queue(c, 5, now(c));
    assert_int_equal(c->p->n_waiting, 3);
    assert_int_equal(c->p->n_connecting, 0);

    for (int i = 0; i < 3; i++) {
        pool_release(s, 0);
        assert_int_equal(c->n_done, (unsigned)i + 1);
        assert_int_equal(c->done_order[i], want[i]);
        assert_ptr_equal(c->done_be[i], s);
    }
    assert_int_equal(c->p->n_waiting, 0);
    assert_null(c->p->wait_head);
    assert_null(c->p->wait_tail);
    pool_release(s, 0);
    assert_int_equal(c->p->n_idle, 1);
    ctx_finish(c, 1);
}

static void test_pool_maintain_fails_waiters_past_query_wait_timeout_in_order(void **state)
{
    struct ctx *c = ctx_new(1);
    struct backend *s = fake_borrowed(c, now(c));
    uint64_t t0 = now(c);

    (void)state;
    c->cfg.query_wait_timeout_ms = 1000;
    queue(c, 0, t0);
    queue(c, 1, t0 + 10);
    queue(c, 2, t0 + 500);
    pool_maintain(&c->w, t0 + 999);
    assert_int_equal(c->n_done, 0);
    assert_int_equal(c->p->n_waiting, 3);

    pool_maintain(&c->w, t0 + 1010);
    assert_int_equal(c->n_done, 2);
    assert_int_equal(c->done_order[0], 0);
    assert_int_equal(c->done_order[1], 1);
    for (int i = 0; i < 2; i++) {
        assert_null(c->done_be[i]);
        assert_null(c->done_err[i]);    /* NULL, NULL: the session words the timeout */
    }
    assert_int_equal(c->p->n_waiting, 1);
    assert_ptr_equal(c->p->wait_head, &c->wt[2]);
    assert_ptr_equal(c->p->wait_tail, &c->wt[2]);

    /* a server released now goes to the one still waiting */
    pool_release(s, 0);
    assert_int_equal(c->n_done, 3);
    assert_int_equal(c->done_order[2], 2);
    assert_ptr_equal(c->done_be[2], s);
    assert_int_equal(c->p->n_waiting, 0);
    assert_null(c->p->wait_head);
    assert_null(c->p->wait_tail);
    assert_int_equal(c->p->n_connecting, 0);
    pool_discard(s);
    ctx_finish(c, 1);
}

static void test_pool_maintain_never_fails_waiters_when_query_wait_timeout_is_0(void **state)
{
    struct ctx *c = ctx_new(1);
    struct backend *s = fake_borrowed(c, now(c));

    (void)state;
    c->cfg.query_wait_timeout_ms = 0;
    queue(c, 0, now(c));
    pool_maintain(&c->w, now(c) + 24 * 3600 * 1000u);
    assert_int_equal(c->n_done, 0);
    assert_int_equal(c->p->n_waiting, 1);
    assert_int_equal(c->p->n_connecting, 0);
    pool_release(s, 0);
    assert_int_equal(c->n_done, 1);
    assert_ptr_equal(c->done_be[0], s);
    pool_discard(s);
    ctx_finish(c, 1);
}

static void test_pool_release_closes_a_server_past_server_lifetime(void **state)
{
    struct ctx *c = ctx_new(2);
    uint64_t t = now(c);
    struct backend *old, *young;

    (void)state;
    assert_true(t >= 5000);     /* uv_now counts from boot, not from the loop's start */
    c->cfg.server_lifetime_ms = 5000;
    old = fake_borrowed(c, t - 5000);
    young = fake_borrowed(c, t - 4999);
    pool_release(old, 0);
    assert_int_equal(c->p->n_idle, 0);
    assert_int_equal(c->p->n_used, 1);
    assert_int_equal(old->state, BACKEND_CLOSING);
    pool_release(young, 0);
    assert_int_equal(c->p->n_idle, 1);
    assert_int_equal(c->p->n_used, 0);
    assert_int_equal(young->state, BACKEND_READY);
    assert_ptr_equal(pool_take(c->p, t), young);
    assert_null(pool_take(c->p, t));
    assert_int_equal(c->p->n_connecting, 0);
    /* the close of the old one finishes in the loop */
    assert_int_equal(c->n_closed, 0);
    assert_int_equal(uv_run(&c->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(c->n_closed, 1);
    pool_release(young, 0);
    ctx_finish(c, 2);
}

static void test_pool_release_closes_a_server_left_in_a_transaction_or_lost(void **state)
{
    struct ctx *c = ctx_new(3);
    struct backend *in_tx = fake_borrowed(c, now(c));
    struct backend *failed_tx = fake_borrowed(c, now(c));
    struct backend *lost = fake_borrowed(c, now(c));

    (void)state;
    in_tx->status = 'T';
    failed_tx->status = 'E';
    backend_set_state(lost, BACKEND_LOST);
    pool_release(in_tx, 0);
    pool_release(failed_tx, 0);
    pool_release(lost, 0);
    assert_int_equal(c->p->n_idle, 0);
    assert_int_equal(c->p->n_used, 0);
    assert_null(pool_take(c->p, now(c)));
    ctx_finish(c, 3);
}

static void test_pool_maintain_closes_idle_servers_past_lifetime(void **state)
{
    struct ctx *c = ctx_new(2);
    uint64_t t = now(c);
    struct backend *a, *b;

    (void)state;
    assert_true(t >= 5000);
    c->cfg.server_lifetime_ms = 5000;
    a = fake_borrowed(c, t - 4000);
    b = fake_borrowed(c, t - 1000);
    pool_release(a, 0);
    pool_release(b, 0);
    assert_int_equal(c->p->n_idle, 2);
    pool_maintain(&c->w, t + 999);
    assert_int_equal(c->p->n_idle, 2);
    pool_maintain(&c->w, t + 1000);     /* a is 5 s old now, b 2 s */
    assert_int_equal(c->p->n_idle, 1);
    assert_ptr_equal(c->p->idle, b);
    assert_int_equal(a->state, BACKEND_CLOSING);
    assert_int_equal(c->p->n_connecting, 0);
    assert_int_equal(uv_run(&c->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(c->n_closed, 1);
    pool_maintain(&c->w, t + 4000);
    assert_int_equal(c->p->n_idle, 0);
    assert_null(c->p->idle);
    ctx_finish(c, 2);
}

static void test_pool_maintain_closes_idle_servers_above_min_pool_size_only(void **state)
{
    struct ctx *c = ctx_new(3);
    uint64_t t = now(c);
    struct backend *s[3], *kept;

    (void)state;
    c->cfg.server_idle_timeout_ms = 1000;
    c->cfg.min_pool_size = 1;
    for (int i = 0; i < 3; i++)
        s[i] = fake_borrowed(c, t);
    for (int i = 0; i < 3; i++)
        pool_release(s[i], 0);
    assert_int_equal(c->p->n_idle, 3);
    pool_maintain(&c->w, t + 999);
    assert_int_equal(c->p->n_idle, 3);
    pool_maintain(&c->w, t + 1000);
    assert_int_equal(c->p->n_idle, 1);
    assert_int_equal(c->p->n_connecting, 0);
    pool_maintain(&c->w, t + 60000);
    assert_int_equal(c->p->n_idle, 1);
    assert_int_equal(uv_run(&c->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(c->n_closed, 2);
    /* the one kept is still a working idle server */
    kept = pool_take(c->p, t + 60000);
    assert_non_null(kept);
    assert_int_equal(kept->state, BACKEND_READY);
    assert_int_equal(c->p->n_used, 1);
    pool_discard(kept);
    ctx_finish(c, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_get_returns_one_pool_per_db_and_user),
        cmocka_unit_test(test_pool_release_keeps_server_idle_and_take_returns_most_recent_first),
        cmocka_unit_test(test_pool_wait_on_a_full_pool_neither_opens_nor_calls_back),
        cmocka_unit_test(test_pool_waiters_get_released_servers_in_arrival_order),
        cmocka_unit_test(test_pool_unwait_from_middle_head_and_tail_keeps_the_others_in_order),
        cmocka_unit_test(test_pool_maintain_fails_waiters_past_query_wait_timeout_in_order),
        cmocka_unit_test(test_pool_maintain_never_fails_waiters_when_query_wait_timeout_is_0),
        cmocka_unit_test(test_pool_release_closes_a_server_past_server_lifetime),
        cmocka_unit_test(test_pool_release_closes_a_server_left_in_a_transaction_or_lost),
        cmocka_unit_test(test_pool_maintain_closes_idle_servers_past_lifetime),
        cmocka_unit_test(test_pool_maintain_closes_idle_servers_above_min_pool_size_only),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
