/*
 * router/session.h - one client connection and its state machine: startup, auth, the
 * server connection, relaying, and closing with an ErrorResponse that says why.
 */
#ifndef PGROUTER_SESSION_H
#define PGROUTER_SESSION_H

#include <stdint.h>
#include <uv.h>

#include "protocol/auth.h"
#include "protocol/startup.h"
#include "router/conn.h"
#include "router/server.h"
#include "router/worker.h"

enum session_state {
    SESSION_STARTUP = 0,    /* waiting for StartupMessage (after optional SSLRequest) */
    SESSION_AUTH,           /* authentication exchange with the client */
    SESSION_CONNECT,        /* waiting for the server connection */
    SESSION_IDLE,           /* server said ReadyForQuery 'I' */
    SESSION_IN_TX,          /* ReadyForQuery 'T' or 'E' */
    SESSION_COPY,           /* between CopyIn/CopyOut response and ReadyForQuery */
    SESSION_CLOSING,
};

struct session {
    struct worker *w;
    struct cfg *cfg;                /* the snapshot this client started with */
    struct session *next, *prev;
    enum session_state state;
    uint32_t id;
    uint32_t cancel_pid;            /* BackendKeyData we gave the client */
    uint32_t cancel_key;
    struct conn client;
    struct server *srv;             /* NULL until connecting */
    uv_timer_t timer;               /* login timeout, then the close deadline */
    int handles;                    /* libuv handles and servers not yet closed */
    int counted;                    /* counts against max_client_conn */
    int server_said_fatal;          /* the server sent its own FATAL before closing */
    uint8_t *startup_pkt;           /* copy of the startup body; st points into it */
    struct startup st;
    const struct cfg_cluster *cluster;
    struct auth auth;
    char tag[200];                  /* "c42 app@appdb" for logs */
};

/* Accept a pending connection on w's listener and start its session. 0 or an error. */
int session_accept(struct worker *w);

/* Move s to state `to` (the only writer of s->state). */
void session_set_state(struct session *s, enum session_state to);

/* Close every session now (SIGINT) with a FATAL 57P01 to each client. */
void session_close_all(struct worker *w);

#endif
