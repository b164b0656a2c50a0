/*
 * tests/fuzz/fuzz_extq.c - libFuzzer harness for the extended-protocol readers of
 * protocol/extq.c (Parse, Bind, Describe/Close). Input: client messages framed one after
 * another as they arrive (frame_next); every body, whatever its type, is copied to a heap
 * buffer of exactly its size and given to each reader, so ASan sees any overread. A
 * message a reader accepts must account for its bytes exactly: names and query end inside
 * the body, and Parse's length is its strings plus the parameter count's types.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/extq.h"
#include "protocol/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant broke: crash so libFuzzer keeps the input. */
static void check(int ok)
{
    if (!ok)
        abort();
}

/* s is a string that starts at body + at and ends inside body[0..n); returns its length. */
static size_t check_str_at(const char *s, const uint8_t *body, size_t n, size_t at)
{
    check((const uint8_t *)s == body + at && at < n);
    check(memchr(s, 0, n - at) != NULL);
    return strlen(s);
}

static void check_body(const uint8_t *body, size_t n)
{
    const char *name, *query, *portal, *stmt;
    size_t qlen, nl, pl;
    char kind;

    if (extq_parse(body, n, &name, &query, &qlen) == 0) {
        nl = check_str_at(name, body, n, 0);
        check(check_str_at(query, body, n, nl + 1) == qlen);
        check(n >= nl + qlen + 4);
        check(n - nl - qlen - 4 == 4 * (size_t)frame_get16(body + nl + qlen + 2));
    }
    if (extq_bind(body, n, &portal, &stmt) == 0) {
        pl = check_str_at(portal, body, n, 0);
        check_str_at(stmt, body, n, pl + 1);
    }
    if (extq_target(body, n, &kind, &name) == 0) {
        check((kind == 'S' || kind == 'P') && body[0] == (uint8_t)kind);
        check(check_str_at(name, body, n, 1) + 2 == n);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;

    for (;;) {
        struct frame f;
        uint8_t *body;

        if (frame_next(data + off, size - off, 1u << 20, &f) != FRAME_OK)
            break;
        body = malloc(f.body_len > 0 ? f.body_len : 1);
        check(body != NULL);
        if (f.body_len > 0)
            memcpy(body, f.body, f.body_len);
        check_body(body, f.body_len);
        free(body);
        off += f.len;
    }
    return 0;
}
