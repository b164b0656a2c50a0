/*
 * router/net/conn.c - buffered TCP stream with zero-copy forwarding and flow control.
 * The read buffer is only compacted or grown while no forwarded slice of it is queued,
 * which holds because a conn stops reading while such a slice is in flight. With TLS on,
 * reads, writes, shutdown and close go through router/net/conntls.c.
 *
 * Turns: libuv reads a readable stream up to 32 times before it looks at other events,
 * and a peer that sends faster than we relay keeps the stream readable. A conn that read
 * CONN_TURN_MAX bytes in a row (every read filled the buffer) stops reading until the
 * next loop iteration, so a 100 MB message costs other clients at most a slice's relay
 * per iteration, whatever the message's size.
 */
#include "router/net/conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "router/net/conntls.h"

struct conn_wreq {
    uv_write_t req;
    struct conn *src;   /* NULL when data is our own copy */
    uint8_t *owned;
    size_t n;
};

int conn_make_room(struct conn *c)
{
    size_t need, cap;

    if (c->sent > 0 && c->inflight == 0) {
        memmove(c->buf, c->buf + c->sent, c->recvd - c->sent);
        c->parsed -= c->sent;
        c->recvd -= c->sent;
        c->sent = 0;
    }
    need = c->parsed + (c->want > 0 ? c->want : 0);
    if (need < c->recvd + 512)
        need = c->recvd + 512;
    if (c->skip > 0 && need < c->recvd + CONN_BUF_STREAM)
        need = c->recvd + CONN_BUF_STREAM;  /* streaming: full-size reads */
    if (c->buf == NULL || need > c->cap) {
        cap = c->cap ? c->cap : CONN_BUF_INIT;
        while (cap < need)
            cap *= 2;
        uint8_t *p = realloc(c->buf, cap);
        if (p == NULL)
            return UV_ENOBUFS;
        c->buf = p;
        c->cap = cap;
    }
    return 0;
}

static void conn_alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *out)
{
    struct conn *c = h->data;

    (void)hint;
    if (c->tls != NULL) {
        conntls_alloc(c, out);
        return;
    }
    if (conn_make_room(c) < 0) {
        *out = uv_buf_init(NULL, 0);    /* libuv reports UV_ENOBUFS to read_cb */
        return;
    }
    *out = uv_buf_init((char *)c->buf + c->recvd, (unsigned)(c->cap - c->recvd));
}

void conn_release_idle(struct conn *c)
{
    if (c->buf != NULL && c->sent == c->recvd && c->inflight == 0 && c->skip == 0) {
        free(c->buf);
        c->buf = NULL;
        c->cap = c->sent = c->parsed = c->recvd = 0;
    }
}

static void conn_turn_cb(uv_idle_t *h)
{
    struct conn *c = h->data;

    uv_idle_stop(h);
    c->yielding = 0;
    c->turn = 0;
    conn_update_read(c);
}

/* Count a read of nread bytes into a buffer of len; past CONN_TURN_MAX, yield the loop. */
static void conn_account(struct conn *c, ssize_t nread, size_t len)
{
    if (nread <= 0 || (size_t)nread < len) {
        c->turn = 0;    /* the socket ran dry: the peer is not outrunning us */
        return;
    }
    c->turn += (size_t)nread;
    if (c->turn < CONN_TURN_MAX || !c->open)
        return;
    if (!c->turn_inited) {
        if (uv_idle_init(c->tcp.loop, &c->turn_idle) < 0)
            return;
        c->turn_idle.data = c;
        c->turn_inited = 1;
        c->handles++;
    }
    if (uv_idle_start(&c->turn_idle, conn_turn_cb) == 0)
        c->yielding = 1;
}

static void conn_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct conn *c = s->data;

    conn_account(c, nread, b->len);
    if (c->tls != NULL) {
        conntls_on_cipher(c, b, nread);
        conn_update_read(c);
        return;
    }
    if (nread == 0)
        return;
    if (nread < 0) {
        conn_want_read(c, 0);
        c->on_error(c, (int)nread);
        return;
    }
    c->recvd += (size_t)nread;
    c->bytes_in += (uint64_t)nread;
    c->on_read(c);
    /* Everything relayed: give the buffer back, so an idle connection costs no buffer. */
    conn_release_idle(c);
    conn_update_read(c);    /* a yield stops reading here */
}

void conn_update_read(struct conn *c)
{
    int should = c->open && c->inflight == 0 && !c->yielding &&
                 (c->want_read || conntls_needs_read(c));

    /* Bytes OpenSSL holds already will not raise a socket event: drain them from the loop. */
    if (should && c->tls != NULL && conntls_pending(c))
        conntls_kick(c);
    if (should && !c->reading) {
        if (uv_read_start((uv_stream_t *)&c->tcp, conn_alloc_cb, conn_read_cb) == 0)
            c->reading = 1;
    } else if (!should && c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
}

int conn_init(uv_loop_t *loop, struct conn *c, void *owner, conn_read_fn on_read,
              conn_error_fn on_error, conn_closed_fn on_closed)
{
    int rc;

    memset(c, 0, sizeof(*c));
    rc = uv_tcp_init(loop, &c->tcp);
    if (rc < 0)
        return rc;
    c->tcp.data = c;
    c->open = 1;
    c->handles = 1;
    c->owner = owner;
    c->on_read = on_read;
    c->on_error = on_error;
    c->on_closed = on_closed;
    return 0;
}

int conn_open_fd(struct conn *c, int fd)
{
    int rc = uv_tcp_open(&c->tcp, fd);

    if (rc == 0)
        uv_tcp_nodelay(&c->tcp, 1);
    return rc;
}

void conn_want_read(struct conn *c, int on)
{
    c->want_read = on;
    conn_update_read(c);
}

enum conn_scan conn_next(struct conn *c, size_t max_len, int (*stream_ok)(uint8_t type),
                         struct frame *f)
{
    size_t avail = c->recvd - c->parsed;
    enum frame_rc rc;

    if (c->skip > 0) {
        size_t k = avail < c->skip ? avail : c->skip;

        c->parsed += k;
        c->skip -= k;
        if (c->skip > 0)
            return CONN_SCAN_MORE;
        avail -= k;
    }
    c->want = 0;
    if (avail == 0)
        return CONN_SCAN_MORE;
    rc = frame_next(c->buf + c->parsed, avail, max_len, f);
    switch (rc) {
    case FRAME_OK:
        return CONN_SCAN_MSG;
    case FRAME_BAD:
        return CONN_SCAN_BAD;
    case FRAME_AGAIN:
        break;
    }
    if (f->have_header && stream_ok != NULL && stream_ok(f->type)) {
        c->skip = f->len - avail;
        c->parsed = c->recvd;
        return CONN_SCAN_STREAM;
    }
    c->want = f->have_header ? f->len : FRAME_HDR;
    return CONN_SCAN_MORE;
}

void conn_consume(struct conn *c, size_t n)
{
    c->parsed += n;
}

void conn_discard(struct conn *c)
{
    c->sent = c->parsed;
}

/* Every handle of c is closed and nothing of its buffer is queued anywhere: report. */
static void conn_finish(struct conn *c)
{
    conntls_free(c);
    c->on_closed(c);
}

/* A slice of src's buffer is written (or dropped); 1 when src must finish closing now. */
static int conn_slice_release(struct conn *src)
{
    src->inflight--;
    if (src->inflight == 0 && src->buf != NULL && src->sent == src->recvd &&
        src->skip == 0 && src->sent == src->parsed) {
        free(src->buf);
        src->buf = NULL;
        src->cap = src->sent = src->parsed = src->recvd = 0;
    }
    conn_update_read(src);
    return src->inflight == 0 && src->close_waits;
}

void conn_slice_done(struct conn *src)
{
    if (conn_slice_release(src))
        conn_finish(src);
}

static void conn_write_cb(uv_write_t *req, int status)
{
    struct conn_wreq *w = (struct conn_wreq *)req;
    struct conn *dst = req->handle->data;
    struct conn *done = NULL;

    (void)status;   /* a failed write surfaces as a read error on the same stream */
    if (w->src != NULL) {
        if (conn_slice_release(w->src))
            done = w->src;
    } else {
        dst->queued -= w->n;
    }
    free(w->owned);
    free(w);
    if (dst->tls != NULL)
        conntls_on_written(dst);
    if (done != NULL)
        conn_finish(done);
}

int conn_forward(struct conn *src, struct conn *dst)
{
    size_t n = src->parsed - src->sent;
    uv_buf_t b;
    int rc;
    struct conn_wreq *w;

    if (n == 0)
        return 0;
    if (!dst->open)
        return UV_EPIPE;
    if (dst->tls != NULL) {
        /* Encrypting copies: src's bytes are free now; the ciphertext holds src back. */
        rc = conntls_write(dst, src->buf + src->sent, n, src, NULL);
        if (rc == 0)
            src->sent = src->parsed;
        return rc;
    }
    b = uv_buf_init((char *)src->buf + src->sent, (unsigned)n);
    rc = uv_try_write((uv_stream_t *)&dst->tcp, &b, 1);
    if (rc == (int)n) {
        src->sent = src->parsed;
        return 0;
    }
    if (rc < 0 && rc != UV_EAGAIN)
        return rc;
    if (rc > 0)
        b = uv_buf_init(b.base + rc, b.len - (unsigned)rc);
    w = calloc(1, sizeof(*w));
    if (w == NULL)
        return UV_ENOMEM;
    w->src = src;
    w->n = b.len;
    rc = uv_write(&w->req, (uv_stream_t *)&dst->tcp, &b, 1, conn_write_cb);
    if (rc < 0) {
        free(w);
        return rc;
    }
    src->sent = src->parsed;
    src->inflight++;
    conn_update_read(src);
    return 0;
}

int conn_send_owned(struct conn *dst, uint8_t *data, size_t n)
{
    struct conn_wreq *w;
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)n);
    int rc;

    if (!dst->open) {
        free(data);
        return UV_EPIPE;
    }
    if (dst->tls != NULL)
        return conntls_write(dst, data, n, NULL, data);
    rc = uv_try_write((uv_stream_t *)&dst->tcp, &b, 1);
    if (rc == (int)n) {
        free(data);
        return 0;
    }
    if (rc < 0 && rc != UV_EAGAIN) {
        free(data);
        return rc;
    }
    if (rc > 0)
        b = uv_buf_init(b.base + rc, b.len - (unsigned)rc);
    w = calloc(1, sizeof(*w));
    if (w == NULL) {
        free(data);
        return UV_ENOMEM;
    }
    w->owned = data;
    w->n = b.len;
    rc = uv_write(&w->req, (uv_stream_t *)&dst->tcp, &b, 1, conn_write_cb);
    if (rc < 0) {
        free(data);
        free(w);
        return rc;
    }
    dst->queued += w->n;
    return 0;
}

int conn_write_raw(struct conn *c, const uint8_t *p, size_t n, struct conn *src)
{
    struct conn_wreq *w;
    uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
    int rc;

    if (!c->open)
        return UV_EPIPE;
    rc = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (rc == (int)n)
        return 0;
    if (rc < 0 && rc != UV_EAGAIN)
        return rc;
    if (rc < 0)
        rc = 0;
    w = calloc(1, sizeof(*w));
    if (w == NULL || (w->owned = malloc(n - (size_t)rc)) == NULL) {
        free(w);
        return UV_ENOMEM;
    }
    memcpy(w->owned, p + rc, n - (size_t)rc);
    w->n = n - (size_t)rc;
    w->src = src;
    b = uv_buf_init((char *)w->owned, (unsigned)w->n);
    rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, conn_write_cb);
    if (rc < 0) {
        free(w->owned);
        free(w);
        return rc;
    }
    if (src != NULL) {
        src->inflight++;
        conn_update_read(src);
    } else {
        c->queued += w->n;
    }
    return 0;
}

int conn_send(struct conn *dst, const void *data, size_t n)
{
    uint8_t *copy = malloc(n);

    if (copy == NULL)
        return UV_ENOMEM;
    memcpy(copy, data, n);
    return conn_send_owned(dst, copy, n);
}

void conn_handle_closed(uv_handle_t *h)
{
    struct conn *c = h->data;

    if (--c->handles > 0)
        return;
    /*
     * A slice of c's buffer may still be queued on a peer (a forward to a slow client, say):
     * the owner must not free the buffer, nor c, under that write. Its callback finishes.
     */
    if (c->inflight > 0) {
        c->close_waits = 1;
        return;
    }
    conn_finish(c);
}

void conn_close(struct conn *c)
{
    if (!c->open)
        return;
    c->open = 0;
    c->reading = 0;
    if (c->turn_inited) {
        uv_idle_stop(&c->turn_idle);
        uv_close((uv_handle_t *)&c->turn_idle, conn_handle_closed);
    }
    if (c->tls != NULL)
        conntls_close(c);
    uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
}

static void conn_shutdown_cb(uv_shutdown_t *req, int status)
{
    struct conn *c = req->handle->data;

    free(req);
    if (status < 0)
        conn_close(c);
}

void conn_shutdown(struct conn *c)
{
    uv_shutdown_t *req;

    if (!c->open)
        return;
    if (c->tls != NULL)
        conntls_shutdown(c);
    req = calloc(1, sizeof(*req));
    if (req == NULL || uv_shutdown(req, (uv_stream_t *)&c->tcp, conn_shutdown_cb) < 0) {
        free(req);
        conn_close(c);
    }
}

void conn_free_buf(struct conn *c)
{
    free(c->buf);
    c->buf = NULL;
    c->cap = c->sent = c->parsed = c->recvd = 0;
}
