/*
 * tests/fuzz/fuzz_server.c - libFuzzer harness for the framing of what servers send, as
 * router/pool/backend.c does it: conn_next over a connection's read buffer that fills a piece
 * at a time, whole messages for the types pgrouter inspects and the rest streamed through
 * (or everything whole while a unit's rows are captured), then msg_error_field on error
 * and notice bodies. Input: one byte (bit 0: capture; the rest seeds the sizes of the
 * reads), then the server's bytes. The messages seen, however the bytes were split, must
 * be the ones frame_next finds in the whole stream, in order, each inside what was read.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/frame.h"
#include "protocol/msg.h"
#include "router/net/conn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SERVER_MAX_LEN 0x7fffffffu  /* backend.c's bound on a server message */

/* An invariant broke: crash so libFuzzer keeps the input. */
static void check(int ok)
{
    if (!ok)
        abort();
}

/* backend.c's backend_stream_ok: only what pgrouter inspects must arrive whole. */
static int stream_ok(uint8_t type)
{
    return type != 'Z' && type != 'E' && type != 'G' && type != 'H' && type != 'W' &&
           type != 'c' && type != 'S' && type != '1' && type != '3';
}

static void check_fields(const uint8_t *body, size_t n)
{
    static const char codes[] = "SVCMDHPpqWsctdnFLR";

    for (size_t i = 0; i + 1 < sizeof(codes); i++) {
        const char *v = msg_error_field(body, n, codes[i]);

        if (v != NULL)
            check((const uint8_t *)v > body && (const uint8_t *)v < body + n &&
                  memchr(v, 0, (size_t)(body + n - (const uint8_t *)v)) != NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct conn c;
    uint32_t seed;
    int capture;
    size_t ref = 0;         /* where the next message starts, framing the whole stream */
    int ref_end = 0;        /* the whole stream's framing stopped there (AGAIN or BAD) */
    enum frame_rc ref_rc = FRAME_OK;

    if (size < 1)
        return 0;
    capture = data[0] & 1;
    seed = data[0] | 0x100u;
    data++;
    size--;
    memset(&c, 0, sizeof(c));
    c.buf = malloc(size > 0 ? size : 1);
    check(c.buf != NULL);
    c.cap = size;
    while (c.recvd < size) {
        size_t chunk;
        int stop = 0;

        seed = seed * 1103515245u + 12345u;
        chunk = 1 + (seed >> 16) % 64;
        if (chunk > size - c.recvd)
            chunk = size - c.recvd;
        memcpy(c.buf + c.recvd, data + c.recvd, chunk);
        c.recvd += chunk;
        while (!stop) {
            struct frame f, r;
            /* A streamed message's rest is skipped first. */
            size_t at = c.parsed + (c.skip < c.recvd - c.parsed ? c.skip : c.recvd - c.parsed);
            enum conn_scan sc = conn_next(&c, SERVER_MAX_LEN, capture ? NULL : stream_ok, &f);

            check(c.sent <= c.parsed && c.parsed <= c.recvd);
            if (sc == CONN_SCAN_MORE) {
                check(c.parsed == c.recvd || c.want > c.recvd - c.parsed);
                stop = 1;
                continue;
            }
            /* A message starts here: the next one of the whole stream. */
            check(!ref_end && at == ref);
            ref_rc = frame_next(data + at, size - at, SERVER_MAX_LEN, &r);
            if (sc == CONN_SCAN_BAD) {
                check(ref_rc == FRAME_BAD);
                ref_end = 1;
                free(c.buf);
                return 0;
            }
            check(f.have_header && f.type == r.type && f.len == r.len);
            if (sc == CONN_SCAN_STREAM) {
                check(!capture && stream_ok(f.type) && f.len > c.recvd - at);
                check(c.parsed == c.recvd && c.skip == f.len - (c.recvd - at));
            } else {
                check(sc == CONN_SCAN_MSG && f.len <= c.recvd - at);
                check(f.body == c.buf + at + FRAME_HDR && f.body_len == f.len - FRAME_HDR);
                if (f.type == 'E' || f.type == 'N')
                    check_fields(f.body, f.body_len);
                conn_consume(&c, f.len);
                conn_discard(&c);
            }
            ref = at + r.len;
        }
    }
    /* All read: the whole stream's framing ends where this one waits. */
    if (c.skip == 0 && !ref_end && ref < size)
        check(frame_next(data + ref, size - ref, SERVER_MAX_LEN, &(struct frame){ 0 }) ==
              FRAME_AGAIN);
    free(c.buf);
    return 0;
}
