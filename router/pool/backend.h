/*
 * router/pool/backend.h - one server connection held by a client session, as the session sees
 * it: the node it reaches, the responses still expected (one entry per unit of work, each
 * relayed to the client or dropped), transaction status, and what session state it has.
 * It reports up through two ops structs and never calls its pool or session by name:
 * struct backend_pool_ops to the pool that opened it, struct backend_ops to its borrower.
 */
#ifndef PGROUTER_BACKEND_H
#define PGROUTER_BACKEND_H

#include <stdint.h>

#include "config/cfg.h"
#include "router/admin/stats.h"
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

/*
 * The life of a backend; only backend_set_state writes be->state. CONNECTING -> READY or
 * CLOSING; READY -> LOST or CLOSING; LOST -> CLOSING; CLOSING -> CLOSED. See
 * backend_state_ok.
 */
enum backend_state {
    BACKEND_CONNECTING = 0,     /* server.c or srvlogin.c is opening the connection */
    BACKEND_READY,              /* connected: relays for its borrower, or idle in its pool */
    BACKEND_LOST,               /* the server went away or broke the protocol: give it up */
    BACKEND_CLOSING,            /* backend_close was called: handles are closing */
    BACKEND_CLOSED,             /* every handle is closed: pool_ops->closed frees it */
};

/*
 * Where the pool that opened a backend keeps it, i.e. who owns the server (poolentry.c
 * writes it; backend.c never reads it). NEW -> CONNECTING; CONNECTING ->
 * IDLE, LENT or CLOSING; IDLE -> LENT or CLOSING; LENT -> IDLE, LENT (straight to the next
 * waiter) or CLOSING.
 */
enum pool_entry {
    POOL_ENTRY_NEW = 0,         /* backend_connect made it; not counted yet */
    POOL_ENTRY_CONNECTING,      /* on the pool's connecting list, counted in n_connecting */
    POOL_ENTRY_IDLE,            /* on the pool's idle list, counted in n_idle */
    POOL_ENTRY_LENT,            /* a session borrowed it, counted in n_used */
    POOL_ENTRY_CLOSING,         /* the pool closed it and no longer counts it */
};

struct backend;
struct passthru;
struct pool;
struct tls_ctx;
/*
 * What the pool that opened a backend hears from it (backend_connect). Each is called from
 * the loop, never from inside a backend_* call.
 */
struct backend_pool_ops {
    /* The connection attempt ended: err == NULL, connected (READY); else why not. */
    void (*ready)(struct backend *be, const struct pqloop_error *err);
    /* A server nobody borrows (ops == NULL) went away: the pool must close it. */
    void (*lost)(struct backend *be, const char *why);
    /* Every handle is closed (CLOSED): be may be freed. */
    void (*closed)(struct backend *be);
};

/* Where and how backend_connect opens a server, and the counters the backend adds to. */
struct backend_dial {
    const char *name;               /* "host:port" for messages: kept, must outlive be */
    const char *host;               /* the strings below must outlive the call only */
    uint16_t port;
    const char *const *keys;        /* libpq keywords, NULL-terminated */
    const char *const *vals;
    unsigned timeout_ms;            /* server_connect_timeout */
    const struct passthru *pt;      /* pgrouter's own login with these credentials
                                     * (srvlogin.c), or NULL: libpq's */
    const struct cfg *cfg;          /* with pt: server_tls_* */
    struct tls_ctx *tls;            /* with pt: TLS toward servers, or NULL */
    struct stats_pool *stats;       /* the pool's counters (bytes sent to clients) */
    struct stats *errors;           /* the worker's counters (server errors by class) */
};

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
    enum backend_state state;       /* backend_set_state */
    enum pool_entry pool_state;     /* its pool's, through poolentry_set_state */
    const struct backend_pool_ops *pool_ops;    /* the pool that opened it */
    const struct backend_ops *ops;  /* the borrowing session's, NULL while idle */
    void *owner;                    /* the borrowing session, NULL while idle */
    struct conn *client;            /* where CLIENT units are relayed */
    unsigned slot;                  /* for the borrower: 0 primary, 1 + replica index */
    struct pool *pool;              /* owns this server (never read by backend.c) */
    struct stats_pool *stats;       /* its pool's counters (bytes sent to clients) */
    struct stats *errors;           /* its worker's counters (server errors by class) */
    struct backend *pool_next;      /* its pool's idle list, or its connecting list */
    uint64_t created_ms;
    uint64_t idle_since_ms;
    uint32_t gen;                   /* its pool's gen when it connected (RECONNECT) */
    uint64_t state_sig;             /* signature of the SET list applied (replay), 0: none,
                                     * REPLAY_SIG_DIRTY: unknown, reset before any use */
    uint32_t state_client;          /* session id whose untracked changes (set_config, DO)
                                     * it may hold; 0: none. Others get it reset first. */
    struct srvstmt stmts;           /* prepared statements it holds (pgr_<id>) */
    const char *name;               /* node "host:port" for messages */
    char status;                    /* last ReadyForQuery: 'I', 'T' or 'E' */
    uint8_t sinks[BACKEND_MAX_UNITS];
    unsigned sink_head, sink_n;
    int unit_error;                 /* the head unit saw an ErrorResponse */
    int unit_fatal;                 /* the server sent FATAL: not relayed, it will close */
    size_t unit_out;                /* bytes of the head unit relayed to the client */
    size_t unit_notices;            /* ...of which NoticeResponses (a dying server's WARNING) */
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
 * Start connecting be (caller-allocated; zeroed here, then CONNECTING) for pool as dial
 * says. pool_ops->ready fires once unless backend_close comes first; pool_ops->closed
 * after backend_close. Returns 0 or a negative error with nothing to close.
 */
int backend_connect(struct backend *be, uv_loop_t *loop, const struct backend_dial *dial,
                    struct pool *pool, const struct backend_pool_ops *pool_ops);

/* Start relaying after pool_ops->ready reported success. */
void backend_start(struct backend *be);

/* Move be to state to (legal per backend_state_ok; the same state is a no-op). */
void backend_set_state(struct backend *be, enum backend_state to);

/* May a backend go from one state to another? 1 or 0. */
int backend_state_ok(enum backend_state from, enum backend_state to);

/* "connecting", "ready", ... for logs. */
const char *backend_state_name(enum backend_state st);

/* Connected and not lost or closing: units may be sent. */
int backend_ready(const struct backend *be);

/* Lost, closing or closed: the borrower must give it up, nobody may use it again. */
int backend_lost(const struct backend *be);

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

/* Close (CLOSING); pool_ops->closed fires when done (CLOSED). Idempotent. */
void backend_close(struct backend *be);

#endif
