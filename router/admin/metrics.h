/*
 * router/admin/metrics.h - the Prometheus endpoint of a worker: what it exports (clients, pools,
 * nodes, breakers, health, lag, waits, and the counters of stats.h) and the HTTP server
 * (http.c) on stats_listen_addr:stats_listen_port that serves it at /metrics.
 */
#ifndef PGROUTER_METRICS_H
#define PGROUTER_METRICS_H

#include <stddef.h>

#include "config/cfg.h"

struct worker;

/*
 * The exposition of w as it is now (text format 0.0.4): a malloc'd buffer the caller frees,
 * its length in *len; NULL when out of memory. Runs on w's loop.
 */
char *metrics_render(struct worker *w, size_t *len);

/*
 * Serve /metrics on w->cfg's stats_listen_addr:stats_listen_port (nothing when the port
 * is 0). Returns 0, or a negative error when the address cannot be served (logged).
 */
int metrics_start(struct worker *w);

/*
 * A reload is about to make fresh w's snapshot: if the endpoint's address or port changed,
 * the old listener closes (scrapes in progress on it finish) and the new one opens; port 0
 * turns the endpoint off. If the new address cannot be served, that is logged and the
 * endpoint stays off until a later reload fixes it; the reload itself goes on.
 */
void metrics_reload(struct worker *w, const struct cfg *fresh);

/*
 * Online restart: the new process serves the metrics from now on. Stop listening (scrapes
 * already accepted finish) so that it can bind the port once this process said BYE.
 */
void metrics_handover(struct worker *w);

/* Close the endpoint and its connections (shutdown); the loop finishes closing them. */
void metrics_stop(struct worker *w);

#endif
