/*
 * protocol/frame.h - incremental framer for PostgreSQL v3 messages.
 * Pure functions over a byte buffer: never copies a payload, never trusts a length.
 */
#ifndef PGROUTER_FRAME_H
#define PGROUTER_FRAME_H

#include <stddef.h>
#include <stdint.h>

/* PostgreSQL's own cap on a startup packet (MAX_STARTUP_PACKET_LENGTH). */
#define FRAME_STARTUP_MAX 10000
/* Header of a typed message: 1 type byte + int32 length. */
#define FRAME_HDR 5

enum frame_rc {
    FRAME_OK = 0,   /* a whole message is in the buffer */
    FRAME_AGAIN,    /* need more bytes; header fields are set once FRAME_HDR bytes are there */
    FRAME_BAD,      /* the length field is impossible: the peer is broken or hostile */
};

struct frame {
    uint8_t type;           /* message type byte, 0 for a startup-phase packet */
    int have_header;        /* type and len are valid */
    size_t len;             /* bytes on the wire, type byte and length field included */
    const uint8_t *body;    /* payload, valid only on FRAME_OK */
    size_t body_len;
};

/*
 * Frame one typed message at p[0..n). max_len bounds the length field (the payload plus
 * the 4 bytes of the field itself); anything below 4 or above max_len is FRAME_BAD.
 * On FRAME_AGAIN with n >= FRAME_HDR, f->type, f->len and f->have_header are set so the
 * caller can decide to stream a large message through without buffering it.
 */
enum frame_rc frame_next(const uint8_t *p, size_t n, size_t max_len, struct frame *f);

/*
 * Frame one untyped startup-phase packet (StartupMessage, SSLRequest, GSSENCRequest,
 * CancelRequest): an int32 length (8..FRAME_STARTUP_MAX, itself included) then the body.
 * f->type is 0; f->body starts after the length field.
 */
enum frame_rc frame_startup(const uint8_t *p, size_t n, struct frame *f);

/* Read a big-endian int32/int16 from p (no bounds check: callers check lengths first). */
uint32_t frame_get32(const uint8_t *p);
uint16_t frame_get16(const uint8_t *p);

#endif
