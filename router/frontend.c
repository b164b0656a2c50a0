/*
 * router/frontend.c - client messages into units of work: framing, classification, the
 * prepared-statement bookkeeping and name rewriting of Parse/Bind/Describe/Close, COPY
 * data to the server running the COPY, and pgrouter's own SET pgrouter.role.
 */
#include "router/session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/extq.h"
#include "protocol/frame.h"
#include "protocol/msg.h"
#include "router/log.h"
#include "router/sqllex.h"
#include "router/unit.h"

#define FRONTEND_BATCH_MAX (1u << 20)   /* an unsynced batch larger than this goes out */

static void frontend_set_role(struct session *s, int reset);
static int frontend_names_role(const char *sql, size_t len);

/* First two words of sql, lowercased, for the few statements matched by name. */
int frontend_words(const char *sql, size_t len, const char *w1, const char *w2)
{
    struct sqllex lx;
    struct sqllex_token t;

    sqllex_init(&lx, sql, len, 0, NULL, NULL);
    if (sqllex_next(&lx, &t) != SQLLEX_IDENT || !sqllex_is(&t, w1))
        return 0;
    if (w2 == NULL)
        return 1;
    while (sqllex_next(&lx, &t) == SQLLEX_IDENT) {
        if (sqllex_is(&t, w2))
            return 1;
        if (!sqllex_is(&t, "or") && !sqllex_is(&t, "replace") && !sqllex_is(&t, "prepare"))
            return 0;
    }
    return 0;
}

/* Classify sql and fold it into the unit; remember session-state text to record. */
static void frontend_classify(struct session *s, const char *sql, size_t len)
{
    struct classify_result cr;
    struct session_unit *u = &s->unit;

    classify_sql(s->cat != NULL ? &s->cat->opts : &s->w->routing.opts, sql, len, &cr);
    if (cr.write && s->cat != NULL && (frontend_words(sql, len, "create", "function") ||
                                       frontend_words(sql, len, "create", "procedure") ||
                                       frontend_words(sql, len, "alter", "function") ||
                                       frontend_words(sql, len, "drop", "function")))
        u->ddl_function = 1;
    if (cr.flags & CLASSIFY_F_SESSION) {
        if (frontend_words(sql, len, "prepare", NULL) || frontend_words(sql, len, "execute", NULL)
            || (frontend_words(sql, len, "deallocate", NULL) &&
                !frontend_words(sql, len, "deallocate", "all")))
            u->pin_server = 1;  /* SQL prepared statements live on one server */
        else if (frontend_words(sql, len, "discard", "all") ||
                 frontend_words(sql, len, "deallocate", "all"))
            u->resets = 2;
        else if (frontend_words(sql, len, "reset", "all"))
            u->resets = u->resets > 1 ? u->resets : 1;
        if (cr.n_statements > 1)
            u->force_primary = 1;   /* cannot replay part of a string: stay on the primary */
        else if (!cr.write && !u->pin_server && u->session_sql == NULL) {
            u->session_sql = malloc(len + 1);
            if (u->session_sql != NULL) {
                memcpy(u->session_sql, sql, len);
                u->session_sql[len] = '\0';
            }
        }
    }
    unit_merge(u, &cr);
}

static int frontend_stream_ok(uint8_t type)
{
    return type == 'd';     /* CopyData may be large; everything else is held whole */
}

/* Start rewriting the unit: its messages so far (not this one) move to unit.out. */
static int frontend_rewrite_on(struct session *s, const struct frame *f)
{
    struct conn *c = &s->client;
    size_t before = c->parsed - f->len;     /* f is already consumed */

    if (s->unit.rewrite)
        return 0;
    if (unit_rewrite_begin(&s->unit, c->buf + c->sent, before - c->sent) < 0)
        return -ENOMEM;
    return 0;
}

static int frontend_message(struct session *s, const struct frame *f)
{
    struct session_unit *u = &s->unit;
    const uint8_t *msg = f->body - FRAME_HDR;
    const char *name, *query, *portal;
    struct classify_result cr;
    size_t qlen;
    char kind;

    switch (f->type) {
    case 'Q':
        /* A NUL-terminated string: classify up to the terminator. */
        qlen = f->body_len > 0 ? strnlen((const char *)f->body, f->body_len) : 0;
        frontend_classify(s, (const char *)f->body, qlen);
        if ((u->cr.flags & CLASSIFY_F_SET_ROLE) && u->cr.n_statements == 1 && !u->rewrite &&
            frontend_names_role((const char *)f->body, qlen)) {
            /* pgrouter's own setting: answered here (PRIMARY is a keyword to the server). */
            frontend_set_role(s, frontend_words((const char *)f->body, qlen, "reset", NULL));
            return 0;
        }
        if (u->rewrite)
            unit_append(u, msg, f->len);
        u->open = 1;
        session_dispatch(s, 1);
        return 0;
    case 'P':
        if (extq_parse(f->body, f->body_len, &name, &query, &qlen) < 0)
            return -EPROTO;
        frontend_classify(s, query, qlen);
        if (name[0] != '\0') {
            size_t skip = strlen(name) + 1;
            struct stmt *e = stmt_put(&s->stmts, name, f->body + skip, f->body_len - skip,
                                      u->cr.write, u->cr.flags);

            if (e == NULL || frontend_rewrite_on(s, f) < 0)
                return -ENOMEM;
            unit_append_parse(u, e->id, e->body, e->body_len);
        } else if (u->rewrite) {
            unit_append(u, msg, f->len);
        }
        u->open = 1;
        return 0;
    case 'B':
        if (extq_bind(f->body, f->body_len, &portal, &name) < 0)
            return -EPROTO;
        if (name[0] != '\0') {
            struct stmt *e = stmt_get(&s->stmts, name);
            size_t skip = strlen(portal) + 1 + strlen(name) + 1;

            if (e != NULL) {
                memset(&cr, 0, sizeof(cr));
                cr.write = e->write;
                cr.certain = 0;
                cr.flags = e->flags & ~(CLASSIFY_F_SET_ROLE | CLASSIFY_F_SET_TENANT);
                cr.reason = e->write ? "prepared write" : "prepared read";
                cr.n_statements = 1;
                unit_merge(u, &cr);
            }
            if (frontend_rewrite_on(s, f) < 0)
                return -ENOMEM;
            unit_append_bind(u, portal, e != NULL ? e->id : 0, name, f->body + skip,
                             f->body_len - skip);
        } else if (u->rewrite) {
            unit_append(u, msg, f->len);
        }
        u->open = 1;
        return 0;
    case 'D':
    case 'C':
        if (extq_target(f->body, f->body_len, &kind, &name) < 0)
            return -EPROTO;
        if (kind == 'S' && name[0] != '\0') {
            struct stmt *e = stmt_get(&s->stmts, name);

            if (frontend_rewrite_on(s, f) < 0)
                return -ENOMEM;
            if (f->type == 'C') {
                /* The server-side statement stays cached for others; the name goes. */
                stmt_remove(&s->stmts, name);
                unit_append_target(u, 'C', 'S', 0, "pgr_closed");
            } else {
                unit_append_target(u, 'D', 'S', e != NULL ? e->id : 0, name);
            }
        } else if (u->rewrite) {
            unit_append(u, msg, f->len);
        }
        u->open = 1;
        return 0;
    case 'E':
        if (u->rewrite)
            unit_append(u, msg, f->len);
        u->open = 1;
        return 0;
    case 'S':
    case 'H':
    case 'F':
        if (!u->have_cr) {
            memset(&cr, 0, sizeof(cr));
            cr.flags = f->type == 'F' ? 0 : CLASSIFY_F_EMPTY;
            cr.write = f->type == 'F';
            cr.reason = f->type == 'F' ? "function call" : "sync";
            unit_merge(u, &cr);
        }
        if (u->rewrite)
            unit_append(u, msg, f->len);
        u->open = 1;
        session_dispatch(s, f->type != 'H');
        return 0;
    }
    return -EPROTO;
}

/* Is this SET/RESET [SESSION|LOCAL] pgrouter.role ... (not RESET ALL or DISCARD ALL)? */
static int frontend_names_role(const char *sql, size_t len)
{
    struct sqllex lx;
    struct sqllex_token t;

    sqllex_init(&lx, sql, len, 0, NULL, NULL);
    if (sqllex_next(&lx, &t) != SQLLEX_IDENT || !(sqllex_is(&t, "set") || sqllex_is(&t, "reset")))
        return 0;
    if (sqllex_next(&lx, &t) != SQLLEX_IDENT)
        return 0;
    if (sqllex_is(&t, "session") || sqllex_is(&t, "local"))
        if (sqllex_next(&lx, &t) != SQLLEX_IDENT)
            return 0;
    if (!sqllex_is(&t, "pgrouter") || sqllex_next(&lx, &t) != SQLLEX_DOT)
        return 0;
    return sqllex_next(&lx, &t) == SQLLEX_IDENT && sqllex_is(&t, "role");
}

/* SET/RESET pgrouter.role as a Query of its own: change the role, answer like SET. */
static void frontend_set_role(struct session *s, int reset)
{
    struct session_unit *u = &s->unit;
    struct backend *pin = session_pinned_tx(s);
    char status = pin != NULL ? pin->status : 'I';
    struct msgbuf b;

    conn_discard(&s->client);
    if (u->cr.set_role == CLASSIFY_ROLE_NONE) {
        unit_reset(u);
        session_error(s, status, "22023", "Use primary, replica or auto.",
                      "invalid value for parameter \"pgrouter.role\"");
        return;
    }
    s->role = u->cr.set_role == CLASSIFY_ROLE_PRIMARY ? ROUTE_ROLE_PRIMARY
              : u->cr.set_role == CLASSIFY_ROLE_REPLICA ? ROUTE_ROLE_REPLICA
              : ROUTE_ROLE_AUTO;
    log_debug("%s: pgrouter.role = %s", s->tag, s->role == ROUTE_ROLE_PRIMARY ? "primary"
              : s->role == ROUTE_ROLE_REPLICA ? "replica" : "auto");
    unit_reset(u);
    msgbuf_init(&b);
    msg_raw(&b, 'C', reset ? "RESET" : "SET", reset ? 6 : 4);
    msg_ready(&b, status);
    session_send(s, &b);
}

/* Frame and route client messages until input runs out or a unit must wait. */
void frontend_pump(struct session *s)
{
    struct conn *c = &s->client;
    struct session_unit *u = &s->unit;
    struct frame f;
    int rc;

    if (s->wait == SESSION_RUN && s->state != SESSION_CLOSING)
        conn_want_read(c, 1);   /* whatever held the client back is over */
    while (s->wait == SESSION_RUN && (s->state == SESSION_IDLE || s->state == SESSION_IN_TX ||
                                      s->state == SESSION_COPY)) {
        switch (conn_next(c, s->cfg->max_packet_size, frontend_stream_ok, &f)) {
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
            } else if (u->open && !u->rewrite && c->parsed - c->sent > FRONTEND_BATCH_MAX) {
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
            session_close(s);   /* servers go back to their pools */
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
        rc = frontend_message(s, &f);
        if (rc == 0 && u->rewrite)
            conn_discard(c);    /* its bytes live on in unit.out */
        if (rc == -ENOMEM || u->out.oom) {
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
