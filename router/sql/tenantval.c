/*
 * router/sql/tenantval.c - decodes tenant values for tenant.c's scan: string constants with
 * their '' and backslash escapes, integers in canonical decimal, bound parameters (text
 * as sent; binary int2/int4/int8 as decimal, uuid as its canonical text), comment hints
 * with sqlcommenter quoting. Decoded bytes go to the result's own buffer, never the heap.
 */
#include "router/sql/tenantval.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "protocol/frame.h"

/* PostgreSQL type OIDs the binary parameter decoder knows. */
#define OID_NAME 19
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_TEXT 25
#define OID_UNKNOWN 705
#define OID_BPCHAR 1042
#define OID_VARCHAR 1043
#define OID_UUID 2950

/* Record p[0..len) as a value unless it is one already. */
static void tenantval_add(struct tenant_result *r, const char *p, size_t len,
                          enum tenant_src src)
{
    for (unsigned i = 0; i < r->n_values; i++)
        if (r->values[i].len == len && memcmp(r->values[i].p, p, len) == 0)
            return;
    if (r->n_values == TENANT_MAX_VALUES) {
        r->overflow = 1;
        return;
    }
    r->values[r->n_values].p = p;
    r->values[r->n_values].len = len;
    r->values[r->n_values].src = src;
    r->n_values++;
    r->conflict = r->n_values > 1;
}

/* Room for n more bytes in the result's buffer, or NULL (and overflow set). */
static char *tenantval_room(struct tenant_result *r, size_t n)
{
    if (n > sizeof(r->buf) - r->buf_used) {
        r->overflow = 1;
        return NULL;
    }
    return r->buf + r->buf_used;
}

static int tenantval_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* One backslash escape at s[0..n) (s[0] is the backslash): writes a byte, returns length. */
static size_t tenantval_backslash(const char *s, size_t n, char *out)
{
    static const char from[] = "bfnrt";
    static const char to[] = "\b\f\n\r\t";
    const char *f;
    unsigned v = 0;
    size_t i = 1;

    if (n < 2) {
        *out = '\\';
        return 1;
    }
    if ((f = strchr(from, s[1])) != NULL && s[1] != '\0') {
        *out = to[f - from];
        return 2;
    }
    if (s[1] >= '0' && s[1] <= '7') {
        for (; i < 4 && i < n && s[i] >= '0' && s[i] <= '7'; i++)
            v = v * 8 + (unsigned)(s[i] - '0');
        *out = (char)v;
        return i;
    }
    if (s[1] == 'x' && n > 2 && tenantval_hex(s[2]) >= 0) {
        for (i = 2; i < 4 && i < n && tenantval_hex(s[i]) >= 0; i++)
            v = v * 16 + (unsigned)tenantval_hex(s[i]);
        *out = (char)v;
        return i;
    }
    *out = s[1];
    return 2;
}

/* A string constant's value: the body itself, or a copy with '' and \ escapes undone. */
void tenantval_add_string(struct tenant_result *r, const struct sqllex_token *t,
                          int escape_strings, enum tenant_src src)
{
    int backslash = (t->flags & SQLLEX_T_EXTENDED) ||
                    (escape_strings && !(t->flags & SQLLEX_T_DOLLAR));
    char *w, *start;

    if (t->flags & SQLLEX_T_UNICODE) {
        r->unknown = 1;         /* U&'' with \XXXX escapes: rare enough not to decode */
        return;
    }
    if (!(t->flags & SQLLEX_T_ESCAPES)) {
        tenantval_add(r, t->body, t->body_len, src);
        return;
    }
    start = w = tenantval_room(r, t->body_len);
    if (w == NULL)
        return;
    for (size_t i = 0; i < t->body_len;) {
        if (t->body[i] == '\'' && i + 1 < t->body_len && t->body[i + 1] == '\'') {
            *w++ = '\'';
            i += 2;
        } else if (backslash && t->body[i] == '\\') {
            i += tenantval_backslash(t->body + i, t->body_len - i, w++);
        } else {
            *w++ = t->body[i++];
        }
    }
    r->buf_used += (size_t)(w - start);
    tenantval_add(r, start, (size_t)(w - start), src);
}

/* Decimal text of v into the buffer, then added as a value. */
static void tenantval_decimal(struct tenant_result *r, int64_t v, enum tenant_src src)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof(tmp), "%lld", (long long)v);
    char *w = tenantval_room(r, (size_t)n);

    if (w == NULL)
        return;
    memcpy(w, tmp, (size_t)n);
    r->buf_used += (size_t)n;
    tenantval_add(r, w, (size_t)n, src);
}

/* A NUMBER token: plain decimal integers only, in canonical form (no leading zeros). */
void tenantval_add_number(struct tenant_result *r, const struct sqllex_token *t, int negative,
                          enum tenant_src src)
{
    const char *p = t->p;
    size_t n = t->len;
    char *w;

    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            r->unknown = 1;     /* 1.5, 0x2A, 1_000, 1e3: not a tenant key we hash */
            return;
        }
    }
    while (n > 1 && *p == '0') {
        p++;
        n--;
    }
    if (!negative || (n == 1 && *p == '0')) {
        tenantval_add(r, p, n, src);
        return;
    }
    w = tenantval_room(r, n + 1);
    if (w == NULL)
        return;
    w[0] = '-';
    memcpy(w + 1, p, n);
    r->buf_used += n + 1;
    tenantval_add(r, w, n + 1, src);
}

static uint64_t tenantval_be(const unsigned char *p, size_t n)
{
    uint64_t v = 0;

    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* A binary parameter of type oid (0 = unspecified). */
static void tenantval_binary(struct tenant_result *r, const char *p, size_t n, uint32_t oid)
{
    const unsigned char *u = (const unsigned char *)p;
    char *w;

    if (oid == OID_TEXT || oid == OID_VARCHAR || oid == OID_BPCHAR || oid == OID_NAME ||
        oid == OID_UNKNOWN || (oid == 0 && n != 2 && n != 4 && n != 8)) {
        tenantval_add(r, p, n, TENANT_SRC_PARAM);
    } else if ((oid == OID_INT2 || oid == 0) && n == 2) {
        tenantval_decimal(r, (int16_t)tenantval_be(u, 2), TENANT_SRC_PARAM);
    } else if ((oid == OID_INT4 || oid == 0) && n == 4) {
        tenantval_decimal(r, (int32_t)tenantval_be(u, 4), TENANT_SRC_PARAM);
    } else if ((oid == OID_INT8 || oid == 0) && n == 8) {
        tenantval_decimal(r, (int64_t)tenantval_be(u, 8), TENANT_SRC_PARAM);
    } else if (oid == OID_UUID && n == 16 && (w = tenantval_room(r, 36)) != NULL) {
        for (size_t i = 0, o = 0; i < 16; i++) {
            if (i == 4 || i == 6 || i == 8 || i == 10)
                w[o++] = '-';
            w[o++] = "0123456789abcdef"[u[i] >> 4];
            w[o++] = "0123456789abcdef"[u[i] & 15];
        }
        r->buf_used += 36;
        tenantval_add(r, w, 36, TENANT_SRC_PARAM);
    } else if (oid != OID_UUID || n != 16) {
        r->unknown = 1;
    }
}

/* A $n token: the bound value of parameter n. */
void tenantval_add_param(struct tenant_result *r, const struct tenant_params *pa,
                         const struct sqllex_token *t)
{
    unsigned long n = 0;
    int16_t fmt = 0;
    size_t i;

    for (i = 1; i < t->len && n <= 65535; i++)
        n = n * 10 + (unsigned long)(t->p[i] - '0');
    if (pa == NULL || n < 1 || n > pa->n || pa->values == NULL || pa->values[n - 1] == NULL ||
        pa->lens == NULL || pa->lens[n - 1] < 0) {
        r->unknown = 1;
        return;
    }
    i = n - 1;
    if (pa->n_formats == 1)
        fmt = pa->formats[0];
    else if (pa->n_formats > i)
        fmt = pa->formats[i];
    if (fmt == 0)
        tenantval_add(r, pa->values[i], (size_t)pa->lens[i], TENANT_SRC_PARAM);
    else
        tenantval_binary(r, pa->values[i], (size_t)pa->lens[i],
                         pa->types != NULL && i < pa->n_types ? pa->types[i] : 0);
}

/* A hint's value at s[0..n): 'quoted' (sqlcommenter: \' and %XX) or a bare word. */
void tenantval_add_hint(struct tenant_result *r, const char *s, size_t n)
{
    const char *val = s;
    size_t len = 0, end = 1;
    char *w;

    if (n > 0 && s[0] == '\'') {
        while (end < n && s[end] != '\'')
            end += s[end] == '\\' ? 2 : 1;
        w = tenantval_room(r, end - 1);
        if (w == NULL)
            return;
        val = w;
        for (size_t i = 1; i < end && i < n; i++) {
            if (s[i] == '\\' && i + 1 < n) {
                w[len++] = s[++i];
            } else if (s[i] == '%' && i + 2 < n && tenantval_hex(s[i + 1]) >= 0 &&
                       tenantval_hex(s[i + 2]) >= 0) {
                w[len++] = (char)(tenantval_hex(s[i + 1]) * 16 + tenantval_hex(s[i + 2]));
                i += 2;
            } else {
                w[len++] = s[i];
            }
        }
        r->buf_used += len;
    } else {
        while (len < n && strchr(" \t\r\n,;*'", s[len]) == NULL)
            len++;
    }
    if (len == 0)
        return;
    if (r->comment == NULL) {
        r->comment = val;
        r->comment_len = len;
    } else if (r->comment_len != len || memcmp(r->comment, val, len) != 0) {
        r->comment_conflict = 1;
    }
}

int tenantval_bind(struct tenantval_bind *b, const uint8_t *parse, size_t parse_len,
                   const uint8_t *rest, size_t n, size_t *sql_len)
{
    size_t sl = strnlen((const char *)parse, parse_len), at;
    unsigned nf, np, nt = 0;

    *sql_len = sl;
    memset(&b->p, 0, sizeof(b->p));
    if (n < 2)
        return -EPROTO;
    /* The Parse's parameter types, so binary values are decoded as what they are. */
    if (parse_len - sl >= 3) {
        const uint8_t *tp = parse + sl + 1;
        size_t left = parse_len - sl - 1;

        nt = frame_get16(tp);
        if (nt > TENANTVAL_MAX_PARAMS || left - 2 < (size_t)nt * 4)
            nt = 0;
        for (unsigned i = 0; i < nt; i++)
            b->types[i] = frame_get32(tp + 2 + 4 * (size_t)i);
    }
    nf = frame_get16(rest);
    at = 2;
    if (nf > TENANTVAL_MAX_PARAMS || n - at < (size_t)nf * 2 + 2)
        return -EPROTO;
    for (unsigned i = 0; i < nf; i++, at += 2)
        b->formats[i] = (int16_t)frame_get16(rest + at);
    np = frame_get16(rest + at);
    at += 2;
    if (np > TENANTVAL_MAX_PARAMS)
        np = TENANTVAL_MAX_PARAMS;
    for (unsigned i = 0; i < np; i++) {
        if (n - at < 4)
            return -EPROTO;
        b->lens[i] = (int32_t)frame_get32(rest + at);
        at += 4;
        b->values[i] = (const char *)(rest + at);
        if (b->lens[i] > 0) {
            if ((size_t)b->lens[i] > n - at)
                return -EPROTO;
            at += (size_t)b->lens[i];
        }
    }
    b->p.n = np;
    b->p.values = b->values;
    b->p.lens = b->lens;
    b->p.formats = b->formats;
    b->p.n_formats = nf;
    b->p.types = b->types;
    b->p.n_types = nt;
    return 0;
}
