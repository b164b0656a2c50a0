/*
 * router/lifecycle.h - what changes a running pgrouter as a whole: reloading the
 * configuration (SIGHUP, the console's RELOAD) and shutting down (SIGTERM, SIGINT,
 * the console's SHUTDOWN).
 */
#ifndef PGROUTER_LIFECYCLE_H
#define PGROUTER_LIFECYCLE_H

#include "router/worker.h"

/*
 * Load w->cfg->path again and, if it is valid, make it the snapshot new sessions start
 * with (routing, nodes and catalog follow it). On failure the running configuration
 * stays, the failure is logged, and *errors (if errors is not NULL) gets a malloc'd text
 * of one or more lines ("file:line: message\n") that the caller frees; it may be left
 * NULL when out of memory. Returns 0 or a negative errno-style code.
 */
int lifecycle_reload(struct worker *w, char **errors);

/*
 * Move a connected client to the worker's current snapshot (w->cfg) if a reload replaced
 * the one it runs on, at a unit boundary: called before its next unit's first message.
 * Only a client that holds no server in a transaction and none pinned (session mode, SQL
 * PREPARE, temp tables...) moves; the others try again at their next unit. Its SET state,
 * prepared statements, tenant and role go with it: none of them belongs to a snapshot.
 */
struct session;
void lifecycle_adopt(struct session *s);

/*
 * Stop accepting and exit once the connected clients have left. fast = 0 (SIGTERM,
 * SHUTDOWN): connected clients go on; fast = 1 (SIGINT): every client is closed now.
 * Calling it again (e.g. SIGINT after SIGTERM) is allowed.
 */
void lifecycle_shutdown(struct worker *w, int fast);

#endif
