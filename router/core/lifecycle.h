/*
 * router/core/lifecycle.h - what changes a running pgrouter as a whole: reloading the
 * configuration (SIGHUP, the console's RELOAD) and shutting down (SIGTERM, SIGINT,
 * the console's SHUTDOWN).
 */
#ifndef PGROUTER_LIFECYCLE_H
#define PGROUTER_LIFECYCLE_H

#include "router/worker.h"

/*
 * Load w->cfg->path again and, if it is valid, make it the snapshot new sessions start
 * with (routing, nodes and catalog follow it), on every worker: a worker other than 0
 * checks the file and asks worker 0, which reloads and tells the others. On failure the running configuration
 * stays, the failure is logged, and *errors (if errors is not NULL) gets a malloc'd text
 * of one or more lines ("file:line: message\n") that the caller frees; it may be left
 * NULL when out of memory. Returns 0 or a negative errno-style code.
 */
int lifecycle_reload(struct worker *w, char **errors);

/*
 * Build the TLS contexts of c (client_tls_*, server_tls_*: files read now) and make them
 * w's, dropping w's old ones (connections keep theirs). At start-up and on every reload.
 * On failure w keeps its contexts and err gets "key: reason". 0 or -EINVAL.
 */
int lifecycle_load_tls(struct worker *w, const struct cfg *c, char *err, size_t errlen);

/* Log each line of c->warnings (files holding passwords that others may read) at WARNING. */
void lifecycle_log_warnings(const struct cfg *c);

/* How lifecycle_shutdown ends the worker. */
enum lifecycle_stop {
    LIFECYCLE_GRACEFUL = 0,     /* SIGTERM, SHUTDOWN: idle clients get FATAL 57P01 now, the
                                 * others at the end of their transaction; shutdown_timeout
                                 * bounds the wait */
    LIFECYCLE_FAST = 1,         /* SIGINT: every client gets FATAL 57P01 now */
    LIFECYCLE_HANDOVER = 2,     /* online restart: another process accepts from now on; the
                                 * clients here are served until they leave, or until
                                 * shutdown_timeout */
};

struct session;

/*
 * At a unit boundary of s (called before the first message of its next unit): if a reload
 * replaced the snapshot s runs on, move it to w->cfg, provided it holds no server in a
 * transaction and none pinned (session mode, SQL PREPARE, temp tables...); the others try
 * again at their next unit. Its SET state, prepared statements, tenant and role go with
 * it: none of them belongs to a snapshot. During a graceful shutdown an idle client is
 * closed here with FATAL 57P01 instead. Returns 0 (go on) or -1 (s is closing).
 */
int lifecycle_unit_boundary(struct session *s);

/*
 * Stop accepting and exit (uv_stop) once the last client has left, on every worker.
 * Calling it again is allowed: SIGINT after SIGTERM closes everyone; SIGTERM after a
 * handover closes idle clients; anything else is ignored.
 */
void lifecycle_shutdown(struct worker *w, enum lifecycle_stop how);

/* The same for w alone (a worker told by another: workers.c). */
void lifecycle_shutdown_here(struct worker *w, enum lifecycle_stop how);

/* At exit, after the loop stopped: close the drain timer (run the loop once more). */
void lifecycle_close(struct worker *w);

#endif
