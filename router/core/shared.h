/*
 * router/core/shared.h - what every worker of the process shares: the current
 * configuration snapshot, the node table (breakers, health, role, lag), the login limits,
 * and the server budget that keeps default_pool_size and max_db_connections per process.
 * Each field says how it is protected; a worker reaches it through worker.shared.
 */
#ifndef PGROUTER_SHARED_H
#define PGROUTER_SHARED_H

#include <pthread.h>

#include "config/cfg.h"
#include "router/auth/authlimit.h"
#include "router/cluster/nodes.h"

/*
 * Servers open (or being opened) across every worker for one pool key: (node, database,
 * user), or (node, database) with user "" for max_db_connections. A worker takes a unit
 * before it opens a server and gives it back when it closes one, so the limits bound the
 * process, not each worker.
 */
struct budget_slot {
    struct budget_slot *next;       /* written once, under budget.lock */
    char node[280];                 /* "host:port" */
    char db[64];
    char user[64];                  /* "" for the database's slot */
    unsigned n;                     /* atomic: __atomic_* only */
    unsigned wanted;                /* atomic: 1 while a worker waits for a unit of it (the
                                     * others close idle servers of it: pool_shed) */
};

struct budget {
    pthread_mutex_t lock;           /* guards the list (slots are never freed before exit) */
    struct budget_slot *slots;
};

struct shared {
    pthread_mutex_t lock;           /* guards cfg (the pointer and its reference) */
    struct cfg *cfg;                /* the current snapshot: a reload swaps it under lock and
                                     * each worker takes a reference of its own */
    struct nodes nodes;             /* ONE table: health checks run on worker 0's loop only;
                                     * nodes.lock guards it (nodes.h) */
    struct authlimit authlimit;     /* authlimit.lock guards it */
    struct budget budget;           /* slot counts are atomics, the list has a lock */
    unsigned n_clients;             /* atomic: logged-in clients of every worker
                                     * (max_client_conn) */
    uint32_t next_id;               /* atomic: the last session id handed out */
    unsigned n_workers;             /* written before the threads start, then read-only */
    struct worker **workers;        /* [n_workers], likewise; [0] is the main thread's */
    unsigned running;               /* atomic: worker threads whose loop still runs */
    unsigned next_accept;           /* worker 0 only: the round-robin of new clients */
};

/* Set sh up holding a reference to cfg. 0, or -1 when no random bytes are available. */
int shared_init(struct shared *sh, struct cfg *cfg);

/* Release what shared_init and the budget allocated (at exit, every worker stopped). */
void shared_close(struct shared *sh);

/* The current snapshot, with a reference the caller drops with cfg_unref. */
struct cfg *shared_cfg(struct shared *sh);

/* Make fresh (the caller's reference is taken over) the current snapshot. */
void shared_set_cfg(struct shared *sh, struct cfg *fresh);

/* The slot for (node, db, user); user "" for the database's. NULL when out of memory. */
struct budget_slot *budget_slot(struct budget *b, const char *node, const char *db,
                                const char *user);

/* Servers counted in slot now, over every worker. */
unsigned budget_count(const struct budget_slot *slot);

/*
 * Take one unit of pool (below limit) and of db (below dblimit; 0 = no limit; db may be
 * NULL). 1 when taken, 0 when either is full (nothing taken).
 */
int budget_take(struct budget_slot *pool, unsigned limit, struct budget_slot *db,
                unsigned dblimit);

/* Give back the unit budget_take took. */
void budget_give(struct budget_slot *pool, struct budget_slot *db);

#endif
