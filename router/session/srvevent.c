/*
 * router/session/srvevent.c - what a session's borrowed servers report, through the
 * backend_ops that session.c hands each backend: a unit done (status, errors, the state
 * and transaction it leaves), a server lost (retry a read elsewhere, or tell the client
 * what it lost), a reply captured for the session, and the catalog read again after DDL.
 */
#include "router/session/srvevent.h"

#include <string.h>

#include "router/admin/stats.h"
#include "router/cluster/breaker.h"
#include "router/cluster/nodes.h"
#include "router/core/connlog.h"
#include "router/core/log.h"
#include "router/pool/pool.h"
#include "router/session/dispatch.h"
#include "router/session/frontend.h"
#include "router/session/greet.h"
#include "router/session/session.h"
#include "router/session/unit.h"
#include "router/sql/catalog.h"

/* The catalog read this session started will not finish: the next login reads it again. */
void srvevent_catalog_abandon(struct session *s)
{
    s->loading_catalog = 0;
    if (s->cat != NULL) {
        catalog_finish(s->cat, &s->w->routing, 0, session_now(s));
        s->cat->loaded_at_ms = 0;
    }
}

/* A read whose answer never reached the client: run it again on another node, unseen. */
static void srvevent_retry_read(struct session *s, unsigned from_slot)
{
    s->w->nodes->n[from_slot].stats.read_retries++;
    s->unit.retries++;
    s->unit.sent = 0;
    s->unit.slot = 0;
    log_info("%s: retrying the read on another node", s->tag);
    dispatch_unit(s, DISPATCH_RESUME);
    frontend_pump(s);
}

static void srvevent_unit_done(struct backend *be, char status, int had_error);
static int srvevent_async_ok(struct backend *be);
static void srvevent_captured(struct backend *be, int had_error);

const struct backend_ops srvevent_ops = {
    .unit_done = srvevent_unit_done,
    .lost = srvevent_lost,
    .async_ok = srvevent_async_ok,
    .row = greet_row,
    .captured = srvevent_captured,
};

static int srvevent_async_ok(struct backend *be)
{
    struct session *s = be->owner;

    /* Only between units: otherwise the client's stream may be mid-message. */
    return !s->unit.pending && !s->unit.sent && s->state != SESSION_CLOSING;
}

/*
 * After CREATE/ALTER/DROP FUNCTION committed: read the catalog again on be (the primary
 * that ran it) before the client's next statement is routed, so that it routes by the new
 * list. 1 if started; 0 if not (another session is loading it: the next greeting reloads).
 */
static int srvevent_catalog_refresh(struct session *s, struct backend *be)
{
    const char *q = catalog_query();
    struct msgbuf b;
    int rc;

    s->catalog_refresh = 0;
    if (s->cat == NULL || backend_lost(be))
        return 0;
    if (s->cat->building_active) {
        s->cat->loaded_at_ms = 0;
        return 0;
    }
    msgbuf_init(&b);
    msg_raw(&b, 'Q', q, strlen(q) + 1);
    rc = b.oom ? -ENOMEM : backend_send(be, b.data, b.len);
    msgbuf_free(&b);
    if (rc == 0)
        rc = backend_push_unit(be, BACKEND_SINK_CAPTURE);
    if (rc < 0) {
        s->cat->loaded_at_ms = 0;
        return 0;
    }
    catalog_begin(s->cat);
    s->loading_catalog = 1;
    s->refreshing = be;
    session_set_wait(s, SESSION_WAIT_CATALOG);
    conn_want_read(&s->client, 0);
    return 1;
}

/* The unit's SET/RESET/DISCARD ran on be: record it, and what be holds now. */
static void srvevent_record_state(struct session *s, struct backend *be, char status)
{
    struct session_unit *u = &s->unit;
    int current = be->state_sig == s->replay.sig;
    int rc;

    if ((u->prev_status != 'I' || status != 'I') && !s->tx_replay_saved &&
        replay_copy(&s->tx_replay, &s->replay) == 0)
        s->tx_replay_saved = 1;     /* a ROLLBACK undoes what the transaction SETs */
    rc = replay_apply(&s->replay, &u->session_st, u->session_sql, strlen(u->session_sql));

    if (rc < 0) {
        /* Checked before it ran, so only memory: the server has it, the list does not. */
        /* The name only: a value may be an application's secret (SET app.token = ...). */
        log_warn("%s: cannot record a change of \"%s\" (%s); it is lost when the client "
                 "changes server", s->tag, u->session_st.name[0] != '\0' ?
                 u->session_st.name : "session state", rc == -E2BIG ? "too much state"
                 : "out of memory");
        be->state_sig = REPLAY_SIG_DIRTY;
        return;
    }
    be->state_sig = current && rc == 1 ? s->replay.sig : REPLAY_SIG_DIRTY;
}

/* The unit on be ended with status: counters, the node's health, read-your-writes. */
static void srvevent_unit_counted(struct session *s, struct backend *be, char status)
{
    struct session_unit *u = &s->unit;
    unsigned slot = be->slot;

    stats_unit_end(&be->pool->stats, &s->stats, status, stats_now_us(), s->client.bytes_in,
                   (unsigned)unit_server_parses(u));
    be->unit_out = be->unit_notices = 0;
    /* The server ran the unit in the client's state: its standard_conforming_strings
     * (reported by ParameterStatus after SET, RESET, set_config or a rollback) is the
     * client's from now on. */
    s->escape_strings = be->escape_strings;
    nodes_unit_end(s->w->nodes, slot);
    nodes_success(s->w->nodes, (int)slot, session_now(s),
                  (uint32_t)((session_now(s) - s->unit_started_ms) * 1000));
    if (slot == session_primary_slot(s) && status == 'I' &&
        (u->cr.write || u->prev_status != 'I')) {
        /* Read-your-writes: the window, and the WAL position replicas must reach. */
        if (s->cfg->ryw_window_ms > 0)
            s->ryw_until_ms = session_now(s) + s->cfg->ryw_window_ms;
        s->ryw_after_ms = session_now(s);
        s->ryw_cluster = s->cluster;    /* reads of other clusters are not affected */
    }
}

/* The unit ran without error on be: what it changed in the session (pins, tenant, role,
 * statements, SET state, the catalog). */
static void srvevent_unit_effects(struct session *s, struct backend *be, char status)
{
    struct session_unit *u = &s->unit;
    unsigned slot = be->slot;

    if (s->cat != NULL && u->ddl_function) {
        /* A new VOLATILE function is a write now; the catalog is read again below. */
        if (u->ddl_volatile && catalog_note_write(s->cat, &s->w->routing, u->ddl_func,
                                                  strlen(u->ddl_func)) < 0)
            log_warn("%s: out of memory noting %s as a write function", s->tag, u->ddl_func);
        s->catalog_refresh = 1;
    }
    if ((u->cr.flags & CLASSIFY_F_STICKY) || u->force_primary) {
        if (!s->sticky)
            log_info("%s: pinned to the primary for the rest of the session (%s)", s->tag,
                     u->force_primary ? "multi-statement string with session state"
                                      : u->cr.reason);
        s->sticky = 1;
        s->pinned |= 1ull << slot;
    }
    if (u->pin_server)
        s->pinned |= 1ull << slot;
    if (u->has_set_tenant) {
        snprintf(s->tenant, sizeof(s->tenant), "%s", u->set_tenant);
        log_debug("%s: pgrouter.tenant = '%s'", s->tag, s->tenant);
    }
    if (u->cr.flags & CLASSIFY_F_SET_ROLE)
        s->role = u->cr.set_role == CLASSIFY_ROLE_PRIMARY ? ROUTE_ROLE_PRIMARY
                  : u->cr.set_role == CLASSIFY_ROLE_REPLICA ? ROUTE_ROLE_REPLICA
                  : ROUTE_ROLE_AUTO;
    if (u->resets > 1) {
        /* DISCARD ALL / DEALLOCATE ALL ran on this server: its statements are gone. */
        srvstmt_clear(&be->stmts);
        stmt_clear(&s->stmts);
    }
    if (u->session_sql != NULL)
        srvevent_record_state(s, be, status);
}

/* The transaction ended (status 'I'): its SETs stay, unless it rolled back. */
static void srvevent_tx_ended(struct session *s, struct backend *be, int had_error)
{
    struct session_unit *u = &s->unit;

    if (u->prev_status == 'E' || had_error ||
        (u->cr.reason != NULL && strcmp(u->cr.reason, "ROLLBACK") == 0)) {
        struct replay t = s->replay;

        s->replay = s->tx_replay;
        s->tx_replay = t;
        be->state_sig = REPLAY_SIG_DIRTY;
        log_debug("%s: transaction rolled back: its SET statements are forgotten", s->tag);
    }
    replay_free(&s->tx_replay);
    s->tx_replay_saved = 0;
}

static void srvevent_unit_done(struct backend *be, char status, int had_error)
{
    struct session *s = be->owner;
    struct session_unit *u = &s->unit;
    unsigned slot = be->slot;

    if (be != u->target || !u->pending) {
        log_warn("%s: unexpected ReadyForQuery from %s", s->tag, be->name);
        return;
    }
    dispatch_query_timer_stop(s);
    srvevent_unit_counted(s, be, status);
    /* Parses and Closes after an error never ran: the server and the client's names. */
    unit_settle(u, &be->stmts, &s->stmts, be->pc_done);
    unit_settle_unnamed(u, be->pc_done, &s->unnamed, &s->unnamed_len);
    if (!had_error)
        srvevent_unit_effects(s, be, status);
    if (status == 'I' && s->tx_replay_saved)
        srvevent_tx_ended(s, be, had_error);
    if (u->untracked_state)
        be->state_client = s->id;   /* the next client must not inherit what it did */
    session_set_state(s, status == 'I' ? SESSION_IDLE : SESSION_IN_TX);
    unit_reset(u);
    dispatch_idle_timer(s, status);
    if (status == 'I' && s->catalog_refresh && slot == session_primary_slot(s) &&
        srvevent_catalog_refresh(s, be))
        return;     /* the next statement waits for the new list (srvevent_captured) */
    borrow_give_back_idle(s);     /* transaction pooling: back to the pool */
    /*
     * The next unit has not been started (its first message waits in the client's
     * buffer): reading on assembles it. Dispatching here would send an empty unit.
     */
    if (s->wait == SESSION_WAIT_DRAIN)
        session_set_wait(s, SESSION_RUN);
    frontend_pump(s);
}

/* pgrouter's own query on be ended: a state replay, or a catalog read. */
static void srvevent_captured(struct backend *be, int had_error)
{
    struct session *s = be->owner;

    if (s->wait == SESSION_WAIT_STATE && s->state_be == be) {
        dispatch_state_done(s, be, had_error);
        frontend_pump(s);   /* nothing when it closed the session */
        return;
    }
    if (s->refreshing == be) {
        s->refreshing = NULL;
        greet_captured(be, had_error);  /* the new list */
        if (s->state == SESSION_CLOSING)
            return;
        session_set_wait(s, SESSION_RUN);
        borrow_give_back_idle(s);
        frontend_pump(s);
        return;
    }
    greet_captured(be, had_error);
}

/*
 * be (on node slot; gone already: compared, never read) was lost while the session waited
 * on it (the state replay, or a catalog refresh) rather than for a unit's answer. 1 when
 * that was the case (handled), else 0.
 */
static int srvevent_lost_waiting(struct session *s, const struct backend *be, unsigned slot,
                                const char *why)
{
    struct session_unit *u = &s->unit;

    if (s->wait == SESSION_WAIT_STATE && s->state_be == be) {
        /* Lost while being brought to the client's state: the unit never went out, so a
         * read runs elsewhere, as a read lost before its answer does. */
        session_set_wait(s, SESSION_RUN);
        s->state_be = NULL;
        if (!u->cr.write && u->retries < s->cfg->health.read_retries) {
            srvevent_retry_read(s, slot);
            return 1;
        }
        conn_discard(&s->client);
        unit_reset(u);
        session_error(s, 'I', "08006", "The statement did not run; run it again.",
                      "pgrouter: server connection to %s %s (cluster \"%s\") was lost while "
                      "restoring the session's settings: %s", session_slot_role(s, slot),
                      session_node(s, slot)->name, s->cluster->name, why);
        frontend_pump(s);
        return 1;
    }
    if (s->refreshing == be) {
        /* Lost while reading the catalog again: keep the list, reload at the next login. */
        s->refreshing = NULL;
        srvevent_catalog_abandon(s);
        session_set_wait(s, SESSION_RUN);
        frontend_pump(s);
        return 1;
    }
    return 0;
}

/* What the loss of its server on slot does to the client's unit (tx, copy, mid_message,
 * answered: where the server was when it went). */
static void srvevent_lost_unit(struct session *s, unsigned slot, const char *why, char tx,
                              int copy, int mid_message, int answered)
{
    struct session_unit *u = &s->unit;
    const struct node *node = session_node(s, slot);

    /* A server lost while the client is idle inside its transaction takes the
     * transaction with it: tell the client now (as PostgreSQL does), or its next
     * statement would run outside the transaction on another server. */
    if (mid_message) {
        /*
         * Part of a server message already went to the client: whatever follows would be
         * read as the rest of it (a FATAL could even become the tail of a row that looks
         * whole). Hang up instead, as PostgreSQL's own connection would have ended.
         */
        connlog_why(s, "server connection to %s %s lost in the middle of a message: %s",
                    session_slot_role(s, slot), node->name, why);
        stats_error(&s->w->stats, "08006", STATS_ERR_OWN);
        session_close(s);
        return;
    }
    if (copy || tx != 'I') {
        session_fatal(s, "08006", "The transaction or COPY is lost; reconnect and retry.",
                      "pgrouter: server connection to %s %s (cluster \"%s\") was lost%s: %s",
                      session_slot_role(s, slot), node->name, s->cluster->name,
                      copy ? " during COPY" : tx != 'I' ? " inside a transaction" : "", why);
        return;
    }
    if (!answered && u->pending && u->rewrite && !u->cr.write && u->prev_status == 'I' &&
        u->retries < s->cfg->health.read_retries) {
        /* Nothing reached the client: run the read again elsewhere, unseen. */
        srvevent_retry_read(s, slot);
        return;
    }
    unit_reset(u);
    session_error(s, 'I', "08006", "The statement did not complete; run it again.",
                  "pgrouter: server connection to %s %s (cluster \"%s\") was lost: %s",
                  session_slot_role(s, slot), node->name, s->cluster->name, why);
    session_set_state(s, SESSION_IDLE);
    frontend_pump(s);
}

void srvevent_lost(struct backend *be, const char *why)
{
    struct session *s = be->owner;
    struct session_unit *u = &s->unit;
    int had_unit = u->target == be && (u->pending || u->sent);
    int mid_message = be->srv.conn.skip > 0;
    char tx = be->status;
    int copy = be->in_copy;
    unsigned slot = be->slot;
    const struct node *node = session_node(s, slot);
    int answered = be->unit_out > be->unit_notices;    /* more than notices reached it */

    log_info("%s: lost %s %s: %s", s->tag, session_slot_role(s, slot), node->name, why);
    if (had_unit)
        nodes_unit_end(s->w->nodes, slot);
    if (had_unit)
        dispatch_query_timer_stop(s);
    borrow_unhold(s, be);
    s->pinned &= ~(1ull << slot);
    if (u->target == be)
        u->target = NULL;
    /*
     * A server that closed or crashed counts against the node; one that ended this
     * session for a reason of the client's own (idle_in_transaction_session_timeout,
     * statement limits...) says nothing about the node.
     */
    if (!be->unit_fatal || breaker_counts(be->fatal_code))
        nodes_failure(s->w->nodes, (int)slot, session_now(s), why);
    pool_discard(be);
    if (s->state == SESSION_CLOSING)
        return;
    if (s->state == SESSION_CONNECT) {
        session_fatal(s, "08006", NULL, "pgrouter: lost primary %s of cluster \"%s\" while "
                      "logging in: %s", node->name, s->cluster->name, why);
        return;
    }
    if (srvevent_lost_waiting(s, be, slot, why))
        return;
    if (!had_unit && tx == 'I')
        return;     /* an idle connection: the next unit borrows another */
    srvevent_lost_unit(s, slot, why, tx, copy, mid_message, answered);
}
