/*
 * router/cluster/routing.h - the routing context a worker shares among its sessions: the
 * classifier's function sets (built-in and configured write functions, exemptions) and
 * the tenant shard map. Rebuilt from a config snapshot on start and reload.
 */
#ifndef PGROUTER_ROUTING_H
#define PGROUTER_ROUTING_H

#include "config/cfg.h"
#include "router/sql/classify.h"
#include "router/sql/funcset.h"
#include "router/cluster/shard.h"

struct routing {
    struct funcset writes;
    struct funcset exempt;
    struct classify_opts opts;
    struct shard_map shard;     /* points into the snapshot routing_load was given */
    int have_shard;
};

/* Build r from cfg (r zeroed by the caller the first time). 0 or -ENOMEM. */
int routing_load(struct routing *r, const struct cfg *cfg);

/* Free the function sets. */
void routing_close(struct routing *r);

#endif
