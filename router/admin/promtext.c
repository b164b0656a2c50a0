/*
 * router/admin/promtext.c - Prometheus text exposition (format 0.0.4): a growing output buffer,
 * family headers, label escaping with UTF-8 repair, samples and histograms.
 */
#include "router/admin/promtext.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void promtext_init(struct promtext *p)
{
    memset(p, 0, sizeof(*p));
}

void promtext_free(struct promtext *p)
{
    free(p->buf);
    memset(p, 0, sizeof(*p));
}

char *promtext_steal(struct promtext *p, size_t *len)
{
    char *out = p->buf;

    if (p->oom || out == NULL) {
        promtext_free(p);
        /* an empty exposition is still a valid one */
        out = p->oom ? NULL : calloc(1, 1);
        *len = 0;
        return out;
    }
    *len = p->len;
    memset(p, 0, sizeof(*p));
    return out;
}

static int promtext_reserve(struct promtext *p, size_t more)
{
    size_t cap = p->cap != 0 ? p->cap : 16384;
    char *grown;

    if (p->oom)
        return -1;
    if (p->len + more + 1 <= p->cap)
        return 0;
    while (cap < p->len + more + 1)
        cap *= 2;
    grown = realloc(p->buf, cap);
    if (grown == NULL) {
        p->oom = 1;
        return -1;
    }
    p->buf = grown;
    p->cap = cap;
    return 0;
}

static void promtext_put(struct promtext *p, const char *s, size_t n)
{
    if (promtext_reserve(p, n) < 0)
        return;
    memcpy(p->buf + p->len, s, n);
    p->len += n;
    p->buf[p->len] = '\0';
}

static void promtext_puts(struct promtext *p, const char *s)
{
    promtext_put(p, s, strlen(s));
}

static void promtext_printf(struct promtext *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void promtext_printf(struct promtext *p, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return;     /* only numbers come here: they fit */
    promtext_put(p, tmp, (size_t)n);
}

/*
 * Length of the well-formed UTF-8 sequence at s (1-4), or 0 if the bytes there are not
 * one (a stray continuation byte, an overlong form, a surrogate, past U+10FFFF, cut).
 */
static size_t promtext_utf8_len(const unsigned char *s)
{
    unsigned char c = s[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4;
    else
        return 0;
    if (c == 0xe0)
        lo = 0xa0;
    else if (c == 0xed)
        hi = 0x9f;
    else if (c == 0xf0)
        lo = 0x90;
    else if (c == 0xf4)
        hi = 0x8f;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return n;
}

int promtext_escape(char *out, size_t cap, size_t *len, const char *value)
{
    const unsigned char *s = (const unsigned char *)value;
    size_t at = *len;

    while (*s != '\0') {
        const char *piece;
        char one[4];
        size_t n = promtext_utf8_len(s), adv = n;

        if (n == 0) {
            piece = "\xef\xbf\xbd";     /* U+FFFD for one byte that is not UTF-8 */
            n = 3;
            adv = 1;
        } else if (*s == '\\' || *s == '"' || *s == '\n') {
            one[0] = '\\';
            one[1] = *s == '\n' ? 'n' : (char)*s;
            piece = one;
            n = 2;
        } else {
            piece = (const char *)s;
        }
        if (at + n >= cap)
            return -1;
        memcpy(out + at, piece, n);
        at += n;
        s += adv;
    }
    out[at] = '\0';
    *len = at;
    return 0;
}

void promtext_family(struct promtext *p, const char *name, const char *type, const char *help)
{
    promtext_puts(p, "# HELP ");
    promtext_puts(p, name);
    promtext_puts(p, " ");
    /* HELP escapes only backslash and newline */
    for (const char *c = help; *c != '\0'; c++) {
        if (*c == '\\')
            promtext_puts(p, "\\\\");
        else if (*c == '\n')
            promtext_puts(p, "\\n");
        else
            promtext_put(p, c, 1);
    }
    promtext_puts(p, "\n# TYPE ");
    promtext_puts(p, name);
    promtext_puts(p, " ");
    promtext_puts(p, type);
    promtext_puts(p, "\n");
}

void promtext_labels_init(struct promtext_labels *l)
{
    l->s[0] = '\0';
    l->len = 0;
    l->overflow = 0;
}

void promtext_label(struct promtext_labels *l, const char *name, const char *value)
{
    size_t at = l->len, nlen = strlen(name);

    if (l->overflow)
        return;
    /* [,]name=" ... " */
    if (at + 1 + nlen + 2 >= sizeof(l->s)) {
        l->overflow = 1;
        return;
    }
    if (at > 0)
        l->s[at++] = ',';
    memcpy(l->s + at, name, nlen);
    at += nlen;
    l->s[at++] = '=';
    l->s[at++] = '"';
    if (promtext_escape(l->s, sizeof(l->s) - 1, &at, value) < 0) {
        l->overflow = 1;
        return;
    }
    l->s[at++] = '"';
    l->s[at] = '\0';
    l->len = at;
}

/* "name{labels[,extra]} " or "name " */
static int promtext_start(struct promtext *p, const char *name, const char *suffix,
                          const struct promtext_labels *l, const char *extra)
{
    int any = l != NULL && l->len > 0;

    if (l != NULL && l->overflow)
        return -1;
    promtext_puts(p, name);
    if (suffix != NULL)
        promtext_puts(p, suffix);
    if (any || extra != NULL) {
        promtext_puts(p, "{");
        if (any)
            promtext_put(p, l->s, l->len);
        if (extra != NULL) {
            if (any)
                promtext_puts(p, ",");
            promtext_puts(p, extra);
        }
        promtext_puts(p, "}");
    }
    promtext_puts(p, " ");
    return 0;
}

static void promtext_value_u64(struct promtext *p, uint64_t v)
{
    promtext_printf(p, "%llu\n", (unsigned long long)v);
}

static void promtext_value_f64(struct promtext *p, double v)
{
    if (isnan(v))
        promtext_puts(p, "NaN\n");
    else if (isinf(v))
        promtext_puts(p, v > 0 ? "+Inf\n" : "-Inf\n");
    else
        promtext_printf(p, "%.15g\n", v);
}

void promtext_u64(struct promtext *p, const char *name, const struct promtext_labels *l,
                  uint64_t v)
{
    if (promtext_start(p, name, NULL, l, NULL) == 0)
        promtext_value_u64(p, v);
}

void promtext_f64(struct promtext *p, const char *name, const struct promtext_labels *l,
                  double v)
{
    if (promtext_start(p, name, NULL, l, NULL) == 0)
        promtext_value_f64(p, v);
}

void promtext_histogram(struct promtext *p, const char *name, const struct promtext_labels *l,
                        const uint64_t *counts, const double *bounds, size_t n, double sum)
{
    uint64_t cum = 0;
    char le[64];

    if (l != NULL && l->overflow)
        return;
    for (size_t i = 0; i < n; i++) {
        cum += counts[i];
        if (i + 1 == n)
            snprintf(le, sizeof(le), "le=\"+Inf\"");
        else
            snprintf(le, sizeof(le), "le=\"%.15g\"", bounds[i]);
        promtext_start(p, name, "_bucket", l, le);
        promtext_value_u64(p, cum);
    }
    if (n == 0) {
        promtext_start(p, name, "_bucket", l, "le=\"+Inf\"");
        promtext_value_u64(p, 0);
    }
    promtext_start(p, name, "_sum", l, NULL);
    promtext_value_f64(p, sum);
    promtext_start(p, name, "_count", l, NULL);
    promtext_value_u64(p, cum);
}
