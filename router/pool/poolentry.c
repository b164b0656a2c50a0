/*
 * router/pool/poolentry.c - where a pool keeps each of its servers (enum pool_entry: new,
 * connecting, idle, lent, closing) and the counters and lists (idle, connecting) that
 * follow from it.
 * poolentry_set_state is the only writer of be->pool_state and of those counters, and
 * gives the server's unit of the shared budget back when it starts closing.
 */
#include "router/pool/poolentry.h"

#include <assert.h>

#include "router/core/log.h"
#include "router/pool/pool.h"
#include "router/worker.h"

const char *poolentry_name(enum pool_entry st)
{
    switch (st) {
    case POOL_ENTRY_NEW:
        return "new";
    case POOL_ENTRY_CONNECTING:
        return "connecting";
    case POOL_ENTRY_IDLE:
        return "idle";
    case POOL_ENTRY_LENT:
        return "lent";
    case POOL_ENTRY_CLOSING:
        return "closing";
    }
    return "?";
}

int poolentry_ok(enum pool_entry from, enum pool_entry to)
{
    switch (from) {
    case POOL_ENTRY_NEW:
        return to == POOL_ENTRY_CONNECTING;
    case POOL_ENTRY_CONNECTING:
        return to == POOL_ENTRY_IDLE || to == POOL_ENTRY_LENT || to == POOL_ENTRY_CLOSING;
    case POOL_ENTRY_IDLE:
        return to == POOL_ENTRY_LENT || to == POOL_ENTRY_CLOSING;
    case POOL_ENTRY_LENT:
        return to == POOL_ENTRY_IDLE || to == POOL_ENTRY_LENT || to == POOL_ENTRY_CLOSING;
    case POOL_ENTRY_CLOSING:
        return 0;
    }
    return 0;
}

/* Take be off list (p's idle or connecting list). */
static void poolentry_unlink(struct backend **list, struct backend *be)
{
    for (struct backend **pp = list; *pp != NULL; pp = &(*pp)->pool_next) {
        if (*pp == be) {
            *pp = be->pool_next;
            break;
        }
    }
    be->pool_next = NULL;
}

/* Leave be's place in p's counters and idle list (the first half of poolentry_set_state). */
static void poolentry_leave(struct pool *p, struct backend *be)
{
    switch (be->pool_state) {
    case POOL_ENTRY_NEW:
    case POOL_ENTRY_CLOSING:
        break;
    case POOL_ENTRY_CONNECTING:
        poolentry_unlink(&p->connecting, be);
        p->n_connecting--;
        break;
    case POOL_ENTRY_IDLE:
        poolentry_unlink(&p->idle, be);
        p->n_idle--;
        break;
    case POOL_ENTRY_LENT:
        p->n_used--;
        if (be->gen != p->gen)
            p->n_old--;     /* borrowed before a RECONNECT: WAIT_CLOSE waits for these */
        break;
    }
}

void poolentry_set_state(struct pool *p, struct backend *be, enum pool_entry to)
{
    if (be->pool_state == to && to != POOL_ENTRY_LENT)
        return;     /* LENT -> LENT: handed straight to the next waiter */
    assert(poolentry_ok(be->pool_state, to));
    if (be->pool_state != to)
        log_debug("pool %s@%s/%s: server pid %u %s -> %s", p->user, p->db, p->node,
                  (unsigned)be->srv.be_pid, poolentry_name(be->pool_state),
                  poolentry_name(to));
    if (to == POOL_ENTRY_CLOSING && be->pool_state != POOL_ENTRY_NEW)
        budget_give(p->budget, p->budget_db);   /* pool_open took it */
    poolentry_leave(p, be);
    be->pool_state = to;
    switch (to) {
    case POOL_ENTRY_NEW:
    case POOL_ENTRY_CLOSING:
        break;
    case POOL_ENTRY_CONNECTING:
        be->pool_next = p->connecting;  /* pool_close_all closes these at exit */
        p->connecting = be;
        p->n_connecting++;
        break;
    case POOL_ENTRY_IDLE:
        be->idle_since_ms = uv_now(p->w->loop);
        be->pool_next = p->idle;    /* most recently used first */
        p->idle = be;
        p->n_idle++;
        break;
    case POOL_ENTRY_LENT:
        p->n_used++;
        if (be->gen != p->gen)
            p->n_old++;
        break;
    }
}
