/*
 * router/session/bigmsg.c - Queries and Parses over BIGMSG_WHOLE_MAX (or max_query_size), never
 * buffered whole. A Query that large goes to the server as its bytes arrive, to the
 * primary (or the transaction's server), as a write that may change session state: it is
 * not classified at all, the conservative answer for any prefix. What cannot be handled
 * that way is refused with 54000 and skipped as it arrives: anything over max_query_size;
 * a Parse (its text would be kept to prepare it again on other servers); with sharding, a
 * Query (its tenant cannot be known without reading it all: never guessed); a Query
 * inside an unsynced extended batch; a Bind over max_bind_size.
 *
 * A Bind is held whole: its statement name is rewritten to the server's pgr_<hash> and
 * its parameters may name the tenant, and it goes out with the rest of its batch at Sync,
 * to a server chosen then. Streaming it would mean choosing the server, and preparing
 * the statement there, before the batch ends. max_bind_size bounds what one client can
 * make pgrouter hold instead, and how long: its bytes are copied twice at Sync (into the
 * unit, then into what the server gets), about 1.3 ms per MB, so the default 32 MB
 * keeps that under 50 ms.
 * frontend.c calls it; it calls dispatch.c down.
 */
#include "router/session/bigmsg.h"

#include <stdlib.h>
#include <string.h>

#include "protocol/frame.h"
#include "router/core/lifecycle.h"
#include "router/session/dispatch.h"
#include "router/session/session.h"
#include "router/session/unit.h"

/* The refused or streamed message at parsed is skipped or passed on from here. */
static void bigmsg_take(struct session *s, const struct frame *f)
{
    struct conn *c = &s->client;
    size_t avail = c->recvd - c->parsed;
    size_t k = avail < f->len ? avail : f->len;

    c->parsed += k;
    c->skip = f->len - k;
    c->want = 0;    /* the buffer must not grow to the message's size */
}

/* The refused message is skipped whole: a Query is answered now, a Parse or Bind at Sync. */
void bigmsg_drop_done(struct session *s)
{
    struct session_unit *u = &s->unit;

    conn_discard(&s->client);
    u->dropping = 0;
    if (u->drop_query) {
        u->drop_query = 0;
        dispatch_unit(s, DISPATCH_END);    /* the refusal: ErrorResponse and ReadyForQuery */
    }
}

/* The streamed Query's last byte is here: it follows the rest, or waits for its server. */
void bigmsg_stream_done(struct session *s)
{
    struct session_unit *u = &s->unit;

    u->streaming = 0;
    if (u->target != NULL && u->sent && conn_forward(&s->client, &u->target->srv.conn) < 0)
        session_fatal(s, "08006", NULL, "cannot write to server %s", u->target->name);
}

/* Why the large message f is refused (unit_refuse), if it is. */
static void bigmsg_refusal(struct session *s, const struct frame *f)
{
    struct session_unit *u = &s->unit;
    size_t body = f->len - FRAME_HDR;
    size_t maxq = s->cfg->max_query_size;

    if (f->type == 'B')
        unit_refuse(u, "54000", "bind message too large: %zu bytes, max_bind_size is %zu",
                    body, s->cfg->max_bind_size);
    else if (maxq > 0 && body > maxq)
        unit_refuse(u, "54000", "query too large: %zu bytes, max_query_size is %zu",
                    body, maxq);
    else if (f->type == 'P')
        unit_refuse(u, "54000", "pgrouter: Parse of %zu bytes: statements over %u bytes "
                    "are not kept for preparing on other servers; send it as a simple "
                    "Query", body, BIGMSG_WHOLE_MAX);
    else if (s->cfg->sharding.enabled)
        unit_refuse(u, "54000", "pgrouter: statement of %zu bytes is too large to find "
                    "its tenant in (over %u bytes); split it", body, BIGMSG_WHOLE_MAX);
    else if (u->open)
        unit_refuse(u, "54000", "pgrouter: Query of %zu bytes inside an extended-protocol "
                    "batch; send a Sync first", body);
}

/* The large Query f goes to the primary as it arrives, unclassified. */
static void bigmsg_stream(struct session *s, const struct frame *f)
{
    struct session_unit *u = &s->unit;
    struct classify_result cr;

    memset(&cr, 0, sizeof(cr));
    cr.write = 1;
    cr.reason = "statement too large to classify";
    cr.n_statements = 1;
    unit_merge(u, &cr);
    u->force_primary = 1;
    u->untracked_state = 1;     /* it may SET anything: the server is reset after us */
    u->open = 1;
    u->streaming = 1;
    /* A simple Query drops the unnamed statement (PostgreSQL does, whatever it runs). */
    free(s->unnamed);
    s->unnamed = NULL;
    s->unnamed_len = 0;
    bigmsg_take(s, f);
    if (s->client.skip == 0)
        u->streaming = 0;
    dispatch_unit(s, DISPATCH_END);
}

/*
 * A Query or Parse at parsed whose length f->len is over BIGMSG_WHOLE_MAX or
 * max_query_size, or a Bind over max_bind_size (whole or not yet). Returns 1 when the
 * pump goes on, 0 when it stops.
 */
int bigmsg_start(struct session *s, const struct frame *f)
{
    struct session_unit *u = &s->unit;
    struct conn *c = &s->client;
    size_t body = f->len - FRAME_HDR;

    c->want = 0;
    if (u->pending) {
        /* the previous unit is still running: its answer comes first (reading stops) */
        session_set_wait(s, SESSION_WAIT_DRAIN);
        conn_want_read(c, 0);
        return 0;
    }
    if (!u->open && (s->cfg != s->w->cfg || s->w->life != NULL) &&
        lifecycle_unit_boundary(s) < 0)
        return 0;
    if (u->sent) {
        session_fatal(s, "54000", "Send a Sync before a statement that large.",
                      "pgrouter: %s of %zu bytes after part of its batch went to the server",
                      f->type == 'Q' ? "Query" : f->type == 'P' ? "Parse" : "Bind", body);
        return 0;
    }
    bigmsg_refusal(s, f);
    if (u->err_state != NULL) {
        u->open = 1;
        u->dropping = 1;
        u->drop_query = f->type == 'Q';
        bigmsg_take(s, f);
        conn_discard(c);
        if (c->skip == 0)
            bigmsg_drop_done(s);
        return 1;
    }
    bigmsg_stream(s, f);
    return 1;
}

/* Is the message f frames (whole or not) one bigmsg_start takes? */
int bigmsg_is_big(const struct session *s, const struct frame *f)
{
    size_t maxq = s->cfg->max_query_size;
    size_t maxb = s->cfg->max_bind_size;

    if (f->have_header && f->type == 'B')
        return maxb > 0 && f->len - FRAME_HDR > maxb;
    if (!f->have_header || (f->type != 'Q' && f->type != 'P'))
        return 0;
    return f->len > BIGMSG_WHOLE_MAX + FRAME_HDR ||
           (maxq > 0 && f->len - FRAME_HDR > maxq);
}

