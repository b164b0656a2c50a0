/*
 * config/userlist.c - reads a PgBouncer-format auth_file into a sorted array of
 * struct cfg_user. Secrets are kept as written; protocol/ decides how to use them.
 * Malformed SCRAM secrets are rejected here so that the mistake shows up at load
 * time with a line number rather than as a failed login.
 */
#include "config/userlist.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USERLIST_MSG_MAX 512

/* An entry while parsing: the line is kept for duplicate messages. */
struct ul_entry {
    struct cfg_user user;
    int line;
};

struct ul_parse {
    userlist_error_fn on_error;
    void *arg;
    struct ul_entry *v;
    size_t n, cap;
    int failed;                 /* at least one problem was reported */
};

__attribute__((format(printf, 3, 4)))
static void ul_error(struct ul_parse *up, int line, const char *fmt, ...)
{
    char msg[USERLIST_MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    up->failed = 1;
    if (up->on_error != NULL)
        up->on_error(up->arg, line, msg);
}

static const char *ul_skip_blank(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

/*
 * Parse the quoted string starting at *pp (which points at '"'), turning "" into ".
 * Returns 0 with *out malloc'd and *pp just past the closing quote,
 * -EINVAL if the closing quote is missing, or -ENOMEM.
 */
static int ul_quoted(const char **pp, const char *end, char **out)
{
    const char *p = *pp + 1;
    const char *q = p;
    size_t n = 0;
    char *s, *w;

    for (;;) {
        if (q == end)
            return -EINVAL;
        if (*q == '"') {
            if (q + 1 < end && q[1] == '"') {
                q += 2;
                n++;
                continue;
            }
            break;
        }
        q++;
        n++;
    }
    s = malloc(n + 1);
    if (s == NULL)
        return -ENOMEM;
    for (w = s; p < q; p++) {
        *w++ = *p;
        if (*p == '"')
            p++;            /* skip the second quote of the pair */
    }
    *w = '\0';
    *out = s;
    *pp = q + 1;
    return 0;
}

/* Length of the run of characters from set at p (at least min of them, else 0). */
static size_t ul_span(const char *p, const char *set, size_t min)
{
    size_t n = strspn(p, set);

    return n >= min ? n : 0;
}

/* True if s is SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>. */
static int ul_scram_ok(const char *s)
{
    static const char digits[] = "0123456789";
    static const char b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";
    static const char prefix[] = "SCRAM-SHA-256$";
    const char *p = s + strlen(prefix);
    size_t n;

    if ((n = ul_span(p, digits, 1)) == 0 || p[n] != ':')
        return 0;
    p += n + 1;
    if ((n = ul_span(p, b64, 1)) == 0 || p[n] != '$')
        return 0;
    p += n + 1;
    if ((n = ul_span(p, b64, 1)) == 0 || p[n] != ':')
        return 0;
    p += n + 1;
    n = ul_span(p, b64, 1);
    return n != 0 && p[n] == '\0';
}

static int ul_append(struct ul_parse *up, char *name, char *secret, int line)
{
    if (up->n == up->cap) {
        size_t cap = up->cap ? up->cap * 2 : 16;
        struct ul_entry *v = realloc(up->v, cap * sizeof(*v));

        if (v == NULL)
            return -ENOMEM;
        up->v = v;
        up->cap = cap;
    }
    up->v[up->n].user.name = name;
    up->v[up->n].user.secret = secret;
    up->v[up->n].line = line;
    up->n++;
    return 0;
}

/* Parse one line [p, end) without its line terminator. Returns 0 or -ENOMEM. */
static int ul_line(struct ul_parse *up, int line, const char *p, const char *end)
{
    char *name = NULL;
    char *secret = NULL;
    int rc = 0;

    p = ul_skip_blank(p, end);
    if (p == end || *p == ';' || *p == '#')
        return 0;
    if (memchr(p, '\0', (size_t)(end - p)) != NULL) {
        ul_error(up, line, "line contains a NUL byte");
        return 0;
    }
    if (*p != '"') {
        ul_error(up, line, "expected \"user name\" in double quotes");
        return 0;
    }
    rc = ul_quoted(&p, end, &name);
    if (rc == -EINVAL) {
        ul_error(up, line, "unterminated quoted user name");
        rc = 0;
        goto out;
    }
    if (rc < 0)
        goto out;
    if (*name == '\0') {
        ul_error(up, line, "empty user name");
        goto out;
    }
    p = ul_skip_blank(p, end);
    if (p == end || *p != '"') {
        ul_error(up, line, "user \"%s\": expected \"password\" in double quotes after the "
                 "user name", name);
        goto out;
    }
    rc = ul_quoted(&p, end, &secret);
    if (rc == -EINVAL) {
        ul_error(up, line, "user \"%s\": unterminated quoted password", name);
        rc = 0;
        goto out;
    }
    if (rc < 0)
        goto out;
    p = ul_skip_blank(p, end);
    if (p != end) {
        ul_error(up, line, "user \"%s\": unexpected text after the password", name);
        goto out;
    }
    if (strncmp(secret, "SCRAM-SHA-256$", 14) == 0 && !ul_scram_ok(secret)) {
        ul_error(up, line, "user \"%s\": malformed SCRAM secret (expected "
                 "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>)", name);
        goto out;
    }
    rc = ul_append(up, name, secret, line);
    if (rc == 0)
        name = secret = NULL;       /* owned by the entry now */
out:
    free(name);
    free(secret);
    return rc;
}

static int ul_cmp_entry(const void *a, const void *b)
{
    const struct ul_entry *x = a;
    const struct ul_entry *y = b;
    int c = strcmp(x->user.name, y->user.name);

    if (c != 0)
        return c;
    return (x->line > y->line) - (x->line < y->line);
}

/* Sort entries by name and report every repeat of a name. */
static void ul_check_duplicates(struct ul_parse *up)
{
    size_t first = 0;

    if (up->n == 0)
        return;
    qsort(up->v, up->n, sizeof(*up->v), ul_cmp_entry);
    for (size_t i = 1; i < up->n; i++) {
        if (strcmp(up->v[i].user.name, up->v[first].user.name) != 0) {
            first = i;
            continue;
        }
        ul_error(up, up->v[i].line, "duplicate user \"%s\" (first on line %d)",
                 up->v[i].user.name, up->v[first].line);
    }
}

int userlist_parse(const char *text, size_t len, userlist_error_fn on_error, void *arg,
                   struct cfg_user **users, size_t *n_users)
{
    struct ul_parse up = { .on_error = on_error, .arg = arg };
    const char *p = text;
    const char *end = text + len;
    struct cfg_user *out = NULL;
    int line = 0;
    int rc = 0;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl != NULL ? nl : end;

        line++;
        if (eol > p && eol[-1] == '\r')
            eol--;
        rc = ul_line(&up, line, p, eol);
        if (rc < 0)
            goto out;
        p = nl != NULL ? nl + 1 : end;
    }
    ul_check_duplicates(&up);
    if (up.failed) {
        rc = -EINVAL;
        goto out;
    }
    if (up.n > 0) {
        out = malloc(up.n * sizeof(*out));
        if (out == NULL) {
            rc = -ENOMEM;
            goto out;
        }
        for (size_t i = 0; i < up.n; i++)
            out[i] = up.v[i].user;
    }
    *users = out;
    *n_users = up.n;
    free(up.v);
    return 0;
out:
    for (size_t i = 0; i < up.n; i++) {
        free(up.v[i].user.name);
        free(up.v[i].user.secret);
    }
    free(up.v);
    return rc;
}

int userlist_load(const char *path, userlist_error_fn on_error, void *arg,
                  struct cfg_user **users, size_t *n_users)
{
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc;

    if (f == NULL)
        return -errno;
    for (;;) {
        size_t got;

        if (cap - len < 4096) {
            size_t ncap = cap ? cap * 2 : 8192;
            char *nbuf = realloc(buf, ncap);

            if (nbuf == NULL) {
                rc = -ENOMEM;
                goto out;
            }
            buf = nbuf;
            cap = ncap;
        }
        got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        rc = errno != 0 ? -errno : -EIO;
        goto out;
    }
    rc = userlist_parse(buf, len, on_error, arg, users, n_users);
out:
    free(buf);
    fclose(f);
    return rc;
}

void userlist_free(struct cfg_user *users, size_t n_users)
{
    if (users == NULL)
        return;
    for (size_t i = 0; i < n_users; i++) {
        free(users[i].name);
        free(users[i].secret);
    }
    free(users);
}

static int ul_cmp_key(const void *key, const void *elem)
{
    const struct cfg_user *u = elem;

    return strcmp(key, u->name);
}

const struct cfg_user *userlist_find(const struct cfg_user *users, size_t n_users,
                                     const char *name)
{
    if (users == NULL || n_users == 0)
        return NULL;
    return bsearch(name, users, n_users, sizeof(*users), ul_cmp_key);
}

int userlist_is_plain(const char *secret)
{
    size_t i;

    if (secret == NULL || strncmp(secret, "SCRAM-SHA-256$", 14) == 0)
        return 0;
    if (strncmp(secret, "md5", 3) != 0 || strlen(secret) != 35)
        return 1;
    for (i = 3; i < 35; i++)
        if (!((secret[i] >= '0' && secret[i] <= '9') || (secret[i] >= 'a' && secret[i] <= 'f')))
            return 1;
    return 0;
}
