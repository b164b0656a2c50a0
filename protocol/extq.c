/*
 * protocol/extq.c - bounds-checked readers for Parse, Bind, Describe and Close bodies.
 */
#include "protocol/extq.h"

#include <errno.h>
#include <string.h>

#include "protocol/frame.h"

/* The NUL-terminated string at body[*at]; advances *at past it. NULL if unterminated. */
static const char *extq_str(const uint8_t *body, size_t n, size_t *at)
{
    const uint8_t *end;
    const char *s;

    if (*at >= n)
        return NULL;
    end = memchr(body + *at, 0, n - *at);
    if (end == NULL)
        return NULL;
    s = (const char *)(body + *at);
    *at = (size_t)(end - body) + 1;
    return s;
}

int extq_parse(const uint8_t *body, size_t n, const char **name, const char **query,
               size_t *query_len)
{
    size_t at = 0, q;
    uint16_t nparams;

    *name = extq_str(body, n, &at);
    q = at;
    *query = extq_str(body, n, &at);
    if (*name == NULL || *query == NULL || n - at < 2)
        return -EPROTO;
    *query_len = at - q - 1;
    nparams = frame_get16(body + at);
    if (n - at - 2 != (size_t)nparams * 4)
        return -EPROTO;
    return 0;
}

int extq_bind(const uint8_t *body, size_t n, const char **portal, const char **stmt)
{
    size_t at = 0;

    *portal = extq_str(body, n, &at);
    *stmt = extq_str(body, n, &at);
    return *portal != NULL && *stmt != NULL ? 0 : -EPROTO;
}

int extq_target(const uint8_t *body, size_t n, char *kind, const char **name)
{
    size_t at = 1;

    if (n < 2 || (body[0] != 'S' && body[0] != 'P'))
        return -EPROTO;
    *kind = (char)body[0];
    *name = extq_str(body, n, &at);
    if (*name == NULL || at != n)
        return -EPROTO;
    return 0;
}
