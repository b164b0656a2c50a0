/*
 * router/pool/backend.h - one server connection held by a client session, as the session sees
 * it: the node it reaches, the responses still expected (one entry per unit of work, each
 * relayed to the client or dropped), transaction status, and what session state it has.
 */
#ifndef PGROUTER_BACKEND_H
#define PGROUTER_BACKEND_H

#include <stdint.h>

#include "config/cfg.h"
#include "router/net/conn.h"
#include "router/pool/server.h"
#include "router/session/stmt.h"

#define BACKEND_MAX_UNITS 64    /* units queued on one server before the client waits */

enum backend_sink {
    BACKEND_SINK_CLIENT = 0,    /* relay the responses to the client */
    BACKEND_SINK_DROP,          /* our own replay: drop the responses, log errors */
    BACKEND_SINK_CAPTURE,       /* our own query: rows go to ops->row, then ops->captured */
};

/*
 * What becomes of the server's ParseComplete or CloseComplete for one Parse or Close of a
 * client unit: relayed, dropped (pgrouter's own Close or Parse), or relayed as a
 * ParseComplete (a Close of nothing that stands for a Parse the server did not need).
 */
enum backend_pc {
    BACKEND_PC_PASS = 0,
    BACKEND_PC_DROP,
    BACKEND_PC_AS_PARSE,
};

struct backend_pc_act {
    size_t ord;                     /* the Parse/Close's place among the unit's */
    enum backend_pc act;
};

struct backend;
struct pool;
/* What the session that borrowed a server hears from it. */
struct backend_ops {
    /* A client unit ended with ReadyForQuery status (its bytes are forwarded). */
    void (*unit_done)(struct backend *be, char status, int had_error);
    /* The server is gone (EOF, error or FATAL); the session must give it up. */
    void (*lost)(struct backend *be, const char *why);
    /* A DataRow body of a CAPTURE unit. */
    void (*row)(struct backend *be, const uint8_t *body, size_t n);
    /* A CAPTURE unit ended. */
    void (*captured)(struct backend *be, int had_error);
    /* May a message that belongs to no unit (NOTIFY, NOTICE) go to the client now? */
    int (*async_ok)(struct backend *be);
};

struct backend {
    struct server srv;              /* srv.owner is this backend */
    const struct backend_ops *ops;  /* the borrowing session's, NULL while idle */
    void *owner;                    /* the borrowing session, NULL while idle */
    struct conn *client;            /* where CLIENT units are relayed */
    unsigned slot;                  /* for the borrower: 0 primary, 1 + replica index */
    struct pool *pool;              /* owns this server */
    struct backend *pool_next;      /* its pool's idle list, or its connecting list */
    uint64_t created_ms;
    uint64_t idle_since_ms;
    uint32_t gen;                   /* its pool's gen when it connected (RECONNECT) */
    uint64_t state_sig;             /* signature of the SET list applied (replay), 0: none,
                                     * REPLAY_SIG_DIRTY: unknown, reset before any use */
    uint32_t state_client;          /* session id whose untracked changes (set_config, DO)
                                     * it may hold; 0: none. Others get it reset first. */
    struct srvstmt stmts;           /* prepared statements it holds (pgr_<id>) */
    int closing;
    const char *name;               /* node "host:port" for messages */
    int ready;
    int lost;
    char status;                    /* last ReadyForQuery: 'I', 'T' or 'E' */
    unsigned state_version;         /* session-state replay applied up to */
    uint8_t sinks[BACKEND_MAX_UNITS];
    unsigned sink_head, sink_n;
    int unit_error;                 /* the head unit saw an ErrorResponse */
    int unit_fatal;                 /* the server sent FATAL: not relayed, it will close */
    size_t unit_out;                /* bytes of the head unit relayed to the client */
    int in_copy;                    /* the head unit is in COPY */
    int escape_strings;             /* the server reported standard_conforming_strings = off */
    char fatal[200];                /* text of a FATAL we kept from the client */
    char fatal_code[6];             /* its SQLSTATE ("" if none) */
    char own_error[200];            /* the last error of pgrouter's own query (DROP or
                                     * CAPTURE unit)... */
    char own_sqlstate[6];           /* ...and its SQLSTATE */
    struct backend_pc_act *pc;      /* the client unit's non-PASS answers, by ord */
    size_t pc_n, pc_cap, pc_next;
    size_t pc_seen;                 /* ParseComplete/CloseComplete of the client unit */
    size_t pc_done;                 /* pc_seen of the last client unit that ended */
};

/*
 * Start connecting be (caller-allocated; zeroed here) for pool to host:port with libpq
 * keywords keys/vals. pool_server_ready fires once. Returns 0 or a negative error.
 */
int backend_connect(struct backend *be, uv_loop_t *loop, struct pool *pool, const char *host,
                    uint16_t port, const char *name, const char *const *keys,
                    const char *const *vals, unsigned timeout_ms);

/* Start relaying after ops->ready reported success. */
void backend_start(struct backend *be);

/* Queue the expectation of one more unit's responses (its bytes are sent by the caller). */
int backend_push_unit(struct backend *be, enum backend_sink sink);

/*
 * The ord-th Parse/Close of the client unit in flight gets act (ords ascending). 0 or
 * -ENOMEM.
 */
int backend_expect_pc(struct backend *be, size_t ord, enum backend_pc act);

/* Forget the Parse/Close bookkeeping (a new borrower). */
void backend_pc_reset(struct backend *be);

/* Units whose ReadyForQuery has not come yet. */
unsigned backend_pending(const struct backend *be);

/* Units relayed to the client still pending. */
unsigned backend_client_pending(const struct backend *be);

/* Send bytes of our own (a replay) to the server. 0 or an error. */
int backend_send(struct backend *be, const void *data, size_t n);

/* Close; pool_server_closed fires when done. Idempotent. */
void backend_close(struct backend *be);

#endif
