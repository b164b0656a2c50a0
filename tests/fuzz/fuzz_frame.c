/*
 * tests/fuzz/fuzz_frame.c - libFuzzer harness for frame_next and msg_error_field.
 * Input: one byte choosing max_len, then a stream of typed messages framed one after
 * another as a connection's read buffer would be. Each framed body is copied to a heap
 * buffer of exactly its size and searched for error fields, so ASan sees any overread.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/frame.h"
#include "protocol/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Limits around the interesting edges: the smallest legal length, tiny, usual, none. */
static const size_t fuzz_limits[] = { 3, 4, 5, 64, 8192, 1u << 30, SIZE_MAX };

/* A framer invariant broke: crash so libFuzzer keeps the input. */
static void check(int ok)
{
    if (!ok)
        abort();
}

static void check_error_fields(const uint8_t *body, size_t n)
{
    static const char codes[] = "SVCMDHPpqWsctdnFLR";
    uint8_t *copy = malloc(n > 0 ? n : 1);

    if (copy == NULL)
        return;
    if (n > 0)
        memcpy(copy, body, n);
    for (size_t i = 0; i < sizeof(codes); i++) {   /* the NUL of codes included */
        const char *v = msg_error_field(copy, n, codes[i]);
        const uint8_t *u = (const uint8_t *)v;

        if (v == NULL)
            continue;
        /* A value lies inside the body, after its code byte, and ends inside it. */
        check(codes[i] != '\0');
        check(u > copy && u < copy + n);
        check(u[-1] == (uint8_t)codes[i]);
        check(memchr(u, 0, (size_t)(copy + n - u)) != NULL);
    }
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t max_len, off = 0;

    if (size == 0)
        return 0;
    max_len = fuzz_limits[data[0] % (sizeof(fuzz_limits) / sizeof(fuzz_limits[0]))];
    data++;
    size--;
    check_error_fields(data, size);
    for (;;) {
        const uint8_t *p = data + off;
        size_t n = size - off;
        struct frame f, g;
        enum frame_rc rc = frame_next(p, n, max_len, &f);

        if (rc == FRAME_BAD) {
            uint32_t len;

            check(n >= FRAME_HDR && !f.have_header && f.body == NULL);
            len = frame_get32(p + 1);
            check(len < 4 || len > 0x7fffffffu || len > max_len);
            break;
        }
        if (rc == FRAME_AGAIN) {
            check(f.body == NULL && f.body_len == 0);
            if (n < FRAME_HDR) {
                check(!f.have_header);
            } else {
                check(f.have_header && f.type == p[0]);
                check(f.len > n && f.len - 1 <= max_len && f.len - 1 == frame_get32(p + 1));
            }
            break;
        }
        check(rc == FRAME_OK && f.have_header && f.type == p[0]);
        check(f.len >= FRAME_HDR && f.len <= n && f.len - 1 <= max_len);
        check(f.body == p + FRAME_HDR && f.body_len == f.len - FRAME_HDR);
        /* One byte short is never a whole message, and still gives the same header. */
        check(frame_next(p, f.len - 1, max_len, &g) == FRAME_AGAIN);
        check(f.len - 1 < FRAME_HDR || (g.have_header && g.len == f.len));
        check_error_fields(f.body, f.body_len);
        off += f.len;
    }
    return 0;
}
