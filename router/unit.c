/*
 * router/unit.c - unit assembly: classification merge and prepared-statement name
 * rewriting for servers shared among clients.
 */
#include "router/unit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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
    u->ddl_func[0] = '\0';
    memset(&u->session_st, 0, sizeof(u->session_st));
    u->n_parses = u->n_uses = 0;
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
    free(u->parses);
    free(u->uses);
    u->parses = NULL;
    u->uses = NULL;
    u->cap_parses = u->cap_uses = 0;
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
    msgbuf_put(&u->out, prefix, len);
    return u->out.oom ? -ENOMEM : 0;
}

void unit_append(struct session_unit *u, const uint8_t *msg, size_t len)
{
    msgbuf_put(&u->out, msg, len);
}

static void unit_put_parse(struct msgbuf *b, uint64_t id, const uint8_t *body, size_t len)
{
    char name[STMT_SERVER_NAME_LEN];
    size_t at = msg_begin(b, 'P');

    stmt_server_name(id, name);
    msgbuf_putstr(b, name);
    msgbuf_put(b, body, len);
    msg_end(b, at);
}

void unit_append_parse(struct session_unit *u, uint64_t id, const uint8_t *body, size_t len)
{
    size_t off = u->out.len;

    unit_put_parse(&u->out, id, body, len);
    if (u->n_parses == u->cap_parses) {
        size_t cap = u->cap_parses ? u->cap_parses * 2 : 4;
        struct session_parse *p = realloc(u->parses, cap * sizeof(*p));

        if (p == NULL) {
            u->out.oom = 1;
            return;
        }
        u->parses = p;
        u->cap_parses = cap;
    }
    u->parses[u->n_parses].off = off;
    u->parses[u->n_parses].len = u->out.len - off;
    u->parses[u->n_parses].id = id;
    u->n_parses++;
}

static void unit_note_use(struct session_unit *u, uint64_t id)
{
    for (size_t i = 0; i < u->n_uses; i++)
        if (u->uses[i] == id)
            return;
    for (size_t i = 0; i < u->n_parses; i++)
        if (u->parses[i].id == id)
            return;     /* parsed earlier in this unit */
    if (u->n_uses == u->cap_uses) {
        size_t cap = u->cap_uses ? u->cap_uses * 2 : 4;
        uint64_t *p = realloc(u->uses, cap * sizeof(*p));

        if (p == NULL) {
            u->out.oom = 1;
            return;
        }
        u->uses = p;
        u->cap_uses = cap;
    }
    u->uses[u->n_uses++] = id;
}

void unit_append_bind(struct session_unit *u, const char *portal, uint64_t id,
                      const char *stmt, const uint8_t *rest, size_t rest_len)
{
    char name[STMT_SERVER_NAME_LEN];
    size_t at = msg_begin(&u->out, 'B');

    msgbuf_putstr(&u->out, portal);
    if (id != 0) {
        stmt_server_name(id, name);
        msgbuf_putstr(&u->out, name);
        unit_note_use(u, id);
    } else {
        msgbuf_putstr(&u->out, stmt);
    }
    msgbuf_put(&u->out, rest, rest_len);
    msg_end(&u->out, at);
}

void unit_append_target(struct session_unit *u, uint8_t type, char kind, uint64_t id,
                        const char *name)
{
    char sname[STMT_SERVER_NAME_LEN];
    size_t at = msg_begin(&u->out, type);

    msgbuf_put8(&u->out, (uint8_t)kind);
    if (id != 0) {
        stmt_server_name(id, sname);
        msgbuf_putstr(&u->out, sname);
        if (type == 'D')
            unit_note_use(u, id);
    } else {
        msgbuf_putstr(&u->out, name);
    }
    msg_end(&u->out, at);
}

static const struct stmt *unit_find_id(const struct stmt_table *t, uint64_t id)
{
    for (size_t i = 0; i < t->n_buckets; i++)
        for (const struct stmt *e = t->buckets[i]; e != NULL; e = e->next)
            if (e->id == id)
                return e;
    return NULL;
}

/* Room for one more statement on the server: evict the least recently used. */
static void unit_make_room(struct session_unit *u, struct srvstmt *ss, unsigned max_stmts,
                           struct msgbuf *pre)
{
    uint64_t keep[64];
    size_t n_keep = 0;

    if (max_stmts == 0 || ss->n < max_stmts)
        return;
    for (size_t i = 0; i < u->n_uses && n_keep < 64; i++)
        keep[n_keep++] = u->uses[i];
    for (size_t i = 0; i < u->n_parses && n_keep < 64; i++)
        keep[n_keep++] = u->parses[i].id;
    while (ss->n >= max_stmts) {
        char name[STMT_SERVER_NAME_LEN];
        uint64_t victim = srvstmt_evict(ss, keep, n_keep);
        size_t at;

        if (victim == 0)
            return;
        stmt_server_name(victim, name);
        at = msg_begin(pre, 'C');
        msgbuf_put8(pre, 'S');
        msgbuf_putstr(pre, name);
        msg_end(pre, at);
    }
}

int unit_build(struct session_unit *u, struct srvstmt *ss, unsigned max_stmts,
               const struct stmt_table *t, struct msgbuf *pre, struct msgbuf *out)
{
    static const uint8_t noop_parse[] = { 'P', 0, 0, 0, 8, 0, 0, 0, 0 };
    size_t from = 0;

    /* Statements the unit binds or describes but the server lacks: prepare them first. */
    for (size_t i = 0; i < u->n_uses; i++) {
        const struct stmt *e;

        if (srvstmt_has(ss, u->uses[i]))
            continue;
        e = unit_find_id(t, u->uses[i]);
        if (e == NULL)
            continue;   /* closed meanwhile: the server will say it does not exist */
        unit_make_room(u, ss, max_stmts, pre);
        unit_put_parse(pre, e->id, e->body, e->body_len);
        if (srvstmt_add(ss, e->id) < 0)
            return -ENOMEM;
    }
    /* The unit's own Parses: skip those the server holds, note the others. */
    for (size_t i = 0; i < u->n_parses; i++) {
        const struct session_parse *p = &u->parses[i];

        msgbuf_put(out, u->out.data + from, p->off - from);
        if (srvstmt_has(ss, p->id)) {
            /* Parse "" "" 0: answers ParseComplete and touches nothing the client named. */
            msgbuf_put(out, noop_parse, sizeof(noop_parse));
        } else {
            char name[STMT_SERVER_NAME_LEN];
            size_t at;

            /* Close first in case an earlier failed unit left us unsure it exists. */
            unit_make_room(u, ss, max_stmts, pre);
            stmt_server_name(p->id, name);
            at = msg_begin(pre, 'C');
            msgbuf_put8(pre, 'S');
            msgbuf_putstr(pre, name);
            msg_end(pre, at);
            msgbuf_put(out, u->out.data + p->off, p->len);
            if (srvstmt_add(ss, p->id) < 0)
                return -ENOMEM;
        }
        from = p->off + p->len;
    }
    msgbuf_put(out, u->out.data + from, u->out.len - from);
    if (pre->len > 0)
        msg_raw(pre, 'S', NULL, 0);
    return pre->oom || out->oom ? -ENOMEM : 0;
}
