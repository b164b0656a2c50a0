/*
 * router/sql/classify.c - read/write classification of SQL text for routing. One pass over
 * the tokens of router/sqllex: each statement is dispatched on its first keyword, and
 * queries are scanned for what makes them writes (locking clauses, SELECT INTO,
 * data-modifying CTEs, calls of write functions). When unsure, say "write": a misrouted
 * read costs speed, a misrouted write costs an error.
 */
#include "router/sql/classify.h"

#include <string.h>

#include "router/sql/sqllex.h"

/* EXPLAIN EXPLAIN ... and PREPARE x AS PREPARE ... nest; deeper is not SQL anyway. */
#define CLASSIFY_NEST_MAX 8

static const char *const classify_writes[] = {
    "nextval", "setval", "currval", "lastval",
    "pg_advisory_lock", "pg_advisory_xact_lock", "pg_advisory_lock_shared",
    "pg_advisory_xact_lock_shared", "pg_try_advisory_lock", "pg_try_advisory_xact_lock",
    "pg_try_advisory_lock_shared", "pg_try_advisory_xact_lock_shared",
    "pg_advisory_unlock", "pg_advisory_unlock_shared", "pg_advisory_unlock_all",
    "txid_current", "txid_current_if_assigned", "pg_current_xact_id",
    "pg_current_xact_id_if_assigned", "pg_notify",
    "lo_create", "lo_creat", "lo_import", "lo_export", "lo_unlink", "lo_open", "lo_write",
    "lo_put", "lo_truncate", "lo_truncate64", "lo_from_bytea", "lowrite",
    "pg_create_restore_point", "pg_switch_wal", "pg_create_physical_replication_slot",
    "pg_create_logical_replication_slot", "pg_drop_replication_slot",
    /* Session state, but a SET through a function is invisible to the proxy's tracking. */
    "set_config",
    "pg_terminate_backend", "pg_cancel_backend", "pg_reload_conf", "pg_rotate_logfile",
    NULL,
};

static const char cls_unknown[] = "unrecognised statement";

/*
 * Functions that act on the node they run on: on a random replica they would promote,
 * pause, reload or signal the wrong server. Matched with any qualification, never exempt.
 */
static const char *const classify_node_funcs[] = {
    "pg_promote", "pg_wal_replay_pause", "pg_wal_replay_resume", "pg_reload_conf",
    "pg_switch_wal", "pg_create_restore_point", "pg_terminate_backend", "pg_cancel_backend",
    "pg_rotate_logfile", "pg_log_backend_memory_contexts",
};

static const char cls_node_func[] = "node-specific admin function";

/* Advisory locks held until the session ends (the _xact_ ones end with the transaction). */
static const char *const classify_session_locks[] = {
    "pg_advisory_lock", "pg_advisory_lock_shared",
    "pg_try_advisory_lock", "pg_try_advisory_lock_shared",
};

/* What is known of one statement. */
struct cls_stmt {
    int write, certain;     /* certain: it would fail on a hot standby */
    const char *reason;     /* why it is a write */
    const char *what;       /* what it is otherwise */
    unsigned flags;
    const char *func;       /* the write function called */
    size_t func_len;
    int with_seen, with_depth;  /* a WITH, and the parenthesis depth it is at */
};

/* One classify_sql call. */
struct cls {
    struct sqllex_cursor cu;
    const struct classify_opts *o;
    int nest;               /* statements inside statements */
    struct cls_stmt st;     /* the statement being classified */
    /* The whole string. */
    enum classify_role hint;
    enum classify_role set_role;
    const char *tenant;
    size_t tenant_len;
    unsigned tenant_flags;
    int begin_rw;           /* a BEGIN without READ ONLY */
    int any_certain;
};

static const struct sqllex_token *cls_tok(const struct cls *c, unsigned k)
{
    return sqllex_back(&c->cu, k);
}

static void cls_next(struct cls *c)
{
    sqllex_advance(&c->cu);
}

static enum sqllex_kw cls_kw(const struct cls *c)
{
    return cls_tok(c, 0)->kw;
}

static enum sqllex_kind cls_kind(const struct cls *c)
{
    return cls_tok(c, 0)->kind;
}

static void cls_skip(struct cls *c)
{
    while (!sqllex_at_end(&c->cu))
        cls_next(c);
}

/* Mark the statement a write; a certain reason replaces an uncertain one. 1 if it did. */
static int cls_write(struct cls *c, const char *reason, int certain)
{
    if (c->st.write && (c->st.certain || !certain))
        return 0;
    c->st.write = 1;
    c->st.certain = certain;
    c->st.reason = reason;
    c->st.func = NULL;
    c->st.func_len = 0;
    return 1;
}

static void cls_unrecognised(struct cls *c)
{
    cls_write(c, cls_unknown, 0);
    cls_skip(c);
}

static int cls_is_name(const struct sqllex_token *t)
{
    return t->kind == SQLLEX_IDENT || t->kind == SQLLEX_QIDENT;
}

/* The current token is '(' : is the name before it a call of a write function? */
static void cls_call(struct cls *c)
{
    const struct sqllex_token *n = cls_tok(c, 1), *s = NULL;
    char key[2 * SQLLEX_IDENT_MAX + 1];
    const char *name;
    size_t klen = 0, nlen;
    int w = 0;

    if (!cls_is_name(n))
        return;
    if (cls_tok(c, 2)->kind == SQLLEX_DOT && cls_is_name(cls_tok(c, 3))) {
        s = cls_tok(c, 3);
        klen = sqllex_ident(s, key);
        key[klen++] = '.';
    }
    name = key + klen;
    nlen = sqllex_ident(n, key + klen);
    klen += nlen;
    for (size_t i = 0; i < sizeof(classify_session_locks) / sizeof(classify_session_locks[0]);
         i++) {
        if (strlen(classify_session_locks[i]) == nlen &&
            memcmp(classify_session_locks[i], name, nlen) == 0)
            c->st.flags |= CLASSIFY_F_STICKY;
    }
    for (size_t i = 0; i < sizeof(classify_node_funcs) / sizeof(classify_node_funcs[0]); i++) {
        if (strlen(classify_node_funcs[i]) == nlen &&
            memcmp(classify_node_funcs[i], name, nlen) == 0) {
            c->st.flags |= CLASSIFY_F_NODE;
            if (cls_write(c, cls_node_func, 0)) {
                c->st.func = (s != NULL ? s : n)->p;
                c->st.func_len = (size_t)(n->p + n->len - c->st.func);
            }
            return;
        }
    }
    if (c->st.write || c->o == NULL || funcset_count(c->o->writes) == 0)
        return;
    /* A qualified entry decides for its schema; a bare one for every schema. */
    if (s != NULL && funcset_has(c->o->writes, key, klen))
        w = !funcset_has(c->o->exempt, key, klen);
    else if (funcset_has(c->o->writes, name, nlen))
        w = !funcset_has(c->o->exempt, name, nlen) &&
            !(s != NULL && funcset_has(c->o->exempt, key, klen));
    if (w && cls_write(c, "write function", 0)) {
        c->st.func = (s != NULL ? s : n)->p;
        c->st.func_len = (size_t)(n->p + n->len - c->st.func);
    }
}

/* INSERT/UPDATE/DELETE/MERGE where a WITH puts a statement: a CTE body or the main one. */
static void cls_cte_dml(struct cls *c, const char *reason)
{
    enum sqllex_kind k = cls_tok(c, 1)->kind;

    if (c->st.with_seen &&
        (k == SQLLEX_LPAREN || k == SQLLEX_RPAREN || c->cu.depth == c->st.with_depth))
        cls_write(c, reason, 1);
}

/* A keyword inside a query. */
static void cls_query_kw(struct cls *c, enum sqllex_kw kw)
{
    enum sqllex_kw p1 = cls_tok(c, 1)->kw, p2 = cls_tok(c, 2)->kw, p3 = cls_tok(c, 3)->kw;

    switch (kw) {
    case SQLLEX_KW_WITH:
        if (!c->st.with_seen) {
            c->st.with_seen = 1;
            c->st.with_depth = c->cu.depth;
        }
        break;
    case SQLLEX_KW_UPDATE:
        if (p1 == SQLLEX_KW_FOR)
            cls_write(c, "SELECT ... FOR UPDATE", 1);
        else if (p1 == SQLLEX_KW_KEY && p2 == SQLLEX_KW_NO && p3 == SQLLEX_KW_FOR)
            cls_write(c, "SELECT ... FOR NO KEY UPDATE", 1);
        else
            cls_cte_dml(c, "WITH ... UPDATE");
        break;
    case SQLLEX_KW_SHARE:
        if (p1 == SQLLEX_KW_FOR)
            cls_write(c, "SELECT ... FOR SHARE", 1);
        else if (p1 == SQLLEX_KW_KEY && p2 == SQLLEX_KW_FOR)
            cls_write(c, "SELECT ... FOR KEY SHARE", 1);
        break;
    case SQLLEX_KW_INSERT:
        cls_cte_dml(c, "WITH ... INSERT");
        break;
    case SQLLEX_KW_DELETE:
        cls_cte_dml(c, "WITH ... DELETE");
        break;
    case SQLLEX_KW_MERGE:
        cls_cte_dml(c, "WITH ... MERGE");
        break;
    case SQLLEX_KW_INTO:
        if (p1 != SQLLEX_KW_INSERT && p1 != SQLLEX_KW_MERGE)
            cls_write(c, "SELECT ... INTO", 1);
        break;
    case SQLLEX_KW_TEMP:
    case SQLLEX_KW_TEMPORARY:
        /* SELECT ... INTO [LOCAL | GLOBAL] TEMP t creates a temporary table. */
        if ((p1 == SQLLEX_KW_INTO && p2 != SQLLEX_KW_INSERT && p2 != SQLLEX_KW_MERGE) ||
            ((p1 == SQLLEX_KW_LOCAL || p1 == SQLLEX_KW_GLOBAL) && p2 == SQLLEX_KW_INTO &&
             p3 != SQLLEX_KW_INSERT && p3 != SQLLEX_KW_MERGE))
            c->st.flags |= CLASSIFY_F_STICKY;
        break;
    case SQLLEX_KW_UESCAPE:
        /* A custom escape hides names from sqllex_ident; do not guess. */
        cls_write(c, "UESCAPE (not analysed)", 0);
        break;
    default:
        break;
    }
}

/* Scan a query (or the rest of a DML statement) to its end. */
static void cls_scan(struct cls *c)
{
    for (; !sqllex_at_end(&c->cu); cls_next(c)) {
        const struct sqllex_token *t = cls_tok(c, 0);

        if (t->kind == SQLLEX_LPAREN) {
            cls_call(c);
        } else if (t->kw != SQLLEX_KW_NONE) {
            cls_query_kw(c, t->kw);
        } else if (t->kind == SQLLEX_DOT && cls_tok(c, 2)->kw == SQLLEX_KW_INTO &&
                   sqllex_is(cls_tok(c, 1), "pg_temp")) {
            c->st.flags |= CLASSIFY_F_STICKY;  /* SELECT ... INTO pg_temp.t */
        }
    }
}

static void cls_stmt(struct cls *c);

/* CREATE ...: watch for temporary objects and for BEGIN ATOMIC bodies. */
static void cls_create(struct cls *c)
{
    cls_write(c, "CREATE", 1);
    cls_next(c);
    if (cls_kw(c) == SQLLEX_KW_OR) {
        cls_next(c);
        if (cls_kw(c) == SQLLEX_KW_REPLACE)
            cls_next(c);
    }
    if (cls_kw(c) == SQLLEX_KW_GLOBAL || cls_kw(c) == SQLLEX_KW_LOCAL)
        cls_next(c);
    if (cls_kw(c) == SQLLEX_KW_TEMP || cls_kw(c) == SQLLEX_KW_TEMPORARY)
        c->st.flags |= CLASSIFY_F_STICKY;
    for (; !sqllex_at_end(&c->cu); cls_next(c)) {
        enum sqllex_kw kw = cls_kw(c);

        /* As psql does: CASE ... END nests inside BEGIN ATOMIC ... END. */
        if (kw == SQLLEX_KW_ATOMIC && cls_tok(c, 1)->kw == SQLLEX_KW_BEGIN)
            c->cu.atomic++;
        else if (kw == SQLLEX_KW_CASE && c->cu.atomic > 0)
            c->cu.atomic++;
        else if (kw == SQLLEX_KW_END && c->cu.atomic > 0)
            c->cu.atomic--;
        else if (cls_kind(c) == SQLLEX_DOT && sqllex_is(cls_tok(c, 1), "pg_temp"))
            c->st.flags |= CLASSIFY_F_STICKY;  /* pg_temp.x: a temporary object */
    }
}

/* COPY (query) TO ..., COPY table [(cols)] FROM | TO ... */
static void cls_copy(struct cls *c)
{
    cls_next(c);
    if (cls_kind(c) == SQLLEX_LPAREN) {
        cls_next(c);
        cls_stmt(c);
        c->st.what = "COPY ... TO";
        return;
    }
    for (; !sqllex_at_end(&c->cu); cls_next(c)) {
        if (c->cu.depth == 0 && cls_kw(c) == SQLLEX_KW_FROM) {
            cls_write(c, "COPY ... FROM", 1);
            c->st.flags |= CLASSIFY_F_COPY_FROM;
            cls_skip(c);
            return;
        }
        if (c->cu.depth == 0 && cls_kw(c) == SQLLEX_KW_TO) {
            c->st.what = "COPY ... TO";
            cls_skip(c);
            return;
        }
    }
    cls_write(c, cls_unknown, 0);
}

/* The value after EXPLAIN's ANALYZE option, as defGetBoolean reads it; consumes it. */
static int cls_explain_bool(struct cls *c)
{
    const struct sqllex_token *t = cls_tok(c, 0);
    int on = 1;

    switch (t->kind) {
    case SQLLEX_COMMA:
    case SQLLEX_RPAREN:
    case SQLLEX_EOF:
    case SQLLEX_SEMI:
        return 1;           /* no value: on */
    case SQLLEX_IDENT:
    case SQLLEX_STRING:
    case SQLLEX_QIDENT:
        on = !sqllex_ieq(t->body, t->body_len, "false") &&
             !sqllex_ieq(t->body, t->body_len, "off");
        break;
    case SQLLEX_NUMBER:
        on = !(t->len == 1 && t->p[0] == '0');
        break;
    default:
        break;
    }
    cls_next(c);
    return on;
}

/* EXPLAIN [(options)] | [ANALYZE] [VERBOSE] statement: only ANALYZE runs the statement. */
static void cls_explain(struct cls *c)
{
    struct cls_stmt saved = c->st;
    int analyze = 0;

    cls_next(c);
    if (cls_kind(c) == SQLLEX_LPAREN) {
        int d = c->cu.depth;

        cls_next(c);
        while (!sqllex_at_end(&c->cu) && !(cls_kind(c) == SQLLEX_RPAREN && c->cu.depth == d - 1)) {
            enum sqllex_kw kw = cls_kw(c);

            if (c->cu.depth == d && (kw == SQLLEX_KW_ANALYZE || kw == SQLLEX_KW_ANALYSE)) {
                cls_next(c);
                analyze = cls_explain_bool(c);
            } else {
                cls_next(c);
            }
        }
        if (sqllex_at_end(&c->cu))
            return;
        cls_next(c);
    } else {
        if (cls_kw(c) == SQLLEX_KW_ANALYZE || cls_kw(c) == SQLLEX_KW_ANALYSE) {
            analyze = 1;
            cls_next(c);
        }
        if (cls_kw(c) == SQLLEX_KW_VERBOSE)
            cls_next(c);
    }
    if (sqllex_at_end(&c->cu)) {
        cls_write(c, cls_unknown, 0);
        return;
    }
    cls_stmt(c);
    if (analyze || (c->st.write && c->st.reason == cls_unknown))
        return;
    /* Planned, not executed: whatever the statement would do does not happen. */
    c->st = saved;
    c->st.what = "EXPLAIN (not executed)";
}

/* BEGIN [WORK | TRANSACTION] [modes], START TRANSACTION [modes]; current is BEGIN/TRANSACTION. */
static void cls_begin(struct cls *c)
{
    int ro = 0;

    c->st.flags |= CLASSIFY_F_BEGIN;
    c->st.what = "BEGIN";
    for (cls_next(c); !sqllex_at_end(&c->cu); cls_next(c)) {
        if (cls_tok(c, 1)->kw == SQLLEX_KW_READ && cls_kw(c) == SQLLEX_KW_ONLY)
            ro = 1;
        else if (cls_tok(c, 1)->kw == SQLLEX_KW_READ && cls_kw(c) == SQLLEX_KW_WRITE)
            ro = 0;
    }
    if (ro)
        c->st.flags |= CLASSIFY_F_BEGIN_READ_ONLY;
    else
        c->begin_rw = 1;
}

/* COMMIT, END, ROLLBACK, ABORT, with PREPARED, TO SAVEPOINT and AND [NO] CHAIN forms. */
static void cls_commit(struct cls *c)
{
    enum sqllex_kw kw = cls_kw(c);
    int chain = 0;

    cls_next(c);
    if (cls_kw(c) == SQLLEX_KW_PREPARED && (kw == SQLLEX_KW_COMMIT || kw == SQLLEX_KW_ROLLBACK)) {
        cls_write(c, kw == SQLLEX_KW_COMMIT ? "COMMIT PREPARED" : "ROLLBACK PREPARED", 1);
        cls_skip(c);
        return;
    }
    if (cls_kw(c) == SQLLEX_KW_WORK || cls_kw(c) == SQLLEX_KW_TRANSACTION)
        cls_next(c);
    if (cls_kw(c) == SQLLEX_KW_TO && (kw == SQLLEX_KW_ROLLBACK || kw == SQLLEX_KW_ABORT)) {
        c->st.flags |= CLASSIFY_F_TXCTL;
        c->st.what = "ROLLBACK TO SAVEPOINT";
        cls_skip(c);
        return;
    }
    c->st.flags |= CLASSIFY_F_END;
    c->st.what = kw == SQLLEX_KW_COMMIT || kw == SQLLEX_KW_END ? "COMMIT" : "ROLLBACK";
    for (; !sqllex_at_end(&c->cu); cls_next(c)) {
        if (cls_kw(c) == SQLLEX_KW_CHAIN && cls_tok(c, 1)->kw != SQLLEX_KW_NO)
            chain = 1;
    }
    if (chain) {
        /* The new transaction's access mode is the old one's, unknown here. */
        c->st.flags |= CLASSIFY_F_BEGIN;
        c->begin_rw = 1;
    }
}

/* 1 if t is the name n: unquoted ignoring case, or quoted exactly. */
static int cls_name_is(const struct sqllex_token *t, const char *n)
{
    if (t->kind == SQLLEX_QIDENT)
        return t->body_len == strlen(n) && memcmp(t->body, n, t->body_len) == 0;
    return sqllex_is(t, n);
}

static void cls_reset_role_tenant(struct cls *c, int role, int tenant)
{
    if (role) {
        c->st.flags |= CLASSIFY_F_SET_ROLE;
        c->set_role = CLASSIFY_ROLE_AUTO;
    }
    if (tenant) {
        c->st.flags |= CLASSIFY_F_SET_TENANT;
        c->tenant = NULL;
        c->tenant_len = 0;
        c->tenant_flags = 0;
    }
}

/* The value of SET pgrouter.role / pgrouter.tenant; current is the value's first token. */
static void cls_set_value(struct cls *c, int role)
{
    const struct sqllex_token *v = cls_tok(c, 0);
    const char *p = v->body;
    size_t n = v->body_len;

    if (v->kw == SQLLEX_KW_DEFAULT) {
        cls_reset_role_tenant(c, role, !role);
        return;
    }
    if (role) {
        c->st.flags |= CLASSIFY_F_SET_ROLE;
        c->set_role = CLASSIFY_ROLE_NONE;
        if (v->kind != SQLLEX_IDENT && v->kind != SQLLEX_STRING)
            return;
        if (sqllex_ieq(p, n, "primary"))
            c->set_role = CLASSIFY_ROLE_PRIMARY;
        else if (sqllex_ieq(p, n, "replica"))
            c->set_role = CLASSIFY_ROLE_REPLICA;
        else if (sqllex_ieq(p, n, "auto"))
            c->set_role = CLASSIFY_ROLE_AUTO;
        return;
    }
    if (v->kind != SQLLEX_IDENT && v->kind != SQLLEX_QIDENT && v->kind != SQLLEX_STRING &&
        v->kind != SQLLEX_NUMBER)
        return;             /* no value: PostgreSQL rejects the statement */
    c->st.flags |= CLASSIFY_F_SET_TENANT;
    c->tenant = p;
    c->tenant_len = n;
    c->tenant_flags = 0;
    if ((v->flags & SQLLEX_T_ESCAPES) ||
        ((v->flags & SQLLEX_T_UNICODE) && memchr(p, '\\', n) != NULL))
        c->tenant_flags |= CLASSIFY_F_TENANT_ESCAPED;
    for (size_t i = 0; v->kind == SQLLEX_IDENT && i < n; i++) {
        if (p[i] >= 'A' && p[i] <= 'Z')
            c->tenant_flags |= CLASSIFY_F_TENANT_FOLD;
    }
}

/* After SET [SESSION | LOCAL] or RESET: a parameter name; pgrouter.* ones are ours. */
static void cls_guc(struct cls *c, int reset)
{
    int role;

    if (!cls_name_is(cls_tok(c, 0), "pgrouter"))
        return;
    cls_next(c);
    if (cls_kind(c) != SQLLEX_DOT)
        return;
    cls_next(c);
    if (cls_name_is(cls_tok(c, 0), "role"))
        role = 1;
    else if (cls_name_is(cls_tok(c, 0), "tenant"))
        role = 0;
    else
        return;
    if (reset) {
        cls_reset_role_tenant(c, role, !role);
        return;
    }
    cls_next(c);
    if (cls_kw(c) != SQLLEX_KW_TO &&
        !(cls_kind(c) == SQLLEX_OP && cls_tok(c, 0)->len == 1 && cls_tok(c, 0)->p[0] == '='))
        return;
    cls_next(c);
    cls_set_value(c, role);
}

static void cls_set(struct cls *c)
{
    cls_next(c);
    if (cls_kw(c) == SQLLEX_KW_TRANSACTION || cls_kw(c) == SQLLEX_KW_CONSTRAINTS) {
        c->st.flags |= CLASSIFY_F_TXCTL;
        c->st.what = "SET TRANSACTION";
        cls_skip(c);
        return;
    }
    c->st.flags |= CLASSIFY_F_SESSION;
    c->st.what = "SET";
    if (cls_kw(c) == SQLLEX_KW_SESSION || cls_kw(c) == SQLLEX_KW_LOCAL)
        cls_next(c);
    cls_guc(c, 0);
    cls_skip(c);
}

/* RESET name | ALL, DISCARD ALL | PLANS | SEQUENCES | TEMP */
static void cls_reset(struct cls *c, const char *what)
{
    int discard = cls_kw(c) == SQLLEX_KW_DISCARD;

    c->st.flags |= CLASSIFY_F_SESSION;
    c->st.what = what;
    cls_next(c);
    if (cls_kw(c) == SQLLEX_KW_ALL)
        cls_reset_role_tenant(c, 1, 1);
    else if (!discard)
        cls_guc(c, 1);
    cls_skip(c);
}

/* PREPARE TRANSACTION 'gid', or PREPARE name [(types)] AS statement. */
static void cls_prepare(struct cls *c)
{
    enum sqllex_kw name;

    cls_next(c);
    name = cls_kw(c);
    if (sqllex_at_end(&c->cu)) {
        cls_write(c, cls_unknown, 0);
        return;
    }
    cls_next(c);
    if (name == SQLLEX_KW_TRANSACTION && cls_kind(c) == SQLLEX_STRING) {
        /* Two-phase commit: the transaction leaves the session. */
        cls_write(c, "PREPARE TRANSACTION", 1);
        c->st.flags |= CLASSIFY_F_END;
        cls_skip(c);
        return;
    }
    if (cls_kind(c) == SQLLEX_LPAREN) {
        while (!sqllex_at_end(&c->cu) && !(cls_kind(c) == SQLLEX_RPAREN && c->cu.depth == 0))
            cls_next(c);
        if (!sqllex_at_end(&c->cu))
            cls_next(c);
    }
    if (cls_kw(c) != SQLLEX_KW_AS) {
        cls_unrecognised(c);
        return;
    }
    cls_next(c);
    c->st.flags |= CLASSIFY_F_SESSION;
    cls_stmt(c);
    c->st.what = "PREPARE";
    c->st.certain = 0;         /* prepared, not run: EXECUTE runs it */
}

/* DECLARE name ... CURSOR [WITH HOLD | WITHOUT HOLD] FOR query */
static void cls_declare(struct cls *c)
{
    c->st.flags |= CLASSIFY_F_CURSOR;
    cls_write(c, "cursor", 0);
    for (cls_next(c); !sqllex_at_end(&c->cu); cls_next(c)) {
        if (cls_kw(c) == SQLLEX_KW_HOLD && cls_tok(c, 1)->kw == SQLLEX_KW_WITH)
            c->st.flags |= CLASSIFY_F_STICKY;
        if (cls_kw(c) == SQLLEX_KW_FOR && c->cu.depth == 0) {
            cls_next(c);
            cls_scan(c);
            return;
        }
    }
}

/* A statement that is a write and needs no further look, or needs a scan. */
static void cls_simple_write(struct cls *c, const char *reason, int certain, int scan)
{
    cls_write(c, reason, certain);
    if (scan)
        cls_scan(c);
    else
        cls_skip(c);
}

/* Dispatch on the first keyword; consumes the statement up to its end. */
static void cls_stmt(struct cls *c)
{
    if (++c->nest > CLASSIFY_NEST_MAX) {
        cls_unrecognised(c);
        c->nest--;
        return;
    }
    if (cls_kind(c) == SQLLEX_LPAREN) {
        /* (SELECT ...) UNION (SELECT ...): only queries open with a parenthesis. */
        while (cls_kind(c) == SQLLEX_LPAREN)
            cls_next(c);
        switch (cls_kw(c)) {
        case SQLLEX_KW_SELECT: case SQLLEX_KW_VALUES: case SQLLEX_KW_TABLE: case SQLLEX_KW_WITH:
            cls_scan(c);
            break;
        default:
            cls_unrecognised(c);
            break;
        }
        c->nest--;
        return;
    }
    switch (cls_kw(c)) {
    case SQLLEX_KW_SELECT: case SQLLEX_KW_VALUES: case SQLLEX_KW_TABLE: case SQLLEX_KW_WITH:
        cls_scan(c);
        break;
    case SQLLEX_KW_SHOW:
        cls_skip(c);
        break;
    case SQLLEX_KW_INSERT: cls_simple_write(c, "INSERT", 1, 1); break;
    case SQLLEX_KW_UPDATE: cls_simple_write(c, "UPDATE", 1, 1); break;
    case SQLLEX_KW_DELETE: cls_simple_write(c, "DELETE", 1, 1); break;
    case SQLLEX_KW_MERGE: cls_simple_write(c, "MERGE", 1, 1); break;
    case SQLLEX_KW_CALL: cls_simple_write(c, "CALL", 0, 1); break;
    case SQLLEX_KW_EXECUTE:
        c->st.flags |= CLASSIFY_F_SESSION | CLASSIFY_F_EXECUTE;
        cls_simple_write(c, "EXECUTE (prepared statement unknown here)", 0, 1);
        break;
    case SQLLEX_KW_TRUNCATE: cls_simple_write(c, "TRUNCATE", 1, 0); break;
    case SQLLEX_KW_ALTER:
        cls_next(c);
        cls_simple_write(c, cls_kw(c) == SQLLEX_KW_SYSTEM ? "ALTER SYSTEM" : "ALTER", 1, 0);
        break;
    case SQLLEX_KW_DROP: cls_simple_write(c, "DROP", 1, 0); break;
    case SQLLEX_KW_GRANT: cls_simple_write(c, "GRANT", 1, 0); break;
    case SQLLEX_KW_REVOKE: cls_simple_write(c, "REVOKE", 1, 0); break;
    case SQLLEX_KW_COMMENT: cls_simple_write(c, "COMMENT", 1, 0); break;
    case SQLLEX_KW_SECURITY: cls_simple_write(c, "SECURITY LABEL", 1, 0); break;
    case SQLLEX_KW_VACUUM: cls_simple_write(c, "VACUUM", 1, 0); break;
    case SQLLEX_KW_ANALYZE: case SQLLEX_KW_ANALYSE: cls_simple_write(c, "ANALYZE", 1, 0); break;
    case SQLLEX_KW_REINDEX: cls_simple_write(c, "REINDEX", 1, 0); break;
    case SQLLEX_KW_CLUSTER: cls_simple_write(c, "CLUSTER", 1, 0); break;
    case SQLLEX_KW_REFRESH: cls_simple_write(c, "REFRESH", 1, 0); break;
    case SQLLEX_KW_IMPORT: cls_simple_write(c, "IMPORT FOREIGN SCHEMA", 1, 0); break;
    case SQLLEX_KW_REASSIGN: cls_simple_write(c, "REASSIGN", 1, 0); break;
    case SQLLEX_KW_NOTIFY: cls_simple_write(c, "NOTIFY", 1, 0); break;
    /* Allowed on a hot standby in some forms: writes, but a replica hint may stand. */
    case SQLLEX_KW_LOCK: cls_simple_write(c, "LOCK", 0, 0); break;
    case SQLLEX_KW_DO: cls_simple_write(c, "DO", 0, 0); break;
    case SQLLEX_KW_CHECKPOINT: cls_simple_write(c, "CHECKPOINT", 0, 0); break;
    case SQLLEX_KW_UNLISTEN: cls_simple_write(c, "UNLISTEN", 0, 0); break;
    case SQLLEX_KW_LISTEN:
        c->st.flags |= CLASSIFY_F_STICKY;
        cls_simple_write(c, "LISTEN", 1, 0);
        break;
    case SQLLEX_KW_CREATE: cls_create(c); break;
    case SQLLEX_KW_COPY: cls_copy(c); break;
    case SQLLEX_KW_EXPLAIN: cls_explain(c); break;
    case SQLLEX_KW_BEGIN: cls_begin(c); break;
    case SQLLEX_KW_START:
        cls_next(c);
        if (cls_kw(c) == SQLLEX_KW_TRANSACTION)
            cls_begin(c);
        else
            cls_unrecognised(c);
        break;
    case SQLLEX_KW_COMMIT: case SQLLEX_KW_END: case SQLLEX_KW_ROLLBACK: case SQLLEX_KW_ABORT:
        cls_commit(c);
        break;
    case SQLLEX_KW_SAVEPOINT: case SQLLEX_KW_RELEASE:
        c->st.flags |= CLASSIFY_F_TXCTL;
        c->st.what = cls_kw(c) == SQLLEX_KW_SAVEPOINT ? "SAVEPOINT" : "RELEASE";
        cls_skip(c);
        break;
    case SQLLEX_KW_SET: cls_set(c); break;
    case SQLLEX_KW_RESET: cls_reset(c, "RESET"); break;
    case SQLLEX_KW_DISCARD: cls_reset(c, "DISCARD"); break;
    case SQLLEX_KW_DEALLOCATE:
        c->st.flags |= CLASSIFY_F_SESSION;
        c->st.what = "DEALLOCATE";
        cls_skip(c);
        break;
    case SQLLEX_KW_PREPARE: cls_prepare(c); break;
    case SQLLEX_KW_DECLARE: cls_declare(c); break;
    case SQLLEX_KW_FETCH: case SQLLEX_KW_MOVE: case SQLLEX_KW_CLOSE:
        c->st.flags |= CLASSIFY_F_CURSOR;
        cls_simple_write(c, "cursor", 0, 0);
        break;
    default:
        cls_unrecognised(c);
        break;
    }
    c->nest--;
}

/* A comment: look for pgrouter_role [:=] primary | replica, in any case. */
static void cls_comment(void *arg, const char *p, size_t n)
{
    static const char key[] = "pgrouter_role";
    struct cls *c = arg;

    for (size_t i = 0; i + sizeof(key) - 1 <= n; i++) {
        size_t j = i + sizeof(key) - 1, w;

        if (!sqllex_ieq(p + i, sizeof(key) - 1, key))
            continue;
        while (j < n && (p[j] == ' ' || p[j] == '\t'))
            j++;
        if (j >= n || (p[j] != ':' && p[j] != '='))
            continue;
        for (j++; j < n && (p[j] == ' ' || p[j] == '\t'); j++)
            ;
        /* The whole word: "replicas" is no hint. */
        for (w = j; w < n && (unsigned)((p[w] | 0x20) - 'a') < 26u; w++)
            ;
        if (sqllex_ieq(p + j, w - j, "primary"))
            c->hint = CLASSIFY_ROLE_PRIMARY;
        else if (sqllex_ieq(p + j, w - j, "replica") && c->hint != CLASSIFY_ROLE_PRIMARY)
            c->hint = CLASSIFY_ROLE_REPLICA;
    }
}

/* Fold the statement just classified into the result. */
static void cls_merge(struct cls *c, struct classify_result *out)
{
    if (c->cu.bad) {
        /* PostgreSQL rejects the whole text: whatever the statement looked like. */
        c->st.write = 1;
        c->st.certain = 0;
        c->st.reason = "unterminated string, identifier or comment";
        c->st.func = NULL;
        c->st.func_len = 0;
        c->st.flags |= CLASSIFY_F_BAD;
    }
    if (out->n_statements++ == 0)
        out->reason = c->st.write ? c->st.reason : c->st.what;
    out->flags |= c->st.flags;
    if (c->st.write && (!out->write || (c->st.certain && !c->any_certain))) {
        out->reason = c->st.reason;
        out->func = c->st.func;
        out->func_len = c->st.func_len;
    }
    out->write |= c->st.write;
    c->any_certain |= c->st.write && c->st.certain;
}

int classify_sql(const struct classify_opts *o, const char *sql, size_t len,
                 struct classify_result *out)
{
    struct cls c;

    memset(out, 0, sizeof(*out));
    memset(&c, 0, sizeof(c));
    c.o = o;
    sqllex_cursor_init(&c.cu, sql != NULL ? sql : "", sql != NULL ? len : 0,
                       o != NULL && o->escape_strings, cls_comment, &c);
    while (cls_kind(&c) != SQLLEX_EOF) {
        if (cls_kind(&c) == SQLLEX_SEMI) {
            sqllex_advance(&c.cu);
            continue;
        }
        c.cu.depth = cls_kind(&c) == SQLLEX_LPAREN;
        c.cu.atomic = 0;
        c.cu.bad = cls_kind(&c) == SQLLEX_BAD;
        memset(&c.st, 0, sizeof(c.st));
        c.st.what = "read";
        cls_stmt(&c);
        cls_merge(&c, out);
        if (cls_kind(&c) == SQLLEX_SEMI)
            sqllex_advance(&c.cu);
    }
    if (out->n_statements == 0) {
        out->flags |= CLASSIFY_F_EMPTY;
        out->reason = "empty";
    }
    if (c.begin_rw)
        out->flags &= ~CLASSIFY_F_BEGIN_READ_ONLY;
    out->flags = (out->flags & ~(CLASSIFY_F_TENANT_FOLD | CLASSIFY_F_TENANT_ESCAPED)) |
                 c.tenant_flags;
    out->hint = c.hint;
    out->set_role = c.set_role;
    out->tenant = c.tenant;
    out->tenant_len = c.tenant_len;
    out->certain = c.any_certain;
    out->hint_conflict = c.hint == CLASSIFY_ROLE_REPLICA && c.any_certain;
    return 0;
}

const char *const *classify_default_writes(size_t *n)
{
    if (n != NULL)
        *n = sizeof(classify_writes) / sizeof(classify_writes[0]) - 1;
    return classify_writes;
}
