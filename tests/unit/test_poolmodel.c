/*
 * tests/unit/test_poolmodel.c - randomised model test of router/pool/pool.c and the borrow and
 * return contract that router/session/session.c keeps with it. Thousands of seeded event sequences
 * run against several pools (3 nodes x 2 users on one database, so max_db_connections is
 * shared): clients arrive and borrow from any node's pool, give servers back (idle, in a
 * transaction, lost), leave the queue, connections succeed, fail or cannot even start,
 * idle servers die, time passes (query_wait_timeout, server_idle_timeout, lifetime), the
 * configuration is reloaded with other limits, and the console PAUSEs, RESUMEs and
 * RECONNECTs the database. After every step the invariants are checked:
 *   - no client waits while its pool has an idle server, or room to open one that is not
 *     already being opened for it (the limit, or max_db_connections with no idle server
 *     of the same database left to close);
 *   - every server is in exactly one place: idle in its pool, borrowed by one client,
 *     connecting, or closing; the pool's counters match those places;
 *   - a server handed to a waiter comes from the pool it waited on (the session runs its
 *     unit there: choosing again strands the server), and waiters are served in arrival
 *     order;
 *   - no pool grows past the largest limit it was ever given;
 *   - while the database is paused, no server is handed to anyone, no connection is
 *     opened for waiters and nobody times out; once PAUSE saw every server back, none
 *     is left idle;
 *   - a server borrowed before a RECONNECT is closed when given back, never idle again,
 *     and the pool counts exactly those still out (what WAIT_CLOSE waits for);
 *   - each server's enum pool_entry (poolentry_set_state) and enum backend_state name the
 *     same place as the model.
 * Connections are fake: backend_connect, backend_start and backend_close are wrapped at
 * link time (-Wl,--wrap, see the Makefile), so the model decides when a connect finishes.
 * Every sequence ends with everything given back and closed, and uv_loop_close() == 0.
 * PGROUTER_MODEL_SEED=N runs one seed (to reproduce a failure the test prints).
 */
#include <errno.h>
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
#include "router/core/log.h"
#include "router/pool/pool.h"
#include "router/pool/server.h"
#include "router/session/stmt.h"
#include "router/worker.h"

#define M_NODES 3
#define M_USERS 2
#define M_CLIENTS 24
#define M_SERVERS 256           /* model slots for servers ever created in one sequence */
#define M_STEPS 600
#define M_SEEDS 400

enum m_where { M_NONE = 0, M_CONNECTING, M_IDLE, M_HELD, M_CLOSING, M_CLOSED, M_LIMBO };
enum m_client { C_AWAY = 0, C_WAITING, C_HOLDING };

struct m_server {
    struct backend *be;
    enum m_where where;
    int client;                 /* with M_HELD */
    int old;                    /* borrowed when a RECONNECT came */
};

struct m_client_state {
    enum m_client state;
    struct pool *pool;
    struct backend *be;
    struct pool_waiter wt;
    uint64_t seq;               /* arrival order in its queue */
};

struct model {
    struct worker w;
    struct shared sh;           /* nodes and the server budget (zero: usable as is) */
    uv_loop_t loop;
    struct cfg cfg[2];          /* two snapshots; a reload swaps w.cfg between them */
    char empty[1];
    unsigned max_limit;         /* largest default_pool_size ever in force */
    struct m_server srv[M_SERVERS];
    int n_srv;
    struct m_client_state cl[M_CLIENTS];
    uint64_t next_seq;
    uint64_t clock;             /* model time added to the loop's */
    uint64_t rng;
    int start_fails;            /* the next backend_connect fails to start */
    unsigned served, timeouts, refused;
    uint64_t seed;
    int step;
    uint32_t event;             /* the last step's event, for failure messages */
    int paused;
    int resuming;               /* inside pause_clear */
};

static struct model *cur;       /* the wrapped functions find the model here */
/* Over every seed: the console's cases did happen (the checks were not vacuous). */
static unsigned m_old_closed, m_drained, m_resumed_waiters, m_in_flight_at_exit;

static uint32_t m_rand(struct model *m, uint32_t n)
{
    m->rng ^= m->rng << 13;
    m->rng ^= m->rng >> 7;
    m->rng ^= m->rng << 17;
    return (uint32_t)(m->rng % n);
}

static uint64_t m_now(struct model *m)
{
    return uv_now(&m->loop) + m->clock;
}

static struct m_server *m_find(struct model *m, const struct backend *be)
{
    for (int i = 0; i < m->n_srv; i++)
        if (m->srv[i].be == be && m->srv[i].where != M_CLOSED)
            return &m->srv[i];
    fail_msg("a server the model never saw: %p", (const void *)be);
    return NULL;
}

/* ---- link-time wrapped backend functions ---- */

int __real_backend_connect(struct backend *be, uv_loop_t *loop, const struct backend_dial *d,
                           struct pool *pool, const struct backend_pool_ops *pool_ops);
int __wrap_backend_connect(struct backend *be, uv_loop_t *loop, const struct backend_dial *d,
                           struct pool *pool, const struct backend_pool_ops *pool_ops);
void __real_backend_close(struct backend *be);
void __wrap_backend_close(struct backend *be);
void __wrap_backend_start(struct backend *be);

static void m_closed(struct server *srv)
{
    struct backend *be = srv->owner;
    struct m_server *ms = m_find(cur, be);

    assert_int_equal(ms->where, M_CLOSING);
    ms->where = M_CLOSED;
    ms->be = NULL;
    srvstmt_free(&be->stmts);
    backend_set_state(be, BACKEND_CLOSED);
    pool_server_closed(be);
}

int __wrap_backend_connect(struct backend *be, uv_loop_t *loop, const struct backend_dial *d,
                           struct pool *pool, const struct backend_pool_ops *pool_ops)
{
    struct model *m = cur;
    struct m_server *ms;

    if (m->start_fails) {
        m->start_fails = 0;
        return -EMFILE;     /* as when pgrouter runs out of descriptors */
    }
    assert_true(m->n_srv < M_SERVERS);
    assert_false(m->paused);    /* PAUSE opens nothing */
    memset(be, 0, sizeof(*be));
    srvstmt_init(&be->stmts);
    be->pool = pool;
    be->pool_ops = pool_ops;
    be->stats = d->stats;
    be->errors = d->errors;
    be->name = d->name;
    be->status = 'I';
    be->srv.state = SERVER_CONNECTING;
    be->srv.loop = loop;
    be->srv.owner = be;
    be->srv.on_closed = m_closed;
    snprintf(be->srv.node, sizeof(be->srv.node), "%s", d->name);
    assert_int_equal(uv_timer_init(loop, &be->srv.connect_timer), 0);
    be->srv.connect_timer.data = &be->srv;
    be->srv.handles = 1;
    ms = &m->srv[m->n_srv++];
    ms->be = be;
    ms->where = M_CONNECTING;
    ms->client = -1;
    return 0;
}

void __wrap_backend_start(struct backend *be)
{
    backend_set_state(be, BACKEND_READY);
    be->srv.state = SERVER_READY;
}

void __wrap_backend_close(struct backend *be)
{
    struct m_server *ms = m_find(cur, be);

    ms->where = M_CLOSING;
    ms->client = -1;
    __real_backend_close(be);
}

/* ---- the clients, as sessions use the pool ---- */

static void m_done(struct pool_waiter *wt, struct backend *be, const char *err)
{
    struct model *m = cur;
    struct m_client_state *c = wt->arg;
    int ci = (int)(c - m->cl);

    assert_int_equal(c->state, C_WAITING);
    assert_null(wt->pool);
    if (be == NULL) {
        if (err == NULL)
            assert_false(m->paused);    /* no query_wait_timeout while paused */
        c->state = C_AWAY;
        if (err == NULL)
            m->timeouts++;
        else
            m->refused++;
        return;
    }
    /* The server comes from the pool the client waited on, in arrival order. */
    assert_ptr_equal(be->pool, c->pool);
    for (int i = 0; i < M_CLIENTS; i++)
        if (m->cl[i].state == C_WAITING && m->cl[i].pool == c->pool && i != ci)
            assert_true(m->cl[i].seq > c->seq);
    struct m_server *ms = m_find(m, be);

    assert_false(m->paused);
    /* RESUME hands out servers PAUSE had not closed yet, from the idle list. */
    assert_true(ms->where == M_LIMBO || ms->where == M_CONNECTING ||
                (m->resuming && ms->where == M_IDLE));
    ms->where = M_HELD;
    ms->client = ci;
    be->owner = c;
    c->state = C_HOLDING;
    c->be = be;
    m->served++;
}

/* The pool's own notion of its size and limit, recomputed from the outside. */
static unsigned m_pool_size(const struct pool *p)
{
    return p->n_idle + p->n_used + p->n_connecting;
}

static void m_check(struct model *m)
{
    const struct cfg *cfg = m->w.cfg;

    for (struct pool *p = m->w.pools; p != NULL; p = p->next) {
        unsigned idle = 0, waiting = 0, used = 0, connecting = 0, db_size = 0, db_idle = 0;
        unsigned old = 0;
        uint64_t last_seq = 0;
        struct pool_waiter *tail = NULL;

        for (struct backend *be = p->idle; be != NULL; be = be->pool_next) {
            struct m_server *ms = m_find(m, be);

            assert_int_equal(ms->where, M_IDLE);
            assert_ptr_equal(be->pool, p);
            assert_null(be->owner);
            idle++;
            assert_true(idle <= M_SERVERS);     /* no cycle */
        }
        for (struct pool_waiter *wt = p->wait_head; wt != NULL; wt = wt->next) {
            struct m_client_state *c = wt->arg;

            assert_int_equal(c->state, C_WAITING);
            assert_ptr_equal(c->pool, p);
            assert_ptr_equal(wt->pool, p);
            assert_true(c->seq > last_seq);     /* FIFO */
            last_seq = c->seq;
            tail = wt;
            waiting++;
        }
        assert_ptr_equal(p->wait_tail, tail);
        /* The connecting list holds exactly the model's connecting servers of p. */
        unsigned listed = 0;

        for (struct backend *be = p->connecting; be != NULL; be = be->pool_next) {
            assert_int_equal(m_find(m, be)->where, M_CONNECTING);
            assert_ptr_equal(be->pool, p);
            listed++;
            assert_true(listed <= M_SERVERS);   /* no cycle */
        }
        for (int i = 0; i < m->n_srv; i++) {
            const struct m_server *ms = &m->srv[i];

            if (ms->be == NULL || ms->be->pool != p)
                continue;
            used += ms->where == M_HELD;
            old += ms->where == M_HELD && ms->old;
            connecting += ms->where == M_CONNECTING;
        }
        assert_int_equal(p->n_old, old);
        assert_int_equal(pause_closing(&m->w, p->db) >= old, 1);
        assert_int_equal(pause_active(&m->w, p->db), m->paused != 0);
        assert_int_equal(p->n_idle, idle);
        assert_int_equal(p->n_waiting, waiting);
        assert_int_equal(p->n_used, used);
        assert_int_equal(p->n_connecting, connecting);
        assert_int_equal(listed, connecting);
        /* The shared budget counts what poolentry_set_state counted (one worker here). */
        assert_int_equal(budget_count(p->budget), m_pool_size(p));
        assert_true(m_pool_size(p) <= m->max_limit);
        if (m->paused)
            continue;   /* waiters wait for RESUME, idle servers or not */
        /* Nobody waits while a server sits idle in the pool. */
        if (waiting > 0)
            assert_int_equal(idle, 0);
        /* Nobody waits uncovered while the pool may open another connection. */
        for (const struct pool *q = m->w.pools; q != NULL; q = q->next) {
            if (q->node_id == p->node_id && strcmp(q->db, p->db) == 0) {
                db_size += m_pool_size(q);
                db_idle += q->n_idle;
            }
        }
        if (waiting > connecting) {
            int full = m_pool_size(p) >= (unsigned)cfg->default_pool_size;
            int db_full = cfg->max_db_connections > 0 &&
                          db_size >= (unsigned)cfg->max_db_connections && db_idle == 0;

            if (!full && !db_full && p->start_error == 0)
                fail_msg("seed %llu step %d event %u: pool %s/%s: %u waiting, %u connecting, size %u < %d, db %u/%d "
                         "(%u idle)", (unsigned long long)m->seed, m->step, m->event, p->node, p->user, waiting, connecting, m_pool_size(p),
                         cfg->default_pool_size, db_size, cfg->max_db_connections, db_idle);
        }
    }
    for (int i = 0; i < M_CLIENTS; i++) {
        const struct m_client_state *c = &m->cl[i];

        if (c->state == C_HOLDING) {
            struct m_server *ms = m_find(m, c->be);

            assert_int_equal(ms->where, M_HELD);
            assert_int_equal(ms->client, i);
        } else if (c->state == C_WAITING) {
            assert_ptr_equal(c->wt.pool, c->pool);
        }
    }
    for (int i = 0; i < m->n_srv; i++) {
        const struct m_server *ms = &m->srv[i];

        assert_true(ms->where != M_LIMBO && ms->where != M_NONE);
        if (ms->be == NULL)
            continue;
        /* The pool's own enum says the same place as the model, and the backend's agrees. */
        switch (ms->where) {
        case M_CONNECTING:
            assert_int_equal(ms->be->pool_state, POOL_ENTRY_CONNECTING);
            assert_int_equal(ms->be->state, BACKEND_CONNECTING);
            break;
        case M_IDLE:
            assert_int_equal(ms->be->pool_state, POOL_ENTRY_IDLE);
            assert_int_equal(ms->be->state, BACKEND_READY);
            break;
        case M_HELD:
            assert_int_equal(ms->be->pool_state, POOL_ENTRY_LENT);
            break;
        case M_CLOSING:
            assert_int_equal(ms->be->pool_state, POOL_ENTRY_CLOSING);
            assert_int_equal(ms->be->state, BACKEND_CLOSING);
            break;
        case M_NONE:
        case M_CLOSED:
        case M_LIMBO:
            break;
        }
    }
}

/* After the pool had the server: handed over (M_HELD), closed, or else idle. */
static void m_settle(struct m_server *ms)
{
    if (ms->where == M_LIMBO)
        ms->where = M_IDLE;
}

static void m_borrow(struct model *m, int ci)
{
    struct m_client_state *c = &m->cl[ci];
    char user[8];
    struct backend *be;

    snprintf(user, sizeof(user), "u%u", m_rand(m, M_USERS));
    c->pool = pool_get(&m->w, (int)m_rand(m, M_NODES), "db", user, NULL);
    assert_non_null(c->pool);
    be = pool_take(c->pool, m_now(m));
    if (be != NULL) {
        struct m_server *ms = m_find(m, be);

        assert_false(m->paused);
        assert_int_equal(ms->where, M_IDLE);
        ms->where = M_HELD;
        ms->client = ci;
        be->owner = c;
        c->be = be;
        c->state = C_HOLDING;
        m->served++;
        return;
    }
    c->state = C_WAITING;
    c->seq = ++m->next_seq;
    c->wt.done = m_done;
    c->wt.arg = c;
    m->start_fails = m_rand(m, 20) == 0;
    assert_int_equal(pool_wait(c->pool, &c->wt, m_now(m)), 0);
    m->start_fails = 0;
}

static void m_give_back(struct model *m, int ci)
{
    struct m_client_state *c = &m->cl[ci];
    struct backend *be = c->be;
    struct m_server *ms = m_find(m, be);
    uint32_t how = m_rand(m, 10);
    int old = ms->old;

    c->state = C_AWAY;
    c->be = NULL;
    ms->where = M_LIMBO;
    ms->client = -1;
    if (how == 0)
        be->status = 'T';       /* left in a transaction: closed, not reused */
    else if (how == 1)
        backend_set_state(be, BACKEND_LOST);   /* died while borrowed */
    if (how == 2) {
        m->start_fails = m_rand(m, 4) == 0;
        pool_discard(be);       /* the session gave up on it */
    } else {
        pool_release(be, 0);
    }
    m->start_fails = 0;
    m_settle(ms);
    if (old) {
        assert_true(ms->where == M_CLOSING || ms->where == M_CLOSED);
        m_old_closed++;
    }
    ms->old = 0;
}

static void m_connect_finishes(struct model *m, int ok)
{
    int idx[M_SERVERS], n = 0;

    for (int i = 0; i < m->n_srv; i++)
        if (m->srv[i].where == M_CONNECTING)
            idx[n++] = i;
    if (n == 0)
        return;
    struct m_server *ms = &m->srv[idx[m_rand(m, (uint32_t)n)]];

    if (ok) {
        ms->where = M_LIMBO;
        pool_server_ready(ms->be, NULL);
        m_settle(ms);
    } else {
        struct pqloop_error err = { .fault = PQLOOP_FAULT_NODE, .sqlstate = "08001",
                                    .message = "Connection refused" };

        pool_server_ready(ms->be, &err);
    }
}

static void m_idle_dies(struct model *m)
{
    int idx[M_SERVERS], n = 0;

    for (int i = 0; i < m->n_srv; i++)
        if (m->srv[i].where == M_IDLE)
            idx[n++] = i;
    if (n > 0)
        pool_server_lost(m->srv[idx[m_rand(m, (uint32_t)n)]].be, "server closed the connection");
}

static void m_reload(struct model *m)
{
    struct cfg *next = m->w.cfg == &m->cfg[0] ? &m->cfg[1] : &m->cfg[0];

    next->default_pool_size = 1 + (int)m_rand(m, 4);
    next->max_db_connections = m_rand(m, 3) == 0 ? 0 : 2 + (int)m_rand(m, 5);
    next->query_wait_timeout_ms = m_rand(m, 4) == 0 ? 0 : 1000 + 1000 * m_rand(m, 5);
    if ((unsigned)next->default_pool_size > m->max_limit)
        m->max_limit = (unsigned)next->default_pool_size;
    m->w.cfg = next;
    pool_maintain(&m->w, m_now(m));
}

/* The console: PAUSE (and PAUSE's end once every server is back), RESUME, RECONNECT. */
static void m_console(struct model *m)
{
    switch (m_rand(m, 4)) {
    case 0:
        if (!m->paused) {
            int one = m_rand(m, 2);

            m->paused = 1;
            assert_int_equal(pause_set(&m->w, one ? "db" : NULL, 7), 0);
            assert_int_equal(pause_set(&m->w, "db", 8), -EALREADY);
            /* RESUME db cannot lift a PAUSE of everything. */
            if (!one)
                assert_int_equal(pause_clear(&m->w, "db"), -EBUSY);
            /* PAUSE of everything on top of one database's. */
            assert_int_equal(pause_set(&m->w, NULL, 8), one ? 0 : -EALREADY);
        } else {
            m->paused = 0;     /* RESUME may open connections at once */
            m->resuming = 1;
            for (struct pool *p = m->w.pools; p != NULL; p = p->next)
                m_resumed_waiters += p->n_waiting;
            assert_int_equal(pause_clear(&m->w, NULL), 0);
            m->resuming = 0;
            assert_int_equal(pause_clear(&m->w, "db"), -ENOENT);
            assert_int_equal(pause_clear(&m->w, NULL), -ENOENT);
        }
        break;
    case 1:
        if (m->paused && pause_drained(&m->w, "db", 1)) {
            for (struct pool *p = m->w.pools; p != NULL; p = p->next)
                assert_int_equal(m_pool_size(p), 0);
            m_drained++;
        }
        break;
    default:
        for (int i = 0; i < m->n_srv; i++)
            if (m->srv[i].where == M_HELD)
                m->srv[i].old = 1;
        pause_reconnect(&m->w, "db");
        for (int i = 0; i < m->n_srv; i++)
            assert_true(m->srv[i].where != M_IDLE);
        break;
    }
}

static void m_step(struct model *m)
{
    int ci = (int)m_rand(m, M_CLIENTS);
    struct m_client_state *c = &m->cl[ci];

    m->event = m_rand(m, 13);
    if (getenv("PGROUTER_MODEL_TRACE") != NULL)
        fprintf(stderr, "step %d event %u client %d state %d pool %s\n", m->step, m->event,
                ci, c->state, c->pool != NULL ? c->pool->user : "-");
    switch (m->event) {
    case 0: case 1: case 2:
        if (c->state == C_AWAY)
            m_borrow(m, ci);
        else if (c->state == C_HOLDING)
            m_give_back(m, ci);
        break;
    case 3: case 4:
        if (c->state == C_HOLDING)
            m_give_back(m, ci);
        break;
    case 5:
        if (c->state == C_WAITING) {
            pool_unwait(&c->wt);        /* the client went away */
            c->state = C_AWAY;
        }
        break;
    case 6: case 7:
        m_connect_finishes(m, 1);
        break;
    case 8:
        m_connect_finishes(m, m_rand(m, 4) != 0);
        break;
    case 9:
        m_idle_dies(m);
        break;
    case 10:
        m->clock += 200 + m_rand(m, 1500);
        m->start_fails = m_rand(m, 10) == 0;
        pool_maintain(&m->w, m_now(m));
        m->start_fails = 0;
        break;
    case 11:
        if (m_rand(m, 8) == 0)
            m_reload(m);
        else
            uv_run(&m->loop, UV_RUN_NOWAIT);    /* closes finish */
        break;
    case 12:
        if (m_rand(m, 3) == 0)
            m_console(m);
        break;
    }
}

static void m_run_seed(uint64_t seed)
{
    struct model *m = calloc(1, sizeof(*m));

    assert_non_null(m);
    cur = m;
    m->rng = seed * 2654435761u + 1;
    m->seed = seed;
    assert_int_equal(uv_loop_init(&m->loop), 0);
    for (int i = 0; i < 2; i++) {
        m->cfg[i].default_pool_size = 2;
        m->cfg[i].server_connect_timeout_ms = 1000;
        m->cfg[i].server_check_query = m->empty;
        m->cfg[i].server_reset_query = m->empty;
        m->cfg[i].query_wait_timeout_ms = 3000;
        m->cfg[i].server_idle_timeout_ms = 5000;
        m->cfg[i].server_lifetime_ms = 20000;
        m->cfg[i].max_db_connections = 4;
    }
    m->max_limit = 2;
    m->w.loop = &m->loop;
    m->w.cfg = &m->cfg[0];
    worker_attach(&m->w, &m->sh);
    m->w.nodes->loop = &m->loop;
    m->w.nodes->cfg = m->w.cfg;
    for (int i = 0; i < M_NODES; i++) {
        struct node *n = &m->w.nodes->n[i];

        n->id = i;
        snprintf(n->host, sizeof(n->host), "127.0.0.1");
        n->port = (uint16_t)(10 + i);     /* never connected to */
        snprintf(n->name, sizeof(n->name), "127.0.0.1:%d", 10 + i);
    }
    m->w.nodes->count = M_NODES;

    for (m->step = 0; m->step < M_STEPS; m->step++) {
        m_step(m);
        m_check(m);
    }

    /*
     * Wind down: every client leaves, and it all closes. In odd seeds the connects end
     * first; in even ones they are still in flight at exit, and pool_close_all must close
     * them too (one left would finish later, go idle, and keep the loop running).
     */
    for (int i = 0; i < M_CLIENTS; i++) {
        if (m->cl[i].state == C_WAITING) {
            pool_unwait(&m->cl[i].wt);
            m->cl[i].state = C_AWAY;
        } else if (m->cl[i].state == C_HOLDING) {
            m_give_back(m, i);
        }
        m_check(m);
    }
    for (int i = 0; seed % 2 == 1 && i < m->n_srv; i++) {
        if (m->srv[i].where == M_CONNECTING) {
            m->srv[i].where = M_LIMBO;
            pool_server_ready(m->srv[i].be, NULL);
            m_settle(&m->srv[i]);
            m_check(m);
        }
    }
    /* Every borrow was counted once in the wait histogram, every timeout once. */
    uint64_t borrows = 0, timeouts = 0;

    for (struct pool *p = m->w.pools; p != NULL; p = p->next) {
        for (unsigned b = 0; b < POOL_WAIT_BUCKETS; b++)
            borrows += p->waits[b];
        timeouts += p->n_wait_timeouts;
    }
    assert_int_equal(borrows, m->served);
    assert_int_equal(timeouts, m->timeouts);
    for (int i = 0; i < m->n_srv; i++)
        if (m->srv[i].where == M_CONNECTING)
            m_in_flight_at_exit++;
    pool_close_all(&m->w);
    assert_int_equal(uv_run(&m->loop, UV_RUN_DEFAULT), 0);
    for (int i = 0; i < m->n_srv; i++)
        assert_int_equal(m->srv[i].where, M_CLOSED);
    for (struct pool *p = m->w.pools; p != NULL; p = p->next)
        assert_int_equal(m_pool_size(p) + p->n_waiting, 0);
    pool_free_all(&m->w);
    shared_close(&m->sh);
    assert_int_equal(uv_loop_close(&m->loop), 0);
    /* The sequence did something: the pools served clients. */
    assert_true(m->served > 0);
    cur = NULL;
    free(m);
}

static void test_pool_model_random_sequences_keep_every_invariant(void **state)
{
    const char *one = getenv("PGROUTER_MODEL_SEED");
    uint64_t first = 1, last = M_SEEDS;

    (void)state;
    if (one != NULL && *one != '\0')
        first = last = strtoull(one, NULL, 10);
    for (uint64_t seed = first; seed <= last; seed++) {
        m_run_seed(seed);
        if (seed % 100 == 0 || seed == last)
            print_message("pool model: seeds %llu..%llu passed\n", (unsigned long long)first,
                          (unsigned long long)seed);
    }
    print_message("pool model: %u servers closed after RECONNECT, %u PAUSEs drained, %u "
                  "waiters resumed, %u connects in flight closed at exit\n", m_old_closed,
                  m_drained, m_resumed_waiters, m_in_flight_at_exit);
    if (first != last) {
        assert_true(m_old_closed > 0);
        assert_true(m_drained > 0);
        assert_true(m_resumed_waiters > 0);
        assert_true(m_in_flight_at_exit > 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_model_random_sequences_keep_every_invariant),
    };

    log_open("/dev/null", 0);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
