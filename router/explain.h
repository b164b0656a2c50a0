/*
 * router/explain.h - describing where a statement would be routed and why, for
 * `pgrouter --classify` (and later the admin console's EXPLAIN ROUTE).
 */
#ifndef PGROUTER_EXPLAIN_H
#define PGROUTER_EXPLAIN_H

#include <stddef.h>
#include <stdio.h>

#include "config/cfg.h"
#include "router/routing.h"

/*
 * Write one line for sql[0..len) to buf: "read CLUSTER replica", "read CLUSTER primary
 * (why)", "write CLUSTER primary (why)", as a client in autocommit with no session state
 * would be routed. Returns the length written (truncated to n - 1).
 */
size_t explain_route(const struct routing *r, const struct cfg *cfg, const char *sql,
                     size_t len, char *buf, size_t n);

/* Read statements from in, one per line, and print explain_route for each. Returns 0. */
int explain_stream(const struct routing *r, const struct cfg *cfg, FILE *in, FILE *out);

#endif
