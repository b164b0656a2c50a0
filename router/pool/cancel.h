/*
 * router/pool/cancel.h - forwarding a client's CancelRequest to the server it is using.
 * PQcancel blocks, so it runs on libuv's thread pool, never on the loop.
 */
#ifndef PGROUTER_CANCEL_H
#define PGROUTER_CANCEL_H

#include <libpq-fe.h>
#include <uv.h>

#include "router/pool/server.h"

/*
 * Send a cancel for the query running on pg's backend. Takes its own PGcancel, so pg may
 * be closed right after the call. node names the server in logs. Returns 0 or -errno.
 */
int cancel_send(uv_loop_t *loop, PGconn *pg, const char *node);

/*
 * Cancel the query running on srv, however it was opened: through libpq (cancel_send) or
 * by pgrouter's own login (srvlogin.c: a CancelRequest of its own on the loop: connect,
 * 16 bytes, close). Returns 0 or -errno.
 */
int cancel_server(uv_loop_t *loop, const struct server *srv, const char *node);

#endif
