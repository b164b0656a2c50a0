/*
 * router/session/dispatch.c - sending a client's unit of work: the cluster (sharding), the node
 * (routing rules, breakers, balancing, read-your-writes), the borrowed server brought up
 * to the client's SET state and prepared statements, then the bytes; and the timers that
 * watch a unit (query_timeout) or an idle client (client_idle_timeout,
 * idle_transaction_timeout).
 */
#include "router/session/dispatch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/msg.h"
#include "router/pool/cancel.h"
#include "router/core/log.h"
#include "router/session/session.h"
#include "router/session/unit.h"

/* Between units: client_idle_timeout, or idle_transaction_timeout inside a transaction. */
static void dispatch_idle_cb(uv_timer_t *t)
{
    struct session *s = t->data;

    if (s->unit.pending || s->unit.sent || s->state == SESSION_CLOSING)
        return;
    if (s->state == SESSION_IN_TX)
        session_fatal(s, "25P03", NULL, "terminating connection due to idle-in-transaction "
                      "timeout (idle_transaction_timeout)");
    else
        session_fatal(s, "57P05", NULL, "terminating connection due to idle timeout "
                      "(client_idle_timeout)");
}

void dispatch_idle_timer(struct session *s, char status)
{
    unsigned ms = status == 'I' ? s->cfg->client_idle_timeout_ms
                                : s->cfg->idle_transaction_timeout_ms;

    if (s->state == SESSION_CLOSING)
        return;
    uv_timer_stop(&s->idle_timer);
    if (ms > 0)
        uv_timer_start(&s->idle_timer, dispatch_idle_cb, ms, 0);
}

/*
 * query_timeout: a read with no answer yet is moved to another node (its server is
 * closed: a hung server cannot be trusted); anything else gets a cancel, and if the
 * server stays silent for another period, the client is told the server is lost.
 * A server whose answer is flowing, or waits for a client that reads slowly (its bytes
 * are still queued on the client), is not silent: the query is cancelled as
 * query_timeout says, but the node is not blamed and the client keeps its answer.
 */
static void dispatch_query_timeout_cb(uv_timer_t *t)
{
    struct session *s = t->data;
    struct session_unit *u = &s->unit;
    struct backend *be = u->target;

    if (be == NULL || !(u->pending || u->sent) || s->state == SESSION_CLOSING)
        return;
    log_warn("%s: query_timeout on %s after %u ms", s->tag, be->name,
             s->cfg->query_timeout_ms);
    if (be->unit_out == 0 && !u->cr.write && u->prev_status == 'I' && u->rewrite &&
        s->unit_timeouts == 0) {
        s->dispatch_ops->server_lost(be, "query_timeout expired");
        return;
    }
    if (be->unit_out > 0 && (be->srv.conn.inflight > 0 || be->unit_out != s->unit_out_seen)) {
        if (s->unit_timeouts++ == 0)
            cancel_server(s->w->loop, &be->srv, be->name);
        s->unit_out_seen = be->unit_out;
        uv_timer_start(&s->query_timer, dispatch_query_timeout_cb, s->cfg->query_timeout_ms, 0);
        return;
    }
    if (s->unit_timeouts++ == 0) {
        nodes_failure(s->w->nodes, (int)be->slot, session_now(s), "query_timeout");
        cancel_server(s->w->loop, &be->srv, be->name);
        uv_timer_start(&s->query_timer, dispatch_query_timeout_cb, s->cfg->query_timeout_ms, 0);
        return;
    }
    s->dispatch_ops->server_lost(be, "no answer after query_timeout and a cancel");
}

void dispatch_query_timer_stop(struct session *s)
{
    uv_timer_stop(&s->query_timer);
}

/* Read-your-writes by WAL position: is it on, and what must a replica have replayed? */
static int dispatch_ryw_lsn(struct session *s, uint64_t *min_lsn)
{
    const struct cfg *cfg = s->cfg;
    struct nodes_cluster *c;

    *min_lsn = 0;
    if (!cfg->health.ryw_lsn || cfg->health.interval_ms == 0 || cfg->health.user == NULL ||
        s->ryw_after_ms == 0 || s->ryw_cluster != s->cluster)
        return 0;
    c = nodes_cluster(s->w->nodes, s->cluster);
    if (c == NULL || c->primary_lsn_ms <= s->ryw_after_ms)
        return -1;  /* no position sampled after the write yet: the primary */
    *min_lsn = c->primary_lsn;
    return 0;
}

/*
 * Which node a decision means now, or -1 with the client told why (a read with
 * read_fallback = error and no replica).
 */
static int dispatch_resolve(struct session *s, const struct route_decision *d)
{
    unsigned primary = session_primary_slot(s);
    struct backend *pin;
    uint64_t min_lsn;
    int r;

    switch (d->target) {
    case ROUTE_PRIMARY:
    case ROUTE_ERROR:
        return (int)primary;
    case ROUTE_REPLICA:
        if (dispatch_ryw_lsn(s, &min_lsn) < 0)
            return (int)primary;
        r = nodes_pick_read(s->w->nodes, s->cluster, session_now(s), min_lsn);
        if (r >= 0)
            return r;
        /* primary_reads = fallback (the default) leaves the choice to read_fallback:
         * with read_fallback = error no read falls back (README, "Failure handling") */
        if (min_lsn > 0 || s->cluster->primary_reads == CFG_PRIMARY_READS_ON ||
            !s->cfg->health.read_fallback_error)
            return (int)primary;    /* read_fallback = primary */
        return -1;
    case ROUTE_PINNED:
        pin = borrow_pinned_tx(s);
        return pin != NULL ? (int)pin->slot : (int)primary;
    case ROUTE_ANY:
        for (unsigned i = 0; i < SESSION_HELD; i++)
            if (s->held[i] != NULL)
                return (int)s->held[i]->slot;   /* one already borrowed (session mode, pins) */
        return s->last_slot;
    }
    return (int)primary;
}

static void dispatch_put16(struct msgbuf *b, unsigned v)
{
    msgbuf_put8(b, (uint8_t)(v >> 8));
    msgbuf_put8(b, (uint8_t)v);
}

/* A Bind parameter: its length and bytes, or NULL (p NULL). */
static void dispatch_put_param(struct msgbuf *b, const char *p, size_t n)
{
    msgbuf_put32(b, p != NULL ? (uint32_t)n : 0xffffffffu);
    if (p != NULL)
        msgbuf_put(b, p, n);
}

/*
 * A startup setting (replay_param_pack'ed) as Parse and Bind of replay_param_sql: the
 * name and value travel as binary bytea parameters, never as SQL text.
 */
static void dispatch_put_setting(struct msgbuf *b, const struct replay_param *p)
{
    size_t at = msg_begin(b, 'P');

    msgbuf_put8(b, 0);
    msgbuf_putstr(b, replay_param_sql());
    dispatch_put16(b, 3);
    msgbuf_put32(b, 17);            /* bytea */
    msgbuf_put32(b, 17);
    msgbuf_put32(b, 19);            /* name */
    msg_end(b, at);
    at = msg_begin(b, 'B');
    msgbuf_put(b, "\0\0", 2);      /* unnamed portal and statement */
    dispatch_put16(b, 3);
    dispatch_put16(b, 1);           /* binary: bytes as they are */
    dispatch_put16(b, 1);
    dispatch_put16(b, 0);
    dispatch_put16(b, 3);
    dispatch_put_param(b, p->name, p->nlen);
    dispatch_put_param(b, p->value, p->vlen);
    dispatch_put_param(b, p->enc, p->elen);
    dispatch_put16(b, 0);           /* result formats */
    msg_end(b, at);
}

/* One statement as Parse, Bind and Execute of the unnamed statement (no Sync). */
static void dispatch_put_stmt(struct msgbuf *b, const char *sql)
{
    struct replay_param p;
    size_t at;

    if (sql[0] == REPLAY_PARAM_TAG && replay_param_unpack(sql, &p) == 0) {
        dispatch_put_setting(b, &p);
    } else {
        at = msg_begin(b, 'P');
        msgbuf_put8(b, 0);          /* unnamed statement */
        msgbuf_putstr(b, sql);
        msgbuf_put8(b, 0);          /* no parameter types */
        msgbuf_put8(b, 0);
        msg_end(b, at);
        at = msg_begin(b, 'B');
        msgbuf_put(b, "\0\0\0\0\0\0\0\0", 8);   /* portal, statement, 0 formats, 0 params,
                                                     * 0 result formats */
        msg_end(b, at);
    }
    at = msg_begin(b, 'E');
    msgbuf_put8(b, 0);
    msgbuf_put32(b, 0);
    msg_end(b, at);
}

/*
 * Bring be to the client's SET state before the unit runs on it. A server holding another
 * state is reset first, identity included (RESET ALL leaves ROLE and SESSION AUTHORIZATION
 * alone). Everything goes out as one extended-protocol batch with one Sync: one unit on
 * the server's queue however long the list, each statement parsed after the one before ran
 * (SET standard_conforming_strings changes how the next is read), and all of it one
 * transaction, so a failure leaves the server as it was. The unit waits for the answer:
 * a client whose state cannot be restored (a role dropped since its SET ROLE) must not run
 * its statement under another identity. Returns 0 (nothing to do), 1 (sent: the session
 * waits for dispatch_state_done) or a negative error.
 */
static int dispatch_apply_state(struct session *s, struct backend *be)
{
    const struct replay *r = &s->replay;
    int foreign = be->state_client != 0 && be->state_client != s->id;
    struct msgbuf b;
    int rc;

    if ((be->state_sig == r->sig && !foreign) || be->status != 'I')
        return 0;   /* inside a transaction the server is the client's own already */
    msgbuf_init(&b);
    if (be->state_sig != 0 || foreign) {
        dispatch_put_stmt(&b, "RESET SESSION AUTHORIZATION");
        dispatch_put_stmt(&b, "RESET ROLE");
        dispatch_put_stmt(&b, "RESET ALL");
    }
    for (size_t i = 0; i < r->n; i++)
        dispatch_put_stmt(&b, r->items[i].sql);
    msg_raw(&b, 'S', NULL, 0);
    rc = b.oom ? -ENOMEM : backend_send(be, b.data, b.len);
    msgbuf_free(&b);
    if (rc == 0)
        rc = backend_push_unit(be, BACKEND_SINK_CAPTURE);
    if (rc < 0)
        return rc;
    be->own_error[0] = '\0';
    s->state_be = be;
    session_set_wait(s, SESSION_WAIT_STATE);
    conn_want_read(&s->client, 0);
    return 1;
}

void dispatch_state_done(struct session *s, struct backend *be, int had_error)
{
    session_set_wait(s, SESSION_RUN);
    s->state_be = NULL;
    if (had_error) {
        /* The batch was one transaction: be kept the state it had. */
        session_fatal(s, be->own_sqlstate[0] != '\0' ? be->own_sqlstate : "XX000",
                      "A role or setting this session relies on is gone (for example a role "
                      "dropped after SET ROLE or SET SESSION AUTHORIZATION); reconnect.",
                      "pgrouter: cannot restore this session's settings on %s %s: %s",
                      session_slot_role(s, be->slot), be->name, be->own_error);
        return;
    }
    be->state_sig = s->replay.sig;
    be->state_client = 0;
    dispatch_unit(s, DISPATCH_RESUME);  /* the unit goes on, on this server */
}

/* Send the unit's rewritten bytes to be, preparing what it lacks first. */
static int dispatch_send_rewritten(struct session *s, struct backend *be)
{
    struct session_unit *u = &s->unit;
    struct msgbuf out;
    uint8_t *data;
    size_t n;
    int rc;

    msgbuf_init(&out);
    rc = unit_build(u, &be->stmts, (unsigned)s->cfg->max_prepared_statements, &s->stmts,
                    &out);
    for (size_t i = 0; rc == 0 && i < u->n_acts; i++)
        rc = backend_expect_pc(be, u->acts[i].ord, u->acts[i].act);
    if (rc < 0) {
        msgbuf_free(&out);
        return rc;
    }
    if (!u->sent) {
        rc = backend_push_unit(be, BACKEND_SINK_CLIENT);
        if (rc < 0) {
            msgbuf_free(&out);
            return rc;
        }
    }
    data = msgbuf_steal(&out, &n);
    return n > 0 ? conn_send_owned(&be->srv.conn, data, n) : (free(data), 0);
}

/* The cluster of the transaction the client has open (sharding), or NULL. */
static const struct cfg_cluster *dispatch_tx_cluster(struct session *s)
{
    struct backend *pin = borrow_pinned_tx(s);

    if (!s->cfg->sharding.enabled || pin == NULL)
        return NULL;
    return cfg_find_cluster(s->cfg, s->w->nodes->n[pin->slot].cluster);
}

void dispatch_decide_state(struct session *s, struct decide_session *ds)
{
    memset(ds, 0, sizeof(*ds));
    ds->in_tx = borrow_pinned_tx(s) != NULL;
    ds->sticky = s->sticky;
    /* With health checks, read-your-writes follows WAL positions; else the window. */
    ds->ryw = s->ryw_until_ms > session_now(s) &&
              !(s->cfg->health.ryw_lsn && s->cfg->health.interval_ms > 0 &&
                s->cfg->health.user != NULL);
    ds->ryw_cluster = s->ryw_cluster;
    ds->role = s->role;
    ds->tenant = s->tenant;
    ds->tx_cluster = dispatch_tx_cluster(s);
    ds->escape_strings = s->escape_strings;
}

/*
 * Sharding: the unit's cluster (its tenant's), the cluster of the open transaction, or
 * the session's default. A tenant on another cluster inside a transaction is refused.
 * Returns 0, or -1 when the client was answered with an error.
 */
static int dispatch_pick_cluster(struct session *s)
{
    struct session_unit *u = &s->unit;
    struct backend *pin = borrow_pinned_tx(s);
    const struct cfg_cluster *tx = dispatch_tx_cluster(s);

    if (!s->cfg->sharding.enabled) {
        s->cluster = s->cfg->default_cluster;
        return 0;
    }
    if (tx != NULL && u->cluster != NULL && u->cluster != tx) {
        char msg[DECIDE_MSG_MAX];

        decide_tx_message(msg, sizeof(msg), u->cluster, tx);
        conn_discard(&s->client);
        unit_reset(u);
        session_error(s, pin->status, "0A000", "Commit or roll back first; a transaction "
                      "stays on one cluster.", "%s", msg);
        return -1;
    }
    s->cluster = tx != NULL ? tx : u->cluster != NULL ? u->cluster : s->cfg->default_cluster;
    return 0;
}

/* Refused while it was assembled (sharding): answer at Sync, as PostgreSQL does after an
 * error. */
static void dispatch_refuse(struct session *s)
{
    struct session_unit *u = &s->unit;
    struct backend *pin = borrow_pinned_tx(s);
    const char *state = u->err_state;
    char msg[240];

    if (!u->pending)
        return;
    snprintf(msg, sizeof(msg), "%s", u->err_msg != NULL ? u->err_msg : "refused");
    conn_discard(&s->client);
    unit_reset(u);
    session_error(s, pin != NULL ? pin->status : s->deferred_begin != NULL ? 'E' : 'I',
                  state, NULL, "%s", msg);
}

/* What kind of node the unit goes to, and why (route.h). */
static void dispatch_decide(struct session *s, struct route_decision *d)
{
    struct session_unit *u = &s->unit;
    struct decide_session ds;
    struct route_state rs;

    dispatch_decide_state(s, &ds);
    memset(&rs, 0, sizeof(rs));
    rs.in_tx = ds.in_tx;
    rs.sticky = ds.sticky;
    rs.ryw = ds.ryw && ds.ryw_cluster == s->cluster;
    rs.role = ds.role;
    if (s->deferred_begin != NULL) {
        /* The transaction the client began: now its cluster is known. */
        d->target = s->deferred_ro ? ROUTE_REPLICA : ROUTE_PRIMARY;
        d->reason = s->deferred_ro ? "read-only transaction" : "transaction";
        d->sqlstate = NULL;
    } else if (u->force_primary || (u->pin_server && !rs.in_tx)) {
        d->target = rs.in_tx ? ROUTE_PINNED : ROUTE_PRIMARY;
        d->reason = "session state that stays on one server";
        d->sqlstate = NULL;
    } else if (u->decided) {
        *d = u->route;      /* a lone simple Query: decide_query's answer (as --classify's) */
    } else {
        route_decide(&rs, &u->cr, d);
    }
}

/* The client is told the unit cannot run: node slot's breaker is open. */
static void dispatch_breaker_open(struct session *s, unsigned slot)
{
    const struct node *n = session_node(s, slot);
    uint64_t at = breaker_retry_at(&n->br);
    uint64_t now = session_now(s);

    conn_discard(&s->client);
    unit_reset(&s->unit);
    session_error(s, 'I', "08006", "pgrouter retries the node by itself; run the statement "
                  "again later.", "pgrouter: %s %s of cluster \"%s\" is unavailable "
                  "(circuit breaker %s, next try in %llu ms)%s%s", session_slot_role(s, slot),
                  n->name, s->cluster->name, breaker_state_name(breaker_state(&n->br, now)),
                  (unsigned long long)(at > now ? at - now : 0),
                  n->last_failure[0] != '\0' ? "; last failure: " : "", n->last_failure);
}

/* The node slot decision d means now, or -1 with the client answered (an error route, no
 * replica with read_fallback = error, an open breaker). */
static int dispatch_node(struct session *s, const struct route_decision *d)
{
    struct backend *pin;
    int slot;

    if (d->target == ROUTE_ERROR) {
        pin = borrow_pinned_tx(s);
        conn_discard(&s->client);
        unit_reset(&s->unit);
        session_error(s, pin != NULL ? pin->status : 'I', d->sqlstate,
                      "Remove the replica hint or set pgrouter.role = auto.",
                      "pgrouter: %s", d->reason);
        return -1;
    }
    slot = dispatch_resolve(s, d);
    if (slot < 0) {
        conn_discard(&s->client);
        unit_reset(&s->unit);
        session_error(s, 'I', "08006", "Retry later, or set read_fallback = primary.",
                      "pgrouter: no replica of cluster \"%s\" can take reads now "
                      "(read_fallback = error)", s->cluster->name);
        return -1;
    }
    if (borrow_held(s, (unsigned)slot) == NULL &&
        !nodes_allow(s->w->nodes, slot, session_now(s))) {
        /* Open breaker: fail at once rather than wait for a connection that will fail. */
        dispatch_breaker_open(s, (unsigned)slot);
        return -1;
    }
    return slot;
}

/*
 * The server that runs the unit (why: the decision's reason), or NULL when the client was
 * answered or the session waits for a pool (borrow_ops.resume calls dispatch_unit again).
 */
static struct backend *dispatch_route(struct session *s, const char **why)
{
    struct session_unit *u = &s->unit;
    struct route_decision d;
    int slot;

    if (u->slot > 0 && borrow_held(s, (unsigned)u->slot - 1) != NULL) {
        /* Resumed after its pool handed over a server: that server runs it. */
        *why = "resumed";
        return borrow_held(s, (unsigned)u->slot - 1);
    }
    if (dispatch_pick_cluster(s) < 0)
        return NULL;
    dispatch_decide(s, &d);
    stats_route(&s->w->stats, d.reason, (int)d.target);
    slot = dispatch_node(s, &d);
    if (slot < 0)
        return NULL;
    u->slot = slot + 1;
    *why = d.reason;
    return borrow_server(s, (unsigned)slot);
}

/* Sharding: the BEGIN pgrouter answered goes out first, its answer dropped. 0 or -1 (the
 * session was closed). */
static int dispatch_send_begin(struct session *s, struct backend *be)
{
    struct msgbuf b;
    int rc;

    msgbuf_init(&b);
    msg_raw(&b, 'Q', s->deferred_begin, strlen(s->deferred_begin) + 1);
    rc = b.oom ? -ENOMEM : backend_send(be, b.data, b.len);
    msgbuf_free(&b);
    if (rc < 0 || backend_push_unit(be, BACKEND_SINK_DROP) < 0) {
        session_fatal(s, "08006", NULL, "cannot write to server %s", be->name);
        return -1;
    }
    free(s->deferred_begin);
    s->deferred_begin = NULL;
    be->status = 'T';   /* as it will be once the BEGIN ran */
    return 0;
}

/* The unit's bytes (what came since the last part) go to be. 0, or < 0 (write failed). */
static int dispatch_write(struct session *s, struct backend *be)
{
    struct session_unit *u = &s->unit;
    struct conn *c = &s->client;
    int rc;

    if (u->rewrite) {
        rc = dispatch_send_rewritten(s, be);
        if (rc == 0 && !u->pending) {
            /* A Flush sent part of the batch: what follows starts a new buffer. */
            u->out.len = 0;
            u->n_marks = 0;
        }
        return rc;
    }
    /* Their answers come first if the rest of the unit is rewritten (after a Flush). */
    u->pc_total += unit_count_pc(c->buf + c->sent, c->parsed - c->sent);
    rc = u->sent ? 0 : backend_push_unit(be, BACKEND_SINK_CLIENT);
    if (rc == 0)
        rc = conn_forward(c, &be->srv.conn);
    return rc;
}

/* Send (the rest of) the unit to be; its first part starts the unit's clock and timer. */
static void dispatch_send(struct session *s, struct backend *be)
{
    struct session_unit *u = &s->unit;

    if (dispatch_write(s, be) < 0) {
        session_fatal(s, "08006", NULL, "cannot write to server %s", be->name);
        return;
    }
    if (!u->sent) {
        uv_timer_stop(&s->idle_timer);
        s->unit_started_ms = session_now(s);
        stats_unit_begin(&s->stats, u->prev_status, stats_now_us());
        s->unit_timeouts = 0;
        s->unit_out_seen = 0;
        nodes_unit_begin(s->w->nodes, be->slot);
        if (s->cfg->query_timeout_ms > 0)
            uv_timer_start(&s->query_timer, dispatch_query_timeout_cb,
                           s->cfg->query_timeout_ms, 0);
    }
    u->sent = 1;
    conn_want_read(&s->client, 1);
}

/* The unit's first bytes go to be, once be has the client's state (and its BEGIN). */
static void dispatch_start(struct session *s, struct backend *be, const char *why)
{
    struct session_unit *u = &s->unit;
    struct conn *c = &s->client;
    int rc;

    log_debug("%s: unit -> %s %s (%s)", s->tag, session_slot_role(s, be->slot), be->name, why);
    rc = dispatch_apply_state(s, be);
    if (rc > 0)
        return;     /* resumed by dispatch_state_done */
    if (rc < 0) {
        session_fatal(s, "08006", NULL, "cannot restore this session's settings on server %s",
                      be->name);
        return;
    }
    if (s->deferred_begin != NULL && dispatch_send_begin(s, be) < 0)
        return;
    u->target = be;
    u->pc_total = 0;    /* counted from here on this server (again after a retry) */
    u->n_srvp = 0;
    u->prev_status = be->status;
    s->last_slot = (int)be->slot;
    /* A read outside a transaction keeps a copy, to run again if its server dies. */
    if (!u->rewrite && u->pending && !u->cr.write && be->status == 'I' &&
        !(u->cr.flags & CLASSIFY_F_COPY_FROM)) {
        if (unit_rewrite_begin(u, c->buf + c->sent, c->parsed - c->sent) < 0) {
            session_fatal(s, "53200", NULL, "out of memory");
            return;
        }
        conn_discard(c);
    }
    dispatch_send(s, be);
}

/*
 * Send the unit assembled so far: the rest of a batch that went out already, or a refusal,
 * or a new unit routed to a node and started on its server.
 */
void dispatch_unit(struct session *s, enum dispatch_end end)
{
    struct session_unit *u = &s->unit;
    const char *why = NULL;
    struct backend *be;

    if (end != DISPATCH_RESUME)
        u->pending = end == DISPATCH_END;
    if (u->sent && u->target != NULL) {
        dispatch_send(s, u->target);
        return;
    }
    if (u->err_state != NULL) {
        dispatch_refuse(s);
        return;
    }
    be = dispatch_route(s, &why);
    if (be != NULL)
        dispatch_start(s, be, why);
}
