/*
 * router/sql/tenant.c - tenant extraction from one query string: comment hints, the sharded
 * tables a statement names (with their aliases), and the values it gives the tenant
 * column in comparisons, IN lists and INSERT ... VALUES rows.
 *
 * One pass over sqllex tokens with a little state per statement. It reads SQL shapes,
 * not a grammar: FROM counts as a table list only at a parenthesis level where SELECT,
 * DELETE or UPDATE was seen (so EXTRACT(x FROM y) is not), a value counts only if it is
 * the whole operand ('a' || 'b' is not 'a'), and a qualified column only if its qualifier
 * is a sharded table or its alias. Anything else yields no value, which the caller turns
 * into "tenant required" rather than a guess. A comparison that can match several tenants
 * (a NOT around it, <>, LIKE, IS DISTINCT FROM, NOT IN, IN (SELECT ...)) sets broad, which
 * the caller refuses outright; one hidden in a CASE sets unknown. Turning a value as written (escaped string,
 * integer, bound parameter, hint) into the tenant's bytes is tenantval.c's job.
 */
#include "router/sql/tenant.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "router/sql/sqllex.h"
#include "router/sql/tenantneg.h"
#include "router/sql/tenantval.h"

#define TENANT_MAX_QUALS 16     /* sharded table names and aliases per statement */
#define TENANT_MAX_CTES 8

/* A name part, folded like PostgreSQL folds it (quoted parts kept as written). */
struct tenant_name {
    char s[SQLLEX_IDENT_MAX + 1];
    size_t n;
};

/* How a table reference is followed: what a '(' after the name means. */
enum tenant_ref { REF_FROM, REF_INSERT, REF_PLAIN };

struct tenant_scan {
    const struct tenant_opts *o;
    const struct tenant_params *params;
    struct tenant_result *out;
    struct sqllex_cursor cu;
    size_t col_len;
    /* per statement */
    uint64_t query_at;          /* bit d: SELECT/DELETE/UPDATE seen at depth d */
    uint64_t from_at;           /* bit d: in a FROM list at depth d (after JOIN ... ON too) */
    struct tenant_name quals[TENANT_MAX_QUALS];
    unsigned n_quals;
    struct tenant_name ctes[TENANT_MAX_CTES];
    unsigned n_ctes;
    int insert_col;             /* tenant column's place in the INSERT column list, or -1 */
    int insert_depth;
    int copy;                   /* in COPY: FROM and TO name files, not tables */
    struct tenantneg ng;        /* NOT, CASE and subqueries around the cursor */
};

static const struct sqllex_token *tenant_cur(const struct tenant_scan *ts)
{
    return sqllex_back(&ts->cu, 0);
}

static void tenant_next(struct tenant_scan *ts)
{
    sqllex_advance(&ts->cu);
}

static int tenant_is_punct(const struct sqllex_token *t, char c)
{
    return t->kind == SQLLEX_PUNCT && t->len == 1 && t->p[0] == c;
}

static int tenant_is_op(const struct sqllex_token *t, const char *op)
{
    return t->kind == SQLLEX_OP && t->len == strlen(op) && memcmp(t->p, op, t->len) == 0;
}

static int tenant_is_name(const struct sqllex_token *t)
{
    return t->kind == SQLLEX_IDENT || t->kind == SQLLEX_QIDENT;
}

/* Unquoted names fold to lowercase; quoted ones keep their bytes ("" is left doubled). */
static void tenant_fold(const struct sqllex_token *t, struct tenant_name *n)
{
    size_t len = t->body_len > SQLLEX_IDENT_MAX ? SQLLEX_IDENT_MAX : t->body_len;

    for (size_t i = 0; i < len; i++) {
        char c = t->body[i];

        if (t->kind == SQLLEX_IDENT && c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        n->s[i] = c;
    }
    n->n = len;
    n->s[len] = '\0';
}

static int tenant_name_eq(const struct tenant_name *a, const struct tenant_name *b)
{
    return a->n == b->n && memcmp(a->s, b->s, a->n) == 0;
}

/*
 * A comparison that can match several tenants: in a WHERE, ON or HAVING it selects rows;
 * in a select list or a call's arguments, or outside queries (DDL), it says nothing.
 */
static void tenant_broad(struct tenant_scan *ts)
{
    if (ts->ng.dml && tenantneg_clause(&ts->ng, ts->cu.depth) == TENANTNEG_WHERE)
        ts->out->broad = 1;
}

/*
 * The tenant column is compared by equality here. Returns 1 if the value counts; 0 if it
 * selects no rows (select list, a call's arguments), a NOT makes it "every other tenant"
 * (broad) or a CASE hides what it selects (unknown). Only one in a WHERE, ON or HAVING
 * bounds its query level's rows (see tenantneg_table).
 */
static int tenant_eq_ok(struct tenant_scan *ts, int neg)
{
    int clause = ts->ng.dml ? tenantneg_clause(&ts->ng, ts->cu.depth) : TENANTNEG_WHERE;

    if (clause == 0)
        return 0;               /* select list, f(...), FILTER (...): selects no rows */
    if (clause == TENANTNEG_WHERE)
        tenantneg_compared(&ts->ng, ts->cu.depth);  /* SET tenant_id = 'b' bounds nothing */
    if (neg) {
        tenant_broad(ts);
        return 0;
    }
    if (ts->ng.in_case > 0) {
        ts->out->unknown = 1;
        return 0;
    }
    return 1;
}

/* ---- values ---- */

/* Skip "::type" casts (type name, optional modifiers and [] suffixes) at the cursor. */
static void tenant_skip_cast(struct tenant_scan *ts)
{
    while (tenant_is_punct(tenant_cur(ts), ':')) {
        tenant_next(ts);
        if (!tenant_is_punct(tenant_cur(ts), ':'))
            return;
        tenant_next(ts);
        while (tenant_is_name(tenant_cur(ts)) || tenant_cur(ts)->kind == SQLLEX_DOT)
            tenant_next(ts);
        if (tenant_cur(ts)->kind == SQLLEX_LPAREN) {
            int depth = ts->cu.depth;

            while (tenant_cur(ts)->kind != SQLLEX_EOF &&
                   !(tenant_cur(ts)->kind == SQLLEX_RPAREN && ts->cu.depth == depth - 1))
                tenant_next(ts);
            tenant_next(ts);
        }
        while (tenant_is_punct(tenant_cur(ts), '[') || tenant_is_punct(tenant_cur(ts), ']'))
            tenant_next(ts);
    }
}

/* 1 if t may follow a complete operand: the end of it, a keyword, a separator. */
static int tenant_operand_ends(const struct sqllex_token *t)
{
    switch (t->kind) {
    case SQLLEX_EOF:
    case SQLLEX_IDENT:
    case SQLLEX_RPAREN:
    case SQLLEX_COMMA:
    case SQLLEX_SEMI:
        return 1;
    default:
        return 0;
    }
}

/*
 * An operand at the cursor: a string, integer (negative if a '-' came first) or $n,
 * optionally cast, standing alone. Records it and returns 1 with the cursor after it;
 * returns 0 if the operand is anything else (the cursor may have moved).
 */
static int tenant_operand(struct tenant_scan *ts, int negative, enum tenant_src src)
{
    struct sqllex_token t = *tenant_cur(ts);

    if (tenant_is_op(&t, "-") && !negative) {
        tenant_next(ts);
        return tenant_operand(ts, 1, src);
    }
    if (t.kind != SQLLEX_STRING && t.kind != SQLLEX_NUMBER && t.kind != SQLLEX_PARAM)
        return 0;
    if (negative && t.kind != SQLLEX_NUMBER)
        return 0;
    tenant_next(ts);
    tenant_skip_cast(ts);
    if (!tenant_operand_ends(tenant_cur(ts)))
        return 0;
    if (t.kind == SQLLEX_STRING)
        tenantval_add_string(ts->out, &t, ts->o->escape_strings, src);
    else if (t.kind == SQLLEX_NUMBER)
        tenantval_add_number(ts->out, &t, negative, src);
    else
        tenantval_add_param(ts->out, ts->params, &t);
    return 1;
}

/* ---- tables ---- */

static int tenant_is_cte(const struct tenant_scan *ts, const struct tenant_name *n)
{
    for (unsigned i = 0; i < ts->n_ctes; i++)
        if (tenant_name_eq(&ts->ctes[i], n))
            return 1;
    return 0;
}

/* Index into o->tables of the sharded table schema.table (schema may be NULL), or -1. */
static long tenant_sharded(const struct tenant_scan *ts, const struct tenant_name *schema,
                           const struct tenant_name *table)
{
    for (size_t i = 0; i < ts->o->n_tables; i++) {
        const char *e = ts->o->tables[i];
        const char *dot = strchr(e, '.');
        const char *t = dot != NULL ? dot + 1 : e;

        if (strlen(t) != table->n || memcmp(t, table->s, table->n) != 0)
            continue;
        if (dot == NULL)
            return (long)i;
        if (schema != NULL && (size_t)(dot - e) == schema->n &&
            memcmp(e, schema->s, schema->n) == 0)
            return (long)i;
    }
    return -1;
}

static void tenant_add_qual(struct tenant_scan *ts, const struct tenant_name *n)
{
    if (ts->n_quals < TENANT_MAX_QUALS)
        ts->quals[ts->n_quals++] = *n;
}

static void tenant_note_table(struct tenant_scan *ts, long idx)
{
    struct tenant_result *r = ts->out;

    r->touches_sharded = 1;
    for (unsigned i = 0; i < r->n_tables; i++)
        if (r->tables[i] == (unsigned)idx)
            return;
    if (r->n_tables < TENANT_MAX_TABLES)
        r->tables[r->n_tables++] = (unsigned)idx;
}

/* 1 if an identifier after a table name is a keyword, not an alias. */
static int tenant_not_alias(const struct sqllex_token *t)
{
    static const char *const words[] = {
        "where", "join", "inner", "left", "right", "full", "cross", "natural", "on",
        "using", "set", "group", "order", "limit", "offset", "fetch", "for", "union",
        "intersect", "except", "window", "having", "returning", "values", "default",
        "select", "tablesample", "do", "when", "then", "and", "or", "from", "into",
        "overriding", "with", "partition", "in", "nowait", "skip", "to", "as", "only",
    };

    if (t->kind != SQLLEX_IDENT)
        return t->kind != SQLLEX_QIDENT;
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (sqllex_ieq(t->p, t->len, words[i]))
            return 1;
    return t->kw != SQLLEX_KW_NONE;
}

/* INSERT's column list at the cursor '(': where the tenant column is, or -1. */
static int tenant_insert_columns(struct tenant_scan *ts)
{
    int depth = ts->cu.depth, pos = 0, found = -1;

    tenant_next(ts);
    while (tenant_cur(ts)->kind != SQLLEX_EOF && ts->cu.depth >= depth) {
        const struct sqllex_token *t = tenant_cur(ts);

        if (ts->cu.depth == depth && t->kind == SQLLEX_COMMA) {
            pos++;
        } else if (ts->cu.depth == depth && tenant_is_name(t) && found < 0 &&
                   ts->col_len > 0) {
            struct tenant_name n;

            tenant_fold(t, &n);
            if (n.n == ts->col_len && memcmp(n.s, ts->o->column, n.n) == 0)
                found = pos;
        }
        tenant_next(ts);
    }
    tenant_next(ts);            /* past ')' */
    return found;
}

/*
 * A table reference at the cursor: [ONLY] name[.name[.name]] [*] [[AS] alias]. Notes the
 * table; for a sharded one in an INSERT also reads the column list. Returns with the
 * cursor on the first token it did not use.
 */
static void tenant_table(struct tenant_scan *ts, enum tenant_ref ref)
{
    struct tenant_name part[3];
    int depth = ts->cu.depth;   /* of the name (a ')' may follow it) */
    unsigned n = 0;
    long idx;

    while (tenant_cur(ts)->kw == SQLLEX_KW_ONLY || sqllex_is(tenant_cur(ts), "if") ||
           sqllex_is(tenant_cur(ts), "not") || sqllex_is(tenant_cur(ts), "exists"))
        tenant_next(ts);
    if (!tenant_is_name(tenant_cur(ts)) || sqllex_is(tenant_cur(ts), "lateral"))
        return;
    for (;;) {
        tenant_fold(tenant_cur(ts), &part[n < 3 ? n : 2]);
        n += n < 3;
        tenant_next(ts);
        if (tenant_cur(ts)->kind != SQLLEX_DOT)
            break;
        tenant_next(ts);
        if (!tenant_is_name(tenant_cur(ts)))
            return;
    }
    if (ref == REF_FROM && tenant_cur(ts)->kind == SQLLEX_LPAREN)
        return;                 /* a function in FROM */
    if (n == 1 && tenant_is_cte(ts, &part[0]))
        return;
    idx = tenant_sharded(ts, n > 1 ? &part[n - 2] : NULL, &part[n - 1]);
    if (idx < 0) {
        ts->out->touches_other = 1;
        return;
    }
    tenant_note_table(ts, idx);
    if (ref != REF_INSERT)
        tenantneg_table(&ts->ng, depth);    /* its rows need a tenant_id = here */
    tenant_add_qual(ts, &part[n - 1]);
    if (tenant_is_op(tenant_cur(ts), "*"))
        tenant_next(ts);
    if (tenant_cur(ts)->kw == SQLLEX_KW_AS)
        tenant_next(ts);
    if (tenant_is_name(tenant_cur(ts)) && !tenant_not_alias(tenant_cur(ts))) {
        struct tenant_name alias;

        tenant_fold(tenant_cur(ts), &alias);
        tenant_add_qual(ts, &alias);
        tenant_next(ts);
    }
    if (ref == REF_INSERT && tenant_cur(ts)->kind == SQLLEX_LPAREN) {
        ts->insert_depth = ts->cu.depth - 1;
        ts->insert_col = tenant_insert_columns(ts);
    }
    /* no column list, or one without the tenant column: it gets a default or a query's */
    if (ref == REF_INSERT && ts->insert_col < 0)
        ts->out->unknown = 1;
}

/* FROM's list: table references separated by commas at this depth. */
static void tenant_from(struct tenant_scan *ts)
{
    int depth = ts->cu.depth;

    for (;;) {
        tenant_table(ts, REF_FROM);
        if (tenant_cur(ts)->kind != SQLLEX_COMMA || ts->cu.depth != depth)
            return;
        tenant_next(ts);
    }
}

/* VALUES rows of an INSERT into a sharded table: the tenant column's element of each. */
static void tenant_values(struct tenant_scan *ts)
{
    tenant_next(ts);
    while (tenant_cur(ts)->kind == SQLLEX_LPAREN) {
        int row = ts->cu.depth;
        int pos = 0;

        tenant_next(ts);
        while (tenant_cur(ts)->kind != SQLLEX_EOF && ts->cu.depth >= row) {
            if (pos == ts->insert_col) {
                if (!tenant_operand(ts, 0, TENANT_SRC_INSERT))
                    ts->out->unknown = 1;
                pos++;          /* rest of this element, if any, is skipped below */
                continue;
            }
            if (ts->cu.depth == row && tenant_cur(ts)->kind == SQLLEX_COMMA)
                pos += pos < ts->insert_col ? 1 : 0;
            tenant_next(ts);
        }
        if (pos <= ts->insert_col)
            ts->out->unknown = 1;   /* a short row: PostgreSQL would refuse it anyway */
        tenant_next(ts);        /* past ')' */
        if (tenant_cur(ts)->kind != SQLLEX_COMMA)
            return;
        tenant_next(ts);
    }
}

/* ---- the tenant column ---- */

/* A qualifier before the column (x.tenant_id): must name a sharded table or alias. */
static int tenant_qual_ok(const struct tenant_scan *ts)
{
    const struct sqllex_token *q;
    struct tenant_name n;

    if (sqllex_back(&ts->cu, 1)->kind != SQLLEX_DOT)
        return 1;
    q = sqllex_back(&ts->cu, 2);
    if (!tenant_is_name(q))
        return 0;
    tenant_fold(q, &n);
    for (unsigned i = 0; i < ts->n_quals; i++)
        if (tenant_name_eq(&ts->quals[i], &n))
            return 1;
    return 0;
}

/* 'value' = tenant_id: the literal two tokens back. */
static void tenant_reversed(struct tenant_scan *ts, int neg)
{
    const struct sqllex_token *v = sqllex_back(&ts->cu, 2);
    const struct sqllex_token *before = sqllex_back(&ts->cu, 3);

    if (!tenant_is_op(sqllex_back(&ts->cu, 1), "=") || before->kind == SQLLEX_OP ||
        tenant_is_punct(before, ':') || before->kind == SQLLEX_DOT)
        return;
    if (v->kind != SQLLEX_STRING && v->kind != SQLLEX_NUMBER && v->kind != SQLLEX_PARAM)
        return;
    if (!tenant_eq_ok(ts, neg))
        return;
    if (v->kind == SQLLEX_STRING)
        tenantval_add_string(ts->out, v, ts->o->escape_strings, TENANT_SRC_WHERE);
    else if (v->kind == SQLLEX_NUMBER)
        tenantval_add_number(ts->out, v, 0, TENANT_SRC_WHERE);
    else if (v->kind == SQLLEX_PARAM)
        tenantval_add_param(ts->out, ts->params, v);
}

/* After IS: 1 with "NOT DISTINCT FROM" consumed; else 0 (the cursor may have moved). */
static int tenant_not_distinct(struct tenant_scan *ts)
{
    static const char *const words[] = { "not", "distinct", "from" };

    for (unsigned i = 0; i < 3; i++) {
        if (!sqllex_is(tenant_cur(ts), words[i]))
            return 0;
        tenant_next(ts);
    }
    return 1;
}

/* After "= value": a comparison of the comparison (= 'a' IS FALSE) hides which rows. */
static void tenant_after_value(struct tenant_scan *ts)
{
    const struct sqllex_token *t = tenant_cur(ts);

    if (sqllex_is(t, "is") || tenantneg_is_cmp_op(t) || tenant_is_op(t, "="))
        tenant_broad(ts);
}

/* "= operand" at the cursor (at '=', or '=-' when minus): the value, else unknown. */
static void tenant_equals(struct tenant_scan *ts, int minus)
{
    unsigned pos;

    tenant_next(ts);
    pos = ts->cu.pos;
    if (tenant_operand(ts, minus, TENANT_SRC_WHERE)) {
        tenant_after_value(ts);
        return;
    }
    /* another column (a join) says nothing; an expression hides the value */
    if (pos != ts->cu.pos) {
        ts->out->unknown = 1;   /* 'a' || 'b' */
        tenant_after_value(ts);
        return;
    }
    if (sqllex_is(tenant_cur(ts), "any") || sqllex_is(tenant_cur(ts), "some") ||
        sqllex_is(tenant_cur(ts), "all")) {
        tenant_broad(ts);       /* = ANY ($1): an array of tenants */
        ts->out->unknown = 1;
        return;
    }
    while (tenant_is_name(tenant_cur(ts))) {
        tenant_next(ts);
        if (tenant_cur(ts)->kind != SQLLEX_DOT)
            break;
        tenant_next(ts);
    }
    if (tenant_cur(ts)->kind == SQLLEX_LPAREN)
        ts->out->unknown = 1;   /* lower('A'), (SELECT ...) */
}

/* "IN (...)" at the cursor (at '('): the list's values, broad unless all are read. */
static void tenant_in_list(struct tenant_scan *ts)
{
    int depth = ts->cu.depth;

    tenant_next(ts);
    while (tenant_operand(ts, 0, TENANT_SRC_WHERE) && tenant_cur(ts)->kind == SQLLEX_COMMA &&
           ts->cu.depth == depth)
        tenant_next(ts);
    /* IN (SELECT ...) or an expression in the list: the values found do not bound it */
    if (tenant_cur(ts)->kind != SQLLEX_RPAREN || ts->cu.depth != depth - 1) {
        ts->out->unknown = 1;
        tenant_broad(ts);
    }
}

/* At a name equal to the tenant column: read "= operand", "IN (operands)" and the rest. */
static void tenant_column(struct tenant_scan *ts)
{
    int qualified = sqllex_back(&ts->cu, 1)->kind == SQLLEX_DOT;
    const struct sqllex_token *t = sqllex_back(&ts->cu, qualified ? 3 : 1);
    int neg = tenantneg_negated(&ts->ng, ts->cu.depth);

    if (!tenant_qual_ok(ts)) {
        tenant_next(ts);
        return;
    }
    if (tenantneg_is_cmp_op(t) || sqllex_is(t, "like") || sqllex_is(t, "ilike"))
        tenant_broad(ts);       /* 'a' <> tenant_id */
    if (!qualified)
        tenant_reversed(ts, neg);
    tenant_next(ts);
    tenant_skip_cast(ts);
    t = tenant_cur(ts);
    if (tenant_is_op(t, "=") || tenant_is_op(t, "=-")) {
        if (tenant_eq_ok(ts, neg))
            tenant_equals(ts, t->p[t->len - 1] == '-');
        return;
    }
    if (sqllex_is(t, "in")) {
        tenant_next(ts);
        if (tenant_cur(ts)->kind != SQLLEX_LPAREN || !tenant_eq_ok(ts, neg))
            return;
        tenant_in_list(ts);
        return;
    }
    if (sqllex_is(t, "is")) {
        tenant_next(ts);
        if (tenant_not_distinct(ts)) {
            /* IS NOT DISTINCT FROM 'a' is = 'a' that also matches NULL to NULL */
            if (tenant_eq_ok(ts, neg) && !tenant_operand(ts, 0, TENANT_SRC_WHERE))
                ts->out->unknown = 1;
            return;
        }
        tenant_broad(ts);       /* IS NULL, IS NOT NULL, IS DISTINCT FROM */
        return;
    }
    if (tenantneg_is_cmp_op(t) || tenantneg_is_broad_word(t))
        tenant_broad(ts);       /* <>, !=, <, LIKE, NOT IN, BETWEEN ... */
}

/* ---- comments ---- */

static int tenant_word_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_';
}

/* sqllex's comment callback: look for tenant=value, tenant = 'value'. */
static void tenant_on_comment(void *arg, const char *text, size_t len)
{
    struct tenant_scan *ts = arg;

    for (size_t i = 0; i + 6 <= len; i++) {
        size_t j = i + 6;

        if (!sqllex_ieq(text + i, 6, "tenant") || (i > 0 && tenant_word_char(text[i - 1])))
            continue;
        while (j < len && (text[j] == ' ' || text[j] == '\t'))
            j++;
        if (j >= len || text[j] != '=')
            continue;
        j++;
        while (j < len && (text[j] == ' ' || text[j] == '\t'))
            j++;
        tenantval_add_hint(ts->out, text + j, len - j);
    }
}

/* ---- the scan ---- */

static void tenant_mark_query(struct tenant_scan *ts)
{
    if (ts->cu.depth < 64)
        ts->query_at |= 1ull << ts->cu.depth;
}

static int tenant_query_here(const struct tenant_scan *ts)
{
    return ts->cu.depth >= 64 || (ts->query_at >> ts->cu.depth & 1);
}

/* At '(' after "name AS" in a WITH list: remember name as a CTE, not a table. */
static void tenant_maybe_cte(struct tenant_scan *ts)
{
    const struct sqllex_token *name = sqllex_back(&ts->cu, 2);
    const struct sqllex_token *before = sqllex_back(&ts->cu, 3);

    if (sqllex_back(&ts->cu, 1)->kw != SQLLEX_KW_AS || !tenant_is_name(name) ||
        ts->n_ctes == TENANT_MAX_CTES)
        return;
    if (before->kw == SQLLEX_KW_WITH || sqllex_is(before, "recursive") ||
        before->kind == SQLLEX_COMMA)
        tenant_fold(name, &ts->ctes[ts->n_ctes++]);
}

/* A word that ends a FROM list at its level. */
static int tenant_ends_from(const struct sqllex_token *t)
{
    static const char *const words[] = {
        "where", "group", "having", "order", "limit", "offset", "window", "union",
        "intersect", "except", "returning", "for", "fetch", "set", "values", "select",
    };

    if (t->kind != SQLLEX_IDENT)
        return 0;
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (sqllex_ieq(t->p, t->len, words[i]))
            return 1;
    return 0;
}

static void tenant_end_statement(struct tenant_scan *ts)
{
    if (tenantneg_finish(&ts->ng))
        ts->out->unbounded = 1;
    ts->query_at = 0;
    ts->from_at = 0;
    ts->n_quals = 0;
    ts->n_ctes = 0;
    ts->insert_col = -1;
    ts->copy = 0;
    tenantneg_reset(&ts->ng);
}

/* One token of the main loop; every branch leaves the cursor on an unread token. */
static void tenant_step(struct tenant_scan *ts)
{
    const struct sqllex_token *t = tenant_cur(ts);
    const struct sqllex_token *prev = sqllex_back(&ts->cu, 1);
    struct tenant_name n;
    int ctx = tenantneg_track(&ts->ng, &ts->cu);

    if (ctx & TENANTNEG_BROAD)
        tenant_broad(ts);
    if (ctx & TENANTNEG_UNBOUNDED)
        ts->out->unbounded = 1;
    switch (t->kind == SQLLEX_IDENT ? t->kw : SQLLEX_KW_NONE) {
    case SQLLEX_KW_SELECT:
    case SQLLEX_KW_DELETE:
        tenant_mark_query(ts);
        break;
    case SQLLEX_KW_FROM:
        if (ts->copy || !tenant_query_here(ts) || sqllex_is(prev, "distinct"))
            break;
        if (ts->cu.depth < 64)
            ts->from_at |= 1ull << ts->cu.depth;
        tenant_next(ts);
        tenant_from(ts);
        return;
    case SQLLEX_KW_UPDATE:
        if (prev->kw == SQLLEX_KW_FOR || prev->kw == SQLLEX_KW_KEY ||
            prev->kw == SQLLEX_KW_DO || sqllex_is(prev, "on") || sqllex_is(prev, "then"))
            break;              /* FOR UPDATE, ON CONFLICT DO UPDATE, MERGE ... THEN UPDATE */
        tenant_mark_query(ts);
        tenant_next(ts);
        tenant_table(ts, REF_PLAIN);
        return;
    case SQLLEX_KW_INTO:
        tenant_next(ts);
        tenant_table(ts, prev->kw == SQLLEX_KW_INSERT ? REF_INSERT : REF_PLAIN);
        return;
    case SQLLEX_KW_TABLE:
    case SQLLEX_KW_TRUNCATE:
    case SQLLEX_KW_LOCK:
    case SQLLEX_KW_COPY:
        ts->copy |= t->kw == SQLLEX_KW_COPY;
        tenant_next(ts);
        if (tenant_cur(ts)->kw == SQLLEX_KW_TABLE)
            return;             /* TRUNCATE TABLE x: TABLE reads x */
        tenant_table(ts, REF_PLAIN);
        while (ts->cu.depth == 0 && tenant_cur(ts)->kind == SQLLEX_COMMA) {
            tenant_next(ts);
            tenant_table(ts, REF_PLAIN);
        }
        return;
    case SQLLEX_KW_VALUES:
        if (ts->insert_col >= 0 && ts->cu.depth == ts->insert_depth) {
            tenant_values(ts);
            ts->insert_col = -1;
            return;
        }
        break;
    case SQLLEX_KW_OR:
        ts->out->has_or = 1;
        break;
    default:
        break;
    }
    if (sqllex_is(t, "join") || (sqllex_is(t, "using") && !ts->copy)) {
        tenant_next(ts);
        tenant_table(ts, REF_FROM);
        return;
    }
    if (t->kind == SQLLEX_COMMA && ts->cu.depth < 64 && (ts->from_at >> ts->cu.depth & 1)) {
        tenant_next(ts);        /* FROM a JOIN b ON ..., c */
        tenant_from(ts);
        return;
    }
    if (tenant_ends_from(t) && ts->cu.depth < 64)
        ts->from_at &= ~(1ull << ts->cu.depth);
    if (t->kind == SQLLEX_LPAREN) {
        if (ts->cu.depth < 64) {
            ts->query_at &= ~(1ull << ts->cu.depth);
            ts->from_at &= ~(1ull << ts->cu.depth);
        }
        tenant_maybe_cte(ts);
    } else if (t->kind == SQLLEX_SEMI && ts->cu.depth == 0) {
        tenant_end_statement(ts);
    } else if (tenant_is_name(t) && ts->col_len > 0 && t->body_len == ts->col_len) {
        tenant_fold(t, &n);
        if (memcmp(n.s, ts->o->column, n.n) == 0) {
            tenant_column(ts);
            return;
        }
    }
    tenant_next(ts);
}

int tenant_extract(const struct tenant_opts *o, const char *sql, size_t len,
                   const struct tenant_params *params, struct tenant_result *out)
{
    struct tenant_scan ts;

    memset(out, 0, offsetof(struct tenant_result, buf));
    out->buf_used = 0;
    memset(&ts, 0, sizeof(ts));
    ts.o = o;
    ts.params = params;
    ts.out = out;
    ts.col_len = o->column != NULL ? strlen(o->column) : 0;
    tenant_end_statement(&ts);
    sqllex_cursor_init(&ts.cu, sql, len, o->escape_strings, tenant_on_comment, &ts);
    while (tenant_cur(&ts)->kind != SQLLEX_EOF)
        tenant_step(&ts);
    tenant_end_statement(&ts);
    if (out->comment != NULL) {
        out->tenant = out->comment;
        out->tenant_len = out->comment_len;
        out->source = TENANT_SRC_COMMENT;
    } else if (out->n_values > 0) {
        out->tenant = out->values[0].p;
        out->tenant_len = out->values[0].len;
        out->source = out->values[0].src;
    }
    return 0;
}
