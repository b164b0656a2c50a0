/*
 * router/server.c - server connections: libpq PQconnectStartParams/PQconnectPoll driven
 * by uv_poll and a uv_timer, then a dup of libpq's socket adopted as a raw libuv stream.
 * libpq keeps its own descriptor until PQfinish, which also sends the Terminate.
 */
#include "router/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "router/log.h"

#define SERVER_MAX_KEYS 48

static void server_poll_cb(uv_poll_t *p, int status, int events);

/* One libuv handle of srv finished closing; the last one finishes libpq and reports. */
static void server_release(struct server *srv)
{
    if (--srv->handles > 0)
        return;
    if (srv->pg != NULL) {
        PQfinish(srv->pg);
        srv->pg = NULL;
    }
    conn_free_buf(&srv->conn);
    srv->on_closed(srv);
}

static void server_poll_closed(uv_handle_t *h)
{
    struct server *srv = h->data;

    free(h);
    server_release(srv);
}

static void server_timer_closed(uv_handle_t *h)
{
    server_release(h->data);
}

static void server_conn_closed(struct conn *c)
{
    server_release(c->owner);
}

static void server_drop_poll(struct server *srv)
{
    if (srv->poll == NULL)
        return;
    uv_close((uv_handle_t *)srv->poll, server_poll_closed);
    srv->poll = NULL;
}

static int server_watch(struct server *srv, int events)
{
    int fd = PQsocket(srv->pg);
    int rc;

    if (fd < 0)
        return -EBADF;
    if (srv->poll != NULL && srv->poll_fd != fd)
        server_drop_poll(srv);
    if (srv->poll == NULL) {
        srv->poll = calloc(1, sizeof(*srv->poll));
        if (srv->poll == NULL)
            return -ENOMEM;
        rc = uv_poll_init_socket(srv->loop, srv->poll, fd);
        if (rc < 0) {
            free(srv->poll);
            srv->poll = NULL;
            return rc;
        }
        srv->poll->data = srv;
        srv->poll_fd = fd;
        srv->handles++;
    }
    return uv_poll_start(srv->poll, events, server_poll_cb);
}

/* First line of libpq's error message, without "connection to server ... failed: ". */
static void server_pq_error(struct server *srv, char *out, size_t n)
{
    const char *m = srv->pg ? PQerrorMessage(srv->pg) : "out of memory";
    const char *p = strstr(m, "failed: ");
    size_t len;

    if (p != NULL)
        m = p + 8;
    len = strcspn(m, "\n");
    snprintf(out, n, "%.*s", (int)len, m);
}

static void server_fail(struct server *srv, const char *msg)
{
    server_ready_fn cb = srv->on_ready;

    srv->on_ready = NULL;
    uv_timer_stop(&srv->timer);
    server_drop_poll(srv);
    if (cb != NULL)
        cb(srv, -ECONNREFUSED, msg);
}

static void server_adopt(struct server *srv)
{
    char msg[256];
    int fd, rc;
    server_ready_fn cb = srv->on_ready;

    uv_timer_stop(&srv->timer);
    server_drop_poll(srv);
    fd = dup(PQsocket(srv->pg));
    if (fd < 0) {
        snprintf(msg, sizeof(msg), "dup: %s", strerror(errno));
        server_fail(srv, msg);
        return;
    }
    rc = conn_init(srv->loop, &srv->conn, srv, NULL, NULL, server_conn_closed);
    if (rc < 0) {
        close(fd);
        snprintf(msg, sizeof(msg), "uv_tcp_init: %s", uv_strerror(rc));
        server_fail(srv, msg);
        return;
    }
    srv->handles++;
    rc = conn_open_fd(&srv->conn, fd);
    if (rc < 0) {
        close(fd);
        snprintf(msg, sizeof(msg), "uv_tcp_open: %s", uv_strerror(rc));
        server_fail(srv, msg);
        return;
    }
    srv->be_pid = (uint32_t)PQbackendPID(srv->pg);
    srv->state = SERVER_READY;
    srv->on_ready = NULL;
    cb(srv, 0, NULL);
}

static void server_step(struct server *srv)
{
    char msg[256];
    int rc;

    switch (PQconnectPoll(srv->pg)) {
    case PGRES_POLLING_READING:
        rc = server_watch(srv, UV_READABLE);
        break;
    case PGRES_POLLING_WRITING:
        rc = server_watch(srv, UV_WRITABLE);
        break;
    case PGRES_POLLING_OK:
        server_adopt(srv);
        return;
    case PGRES_POLLING_FAILED:
    default:
        server_pq_error(srv, msg, sizeof(msg));
        server_fail(srv, msg);
        return;
    }
    if (rc < 0) {
        snprintf(msg, sizeof(msg), "poll: %s", uv_strerror(rc));
        server_fail(srv, msg);
    }
}

static void server_poll_cb(uv_poll_t *p, int status, int events)
{
    struct server *srv = p->data;

    (void)events;
    if (srv->on_ready == NULL)
        return;
    /* An error on the socket is for libpq to discover and describe. */
    (void)status;
    server_step(srv);
}

static void server_timeout_cb(uv_timer_t *t)
{
    struct server *srv = t->data;

    if (srv->on_ready != NULL)
        server_fail(srv, srv->errmsg[0] ? srv->errmsg : "timeout expired (server_connect_timeout)");
}

static int server_is_ip(const char *host)
{
    unsigned char a[16];

    return inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
}

int server_connect(struct server *srv, uv_loop_t *loop, const char *host, uint16_t port,
                   const char *const *keys, const char *const *vals, unsigned timeout_ms,
                   void *owner, server_ready_fn on_ready, server_closed_fn on_closed)
{
    const char *k[SERVER_MAX_KEYS], *v[SERVER_MAX_KEYS];
    char portstr[8];
    size_t n = 0;
    int rc;

    memset(srv, 0, sizeof(*srv));
    srv->loop = loop;
    srv->owner = owner;
    srv->on_ready = on_ready;
    srv->on_closed = on_closed;
    srv->state = SERVER_CONNECTING;
    snprintf(srv->node, sizeof(srv->node), "%s:%u", host, port);
    snprintf(portstr, sizeof(portstr), "%u", port);
    /* A numeric hostaddr spares libpq a blocking DNS lookup inside PQconnectStart. */
    k[n] = server_is_ip(host) ? "hostaddr" : "host";
    v[n++] = host;
    k[n] = "port";
    v[n++] = portstr;
    /* The proxy relays the raw stream itself, so it must stay unencrypted. */
    k[n] = "sslmode";
    v[n++] = "disable";
    k[n] = "gssencmode";
    v[n++] = "disable";
    for (size_t i = 0; keys[i] != NULL && n < SERVER_MAX_KEYS - 1; i++) {
        k[n] = keys[i];
        v[n++] = vals[i];
    }
    k[n] = NULL;
    v[n] = NULL;
    rc = uv_timer_init(loop, &srv->timer);
    if (rc < 0)
        return rc;
    srv->timer.data = srv;
    srv->handles = 1;
    srv->pg = PQconnectStartParams(k, v, 0);
    if (srv->pg == NULL || PQstatus(srv->pg) == CONNECTION_BAD) {
        /* Report from the loop, never from inside the caller's own call. */
        server_pq_error(srv, srv->errmsg, sizeof(srv->errmsg));
        log_debug("server %s: connect start failed: %s", srv->node, srv->errmsg);
        uv_timer_start(&srv->timer, server_timeout_cb, 0, 0);
        return 0;
    }
    if (timeout_ms > 0)
        uv_timer_start(&srv->timer, server_timeout_cb, timeout_ms, 0);
    rc = server_watch(srv, UV_WRITABLE);
    if (rc < 0) {
        snprintf(srv->errmsg, sizeof(srv->errmsg), "cannot watch the server socket: %s",
                 uv_strerror(rc));
        uv_timer_start(&srv->timer, server_timeout_cb, 0, 0);
    }
    return 0;
}

void server_close(struct server *srv)
{
    if (srv->state == SERVER_CLOSING)
        return;
    srv->state = SERVER_CLOSING;
    srv->on_ready = NULL;
    server_drop_poll(srv);
    conn_close(&srv->conn);
    uv_close((uv_handle_t *)&srv->timer, server_timer_closed);
}

const char *server_param(const struct server *srv, const char *name)
{
    return srv->pg != NULL ? PQparameterStatus(srv->pg, name) : NULL;
}
