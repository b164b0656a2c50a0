/*
 * router/net/tls.c - TLS contexts built from the client_tls_* and server_tls_* keys: the
 * SSL_CTX with certificate, key, CA, protocol range, ciphers and verify mode, the
 * tls-server-end-point hash of our certificate, and the reference count that lets a
 * reload swap contexts while connections keep theirs. TLS on a conn is router/net/conntls.c.
 */
#include "router/net/tls.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/cfgsec.h"
#include "config/cfgtls.h"
#include "router/net/conntls.h"

struct tls_ctx {
    SSL_CTX *ctx;
    atomic_int refs;
    int sslmode;                        /* enum cfg_sslmode */
    uint8_t endpoint[EVP_MAX_MD_SIZE];  /* tls-server-end-point of our certificate */
    unsigned endpoint_len;
};

/* OpenSSL's reason for the last failure, or fallback. */
static const char *tls_reason(char *buf, size_t len, const char *fallback)
{
    unsigned long e = ERR_peek_last_error();

    if (e == 0)
        snprintf(buf, len, "%s", fallback);
    else
        ERR_error_string_n(e, buf, len);
    ERR_clear_error();
    return buf;
}

/* RFC 5929 4.1: the certificate's hash with its signature's digest, SHA-256 for MD5/SHA-1. */
static void tls_set_endpoint(struct tls_ctx *t)
{
    X509 *cert = SSL_CTX_get0_certificate(t->ctx);
    const EVP_MD *md;
    int md_nid;

    if (cert == NULL ||
        !OBJ_find_sigid_algs(X509_get_signature_nid(cert), &md_nid, NULL))
        return;
    if (md_nid == NID_md5 || md_nid == NID_sha1)
        md_nid = NID_sha256;
    md = EVP_get_digestbynid(md_nid);
    /* No digest (Ed25519): RFC 5929 defines no end-point; SCRAM-PLUS is then not offered. */
    if (md == NULL || X509_digest(cert, md, t->endpoint, &t->endpoint_len) != 1)
        t->endpoint_len = 0;
}

/* Protocol range (and holes) from the PgBouncer-style list. 0 or -EINVAL. */
static int tls_set_protocols(SSL_CTX *ctx, const char *spec, char *why, size_t len)
{
    static const int versions[CFGTLS_N_VERSIONS] = {
        TLS1_VERSION, TLS1_1_VERSION, TLS1_2_VERSION, TLS1_3_VERSION,
    };
    static const uint64_t no_ops[CFGTLS_N_VERSIONS] = {
        SSL_OP_NO_TLSv1, SSL_OP_NO_TLSv1_1, SSL_OP_NO_TLSv1_2, SSL_OP_NO_TLSv1_3,
    };
    unsigned mask;
    int lo = -1, hi = -1;

    if (cfgtls_protocols(spec, &mask, why, len) < 0)
        return -EINVAL;
    for (int i = 0; i < CFGTLS_N_VERSIONS; i++) {
        if (mask & (1u << i)) {
            if (lo < 0)
                lo = i;
            hi = i;
        }
    }
    if (SSL_CTX_set_min_proto_version(ctx, versions[lo]) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, versions[hi]) != 1) {
        snprintf(why, len, "\"%s\" is not supported by this OpenSSL", spec);
        return -EINVAL;
    }
    for (int i = lo + 1; i < hi; i++)
        if (!(mask & (1u << i)))
            SSL_CTX_set_options(ctx, no_ops[i]);
    return 0;
}

/*
 * The common part of both directions: protocols, ciphers, certificate and key (toward
 * clients our certificate, toward servers our client certificate), CA. On failure writes
 * "key: reason" to err and returns -EINVAL (or -ENOMEM).
 */
static int tls_build(const struct cfg_tls *c, const char *prefix, int server,
                     struct tls_ctx **out, char *err, size_t errlen)
{
    struct tls_ctx *t = calloc(1, sizeof(*t));
    char why[256];

    *out = NULL;
    if (t == NULL) {
        snprintf(err, errlen, "%s_tls_sslmode: out of memory", prefix);
        return -ENOMEM;
    }
    atomic_init(&t->refs, 1);
    t->sslmode = c->sslmode;
    ERR_clear_error();
    t->ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (t->ctx == NULL) {
        snprintf(err, errlen, "%s_tls_sslmode: %s", prefix,
                 tls_reason(why, sizeof(why), "cannot create a TLS context"));
        goto fail;
    }
    SSL_CTX_set_mode(t->ctx, SSL_MODE_RELEASE_BUFFERS);
    if (tls_set_protocols(t->ctx, c->protocols, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "%s_tls_protocols: %s", prefix, why);
        goto fail;
    }
    /* "default" leaves OpenSSL's list; anything else is an OpenSSL cipher string. */
    if (strcasecmp(c->ciphers, "default") != 0 &&
        SSL_CTX_set_cipher_list(t->ctx, c->ciphers) != 1) {
        snprintf(err, errlen, "%s_tls_ciphers: \"%s\": %s", prefix, c->ciphers,
                 tls_reason(why, sizeof(why), "no usable cipher"));
        goto fail;
    }
    if (c->cert_file != NULL &&
        SSL_CTX_use_certificate_chain_file(t->ctx, c->cert_file) != 1) {
        snprintf(err, errlen, "%s_tls_cert_file: %s: %s", prefix, c->cert_file,
                 tls_reason(why, sizeof(why), "cannot load the certificate"));
        goto fail;
    }
    if (c->key_file != NULL &&
        SSL_CTX_use_PrivateKey_file(t->ctx, c->key_file, SSL_FILETYPE_PEM) != 1) {
        snprintf(err, errlen, "%s_tls_key_file: %s: %s", prefix, c->key_file,
                 tls_reason(why, sizeof(why), "cannot load the key"));
        goto fail;
    }
    if (c->cert_file != NULL && c->key_file != NULL && SSL_CTX_check_private_key(t->ctx) != 1) {
        snprintf(err, errlen, "%s_tls_key_file: %s does not match %s", prefix, c->key_file,
                 c->cert_file);
        ERR_clear_error();
        goto fail;
    }
    if (c->ca_file != NULL && SSL_CTX_load_verify_locations(t->ctx, c->ca_file, NULL) != 1) {
        snprintf(err, errlen, "%s_tls_ca_file: %s: %s", prefix, c->ca_file,
                 tls_reason(why, sizeof(why), "cannot load the CA certificates"));
        goto fail;
    }
    *out = t;
    return 0;
fail:
    SSL_CTX_free(t->ctx);
    free(t);
    return -EINVAL;
}

int tls_ctx_for_clients(const struct cfg *c, struct tls_ctx **out, char *err, size_t errlen)
{
    const struct cfg_tls *ct = &c->client_tls;
    struct tls_ctx *t;
    STACK_OF(X509_NAME) *names;
    int rc;

    *out = NULL;
    if (ct->sslmode == CFG_SSL_DISABLE)
        return 0;
    if (ct->cert_file == NULL || ct->key_file == NULL) {
        snprintf(err, errlen, "client_tls_%s_file: required when client_tls_sslmode is %s",
                 ct->cert_file == NULL ? "cert" : "key", cfgsec_sslmode_name(ct->sslmode));
        return -EINVAL;
    }
    if (ct->sslmode >= CFG_SSL_VERIFY_CA && ct->ca_file == NULL) {
        snprintf(err, errlen, "client_tls_ca_file: required when client_tls_sslmode is %s "
                 "(client certificates are checked against it)",
                 cfgsec_sslmode_name(ct->sslmode));
        return -EINVAL;
    }
    rc = tls_build(ct, "client", 1, &t, err, errlen);
    if (rc < 0)
        return rc;
    /*
     * verify-ca and verify-full demand a client certificate. Below that, with a CA, a
     * certificate is asked for but optional (for HBA "cert"), as PostgreSQL does; one that
     * is sent must verify.
     */
    if (ct->ca_file != NULL) {
        int mode = SSL_VERIFY_PEER;

        if (ct->sslmode >= CFG_SSL_VERIFY_CA)
            mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
        SSL_CTX_set_verify(t->ctx, mode, NULL);
        names = SSL_load_client_CA_file(ct->ca_file);
        if (names != NULL)
            SSL_CTX_set_client_CA_list(t->ctx, names);
        ERR_clear_error();
    }
    /* No session cache or tickets: each connection is verified on its own (as PostgreSQL). */
    SSL_CTX_set_session_cache_mode(t->ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(t->ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(t->ctx, 0);
    tls_set_endpoint(t);
    *out = t;
    return 0;
}

int tls_ctx_for_servers(const struct cfg *c, struct tls_ctx **out, char *err, size_t errlen)
{
    const struct cfg_tls *st = &c->server_tls;
    struct tls_ctx *t;
    int rc;

    *out = NULL;
    if (st->sslmode == CFG_SSL_DISABLE)
        return 0;
    if (st->sslmode >= CFG_SSL_VERIFY_CA && st->ca_file == NULL) {
        snprintf(err, errlen, "server_tls_ca_file: required when server_tls_sslmode is %s",
                 cfgsec_sslmode_name(st->sslmode));
        return -EINVAL;
    }
    if ((st->cert_file == NULL) != (st->key_file == NULL)) {
        snprintf(err, errlen, "server_tls_%s_file: the client certificate needs both "
                 "server_tls_cert_file and server_tls_key_file",
                 st->cert_file == NULL ? "cert" : "key");
        return -EINVAL;
    }
    rc = tls_build(st, "server", 0, &t, err, errlen);
    if (rc < 0)
        return rc;
    /* verify-full adds the host name check per connection (conn_tls_connect). */
    SSL_CTX_set_verify(t->ctx, st->sslmode >= CFG_SSL_VERIFY_CA ? SSL_VERIFY_PEER
                                                                : SSL_VERIFY_NONE, NULL);
    *out = t;
    return 0;
}

struct tls_ctx *tls_ctx_ref(struct tls_ctx *t)
{
    if (t != NULL)
        atomic_fetch_add(&t->refs, 1);
    return t;
}

void tls_ctx_unref(struct tls_ctx *t)
{
    if (t == NULL || atomic_fetch_sub(&t->refs, 1) != 1)
        return;
    SSL_CTX_free(t->ctx);
    free(t);
}

const uint8_t *tls_ctx_endpoint(const struct tls_ctx *t, size_t *len)
{
    if (t == NULL || t->endpoint_len == 0) {
        *len = 0;
        return NULL;
    }
    *len = t->endpoint_len;
    return t->endpoint;
}

void *tls_ctx_ssl_ctx(const struct tls_ctx *t)
{
    return t->ctx;
}

int tls_ctx_sslmode(const struct tls_ctx *t)
{
    return t->sslmode;
}
