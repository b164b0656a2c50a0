/*
 * router/cluster/nodes.h - what the worker knows about every server of every cluster: its circuit
 * breaker, its latest health check (reachable, role, WAL position, replay lag), its load
 * and latency; and per cluster, which node acts as the primary now and how reads are
 * balanced. Health checks run here; sessions read these tables to route.
 */
#ifndef PGROUTER_NODES_H
#define PGROUTER_NODES_H

#include <pthread.h>
#include <stdint.h>
#include <uv.h>

#include "config/cfg.h"
#include "router/cluster/breaker.h"
#include "router/cluster/health.h"
#include "router/cluster/lb.h"
#include "router/admin/stats.h"

#define NODES_MAX 64
#define NODES_MAX_CLUSTERS 32

struct node {
    int id;
    char name[280];                 /* "host:port" */
    char host[256];
    uint16_t port;
    char cluster[64];               /* its cluster's name */
    int configured_primary;         /* listed as primary = in the config */
    unsigned weight;
    struct breaker br;
    char last_failure[200];         /* why the breaker last heard of a failure, "" if never */
    struct health_node *hc;         /* NULL while checks are off */
    int have_health;
    struct health_result health;    /* the latest check */
    unsigned active;                /* units running on it, over every worker (atomic) */
    uint32_t latency_us;            /* moving average of unit and check round trips */
    int lagging;                    /* behind max_replica_lag(_bytes): no reads */
    int disabled;                   /* taken out of the read rotation by hand (the console's
                                     * DISABLE, admincmd.c); kept across reloads */
    int removed;                    /* not in the current snapshot (a reload dropped it): no
                                     * health checks, no reads; its pools close (pool.c) */
    int logged_lag;
    struct stats_node stats;        /* breaker transitions, health results, retries */
};

struct nodes_cluster {
    char name[64];
    int primary;                    /* node acting as the primary now */
    int configured;                 /* node configured as the primary */
    struct lb lb;
    int conflict_logged;
    int logged_no_replica;
    uint64_t primary_lsn;           /* the primary's WAL position at its latest check */
    uint64_t primary_lsn_ms;        /* when that check ended */
};

/*
 * One table for the process (struct shared). Health checks run on loop (worker 0's) only;
 * sessions of every worker route with it. lock guards the breakers, health results, roles
 * and balancer state: the functions below take it. Reading a single int field without it
 * (removed, disabled, active) is fine where a stale value only delays a decision.
 */
struct nodes {
    pthread_mutex_t lock;           /* zero bytes are a usable mutex (glibc), as tests use */
    uv_loop_t *loop;                /* worker 0's: health checks run there */
    const struct cfg *cfg;          /* the process's current snapshot (shared.cfg) */
    struct node n[NODES_MAX];
    int count;
    struct nodes_cluster cl[NODES_MAX_CLUSTERS];
    int n_cl;
    unsigned closing;
    void (*closed_cb)(struct nodes *ns);
    uint64_t rand_state;
};

/*
 * Make the tables match cfg (nodes are added, never deleted, so ids stay valid for
 * sessions of older snapshots; a node cfg lacks is marked removed and its health checks
 * stop), update breaker settings, and start or restart health checks. Returns 0 or
 * -ENOSPC (too many nodes).
 */
int nodes_sync(struct nodes *ns, uv_loop_t *loop, const struct cfg *cfg);

/* The node id of a configured node, or -1. */
int nodes_find(const struct nodes *ns, const struct cfg_node *node);

/* The cluster state of cl, or NULL. */
struct nodes_cluster *nodes_cluster(struct nodes *ns, const struct cfg_cluster *cl);

/* The node acting as cl's primary now (the configured one unless a promotion was seen). */
int nodes_primary(struct nodes *ns, const struct cfg_cluster *cl);

/*
 * A node of cl to read from: an eligible replica (breaker not open, in recovery as far as
 * checks know, not lagging, replayed up to min_lsn when non-zero), chosen by the
 * cluster's load_balance, the primary too when primary_reads = on. -1 if none.
 */
int nodes_pick_read(struct nodes *ns, const struct cfg_cluster *cl, uint64_t now_ms,
                    uint64_t min_lsn);

/* May a unit go to node id now? (Takes a half-open probe slot.) */
int nodes_allow(struct nodes *ns, int id, uint64_t now_ms);

/* A unit or connection on node id worked (latency_us > 0: fold into its average). */
void nodes_success(struct nodes *ns, int id, uint64_t now_ms, uint32_t latency_us);

/* A connection failure, a server lost, or a query_timeout on node id. */
void nodes_failure(struct nodes *ns, int id, uint64_t now_ms, const char *why);

/* A unit starts or ends on node id (its active count, which any worker changes). */
void nodes_unit_begin(struct nodes *ns, int id);
void nodes_unit_end(struct nodes *ns, int id);

/* Stop the health checks; cb(ns) once everything is closed. */
void nodes_close(struct nodes *ns, void (*cb)(struct nodes *ns));

#endif
