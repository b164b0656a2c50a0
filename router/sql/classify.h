/*
 * router/sql/classify.h - SQL read/write classification for routing: does a query string need
 * the primary, does it open or end a transaction, change session state, pin the session,
 * set pgrouter.role or pgrouter.tenant, carry a routing hint. Pure functions over the
 * caller's text: no allocation, no I/O, never fails. It sees only the text: a write done
 * by a view, rule, trigger, operator or a function missing from the write set is not seen.
 */
#ifndef PGROUTER_CLASSIFY_H
#define PGROUTER_CLASSIFY_H

#include <stddef.h>

#include "router/sql/funcset.h"

enum classify_role {
    CLASSIFY_ROLE_NONE = 0,
    CLASSIFY_ROLE_PRIMARY,
    CLASSIFY_ROLE_REPLICA,
    CLASSIFY_ROLE_AUTO,
};

/* Flags accumulate over every statement of the string. */
#define CLASSIFY_F_BEGIN            0x0001u /* BEGIN / START TRANSACTION (or COMMIT AND CHAIN) */
#define CLASSIFY_F_BEGIN_READ_ONLY  0x0002u /* ... with READ ONLY as its last access mode */
#define CLASSIFY_F_END              0x0004u /* COMMIT, END, ROLLBACK, ABORT, PREPARE TRANSACTION */
#define CLASSIFY_F_TXCTL            0x0008u /* SAVEPOINT, RELEASE, ROLLBACK TO, SET TRANSACTION,
                                             * SET CONSTRAINTS */
#define CLASSIFY_F_SESSION          0x0010u /* SET, RESET, DISCARD, PREPARE, EXECUTE, DEALLOCATE:
                                             * session state the proxy must track and replay */
#define CLASSIFY_F_STICKY           0x0020u /* pins the session to the primary: temp table,
                                             * LISTEN, session advisory lock, WITH HOLD cursor */
#define CLASSIFY_F_SET_ROLE         0x0040u /* SET/RESET pgrouter.role: see set_role */
#define CLASSIFY_F_SET_TENANT       0x0080u /* SET/RESET pgrouter.tenant: see tenant */
#define CLASSIFY_F_COPY_FROM        0x0100u /* COPY ... FROM: the client will send CopyData */
#define CLASSIFY_F_EMPTY            0x0200u /* no statement: blanks, comments, lone ';' */
#define CLASSIFY_F_CURSOR           0x0400u /* DECLARE, FETCH, MOVE, CLOSE */
#define CLASSIFY_F_EXECUTE          0x0800u /* EXECUTE name: the prepared statement decides */
#define CLASSIFY_F_TENANT_FOLD      0x1000u /* tenant is an unquoted identifier with capitals:
                                             * PostgreSQL would fold it to lowercase */
#define CLASSIFY_F_TENANT_ESCAPED   0x2000u /* tenant holds '' "" or backslash escapes that are
                                             * not undone in the slice */
#define CLASSIFY_F_BAD              0x4000u /* unterminated string, identifier or comment */
#define CLASSIFY_F_NODE             0x8000u /* calls a node-specific admin function (pg_promote,
                                             * pg_reload_conf, pg_cancel_backend...): it acts
                                             * on the server it runs on, so the primary unless
                                             * a hint names a role */

struct classify_result {
    int write;                  /* 1: must run on the primary */
    /*
     * Static text naming the first statement that made the string a write ("INSERT",
     * "SELECT ... FOR UPDATE", "write function", "WITH ... DELETE", "unrecognised
     * statement"), else what the first statement is ("read", "SET", "BEGIN", "empty").
     */
    const char *reason;
    unsigned flags;             /* CLASSIFY_F_* */
    enum classify_role hint;    /* from a pgrouter_role comment; PRIMARY wins over REPLICA */
    /*
     * With CLASSIFY_F_SET_ROLE: the last SET/RESET of pgrouter.role. RESET, RESET ALL,
     * DISCARD ALL and SET ... DEFAULT give AUTO; NONE means a value other than
     * primary, replica or auto, which the caller should reject.
     */
    enum classify_role set_role;
    /*
     * With CLASSIFY_F_SET_TENANT: the value of the last SET pgrouter.tenant, a slice of
     * the input (the text between the quotes of a string literal). NULL (len 0) after
     * RESET, RESET ALL, DISCARD ALL or SET ... DEFAULT: back to the connection's default.
     */
    const char *tenant;
    size_t tenant_len;
    /*
     * For reason "write function": the call's name as written (qualification included),
     * a slice of the input. NULL otherwise.
     */
    const char *func;
    size_t func_len;
    /*
     * 1 if some statement certainly writes: it would fail on a hot standby (DML, DDL,
     * locking clause, SELECT INTO, LISTEN...). Writes that only may write (write
     * functions, EXECUTE, cursors, LOCK, DO, CALL, unrecognised text) leave it 0.
     */
    int certain;
    int hint_conflict;          /* a replica hint on a statement that is certainly a write */
    unsigned n_statements;      /* non-empty statements */
};

struct classify_opts {
    /*
     * Functions whose call makes a statement a write; "name" entries match any
     * qualification, "schema.name" entries only that one. Matching ignores ASCII case even
     * for quoted identifiers: a false match costs a trip to the primary, a miss an error.
     * NULL: no function is a write.
     */
    const struct funcset *writes;
    /* Names (or schema.names) never treated as write functions; may be NULL. */
    const struct funcset *exempt;
    int escape_strings;         /* 1 when the server has standard_conforming_strings = off */
};

/*
 * Classify the query string sql[0..len) (a simple Query message, or one statement of the
 * extended protocol). Fills out completely and returns 0; it never fails: text the
 * classifier does not understand is a write ("unrecognised statement"). Pointers in out
 * point into sql. o may be NULL (no write functions, standard strings).
 *
 * Read statements: SELECT, VALUES, TABLE, WITH, SHOW, EXPLAIN without ANALYZE (even of a
 * write), COPY ... TO. A SET/RESET/DISCARD/DEALLOCATE/PREPARE of a read has write 0 and
 * CLASSIFY_F_SESSION: the caller must not treat it as a plain read. EXECUTE is a write
 * (CLASSIFY_F_EXECUTE) unless the caller knows the prepared statement; cursor statements
 * are writes (CLASSIFY_F_CURSOR) so the cursor stays on one server. BEGIN/COMMIT and
 * other transaction control are not writes; the flags say what they do.
 */
int classify_sql(const struct classify_opts *o, const char *sql, size_t len,
                 struct classify_result *out);

/*
 * The built-in write functions (nextval, setval, pg_advisory_lock, lo_create, ...), a
 * static NULL-terminated list of lowercase names for the caller to put in its funcset;
 * *n (if not NULL) receives the count.
 */
const char *const *classify_default_writes(size_t *n);

#endif
