/*
 * tests/fuzz/fuzz_bind.c - libFuzzer harness for Bind-parameter tenant extraction:
 * tenantval_bind reads a Bind's parameters (and the Parse's types) and tenant_extract scans
 * the Parse's query with them, as frontend.c does for each Bind. Input: one option byte
 * (bit 0: standard_conforming_strings off), a big-endian int16 n, then n bytes of Parse
 * body after its name (query, NUL, types) and the rest as the Bind body after its names.
 * Both parts are exact heap copies. Checks that accepted parameters lie in the Bind, one
 * after another as sent, that types come from a Parse long enough to hold them, and that
 * every tenant value found lies in the query, a parameter or the result's buffer.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/frame.h"
#include "router/sql/tenant.h"
#include "router/sql/tenantval.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const tables[] = { "accounts", "orders", "billing.invoices" };

/* An invariant broke: crash so libFuzzer keeps the input. */
static void check(int ok)
{
    if (!ok)
        abort();
}

static int inside(const void *p, size_t n, const void *base, size_t len)
{
    const char *c = p, *b = base;

    return c >= b && n <= len && (size_t)(c - b) <= len - n;
}

/* The parameters tenantval_bind accepted, checked against the bytes of the Bind. */
static void check_params(const struct tenantval_bind *b, const uint8_t *parse, size_t plen,
                         size_t sql_len, const uint8_t *rest, size_t n)
{
    const struct tenant_params *p = &b->p;
    size_t at;

    check(p->n <= TENANTVAL_MAX_PARAMS && p->n_formats <= TENANTVAL_MAX_PARAMS &&
          p->n_types <= TENANTVAL_MAX_PARAMS);
    check(p->n_formats == frame_get16(rest));
    check(p->n_types == 0 || (plen >= sql_len + 3 + 4 * (size_t)p->n_types &&
                              p->n_types == frame_get16(parse + sql_len + 1)));
    at = 2 + 2 * (size_t)p->n_formats + 2;
    check(at <= n);
    for (unsigned i = 0; i < p->n; i++) {
        check(at + 4 <= n && p->lens[i] == (int32_t)frame_get32(rest + at));
        at += 4;
        check((const uint8_t *)p->values[i] == rest + at);
        if (p->lens[i] > 0) {
            check(inside(p->values[i], (size_t)p->lens[i], rest, n));
            at += (size_t)p->lens[i];
        }
    }
}

static void check_result(const struct tenant_result *r, const char *sql, size_t len,
                         const uint8_t *rest, size_t n)
{
    check(r->n_values <= TENANT_MAX_VALUES && r->conflict == (r->n_values > 1));
    check(r->buf_used <= sizeof(r->buf));
    for (unsigned i = 0; i < r->n_values; i++) {
        const struct tenant_value *v = &r->values[i];

        check(inside(v->p, v->len, sql, len) || inside(v->p, v->len, r->buf, r->buf_used) ||
              inside(v->p, v->len, rest, n));
        check(v->src != TENANT_SRC_NONE && v->src != TENANT_SRC_COMMENT);
    }
    check((r->tenant == NULL) == (r->source == TENANT_SRC_NONE));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tenant_opts o = { .column = "tenant_id", .tables = tables, .n_tables = 3 };
    struct tenantval_bind *b;
    struct tenant_result *r;
    uint8_t *parse, *rest;
    size_t plen, n, sql_len;
    int rc;

    if (size < 3)
        return 0;
    o.escape_strings = data[0] & 1;
    plen = frame_get16(data + 1);
    data += 3;
    size -= 3;
    if (plen > size)
        plen = size;
    n = size - plen;
    parse = malloc(plen > 0 ? plen : 1);
    rest = malloc(n > 0 ? n : 1);
    b = malloc(sizeof(*b));
    r = malloc(sizeof(*r));
    check(parse != NULL && rest != NULL && b != NULL && r != NULL);
    if (plen > 0)
        memcpy(parse, data, plen);
    if (n > 0)
        memcpy(rest, data + plen, n);
    rc = tenantval_bind(b, parse, plen, rest, n, &sql_len);
    check(rc == 0 || rc == -EPROTO);
    check(sql_len <= plen && memchr(parse, 0, sql_len) == NULL);
    check(rc < 0 || n >= 2);
    if (rc == 0) {
        check_params(b, parse, plen, sql_len, rest, n);
        check(tenant_extract(&o, (const char *)parse, sql_len, &b->p, r) == 0);
        check_result(r, (const char *)parse, sql_len, rest, n);
    }
    free(parse);
    free(rest);
    free(b);
    free(r);
    return 0;
}
