/*
 * protocol/frame.c - incremental framer for PostgreSQL v3 messages.
 * Owns only the arithmetic of message boundaries; the buffer belongs to the caller.
 */
#include "protocol/frame.h"

#include <string.h>

uint32_t frame_get32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

uint16_t frame_get16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

enum frame_rc frame_next(const uint8_t *p, size_t n, size_t max_len, struct frame *f)
{
    uint32_t len;

    memset(f, 0, sizeof(*f));
    if (n < FRAME_HDR)
        return FRAME_AGAIN;
    f->type = p[0];
    len = frame_get32(p + 1);
    /* The field counts itself; as a signed int32 (what the peer meant) it must be >= 4. */
    if (len < 4 || len > 0x7fffffffu || len > max_len)
        return FRAME_BAD;
    f->have_header = 1;
    f->len = (size_t)len + 1;
    if (n < f->len)
        return FRAME_AGAIN;
    f->body = p + FRAME_HDR;
    f->body_len = (size_t)len - 4;
    return FRAME_OK;
}

enum frame_rc frame_startup(const uint8_t *p, size_t n, struct frame *f)
{
    uint32_t len;

    memset(f, 0, sizeof(*f));
    if (n < 4)
        return FRAME_AGAIN;
    len = frame_get32(p);
    /* Every startup-phase packet carries at least a 4-byte code after the length. */
    if (len < 8 || len > FRAME_STARTUP_MAX)
        return FRAME_BAD;
    f->have_header = 1;
    f->len = len;
    if (n < len)
        return FRAME_AGAIN;
    f->body = p + 4;
    f->body_len = len - 4;
    return FRAME_OK;
}
