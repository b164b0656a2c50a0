/*
 * router/admin/adminarg.h - the arguments of the console's control commands (admincmd.c): one
 * name (a database or a node, plain or quoted) and a client id. Pure functions over the
 * caller's bytes; fuzzed by tests/fuzz/fuzz_adminarg.c.
 */
#ifndef PGROUTER_ADMINARG_H
#define PGROUTER_ADMINARG_H

#include <stddef.h>
#include <stdint.h>

enum adminarg_rc {
    ADMINARG_OK = 0,
    ADMINARG_EMPTY,         /* no name at all */
    ADMINARG_LONG,          /* longer than out can hold */
    ADMINARG_BAD,           /* blanks, control characters or quotes inside: not one name */
};

/*
 * The one name in args[0..n), plain or wrapped in matching double or single quotes, into
 * out (NUL-terminated, size > 0). out is "" unless ADMINARG_OK.
 */
enum adminarg_rc adminarg_name(const char *args, size_t n, char *out, size_t size);

/* A client id: decimal digits only, 1..UINT32_MAX. 0 and *id set, or -1. */
int adminarg_id(const char *s, uint32_t *id);

#endif
