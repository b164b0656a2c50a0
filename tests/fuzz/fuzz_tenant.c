/*
 * tests/fuzz/fuzz_tenant.c - libFuzzer harness for the tenant scan (router/sql/tenant.c with
 * tenantneg.c and tenantval.c). Input: one option byte (bit 0: standard_conforming_strings
 * off, bit 1: bind the first 8 bytes after it as parameter $1, bit 2: in binary), then SQL
 * text. Checks that every value lies in the text, the parameter or the result's buffer,
 * that the counts and flags agree, and that scanning twice gives the same answer.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "router/sql/tenant.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const tables[] = { "accounts", "orders", "billing.invoices" };

/* An invariant broke: crash so libFuzzer keeps the input. */
static void check(int ok)
{
    if (!ok)
        abort();
}

static int inside(const char *p, size_t n, const char *base, size_t len)
{
    return p >= base && n <= len && (size_t)(p - base) <= len - n;
}

static void check_result(const struct tenant_result *r, const char *sql, size_t len,
                         const char *param, size_t plen)
{
    check(r->n_values <= TENANT_MAX_VALUES);
    check(r->conflict == (r->n_values > 1));
    check(r->n_tables <= TENANT_MAX_TABLES);
    check(r->buf_used <= sizeof(r->buf));
    check(r->touches_sharded == 1 || r->n_tables == 0);
    for (unsigned i = 0; i < r->n_tables; i++)
        check(r->tables[i] < sizeof(tables) / sizeof(tables[0]));
    for (unsigned i = 0; i < r->n_values; i++) {
        const struct tenant_value *v = &r->values[i];

        check(inside(v->p, v->len, sql, len) || inside(v->p, v->len, r->buf, r->buf_used) ||
              (param != NULL && inside(v->p, v->len, param, plen)));
        check(v->src != TENANT_SRC_NONE && v->src != TENANT_SRC_COMMENT);
    }
    if (r->comment != NULL)
        check(inside(r->comment, r->comment_len, sql, len) ||
              inside(r->comment, r->comment_len, r->buf, r->buf_used));
    check((r->tenant == NULL) == (r->source == TENANT_SRC_NONE));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tenant_opts o = { .column = "tenant_id", .tables = tables, .n_tables = 3 };
    struct tenant_params p;
    struct tenant_result *a, *b;
    const char *vals[1];
    int32_t lens[1];
    int16_t fmts[1];
    uint32_t types[1] = { 0 };
    const char *param = NULL, *sql;
    size_t plen = 0, len;
    uint8_t opt;

    if (size < 1)
        return 0;
    opt = data[0];
    data++;
    size--;
    o.escape_strings = opt & 1;
    memset(&p, 0, sizeof(p));
    if ((opt & 2) && size >= 8) {
        param = (const char *)data;
        plen = 8;
        vals[0] = param;
        lens[0] = (int32_t)(opt >> 4) % 9;     /* 0..8 bytes of it */
        plen = (size_t)lens[0];
        fmts[0] = (opt & 4) ? 1 : 0;
        p.n = 1;
        p.values = vals;
        p.lens = lens;
        p.formats = fmts;
        p.n_formats = 1;
        p.types = types;
        p.n_types = 1;
        data += 8;
        size -= 8;
    }
    sql = (const char *)data;
    len = size;
    a = malloc(sizeof(*a));
    b = malloc(sizeof(*b));
    check(a != NULL && b != NULL);
    check(tenant_extract(&o, sql, len, param != NULL ? &p : NULL, a) == 0);
    check_result(a, sql, len, param, plen);
    check(tenant_extract(&o, sql, len, param != NULL ? &p : NULL, b) == 0);
    check(a->n_values == b->n_values && a->broad == b->broad && a->unknown == b->unknown &&
          a->unbounded == b->unbounded && a->has_or == b->has_or &&
          a->touches_sharded == b->touches_sharded);
    for (unsigned i = 0; i < a->n_values; i++)
        check(a->values[i].len == b->values[i].len &&
              memcmp(a->values[i].p, b->values[i].p, a->values[i].len) == 0);
    free(a);
    free(b);
    return 0;
}
