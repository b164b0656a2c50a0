/*
 * router/net/conntls.h - the hooks router/net/conn.c calls when a conn carries TLS, and what
 * router/net/conntls.c needs from the contexts of router/net/tls.c. Private to those three files;
 * everything else uses router/net/tls.h.
 */
#ifndef PGROUTER_CONNTLS_H
#define PGROUTER_CONNTLS_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "router/net/conn.h"
#include "router/net/tls.h"

/* The buffer libuv reads ciphertext into. */
void conntls_alloc(struct conn *c, uv_buf_t *out);
/* nread bytes of ciphertext (or a libuv error) arrived in b: decrypt and hand them on. */
void conntls_on_cipher(struct conn *c, const uv_buf_t *b, ssize_t nread);
/*
 * Encrypt n bytes at p and queue them on dst (before a client handshake ends they wait in
 * a copy). Encrypting is paced (see conntls.c): what the socket cannot take now waits in
 * owned (a malloc'd buffer holding p, or NULL), which conntls_write always takes over,
 * or in a copy; src, if given, stops reading until it is encrypted. 0 or a libuv error.
 */
int conntls_write(struct conn *dst, const uint8_t *p, size_t n, struct conn *src,
                  uint8_t *owned);
/* A write on c's socket completed: encrypt more of what waits. */
void conntls_on_written(struct conn *c);
/* 1 while the handshake runs: the socket must be read whatever the owner wants. */
int conntls_needs_read(const struct conn *c);
/* 1 if OpenSSL holds bytes (plaintext or ciphertext) no socket event will announce. */
int conntls_pending(const struct conn *c);
/* Drain those bytes from the loop soon (an idle handle), not from the caller's stack. */
void conntls_kick(struct conn *c);
/* Queue a close_notify. */
void conntls_shutdown(struct conn *c);
/* Close the drain handle with conn_handle_closed (conn_close calls this). */
void conntls_close(struct conn *c);
/* Free the TLS state once every handle is closed (an adopted SSL * is left alone). */
void conntls_free(struct conn *c);

/* The SSL_CTX (an SSL_CTX *) of a context, and its sslmode (enum cfg_sslmode). */
void *tls_ctx_ssl_ctx(const struct tls_ctx *t);
int tls_ctx_sslmode(const struct tls_ctx *t);

#endif
