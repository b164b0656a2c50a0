/*
 * router/pool/pool.h - server connection pools, one per (node, database, user): idle servers,
 * connections being opened, and clients waiting in arrival order; the limits and timers
 * of PgBouncer's pool settings. A pool owns its servers; a session borrows one for a unit
 * of work (transaction mode) or for its whole life (session mode) and gives it back.
 */
#ifndef PGROUTER_POOL_H
#define PGROUTER_POOL_H

#include <stdint.h>
#include <uv.h>

#include "config/cfg.h"
#include "router/pool/backend.h"
#include "router/pool/pqloop.h"
#include "router/admin/stats.h"

/* How long a pool answers new clients with the login error its server gave (not retried). */
#define POOL_LOGIN_ERROR_MS 3000

struct worker;
struct pool;
struct budget_slot;
struct passthru;

struct pool_waiter;
/*
 * A server for the waiter (be != NULL), or the reason there will be none: err, a one-line
 * message (the server's own for a login error), with wt->sqlstate and wt->node_down set;
 * or neither (query_wait_timeout).
 */
typedef void (*pool_done_fn)(struct pool_waiter *wt, struct backend *be, const char *err);

struct pool_waiter {
    struct pool_waiter *next;
    struct pool *pool;          /* non-NULL while queued */
    uint64_t since_ms;
    uint64_t since_us;          /* the same, stats_now_us(), for total_wait_time */
    pool_done_fn done;
    void *arg;
    char sqlstate[6];           /* with err: the server's SQLSTATE, or pgrouter's */
    int node_down;              /* with err: the node failed (else: this database/user) */
};

struct pool_param {
    char *name;
    char *value;
};

#define POOL_WAIT_BUCKETS 22      /* < 1 ms, then [2^(i-1), 2^i) ms up to about 35 min */

struct pool {
    struct pool *next;
    struct worker *w;
    char host[256];
    uint16_t port;
    char node[280];             /* "host:port" */
    int node_id;                /* in the worker's node table */
    struct budget_slot *budget;     /* servers of (node, db, user) over every worker... */
    struct budget_slot *budget_db;  /* ...and of (node, db): max_db_connections (shared.h) */
    char db[64];
    char user[64];
    char *password;             /* plain password for the server, or NULL */
    struct passthru *pt;        /* without one: the secret and key its clients brought */
    struct backend *idle;       /* idle servers, most recently used first */
    struct backend *connecting; /* servers being opened (pool_open until ready fires) */
    unsigned n_idle, n_used, n_connecting;
    struct pool_waiter *wait_head, *wait_tail;
    unsigned n_waiting;
    struct pool_param *params;  /* ParameterStatus of a fresh server */
    size_t n_params;
    uint64_t n_served;          /* units of work served (for SHOW POOLS / stats) */
    struct stats_pool stats;    /* SHOW STATS counters (stats.h) */
    uint64_t waits[POOL_WAIT_BUCKETS];  /* borrows by time spent waiting (0: none) */
    uint64_t wait_max_ms;
    uint64_t n_wait_timeouts;   /* waiters failed by query_wait_timeout */
    int start_error;            /* the last connection could not even start (-errno), 0 */
    char err[160];              /* text handed to waiters failed by this pool */
    struct pqloop_error login_err;  /* the server refused this database/user... */
    uint64_t login_err_until_ms;    /* ...and new waiters get that answer until then */
    uv_timer_t login_error_timer;   /* fails such waiters from the loop (set up on use) */
    int login_error_live;
    uint32_t gen;               /* RECONNECT count: a server of an older one is closed
                                 * when given back (backend.gen) */
    unsigned n_old;             /* borrowed servers of an older generation */
    uint64_t resumed_ms;        /* the last RESUME: query_wait_timeout counts from there */
};

/*
 * The pool for (node id, db, user), created on first use. password: the plain password to
 * log in with (copied), or NULL. Returns NULL when out of memory.
 */
struct pool *pool_get(struct worker *w, int node_id, const char *db, const char *user,
                      const char *password);

/*
 * A client of p logged in with pass-through credentials (passthru.h): p opens its servers
 * with the newest ones when it has no plain password. 0 or -ENOMEM.
 */
int pool_passthru(struct pool *p, const struct passthru *pt);

/* An idle server, detached from the pool's idle list, or NULL if none or while p's
 * database is paused (pause.h). */
struct backend *pool_take(struct pool *p, uint64_t now_ms);

/*
 * Queue wt (FIFO) for a server of p and open a new connection if the limits allow.
 * wt->done fires later (never from inside this call). 0 or -ENOMEM.
 */
int pool_wait(struct pool *p, struct pool_waiter *wt, uint64_t now_ms);

/* Leave the queue (client gone or unit cancelled). */
void pool_unwait(struct pool_waiter *wt);

/*
 * Give be back. reset: run server_reset_query before anyone else gets it. A server in a
 * transaction, with pending work or past server_lifetime is closed instead.
 */
void pool_release(struct backend *be, int reset);

/* Close a broken server (or one a session can no longer use). */
void pool_discard(struct backend *be);

/*
 * What a backend of p reports (struct backend_pool_ops; backend.c reaches them only through
 * be->pool_ops, the unit tests call them directly). ready: the connection attempt finished;
 * err == NULL: connected. Otherwise every waiter gets err; only a node fault counts against
 * the node's breaker, and a login error is kept POOL_LOGIN_ERROR_MS for the next waiters.
 * lost: an idle server went away. closed: every handle closed, be is freed.
 */
void pool_server_ready(struct backend *be, const struct pqloop_error *err);
void pool_server_lost(struct backend *be, const char *why);
void pool_server_closed(struct backend *be);

/*
 * Once a second: idle and lifetime limits, min_pool_size, query_wait_timeout, and waiters
 * not covered by a connection being opened (a connection that could not start is tried
 * again here; if it fails again, those waiters get the error).
 */
void pool_maintain(struct worker *w, uint64_t now_ms);

/*
 * Log how long borrows waited for a server, over every pool of w: count, how many waited,
 * p50/p99 (bucket upper bounds) and the maximum, and query_wait_timeout failures.
 */
void pool_log_waits(struct worker *w);

/*
 * workers = N: another worker waits for a unit of slot: close one idle server of w's that
 * holds one (pool_retry runs on the waiting workers then).
 */
void pool_shed(struct worker *w, const struct budget_slot *slot);

/* workers = N: budget was freed elsewhere: w's waiters try to open servers again. */
void pool_retry(struct worker *w);

/*
 * Close every idle server and every connection still being opened (exit: nothing is left
 * that could finish later and keep the loop running).
 */
void pool_close_all(struct worker *w);

/* Close p's idle servers (PAUSE once every server came back). */
void pool_close_idle(struct pool *p);

/*
 * RECONNECT: the servers p has now are closed when given back (idle ones at once); those
 * connecting are taken as new. pool_close_needed tells a server to be closed so.
 */
void pool_reconnect(struct pool *p);
int pool_close_needed(const struct backend *be);

/* p's database was resumed: idle servers go to its waiters, connections are opened for
 * the others, and their query_wait_timeout counts from now. */
void pool_resume(struct pool *p, uint64_t now_ms);

/* Free the pools themselves (after the loop finished closing their servers). */
void pool_free_all(struct worker *w);

#endif
