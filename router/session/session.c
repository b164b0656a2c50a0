/*
 * router/session/session.c - the client session: its state machine and lifetime, and errors
 * to the client. What its borrowed servers report (a unit done, a server lost, the catalog
 * read) is in srvevent.c. Routing a unit is in dispatch.c, client messages in frontend.c, the servers it
 * holds in borrow.c, login in login.c and greet.c.
 */
#include "router/session/session.h"

#include <errno.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config/userlist.h"
#include "protocol/extq.h"
#include "router/auth/passthru.h"
#include "protocol/frame.h"
#include "protocol/msg.h"
#include "router/admin/admin.h"
#include "router/auth/authlimit.h"
#include "router/auth/authq.h"
#include "router/pool/cancel.h"
#include "router/core/workers.h"
#include "router/core/connlog.h"
#include "router/core/log.h"
#include "router/sql/sqllex.h"
#include "router/session/borrow.h"
#include "router/session/dispatch.h"
#include "router/session/frontend.h"
#include "router/session/greet.h"
#include "router/session/login.h"
#include "router/session/srvevent.h"
#include "router/session/unit.h"

#define SESSION_CLOSE_DEADLINE_MS 5000  /* a closing client gets this long to read */
#define SESSION_CLOSE_EARLY_MS 1000     /* ...or one that never logged in */

static const char *const session_wait_names[] = {
    "run", "drain", "server", "state", "catalog",
};

static const char *const session_state_names[] = {
    "startup", "auth", "connect", "idle", "in_tx", "closing",
};

uint64_t session_now(const struct session *s)
{
    return uv_now(s->w->loop);
}

void session_set_wait(struct session *s, enum session_wait to)
{
    if (s->wait == to)
        return;
    log_debug("%s: wait %s -> %s", s->tag, session_wait_names[s->wait], session_wait_names[to]);
    s->wait = to;
}

int session_state_allowed(enum session_state from, enum session_state to)
{
    if (to == SESSION_CLOSING || from == to)
        return from != SESSION_CLOSING || to == SESSION_CLOSING;
    switch (from) {
    case SESSION_STARTUP:
        return to == SESSION_AUTH;
    case SESSION_AUTH:
        return to == SESSION_CONNECT || to == SESSION_IDLE;     /* IDLE: admin console */
    case SESSION_CONNECT:
        return to == SESSION_IDLE;
    case SESSION_IDLE:
    case SESSION_IN_TX:
        return to == SESSION_IDLE || to == SESSION_IN_TX;
    case SESSION_CLOSING:
        return 0;
    }
    return 0;
}

void session_set_state(struct session *s, enum session_state to)
{
    enum session_state from = s->state;

    if (from == to)
        return;
    if (from == SESSION_CLOSING) {
        /* An answer whose send failed closed the session under its caller: it stays closed. */
        log_debug("%s: closing, not %s", s->tag, session_state_names[to]);
        return;
    }
    if (!session_state_allowed(from, to))
        log_warn("%s: bug: session state %s -> %s is not a transition pgrouter makes", s->tag,
                 session_state_names[from], session_state_names[to]);
    log_debug("%s: %s -> %s", s->tag, session_state_names[s->state], session_state_names[to]);
    s->state = to;
    if (from == SESSION_STARTUP && to == SESSION_AUTH)
        session_login_timer(s);     /* client_startup_timeout is met */
    else if (to != SESSION_AUTH)
        authlimit_done(s);          /* logged in, or closing (within SESSION_CLOSE_EARLY_MS) */
}

const struct node *session_node(const struct session *s, unsigned slot)
{
    return &s->w->nodes->n[slot];
}

unsigned session_primary_slot(struct session *s)
{
    int id = nodes_primary(s->w->nodes, s->cluster);

    return id < 0 ? 0 : (unsigned)id;
}

const char *session_slot_role(const struct session *s, unsigned slot)
{
    struct nodes_cluster *c = nodes_cluster(s->w->nodes, s->cluster);

    return c != NULL && c->primary == (int)slot ? "primary" : "replica";
}

/* ---- lifetime ---- */

static void session_release(struct session *s)
{
    struct worker *w = s->w;

    if (--s->handles > 0)
        return;
    connlog_end(s);
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        w->sessions = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    if (s->counted)
        worker_client_give(w);
    authlimit_done(s);
    conn_free_buf(&s->client);
    authq_forget(s);
    if (s->auth != NULL) {
        auth_close(s->auth);
        free(s->auth);
    }
    passthru_free(s->passthru);
    unit_free(&s->unit);
    stmt_table_free(&s->stmts);
    free(s->unnamed);
    replay_free(&s->replay);
    replay_free(&s->tx_replay);
    free(s->startup_pkt);
    free(s->deferred_begin);
    free(s->st);
    admin_free(s);
    cfg_unref(s->cfg);
    free(s);
    if (w->draining && w->sessions == NULL && !w->listening)
        uv_stop(w->loop);
}

static void session_timer_closed(uv_handle_t *h)
{
    session_release(h->data);
}

/* The session's timers, for starting and closing them together. */
static uv_timer_t *session_timer(struct session *s, unsigned i)
{
    uv_timer_t *all[] = { &s->login_timer, &s->idle_timer, &s->query_timer,
                          &s->admin_timer, &s->close_timer };

    return i < sizeof(all) / sizeof(all[0]) ? all[i] : NULL;
}

static void session_client_closed(struct conn *c)
{
    struct session *s = c->owner;
    uv_timer_t *t;

    for (unsigned i = 0; (t = session_timer(s, i)) != NULL; i++)
        if (!uv_is_closing((uv_handle_t *)t))
            uv_close((uv_handle_t *)t, session_timer_closed);
    session_release(s);
}

static void session_deadline_cb(uv_timer_t *t)
{
    struct session *s = t->data;

    conn_close(&s->client);
}

void session_close(struct session *s)
{
    int reset;

    if (s->state == SESSION_CLOSING)
        return;
    session_set_state(s, SESSION_CLOSING);
    pool_unwait(&s->waiter);
    if (s->loading_catalog)
        srvevent_catalog_abandon(s);     /* or the catalog would stay 'loading' for good */
    reset = s->cfg->pool_mode == CFG_POOL_SESSION || s->cfg->server_reset_query_always;
    for (unsigned i = 0; i < SESSION_HELD; i++) {
        struct backend *be = s->held[i];

        if (be != NULL)
            borrow_give_back(s, be->slot, reset || (s->pinned & (1ull << be->slot)));
    }
    uv_timer_stop(&s->login_timer);
    uv_timer_stop(&s->idle_timer);
    uv_timer_stop(&s->query_timer);
    uv_timer_stop(&s->admin_timer);
    uv_timer_start(&s->close_timer, session_deadline_cb, s->connlog.logged_in ?
                   SESSION_CLOSE_DEADLINE_MS : SESSION_CLOSE_EARLY_MS, 0);
    conn_want_read(&s->client, 1);  /* to discard late input and see the EOF */
    conn_shutdown(&s->client);
}

static void session_vsend_error(struct session *s, const char *severity, const char *sqlstate,
                                const char *detail, const char *hint, const char *fmt,
                                va_list ap)
{
    struct msgbuf b;
    char text[512];
    uint8_t *data;
    size_t n;

    vsnprintf(text, sizeof(text), fmt, ap);
    connlog_pooler_error(s, severity, sqlstate, text);
    stats_error(&s->w->stats, sqlstate, STATS_ERR_OWN);
    msgbuf_init(&b);
    msg_error(&b, severity, sqlstate, text, detail, hint);
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
    session_vsend_error(s, "FATAL", sqlstate, NULL, hint, fmt, ap);
    va_end(ap);
    session_close(s);
}

/* session_vsend_error's va_list from session_fatal_detail's arguments. */
static void session_send_detail(struct session *s, const char *sqlstate, const char *detail,
                                const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    session_vsend_error(s, "FATAL", sqlstate, detail, NULL, fmt, ap);
    va_end(ap);
}

void session_fatal_detail(struct session *s, const char *sqlstate, const char *detail,
                          const char *message)
{
    if (s->state == SESSION_CLOSING)
        return;
    session_send_detail(s, sqlstate, detail, "%s", message);
    session_close(s);
}

void session_error(struct session *s, char status, const char *sqlstate, const char *hint,
                   const char *fmt, ...)
{
    struct msgbuf b;
    va_list ap;

    va_start(ap, fmt);
    session_vsend_error(s, "ERROR", sqlstate, NULL, hint, fmt, ap);
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
        connlog_why(s, "cannot send to the client");
        session_close(s);
        return -EPIPE;
    }
    return 0;
}

/* ---- client input ---- */

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
        if (s->admin != NULL)
            admin_read(s);      /* the admin console never borrows a server */
        else
            frontend_pump(s);
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

    if (err == UV_EOF)
        connlog_why(s, "client closed the connection without Terminate");
    else
        connlog_why(s, "client connection error: %s", uv_strerror(err));
    session_close(s);
    conn_close(c);
}

void session_cancel_run(struct worker *w, uint32_t pid, uint32_t key,
                        const struct session *s)
{
    struct session *t;

    for (t = w->sessions; t != NULL; t = t->next) {
        if (t != s && t->state != SESSION_CLOSING && t->cancel_pid == pid &&
            t->cancel_key == key)
            break;
    }
    /* No line per request (a flood would fill the log): authlimit_tick sums them up. */
    if (t == NULL) {
        authlimit_cancel_note(w, AUTHLIMIT_CANCEL_UNKNOWN);
    } else if (t->unit.target != NULL && t->unit.target->state != BACKEND_CONNECTING &&
               t->unit.target->owner == t && (t->unit.pending || t->unit.sent)) {
        /* Only the server this client is using right now, never a shared one at rest. */
        struct backend *be = t->unit.target;

        if (!authlimit_cancel_take(w, uv_now(w->loop))) {
            authlimit_cancel_note(w, AUTHLIMIT_CANCEL_DROPPED);
        } else if (cancel_server(w->loop, &be->srv, be->name) < 0) {
            log_warn("%s: cannot start cancel for %s", s != NULL ? s->tag : "cancel", t->tag);
        } else {
            authlimit_cancel_note(w, AUTHLIMIT_CANCEL_SENT);
            log_debug("%s: cancel request for %s, sent to %s", s != NULL ? s->tag : "cancel",
                      t->tag, be->name);
        }
    } else {
        authlimit_cancel_note(w, AUTHLIMIT_CANCEL_IDLE);
    }
}

/*
 * The startup packet was a CancelRequest: cancel its target's running query (on the worker
 * whose key it is: workers_cancel_owner), close s.
 */
static void session_cancel(struct session *s)
{
    unsigned owner = workers_cancel_owner(s->w, s->st->cancel_pid);

    if (owner != s->w->index)
        workers_cancel(s->w, owner, s->st->cancel_pid, s->st->cancel_key);
    else
        session_cancel_run(s->w, s->st->cancel_pid, s->st->cancel_key, s);
    /* PostgreSQL answers a cancel request by closing the connection, and so do we, at
     * once: nothing was sent, and the connection must not linger. */
    session_close(s);
    conn_close(&s->client);
}

static void session_login_timeout_cb(uv_timer_t *t)
{
    struct session *s = t->data;

    if (s->state == SESSION_STARTUP) {
        pthread_mutex_lock(&s->w->authlimit->lock);
        s->w->authlimit->startup_timeouts++;
        pthread_mutex_unlock(&s->w->authlimit->lock);
        authlimit_refuse(s, "08P01", "Raise client_startup_timeout if clients are that slow.",
                         "startup timeout: no startup packet within client_startup_timeout");
        return;
    }
    session_fatal(s, "08P01", "Raise client_login_timeout if clients are slow to log in.",
                  "login timeout: not authenticated within client_login_timeout");
}

void session_login_timer(struct session *s)
{
    const struct cfg *cfg = s->cfg;
    uint64_t spent = (uv_hrtime() - s->connlog.start_ns) / 1000000, limit;

    limit = cfg->client_login_timeout_ms;
    if (s->state == SESSION_STARTUP && cfg->client_startup_timeout_ms > 0 &&
        (limit == 0 || cfg->client_startup_timeout_ms < limit))
        limit = cfg->client_startup_timeout_ms;
    if (s->pending_login < 0 && (limit == 0 || limit > AUTHLIMIT_OVER_MS))
        limit = AUTHLIMIT_OVER_MS;     /* over max_pending_logins: no time to waste */
    uv_timer_stop(&s->login_timer);
    if (limit > 0 && s->state != SESSION_CLOSING)
        uv_timer_start(&s->login_timer, session_login_timeout_cb,
                       spent < limit ? limit - spent : 1, 0);
}

/*
 * The BackendKeyData for s: pid and key both random (64 bits a guesser must hit) and
 * unique among live sessions; pid is never 0. -1 when no random bytes are available.
 */
static int session_cancel_key(struct session *s)
{
    uint32_t k[2];

    for (int tries = 0; tries < 8; tries++) {
        const struct session *o;

        if (RAND_bytes((uint8_t *)k, sizeof(k)) != 1)
            return -1;
        k[0] = workers_cancel_pid(s->w, k[0]);  /* names this worker (workers = N) */
        if (k[0] == 0)
            continue;
        for (o = s->w->sessions; o != NULL; o = o->next)
            if (o != s && o->cancel_pid == k[0] && o->cancel_key == k[1])
                break;
        if (o == NULL) {
            s->cancel_pid = k[0];
            s->cancel_key = k[1];
            return 0;
        }
    }
    return -1;
}

/* ---- events from the lower files (their ops structs) ---- */

/* The server the session waited for is held (or the unit must choose again). */
static void session_resume(struct session *s)
{
    if (s->state == SESSION_CONNECT) {
        greet_client(s);
        return;
    }
    dispatch_unit(s, DISPATCH_RESUME);
    frontend_pump(s);
}

/*
 * The client was greeted. A query sent in the same write as the last authentication
 * message is here already: no read will announce it, so it runs now, as PostgreSQL
 * answers it at once.
 */
static void session_greeted(struct session *s)
{
    if (s->client.recvd > s->client.parsed)
        frontend_pump(s);
}

static const struct login_ops session_login_ops = {
    .authenticated = greet_login,
    .cancel = session_cancel,
};

static const struct greet_ops session_greet_ops = {
    .greeted = session_greeted,
};

static const struct dispatch_ops session_dispatch_ops = {
    .server_lost = srvevent_lost,
};

static const struct borrow_ops session_borrow_ops = {
    .backend = &srvevent_ops,
    .resume = session_resume,
    .answered = frontend_pump,
};

int session_accept(struct worker *w, int fd)
{
    struct session *s = calloc(1, sizeof(*s));
    int rc;

    if (s == NULL) {
        close(fd);
        return UV_ENOMEM;
    }
    rc = conn_init(w->loop, &s->client, s, session_client_read, session_client_error,
                   session_client_closed);
    if (rc < 0) {
        close(fd);
        free(s);
        return rc;
    }
    s->w = w;
    s->login_ops = &session_login_ops;
    s->greet_ops = &session_greet_ops;
    s->dispatch_ops = &session_dispatch_ops;
    s->borrow_ops = &session_borrow_ops;
    s->cfg = cfg_ref(w->cfg);
    s->id = worker_next_id(w);
    s->handles = 1;     /* the client stream, and each timer below */
    stmt_table_init(&s->stmts);
    replay_init(&s->replay);
    replay_init(&s->tx_replay);
    msgbuf_init(&s->unit.out);
    unit_reset(&s->unit);
    snprintf(s->tag, sizeof(s->tag), "c%u", s->id);
    for (unsigned i = 0; session_timer(s, i) != NULL; i++) {
        uv_timer_init(w->loop, session_timer(s, i));
        session_timer(s, i)->data = s;
        s->handles++;
    }
    s->next = w->sessions;
    if (w->sessions != NULL)
        w->sessions->prev = s;
    w->sessions = s;
    rc = conn_open_fd(&s->client, fd);
    if (rc < 0) {
        close(fd);
        session_close(s);
        conn_close(&s->client);
        return rc;
    }
    connlog_accept(s);
    authlimit_accept(s);    /* over max_pending_logins: refused at its startup packet */
    if (session_cancel_key(s) < 0) {
        /* A guessable key would let anyone cancel this client's queries. */
        log_error("%s: no random bytes for a cancel key (RAND_bytes failed); client refused",
                  s->tag);
        session_fatal(s, "58000", "Check the system's entropy source (OpenSSL RAND_bytes).",
                      "pgrouter: could not generate a random cancel key");
        return 0;
    }
    uv_tcp_nodelay(&s->client.tcp, 1);
    session_login_timer(s);
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
        connlog_why(s, "pgrouter shutting down");
        session_fatal(s, "57P01", NULL, "terminating connection due to administrator command");
    }
}
