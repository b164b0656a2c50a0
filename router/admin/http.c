/*
 * router/admin/http.c - the metrics endpoint's HTTP server: listening, a cap on connections
 * served at once, reading one request head per connection (parsed by httpreq.c), one
 * answer written from a buffer the connection owns until its write callback, then a
 * lingering close. Every connection has a deadline; nothing here blocks the loop.
 *
 * A connection goes READING -> WRITING -> LINGER -> closed. While WRITING and in LINGER
 * whatever the peer still sends is read and dropped: closing a socket with unread bytes
 * makes the kernel send RST, which can destroy the answer before the peer reads it (a
 * too-long request is answered before it is fully read).
 */
#include "router/admin/http.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "router/admin/httpreq.h"
#include "router/core/log.h"

enum http_phase {
    HTTP_READING = 0,
    HTTP_WRITING,
    HTTP_LINGER,
};

struct http_conn {
    struct http_server *h;
    struct http_conn *next, *prev;
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_write_t wr;
    uv_shutdown_t sd;
    enum http_phase phase;
    int handles;                /* open handles: tcp and timer */
    int closing;
    int eof;                    /* the peer sent FIN */
    char head[512];             /* status line and headers of the answer */
    char *body;                 /* the rendered body (malloc'd) or NULL */
    const char *fixed;          /* a constant body (errors), or NULL */
    size_t n_in;
    char in[HTTPREQ_MAX];
};

static const char *const http_reason[HTTP_N_CODES] = {
    "200 OK", "400 Bad Request", "404 Not Found", "405 Method Not Allowed",
    "408 Request Timeout", "500 Internal Server Error",
};

static void http_accept(struct http_server *h);
static void http_free_maybe(struct http_server *h);
static void http_answer_code(struct http_conn *c, enum http_code code);

static void http_conn_closed(uv_handle_t *handle)
{
    struct http_conn *c = handle->data;
    struct http_server *h = c->h;

    if (--c->handles > 0)
        return;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        h->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    free(c->body);
    free(c);
    h->n_conns--;
    if (h->closing)
        http_free_maybe(h);
    else if (h->backlog_waiting)
        http_accept(h);
}

static void http_conn_close(struct http_conn *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    uv_close((uv_handle_t *)&c->tcp, http_conn_closed);
    uv_close((uv_handle_t *)&c->timer, http_conn_closed);
}

static void http_on_timer(uv_timer_t *t)
{
    struct http_conn *c = t->data;

    if (c->phase == HTTP_READING)
        http_answer_code(c, HTTP_CODE_408);
    else
        http_conn_close(c);     /* too slow to take the answer, or no FIN in time */
}

static void http_on_shutdown(uv_shutdown_t *req, int status)
{
    struct http_conn *c = req->data;

    if (c->closing)
        return;
    if (status < 0 || c->eof) {
        http_conn_close(c);
        return;
    }
    /* Wait for the peer's FIN (it reads the answer, then closes), dropping what it sends. */
    c->phase = HTTP_LINGER;
    uv_timer_start(&c->timer, http_on_timer, c->h->linger_ms, 0);
}

static void http_on_written(uv_write_t *req, int status)
{
    struct http_conn *c = req->data;

    if (c->closing)
        return;
    if (status < 0 || c->eof) {
        http_conn_close(c);
        return;
    }
    c->sd.data = c;
    if (uv_shutdown(&c->sd, (uv_stream_t *)&c->tcp, http_on_shutdown) < 0)
        http_conn_close(c);
}

/* The answer: head in c->head, then body[0..len) unless HEAD. Takes ownership of nothing. */
static void http_send(struct http_conn *c, enum http_code code, const char *extra,
                      const char *body, size_t len, int head_only)
{
    struct http_server *h = c->h;
    char date[64];
    struct tm tm;
    time_t now = time(NULL);
    uv_buf_t bufs[2];
    int n;

    h->answers[code]++;
    c->phase = HTTP_WRITING;
    if (gmtime_r(&now, &tm) == NULL ||
        strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm) == 0)
        date[0] = '\0';
    n = snprintf(c->head, sizeof(c->head),
                 "HTTP/1.1 %s\r\n"
                 "Content-Type: %s\r\n"
                 "Content-Length: %zu\r\n"
                 "%s%s%s"
                 "%s"
                 "Connection: close\r\n"
                 "\r\n",
                 http_reason[code],
                 code == HTTP_CODE_200 ? h->content_type : "text/plain; charset=utf-8",
                 len, date[0] != '\0' ? "Date: " : "", date, date[0] != '\0' ? "\r\n" : "",
                 extra != NULL ? extra : "");
    bufs[0] = uv_buf_init(c->head, (unsigned)n);
    bufs[1] = uv_buf_init((char *)body, (unsigned)len);
    c->wr.data = c;
    uv_timer_start(&c->timer, http_on_timer, h->write_timeout_ms, 0);
    if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, bufs, head_only || len == 0 ? 1 : 2,
                 http_on_written) < 0)
        http_conn_close(c);
}

/* An error answer with a one-line body. */
static void http_answer_code(struct http_conn *c, enum http_code code)
{
    static const char *const bodies[HTTP_N_CODES] = {
        "", "bad request\n", "not found; metrics are at /metrics\n",
        "method not allowed; use GET\n", "request timeout\n", "out of memory\n",
    };

    c->fixed = bodies[code];
    http_send(c, code, code == HTTP_CODE_405 ? "Allow: GET, HEAD\r\n" : NULL, c->fixed,
              strlen(c->fixed), 0);
}

static void http_answer(struct http_conn *c, const struct httpreq *r)
{
    struct http_server *h = c->h;
    size_t len = 0;

    if (r->path_len != strlen(h->path) || memcmp(r->path, h->path, r->path_len) != 0) {
        http_answer_code(c, HTTP_CODE_404);
        return;
    }
    if (r->method == HTTPREQ_OTHER) {
        http_answer_code(c, HTTP_CODE_405);
        return;
    }
    c->body = h->render(h->arg, &len);
    if (c->body == NULL) {
        http_answer_code(c, HTTP_CODE_500);
        return;
    }
    http_send(c, HTTP_CODE_200, NULL, c->body, len, r->method == HTTPREQ_HEAD);
}

static void http_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    struct http_conn *c = handle->data;

    (void)suggested;
    if (c->phase == HTTP_READING)
        *buf = uv_buf_init(c->in + c->n_in, (unsigned)(sizeof(c->in) - c->n_in));
    else
        *buf = uv_buf_init(c->h->scratch, sizeof(c->h->scratch));
}

static void http_on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct http_conn *c = stream->data;
    struct httpreq r;

    (void)buf;
    if (c->closing || nread == 0)
        return;
    if (nread < 0) {
        uv_read_stop(stream);
        if (nread != UV_EOF) {
            http_conn_close(c);
            return;
        }
        c->eof = 1;
        if (c->phase == HTTP_LINGER)
            http_conn_close(c);
        else if (c->phase == HTTP_READING)
            http_answer_code(c, HTTP_CODE_400);     /* FIN before a whole head */
        return;     /* WRITING: the write callback closes */
    }
    if (c->phase != HTTP_READING)
        return;     /* dropped: see the top of the file */
    c->n_in += (size_t)nread;
    switch (httpreq_parse(c->in, c->n_in, sizeof(c->in), &r)) {
    case HTTPREQ_AGAIN:
        return;
    case HTTPREQ_OK:
        http_answer(c, &r);
        return;
    case HTTPREQ_BAD:
    case HTTPREQ_TOO_LONG:
        http_answer_code(c, HTTP_CODE_400);
        return;
    }
}

static void http_on_retry(uv_timer_t *t)
{
    struct http_server *h = t->data;

    if (h->backlog_waiting)
        http_accept(h);
}

/* Take the pending connection if a slot is free; otherwise leave it in the backlog. */
static void http_accept(struct http_server *h)
{
    struct http_conn *c;

    if (h->n_conns >= h->max_conns) {
        /* Not accepting makes libuv stop polling the listener until uv_accept is called. */
        h->backlog_waiting = 1;
        return;
    }
    h->backlog_waiting = 0;
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        /* The connection waits; tried again when one closes, or in a second. */
        h->backlog_waiting = 1;
        uv_timer_start(&h->retry, http_on_retry, 1000, 0);
        return;
    }
    c->h = h;
    uv_tcp_init(h->loop, &c->tcp);
    uv_timer_init(h->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->handles = 2;
    c->next = h->conns;
    if (h->conns != NULL)
        h->conns->prev = c;
    h->conns = c;
    h->n_conns++;
    if (uv_accept((uv_stream_t *)&h->listener, (uv_stream_t *)&c->tcp) < 0 ||
        uv_read_start((uv_stream_t *)&c->tcp, http_alloc, http_on_read) < 0) {
        http_conn_close(c);
        return;
    }
    uv_timer_start(&c->timer, http_on_timer, h->request_timeout_ms, 0);
}

static void http_on_connection(uv_stream_t *server, int status)
{
    struct http_server *h = server->data;

    if (status < 0) {
        log_warn("metrics endpoint %s:%u: accept failed: %s", h->addr, h->port,
                 uv_strerror(status));
        return;
    }
    http_accept(h);
}

static void http_free_maybe(struct http_server *h)
{
    if (h->conns == NULL && h->handles == 0)
        free(h);
}

static void http_handle_closed(uv_handle_t *handle)
{
    struct http_server *h = handle->data;

    h->handles--;
    http_free_maybe(h);
}

int http_listen(uv_loop_t *loop, const char *addr, uint16_t port, const char *path,
                const char *content_type, http_render_fn render, void *arg,
                struct http_server **out)
{
    struct addrinfo hints, *ai = NULL;
    struct http_server *h;
    char port_s[8];
    int rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    snprintf(port_s, sizeof(port_s), "%u", port);
    rc = getaddrinfo(addr, port_s, &hints, &ai);
    if (rc != 0) {
        log_error("stats_listen_addr %s: %s", addr, gai_strerror(rc));
        return -EINVAL;
    }
    h = calloc(1, sizeof(*h));
    if (h == NULL) {
        freeaddrinfo(ai);
        return -ENOMEM;
    }
    h->loop = loop;
    snprintf(h->addr, sizeof(h->addr), "%s", addr);
    h->port = port;
    snprintf(h->path, sizeof(h->path), "%s", path);
    h->content_type = content_type;
    h->render = render;
    h->arg = arg;
    h->max_conns = HTTP_MAX_CONNS;
    h->request_timeout_ms = HTTP_REQUEST_TIMEOUT_MS;
    h->write_timeout_ms = HTTP_WRITE_TIMEOUT_MS;
    h->linger_ms = HTTP_LINGER_MS;
    uv_tcp_init(loop, &h->listener);
    uv_timer_init(loop, &h->retry);
    h->listener.data = h->retry.data = h;
    h->handles = 2;
    rc = uv_tcp_bind(&h->listener, ai->ai_addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&h->listener, 256, http_on_connection);
    freeaddrinfo(ai);
    if (rc < 0) {
        log_error("cannot serve metrics on %s:%u: %s", addr, port, uv_strerror(rc));
        http_close(h, 1);
        return rc;
    }
    log_info("metrics on http://%s:%u%s", addr, port, path);
    *out = h;
    return 0;
}

void http_close(struct http_server *h, int cut)
{
    if (h == NULL)
        return;
    if (!h->closing) {
        h->closing = 1;
        uv_close((uv_handle_t *)&h->listener, http_handle_closed);
        uv_close((uv_handle_t *)&h->retry, http_handle_closed);
    }
    if (cut)
        for (struct http_conn *c = h->conns; c != NULL; c = c->next)
            http_conn_close(c);
}
