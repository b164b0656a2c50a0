/*
 * router/session/frontend.c - client messages into units of work: framing, classification, the
 * prepared-statement bookkeeping and name rewriting of Parse/Bind/Describe/Close, COPY
 * data to the server running the COPY, and pgrouter's own SET pgrouter.role.
 */
#include "router/session/frontend.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/extq.h"
#include "protocol/frame.h"
#include "protocol/msg.h"
#include "router/core/lifecycle.h"
#include "router/core/log.h"
#include "router/session/bigmsg.h"
#include "router/session/dispatch.h"
#include "router/session/session.h"
#include "router/sql/sqllex.h"
#include "router/sql/tenant.h"
#include "router/sql/tenantval.h"
#include "router/session/unit.h"

#define FRONTEND_BATCH_MAX (1u << 20)   /* an unsynced batch larger than this goes out */


static void frontend_set_role(struct session *s, int reset);

/* Bytes of a rewritten batch held before its Sync: a largest message and then some. */
static size_t frontend_rewrite_max(const struct session *s)
{
    return s->cfg->max_packet_size + 64 * (size_t)FRONTEND_BATCH_MAX;
}


/* First two words of sql, lowercased, for the few statements matched by name. */
static int frontend_words(const char *sql, size_t len, const char *w1, const char *w2)
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

/* Does sql contain word (lowercase ASCII), in any case? Cheap and may over-match. */
static int frontend_has_word(const char *sql, size_t len, const char *word)
{
    size_t n = strlen(word);

    for (size_t i = 0; i + n <= len; i++)
        if (sqllex_ieq(sql + i, n, word))
            return 1;
    return 0;
}

/*
 * A single SET/RESET/DISCARD statement: remember it to record once the server ran it,
 * or refuse it now if the state it adds would pass the replay bounds.
 */
static void frontend_session_sql(struct session *s, const char *sql, size_t len)
{
    struct session_unit *u = &s->unit;

    replay_parse(sql, len, s->escape_strings, &u->session_st);
    if (u->session_st.op == REPLAY_NONE)
        return;     /* SET LOCAL, DISCARD PLANS...: nothing that outlives the transaction */
    if (replay_fits(&s->replay, &u->session_st, len) < 0) {
        unit_refuse(u, "54000", "pgrouter: too much session state to carry from server "
                        "to server (at most %d parameters, %u bytes of SET statements); "
                        "RESET some first", REPLAY_MAX_ITEMS, REPLAY_MAX_BYTES);
        return;
    }
    u->session_sql = malloc(len + 1);
    if (u->session_sql != NULL) {
        memcpy(u->session_sql, sql, len);
        u->session_sql[len] = '\0';
    }
}

/* Fold sql's classification cr into the unit; remember session-state text to record. */
static void frontend_note(struct session *s, const char *sql, size_t len,
                          const struct classify_result *crp)
{
    struct classify_result cr = *crp;
    struct session_unit *u = &s->unit;

    if (cr.write && s->cat != NULL && (frontend_words(sql, len, "create", "function") ||
                                       frontend_words(sql, len, "create", "procedure") ||
                                       frontend_words(sql, len, "alter", "function") ||
                                       frontend_words(sql, len, "drop", "function"))) {
        u->ddl_function = 1;
        if (!u->ddl_volatile)
            u->ddl_volatile = catalog_ddl_volatile(sql, len, s->escape_strings, u->ddl_func,
                                                   sizeof(u->ddl_func));
    }
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
        else if (!cr.write && !u->pin_server && u->session_sql == NULL)
            frontend_session_sql(s, sql, len);
    }
    if (frontend_has_word(sql, len, "set_config") || frontend_words(sql, len, "do", NULL))
        u->untracked_state = 1;     /* state the replay list cannot follow */
    if (cr.flags & CLASSIFY_F_SET_TENANT) {
        /* Kept until the server accepts the SET; '' and case folding undone here. */
        size_t n = 0;

        for (size_t i = 0; cr.tenant != NULL && i < cr.tenant_len && n + 1 < sizeof(u->set_tenant);
             i++) {
            char c = cr.tenant[i];

            if ((cr.flags & CLASSIFY_F_TENANT_ESCAPED) && c == '\'' && i + 1 < cr.tenant_len &&
                cr.tenant[i + 1] == '\'')
                i++;
            if ((cr.flags & CLASSIFY_F_TENANT_FOLD) && c >= 'A' && c <= 'Z')
                c = (char)(c - 'A' + 'a');
            u->set_tenant[n++] = c;
        }
        u->set_tenant[n] = '\0';
        u->has_set_tenant = 1;
    }
    unit_merge(u, &cr);
}

/* Classify sql (a statement of the extended protocol) and fold it into the unit. */
static void frontend_classify(struct session *s, const char *sql, size_t len)
{
    struct classify_opts o = s->cat != NULL ? s->cat->opts : s->w->routing.opts;
    struct classify_result cr;

    o.escape_strings = s->escape_strings;   /* lexed as the server will parse it */
    classify_sql(&o, sql, len, &cr);
    frontend_note(s, sql, len, &cr);
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

/* Put the unit on cl, refusing it if it already had another cluster. */
static void frontend_set_cluster(struct session *s, const struct cfg_cluster *cl,
                                 const char *t, size_t len)
{
    struct session_unit *u = &s->unit;

    if (cl == NULL) {
        unit_refuse(u, "22023", "pgrouter: tenant \"%.*s\" is not placed on any cluster",
                        (int)len, t);
        return;
    }
    if (u->cluster != NULL && u->cluster != cl) {
        unit_refuse(u, "0A000", "pgrouter: one statement or batch for tenants on two "
                        "clusters (%s and %s)", u->cluster->name, cl->name);
        return;
    }
    u->cluster = cl;
}

/* Fold decide_tenant's answer for one statement into the unit. */
static void frontend_apply_tenant(struct session *s, const struct decide_tenant *tn)
{
    if (tn->sqlstate != NULL)
        unit_refuse(&s->unit, tn->sqlstate, "%s", tn->message);
    else if (tn->cluster != NULL)
        frontend_set_cluster(s, tn->cluster, tn->tenant, strlen(tn->tenant));
}

/*
 * Sharding: the tenant of one statement of the extended protocol (with its bound
 * parameters) and the cluster it lives on, by decide_tenant's rules.
 */
static void frontend_tenant(struct session *s, const char *sql, size_t len,
                            const struct tenant_params *params)
{
    struct decide_session ds;
    struct decide_tenant tn;

    if (!s->cfg->sharding.enabled || !s->w->routing.have_shard)
        return;
    dispatch_decide_state(s, &ds);
    decide_tenant(s->cfg, &s->w->routing.shard, &ds, sql, len, params, &tn);
    frontend_apply_tenant(s, &tn);
}

/*
 * A simple Query: decide_query (the decision --classify prints) gives its class, its
 * tenant's cluster and, for a Query that is the whole unit, its node.
 */
static void frontend_query(struct session *s, const char *sql, size_t len)
{
    struct session_unit *u = &s->unit;
    int alone = !u->have_cr && u->cluster == NULL && u->err_state == NULL;
    struct classify_opts o = s->cat != NULL ? s->cat->opts : s->w->routing.opts;
    struct decide_session ds;
    struct decide_route *dr = malloc(sizeof(*dr));

    if (dr == NULL) {
        unit_refuse(u, "53200", "out of memory");
        return;
    }
    o.escape_strings = s->escape_strings;   /* lexed as the server will parse it */
    dispatch_decide_state(s, &ds);
    decide_query(s->cfg, &s->w->routing, &o, &ds, sql, len, dr);
    frontend_note(s, sql, len, &dr->cr);
    frontend_apply_tenant(s, &dr->tn);
    if (alone && dr->tn.sqlstate == NULL) {
        u->decided = 1;
        u->route = dr->d;
    }
    free(dr);
}

/* Answer a transaction statement pgrouter handled itself: CommandComplete, ReadyForQuery. */
static void frontend_answer(struct session *s, const char *tag, char status)
{
    struct msgbuf b;

    conn_discard(&s->client);
    unit_reset(&s->unit);
    msgbuf_init(&b);
    msg_raw(&b, 'C', tag, strlen(tag) + 1);
    msg_ready(&b, status);
    session_send(s, &b);
    session_set_state(s, status == 'I' ? SESSION_IDLE : SESSION_IN_TX);
}

/*
 * Sharding: a BEGIN on its own does not say which cluster the transaction is for. With a
 * session tenant it goes to that tenant's cluster; otherwise pgrouter answers it and sends
 * it later, in front of the first statement that names the cluster (and answers a COMMIT
 * or ROLLBACK that comes first itself). Returns 1 when the unit was answered.
 */
static int frontend_lazy_tx(struct session *s, const char *sql, size_t len)
{
    struct session_unit *u = &s->unit;
    unsigned f = u->cr.flags;

    if (!s->cfg->sharding.enabled || u->rewrite || u->cr.n_statements != 1 ||
        borrow_pinned_tx(s) != NULL || u->err_state != NULL)
        return 0;
    if (s->deferred_begin != NULL && (f & CLASSIFY_F_END) && !(f & CLASSIFY_F_BEGIN)) {
        free(s->deferred_begin);
        s->deferred_begin = NULL;
        frontend_answer(s, frontend_words(sql, len, "rollback", NULL) ||
                        frontend_words(sql, len, "abort", NULL) ? "ROLLBACK" : "COMMIT", 'I');
        return 1;
    }
    /* with a session tenant, decide_query put the BEGIN on its cluster already */
    if (!(f & CLASSIFY_F_BEGIN) || u->cluster != NULL || s->deferred_begin != NULL ||
        s->tenant[0] != '\0')
        return 0;
    s->deferred_begin = strndup(sql, len);
    if (s->deferred_begin == NULL)
        return 0;
    s->deferred_ro = (f & CLASSIFY_F_BEGIN_READ_ONLY) != 0;
    frontend_answer(s, frontend_words(sql, len, "start", NULL) ? "START TRANSACTION" : "BEGIN",
                    'T');
    return 1;
}

/* Bind parameters of a Bind body (after the names) for tenant extraction. */
static void frontend_bind_tenant(struct session *s, const uint8_t *parse, size_t parse_len,
                                 const uint8_t *rest, size_t n)
{
    struct tenantval_bind b;
    size_t sql_len;

    if (s->cfg->sharding.enabled && tenantval_bind(&b, parse, parse_len, rest, n, &sql_len) == 0)
        frontend_tenant(s, (const char *)parse, sql_len, &b.p);
}

/*
 * A Bind or Describe of the unnamed statement in a unit that has not Parsed it: the
 * statement is the client's from an earlier unit (or none), not whatever the server has.
 */
static int frontend_unnamed_use(struct session *s, const struct frame *f)
{
    struct session_unit *u = &s->unit;

    if (u->unnamed_set || u->unnamed_used)
        return 0;
    if (frontend_rewrite_on(s, f) < 0)
        return -ENOMEM;
    unit_append_unnamed_use(u, s->unnamed, s->unnamed_len);
    return 0;
}

/* The whole message f, unchanged, when the unit is being rewritten. */
static void frontend_keep(struct session *s, const struct frame *f)
{
    if (s->unit.rewrite)
        unit_append(&s->unit, f->body - FRAME_HDR, f->len);
}

/* A simple Query: a unit of its own, unless pgrouter answers it (lazy BEGIN, pgrouter.role). */
static int frontend_msg_query(struct session *s, const struct frame *f)
{
    struct session_unit *u = &s->unit;
    const char *sql = (const char *)f->body;
    /* A NUL-terminated string: classify up to the terminator. */
    size_t len = f->body_len > 0 ? strnlen(sql, f->body_len) : 0;

    frontend_query(s, sql, len);
    if (frontend_lazy_tx(s, sql, len))
        return 0;
    if ((u->cr.flags & CLASSIFY_F_SET_ROLE) && u->cr.n_statements == 1 && !u->rewrite &&
        frontend_names_role(sql, len)) {
        /* pgrouter's own setting: answered here (PRIMARY is a keyword to the server). */
        frontend_set_role(s, frontend_words(sql, len, "reset", NULL));
        return 0;
    }
    /* A simple Query drops the unnamed statement (PostgreSQL does, whatever it runs). */
    free(s->unnamed);
    s->unnamed = NULL;
    s->unnamed_len = 0;
    frontend_keep(s, f);
    u->open = 1;
    dispatch_unit(s, DISPATCH_END);
    return 0;
}

/* A Parse of the unnamed statement: kept for the client's later units, which may run on
 * another server (and, with sharding, for the tenant of the next Bind). */
static int frontend_parse_unnamed(struct session *s, const struct frame *f)
{
    struct session_unit *u = &s->unit;

    if (s->cfg->sharding.enabled) {
        /* Query text and parameter types, for the tenant of the next Bind. */
        free(u->unnamed_sql);
        u->unnamed_len = f->body_len - 1;
        u->unnamed_sql = malloc(u->unnamed_len);
        if (u->unnamed_sql == NULL)
            return -ENOMEM;
        memcpy(u->unnamed_sql, f->body + 1, u->unnamed_len);
    }
    if (frontend_rewrite_on(s, f) < 0)
        return -ENOMEM;
    unit_append_unnamed(u, f->body - FRAME_HDR, f->len, f->body + 1, f->body_len - 1);
    return 0;
}

/* Parse: a new name enters the client's table; the server gets it under pgr_<id>. */
static int frontend_msg_parse(struct session *s, const struct frame *f)
{
    struct session_unit *u = &s->unit;
    const char *name, *query;
    struct stmt *e;
    size_t qlen, skip;

    if (extq_parse(f->body, f->body_len, &name, &query, &qlen) < 0)
        return -EPROTO;
    frontend_classify(s, query, qlen);
    u->open = 1;
    if (name[0] == '\0')
        return frontend_parse_unnamed(s, f);
    if (stmt_get(&s->stmts, name) != NULL) {
        /* PostgreSQL refuses a second Parse of a name: so must the server here. */
        if (frontend_rewrite_on(s, f) < 0)
            return -ENOMEM;
        unit_append_dup(u);
        return 0;
    }
    skip = strlen(name) + 1;
    e = stmt_put(&s->stmts, name, f->body + skip, f->body_len - skip, u->cr.write,
                 u->cr.flags);
    if (e == NULL || frontend_rewrite_on(s, f) < 0)
        return -ENOMEM;
    s->stats.parses++;
    unit_append_parse(u, e->id, e->body, e->body_len, unit_record(u, name, NULL));
    return 0;
}

/* A Bind of a named statement: its class is the Parse's, its name the server's. */
static int frontend_bind_named(struct session *s, const struct frame *f, const char *portal,
                               const char *name)
{
    struct session_unit *u = &s->unit;
    struct stmt *e = stmt_get(&s->stmts, name);
    size_t skip = strlen(portal) + 1 + strlen(name) + 1;
    struct classify_result cr;

    s->stats.binds++;
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
    if (e != NULL)
        frontend_bind_tenant(s, e->body, e->body_len, f->body + skip, f->body_len - skip);
    unit_append_bind(u, portal, e != NULL ? e->id : 0, name, f->body + skip,
                     f->body_len - skip);
    return 0;
}

static int frontend_msg_bind(struct session *s, const struct frame *f)
{
    struct session_unit *u = &s->unit;
    const char *portal, *name;
    size_t skip;

    if (extq_bind(f->body, f->body_len, &portal, &name) < 0)
        return -EPROTO;
    u->open = 1;
    if (name[0] != '\0')
        return frontend_bind_named(s, f, portal, name);
    skip = strlen(portal) + 2;
    if (u->unnamed_sql != NULL)
        frontend_bind_tenant(s, (const uint8_t *)u->unnamed_sql, u->unnamed_len,
                             f->body + skip, f->body_len - skip);
    if (frontend_unnamed_use(s, f) < 0)
        return -ENOMEM;
    frontend_keep(s, f);
    return 0;
}

/* Describe or Close of a statement or portal. */
static int frontend_msg_target(struct session *s, const struct frame *f)
{
    struct session_unit *u = &s->unit;
    const char *name;
    struct stmt *e;
    char kind;

    if (extq_target(f->body, f->body_len, &kind, &name) < 0)
        return -EPROTO;
    u->open = 1;
    if (kind == 'S' && name[0] != '\0') {
        if (frontend_rewrite_on(s, f) < 0)
            return -ENOMEM;
        if (f->type == 'C') {
            /* The name goes now (a later Bind in the unit must fail), back if the
             * server skips the Close; the server-side statement stays for others. */
            e = stmt_take(&s->stmts, name);
            unit_append_close(u, e != NULL ? unit_record(u, NULL, e) : SIZE_MAX);
        } else {
            e = stmt_get(&s->stmts, name);
            unit_append_describe(u, e != NULL ? e->id : 0, name);
        }
    } else if (kind == 'S' && f->type == 'C') {
        if (frontend_rewrite_on(s, f) < 0)
            return -ENOMEM;
        unit_append_unnamed(u, f->body - FRAME_HDR, f->len, NULL, 0);
    } else {
        if (kind == 'S' && frontend_unnamed_use(s, f) < 0)
            return -ENOMEM;
        frontend_keep(s, f);
    }
    return 0;
}

/* Sync, Flush or FunctionCall: the unit (or its part so far) goes out. */
static int frontend_msg_sync(struct session *s, const struct frame *f)
{
    struct session_unit *u = &s->unit;
    struct classify_result cr;

    if (!u->have_cr) {
        memset(&cr, 0, sizeof(cr));
        cr.flags = f->type == 'F' ? 0 : CLASSIFY_F_EMPTY;
        cr.write = f->type == 'F';
        cr.reason = f->type == 'F' ? "function call" : "sync";
        unit_merge(u, &cr);
    }
    frontend_keep(s, f);
    u->open = 1;
    dispatch_unit(s, f->type == 'H' ? DISPATCH_FLUSH : DISPATCH_END);
    return 0;
}

int frontend_message(struct session *s, const struct frame *f)
{
    switch (f->type) {
    case 'Q':
        return frontend_msg_query(s, f);
    case 'P':
        return frontend_msg_parse(s, f);
    case 'B':
        return frontend_msg_bind(s, f);
    case 'D':
    case 'C':
        return frontend_msg_target(s, f);
    case 'E':
        frontend_keep(s, f);
        s->unit.open = 1;
        return 0;
    case 'S':
    case 'H':
    case 'F':
        return frontend_msg_sync(s, f);
    }
    return -EPROTO;
}

/* Is this SET/RESET [SESSION|LOCAL] pgrouter.role ... (not RESET ALL or DISCARD ALL)? */
int frontend_names_role(const char *sql, size_t len)
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
    struct backend *pin = borrow_pinned_tx(s);
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

/* Input ran out mid-message (CONN_SCAN_MORE): pass on the part of a large message, or
 * send a long batch without Sync so far. */
static void frontend_more(struct session *s)
{
    struct conn *c = &s->client;
    struct session_unit *u = &s->unit;

    if (c->skip > 0 && u->dropping) {
        conn_discard(c);
    } else if (c->skip > 0 && u->streaming && !u->sent) {
        conn_want_read(c, 0);   /* no server yet: dispatch_unit reads on */
    } else if (c->skip > 0 || (u->target != NULL && u->target->in_copy)) {
        if (u->target != NULL)
            conn_forward(c, &u->target->srv.conn);
        else
            conn_discard(c);
    } else if (u->open && !u->rewrite && c->parsed - c->sent > FRONTEND_BATCH_MAX) {
        /* A long batch without Sync: send what we have, to the primary. */
        u->force_primary = 1;
        dispatch_unit(s, DISPATCH_FLUSH);
    } else if (u->open && u->rewrite && u->out.len > frontend_rewrite_max(s)) {
        /*
         * A rewritten batch is held until its Sync (sending it in parts gave
         * another client the rest of a large answer); past this it is refused.
         */
        session_fatal(s, "54000", "Send a Sync at least every few messages.",
                      "pgrouter: extended-protocol batch without Sync over %zu "
                      "bytes", frontend_rewrite_max(s));
    }
}

/* A whole message f at parsed: Terminate, COPY data, or the next message of a unit.
 * 1 when the pump goes on, 0 when it stops. */
static int frontend_take(struct session *s, const struct frame *f)
{
    struct conn *c = &s->client;
    struct session_unit *u = &s->unit;
    int rc;

    if (f->type == 'X') {
        conn_consume(c, f->len);
        conn_discard(c);
        connlog_why(s, "client closed the connection");
        session_close(s);   /* servers go back to their pools */
        return 0;
    }
    if (f->type == 'd' || f->type == 'c' || f->type == 'f') {
        /* COPY data goes to the server running the COPY, never starts a unit. */
        conn_consume(c, f->len);
        if (u->target != NULL && (u->pending || u->sent))
            conn_forward(c, &u->target->srv.conn);
        else
            conn_discard(c);
        return 1;
    }
    if (u->pending) {
        /* The previous unit is still running: its answer comes first. */
        session_set_wait(s, SESSION_WAIT_DRAIN);
        conn_want_read(c, 0);
        return 0;
    }
    /* a unit boundary: a reload's snapshot may apply, or a shutdown close it */
    if (!u->open && (s->cfg != s->w->cfg || s->w->life != NULL) &&
        lifecycle_unit_boundary(s) < 0)
        return 0;
    conn_consume(c, f->len);
    rc = frontend_message(s, f);
    if (rc == 0 && u->rewrite)
        conn_discard(c);    /* its bytes live on in unit.out */
    if (rc == -ENOMEM || u->out.oom) {
        session_fatal(s, "53200", NULL, "out of memory");
        return 0;
    }
    if (rc < 0) {
        session_fatal(s, "08P01", NULL, "invalid frontend message (type '%c')",
                      f->type >= 32 && f->type < 127 ? f->type : '?');
        return 0;
    }
    return 1;
}

/* Does the session relay client messages now (logged in, not closing)? */
static int frontend_relaying(const struct session *s)
{
    switch (s->state) {
    case SESSION_IDLE:
    case SESSION_IN_TX:
        return 1;
    case SESSION_STARTUP:
    case SESSION_AUTH:
    case SESSION_CONNECT:
    case SESSION_CLOSING:
        return 0;
    }
    return 0;
}

void frontend_pump(struct session *s)
{
    struct conn *c = &s->client;
    struct session_unit *u = &s->unit;
    struct frame f;

    if (s->wait == SESSION_RUN && s->state != SESSION_CLOSING)
        conn_want_read(c, 1);   /* whatever held the client back is over */
    while (s->wait == SESSION_RUN && frontend_relaying(s)) {
        enum conn_scan scan;

        f.have_header = 0;
        scan = conn_next(c, s->cfg->max_packet_size, frontend_stream_ok, &f);
        if (c->skip == 0 && (u->dropping || u->streaming)) {
            /* the large message's last bytes came: frame what follows afresh */
            if (u->dropping)
                bigmsg_drop_done(s);
            else
                bigmsg_stream_done(s);
            continue;
        }
        if ((scan == CONN_SCAN_MSG || scan == CONN_SCAN_MORE) && c->skip == 0 &&
            bigmsg_is_big(s, &f)) {
            if (!bigmsg_start(s, &f))
                return;
            continue;
        }
        switch (scan) {
        case CONN_SCAN_MSG:
            if (!frontend_take(s, &f))
                return;
            continue;
        case CONN_SCAN_STREAM:
            /* The start of a large CopyData: it belongs to the server in COPY. */
            if (u->target != NULL)
                conn_forward(c, &u->target->srv.conn);
            else
                conn_discard(c);
            continue;
        case CONN_SCAN_MORE:
            frontend_more(s);
            return;
        case CONN_SCAN_BAD:
            session_fatal(s, "08P01", NULL,
                          "invalid message length (message type '%c', limit "
                          "max_packet_size = %zu bytes)",
                          f.type >= 32 && f.type < 127 ? f.type : '?',
                          s->cfg->max_packet_size);
            return;
        }
    }
}
