/*
 * router/cluster/health.h - periodic health checks of one PostgreSQL node with libpq's
 * non-blocking API on a libuv loop: connect through pqloop (the name resolved with
 * uv_getaddrinfo, PQconnectPoll driven by uv_poll), then one query for role, WAL
 * position and replay lag.
 * Every check has a deadline (a uv_timer). The connection stays open between checks
 * and is watched while idle, so a server that goes away drops it at once; the next
 * check connects again. Nothing here blocks the loop; nothing here logs above debug:
 * the done callback gets every outcome and decides what to tell the operator.
 */
#ifndef PGROUTER_HEALTH_H
#define PGROUTER_HEALTH_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>
#include <uv.h>

#include "router/pool/pqloop.h"

#define HEALTH_MAX_PARAMS 16    /* caller's libpq keywords per node */
#define HEALTH_ERROR_MAX 256

/* The outcome of one check. */
struct health_result {
    int ok;                 /* 1: connected and the query answered */
    int in_recovery;        /* 1: a standby (pg_is_in_recovery()) */
    uint64_t lsn;           /* standby: last replayed LSN; primary: current WAL LSN */
    uint64_t receive_lsn;   /* standby: last LSN received from the primary; else 0 */
    int64_t replay_lag_ms;  /* standby: age of the last replayed commit, 0 when all
                             * received WAL is replayed; -1 on a primary or unknown */
    uint64_t checked_at_ms; /* uv_now() when the check ended */
    uint32_t rtt_us;        /* query round trip (connection set-up not included) */
    int timed_out;          /* !ok: past the check's deadline (health_check_timeout) */
    int node_down;          /* !ok: the node's fault (refused, timeout, crash...), not a
                             * login error of the health check's own user or database */
    char error[HEALTH_ERROR_MAX];   /* why ok is 0, one line; "" when ok */
};

struct health_node;

/* Called after every check, success or failure. r points into h (h->last). */
typedef void (*health_done_fn)(struct health_node *h, const struct health_result *r);

/* Called once health_stop has closed everything; h may be freed from here on. */
typedef void (*health_closed_fn)(struct health_node *h);

enum health_phase {
    HEALTH_IDLE = 0,        /* no check running (the connection may be open) */
    HEALTH_CONNECTING,      /* resolving the name, then connecting */
    HEALTH_QUERYING,
};

/*
 * One per node. The caller owns the memory, zeroes it or not, and keeps it alive
 * until the closed callback of health_stop. Fields above "private" may be read
 * (from the loop's thread) at any time.
 */
struct health_node {
    uv_loop_t *loop;
    char host[256];
    uint16_t port;
    unsigned interval_ms;
    unsigned timeout_ms;
    void *arg;                  /* the caller's, untouched */

    struct health_result last;  /* outcome of the latest check */
    unsigned failures;          /* consecutive failed checks */
    uint64_t checks;            /* checks completed */
    uint64_t connects;          /* connections established */
    enum health_phase phase;

    /* private */
    health_done_fn done;
    health_closed_fn closed;
    char *keys[HEALTH_MAX_PARAMS];          /* caller's keywords and values, copied */
    char *vals[HEALTH_MAX_PARAMS];
    size_t n_params;
    struct health_result cur;   /* the check in progress */
    struct pqloop pq;           /* the check connection (pq.pg), kept between checks */
    uv_timer_t tick;            /* repeating: starts a check every interval_ms */
    uv_timer_t deadline;        /* one check's timeout */
    uint64_t sent_ns;           /* uv_hrtime() when the query went out */
    int login_failed;           /* the failure being reported is a login error */
    int timing_out;             /* health_fail is reporting the deadline */
    int stopping;
    unsigned closing;           /* close callbacks still to come */
};

/*
 * Start checking host:port every interval_ms, the first check at once. keys/vals are
 * NULL-terminated libpq keyword/value arrays (user, password, dbname, sslmode, ...;
 * at most HEALTH_MAX_PARAMS, copied, so the caller's may go away); host, hostaddr and
 * port in them are ignored in favour of the arguments, and application_name defaults
 * to "pgrouter-health". host is a name, a numeric address or a Unix socket directory
 * (starting with '/'). A check that has not ended after timeout_ms fails. cb runs
 * after each check; arg is stored in h->arg.
 * Returns 0, -EINVAL (bad argument, too many params, host too long) or -ENOMEM;
 * on error nothing is left to stop.
 */
int health_start(struct health_node *h, uv_loop_t *loop, const char *host, uint16_t port,
                 const char *const *keys, const char *const *vals, unsigned interval_ms,
                 unsigned timeout_ms, health_done_fn cb, void *arg);

/* Start a check now unless one is running (then its result comes as usual). */
void health_check_now(struct health_node *h);

/*
 * Stop checking: a check in progress is abandoned without a done callback, the
 * connection closed and the handles closed. cb (may be NULL) runs from the loop once
 * all close callbacks have run; only then may h be freed or reused. Safe to call from
 * the done callback. A second call does nothing.
 */
void health_stop(struct health_node *h, health_closed_fn cb);

/*
 * Parse an LSN as PostgreSQL prints it ("16/B374D848": two hex numbers of up to
 * 8 digits) into *out. Returns 0, or -EINVAL for anything else.
 */
int health_parse_lsn(const char *text, uint64_t *out);

#endif
