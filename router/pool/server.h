/*
 * router/pool/server.h - one connection to a PostgreSQL server: opened with libpq's
 * non-blocking API on the loop (pqloop: so libpq does the server's authentication, and
 * host names are resolved without blocking), then taken over as a raw stream for
 * relaying.
 */
#ifndef PGROUTER_SERVER_H
#define PGROUTER_SERVER_H

#include <libpq-fe.h>
#include <stdint.h>
#include <uv.h>

#include "router/net/conn.h"
#include "router/pool/pqloop.h"

/* CONNECTING -> READY or CLOSING; READY -> CLOSING. Only server_set_state writes it. */
enum server_state {
    SERVER_CONNECTING = 0,      /* libpq (pqloop) or srvlogin.c is logging in */
    SERVER_READY,               /* the stream is ours (conn), relaying */
    SERVER_CLOSING,             /* server_close: handles closing, then on_closed */
};

struct server;
struct srvlogin;
/*
 * What server.c needs from pgrouter's own login (srvlogin.c), which sets it with
 * srv->native: server.c never calls srvlogin.c by name.
 */
struct server_login_ops {
    /* A ParameterStatus value the server sent at login, or NULL. */
    const char *(*param)(const struct server *srv, const char *name);
    /* Free srv->native (every handle of srv is closed). */
    void (*free)(struct server *srv);
};
/* Connection attempt finished: err == NULL and srv is ready, or err says why and whose
 * fault it is (see struct pqloop_error). */
typedef void (*server_ready_fn)(struct server *srv, const struct pqloop_error *err);
/* Every handle of srv is closed and libpq is finished: srv may be freed. */
typedef void (*server_closed_fn)(struct server *srv);

struct server {
    struct conn conn;           /* valid once SERVER_READY */
    enum server_state state;
    struct pqloop pq;           /* pq.pg: libpq's connection, kept until closed */
    uv_loop_t *loop;
    uv_timer_t connect_timer;   /* server_connect_timeout; at 0 ms, reports a failure to
                                 * start from the loop */
    unsigned timeout_ms;
    int handles;                /* libuv handles not yet closed */
    char node[280];             /* "host:port", for messages */
    struct srvlogin *native;    /* pgrouter's own login (srvlogin.c), NULL on libpq's path */
    const struct server_login_ops *login_ops;   /* with native */
    struct pqloop_error early;  /* a failure to report from the loop */
    int have_early;
    uint32_t be_pid;
    int tls_adopted;            /* the conn relays inside libpq's TLS session */
    void *owner;
    server_ready_fn on_ready;
    server_closed_fn on_closed;
};

/*
 * Start connecting srv (caller-owned, zeroed by this call) to host:port with the given
 * libpq keyword/value pairs (NULL-terminated arrays, copied; host, hostaddr, port and
 * gssencmode=disable are added here; sslmode and the other TLS keys are the caller's,
 * srvtls_params). host may be a name: it is resolved on the loop. If libpq negotiated
 * TLS, the relay continues inside that TLS session.
 * on_ready fires exactly once unless server_close comes first. Returns 0, or a negative
 * error with nothing to close.
 */
int server_connect(struct server *srv, uv_loop_t *loop, const char *host, uint16_t port,
                   const char *const *keys, const char *const *vals, unsigned timeout_ms,
                   void *owner, server_ready_fn on_ready, server_closed_fn on_closed);

/* The stream of srv closed (its conn's on_closed; for srvlogin.c, which opens it). */
void server_conn_closed(struct conn *c);

/*
 * Zero srv and fill in what every connection attempt has (loop, owner, callbacks, node
 * name, timeout, an idle pqloop): server_connect and pgrouter's own login (srvlogin.c)
 * both start with it.
 */
void server_begin(struct server *srv, uv_loop_t *loop, const char *host, uint16_t port,
                  unsigned timeout_ms, void *owner, server_ready_fn on_ready,
                  server_closed_fn on_closed);

/* Move srv to state to (CONNECTING -> READY or CLOSING, READY -> CLOSING); logs at debug. */
void server_set_state(struct server *srv, enum server_state to);

/* Begin closing; on_closed fires when done. Idempotent. */
void server_close(struct server *srv);

/* libpq's connection (for PQcancel), or NULL. */
PGconn *server_pg(const struct server *srv);

/* "TLSv1.3/TLS_AES_256_GCM_SHA384" when the connection is TLS (SHOW SERVERS), else NULL. */
const char *server_tls(const struct server *srv);

/* ParameterStatus value the server reported at start-up, or NULL. */
const char *server_param(const struct server *srv, const char *name);

#endif
