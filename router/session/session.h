/*
 * router/session/session.h - one client connection and its state machine: startup, auth, the
 * server connection, relaying, and closing with an ErrorResponse that says why.
 */
#ifndef PGROUTER_SESSION_H
#define PGROUTER_SESSION_H

#include <stdint.h>
#include <uv.h>

#include "protocol/auth.h"
#include "protocol/msg.h"
#include "protocol/startup.h"
#include "router/pool/backend.h"
#include "router/session/borrow.h"
#include "router/sql/classify.h"
#include "router/net/conn.h"
#include "router/core/connlog.h"
#include "router/cluster/decide.h"
#include "router/pool/pool.h"
#include "router/session/replay.h"
#include "router/cluster/route.h"
#include "router/admin/stats.h"
#include "router/session/stmt.h"
#include "router/worker.h"

#define SESSION_HELD 16         /* servers one client may hold at once (session mode: all) */

enum session_state {
    SESSION_STARTUP = 0,    /* waiting for StartupMessage (after optional SSLRequest) */
    SESSION_AUTH,           /* authentication exchange with the client */
    SESSION_CONNECT,        /* waiting for the first server connection */
    SESSION_IDLE,           /* server said ReadyForQuery 'I' */
    SESSION_IN_TX,          /* ReadyForQuery 'T' or 'E' (COPY is a unit like any other) */
    SESSION_CLOSING,
};

/* Why the client's next unit of work is held back (IDLE and IN_TX; CONNECT waits for a
 * server too). Only session_set_wait writes s->wait. */
enum session_wait {
    SESSION_RUN = 0,
    SESSION_WAIT_DRAIN,         /* a server still answers the previous unit */
    SESSION_WAIT_SERVER,        /* waiting for a server from a pool */
    SESSION_WAIT_STATE,         /* the borrowed server is being brought to the client's SET
                                 * state (state_be) */
    SESSION_WAIT_CATALOG,       /* the catalog is being read again (refreshing) */
};

/* A place in the unit's rewritten bytes where unit_build decides what the server gets. */
enum session_mark_kind {
    SESSION_MARK_PARSE = 0,     /* a named Parse: skipped if the server has the statement */
    SESSION_MARK_DUP,           /* a Parse of a name the client has: must fail (42P05) */
    SESSION_MARK_USE,           /* before a Bind/Describe: prepare the statement if missing */
    SESSION_MARK_CLOSE,         /* a Close of a named statement */
    SESSION_MARK_UNNAMED,       /* a Parse of the unnamed statement, or a Close of it */
    SESSION_MARK_UNNAMED_USE,   /* before the first Bind/Describe of the unnamed statement
                                 * in a unit that did not Parse it: the client's own again */
};

struct session_mark {
    size_t off, len;            /* in unit.out; len 0 for DUP and USE (nothing replaced) */
    uint64_t id;                /* PARSE, USE */
    enum session_mark_kind kind;
    size_t rec;                 /* PARSE, CLOSE: index in unit.recs, or SIZE_MAX */
};

/*
 * A change the unit made to the client's statement table, undone when the server never
 * ran its message (an earlier error in the unit made it skip to Sync, or it failed).
 */
struct session_rec {
    char *name;                 /* a Parse created this name... */
    struct stmt *closed;        /* ...or a Close removed this entry (then name is NULL) */
    size_t ord;                 /* its Parse/Close among the unit's, SIZE_MAX until sent */
};

/*
 * A statement the unit prepares on its server: held there only if its Parse ran; or, with
 * evicted set, one it closes to make room: still held if that Close did not run.
 */
struct session_srvparse {
    uint64_t id;
    size_t ord;
    int evicted;
};

/* What the server's answer to the ord-th Parse/Close of the unit becomes (not PASS). */
struct session_act {
    size_t ord;
    enum backend_pc act;
};

/* The unit of work being assembled: a Query, or extended messages up to Sync. */
struct session_unit {
    int open;                       /* messages taken since the last unit ended */
    int sent;                       /* part of it went out already (Flush) */
    struct backend *target;         /* where it went */
    int slot;                       /* node slot chosen for it + 1; 0: not chosen yet. Once
                                     * chosen, a unit resumed after waiting for that node's
                                     * pool goes there: choosing again would strand the
                                     * server the pool just handed over. */
    struct classify_result cr;      /* merged over its statements */
    int have_cr;
    int force_primary;              /* a multi-statement string that changes session state */
    int ddl_function;               /* creates or changes a function: reload the catalog */
    int ddl_volatile;               /* ...and leaves ddl_func VOLATILE: a write at once */
    char ddl_func[2 * 64 + 2];      /* "name" or "schema.name" */
    int pin_server;                 /* SQL PREPARE/EXECUTE/DEALLOCATE: keep this server */
    int resets;                     /* DISCARD ALL / DEALLOCATE ALL: statements are gone */
    char prev_status;               /* target's transaction status before the unit */
    int rewrite;                    /* the unit goes out from out, not the client buffer */
    struct msgbuf out;              /* rewritten messages (statement names) */
    struct session_mark *marks;     /* in out, in order (the part not yet sent) */
    size_t n_marks, cap_marks;
    struct session_rec *recs;       /* statement table changes, the whole unit */
    size_t n_recs, cap_recs;
    struct session_srvparse *srvp;  /* statements prepared on target, the whole unit */
    size_t n_srvp, cap_srvp;
    struct session_act *acts;       /* answers to drop or retype, the last unit_build */
    size_t n_acts, cap_acts;
    size_t pc_total;                /* Parse/Close messages sent to target so far */
    int unnamed_set;                /* the unit Parses (or Closes) the unnamed statement: */
    int unnamed_close;              /* ...the last such message is a Close, */
    uint8_t *unnamed_body;          /* ...or a Parse of this body (query, types), */
    size_t unnamed_body_len;
    size_t unnamed_ord;             /* ...and its place among the Parses/Closes */
    int unnamed_used;               /* a Bind/Describe of it came before any of those */
    uint8_t *unnamed_use;           /* the session's unnamed statement for the USE mark */
    size_t unnamed_use_len;
    char *session_sql;              /* SET/RESET... text to record on success... */
    struct replay_stmt session_st;  /* ...and what it does */
    int untracked_state;            /* may change state pgrouter cannot see (set_config, DO) */
    int streaming;                  /* a Query over BIGMSG_WHOLE_MAX goes to the server as
                                     * it arrives (client.skip: the bytes still to come) */
    int dropping;                   /* a refused Query/Parse/Bind is skipped as it arrives */
    int drop_query;                 /* ...and it was a Query: answered once it is skipped */
    const struct cfg_cluster *cluster;  /* sharding: the unit's cluster, NULL = the session's */
    const char *err_state;          /* refuse the unit at Sync with this SQLSTATE... */
    char *err_msg;                  /* ...and message (tenant missing or conflicting) */
    char *unnamed_sql;              /* the unit's unnamed Parse body (query, types)... */
    size_t unnamed_len;             /* ...for the tenant of its Bind */
    int has_set_tenant;             /* SET/RESET pgrouter.tenant: set_tenant on success */
    char set_tenant[64];
    int decided;                    /* a lone simple Query: route holds decide_query's node */
    struct route_decision route;
    int pending;                    /* sent with its last message; awaiting ReadyForQuery */
    unsigned retries;               /* times it was run again on another node */
};

/* What the lower files report up to session.c (each declared in its own header). */
struct login_ops;
struct greet_ops;
struct dispatch_ops;
struct borrow_ops;

struct session {
    struct worker *w;
    const struct login_ops *login_ops;          /* events up from login.c, */
    const struct greet_ops *greet_ops;          /* greet.c, */
    const struct dispatch_ops *dispatch_ops;    /* dispatch.c */
    const struct borrow_ops *borrow_ops;        /* and borrow.c: session.c's, or a test's */
    struct cfg *cfg;                /* the snapshot this client runs on: the one it started
                                     * with, until lifecycle_unit_boundary moves it to a
                                     * reload's */
    struct session *next, *prev;
    enum session_state state;
    uint32_t id;
    uint32_t cancel_pid;            /* BackendKeyData we gave the client: both random (64 bits,
                                     * unique among live sessions), never a server's */
    uint32_t cancel_key;
    struct conn client;
    struct backend *held[SESSION_HELD];     /* borrowed servers; each knows its node id */
    uint64_t pinned;                /* node ids whose server stays borrowed (bit per id) */
    int last_slot;                  /* server used last, for units with no preference */
    enum session_wait wait;
    int wait_slot;                  /* with SESSION_WAIT_SERVER */
    uint64_t unit_started_ms;       /* dispatch time of the running unit */
    unsigned unit_timeouts;         /* query_timeout expiries of the running unit */
    size_t unit_out_seen;           /* its answer bytes relayed at the last expiry */
    struct pool_waiter waiter;
    struct session_unit unit;
    struct stats_client stats;      /* what its units add to SHOW STATS */
    struct stmt_table stmts;        /* the client's named prepared statements */
    uint8_t *unnamed;               /* its unnamed statement (Parse body), NULL if none: the
                                     * next unit may run on another server */
    size_t unnamed_len;
    struct replay replay;           /* SET state to apply on every server it borrows */
    struct backend *state_be;       /* SESSION_WAIT_STATE: the server being brought up */
    struct replay tx_replay;        /* the state before the open transaction changed it... */
    int tx_replay_saved;            /* ...back in place if the transaction rolls back */
    int sticky;                     /* pinned to the primary for good */
    uint64_t ryw_until_ms;          /* read-your-writes window end */
    const struct cfg_cluster *ryw_cluster;  /* the cluster that write went to */
    uint64_t ryw_after_ms;          /* last write's commit: replicas must pass the primary's
                                     * WAL position sampled after it (read_your_writes = lsn) */
    enum route_role role;           /* pgrouter.role */
    int escape_strings;             /* standard_conforming_strings = off: how to lex its SQL */
    int escape_known;               /* set by the startup packet (else the server's default) */
    char tenant[64];                /* pgrouter.tenant from SET or startup, "" = none */
    char *deferred_begin;           /* sharding: a BEGIN answered, not yet sent anywhere */
    int deferred_ro;                /* it was BEGIN READ ONLY */
    /* One timer per purpose; data points at the session. */
    uv_timer_t login_timer;         /* client_startup/login_timeout, or the auth backoff that
                                     * stands in for it (authlimit.c) */
    uv_timer_t idle_timer;          /* client_idle_timeout / idle_transaction_timeout */
    uv_timer_t query_timer;         /* query_timeout of the running unit */
    uv_timer_t admin_timer;         /* admin console: a waiting command polls (admin.c) */
    uv_timer_t close_timer;         /* how long a closing client gets to read */
    int handles;                    /* libuv handles not yet closed */
    int counted;                    /* counts against max_client_conn */
    int pending_login;              /* counts against max_pending_logins (authlimit.c) */
    int auth_held;                  /* its password check waited for its user's backoff */
    uint8_t *startup_pkt;           /* copy of the startup body; st, user, db point into it */
    struct startup *st;             /* parsed startup packet, until the client is greeted */
    const char *user;
    const char *db;                 /* database, the user name when none was given */
    const struct cfg_cluster *cluster;
    struct catalog_db *cat;         /* this database's write functions */
    int loading_catalog;            /* greeting (or a refresh) waits for the catalog query */
    int catalog_refresh;            /* a function was created or changed: read it again */
    struct backend *refreshing;     /* SESSION_WAIT_CATALOG: the catalog is read again here */
    struct auth *auth;              /* during authentication only */
    struct passthru *passthru;      /* secret and SCRAM key of the login, for its pools */
    struct authq_entry *authq;      /* the auth_query lookup its login waits for, or NULL */
    struct session *authq_next;     /* the next session waiting for that lookup */
    int authq_method;               /* enum auth_method to run once the lookup answers */
    struct admin_conn *admin;       /* admin console session (admin.c), else NULL */
    const char *app_name;           /* application_name at startup (in startup_pkt), or NULL */
    char tag[64];                   /* "c42 app@appdb" for logs */
    struct connlog connlog;         /* address, start, why it ended: for log lines */
};

/* Start the session of a client socket fd just accepted (owned from here on, closed on
 * failure). 0 or a libuv error. */
int session_accept(struct worker *w, int fd);

/* Close every session now (SIGINT) with a FATAL 57P01 to each client. */
void session_close_all(struct worker *w);

/*
 * A cancel request for (pid, key) reached w (from session s on w, or forwarded by another
 * worker: s NULL): cancel the running query of w's client with that key, if any.
 */
void session_cancel_run(struct worker *w, uint32_t pid, uint32_t key,
                        const struct session *s);

/* (Re)arm s's login timer for what is left of its login time: client_startup_timeout while
 * no startup packet came, then client_login_timeout from the accept. */
void session_login_timer(struct session *s);

/*
 * ---- What every file of the session needs ----
 * These are the only calls a lower file (login, greet, frontend, dispatch, borrow) makes
 * into session.c. Everything else it reports goes up through its ops struct.
 */

/*
 * Is from -> to a transition the session makes? STARTUP -> AUTH -> CONNECT -> IDLE <-> IN_TX,
 * AUTH -> IDLE for the admin console, anything but CLOSING -> CLOSING; staying is allowed
 * too. Pure, for session_set_state and the tests.
 */
int session_state_allowed(enum session_state from, enum session_state to);
/* Move s to state `to` (the only writer of s->state); logs the change at debug. A closing
 * session stays closing; another transition session_state_allowed refuses is logged as a
 * bug (and made all the same). */
void session_set_state(struct session *s, enum session_state to);
/* Move s->wait to `to` (its only writer); logs the change at debug. */
void session_set_wait(struct session *s, enum session_wait to);
/* Send a FATAL ErrorResponse (hint may be NULL), log it, close the session. */
void session_fatal(struct session *s, const char *sqlstate, const char *hint,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* session_fatal with a DETAIL field (NULL for none) and a fixed message. */
void session_fatal_detail(struct session *s, const char *sqlstate, const char *detail,
                          const char *message);
/* An ERROR for the current unit, then ReadyForQuery with status: the client goes on. */
void session_error(struct session *s, char status, const char *sqlstate, const char *hint,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Queue a built buffer on the client (consumes it). 0, or < 0 with the session closing. */
int session_send(struct session *s, struct msgbuf *b);
/* Close the session; the client gets a moment to read what is queued. */
void session_close(struct session *s);
uint64_t session_now(const struct session *s);
const struct node *session_node(const struct session *s, unsigned slot);
/* "primary" or "replica": what node slot does for this client's cluster now. */
const char *session_slot_role(const struct session *s, unsigned slot);
/* The node id acting as primary of the client's current cluster. */
unsigned session_primary_slot(struct session *s);

#endif
