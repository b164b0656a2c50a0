/*
 * tests/fuzz/fuzz_userlist.c - libFuzzer harness for userlist_parse, the auth_file reader.
 * Input: the file's bytes. A file it accepts gives users sorted by name with no repeat,
 * each found by userlist_find, and no error reported; written back as "user" "secret"
 * lines (quotes doubled) it parses to the same list. A file it refuses reports at least
 * one error, each on a line of the file.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/userlist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct errs {
    int n;
    int lines;      /* lines in the input */
};

/* An invariant broke: crash so libFuzzer keeps the input. */
static void check(int ok)
{
    if (!ok)
        abort();
}

static void on_error(void *arg, int line, const char *msg)
{
    struct errs *e = arg;

    check(line >= 1 && line <= e->lines && msg != NULL && msg[0] != '\0');
    e->n++;
}

/* Append s in double quotes, '"' doubled, at *w. */
static char *put_quoted(char *w, const char *s)
{
    *w++ = '"';
    for (; *s != '\0'; s++) {
        if (*s == '"')
            *w++ = '"';
        *w++ = *s;
    }
    *w++ = '"';
    return w;
}

static void check_round_trip(const struct cfg_user *u, size_t n)
{
    struct cfg_user *v = NULL;
    size_t len = 1, nv = 0;
    struct errs e = { 0, 0 };
    char *text, *w;

    for (size_t i = 0; i < n; i++)
        len += 2 * (strlen(u[i].name) + strlen(u[i].secret)) + 7;
    text = malloc(len);
    check(text != NULL);
    w = text;
    for (size_t i = 0; i < n; i++) {
        w = put_quoted(w, u[i].name);
        *w++ = ' ';
        w = put_quoted(w, u[i].secret);
        *w++ = '\n';
    }
    *w = '\0';
    e.lines = (int)n + 1;
    check(userlist_parse(text, (size_t)(w - text), on_error, &e, &v, &nv) == 0);
    check(e.n == 0 && nv == n);
    for (size_t i = 0; i < n; i++)
        check(strcmp(u[i].name, v[i].name) == 0 && strcmp(u[i].secret, v[i].secret) == 0);
    userlist_free(v, nv);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cfg_user *u = (struct cfg_user *)&u;     /* must stay untouched on failure */
    size_t n = 12345;
    struct errs e = { 0, 1 };
    char *text = malloc(size > 0 ? size : 1);
    int rc;

    check(text != NULL);
    if (size > 0)
        memcpy(text, data, size);
    for (size_t i = 0; i < size; i++)
        e.lines += text[i] == '\n';
    rc = userlist_parse(text, size, on_error, &e, &u, &n);
    if (rc != 0) {
        check(rc == -EINVAL && e.n > 0);
        check(u == (struct cfg_user *)&u && n == 12345);
        free(text);
        return 0;
    }
    check(e.n == 0);
    check((n == 0) == (u == NULL));
    for (size_t i = 0; i < n; i++) {
        check(u[i].name[0] != '\0' && u[i].secret != NULL);
        check(i == 0 || strcmp(u[i - 1].name, u[i].name) < 0);
        check(userlist_find(u, n, u[i].name) == &u[i]);
        check(userlist_is_plain(u[i].secret) == 0 || userlist_is_plain(u[i].secret) == 1);
    }
    check_round_trip(u, n);
    userlist_free(u, n);
    free(text);
    return 0;
}
