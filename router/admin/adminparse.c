/*
 * router/admin/adminparse.c - reading an admin console Query string: statements split at the
 * ';' that are not quoted or commented, blanks and comments trimmed, command words matched
 * case-insensitively. No I/O, no allocation: offsets into the caller's bytes.
 */
#include "router/admin/adminparse.h"

#include <string.h>

static int adminparse_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int adminparse_ident(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || (unsigned char)c >= 0x80;
}

static char adminparse_upper(char c)
{
    return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

/* The end of a comment starting at i ("--" or a block comment), or i if none starts there. */
static size_t adminparse_comment(const char *q, size_t len, size_t i)
{
    if (i + 1 < len && q[i] == '-' && q[i + 1] == '-') {
        while (i < len && q[i] != '\n')
            i++;
        return i;
    }
    if (i + 1 < len && q[i] == '/' && q[i + 1] == '*') {
        unsigned depth = 1;     /* PostgreSQL's block comments nest */

        i += 2;
        while (i < len && depth > 0) {
            if (i + 1 < len && q[i] == '/' && q[i + 1] == '*') {
                depth++;
                i += 2;
            } else if (i + 1 < len && q[i] == '*' && q[i + 1] == '/') {
                depth--;
                i += 2;
            } else {
                i++;
            }
        }
        return i;
    }
    return i;
}

/* The length of a dollar-quote tag at q[i] == '$' ("$$" 2, "$a$" 3), 0 if none. */
static size_t adminparse_dollar_tag(const char *q, size_t len, size_t i)
{
    size_t j = i + 1;

    if (i > 0 && adminparse_ident(q[i - 1]))
        return 0;       /* part of an identifier like a$b */
    if (j < len && q[j] >= '0' && q[j] <= '9')
        return 0;       /* $1: a parameter */
    while (j < len && adminparse_ident(q[j]) && q[j] != '$')
        j++;
    return j < len && q[j] == '$' ? j - i + 1 : 0;
}

/* The end of the quoted text that starts at q[i] (a quote character), past its close. */
static size_t adminparse_skip_quote(const char *q, size_t len, size_t i)
{
    char quote = q[i];
    int backslash = quote == '\'' && i > 0 && (q[i - 1] == 'E' || q[i - 1] == 'e') &&
                    (i < 2 || !adminparse_ident(q[i - 2]));

    if (quote == '$') {
        size_t tag = adminparse_dollar_tag(q, len, i);

        for (size_t j = i + tag; j + tag <= len; j++)
            if (memcmp(q + j, q + i, tag) == 0)
                return j + tag;
        return len;
    }
    for (i++; i < len; i++) {
        if (backslash && q[i] == '\\') {
            i++;
        } else if (q[i] == quote) {
            if (i + 1 < len && q[i + 1] == quote)
                i++;    /* '' or "" stays inside */
            else
                return i + 1;
        }
    }
    return len;
}

int adminparse_next(const char *q, size_t len, size_t *pos, size_t *start, size_t *end)
{
    size_t i = *pos;

    if (i >= len)
        return 0;
    /* Leading blanks and comments are not part of the statement. */
    for (;;) {
        size_t c;

        while (i < len && adminparse_blank(q[i]))
            i++;
        c = adminparse_comment(q, len, i);
        if (c == i)
            break;
        i = c;
    }
    *start = i;
    *end = i;
    while (i < len && q[i] != ';') {
        size_t c = adminparse_comment(q, len, i);

        if (c != i) {
            i = c;
            continue;
        }
        if (q[i] == '\'' || q[i] == '"' || (q[i] == '$' && adminparse_dollar_tag(q, len, i)))
            *end = i = adminparse_skip_quote(q, len, i);
        else if (!adminparse_blank(q[i++]))
            *end = i;   /* so trailing blanks and comments are left out */
    }
    *pos = i < len ? i + 1 : len;
    return 1;
}

int adminparse_match(const char *words, const char *t, size_t n, size_t *args)
{
    size_t i = 0;
    int matched = 0;

    while (*words != '\0') {
        size_t wl = strcspn(words, " ");

        while (i < n && adminparse_blank(t[i]))
            i++;
        if (n - i < wl)
            return 0;
        for (size_t k = 0; k < wl; k++)
            if (adminparse_upper(t[i + k]) != adminparse_upper(words[k]))
                return 0;
        i += wl;
        if (i < n && !adminparse_blank(t[i]))
            return 0;   /* "SHOW POOLSX" is not SHOW POOLS */
        matched++;
        words += wl;
        while (*words == ' ')
            words++;
    }
    while (i < n && adminparse_blank(t[i]))
        i++;
    *args = i;
    return matched;
}

void adminparse_head(const char *t, size_t n, char *out, size_t out_len)
{
    size_t o = 0;
    int words = 0;

    if (out_len == 0)
        return;
    for (size_t i = 0; i < n && o + 1 < out_len && words < 2; i++) {
        if (adminparse_blank(t[i])) {
            while (i + 1 < n && adminparse_blank(t[i + 1]))
                i++;
            if (++words < 2 && i + 1 < n)
                out[o++] = ' ';
            continue;
        }
        out[o++] = t[i] >= 0x20 && t[i] < 0x7f ? t[i] : '?';
    }
    out[o] = '\0';
}
