/*
 * router/pool/srvlogin.h - pgrouter's own login to a PostgreSQL server, for pools that have no
 * plain password but pass-through credentials (passthru.h): libpq cannot log in with a
 * SCRAM ClientKey or an md5 secret, so this speaks the startup phase itself, on the loop.
 * The name is resolved with uv_getaddrinfo, TLS is asked for per server_tls_sslmode,
 * the StartupMessage carries what the libpq path sends (user, database, application_name),
 * and the server's authentication request is answered: SCRAM-SHA-256 from the ClientKey
 * (the server's signature checked with the ServerKey), md5 from an md5 secret, nothing for
 * trust; a plaintext request is refused, there is no password. ParameterStatus and
 * BackendKeyData are kept, and at ReadyForQuery the server is ready for relaying.
 * Failures are struct pqloop_error with the same faults as libpq's path: the server's
 * login errors (28P01, 28000, 3D000...) are this database and user's, never the node's.
 */
#ifndef PGROUTER_SRVLOGIN_H
#define PGROUTER_SRVLOGIN_H

#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "config/cfg.h"
#include "router/auth/passthru.h"
#include "router/pool/server.h"
#include "router/net/tls.h"

/* A server's login messages are at most this long (PostgreSQL's auth token bound). */
#define SRVLOGIN_MAX_MSG 65536
/* ParameterStatus kept: at most this many, and this many bytes in all. */
#define SRVLOGIN_MAX_PARAMS 64
#define SRVLOGIN_MAX_PARAM_BYTES 16384

/*
 * Like server_connect, with pgrouter's own login: keys/vals as for libpq (user, dbname,
 * application_name and options are used; the rest is ignored), cred copied. cfg gives
 * server_tls_*, tls the worker's context toward servers (NULL when server_tls_sslmode is
 * disable; a reference is taken, so the login never reads certificate files on the
 * loop). on_ready fires exactly once unless server_close comes first; on_closed
 * when every handle is closed. Returns 0, or a negative error with nothing to close.
 */
int srvlogin_connect(struct server *srv, uv_loop_t *loop, const struct cfg *cfg,
                     struct tls_ctx *tls, const char *host, uint16_t port,
                     const char *const *keys, const char *const *vals,
                     const struct passthru *cred,
                     unsigned timeout_ms, void *owner, server_ready_fn on_ready,
                     server_closed_fn on_closed);

/*
 * Where a CancelRequest for a server srvlogin opened goes: the address it connected to,
 * its backend pid and secret key. 0, or -ENOENT if srv is not such a ready server.
 */
int srvlogin_cancel_target(const struct server *srv, struct sockaddr_storage *addr,
                           uint32_t *pid, uint32_t *key);

#endif
