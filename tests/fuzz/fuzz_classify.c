/*
 * tests/fuzz/fuzz_classify.c - libFuzzer harness for the SQL lexer and classifier.
 * Input: one option byte (bit 0: standard_conforming_strings off, bit 1: an exempt set),
 * then SQL text. Checks that tokens tile the text in order, that every slice the result
 * hands out lies inside the text, that the result's fields agree with each other, and
 * that classifying twice gives the same answer.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "router/sql/classify.h"
#include "router/sql/funcset.h"
#include "router/sql/sqllex.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant broke: crash so libFuzzer keeps the input. */
static void check(int ok)
{
    if (!ok)
        abort();
}

static int inside(const char *p, size_t n, const char *sql, size_t len)
{
    return p >= sql && n <= len && (size_t)(p - sql) <= len - n;
}

static void check_tokens(const char *sql, size_t len, int escape_strings)
{
    struct sqllex lx;
    struct sqllex_token t;
    const char *end = sql;
    char name[SQLLEX_IDENT_MAX];

    sqllex_init(&lx, sql, len, escape_strings, NULL, NULL);
    for (;;) {
        enum sqllex_kind k = sqllex_next(&lx, &t);

        check(t.p >= end && inside(t.p, t.len, sql, len));
        check(inside(t.body, t.body_len, t.p, t.len));
        if (k == SQLLEX_EOF) {
            check(t.len == 0);
            break;
        }
        check(t.len > 0);
        check(k != SQLLEX_BAD || t.p + t.len == sql + len);
        check(k == SQLLEX_IDENT || t.kw == SQLLEX_KW_NONE);
        check(sqllex_ident(&t, name) <= SQLLEX_IDENT_MAX);
        end = t.p + t.len;
    }
    check(sqllex_next(&lx, &t) == SQLLEX_EOF);
}

static void check_result(const struct classify_result *r, const char *sql, size_t len)
{
    check(r->reason != NULL);
    check((r->n_statements == 0) == ((r->flags & CLASSIFY_F_EMPTY) != 0));
    check(r->n_statements > 0 || !r->write);
    check(!(r->flags & CLASSIFY_F_BAD) || r->write);
    check(!r->certain || r->write);
    check(!r->hint_conflict || (r->certain && r->hint == CLASSIFY_ROLE_REPLICA));
    check(!(r->flags & CLASSIFY_F_BEGIN_READ_ONLY) || (r->flags & CLASSIFY_F_BEGIN));
    check(r->tenant == NULL ? r->tenant_len == 0 : inside(r->tenant, r->tenant_len, sql, len));
    check(r->func == NULL ? r->func_len == 0 : inside(r->func, r->func_len, sql, len));
    check(r->func == NULL || r->write);
    check(r->set_role == CLASSIFY_ROLE_NONE || (r->flags & CLASSIFY_F_SET_ROLE));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct funcset writes, exempt;
    static int ready;
    struct classify_opts o;
    struct classify_result a, b;
    const char *sql;
    size_t len;

    if (!ready) {
        size_t n;
        const char *const *names = classify_default_writes(&n);

        funcset_init(&writes);
        funcset_init(&exempt);
        for (size_t i = 0; i < n; i++)
            check(funcset_add(&writes, names[i], strlen(names[i])) == 0);
        check(funcset_add(&writes, "app.bump", 8) == 0);
        check(funcset_add(&exempt, "setval", 6) == 0);
        ready = 1;
    }
    if (size == 0)
        return 0;
    o.writes = &writes;
    o.exempt = (data[0] & 2) ? &exempt : NULL;
    o.escape_strings = data[0] & 1;
    sql = (const char *)data + 1;
    len = size - 1;
    check_tokens(sql, len, o.escape_strings);
    check(classify_sql(&o, sql, len, &a) == 0);
    check_result(&a, sql, len);
    check(classify_sql(&o, sql, len, &b) == 0);
    check(a.write == b.write && a.reason == b.reason && a.flags == b.flags &&
          a.hint == b.hint && a.set_role == b.set_role && a.tenant == b.tenant &&
          a.tenant_len == b.tenant_len && a.func == b.func && a.func_len == b.func_len &&
          a.certain == b.certain && a.hint_conflict == b.hint_conflict &&
          a.n_statements == b.n_statements);
    return 0;
}
