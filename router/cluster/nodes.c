/*
 * router/cluster/nodes.c - node and cluster tables: breakers fed by sessions and health checks,
 * the acting primary of each cluster (promotions followed, two primaries refused), replica
 * eligibility (breaker, role, lag, read-your-writes LSN) and load balancing.
 */
#include "router/cluster/nodes.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/userlist.h"
#include "router/core/log.h"
#include "router/pool/srvtls.h"

static void nodes_breaker_params(const struct cfg *cfg, struct breaker_params *p)
{
    p->failure_threshold = cfg->breaker.failure_threshold;
    p->open_timeout_ms = cfg->breaker.open_timeout_ms;
    p->max_open_timeout_ms = cfg->breaker.max_open_timeout_ms;
    p->half_open_probes = cfg->breaker.half_open_probes;
}

int nodes_find(const struct nodes *ns, const struct cfg_node *node)
{
    for (int i = 0; i < ns->count; i++)
        if (ns->n[i].port == node->port && strcmp(ns->n[i].host, node->host) == 0)
            return i;
    return -1;
}

struct nodes_cluster *nodes_cluster(struct nodes *ns, const struct cfg_cluster *cl)
{
    for (int i = 0; i < ns->n_cl; i++)
        if (strcmp(ns->cl[i].name, cl->name) == 0)
            return &ns->cl[i];
    return NULL;
}

static void nodes_log_breaker(struct node *n, uint64_t now_ms)
{
    enum breaker_state from;

    if (!breaker_changed(&n->br, &from))
        return;
    stats_breaker(&n->stats, (int)from, (int)n->br.state);
    if (n->br.state == BREAKER_OPEN)
        log_warn("node %s: circuit breaker %s -> open, retry in %llu ms", n->name,
                 breaker_state_name(from),
                 (unsigned long long)(breaker_retry_at(&n->br) - now_ms));
    else
        log_info("node %s: circuit breaker %s -> %s", n->name, breaker_state_name(from),
                 breaker_state_name(n->br.state));
}

static struct nodes_cluster *nodes_cluster_of(struct nodes *ns, const struct node *n)
{
    for (int i = 0; i < ns->n_cl; i++)
        if (strcmp(ns->cl[i].name, n->cluster) == 0)
            return &ns->cl[i];
    return NULL;
}

/* Decide which node of c acts as primary from the latest checks. */
static void nodes_update_primary(struct nodes *ns, struct nodes_cluster *c)
{
    int claim[NODES_MAX], n_claim = 0, cfg_claims = 0;

    for (int i = 0; i < ns->count; i++) {
        struct node *n = &ns->n[i];

        if (strcmp(n->cluster, c->name) != 0 || !n->have_health || !n->health.ok ||
            n->health.in_recovery)
            continue;
        claim[n_claim++] = i;
        if (i == c->configured)
            cfg_claims = 1;
    }
    if (n_claim > 1) {
        if (!c->conflict_logged) {
            log_error("cluster %s: %d nodes claim to be the primary (not in recovery); writes "
                      "stay on %s - fix the replication topology", c->name, n_claim,
                      ns->n[cfg_claims ? c->configured : c->primary].name);
            c->conflict_logged = 1;
        }
        if (cfg_claims)
            c->primary = c->configured;
        return;
    }
    c->conflict_logged = 0;
    if (n_claim == 1 && claim[0] != c->primary) {
        log_warn("cluster %s: %s is the primary now (was %s); writes go there", c->name,
                 ns->n[claim[0]].name, ns->n[c->primary].name);
        c->primary = claim[0];
    }
}

static void nodes_health_result(struct health_node *h, const struct health_result *r)
{
    struct nodes *ns = h->arg;
    struct node *n = NULL;
    const struct cfg *cfg = ns->cfg;
    struct nodes_cluster *c;
    uint64_t now = uv_now(ns->loop);

    for (int i = 0; i < ns->count; i++)
        if (ns->n[i].hc == h)
            n = &ns->n[i];
    if (n == NULL)
        return;
    if (r->ok)
        n->stats.health_ok++;
    else if (r->timed_out)
        n->stats.health_timeout++;
    else
        n->stats.health_failed++;
    c = nodes_cluster_of(ns, n);
    if (!r->ok && !r->node_down) {
        /*
         * The check's own login failed (health_user, its password or database): that says
         * nothing of the node, so its breaker and role stay as they are, unknown to checks.
         */
        if (n->have_health || n->health.ok || strcmp(n->health.error, r->error) != 0)
            log_warn("node %s: health check cannot log in: %s; fix %s: the node is not "
                     "marked down", n->name, r->error, strstr(r->error, "TLS: ") != NULL ?
                     "the server_tls_* keys (pgrouter's own TLS files)" :
                     "health_user (or its password, or health_database)");
        n->health = *r;
        n->have_health = 0;
        return;
    }
    n->health = *r;
    n->have_health = 1;
    if (!r->ok) {
        if (breaker_state(&n->br, now) != BREAKER_OPEN)
            log_warn("node %s: health check failed: %s", n->name, r->error);
        snprintf(n->last_failure, sizeof(n->last_failure), "health check: %.180s", r->error);
        breaker_force_open(&n->br, now);
        nodes_log_breaker(n, now);
    } else {
        if (breaker_state(&n->br, now) == BREAKER_CLOSED)
            breaker_success(&n->br, now);
        if (r->rtt_us > 0)
            lb_latency_update(&n->latency_us, r->rtt_us);
    }
    if (c == NULL)
        return;
    nodes_update_primary(ns, c);
    if (r->ok && !r->in_recovery && (int)(n - ns->n) == c->primary) {
        c->primary_lsn = r->lsn;
        c->primary_lsn_ms = now;
    }
    if (r->ok && r->in_recovery) {
        int lag = 0;

        if (cfg->health.max_lag_bytes > 0 && c->primary_lsn > r->lsn &&
            c->primary_lsn - r->lsn > cfg->health.max_lag_bytes)
            lag = 1;
        if (cfg->health.max_lag_ms > 0 && r->replay_lag_ms > (int64_t)cfg->health.max_lag_ms)
            lag = 1;
        if (lag != n->lagging)
            log_warn("node %s: %s", n->name, lag ? "replica lags beyond max_replica_lag, out "
                     "of the read rotation" : "replica caught up, back in the read rotation");
        n->lagging = lag;
    }
}

/* A check ended (on worker 0's loop): fold it into the table other workers read. */
static void nodes_health_done(struct health_node *h, const struct health_result *r)
{
    struct nodes *ns = h->arg;

    pthread_mutex_lock(&ns->lock);
    nodes_health_result(h, r);
    pthread_mutex_unlock(&ns->lock);
}

static void nodes_health_dropped(struct health_node *h)
{
    free(h);
}

/* Does the running check h connect with exactly these keys and timings? */
static int nodes_health_same(const struct health_node *h, const char *const *keys,
                             const char *const *vals, size_t k, const struct cfg *cfg)
{
    if (h->n_params != k || h->interval_ms != cfg->health.interval_ms ||
        h->timeout_ms != cfg->health.timeout_ms)
        return 0;
    for (size_t i = 0; i < k; i++)
        if (strcmp(h->keys[i], keys[i]) != 0 || strcmp(h->vals[i], vals[i]) != 0)
            return 0;
    return 1;
}

/*
 * Start n's health check, or restart it when a reload changed how it connects (its user,
 * password, database, timings or the server_tls_* keys): its connection is kept between
 * checks, so only a new one picks the change up.
 */
static void nodes_start_health(struct nodes *ns, struct node *n)
{
    const struct cfg *cfg = ns->cfg;
    const char *keys[6 + SRVTLS_MAX_PARAMS], *vals[6 + SRVTLS_MAX_PARAMS];
    size_t k = 0;

    if (cfg->health.interval_ms == 0 || cfg->health.user == NULL)
        return;
    keys[k] = "user";
    vals[k++] = cfg->health.user;
    keys[k] = "dbname";
    vals[k++] = cfg->health.database != NULL ? cfg->health.database : "postgres";
    if (cfg->health.password != NULL) {
        keys[k] = "password";
        vals[k++] = cfg->health.password;
    } else {
        const struct cfg_user *u = cfg_find_user(cfg, cfg->health.user);

        if (u != NULL && userlist_is_plain(u->secret)) {
            keys[k] = "password";
            vals[k++] = u->secret;
        }
    }
    keys[k] = "application_name";
    vals[k++] = "pgrouter health check";
    /* The checks see the node as the pools do: a TLS failure shows there too. */
    k = srvtls_params(cfg, keys, vals, k);
    keys[k] = NULL;
    vals[k] = NULL;
    if (n->hc != NULL) {
        if (nodes_health_same(n->hc, keys, vals, k, cfg))
            return;
        log_info("node %s: health check restarts with the reloaded settings", n->name);
        health_stop(n->hc, nodes_health_dropped);
        n->hc = NULL;
    }
    n->hc = calloc(1, sizeof(*n->hc));
    if (n->hc == NULL)
        return;
    if (health_start(n->hc, ns->loop, n->host, n->port, keys, vals, cfg->health.interval_ms,
                     cfg->health.timeout_ms, nodes_health_done, ns) < 0) {
        free(n->hc);
        n->hc = NULL;
    }
}

static int nodes_add(struct nodes *ns, const struct cfg_node *cn, const struct cfg_cluster *cl,
                     int primary)
{
    struct breaker_params bp;
    int id = nodes_find(ns, cn);
    struct node *n;

    if (id < 0) {
        if (ns->count == NODES_MAX)
            return -ENOSPC;
        id = ns->count++;
        n = &ns->n[id];
        memset(n, 0, sizeof(*n));
        n->id = id;
        snprintf(n->name, sizeof(n->name), "%s", cn->name);
        snprintf(n->host, sizeof(n->host), "%s", cn->host);
        n->port = cn->port;
        nodes_breaker_params(ns->cfg, &bp);
        breaker_init(&n->br, &bp);
    }
    n = &ns->n[id];
    n->removed = 0;
    snprintf(n->cluster, sizeof(n->cluster), "%s", cl->name);
    n->configured_primary = primary;
    n->weight = cn->weight > 0 ? (unsigned)cn->weight : 1;
    n->br.p.failure_threshold = ns->cfg->breaker.failure_threshold ?
                                ns->cfg->breaker.failure_threshold : 1;
    n->br.p.open_timeout_ms = ns->cfg->breaker.open_timeout_ms;
    n->br.p.max_open_timeout_ms = ns->cfg->breaker.max_open_timeout_ms;
    n->br.p.half_open_probes = ns->cfg->breaker.half_open_probes ?
                               ns->cfg->breaker.half_open_probes : 1;
    nodes_start_health(ns, n);
    return id;
}

static int nodes_sync_locked(struct nodes *ns, uv_loop_t *loop, const struct cfg *cfg)
{
    int was_removed[NODES_MAX];

    ns->loop = loop;
    ns->cfg = cfg;
    if (ns->rand_state == 0)
        ns->rand_state = uv_hrtime() | 1;
    for (int i = 0; i < ns->count; i++) {
        was_removed[i] = ns->n[i].removed;
        ns->n[i].removed = 1;   /* until nodes_add finds it in cfg */
    }
    for (size_t i = 0; i < cfg->n_clusters; i++) {
        const struct cfg_cluster *cl = &cfg->clusters[i];
        struct nodes_cluster *c = nodes_cluster(ns, cl);
        int pid = nodes_add(ns, &cl->primary, cl, 1);

        if (pid < 0)
            return pid;
        for (size_t r = 0; r < cl->n_replicas; r++)
            if (nodes_add(ns, &cl->replicas[r], cl, 0) < 0)
                return -ENOSPC;
        if (c == NULL) {
            if (ns->n_cl == NODES_MAX_CLUSTERS)
                return -ENOSPC;
            c = &ns->cl[ns->n_cl++];
            memset(c, 0, sizeof(*c));
            snprintf(c->name, sizeof(c->name), "%s", cl->name);
            lb_init(&c->lb);
            c->primary = pid;
        }
        if (c->configured != pid)
            c->primary = pid;
        c->configured = pid;
        lb_init(&c->lb);    /* the candidate list may have changed */
    }
    for (int i = 0; i < ns->count; i++) {
        struct node *n = &ns->n[i];

        if (!n->removed)
            continue;
        if (!was_removed[i])
            log_info("node %s: no longer in the configuration: no new reads go there, its "
                     "servers close as clients release them", n->name);
        /* Its last check must not count for its old cluster (acting primary, lag). */
        if (n->hc != NULL)
            health_stop(n->hc, nodes_health_dropped);
        n->hc = NULL;
        n->have_health = 0;
        n->lagging = 0;
    }
    return 0;
}

int nodes_primary(struct nodes *ns, const struct cfg_cluster *cl)
{
    struct nodes_cluster *c = nodes_cluster(ns, cl);

    return c != NULL ? c->primary : nodes_find(ns, &cl->primary);
}

static int nodes_eligible(struct nodes *ns, struct node *n, uint64_t now_ms, uint64_t min_lsn)
{
    enum breaker_state st = breaker_state(&n->br, now_ms);

    if (st == BREAKER_OPEN)
        return 0;
    if (st == BREAKER_HALF_OPEN && n->br.probes >= n->br.p.half_open_probes)
        return 0;
    if (n->lagging || n->disabled || n->removed)
        return 0;
    (void)ns;
    if (min_lsn > 0 && (!n->have_health || n->health.lsn < min_lsn))
        return 0;
    return 1;
}

static int nodes_pick_read_locked(struct nodes *ns, const struct cfg_cluster *cl,
                                  uint64_t now_ms, uint64_t min_lsn)
{
    struct nodes_cluster *c = nodes_cluster(ns, cl);
    struct lb_candidate cand[LB_MAX_CANDIDATES];
    int ids[LB_MAX_CANDIDATES];
    size_t n = 0;
    int pick, any = 0;

    if (c == NULL)
        return -1;
    for (size_t r = 0; r <= cl->n_replicas && n < LB_MAX_CANDIDATES; r++) {
        const struct cfg_node *cn = r < cl->n_replicas ? &cl->replicas[r] : &cl->primary;
        int id = nodes_find(ns, cn);
        struct node *nd;

        if (id < 0)
            continue;
        nd = &ns->n[id];
        ids[n] = id;
        memset(&cand[n], 0, sizeof(cand[n]));
        cand[n].weight = nd->weight;
        cand[n].active = __atomic_load_n(&nd->active, __ATOMIC_RELAXED);
        cand[n].latency_us = nd->latency_us;
        if (id == c->primary) {
            /* The acting primary reads only with primary_reads = on. */
            cand[n].eligible = cl->primary_reads == CFG_PRIMARY_READS_ON &&
                               nodes_eligible(ns, nd, now_ms, 0);
        } else {
            cand[n].eligible = nodes_eligible(ns, nd, now_ms, min_lsn) &&
                               !(nd->have_health && nd->health.ok && !nd->health.in_recovery);
        }
        any |= cand[n].eligible;
        n++;
    }
    ns->rand_state = ns->rand_state * 6364136223846793005ull + 1442695040888963407ull;
    pick = any ? lb_pick(&c->lb, (enum lb_strategy)cl->load_balance, cand, n,
                         ns->rand_state >> 11) : -1;
    if (pick < 0) {
        if (cl->n_replicas > 0 && !c->logged_no_replica && min_lsn == 0) {
            log_warn("cluster %s: no replica can take reads now", cl->name);
            c->logged_no_replica = 1;
        }
        return -1;
    }
    c->logged_no_replica = 0;
    return ids[pick];
}

static int nodes_allow_locked(struct nodes *ns, int id, uint64_t now_ms)
{
    struct node *n = &ns->n[id];
    int ok = breaker_allow(&n->br, now_ms);

    nodes_log_breaker(n, now_ms);
    return ok;
}

static void nodes_success_locked(struct nodes *ns, int id, uint64_t now_ms,
                                 uint32_t latency_us)
{
    struct node *n = &ns->n[id];

    breaker_success(&n->br, now_ms);
    nodes_log_breaker(n, now_ms);
    if (latency_us > 0)
        lb_latency_update(&n->latency_us, latency_us);
}

static void nodes_failure_locked(struct nodes *ns, int id, uint64_t now_ms,
                                 const char *why)
{
    struct node *n = &ns->n[id];

    log_debug("node %s: failure: %s", n->name, why);
    snprintf(n->last_failure, sizeof(n->last_failure), "%s", why);
    breaker_failure(&n->br, now_ms);
    nodes_log_breaker(n, now_ms);
}

static void nodes_health_closed(struct health_node *h)
{
    struct nodes *ns = h->arg;
    void (*cb)(struct nodes *) = NULL;

    free(h);
    if (--ns->closing == 0) {
        cb = ns->closed_cb;
        if (cb != NULL)
            cb(ns);
    }
}

void nodes_close(struct nodes *ns, void (*cb)(struct nodes *ns))
{
    ns->closing = 1;
    ns->closed_cb = cb;
    for (int i = 0; i < ns->count; i++) {
        if (ns->n[i].hc == NULL)
            continue;
        ns->closing++;
        health_stop(ns->n[i].hc, nodes_health_closed);
        ns->n[i].hc = NULL;
    }
    if (--ns->closing == 0 && cb != NULL)
        cb(ns);
}

int nodes_sync(struct nodes *ns, uv_loop_t *loop, const struct cfg *cfg)
{
    int rc;

    pthread_mutex_lock(&ns->lock);
    rc = nodes_sync_locked(ns, loop, cfg);
    pthread_mutex_unlock(&ns->lock);
    return rc;
}

int nodes_pick_read(struct nodes *ns, const struct cfg_cluster *cl, uint64_t now_ms,
                    uint64_t min_lsn)
{
    int rc;

    pthread_mutex_lock(&ns->lock);
    rc = nodes_pick_read_locked(ns, cl, now_ms, min_lsn);
    pthread_mutex_unlock(&ns->lock);
    return rc;
}

int nodes_allow(struct nodes *ns, int id, uint64_t now_ms)
{
    int rc;

    pthread_mutex_lock(&ns->lock);
    rc = nodes_allow_locked(ns, id, now_ms);
    pthread_mutex_unlock(&ns->lock);
    return rc;
}

void nodes_success(struct nodes *ns, int id, uint64_t now_ms, uint32_t latency_us)
{
    pthread_mutex_lock(&ns->lock);
    nodes_success_locked(ns, id, now_ms, latency_us);
    pthread_mutex_unlock(&ns->lock);
}

void nodes_failure(struct nodes *ns, int id, uint64_t now_ms, const char *why)
{
    pthread_mutex_lock(&ns->lock);
    nodes_failure_locked(ns, id, now_ms, why);
    pthread_mutex_unlock(&ns->lock);
}

void nodes_unit_begin(struct nodes *ns, int id)
{
    __atomic_fetch_add(&ns->n[id].active, 1, __ATOMIC_RELAXED);
}

void nodes_unit_end(struct nodes *ns, int id)
{
    unsigned n = __atomic_load_n(&ns->n[id].active, __ATOMIC_RELAXED);

    /* never below 0, even for a unit counted before a reload re-created the table */
    while (n > 0 && !__atomic_compare_exchange_n(&ns->n[id].active, &n, n - 1, 1,
                                                 __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        ;
}
