/*
 * tests/fuzz/fuzz_options.c - libFuzzer harness for startup_options, the splitter of the
 * startup packet's options parameter ("-c name=value", "--name=value", backslash escapes).
 * Input: one byte (the callback fails at that setting, 0 = never), then the parameter's
 * text. Each setting has a non-empty name without '=' and fits a word; written back as
 * "-c name=value" words with spaces, tabs and backslashes escaped, the settings split the
 * same way again; a failing callback stops the scan with its value.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/startup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_SETTINGS 4096

struct collect {
    size_t n;
    size_t fail_at;                 /* 1-based; 0 = never fail */
    char *text[FUZZ_MAX_SETTINGS];  /* "name=value" */
};

/* An invariant broke: crash so libFuzzer keeps the input. */
static void check(int ok)
{
    if (!ok)
        abort();
}

static int collect(void *arg, const char *name, size_t nlen, const char *value, size_t vlen)
{
    struct collect *c = arg;
    char *t;

    check(nlen > 0 && memchr(name, '=', nlen) == NULL && memchr(name, '\0', nlen) == NULL);
    check(memchr(value, '\0', vlen) == NULL && value == name + nlen + 1 && name[nlen] == '=');
    check(nlen + 1 + vlen <= STARTUP_OPTION_WORD);
    check(c->n < FUZZ_MAX_SETTINGS);
    t = malloc(nlen + vlen + 2);
    check(t != NULL);
    memcpy(t, name, nlen + 1 + vlen);
    t[nlen + 1 + vlen] = '\0';
    c->text[c->n++] = t;
    return c->fail_at != 0 && c->n == c->fail_at ? -EINTR : 0;
}

static void collect_free(struct collect *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->text[i]);
    c->n = 0;
}

/* The settings of a as options text: "-c" and each setting escaped, space-separated. */
static char *unparse(const struct collect *a)
{
    size_t len = 1;
    char *out, *w;

    for (size_t i = 0; i < a->n; i++)
        len += 4 + 2 * strlen(a->text[i]);
    out = malloc(len);
    check(out != NULL);
    w = out;
    for (size_t i = 0; i < a->n; i++) {
        memcpy(w, "-c ", 3);
        w += 3;
        for (const char *p = a->text[i]; *p != '\0'; p++) {
            if (*p == ' ' || *p == '\t' || *p == '\\')
                *w++ = '\\';
            *w++ = *p;
        }
        *w++ = ' ';
    }
    *w = '\0';
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct collect a, b;
    char *opt, *again;
    int rc;

    if (size < 1 || size > 16384)   /* at most 3277 settings of 5 bytes ("--a= ") */
        return 0;
    opt = malloc(size);
    check(opt != NULL);
    memcpy(opt, data + 1, size - 1);
    opt[size - 1] = '\0';
    a.fail_at = data[0];
    rc = startup_options(opt, collect, &a);
    check(a.fail_at != 0 && a.n == a.fail_at ? rc == -EINTR : rc == 0);
    check(a.fail_at == 0 || a.n <= a.fail_at);

    b.fail_at = 0;
    again = unparse(&a);
    check(startup_options(again, collect, &b) == 0);
    check(b.n == a.n);
    for (size_t i = 0; i < a.n; i++)
        check(strcmp(a.text[i], b.text[i]) == 0);
    free(again);
    collect_free(&a);
    collect_free(&b);
    free(opt);
    return 0;
}
