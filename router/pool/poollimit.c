/*
 * router/pool/poollimit.c - pool sizes and limits: default_pool_size, reserve_pool_size after
 * reserve_pool_timeout, max_db_connections across the pools of one database, and which idle
 * server to close when only max_db_connections is in the way. Pure reads of the pools.
 */
#include "router/pool/poollimit.h"

#include <string.h>

#include "router/pool/pool.h"
#include "router/worker.h"

unsigned poollimit_size(const struct pool *p)
{
    return budget_count(p->budget);     /* over every worker */
}

int poollimit_same_db(const struct pool *p, const struct pool *q)
{
    return q->port == p->port && strcmp(q->host, p->host) == 0 && strcmp(q->db, p->db) == 0;
}

/* Servers of every pool on the same node and database, over every worker
 * (max_db_connections). */
static unsigned poollimit_db_size(const struct pool *p)
{
    return budget_count(p->budget_db);
}

unsigned poollimit_limit(const struct pool *p, uint64_t now_ms)
{
    const struct cfg *cfg = p->w->cfg;
    unsigned limit = (unsigned)cfg->default_pool_size;

    /* The reserve opens only for a client that has waited reserve_pool_timeout. */
    if (cfg->reserve_pool_size > 0 && p->wait_head != NULL &&
        now_ms - p->wait_head->since_ms >= cfg->reserve_pool_timeout_ms)
        limit += (unsigned)cfg->reserve_pool_size;
    return limit;
}

int poollimit_may_open(const struct pool *p, uint64_t now_ms)
{
    const struct cfg *cfg = p->w->cfg;

    if (poollimit_size(p) >= poollimit_limit(p, now_ms))
        return 0;
    if (cfg->max_db_connections > 0 &&
        poollimit_db_size(p) >= (unsigned)cfg->max_db_connections)
        return 0;
    return 1;
}

/* Does another worker wait for a unit of p's budget? */
static int poollimit_wanted(const struct pool *p)
{
    return __atomic_load_n(&p->budget->wanted, __ATOMIC_RELAXED) ||
           __atomic_load_n(&p->budget_db->wanted, __ATOMIC_RELAXED);
}

int poollimit_surplus(const struct pool *p, uint64_t now_ms)
{
    if (p->w->nodes->n[p->node_id].removed)
        return 1;
    if (p->wait_head == NULL && poollimit_wanted(p))
        return 1;       /* a client of another worker waits for this server's unit */
    return p->wait_head == NULL && poollimit_size(p) > poollimit_limit(p, now_ms);
}

struct backend *poollimit_victim(const struct pool *p, uint64_t now_ms)
{
    struct backend *victim = NULL;

    if (poollimit_size(p) >= poollimit_limit(p, now_ms))
        return NULL;
    for (const struct pool *q = p->w->pools; q != NULL; q = q->next) {
        if (q == p || !poollimit_same_db(p, q))
            continue;
        /* The last of the longest idle, as the lists run (most recently used first). */
        for (struct backend *be = q->idle; be != NULL; be = be->pool_next)
            if (victim == NULL || be->idle_since_ms <= victim->idle_since_ms)
                victim = be;
    }
    return victim;
}
