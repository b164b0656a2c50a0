/*
 * tests/fuzz/fuzz_scramcli.c - libFuzzer harness for the client side of SCRAM that
 * pgrouter logs in to servers with: the input is what a hostile server sends, split at the
 * first NUL into server-first and server-final. Whatever it sends, the parser stays in its
 * bounds, an accepted server-first yields a client-final within SCRAMCLI_FINAL_CAP, and
 * only the genuine signature is accepted as server-final.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/scramcli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t key[SCRAM_KEY_LEN] = { 1, 2, 3 };
    struct scramcli c;
    char out[SCRAMCLI_FINAL_CAP];
    const uint8_t *nul = memchr(data, '\0', size);
    size_t first_len = nul != NULL ? (size_t)(nul - data) : size, len = 0;
    uint8_t *first, *final = NULL;
    const uint8_t *salt;
    size_t salt_len;
    int rc, iter;

    check(scramcli_first(&c, "fuzzNONCE", size % 2 ? 'y' : 'n', out, sizeof(out), &len) == 0);
    /* Exactly-sized copies, so a read past the end is caught. */
    first = malloc(first_len > 0 ? first_len : 1);
    if (first == NULL)
        return 0;
    memcpy(first, data, first_len);
    rc = scramcli_server_first(&c, first, first_len);
    check(rc == 0 || rc == -EPROTO);
    if (rc == 0) {
        check(first_len <= SCRAMCLI_MAX_SERVER_FIRST);
        check(memcmp(first, "r=fuzzNONCE", 11) == 0);
        salt = scramcli_salt(&c, &salt_len, &iter);
        check(salt != NULL && salt_len >= 1 && salt_len <= SCRAM_MAX_SALT && iter >= 1);
        rc = scramcli_final(&c, key, key, out, sizeof(out), &len);
        check(rc == 0);
        check(len == strlen(out) && len < sizeof(out));
        if (nul != NULL) {
            size_t n = size - first_len - 1;

            final = malloc(n > 0 ? n : 1);
            if (final != NULL) {
                memcpy(final, nul + 1, n);
                rc = scramcli_server_final(&c, final, n);
                /* A forged signature cannot pass (2^-256). */
                check(rc == -EACCES || rc == -EPROTO);
                free(final);
            }
        }
    } else {
        check(c.step == SCRAMCLI_STEP_DONE);
    }
    scramcli_close(&c);
    free(first);
    return 0;
}
