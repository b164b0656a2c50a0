/*
 * router/sql/tenantneg.c - the context of a tenant column comparison for tenant.c: NOT spans
 * (a NOT at depth d lasts until AND, OR, THEN, a comma or the end of its parentheses),
 * subqueries that end a NOT's reach, CASE nesting, and comparisons compared again.
 * Depths are bits of 64-bit masks; anything deeper counts as negated, never as plain.
 */
#include "router/sql/tenantneg.h"

#include <string.h>

/* Bits 0..d of a depth mask. */
static uint64_t tenantneg_upto(int d)
{
    return d >= 63 ? ~0ull : (2ull << d) - 1;
}

static int tenantneg_is_op(const struct sqllex_token *t, const char *op)
{
    return t->kind == SQLLEX_OP && t->len == strlen(op) && memcmp(t->p, op, t->len) == 0;
}

static int tenantneg_word(const struct sqllex_token *t, const char *const *words, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (sqllex_is(t, words[i]))
            return 1;
    return 0;
}

/* A token that ends what a NOT at its depth applies to. */
static int tenantneg_ends_not(const struct sqllex_token *t)
{
    static const char *const words[] = {
        "and", "or", "when", "then", "else", "end", "on", "where", "group", "having",
        "order", "limit", "offset", "window", "union", "intersect", "except", "returning",
        "for", "fetch", "set", "values", "select", "from",
    };

    return t->kind == SQLLEX_COMMA || t->kind == SQLLEX_SEMI ||
           tenantneg_word(t, words, sizeof(words) / sizeof(words[0]));
}

/* Words before '(' that are SQL syntax, not a function being called. */
static int tenantneg_syntax_word(const struct sqllex_token *t)
{
    static const char *const words[] = {
        "and", "or", "not", "where", "on", "in", "exists", "any", "all", "some", "when",
        "then", "else", "having", "between", "like", "ilike", "is", "as", "from", "join",
        "using", "values", "select", "set", "lateral", "returning", "by", "case", "distinct",
        "union", "intersect", "except", "with", "recursive", "materialized",
    };

    return tenantneg_word(t, words, sizeof(words) / sizeof(words[0]));
}

/* What a word at depth d does to the clause open there. */
static void tenantneg_clause_word(struct tenantneg *n, const struct sqllex_token *t, int d)
{
    static const char *const ends[] = {
        "select", "from", "join", "group", "order", "limit", "offset", "fetch", "for",
        "window", "union", "intersect", "except", "returning", "values", "into", "using",
    };

    if (d >= 64 || t->kind != SQLLEX_IDENT)
        return;
    if (sqllex_is(t, "where") || sqllex_is(t, "on") || sqllex_is(t, "having"))
        n->clause[d] = TENANTNEG_WHERE;
    else if (sqllex_is(t, "set"))
        n->clause[d] = TENANTNEG_SET;
    else if (tenantneg_word(t, ends, sizeof(ends) / sizeof(ends[0])))
        n->clause[d] = 0;
}

/* The query level a token at depth d belongs to: the innermost query started at or above. */
static int tenantneg_level(const struct tenantneg *n, int d)
{
    uint64_t m = n->lvl_at & tenantneg_upto(d);
    int l = 0;

    while (m >>= 1)
        l++;
    return l;
}

/* Close the query levels outside keep; returns TENANTNEG_UNBOUNDED if one was unbounded. */
static int tenantneg_close(struct tenantneg *n, uint64_t keep)
{
    int bad = (n->tab_at & ~n->eq_at & ~keep) != 0;

    n->tab_at &= keep;
    n->eq_at &= keep;
    n->lvl_at &= keep;
    return bad ? TENANTNEG_UNBOUNDED : 0;
}

void tenantneg_reset(struct tenantneg *n)
{
    memset(n, 0, sizeof(*n));
}

int tenantneg_track(struct tenantneg *n, const struct sqllex_cursor *cu)
{
    const struct sqllex_token *t = sqllex_back(cu, 0);
    const struct sqllex_token *prev = sqllex_back(cu, 1);
    int d = cu->depth;
    int after_value = n->paren_value, broad = 0;

    n->paren_value = 0;
    if (d < 63) {
        /* levels deeper than here are over; a '(' here starts a new one */
        broad |= tenantneg_close(n, t->kind == SQLLEX_LPAREN && d > 0 ? tenantneg_upto(d - 1)
                                                                      : tenantneg_upto(d));
        /* parentheses deeper than here are closed; one opening here is new */
        n->neg_at &= tenantneg_upto(d);
        n->sub_at &= tenantneg_upto(d);
        n->func_at &= tenantneg_upto(d);
        memset(n->clause + d + 1, 0, sizeof(n->clause) - (size_t)d - 1);
        if (t->kind == SQLLEX_LPAREN) {
            n->neg_at &= ~(1ull << d);
            n->sub_at &= ~(1ull << d);
            n->val_at &= ~(1ull << d);
            n->clause[d] = 0;
            if ((prev->kind == SQLLEX_IDENT && !tenantneg_syntax_word(prev)) ||
                prev->kind == SQLLEX_QIDENT)
                n->func_at |= 1ull << d;    /* f(...), also FILTER (...) and OVER (...) */
            else
                n->func_at &= ~(1ull << d);
        }
    }
    tenantneg_clause_word(n, t, d);
    if (after_value && (sqllex_is(t, "is") || tenantneg_is_cmp_op(t) ||
                        tenantneg_is_op(t, "=")))
        broad |= TENANTNEG_BROAD;   /* (tenant_id = 'a') = false, (...) IS NOT TRUE */
    if (t->kind == SQLLEX_RPAREN && d < 63 && (n->val_at >> (d + 1) & 1)) {
        n->val_at |= 1ull << d;
        n->paren_value = 1;
    }
    if (prev->kind == SQLLEX_LPAREN && d < 64 &&
        (t->kw == SQLLEX_KW_SELECT || t->kw == SQLLEX_KW_WITH || t->kw == SQLLEX_KW_VALUES ||
         t->kw == SQLLEX_KW_TABLE))
        n->sub_at |= 1ull << d;
    if (t->kw == SQLLEX_KW_SELECT || t->kw == SQLLEX_KW_INSERT || t->kw == SQLLEX_KW_UPDATE ||
        t->kw == SQLLEX_KW_DELETE || t->kw == SQLLEX_KW_MERGE)
        n->dml = 1;
    if (d < 64 && (t->kw == SQLLEX_KW_SELECT || t->kw == SQLLEX_KW_DELETE ||
                   (t->kw == SQLLEX_KW_UPDATE && prev->kw != SQLLEX_KW_FOR &&
                    prev->kw != SQLLEX_KW_KEY && prev->kw != SQLLEX_KW_DO &&
                    !sqllex_is(prev, "then") && !sqllex_is(prev, "on"))))
        n->lvl_at |= 1ull << d;
    if (d < 64 && (sqllex_is(t, "union") || sqllex_is(t, "intersect") ||
                   sqllex_is(t, "except")))
        broad |= tenantneg_close(n, ~(1ull << tenantneg_level(n, d)));   /* next branch */
    if (t->kw == SQLLEX_KW_CASE)
        n->in_case++;
    else if (t->kw == SQLLEX_KW_END && n->in_case > 0)
        n->in_case--;
    if (d < 63 && sqllex_is(t, "not"))
        n->neg_at |= 1ull << d;
    else if (d < 63 && tenantneg_ends_not(t))
        n->neg_at &= ~(1ull << d);
    return broad;
}

int tenantneg_negated(const struct tenantneg *n, int d)
{
    int s = 0;

    if (d >= 63)
        return 1;
    for (int i = d; i > 0; i--) {
        if (n->sub_at >> i & 1) {
            s = i;
            break;
        }
    }
    return (n->neg_at & tenantneg_upto(d) & ~(s > 0 ? tenantneg_upto(s - 1) : 0)) != 0;
}

void tenantneg_compared(struct tenantneg *n, int d)
{
    if (d < 64) {
        n->val_at |= 1ull << d;
        n->eq_at |= 1ull << tenantneg_level(n, d);
    }
}

int tenantneg_clause(const struct tenantneg *n, int d)
{
    int l;

    if (d >= 63)
        return 0;
    l = tenantneg_level(n, d);
    for (int i = d; i >= l; i--) {
        if (i > l && (n->func_at >> i & 1))
            return 0;
        if (n->clause[i] != 0)
            return n->clause[i];
    }
    return 0;
}

void tenantneg_table(struct tenantneg *n, int d)
{
    if (d < 64)
        n->tab_at |= 1ull << tenantneg_level(n, d);
    else
        n->tab_at |= 1;         /* too deep to tell apart: unbounded unless level 0 is */
}

int tenantneg_finish(const struct tenantneg *n)
{
    return (n->tab_at & ~n->eq_at) != 0;
}

int tenantneg_is_cmp_op(const struct sqllex_token *t)
{
    return t->kind == SQLLEX_OP && t->len > 0 && strchr("<>!~@&?^", t->p[0]) != NULL;
}

int tenantneg_is_broad_word(const struct sqllex_token *t)
{
    static const char *const words[] = {
        "not", "like", "ilike", "similar", "between", "isnull", "notnull", "overlaps",
    };

    return tenantneg_word(t, words, sizeof(words) / sizeof(words[0]));
}
