/*
 * router/sql/tenantval.h - turns one tenant value as written (a string constant, an integer,
 * a bound parameter, a comment hint) into the bytes the tenant is looked up by, and
 * records it in a struct tenant_result. Used by tenant.c's statement scan.
 */
#ifndef PGROUTER_TENANTVAL_H
#define PGROUTER_TENANTVAL_H

#include "router/sql/sqllex.h"
#include "router/sql/tenant.h"

/*
 * Every function here records into r: a value goes to r->values (once, in order; a second
 * distinct one sets conflict), decoded bytes to r->buf (overflow set if it is full), and a
 * value that cannot be read sets r->unknown. Values point into the token's text, the
 * parameter or r->buf, so r must not be copied. None of them fails.
 */

/*
 * A SQLLEX_STRING token: its body, with '' and (for E'' strings, or any non-dollar string
 * when escape_strings is set) backslash escapes undone. U&'' strings set r->unknown.
 */
void tenantval_add_string(struct tenant_result *r, const struct sqllex_token *t,
                          int escape_strings, enum tenant_src src);

/*
 * A SQLLEX_NUMBER token, negated if negative: a plain decimal integer in canonical form
 * (no leading zeros, no "-0"). Anything else (1.5, 0x2A, 1e3) sets r->unknown.
 */
void tenantval_add_number(struct tenant_result *r, const struct sqllex_token *t, int negative,
                          enum tenant_src src);

/*
 * A SQLLEX_PARAM token $n: parameter n of pa (may be NULL), decoded as struct
 * tenant_params describes. Missing, NULL or undecodable parameters set r->unknown.
 */
void tenantval_add_param(struct tenant_result *r, const struct tenant_params *pa,
                         const struct sqllex_token *t);

/*
 * A comment hint's value at s[0..n), just after "tenant=": 'quoted' (sqlcommenter: \' and
 * %XX undone) or a bare word. The first becomes r->comment; a later one that differs sets
 * r->comment_conflict.
 */
void tenantval_add_hint(struct tenant_result *r, const char *s, size_t n);

#define TENANTVAL_MAX_PARAMS 64     /* Bind parameters looked at for a tenant */

/* The parameters of one Bind as tenant_extract takes them (p points into the arrays). */
struct tenantval_bind {
    struct tenant_params p;
    const char *values[TENANTVAL_MAX_PARAMS];
    int32_t lens[TENANTVAL_MAX_PARAMS];
    int16_t formats[TENANTVAL_MAX_PARAMS];
    uint32_t types[TENANTVAL_MAX_PARAMS];
};

/*
 * Read a Bind's parameters for the tenant scan. rest[0..n) is the Bind body after the
 * portal and statement names; parse[0..parse_len) the statement's Parse body after its
 * name (query, NUL, int16 count, type OIDs), whose query is parse[0..*sql_len). Only the
 * first TENANTVAL_MAX_PARAMS parameters and types are read; more types than that, or
 * fewer bytes than the count says, give no types. Values point into rest.
 * Returns 0, or -EPROTO when the format codes or a value run past rest (no parameters).
 */
int tenantval_bind(struct tenantval_bind *b, const uint8_t *parse, size_t parse_len,
                   const uint8_t *rest, size_t n, size_t *sql_len);

#endif
