/*
 * router/sql/explain.h - describing where a statement would be routed and why, for
 * `pgrouter --classify` and the admin console's EXPLAIN ROUTE (adminnode.c).
 */
#ifndef PGROUTER_EXPLAIN_H
#define PGROUTER_EXPLAIN_H

#include <stddef.h>
#include <stdio.h>

#include "config/cfg.h"
#include "router/cluster/routing.h"

/* A line of --classify (and EXPLAIN ROUTE's classify column) is at most this long - 1. */
#define EXPLAIN_LINE_MAX 512

struct decide_route;

/*
 * Write one line for sql[0..len) to buf, as a client in autocommit with no session state
 * would be routed (decide_query, as the proxy decides): "read CLUSTER replica (why)",
 * "write CLUSTER primary (why; tenant from the statement: acme, bucket 3)", or
 * "read ? refused (SQLSTATE 22023: the message the client would get)". Returns the length
 * written (truncated to n - 1).
 */
size_t explain_route(const struct routing *r, const struct cfg *cfg, const char *sql,
                     size_t len, char *buf, size_t n);

struct decide_session;

/* explain_route for a session in state *ds (explain_route: a fresh one). */
size_t explain_route_in(const struct routing *r, const struct cfg *cfg,
                        const struct decide_session *ds, const char *sql, size_t len,
                        char *buf, size_t n);

/*
 * The line explain_route_in writes, for a decision the caller made with decide_query:
 * EXPLAIN ROUTE shows the decision's fields next to this line, from one decide_query call.
 */
size_t explain_format(const struct decide_route *dr, char *buf, size_t n);

/*
 * The node a decision names: "primary", "replica" (or "primary" in a cluster without
 * replicas), "current server"; "primary" for a refusal.
 */
const char *explain_node(const struct decide_route *dr);

/* Read statements from in, one per line, and print explain_route for each. Returns 0. */
int explain_stream(const struct routing *r, const struct cfg *cfg, FILE *in, FILE *out);

#endif
