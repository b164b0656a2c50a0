/*
 * tests/fuzz/fuzz_hba.c - libFuzzer harness for the auth_hba_file parser: any bytes must
 * give rules or errors with line numbers inside the input, never a crash; the rules it
 * gives are then matched against a few clients.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/hba.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_hba_errs {
    int max_line;
    int calls;
};

static void fuzz_hba_error(void *arg, int line, const char *msg)
{
    struct fuzz_hba_errs *e = arg;

    if (line < 1 || line > e->max_line || msg == NULL || msg[0] == '\0')
        abort();
    e->calls++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_hba_errs errs = { .max_line = 1 };
    struct hba *h = NULL;
    int rc;

    for (size_t i = 0; i < size; i++)
        if (data[i] == '\n')
            errs.max_line++;
    rc = hba_parse((const char *)data, size, fuzz_hba_error, &errs, &h);
    if (rc == 0) {
        struct hba_client c = { .family = 4, .addr = { 127, 0, 0, 1 }, .db = "shop",
                                .user = "app" };
        const struct hba_rule *r;

        if (h == NULL || errs.calls != 0)
            abort();
        for (int tls = 0; tls < 2; tls++) {
            c.tls = tls;
            r = hba_match(h, &c);
            if (r != NULL && (r < h->rules || r >= h->rules + h->n))
                abort();
        }
        c.family = 6;
        memset(c.addr, 0, sizeof(c.addr));
        c.addr[15] = 1;
        r = hba_match(h, &c);
        if (r != NULL && r->conn == HBA_LOCAL)
            abort();
        hba_free(h);
    } else if (rc == -EINVAL && errs.calls == 0) {
        abort();    /* -EINVAL always comes with at least one reported problem */
    }
    return 0;
}
