/*
 * router/worker.h - what one event loop owns: its listener, its sessions, its server pools,
 * the config snapshot new sessions start with, and the secrets it hands out (cancel keys,
 * mock key). What the whole process shares (nodes, login limits, the server budget) is in
 * struct shared (router/core/shared.h), reached through worker.shared.
 */
#ifndef PGROUTER_WORKER_H
#define PGROUTER_WORKER_H

#include <pthread.h>
#include <stdint.h>
#include <uv.h>

#include "config/cfg.h"
#include "router/sql/catalog.h"
#include "router/admin/pause.h"
#include "router/cluster/routing.h"
#include "router/admin/stats.h"
#include "router/core/shared.h"

struct session;
struct pool;
struct lifecycle;
struct restart;
struct http_server;
struct authq;

/* worker.draining: why the worker stopped accepting. */
#define WORKER_DRAIN_SHUTDOWN 1     /* SIGTERM, SHUTDOWN, SIGINT: logins are refused */
#define WORKER_DRAIN_HANDOVER 2     /* online restart: clients accepted before go on */

/* A SCRAM secret derived from a plain auth_file password, cached per worker. */
struct login_secret {
    struct login_secret *next;
    char *user;
    char *password;
    char secret[256];
};

struct tls_ctx;
struct worker_msg;

struct worker {
    uv_loop_t *loop;
    struct shared *shared;      /* process-wide state (shared.h) */
    unsigned index;             /* 0: the main thread's loop; 1..workers-1: threads */
    pthread_t thread;           /* index > 0 */
    pthread_mutex_t inbox_lock; /* guards inbox: other workers post messages there... */
    struct worker_msg *inbox;   /* ...(workers.c), oldest first... */
    struct worker_msg *inbox_tail;
    uv_async_t wake;            /* ...and wake this loop to read them */
    struct cfg *cfg;            /* snapshot for new sessions; each session holds a ref */
    uv_tcp_t listener;          /* owns the listening socket (never uv_listen'ed)... */
    uv_poll_t accept_poll;      /* ...which listener.c polls and accepts on itself */
    uv_timer_t accept_pause;    /* accepting resumes after an EMFILE pause */
    uint64_t accept_warned_ms;  /* the last "out of file descriptors" warning */
    int listening;
    struct session *sessions;   /* doubly linked through session->next/prev */
    unsigned n_clients;         /* logged-in clients of this worker (shared.n_clients: all) */
    uint32_t next_id;
    uint8_t mock_key[32];       /* secret for mock SCRAM salts of unknown users */
    struct routing routing;     /* classifier sets and replica balancer */
    struct catalog catalog;     /* volatile functions per database */
    struct nodes *nodes;        /* = shared->nodes: every server: breaker, health, role */
    struct pool *pools;         /* server pools, one per (node, database, user) */
    struct stats stats;         /* routing rules, error classes, stats_period ticks */
    uv_timer_t maint;           /* once a second: pool_maintain */
    struct http_server *http;   /* the metrics endpoint (metrics.c), NULL when off */
    struct login_secret *secrets;
    struct authq *authq;        /* auth_query lookups and their cache (authq.c), or NULL */
    struct authlimit *authlimit; /* = shared->authlimit: login backoff, pending logins,
                                 * cancel budget */
    int draining;               /* 0, or WORKER_DRAIN_*: no new clients, exit when the last
                                 * one leaves */
    struct pause pause;         /* databases paused by the console (PAUSE, KILL <db>) */
    struct lifecycle *life;     /* shutdown in progress (lifecycle.c), NULL before */
    struct restart *restart;    /* online restart socket and child (restart.c), or NULL */
    struct tls_ctx *client_tls; /* TLS toward clients (tls.c), NULL when disabled; new
                                 * clients take a reference, a reload swaps it */
    struct tls_ctx *server_tls; /* TLS toward servers for pgrouter's own logins, or NULL */
};

/* Point w at sh (w->shared, w->nodes, w->authlimit). */
static inline void worker_attach(struct worker *w, struct shared *sh)
{
    w->shared = sh;
    w->nodes = &sh->nodes;
    w->authlimit = &sh->authlimit;
}

/* One more logged-in client, if the process has fewer than max. 1, or 0 when full. */
static inline int worker_client_take(struct worker *w, unsigned max)
{
    unsigned n = __atomic_load_n(&w->shared->n_clients, __ATOMIC_RELAXED);

    do {
        if (n >= max)
            return 0;
    } while (!__atomic_compare_exchange_n(&w->shared->n_clients, &n, n + 1, 1,
                                          __ATOMIC_ACQ_REL, __ATOMIC_RELAXED));
    w->n_clients++;
    return 1;
}

/* A logged-in client left. */
static inline void worker_client_give(struct worker *w)
{
    __atomic_fetch_sub(&w->shared->n_clients, 1, __ATOMIC_ACQ_REL);
    w->n_clients--;
}

/* An id for a new session, unique in the process (session tags "c<id>"). */
static inline uint32_t worker_next_id(struct worker *w)
{
    return __atomic_add_fetch(&w->shared->next_id, 1, __ATOMIC_RELAXED);
}

#endif
