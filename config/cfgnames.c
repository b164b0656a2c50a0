/*
 * config/cfgnames.c - value parsers for names: lists of function and table names
 * ([routing] write_functions, read_only_functions; [sharding] sharded_tables), one column
 * name (tenant_column) and one custom setting name (tenant_key). Declared in cfgvalue.h.
 */
#include "config/cfgvalue.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CFGVALUE_LETTERS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
#define CFGVALUE_ALNUM CFGVALUE_LETTERS "0123456789"

/* s[0..n) is one part of a function name: PostgreSQL's unquoted identifier, ASCII only. */
static int cfgvalue_ident_ok(const char *s, size_t n)
{
    return n >= 1 && n <= 63 && strchr(CFGVALUE_LETTERS "_", s[0]) != NULL &&
           strspn(s, CFGVALUE_ALNUM "_$") == n;
}

/* "name" or "schema.name". */
static int cfgvalue_funcname_ok(const char *s)
{
    const char *dot = strchr(s, '.');

    if (dot == NULL)
        return cfgvalue_ident_ok(s, strlen(s));
    return cfgvalue_ident_ok(s, (size_t)(dot - s)) &&
           cfgvalue_ident_ok(dot + 1, strlen(dot + 1));
}

void cfgvalue_free_funclist(char **names)
{
    if (names == NULL)
        return;
    for (char **p = names; *p != NULL; p++)
        free(*p);
    free(names);
}

/*
 * "name, schema.name, ..." appended to the NULL-terminated list *field (which may be
 * NULL): a new array replaces the old one, whose strings it takes over. what names an
 * entry in messages; with unique, an entry already in the list is refused.
 */
static int cfgvalue_namelist(const char *v, const char *what, int unique, void *field,
                             char *why, size_t why_len)
{
    char **old = *(char ***)field;
    char **names = NULL;
    char *copy = NULL;
    char *item, *next;
    size_t n0 = 0, n = 1, i, entry = 1;
    int rc = -ENOMEM;

    while (old != NULL && old[n0] != NULL)
        n0++;
    for (const char *p = v; *p != '\0'; p++)
        n += *p == ',';
    copy = strdup(v);
    names = calloc(n0 + n + 1, sizeof(*names));
    if (copy == NULL || names == NULL)
        goto fail;
    for (i = n0, item = copy; item != NULL; item = next, i++, entry++) {
        item = cfgvalue_cut_item(item, &next);
        if (*item == '\0') {
            snprintf(why, why_len, "entry %zu of \"%s\" is empty", entry, v);
            rc = -EINVAL;
            goto fail;
        }
        if (!cfgvalue_funcname_ok(item)) {
            snprintf(why, why_len, "\"%s\" is not a %s name (name or schema.name, "
                     "each 1-63 of A-Z a-z 0-9 _ $, starting with a letter or _)", item, what);
            rc = -EINVAL;
            goto fail;
        }
        /* PostgreSQL folds unquoted names the same way, and funcset expects lowercase */
        for (char *p = item; *p != '\0'; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        for (size_t j = 0; unique && j < n0 && old[j] != NULL; j++) {
            if (strcmp(old[j], item) == 0) {
                snprintf(why, why_len, "%s \"%s\" is listed twice", what, item);
                rc = -EINVAL;
                goto fail;
            }
        }
        for (size_t j = n0; unique && j < i; j++) {
            if (strcmp(names[j], item) == 0) {
                snprintf(why, why_len, "%s \"%s\" is listed twice", what, item);
                rc = -EINVAL;
                goto fail;
            }
        }
        names[i] = strdup(item);
        if (names[i] == NULL)
            goto fail;
    }
    if (n0 > 0)
        memcpy(names, old, n0 * sizeof(*names));
    free(old);
    *(char ***)field = names;
    free(copy);
    return 0;
fail:
    for (i = n0; names != NULL && i < n0 + n; i++)
        free(names[i]);
    free(names);
    free(copy);
    return rc;
}

int cfgvalue_parse_funclist(const char *v, long long min, long long max, void *field,
                            char *why, size_t why_len)
{
    (void)min;
    (void)max;
    if (*v == '\0') {
        *(char ***)field = NULL;
        return 0;
    }
    return cfgvalue_namelist(v, "function", 0, field, why, why_len);
}

int cfgvalue_parse_tablelist(const char *v, long long min, long long max, void *field,
                             char *why, size_t why_len)
{
    (void)min;
    (void)max;
    if (*v == '\0')
        return 0;
    return cfgvalue_namelist(v, "table", 1, field, why, why_len);
}

/* Copy v into field (char[64]) folded to lowercase; the caller checked its length. */
static void cfgvalue_copy_lower(const char *v, char *field)
{
    size_t i;

    for (i = 0; v[i] != '\0'; i++)
        field[i] = (char)((v[i] >= 'A' && v[i] <= 'Z') ? v[i] - 'A' + 'a' : v[i]);
    field[i] = '\0';
}

int cfgvalue_parse_ident(const char *v, long long min, long long max, void *field,
                         char *why, size_t why_len)
{
    (void)min;
    (void)max;
    if (!cfgvalue_ident_ok(v, strlen(v))) {
        snprintf(why, why_len, "\"%s\" is not a column name (1-63 of A-Z a-z 0-9 _ $, "
                 "starting with a letter or _)", v);
        return -EINVAL;
    }
    cfgvalue_copy_lower(v, field);
    return 0;
}

int cfgvalue_parse_setting(const char *v, long long min, long long max, void *field,
                           char *why, size_t why_len)
{
    const char *dot = strchr(v, '.');

    (void)min;
    (void)max;
    if (dot == NULL || strlen(v) > 63 || !cfgvalue_funcname_ok(v)) {
        snprintf(why, why_len, "\"%s\" is not a custom setting name (prefix.name, e.g. "
                 "pgrouter.tenant)", v);
        return -EINVAL;
    }
    cfgvalue_copy_lower(v, field);
    return 0;
}
