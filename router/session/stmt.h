/*
 * router/session/stmt.h - session state that must follow a client from server to server:
 * its named prepared statements (client name -> the statement's text and parameter types,
 * identified on servers by a content hash so clients that prepare the same text share one
 * server-side statement) and the set of such statements each server holds (bounded, LRU).
 * The SET state that follows a client lives in router/session/replay.h.
 */
#ifndef PGROUTER_STMT_H
#define PGROUTER_STMT_H

#include <stddef.h>
#include <stdint.h>

#define STMT_SERVER_NAME_LEN 21     /* "pgr_" + 16 hex + NUL */

struct stmt {
    char *name;             /* the client's name (never "") */
    uint64_t id;            /* content hash: the server-side name is pgr_<id> */
    uint8_t *body;          /* Parse body after the name: query NUL, int16 n, n int32 */
    size_t body_len;
    int write;              /* classification of the text */
    unsigned flags;         /* CLASSIFY_F_* of the text */
    struct stmt *next;
};

struct stmt_table {
    struct stmt **buckets;
    size_t n_buckets;
    size_t n;
};

void stmt_table_init(struct stmt_table *t);
void stmt_table_free(struct stmt_table *t);

/* Content id of a Parse body after its name (query text and parameter types). */
uint64_t stmt_id(const uint8_t *body, size_t len);

/* "pgr_<16 hex>" for id. */
void stmt_server_name(uint64_t id, char out[STMT_SERVER_NAME_LEN]);

/*
 * Record the client's Parse of name with body (after the name), replacing an entry of the
 * same name. Returns the entry or NULL when out of memory.
 */
struct stmt *stmt_put(struct stmt_table *t, const char *name, const uint8_t *body,
                      size_t body_len, int write, unsigned flags);

/* The entry for name, or NULL. */
struct stmt *stmt_get(const struct stmt_table *t, const char *name);

/* The client closed name (no error if unknown). */
void stmt_remove(struct stmt_table *t, const char *name);

/* Unlink the entry for name and hand it to the caller (NULL if unknown). */
struct stmt *stmt_take(struct stmt_table *t, const char *name);

/* Put back an entry stmt_take returned (freed instead if its name is taken). */
void stmt_restore(struct stmt_table *t, struct stmt *e);

/* Free an entry stmt_take returned. */
void stmt_entry_free(struct stmt *e);

/* DEALLOCATE ALL / DISCARD ALL: forget every statement. */
void stmt_clear(struct stmt_table *t);

/* The statements one server holds, with a use clock for LRU eviction. */
struct srvstmt_slot {
    uint64_t id;            /* 0: empty */
    uint64_t used;
};

struct srvstmt {
    struct srvstmt_slot *slots;
    size_t cap;             /* power of two */
    size_t n;
    uint64_t clock;
};

void srvstmt_init(struct srvstmt *s);
void srvstmt_free(struct srvstmt *s);
/* 1 if the server holds id (and marks it used), else 0. */
int srvstmt_has(struct srvstmt *s, uint64_t id);
/* Note that the server now holds id. 0 or -ENOMEM. */
int srvstmt_add(struct srvstmt *s, uint64_t id);
/* The least recently used id not in keep[0..n_keep), removed from the set; 0 if none. */
uint64_t srvstmt_evict(struct srvstmt *s, const uint64_t *keep, size_t n_keep);
/* Forget id (the server may or may not hold it any more). */
void srvstmt_remove(struct srvstmt *s, uint64_t id);
/* The server lost all its statements (DISCARD ALL). */
void srvstmt_clear(struct srvstmt *s);

#endif
