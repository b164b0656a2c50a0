/*
 * router/session/replay.c - the client's session state as one entry per parameter: parsing the
 * SET/RESET/DISCARD statement that changes it, the bounded list, and its signature.
 */
#include "router/session/replay.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router/sql/sqllex.h"

void replay_init(struct replay *r)
{
    memset(r, 0, sizeof(*r));
}

static void replay_item_free(struct replay_item *it)
{
    free(it->name);
    free(it->sql);
    free(it->base);
}

void replay_free(struct replay *r)
{
    for (size_t i = 0; i < r->n; i++)
        replay_item_free(&r->items[i]);
    free(r->items);
    memset(r, 0, sizeof(*r));
}

/* ---- parsing ---- */

/* 1 if t is the bare word w (ignoring case) or the end of the statement for w NULL. */
static int replay_word(const struct sqllex_token *t, const char *w)
{
    if (w == NULL)
        return t->kind == SQLLEX_EOF || t->kind == SQLLEX_SEMI;
    return sqllex_is(t, w);
}

static void replay_name(struct replay_stmt *out, const char *name)
{
    size_t n = strlen(name);

    if (n >= sizeof(out->name))
        n = sizeof(out->name) - 1;
    memcpy(out->name, name, n);
    out->name[n] = '\0';
}

/* name [. name ...] starting at t, lowercased into out->name; leaves t after it. */
static void replay_dotted(struct sqllex *lx, struct sqllex_token *t, struct replay_stmt *out)
{
    char part[SQLLEX_IDENT_MAX + 1];
    size_t at = 0;

    for (;;) {
        size_t n = sqllex_ident(t, part);

        if (at + n + 1 < sizeof(out->name)) {
            memcpy(out->name + at, part, n);
            at += n;
        }
        out->name[at] = '\0';
        sqllex_next(lx, t);
        if (t->kind != SQLLEX_DOT || at + 2 >= sizeof(out->name))
            return;
        out->name[at++] = '.';
        if (sqllex_next(lx, t) != SQLLEX_IDENT && t->kind != SQLLEX_QIDENT)
            return;
    }
}

void replay_parse(const char *sql, size_t len, int escape_strings, struct replay_stmt *out)
{
    struct sqllex lx;
    struct sqllex_token t;
    int reset;

    memset(out, 0, sizeof(*out));
    sqllex_init(&lx, sql, len, escape_strings, NULL, NULL);
    if (sqllex_next(&lx, &t) != SQLLEX_IDENT)
        return;
    if (t.kw == SQLLEX_KW_DISCARD) {
        if (sqllex_next(&lx, &t) == SQLLEX_IDENT && t.kw == SQLLEX_KW_ALL)
            out->op = REPLAY_DISCARD_ALL;
        return;
    }
    if (t.kw != SQLLEX_KW_SET && t.kw != SQLLEX_KW_RESET)
        return;
    reset = t.kw == SQLLEX_KW_RESET;
    sqllex_next(&lx, &t);
    if (reset && t.kw == SQLLEX_KW_ALL) {
        out->op = REPLAY_RESET_ALL;
        return;
    }
    if (!reset && t.kw == SQLLEX_KW_LOCAL)
        return;     /* ends with the transaction */
    while (t.kw == SQLLEX_KW_SESSION) {
        /* SET SESSION name, SET [SESSION] SESSION AUTHORIZATION, SESSION CHARACTERISTICS */
        sqllex_next(&lx, &t);
        if (sqllex_is(&t, "authorization")) {
            replay_name(out, "session_authorization");
            sqllex_next(&lx, &t);
            out->op = reset || t.kw == SQLLEX_KW_DEFAULT ? REPLAY_RESET : REPLAY_SET;
            return;
        }
        if (sqllex_is(&t, "characteristics")) {
            replay_name(out, "session characteristics");
            out->op = REPLAY_SET;
            return;
        }
    }
    if (t.kind != SQLLEX_IDENT && t.kind != SQLLEX_QIDENT)
        return;
    if (t.kind == SQLLEX_IDENT && (t.kw == SQLLEX_KW_TRANSACTION || sqllex_is(&t, "constraints")))
        return;
    if (t.kind == SQLLEX_IDENT && sqllex_is(&t, "time")) {
        if (sqllex_next(&lx, &t) != SQLLEX_IDENT || !sqllex_is(&t, "zone"))
            return;
        replay_name(out, "timezone");
        sqllex_next(&lx, &t);
        out->op = reset || t.kw == SQLLEX_KW_DEFAULT || t.kw == SQLLEX_KW_LOCAL ? REPLAY_RESET
                                                                                : REPLAY_SET;
        return;
    }
    if (t.kind == SQLLEX_IDENT && sqllex_is(&t, "xml")) {
        if (sqllex_next(&lx, &t) != SQLLEX_IDENT || !sqllex_is(&t, "option"))
            return;
        replay_name(out, "xmloption");
        out->op = reset ? REPLAY_RESET : REPLAY_SET;
        return;
    }
    if (!reset && t.kind == SQLLEX_IDENT && (sqllex_is(&t, "schema") || sqllex_is(&t, "names"))) {
        replay_name(out, sqllex_is(&t, "schema") ? "search_path" : "client_encoding");
        sqllex_next(&lx, &t);
        out->op = t.kw == SQLLEX_KW_DEFAULT ? REPLAY_RESET : REPLAY_SET;
        return;
    }
    if (t.kind == SQLLEX_IDENT && sqllex_is(&t, "role")) {
        replay_name(out, "role");
        sqllex_next(&lx, &t);
        out->op = reset || sqllex_is(&t, "none") ? REPLAY_RESET : REPLAY_SET;
        return;
    }
    replay_dotted(&lx, &t, out);
    if (reset) {
        out->op = REPLAY_RESET;
        return;
    }
    if (t.kw == SQLLEX_KW_FROM) {
        return;     /* SET name FROM CURRENT: the value it already has */
    }
    if (t.kw == SQLLEX_KW_TO || (t.kind == SQLLEX_OP && t.len == 1 && t.p[0] == '='))
        sqllex_next(&lx, &t);
    out->op = REPLAY_SET;
    if (t.kw == SQLLEX_KW_DEFAULT) {
        sqllex_next(&lx, &t);
        if (replay_word(&t, NULL))
            out->op = REPLAY_RESET;
    }
}

/* ---- the list ---- */

static uint64_t replay_fnv(uint64_t h, const char *p)
{
    for (size_t i = 0;; i++) {
        h = (h ^ (uint8_t)p[i]) * 1099511628211ull;
        if (p[i] == '\0')
            return h;
    }
}

static void replay_sign(struct replay *r)
{
    uint64_t h = 14695981039346656037ull;

    if (r->n == 0) {
        r->sig = 0;
        return;
    }
    for (size_t i = 0; i < r->n; i++)
        h = replay_fnv(replay_fnv(h, r->items[i].name), r->items[i].sql);
    if (h == 0 || h == REPLAY_SIG_DIRTY)
        h = 1;
    r->sig = h;
}

static size_t replay_size(const struct replay_item *it)
{
    return strlen(it->sql) + 1 + (it->base != NULL ? strlen(it->base) + 1 : 0);
}

static long replay_find(const struct replay *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->items[i].name, name) == 0)
            return (long)i;
    return -1;
}

/* Remove item i entirely. */
static void replay_drop(struct replay *r, size_t i)
{
    r->bytes -= replay_size(&r->items[i]);
    replay_item_free(&r->items[i]);
    memmove(&r->items[i], &r->items[i + 1], (r->n - i - 1) * sizeof(r->items[0]));
    r->n--;
}

/* Back to the startup value (1), or gone (0: the server's default is the value). */
static int replay_unset(struct replay *r, size_t i)
{
    struct replay_item *it = &r->items[i];
    char *copy;

    if (it->base == NULL) {
        replay_drop(r, i);
        return 1;
    }
    if (strcmp(it->sql, it->base) == 0)
        return 0;
    copy = strdup(it->base);
    if (copy == NULL)
        return -ENOMEM;
    r->bytes -= replay_size(it);
    free(it->sql);
    it->sql = copy;
    r->bytes += replay_size(it);
    return 0;
}

int replay_fits(const struct replay *r, const struct replay_stmt *st, size_t len)
{
    long i;
    size_t n = r->n, bytes = r->bytes + len + 1;

    if (st->op != REPLAY_SET)
        return 0;   /* nothing else grows the list beyond its startup values */
    i = replay_find(r, st->name);
    if (i >= 0)
        bytes -= strlen(r->items[i].sql) + 1;
    else
        n++;
    return n > REPLAY_MAX_ITEMS || bytes > REPLAY_MAX_BYTES ? -E2BIG : 0;
}

/* Set name's value to sql, moving it to the end (it was set last); base stays. */
static int replay_put(struct replay *r, const char *name, const char *sql, size_t len,
                      int as_base)
{
    struct replay_item it = { NULL, NULL, NULL };
    long i = replay_find(r, name);

    it.name = strdup(name);
    it.sql = malloc(len + 1);
    if (as_base)
        it.base = malloc(len + 1);
    if (it.name == NULL || it.sql == NULL || (as_base && it.base == NULL)) {
        replay_item_free(&it);
        return -ENOMEM;
    }
    memcpy(it.sql, sql, len);
    it.sql[len] = '\0';
    if (as_base)
        memcpy(it.base, it.sql, len + 1);
    if (i < 0 && r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 8;
        struct replay_item *p = realloc(r->items, cap * sizeof(*p));

        if (p == NULL) {
            replay_item_free(&it);
            return -ENOMEM;
        }
        r->items = p;
        r->cap = cap;
    }
    if (i >= 0) {
        if (!as_base) {
            it.base = r->items[i].base;
            r->items[i].base = NULL;
        }
        replay_drop(r, (size_t)i);
    }
    r->items[r->n++] = it;
    r->bytes += replay_size(&it);
    return 0;
}

int replay_apply(struct replay *r, const struct replay_stmt *st, const char *sql, size_t len)
{
    int exact = 1, rc = 0;
    long i;

    switch (st->op) {
    case REPLAY_NONE:
        return 1;
    case REPLAY_SET:
        if (replay_fits(r, st, len) < 0)
            return -E2BIG;
        if (strcmp(st->name, "session_authorization") == 0 && (i = replay_find(r, "role")) >= 0)
            replay_drop(r, (size_t)i);  /* a new session user has no role set */
        rc = replay_put(r, st->name, sql, len, 0);
        break;
    case REPLAY_RESET:
        if (strcmp(st->name, "session_authorization") == 0 && (i = replay_find(r, "role")) >= 0)
            replay_drop(r, (size_t)i);
        i = replay_find(r, st->name);
        if (i >= 0)
            rc = exact = replay_unset(r, (size_t)i);
        break;
    case REPLAY_RESET_ALL:
    case REPLAY_DISCARD_ALL:
        for (size_t k = r->n; k-- > 0 && rc >= 0;) {
            const char *name = r->items[k].name;

            if (st->op == REPLAY_RESET_ALL &&
                (strcmp(name, "role") == 0 || strcmp(name, "session_authorization") == 0))
                continue;   /* RESET ALL leaves the identity alone, as PostgreSQL does */
            rc = replay_unset(r, k);
            exact = exact && rc == 1;
        }
        break;
    }
    replay_sign(r);
    if (rc < 0)
        return rc;
    return exact;
}

int replay_set_base(struct replay *r, const char *name, const char *sql, size_t len)
{
    char low[REPLAY_NAME_MAX];
    size_t n = strlen(name);
    struct replay_stmt st;
    int rc;

    if (n >= sizeof(low))
        n = sizeof(low) - 1;
    for (size_t i = 0; i < n; i++)
        low[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] - 'A' + 'a' : name[i]);
    low[n] = '\0';
    st.op = REPLAY_SET;
    memcpy(st.name, low, n + 1);
    if (replay_fits(r, &st, 2 * len + 1) < 0)
        return -E2BIG;
    rc = replay_put(r, low, sql, len, 1);
    replay_sign(r);
    return rc;
}

int replay_copy(struct replay *dst, const struct replay *src)
{
    replay_free(dst);
    if (src->n == 0)
        return 0;
    dst->items = calloc(src->n, sizeof(*dst->items));
    if (dst->items == NULL)
        return -ENOMEM;
    dst->cap = src->n;
    for (size_t i = 0; i < src->n; i++) {
        const struct replay_item *it = &src->items[i];
        struct replay_item *to = &dst->items[i];

        to->name = strdup(it->name);
        to->sql = strdup(it->sql);
        to->base = it->base != NULL ? strdup(it->base) : NULL;
        dst->n++;
        if (to->name == NULL || to->sql == NULL || (it->base != NULL && to->base == NULL)) {
            replay_free(dst);
            return -ENOMEM;
        }
    }
    dst->bytes = src->bytes;
    dst->sig = src->sig;
    return 0;
}

/* ---- startup settings as parameters ---- */

int replay_param_pack(const char *name, size_t nlen, const char *value, size_t vlen,
                      const char *enc, char **out, size_t *len)
{
    size_t elen = enc != NULL ? strlen(enc) : 0;
    char head[80];
    int h;
    char *p;

    /* lengths first: a value may hold any byte but NUL, the tag included */
    h = snprintf(head, sizeof(head), "%c%zu,%zu,%zu:", REPLAY_PARAM_TAG, nlen, vlen,
                 enc != NULL ? elen + 1 : 0);
    p = malloc((size_t)h + nlen + vlen + elen + 1);
    if (p == NULL)
        return -ENOMEM;
    memcpy(p, head, (size_t)h);
    memcpy(p + h, name, nlen);
    memcpy(p + h + nlen, value, vlen);
    if (elen > 0)
        memcpy(p + h + nlen + vlen, enc, elen);
    *len = (size_t)h + nlen + vlen + elen;
    p[*len] = '\0';
    *out = p;
    return 0;
}

/* A decimal length at *s ending with term; advances *s past term. */
static int replay_param_num(const char **s, char term, size_t *v)
{
    const char *p = *s;
    size_t n = 0;

    if (*p < '0' || *p > '9')
        return -EINVAL;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (n > (SIZE_MAX - 9) / 10)
            return -EINVAL;
        n = n * 10 + (size_t)(*p - '0');
    }
    if (*p != term)
        return -EINVAL;
    *s = p + 1;
    *v = n;
    return 0;
}

int replay_param_unpack(const char *sql, struct replay_param *p)
{
    const char *s = sql + 1;
    size_t rest, e;

    memset(p, 0, sizeof(*p));
    if (sql[0] != REPLAY_PARAM_TAG || replay_param_num(&s, ',', &p->nlen) < 0 ||
        replay_param_num(&s, ',', &p->vlen) < 0 || replay_param_num(&s, ':', &e) < 0)
        return -EINVAL;
    rest = strlen(s);
    p->elen = e > 0 ? e - 1 : 0;
    if (p->nlen > rest || p->vlen > rest - p->nlen || p->elen != rest - p->nlen - p->vlen)
        return -EINVAL;
    p->name = s;
    p->value = s + p->nlen;
    p->enc = e > 0 ? s + p->nlen + p->vlen : NULL;
    return 0;
}

const char *replay_param_sql(void)
{
    return "SELECT pg_catalog.set_config("
           "pg_catalog.convert_from($1, COALESCE($3, pg_catalog.getdatabaseencoding())), "
           "pg_catalog.convert_from($2, COALESCE($3, pg_catalog.getdatabaseencoding())), "
           "false)";
}
