/*
 * router/pool/srvlogin.c - pgrouter's own server login (see srvlogin.h): resolve, connect,
 * SSLRequest, StartupMessage, the authentication exchange from pass-through credentials,
 * ParameterStatus/BackendKeyData, ReadyForQuery. Every step runs on the loop under the
 * server's connect timeout; every message is bounded.
 */
#include "router/pool/srvlogin.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "protocol/frame.h"
#include "protocol/msg.h"
#include "protocol/srvauth.h"
#include "router/cluster/breaker.h"
#include "router/core/log.h"
#include "router/net/tls.h"

#define SL_MAX_ADDRS 4

enum sl_step { SL_RESOLVE = 0, SL_CONNECT, SL_SSL, SL_LOGIN, SL_READY };

/* A lookup outlives an abandoned login: apart, and it frees itself in its callback. */
struct sl_lookup {
    uv_getaddrinfo_t req;
    struct srvlogin *sl;
};

struct sl_param {
    char *name;
    char *value;
};

struct srvlogin {
    struct server *srv;
    struct cfg *cfg;                /* a reference, for server_tls_* (until ready) */
    struct tls_ctx *tls_ctx;        /* a reference to the worker's context toward servers */
    enum sl_step step;
    uv_connect_t creq;
    struct sl_lookup *lookup;
    struct sockaddr_storage addrs[SL_MAX_ADDRS];
    int n_addrs;
    int starting;                   /* inside srvlogin_connect: failures wait for the loop */
    struct sockaddr_storage addr;   /* the address connected to (cancel requests) */
    char host[256];
    uint16_t port;
    char user[64], db[64], app[64], options[256];
    struct srvauth auth;            /* the credentials and the exchange */
    int tls;
    uint32_t be_key;
    struct sl_param params[SRVLOGIN_MAX_PARAMS];
    size_t n_params, param_bytes;
};

/* ---- ending the attempt ---- */

static void sl_fail(struct srvlogin *sl, enum pqloop_fault fault, const char *code,
                    int from_server, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void sl_timeout_cb(uv_timer_t *t);

static void sl_report(struct srvlogin *sl, const struct pqloop_error *err)
{
    struct server *srv = sl->srv;
    server_ready_fn cb = srv->on_ready;

    if (sl->starting && err != NULL) {
        /* Report from the loop, never from inside the caller's own call. */
        srv->early = *err;
        srv->have_early = 1;
        uv_timer_start(&srv->connect_timer, sl_timeout_cb, 0, 0);
        return;
    }
    srv->on_ready = NULL;
    uv_timer_stop(&srv->connect_timer);
    srvauth_close(&sl->auth);
    if (sl->cfg != NULL) {
        cfg_unref(sl->cfg);
        sl->cfg = NULL;
    }
    tls_ctx_unref(sl->tls_ctx);     /* the conn holds its own reference */
    sl->tls_ctx = NULL;
    if (err == NULL) {
        sl->step = SL_READY;
        server_set_state(srv, SERVER_READY);
    } else {
        log_debug("server %s: login failed: %s (%s)", srv->node, err->message, err->sqlstate);
    }
    if (cb != NULL)
        cb(srv, err);
}

static void sl_fail(struct srvlogin *sl, enum pqloop_fault fault, const char *code,
                    int from_server, const char *fmt, ...)
{
    struct pqloop_error err;
    va_list ap;

    memset(&err, 0, sizeof(err));
    err.fault = fault;
    err.from_server = from_server;
    snprintf(err.sqlstate, sizeof(err.sqlstate), "%s", code);
    va_start(ap, fmt);
    vsnprintf(err.message, sizeof(err.message), fmt, ap);
    va_end(ap);
    sl_report(sl, &err);
}

/* The server broke the protocol: the node's fault (as libpq's path would say). */
static void sl_protocol(struct srvlogin *sl, const char *what)
{
    sl_fail(sl, PQLOOP_FAULT_NODE, "08P01", 0, "invalid login message from the server: %s",
            what);
}

static int sl_live(const struct srvlogin *sl)
{
    return sl != NULL && sl->srv->on_ready != NULL && sl->srv->state == SERVER_CONNECTING;
}

static void sl_timeout_cb(uv_timer_t *t)
{
    struct server *srv = t->data;
    struct srvlogin *sl = srv->native;

    if (!sl_live(sl))
        return;
    if (srv->have_early) {
        srv->have_early = 0;
        sl_report(sl, &srv->early);
        return;
    }
    sl_fail(sl, PQLOOP_FAULT_NODE, "08006", 0, "timeout expired after %u ms %s "
            "(server_connect_timeout)", srv->timeout_ms,
            sl->step == SL_RESOLVE ? "resolving the host name"
            : sl->step == SL_CONNECT ? "connecting" : "logging in");
}

/* ---- sending ---- */

static int sl_send(struct srvlogin *sl, struct msgbuf *b)
{
    uint8_t *data;
    size_t n;
    int rc;

    if (b->oom) {
        msgbuf_free(b);
        sl_fail(sl, PQLOOP_FAULT_LOCAL, "53200", 0, "out of memory");
        return -ENOMEM;
    }
    data = msgbuf_steal(b, &n);
    rc = conn_send_owned(&sl->srv->conn, data, n);
    if (rc < 0) {
        sl_fail(sl, PQLOOP_FAULT_NODE, "08006", 0, "cannot send to the server: %s",
                uv_strerror(rc));
        return rc;
    }
    return 0;
}

static void sl_startup(struct srvlogin *sl)
{
    struct msgbuf b;
    size_t at;

    msgbuf_init(&b);
    at = b.len;
    msgbuf_put32(&b, 0);
    msgbuf_put32(&b, 3u << 16);
    msgbuf_putstr(&b, "user");
    msgbuf_putstr(&b, sl->user);
    msgbuf_putstr(&b, "database");
    msgbuf_putstr(&b, sl->db);
    if (sl->app[0] != '\0') {
        msgbuf_putstr(&b, "application_name");
        msgbuf_putstr(&b, sl->app);
    }
    if (sl->options[0] != '\0') {
        msgbuf_putstr(&b, "options");
        msgbuf_putstr(&b, sl->options);
    }
    msgbuf_put8(&b, 0);
    if (!b.oom) {
        uint32_t len = (uint32_t)(b.len - at);

        b.data[at] = (uint8_t)(len >> 24);
        b.data[at + 1] = (uint8_t)(len >> 16);
        b.data[at + 2] = (uint8_t)(len >> 8);
        b.data[at + 3] = (uint8_t)len;
    }
    sl->step = SL_LOGIN;
    sl_send(sl, &b);
}

/* ---- authentication ---- */

/* An 'R' message: srvauth answers it; its verdicts become errors with their fault. */
static void sl_auth(struct srvlogin *sl, const uint8_t *body, size_t n)
{
    uint8_t random[SRVAUTH_RANDOM_LEN];
    struct pqloop_error err;
    struct msgbuf b;
    enum srvauth_rc rc;

    if (RAND_bytes(random, sizeof(random)) != 1) {
        sl_fail(sl, PQLOOP_FAULT_LOCAL, "58000", 0, "no random bytes for the SCRAM nonce");
        return;
    }
    msgbuf_init(&b);
    memset(&err, 0, sizeof(err));
    rc = srvauth_step(&sl->auth, body, n, random, &b, err.message, sizeof(err.message));
    switch (rc) {
    case SRVAUTH_REPLY:
        sl_send(sl, &b);
        return;
    case SRVAUTH_WAIT:
    case SRVAUTH_OK:
        break;
    case SRVAUTH_MISMATCH:
        /* This user's: marked needs_password, so the pool may try libpq's path instead. */
        err.fault = PQLOOP_FAULT_LOGIN;
        err.needs_password = 1;
        snprintf(err.sqlstate, sizeof(err.sqlstate), "28P01");
        sl_report(sl, &err);
        break;
    case SRVAUTH_FORGED:
        err.fault = PQLOOP_FAULT_LOGIN;
        snprintf(err.sqlstate, sizeof(err.sqlstate), "28000");
        sl_report(sl, &err);
        break;
    case SRVAUTH_PROTOCOL:
        sl_protocol(sl, err.message);
        break;
    case SRVAUTH_FAILED:
        err.fault = PQLOOP_FAULT_LOCAL;
        snprintf(err.sqlstate, sizeof(err.sqlstate), "58000");
        sl_report(sl, &err);
        break;
    }
    msgbuf_free(&b);
}

/* ---- the rest of the startup phase ---- */

static void sl_error(struct srvlogin *sl, const uint8_t *body, size_t n)
{
    const char *code = msg_error_field(body, n, 'C');
    const char *msg = msg_error_field(body, n, 'M');
    char sqlstate[6];

    snprintf(sqlstate, sizeof(sqlstate), "%s", code != NULL && strlen(code) == 5 ? code
             : "08P01");
    /* As on libpq's path: only a crash, shutdown or broken link is the node's. */
    sl_fail(sl, breaker_counts(sqlstate) ? PQLOOP_FAULT_NODE : PQLOOP_FAULT_LOGIN, sqlstate,
            1, "%.200s", msg != NULL ? msg : "the server refused the login");
}

static int sl_param(struct srvlogin *sl, const uint8_t *body, size_t n)
{
    const uint8_t *end = memchr(body, 0, n);
    struct sl_param *p;

    if (end == NULL || memchr(end + 1, 0, n - (size_t)(end + 1 - body)) == NULL)
        return -EPROTO;
    if (sl->n_params == SRVLOGIN_MAX_PARAMS || sl->param_bytes + n > SRVLOGIN_MAX_PARAM_BYTES)
        return 0;   /* more than any server sends: keep the first ones */
    p = &sl->params[sl->n_params];
    p->name = strdup((const char *)body);
    p->value = strdup((const char *)end + 1);
    if (p->name == NULL || p->value == NULL) {
        free(p->name);
        free(p->value);
        return -ENOMEM;
    }
    sl->n_params++;
    sl->param_bytes += n;
    return 0;
}

/* One whole server message during login. */
static void sl_message(struct srvlogin *sl, const struct frame *f)
{
    switch (f->type) {
    case 'R':
        sl_auth(sl, f->body, f->body_len);
        return;
    case 'E':
        sl_error(sl, f->body, f->body_len);
        return;
    case 'S': {
        int rc = sl_param(sl, f->body, f->body_len);

        if (rc == -EPROTO)
            sl_protocol(sl, "ParameterStatus");
        else if (rc < 0)
            sl_fail(sl, PQLOOP_FAULT_LOCAL, "53200", 0, "out of memory");
        return;
    }
    case 'K':
        if (f->body_len != 8) {
            sl_protocol(sl, "BackendKeyData");
            return;
        }
        sl->srv->be_pid = frame_get32(f->body);
        sl->be_key = frame_get32(f->body + 4);
        return;
    case 'N':   /* a notice: nobody reads it */
    case 'v':   /* NegotiateProtocolVersion: 3.0 and no options were asked for */
        return;
    case 'Z':
        if (!srvauth_settled(&sl->auth)) {
            sl_protocol(sl, "ReadyForQuery before the SCRAM exchange ended");
            return;
        }
        if (sl->srv->conn.recvd != sl->srv->conn.parsed) {
            sl_protocol(sl, "bytes after ReadyForQuery");
            return;
        }
        sl_report(sl, NULL);
        return;
    default:
        sl_protocol(sl, "unexpected message type");
        return;
    }
}

static int sl_start_tls(struct srvlogin *sl)
{
    int rc;

    if (sl->tls_ctx == NULL) {
        sl_fail(sl, PQLOOP_FAULT_LOCAL, "08006", 0, "cannot start TLS toward the server: %s",
                "no TLS context toward servers (server_tls_sslmode is disable)");
        return -1;
    }
    rc = conn_tls_connect(&sl->srv->conn, sl->tls_ctx, sl->host);
    if (rc < 0) {
        sl_fail(sl, PQLOOP_FAULT_LOCAL, "08006", 0, "cannot start TLS toward the server: %s",
                strerror(-rc));
        return -1;
    }
    sl->tls = 1;
    sl->auth.tls = 1;
    return 0;
}

/* The one-byte answer to SSLRequest. */
static void sl_ssl_answer(struct srvlogin *sl)
{
    struct conn *c = &sl->srv->conn;
    uint8_t answer = c->buf[c->parsed];

    conn_consume(c, 1);
    conn_discard(c);
    if (c->recvd != c->parsed) {
        /* Bytes injected before the handshake (CVE-2021-23222): refuse. */
        sl_protocol(sl, "bytes after the answer to SSLRequest");
        return;
    }
    if (answer == 'S') {
        if (sl_start_tls(sl) == 0)
            sl_startup(sl);
        return;
    }
    if (answer != 'N') {
        sl_protocol(sl, "answer to SSLRequest");
        return;
    }
    if (sl->cfg->server_tls.sslmode >= CFG_SSL_REQUIRE) {
        sl_fail(sl, PQLOOP_FAULT_NODE, "08006", 0, "the server does not support TLS, and "
                "server_tls_sslmode requires it");
        return;
    }
    sl_startup(sl);
}

static void sl_read(struct conn *c)
{
    struct srvlogin *sl = ((struct server *)c->owner)->native;
    struct frame f;

    if (sl->step == SL_SSL && sl_live(sl) && c->recvd > c->parsed)
        sl_ssl_answer(sl);
    while (sl_live(sl) && sl->step == SL_LOGIN) {
        switch (conn_next(c, SRVLOGIN_MAX_MSG, NULL, &f)) {
        case CONN_SCAN_MSG:
            /* Discarding moves no byte: f's body stays valid until the next read. */
            conn_consume(c, f.len);
            conn_discard(c);
            sl_message(sl, &f);
            continue;
        case CONN_SCAN_STREAM:
        case CONN_SCAN_MORE:
            return;
        case CONN_SCAN_BAD:
            sl_protocol(sl, "message length out of bounds");
            return;
        }
    }
}

static void sl_conn_error(struct conn *c, int err)
{
    struct srvlogin *sl = ((struct server *)c->owner)->native;

    if (!sl_live(sl))
        return;
    sl_fail(sl, PQLOOP_FAULT_NODE, "08006", 0, "%s during login",
            err == UV_EOF ? "the server closed the connection" : uv_strerror(err));
}

/* ---- connecting ---- */

static void sl_connected_cb(uv_connect_t *req, int status)
{
    struct srvlogin *sl = req->data;
    struct msgbuf b;

    if (status == UV_ECANCELED || !sl_live(sl))
        return;
    if (status < 0) {
        /* Only the first address is tried: a handle cannot connect twice. */
        sl_fail(sl, status == UV_EMFILE || status == UV_ENFILE ? PQLOOP_FAULT_LOCAL
                : PQLOOP_FAULT_NODE, status == UV_EMFILE || status == UV_ENFILE ? "53000"
                : "08006", 0, "%s", uv_strerror(status));
        return;
    }
    uv_tcp_nodelay(&sl->srv->conn.tcp, 1);
    conn_want_read(&sl->srv->conn, 1);
    if (sl->cfg->server_tls.sslmode <= CFG_SSL_ALLOW) {
        sl_startup(sl);
        return;
    }
    sl->step = SL_SSL;
    msgbuf_init(&b);
    msgbuf_put32(&b, 8);
    msgbuf_put32(&b, 80877103);
    sl_send(sl, &b);
}

static void sl_connect_first(struct srvlogin *sl)
{
    const struct sockaddr *sa = (const struct sockaddr *)&sl->addrs[0];
    int rc;

    sl->addr = sl->addrs[0];
    sl->step = SL_CONNECT;
    sl->creq.data = sl;
    rc = uv_tcp_connect(&sl->creq, &sl->srv->conn.tcp, sa, sl_connected_cb);
    if (rc < 0)
        sl_fail(sl, rc == UV_EMFILE || rc == UV_ENFILE || rc == UV_ENOBUFS
                ? PQLOOP_FAULT_LOCAL : PQLOOP_FAULT_NODE,
                rc == UV_EMFILE || rc == UV_ENFILE || rc == UV_ENOBUFS ? "53000" : "08006",
                0, "pgrouter cannot connect: %s", uv_strerror(rc));
}

static void sl_resolved_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct sl_lookup *lk = req->data;
    struct srvlogin *sl = lk->sl;

    free(lk);
    if (sl == NULL) {
        uv_freeaddrinfo(res);
        return;
    }
    sl->lookup = NULL;
    for (struct addrinfo *ai = res; status == 0 && ai != NULL && sl->n_addrs < SL_MAX_ADDRS;
         ai = ai->ai_next) {
        if ((ai->ai_family == AF_INET || ai->ai_family == AF_INET6) &&
            ai->ai_addrlen <= sizeof(sl->addrs[0]))
            memcpy(&sl->addrs[sl->n_addrs++], ai->ai_addr, ai->ai_addrlen);
    }
    uv_freeaddrinfo(res);
    if (!sl_live(sl))
        return;
    if (sl->n_addrs == 0) {
        sl_fail(sl, PQLOOP_FAULT_NODE, "08006", 0, "could not resolve host name \"%.160s\": %s",
                sl->host, status < 0 ? uv_strerror(status) : "no IPv4 or IPv6 address");
        return;
    }
    sl_connect_first(sl);
}

static void sl_copy_keys(struct srvlogin *sl, const char *const *keys, const char *const *vals)
{
    for (size_t i = 0; keys != NULL && keys[i] != NULL; i++) {
        if (vals[i] == NULL)
            continue;
        if (strcmp(keys[i], "user") == 0)
            snprintf(sl->user, sizeof(sl->user), "%s", vals[i]);
        else if (strcmp(keys[i], "dbname") == 0)
            snprintf(sl->db, sizeof(sl->db), "%s", vals[i]);
        else if (strcmp(keys[i], "application_name") == 0)
            snprintf(sl->app, sizeof(sl->app), "%s", vals[i]);
        else if (strcmp(keys[i], "options") == 0)
            snprintf(sl->options, sizeof(sl->options), "%s", vals[i]);
    }
}

/* Start: the address now if numeric, else a lookup. 0 or a negative error. */
static int sl_begin(struct srvlogin *sl)
{
    struct sockaddr_in *in4 = (struct sockaddr_in *)&sl->addrs[0];
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&sl->addrs[0];
    struct addrinfo hints;
    char port[8];
    int rc;

    if (uv_ip4_addr(sl->host, sl->port, in4) == 0 || uv_ip6_addr(sl->host, sl->port, in6) == 0) {
        sl->n_addrs = 1;
        sl_connect_first(sl);
        return 0;
    }
    sl->lookup = calloc(1, sizeof(*sl->lookup));
    if (sl->lookup == NULL)
        return -ENOMEM;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(port, sizeof(port), "%u", (unsigned)sl->port);
    sl->lookup->sl = sl;
    sl->lookup->req.data = sl->lookup;
    rc = uv_getaddrinfo(sl->srv->loop, &sl->lookup->req, sl_resolved_cb, sl->host, port,
                        &hints);
    if (rc < 0) {
        free(sl->lookup);
        sl->lookup = NULL;
    }
    return rc;
}

static const char *sl_login_param(const struct server *srv, const char *name);
static void sl_login_free(struct server *srv);

static const struct server_login_ops sl_login_ops = {
    .param = sl_login_param,
    .free = sl_login_free,
};

int srvlogin_connect(struct server *srv, uv_loop_t *loop, const struct cfg *cfg,
                     struct tls_ctx *tls, const char *host, uint16_t port, const char *const *keys,
                     const char *const *vals, const struct passthru *cred,
                     unsigned timeout_ms, void *owner, server_ready_fn on_ready,
                     server_closed_fn on_closed)
{
    struct srvlogin *sl;
    int rc;

    memset(srv, 0, sizeof(*srv));
    if (strlen(host) >= sizeof(sl->host))
        return -EINVAL;
    sl = calloc(1, sizeof(*sl));
    if (sl == NULL)
        return -ENOMEM;
    server_begin(srv, loop, host, port, timeout_ms, owner, on_ready, on_closed);
    srv->native = sl;
    srv->login_ops = &sl_login_ops;
    sl->srv = srv;
    sl->cfg = cfg_ref((struct cfg *)cfg);
    sl->tls_ctx = tls != NULL ? tls_ctx_ref(tls) : NULL;
    snprintf(sl->host, sizeof(sl->host), "%s", host);
    sl->port = port;
    sl_copy_keys(sl, keys, vals);
    srvauth_init(&sl->auth, sl->user, cred->secret, cred->have_key ? cred->client_key : NULL,
                 0);
    rc = uv_timer_init(loop, &srv->connect_timer);
    if (rc < 0)
        goto fail;
    srv->connect_timer.data = srv;
    srv->handles = 1;
    sl->starting = 1;
    rc = conn_init(loop, &srv->conn, srv, sl_read, sl_conn_error, server_conn_closed);
    if (rc < 0) {
        /* The timer is a handle already: close it, and on_closed tells the owner. */
        sl_fail(sl, PQLOOP_FAULT_LOCAL, "53000", 0, "pgrouter cannot open a socket: %s",
                uv_strerror(rc));
        sl->starting = 0;
        return 0;
    }
    srv->handles++;
    if (timeout_ms > 0)
        uv_timer_start(&srv->connect_timer, sl_timeout_cb, timeout_ms, 0);
    rc = sl_begin(sl);
    if (rc < 0)
        sl_fail(sl, PQLOOP_FAULT_LOCAL, rc == -ENOMEM ? "53200" : "53000", 0,
                "could not resolve host name \"%.160s\": %s", host, uv_strerror(rc));
    sl->starting = 0;
    return 0;
fail:
    cfg_unref(sl->cfg);
    tls_ctx_unref(sl->tls_ctx);
    OPENSSL_cleanse(sl, sizeof(*sl));
    free(sl);
    srv->native = NULL;
    return rc;
}

static const char *sl_login_param(const struct server *srv, const char *name)
{
    const struct srvlogin *sl = srv->native;

    for (size_t i = 0; sl != NULL && i < sl->n_params; i++)
        if (strcmp(sl->params[i].name, name) == 0)
            return sl->params[i].value;
    return NULL;
}

int srvlogin_cancel_target(const struct server *srv, struct sockaddr_storage *addr,
                           uint32_t *pid, uint32_t *key)
{
    const struct srvlogin *sl = srv->native;

    if (sl == NULL || sl->step != SL_READY)
        return -ENOENT;
    *addr = sl->addr;
    *pid = srv->be_pid;
    *key = sl->be_key;
    return 0;
}

static void sl_login_free(struct server *srv)
{
    struct srvlogin *sl = srv->native;

    if (sl == NULL)
        return;
    if (sl->lookup != NULL) {
        sl->lookup->sl = NULL;  /* it frees itself when it ends */
        uv_cancel((uv_req_t *)&sl->lookup->req);
    }
    for (size_t i = 0; i < sl->n_params; i++) {
        free(sl->params[i].name);
        free(sl->params[i].value);
    }
    if (sl->cfg != NULL)
        cfg_unref(sl->cfg);
    tls_ctx_unref(sl->tls_ctx);
    OPENSSL_cleanse(sl, sizeof(*sl));
    free(sl);
    srv->native = NULL;
}
