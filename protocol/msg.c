/*
 * protocol/msg.c - builders for the messages the proxy sends itself, and the reader for
 * error fields. No I/O: everything goes into a caller-owned struct msgbuf.
 */
#include "protocol/msg.h"

#include <stdlib.h>
#include <string.h>

void msgbuf_init(struct msgbuf *b)
{
    memset(b, 0, sizeof(*b));
}

void msgbuf_free(struct msgbuf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

uint8_t *msgbuf_steal(struct msgbuf *b, size_t *len)
{
    uint8_t *p = b->data;

    *len = b->len;
    memset(b, 0, sizeof(*b));
    return p;
}

static int msgbuf_grow(struct msgbuf *b, size_t need)
{
    size_t cap = b->cap ? b->cap : 256;
    uint8_t *p;

    if (b->oom)
        return -1;
    if (b->len + need <= b->cap)
        return 0;
    while (cap < b->len + need)
        cap *= 2;
    p = realloc(b->data, cap);
    if (p == NULL) {
        b->oom = 1;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

void msgbuf_put(struct msgbuf *b, const void *p, size_t n)
{
    if (n == 0 || msgbuf_grow(b, n) < 0)
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void msgbuf_put8(struct msgbuf *b, uint8_t v)
{
    msgbuf_put(b, &v, 1);
}

void msgbuf_put32(struct msgbuf *b, uint32_t v)
{
    uint8_t p[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };

    msgbuf_put(b, p, 4);
}

void msgbuf_putstr(struct msgbuf *b, const char *s)
{
    msgbuf_put(b, s, strlen(s) + 1);
}

size_t msg_begin(struct msgbuf *b, uint8_t type)
{
    size_t at;

    msgbuf_put8(b, type);
    at = b->len;
    msgbuf_put32(b, 0);
    return at;
}

void msg_end(struct msgbuf *b, size_t at)
{
    uint32_t len;

    if (b->oom)
        return;
    len = (uint32_t)(b->len - at);
    b->data[at] = (uint8_t)(len >> 24);
    b->data[at + 1] = (uint8_t)(len >> 16);
    b->data[at + 2] = (uint8_t)(len >> 8);
    b->data[at + 3] = (uint8_t)len;
}

static void msg_field(struct msgbuf *b, char code, const char *value)
{
    if (value == NULL)
        return;
    msgbuf_put8(b, (uint8_t)code);
    msgbuf_putstr(b, value);
}

static void msg_error_or_notice(struct msgbuf *b, uint8_t type, const char *severity,
                                const char *sqlstate, const char *message,
                                const char *detail, const char *hint)
{
    size_t at = msg_begin(b, type);

    msg_field(b, 'S', severity);
    msg_field(b, 'V', severity);    /* the non-localized copy, protocol 3.0 since 9.6 */
    msg_field(b, 'C', sqlstate);
    msg_field(b, 'M', message);
    msg_field(b, 'D', detail);
    msg_field(b, 'H', hint);
    msgbuf_put8(b, 0);
    msg_end(b, at);
}

void msg_error(struct msgbuf *b, const char *severity, const char *sqlstate,
               const char *message, const char *detail, const char *hint)
{
    msg_error_or_notice(b, 'E', severity, sqlstate, message, detail, hint);
}

void msg_notice(struct msgbuf *b, const char *sqlstate, const char *message)
{
    msg_error_or_notice(b, 'N', "NOTICE", sqlstate, message, NULL, NULL);
}

void msg_ready(struct msgbuf *b, char status)
{
    size_t at = msg_begin(b, 'Z');

    msgbuf_put8(b, (uint8_t)status);
    msg_end(b, at);
}

void msg_param_status(struct msgbuf *b, const char *name, const char *value)
{
    size_t at = msg_begin(b, 'S');

    msgbuf_putstr(b, name);
    msgbuf_putstr(b, value);
    msg_end(b, at);
}

void msg_backend_key(struct msgbuf *b, uint32_t pid, uint32_t key)
{
    size_t at = msg_begin(b, 'K');

    msgbuf_put32(b, pid);
    msgbuf_put32(b, key);
    msg_end(b, at);
}

void msg_auth(struct msgbuf *b, enum msg_auth code, const void *data, size_t n)
{
    size_t at = msg_begin(b, 'R');

    msgbuf_put32(b, (uint32_t)code);
    if (data != NULL)
        msgbuf_put(b, data, n);
    msg_end(b, at);
}

void msg_row_desc(struct msgbuf *b, const char *const *names, const uint32_t *types, int n)
{
    size_t at = msg_begin(b, 'T');

    msgbuf_put8(b, (uint8_t)((unsigned)n >> 8));
    msgbuf_put8(b, (uint8_t)n);
    for (int i = 0; i < n; i++) {
        int16_t typlen = types[i] == 20 ? 8 : types[i] == 23 ? 4 : types[i] == 21 ? 2
                         : types[i] == 16 ? 1 : -1;

        msgbuf_putstr(b, names[i]);
        msgbuf_put32(b, 0);                 /* table OID: none */
        msgbuf_put8(b, 0);                  /* column number: none */
        msgbuf_put8(b, 0);
        msgbuf_put32(b, types[i]);
        msgbuf_put8(b, (uint8_t)((uint16_t)typlen >> 8));
        msgbuf_put8(b, (uint8_t)typlen);
        msgbuf_put32(b, 0xffffffffu);       /* typmod -1 */
        msgbuf_put8(b, 0);                  /* format: text */
        msgbuf_put8(b, 0);
    }
    msg_end(b, at);
}

size_t msg_datarow_begin(struct msgbuf *b)
{
    size_t at = msg_begin(b, 'D');

    msgbuf_put8(b, 0);      /* the cell count, filled in by msg_datarow_end */
    msgbuf_put8(b, 0);
    return at;
}

void msg_datarow_cell(struct msgbuf *b, const void *p, size_t n)
{
    if (p == NULL) {
        msgbuf_put32(b, 0xffffffffu);
        return;
    }
    msgbuf_put32(b, (uint32_t)n);
    msgbuf_put(b, p, n);
}

void msg_datarow_end(struct msgbuf *b, size_t at, uint16_t cells)
{
    if (b->oom)
        return;
    b->data[at + 4] = (uint8_t)(cells >> 8);
    b->data[at + 5] = (uint8_t)cells;
    msg_end(b, at);
}

void msg_command_complete(struct msgbuf *b, const char *tag)
{
    size_t at = msg_begin(b, 'C');

    msgbuf_putstr(b, tag);
    msg_end(b, at);
}

void msg_empty_query(struct msgbuf *b)
{
    msg_raw(b, 'I', NULL, 0);
}

void msg_raw(struct msgbuf *b, uint8_t type, const void *body, size_t n)
{
    size_t at = msg_begin(b, type);

    if (body != NULL)
        msgbuf_put(b, body, n);
    msg_end(b, at);
}

const char *msg_error_field(const uint8_t *body, size_t n, char code)
{
    size_t i = 0;

    while (i < n && body[i] != 0) {
        char c = (char)body[i++];
        const uint8_t *end = memchr(body + i, 0, n - i);

        if (end == NULL)
            return NULL;
        if (c == code)
            return (const char *)(body + i);
        i = (size_t)(end - body) + 1;
    }
    return NULL;
}
