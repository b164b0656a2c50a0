/*
 * router/core/workers.h - workers = N: worker 0 is the main thread's loop (signals, the
 * listener, metrics, online restart, health checks); workers 1..N-1 are threads with a
 * loop, sessions and pools of their own. Worker 0 accepts every client and hands the
 * socket to a worker in turn; the workers talk only through messages (an inbox under a
 * lock and a uv_async_t), never by touching each other's sessions or pools.
 */
#ifndef PGROUTER_WORKERS_H
#define PGROUTER_WORKERS_H

#include <stdint.h>

#include "router/core/lifecycle.h"
#include "router/worker.h"

/*
 * Make w0 (set up by main: loop, cfg, routing, TLS) worker 0 of n, and start workers
 * 1..n-1 as threads, each with a copy of what w0 set up. 0, or a negative errno (logged;
 * threads started already are told to stop).
 */
int workers_start(struct worker *w0, unsigned n);

/* Worker 0: serve the client on fd, here or on the next worker in turn. 0 or an error. */
int workers_accept(struct worker *w0, int fd);

/* The worker that handed out cancel_pid (session_cancel_key encodes it). */
unsigned workers_cancel_owner(const struct worker *w, uint32_t cancel_pid);

/* Make a raw random cancel pid one that workers_cancel_owner maps to w; 0 = try again. */
uint32_t workers_cancel_pid(const struct worker *w, uint32_t raw);

/* Forward a cancel request for (pid, key) to worker owner (session_cancel_run there). */
void workers_cancel(struct worker *w, unsigned owner, uint32_t pid, uint32_t key);

/* Worker 0 reloaded: every other worker takes the new snapshot and TLS contexts. */
void workers_reloaded(struct worker *w0);

/* A worker other than 0 asks worker 0 to reload (the console's RELOAD there). */
void workers_reload_request(struct worker *w);

/* w is short of a unit of slot: the other workers close an idle server of it (pool_shed). */
void workers_budget_wanted(struct worker *w, struct budget_slot *slot);

/* A wanted unit was given back: the other workers' waiters try again (pool_retry). */
void workers_budget_freed(struct worker *w);

/* Every worker but w stops as lifecycle_shutdown says (lifecycle_shutdown_here). */
void workers_stop(struct worker *w, enum lifecycle_stop how);

/*
 * Worker 0's loop ended: run it on until every thread finished (signals still work),
 * join them and free them. No-op with one worker.
 */
void workers_join(struct worker *w0);

/*
 * Free what a worker holds once its loop has stopped: its pools, cached secrets, catalog,
 * routing tables, TLS contexts and config reference. Every worker's last step, worker 0's too.
 */
void workers_free_state(struct worker *w);

#endif
