/*
 * router/admin/adminarg.c - reading the arguments of the console's control commands: one name,
 * optionally quoted, and a client id. No allocation, no I/O.
 */
#include "router/admin/adminarg.h"

#include <string.h>

static int adminarg_odd(unsigned char c)
{
    return c <= 0x20 || c == 0x7f || c == '"' || c == '\'';
}

enum adminarg_rc adminarg_name(const char *args, size_t n, char *out, size_t size)
{
    out[0] = '\0';
    if (n >= 2 && (args[0] == '"' || args[0] == '\'') && args[n - 1] == args[0]) {
        args++;
        n -= 2;
    }
    if (n == 0)
        return ADMINARG_EMPTY;
    if (n >= size)
        return ADMINARG_LONG;
    for (size_t i = 0; i < n; i++)
        if (adminarg_odd((unsigned char)args[i]))
            return ADMINARG_BAD;
    memcpy(out, args, n);
    out[n] = '\0';
    return ADMINARG_OK;
}

int adminarg_id(const char *s, uint32_t *id)
{
    uint64_t v = 0;

    if (*s == '\0')
        return -1;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (uint64_t)(*s - '0');
        if (v > UINT32_MAX)
            return -1;
    }
    if (v == 0)
        return -1;
    *id = (uint32_t)v;
    return 0;
}
