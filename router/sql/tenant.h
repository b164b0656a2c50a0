/*
 * router/sql/tenant.h - finds the tenant of one query string for sharded routing: a comment
 * hint (tenant=acme, sqlcommenter tenant='acme'), or the statement itself (tenant_column
 * compared with a literal or a bound parameter, IN lists, INSERT ... VALUES), and whether
 * it touches sharded tables at all. Pure, single pass over router/sqllex tokens, no
 * allocation: the result holds its own small buffer.
 *
 * The caller decides between sources, in this order: the comment hint, the session's SET
 * of the tenant key, the startup parameter, then the statement's values. A statement on a
 * sharded table with none of them must be refused, never guessed.
 */
#ifndef PGROUTER_TENANT_H
#define PGROUTER_TENANT_H

#include <stddef.h>
#include <stdint.h>

#define TENANT_MAX_VALUES 16    /* distinct values kept from one statement */
#define TENANT_MAX_TABLES 8     /* sharded tables listed in the result */
#define TENANT_BUF_SIZE 1024    /* room for unescaped or decoded values */

enum tenant_src {
    TENANT_SRC_NONE = 0,
    TENANT_SRC_COMMENT,         /* a tenant=... comment hint */
    TENANT_SRC_WHERE,           /* tenant_column = 'literal' / IN (...), in any clause */
    TENANT_SRC_INSERT,          /* a literal in INSERT ... (tenant_column) VALUES (...) */
    TENANT_SRC_PARAM,           /* a bound parameter $n, in either place */
};

struct tenant_opts {
    const char *column;         /* lowercase tenant column; NULL or "" finds no values */
    /*
     * Lowercase sharded tables: "table" matches it in any schema, "schema.table" only
     * there. Unquoted SQL names are folded to lowercase; quoted ones must match exactly.
     */
    const char *const *tables;
    size_t n_tables;
    int escape_strings;         /* 1 when the server has standard_conforming_strings = off */
};

/*
 * Bound parameters from Bind (and types from Parse), as the client sent them. values[i]
 * and lens[i] are $(i+1); lens[i] = -1 (or values[i] = NULL) is SQL NULL. formats as in
 * Bind: n_formats 0 means all text, 1 means all alike, else one per parameter. types may
 * be NULL (n_types 0): each OID 0 means "unspecified".
 *
 * Text values are used as sent. Binary int2/int4/int8 become their decimal text, binary
 * uuid its canonical text, binary text/varchar/bpchar/name the bytes themselves. Binary
 * values of unspecified type: 2, 4 or 8 bytes are read as integers, others as text.
 * Any other binary type cannot be read: the result's unknown flag is set instead.
 */
struct tenant_params {
    unsigned n;
    const char *const *values;
    const int32_t *lens;
    const int16_t *formats;
    unsigned n_formats;
    const uint32_t *types;
    unsigned n_types;
};

struct tenant_value {
    const char *p;              /* into the sql, a parameter, or the result's buf */
    size_t len;
    enum tenant_src src;
};

/*
 * Not to be copied: pointers may point into buf. Valid while the sql and parameters are.
 */
struct tenant_result {
    int touches_sharded;        /* names at least one sharded table */
    int touches_other;          /* names a table that is not sharded (CTE names excluded) */
    /* indexes into opts->tables of the sharded tables named, each once, in text order */
    unsigned tables[TENANT_MAX_TABLES];
    unsigned n_tables;

    /* the first comment hint, NULL if none; comment_conflict: another hint differs */
    const char *comment;
    size_t comment_len;
    int comment_conflict;

    /* distinct values the statement gives the tenant column, in text order */
    struct tenant_value values[TENANT_MAX_VALUES];
    unsigned n_values;
    int conflict;               /* n_values > 1: the caller checks they share a cluster */
    int overflow;               /* more values than fit, or buf ran out: not all listed */
    /*
     * The tenant column gets a value this scan cannot read: an INSERT expression or
     * DEFAULT, a NULL or missing parameter, an undecodable binary one, a U&'' string.
     */
    int unknown;
    int has_or;                 /* an OR somewhere: values may not bound the rows touched */
    /*
     * A query compares the tenant column in a way that can match several tenants, so no
     * single cluster holds its rows: under a NOT, with <>, !=, <, >, LIKE, BETWEEN,
     * IS [NOT] NULL, IS DISTINCT FROM, NOT IN, = ANY (...), IN (SELECT ...), or a
     * comparison whose result is itself compared ((tenant_id = 'a') = false). The caller
     * refuses it even when a comment or the session names a tenant.
     */
    int broad;
    /*
     * A query level (the statement, a subquery, a UNION branch, a CTE) names a sharded
     * table but never compares the tenant column with =: values found in other levels do
     * not bound its rows (SELECT ... FROM accounts WHERE id IN (SELECT ... WHERE
     * tenant_id = 'a')). Like unknown, the caller needs a comment or session tenant.
     */
    int unbounded;

    /* convenience: the comment hint if any, else values[0]; NULL and NONE if neither */
    const char *tenant;
    size_t tenant_len;
    enum tenant_src source;

    char buf[TENANT_BUF_SIZE];
    size_t buf_used;
};

/*
 * Scan the query string sql[0..len) (all its statements). o must not be NULL; params may
 * be NULL (no parameters bound: $n then sets unknown). Fills out completely and returns
 * 0; it never fails on input (text it does not understand yields no values).
 */
int tenant_extract(const struct tenant_opts *o, const char *sql, size_t len,
                   const struct tenant_params *params, struct tenant_result *out);

#endif
