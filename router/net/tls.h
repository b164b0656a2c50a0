/*
 * router/net/tls.h - TLS for pgrouter's streams. Contexts are built from the config's
 * client_tls_* keys (pgrouter as the TLS server, toward clients) and server_tls_* keys
 * (pgrouter as the TLS client, toward PostgreSQL). TLS runs on a struct conn through
 * memory BIOs: libuv does the socket I/O and OpenSSL only turns bytes into bytes, so the
 * loop never blocks in OpenSSL. Plaintext lands in the conn's usual read buffer, so
 * framing and forwarding work unchanged; forwarding into a TLS conn encrypts (the one copy
 * TLS cannot avoid).
 */
#ifndef PGROUTER_TLS_H
#define PGROUTER_TLS_H

#include <stddef.h>
#include <stdint.h>

#include "config/cfg.h"
#include "router/net/conn.h"

/* An SSL_CTX and what pgrouter needs from its certificate. Refcounted; any thread. */
struct tls_ctx;

/*
 * Build the context toward clients from c->client_tls. *out is NULL when client_tls_sslmode
 * is disable. On failure (unreadable file, key not matching the certificate, bad
 * protocols or ciphers) returns a negative errno and writes "key: reason" to err.
 */
int tls_ctx_for_clients(const struct cfg *c, struct tls_ctx **out, char *err, size_t errlen);

/* The same toward servers from c->server_tls (pgrouter's own server logins). */
int tls_ctx_for_servers(const struct cfg *c, struct tls_ctx **out, char *err, size_t errlen);

struct tls_ctx *tls_ctx_ref(struct tls_ctx *t);
void tls_ctx_unref(struct tls_ctx *t);

/*
 * tls-server-end-point channel-binding data of the context's own certificate (RFC 5929:
 * its hash with the signature's digest, SHA-256 for MD5 and SHA-1). NULL, *len = 0, if
 * the context has no certificate.
 */
const uint8_t *tls_ctx_endpoint(const struct tls_ctx *t, size_t *len);

/*
 * Start TLS on c as the server, after the SSLRequest was answered 'S'. No unread byte may
 * be buffered on c (plaintext sent before the handshake is refused, as PostgreSQL does).
 * c's on_read then sees decrypted bytes; a failed handshake reaches on_error.
 * Returns 0 or a negative errno.
 */
int conn_tls_accept(struct conn *c, struct tls_ctx *ctx);

/*
 * Start TLS on c as the client toward a server that answered 'S'. host is used for SNI
 * and, with verify-full, checked against the certificate. Bytes queued with conn_send
 * before the handshake ends go out once it has. Returns 0 or a negative errno.
 */
int conn_tls_connect(struct conn *c, struct tls_ctx *ctx, const char *host);

/*
 * Take over an established TLS session (an SSL * that libpq negotiated, PQsslStruct) for
 * relaying on c. c replaces its BIOs with memory BIOs but never frees ssl: libpq does, in
 * PQfinish, which must come after c is closed. Returns 0 or a negative errno.
 */
int conn_tls_adopt(struct conn *c, void *ssl);

/* 1 if TLS is on for c (the handshake may still be running), else 0. */
int conn_tls_on(const struct conn *c);

/* Channel-binding data (tls_ctx_endpoint) of an accepted conn; NULL if not TLS. */
const uint8_t *conn_tls_endpoint(const struct conn *c, size_t *len);

/* The verified client certificate's subject CN (HBA "cert"), or NULL if none. */
const char *conn_tls_peer_cn(const struct conn *c);

/*
 * "TLSv1.3/TLS_AES_256_GCM_SHA384/ECDH=X25519" (PgBouncer's tls column) for SHOW CLIENTS
 * and logs; "handshake" while it runs; NULL if not TLS.
 */
const char *conn_tls_describe(const struct conn *c);

#endif
