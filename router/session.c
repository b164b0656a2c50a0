/*
 * router/session.c - the client session: its state machine, and the routing of each unit
 * of work (a simple Query, or extended-protocol messages up to Sync) to the primary or a
 * replica, with transactions pinned, session state and prepared statements carried from
 * server to server, and read-your-writes. The only file that ties classify, route,
 * balance and the server connections together.
 */
#include "router/session.h"

#include <errno.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/extq.h"
#include "protocol/frame.h"
#include "protocol/msg.h"
#include "router/cancel.h"
#include "router/log.h"
#include "router/sqllex.h"

#define SESSION_CLOSE_DEADLINE_MS 5000  /* a closing client gets this long to read */
#define SESSION_DOWN_MS 5000            /* a replica that failed is skipped this long */
#define SESSION_BATCH_MAX (1u << 20)    /* an unsynced batch larger than this goes out */

/* ParameterStatus names PostgreSQL 15 reports at start-up (GUC_REPORT). */
static const char *const session_reported[] = {
    "application_name", "client_encoding", "DateStyle", "default_transaction_read_only",
    "in_hot_standby", "integer_datetimes", "IntervalStyle", "is_superuser",
    "server_encoding", "server_version", "session_authorization",
    "standard_conforming_strings", "TimeZone",
};

static const char *const session_state_names[] = {
    "startup", "auth", "connect", "idle", "in_tx", "copy", "closing",
};

static void session_pump(struct session *s);
static void session_dispatch(struct session *s, int end_unit);

static uint64_t session_now(const struct session *s)
{
    return uv_now(s->w->loop);
}

void session_set_state(struct session *s, enum session_state to)
{
    if (s->state == to)
        return;
    log_debug("%s: %s -> %s", s->tag, session_state_names[s->state], session_state_names[to]);
    s->state = to;
}

/* ---- lifetime ---- */

static void session_unit_reset(struct session_unit *u)
{
    for (size_t i = 0; i < u->n_names; i++)
        free(u->names[i]);
    free(u->session_sql);
    u->session_sql = NULL;
    u->n_names = 0;
    u->open = u->sent = u->have_cr = u->force_primary = u->pending = u->ddl_function = 0;
    u->target = NULL;
    memset(&u->cr, 0, sizeof(u->cr));
}

static void session_release(struct session *s)
{
    struct worker *w = s->w;

    if (--s->handles > 0)
        return;
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        w->sessions = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    if (s->counted)
        w->n_clients--;
    conn_free_buf(&s->client);
    auth_close(&s->auth);
    session_unit_reset(&s->unit);
    free(s->unit.names);
    free(s->unit.kinds);
    stmt_table_free(&s->stmts);
    replay_free(&s->replay);
    free(s->startup_pkt);
    cfg_unref(s->cfg);
    free(s);
    if (w->draining && w->sessions == NULL && !w->listening)
        uv_stop(w->loop);
}

static void session_timer_closed(uv_handle_t *h)
{
    session_release(h->data);
}

static void session_client_closed(struct conn *c)
{
    struct session *s = c->owner;

    if (!uv_is_closing((uv_handle_t *)&s->timer))
        uv_close((uv_handle_t *)&s->timer, session_timer_closed);
    session_release(s);
}

static void session_deadline_cb(uv_timer_t *t)
{
    struct session *s = t->data;

    conn_close(&s->client);
}

/* Detach be from the session (it closes on its own and releases the session then). */
static void session_drop_backend(struct session *s, struct backend *be)
{
    if (s->be[be->slot] == be)
        s->be[be->slot] = NULL;
    if (s->last == be)
        s->last = NULL;
    if (s->unit.target == be)
        s->unit.target = NULL;
    stmt_forget_slot(&s->stmts, be->slot);
    backend_close(be);
}

void session_close(struct session *s)
{
    if (s->state == SESSION_CLOSING)
        return;
    session_set_state(s, SESSION_CLOSING);
    for (unsigned i = 0; i < SESSION_MAX_SLOTS; i++)
        if (s->be[i] != NULL)
            session_drop_backend(s, s->be[i]);
    uv_timer_stop(&s->timer);
    uv_timer_start(&s->timer, session_deadline_cb, SESSION_CLOSE_DEADLINE_MS, 0);
    conn_want_read(&s->client, 1);  /* to discard late input and see the EOF */
    conn_shutdown(&s->client);
}

static void session_vsend_error(struct session *s, const char *severity, const char *sqlstate,
                                const char *hint, const char *fmt, va_list ap)
{
    struct msgbuf b;
    char text[512];
    uint8_t *data;
    size_t n;

    vsnprintf(text, sizeof(text), fmt, ap);
    log_info("%s: %s: %s (%s)", s->tag, severity, text, sqlstate);
    msgbuf_init(&b);
    msg_error(&b, severity, sqlstate, text, NULL, hint);
    if (!b.oom) {
        data = msgbuf_steal(&b, &n);
        conn_send_owned(&s->client, data, n);
    }
    msgbuf_free(&b);
}

void session_fatal(struct session *s, const char *sqlstate, const char *hint,
                   const char *fmt, ...)
{
    va_list ap;

    if (s->state == SESSION_CLOSING)
        return;
    va_start(ap, fmt);
    session_vsend_error(s, "FATAL", sqlstate, hint, fmt, ap);
    va_end(ap);
    session_close(s);
}

/* An ERROR for the current unit, then ReadyForQuery: the client goes on. */
static void session_error(struct session *s, char status, const char *sqlstate,
                          const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void session_error(struct session *s, char status, const char *sqlstate,
                          const char *hint, const char *fmt, ...)
{
    struct msgbuf b;
    va_list ap;

    va_start(ap, fmt);
    session_vsend_error(s, "ERROR", sqlstate, hint, fmt, ap);
    va_end(ap);
    msgbuf_init(&b);
    msg_ready(&b, status);
    session_send(s, &b);
}

int session_send(struct session *s, struct msgbuf *b)
{
    uint8_t *data;
    size_t n;

    if (b->oom) {
        msgbuf_free(b);
        session_fatal(s, "53200", NULL, "out of memory");
        return -ENOMEM;
    }
    if (b->len == 0)
        return 0;
    data = msgbuf_steal(b, &n);
    if (conn_send_owned(&s->client, data, n) < 0) {
        session_close(s);
        return -EPIPE;
    }
    return 0;
}

/* ---- server connections ---- */

static const struct cfg_node *session_slot_node(const struct session *s, unsigned slot)
{
    return slot == 0 ? &s->cluster->primary : &s->cluster->replicas[slot - 1];
}

static const char *session_slot_role(unsigned slot)
{
    return slot == 0 ? "primary" : "replica";
}

/* Append " -c name=value" to opts, escaping as PostgreSQL's options parser expects. */
static void session_add_option(struct msgbuf *opts, const char *name, const char *value)
{
    if (opts->len > 0)
        msgbuf_put8(opts, ' ');
    msgbuf_put(opts, "-c ", 3);
    for (const char *p = name; *p; p++) {
        if (*p == ' ' || *p == '\\')
            msgbuf_put8(opts, '\\');
        msgbuf_put8(opts, (uint8_t)*p);
    }
    msgbuf_put8(opts, '=');
    for (const char *p = value; *p; p++) {
        if (*p == ' ' || *p == '\\')
            msgbuf_put8(opts, '\\');
        msgbuf_put8(opts, (uint8_t)*p);
    }
}

static int session_is_plain_password(const char *secret)
{
    return secret != NULL && strncmp(secret, "SCRAM-SHA-256$", 14) != 0 &&
           !(strlen(secret) == 35 && strncmp(secret, "md5", 3) == 0);
}

static void session_be_ready(struct backend *be, int err, const char *msg);
static void session_be_unit_done(struct backend *be, char status, int had_error);
static void session_be_lost(struct backend *be, const char *why);
static void session_be_closed(struct backend *be);
static int session_be_async_ok(struct backend *be);
static void session_be_row(struct backend *be, const uint8_t *body, size_t n);
static void session_be_captured(struct backend *be, int had_error);

static const struct backend_ops session_backend_ops = {
    .ready = session_be_ready,
    .unit_done = session_be_unit_done,
    .lost = session_be_lost,
    .closed = session_be_closed,
    .async_ok = session_be_async_ok,
    .row = session_be_row,
    .captured = session_be_captured,
};

/* Start a connection for slot with the client's user, database and startup options. */
static int session_open_slot(struct session *s, unsigned slot)
{
    const char *keys[16], *vals[16];
    const struct cfg_user *u = cfg_find_user(s->cfg, s->st.user);
    struct backend *be;
    struct msgbuf opts;
    size_t n = 0;
    int rc;

    msgbuf_init(&opts);
    if (s->st.options != NULL)
        msgbuf_put(&opts, s->st.options, strlen(s->st.options));
    for (size_t i = 0; i < s->st.n_params; i++) {
        const char *name = s->st.params[i].name;
        const char *value = s->st.params[i].value;

        if (strcmp(name, "user") == 0 || strcmp(name, "database") == 0 ||
            strcmp(name, "options") == 0 || strcmp(name, "replication") == 0)
            continue;
        if (strcmp(name, "application_name") == 0 || strcmp(name, "client_encoding") == 0) {
            if (n < 8) {
                keys[n] = name;
                vals[n++] = value;
            }
            continue;
        }
        session_add_option(&opts, name, value);
    }
    msgbuf_put8(&opts, 0);
    be = calloc(1, sizeof(*be));
    if (opts.oom || be == NULL) {
        msgbuf_free(&opts);
        free(be);
        return -ENOMEM;
    }
    keys[n] = "user";
    vals[n++] = s->st.user;
    keys[n] = "dbname";
    vals[n++] = s->st.database != NULL ? s->st.database : s->st.user;
    keys[n] = "options";
    vals[n++] = (const char *)opts.data;
    if (u != NULL && session_is_plain_password(u->secret)) {
        keys[n] = "password";
        vals[n++] = u->secret;
    }
    keys[n] = NULL;
    vals[n] = NULL;
    /* libpq copies every parameter it keeps, so opts can go right after the call. */
    rc = backend_connect(be, s->w->loop, session_slot_node(s, slot), slot, keys, vals,
                         s->cfg->server_connect_timeout_ms, &session_backend_ops, s,
                         &s->client);
    msgbuf_free(&opts);
    if (rc < 0) {
        free(be);
        return rc;
    }
    s->be[slot] = be;
    s->handles++;
    return 0;
}

/* SQLSTATE for a server connection failure, from libpq's message. */
static const char *session_connect_sqlstate(const char *msg)
{
    if (strstr(msg, "database \"") != NULL && strstr(msg, "does not exist") != NULL)
        return "3D000";
    if (strstr(msg, "role \"") != NULL && strstr(msg, "does not exist") != NULL)
        return "28000";
    if (strstr(msg, "password authentication failed") != NULL)
        return "28P01";
    if (strstr(msg, "too many") != NULL)
        return "53300";
    if (strstr(msg, "starting up") != NULL || strstr(msg, "shutting down") != NULL)
        return "57P03";
    return "08006";
}

static int session_is_node_failure(const char *sqlstate)
{
    return strcmp(sqlstate, "08006") == 0 || strcmp(sqlstate, "57P03") == 0 ||
           strcmp(sqlstate, "53300") == 0;
}

/* The first connection (to the primary) is up: greet the client. */
static void session_greet(struct session *s, struct backend *be)
{
    struct msgbuf b;
    const char *db = s->st.database != NULL ? s->st.database : s->st.user;

    if (s->cfg->volatile_functions_are_writes && s->cat == NULL) {
        s->cat = catalog_db(&s->w->catalog, db, &s->w->routing);
        if (s->cat != NULL && catalog_stale(s->cat, session_now(s), s->cfg->volatile_refresh_ms)
            && !s->cat->building_active) {
            const char *q = catalog_query();

            msgbuf_init(&b);
            msg_raw(&b, 'Q', q, strlen(q) + 1);
            if (!b.oom && backend_send(be, b.data, b.len) == 0 &&
                backend_push_unit(be, BACKEND_SINK_CAPTURE) == 0) {
                catalog_begin(s->cat);
                s->loading_catalog = 1;
                msgbuf_free(&b);
                return;     /* greeted from session_be_captured */
            }
            msgbuf_free(&b);
        }
    }

    msgbuf_init(&b);
    msg_auth(&b, MSG_AUTH_OK, NULL, 0);
    for (size_t i = 0; i < sizeof(session_reported) / sizeof(session_reported[0]); i++) {
        const char *v = server_param(&be->srv, session_reported[i]);

        if (v != NULL)
            msg_param_status(&b, session_reported[i], v);
    }
    msg_backend_key(&b, s->cancel_pid, s->cancel_key);
    msg_ready(&b, 'I');
    if (session_send(s, &b) < 0)
        return;
    uv_timer_stop(&s->timer);
    s->last = be;
    session_set_state(s, SESSION_IDLE);
    conn_want_read(&s->client, 1);
}

static void session_be_ready(struct backend *be, int err, const char *msg)
{
    struct session *s = be->owner;
    const struct cfg_node *node = be->node;
    unsigned slot = be->slot;

    if (err == 0) {
        log_info("%s: connected to %s %s (backend pid %u)", s->tag, session_slot_role(slot),
                 node->name, be->srv.be_pid);
        balance_mark_up(&s->w->routing.bal, node);
        backend_start(be);
        if (s->state == SESSION_CONNECT) {
            session_greet(s, be);
        } else if (s->wait == SESSION_WAIT_CONNECT && s->wait_slot == (int)slot) {
            s->wait = SESSION_RUN;
            session_dispatch(s, -1);
            session_pump(s);
        }
        return;
    }
    const char *code = session_connect_sqlstate(msg);
    session_drop_backend(s, be);
    if (session_is_node_failure(code) && slot > 0)
        balance_mark_down(&s->w->routing.bal, node, session_now(s), SESSION_DOWN_MS, msg);
    if (s->state == SESSION_CONNECT) {
        if (session_is_node_failure(code))
            session_fatal(s, code, "Check that the server is running and accepts TCP "
                          "connections; pgrouter tries again for the next client.",
                          "pgrouter: cannot connect to primary %s of cluster \"%s\": %s",
                          node->name, s->cluster->name, msg);
        else
            session_fatal(s, code, NULL, "%s (server %s)", msg, node->name);
        return;
    }
    if (s->wait != SESSION_WAIT_CONNECT || s->wait_slot != (int)slot)
        return;
    s->wait = SESSION_RUN;
    if (slot > 0 && session_is_node_failure(code)) {
        /* The unit has not gone out: choose again (another replica, or the primary). */
        session_dispatch(s, -1);
        session_pump(s);
        return;
    }
    conn_discard(&s->client);
    session_unit_reset(&s->unit);
    session_error(s, 'I', code, "Check that the server is running; the next statement "
                  "tries again.", "pgrouter: cannot connect to %s %s of cluster \"%s\": %s",
                  session_slot_role(slot), node->name, s->cluster->name, msg);
    session_pump(s);
}

static void session_be_row(struct backend *be, const uint8_t *body, size_t n)
{
    struct session *s = be->owner;

    if (s->loading_catalog && s->cat != NULL)
        catalog_row(s->cat, body, n);
}

static void session_be_captured(struct backend *be, int had_error)
{
    struct session *s = be->owner;

    if (!s->loading_catalog)
        return;
    s->loading_catalog = 0;
    if (s->cat != NULL && catalog_finish(s->cat, &s->w->routing, !had_error,
                                         session_now(s)) < 0) {
        session_fatal(s, "53200", NULL, "out of memory");
        return;
    }
    if (s->state == SESSION_CONNECT)
        session_greet(s, be);
}

static void session_be_closed(struct backend *be)
{
    struct session *s = be->owner;

    free(be);
    session_release(s);
}

static int session_be_async_ok(struct backend *be)
{
    struct session *s = be->owner;

    /* Only between units: otherwise the client's stream may be mid-message. */
    return !s->unit.pending && !s->unit.sent && s->state != SESSION_CLOSING;
}

/* Is the statement text one of RESET ALL, DISCARD ALL, DEALLOCATE [PREPARE] ALL? */
static int session_is_reset_all(const char *sql, size_t len)
{
    struct sqllex lx;
    struct sqllex_token t1, t2, t3;

    sqllex_init(&lx, sql, len, 0, NULL, NULL);
    if (sqllex_next(&lx, &t1) != SQLLEX_IDENT || sqllex_next(&lx, &t2) != SQLLEX_IDENT)
        return 0;
    if ((sqllex_is(&t1, "reset") || sqllex_is(&t1, "discard")) && sqllex_is(&t2, "all"))
        return 1;
    if (sqllex_is(&t1, "deallocate")) {
        if (sqllex_is(&t2, "all"))
            return 1;
        return sqllex_is(&t2, "prepare") && sqllex_next(&lx, &t3) == SQLLEX_IDENT &&
               sqllex_is(&t3, "all");
    }
    return 0;
}

/* Does the text create or change a function (so the catalog must be read again)? */
static int session_is_function_ddl(const char *sql, size_t len)
{
    struct sqllex lx;
    struct sqllex_token t;
    int create = 0;

    sqllex_init(&lx, sql, len, 0, NULL, NULL);
    while (sqllex_next(&lx, &t) == SQLLEX_IDENT) {
        if (sqllex_is(&t, "create") || sqllex_is(&t, "alter") || sqllex_is(&t, "drop"))
            create = 1;
        else if (!create)
            return 0;
        else if (sqllex_is(&t, "function") || sqllex_is(&t, "procedure"))
            return 1;
        else if (!sqllex_is(&t, "or") && !sqllex_is(&t, "replace"))
            return 0;
    }
    return 0;
}

static void session_be_unit_done(struct backend *be, char status, int had_error)
{
    struct session *s = be->owner;
    struct session_unit *u = &s->unit;

    if (be != u->target || !u->pending) {
        log_warn("%s: unexpected ReadyForQuery from %s", s->tag, be->node->name);
        return;
    }
    if (be->slot == 0 && status == 'I' && s->cfg->ryw_window_ms > 0 &&
        (u->cr.write || u->prev_status != 'I'))
        s->ryw_until_ms = session_now(s) + s->cfg->ryw_window_ms;
    if (!had_error) {
        if (s->cat != NULL && u->ddl_function)
            s->cat->loaded_at_ms = 0;   /* the next client on this database reloads it */
        if ((u->cr.flags & CLASSIFY_F_STICKY) || u->force_primary) {
            if (!s->sticky)
                log_info("%s: pinned to the primary for the rest of the session (%s)", s->tag,
                         u->force_primary ? "multi-statement string with session state"
                                          : u->cr.reason);
            s->sticky = 1;
        }
        if (u->cr.flags & CLASSIFY_F_SET_ROLE) {
            s->role = u->cr.set_role == CLASSIFY_ROLE_PRIMARY ? ROUTE_ROLE_PRIMARY
                      : u->cr.set_role == CLASSIFY_ROLE_REPLICA ? ROUTE_ROLE_REPLICA
                      : ROUTE_ROLE_AUTO;
        }
        if (u->session_sql != NULL) {
            size_t len = strlen(u->session_sql);
            int reset = session_is_reset_all(u->session_sql, len);
            unsigned v = replay_add(&s->replay, u->session_sql, len, reset);

            if (v > 0 && be->state_version == v - 1)
                be->state_version = v;
            if (reset && (strncasecmp(u->session_sql, "reset", 5) != 0))
                stmt_clear(&s->stmts);
        }
    }
    session_set_state(s, status == 'I' ? SESSION_IDLE : SESSION_IN_TX);
    session_unit_reset(u);
    if (s->wait == SESSION_WAIT_DRAIN) {
        s->wait = SESSION_RUN;
        session_dispatch(s, -1);
    }
    session_pump(s);
}

static void session_be_lost(struct backend *be, const char *why)
{
    struct session *s = be->owner;
    struct session_unit *u = &s->unit;
    int had_unit = u->target == be && (u->pending || u->sent);
    int mid_message = be->srv.conn.skip > 0;
    char tx = be->status;
    int copy = be->in_copy;
    unsigned slot = be->slot;
    const struct cfg_node *node = be->node;

    log_info("%s: lost %s %s: %s", s->tag, session_slot_role(slot), node->name, why);
    session_drop_backend(s, be);
    if (slot > 0)
        balance_mark_down(&s->w->routing.bal, node, session_now(s), SESSION_DOWN_MS, why);
    if (s->state == SESSION_CLOSING)
        return;
    if (s->state == SESSION_CONNECT) {
        session_fatal(s, "08006", NULL, "pgrouter: lost primary %s of cluster \"%s\" while "
                      "logging in: %s", node->name, s->cluster->name, why);
        return;
    }
    if (!had_unit)
        return;     /* an idle connection: the next unit opens a new one */
    if (mid_message || copy || tx != 'I') {
        session_fatal(s, "08006", "The transaction or COPY is lost; reconnect and retry.",
                      "pgrouter: server connection to %s %s (cluster \"%s\") was lost%s: %s",
                      session_slot_role(slot), node->name, s->cluster->name,
                      copy ? " during COPY" : tx != 'I' ? " inside a transaction" : "", why);
        return;
    }
    session_unit_reset(u);
    session_error(s, 'I', "08006", "The statement did not complete; run it again.",
                  "pgrouter: server connection to %s %s (cluster \"%s\") was lost: %s",
                  session_slot_role(slot), node->name, s->cluster->name, why);
    session_set_state(s, SESSION_IDLE);
    session_pump(s);
}

void session_login(struct session *s)
{
    int rc;

    session_set_state(s, SESSION_CONNECT);
    conn_want_read(&s->client, 0);
    if (s->role == ROUTE_ROLE_AUTO)
        s->role = s->cfg->default_role == CFG_ROLE_PRIMARY ? ROUTE_ROLE_PRIMARY
                  : s->cfg->default_role == CFG_ROLE_REPLICA ? ROUTE_ROLE_REPLICA
                  : ROUTE_ROLE_AUTO;
    rc = session_open_slot(s, 0);
    if (rc < 0)
        session_fatal(s, "08006", NULL, "cannot start a connection to %s: %s",
                      s->cluster->primary.name, strerror(-rc));
}

/* ---- routing a unit ---- */

static struct backend *session_pinned(const struct session *s)
{
    for (unsigned i = 0; i < SESSION_MAX_SLOTS; i++)
        if (s->be[i] != NULL && s->be[i]->status != 'I')
            return s->be[i];
    return NULL;
}

static int session_unit_add_name(struct session_unit *u, const char *name, enum session_ref k)
{
    if (u->n_names == u->cap_names) {
        size_t cap = u->cap_names ? u->cap_names * 2 : 8;
        char **names = realloc(u->names, cap * sizeof(*names));

        if (names == NULL)
            return -ENOMEM;
        u->names = names;
        uint8_t *kinds = realloc(u->kinds, cap);
        if (kinds == NULL)
            return -ENOMEM;
        u->kinds = kinds;
        u->cap_names = cap;
    }
    u->names[u->n_names] = strdup(name);
    if (u->names[u->n_names] == NULL)
        return -ENOMEM;
    u->kinds[u->n_names++] = (uint8_t)k;
    return 0;
}

static void session_unit_merge(struct session_unit *u, const struct classify_result *cr)
{
    if (!u->have_cr) {
        u->cr = *cr;
        u->have_cr = 1;
        return;
    }
    if (cr->write && !u->cr.write)
        u->cr.reason = cr->reason;
    u->cr.write |= cr->write;
    u->cr.certain |= cr->certain;
    u->cr.flags |= cr->flags;
    u->cr.hint_conflict |= cr->hint_conflict;
    u->cr.n_statements += cr->n_statements;
    if (cr->hint == CLASSIFY_ROLE_PRIMARY || u->cr.hint == CLASSIFY_ROLE_NONE)
        u->cr.hint = cr->hint;
    if (cr->flags & CLASSIFY_F_SET_ROLE)
        u->cr.set_role = cr->set_role;
}

/* Classify sql and fold it into the unit; remember session-state text to record. */
static void session_unit_classify(struct session *s, const char *sql, size_t len)
{
    struct classify_result cr;
    struct session_unit *u = &s->unit;

    classify_sql(s->cat != NULL ? &s->cat->opts : &s->w->routing.opts, sql, len, &cr);
    if (cr.write && s->cat != NULL && session_is_function_ddl(sql, len))
        u->ddl_function = 1;
    if ((cr.flags & CLASSIFY_F_SESSION) && cr.n_statements > 1)
        u->force_primary = 1;   /* cannot replay part of a string: stay on the primary */
    else if ((cr.flags & CLASSIFY_F_SESSION) && !cr.write && u->session_sql == NULL) {
        u->session_sql = malloc(len + 1);
        if (u->session_sql != NULL) {
            memcpy(u->session_sql, sql, len);
            u->session_sql[len] = '\0';
        }
    }
    session_unit_merge(u, &cr);
}

/* Which slot a decision means now; -1 = the transaction's server is gone. */
static int session_resolve(struct session *s, const struct route_decision *d)
{
    struct backend *pin;
    int r;

    switch (d->target) {
    case ROUTE_PRIMARY:
    case ROUTE_ERROR:
        return 0;
    case ROUTE_REPLICA:
        r = balance_pick_replica(&s->w->routing.bal, s->cluster, session_now(s));
        return r < 0 ? 0 : r + 1;
    case ROUTE_PINNED:
        pin = session_pinned(s);
        return pin != NULL ? (int)pin->slot : 0;
    case ROUTE_ANY:
        return s->last != NULL ? (int)s->last->slot : 0;
    }
    return 0;
}

/* Bring be up to date with the client's session state: replays it as dropped units. */
static int session_replay_state(struct session *s, struct backend *be)
{
    struct msgbuf b;
    const struct replay *r = &s->replay;
    unsigned n = 0;

    if (be->state_version >= r->version)
        return 0;
    msgbuf_init(&b);
    for (size_t i = 0; i < r->n; i++) {
        if (r->items[i].version <= be->state_version)
            continue;
        /* One Query each: DISCARD ALL refuses to run inside a multi-statement string. */
        msg_raw(&b, 'Q', r->items[i].sql, strlen(r->items[i].sql) + 1);
        n++;
    }
    if (b.oom || backend_send(be, b.data, b.len) < 0) {
        msgbuf_free(&b);
        return -ENOMEM;
    }
    msgbuf_free(&b);
    for (unsigned i = 0; i < n; i++)
        backend_push_unit(be, BACKEND_SINK_DROP);
    be->state_version = r->version;
    log_debug("%s: replayed %u session statements on %s", s->tag, n, be->node->name);
    return 0;
}

/* Prepare on be the named statements the unit uses but be has not seen. */
static int session_prepare_names(struct session *s, struct backend *be)
{
    struct session_unit *u = &s->unit;
    uint32_t bit = 1u << be->slot;
    struct msgbuf b;
    int need_sync = 0;

    msgbuf_init(&b);
    for (size_t i = 0; i < u->n_names; i++) {
        struct stmt *e = stmt_get(&s->stmts, u->names[i]);
        int parsed_here = 0;

        if (e == NULL)
            continue;
        for (size_t j = 0; j < i; j++)
            if (u->kinds[j] == SESSION_REF_PARSE && strcmp(u->names[j], u->names[i]) == 0)
                parsed_here = 1;
        if (u->kinds[i] == SESSION_REF_CLOSE || parsed_here)
            continue;
        if ((e->stale & bit) && e->name[0] != '\0') {
            /* An older statement under this name: close it before (re)preparing. */
            size_t at = b.len;
            msgbuf_put8(&b, 'S');
            msgbuf_putstr(&b, e->name);
            uint8_t *body = NULL;
            size_t blen = b.len - at;
            if (!b.oom) {
                body = malloc(blen);
                if (body != NULL)
                    memcpy(body, b.data + at, blen);
            }
            b.len = at;
            if (body != NULL)
                msg_raw(&b, 'C', body, blen);
            free(body);
            e->stale &= ~bit;
            need_sync = 1;
        }
        if (u->kinds[i] == SESSION_REF_PARSE)
            continue;
        if (!(e->on & bit) && !e->closed) {
            msgbuf_put(&b, e->parse, e->parse_len);
            e->on |= bit;
            need_sync = 1;
        }
    }
    if (!need_sync) {
        msgbuf_free(&b);
        return 0;
    }
    msg_raw(&b, 'S', NULL, 0);
    if (b.oom || backend_send(be, b.data, b.len) < 0) {
        msgbuf_free(&b);
        return -ENOMEM;
    }
    msgbuf_free(&b);
    log_debug("%s: prepared statements again on %s", s->tag, be->node->name);
    return backend_push_unit(be, BACKEND_SINK_DROP);
}

/* After the unit went to be: record which statements be now holds. */
static void session_note_names(struct session *s, struct backend *be)
{
    struct session_unit *u = &s->unit;
    uint32_t bit = 1u << be->slot;

    for (size_t i = 0; i < u->n_names; i++) {
        struct stmt *e = stmt_get(&s->stmts, u->names[i]);

        if (e == NULL)
            continue;
        if (u->kinds[i] == SESSION_REF_PARSE) {
            e->on |= bit;
            e->stale &= ~bit;
        } else if (u->kinds[i] == SESSION_REF_CLOSE) {
            e->on &= ~bit;
            e->stale &= ~bit;
            stmt_close(&s->stmts, u->names[i]);
        }
    }
}

/*
 * Send the unit assembled in [sent, parsed) of the client buffer. end_unit: 1 when its
 * last message (Query or Sync) is included, 0 for a Flush, -1 to resume a held unit.
 */
static void session_dispatch(struct session *s, int end_unit)
{
    struct session_unit *u = &s->unit;
    struct route_decision d;
    struct route_state rs;
    struct backend *be;
    int slot;

    if (end_unit >= 0)
        u->pending = end_unit;
    if (u->sent && u->target != NULL) {
        be = u->target;     /* the rest of a batch that already went out */
        goto send;
    }
    /* Decide only when nothing is in flight, so the transaction status is known. */
    if (u->pending && s->last != NULL && backend_client_pending(s->last) > 0) {
        s->wait = SESSION_WAIT_DRAIN;
        conn_want_read(&s->client, 0);
        return;
    }
    memset(&rs, 0, sizeof(rs));
    rs.in_tx = session_pinned(s) != NULL;
    rs.sticky = s->sticky;
    rs.ryw = s->ryw_until_ms > session_now(s);
    rs.role = s->role;
    if (u->force_primary) {
        d.target = ROUTE_PRIMARY;
        d.reason = "session state in a multi-statement string";
        d.sqlstate = NULL;
        if (rs.in_tx)
            d.target = ROUTE_PINNED;
    } else {
        route_decide(&rs, &u->cr, &d);
    }
    if (d.target == ROUTE_ERROR) {
        struct backend *pin = session_pinned(s);

        conn_discard(&s->client);
        session_unit_reset(u);
        session_error(s, pin != NULL ? pin->status : 'I', d.sqlstate,
                      "Remove the replica hint or set pgrouter.role = auto.",
                      "pgrouter: %s", d.reason);
        return;
    }
    slot = session_resolve(s, &d);
    if (slot >= (int)SESSION_MAX_SLOTS)
        slot = 0;
    be = s->be[slot];
    if (be == NULL) {
        int rc = session_open_slot(s, (unsigned)slot);

        if (rc < 0) {
            conn_discard(&s->client);
            session_unit_reset(u);
            session_error(s, 'I', "08006", NULL, "pgrouter: cannot start a connection: %s",
                          strerror(-rc));
            return;
        }
        be = s->be[slot];
    }
    if (!be->ready) {
        s->wait = SESSION_WAIT_CONNECT;
        s->wait_slot = slot;
        conn_want_read(&s->client, 0);
        return;
    }
    log_debug("%s: unit -> %s %s (%s)", s->tag, session_slot_role(be->slot), be->node->name,
              d.reason);
    if (session_replay_state(s, be) < 0 || session_prepare_names(s, be) < 0) {
        session_fatal(s, "53200", NULL, "out of memory");
        return;
    }
    u->target = be;
    u->prev_status = be->status;
    if (backend_push_unit(be, BACKEND_SINK_CLIENT) < 0) {
        session_fatal(s, "54000", NULL, "too many queued units");
        return;
    }
    u->sent = 1;
    s->last = be;
send:
    if (conn_forward(&s->client, &be->srv.conn) < 0) {
        session_fatal(s, "08006", NULL, "cannot write to server %s", be->node->name);
        return;
    }
    session_note_names(s, be);
    conn_want_read(&s->client, 1);
}

/* ---- client input ---- */

static int session_client_stream_ok(uint8_t type)
{
    return type == 'd';     /* CopyData may be large; everything else is held whole */
}

static int session_message(struct session *s, const struct frame *f)
{
    struct session_unit *u = &s->unit;
    const char *name, *query, *portal;
    size_t qlen;
    char kind;

    switch (f->type) {
    case 'Q':
        /* A NUL-terminated string: classify up to the terminator. */
        qlen = f->body_len > 0 ? strnlen((const char *)f->body, f->body_len) : 0;
        session_unit_classify(s, (const char *)f->body, qlen);
        u->open = 1;
        session_dispatch(s, 1);
        return 0;
    case 'P':
        if (extq_parse(f->body, f->body_len, &name, &query, &qlen) < 0)
            return -EPROTO;
        session_unit_classify(s, query, qlen);
        {
            struct stmt *e = stmt_put(&s->stmts, name, f->body - FRAME_HDR, f->len,
                                      u->cr.write, u->cr.flags);
            if (e == NULL || session_unit_add_name(u, name, SESSION_REF_PARSE) < 0)
                return -ENOMEM;
            if (name[0] == '\0')
                e->stale = 0;   /* a Parse of the unnamed statement replaces it anywhere */
        }
        u->open = 1;
        return 0;
    case 'B':
        if (extq_bind(f->body, f->body_len, &portal, &name) < 0)
            return -EPROTO;
        {
            struct stmt *e = stmt_get(&s->stmts, name);
            struct classify_result cr;

            if (e != NULL) {
                memset(&cr, 0, sizeof(cr));
                cr.write = e->write;
                cr.flags = e->flags & ~(CLASSIFY_F_SET_ROLE | CLASSIFY_F_SET_TENANT);
                cr.reason = e->write ? "prepared write" : "prepared read";
                cr.n_statements = 1;
                session_unit_merge(u, &cr);
            }
            if (session_unit_add_name(u, name, SESSION_REF_USE) < 0)
                return -ENOMEM;
        }
        u->open = 1;
        return 0;
    case 'D':
    case 'C':
        if (extq_target(f->body, f->body_len, &kind, &name) < 0)
            return -EPROTO;
        if (kind == 'S' && session_unit_add_name(u, name, f->type == 'C' ? SESSION_REF_CLOSE
                                                                           : SESSION_REF_USE) < 0)
            return -ENOMEM;
        u->open = 1;
        return 0;
    case 'E':
        u->open = 1;
        return 0;
    case 'S':
        if (!u->have_cr) {
            /* A Sync alone (or Describe/Close only): any server will do. */
            struct classify_result cr;

            memset(&cr, 0, sizeof(cr));
            cr.flags = CLASSIFY_F_EMPTY;
            cr.reason = "sync";
            session_unit_merge(u, &cr);
        }
        u->open = 1;
        session_dispatch(s, 1);
        return 0;
    case 'H':
        if (!u->have_cr) {
            struct classify_result cr;

            memset(&cr, 0, sizeof(cr));
            cr.flags = CLASSIFY_F_EMPTY;
            cr.reason = "flush";
            session_unit_merge(u, &cr);
        }
        u->open = 1;
        session_dispatch(s, 0);
        return 0;
    case 'F':
        {
            struct classify_result cr;

            memset(&cr, 0, sizeof(cr));
            cr.write = 1;
            cr.reason = "function call";
            cr.n_statements = 1;
            session_unit_merge(u, &cr);
        }
        u->open = 1;
        session_dispatch(s, 1);
        return 0;
    }
    return -EPROTO;
}

/* Frame and route client messages until input runs out or a unit must wait. */
static void session_pump(struct session *s)
{
    struct conn *c = &s->client;
    struct session_unit *u = &s->unit;
    struct frame f;
    int rc;

    while (s->wait == SESSION_RUN && (s->state == SESSION_IDLE || s->state == SESSION_IN_TX ||
                                      s->state == SESSION_COPY)) {
        switch (conn_next(c, s->cfg->max_packet_size, session_client_stream_ok, &f)) {
        case CONN_SCAN_MSG:
            break;
        case CONN_SCAN_STREAM:
            /* The start of a large CopyData: it belongs to the server in COPY. */
            if (u->target != NULL)
                conn_forward(c, &u->target->srv.conn);
            else
                conn_discard(c);
            continue;
        case CONN_SCAN_MORE:
            if (c->skip > 0 || (u->target != NULL && u->target->in_copy)) {
                if (u->target != NULL)
                    conn_forward(c, &u->target->srv.conn);
                else
                    conn_discard(c);
            } else if (u->open && c->parsed - c->sent > SESSION_BATCH_MAX) {
                /* A long batch without Sync: send what we have, to the primary. */
                u->force_primary = 1;
                session_dispatch(s, 0);
            }
            return;
        case CONN_SCAN_BAD:
            session_fatal(s, "08P01", NULL,
                          "invalid message length (message type '%c', limit "
                          "max_packet_size = %zu bytes)",
                          f.type >= 32 && f.type < 127 ? f.type : '?',
                          s->cfg->max_packet_size);
            return;
        }
        if (f.type == 'X') {
            conn_consume(c, f.len);
            conn_discard(c);
            session_close(s);   /* closing each server sends its Terminate */
            return;
        }
        if (f.type == 'd' || f.type == 'c' || f.type == 'f') {
            /* COPY data goes to the server running the COPY, never starts a unit. */
            conn_consume(c, f.len);
            if (u->target != NULL && (u->pending || u->sent))
                conn_forward(c, &u->target->srv.conn);
            else
                conn_discard(c);
            continue;
        }
        if (u->pending) {
            /* The previous unit is still running: its answer comes first. */
            s->wait = SESSION_WAIT_DRAIN;
            conn_want_read(c, 0);
            return;
        }
        conn_consume(c, f.len);
        rc = session_message(s, &f);
        if (rc == -ENOMEM) {
            session_fatal(s, "53200", NULL, "out of memory");
            return;
        }
        if (rc < 0) {
            session_fatal(s, "08P01", NULL, "invalid frontend message (type '%c')",
                          f.type >= 32 && f.type < 127 ? f.type : '?');
            return;
        }
    }
}

static void session_client_read(struct conn *c)
{
    struct session *s = c->owner;

    switch (s->state) {
    case SESSION_STARTUP:
    case SESSION_AUTH:
        login_read(s);
        break;
    case SESSION_CONNECT:
        /* The client should wait for AuthenticationOk; keep its bytes for later. */
        conn_want_read(c, 0);
        break;
    case SESSION_IDLE:
    case SESSION_IN_TX:
    case SESSION_COPY:
        session_pump(s);
        break;
    case SESSION_CLOSING:
        conn_consume(c, c->recvd - c->parsed);
        conn_discard(c);
        break;
    }
}

static void session_client_error(struct conn *c, int err)
{
    struct session *s = c->owner;

    if (s->state != SESSION_CLOSING && s->state != SESSION_STARTUP)
        log_info("%s: client closed the connection%s%s", s->tag,
                 err == UV_EOF ? "" : ": ", err == UV_EOF ? "" : uv_strerror(err));
    session_close(s);
    conn_close(c);
}

void session_cancel(struct session *s)
{
    struct session *t;

    for (t = s->w->sessions; t != NULL; t = t->next) {
        if (t != s && t->cancel_pid == s->st.cancel_pid && t->cancel_key == s->st.cancel_key)
            break;
    }
    if (t == NULL) {
        log_info("%s: cancel request for unknown key (pid %u)", s->tag, s->st.cancel_pid);
    } else if (t->unit.target != NULL && t->unit.target->ready) {
        struct backend *be = t->unit.target;

        log_info("%s: cancel request for %s, sent to %s", s->tag, t->tag, be->node->name);
        if (cancel_send(s->w->loop, be->srv.pg, be->node->name) < 0)
            log_warn("%s: cannot start cancel for %s", s->tag, t->tag);
    } else {
        log_info("%s: cancel request for %s, which runs no query", s->tag, t->tag);
    }
    /* PostgreSQL answers a cancel request by closing the connection, and so do we. */
    session_close(s);
}

static void session_login_timeout_cb(uv_timer_t *t)
{
    struct session *s = t->data;

    session_fatal(s, "08P01", "Raise client_login_timeout if clients are slow to log in.",
                  "login timeout: not authenticated within client_login_timeout");
}

int session_accept(struct worker *w)
{
    struct session *s = calloc(1, sizeof(*s));
    int rc;

    if (s == NULL)
        return -ENOMEM;
    rc = conn_init(w->loop, &s->client, s, session_client_read, session_client_error,
                   session_client_closed);
    if (rc < 0) {
        free(s);
        return rc;
    }
    s->w = w;
    s->cfg = cfg_ref(w->cfg);
    s->id = ++w->next_id;
    s->handles = 2;     /* client stream and timer */
    stmt_table_init(&s->stmts);
    replay_init(&s->replay);
    snprintf(s->tag, sizeof(s->tag), "c%u", s->id);
    uv_timer_init(w->loop, &s->timer);
    s->timer.data = s;
    s->next = w->sessions;
    if (w->sessions != NULL)
        w->sessions->prev = s;
    w->sessions = s;
    /* The BackendKeyData we hand out: our own, never the server's. */
    s->cancel_pid = s->id;
    if (RAND_bytes((uint8_t *)&s->cancel_key, sizeof(s->cancel_key)) != 1)
        s->cancel_key = (uint32_t)rand();
    rc = uv_accept((uv_stream_t *)&w->listener, (uv_stream_t *)&s->client.tcp);
    if (rc < 0) {
        session_close(s);
        conn_close(&s->client);
        return rc;
    }
    uv_tcp_nodelay(&s->client.tcp, 1);
    if (s->cfg->client_login_timeout_ms > 0)
        uv_timer_start(&s->timer, session_login_timeout_cb, s->cfg->client_login_timeout_ms, 0);
    conn_want_read(&s->client, 1);
    return 0;
}

void session_close_all(struct worker *w)
{
    struct session *s, *next;

    for (s = w->sessions; s != NULL; s = next) {
        next = s->next;
        if (s->state == SESSION_CLOSING)
            continue;
        session_fatal(s, "57P01", NULL, "terminating connection due to administrator command");
    }
}
