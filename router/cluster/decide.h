/*
 * router/cluster/decide.h - the one routing decision for a statement: its tenant and cluster
 * (sharding), the node role (route.c's rules), and the rule that decided, or a refusal
 * with SQLSTATE and message. Pure: no I/O, no libuv, no clock. The proxy calls
 * decide_query for every simple Query (and decide_tenant for each Bind of the extended
 * protocol); `pgrouter --classify` prints what decide_query returns for a fresh session,
 * so the two cannot disagree.
 */
#ifndef PGROUTER_DECIDE_H
#define PGROUTER_DECIDE_H

#include <stddef.h>

#include "config/cfg.h"
#include "router/sql/classify.h"
#include "router/cluster/route.h"
#include "router/cluster/routing.h"
#include "router/cluster/shard.h"
#include "router/sql/tenant.h"

#define DECIDE_MSG_MAX 240

/* What the session knows when it routes a statement. */
struct decide_session {
    int in_tx;                  /* a server of this client is inside a transaction */
    int sticky;                 /* temp table, LISTEN, session lock...: primary for good */
    /* the read-your-writes window is open (the caller checks the clock) for ryw_cluster */
    int ryw;
    const struct cfg_cluster *ryw_cluster;
    enum route_role role;       /* pgrouter.role of the session (startup or SET) */
    const char *tenant;         /* pgrouter.tenant (SET or startup); NULL or "" for none */
    const struct cfg_cluster *tx_cluster;   /* the open transaction's cluster, or NULL */
    int escape_strings;         /* the server has standard_conforming_strings = off */
};

/* The sharding half: which cluster a statement's tenant lives on. */
struct decide_tenant {
    const struct cfg_cluster *cluster;  /* in the caller's cfg; NULL: sharding says nothing */
    const char *rule;           /* static: where the tenant came from, or why refused */
    char tenant[64];            /* the tenant (cut to 63 bytes), "" if none */
    int placed;                 /* 1: by a [tenants] entry; 0: by its bucket */
    int bucket;                 /* the tenant's hash bucket, -1 if none */
    const char *sqlstate;       /* refused: SQLSTATE and message; NULL otherwise */
    char message[DECIDE_MSG_MAX];
};

/* The whole decision for one simple Query. */
struct decide_route {
    struct classify_result cr;  /* pointers into the sql */
    struct decide_tenant tn;
    const struct cfg_cluster *cluster;  /* where it runs (with ROUTE_ERROR: for display) */
    struct route_decision d;    /* node role and reason; ROUTE_ERROR when refused */
    const char *rule;           /* static: the rule that decided */
    const char *sqlstate;       /* refused: SQLSTATE and message; NULL otherwise */
    char message[DECIDE_MSG_MAX];
};

/*
 * The tenant of sql[0..len) (all its statements) with bound parameters params (may be
 * NULL) for a session in state *ds, on cfg's sharding: map (NULL when sharding is off) is
 * the shard map, possibly built from a newer snapshot; clusters are looked up in cfg by
 * name. Sources in order: a tenant=... comment, the session's tenant (for statements on
 * sharded tables), the statement's own values. Refuses (sqlstate set) a statement on a
 * sharded table without a tenant, one whose values are on two clusters, one whose sources
 * disagree, and one that compares the tenant column in any way other than = (NOT, <>,
 * LIKE, IS DISTINCT FROM, NOT IN, ...) or with an OR when no comment or session names the
 * tenant: anything the analysis does not fully understand never picks a cluster.
 * Returns 0, or -ENOMEM (out then refuses with 53200).
 */
int decide_tenant(const struct cfg *cfg, const struct shard_map *map,
                  const struct decide_session *ds, const char *sql, size_t len,
                  const struct tenant_params *params, struct decide_tenant *out);

/*
 * The decision for the simple Query sql[0..len): classification with co (NULL: r's),
 * decide_tenant, the transaction's cluster (a statement for another cluster inside a
 * transaction is refused, 0A000), then route_decide for the node role. r carries the
 * shard map. Returns 0, or -ENOMEM (out then refuses with 53200).
 */
int decide_query(const struct cfg *cfg, const struct routing *r,
                 const struct classify_opts *co, const struct decide_session *ds,
                 const char *sql, size_t len, struct decide_route *out);

/* The message for a statement of cluster `unit` inside a transaction on cluster `tx`. */
void decide_tx_message(char *buf, size_t n, const struct cfg_cluster *unit,
                       const struct cfg_cluster *tx);

#endif
