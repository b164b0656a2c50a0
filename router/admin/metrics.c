/*
 * router/admin/metrics.c - what the Prometheus endpoint exports, read from the worker's tables
 * at each scrape (clients, pools, nodes with their breakers, health and lag), and the
 * endpoint's life (start, reload, stop). The text format is promtext.c's, HTTP is http.c's.
 *
 * Every metric is named pgrouter_*. Per pool the labels are node, role, cluster, database
 * and user; per node, node, role and cluster. role is the node's role now ("primary" for
 * the node acting as its cluster's primary, "replica" otherwise), so it changes with a
 * promotion. Nodes a reload removed are left out of the per-node families (their state
 * is stale); the series of their pools stay, with the totals they reached.
 */
#include "router/admin/metrics.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "router/pool/backend.h"
#include "router/admin/http.h"
#include "router/core/log.h"
#include "router/pool/pool.h"
#include "router/admin/promtext.h"
#include "router/cluster/route.h"
#include "router/session/session.h"
#include "router/admin/stats.h"
#include "router/worker.h"

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* ---- labels ---- */

static const char *metrics_role(const struct nodes *ns, const struct node *n)
{
    for (int i = 0; i < ns->n_cl; i++)
        if (strcmp(ns->cl[i].name, n->cluster) == 0)
            return ns->cl[i].primary == n->id ? "primary" : "replica";
    return n->configured_primary ? "primary" : "replica";
}

static void metrics_node_labels(const struct worker *w, const struct node *n,
                                struct promtext_labels *l)
{
    promtext_labels_init(l);
    promtext_label(l, "node", n->name);
    promtext_label(l, "role", metrics_role(w->nodes, n));
    promtext_label(l, "cluster", n->cluster);
}

static void metrics_pool_labels(const struct worker *w, const struct pool *p,
                                struct promtext_labels *l)
{
    const struct node *n = &w->nodes->n[p->node_id];

    metrics_node_labels(w, n, l);
    promtext_label(l, "database", p->db);
    promtext_label(l, "user", p->user);
}

/* ---- clients ---- */

enum metrics_client {
    METRICS_CL_IDLE = 0,    /* logged in, no server held, nothing waiting */
    METRICS_CL_ACTIVE,      /* holds a server (running a unit, in a transaction, pinned) */
    METRICS_CL_WAITING,     /* waiting for a server from a pool */
    METRICS_CL_N,
};

static const char *const metrics_client_state[METRICS_CL_N] = { "idle", "active", "waiting" };

static int metrics_client_of(const struct session *s)
{
    switch (s->state) {
    case SESSION_STARTUP:
    case SESSION_AUTH:
    case SESSION_CONNECT:
    case SESSION_CLOSING:
        return -1;
    case SESSION_IDLE:
    case SESSION_IN_TX:
        break;
    }
    if (s->wait == SESSION_WAIT_SERVER)
        return METRICS_CL_WAITING;
    for (int i = 0; i < SESSION_HELD; i++)
        if (s->held[i] != NULL)
            return METRICS_CL_ACTIVE;
    return s->state == SESSION_IDLE ? METRICS_CL_IDLE : METRICS_CL_ACTIVE;
}

static int metrics_cmp_session(const void *a, const void *b)
{
    const struct session *x = *(const struct session *const *)a;
    const struct session *y = *(const struct session *const *)b;
    int c = strcmp(x->db, y->db);

    return c != 0 ? c : strcmp(x->user, y->user);
}

/*
 * pgrouter_clients{database,user,state}: logged-in clients grouped by database and user
 * (sorted, so the output is stable), and the connections not logged in yet.
 */
static void metrics_clients(struct promtext *p, struct worker *w)
{
    struct session **v = NULL;
    size_t n = 0, cap = 0;
    unsigned login = 0;

    for (struct session *s = w->sessions; s != NULL; s = s->next) {
        if (metrics_client_of(s) < 0) {
            if (s->state != SESSION_CLOSING)
                login++;
            continue;
        }
        if (n == cap) {
            size_t ncap = cap != 0 ? cap * 2 : 64;
            struct session **grown = realloc(v, ncap * sizeof(*v));

            if (grown == NULL) {
                p->oom = 1;
                free(v);
                return;
            }
            v = grown;
            cap = ncap;
        }
        v[n++] = s;
    }
    if (n > 0)
        qsort(v, n, sizeof(*v), metrics_cmp_session);
    promtext_family(p, "pgrouter_clients", "gauge",
                    "Logged-in client connections by database, user and state: idle (no "
                    "server held), active (holding a server), waiting (for a server).");
    for (size_t i = 0; i < n;) {
        unsigned count[METRICS_CL_N] = { 0 };
        size_t j = i;
        struct promtext_labels l;

        while (j < n && metrics_cmp_session(&v[i], &v[j]) == 0)
            count[metrics_client_of(v[j++])]++;
        for (int st = 0; st < METRICS_CL_N; st++) {
            promtext_labels_init(&l);
            promtext_label(&l, "database", v[i]->db);
            promtext_label(&l, "user", v[i]->user);
            promtext_label(&l, "state", metrics_client_state[st]);
            promtext_u64(p, "pgrouter_clients", &l, count[st]);
        }
        i = j;
    }
    free(v);
    promtext_family(p, "pgrouter_clients_login", "gauge",
                    "Client connections not logged in yet (startup, authentication, first "
                    "server connection).");
    promtext_u64(p, "pgrouter_clients_login", NULL, login);
    promtext_family(p, "pgrouter_clients_connected", "gauge",
                    "Client connections counted against max_client_conn, over every worker.");
    promtext_u64(p, "pgrouter_clients_connected", NULL,
                  __atomic_load_n(&w->shared->n_clients, __ATOMIC_RELAXED));
    promtext_family(p, "pgrouter_workers", "gauge", "Event loops (workers = N).");
    promtext_u64(p, "pgrouter_workers", NULL, w->shared->n_workers);
    promtext_family(p, "pgrouter_clients_max", "gauge", "max_client_conn.");
    promtext_u64(p, "pgrouter_clients_max", NULL, (uint64_t)w->cfg->max_client_conn);
}

/* ---- pools ---- */

enum metrics_server {
    METRICS_SV_ACTIVE = 0,  /* lent to a client */
    METRICS_SV_IDLE,        /* ready to be lent */
    METRICS_SV_USED,        /* idle past server_check_delay: server_check_query runs first */
    METRICS_SV_TESTED,      /* idle while its reset (or check) query still runs */
    METRICS_SV_LOGIN,       /* connecting and logging in */
    METRICS_SV_N,
};

static const char *const metrics_server_state[METRICS_SV_N] = {
    "active", "idle", "used", "tested", "login",
};

static void metrics_pool_servers(const struct worker *w, const struct pool *p,
                                 unsigned out[METRICS_SV_N])
{
    const struct cfg *cfg = w->cfg;
    uint64_t now = uv_now(w->loop);

    memset(out, 0, METRICS_SV_N * sizeof(out[0]));
    out[METRICS_SV_ACTIVE] = p->n_used;
    out[METRICS_SV_LOGIN] = p->n_connecting;
    for (const struct backend *be = p->idle; be != NULL; be = be->pool_next) {
        if (backend_pending(be) > 0)
            out[METRICS_SV_TESTED]++;
        else if (cfg->server_check_query[0] != '\0' &&
                 now - be->idle_since_ms >= cfg->server_check_delay_ms)
            out[METRICS_SV_USED]++;
        else
            out[METRICS_SV_IDLE]++;
    }
}

/* The counters of stats.h per pool: a family each. */
static const struct metrics_counter {
    const char *name;
    const char *help;
    size_t off;                 /* in struct stats_counters */
    int micros;                 /* a time in microseconds, exported in seconds */
} metrics_pool_counter[] = {
    { "pgrouter_pool_queries_total", "Client units (a Query, or extended-protocol messages "
      "up to Sync) that ended on a server of the pool.",
      offsetof(struct stats_counters, query_count), 0 },
    { "pgrouter_pool_transactions_total", "Transactions that ended on a server of the pool "
      "(an autocommit statement is one).", offsetof(struct stats_counters, xact_count), 0 },
    { "pgrouter_pool_server_assignments_total", "Times a server of the pool was handed to a "
      "client.", offsetof(struct stats_counters, server_assignment_count), 0 },
    { "pgrouter_pool_received_bytes_total", "Bytes received from clients for units that ran "
      "on the pool.", offsetof(struct stats_counters, received), 0 },
    { "pgrouter_pool_sent_bytes_total", "Bytes of server answers relayed to clients.",
      offsetof(struct stats_counters, sent), 0 },
    { "pgrouter_pool_query_seconds_total", "Time units ran on the pool's servers.",
      offsetof(struct stats_counters, query_time_us), 1 },
    { "pgrouter_pool_transaction_seconds_total", "Time from a transaction's first unit to "
      "the end of its last, idle in transaction included.",
      offsetof(struct stats_counters, xact_time_us), 1 },
    { "pgrouter_pool_client_parses_total", "Parse messages of named statements from "
      "clients.", offsetof(struct stats_counters, client_parse_count), 0 },
    { "pgrouter_pool_server_parses_total", "Parses of named statements sent to the pool's "
      "servers (the client's own, or prepared again on another server).",
      offsetof(struct stats_counters, server_parse_count), 0 },
    { "pgrouter_pool_binds_total", "Bind messages of named statements.",
      offsetof(struct stats_counters, bind_count), 0 },
};

static void metrics_pool_counters(struct promtext *p, struct worker *w)
{
    struct promtext_labels l;

    for (size_t i = 0; i < sizeof(metrics_pool_counter) / sizeof(metrics_pool_counter[0]); i++) {
        const struct metrics_counter *mc = &metrics_pool_counter[i];

        promtext_family(p, mc->name, "counter", mc->help);
        for (const struct pool *q = w->pools; q != NULL; q = q->next) {
            uint64_t v;

            memcpy(&v, (const char *)&q->stats.total + mc->off, sizeof(v));
            metrics_pool_labels(w, q, &l);
            if (mc->micros)
                promtext_f64(p, mc->name, &l, (double)v / 1e6);
            else
                promtext_u64(p, mc->name, &l, v);
        }
    }
}

/* Upper bounds of the wait buckets in seconds (pool.h: bucket b < 2^b ms). */
static void metrics_wait_bounds(double bounds[POOL_WAIT_BUCKETS])
{
    for (unsigned b = 0; b < POOL_WAIT_BUCKETS; b++)
        bounds[b] = (double)(1ull << b) / 1000.0;
}

static void metrics_pools(struct promtext *p, struct worker *w)
{
    double bounds[POOL_WAIT_BUCKETS];
    struct promtext_labels l;

    promtext_family(p, "pgrouter_pool_clients_active", "gauge",
                    "Clients holding a server of the pool.");
    for (const struct pool *q = w->pools; q != NULL; q = q->next) {
        metrics_pool_labels(w, q, &l);
        promtext_u64(p, "pgrouter_pool_clients_active", &l, q->n_used);
    }
    promtext_family(p, "pgrouter_pool_clients_waiting", "gauge",
                    "Clients queued for a server of the pool.");
    for (const struct pool *q = w->pools; q != NULL; q = q->next) {
        metrics_pool_labels(w, q, &l);
        promtext_u64(p, "pgrouter_pool_clients_waiting", &l, q->n_waiting);
    }
    promtext_family(p, "pgrouter_pool_servers", "gauge",
                    "Server connections of the pool by state: active (lent to a client), "
                    "idle, used (idle past server_check_delay), tested (reset or check "
                    "query running), login (connecting).");
    for (const struct pool *q = w->pools; q != NULL; q = q->next) {
        unsigned sv[METRICS_SV_N];

        metrics_pool_servers(w, q, sv);
        for (int st = 0; st < METRICS_SV_N; st++) {
            metrics_pool_labels(w, q, &l);
            promtext_label(&l, "state", metrics_server_state[st]);
            promtext_u64(p, "pgrouter_pool_servers", &l, sv[st]);
        }
    }
    promtext_family(p, "pgrouter_pool_wait_timeouts_total", "counter",
                    "Clients failed by query_wait_timeout while queued for the pool.");
    for (const struct pool *q = w->pools; q != NULL; q = q->next) {
        metrics_pool_labels(w, q, &l);
        promtext_u64(p, "pgrouter_pool_wait_timeouts_total", &l, q->n_wait_timeouts);
    }
    metrics_wait_bounds(bounds);
    promtext_family(p, "pgrouter_pool_wait_seconds", "histogram",
                    "Time clients waited for a server of the pool, one observation per "
                    "server handed over (0 when one was idle); millisecond resolution.");
    for (const struct pool *q = w->pools; q != NULL; q = q->next) {
        metrics_pool_labels(w, q, &l);
        promtext_histogram(p, "pgrouter_pool_wait_seconds", &l, q->waits, bounds,
                           POOL_WAIT_BUCKETS, (double)q->stats.total.wait_time_us / 1e6);
    }
    metrics_pool_counters(p, w);
}

/* ---- nodes ---- */

/* 0 closed, 1 half-open, 2 open: a gauge that grows with trouble. */
static unsigned metrics_breaker_value(enum breaker_state s)
{
    switch (s) {
    case BREAKER_CLOSED:
        return 0;
    case BREAKER_HALF_OPEN:
        return 1;
    case BREAKER_OPEN:
        return 2;
    }
    return 2;
}

/* pgrouter_query_duration_seconds: client units by time on the server, per node. */
static void metrics_query_hist(struct promtext *p, struct worker *w)
{
    struct nodes *ns = w->nodes;
    double bounds[STATS_BUCKETS];
    struct promtext_labels l;

    for (unsigned b = 0; b < STATS_BUCKETS; b++)
        bounds[b] = (double)stats_bucket_le_ms(b) / 1000.0;
    promtext_family(p, "pgrouter_query_duration_seconds", "histogram",
                    "Client units by the time they ran on a server of the node (from their "
                    "first bytes to the server to its ReadyForQuery).");
    for (int i = 0; i < ns->count; i++) {
        if (ns->n[i].removed)
            continue;
        uint64_t hist[STATS_BUCKETS];
        struct stats_counters sum;

        stats_sum_hist(w, i, hist);
        stats_sum_node(w, i, &sum);
        metrics_node_labels(w, &ns->n[i], &l);
        promtext_histogram(p, "pgrouter_query_duration_seconds", &l, hist, bounds,
                           STATS_BUCKETS, (double)sum.query_time_us / 1e6);
    }
}

/* Routing decisions by rule and target, errors to clients by SQLSTATE class. */
static void metrics_routes_errors(struct promtext *p, struct worker *w)
{
    const struct stats *st = &w->stats;
    struct promtext_labels l;

    promtext_family(p, "pgrouter_routes_total", "counter",
                    "Routing decisions by the rule that decided and the target it chose "
                    "(primary, replica, pinned, any, error); a read retried elsewhere is "
                    "decided again.");
    for (unsigned i = 0; i < st->n_routes; i++) {
        promtext_labels_init(&l);
        promtext_label(&l, "rule", st->routes[i].rule);
        promtext_label(&l, "target", route_target_name(st->routes[i].target));
        promtext_u64(p, "pgrouter_routes_total", &l, st->routes[i].count);
    }
    promtext_family(p, "pgrouter_routes_untracked_total", "counter",
                    "Routing decisions whose rule and target did not fit the table.");
    promtext_u64(p, "pgrouter_routes_untracked_total", NULL, st->routes_other);
    promtext_family(p, "pgrouter_errors_total", "counter",
                    "ErrorResponses sent to clients by SQLSTATE class and source: pgrouter "
                    "(its own errors) or server (relayed as the server sent them).");
    for (unsigned i = 0; i < st->n_errors; i++) {
        for (int src = 0; src < 2; src++) {
            promtext_labels_init(&l);
            promtext_label(&l, "class", st->errors[i].cls);
            promtext_label(&l, "source", src == 0 ? "pgrouter" : "server");
            promtext_u64(p, "pgrouter_errors_total", &l,
                         src == 0 ? st->errors[i].own : st->errors[i].server);
        }
    }
}

/* A node whose latest check worked and that is a standby. */
static int metrics_is_replica(const struct node *n)
{
    return n->have_health && n->health.ok && n->health.in_recovery;
}

static void metrics_nodes(struct promtext *p, struct worker *w)
{
    struct nodes *ns = w->nodes;
    uint64_t now = uv_now(w->loop);
    struct promtext_labels l;

    promtext_family(p, "pgrouter_node_breaker_state", "gauge",
                    "Circuit breaker of the node: 0 closed, 1 half-open, 2 open.");
    for (int i = 0; i < ns->count; i++) {
        if (ns->n[i].removed)
            continue;
        metrics_node_labels(w, &ns->n[i], &l);
        promtext_u64(p, "pgrouter_node_breaker_state", &l,
                     metrics_breaker_value(breaker_state(&ns->n[i].br, now)));
    }
    promtext_family(p, "pgrouter_node_breaker_transitions_total", "counter",
                    "State changes of the node's circuit breaker, by from and to state.");
    for (int i = 0; i < ns->count; i++) {
        if (ns->n[i].removed)
            continue;
        const struct stats_node *sn = &ns->n[i].stats;
        const struct { const char *from, *to; uint64_t v; } tr[] = {
            { "closed", "open", sn->breaker_opened },
            { "open", "half-open", sn->breaker_half_opened },
            { "half-open", "closed", sn->breaker_closed },
            { "half-open", "open", sn->breaker_reopened },
        };

        for (size_t t = 0; t < sizeof(tr) / sizeof(tr[0]); t++) {
            metrics_node_labels(w, &ns->n[i], &l);
            promtext_label(&l, "from", tr[t].from);
            promtext_label(&l, "to", tr[t].to);
            promtext_u64(p, "pgrouter_node_breaker_transitions_total", &l, tr[t].v);
        }
    }
    promtext_family(p, "pgrouter_node_up", "gauge",
                    "1 if the node's latest health check connected and answered, else 0 "
                    "(only nodes with health checks).");
    for (int i = 0; i < ns->count; i++) {
        if (ns->n[i].removed)
            continue;
        const struct node *n = &ns->n[i];

        if (n->hc == NULL || n->hc->checks == 0)
            continue;
        metrics_node_labels(w, n, &l);
        promtext_u64(p, "pgrouter_node_up", &l, n->have_health && n->health.ok);
    }
    promtext_family(p, "pgrouter_node_health_checks_total", "counter",
                    "Health checks of the node by result: ok, failed (refused, closed, "
                    "crashed, or the check's own login failed), timeout.");
    for (int i = 0; i < ns->count; i++) {
        if (ns->n[i].removed)
            continue;
        const struct stats_node *sn = &ns->n[i].stats;
        const char *const res[3] = { "ok", "failed", "timeout" };
        const uint64_t v[3] = { sn->health_ok, sn->health_failed, sn->health_timeout };

        for (int r = 0; r < 3; r++) {
            metrics_node_labels(w, &ns->n[i], &l);
            promtext_label(&l, "result", res[r]);
            promtext_u64(p, "pgrouter_node_health_checks_total", &l, v[r]);
        }
    }
    promtext_family(p, "pgrouter_node_read_retries_total", "counter",
                    "Reads moved from the node to another because it failed before their "
                    "answer began (the client saw nothing).");
    for (int i = 0; i < ns->count; i++) {
        if (ns->n[i].removed)
            continue;
        metrics_node_labels(w, &ns->n[i], &l);
        promtext_u64(p, "pgrouter_node_read_retries_total", &l, ns->n[i].stats.read_retries);
    }
    metrics_query_hist(p, w);
    promtext_family(p, "pgrouter_node_health_consecutive_failures", "gauge",
                    "Health checks of the node failed in a row (0 after one passes).");
    for (int i = 0; i < ns->count; i++) {
        if (ns->n[i].removed)
            continue;
        if (ns->n[i].hc == NULL)
            continue;
        metrics_node_labels(w, &ns->n[i], &l);
        promtext_u64(p, "pgrouter_node_health_consecutive_failures", &l,
                     ns->n[i].hc->failures);
    }
    promtext_family(p, "pgrouter_node_replica_lag_bytes", "gauge",
                    "WAL bytes the replica has still to replay: the primary's position at "
                    "its latest check minus the replica's replay position at its own.");
    for (int i = 0; i < ns->count; i++) {
        if (ns->n[i].removed)
            continue;
        const struct node *n = &ns->n[i];
        uint64_t lag = 0;

        if (!metrics_is_replica(n))
            continue;
        for (int c = 0; c < ns->n_cl; c++)
            if (strcmp(ns->cl[c].name, n->cluster) == 0 && ns->cl[c].primary_lsn > n->health.lsn)
                lag = ns->cl[c].primary_lsn - n->health.lsn;
        metrics_node_labels(w, n, &l);
        promtext_u64(p, "pgrouter_node_replica_lag_bytes", &l, lag);
    }
    promtext_family(p, "pgrouter_node_replica_lag_seconds", "gauge",
                    "Age of the last transaction the replica replayed, 0 when it has "
                    "replayed all the WAL it received.");
    for (int i = 0; i < ns->count; i++) {
        if (ns->n[i].removed)
            continue;
        const struct node *n = &ns->n[i];

        if (!metrics_is_replica(n) || n->health.replay_lag_ms < 0)
            continue;
        metrics_node_labels(w, n, &l);
        promtext_f64(p, "pgrouter_node_replica_lag_seconds", &l,
                     (double)n->health.replay_lag_ms / 1000.0);
    }
    promtext_family(p, "pgrouter_node_lagging", "gauge",
                    "1 while the replica lags beyond max_replica_lag(_bytes) and gets no reads.");
    for (int i = 0; i < ns->count; i++) {
        if (ns->n[i].removed)
            continue;
        metrics_node_labels(w, &ns->n[i], &l);
        promtext_u64(p, "pgrouter_node_lagging", &l, ns->n[i].lagging != 0);
    }
    promtext_family(p, "pgrouter_node_disabled", "gauge",
                    "1 while the node is taken out of the read rotation by hand (DISABLE).");
    for (int i = 0; i < ns->count; i++) {
        if (ns->n[i].removed)
            continue;
        metrics_node_labels(w, &ns->n[i], &l);
        promtext_u64(p, "pgrouter_node_disabled", &l, ns->n[i].disabled != 0);
    }
    promtext_family(p, "pgrouter_node_active_units", "gauge",
                    "Units of work (statements or transactions) running on the node.");
    for (int i = 0; i < ns->count; i++) {
        if (ns->n[i].removed)
            continue;
        metrics_node_labels(w, &ns->n[i], &l);
        promtext_u64(p, "pgrouter_node_active_units", &l, ns->n[i].active);
    }
    promtext_family(p, "pgrouter_node_latency_seconds", "gauge",
                    "Moving average of the node's round trips (units and health checks).");
    for (int i = 0; i < ns->count; i++) {
        if (ns->n[i].removed)
            continue;
        metrics_node_labels(w, &ns->n[i], &l);
        promtext_f64(p, "pgrouter_node_latency_seconds", &l, ns->n[i].latency_us / 1e6);
    }
}

/* ---- the endpoint ---- */

static void metrics_http(struct promtext *p, struct worker *w)
{
    static const char *const codes[HTTP_N_CODES] = { "200", "400", "404", "405", "408", "500" };
    struct promtext_labels l;

    if (w->http == NULL)
        return;
    promtext_family(p, "pgrouter_http_requests_total", "counter",
                    "Answers of this metrics endpoint by HTTP status (this scrape not "
                    "included).");
    for (int c = 0; c < HTTP_N_CODES; c++) {
        promtext_labels_init(&l);
        promtext_label(&l, "code", codes[c]);
        promtext_u64(p, "pgrouter_http_requests_total", &l, w->http->answers[c]);
    }
}

char *metrics_render(struct worker *w, size_t *len)
{
    struct promtext p;
    struct promtext_labels l;

    promtext_init(&p);
    promtext_family(&p, "pgrouter_info", "gauge", "pgrouter's version, always 1.");
    promtext_labels_init(&l);
    promtext_label(&l, "version", PGROUTER_VERSION);
    promtext_u64(&p, "pgrouter_info", &l, 1);
    metrics_clients(&p, w);
    metrics_pools(&p, w);
    metrics_nodes(&p, w);
    metrics_routes_errors(&p, w);
    metrics_http(&p, w);
    return promtext_steal(&p, len);
}

static char *metrics_render_cb(void *arg, size_t *len)
{
    return metrics_render(arg, len);
}

static int metrics_listen(struct worker *w, const struct cfg *cfg)
{
    if (cfg->stats_listen_port == 0)
        return 0;
    return http_listen(w->loop, cfg->stats_listen_addr, cfg->stats_listen_port, "/metrics",
                       METRICS_CONTENT_TYPE, metrics_render_cb, w, &w->http);
}

int metrics_start(struct worker *w)
{
    return metrics_listen(w, w->cfg);
}

void metrics_reload(struct worker *w, const struct cfg *fresh)
{
    const struct cfg *old = w->cfg;

    if (strcmp(old->stats_listen_addr, fresh->stats_listen_addr) == 0 &&
        old->stats_listen_port == fresh->stats_listen_port && (w->http != NULL) ==
        (fresh->stats_listen_port != 0))
        return;
    /* The old socket closes at once (scrapes already accepted finish), so the new one may
     * take the same port on another address. */
    http_close(w->http, 0);
    w->http = NULL;
    if (fresh->stats_listen_port == 0) {
        log_info("reload: metrics endpoint off");
        return;
    }
    if (metrics_listen(w, fresh) < 0)
        log_error("reload: the metrics endpoint stays off until a reload gives an address "
                  "it can serve");
}

void metrics_handover(struct worker *w)
{
    if (w->http == NULL)
        return;
    http_close(w->http, 0);
    w->http = NULL;
    log_info("metrics endpoint handed to the new process");
}

void metrics_stop(struct worker *w)
{
    http_close(w->http, 1);
    w->http = NULL;
}
