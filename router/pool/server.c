/*
 * router/pool/server.c - server connections: opened through pqloop (libpq's non-blocking
 * connect on the loop, names resolved with uv_getaddrinfo) under a uv_timer deadline,
 * then a dup of libpq's socket adopted as a raw libuv stream. libpq keeps its own
 * descriptor until PQfinish, which also sends the Terminate, after the stream closed.
 * When libpq negotiated TLS (server_tls_sslmode, srvtls.c), the stream goes on inside
 * that TLS session (conn_tls_adopt): libpq owns the SSL object and frees it in
 * PQfinish, which is why the stream must be closed first.
 */
#include "router/pool/server.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "router/core/log.h"
#include "router/net/tls.h"

#define SERVER_MAX_KEYS 24

/* One libuv handle of srv finished closing; the last one finishes libpq and reports. */
static void server_release(struct server *srv)
{
    if (--srv->handles > 0)
        return;
    if (srv->tls_adopted && srv->pq.pg != NULL) {
        SSL *ssl = PQsslStruct(srv->pq.pg, "OpenSSL");

        /*
         * The stream that carried libpq's TLS session is closed: hand the session back to
         * libpq's own socket, so that PQfinish's Terminate and close_notify reach the
         * server (in plaintext that is what happens anyway; without it the server logs
         * "could not receive data from client" for every closed connection).
         */
        if (ssl != NULL)
            SSL_set_fd(ssl, PQsocket(srv->pq.pg));
    }
    pqloop_drop(&srv->pq);
    if (srv->login_ops != NULL)
        srv->login_ops->free(srv);
    conn_free_buf(&srv->conn);
    srv->on_closed(srv);
}

static void server_timer_closed(uv_handle_t *h)
{
    server_release(h->data);
}

void server_conn_closed(struct conn *c)
{
    server_release(c->owner);
}

static void server_fail(struct server *srv, const struct pqloop_error *err)
{
    server_ready_fn cb = srv->on_ready;

    srv->on_ready = NULL;
    uv_timer_stop(&srv->connect_timer);
    if (cb != NULL)
        cb(srv, err);
}

/* A failure of pgrouter's own while taking the connection over. */
static void server_fail_local(struct server *srv, const char *what, int uverr)
{
    struct pqloop_error err;

    memset(&err, 0, sizeof(err));
    err.fault = PQLOOP_FAULT_LOCAL;
    snprintf(err.sqlstate, sizeof(err.sqlstate), "%s", uverr == UV_ENOMEM ? "53200" : "53000");
    snprintf(err.message, sizeof(err.message), "pgrouter cannot take the server connection "
             "over (%s): %s%s", what, uv_strerror(uverr), uverr == UV_EMFILE ||
             uverr == UV_ENFILE ? ": pgrouter is out of file descriptors (raise its open-file "
             "limit, ulimit -n)" : "");
    server_fail(srv, &err);
}

static void server_adopt(struct server *srv)
{
    int fd, rc;
    server_ready_fn cb = srv->on_ready;

    uv_timer_stop(&srv->connect_timer);
    fd = dup(PQsocket(srv->pq.pg));
    if (fd < 0) {
        server_fail_local(srv, "dup", uv_translate_sys_error(errno));
        return;
    }
    rc = conn_init(srv->loop, &srv->conn, srv, NULL, NULL, server_conn_closed);
    if (rc < 0) {
        close(fd);
        server_fail_local(srv, "uv_tcp_init", rc);
        return;
    }
    srv->handles++;
    rc = conn_open_fd(&srv->conn, fd);
    if (rc < 0) {
        close(fd);
        server_fail_local(srv, "uv_tcp_open", rc);
        return;
    }
    if (PQsslInUse(srv->pq.pg)) {
        rc = conn_tls_adopt(&srv->conn, PQsslStruct(srv->pq.pg, "OpenSSL"));
        if (rc < 0) {
            server_fail_local(srv, "TLS", uv_translate_sys_error(-rc));
            return;
        }
        srv->tls_adopted = 1;
    }
    srv->be_pid = (uint32_t)PQbackendPID(srv->pq.pg);
    server_set_state(srv, SERVER_READY);
    srv->on_ready = NULL;
    cb(srv, NULL);
}

static void server_connected_cb(struct pqloop *pq, const struct pqloop_error *err)
{
    struct server *srv = pq->arg;

    if (srv->on_ready == NULL)
        return;
    if (err != NULL) {
        log_debug("server %s: connect failed: %s (%s)", srv->node, err->message, err->sqlstate);
        if (err->tls && err->fault == PQLOOP_FAULT_LOCAL) {
            /* The client hears this one as is (no "cannot connect to NODE" around it). */
            struct pqloop_error e = *err;

            snprintf(e.message, sizeof(e.message), "pgrouter's TLS toward server %.60s: %.160s",
                     srv->node, err->message + (strncmp(err->message, "TLS: ", 5) == 0 ? 5 : 0));
            server_fail(srv, &e);
            return;
        }
        server_fail(srv, err);
        return;
    }
    server_adopt(srv);
}

static void server_timeout_cb(uv_timer_t *t)
{
    struct server *srv = t->data;
    struct pqloop_error err;

    if (srv->on_ready == NULL)
        return;
    if (srv->have_early) {
        server_fail(srv, &srv->early);
        return;
    }
    pqloop_timeout_error(&srv->pq, srv->timeout_ms, &err);
    snprintf(err.message + strlen(err.message), sizeof(err.message) - strlen(err.message),
             " (server_connect_timeout)");
    pqloop_drop(&srv->pq);
    server_fail(srv, &err);
}

void server_begin(struct server *srv, uv_loop_t *loop, const char *host, uint16_t port,
                  unsigned timeout_ms, void *owner, server_ready_fn on_ready,
                  server_closed_fn on_closed)
{
    memset(srv, 0, sizeof(*srv));
    srv->loop = loop;
    srv->owner = owner;
    srv->on_ready = on_ready;
    srv->on_closed = on_closed;     /* state: SERVER_CONNECTING (zero) */
    srv->timeout_ms = timeout_ms;
    snprintf(srv->node, sizeof(srv->node), "%s:%u", host, port);
    pqloop_init(&srv->pq, loop, srv);
}

int server_connect(struct server *srv, uv_loop_t *loop, const char *host, uint16_t port,
                   const char *const *keys, const char *const *vals, unsigned timeout_ms,
                   void *owner, server_ready_fn on_ready, server_closed_fn on_closed)
{
    const char *k[SERVER_MAX_KEYS], *v[SERVER_MAX_KEYS];
    size_t n = 0;
    int rc;

    server_begin(srv, loop, host, port, timeout_ms, owner, on_ready, on_closed);
    /* The proxy relays plaintext or TLS (adopted from libpq), never GSSAPI encryption. */
    k[n] = "gssencmode";
    v[n++] = "disable";
    for (size_t i = 0; keys[i] != NULL && n < SERVER_MAX_KEYS - 1; i++) {
        k[n] = keys[i];
        v[n++] = vals[i];
    }
    k[n] = NULL;
    v[n] = NULL;
    rc = uv_timer_init(loop, &srv->connect_timer);
    if (rc < 0)
        return rc;
    srv->connect_timer.data = srv;
    srv->handles = 1;
    if (pqloop_connect(&srv->pq, host, port, k, v, server_connected_cb, &srv->early) < 0) {
        /* Report from the loop, never from inside the caller's own call. */
        log_debug("server %s: connect start failed: %s", srv->node, srv->early.message);
        srv->have_early = 1;
        uv_timer_start(&srv->connect_timer, server_timeout_cb, 0, 0);
        return 0;
    }
    if (timeout_ms > 0)
        uv_timer_start(&srv->connect_timer, server_timeout_cb, timeout_ms, 0);
    return 0;
}

static const char *server_state_name(enum server_state st)
{
    switch (st) {
    case SERVER_CONNECTING:
        return "connecting";
    case SERVER_READY:
        return "ready";
    case SERVER_CLOSING:
        return "closing";
    }
    return "?";
}

void server_set_state(struct server *srv, enum server_state to)
{
    int ok = 0;

    switch (srv->state) {
    case SERVER_CONNECTING:
        ok = to == SERVER_READY || to == SERVER_CLOSING;
        break;
    case SERVER_READY:
        ok = to == SERVER_CLOSING;
        break;
    case SERVER_CLOSING:
        break;
    }
    assert(ok);
    log_debug("server %s: %s -> %s", srv->node, server_state_name(srv->state),
              server_state_name(to));
    srv->state = to;
}

void server_close(struct server *srv)
{
    if (srv->state == SERVER_CLOSING)
        return;
    server_set_state(srv, SERVER_CLOSING);
    srv->on_ready = NULL;
    /* Abandon an attempt in progress; a connected PGconn stays until the stream closed. */
    if (pqloop_connecting(&srv->pq))
        pqloop_drop(&srv->pq);
    conn_close(&srv->conn);
    uv_close((uv_handle_t *)&srv->connect_timer, server_timer_closed);
}

PGconn *server_pg(const struct server *srv)
{
    return srv->pq.pg;
}

const char *server_tls(const struct server *srv)
{
    return srv->state == SERVER_READY ? conn_tls_describe(&srv->conn) : NULL;
}

const char *server_param(const struct server *srv, const char *name)
{
    if (srv->login_ops != NULL)
        return srv->login_ops->param(srv, name);
    return srv->pq.pg != NULL ? PQparameterStatus(srv->pq.pg, name) : NULL;
}
