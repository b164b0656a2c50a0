/*
 * router/admin/adminshow.c - admin console commands: SHOW POOLS/CLIENTS/SERVERS/DATABASES/LISTS/
 * CONFIG/VERSION/HELP, PgBouncer's informational commands with its column names and order
 * (as its documentation lists them), pgrouter's own columns after PgBouncer's. Everything
 * is read from the worker's tables at the moment of the command; nothing is kept here.
 */
#include "router/admin/admin.h"

#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "config/cfgshow.h"
#include "router/admin/pause.h"
#include "router/session/session.h"
#include "router/net/tls.h"

/* ---- cells shared by several commands ---- */

/* Milliseconds since the epoch now, and the loop's clock, to turn loop times into dates. */
struct adminshow_clock {
    int64_t wall_ms;
    uint64_t loop_ms;
    uint64_t hr_ns;
};

static void adminshow_clock(const struct worker *w, struct adminshow_clock *c)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    c->wall_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    c->loop_ms = uv_now(w->loop);
    c->hr_ns = uv_hrtime();
}

/* A date cell ("2026-12-02 03:40:12 UTC") for the moment ago_ms before now. */
static void adminshow_date(struct admin_reply *r, const struct adminshow_clock *c,
                           uint64_t ago_ms)
{
    time_t t = (time_t)((c->wall_ms - (int64_t)ago_ms) / 1000);
    struct tm tm;

    /* gmtime_r and a format of our own: strftime may look at the time zone each call */
    if (gmtime_r(&t, &tm) == NULL) {
        admin_cell_text(r, NULL);
        return;
    }
    admin_cell_fmt(r, "%04d-%02d-%02d %02d:%02d:%02d UTC", tm.tm_year + 1900, tm.tm_mon + 1,
                   tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* The address and port cells of a TCP handle's peer (peer = 1) or local end. */
static void adminshow_addr(struct admin_reply *r, const uv_tcp_t *tcp, int peer)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    char host[64];
    int port = 0;
    int rc = tcp == NULL ? -1
             : peer ? uv_tcp_getpeername(tcp, (struct sockaddr *)&ss, &len)
             : uv_tcp_getsockname(tcp, (struct sockaddr *)&ss, &len);

    if (rc == 0 && ss.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;

        uv_ip4_name(a, host, sizeof(host));
        port = ntohs(a->sin_port);
    } else if (rc == 0 && ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;

        uv_ip6_name(a, host, sizeof(host));
        port = ntohs(a->sin6_port);
    } else {
        admin_cell_text(r, NULL);
        admin_cell_text(r, NULL);
        return;
    }
    admin_cell_text(r, host);
    admin_cell_int(r, port);
}

/*
 * A client's address and port cells from the text connlog noted at accept ("1.2.3.4:5",
 * "[::1]:5"), without a system call per client.
 */
static void adminshow_client_peer(struct admin_reply *r, const struct session *s)
{
    const char *a = s->connlog.addr;
    const char *colon = strrchr(a, ':');
    size_t n;

    if (colon == NULL) {
        admin_cell_text(r, NULL);
        admin_cell_text(r, NULL);
        return;
    }
    n = (size_t)(colon - a);
    if (a[0] == '[' && n >= 2 && a[n - 1] == ']')
        admin_cell_fmt(r, "%.*s", (int)(n - 2), a + 1);
    else
        admin_cell_fmt(r, "%.*s", (int)n, a);
    admin_cell_int(r, atoi(colon + 1));
}

/* "primary" or "replica": what node id does in its cluster now. */
static const char *adminshow_role(struct worker *w, int id)
{
    const struct node *n = &w->nodes->n[id];

    for (int i = 0; i < w->nodes->n_cl; i++)
        if (strcmp(w->nodes->cl[i].name, n->cluster) == 0)
            return w->nodes->cl[i].primary == id ? "primary" : "replica";
    return n->configured_primary ? "primary" : "replica";
}

static const char *adminshow_pool_mode(const struct cfg *cfg)
{
    return cfg->pool_mode == CFG_POOL_SESSION ? "session" : "transaction";
}

/* Is s a client that SHOW CLIENTS and SHOW POOLS count (logged in, not leaving)? */
static int adminshow_client(const struct session *s)
{
    return s->state == SESSION_IDLE || s->state == SESSION_IN_TX;
}

/* An idle server of p that needs server_check_query before use (PgBouncer's "used"). */
static int adminshow_needs_check(const struct backend *be, const struct cfg *cfg,
                                 uint64_t now_ms)
{
    return cfg->server_check_query[0] != '\0' &&
           now_ms - be->idle_since_ms >= cfg->server_check_delay_ms;
}

/* ---- SHOW POOLS ---- */

struct adminshow_tally {
    const struct pool *p;
    long long cl_active;
};

static int adminshow_cmp_ptr(const void *a, const void *b)
{
    const struct adminshow_tally *x = a, *y = b;

    return x->p < y->p ? -1 : x->p > y->p;
}

static struct adminshow_tally *adminshow_find(struct adminshow_tally *t, size_t n,
                                              const struct pool *p)
{
    struct adminshow_tally key = { p, 0 };

    return bsearch(&key, t, n, sizeof(*t), adminshow_cmp_ptr);
}

/*
 * Clients per pool: one that holds servers counts in each of their pools; one that waits
 * is in its pool's queue (cl_waiting); an idle one (transaction pooling: no server) counts
 * in the pool it would use first, its cluster's primary for its database and user.
 */
static void adminshow_count_clients(struct worker *w, struct adminshow_tally *t, size_t n)
{
    for (struct session *s = w->sessions; s != NULL; s = s->next) {
        int held = 0;

        if (s->admin != NULL || !adminshow_client(s))
            continue;
        for (unsigned i = 0; i < SESSION_HELD; i++) {
            struct adminshow_tally *e;

            if (s->held[i] == NULL)
                continue;
            held = 1;
            e = adminshow_find(t, n, s->held[i]->pool);
            if (e != NULL)
                e->cl_active++;
        }
        if (held || s->waiter.pool != NULL || s->cluster == NULL)
            continue;
        int primary = nodes_primary(w->nodes, s->cluster);

        for (size_t i = 0; i < n; i++) {
            if (t[i].p->node_id == primary && strcmp(t[i].p->db, s->db) == 0 &&
                strcmp(t[i].p->user, s->user) == 0) {
                t[i].cl_active++;
                break;
            }
        }
    }
}

/* A pool with the keys its row is sorted by. */
struct adminshow_row {
    const struct pool *p;
    const char *cluster;
    int replica;
};

/* Rows in a stable order: database, user, cluster, the primary first, node. */
static int adminshow_cmp_pool(const void *a, const void *b)
{
    const struct adminshow_row *x = a, *y = b;
    int c = strcmp(x->p->db, y->p->db);

    if (c == 0)
        c = strcmp(x->p->user, y->p->user);
    if (c == 0)
        c = strcmp(x->cluster, y->cluster);
    if (c == 0)
        c = x->replica - y->replica;
    return c != 0 ? c : strcmp(x->p->node, y->p->node);
}

static enum admin_rc adminshow_pools(struct session *s, struct admin_reply *r,
                                     const char *args)
{
    static const struct admin_col cols[] = {
        { "database", ADMIN_TEXT }, { "user", ADMIN_TEXT },
        { "cl_active", ADMIN_INT4 }, { "cl_waiting", ADMIN_INT4 },
        { "cl_active_cancel_req", ADMIN_INT4 }, { "cl_waiting_cancel_req", ADMIN_INT4 },
        { "sv_active", ADMIN_INT4 }, { "sv_active_cancel", ADMIN_INT4 },
        { "sv_being_canceled", ADMIN_INT4 }, { "sv_idle", ADMIN_INT4 },
        { "sv_used", ADMIN_INT4 }, { "sv_tested", ADMIN_INT4 }, { "sv_login", ADMIN_INT4 },
        { "maxwait", ADMIN_INT4 }, { "maxwait_us", ADMIN_INT4 },
        { "pool_mode", ADMIN_TEXT }, { "load_balance_hosts", ADMIN_TEXT },
        /* pgrouter's: a pool is per node */
        { "node", ADMIN_TEXT }, { "role", ADMIN_TEXT }, { "cluster", ADMIN_TEXT },
        { "paused", ADMIN_INT4 },
    };
    struct worker *w = s->w;
    const struct cfg *cfg = w->cfg;
    struct adminshow_tally *t;
    struct adminshow_row *order;
    size_t n = 0, i = 0;
    uint64_t now_ms = uv_now(w->loop), now_us = stats_now_us();

    (void)args;
    for (const struct pool *p = w->pools; p != NULL; p = p->next)
        n++;
    t = calloc(n > 0 ? n : 1, sizeof(*t));
    if (t == NULL) {
        admin_error(r, "53200", "pgrouter: out of memory");
        return ADMIN_DONE;
    }
    for (const struct pool *p = w->pools; p != NULL; p = p->next)
        t[i++].p = p;
    qsort(t, n, sizeof(*t), adminshow_cmp_ptr);
    adminshow_count_clients(w, t, n);
    order = malloc((n > 0 ? n : 1) * sizeof(*order));
    if (order == NULL) {
        free(t);
        admin_error(r, "53200", "pgrouter: out of memory");
        return ADMIN_DONE;
    }
    for (i = 0; i < n; i++) {
        order[i].p = t[i].p;
        order[i].cluster = w->nodes->n[t[i].p->node_id].cluster;
        order[i].replica = strcmp(adminshow_role(w, t[i].p->node_id), "replica") == 0;
    }
    qsort(order, n, sizeof(*order), adminshow_cmp_pool);
    admin_columns(r, cols, (int)(sizeof(cols) / sizeof(cols[0])));
    for (i = 0; i < n; i++) {
        const struct pool *p = order[i].p;
        unsigned idle = 0, used = 0, tested = 0;
        uint64_t wait_us = 0;

        for (const struct backend *be = p->idle; be != NULL; be = be->pool_next) {
            if (backend_pending(be) > 0)
                tested++;       /* still running server_reset_query */
            else if (adminshow_needs_check(be, cfg, now_ms))
                used++;
            else
                idle++;
        }
        if (p->wait_head != NULL && now_us > p->wait_head->since_us)
            wait_us = now_us - p->wait_head->since_us;
        admin_cell_text(r, p->db);
        admin_cell_text(r, p->user);
        admin_cell_int(r, adminshow_find(t, n, p)->cl_active);
        admin_cell_int(r, p->n_waiting);
        admin_cell_int(r, 0);   /* cancels are sent at once, never queued */
        admin_cell_int(r, 0);
        admin_cell_int(r, p->n_used);
        admin_cell_int(r, 0);
        admin_cell_int(r, 0);
        admin_cell_int(r, idle);
        admin_cell_int(r, used);
        admin_cell_int(r, tested);
        admin_cell_int(r, p->n_connecting);
        admin_cell_int(r, (long long)(wait_us / 1000000));
        admin_cell_int(r, (long long)(wait_us % 1000000));
        admin_cell_text(r, adminshow_pool_mode(cfg));
        admin_cell_text(r, NULL);
        admin_cell_text(r, p->node);
        admin_cell_text(r, adminshow_role(w, p->node_id));
        admin_cell_text(r, w->nodes->n[p->node_id].cluster);
        admin_cell_int(r, pause_active(w, p->db));
        admin_row_end(r);
    }
    free(order);
    free(t);
    admin_done(r, "SHOW");
    return ADMIN_DONE;
}

/* ---- SHOW CLIENTS and SHOW SERVERS ---- */

static const struct admin_col adminshow_conn_cols[] = {
    { "type", ADMIN_TEXT }, { "user", ADMIN_TEXT }, { "database", ADMIN_TEXT },
    { "replication", ADMIN_TEXT }, { "state", ADMIN_TEXT },
    { "addr", ADMIN_TEXT }, { "port", ADMIN_INT4 },
    { "local_addr", ADMIN_TEXT }, { "local_port", ADMIN_INT4 },
    { "connect_time", ADMIN_TEXT }, { "request_time", ADMIN_TEXT },
    { "wait", ADMIN_INT4 }, { "wait_us", ADMIN_INT4 }, { "close_needed", ADMIN_INT4 },
    { "ptr", ADMIN_TEXT }, { "link", ADMIN_TEXT }, { "remote_pid", ADMIN_INT4 },
    { "tls", ADMIN_TEXT }, { "application_name", ADMIN_TEXT },
    { "prepared_statements", ADMIN_INT4 }, { "id", ADMIN_INT8 },
};
#define ADMINSHOW_CONN_COLS (int)(sizeof(adminshow_conn_cols) / sizeof(adminshow_conn_cols[0]))

/* ptr/link of a server: node id and backend PID, stable while it lives. */
static void adminshow_server_ptr(struct admin_reply *r, const struct backend *be)
{
    admin_cell_fmt(r, "s%d.%u", be->pool->node_id, (unsigned)be->srv.be_pid);
}

static const char *adminshow_client_state(const struct session *s, const struct session *me)
{
    if (s->admin != NULL)
        return s == me ? "active" : "idle";
    if (s->waiter.pool != NULL || s->wait == SESSION_WAIT_SERVER)
        return "waiting";
    for (unsigned i = 0; i < SESSION_HELD; i++)
        if (s->held[i] != NULL)
            return "active";
    return "idle";
}

static enum admin_rc adminshow_clients(struct session *me, struct admin_reply *r,
                                       const char *args)
{
    static const struct admin_col extra[] = {
        { "cluster", ADMIN_TEXT }, { "tenant", ADMIN_TEXT },
    };
    struct admin_col cols[ADMINSHOW_CONN_COLS + 2];
    struct adminshow_clock clk;
    uint64_t now_us = stats_now_us();
    int fixed_local = strcmp(me->w->cfg->listen_addr, "0.0.0.0") != 0 &&
                      strcmp(me->w->cfg->listen_addr, "::") != 0;

    (void)args;
    memcpy(cols, adminshow_conn_cols, sizeof(adminshow_conn_cols));
    memcpy(cols + ADMINSHOW_CONN_COLS, extra, sizeof(extra));
    adminshow_clock(me->w, &clk);
    admin_columns(r, cols, ADMINSHOW_CONN_COLS + 2);
    for (struct session *s = me->w->sessions; s != NULL; s = s->next) {
        const struct backend *link = NULL;
        uint64_t wait_us = 0;

        if (!adminshow_client(s))
            continue;
        for (unsigned i = 0; i < SESSION_HELD && link == NULL; i++)
            link = s->held[i];
        if (s->waiter.pool != NULL && now_us > s->waiter.since_us)
            wait_us = now_us - s->waiter.since_us;
        admin_cell_text(r, "C");
        admin_cell_text(r, s->user);
        admin_cell_text(r, s->db);
        admin_cell_text(r, "none");
        admin_cell_text(r, adminshow_client_state(s, me));
        adminshow_client_peer(r, s);
        if (fixed_local) {
            /* listening on one address: every client came to it */
            admin_cell_text(r, me->w->cfg->listen_addr);
            admin_cell_int(r, me->w->cfg->listen_port);
        } else {
            adminshow_addr(r, &s->client.tcp, 0);
        }
        adminshow_date(r, &clk, (clk.hr_ns - s->connlog.start_ns) / 1000000);
        if (s->unit_started_ms > 0 && s->unit_started_ms <= clk.loop_ms)
            adminshow_date(r, &clk, clk.loop_ms - s->unit_started_ms);
        else
            adminshow_date(r, &clk, (clk.hr_ns - s->connlog.start_ns) / 1000000);
        admin_cell_int(r, (long long)(wait_us / 1000000));
        admin_cell_int(r, (long long)(wait_us % 1000000));
        admin_cell_int(r, 0);
        admin_cell_fmt(r, "c%u", s->id);
        if (link != NULL)
            adminshow_server_ptr(r, link);
        else
            admin_cell_text(r, NULL);
        admin_cell_int(r, 0);
        /* PgBouncer's tls column: protocol/cipher/key exchange, empty in plain text */
        admin_cell_text(r, conn_tls_on(&s->client) ? conn_tls_describe(&s->client) : "");
        admin_cell_text(r, s->app_name != NULL ? s->app_name : "");
        admin_cell_int(r, (long long)s->stmts.n);
        admin_cell_int(r, s->id);
        admin_cell_text(r, s->admin != NULL || s->cluster == NULL ? NULL : s->cluster->name);
        admin_cell_text(r, s->tenant[0] != '\0' ? s->tenant : NULL);
        admin_row_end(r);
    }
    admin_done(r, "SHOW");
    return ADMIN_DONE;
}

/* One SHOW SERVERS row; owner is the client that holds it (NULL: idle in its pool). */
static void adminshow_server_row(struct admin_reply *r, struct worker *w,
                                 const struct adminshow_clock *clk, const struct backend *be,
                                 const struct session *owner)
{
    const struct pool *p = be->pool;
    const char *state = "active";

    if (owner == NULL)
        state = backend_pending(be) > 0 ? "tested"
                : adminshow_needs_check(be, w->cfg, clk->loop_ms) ? "used" : "idle";
    admin_cell_text(r, "S");
    admin_cell_text(r, p->user);
    admin_cell_text(r, p->db);
    admin_cell_text(r, "none");
    admin_cell_text(r, state);
    admin_cell_text(r, p->host);
    admin_cell_int(r, p->port);
    if (backend_ready(be))
        adminshow_addr(r, &be->srv.conn.tcp, 0);
    else
        adminshow_addr(r, NULL, 0);
    adminshow_date(r, clk, clk->loop_ms >= be->created_ms ? clk->loop_ms - be->created_ms : 0);
    if (owner != NULL && owner->unit_started_ms > 0 && owner->unit_started_ms <= clk->loop_ms)
        adminshow_date(r, clk, clk->loop_ms - owner->unit_started_ms);
    else if (owner == NULL && be->idle_since_ms <= clk->loop_ms)
        adminshow_date(r, clk, clk->loop_ms - be->idle_since_ms);
    else
        adminshow_date(r, clk, clk->loop_ms - be->created_ms);
    admin_cell_int(r, 0);
    admin_cell_int(r, 0);
    admin_cell_int(r, pool_close_needed(be));
    adminshow_server_ptr(r, be);
    if (owner != NULL)
        admin_cell_fmt(r, "c%u", owner->id);
    else
        admin_cell_text(r, NULL);
    admin_cell_int(r, (long long)be->srv.be_pid);
    /* PgBouncer's tls column: protocol/cipher, empty when the server link is plaintext. */
    admin_cell_text(r, server_tls(&be->srv) != NULL ? server_tls(&be->srv) : "");
    admin_cell_text(r, owner != NULL && owner->app_name != NULL ? owner->app_name : "");
    admin_cell_int(r, (long long)be->stmts.n);
    admin_cell_text(r, NULL);
    admin_cell_text(r, p->node);
    admin_cell_text(r, adminshow_role(w, p->node_id));
    admin_cell_text(r, w->nodes->n[p->node_id].cluster);
    admin_row_end(r);
}

static enum admin_rc adminshow_servers(struct session *me, struct admin_reply *r,
                                       const char *args)
{
    static const struct admin_col extra[] = {
        { "node", ADMIN_TEXT }, { "role", ADMIN_TEXT }, { "cluster", ADMIN_TEXT },
    };
    struct admin_col cols[ADMINSHOW_CONN_COLS + 3];
    struct worker *w = me->w;
    struct adminshow_clock clk;

    (void)args;
    memcpy(cols, adminshow_conn_cols, sizeof(adminshow_conn_cols));
    memcpy(cols + ADMINSHOW_CONN_COLS, extra, sizeof(extra));
    adminshow_clock(w, &clk);
    admin_columns(r, cols, ADMINSHOW_CONN_COLS + 3);
    for (struct session *s = w->sessions; s != NULL; s = s->next)
        for (unsigned i = 0; i < SESSION_HELD; i++)
            if (s->held[i] != NULL && s->held[i]->pool != NULL)
                adminshow_server_row(r, w, &clk, s->held[i], s);
    for (const struct pool *p = w->pools; p != NULL; p = p->next)
        for (const struct backend *be = p->idle; be != NULL; be = be->pool_next)
            adminshow_server_row(r, w, &clk, be, NULL);
    admin_done(r, "SHOW");
    return ADMIN_DONE;
}

/* ---- SHOW DATABASES, SHOW LISTS ---- */

static enum admin_rc adminshow_databases(struct session *s, struct admin_reply *r,
                                         const char *args)
{
    static const struct admin_col cols[] = {
        { "name", ADMIN_TEXT }, { "host", ADMIN_TEXT }, { "port", ADMIN_INT4 },
        { "database", ADMIN_TEXT }, { "force_user", ADMIN_TEXT },
        { "pool_size", ADMIN_INT4 }, { "min_pool_size", ADMIN_INT4 },
        { "reserve_pool_size", ADMIN_INT4 }, { "server_lifetime", ADMIN_INT4 },
        { "pool_mode", ADMIN_TEXT }, { "load_balance_hosts", ADMIN_TEXT },
        { "max_connections", ADMIN_INT4 }, { "current_connections", ADMIN_INT4 },
        { "max_client_connections", ADMIN_INT4 }, { "current_client_connections", ADMIN_INT4 },
        { "paused", ADMIN_INT4 }, { "disabled", ADMIN_INT4 },
        /* pgrouter's: a database entry is a cluster, its clients pick the database */
        { "replicas", ADMIN_INT4 }, { "load_balance", ADMIN_TEXT },
        { "primary_reads", ADMIN_TEXT },
    };
    static const char *const lb[] = {
        "round_robin", "least_conn", "random", "weighted", "least_latency",
    };
    static const char *const reads[] = { "off", "on", "fallback" };
    struct worker *w = s->w;
    const struct cfg *cfg = w->cfg;
    long long admins = 0;

    (void)args;
    admin_columns(r, cols, (int)(sizeof(cols) / sizeof(cols[0])));
    for (size_t i = 0; i < cfg->n_clusters; i++) {
        const struct cfg_cluster *cl = &cfg->clusters[i];
        int primary = nodes_primary(w->nodes, cl);
        const struct node *pn = primary >= 0 ? &w->nodes->n[primary] : NULL;
        long long servers = 0, clients = 0;

        for (const struct pool *p = w->pools; p != NULL; p = p->next)
            if (strcmp(w->nodes->n[p->node_id].cluster, cl->name) == 0)
                servers += p->n_idle + p->n_used + p->n_connecting;
        for (const struct session *t = w->sessions; t != NULL; t = t->next)
            if (t->admin == NULL && t->cluster != NULL && adminshow_client(t) &&
                strcmp(t->cluster->name, cl->name) == 0)
                clients++;
        admin_cell_text(r, cl->name);
        admin_cell_text(r, pn != NULL ? pn->host : cl->primary.host);
        admin_cell_int(r, pn != NULL ? pn->port : cl->primary.port);
        admin_cell_text(r, NULL);   /* the client's own database name */
        admin_cell_text(r, NULL);
        admin_cell_int(r, cfg->default_pool_size);
        admin_cell_int(r, cfg->min_pool_size);
        admin_cell_int(r, cfg->reserve_pool_size);
        admin_cell_int(r, cfg->server_lifetime_ms / 1000);
        admin_cell_text(r, adminshow_pool_mode(cfg));
        admin_cell_text(r, NULL);
        admin_cell_int(r, cfg->max_db_connections);
        admin_cell_int(r, servers);
        admin_cell_int(r, 0);
        admin_cell_int(r, clients);
        admin_cell_int(r, pause_active(w, ""));
        admin_cell_int(r, 0);
        admin_cell_int(r, (long long)cl->n_replicas);
        admin_cell_text(r, cl->load_balance >= 0 && cl->load_balance < 5
                        ? lb[cl->load_balance] : "?");
        admin_cell_text(r, cl->primary_reads >= 0 && cl->primary_reads < 3
                        ? reads[cl->primary_reads] : "?");
        admin_row_end(r);
    }
    for (const struct session *t = w->sessions; t != NULL; t = t->next)
        admins += t->admin != NULL && adminshow_client(t);
    /* The console itself, as PgBouncer lists its own database. */
    admin_cell_text(r, "pgrouter");
    admin_cell_text(r, NULL);
    admin_cell_int(r, cfg->listen_port);
    admin_cell_text(r, "pgrouter");
    admin_cell_text(r, NULL);
    for (int i = 0; i < 4; i++)
        admin_cell_int(r, 0);
    admin_cell_text(r, "statement");
    admin_cell_text(r, NULL);
    admin_cell_int(r, 0);
    admin_cell_int(r, 0);
    admin_cell_int(r, 0);
    admin_cell_int(r, admins);
    admin_cell_int(r, 0);
    admin_cell_int(r, 0);
    admin_cell_int(r, 0);
    admin_cell_text(r, NULL);
    admin_cell_text(r, NULL);
    admin_row_end(r);
    admin_done(r, "SHOW");
    return ADMIN_DONE;
}

static void adminshow_list_row(struct admin_reply *r, const char *list, long long items)
{
    admin_cell_text(r, list);
    admin_cell_int(r, items);
    admin_row_end(r);
}

static enum admin_rc adminshow_lists(struct session *s, struct admin_reply *r,
                                     const char *args)
{
    static const struct admin_col cols[] = { { "list", ADMIN_TEXT }, { "items", ADMIN_INT4 } };
    struct worker *w = s->w;
    long long pools = 0, servers = 0, clients = 0, login = 0;

    (void)args;
    for (const struct pool *p = w->pools; p != NULL; p = p->next) {
        pools++;
        servers += p->n_idle + p->n_used + p->n_connecting;
    }
    for (const struct session *t = w->sessions; t != NULL; t = t->next) {
        clients += adminshow_client(t);
        login += t->state == SESSION_STARTUP || t->state == SESSION_AUTH ||
                 t->state == SESSION_CONNECT;
    }
    admin_columns(r, cols, 2);
    adminshow_list_row(r, "databases", (long long)w->cfg->n_clusters + 1);
    adminshow_list_row(r, "users", (long long)w->cfg->n_users);
    adminshow_list_row(r, "pools", pools);
    adminshow_list_row(r, "free_clients", 0);
    adminshow_list_row(r, "used_clients", clients);
    adminshow_list_row(r, "login_clients", login);
    adminshow_list_row(r, "free_servers", 0);
    adminshow_list_row(r, "used_servers", servers);
    adminshow_list_row(r, "dns_names", 0);
    adminshow_list_row(r, "dns_zones", 0);
    adminshow_list_row(r, "dns_queries", 0);
    adminshow_list_row(r, "dns_pending", 0);
    adminshow_list_row(r, "nodes", w->nodes->count);      /* pgrouter's own */
    adminshow_list_row(r, "pending_logins", w->authlimit->pending);
    admin_done(r, "SHOW");
    return ADMIN_DONE;
}

/* ---- SHOW CONFIG, SHOW VERSION, SHOW HELP ---- */

static enum admin_rc adminshow_config(struct session *s, struct admin_reply *r,
                                      const char *args)
{
    static const struct admin_col cols[] = {
        { "key", ADMIN_TEXT }, { "value", ADMIN_TEXT }, { "default", ADMIN_TEXT },
        { "changeable", ADMIN_TEXT }, { "section", ADMIN_TEXT },
    };
    struct cfg *defaults = cfgshow_defaults();
    char value[512], def[512];
    const char *section;
    const char *key;

    (void)args;
    if (defaults == NULL) {
        admin_error(r, "53200", "pgrouter: out of memory");
        return ADMIN_DONE;
    }
    admin_columns(r, cols, 5);
    for (size_t i = 0; (key = cfgshow_key(i, &section)) != NULL; i++) {
        if (key[0] == '\0')
            continue;   /* a key of [cluster.NAME]: SHOW DATABASES has them */
        cfgshow_value(s->w->cfg, i, value, sizeof(value));
        cfgshow_value(defaults, i, def, sizeof(def));
        admin_cell_text(r, key);
        admin_cell_text(r, value);
        admin_cell_text(r, def);
        admin_cell_text(r, cfgshow_changeable(i) ? "yes" : "no");
        admin_cell_text(r, section);
        admin_row_end(r);
    }
    cfg_unref(defaults);
    admin_done(r, "SHOW");
    return ADMIN_DONE;
}

static enum admin_rc adminshow_version(struct session *s, struct admin_reply *r,
                                       const char *args)
{
    static const struct admin_col cols[] = { { "version", ADMIN_TEXT } };

    (void)s;
    (void)args;
    admin_columns(r, cols, 1);
    admin_cell_text(r, "pgrouter " PGROUTER_VERSION);
    admin_row_end(r);
    admin_done(r, "SHOW");
    return ADMIN_DONE;
}

/* Every command of every table, with who may run it. */
static enum admin_rc adminshow_help(struct session *s, struct admin_reply *r,
                                    const char *args)
{
    static const struct admin_col cols[] = {
        { "command", ADMIN_TEXT }, { "users", ADMIN_TEXT }, { "description", ADMIN_TEXT },
    };
    const struct admin_cmd *const tables[] = {
        adminshow_cmds, adminstats_cmds, adminnode_cmds, admincmd_cmds,
    };

    (void)s;
    (void)args;
    admin_columns(r, cols, 3);
    for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        for (const struct admin_cmd *c = tables[i]; c->words != NULL; c++) {
            admin_cell_text(r, c->words);
            admin_cell_text(r, c->stats_ok ? "admin, stats" : "admin");
            admin_cell_text(r, c->help != NULL ? c->help : "");
            admin_row_end(r);
        }
    }
    admin_done(r, "SHOW");
    return ADMIN_DONE;
}

const struct admin_cmd adminshow_cmds[] = {
    { "SHOW HELP", 1, adminshow_help, "this list" },
    { "SHOW VERSION", 1, adminshow_version, "pgrouter's version" },
    { "SHOW CONFIG", 1, adminshow_config,
      "every setting: value, default, whether RELOAD can change it" },
    { "SHOW DATABASES", 1, adminshow_databases,
      "one row per cluster (its acting primary, pool limits, connections), and the console" },
    { "SHOW POOLS", 1, adminshow_pools,
      "one row per pool (node, database, user): clients active and waiting, servers by state" },
    { "SHOW CLIENTS", 1, adminshow_clients, "one row per client connection" },
    { "SHOW SERVERS", 1, adminshow_servers,
      "one row per open server connection (active or idle)" },
    { "SHOW LISTS", 1, adminshow_lists, "counts of databases, users, pools, clients, servers" },
    { NULL, 0, NULL, NULL },
};
