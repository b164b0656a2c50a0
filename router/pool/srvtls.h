/*
 * router/pool/srvtls.h - TLS toward PostgreSQL servers: the server_tls_* keys as libpq
 * connection parameters (libpq negotiates TLS and checks the certificate; server.c then
 * relays inside the session libpq set up). Every libpq connection pgrouter opens to a
 * node (pooled servers, health checks, lookups) takes them from here, so they agree.
 */
#ifndef PGROUTER_SRVTLS_H
#define PGROUTER_SRVTLS_H

#include <stddef.h>

#include "config/cfg.h"

/* The most keywords srvtls_params adds. */
#define SRVTLS_MAX_PARAMS 7

/*
 * Append c's server_tls_* as libpq keywords and values at keys[n], vals[n] (room for
 * SRVTLS_MAX_PARAMS more): sslmode, sslrootcert, sslcert, sslkey, ssl_min_protocol_version,
 * ssl_max_protocol_version, and gssencmode=disable (pgrouter relays TLS or plaintext,
 * never GSSAPI encryption). Values point into c or are constants: keep c alive until
 * libpq has them (pqloop_connect copies). server_tls_ciphers has no libpq parameter and
 * is not passed. Returns the new count; the arrays are not NULL-terminated here.
 */
size_t srvtls_params(const struct cfg *c, const char **keys, const char **vals, size_t n);

#endif
