/*
 * router/net/conn.h - one TCP stream with its read buffer (sent <= parsed <= received),
 * zero-copy forwarding of a slice of it to another stream, and flow control: while a
 * forwarded slice is still queued on the peer, this side stops reading. A conn may carry
 * TLS (router/net/tls.h): the buffer then holds decrypted bytes, and whatever is sent or
 * forwarded into it is encrypted on the way out.
 */
#ifndef PGROUTER_CONN_H
#define PGROUTER_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "protocol/frame.h"

#define CONN_BUF_INIT 16384
/* Read size while a message streams through (conn->skip > 0): fewer, larger reads. */
#define CONN_BUF_STREAM 65536
/*
 * Bytes one stream may read in a row before it yields the loop for a turn: a client
 * sending 100 MB as fast as it can is relayed in slices this big, and other clients'
 * reads and timers run between two slices (see conn_read_cb).
 */
#define CONN_TURN_MAX (128u << 10)

struct conn;
struct conn_tls;
/* New bytes arrived: [parsed, recvd) is unparsed. */
typedef void (*conn_read_fn)(struct conn *c);
/* The stream ended or failed (err is a libuv error, UV_EOF for an orderly close). */
typedef void (*conn_error_fn)(struct conn *c, int err);
/* The handle is closed; the conn may be freed now. */
typedef void (*conn_closed_fn)(struct conn *c);

struct conn {
    uv_tcp_t tcp;
    uint8_t *buf;
    size_t cap;
    size_t sent;        /* bytes before this are forwarded or consumed */
    size_t parsed;      /* bytes before this are framed */
    size_t recvd;       /* bytes before this are in the buffer */
    size_t skip;        /* body bytes of a streamed-through message still to come */
    size_t want;        /* bytes the incomplete message at parsed needs, for buffer growth */
    unsigned inflight;  /* forwarded slices of this buffer still queued on a peer */
    size_t queued;      /* bytes of our own messages queued on this stream */
    uint64_t bytes_in;  /* bytes read from the stream since it opened */
    int want_read;      /* the owner wants input */
    int reading;        /* uv_read_start is in effect */
    int open;           /* the handle is initialised and not yet closing */
    int yielding;       /* reading is paused until the next loop turn (turn_idle runs) */
    int turn_inited;    /* turn_idle is initialised (lazily, on the first yield) */
    size_t turn;        /* bytes read in a row without the socket running dry */
    uv_idle_t turn_idle;    /* resumes reading after a yield */
    unsigned handles;   /* libuv handles still to close: stream, turn_idle, TLS's drain */
    int close_waits;    /* closed, but on_closed waits for inflight to reach 0 */
    struct conn_tls *tls;   /* TLS state (router/net/conntls.c), NULL for plain TCP */
    void *owner;
    conn_read_fn on_read;
    conn_error_fn on_error;
    conn_closed_fn on_closed;
};

enum conn_scan {
    CONN_SCAN_MSG = 0,  /* a whole message at parsed: inspect it, then conn_consume */
    CONN_SCAN_MORE,     /* nothing more to frame until the next read */
    CONN_SCAN_STREAM,   /* a partial message whose type may stream: its bytes so far are
                         * parsed and the rest will be skipped as it arrives */
    CONN_SCAN_BAD,      /* impossible length */
};

/* Initialise c on loop (tcp handle ready for accept or conn_open_fd). 0 or libuv error. */
int conn_init(uv_loop_t *loop, struct conn *c, void *owner, conn_read_fn on_read,
              conn_error_fn on_error, conn_closed_fn on_closed);
/* Adopt an already connected socket (e.g. a dup of libpq's). 0 or libuv error. */
int conn_open_fd(struct conn *c, int fd);
/* Ask for input (on = 1) or stop asking (0). Flow control may still hold reading off. */
void conn_want_read(struct conn *c, int on);
/*
 * Frame the next message at c->parsed. stream_ok(type) says which types may pass through
 * without being held whole in the buffer. max_len bounds a message's length field.
 */
enum conn_scan conn_next(struct conn *c, size_t max_len, int (*stream_ok)(uint8_t type),
                         struct frame *f);
/* Mark n bytes at parsed as framed. */
void conn_consume(struct conn *c, size_t n);
/* Drop [sent, parsed): consumed by the proxy, not forwarded. */
void conn_discard(struct conn *c);
/* Forward [sent, parsed) of src to dst without copying. 0 or libuv error. */
int conn_forward(struct conn *src, struct conn *dst);
/* Queue a copy of data on dst. 0 or a negative error. */
int conn_send(struct conn *dst, const void *data, size_t n);
/* Queue data, taking ownership of a malloc'd buffer. 0 or a negative error. */
int conn_send_owned(struct conn *dst, uint8_t *data, size_t n);
/* Flush what is queued, send FIN, then close (on_closed fires). Reading goes on, so the
 * owner can discard late input and see the peer's EOF. */
void conn_shutdown(struct conn *c);
/* Close the handle (idempotent); on_closed fires from the loop, once no forwarded slice of
 * the buffer is queued on a peer any more. */
void conn_close(struct conn *c);
/* Free the buffer (after on_closed). */
void conn_free_buf(struct conn *c);

/* ---- for router/net/conntls.c only ---- */

/* Make room after recvd (compact, grow toward want). 0, or UV_ENOBUFS. */
int conn_make_room(struct conn *c);
/* Give the buffer back if everything in it is relayed (an idle conn holds none). */
void conn_release_idle(struct conn *c);
/* Re-evaluate whether to read (after TLS state changed). */
void conn_update_read(struct conn *c);
/*
 * Write n raw bytes at p to the socket: what the kernel does not take now is copied and
 * queued. With src, the queued part holds src's reading off until it is written (flow
 * control of a forward); without, it counts in c->queued. 0 or a libuv error.
 */
int conn_write_raw(struct conn *c, const uint8_t *p, size_t n, struct conn *src);
/* A forwarded slice of src's buffer was encrypted or dropped (inflight--); a src closed
 * meanwhile finishes here. */
void conn_slice_done(struct conn *src);
/* The close callback of the conn's handles; on_closed fires after the last. */
void conn_handle_closed(uv_handle_t *h);

#endif
