/*
 * tests/fuzz/fuzz_admin.c - libFuzzer harness for the admin console's Query reader: every
 * statement adminparse_next returns lies inside the input, each call moves on, and the
 * walk ends at the input's end; each statement is matched against a few command words and
 * named by adminparse_head.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "router/admin/adminparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const words[] = {
        "SHOW POOLS", "SHOW STATS", "SHOW STATS_TOTALS", "EXPLAIN ROUTE", "RELOAD", "KILL",
    };
    /* An exact-size copy, so that any read past the end is an ASan report. */
    char *q = malloc(size > 0 ? size : 1);
    size_t pos = 0, start, end, prev = 0, stmts = 0;

    if (q == NULL)
        return 0;
    if (size > 0)
        memcpy(q, data, size);
    while (adminparse_next(q, size, &pos, &start, &end)) {
        char head[40];

        /* Each call moves on, so the walk ends within size + 1 statements. */
        check(prev <= start && start <= end && end <= pos && pos <= size && pos > prev);
        check(++stmts <= size + 1);
        prev = pos;
        for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
            size_t args = 0;
            int m = adminparse_match(words[i], q + start, end - start, &args);

            check(m >= 0 && (m == 0 || args <= end - start));
        }
        adminparse_head(q + start, end - start, head, sizeof(head));
        check(strlen(head) < sizeof(head));
    }
    check(pos == size);
    free(q);
    return 0;
}
