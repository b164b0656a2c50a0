/*
 * tests/unit/test_tls.c - TLS contexts and TLS on struct conn, on a real libuv loop over a
 * socketpair, with a certificate made by the test itself (nothing is checked in):
 * accept + connect with verify-full, several MB echoed both ways while the reader keeps
 * stopping and resuming (bytes OpenSSL holds must be drained without a socket event),
 * plaintext queued before the handshake ends, adoption of an established SSL * that holds
 * decrypted bytes already, garbage instead of a ClientHello, a wrong host name under
 * verify-full, the context errors (key not matching, bad protocols, missing files), the
 * tls-server-end-point hash, and the protocols syntax. Loop tests end with
 * uv_loop_close() == 0.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <uv.h>

#include "config/cfgload.h"
#include "config/cfgtls.h"
#include "router/net/conn.h"
#include "router/net/conntls.h"
#include "router/net/tls.h"

static char dir[64];
static char cert_path[128], key_path[128], key2_path[128], sha1_cert_path[128];

/* ---- a throw-away certificate ---- */

static void write_key(const char *path, EVP_PKEY *k)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
}

static void write_cert(const char *path, EVP_PKEY *k, const EVP_MD *md)
{
    X509 *x = X509_new();
    X509_NAME *n;
    X509V3_CTX v3;
    X509_EXTENSION *ext;
    FILE *f;

    assert_non_null(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600L * 24);
    X509_set_pubkey(x, k);
    n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"localhost",
                               -1, -1, 0);
    X509_set_issuer_name(x, n);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
    assert_non_null(ext);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:TRUE");
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    assert_true(X509_sign(x, k, md) > 0);
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_X509(f, x), 1);
    fclose(f);
    X509_free(x);
}

static int setup_files(void **state)
{
    EVP_PKEY *k = EVP_EC_gen("P-256"), *k2 = EVP_EC_gen("P-256");

    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/pgrouter-tls-XXXXXX");
    if (mkdtemp(dir) == NULL || k == NULL || k2 == NULL)
        return -1;
    snprintf(cert_path, sizeof(cert_path), "%s/server.crt", dir);
    snprintf(key_path, sizeof(key_path), "%s/server.key", dir);
    snprintf(key2_path, sizeof(key2_path), "%s/other.key", dir);
    snprintf(sha1_cert_path, sizeof(sha1_cert_path), "%s/sha1.crt", dir);
    write_key(key_path, k);
    write_key(key2_path, k2);
    write_cert(cert_path, k, EVP_sha256());
    write_cert(sha1_cert_path, k, EVP_sha1());
    EVP_PKEY_free(k);
    EVP_PKEY_free(k2);
    return 0;
}

static int teardown_files(void **state)
{
    char p[160];

    (void)state;
    unlink(cert_path);
    unlink(key_path);
    unlink(key2_path);
    unlink(sha1_cert_path);
    snprintf(p, sizeof(p), "%s", dir);
    rmdir(p);
    return 0;
}

static void set(char **field, const char *v)
{
    free(*field);
    *field = v != NULL ? strdup(v) : NULL;
}

/* A config with TLS toward clients (cert, key) and toward servers (verify-full). */
static struct cfg *tls_cfg(int client_mode, int server_mode)
{
    struct cfg *c = cfg_new_defaults();

    assert_non_null(c);
    c->client_tls.sslmode = client_mode;
    set(&c->client_tls.cert_file, cert_path);
    set(&c->client_tls.key_file, key_path);
    c->server_tls.sslmode = server_mode;
    set(&c->server_tls.ca_file, cert_path);
    return c;
}

/* ---- two conns on a loop ---- */

#define TOTAL (3u << 20)

struct peer {
    struct conn c;
    uv_timer_t resume;
    int echo;               /* forward everything back (the server side) */
    int pause;              /* stop reading after each read, resume from a timer */
    int shut;               /* at expect, shut down (close_notify, FIN) instead of closing */
    size_t got;
    size_t expect;
    int bad;                /* a byte differed from the pattern */
    int err;                /* the on_error code, 0 if none */
    int closed;
    struct peer *other;
};

static uint8_t pattern(size_t i)
{
    return (uint8_t)((i * 7 + (i >> 12)) & 0xff);
}

static void peer_closed(struct conn *c)
{
    struct peer *p = c->owner;

    p->closed = 1;
}

static void peer_error(struct conn *c, int err)
{
    struct peer *p = c->owner;

    p->err = err;
    conn_close(c);
    if (p->other != NULL)
        conn_close(&p->other->c);
}

static void peer_resume(uv_timer_t *t)
{
    struct peer *p = t->data;

    conn_want_read(&p->c, 1);
}

static void peer_read(struct conn *c)
{
    struct peer *p = c->owner;
    size_t n = c->recvd - c->parsed;

    for (size_t i = 0; i < n; i++)
        if (c->buf[c->parsed + i] != pattern(p->got + i))
            p->bad = 1;
    conn_consume(c, n);
    p->got += n;
    if (p->echo) {
        assert_int_equal(conn_forward(c, c), 0);
    } else {
        conn_discard(c);
    }
    if (p->expect != 0 && p->got >= p->expect && p->shut) {
        p->expect = 0;
        conn_shutdown(c);
        return;
    }
    if (p->expect != 0 && p->got >= p->expect) {
        conn_close(c);
        if (p->other != NULL)
            conn_close(&p->other->c);
        return;
    }
    if (p->pause) {
        conn_want_read(c, 0);
        uv_timer_start(&p->resume, peer_resume, 1, 0);
    }
}

static void peers_init(uv_loop_t *loop, struct peer *a, struct peer *b)
{
    int fds[2];

    memset(a, 0, sizeof(*a));
    memset(b, 0, sizeof(*b));
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    assert_int_equal(conn_init(loop, &a->c, a, peer_read, peer_error, peer_closed), 0);
    assert_int_equal(conn_init(loop, &b->c, b, peer_read, peer_error, peer_closed), 0);
    assert_int_equal(conn_open_fd(&a->c, fds[0]), 0);
    assert_int_equal(conn_open_fd(&b->c, fds[1]), 0);
    uv_timer_init(loop, &a->resume);
    uv_timer_init(loop, &b->resume);
    a->resume.data = a;
    b->resume.data = b;
    a->other = b;
    b->other = a;
}

static void stop_on_deadline(uv_timer_t *t)
{
    uv_stop(t->loop);
}

/* Run until both conns are closed, or 20 s pass; then close the rest. */
static void peers_run(uv_loop_t *loop, struct peer *a, struct peer *b)
{
    uv_timer_t deadline;

    uv_timer_init(loop, &deadline);
    uv_timer_start(&deadline, stop_on_deadline, 20000, 0);
    uv_unref((uv_handle_t *)&deadline);
    uv_run(loop, UV_RUN_DEFAULT);
    conn_close(&a->c);
    conn_close(&b->c);
    uv_close((uv_handle_t *)&a->resume, NULL);
    uv_close((uv_handle_t *)&b->resume, NULL);
    uv_close((uv_handle_t *)&deadline, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    assert_true(a->closed && b->closed);
    conn_free_buf(&a->c);
    conn_free_buf(&b->c);
    assert_int_equal(uv_loop_close(loop), 0);
}

/* Send TOTAL pattern bytes from b in pieces of step. */
static void send_pattern(struct conn *c, size_t step)
{
    uint8_t *chunk = malloc(step);

    assert_non_null(chunk);
    for (size_t off = 0; off < TOTAL; off += step) {
        size_t n = TOTAL - off < step ? TOTAL - off : step;

        for (size_t i = 0; i < n; i++)
            chunk[i] = pattern(off + i);
        assert_int_equal(conn_send(c, chunk, n), 0);
    }
    free(chunk);
}

static void test_tls_echo_with_flow_control(void **state)
{
    struct cfg *cfg = tls_cfg(CFG_SSL_REQUIRE, CFG_SSL_VERIFY_FULL);
    struct tls_ctx *server_side = NULL, *client_side = NULL;
    char err[256] = "";
    uv_loop_t loop;
    struct peer a, b;

    (void)state;
    assert_int_equal(tls_ctx_for_clients(cfg, &server_side, err, sizeof(err)), 0);
    assert_int_equal(tls_ctx_for_servers(cfg, &client_side, err, sizeof(err)), 0);
    assert_non_null(server_side);
    assert_non_null(client_side);
    uv_loop_init(&loop);
    peers_init(&loop, &a, &b);
    a.echo = 1;
    b.pause = 1;
    b.expect = TOTAL;
    assert_int_equal(conn_tls_accept(&a.c, server_side), 0);
    conn_want_read(&a.c, 1);
    assert_int_equal(conn_tls_connect(&b.c, client_side, "localhost"), 0);
    assert_true(conn_tls_on(&b.c));
    /* Queued before the handshake has ended: goes out after it. */
    send_pattern(&b.c, 100000);
    conn_want_read(&b.c, 1);
    /* The contexts may go: each conn holds its own reference. */
    tls_ctx_unref(server_side);
    tls_ctx_unref(client_side);
    peers_run(&loop, &a, &b);
    assert_int_equal(a.err, 0);
    assert_int_equal(b.err, 0);
    assert_int_equal(a.got, TOTAL);
    assert_int_equal(b.got, TOTAL);
    assert_false(a.bad);
    assert_false(b.bad);
    cfg_unref(cfg);
}

static void test_tls_describe_endpoint_and_close_notify(void **state)
{
    struct cfg *cfg = tls_cfg(CFG_SSL_REQUIRE, CFG_SSL_VERIFY_FULL);
    struct tls_ctx *server_side = NULL, *client_side = NULL;
    char err[256] = "";
    uv_loop_t loop;
    struct peer a, b;
    size_t len = 0;
    const uint8_t *ep;

    (void)state;
    assert_int_equal(tls_ctx_for_clients(cfg, &server_side, err, sizeof(err)), 0);
    assert_int_equal(tls_ctx_for_servers(cfg, &client_side, err, sizeof(err)), 0);
    ep = tls_ctx_endpoint(server_side, &len);
    assert_non_null(ep);
    assert_int_equal(len, 32);
    /* The client side has no certificate of its own. */
    assert_null(tls_ctx_endpoint(client_side, &len));
    uv_loop_init(&loop);
    peers_init(&loop, &a, &b);
    assert_int_equal(conn_tls_accept(&a.c, server_side), 0);
    conn_want_read(&a.c, 1);
    assert_int_equal(conn_tls_connect(&b.c, client_side, "127.0.0.1"), 0);
    assert_int_equal(conn_send(&b.c, "\x00\x01\x02", 3), 0);
    conn_want_read(&b.c, 1);
    a.expect = 3;
    a.shut = 1;
    /* a shuts down after its 3 bytes: b sees the close_notify as an orderly end. */
    peers_run(&loop, &a, &b);
    assert_int_equal(a.got, 3);
    assert_int_equal(b.err, UV_EOF);
    tls_ctx_unref(server_side);
    tls_ctx_unref(client_side);
    cfg_unref(cfg);
}

/* The accepting side reads describe/endpoint while the conn is up. */
struct probe {
    struct peer p;
    char describe[96];
    size_t ep_len;
};

static void probe_read(struct conn *c)
{
    struct probe *pr = c->owner;
    const char *d = conn_tls_describe(c);

    snprintf(pr->describe, sizeof(pr->describe), "%s", d != NULL ? d : "");
    conn_tls_endpoint(c, &pr->ep_len);
    peer_read(c);
}

static void test_tls_conn_reports_version_and_endpoint(void **state)
{
    struct cfg *cfg = tls_cfg(CFG_SSL_REQUIRE, CFG_SSL_REQUIRE);
    struct tls_ctx *server_side = NULL, *client_side = NULL;
    char err[256] = "";
    uv_loop_t loop;
    struct probe pa;
    struct peer b;

    (void)state;
    assert_int_equal(tls_ctx_for_clients(cfg, &server_side, err, sizeof(err)), 0);
    assert_int_equal(tls_ctx_for_servers(cfg, &client_side, err, sizeof(err)), 0);
    uv_loop_init(&loop);
    peers_init(&loop, &pa.p, &b);
    memset(pa.describe, 0, sizeof(pa.describe));
    pa.ep_len = 0;
    pa.p.c.owner = &pa;     /* struct probe starts with its peer */
    pa.p.c.on_read = probe_read;
    pa.p.expect = 5;
    assert_null(conn_tls_describe(&pa.p.c));
    assert_int_equal(conn_tls_accept(&pa.p.c, server_side), 0);
    conn_want_read(&pa.p.c, 1);
    assert_int_equal(conn_tls_connect(&b.c, client_side, "localhost"), 0);
    assert_int_equal(conn_send(&b.c, "\x00\x01\x02\x03\x04", 5), 0);
    conn_want_read(&b.c, 1);
    peers_run(&loop, &pa.p, &b);
    assert_string_equal(pa.describe, "TLSv1.3/TLS_AES_256_GCM_SHA384/ECDH=X25519");
    assert_int_equal(pa.ep_len, 32);
    assert_null(conn_tls_peer_cn(&pa.p.c));
    tls_ctx_unref(server_side);
    tls_ctx_unref(client_side);
    cfg_unref(cfg);
}

static void test_tls_garbage_instead_of_client_hello(void **state)
{
    struct cfg *cfg = tls_cfg(CFG_SSL_REQUIRE, CFG_SSL_DISABLE);
    struct tls_ctx *server_side = NULL;
    char err[256] = "";
    uv_loop_t loop;
    struct peer a, b;
    static const char junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

    (void)state;
    assert_int_equal(tls_ctx_for_clients(cfg, &server_side, err, sizeof(err)), 0);
    uv_loop_init(&loop);
    peers_init(&loop, &a, &b);
    assert_int_equal(conn_tls_accept(&a.c, server_side), 0);
    conn_want_read(&a.c, 1);
    assert_int_equal(conn_send(&b.c, junk, sizeof(junk) - 1), 0);
    conn_want_read(&b.c, 1);
    peers_run(&loop, &a, &b);
    assert_int_equal(a.err, UV_EPROTO);
    assert_int_equal(a.got, 0);
    tls_ctx_unref(server_side);
    cfg_unref(cfg);
}

static void test_tls_verify_full_refuses_wrong_host(void **state)
{
    struct cfg *cfg = tls_cfg(CFG_SSL_REQUIRE, CFG_SSL_VERIFY_FULL);
    struct tls_ctx *server_side = NULL, *client_side = NULL;
    char err[256] = "";
    uv_loop_t loop;
    struct peer a, b;

    (void)state;
    assert_int_equal(tls_ctx_for_clients(cfg, &server_side, err, sizeof(err)), 0);
    assert_int_equal(tls_ctx_for_servers(cfg, &client_side, err, sizeof(err)), 0);
    uv_loop_init(&loop);
    peers_init(&loop, &a, &b);
    assert_int_equal(conn_tls_accept(&a.c, server_side), 0);
    conn_want_read(&a.c, 1);
    assert_int_equal(conn_tls_connect(&b.c, client_side, "db.example.com"), 0);
    assert_int_equal(conn_send(&b.c, "x", 1), 0);
    peers_run(&loop, &a, &b);
    assert_int_equal(b.err, UV_EPROTO);
    assert_int_equal(a.got, 0);
    tls_ctx_unref(server_side);
    tls_ctx_unref(client_side);
    cfg_unref(cfg);
}

/* Move ciphertext between two memory-BIO SSLs until neither has more to say. */
static void shuttle(SSL *x, SSL *y)
{
    char buf[16384];
    int moved = 1;

    while (moved) {
        int n;

        moved = 0;
        SSL_do_handshake(x);
        SSL_do_handshake(y);
        while ((n = BIO_read(SSL_get_wbio(x), buf, sizeof(buf))) > 0) {
            BIO_write(SSL_get_rbio(y), buf, n);
            moved = 1;
        }
        while ((n = BIO_read(SSL_get_wbio(y), buf, sizeof(buf))) > 0) {
            BIO_write(SSL_get_rbio(x), buf, n);
            moved = 1;
        }
    }
}

static SSL *mem_ssl(struct tls_ctx *t)
{
    SSL *s = SSL_new(tls_ctx_ssl_ctx(t));

    SSL_set_bio(s, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
    return s;
}

static void test_tls_adopt_takes_over_a_session_with_pending_bytes(void **state)
{
    struct cfg *cfg = tls_cfg(CFG_SSL_REQUIRE, CFG_SSL_REQUIRE);
    struct tls_ctx *server_side = NULL, *client_side = NULL;
    char err[256] = "";
    uv_loop_t loop;
    struct peer a, b;
    SSL *srv, *cli;
    uint8_t first[1000], one;

    (void)state;
    assert_int_equal(tls_ctx_for_clients(cfg, &server_side, err, sizeof(err)), 0);
    assert_int_equal(tls_ctx_for_servers(cfg, &client_side, err, sizeof(err)), 0);
    srv = mem_ssl(server_side);
    cli = mem_ssl(client_side);
    SSL_set_accept_state(srv);
    SSL_set_connect_state(cli);
    shuttle(cli, srv);
    assert_true(SSL_is_init_finished(cli) && SSL_is_init_finished(srv));
    /* One record from the server; the client reads 1 byte, the rest stays decrypted. */
    for (size_t i = 0; i < sizeof(first); i++)
        first[i] = pattern(i);
    assert_int_equal(SSL_write(srv, first, sizeof(first)), (int)sizeof(first));
    shuttle(srv, cli);
    assert_int_equal(SSL_read(cli, &one, 1), 1);
    assert_int_equal(one, pattern(0));
    assert_true(SSL_pending(cli) > 0);

    uv_loop_init(&loop);
    peers_init(&loop, &a, &b);
    assert_int_equal(conn_tls_adopt(&a.c, srv), 0);
    assert_int_equal(conn_tls_adopt(&b.c, cli), 0);
    assert_string_equal(conn_tls_describe(&b.c), "TLSv1.3/TLS_AES_256_GCM_SHA384/ECDH=X25519");
    a.echo = 1;
    b.got = 1;          /* the byte read before adoption */
    b.expect = sizeof(first) + 200000;
    conn_want_read(&a.c, 1);
    conn_want_read(&b.c, 1);    /* the 999 pending bytes come without a socket event */
    {
        uint8_t *more = malloc(200000);

        for (size_t i = 0; i < 200000; i++)
            more[i] = pattern(sizeof(first) + i);
        /* a echoes it back to b, continuing the pattern after the first record */
        assert_int_equal(conn_send(&b.c, more, 200000), 0);
        free(more);
    }
    a.got = sizeof(first);      /* a checks the echo against the pattern from there */
    peers_run(&loop, &a, &b);
    assert_int_equal(b.got, sizeof(first) + 200000);
    assert_false(a.bad);
    assert_false(b.bad);
    /* Adopted sessions are not freed by the conn: the owner (libpq) frees them. */
    SSL_free(srv);
    SSL_free(cli);
    tls_ctx_unref(server_side);
    tls_ctx_unref(client_side);
    cfg_unref(cfg);
}

static void expect_ctx_error(struct cfg *c, int clients, const char *prefix)
{
    struct tls_ctx *t = (struct tls_ctx *)1;
    char err[512] = "";
    int rc = clients ? tls_ctx_for_clients(c, &t, err, sizeof(err))
                     : tls_ctx_for_servers(c, &t, err, sizeof(err));

    assert_int_not_equal(rc, 0);
    assert_null(t);
    if (strncmp(err, prefix, strlen(prefix)) != 0)
        fail_msg("error \"%s\" does not start with \"%s\"", err, prefix);
}

static void test_tls_ctx_errors_name_the_key(void **state)
{
    struct cfg *c = tls_cfg(CFG_SSL_REQUIRE, CFG_SSL_VERIFY_CA);
    struct tls_ctx *t = NULL;
    char err[256];

    (void)state;
    set(&c->client_tls.key_file, key2_path);
    expect_ctx_error(c, 1, "client_tls_key_file: ");
    assert_non_null(strstr(c->client_tls.key_file, "other.key"));
    set(&c->client_tls.key_file, key_path);
    set(&c->client_tls.protocols, "tlsv1.2,sslv3");
    expect_ctx_error(c, 1, "client_tls_protocols: \"sslv3\"");
    set(&c->client_tls.protocols, "tlsv1.3");
    set(&c->client_tls.ciphers, "NO-SUCH-CIPHER");
    expect_ctx_error(c, 1, "client_tls_ciphers: ");
    set(&c->client_tls.ciphers, "default");
    set(&c->client_tls.cert_file, "/nonexistent/cert.pem");
    expect_ctx_error(c, 1, "client_tls_cert_file: /nonexistent/cert.pem");
    set(&c->client_tls.cert_file, NULL);
    expect_ctx_error(c, 1, "client_tls_cert_file: required");
    set(&c->client_tls.cert_file, cert_path);
    c->client_tls.sslmode = CFG_SSL_VERIFY_CA;
    expect_ctx_error(c, 1, "client_tls_ca_file: required");
    set(&c->client_tls.ca_file, cert_path);
    assert_int_equal(tls_ctx_for_clients(c, &t, err, sizeof(err)), 0);
    tls_ctx_unref(t);
    c->client_tls.sslmode = CFG_SSL_DISABLE;
    t = (struct tls_ctx *)1;
    assert_int_equal(tls_ctx_for_clients(c, &t, err, sizeof(err)), 0);
    assert_null(t);
    set(&c->server_tls.ca_file, NULL);
    expect_ctx_error(c, 0, "server_tls_ca_file: required");
    set(&c->server_tls.ca_file, "/nonexistent/ca.pem");
    expect_ctx_error(c, 0, "server_tls_ca_file: /nonexistent/ca.pem");
    cfg_unref(c);
}

static void test_tls_endpoint_of_sha1_certificate_is_sha256(void **state)
{
    struct cfg *c = tls_cfg(CFG_SSL_REQUIRE, CFG_SSL_DISABLE);
    struct tls_ctx *t = NULL;
    char err[256];
    size_t len = 0;
    const uint8_t *ep;
    uint8_t want[32];
    unsigned wlen = 0;
    X509 *x;
    FILE *f;

    (void)state;
    set(&c->client_tls.cert_file, sha1_cert_path);
    assert_int_equal(tls_ctx_for_clients(c, &t, err, sizeof(err)), 0);
    ep = tls_ctx_endpoint(t, &len);
    assert_int_equal(len, 32);
    f = fopen(sha1_cert_path, "r");
    x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    assert_int_equal(X509_digest(x, EVP_sha256(), want, &wlen), 1);
    assert_memory_equal(ep, want, 32);
    X509_free(x);
    tls_ctx_unref(t);
    cfg_unref(c);
}

static void test_cfgtls_protocols_syntax(void **state)
{
    unsigned m = 0;
    char why[256];

    (void)state;
    assert_int_equal(cfgtls_protocols("secure", &m, why, sizeof(why)), 0);
    assert_int_equal(m, 0xcu);
    assert_int_equal(cfgtls_protocols("all", &m, why, sizeof(why)), 0);
    assert_int_equal(m, 0xfu);
    assert_int_equal(cfgtls_protocols("legacy", &m, why, sizeof(why)), 0);
    assert_int_equal(m, 0xfu);
    assert_int_equal(cfgtls_protocols(" TLSv1.2 , tlsv1.3 ", &m, why, sizeof(why)), 0);
    assert_int_equal(m, 0xcu);
    assert_int_equal(cfgtls_protocols("tlsv1.3", &m, why, sizeof(why)), 0);
    assert_int_equal(m, 0x8u);
    assert_int_equal(cfgtls_protocols("tlsv1.4", &m, why, sizeof(why)), -EINVAL);
    assert_non_null(strstr(why, "\"tlsv1.4\""));
    assert_int_equal(cfgtls_protocols("", &m, why, sizeof(why)), -EINVAL);
    assert_int_equal(cfgtls_protocols(" , ", &m, why, sizeof(why)), -EINVAL);
}

/* Load INI text; returns the error text (malloc'd) or NULL if it loaded. */
static char *load_ini(const char *text)
{
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    struct cfg *c = NULL;
    char *errors = NULL;
    int rc;

    assert_non_null(f);
    rc = cfg_load_stream(f, "t.ini", &c, &errors);
    fclose(f);
    if (rc == 0) {
        cfg_unref(c);
        free(errors);
        return NULL;
    }
    assert_non_null(errors);
    return errors;
}

static void test_cfg_tls_keys_checked_at_load_with_lines(void **state)
{
    char ini[2048], *err;

    (void)state;
    snprintf(ini, sizeof(ini),
             "[pgrouter]\nauth_type = trust\nclient_tls_sslmode = verify-full\n"
             "client_tls_cert_file = %s\nclient_tls_key_file = %s\n"
             "client_tls_protocols = tlsv1.2,tlsv1.9\nclient_tls_ciphers = NOPE\n"
             "server_tls_sslmode = verify-ca\nserver_tls_cert_file = %s\n"
             "[cluster.main]\nprimary = 127.0.0.1:5432\n",
             cert_path, key2_path, cert_path);
    err = load_ini(ini);
    assert_non_null(err);
    if (strstr(err, "t.ini:3: client_tls_sslmode = verify-full needs client_tls_ca_file") ==
        NULL || strstr(err, "t.ini:5: client_tls_key_file: ") == NULL ||
        strstr(err, "is not the key of client_tls_cert_file") == NULL ||
        strstr(err, "t.ini:6: client_tls_protocols: \"tlsv1.9\"") == NULL ||
        strstr(err, "t.ini:7: client_tls_ciphers: \"NOPE\"") == NULL ||
        strstr(err, "t.ini:8: server_tls_sslmode = verify-ca needs server_tls_ca_file") ==
        NULL || strstr(err, "t.ini:9: server_tls_cert_file and server_tls_key_file go "
                       "together") == NULL)
        fail_msg("unexpected errors:\n%s", err);
    free(err);
    snprintf(ini, sizeof(ini),
             "[pgrouter]\nauth_type = trust\nclient_tls_sslmode = require\n"
             "client_tls_cert_file = /nonexistent.crt\n"
             "[cluster.main]\nprimary = 127.0.0.1:5432\n");
    err = load_ini(ini);
    assert_non_null(err);
    if (strstr(err, "t.ini:3: client_tls_sslmode = require needs client_tls_cert_file and "
               "client_tls_key_file") == NULL ||
        strstr(err, "t.ini:4: client_tls_cert_file: \"/nonexistent.crt\": No such file") ==
        NULL)
        fail_msg("unexpected errors:\n%s", err);
    free(err);
    /* A good pair, and a disabled side whose keys are not looked at. */
    snprintf(ini, sizeof(ini),
             "[pgrouter]\nauth_type = trust\nclient_tls_sslmode = require\n"
             "client_tls_cert_file = %s\nclient_tls_key_file = %s\n"
             "server_tls_sslmode = disable\nserver_tls_ca_file = /nonexistent\n"
             "[cluster.main]\nprimary = 127.0.0.1:5432\n", cert_path, key_path);
    err = load_ini(ini);
    if (err != NULL)
        fail_msg("a good TLS config was refused:\n%s", err);
}

/* Load INI text that must load; returns its warnings (malloc'd, "" when none). */
static char *load_ini_warnings(const char *text)
{
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    struct cfg *c = NULL;
    char *errors = NULL, *w;

    assert_non_null(f);
    if (cfg_load_stream(f, "t.ini", &c, &errors) < 0)
        fail_msg("refused:\n%s", errors);
    fclose(f);
    w = strdup(c->warnings != NULL ? c->warnings : "");
    assert_non_null(w);
    cfg_unref(c);
    return w;
}

/* A private key others may read is a warning; one others may change is an error. */
static void test_cfg_tls_key_file_modes(void **state)
{
    char ini[1024], *out;

    (void)state;
    snprintf(ini, sizeof(ini),
             "[pgrouter]\nauth_type = trust\nclient_tls_sslmode = require\n"
             "client_tls_cert_file = %s\nclient_tls_key_file = %s\n"
             "[cluster.main]\nprimary = 127.0.0.1:5432\n", cert_path, key_path);
    assert_int_equal(chmod(key_path, 0600), 0);
    out = load_ini_warnings(ini);
    assert_string_equal(out, "");
    free(out);
    assert_int_equal(chmod(key_path, 0644), 0);
    out = load_ini_warnings(ini);
    if (strstr(out, "t.ini:5: client_tls_key_file \"") == NULL ||
        strstr(out, "is readable by everyone (mode 0644); run chmod 600") == NULL)
        fail_msg("no warning for a world-readable key: \"%s\"", out);
    free(out);
    assert_int_equal(chmod(key_path, 0620), 0);
    out = load_ini(ini);
    assert_non_null(out);
    if (strstr(out, "t.ini:5: client_tls_key_file \"") == NULL ||
        strstr(out, "is writable by its group (mode 0620)") == NULL)
        fail_msg("unexpected errors:\n%s", out);
    free(out);
    assert_int_equal(chmod(key_path, 0600), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tls_echo_with_flow_control),
        cmocka_unit_test(test_tls_describe_endpoint_and_close_notify),
        cmocka_unit_test(test_tls_conn_reports_version_and_endpoint),
        cmocka_unit_test(test_tls_garbage_instead_of_client_hello),
        cmocka_unit_test(test_tls_verify_full_refuses_wrong_host),
        cmocka_unit_test(test_tls_adopt_takes_over_a_session_with_pending_bytes),
        cmocka_unit_test(test_tls_ctx_errors_name_the_key),
        cmocka_unit_test(test_tls_endpoint_of_sha1_certificate_is_sha256),
        cmocka_unit_test(test_cfgtls_protocols_syntax),
        cmocka_unit_test(test_cfg_tls_keys_checked_at_load_with_lines),
        cmocka_unit_test(test_cfg_tls_key_file_modes),
    };

    return cmocka_run_group_tests(tests, setup_files, teardown_files);
}
