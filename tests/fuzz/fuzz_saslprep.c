/*
 * tests/fuzz/fuzz_saslprep.c - libFuzzer harness for SASLprep: any bytes (cut at the first
 * NUL) into an exactly SASLPREP_CAP-sized buffer. saslprep_strict must answer one of its
 * documented codes and never need more room than SASLPREP_CAP; saslprep must then succeed,
 * with the strict result or the input itself.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/saslprep.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A rule broke: crash so libFuzzer keeps the input. */
static void check(int ok)
{
    if (!ok)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = malloc(size + 1), *strict, *out;
    size_t cap;
    int rc;

    if (in == NULL)
        return 0;
    memcpy(in, data, size);
    in[size] = '\0';
    cap = SASLPREP_CAP(strlen(in));
    strict = malloc(cap);
    out = malloc(cap);
    if (strict == NULL || out == NULL)
        goto done;
    rc = saslprep_strict(in, strict, cap);
    check(rc == 0 || rc == -EILSEQ || rc == -EPERM || rc == -ENOMEM);
    if (rc == 0)
        check(strlen(strict) < cap);
    if (rc == -ENOMEM)
        goto done;
    check(saslprep(in, out, cap) == 0);
    check(strcmp(out, rc == 0 ? strict : in) == 0);
done:
    free(out);
    free(strict);
    free(in);
    return 0;
}
