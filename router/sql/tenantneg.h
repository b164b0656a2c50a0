/*
 * router/sql/tenantneg.h - what surrounds a comparison of the tenant column, for tenant.c's
 * scan: a NOT that applies to it (not one outside the innermost subquery), a CASE that
 * hides what it selects, parentheses around it whose value is compared again
 * ((tenant_id = 'a') = false), whether the statement is a query at all (DDL's CHECK
 * and index predicates select no rows), and which query levels (statement, subqueries,
 * UNION branches) name a sharded table without comparing its tenant column with =.
 * Pure bookkeeping over sqllex cursor positions.
 */
#ifndef PGROUTER_TENANTNEG_H
#define PGROUTER_TENANTNEG_H

#include <stdint.h>

#include "router/sql/sqllex.h"

struct tenantneg {
    int dml;                    /* SELECT, INSERT, UPDATE, DELETE or MERGE seen (not DDL) */
    uint64_t neg_at;            /* bit d: a NOT at depth d, until its AND/OR/THEN/',' */
    uint64_t sub_at;            /* bit d: the parentheses at depth d hold a subquery */
    uint64_t val_at;            /* bit d: the tenant column is compared at depth d */
    int paren_value;            /* the token before is a ')' closing such a comparison */
    unsigned in_case;           /* CASE ... END open */
    uint64_t lvl_at;            /* bit d: a query (SELECT, UPDATE, DELETE) starts at depth d */
    uint64_t tab_at;            /* bit d: the query level at depth d names a sharded table */
    uint64_t eq_at;             /* bit d: ... and compares the tenant column with = */
    uint64_t func_at;           /* bit d: the parentheses at depth d are a call's f(...) */
    char clause[64];            /* clause open at depth d: TENANTNEG_WHERE, _SET or 0 */
};

#define TENANTNEG_WHERE 'W'     /* WHERE, ON, HAVING: a comparison here selects rows */
#define TENANTNEG_SET 'S'       /* UPDATE's SET: a value written, selecting nothing */

#define TENANTNEG_BROAD 1       /* tenantneg_track: a comparison compared again */
#define TENANTNEG_UNBOUNDED 2   /* ... a query level closed without bounding its table */

/* Forget everything: a new statement starts. */
void tenantneg_reset(struct tenantneg *n);

/*
 * Account for the cursor's current token; call it once for every token the scan's main
 * loop looks at, in order. Returns TENANTNEG_BROAD if the token compares a parenthesised
 * comparison of the tenant column again (then the statement selects "not this tenant" or
 * worse), TENANTNEG_UNBOUNDED if it closes a query level that names a sharded table and
 * never compares the tenant column with =, or both, or 0.
 */
int tenantneg_track(struct tenantneg *n, const struct sqllex_cursor *cu);

/*
 * 1 if a NOT applies at depth d: one opened at d or an enclosing depth, but not outside
 * the innermost subquery (NOT EXISTS (SELECT ...) negates the subquery's result, not the
 * comparisons inside it). Deeper than 62 parentheses counts as negated.
 */
int tenantneg_negated(const struct tenantneg *n, int d);

/* The tenant column is compared with = (or IN, IS NOT DISTINCT FROM) at depth d. */
void tenantneg_compared(struct tenantneg *n, int d);

/*
 * The clause a comparison at depth d is in: TENANTNEG_WHERE (WHERE, JOIN ... ON, HAVING of
 * its own query level, not inside a function call's parentheses), TENANTNEG_SET, or 0
 * (select list, ORDER BY, f(...), FILTER (...): it selects no rows).
 */
int tenantneg_clause(const struct tenantneg *n, int d);

/* A sharded table is named at depth d (not as an INSERT's target). */
void tenantneg_table(struct tenantneg *n, int d);

/* The statement ends: 1 if a level still open names a sharded table it never bounds. */
int tenantneg_finish(const struct tenantneg *n);

/* An operator that compares other than by equality: <> != < > <= >= ~ ~~ @> && ... */
int tenantneg_is_cmp_op(const struct sqllex_token *t);

/* A word after a column that compares it with more than one value: NOT, LIKE, BETWEEN... */
int tenantneg_is_broad_word(const struct sqllex_token *t);

#endif
