/*
 * router/lifecycle.c - reload and shutdown of a running worker. Signal handlers (main.c)
 * and the admin console (admincmd.c) call these; nothing here reads a signal itself.
 */
#include "router/lifecycle.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router/listener.h"
#include "router/borrow.h"
#include "router/log.h"
#include "router/session.h"

/* Hand msg to the caller as a malloc'd copy, if it asked for one. */
static void lifecycle_set_error(char **errors, const char *msg)
{
    if (errors != NULL)
        *errors = strdup(msg);
}

int lifecycle_reload(struct worker *w, char **errors)
{
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
    if (strcmp(fresh->listen_addr, w->cfg->listen_addr) != 0 ||
        fresh->listen_port != w->cfg->listen_port)
        log_warn("reload: listen_addr/listen_port changes need a restart");
    if (routing_load(&w->routing, fresh) < 0) {
        log_error("reload failed (out of memory), keeping the running configuration");
        lifecycle_set_error(errors, "out of memory\n");
        cfg_unref(fresh);
        return -ENOMEM;
    }
    if (nodes_sync(&w->nodes, w->loop, fresh) < 0) {
        char msg[96];

        log_error("reload failed: too many nodes (at most %d)", NODES_MAX);
        snprintf(msg, sizeof(msg), "%s: too many nodes (at most %d)\n", fresh->path,
                 NODES_MAX);
        lifecycle_set_error(errors, msg);
        nodes_sync(&w->nodes, w->loop, w->cfg);
        routing_load(&w->routing, w->cfg);
        cfg_unref(fresh);
        return -E2BIG;
    }
    catalog_invalidate(&w->catalog);
    /* verbose, logfile (reopened: a rotated file is let go) and syslog take effect now */
    rc = log_reload(fresh);
    if (rc < 0)
        log_warn("reload: cannot open logfile %s: %s; the log stays where it was",
                 fresh->logfile, strerror(-rc));
    /* New clients get the new snapshot; connected ones keep theirs. */
    cfg_unref(w->cfg);
    w->cfg = fresh;
    log_info("configuration reloaded from %s", fresh->path);
    return 0;
}

void lifecycle_adopt(struct session *s)
{
    struct cfg *fresh = s->w->cfg;
    const struct cfg_cluster *cl;

    if (s->cfg == fresh || s->state != SESSION_IDLE || s->pinned != 0 || s->unit.open ||
        s->unit.pending || s->deferred_begin != NULL || borrow_pinned_tx(s) != NULL)
        return;
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
}

void lifecycle_shutdown(struct worker *w, int fast)
{
    if (fast)
        log_info("SIGINT: closing %u clients and exiting", w->n_clients);
    else
        log_info("SIGTERM: no new clients; exiting when the %u connected ones leave",
                 w->n_clients);
    w->draining = 1;
    if (w->listening)
        listener_stop(w);
    if (fast)
        session_close_all(w);
    if (w->sessions == NULL)
        uv_stop(w->loop);
}
