/*
 * router/pool/backend.c - a session's server connection: relays responses of client units to
 * the client as the bytes read, drops the responses of the proxy's own replays, tracks
 * ReadyForQuery, COPY and errors, and never relays a server's FATAL (the session decides
 * what the client hears when a server goes away). Its life is enum backend_state; events
 * go up through be->pool_ops (the pool) and be->ops (the borrower), never by name.
 */
#include "router/pool/backend.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/frame.h"
#include "protocol/msg.h"
#include "router/core/log.h"
#include "router/pool/srvlogin.h"

const char *backend_state_name(enum backend_state st)
{
    switch (st) {
    case BACKEND_CONNECTING:
        return "connecting";
    case BACKEND_READY:
        return "ready";
    case BACKEND_LOST:
        return "lost";
    case BACKEND_CLOSING:
        return "closing";
    case BACKEND_CLOSED:
        return "closed";
    }
    return "?";
}

int backend_state_ok(enum backend_state from, enum backend_state to)
{
    switch (from) {
    case BACKEND_CONNECTING:
        return to == BACKEND_READY || to == BACKEND_CLOSING;
    case BACKEND_READY:
        return to == BACKEND_LOST || to == BACKEND_CLOSING;
    case BACKEND_LOST:
        return to == BACKEND_CLOSING;
    case BACKEND_CLOSING:
        return to == BACKEND_CLOSED;
    case BACKEND_CLOSED:
        return 0;
    }
    return 0;
}

void backend_set_state(struct backend *be, enum backend_state to)
{
    if (be->state == to)
        return;
    assert(backend_state_ok(be->state, to));
    log_debug("server %s (pid %u): %s -> %s", be->name != NULL ? be->name : "?",
              (unsigned)be->srv.be_pid, backend_state_name(be->state), backend_state_name(to));
    be->state = to;
}

int backend_ready(const struct backend *be)
{
    return be->state == BACKEND_READY;
}

int backend_lost(const struct backend *be)
{
    switch (be->state) {
    case BACKEND_CONNECTING:
    case BACKEND_READY:
        return 0;
    case BACKEND_LOST:
    case BACKEND_CLOSING:
    case BACKEND_CLOSED:
        return 1;
    }
    return 1;
}

static int backend_stream_ok(uint8_t type)
{
    /* Only what the proxy inspects must arrive whole; rows and copy data stream through. */
    return type != 'Z' && type != 'E' && type != 'G' && type != 'H' && type != 'W' &&
           type != 'c' && type != 'S' && type != '1' && type != '3';
}

/* standard_conforming_strings from a ParameterStatus body (name NUL value NUL). */
static void backend_param(struct backend *be, const uint8_t *body, size_t n)
{
    static const char name[] = "standard_conforming_strings";
    const char *value = (const char *)body + sizeof(name);

    if (n < sizeof(name) + 1 || memcmp(body, name, sizeof(name)) != 0 ||
        memchr(value, '\0', n - sizeof(name)) == NULL)
        return;
    be->escape_strings = strcmp(value, "off") == 0;
}

static void backend_server_ready(struct server *srv, const struct pqloop_error *err)
{
    struct backend *be = srv->owner;

    if (err == NULL) {
        backend_set_state(be, BACKEND_READY);
        be->status = 'I';
    }
    be->pool_ops->ready(be, err);
}

static void backend_server_closed(struct server *srv)
{
    struct backend *be = srv->owner;

    srvstmt_free(&be->stmts);
    free(be->pc);
    be->pc = NULL;
    be->pc_cap = 0;
    backend_set_state(be, BACKEND_CLOSED);
    be->pool_ops->closed(be);
}

unsigned backend_pending(const struct backend *be)
{
    return be->sink_n;
}

unsigned backend_client_pending(const struct backend *be)
{
    unsigned n = 0;

    for (unsigned i = 0; i < be->sink_n; i++)
        if (be->sinks[(be->sink_head + i) % BACKEND_MAX_UNITS] == BACKEND_SINK_CLIENT)
            n++;
    return n;
}

int backend_push_unit(struct backend *be, enum backend_sink sink)
{
    if (be->sink_n == BACKEND_MAX_UNITS)
        return -ENOBUFS;
    be->sinks[(be->sink_head + be->sink_n) % BACKEND_MAX_UNITS] = (uint8_t)sink;
    be->sink_n++;
    return 0;
}

int backend_expect_pc(struct backend *be, size_t ord, enum backend_pc act)
{
    if (be->pc_n == be->pc_cap) {
        size_t cap = be->pc_cap ? be->pc_cap * 2 : 8;
        struct backend_pc_act *p = realloc(be->pc, cap * sizeof(*p));

        if (p == NULL)
            return -ENOMEM;
        be->pc = p;
        be->pc_cap = cap;
    }
    be->pc[be->pc_n].ord = ord;
    be->pc[be->pc_n].act = act;
    be->pc_n++;
    return 0;
}

void backend_pc_reset(struct backend *be)
{
    be->pc_n = be->pc_next = be->pc_seen = be->pc_done = 0;
}

/* What to do with the next ParseComplete/CloseComplete of the client unit. */
static enum backend_pc backend_pc_next(struct backend *be)
{
    size_t ord = be->pc_seen++;

    while (be->pc_next < be->pc_n && be->pc[be->pc_next].ord < ord)
        be->pc_next++;
    if (be->pc_next < be->pc_n && be->pc[be->pc_next].ord == ord)
        return be->pc[be->pc_next].act;
    return BACKEND_PC_PASS;
}

static int backend_head(const struct backend *be)
{
    return be->sink_n > 0 ? be->sinks[be->sink_head] : -1;
}

/* Relay [sent, parsed) to the client; on failure the session learns it from the client. */
static void backend_flush(struct backend *be)
{
    struct conn *c = &be->srv.conn;

    be->unit_out += c->parsed - c->sent;
    stats_sent(be->stats, c->parsed - c->sent);
    if (conn_forward(c, be->client) < 0)
        conn_discard(c);
}

static void backend_lose(struct backend *be, const char *why)
{
    if (be->state != BACKEND_READY)
        return;     /* already lost or closing: reported once */
    backend_set_state(be, BACKEND_LOST);
    conn_want_read(&be->srv.conn, 0);
    if (be->ops != NULL)
        be->ops->lost(be, why);
    else
        be->pool_ops->lost(be, why);
}

/*
 * An ErrorResponse for the head unit (head, -1 if none). A FATAL or PANIC is kept from the
 * client (the session tells it what this means for it) and consumed: returns 1. Else 0.
 */
static int backend_error_msg(struct backend *be, const struct frame *f, int head)
{
    struct conn *c = &be->srv.conn;
    const char *sev = msg_error_field(f->body, f->body_len, 'V');
    const char *m = msg_error_field(f->body, f->body_len, 'M');
    const char *code = msg_error_field(f->body, f->body_len, 'C');

    if (sev == NULL)
        sev = msg_error_field(f->body, f->body_len, 'S');
    if (sev != NULL && (strcmp(sev, "FATAL") == 0 || strcmp(sev, "PANIC") == 0)) {
        if (head == BACKEND_SINK_CLIENT)
            backend_flush(be);
        conn_consume(c, f->len);
        conn_discard(c);
        snprintf(be->fatal, sizeof(be->fatal), "%s", m != NULL ? m : "FATAL");
        snprintf(be->fatal_code, sizeof(be->fatal_code), "%.5s", code != NULL ? code : "");
        be->unit_fatal = 1;
        return 1;
    }
    if (head >= 0)
        be->unit_error = 1;
    if (head == BACKEND_SINK_CLIENT)
        stats_error(be->errors, code, STATS_ERR_SERVER);
    if (head == BACKEND_SINK_DROP || head == BACKEND_SINK_CAPTURE) {
        log_warn("server %s: pgrouter's own query failed: %s", be->name, m != NULL ? m : "?");
        snprintf(be->own_error, sizeof(be->own_error), "%s", m != NULL ? m : "?");
        snprintf(be->own_sqlstate, sizeof(be->own_sqlstate), "%s",
                 code != NULL && strlen(code) == 5 ? code : "XX000");
    }
    return 0;
}

/* ReadyForQuery ended the head unit (its bytes are consumed, not yet relayed). */
static void backend_unit_end(struct backend *be, const struct frame *f, int head)
{
    char status = f->body_len >= 1 ? (char)f->body[0] : 'I';
    int had_error = be->unit_error;

    be->status = status;
    be->sink_head = (be->sink_head + 1) % BACKEND_MAX_UNITS;
    be->sink_n--;
    be->unit_error = 0;
    be->in_copy = 0;
    if (head == BACKEND_SINK_CLIENT) {
        /* Before unit_done: it may dispatch the client's next unit right here. */
        be->pc_done = be->pc_seen;
        be->pc_n = be->pc_next = be->pc_seen = 0;
    }
    if (head == BACKEND_SINK_CLIENT && be->ops != NULL) {
        backend_flush(be);
        be->unit_out = be->unit_notices = 0;
        be->ops->unit_done(be, status, had_error);
    } else if (head == BACKEND_SINK_CAPTURE && be->ops != NULL) {
        be->ops->captured(be, had_error);
    }
}

/*
 * A ParseComplete or CloseComplete of a client unit: relayed, retyped, or (pgrouter's own
 * Close or Parse) dropped after relaying what came before: returns 1 when consumed.
 */
static int backend_pc_msg(struct backend *be, const struct frame *f)
{
    struct conn *c = &be->srv.conn;

    switch (backend_pc_next(be)) {
    case BACKEND_PC_PASS:
        break;
    case BACKEND_PC_DROP:
        backend_flush(be);
        conn_consume(c, f->len);
        conn_discard(c);
        return 1;
    case BACKEND_PC_AS_PARSE:
        c->buf[c->parsed] = '1';    /* same length: retyped in place */
        break;
    }
    return 0;
}

/* One whole message at c->parsed; returns 0 to go on, -1 when be is lost. */
static int backend_message(struct backend *be, const struct frame *f)
{
    struct conn *c = &be->srv.conn;
    int head = backend_head(be);

    if (f->type == 'E' && backend_error_msg(be, f, head))
        return 0;
    if (f->type == 'S')
        backend_param(be, f->body, f->body_len);
    switch (f->type) {
    case 'G':
    case 'H':
    case 'W':
        be->in_copy = 1;
        break;
    case 'c':
        be->in_copy = 0;
        break;
    }
    if (head < 0) {
        /* Belongs to no unit: NOTIFY, NOTICE, ParameterStatus between queries. */
        conn_consume(c, f->len);
        if (be->ops != NULL && be->ops->async_ok(be))
            backend_flush(be);
        else
            conn_discard(c);
        return 0;
    }
    if (head == BACKEND_SINK_CLIENT && (f->type == '1' || f->type == '3') &&
        backend_pc_msg(be, f))
        return 0;
    if (head == BACKEND_SINK_CAPTURE && f->type == 'D' && be->ops != NULL)
        be->ops->row(be, f->body, f->body_len);
    /* A server shut down at once (pg_ctl -m immediate) sends a WARNING before it goes:
     * the client seeing it does not mean the unit's answer began. */
    if (head == BACKEND_SINK_CLIENT && f->type == 'N')
        be->unit_notices += f->len;
    conn_consume(c, f->len);
    if (head == BACKEND_SINK_DROP || head == BACKEND_SINK_CAPTURE)
        conn_discard(c);
    if (f->type == 'Z')
        backend_unit_end(be, f, head);
    return 0;
}

static void backend_read(struct conn *c)
{
    struct server *srv = c->owner;
    struct backend *be = srv->owner;
    struct frame f;

    if (backend_lost(be)) {
        conn_consume(c, c->recvd - c->parsed);
        conn_discard(c);
        return;
    }
    for (;;) {
        /* Captured rows are read whole; everything else may stream. */
        int (*stream_ok)(uint8_t) = backend_head(be) == BACKEND_SINK_CAPTURE ? NULL
                                    : backend_stream_ok;

        switch (conn_next(c, 0x7fffffff, stream_ok, &f)) {
        case CONN_SCAN_MSG:
            if (backend_message(be, &f) < 0 || backend_lost(be))
                return;
            continue;
        case CONN_SCAN_STREAM:
            if (backend_head(be) != BACKEND_SINK_CLIENT)
                conn_discard(c);
            continue;
        case CONN_SCAN_MORE:
            break;
        case CONN_SCAN_BAD:
            backend_lose(be, "invalid message length from the server");
            return;
        }
        break;
    }
    if (backend_head(be) == BACKEND_SINK_CLIENT)
        backend_flush(be);
}

static void backend_error(struct conn *c, int err)
{
    struct server *srv = c->owner;
    struct backend *be = srv->owner;
    char why[256];

    if (be->unit_fatal)
        snprintf(why, sizeof(why), "%s", be->fatal);
    else
        snprintf(why, sizeof(why), "%s", err == UV_EOF ? "server closed the connection"
                 : uv_strerror(err));
    backend_lose(be, why);
}

int backend_connect(struct backend *be, uv_loop_t *loop, const struct backend_dial *d,
                    struct pool *pool, const struct backend_pool_ops *pool_ops)
{
    memset(be, 0, sizeof(*be));
    be->state = BACKEND_CONNECTING;
    be->pool = pool;
    be->pool_ops = pool_ops;
    be->stats = d->stats;
    be->errors = d->errors;
    be->name = d->name;
    be->status = 'I';
    srvstmt_init(&be->stmts);
    if (d->pt != NULL)
        return srvlogin_connect(&be->srv, loop, d->cfg, d->tls, d->host, d->port, d->keys,
                                d->vals, d->pt, d->timeout_ms, be, backend_server_ready,
                                backend_server_closed);
    return server_connect(&be->srv, loop, d->host, d->port, d->keys, d->vals, d->timeout_ms,
                          be, backend_server_ready, backend_server_closed);
}

int backend_send(struct backend *be, const void *data, size_t n)
{
    if (be->state != BACKEND_READY)
        return -EPIPE;
    return conn_send(&be->srv.conn, data, n);
}

void backend_close(struct backend *be)
{
    if (be->state == BACKEND_CLOSING || be->state == BACKEND_CLOSED)
        return;
    backend_set_state(be, BACKEND_CLOSING);
    server_close(&be->srv);
}

void backend_start(struct backend *be)
{
    const char *scs = server_param(&be->srv, "standard_conforming_strings");

    be->escape_strings = scs != NULL && strcmp(scs, "off") == 0;
    be->srv.conn.on_read = backend_read;
    be->srv.conn.on_error = backend_error;
    conn_want_read(&be->srv.conn, 1);
}
