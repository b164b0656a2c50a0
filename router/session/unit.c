/*
 * router/session/unit.c - unit assembly: classification merge and prepared-statement name
 * rewriting for servers shared among clients.
 */
#include "router/session/unit.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/frame.h"

/* Grow *arr (of *cap elements of size sz) to hold one more than n. 0 or -ENOMEM. */
static int unit_grow(void **arr, size_t *cap, size_t n, size_t sz)
{
    size_t ncap;
    void *p;

    if (n < *cap)
        return 0;
    ncap = *cap ? *cap * 2 : 8;
    p = realloc(*arr, ncap * sz);
    if (p == NULL)
        return -ENOMEM;
    *arr = p;
    *cap = ncap;
    return 0;
}

void unit_reset(struct session_unit *u)
{
    free(u->session_sql);
    free(u->unnamed_sql);
    u->unnamed_sql = NULL;
    u->cluster = NULL;
    u->err_state = NULL;
    free(u->err_msg);
    u->err_msg = NULL;
    u->has_set_tenant = 0;
    u->decided = 0;
    u->session_sql = NULL;
    u->retries = 0;
    u->open = u->sent = u->have_cr = u->force_primary = u->pending = 0;
    u->ddl_function = u->pin_server = u->resets = u->rewrite = 0;
    u->untracked_state = u->ddl_volatile = 0;
    u->streaming = u->dropping = u->drop_query = 0;
    u->ddl_func[0] = '\0';
    memset(&u->session_st, 0, sizeof(u->session_st));
    for (size_t i = 0; i < u->n_recs; i++) {
        free(u->recs[i].name);
        stmt_entry_free(u->recs[i].closed);
    }
    u->n_marks = u->n_recs = u->n_srvp = u->n_acts = 0;
    u->pc_total = 0;
    free(u->unnamed_body);
    free(u->unnamed_use);
    u->unnamed_body = u->unnamed_use = NULL;
    u->unnamed_set = u->unnamed_close = u->unnamed_used = 0;
    u->unnamed_body_len = u->unnamed_use_len = 0;
    u->unnamed_ord = SIZE_MAX;
    u->target = NULL;
    u->slot = 0;
    u->prev_status = 'I';
    u->out.len = 0;
    u->out.oom = 0;
    memset(&u->cr, 0, sizeof(u->cr));
}

void unit_free(struct session_unit *u)
{
    unit_reset(u);
    msgbuf_free(&u->out);
    free(u->marks);
    free(u->recs);
    free(u->srvp);
    free(u->acts);
    u->marks = NULL;
    u->recs = NULL;
    u->srvp = NULL;
    u->acts = NULL;
    u->cap_marks = u->cap_recs = u->cap_srvp = u->cap_acts = 0;
}

void unit_refuse(struct session_unit *u, const char *sqlstate, const char *fmt, ...)
{
    va_list ap;

    if (u->err_state != NULL)
        return;     /* the first reason stands */
    u->err_state = sqlstate;
    u->err_msg = malloc(240);
    if (u->err_msg == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(u->err_msg, 240, fmt, ap);
    va_end(ap);
}

void unit_merge(struct session_unit *u, const struct classify_result *cr)
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

int unit_rewrite_begin(struct session_unit *u, const uint8_t *prefix, size_t len)
{
    u->rewrite = 1;
    u->out.len = 0;
    u->n_marks = 0;
    msgbuf_put(&u->out, prefix, len);
    return u->out.oom ? -ENOMEM : 0;
}

void unit_append(struct session_unit *u, const uint8_t *msg, size_t len)
{
    msgbuf_put(&u->out, msg, len);
}

static void unit_mark(struct session_unit *u, enum session_mark_kind kind, size_t off,
                      uint64_t id, size_t rec)
{
    struct session_mark *m;

    if (unit_grow((void **)&u->marks, &u->cap_marks, u->n_marks, sizeof(*m)) < 0) {
        u->out.oom = 1;
        return;
    }
    m = &u->marks[u->n_marks++];
    m->kind = kind;
    m->off = off;
    m->len = u->out.len - off;
    m->id = id;
    m->rec = rec;
}

size_t unit_record(struct session_unit *u, const char *name, struct stmt *closed)
{
    struct session_rec *r;

    if (unit_grow((void **)&u->recs, &u->cap_recs, u->n_recs, sizeof(*r)) < 0) {
        u->out.oom = 1;
        stmt_entry_free(closed);
        return SIZE_MAX;
    }
    r = &u->recs[u->n_recs];
    r->name = NULL;
    r->closed = closed;
    r->ord = SIZE_MAX;
    if (name != NULL && (r->name = strdup(name)) == NULL) {
        u->out.oom = 1;
        return SIZE_MAX;
    }
    return u->n_recs++;
}

static void unit_put_parse(struct msgbuf *b, const char *name, const uint8_t *body,
                           size_t len)
{
    size_t at = msg_begin(b, 'P');

    msgbuf_putstr(b, name);
    msgbuf_put(b, body, len);
    msg_end(b, at);
}

static void unit_put_close(struct msgbuf *b, const char *name)
{
    size_t at = msg_begin(b, 'C');

    msgbuf_put8(b, 'S');
    msgbuf_putstr(b, name);
    msg_end(b, at);
}

void unit_append_parse(struct session_unit *u, uint64_t id, const uint8_t *body, size_t len,
                       size_t rec)
{
    char name[STMT_SERVER_NAME_LEN];
    size_t off = u->out.len;

    stmt_server_name(id, name);
    unit_put_parse(&u->out, name, body, len);
    unit_mark(u, SESSION_MARK_PARSE, off, id, rec);
}

void unit_append_dup(struct session_unit *u)
{
    unit_mark(u, SESSION_MARK_DUP, u->out.len, 0, SIZE_MAX);
}

void unit_append_bind(struct session_unit *u, const char *portal, uint64_t id,
                      const char *stmt, const uint8_t *rest, size_t rest_len)
{
    char name[STMT_SERVER_NAME_LEN];
    size_t at;

    if (id != 0)
        unit_mark(u, SESSION_MARK_USE, u->out.len, id, SIZE_MAX);
    at = msg_begin(&u->out, 'B');
    msgbuf_putstr(&u->out, portal);
    if (id != 0) {
        stmt_server_name(id, name);
        msgbuf_putstr(&u->out, name);
    } else {
        msgbuf_putstr(&u->out, stmt);
    }
    msgbuf_put(&u->out, rest, rest_len);
    msg_end(&u->out, at);
}

void unit_append_describe(struct session_unit *u, uint64_t id, const char *name)
{
    char sname[STMT_SERVER_NAME_LEN];
    size_t at;

    if (id != 0)
        unit_mark(u, SESSION_MARK_USE, u->out.len, id, SIZE_MAX);
    at = msg_begin(&u->out, 'D');
    msgbuf_put8(&u->out, 'S');
    if (id != 0) {
        stmt_server_name(id, sname);
        msgbuf_putstr(&u->out, sname);
    } else {
        msgbuf_putstr(&u->out, name);
    }
    msg_end(&u->out, at);
}

void unit_append_close(struct session_unit *u, size_t rec)
{
    size_t off = u->out.len;

    /* The server-side statement stays for other clients: close a name nobody has. */
    unit_put_close(&u->out, "pgr_closed");
    unit_mark(u, SESSION_MARK_CLOSE, off, 0, rec);
}

/* A copy of n bytes (at least one byte allocated), or NULL with out.oom set. */
static uint8_t *unit_dup(struct session_unit *u, const uint8_t *p, size_t n)
{
    uint8_t *c = malloc(n > 0 ? n : 1);

    if (c == NULL)
        u->out.oom = 1;
    else if (n > 0)
        memcpy(c, p, n);
    return c;
}

void unit_append_unnamed(struct session_unit *u, const uint8_t *msg, size_t len,
                         const uint8_t *body, size_t body_len)
{
    size_t off = u->out.len;

    msgbuf_put(&u->out, msg, len);
    unit_mark(u, SESSION_MARK_UNNAMED, off, 0, SIZE_MAX);
    free(u->unnamed_body);
    u->unnamed_body = body != NULL ? unit_dup(u, body, body_len) : NULL;
    u->unnamed_body_len = body_len;
    u->unnamed_close = body == NULL;
    u->unnamed_set = 1;
    u->unnamed_ord = SIZE_MAX;
}

void unit_append_unnamed_use(struct session_unit *u, const uint8_t *body, size_t body_len)
{
    free(u->unnamed_use);
    u->unnamed_use = body != NULL ? unit_dup(u, body, body_len) : NULL;
    u->unnamed_use_len = body_len;
    u->unnamed_used = 1;
    unit_mark(u, SESSION_MARK_UNNAMED_USE, u->out.len, 0, SIZE_MAX);
}

size_t unit_count_pc(const uint8_t *p, size_t n)
{
    size_t k = 0;

    while (n >= FRAME_HDR) {
        size_t len = 1 + (size_t)frame_get32(p + 1);

        if (len < FRAME_HDR || len > n)
            break;
        k += p[0] == 'P' || p[0] == 'C';
        p += len;
        n -= len;
    }
    return k;
}

/*
 * The statement with content id: in the client's table, or one the unit itself closes
 * after using it (Bind s1, Execute, Close s1: the Bind still needs it on the server).
 */
static const struct stmt *unit_find_id(const struct session_unit *u,
                                       const struct stmt_table *t, uint64_t id)
{
    for (size_t i = 0; i < t->n_buckets; i++)
        for (const struct stmt *e = t->buckets[i]; e != NULL; e = e->next)
            if (e->id == id)
                return e;
    for (size_t i = 0; i < u->n_recs; i++)
        if (u->recs[i].closed != NULL && u->recs[i].closed->id == id)
            return u->recs[i].closed;
    return NULL;
}

/* One Parse/Close going out: its place, and what its answer becomes if not relayed. */
static size_t unit_pc(struct session_unit *u, enum backend_pc act)
{
    size_t ord = u->pc_total++;

    if (act != BACKEND_PC_PASS) {
        if (unit_grow((void **)&u->acts, &u->cap_acts, u->n_acts, sizeof(*u->acts)) < 0) {
            u->out.oom = 1;
            return ord;
        }
        u->acts[u->n_acts].ord = ord;
        u->acts[u->n_acts].act = act;
        u->n_acts++;
    }
    return ord;
}

/* Note that the Parse (or, evicted, the Close) of id numbered ord changes the server. */
static int unit_srvnote(struct session_unit *u, uint64_t id, size_t ord, int evicted)
{
    if (unit_grow((void **)&u->srvp, &u->cap_srvp, u->n_srvp, sizeof(*u->srvp)) < 0)
        return -ENOMEM;
    u->srvp[u->n_srvp].id = id;
    u->srvp[u->n_srvp].ord = ord;
    u->srvp[u->n_srvp].evicted = evicted;
    u->n_srvp++;
    return 0;
}

/* The server will hold id if the Parse numbered ord runs. */
static int unit_srvparse(struct session_unit *u, struct srvstmt *ss, uint64_t id, size_t ord)
{
    if (unit_srvnote(u, id, ord, 0) < 0)
        return -ENOMEM;
    return srvstmt_add(ss, id);
}

/* Room for one more statement on the server: close the least recently used. */
static void unit_make_room(struct session_unit *u, struct srvstmt *ss, unsigned max_stmts,
                           struct msgbuf *out)
{
    uint64_t keep[64];
    size_t n_keep = 0;

    if (max_stmts == 0 || ss->n < max_stmts)
        return;
    for (size_t i = 0; i < u->n_marks && n_keep < 64; i++)
        if (u->marks[i].kind == SESSION_MARK_PARSE || u->marks[i].kind == SESSION_MARK_USE)
            keep[n_keep++] = u->marks[i].id;
    while (ss->n >= max_stmts) {
        char name[STMT_SERVER_NAME_LEN];
        uint64_t victim = srvstmt_evict(ss, keep, n_keep);

        if (victim == 0)
            return;
        stmt_server_name(victim, name);
        unit_put_close(out, name);
        /* Still held if an error before it skips the Close: unit_settle adds it back. */
        if (unit_srvnote(u, victim, unit_pc(u, BACKEND_PC_DROP), 1) < 0)
            out->oom = 1;
    }
}

/* Prepare id on the server (answers dropped): Close first, in case a stale one is there. */
static int unit_prepare(struct session_unit *u, struct srvstmt *ss, unsigned max_stmts,
                        const struct stmt *e, struct msgbuf *out)
{
    char name[STMT_SERVER_NAME_LEN];

    unit_make_room(u, ss, max_stmts, out);
    stmt_server_name(e->id, name);
    unit_put_close(out, name);
    unit_pc(u, BACKEND_PC_DROP);
    unit_put_parse(out, name, e->body, e->body_len);
    return unit_srvparse(u, ss, e->id, unit_pc(u, BACKEND_PC_DROP));
}

int unit_build(struct session_unit *u, struct srvstmt *ss, unsigned max_stmts,
               const struct stmt_table *t, struct msgbuf *out)
{
    static const uint8_t empty_parse_body[] = { 0, 0, 0 };    /* query "", no types */
    size_t from = 0;
    int rc = 0;

    u->n_acts = 0;
    for (size_t i = 0; i < u->n_marks && rc == 0; i++) {
        const struct session_mark *m = &u->marks[i];
        const struct stmt *e;
        char name[STMT_SERVER_NAME_LEN];
        size_t ord;

        /* The client's messages before the mark go as they are. */
        for (size_t k = unit_count_pc(u->out.data + from, m->off - from); k > 0; k--)
            unit_pc(u, BACKEND_PC_PASS);
        msgbuf_put(out, u->out.data + from, m->off - from);
        from = m->off + m->len;
        switch (m->kind) {
        case SESSION_MARK_PARSE:
            if (srvstmt_has(ss, m->id)) {
                /* The server has it: a Close of nothing, answered as a ParseComplete. */
                unit_put_close(out, "pgr_none");
                ord = unit_pc(u, BACKEND_PC_AS_PARSE);
            } else {
                unit_make_room(u, ss, max_stmts, out);
                stmt_server_name(m->id, name);
                unit_put_close(out, name);
                unit_pc(u, BACKEND_PC_DROP);
                msgbuf_put(out, u->out.data + m->off, m->len);
                ord = unit_pc(u, BACKEND_PC_PASS);
                rc = unit_srvparse(u, ss, m->id, ord);
            }
            if (m->rec < u->n_recs)
                u->recs[m->rec].ord = ord;
            break;
        case SESSION_MARK_DUP:
            /* A second Parse of one name fails as PostgreSQL's own check does (42P05). */
            unit_put_close(out, "pgr_dup");
            unit_pc(u, BACKEND_PC_DROP);
            unit_put_parse(out, "pgr_dup", empty_parse_body, sizeof(empty_parse_body));
            unit_pc(u, BACKEND_PC_DROP);
            unit_put_parse(out, "pgr_dup", empty_parse_body, sizeof(empty_parse_body));
            unit_pc(u, BACKEND_PC_PASS);
            break;
        case SESSION_MARK_USE:
            if (srvstmt_has(ss, m->id))
                break;
            e = unit_find_id(u, t, m->id);
            if (e != NULL)  /* else closed meanwhile: the server says it does not exist */
                rc = unit_prepare(u, ss, max_stmts, e, out);
            break;
        case SESSION_MARK_CLOSE:
            msgbuf_put(out, u->out.data + m->off, m->len);
            ord = unit_pc(u, BACKEND_PC_PASS);
            if (m->rec < u->n_recs)
                u->recs[m->rec].ord = ord;
            break;
        case SESSION_MARK_UNNAMED:
            msgbuf_put(out, u->out.data + m->off, m->len);
            u->unnamed_ord = unit_pc(u, BACKEND_PC_PASS);
            break;
        case SESSION_MARK_UNNAMED_USE:
            /* The server's unnamed statement may be another client's: the client's own. */
            if (u->unnamed_use != NULL)
                unit_put_parse(out, "", u->unnamed_use, u->unnamed_use_len);
            else
                unit_put_close(out, "");
            unit_pc(u, BACKEND_PC_DROP);
            break;
        }
    }
    for (size_t k = unit_count_pc(u->out.data + from, u->out.len - from); k > 0; k--)
        unit_pc(u, BACKEND_PC_PASS);
    msgbuf_put(out, u->out.data + from, u->out.len - from);
    if (rc == 0 && (out->oom || u->out.oom))
        rc = -ENOMEM;
    return rc;
}

size_t unit_server_parses(const struct session_unit *u)
{
    size_t n = 0;

    for (size_t i = 0; i < u->n_srvp; i++)
        n += !u->srvp[i].evicted;
    return n;
}

void unit_settle(struct session_unit *u, struct srvstmt *ss, struct stmt_table *t,
                 size_t seen)
{
    /* Newest first: a statement evicted and prepared again ends as the server has it. */
    for (size_t i = u->n_srvp; i-- > 0;) {
        if (u->srvp[i].ord < seen)
            continue;
        if (!u->srvp[i].evicted)
            srvstmt_remove(ss, u->srvp[i].id);
        else
            (void)srvstmt_add(ss, u->srvp[i].id);   /* no memory: prepared again if used */
    }
    /* Undo, newest first, what the server never did, so the table is as it was. */
    for (size_t i = u->n_recs; i-- > 0;) {
        struct session_rec *r = &u->recs[i];

        if (r->ord < seen)
            continue;
        if (r->closed != NULL) {
            stmt_restore(t, r->closed);
            r->closed = NULL;
        } else if (r->name != NULL) {
            stmt_remove(t, r->name);
        }
    }
    u->n_srvp = 0;
}

void unit_settle_unnamed(struct session_unit *u, size_t seen, uint8_t **body, size_t *len)
{
    if (!u->unnamed_set)
        return;
    if (u->unnamed_ord < seen) {
        free(*body);
        *body = u->unnamed_body;    /* NULL after a Close */
        *len = u->unnamed_body_len;
        u->unnamed_body = NULL;
    } else if (u->unnamed_ord == seen && !u->unnamed_close) {
        /* Its Parse failed (PostgreSQL drops the old one first) or a message just before
         * it did: either way the client cannot count on one. */
        free(*body);
        *body = NULL;
        *len = 0;
    }
}
