/*
 * router/pool/pool.c - server pools: borrowing, giving back, opening within the limits
 * (default_pool_size, reserve_pool_size after reserve_pool_timeout, max_db_connections),
 * clients served in arrival order, and the timers (server_idle_timeout, server_lifetime,
 * min_pool_size, query_wait_timeout, server_check_query).
 */
#include "router/pool/pool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/msg.h"
#include "router/core/log.h"
#include "router/auth/passthru.h"
#include "router/admin/pause.h"
#include "router/session/replay.h"
#include "router/pool/poolentry.h"
#include "router/pool/poollimit.h"
#include "router/pool/srvtls.h"
#include "router/core/workers.h"
#include "router/worker.h"

struct pool *pool_get(struct worker *w, int node_id, const char *db, const char *user,
                      const char *password)
{
    const struct node *node = &w->nodes->n[node_id];
    struct pool *p;

    for (p = w->pools; p != NULL; p = p->next)
        if (p->node_id == node_id && strcmp(p->db, db) == 0 && strcmp(p->user, user) == 0)
            break;
    if (p != NULL) {
        if ((password == NULL) != (p->password == NULL) ||
            (password != NULL && strcmp(password, p->password) != 0)) {
            /* auth_file changed on reload: new connections use the new password. */
            char *copy = password != NULL ? strdup(password) : NULL;

            if (password != NULL && copy == NULL)
                return NULL;
            free(p->password);
            p->password = copy;
        }
        return p;
    }
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->w = w;
    snprintf(p->host, sizeof(p->host), "%s", node->host);
    p->port = node->port;
    p->node_id = node_id;
    snprintf(p->node, sizeof(p->node), "%s", node->name);
    snprintf(p->db, sizeof(p->db), "%s", db);
    snprintf(p->user, sizeof(p->user), "%s", user);
    p->budget = budget_slot(&w->shared->budget, p->node, db, user);
    p->budget_db = budget_slot(&w->shared->budget, p->node, db, "");
    if (p->budget == NULL || p->budget_db == NULL ||
        (password != NULL && (p->password = strdup(password)) == NULL)) {
        free(p);
        return NULL;
    }
    p->next = w->pools;
    w->pools = p;
    return p;
}

int pool_passthru(struct pool *p, const struct passthru *pt)
{
    return passthru_learn(&p->pt, pt);
}

/* Close a server p keeps no more (idle, connecting or lent). */
/* A server of p gave its budget unit back: another worker waiting for it tries again now. */
static void pool_budget_freed(struct pool *p)
{
    int wanted = __atomic_exchange_n(&p->budget->wanted, 0, __ATOMIC_ACQ_REL);

    wanted |= __atomic_exchange_n(&p->budget_db->wanted, 0, __ATOMIC_ACQ_REL);
    if (wanted)
        workers_budget_freed(p->w);
}

/*
 * p could not open a server: the budget is full. With several workers, idle servers of
 * the others may hold it: mark the full slot wanted and ask them (once per marking).
 */
static void pool_budget_short(struct pool *p, unsigned limit)
{
    struct budget_slot *slot = budget_count(p->budget) >= limit ? p->budget : p->budget_db;

    if (p->w->shared->n_workers > 1 &&
        !__atomic_exchange_n(&slot->wanted, 1, __ATOMIC_ACQ_REL))
        workers_budget_wanted(p->w, slot);
}

static void pool_close_server(struct pool *p, struct backend *be)
{
    poolentry_set_state(p, be, POOL_ENTRY_CLOSING);    /* gives the budget unit back */
    backend_close(be);
    pool_budget_freed(p);
}

/*
 * Room for one more connection of p: within its own limit and max_db_connections. When
 * only max_db_connections stands in the way, the longest-idle server of another pool on the
 * same database is closed to make room (an idle server must not starve a waiting client).
 */
static int pool_make_room(struct pool *p, uint64_t now_ms)
{
    /* The server just refused this database/user: no new attempt until that expires. */
    if (now_ms < p->login_err_until_ms)
        return 0;
    while (!poollimit_may_open(p, now_ms)) {
        struct backend *be = poollimit_victim(p, now_ms);

        if (be == NULL) {
            pool_budget_short(p, poollimit_limit(p, now_ms));
            return 0;
        }
        log_debug("pool %s@%s/%s: closing an idle server for pool %s@%s (max_db_connections)",
                  be->pool->user, be->pool->db, be->pool->node, p->user, p->db);
        pool_close_server(be->pool, be);
    }
    return 1;
}

static const struct backend_pool_ops pool_backend_ops = {
    .ready = pool_server_ready,
    .lost = pool_server_lost,
    .closed = pool_server_closed,
};

/*
 * Start one more connection. 0; 1 when another worker took the last unit of the budget
 * meanwhile (nothing was started, no error); or -errno with p->start_error set.
 */
static int pool_open(struct pool *p)
{
    const struct cfg *cfg = p->w->cfg;
    const char *keys[6 + SRVTLS_MAX_PARAMS], *vals[6 + SRVTLS_MAX_PARAMS];
    struct backend *be;
    struct backend_dial d = {
        .name = p->node, .host = p->host, .port = p->port, .keys = keys, .vals = vals,
        .timeout_ms = cfg->server_connect_timeout_ms, .cfg = cfg, .tls = p->w->server_tls,
        .stats = &p->stats, .errors = &p->w->stats,
    };
    size_t n = 0;
    int rc;

    if (!budget_take(p->budget, poollimit_limit(p, uv_now(p->w->loop)), p->budget_db,
                     cfg->max_db_connections > 0 ? (unsigned)cfg->max_db_connections : 0)) {
        pool_budget_short(p, poollimit_limit(p, uv_now(p->w->loop)));
        return 1;
    }
    be = calloc(1, sizeof(*be));
    if (be == NULL) {
        budget_give(p->budget, p->budget_db);
        p->start_error = -ENOMEM;
        return -ENOMEM;
    }
    keys[n] = "user";
    vals[n++] = p->user;
    keys[n] = "dbname";
    vals[n++] = p->db;
    if (p->password != NULL) {
        keys[n] = "password";
        vals[n++] = p->password;
    }
    keys[n] = "application_name";
    vals[n++] = "pgrouter";
    n = srvtls_params(cfg, keys, vals, n);
    keys[n] = NULL;
    vals[n] = NULL;
    if (p->password == NULL && p->pt != NULL && !p->pt->refused)
        d.pt = p->pt;   /* pass-through: pgrouter's own login */
    rc = backend_connect(be, p->w->loop, &d, p, &pool_backend_ops);
    if (rc < 0) {
        log_warn("pool %s@%s/%s: cannot start a connection: %s", p->user, p->db, p->node,
                 strerror(-rc));
        free(be);
        budget_give(p->budget, p->budget_db);
        p->start_error = rc;
        return rc;
    }
    p->start_error = 0;
    be->created_ms = uv_now(p->w->loop);
    poolentry_set_state(p, be, POOL_ENTRY_CONNECTING);
    return 0;
}

static struct pool_waiter *pool_pop_waiter(struct pool *p);

/*
 * Open connections for p's waiters that no connection being opened covers, within the
 * limits. Returns the error of a connection that could not start, else 0.
 */
static int pool_cover_waiters(struct pool *p, uint64_t now_ms)
{
    int rc = 0;

    if (pause_active(p->w, p->db))
        return 0;   /* PAUSE: nothing new is opened; RESUME covers them */
    while (p->wait_head != NULL && p->n_connecting < p->n_waiting &&
           pool_make_room(p, now_ms)) {
        rc = pool_open(p);
        if (rc != 0)
            break;
    }
    return rc < 0 ? rc : 0;
}

/* Room was made on p's database: waiters of the other pools there may use it. */
static void pool_serve_db(struct pool *p, uint64_t now_ms)
{
    if (p->w->cfg->max_db_connections <= 0)
        return;
    for (struct pool *q = p->w->pools; q != NULL; q = q->next)
        if (q != p && poollimit_same_db(p, q))
            pool_cover_waiters(q, now_ms);
}

static void pool_login_error_cb(uv_timer_t *t);

int pool_wait(struct pool *p, struct pool_waiter *wt, uint64_t now_ms)
{
    wt->next = NULL;
    wt->pool = p;
    wt->since_ms = now_ms;
    wt->since_us = stats_now_us();
    wt->sqlstate[0] = '\0';
    wt->node_down = 0;
    if (p->wait_tail != NULL)
        p->wait_tail->next = wt;
    else
        p->wait_head = wt;
    p->wait_tail = wt;
    p->n_waiting++;
    if (now_ms < p->login_err_until_ms) {
        /* The server just refused this database/user: answer the same, from the loop. */
        if (!p->login_error_live) {
            if (uv_timer_init(p->w->loop, &p->login_error_timer) < 0)
                return 0;   /* query_wait_timeout answers instead */
            p->login_error_timer.data = p;
            p->login_error_live = 1;
        }
        uv_timer_start(&p->login_error_timer, pool_login_error_cb, 0, 0);
        return 0;
    }
    /*
     * One connection per waiter not yet covered by one being opened. One that cannot start
     * is retried by pool_maintain, which fails the waiters if it still cannot (the waiter
     * hears nothing from inside this call).
     */
    pool_cover_waiters(p, now_ms);
    return 0;
}

void pool_unwait(struct pool_waiter *wt)
{
    struct pool *p = wt->pool;
    struct pool_waiter **pp;

    if (p == NULL)
        return;
    for (pp = &p->wait_head; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == wt) {
            *pp = wt->next;
            if (p->wait_tail == wt) {
                p->wait_tail = NULL;
                for (struct pool_waiter *q = p->wait_head; q != NULL; q = q->next)
                    p->wait_tail = q;
            }
            p->n_waiting--;
            break;
        }
    }
    wt->pool = NULL;
    wt->next = NULL;
}

static struct pool_waiter *pool_pop_waiter(struct pool *p)
{
    struct pool_waiter *wt = p->wait_head;

    if (wt == NULL)
        return NULL;
    p->wait_head = wt->next;
    if (p->wait_head == NULL)
        p->wait_tail = NULL;
    p->n_waiting--;
    wt->pool = NULL;
    wt->next = NULL;
    return wt;
}

static void pool_count_wait(struct pool *p, uint64_t waited_ms)
{
    unsigned b = 0;

    while (b + 1 < POOL_WAIT_BUCKETS && waited_ms >= (1ull << b))
        b++;
    p->waits[b]++;
    if (waited_ms > p->wait_max_ms)
        p->wait_max_ms = waited_ms;
}

/* A server became free: the longest-waiting client gets it, else it goes idle. */
static void pool_hand_over(struct pool *p, struct backend *be)
{
    /* Paused: the waiters stay queued and the server idle, for PAUSE to close. */
    struct pool_waiter *wt = pause_active(p->w, p->db) ? NULL : pool_pop_waiter(p);

    if (wt == NULL) {
        poolentry_set_state(p, be, POOL_ENTRY_IDLE);
        pool_serve_db(p, uv_now(p->w->loop));
        return;
    }
    poolentry_set_state(p, be, POOL_ENTRY_LENT);
    p->n_served++;
    pool_count_wait(p, uv_now(p->w->loop) - wt->since_ms);
    stats_assign(&p->stats, stats_now_us() - wt->since_us);
    wt->done(wt, be, NULL);
}

static void pool_remember_params(struct pool *p, struct backend *be)
{
    static const char *const names[] = {
        "application_name", "client_encoding", "DateStyle", "default_transaction_read_only",
        "in_hot_standby", "integer_datetimes", "IntervalStyle", "is_superuser",
        "server_encoding", "server_version", "session_authorization",
        "standard_conforming_strings", "TimeZone",
    };
    size_t n = sizeof(names) / sizeof(names[0]);

    if (p->params != NULL)
        return;
    p->params = calloc(n, sizeof(*p->params));
    if (p->params == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        const char *v = server_param(&be->srv, names[i]);

        if (v == NULL)
            continue;
        if (strcmp(names[i], "application_name") == 0)
            v = "";     /* the pool's own name is not the client's */
        p->params[p->n_params].name = strdup(names[i]);
        p->params[p->n_params].value = strdup(v);
        if (p->params[p->n_params].name == NULL || p->params[p->n_params].value == NULL) {
            free(p->params[p->n_params].name);
            free(p->params[p->n_params].value);
            continue;
        }
        p->n_params++;
    }
}

/* Fail the clients waiting now (not those queued by their callbacks) with err. */
static void pool_fail_waiters(struct pool *p, const struct pqloop_error *err)
{
    unsigned n = p->n_waiting;
    struct pool_waiter *wt;

    while (n-- > 0 && (wt = pool_pop_waiter(p)) != NULL) {
        snprintf(wt->sqlstate, sizeof(wt->sqlstate), "%s", err->sqlstate);
        wt->node_down = err->fault == PQLOOP_FAULT_NODE;
        wt->done(wt, NULL, err->message);
    }
}

/*
 * A reload removed p's node: its waiters hear so as a node failure, so a read chooses
 * again among the nodes left (nodes_pick_read skips removed ones) and a write is told.
 */
static void pool_fail_removed(struct pool *p)
{
    struct pqloop_error e;

    if (p->wait_head == NULL)
        return;
    memset(&e, 0, sizeof(e));
    e.fault = PQLOOP_FAULT_NODE;
    snprintf(e.sqlstate, sizeof(e.sqlstate), "08006");
    snprintf(e.message, sizeof(e.message), "node %.200s was removed from the configuration "
             "by a reload", p->node);
    pool_fail_waiters(p, &e);
}

/* A new server of p is connected: it goes to the first waiter, or idle. */
static void pool_server_up(struct pool *p, struct backend *be, uint64_t now)
{
    log_debug("pool %s@%s/%s: new server (backend pid %u)", p->user, p->db, p->node,
              be->srv.be_pid);
    pool_remember_params(p, be);
    be->gen = p->gen;   /* opened after a RECONNECT: as good as new */
    nodes_success(p->w->nodes, p->node_id, now, 0);
    p->login_err_until_ms = 0;
    backend_start(be);
    pool_hand_over(p, be);
}

/*
 * Whose fault a failed connection is, told to the node's breaker and the log; a login error
 * is kept in p->login_err (its message made clearer when pgrouter had no password).
 */
static void pool_blame(struct pool *p, struct pqloop_error *e, uint64_t now)
{
    switch (e->fault) {
    case PQLOOP_FAULT_NODE:
        log_warn("pool %s@%s/%s: cannot connect: %s (%s)", p->user, p->db, p->node,
                 e->message, e->sqlstate);
        nodes_failure(p->w->nodes, p->node_id, now, e->message);
        break;
    case PQLOOP_FAULT_LOGIN:
        if (e->needs_password && p->password == NULL && p->pt != NULL && p->pt->refused)
            snprintf(e->message, sizeof(e->message), "%s", p->pt->why);
        else if (e->needs_password && p->password == NULL)
            snprintf(e->message, sizeof(e->message), "pgrouter has no password to log in to "
                     "the server as \"%s\": its auth_file entry is a SCRAM or md5 secret, "
                     "not a plain password", p->user);
        log_warn("pool %s@%s/%s: the server refused the login: %s (%s); not a node failure, "
                 "new clients of this pool get the same error for %u ms", p->user, p->db,
                 p->node, e->message, e->sqlstate, POOL_LOGIN_ERROR_MS);
        /* The server answered: the node itself works. */
        nodes_success(p->w->nodes, p->node_id, now, 0);
        p->login_err = *e;
        p->login_err_until_ms = now + POOL_LOGIN_ERROR_MS;
        break;
    case PQLOOP_FAULT_LOCAL:
        log_error("pool %s@%s/%s: cannot open a server connection: %s (%s)", p->user, p->db,
                  p->node, e->message, e->sqlstate);
        break;
    }
}

void pool_server_ready(struct backend *be, const struct pqloop_error *err)
{
    struct pool *p = be->pool;
    uint64_t now = uv_now(p->w->loop);
    struct pqloop_error e;

    if (err == NULL) {
        pool_server_up(p, be, now);
        return;
    }
    poolentry_set_state(p, be, POOL_ENTRY_CLOSING);
    if (err->needs_password && be->srv.native != NULL && p->pt != NULL && !p->pt->refused) {
        /* Pass-through cannot answer this server: libpq's path, as without credentials. */
        log_info("pool %s@%s/%s: %s; logging in through libpq instead", p->user, p->db,
                 p->node, err->message);
        p->pt->refused = 1;
        snprintf(p->pt->why, sizeof(p->pt->why), "%s", err->message);
        backend_close(be);
        pool_budget_freed(p);
        pool_cover_waiters(p, now);
        return;
    }
    e = *err;
    pool_blame(p, &e, now);
    backend_close(be);
    pool_budget_freed(p);
    /* Every client waiting now gets the answer at once, not one by one. */
    pool_fail_waiters(p, &e);
    pool_serve_db(p, now);
}

static void pool_login_error_cb(uv_timer_t *t)
{
    struct pool *p = t->data;
    uint64_t now = uv_now(p->w->loop);

    if (now < p->login_err_until_ms) {
        pool_fail_waiters(p, &p->login_err);
        return;
    }
    /* The error has expired meanwhile: try the server again for those waiting. */
    pool_cover_waiters(p, now);
}

void pool_server_lost(struct backend *be, const char *why)
{
    struct pool *p = be->pool;

    log_info("pool %s@%s/%s: idle server closed: %s", p->user, p->db, p->node, why);
    /* Only idle servers come here: a borrowed one is the session's to give up. */
    if (be->pool_state == POOL_ENTRY_IDLE)
        pool_close_server(p, be);
    else
        backend_close(be);
    pool_serve_db(p, uv_now(p->w->loop));
}

void pool_server_closed(struct backend *be)
{
    free(be);
}

struct backend *pool_take(struct pool *p, uint64_t now_ms)
{
    const struct cfg *cfg = p->w->cfg;
    struct backend *be = p->idle;
    struct msgbuf b;

    if (be == NULL || pause_active(p->w, p->db))
        return NULL;
    poolentry_set_state(p, be, POOL_ENTRY_LENT);
    p->n_served++;
    p->waits[0]++;
    stats_assign(&p->stats, 0);
    if (cfg->server_check_query[0] != '\0' &&
        now_ms - be->idle_since_ms >= cfg->server_check_delay_ms) {
        /* Long idle: check it first, pipelined before the client's work. */
        msgbuf_init(&b);
        msg_raw(&b, 'Q', cfg->server_check_query, strlen(cfg->server_check_query) + 1);
        if (!b.oom && backend_send(be, b.data, b.len) == 0)
            backend_push_unit(be, BACKEND_SINK_DROP);
        msgbuf_free(&b);
    }
    return be;
}

void pool_discard(struct backend *be)
{
    struct pool *p = be->pool;

    be->owner = NULL;
    be->ops = NULL;
    be->client = NULL;
    pool_close_server(p, be);
    /* Someone may be waiting for the room this one leaves. */
    pool_cover_waiters(p, uv_now(p->w->loop));
    pool_serve_db(p, uv_now(p->w->loop));
}

void pool_release(struct backend *be, int reset)
{
    struct pool *p = be->pool;
    const struct cfg *cfg = p->w->cfg;
    uint64_t now = uv_now(p->w->loop);
    struct msgbuf b;

    if (backend_lost(be) || be->status != 'I' || backend_client_pending(be) > 0 ||
        be->gen != p->gen ||
        (cfg->server_lifetime_ms > 0 && now - be->created_ms >= cfg->server_lifetime_ms) ||
        poollimit_surplus(p, now)) {
        pool_discard(be);
        return;
    }
    /* Still LENT, to nobody, until pool_hand_over finds it a place. */
    be->owner = NULL;
    be->ops = NULL;
    be->client = NULL;
    if (reset) {
        /* The identity first: RESET ALL and a custom server_reset_query leave it alone. */
        static const char identity[] = "RESET SESSION AUTHORIZATION; RESET ROLE";
        int has_query = cfg->server_reset_query[0] != '\0';

        msgbuf_init(&b);
        msg_raw(&b, 'Q', identity, sizeof(identity));
        if (has_query)
            msg_raw(&b, 'Q', cfg->server_reset_query, strlen(cfg->server_reset_query) + 1);
        if (b.oom || backend_send(be, b.data, b.len) < 0 ||
            backend_push_unit(be, BACKEND_SINK_DROP) < 0 ||
            (has_query && backend_push_unit(be, BACKEND_SINK_DROP) < 0)) {
            msgbuf_free(&b);
            pool_discard(be);
            return;
        }
        msgbuf_free(&b);
        /* DISCARD ALL drops prepared statements and settings alike; without a reset query
         * the settings stay, and the next client's replay resets them. */
        if (has_query)
            srvstmt_clear(&be->stmts);
        be->state_sig = has_query ? 0 : REPLAY_SIG_DIRTY;
        be->state_client = 0;
    }
    pool_hand_over(p, be);
}

/* Close p's idle servers past server_idle_timeout (above min_pool_size) or server_lifetime. */
static void pool_close_expired(struct pool *p, uint64_t now_ms)
{
    const struct cfg *cfg = p->w->cfg;
    struct backend *be, *next;

    for (be = p->idle; be != NULL; be = next) {
        int too_idle = cfg->server_idle_timeout_ms > 0 &&
                       now_ms - be->idle_since_ms >= cfg->server_idle_timeout_ms &&
                       poollimit_size(p) > (unsigned)cfg->min_pool_size;
        int too_old = cfg->server_lifetime_ms > 0 &&
                      now_ms - be->created_ms >= cfg->server_lifetime_ms;

        next = be->pool_next;
        if (poollimit_surplus(p, now_ms))
            too_old = 1;    /* a reload removed its node or shrank the pool */
        if (!too_idle && !too_old)
            continue;
        log_debug("pool %s@%s/%s: closing a server (%s)", p->user, p->db, p->node,
                  too_old ? "server_lifetime" : "server_idle_timeout");
        pool_close_server(p, be);
    }
}

/*
 * Waiters past query_wait_timeout get an error. A PAUSE is the operator's hold, not a
 * shortage: its waiters wait for RESUME, and their query_wait_timeout starts again there.
 */
static void pool_time_out_waiters(struct pool *p, uint64_t now_ms)
{
    const struct cfg *cfg = p->w->cfg;

    while (cfg->query_wait_timeout_ms > 0 && p->wait_head != NULL &&
           now_ms - (p->wait_head->since_ms > p->resumed_ms ? p->wait_head->since_ms :
                     p->resumed_ms) >= cfg->query_wait_timeout_ms) {
        struct pool_waiter *wt = pool_pop_waiter(p);

        p->n_wait_timeouts++;
        wt->done(wt, NULL, NULL);
    }
}

/* A connection could not start a second time: the waiters no connection covers hear why. */
static void pool_fail_uncovered(struct pool *p)
{
    snprintf(p->err, sizeof(p->err), "pgrouter cannot open a server connection: %s",
             strerror(-p->start_error));
    while (p->n_waiting > p->n_connecting) {
        struct pool_waiter *wt = pool_pop_waiter(p);

        if (wt == NULL)
            break;
        snprintf(wt->sqlstate, sizeof(wt->sqlstate), "53000");
        wt->node_down = 0;
        wt->done(wt, NULL, p->err);
    }
}

void pool_maintain(struct worker *w, uint64_t now_ms)
{
    const struct cfg *cfg = w->cfg;

    for (struct pool *p = w->pools; p != NULL; p = p->next) {
        int paused = pause_active(w, p->db);

        pool_close_expired(p, now_ms);
        while (!paused && poollimit_size(p) < (unsigned)cfg->min_pool_size &&
               now_ms >= p->login_err_until_ms && poollimit_may_open(p, now_ms))
            if (pool_open(p) != 0)
                break;
        if (w->nodes->n[p->node_id].removed)
            pool_fail_removed(p);
        if (!paused)
            pool_time_out_waiters(p, now_ms);
        /* Waiters may also use the reserve by now. */
        if (pool_cover_waiters(p, now_ms) < 0)
            pool_fail_uncovered(p);
    }
    for (struct pool *p = w->pools; p != NULL; p = p->next)
        pool_serve_db(p, now_ms);
}

/* Upper bound in ms of the bucket where the q-th fraction of n borrows falls. */
static uint64_t pool_wait_quantile(const uint64_t *hist, uint64_t n, double q)
{
    uint64_t want = (uint64_t)((double)n * q), seen = 0;

    for (unsigned b = 0; b < POOL_WAIT_BUCKETS; b++) {
        seen += hist[b];
        if (seen > want || seen == n)
            return b == 0 ? 1 : 1ull << b;
    }
    return 1ull << (POOL_WAIT_BUCKETS - 1);
}

void pool_log_waits(struct worker *w)
{
    uint64_t hist[POOL_WAIT_BUCKETS] = { 0 }, n = 0, max = 0, timeouts = 0;

    for (const struct pool *p = w->pools; p != NULL; p = p->next) {
        for (unsigned b = 0; b < POOL_WAIT_BUCKETS; b++) {
            hist[b] += p->waits[b];
            n += p->waits[b];
        }
        if (p->wait_max_ms > max)
            max = p->wait_max_ms;
        timeouts += p->n_wait_timeouts;
    }
    if (n == 0 && timeouts == 0)
        return;
    log_info("pool waits: %llu borrows, %llu waited for a server, p50 < %llu ms, "
             "p99 < %llu ms, max %llu ms, %llu query_wait_timeout",
             (unsigned long long)n, (unsigned long long)(n - hist[0]),
             (unsigned long long)pool_wait_quantile(hist, n, 0.50),
             (unsigned long long)pool_wait_quantile(hist, n, 0.99),
             (unsigned long long)max, (unsigned long long)timeouts);
}

void pool_close_idle(struct pool *p)
{
    while (p->idle != NULL)
        pool_close_server(p, p->idle);
}

void pool_close_all(struct worker *w)
{
    struct pool *p, *next;

    for (p = w->pools; p != NULL; p = next) {
        next = p->next;
        if (p->login_error_live) {
            uv_close((uv_handle_t *)&p->login_error_timer, NULL);
            p->login_error_live = 0;
        }
        pool_close_idle(p);
        /*
         * A connection opened for a client who has left since would otherwise finish
         * after this, go idle, and keep the loop (and the process) running for good.
         */
        while (p->connecting != NULL)
            pool_close_server(p, p->connecting);
        if (p->n_used > 0)
            log_warn("pool %s@%s/%s: %u servers still borrowed at exit", p->user, p->db,
                     p->node, p->n_used);
    }
}

void pool_reconnect(struct pool *p)
{
    p->gen++;
    p->n_old = p->n_used;   /* every borrowed server is of an older generation now */
    pool_close_idle(p);
    pool_cover_waiters(p, uv_now(p->w->loop));
}

int pool_close_needed(const struct backend *be)
{
    return be->pool != NULL && be->gen != be->pool->gen;
}

void pool_resume(struct pool *p, uint64_t now_ms)
{
    p->resumed_ms = now_ms;
    /* Idle servers exist when RESUME came before PAUSE had closed them. */
    while (p->idle != NULL && p->wait_head != NULL && !pause_active(p->w, p->db))
        pool_hand_over(p, p->idle);     /* IDLE -> LENT to the first waiter */
    pool_cover_waiters(p, now_ms);
}

void pool_free_all(struct worker *w)
{
    struct pool *p, *next;

    for (p = w->pools; p != NULL; p = next) {
        next = p->next;
        for (size_t i = 0; i < p->n_params; i++) {
            free(p->params[i].name);
            free(p->params[i].value);
        }
        free(p->params);
        free(p->password);
        passthru_free(p->pt);
        free(p);
    }
    w->pools = NULL;
}

void pool_shed(struct worker *w, const struct budget_slot *slot)
{
    for (struct pool *p = w->pools; p != NULL; p = p->next) {
        struct backend *oldest = NULL;

        if (p->budget != slot && p->budget_db != slot)
            continue;
        for (struct backend *be = p->idle; be != NULL; be = be->pool_next)
            if (oldest == NULL || be->idle_since_ms <= oldest->idle_since_ms)
                oldest = be;
        if (oldest != NULL) {
            log_debug("pool %s@%s/%s: closing an idle server another worker waits for",
                      p->user, p->db, p->node);
            pool_close_server(p, oldest);
            return;
        }
    }
}

void pool_retry(struct worker *w)
{
    uint64_t now = uv_now(w->loop);

    for (struct pool *p = w->pools; p != NULL; p = p->next)
        if (p->wait_head != NULL)
            pool_cover_waiters(p, now);
}
