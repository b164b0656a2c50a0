/*
 * tests/fuzz/fuzz_httpreq.c - libFuzzer harness for the metrics endpoint's request parser:
 * the first byte picks the size limit, the rest is the request. Checks that every answer
 * stays inside the input and the limit, that the parser agrees with itself on every
 * prefix (a head once found is found again in any longer input; garbage refused stays
 * refused), and that a head it accepts has the shape it promises.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "router/admin/httpreq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A parser invariant broke: crash so libFuzzer keeps the input. */
static void check(int ok)
{
    if (!ok)
        abort();
}

static void check_ok(const char *buf, size_t n, size_t max, const struct httpreq *r)
{
    check(r->head_len >= 14 && r->head_len <= n && r->head_len <= max);
    check(buf[r->head_len - 1] == '\n');
    check(r->path > buf && r->path + r->path_len < buf + r->head_len);
    check(r->path_len >= 1 && r->path[0] == '/');
    check(memchr(r->path, '?', r->path_len) == NULL && memchr(r->path, ' ', r->path_len) == NULL);
    check(r->minor == 0 || r->minor == 1);
    check(r->method == HTTPREQ_GET || r->method == HTTPREQ_HEAD || r->method == HTTPREQ_OTHER);
    check(r->method != HTTPREQ_GET || memcmp(buf, "GET /", 5) == 0);
    check(memchr(buf, '\0', r->head_len) == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct httpreq r, r2;
    size_t max;
    char *buf;
    enum httpreq_rc rc, rc2;

    if (size == 0)
        return 0;
    /* small limits reach TOO_LONG often; 0 means the default */
    max = data[0] == 0 ? 0 : (size_t)data[0] * 4;
    data++;
    size--;
    /* an exact copy, so that reading past the end is caught */
    buf = malloc(size > 0 ? size : 1);
    if (buf == NULL)
        return 0;
    memcpy(buf, data, size);
    rc = httpreq_parse(buf, size, max, &r);
    if (max == 0)
        max = HTTPREQ_MAX;
    switch (rc) {
    case HTTPREQ_OK:
        check_ok(buf, size, max, &r);
        /* the head alone parses the same */
        rc2 = httpreq_parse(buf, r.head_len, max, &r2);
        check(rc2 == HTTPREQ_OK && r2.head_len == r.head_len && r2.path == r.path &&
              r2.path_len == r.path_len && r2.method == r.method && r2.minor == r.minor);
        /* one byte less is not a whole head yet */
        check(httpreq_parse(buf, r.head_len - 1, max, &r2) == HTTPREQ_AGAIN);
        break;
    case HTTPREQ_AGAIN:
        check(size < max);
        check(memchr(buf, '\0', size) == NULL);
        /* every shorter prefix waits too */
        if (size > 0)
            check(httpreq_parse(buf, size - 1, max, &r2) == HTTPREQ_AGAIN);
        break;
    case HTTPREQ_TOO_LONG:
        check(size >= max);
        break;
    case HTTPREQ_BAD:
        /* more bytes do not make it good: the same verdict on the input doubled */
        if (size < max) {
            char *more = malloc(2 * size);

            if (more != NULL) {
                memcpy(more, buf, size);
                memcpy(more + size, buf, size);
                check(httpreq_parse(more, 2 * size, max, &r2) == HTTPREQ_BAD);
                free(more);
            }
        }
        break;
    default:
        check(0);
    }
    free(buf);
    return 0;
}
