/*
 * router/pool/poolentry.h - where a pool keeps each of its servers: enum pool_entry
 * (backend.h, since struct backend holds it), moved only by poolentry_set_state.
 */
#ifndef PGROUTER_POOLENTRY_H
#define PGROUTER_POOLENTRY_H

#include "router/pool/backend.h"

struct pool;

/*
 * Move be (a server of p) to place to: updates p's n_connecting, n_idle, n_used, n_old,
 * its connecting list and idle list (most recently used first, idle_since_ms set), gives
 * the budget unit back on CLOSING, and logs at debug. Legal
 * moves: poolentry_ok; LENT -> LENT hands a server straight from one borrower to the next.
 */
void poolentry_set_state(struct pool *p, struct backend *be, enum pool_entry to);

/* May a server go from one place in its pool to another? 1 or 0. */
int poolentry_ok(enum pool_entry from, enum pool_entry to);

/* "idle", "lent", ... for logs. */
const char *poolentry_name(enum pool_entry st);

#endif
