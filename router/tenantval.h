/*
 * router/tenantval.h - turns one tenant value as written (a string constant, an integer,
 * a bound parameter, a comment hint) into the bytes the tenant is looked up by, and
 * records it in a struct tenant_result. Used by tenant.c's statement scan.
 */
#ifndef PGROUTER_TENANTVAL_H
#define PGROUTER_TENANTVAL_H

#include "router/sqllex.h"
#include "router/tenant.h"

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

#endif
