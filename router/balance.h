/*
 * router/balance.h - choosing a replica for a read: round robin over the replicas of a
 * cluster that are not marked down, shared by every client of a worker. Marks come from
 * failed connections and lost servers; the circuit breakers of a later stage replace them.
 */
#ifndef PGROUTER_BALANCE_H
#define PGROUTER_BALANCE_H

#include <stdint.h>

#include "config/cfg.h"

#define BALANCE_MAX_NODES 64

struct balance_node {
    char name[280];             /* cfg_node.name */
    uint64_t down_until_ms;     /* skip the node until then */
    int logged_down;
};

struct balance {
    struct balance_node nodes[BALANCE_MAX_NODES];
    unsigned n_nodes;
    unsigned rr;                /* round-robin cursor */
    int logged_no_replica;
};

/*
 * Pick a replica of cl for a read: the next one in round-robin order that is not down.
 * Returns its index in cl->replicas, or -1 if the cluster has none or all are down
 * (the caller then reads from the primary, and this logs that once).
 */
int balance_pick_replica(struct balance *b, const struct cfg_cluster *cl, uint64_t now_ms);

/* Take node out of rotation for down_ms (e.g. after a failed connection). */
void balance_mark_down(struct balance *b, const struct cfg_node *node, uint64_t now_ms,
                       unsigned down_ms, const char *why);

/* Put node back (a connection to it succeeded). */
void balance_mark_up(struct balance *b, const struct cfg_node *node);

/* 1 if node is marked down at now_ms. */
int balance_is_down(struct balance *b, const struct cfg_node *node, uint64_t now_ms);

#endif
