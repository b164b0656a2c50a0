/*
 * router/sql/sqllex.c - the SQL lexer: where each token of PostgreSQL's dialect starts and
 * ends. It follows the rules of PostgreSQL's scan.l closely enough that a keyword inside a
 * string, identifier or comment is never seen as a keyword, and no further: it does not
 * decode escapes or check that numbers and identifiers are valid.
 */
#include "router/sql/sqllex.h"

#include <string.h>

/* Longest keyword. */
#define SQLLEX_KW_MAX 11

struct lex_kw_name {
    const char *s;
    size_t len;
};

#define SQLLEX_KW_NAME(id, s) { s, sizeof(s) - 1 },
static const struct lex_kw_name lex_kw_names[SQLLEX_KW_COUNT] = {
    { "", 0 }, SQLLEX_KEYWORDS(SQLLEX_KW_NAME)
};
#undef SQLLEX_KW_NAME

static unsigned char lex_lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

static int lex_is_letter(unsigned char c)
{
    return (unsigned)((c | 0x20) - 'a') < 26u;
}

static int lex_is_digit(unsigned char c)
{
    return (unsigned)(c - '0') < 10u;
}

/* PostgreSQL's ident_start: letters, '_' and every byte of a multibyte character. */
static int lex_is_ident_start(unsigned char c)
{
    return lex_is_letter(c) || c == '_' || c >= 0x80;
}

/* ident_cont adds digits and '$'. */
static int lex_is_ident_cont(unsigned char c)
{
    return lex_is_ident_start(c) || lex_is_digit(c) || c == '$';
}

/* PostgreSQL's op_chars. */
static int lex_is_op(unsigned char c)
{
    switch (c) {
    case '~': case '!': case '@': case '#': case '^': case '&': case '|': case '`':
    case '?': case '+': case '-': case '*': case '/': case '%': case '<': case '>':
    case '=':
        return 1;
    default:
        return 0;
    }
}

static int lex_is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/*
 * Past a quoted run whose opening quote is at p[-1]: the closing quote is q, doubled
 * quotes stay inside, and with backslash set a backslash hides the next byte. Returns
 * the byte after the closing quote, or NULL if the text ends first.
 */
static const char *lex_quoted(const char *p, const char *end, char q, int backslash,
                              unsigned *flags)
{
    for (;;) {
        if (backslash) {
            while (p < end && *p != q && *p != '\\')
                p++;
        } else {
            p = memchr(p, q, (size_t)(end - p));
            if (p == NULL)
                return NULL;
        }
        if (p >= end)
            return NULL;
        if (*p == '\\') {
            *flags |= SQLLEX_T_ESCAPES;
            if (end - p < 2)
                return NULL;
            p += 2;
            continue;
        }
        if (p + 1 < end && p[1] == q) {
            *flags |= SQLLEX_T_ESCAPES;
            p += 2;
            continue;
        }
        return p + 1;
    }
}

/* Past a nested comment starting at p ("/" "*"), or NULL if it is unterminated. */
static const char *lex_block_comment(const char *p, const char *end)
{
    unsigned long depth = 1;

    p += 2;
    while (p + 1 < end) {
        if (p[0] == '*' && p[1] == '/') {
            p += 2;
            if (--depth == 0)
                return p;
        } else if (p[0] == '/' && p[1] == '*') {
            p += 2;
            depth++;
        } else {
            p++;
        }
    }
    return NULL;
}

/*
 * A '$' at p: a parameter ($1), a dollar-quoted string ($$...$$, $tag$...$tag$) or a lone
 * '$'. Fills t and returns the byte after the token, or NULL for an unterminated string.
 */
static const char *lex_dollar(const char *p, const char *end, struct sqllex_token *t)
{
    const char *q = p + 1;
    size_t tag_len;

    if (q < end && lex_is_digit((unsigned char)*q)) {
        while (q < end && lex_is_digit((unsigned char)*q))
            q++;
        t->kind = SQLLEX_PARAM;
        return q;
    }
    if (q < end && *q != '$') {
        if (!lex_is_ident_start((unsigned char)*q)) {
            t->kind = SQLLEX_PUNCT;
            return q;
        }
        /* A tag is an identifier without '$'. */
        while (q < end && lex_is_ident_cont((unsigned char)*q) && *q != '$')
            q++;
    }
    if (q >= end || *q != '$') {
        t->kind = SQLLEX_PUNCT;
        return p + 1;
    }
    tag_len = (size_t)(q - p) + 1;
    t->kind = SQLLEX_STRING;
    t->flags |= SQLLEX_T_DOLLAR;
    t->body = q + 1;
    /* The closing tag is the first exact copy of the opening one (tags are case-sensitive). */
    for (q = q + 1; q < end; q++) {
        q = memchr(q, '$', (size_t)(end - q));
        if (q == NULL)
            break;
        if ((size_t)(end - q) >= tag_len && memcmp(q, p, tag_len) == 0) {
            t->body_len = (size_t)(q - t->body);
            return q + tag_len;
        }
    }
    return NULL;
}

/* A number at p (a digit, or '.' before a digit); loose, as classification needs no value. */
static const char *lex_number(const char *p, const char *end)
{
    int dot = 0;

    while (p < end) {
        unsigned char c = (unsigned char)*p;

        if (lex_is_letter(c) || lex_is_digit(c) || c == '_') {
            p++;
        } else if (c == '.' && !dot && !(p + 1 < end && p[1] == '.')) {
            /* "1..5" is 1 then "..": PostgreSQL keeps that for PL/pgSQL ranges. */
            dot = 1;
            p++;
        } else if ((c == '+' || c == '-') && (p[-1] == 'e' || p[-1] == 'E') &&
                   p + 1 < end && lex_is_digit((unsigned char)p[1])) {
            p++;
        } else {
            break;
        }
    }
    return p;
}

/* An operator run at p, which PostgreSQL cuts before a comment start. */
static const char *lex_operator(const char *p, const char *end)
{
    const char *q = p + 1;

    while (q < end && lex_is_op((unsigned char)*q)) {
        if ((q[-1] == '-' && q[0] == '-') || (q[-1] == '/' && q[0] == '*')) {
            q--;
            break;
        }
        q++;
    }
    return q;
}

/* The keyword an identifier token is, by halving the sorted table. */
static enum sqllex_kw lex_keyword(const struct sqllex_token *t)
{
    char low[SQLLEX_KW_MAX];
    size_t lo = 1, hi = SQLLEX_KW_COUNT;

    if (t->len < 2 || t->len > SQLLEX_KW_MAX)
        return SQLLEX_KW_NONE;
    for (size_t i = 0; i < t->len; i++)
        low[i] = (char)lex_lower((unsigned char)t->p[i]);
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const char *k = lex_kw_names[mid].s;
        size_t klen = lex_kw_names[mid].len;
        int r = memcmp(low, k, t->len < klen ? t->len : klen);

        if (r == 0)
            r = t->len < klen ? -1 : t->len > klen;
        if (r == 0)
            return (enum sqllex_kw)mid;
        if (r < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return SQLLEX_KW_NONE;
}


void sqllex_init(struct sqllex *lx, const char *sql, size_t len, int escape_strings,
                 sqllex_comment_fn *on_comment, void *arg)
{
    lx->p = sql;
    lx->end = sql + len;
    lx->escape_strings = escape_strings;
    lx->on_comment = on_comment;
    lx->arg = arg;
}

/* A string or quoted identifier whose prefix ends at the opening quote p[pre - 1]. */
static const char *lex_string(const struct sqllex *lx, const char *s, size_t pre,
                              int backslash, struct sqllex_token *t)
{
    char q = s[pre - 1];
    const char *e = lex_quoted(s + pre, lx->end, q, backslash, &t->flags);

    t->kind = q == '"' ? SQLLEX_QIDENT : SQLLEX_STRING;
    if (e != NULL) {
        t->body = s + pre;
        t->body_len = (size_t)(e - 1 - t->body);
    }
    return e;
}

enum sqllex_kind sqllex_next(struct sqllex *lx, struct sqllex_token *t)
{
    const char *p = lx->p, *end = lx->end, *e;
    unsigned char c;

    for (;;) {
        while (p < end && lex_is_space((unsigned char)*p))
            p++;
        if (p + 1 >= end)
            break;
        if (p[0] == '-' && p[1] == '-') {
            const char *s = p;

            while (p < end && *p != '\n' && *p != '\r')
                p++;
            if (lx->on_comment != NULL)
                lx->on_comment(lx->arg, s, (size_t)(p - s));
        } else if (p[0] == '/' && p[1] == '*') {
            e = lex_block_comment(p, end);
            if (e == NULL)
                break;      /* unterminated: a BAD token below */
            if (lx->on_comment != NULL)
                lx->on_comment(lx->arg, p, (size_t)(e - p));
            p = e;
        } else {
            break;
        }
    }
    t->p = p;
    t->body = p;
    t->body_len = 0;
    t->flags = 0;
    t->kw = SQLLEX_KW_NONE;
    if (p >= end) {
        lx->p = end;
        t->len = 0;
        t->kind = SQLLEX_EOF;
        return SQLLEX_EOF;
    }
    c = (unsigned char)*p;
    e = p + 1;
    if (c == '/' && e < end && *e == '*') {
        e = NULL;
    } else if (lex_is_ident_start(c)) {
        size_t rest = (size_t)(end - p);

        if ((c | 0x20) == 'u' && rest > 2 && p[1] == '&' && (p[2] == '\'' || p[2] == '"')) {
            t->flags |= SQLLEX_T_UNICODE;
            e = lex_string(lx, p, 3, 0, t);
        } else if (rest > 1 && p[1] == '\'' && ((c | 0x20) == 'e')) {
            t->flags |= SQLLEX_T_EXTENDED;
            e = lex_string(lx, p, 2, 1, t);
        } else if (rest > 1 && p[1] == '\'' &&
                   ((c | 0x20) == 'b' || (c | 0x20) == 'x' || (c | 0x20) == 'n')) {
            e = lex_string(lx, p, 2, (c | 0x20) == 'n' && lx->escape_strings, t);
        } else {
            while (e < end && lex_is_ident_cont((unsigned char)*e))
                e++;
            t->kind = SQLLEX_IDENT;
        }
    } else if (lex_is_digit(c) || (c == '.' && e < end && lex_is_digit((unsigned char)*e))) {
        e = lex_number(p, end);
        t->kind = SQLLEX_NUMBER;
    } else {
        switch (c) {
        case '\'':
            e = lex_string(lx, p, 1, lx->escape_strings, t);
            break;
        case '"':
            e = lex_string(lx, p, 1, 0, t);
            break;
        case '$':
            e = lex_dollar(p, end, t);
            break;
        case '(':
            t->kind = SQLLEX_LPAREN;
            break;
        case ')':
            t->kind = SQLLEX_RPAREN;
            break;
        case ',':
            t->kind = SQLLEX_COMMA;
            break;
        case ';':
            t->kind = SQLLEX_SEMI;
            break;
        case '.':
            t->kind = SQLLEX_DOT;
            break;
        default:
            if (lex_is_op(c)) {
                e = lex_operator(p, end);
                t->kind = SQLLEX_OP;
            } else {
                t->kind = SQLLEX_PUNCT;
            }
            break;
        }
    }
    if (e == NULL) {
        /* Unterminated: PostgreSQL rejects the whole text, so nothing after it matters. */
        t->kind = SQLLEX_BAD;
        t->flags = 0;
        t->body = p;
        t->body_len = 0;
        e = end;
    }
    if (t->kind != SQLLEX_STRING && t->kind != SQLLEX_QIDENT) {
        t->body = p;
        t->body_len = (size_t)(e - p);
    }
    t->len = (size_t)(e - p);
    lx->p = t->kind == SQLLEX_BAD ? end : e;
    if (t->kind == SQLLEX_IDENT)
        t->kw = lex_keyword(t);
    return t->kind;
}

void sqllex_cursor_init(struct sqllex_cursor *cu, const char *sql, size_t len,
                        int escape_strings, sqllex_comment_fn *on_comment, void *arg)
{
    memset(cu, 0, sizeof(*cu));
    sqllex_init(&cu->lx, sql, len, escape_strings, on_comment, arg);
    sqllex_advance(cu);
}

void sqllex_advance(struct sqllex_cursor *cu)
{
    struct sqllex_token *t = &cu->ring[++cu->pos & 3];

    switch (sqllex_next(&cu->lx, t)) {
    case SQLLEX_LPAREN:
        cu->depth++;
        break;
    case SQLLEX_RPAREN:
        if (cu->depth > 0)
            cu->depth--;
        break;
    case SQLLEX_BAD:
        cu->bad = 1;
        break;
    default:
        break;
    }
}

int sqllex_at_end(const struct sqllex_cursor *cu)
{
    enum sqllex_kind k = sqllex_back(cu, 0)->kind;

    return k == SQLLEX_EOF || (k == SQLLEX_SEMI && cu->depth == 0 && cu->atomic == 0);
}

int sqllex_ieq(const char *p, size_t n, const char *w)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (w[i] == '\0' || lex_lower((unsigned char)p[i]) != (unsigned char)w[i])
            return 0;
    }
    return w[i] == '\0';
}

int sqllex_is(const struct sqllex_token *t, const char *kw)
{
    return t->kind == SQLLEX_IDENT && sqllex_ieq(t->p, t->len, kw);
}

/* Encode code point u as UTF-8 at b; returns the length (0 if u is not a character). */
static size_t lex_utf8(unsigned long u, char *b)
{
    if (u < 0x80) {
        b[0] = (char)u;
        return 1;
    }
    if (u < 0x800) {
        b[0] = (char)(0xc0 | (u >> 6));
        b[1] = (char)(0x80 | (u & 0x3f));
        return 2;
    }
    if (u < 0x10000) {
        b[0] = (char)(0xe0 | (u >> 12));
        b[1] = (char)(0x80 | ((u >> 6) & 0x3f));
        b[2] = (char)(0x80 | (u & 0x3f));
        return 3;
    }
    if (u < 0x110000) {
        b[0] = (char)(0xf0 | (u >> 18));
        b[1] = (char)(0x80 | ((u >> 12) & 0x3f));
        b[2] = (char)(0x80 | ((u >> 6) & 0x3f));
        b[3] = (char)(0x80 | (u & 0x3f));
        return 4;
    }
    return 0;
}

/* A U&"" escape at s[0..n) (s[0] is '\'): \\, \XXXX or \+XXXXXX. Returns bytes used or 0. */
static size_t lex_uescape(const char *s, size_t n, unsigned long *u)
{
    size_t digits = 4, at = 1;

    if (n >= 2 && s[1] == '\\') {
        *u = '\\';
        return 2;
    }
    if (n >= 2 && s[1] == '+') {
        digits = 6;
        at = 2;
    }
    if (n < at + digits)
        return 0;
    *u = 0;
    for (size_t i = at; i < at + digits; i++) {
        unsigned char h = lex_lower((unsigned char)s[i]);

        if (h >= '0' && h <= '9')
            *u = *u * 16 + (h - '0');
        else if (h >= 'a' && h <= 'f')
            *u = *u * 16 + (h - 'a' + 10);
        else
            return 0;
    }
    return at + digits;
}

size_t sqllex_ident(const struct sqllex_token *t, char *buf)
{
    const char *s = t->body;
    size_t n = t->body_len, i = 0, o = 0;

    if (t->kind != SQLLEX_IDENT && t->kind != SQLLEX_QIDENT)
        return 0;

    while (i < n) {
        char tmp[4];
        size_t k = 1, step = 1;
        unsigned long u;

        tmp[0] = (char)lex_lower((unsigned char)s[i]);
        if (t->kind == SQLLEX_QIDENT && s[i] == '"') {
            step = 2;
        } else if (t->kind == SQLLEX_QIDENT && (t->flags & SQLLEX_T_UNICODE) && s[i] == '\\') {
            size_t used = lex_uescape(s + i, n - i, &u);
            size_t len = used > 0 ? lex_utf8(u, tmp) : 0;

            if (len > 0) {
                tmp[0] = (char)lex_lower((unsigned char)tmp[0]);
                k = len;
                step = used;
            }
        }
        if (o + k > SQLLEX_IDENT_MAX)
            break;
        memcpy(buf + o, tmp, k);
        o += k;
        i += step;
    }
    /* Cut in the middle of a character: drop its first bytes too. */
    if (i < n && ((unsigned char)s[i] & 0xc0) == 0x80) {
        while (o > 0 && ((unsigned char)buf[o - 1] & 0xc0) == 0x80)
            o--;
        if (o > 0)
            o--;
    }
    return o;
}

