/*
 * router/session/borrow.c - the servers a client session holds: borrowing one from a node's pool
 * (at once, or by waiting in the pool's queue), attaching it to the session, and giving it
 * back (to the pool, or closed when it cannot be reused). A unit that waited keeps the
 * node it was routed to: it runs on the server that node's pool handed over.
 */
#include "router/session/borrow.h"

#include <stdio.h>
#include <string.h>

#include "config/userlist.h"
#include "router/pool/backend.h"
#include "router/session/session.h"
#include "router/session/unit.h"

struct backend *borrow_held(const struct session *s, unsigned slot)
{
    for (unsigned i = 0; i < SESSION_HELD; i++)
        if (s->held[i] != NULL && s->held[i]->slot == slot)
            return s->held[i];
    return NULL;
}

void borrow_unhold(struct session *s, struct backend *be)
{
    for (unsigned i = 0; i < SESSION_HELD; i++)
        if (s->held[i] == be)
            s->held[i] = NULL;
}

/* Stop using the server in slot: back to its pool (reset if asked) or closed. */
void borrow_give_back(struct session *s, unsigned slot, int reset)
{
    struct backend *be = borrow_held(s, slot);

    if (be == NULL)
        return;
    borrow_unhold(s, be);
    s->pinned &= ~(1ull << slot);
    if (s->unit.target == be)
        s->unit.target = NULL;
    if (backend_lost(be) || be->status != 'I' || backend_pending(be) > 0) {
        /* Mid-transaction or mid-answer: nobody else can use it. */
        pool_discard(be);
        return;
    }
    pool_release(be, reset);
}

/*
 * Give back every borrowed server that is between transactions, not pinned and not
 * running the client's unit: transaction pooling holds a server only while it is needed.
 */
void borrow_give_back_idle(struct session *s)
{
    for (unsigned i = 0; i < SESSION_HELD; i++) {
        struct backend *be = s->held[i];

        if (be == NULL || be->status != 'I' || (s->pinned & (1ull << be->slot)) ||
            be == s->unit.target || backend_pending(be) > 0)
            continue;
        borrow_give_back(s, be->slot, 0);
    }
}

static const char *borrow_password(const struct session *s)
{
    const struct cfg_user *u = cfg_find_user(s->cfg, s->user);

    if (u == NULL || !userlist_is_plain(u->secret))
        return NULL;
    return u->secret;
}

struct pool *borrow_pool(struct session *s, unsigned slot)
{
    const char *db = s->db;
    const char *password = borrow_password(s);
    struct pool *p = pool_get(s->w, (int)slot, db, s->user, password);

    /* No plain password: the pool logs in with the secret and key this client brought. */
    if (p != NULL && password == NULL && s->passthru != NULL &&
        pool_passthru(p, s->passthru) < 0)
        return NULL;
    return p;
}

static void borrow_attach(struct session *s, unsigned slot, struct backend *be)
{
    be->owner = s;
    be->ops = s->borrow_ops->backend;
    backend_pc_reset(be);
    be->client = &s->client;
    be->slot = slot;
    for (unsigned i = 0; i < SESSION_HELD; i++) {
        if (s->held[i] == NULL) {
            s->held[i] = be;
            break;
        }
    }
    if (s->cfg->pool_mode == CFG_POOL_SESSION)
        s->pinned |= 1ull << slot;
}

/* A pool answered: a server, a connection failure (err), or query_wait_timeout (none). */
static void borrow_pool_done(struct pool_waiter *wt, struct backend *be, const char *err)
{
    struct session *s = wt->arg;
    unsigned slot = (unsigned)s->wait_slot;
    const struct node *node = session_node(s, slot);
    const char *code = wt->sqlstate[0] != '\0' ? wt->sqlstate : "08006";

    if (be != NULL) {
        borrow_attach(s, slot, be);
        session_set_wait(s, SESSION_RUN);
        s->borrow_ops->resume(s);
        return;
    }
    session_set_wait(s, SESSION_RUN);
    if (err == NULL) {
        char pool[400];

        snprintf(pool, sizeof(pool), "%s@%s on %s %s", s->user,
                 s->db, session_slot_role(s, slot),
                 node->name);
        if (s->state == SESSION_CONNECT) {
            session_fatal(s, "53300", "Raise default_pool_size or query_wait_timeout.",
                          "pgrouter: no server connection available in pool %s within "
                          "query_wait_timeout", pool);
            return;
        }
        conn_discard(&s->client);
        unit_reset(&s->unit);
        session_error(s, 'I', "53300", "Raise default_pool_size or query_wait_timeout, or "
                      "retry later.", "pgrouter: no server connection available in pool %s "
                      "within query_wait_timeout", pool);
        s->borrow_ops->answered(s);
        return;
    }
    if (s->state == SESSION_CONNECT) {
        if (wt->node_down)
            session_fatal(s, code, strcmp(code, "08001") == 0 ? "Check the server's TLS "
                          "setup (ssl, its certificate) against server_tls_sslmode and "
                          "server_tls_ca_file; pgrouter tries again for the next client." :
                          "Check that the server is running and accepts TCP "
                          "connections; pgrouter tries again for the next client.",
                          "pgrouter: cannot connect to primary %s of cluster \"%s\": %s",
                          node->name, s->cluster->name, err);
        else    /* the server's own words, as a direct login would get them */
            session_fatal(s, code, NULL, "%s", err);
        return;
    }
    if (slot != session_primary_slot(s) && wt->node_down &&
        !s->unit.cr.write && !borrow_pinned_tx(s)) {
        /* The unit has not gone out: choose again (another replica, or the primary). */
        s->w->nodes->n[slot].stats.read_retries++;
        s->unit.slot = 0;
        s->borrow_ops->resume(s);
        return;
    }
    conn_discard(&s->client);
    unit_reset(&s->unit);
    session_error(s, 'I', code, wt->node_down ? "Check that the server is running; the "
                  "next statement tries again." : NULL,
                  "pgrouter: cannot %s %s %s of cluster \"%s\": %s",
                  wt->node_down ? "connect to" : "log in to", session_slot_role(s, slot),
                  node->name, s->cluster->name, err);
    s->borrow_ops->answered(s);
}

/*
 * The server for slot, borrowed now if one is idle; else NULL and the session waits
 * (SESSION_WAIT_SERVER) until borrow_pool_done.
 */
struct backend *borrow_server(struct session *s, unsigned slot)
{
    struct pool *p;
    struct backend *be;

    if (borrow_held(s, slot) != NULL)
        return borrow_held(s, slot);
    unsigned n_held = 0;

    for (unsigned i = 0; i < SESSION_HELD; i++)
        n_held += s->held[i] != NULL;
    if (n_held == SESSION_HELD) {
        session_fatal(s, "53300", NULL, "pgrouter: this client holds %d servers already",
                      SESSION_HELD);
        return NULL;
    }
    p = borrow_pool(s, slot);
    if (p == NULL) {
        session_fatal(s, "53200", NULL, "out of memory");
        return NULL;
    }
    be = pool_take(p, session_now(s));
    if (be != NULL) {
        borrow_attach(s, slot, be);
        return be;
    }
    session_set_wait(s, SESSION_WAIT_SERVER);
    s->wait_slot = (int)slot;
    s->waiter.done = borrow_pool_done;
    s->waiter.arg = s;
    conn_want_read(&s->client, 0);
    pool_wait(p, &s->waiter, session_now(s));
    return NULL;
}

struct backend *borrow_pinned_tx(const struct session *s)
{
    for (unsigned i = 0; i < SESSION_HELD; i++)
        if (s->held[i] != NULL && s->held[i]->status != 'I')
            return s->held[i];
    return NULL;
}
