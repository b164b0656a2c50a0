/*
 * router/tls.c - TLS contexts and TLS on a conn through memory BIOs (see tls.h).
 * Not written yet: every entry point reports -ENOTSUP.
 */
#include "router/tls.h"

#include <errno.h>
#include <stdio.h>

int tls_ctx_for_clients(const struct cfg *c, struct tls_ctx **out, char *err, size_t errlen)
{
    *out = NULL;
    if (c->client_tls.sslmode == CFG_SSL_DISABLE)
        return 0;
    snprintf(err, errlen, "client_tls_sslmode: TLS is not built yet");
    return -ENOTSUP;
}

int tls_ctx_for_servers(const struct cfg *c, struct tls_ctx **out, char *err, size_t errlen)
{
    (void)c;
    *out = NULL;
    snprintf(err, errlen, "server_tls_sslmode: TLS is not built yet");
    return -ENOTSUP;
}

struct tls_ctx *tls_ctx_ref(struct tls_ctx *t)
{
    return t;
}

void tls_ctx_unref(struct tls_ctx *t)
{
    (void)t;
}

const uint8_t *tls_ctx_endpoint(const struct tls_ctx *t, size_t *len)
{
    (void)t;
    *len = 0;
    return NULL;
}

int conn_tls_accept(struct conn *c, struct tls_ctx *ctx)
{
    (void)c;
    (void)ctx;
    return -ENOTSUP;
}

int conn_tls_connect(struct conn *c, struct tls_ctx *ctx, const char *host)
{
    (void)c;
    (void)ctx;
    (void)host;
    return -ENOTSUP;
}

int conn_tls_adopt(struct conn *c, void *ssl)
{
    (void)c;
    (void)ssl;
    return -ENOTSUP;
}

int conn_tls_on(const struct conn *c)
{
    (void)c;
    return 0;
}

const uint8_t *conn_tls_endpoint(const struct conn *c, size_t *len)
{
    (void)c;
    *len = 0;
    return NULL;
}

const char *conn_tls_peer_cn(const struct conn *c)
{
    (void)c;
    return NULL;
}

const char *conn_tls_describe(const struct conn *c)
{
    (void)c;
    return NULL;
}
