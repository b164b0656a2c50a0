/*
 * router/sql/catalog.c - user-defined VOLATILE function names per database, merged with the
 * built-in and configured write functions into the set the classifier uses.
 */
#include "router/sql/catalog.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/frame.h"
#include "router/core/log.h"
#include "router/sql/sqllex.h"

const char *catalog_query(void)
{
    /* Functions and procedures users wrote: the server's own are covered by the
     * built-in list, and extension schemas are included on purpose. */
    return "SELECT n.nspname, p.proname FROM pg_catalog.pg_proc p "
           "JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace "
           "WHERE p.provolatile = 'v' "
           "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
           "AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'";
}

struct catalog_db *catalog_db(struct catalog *c, const char *db, const struct routing *r)
{
    struct catalog_db *d;

    for (d = c->dbs; d != NULL; d = d->next)
        if (strcmp(d->name, db) == 0)
            return d;
    d = calloc(1, sizeof(*d));
    if (d == NULL)
        return NULL;
    snprintf(d->name, sizeof(d->name), "%s", db);
    funcset_init(&d->writes);
    funcset_init(&d->building);
    d->opts = r->opts;      /* until loaded: the built-in and configured sets */
    d->next = c->dbs;
    c->dbs = d;
    return d;
}

int catalog_stale(const struct catalog_db *d, uint64_t now_ms, unsigned refresh_ms)
{
    return !d->loaded || now_ms >= d->loaded_at_ms + refresh_ms;
}

void catalog_begin(struct catalog_db *d)
{
    funcset_close(&d->building);
    funcset_init(&d->building);
    d->building_active = 1;
}

void catalog_row(struct catalog_db *d, const uint8_t *body, size_t n)
{
    const uint8_t *col[2];
    uint32_t len[2];
    size_t at = 2;
    char qualified[FUNCSET_NAME_MAX + 1];

    if (!d->building_active || n < 2 || frame_get16(body) != 2)
        return;
    for (int i = 0; i < 2; i++) {
        if (n - at < 4)
            return;
        len[i] = frame_get32(body + at);
        at += 4;
        if (len[i] == 0xffffffffu || len[i] > n - at || len[i] > 63)
            return;
        col[i] = body + at;
        at += len[i];
    }
    funcset_add(&d->building, (const char *)col[1], len[1]);
    snprintf(qualified, sizeof(qualified), "%.*s.%.*s", (int)len[0], (const char *)col[0],
             (int)len[1], (const char *)col[1]);
    funcset_add(&d->building, qualified, strlen(qualified));
}

/* fresh (empty) gets the built-in write functions, r's configured ones and extra's. */
static int catalog_fill(struct funcset *fresh, const struct routing *r,
                        const struct funcset *extra)
{
    const char *const *defaults = classify_default_writes(NULL);
    const struct funcset *srcs[2] = { &r->writes, extra };
    int rc = 0;

    for (size_t i = 0; defaults[i] != NULL && rc == 0; i++)
        rc = funcset_add(fresh, defaults[i], strlen(defaults[i]));
    /* The configured names and the extra ones, by walking the sets' name pools. */
    for (int k = 0; k < 2 && rc == 0; k++) {
        const struct funcset *fs = srcs[k];

        for (size_t i = 0; fs != NULL && i < fs->cap && rc == 0; i++)
            if (fs->slots[i].len > 0)
                rc = funcset_add(fresh, fs->pool + fs->slots[i].off, fs->slots[i].len);
    }
    return rc;
}

int catalog_finish(struct catalog_db *d, const struct routing *r, int ok, uint64_t now_ms)
{
    struct funcset fresh;
    int rc;

    if (!d->building_active)
        return 0;
    d->building_active = 0;
    d->loaded = 1;
    d->loaded_at_ms = now_ms;
    if (!ok) {
        log_warn("database %s: cannot read volatile functions; keeping the previous list",
                 d->name);
        return 0;
    }
    funcset_init(&fresh);
    rc = catalog_fill(&fresh, r, &d->building);
    if (rc < 0) {
        funcset_close(&fresh);
        return rc;
    }
    d->n_volatile = funcset_count(&d->building) / 2;
    funcset_close(&d->writes);
    d->writes = fresh;
    d->opts = r->opts;
    d->opts.writes = &d->writes;
    funcset_close(&d->building);
    funcset_init(&d->building);
    log_info("database %s: %zu user-defined volatile functions are treated as writes",
             d->name, d->n_volatile);
    return 0;
}

int catalog_ddl_volatile(const char *sql, size_t len, int escape_strings, char *name,
                         size_t cap)
{
    struct sqllex_cursor cu;
    char part[SQLLEX_IDENT_MAX + 1];
    int create, vol;
    size_t at = 0;

    if (cap < 2)
        return 0;
    sqllex_cursor_init(&cu, sql, len, escape_strings, NULL, NULL);
    create = sqllex_back(&cu, 0)->kw == SQLLEX_KW_CREATE;
    if (!create && sqllex_back(&cu, 0)->kw != SQLLEX_KW_ALTER)
        return 0;
    sqllex_advance(&cu);
    if (create && sqllex_back(&cu, 0)->kw == SQLLEX_KW_OR) {
        sqllex_advance(&cu);
        if (sqllex_back(&cu, 0)->kw != SQLLEX_KW_REPLACE)
            return 0;
        sqllex_advance(&cu);
    }
    if (!sqllex_is(sqllex_back(&cu, 0), "function"))
        return 0;
    /* name [. name] */
    for (;;) {
        size_t n;

        sqllex_advance(&cu);
        n = sqllex_ident(sqllex_back(&cu, 0), part);
        if (n == 0 || at + n + 2 > cap)
            return 0;
        memcpy(name + at, part, n);
        at += n;
        name[at] = '\0';
        sqllex_advance(&cu);
        if (sqllex_back(&cu, 0)->kind != SQLLEX_DOT || memchr(name, '.', at) != NULL)
            break;
        name[at++] = '.';
    }
    /* The volatility among the options, outside the argument list and the body. */
    vol = create;
    for (; !sqllex_at_end(&cu); sqllex_advance(&cu)) {
        const struct sqllex_token *t = sqllex_back(&cu, 0);

        if (cu.depth != 0 || t->kind != SQLLEX_IDENT)
            continue;
        if (sqllex_is(t, "stable") || sqllex_is(t, "immutable"))
            vol = 0;
        else if (sqllex_is(t, "volatile"))
            vol = 1;
        else if (t->kw == SQLLEX_KW_BEGIN && create)
            break;  /* BEGIN ATOMIC body: its words are statements, not options */
    }
    return vol;
}

int catalog_note_write(struct catalog_db *d, const struct routing *r, const char *name,
                       size_t len)
{
    const char *dot = memchr(name, '.', len);
    int rc;

    if (d->opts.writes != &d->writes) {
        /* Never loaded: start from what sessions classify with until then. */
        struct funcset fresh;

        funcset_init(&fresh);
        rc = catalog_fill(&fresh, r, NULL);
        if (rc < 0) {
            funcset_close(&fresh);
            return rc;
        }
        funcset_close(&d->writes);
        d->writes = fresh;
        d->opts = r->opts;
        d->opts.writes = &d->writes;
    }
    /* As catalog_row: the bare name and, if given, the qualified one. */
    rc = funcset_add(&d->writes, name, len);
    if (rc == 0 && dot != NULL)
        rc = funcset_add(&d->writes, dot + 1, len - (size_t)(dot + 1 - name));
    return rc == -EINVAL ? 0 : rc;
}

void catalog_invalidate(struct catalog *c)
{
    for (struct catalog_db *d = c->dbs; d != NULL; d = d->next)
        d->loaded_at_ms = 0;
}

void catalog_close(struct catalog *c)
{
    struct catalog_db *d = c->dbs, *next;

    for (; d != NULL; d = next) {
        next = d->next;
        funcset_close(&d->writes);
        funcset_close(&d->building);
        free(d);
    }
    c->dbs = NULL;
}
