/*
 * protocol/saslprep.c - SASLprep of passwords as PostgreSQL does it (src/common/saslprep.c
 * is the behaviour matched, step for step). The RFC 3454 tables and NFKC come from libidn,
 * whose stringprep tables are RFC 3454's own (Unicode 3.2), so no Unicode data lives here.
 * libidn's ready-made SASLprep profile is not used: PostgreSQL checks the mapped text
 * before NFKC, refuses an empty result and unassigned code points, and this must agree.
 */
#include "protocol/saslprep.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <stringprep.h>

/* Is c in a libidn table (ranges, or single code points when end is 0)? */
static int saslprep_in(const Stringprep_table_element *t, uint32_t c)
{
    for (; t->start != 0 || t->end != 0; t++) {
        if (t->end == 0 ? c == t->start : c >= t->start && c <= t->end)
            return 1;
    }
    return 0;
}

/* RFC 4013 section 2.3: the tables of prohibited output. */
static int saslprep_prohibited(uint32_t c)
{
    static const Stringprep_table_element *const tables[] = {
        stringprep_rfc3454_C_1_2, stringprep_rfc3454_C_2_1, stringprep_rfc3454_C_2_2,
        stringprep_rfc3454_C_3, stringprep_rfc3454_C_4, stringprep_rfc3454_C_5,
        stringprep_rfc3454_C_6, stringprep_rfc3454_C_7, stringprep_rfc3454_C_8,
        stringprep_rfc3454_C_9, stringprep_rfc3454_A_1,
    };

    for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
        if (saslprep_in(tables[i], c))
            return 1;
    return 0;
}

/*
 * Decode one UTF-8 sequence at p (n bytes left) into *c. Returns its length, or 0 if it is
 * not valid UTF-8 (RFC 3629: shortest form only, no surrogates, nothing above U+10FFFF).
 */
static size_t saslprep_utf8_next(const uint8_t *p, size_t n, uint32_t *c)
{
    size_t len, i;
    uint32_t v, min;

    if (p[0] < 0x80) {
        *c = p[0];
        return 1;
    }
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        len = 2, v = p[0] & 0x1f, min = 0x80;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        len = 3, v = p[0] & 0x0f, min = 0x800;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        len = 4, v = p[0] & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        v = v << 6 | (p[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *c = v;
    return len;
}

/* Append c as UTF-8 to out[*o..cap), keeping room for the NUL. */
static int saslprep_utf8_put(uint32_t c, char *out, size_t cap, size_t *o)
{
    uint8_t b[4];
    size_t len;

    if (c < 0x80) {
        b[0] = (uint8_t)c;
        len = 1;
    } else if (c < 0x800) {
        b[0] = (uint8_t)(0xc0 | c >> 6);
        b[1] = (uint8_t)(0x80 | (c & 0x3f));
        len = 2;
    } else if (c < 0x10000) {
        b[0] = (uint8_t)(0xe0 | c >> 12);
        b[1] = (uint8_t)(0x80 | (c >> 6 & 0x3f));
        b[2] = (uint8_t)(0x80 | (c & 0x3f));
        len = 3;
    } else {
        b[0] = (uint8_t)(0xf0 | c >> 18);
        b[1] = (uint8_t)(0x80 | (c >> 12 & 0x3f));
        b[2] = (uint8_t)(0x80 | (c >> 6 & 0x3f));
        b[3] = (uint8_t)(0x80 | (c & 0x3f));
        len = 4;
    }
    if (cap - *o <= len)
        return -ENOSPC;
    memcpy(out + *o, b, len);
    *o += len;
    return 0;
}

/* RFC 3454 section 6 on the mapped text: RandALCat excludes LCat and must start and end it. */
static int saslprep_bidi_ok(const uint32_t *c, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (saslprep_in(stringprep_rfc3454_D_1, c[i]))
            break;
    if (i == n)
        return 1;
    for (i = 0; i < n; i++)
        if (saslprep_in(stringprep_rfc3454_D_2, c[i]))
            return 0;
    return saslprep_in(stringprep_rfc3454_D_1, c[0]) &&
           saslprep_in(stringprep_rfc3454_D_1, c[n - 1]);
}

/* Steps 1-4 on the code points of in; *norm gets the NFKC form (malloc'd, 0-terminated). */
static int saslprep_chars(const char *in, size_t len, uint32_t **norm)
{
    const uint8_t *p = (const uint8_t *)in;
    uint32_t *c, code;
    size_t i = 0, n = 0, step;
    int rc = -EPERM;

    c = malloc((len + 1) * sizeof(*c));
    if (c == NULL)
        return -ENOMEM;
    while (i < len) {
        step = saslprep_utf8_next(p + i, len - i, &code);
        if (step == 0) {
            rc = -EILSEQ;
            goto done;
        }
        i += step;
        /* 1) Map. Spaces first: U+200B is in both tables, and PostgreSQL makes it a space. */
        if (saslprep_in(stringprep_rfc3454_C_1_2, code))
            c[n++] = 0x20;
        else if (!saslprep_in(stringprep_rfc3454_B_1, code))
            c[n++] = code;
    }
    c[n] = 0;
    if (n == 0)
        goto done;              /* an empty password is not allowed */
    /* 3) and 4) look at the mapped text, as PostgreSQL's checks do. */
    for (i = 0; i < n; i++)
        if (saslprep_prohibited(c[i]))
            goto done;
    if (!saslprep_bidi_ok(c, n))
        goto done;
    /* 2) Normalize. */
    *norm = stringprep_ucs4_nfkc_normalize(c, (ssize_t)n);
    rc = *norm != NULL ? 0 : -ENOMEM;
done:
    free(c);
    return rc;
}

int saslprep_strict(const char *in, char *out, size_t cap)
{
    size_t len = strlen(in), o = 0, i;
    uint32_t *norm = NULL;
    int rc = 0;

    if (cap == 0)
        return -ENOSPC;
    for (i = 0; i < len && (uint8_t)in[i] < 0x80; i++)
        ;
    if (i == len) {
        if (len >= cap)
            return -ENOSPC;
        memcpy(out, in, len + 1);
        return 0;
    }
    rc = saslprep_chars(in, len, &norm);
    if (rc < 0)
        return rc;
    for (i = 0; norm[i] != 0 && rc == 0; i++)
        rc = saslprep_utf8_put(norm[i], out, cap, &o);
    out[o] = '\0';
    free(norm);
    return rc;
}

int saslprep(const char *in, char *out, size_t cap)
{
    int rc = saslprep_strict(in, out, cap);
    size_t len;

    if (rc != -EILSEQ && rc != -EPERM)
        return rc;
    len = strlen(in);
    if (len >= cap)
        return -ENOSPC;
    memcpy(out, in, len + 1);
    return 0;
}
