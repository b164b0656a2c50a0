/*
 * router/pool/poollimit.h - how many servers a pool may have open: default_pool_size, the
 * reserve_pool_size a client gets after reserve_pool_timeout, and max_db_connections over
 * every pool of one database. poollimit_may_open is the one place that answers "may this
 * pool open another server". Reads pools, changes nothing.
 */
#ifndef PGROUTER_POOLLIMIT_H
#define PGROUTER_POOLLIMIT_H

#include <stdint.h>

struct backend;
struct pool;

/* Servers of p's (node, db, user) that count against its size (idle, lent, connecting),
 * over every worker (the shared budget, shared.h). */
unsigned poollimit_size(const struct pool *p);

/* default_pool_size, plus the reserve once the first waiter waited reserve_pool_timeout. */
unsigned poollimit_limit(const struct pool *p, uint64_t now_ms);

/* p and q reach the same database on the same node (max_db_connections counts them together). */
int poollimit_same_db(const struct pool *p, const struct pool *q);

/* May p open one more server now (its own limit and max_db_connections)? 1 or 0. */
int poollimit_may_open(const struct pool *p, uint64_t now_ms);

/*
 * A server given back to p now closes instead of going idle: its node was removed by a
 * reload, another worker waits for its budget unit, or a reload lowered default_pool_size
 * below what is open and nobody waits.
 */
int poollimit_surplus(const struct pool *p, uint64_t now_ms);

/*
 * Only max_db_connections keeps p from opening: the idle server of another pool on the same
 * database that has been idle longest, to close for p. NULL when p's own limit is reached
 * or there is no such server.
 */
struct backend *poollimit_victim(const struct pool *p, uint64_t now_ms);

#endif
