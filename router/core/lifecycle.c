/*
 * router/core/lifecycle.c - reload and shutdown of a running worker. Signal handlers (main.c)
 * and the admin console (admincmd.c) call these; nothing here reads a signal itself.
 */
#include "router/core/lifecycle.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router/auth/authq.h"
#include "router/session/borrow.h"
#include "router/net/listener.h"
#include "router/core/connlog.h"
#include "router/net/fdlimit.h"
#include "router/core/log.h"
#include "router/core/workers.h"
#include "router/admin/metrics.h"
#include "router/session/session.h"
#include "router/net/tls.h"

static void lifecycle_closed(uv_handle_t *h)
{
    free(h->data);
}

/* Hand msg to the caller as a malloc'd copy, if it asked for one. */
static void lifecycle_set_error(char **errors, const char *msg)
{
    if (errors != NULL)
        *errors = strdup(msg);
}

int lifecycle_load_tls(struct worker *w, const struct cfg *c, char *err, size_t errlen)
{
    struct tls_ctx *cl = NULL, *sv = NULL;

    if (tls_ctx_for_clients(c, &cl, err, errlen) < 0)
        return -EINVAL;
    if (tls_ctx_for_servers(c, &sv, err, errlen) < 0) {
        tls_ctx_unref(cl);
        return -EINVAL;
    }
    /* Connections hold their own references: they keep the context they started with. */
    tls_ctx_unref(w->client_tls);
    tls_ctx_unref(w->server_tls);
    w->client_tls = cl;
    w->server_tls = sv;
    return 0;
}

void lifecycle_log_warnings(const struct cfg *c)
{
    const char *p = c->warnings, *nl;

    while (p != NULL && (nl = strchr(p, '\n')) != NULL) {
        log_warn("%.*s", (int)(nl - p), p);
        p = nl + 1;
    }
}

int lifecycle_reload(struct worker *w, char **errors)
{
    char tls_err[512];
    struct cfg *fresh = NULL;
    char *text = NULL;
    int rc;

    if (errors != NULL)
        *errors = NULL;
    if (cfg_load(w->cfg->path, &fresh, &text) < 0) {
        log_error("reload failed, keeping the running configuration:\n%s",
                  text != NULL ? text : "out of memory");
        if (errors != NULL)
            *errors = text;
        else
            free(text);
        return -EINVAL;
    }
    /* Certificates and keys are read again on every reload; a bad one keeps the old. */
    if (lifecycle_load_tls(w, fresh, tls_err, sizeof(tls_err)) < 0) {
        char msg[600];

        log_error("reload failed, keeping the running configuration and certificates: %s",
                  tls_err);
        snprintf(msg, sizeof(msg), "%s: %s\n", fresh->path, tls_err);
        lifecycle_set_error(errors, msg);
        cfg_unref(fresh);
        return -EINVAL;
    }
    if (w->index != 0) {
        /* Nodes, health checks, metrics and the log belong to worker 0: it reloads (the
         * file was valid just now) and tells every worker, this one too. */
        cfg_unref(fresh);
        workers_reload_request(w);
        return 0;
    }
    lifecycle_log_warnings(fresh);
    if (fresh->workers != (int)w->shared->n_workers)
        log_warn("reload: workers = %d needs a restart; %u workers go on running",
                 fresh->workers, w->shared->n_workers);
    if (strcmp(fresh->listen_addr, w->cfg->listen_addr) != 0 ||
        fresh->listen_port != w->cfg->listen_port)
        log_warn("reload: listen_addr/listen_port changes need a restart");
    if (routing_load(&w->routing, fresh) < 0) {
        log_error("reload failed (out of memory), keeping the running configuration");
        lifecycle_set_error(errors, "out of memory\n");
        cfg_unref(fresh);
        return -ENOMEM;
    }
    if (nodes_sync(w->nodes, w->loop, fresh) < 0) {
        char msg[96];

        log_error("reload failed: too many nodes (at most %d)", NODES_MAX);
        snprintf(msg, sizeof(msg), "%s: too many nodes (at most %d)\n", fresh->path,
                 NODES_MAX);
        lifecycle_set_error(errors, msg);
        nodes_sync(w->nodes, w->loop, w->cfg);
        routing_load(&w->routing, w->cfg);
        cfg_unref(fresh);
        return -E2BIG;
    }
    catalog_invalidate(&w->catalog);
    authq_invalidate(w);
    metrics_reload(w, fresh);
    /* verbose, logfile (reopened: a rotated file is let go) and syslog take effect now */
    rc = log_reload(fresh);
    if (rc < 0)
        log_warn("reload: cannot open logfile %s: %s; the log stays where it was",
                 fresh->logfile, strerror(-rc));
    /* New clients get the new snapshot; connected ones move at a unit boundary. */
    shared_set_cfg(w->shared, cfg_ref(fresh));
    cfg_unref(w->cfg);
    w->cfg = fresh;
    fdlimit_check(fresh, "reload");     /* a larger max_client_conn may need more */
    workers_reloaded(w);
    log_info("configuration reloaded from %s", fresh->path);
    return 0;
}

/* What a shutdown in progress remembers; the drain timer checks on it. */
struct lifecycle {
    struct worker *w;
    enum lifecycle_stop how;
    uint64_t deadline_ms;       /* shutdown_timeout ends here; 0 = no limit (or passed) */
    uv_timer_t drain;
};

#define LIFECYCLE_TICK_MS 100

/* Not in a transaction and no unit on its way: a graceful shutdown may close it now. */
static int lifecycle_idle(struct session *s)
{
    switch (s->state) {
    case SESSION_STARTUP:
    case SESSION_AUTH:
    case SESSION_CONNECT:
        return 1;
    case SESSION_IDLE:
        return s->wait == SESSION_RUN && !s->unit.open && !s->unit.pending &&
               s->deferred_begin == NULL && borrow_pinned_tx(s) == NULL;
    case SESSION_IN_TX:
    case SESSION_CLOSING:
        return 0;
    }
    return 0;
}

static void lifecycle_terminate(struct session *s)
{
    connlog_why(s, "pgrouter shutting down");
    session_fatal(s, "57P01", NULL, "terminating connection due to administrator command");
}

int lifecycle_unit_boundary(struct session *s)
{
    struct cfg *fresh = s->w->cfg;
    const struct cfg_cluster *cl;

    if (s->w->life != NULL && s->w->life->how == LIFECYCLE_GRACEFUL && lifecycle_idle(s)) {
        lifecycle_terminate(s);
        return -1;
    }
    if (s->cfg == fresh || s->state != SESSION_IDLE || s->pinned != 0 || s->unit.open ||
        s->unit.pending || s->deferred_begin != NULL || borrow_pinned_tx(s) != NULL)
        return 0;
    /* Cluster pointers lead into the old snapshot: the same names in the new one. */
    cl = s->cluster != NULL ? cfg_find_cluster(fresh, s->cluster->name) : NULL;
    s->cluster = cl != NULL ? cl : fresh->default_cluster;
    if (s->ryw_cluster != NULL) {
        s->ryw_cluster = cfg_find_cluster(fresh, s->ryw_cluster->name);
        if (s->ryw_cluster == NULL)
            s->ryw_until_ms = s->ryw_after_ms = 0;
    }
    cfg_unref(s->cfg);
    s->cfg = cfg_ref(fresh);
    log_debug("%s: now on the reloaded configuration", s->tag);
    return 0;
}

/* Every 100 ms while stopping: idle clients (graceful), then shutdown_timeout. */
static void lifecycle_drain_cb(uv_timer_t *t)
{
    struct lifecycle *lc = t->data;
    struct worker *w = lc->w;
    struct session *s, *next;

    if (lc->how == LIFECYCLE_GRACEFUL) {
        for (s = w->sessions; s != NULL; s = next) {
            next = s->next;
            if (lifecycle_idle(s))
                lifecycle_terminate(s);
        }
    }
    if (lc->deadline_ms != 0 && uv_now(w->loop) >= lc->deadline_ms && w->sessions != NULL) {
        log_warn("shutdown_timeout (%u ms) reached: closing the %u clients still connected",
                 w->cfg->shutdown_timeout_ms, w->n_clients);
        lc->deadline_ms = 0;
        session_close_all(w);
    }
}

static const char *lifecycle_name(enum lifecycle_stop how)
{
    switch (how) {
    case LIFECYCLE_GRACEFUL:
        return "shutdown";
    case LIFECYCLE_FAST:
        return "fast shutdown";
    case LIFECYCLE_HANDOVER:
        return "handover";
    }
    return "?";
}

void lifecycle_shutdown(struct worker *w, enum lifecycle_stop how)
{
    workers_stop(w, how);
    lifecycle_shutdown_here(w, how);
}

void lifecycle_shutdown_here(struct worker *w, enum lifecycle_stop how)
{
    struct lifecycle *lc = w->life;
    unsigned limit = w->cfg->shutdown_timeout_ms;

    if (lc != NULL) {
        /* Escalate only: fast beats graceful beats handover. */
        if (how == lc->how || how == LIFECYCLE_HANDOVER || lc->how == LIFECYCLE_FAST)
            return;
        log_info("%s during a %s", lifecycle_name(how), lifecycle_name(lc->how));
    } else {
        lc = calloc(1, sizeof(*lc));
        if (lc == NULL || uv_timer_init(w->loop, &lc->drain) < 0) {
            /* Without a timer: the fast way, which needs none. */
            free(lc);
            lc = NULL;
            how = LIFECYCLE_FAST;
        } else {
            lc->w = w;
            lc->drain.data = lc;
            if (limit > 0)
                lc->deadline_ms = uv_now(w->loop) + limit;
            w->life = lc;
        }
    }
    if (lc != NULL) {
        lc->how = how;
        uv_timer_start(&lc->drain, lifecycle_drain_cb, 0, LIFECYCLE_TICK_MS);
    }
    switch (how) {
    case LIFECYCLE_FAST:
        log_info("fast shutdown: closing %u clients and exiting", w->n_clients);
        break;
    case LIFECYCLE_GRACEFUL:
        log_info("shutting down: no new clients; idle clients are closed, transactions may "
                 "finish within shutdown_timeout (%u ms), %u clients connected", limit,
                 w->n_clients);
        break;
    case LIFECYCLE_HANDOVER:
        log_info("handed over: a new process accepts clients now; serving the %u connected "
                 "ones until they leave (shutdown_timeout %u ms)", w->n_clients, limit);
        break;
    }
    w->draining = how == LIFECYCLE_HANDOVER ? WORKER_DRAIN_HANDOVER : WORKER_DRAIN_SHUTDOWN;
    if (w->listening)
        listener_stop(w);
    if (how == LIFECYCLE_HANDOVER)
        metrics_handover(w);
    if (how == LIFECYCLE_FAST)
        session_close_all(w);
    if (w->sessions == NULL)
        uv_stop(w->loop);
}

void lifecycle_close(struct worker *w)
{
    if (w->life == NULL)
        return;
    uv_close((uv_handle_t *)&w->life->drain, lifecycle_closed);
    w->life = NULL;
}
