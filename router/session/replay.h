/*
 * router/session/replay.h - the session state a client carries from server to server: one entry
 * per parameter (the last SET wins, RESET drops it or returns it to its startup value,
 * RESET ALL and DISCARD ALL clear it), kept in the order the values were last set, with a
 * signature that tells whether a server already holds exactly this state. Bounded: a
 * change past REPLAY_MAX_ITEMS or REPLAY_MAX_BYTES is refused before it runs. No I/O.
 */
#ifndef PGROUTER_REPLAY_H
#define PGROUTER_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#define REPLAY_MAX_ITEMS 200            /* parameters one client may carry */
#define REPLAY_MAX_BYTES (64u << 10)    /* bytes of statement text they may take */
#define REPLAY_NAME_MAX 128             /* "schema.name" of a custom parameter, NUL */
#define REPLAY_SIG_DIRTY UINT64_MAX     /* a server state no list has (never a signature) */

enum replay_op {
    REPLAY_NONE = 0,        /* no session state: SET LOCAL, SET ... FROM CURRENT, DISCARD PLANS */
    REPLAY_SET,             /* SET [SESSION] name ..., SET ROLE, SET SESSION AUTHORIZATION */
    REPLAY_RESET,           /* RESET name, SET name TO DEFAULT, SET ROLE NONE */
    REPLAY_RESET_ALL,       /* RESET ALL: every parameter but ROLE and SESSION AUTHORIZATION */
    REPLAY_DISCARD_ALL,     /* DISCARD ALL: every parameter, identity included */
};

/* What one statement does to the session state. */
struct replay_stmt {
    enum replay_op op;
    char name[REPLAY_NAME_MAX];     /* lowercase: "search_path", "role", "timezone" */
};

struct replay_item {
    char *name;
    char *sql;              /* the statement that gives the parameter its value now */
    char *base;             /* the startup setting's statement, or NULL */
};

struct replay {
    struct replay_item *items;
    size_t n, cap;
    size_t bytes;           /* text held, sql and base */
    uint64_t sig;           /* 0 for an empty list; equal lists have equal signatures */
};

void replay_init(struct replay *r);
void replay_free(struct replay *r);

/*
 * What the single statement sql[0..len) does to session state, lexed with
 * escape_strings (standard_conforming_strings = off). Never fails: anything else is
 * REPLAY_NONE. SET TIME ZONE, SCHEMA, NAMES and XML OPTION use the parameter's own name.
 */
void replay_parse(const char *sql, size_t len, int escape_strings, struct replay_stmt *out);

/* 0 if applying st with a statement of len bytes stays within the bounds, else -E2BIG. */
int replay_fits(const struct replay *r, const struct replay_stmt *st, size_t len);

/*
 * Record st, which the server ran as sql[0..len). Returns 1 if a server that held the
 * list before and ran the statement now holds the list exactly, 0 if it does not (a
 * RESET back to a startup value: the server went to its own default), -ENOMEM (the list
 * is unchanged) or -E2BIG (past the bounds; unchanged).
 */
int replay_apply(struct replay *r, const struct replay_stmt *st, const char *sql, size_t len);

/* dst (initialised, its content dropped) becomes a copy of src. 0 or -ENOMEM (dst empty). */
int replay_copy(struct replay *dst, const struct replay *src);

/* A startup setting name (any case): its value now and what RESET returns to. */
int replay_set_base(struct replay *r, const char *name, const char *sql, size_t len);

/*
 * A startup setting never becomes SQL text: its item holds, instead of a statement, the
 * name, value and client_encoding it came with, packed into one C string that starts with
 * REPLAY_PARAM_TAG (no statement the client ran starts with it: replay_parse finds no SET
 * there). dispatch sends it as parameters of a fixed statement (replay_param_sql), so no
 * quoting rule, standard_conforming_strings or multibyte encoding can change what it does.
 */
#define REPLAY_PARAM_TAG '\x01'

struct replay_param {
    const char *name, *value, *enc;     /* enc NULL: the database's encoding */
    size_t nlen, vlen, elen;
};

/*
 * Pack name[0..nlen), value[0..vlen) and enc (NULL or a C string) into a malloc'd string
 * (*len its length). None may contain NUL. 0 or -ENOMEM.
 */
int replay_param_pack(const char *name, size_t nlen, const char *value, size_t vlen,
                      const char *enc, char **out, size_t *len);

/* Unpack an item's text; pointers go into sql. 0, or -EINVAL if sql is not packed. */
int replay_param_unpack(const char *sql, struct replay_param *p);

/*
 * The statement that applies a packed setting: $1 name and $2 value as bytea (binary, so
 * no encoding conversion on the way), turned into text from $3 (the client's encoding,
 * NULL for the database's) by the server.
 */
const char *replay_param_sql(void);

#endif
