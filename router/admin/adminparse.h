/*
 * router/admin/adminparse.h - reading an admin console Query string: splitting it into
 * statements at the ';' outside quotes and comments, and matching a statement's first
 * words against a command's ("SHOW POOLS"). Pure functions over bytes, fuzzable as is.
 */
#ifndef PGROUTER_ADMINPARSE_H
#define PGROUTER_ADMINPARSE_H

#include <stddef.h>

/*
 * The next statement of q[0..len) from *pos: [*start, *end) is its text without the
 * blanks and comments before and after it (empty when start == end, as in ";;"),
 * and *pos moves past the ';' that ends it. A ';' inside '...', E'...', "...",
 * $tag$...$tag$, -- and block comments does not end a statement; an unterminated quote or
 * comment runs to the end. Returns 1 with a statement, 0 once *pos is at len.
 */
int adminparse_next(const char *q, size_t len, size_t *pos, size_t *start, size_t *end);

/*
 * Does the statement t[0..n) start with words ("SHOW POOLS": single spaces)? Words
 * compare without regard to ASCII case and may be separated by any blanks; the last one
 * must be followed by a blank or the end. Returns the number of words matched (> 0) and
 * sets *args to the offset of what follows, blanks skipped; 0 if it does not match.
 */
int adminparse_match(const char *words, const char *t, size_t n, size_t *args);

/* The first two words of t[0..n) for a message, printable ASCII only, in out. */
void adminparse_head(const char *t, size_t n, char *out, size_t out_len);

#endif
