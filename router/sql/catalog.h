/*
 * router/sql/catalog.h - per-database knowledge read from the primary's catalog: the names of
 * user-defined VOLATILE functions, which the classifier treats as writes (the classic
 * trap: SELECT my_func() that inserts). The query runs on a client's own primary
 * connection before it is greeted, asynchronously like any other unit; the result is
 * shared by every session of the worker on that database until it is refreshed.
 */
#ifndef PGROUTER_CATALOG_H
#define PGROUTER_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include "config/cfg.h"
#include "router/sql/classify.h"
#include "router/sql/funcset.h"
#include "router/cluster/routing.h"

struct catalog_db {
    char name[64];
    struct funcset writes;          /* built-in + configured + this database's volatile */
    struct classify_opts opts;      /* what sessions on this database classify with */
    int loaded;
    uint64_t loaded_at_ms;
    size_t n_volatile;
    struct funcset building;        /* names of the load under way */
    int building_active;
    struct catalog_db *next;
};

struct catalog {
    struct catalog_db *dbs;
};

/* The query whose rows (schema name, function name) catalog_row takes. */
const char *catalog_query(void);

/* The entry for database db, created empty (classifying with r's sets) if new. */
struct catalog_db *catalog_db(struct catalog *c, const char *db, const struct routing *r);

/* Should a session load (or refresh) d now? */
int catalog_stale(const struct catalog_db *d, uint64_t now_ms, unsigned refresh_ms);

/* Start collecting a new list. */
void catalog_begin(struct catalog_db *d);

/* One DataRow body of catalog_query's result. Malformed rows are ignored. */
void catalog_row(struct catalog_db *d, const uint8_t *body, size_t n);

/*
 * The load ended (ok = 0 if the query failed: the previous list is kept). Rebuilds the
 * write set from r's sets plus the collected names. 0 or -ENOMEM.
 */
int catalog_finish(struct catalog_db *d, const struct routing *r, int ok, uint64_t now_ms);

/*
 * CREATE [OR REPLACE] FUNCTION or ALTER FUNCTION text sql[0..len), lexed with
 * escape_strings: 1 if it leaves a VOLATILE function (PostgreSQL's default, so a CREATE
 * without STABLE or IMMUTABLE, or an ALTER ... VOLATILE), with its name as written
 * ("name" or "schema.name", lowercased) in name[cap]; else 0.
 */
int catalog_ddl_volatile(const char *sql, size_t len, int escape_strings, char *name,
                         size_t cap);

/*
 * Treat name[0..len) ("f" or "s.f") as a write function in d from now on, until the next
 * load replaces the list (which will hold it if the catalog does). 0 or -ENOMEM.
 */
int catalog_note_write(struct catalog_db *d, const struct routing *r, const char *name,
                       size_t len);

/* Mark every entry stale (SIGHUP), so the next session on each database reloads it. */
void catalog_invalidate(struct catalog *c);

/* Free everything. */
void catalog_close(struct catalog *c);

#endif
