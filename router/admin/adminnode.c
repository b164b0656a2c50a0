/*
 * router/admin/adminnode.c - admin console commands that show the routing layout and its live
 * state: SHOW CLUSTERS, SHOW NODES, SHOW BREAKERS, SHOW SHARDS, and EXPLAIN ROUTE <sql>
 * (with SET/RESET pgrouter.tenant and pgrouter.role, the admin session's own routing
 * state that EXPLAIN ROUTE uses). Everything is read from the worker (its current config
 * snapshot, node table, pools and shard map); nothing here changes what the proxy does.
 */
#include "router/admin/admin.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router/cluster/decide.h"
#include "router/sql/explain.h"
#include "router/cluster/lb.h"
#include "router/cluster/nodes.h"
#include "router/pool/pool.h"
#include "router/session/dispatch.h"
#include "router/session/session.h"

/* The longest bucket list SHOW CLUSTERS prints in one cell; SHOW SHARDS has them all. */
#define ADMINNODE_BUCKETS_TEXT 200

static const char *adminnode_primary_reads(int v)
{
    switch (v) {
    case CFG_PRIMARY_READS_OFF:
        return "off";
    case CFG_PRIMARY_READS_ON:
        return "on";
    case CFG_PRIMARY_READS_FALLBACK:
        return "fallback";
    }
    return "?";
}

/* A cluster's bucket ranges in file order, "0-511, 600", cut with "..." past the bound. */
static void adminnode_bucket_text(const struct cfg_cluster *cl, char *buf, size_t n)
{
    size_t used = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < cl->n_bucket_ranges; i++) {
        unsigned lo = cl->bucket_ranges[2 * i], hi = cl->bucket_ranges[2 * i + 1];
        char one[32];
        int w = lo == hi ? snprintf(one, sizeof(one), "%s%u", i ? ", " : "", lo)
                         : snprintf(one, sizeof(one), "%s%u-%u", i ? ", " : "", lo, hi);

        if (w < 0 || used + (size_t)w + 6 > n) {
            snprintf(buf + used, n - used, ", ...");
            return;
        }
        memcpy(buf + used, one, (size_t)w + 1);
        used += (size_t)w;
    }
}

static enum admin_rc adminnode_clusters(struct session *s, struct admin_reply *r,
                                        const char *args)
{
    static const struct admin_col cols[] = {
        { "cluster", ADMIN_TEXT }, { "primary", ADMIN_TEXT },
        { "current_primary", ADMIN_TEXT }, { "replicas", ADMIN_INT4 },
        { "load_balance", ADMIN_TEXT }, { "primary_reads", ADMIN_TEXT },
        { "buckets", ADMIN_TEXT }, { "tenants", ADMIN_INT4 }, { "default", ADMIN_TEXT },
    };
    const struct cfg *cfg = s->w->cfg;
    struct nodes *ns = s->w->nodes;

    if (admin_no_args(r, "SHOW CLUSTERS", args) < 0)
        return ADMIN_DONE;
    admin_columns(r, cols, (int)(sizeof(cols) / sizeof(cols[0])));
    for (size_t i = 0; i < cfg->n_clusters; i++) {
        const struct cfg_cluster *cl = &cfg->clusters[i];
        int acting = nodes_primary(ns, cl);
        char buckets[ADMINNODE_BUCKETS_TEXT];
        long long tenants = 0;

        for (size_t t = 0; t < cfg->n_tenants; t++)
            tenants += cfg->tenants[t].cluster == cl;
        adminnode_bucket_text(cl, buckets, sizeof(buckets));
        admin_cell_text(r, cl->name);
        admin_cell_text(r, cl->primary.name);
        admin_cell_text(r, acting >= 0 ? ns->n[acting].name : cl->primary.name);
        admin_cell_int(r, (long long)cl->n_replicas);
        admin_cell_text(r, lb_strategy_name((enum lb_strategy)cl->load_balance));
        admin_cell_text(r, adminnode_primary_reads(cl->primary_reads));
        admin_cell_text(r, cl->n_bucket_ranges > 0 ? buckets : NULL);
        admin_cell_int(r, tenants);
        admin_cell_text(r, cl == cfg->default_cluster ? "yes" : "no");
        admin_row_end(r);
    }
    admin_done(r, "SHOW");
    return ADMIN_DONE;
}

/*
 * What the health checks say of n: "ok", "failed", "unknown" (no answer yet, or the
 * check's own login fails) or "off" (no health checks configured).
 */
static const char *adminnode_health(const struct node *n)
{
    if (n->have_health)
        return n->health.ok ? "ok" : "failed";
    if (n->hc == NULL && n->health.checked_at_ms == 0)
        return "off";
    return "unknown";
}

/* The role the latest health check saw, or NULL when no check has answered. */
static const char *adminnode_detected(const struct node *n)
{
    if (!n->have_health || !n->health.ok)
        return NULL;
    return n->health.in_recovery ? "replica" : "primary";
}

/*
 * Why node id is out of the rotation of its role now (NULL: in it). Mirrors nodes.c: the
 * acting primary takes writes unless its breaker is open; a replica takes reads when its
 * breaker lets a unit through, it is not lagging or disabled, and it is in recovery.
 */
static const char *adminnode_out_reason(const struct nodes *ns, int id, int acting,
                                        uint64_t now)
{
    const struct node *n = &ns->n[id];
    enum breaker_state st = breaker_state(&n->br, now);

    if (st == BREAKER_OPEN)
        return "breaker open";
    if (st == BREAKER_HALF_OPEN && n->br.state == BREAKER_HALF_OPEN &&
        n->br.probes >= n->br.p.half_open_probes)
        return "breaker half-open, probes busy";
    if (id == acting)
        return NULL;
    if (n->disabled)
        return "disabled";
    if (n->lagging)
        return "lagging";
    if (n->have_health && n->health.ok && !n->health.in_recovery)
        return "not in recovery";
    return NULL;
}

/* Sums of the pools of one node (every database and user). */
struct adminnode_pools {
    long long used, idle, login, waiting;
};

static void adminnode_pool_sums(const struct worker *w, int id, struct adminnode_pools *out)
{
    memset(out, 0, sizeof(*out));
    for (const struct pool *p = w->pools; p != NULL; p = p->next) {
        if (p->node_id != id)
            continue;
        out->used += p->n_used;
        out->idle += p->n_idle;
        out->login += p->n_connecting;
        out->waiting += p->n_waiting;
    }
}

/* One SHOW NODES row for node id of cluster cl. */
static void adminnode_node_row(struct session *s, struct admin_reply *r,
                               const struct cfg_cluster *cl, int id, uint64_t now)
{
    struct nodes *ns = s->w->nodes;
    const struct node *n = &ns->n[id];
    struct nodes_cluster *c = nodes_cluster(ns, cl);
    int acting = c != NULL ? c->primary : -1;
    enum breaker_state st = breaker_state(&n->br, now);
    const char *out = adminnode_out_reason(ns, id, acting, now);
    int replica_check = n->have_health && n->health.ok && n->health.in_recovery;
    struct adminnode_pools ps;

    adminnode_pool_sums(s->w, id, &ps);
    admin_cell_text(r, cl->name);
    admin_cell_text(r, n->name);
    admin_cell_text(r, id == acting ? "primary" : "replica");
    admin_cell_text(r, n->configured_primary ? "primary" : "replica");
    admin_cell_text(r, adminnode_detected(n));
    admin_cell_text(r, breaker_state_name(st));
    if (st == BREAKER_CLOSED)
        admin_cell_text(r, NULL);
    else
        admin_cell_int(r, st == BREAKER_OPEN ? (long long)(breaker_retry_at(&n->br) - now) : 0);
    admin_cell_text(r, adminnode_health(n));
    if (n->health.checked_at_ms > 0 && n->health.checked_at_ms <= now)
        admin_cell_int(r, (long long)(now - n->health.checked_at_ms));
    else
        admin_cell_text(r, NULL);
    /* lag: the replica's replayed WAL behind the primary's at the primary's latest check */
    if (replica_check && c != NULL && c->primary_lsn_ms > 0)
        admin_cell_int(r, c->primary_lsn > n->health.lsn
                       ? (long long)(c->primary_lsn - n->health.lsn) : 0);
    else
        admin_cell_text(r, NULL);
    if (replica_check && n->health.replay_lag_ms >= 0)
        admin_cell_int(r, (long long)n->health.replay_lag_ms);
    else
        admin_cell_text(r, NULL);
    if (n->latency_us > 0)
        admin_cell_int(r, (long long)n->latency_us);
    else
        admin_cell_text(r, NULL);
    admin_cell_int(r, (long long)n->weight);
    admin_cell_text(r, out == NULL ? "yes" : "no");
    admin_cell_text(r, out);
    admin_cell_int(r, (long long)n->active);
    admin_cell_int(r, ps.used);
    admin_cell_int(r, ps.idle);
    admin_cell_int(r, ps.login);
    admin_cell_int(r, ps.waiting);
    admin_cell_text(r, n->health.error[0] != '\0' && !n->health.ok ? n->health.error : NULL);
    admin_row_end(r);
}

static enum admin_rc adminnode_nodes(struct session *s, struct admin_reply *r,
                                     const char *args)
{
    static const struct admin_col cols[] = {
        { "cluster", ADMIN_TEXT }, { "node", ADMIN_TEXT }, { "role", ADMIN_TEXT },
        { "configured_role", ADMIN_TEXT }, { "detected_role", ADMIN_TEXT },
        { "breaker", ADMIN_TEXT }, { "next_probe_ms", ADMIN_INT8 },
        { "health", ADMIN_TEXT }, { "checked_ms_ago", ADMIN_INT8 },
        { "lag_bytes", ADMIN_INT8 }, { "lag_ms", ADMIN_INT8 },
        { "latency_us", ADMIN_INT8 }, { "weight", ADMIN_INT4 },
        { "in_rotation", ADMIN_TEXT }, { "out_reason", ADMIN_TEXT },
        { "units", ADMIN_INT4 }, { "sv_active", ADMIN_INT4 }, { "sv_idle", ADMIN_INT4 },
        { "sv_login", ADMIN_INT4 }, { "cl_waiting", ADMIN_INT4 },
        { "health_error", ADMIN_TEXT },
    };
    const struct cfg *cfg = s->w->cfg;
    uint64_t now = session_now(s);

    if (admin_no_args(r, "SHOW NODES", args) < 0)
        return ADMIN_DONE;
    admin_columns(r, cols, (int)(sizeof(cols) / sizeof(cols[0])));
    for (size_t i = 0; i < cfg->n_clusters; i++) {
        const struct cfg_cluster *cl = &cfg->clusters[i];

        for (size_t k = 0; k <= cl->n_replicas; k++) {
            int id = nodes_find(s->w->nodes, k == 0 ? &cl->primary : &cl->replicas[k - 1]);

            if (id >= 0)
                adminnode_node_row(s, r, cl, id, now);
        }
    }
    admin_done(r, "SHOW");
    return ADMIN_DONE;
}

/* One SHOW BREAKERS row for node id of cluster cl. */
static void adminnode_breaker_row(struct admin_reply *r, const struct node *n,
                                  const struct cfg_cluster *cl, uint64_t now)
{
    const struct breaker *b = &n->br;
    enum breaker_state st = breaker_state(b, now);

    admin_cell_text(r, n->name);
    admin_cell_text(r, cl->name);
    admin_cell_text(r, breaker_state_name(st));
    admin_cell_int(r, (long long)b->failures);
    admin_cell_int(r, (long long)b->p.failure_threshold);
    admin_cell_int(r, (long long)b->timeout_ms);
    admin_cell_int(r, (long long)b->p.max_open_timeout_ms);
    /*
     * Open (or its time up, not yet probed): the period began timeout_ms before
     * open_until_ms; a failed health check pushes both forward, so this counts from the
     * latest failure that kept it open.
     */
    if (b->state == BREAKER_OPEN && b->open_until_ms >= b->timeout_ms &&
        b->open_until_ms - b->timeout_ms <= now)
        admin_cell_int(r, (long long)(now - (b->open_until_ms - b->timeout_ms)));
    else
        admin_cell_text(r, NULL);
    if (st == BREAKER_OPEN)
        admin_cell_int(r, (long long)(breaker_retry_at(b) - now));
    else if (st == BREAKER_HALF_OPEN)
        admin_cell_int(r, 0);
    else
        admin_cell_text(r, NULL);
    admin_cell_int(r, b->state == BREAKER_HALF_OPEN ? (long long)b->probes : 0);
    admin_cell_int(r, (long long)b->p.half_open_probes);
    admin_cell_int(r, (long long)b->transitions);
    admin_cell_int(r, (long long)n->stats.breaker_opened);
    admin_cell_int(r, (long long)n->stats.breaker_half_opened);
    admin_cell_int(r, (long long)n->stats.breaker_closed);
    admin_cell_int(r, (long long)n->stats.breaker_reopened);
    admin_row_end(r);
}

static enum admin_rc adminnode_breakers(struct session *s, struct admin_reply *r,
                                        const char *args)
{
    static const struct admin_col cols[] = {
        { "node", ADMIN_TEXT }, { "cluster", ADMIN_TEXT }, { "state", ADMIN_TEXT },
        { "failures", ADMIN_INT4 }, { "threshold", ADMIN_INT4 },
        { "open_timeout_ms", ADMIN_INT8 }, { "max_open_timeout_ms", ADMIN_INT8 },
        { "opened_ms_ago", ADMIN_INT8 }, { "next_probe_ms", ADMIN_INT8 },
        { "probes", ADMIN_INT4 }, { "max_probes", ADMIN_INT4 },
        { "transitions", ADMIN_INT8 }, { "opened", ADMIN_INT8 },
        { "half_opened", ADMIN_INT8 }, { "closed", ADMIN_INT8 }, { "reopened", ADMIN_INT8 },
    };
    const struct cfg *cfg = s->w->cfg;
    struct nodes *ns = s->w->nodes;
    uint64_t now = session_now(s);

    if (admin_no_args(r, "SHOW BREAKERS", args) < 0)
        return ADMIN_DONE;
    admin_columns(r, cols, (int)(sizeof(cols) / sizeof(cols[0])));
    for (size_t i = 0; i < cfg->n_clusters; i++) {
        const struct cfg_cluster *cl = &cfg->clusters[i];

        for (size_t k = 0; k <= cl->n_replicas; k++) {
            int id = nodes_find(ns, k == 0 ? &cl->primary : &cl->replicas[k - 1]);

            if (id >= 0)
                adminnode_breaker_row(r, &ns->n[id], cl, now);
        }
    }
    admin_done(r, "SHOW");
    return ADMIN_DONE;
}

static enum admin_rc adminnode_shards(struct session *s, struct admin_reply *r,
                                      const char *args)
{
    static const struct admin_col cols[] = {
        { "kind", ADMIN_TEXT }, { "cluster", ADMIN_TEXT }, { "first_bucket", ADMIN_INT4 },
        { "last_bucket", ADMIN_INT4 }, { "n_buckets", ADMIN_INT4 }, { "tenant", ADMIN_TEXT },
        { "bucket", ADMIN_INT4 }, { "hash_cluster", ADMIN_TEXT },
    };
    const struct routing *rt = &s->w->routing;
    const struct shard_map *m = &rt->shard;
    unsigned nb;

    if (admin_no_args(r, "SHOW SHARDS", args) < 0)
        return ADMIN_DONE;
    admin_columns(r, cols, (int)(sizeof(cols) / sizeof(cols[0])));
    if (!s->w->cfg->sharding.enabled || !rt->have_shard) {
        admin_done(r, "SHOW");
        return ADMIN_DONE;
    }
    nb = m->owner != NULL ? m->n_buckets : 0;
    /* One row per run of buckets with one owner, from the map sessions route with. */
    for (unsigned lo = 0; lo < nb;) {
        unsigned hi = lo;

        while (hi + 1 < nb && m->owner[hi + 1] == m->owner[lo])
            hi++;
        admin_cell_text(r, "buckets");
        admin_cell_text(r, m->owner[lo] != NULL ? m->owner[lo]->name : NULL);
        admin_cell_int(r, lo);
        admin_cell_int(r, hi);
        admin_cell_int(r, nb);
        admin_cell_text(r, NULL);
        admin_cell_text(r, NULL);
        admin_cell_text(r, NULL);
        admin_row_end(r);
        lo = hi + 1;
    }
    for (size_t i = 0; i < m->n_tenants; i++) {
        const struct cfg_tenant *t = m->tenants[i];
        int b = nb > 0 ? shard_bucket(t->name, strlen(t->name), nb) : -1;

        admin_cell_text(r, "tenant");
        admin_cell_text(r, t->cluster->name);
        admin_cell_text(r, NULL);
        admin_cell_text(r, NULL);
        admin_cell_int(r, nb);
        admin_cell_text(r, t->name);
        if (b >= 0) {
            admin_cell_int(r, b);
            admin_cell_text(r, m->owner[b] != NULL ? m->owner[b]->name : NULL);
        } else {
            admin_cell_text(r, NULL);
            admin_cell_text(r, NULL);
        }
        admin_row_end(r);
    }
    admin_done(r, "SHOW");
    return ADMIN_DONE;
}

/*
 * The admin session's routing state for EXPLAIN ROUTE: what dispatch would use for this
 * session (its pgrouter.tenant and pgrouter.role, from its startup options or the SET
 * below), with the clusters it names looked up in the worker's current snapshot.
 */
static void adminnode_state(struct session *s, struct decide_session *ds)
{
    const struct cfg *cfg = s->w->cfg;

    dispatch_decide_state(s, ds);
    if (ds->ryw_cluster != NULL)
        ds->ryw_cluster = cfg_find_cluster(cfg, ds->ryw_cluster->name);
    if (ds->tx_cluster != NULL)
        ds->tx_cluster = cfg_find_cluster(cfg, ds->tx_cluster->name);
    if (ds->ryw_cluster == NULL)
        ds->ryw = 0;
}

static enum admin_rc adminnode_explain(struct session *s, struct admin_reply *r,
                                       const char *args)
{
    static const struct admin_col cols[] = {
        { "route", ADMIN_TEXT }, { "cluster", ADMIN_TEXT }, { "node", ADMIN_TEXT },
        { "rule", ADMIN_TEXT }, { "tenant", ADMIN_TEXT }, { "tenant_rule", ADMIN_TEXT },
        { "bucket", ADMIN_INT4 }, { "sqlstate", ADMIN_TEXT }, { "message", ADMIN_TEXT },
        { "classify", ADMIN_TEXT },
    };
    const struct cfg *cfg = s->w->cfg;
    struct decide_session ds;
    struct decide_route *dr;
    char line[EXPLAIN_LINE_MAX];

    if (args[0] == '\0') {
        admin_error(r, "42601", "pgrouter: EXPLAIN ROUTE needs a statement, as in "
                    "EXPLAIN ROUTE SELECT * FROM accounts WHERE tenant_id = 'acme'");
        return ADMIN_DONE;
    }
    dr = malloc(sizeof(*dr));
    if (dr == NULL) {
        admin_error(r, "53200", "out of memory");
        return ADMIN_DONE;
    }
    adminnode_state(s, &ds);
    /* the call explain_route_in makes for --classify, so the line below is its line */
    decide_query(cfg, &s->w->routing, NULL, &ds, args, strlen(args), dr);
    explain_format(dr, line, sizeof(line));
    admin_columns(r, cols, (int)(sizeof(cols) / sizeof(cols[0])));
    admin_cell_text(r, dr->cr.write ? "write" : "read");
    admin_cell_text(r, dr->tn.sqlstate != NULL ? NULL : dr->cluster->name);
    admin_cell_text(r, dr->sqlstate != NULL ? NULL : explain_node(dr));
    admin_cell_text(r, dr->rule);
    admin_cell_text(r, dr->tn.tenant[0] != '\0' ? dr->tn.tenant : NULL);
    admin_cell_text(r, dr->tn.cluster != NULL || dr->tn.sqlstate != NULL ? dr->tn.rule : NULL);
    if (dr->tn.bucket >= 0 && dr->tn.cluster != NULL && !dr->tn.placed)
        admin_cell_int(r, dr->tn.bucket);
    else
        admin_cell_text(r, NULL);
    admin_cell_text(r, dr->sqlstate);
    admin_cell_text(r, dr->sqlstate != NULL ? dr->message : NULL);
    admin_cell_text(r, line);
    admin_row_end(r);
    admin_done(r, "EXPLAIN");
    free(dr);
    return ADMIN_DONE;
}

/* Keep a SET pgrouter.tenant value as frontend.c keeps a client's: '' undone, folded. */
static void adminnode_keep_tenant(struct session *s, const struct classify_result *cr)
{
    size_t k = 0;

    for (size_t i = 0; cr->tenant != NULL && i < cr->tenant_len && k + 1 < sizeof(s->tenant);
         i++) {
        char c = cr->tenant[i];

        if ((cr->flags & CLASSIFY_F_TENANT_ESCAPED) && c == '\'' && i + 1 < cr->tenant_len &&
            cr->tenant[i + 1] == '\'')
            i++;
        if ((cr->flags & CLASSIFY_F_TENANT_FOLD) && c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        s->tenant[k++] = c;
    }
    s->tenant[k] = '\0';
}

/*
 * SET/RESET pgrouter.tenant and pgrouter.role in the admin console: the admin session's
 * own routing state, which EXPLAIN ROUTE uses (the console has no server to send SET to).
 * The statement is read by the classifier, as the proxy reads a client's SET.
 */
static enum admin_rc adminnode_set_cmd(struct session *s, struct admin_reply *r,
                                       const char *verb, const char *args)
{
    char sql[256];
    struct classify_result cr;
    int n = snprintf(sql, sizeof(sql), "%s %s", verb, args);

    if (n < 0 || (size_t)n >= sizeof(sql)) {
        admin_error(r, "22023", "pgrouter: %s: value too long", verb);
        return ADMIN_DONE;
    }
    classify_sql(&s->w->routing.opts, sql, (size_t)n, &cr);
    if (cr.n_statements != 1 || !(cr.flags & (CLASSIFY_F_SET_ROLE | CLASSIFY_F_SET_TENANT))) {
        admin_error(r, "42704", "pgrouter: the admin console takes only SET/RESET "
                    "pgrouter.tenant and pgrouter.role (for EXPLAIN ROUTE), not \"%.60s\"",
                    sql);
        return ADMIN_DONE;
    }
    if ((cr.flags & CLASSIFY_F_SET_ROLE) && cr.set_role == CLASSIFY_ROLE_NONE) {
        admin_error(r, "22023", "invalid value for parameter \"pgrouter.role\": use "
                    "primary, replica or auto");
        return ADMIN_DONE;
    }
    if (cr.flags & CLASSIFY_F_SET_ROLE)
        s->role = cr.set_role == CLASSIFY_ROLE_PRIMARY ? ROUTE_ROLE_PRIMARY
                  : cr.set_role == CLASSIFY_ROLE_REPLICA ? ROUTE_ROLE_REPLICA
                  : ROUTE_ROLE_AUTO;
    if (cr.flags & CLASSIFY_F_SET_TENANT)
        adminnode_keep_tenant(s, &cr);
    admin_done(r, verb);
    return ADMIN_DONE;
}

static enum admin_rc adminnode_set(struct session *s, struct admin_reply *r, const char *args)
{
    return adminnode_set_cmd(s, r, "SET", args);
}

static enum admin_rc adminnode_reset(struct session *s, struct admin_reply *r,
                                     const char *args)
{
    return adminnode_set_cmd(s, r, "RESET", args);
}

const struct admin_cmd adminnode_cmds[] = {
    { "SHOW CLUSTERS", 1, adminnode_clusters,
      "clusters: primary (configured and acting), replicas, balancing, buckets, tenants" },
    { "SHOW NODES", 1, adminnode_nodes,
      "nodes: role, breaker, health, lag, latency, weight, rotation, pool counts" },
    { "SHOW BREAKERS", 1, adminnode_breakers,
      "circuit breakers: state, failures, open timeout, next probe, transitions" },
    { "SHOW SHARDS", 1, adminnode_shards, "bucket ranges per cluster and [tenants] placements" },
    { "EXPLAIN ROUTE", 1, adminnode_explain,
      "EXPLAIN ROUTE <sql>: where <sql> would go and why (the --classify line)" },
    { "SET", 1, adminnode_set, "SET pgrouter.tenant / pgrouter.role for EXPLAIN ROUTE" },
    { "RESET", 1, adminnode_reset, "RESET pgrouter.tenant / pgrouter.role" },
    { NULL, 0, NULL, NULL },
};
