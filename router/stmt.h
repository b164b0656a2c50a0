/*
 * router/stmt.h - per-client tables of session state that must follow the client from
 * server to server: named prepared statements of the extended protocol (with the raw
 * Parse message to replay) and the SET/PREPARE/DISCARD statements to replay in order.
 */
#ifndef PGROUTER_STMT_H
#define PGROUTER_STMT_H

#include <stddef.h>
#include <stdint.h>

struct stmt {
    char *name;             /* the client's name; "" is the unnamed statement */
    uint8_t *parse;         /* the client's Parse message, type byte included */
    size_t parse_len;
    int write;              /* classification of the statement text */
    unsigned flags;         /* CLASSIFY_F_* of the text */
    uint32_t on;            /* server slots that hold this statement */
    uint32_t stale;         /* slots that hold an older statement under this name */
    int closed;             /* the client closed it; kept while stale copies exist */
    struct stmt *next;
};

struct stmt_table {
    struct stmt **buckets;
    size_t n_buckets;
    size_t n;
};

void stmt_table_init(struct stmt_table *t);
void stmt_table_free(struct stmt_table *t);

/*
 * Record a Parse of name (copying name and the message). An existing entry is replaced;
 * the slots that held it become stale (they must Close it before a new Parse).
 * Returns the entry or NULL when out of memory.
 */
struct stmt *stmt_put(struct stmt_table *t, const char *name, const uint8_t *parse,
                      size_t parse_len, int write, unsigned flags);

/* The entry for name, or NULL. */
struct stmt *stmt_get(const struct stmt_table *t, const char *name);

/* The client closed name: every slot that holds it now holds a stale copy. */
void stmt_close(struct stmt_table *t, const char *name);

/* Slot's server is gone: clear its bits everywhere. */
void stmt_forget_slot(struct stmt_table *t, unsigned slot);

/* DISCARD ALL / DEALLOCATE ALL on every server: drop everything. */
void stmt_clear(struct stmt_table *t);

/* Session-state statements to replay, each tagged with a version. */
struct replay_item {
    char *sql;
    unsigned version;
};

struct replay {
    struct replay_item *items;
    size_t n, cap;
    unsigned version;       /* of the newest item; 0 = nothing recorded */
};

void replay_init(struct replay *r);
void replay_free(struct replay *r);

/*
 * Append a statement that succeeded on one server. reset (RESET ALL, DISCARD ALL) drops
 * every earlier item, since replaying this one alone gives the same state.
 * Returns the new version, or 0 when out of memory.
 */
unsigned replay_add(struct replay *r, const char *sql, size_t len, int reset);

#endif
