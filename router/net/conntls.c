/*
 * router/net/conntls.c - TLS on a struct conn through memory BIOs. libuv reads ciphertext,
 * it goes into the SSL's read BIO, and SSL_read decrypts into the conn's usual buffer, so
 * framing and zero-copy forwarding from a TLS conn work unchanged. Writes into a TLS conn
 * are encrypted into the write BIO and handed to the socket from there. OpenSSL never
 * touches a socket, so nothing here blocks the loop.
 *
 * Flow control: decrypting stops as soon as the owner stops reading (want_read 0, or a
 * forwarded slice in flight). What OpenSSL still holds then will not raise a socket event,
 * so resuming (conn_update_read) starts an idle handle that drains it from the loop.
 *
 * Encrypting is paced the same way: plaintext is encrypted while the socket takes the
 * ciphertext, at most CONNTLS_TURN bytes per loop iteration; the rest waits in order in
 * the write queue (wq) and goes on from the write callback or the idle handle. A 30 MB
 * batch for a TLS server is so encrypted 64 kB at a time as the server reads it, not all
 * at once into 30 MB of queued ciphertext while every other client waits. A forward's
 * source stops reading while its bytes wait here.
 */
#include "router/net/conntls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router/core/log.h"

#define CONNTLS_RX 65536            /* ciphertext per socket read */
#define CONNTLS_CHUNK 65536         /* plaintext per SSL_write before handing it on */
#define CONNTLS_TURN (256u << 10)   /* plaintext encrypted per loop iteration, at most */

/* Plaintext waiting to be encrypted, in order. */
struct conntls_seg {
    struct conntls_seg *next;
    uint8_t *data;              /* owned */
    size_t off, n;              /* next byte to encrypt; bytes in data */
    struct conn *src;           /* a forward's source, held (inflight) until encrypted;
                                 * NULL: our own bytes, counted in the conn's queued */
};

struct conn_tls {
    SSL *ssl;
    BIO *rbio;                  /* ciphertext in; owned by ssl */
    BIO *wbio;                  /* ciphertext out; owned by ssl */
    struct tls_ctx *ctx;        /* a reference; NULL for an adopted session */
    int owned;                  /* we SSL_free ssl (not for an adopted one) */
    int done;                   /* the handshake is over */
    int failed;                 /* a fatal TLS error was reported */
    int client;                 /* we are the TLS client */
    int idle_on;
    uv_idle_t idle;             /* drains what OpenSSL holds (see the file comment) */
    uint8_t *rx;                /* the socket read buffer (kept while reads fill it) */
    uint8_t *pend;              /* plaintext sent before a client handshake ended */
    struct conntls_seg *wq;     /* plaintext not encrypted yet (see the file comment) */
    struct conntls_seg **wq_tail;
    size_t pend_len, pend_cap;
    char describe[96];          /* "TLSv1.3/TLS_AES_256_GCM_SHA384/ECDH=X25519" */
    char cn[256];               /* verified peer certificate's CN, "" if none */
};

static void conntls_pump(struct conn *c);

/* The peer's address for log lines. */
static void conntls_peer(const struct conn *c, char *out, size_t len)
{
    struct sockaddr_storage ss;
    int sl = sizeof(ss);
    char host[64];

    snprintf(out, len, "?");
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sl) != 0)
        return;
    if (ss.ss_family == AF_INET6) {
        uv_ip6_name((struct sockaddr_in6 *)&ss, host, sizeof(host));
        snprintf(out, len, "[%s]:%u", host, ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
    } else if (ss.ss_family == AF_INET) {
        uv_ip4_name((struct sockaddr_in *)&ss, host, sizeof(host));
        snprintf(out, len, "%s:%u", host, ntohs(((struct sockaddr_in *)&ss)->sin_port));
    }
}

/* Hand everything in the write BIO to the socket. 0 or a libuv error. */
static int conntls_flush(struct conn *c, struct conn *src)
{
    struct conn_tls *t = c->tls;
    char *p;
    long n = BIO_get_mem_data(t->wbio, &p);
    int rc;

    if (n <= 0)
        return 0;
    rc = conn_write_raw(c, (const uint8_t *)p, (size_t)n, src);
    (void)BIO_reset(t->wbio);
    return rc;
}

/* A fatal TLS error: log it, send the alert OpenSSL made, report to the owner. */
static void conntls_fail(struct conn *c, const char *what, int uverr)
{
    struct conn_tls *t = c->tls;
    char peer[80], why[256];
    unsigned long e = ERR_peek_last_error();
    long vr;

    if (t->failed)
        return;
    t->failed = 1;
    conntls_peer(c, peer, sizeof(peer));
    if (t->client && (vr = SSL_get_verify_result(t->ssl)) != X509_V_OK)
        snprintf(why, sizeof(why), "certificate verify failed: %s",
                 X509_verify_cert_error_string(vr));
    else if (e != 0)
        ERR_error_string_n(e, why, sizeof(why));
    else
        snprintf(why, sizeof(why), "%s", uv_strerror(uverr));
    ERR_clear_error();
    log_info("TLS %s %s %s failed: %s", what, t->client ? "to" : "from", peer, why);
    conntls_flush(c, NULL);
    conn_want_read(c, 0);
    c->on_error(c, uverr);
}

/* "TLSv1.3/TLS_AES_256_GCM_SHA384/ECDH=X25519", PgBouncer's format for its tls column. */
static void conntls_set_describe(struct conn_tls *t)
{
    EVP_PKEY *k = NULL;
    char kx[64] = "";
    size_t used;

    used = (size_t)snprintf(t->describe, sizeof(t->describe), "%s/%s",
                            SSL_get_version(t->ssl), SSL_get_cipher_name(t->ssl));
    if (SSL_get_peer_tmp_key(t->ssl, &k) != 1 && SSL_get_tmp_key(t->ssl, &k) != 1)
        k = NULL;
    if (k != NULL) {
        switch (EVP_PKEY_get_base_id(k)) {
        case EVP_PKEY_DH:
            snprintf(kx, sizeof(kx), "DH=%d", EVP_PKEY_get_bits(k));
            break;
        case EVP_PKEY_EC: {
            char group[48];

            if (EVP_PKEY_get_group_name(k, group, sizeof(group), NULL) == 1)
                snprintf(kx, sizeof(kx), "ECDH=%s", group);
            break;
        }
        default:
            snprintf(kx, sizeof(kx), "ECDH=%s", OBJ_nid2sn(EVP_PKEY_get_base_id(k)));
            break;
        }
        EVP_PKEY_free(k);
    }
    ERR_clear_error();
    if (kx[0] != '\0' && used < sizeof(t->describe))
        snprintf(t->describe + used, sizeof(t->describe) - used, "/%s", kx);
}

/* The handshake just ended: remember what SHOW CLIENTS and HBA want, send what waited. */
static void conntls_established(struct conn *c)
{
    struct conn_tls *t = c->tls;
    X509 *peer;

    t->done = 1;
    conntls_set_describe(t);
    peer = SSL_get1_peer_certificate(t->ssl);
    if (peer != NULL && SSL_get_verify_result(t->ssl) == X509_V_OK) {
        int n = X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName,
                                          t->cn, sizeof(t->cn));

        /* A CN with a NUL inside would compare equal to a prefix of itself. */
        if (n < 0 || (size_t)n != strlen(t->cn))
            t->cn[0] = '\0';
    }
    X509_free(peer);
    if (t->pend_len > 0) {
        uint8_t *p = t->pend;
        size_t n = t->pend_len;

        t->pend = NULL;
        t->pend_len = t->pend_cap = 0;
        if (conntls_write(c, p, n, NULL, p) < 0)
            conntls_fail(c, "write", UV_EPIPE);
    }
}

/* Go on with the handshake. 1 when it is over, 0 when it needs more input, -1 failed. */
static int conntls_handshake(struct conn *c)
{
    struct conn_tls *t = c->tls;
    int rc, err;

    ERR_clear_error();
    rc = SSL_do_handshake(t->ssl);
    if (conntls_flush(c, NULL) < 0) {
        conntls_fail(c, "handshake", UV_EPIPE);
        return -1;
    }
    if (rc == 1) {
        conntls_established(c);
        return t->failed ? -1 : 1;
    }
    err = SSL_get_error(t->ssl, rc);
    if (err == SSL_ERROR_WANT_READ)
        return 0;
    conntls_fail(c, "handshake", UV_EPROTO);
    return -1;
}

/*
 * Decrypt into the buffer and call on_read while the owner reads. Bounded by what the read
 * BIO holds: one socket read's worth, or what was left when the owner stopped.
 */
static void conntls_pump(struct conn *c)
{
    struct conn_tls *t = c->tls;
    int n, err;

    if (t->failed || !c->open)
        return;
    if (!t->done && conntls_handshake(c) <= 0)
        return;
    while (c->open && c->want_read && c->inflight == 0 && !t->failed) {
        if (conn_make_room(c) < 0) {
            conntls_fail(c, "read", UV_ENOBUFS);
            return;
        }
        ERR_clear_error();
        n = SSL_read(t->ssl, c->buf + c->recvd, (int)(c->cap - c->recvd < INT32_MAX ?
                                                       c->cap - c->recvd : INT32_MAX));
        if (n > 0) {
            c->recvd += (size_t)n;
            c->bytes_in += (uint64_t)n;
            c->on_read(c);
            continue;
        }
        err = SSL_get_error(t->ssl, n);
        if (conntls_flush(c, NULL) < 0) {
            conntls_fail(c, "write", UV_EPIPE);
            return;
        }
        if (err == SSL_ERROR_WANT_READ)
            break;
        if (err == SSL_ERROR_ZERO_RETURN) {
            /* close_notify: an orderly end, like a FIN. */
            t->failed = 1;
            conn_want_read(c, 0);
            c->on_error(c, UV_EOF);
            return;
        }
        conntls_fail(c, "read", UV_EPROTO);
        return;
    }
    if (c->open && !t->failed && conntls_flush(c, NULL) < 0) {
        conntls_fail(c, "write", UV_EPIPE);
        return;
    }
    if (c->open)
        conn_release_idle(c);
}

void conntls_alloc(struct conn *c, uv_buf_t *out)
{
    struct conn_tls *t = c->tls;

    if (t->rx == NULL)
        t->rx = malloc(CONNTLS_RX);
    *out = t->rx != NULL ? uv_buf_init((char *)t->rx, CONNTLS_RX) : uv_buf_init(NULL, 0);
}

void conntls_on_cipher(struct conn *c, const uv_buf_t *b, ssize_t nread)
{
    struct conn_tls *t = c->tls;
    int ok = 1;

    (void)b;
    if (nread > 0)
        ok = BIO_write(t->rbio, t->rx, (int)nread) == (int)nread;
    if (nread < CONNTLS_RX) {
        /* The socket ran dry: an idle conn holds no buffer. One that filled it is in a
         * bulk transfer and keeps it for the next read, not a malloc per 64 kB. */
        free(t->rx);
        t->rx = NULL;
    }
    if (nread == 0)
        return;
    if (nread < 0) {
        conn_want_read(c, 0);
        c->on_error(c, (int)nread);
        return;
    }
    if (!ok) {
        conntls_fail(c, "read", UV_ENOMEM);
        return;
    }
    conntls_pump(c);
}

/* Encrypt k bytes at p (k <= CONNTLS_CHUNK) and hand the ciphertext to the socket. */
static int conntls_put(struct conn *c, const uint8_t *p, size_t k)
{
    ERR_clear_error();
    if (SSL_write(c->tls->ssl, p, (int)k) != (int)k)
        return UV_EPROTO;
    return conntls_flush(c, NULL);
}

/* The segment is encrypted (or dropped): its source may read again. */
static void conntls_seg_free(struct conntls_seg *g)
{
    if (g->src != NULL)
        conn_slice_done(g->src);
    free(g->data);
    free(g);
}

/*
 * Encrypt from the write queue while the socket takes the ciphertext (all of it with
 * all set, for a shutdown), at most CONNTLS_TURN bytes unless all. 0 or a libuv error.
 */
static int conntls_drain(struct conn *c, int all)
{
    struct conn_tls *t = c->tls;
    size_t done = 0;
    int rc;

    while (t->wq != NULL && !t->failed) {
        struct conntls_seg *g = t->wq;
        size_t k = g->n - g->off < CONNTLS_CHUNK ? g->n - g->off : CONNTLS_CHUNK;

        if (!all && c->tcp.write_queue_size > 0)
            return 0;   /* the write callback goes on */
        if (!all && done >= CONNTLS_TURN) {
            conntls_kick(c);    /* the next loop iteration goes on */
            return 0;
        }
        rc = conntls_put(c, g->data + g->off, k);
        if (rc < 0)
            return rc;
        g->off += k;
        done += k;
        if (g->src == NULL)
            c->queued -= k;
        if (g->off == g->n) {
            t->wq = g->next;
            if (t->wq == NULL)
                t->wq_tail = &t->wq;
            conntls_seg_free(g);
        }
    }
    return 0;
}

int conntls_write(struct conn *dst, const uint8_t *p, size_t n, struct conn *src,
                  uint8_t *owned)
{
    struct conn_tls *t = dst->tls;
    struct conntls_seg *g;
    size_t done = 0;
    int rc;

    if (t->failed) {
        free(owned);
        return UV_EPIPE;
    }
    if (!t->done) {
        if (t->pend_len + n > t->pend_cap) {
            size_t cap = t->pend_cap ? t->pend_cap : 4096;
            uint8_t *q;

            while (cap < t->pend_len + n)
                cap *= 2;
            q = realloc(t->pend, cap);
            if (q == NULL) {
                free(owned);
                return UV_ENOMEM;
            }
            t->pend = q;
            t->pend_cap = cap;
        }
        memcpy(t->pend + t->pend_len, p, n);
        t->pend_len += n;
        free(owned);
        return 0;
    }
    /* Encrypt now while nothing waits before us and the socket takes it. */
    while (n > 0 && t->wq == NULL && dst->tcp.write_queue_size == 0 && done < CONNTLS_TURN) {
        size_t k = n > CONNTLS_CHUNK ? CONNTLS_CHUNK : n;

        rc = conntls_put(dst, p, k);
        if (rc < 0) {
            free(owned);
            return rc;
        }
        p += k;
        n -= k;
        done += k;
    }
    if (n == 0) {
        free(owned);
        return 0;
    }
    /* The rest waits in the write queue: in owned if we have it, else in a copy. */
    g = calloc(1, sizeof(*g));
    if (g == NULL) {
        free(owned);
        return UV_ENOMEM;
    }
    if (owned != NULL) {
        g->data = owned;
        g->off = (size_t)(p - owned);
        g->n = g->off + n;
    } else if ((g->data = malloc(n)) != NULL) {
        memcpy(g->data, p, n);
        g->n = n;
    } else {
        free(g);
        return UV_ENOMEM;
    }
    g->src = src;
    if (src != NULL) {
        src->inflight++;
        conn_update_read(src);
    } else {
        dst->queued += n;
    }
    if (t->wq_tail == NULL)
        t->wq_tail = &t->wq;
    *t->wq_tail = g;
    t->wq_tail = &g->next;
    if (dst->tcp.write_queue_size == 0)
        conntls_kick(dst);  /* the turn's budget is spent: go on from the loop */
    return 0;
}

void conntls_on_written(struct conn *c)
{
    if (c->tls != NULL && c->open && c->tls->wq != NULL && conntls_drain(c, 0) < 0)
        conntls_fail(c, "write", UV_EPROTO);
}

int conntls_needs_read(const struct conn *c)
{
    return c->tls != NULL && !c->tls->done && !c->tls->failed;
}

int conntls_pending(const struct conn *c)
{
    const struct conn_tls *t = c->tls;

    return !t->failed && (SSL_has_pending(t->ssl) || BIO_ctrl_pending(t->rbio) > 0);
}

static void conntls_idle_cb(uv_idle_t *h)
{
    struct conn *c = h->data;

    uv_idle_stop(h);
    c->tls->idle_on = 0;
    if (c->tls->wq != NULL && conntls_drain(c, 0) < 0) {
        conntls_fail(c, "write", UV_EPROTO);
        return;
    }
    conntls_pump(c);
}

void conntls_kick(struct conn *c)
{
    struct conn_tls *t = c->tls;

    if (!t->idle_on && c->open) {
        t->idle_on = 1;
        uv_idle_start(&t->idle, conntls_idle_cb);
    }
}

void conntls_shutdown(struct conn *c)
{
    struct conn_tls *t = c->tls;

    if (!t->done || t->failed)
        return;
    /* close_notify comes after every byte written before it */
    if (conntls_drain(c, 1) < 0)
        return;
    ERR_clear_error();
    (void)SSL_shutdown(t->ssl);
    ERR_clear_error();
    conntls_flush(c, NULL);
}

void conntls_close(struct conn *c)
{
    struct conn_tls *t = c->tls;

    uv_idle_stop(&t->idle);
    t->idle_on = 0;
    while (t->wq != NULL) {
        struct conntls_seg *g = t->wq;

        t->wq = g->next;
        conntls_seg_free(g);
    }
    t->wq_tail = &t->wq;
    uv_close((uv_handle_t *)&t->idle, conn_handle_closed);
}

void conntls_free(struct conn *c)
{
    struct conn_tls *t = c->tls;

    if (t == NULL)
        return;
    if (t->owned)
        SSL_free(t->ssl);
    if (t->ctx != NULL)
        tls_ctx_unref(t->ctx);
    free(t->rx);
    free(t->pend);
    free(t);
    c->tls = NULL;
}

/* Memory BIOs on ssl and the drain handle; c carries TLS from here on. */
static int conntls_attach(struct conn *c, SSL *ssl, struct tls_ctx *ctx, int owned)
{
    struct conn_tls *t;
    BIO *rb, *wb;

    if (!c->open || c->tls != NULL)
        return -EINVAL;
    t = calloc(1, sizeof(*t));
    rb = BIO_new(BIO_s_mem());
    wb = BIO_new(BIO_s_mem());
    if (t == NULL || rb == NULL || wb == NULL || uv_idle_init(c->tcp.loop, &t->idle) < 0) {
        BIO_free(rb);
        BIO_free(wb);
        free(t);
        return -ENOMEM;
    }
    /* An empty read BIO means "no bytes yet", never end of stream. */
    BIO_set_mem_eof_return(rb, -1);
    SSL_set_bio(ssl, rb, wb);
    t->ssl = ssl;
    t->rbio = rb;
    t->wbio = wb;
    t->owned = owned;
    t->ctx = ctx != NULL ? tls_ctx_ref(ctx) : NULL;
    t->idle.data = c;
    t->wq_tail = &t->wq;
    c->tls = t;
    c->handles++;
    return 0;
}

int conn_tls_accept(struct conn *c, struct tls_ctx *ctx)
{
    SSL *ssl;
    int rc;

    if (c->recvd != c->parsed)
        return -EPROTO;
    ssl = SSL_new(tls_ctx_ssl_ctx(ctx));
    if (ssl == NULL)
        return -ENOMEM;
    rc = conntls_attach(c, ssl, ctx, 1);
    if (rc < 0) {
        SSL_free(ssl);
        return rc;
    }
    SSL_set_accept_state(ssl);
    conn_update_read(c);
    return 0;
}

int conn_tls_connect(struct conn *c, struct tls_ctx *ctx, const char *host)
{
    unsigned char ip[16];
    int is_ip, rc;
    SSL *ssl;

    if (c->recvd != c->parsed)
        return -EPROTO;
    ssl = SSL_new(tls_ctx_ssl_ctx(ctx));
    if (ssl == NULL)
        return -ENOMEM;
    is_ip = host != NULL && (inet_pton(AF_INET, host, ip) == 1 ||
                             inet_pton(AF_INET6, host, ip) == 1);
    /* SNI carries names only (RFC 6066); verify-full checks the name or the address. */
    if (host != NULL && !is_ip && SSL_set_tlsext_host_name(ssl, host) != 1)
        goto fail;
    if (host != NULL && tls_ctx_sslmode(ctx) == CFG_SSL_VERIFY_FULL &&
        (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host)
               : SSL_set1_host(ssl, host)) != 1)
        goto fail;
    rc = conntls_attach(c, ssl, ctx, 1);
    if (rc < 0) {
        SSL_free(ssl);
        return rc;
    }
    c->tls->client = 1;
    SSL_set_connect_state(ssl);
    /* The ClientHello goes out now; the answer is read whatever the owner wants. */
    ERR_clear_error();
    rc = SSL_do_handshake(ssl);
    if ((rc != 1 && SSL_get_error(ssl, rc) != SSL_ERROR_WANT_READ) ||
        conntls_flush(c, NULL) < 0) {
        ERR_clear_error();
        c->tls->failed = 1;
        return -EPROTO;
    }
    conn_update_read(c);
    return 0;
fail:
    ERR_clear_error();
    SSL_free(ssl);
    return -EINVAL;
}

int conn_tls_adopt(struct conn *c, void *ssl)
{
    int rc;

    if (ssl == NULL || !SSL_is_init_finished((SSL *)ssl))
        return -EINVAL;
    rc = conntls_attach(c, ssl, NULL, 0);
    if (rc < 0)
        return rc;
    c->tls->client = 1;
    conntls_established(c);
    /* libpq may have left part of a record decrypted: drain it once reading starts. */
    conn_update_read(c);
    return 0;
}

int conn_tls_on(const struct conn *c)
{
    return c->tls != NULL;
}

const uint8_t *conn_tls_endpoint(const struct conn *c, size_t *len)
{
    if (c->tls == NULL || c->tls->ctx == NULL || c->tls->client) {
        *len = 0;
        return NULL;
    }
    return tls_ctx_endpoint(c->tls->ctx, len);
}

const char *conn_tls_peer_cn(const struct conn *c)
{
    if (c->tls == NULL || !c->tls->done || c->tls->cn[0] == '\0')
        return NULL;
    return c->tls->cn;
}

const char *conn_tls_describe(const struct conn *c)
{
    if (c->tls == NULL)
        return NULL;
    return c->tls->done ? c->tls->describe : "handshake";
}
