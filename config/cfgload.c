/*
 * config/cfgload.c - the loader's error list. Every check, in cfg.c or cfgcheck.c, adds
 * "file:line: message" here as it finds it; cfg_load reports them all at once, sorted by
 * line so that the output reads in file order whichever check ran first.
 */
#include "config/cfgload.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cfgload_add_error(struct loader *ld, int line, int subline, const char *file,
                       int file_line, const char *msg)
{
    struct cfg_error *e;
    size_t len;
    char *text;

    if (ld->n_errs == ld->errs_cap) {
        size_t cap = ld->errs_cap ? ld->errs_cap * 2 : 8;

        e = realloc(ld->errs, cap * sizeof(*e));
        if (e == NULL) {
            ld->oom = 1;
            return;
        }
        ld->errs = e;
        ld->errs_cap = cap;
    }
    len = (size_t)snprintf(NULL, 0, "%s:%d: %s\n", file, file_line, msg);
    text = malloc(len + 1);
    if (text == NULL) {
        ld->oom = 1;
        return;
    }
    snprintf(text, len + 1, "%s:%d: %s\n", file, file_line, msg);
    e = &ld->errs[ld->n_errs];
    e->line = line;
    e->subline = subline;
    e->seq = ld->n_errs;
    e->text = text;
    ld->n_errs++;
}

__attribute__((format(printf, 3, 4)))
void cfgload_error(struct loader *ld, int line, const char *fmt, ...)
{
    char msg[CFG_WHY_MAX + 128];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cfgload_add_error(ld, line, 0, ld->path, line, msg);
}

int cfgload_has_error_at(const struct loader *ld, int line)
{
    for (size_t i = 0; i < ld->n_errs; i++)
        if (ld->errs[i].line == line && ld->errs[i].subline == 0)
            return 1;
    return 0;
}

static int cfgload_cmp_error(const void *a, const void *b)
{
    const struct cfg_error *x = a;
    const struct cfg_error *y = b;

    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    if (x->subline != y->subline)
        return x->subline < y->subline ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

char *cfgload_join_errors(struct loader *ld)
{
    size_t len = 0;
    char *out, *w;

    qsort(ld->errs, ld->n_errs, sizeof(*ld->errs), cfgload_cmp_error);
    for (size_t i = 0; i < ld->n_errs; i++)
        len += strlen(ld->errs[i].text);
    out = malloc(len + 1);
    if (out == NULL)
        return NULL;
    w = out;
    for (size_t i = 0; i < ld->n_errs; i++) {
        size_t n = strlen(ld->errs[i].text);

        memcpy(w, ld->errs[i].text, n);
        w += n;
    }
    *w = '\0';
    return out;
}
