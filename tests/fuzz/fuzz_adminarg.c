/*
 * tests/fuzz/fuzz_adminarg.c - libFuzzer harness for the control commands' arguments
 * (router/admin/adminarg.c): the first byte picks the size of the output, the rest is what
 * follows the command. A name that is accepted fits, is part of the input, and has no
 * blank, control character or quote; anything else leaves the output empty. An id that
 * is accepted is the input's digits.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router/admin/adminarg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t out_size = size > 0 ? 1 + data[0] % 80 : 1;
    const char *args = size > 0 ? (const char *)data + 1 : "";
    size_t n = size > 0 ? size - 1 : 0;
    char *out = malloc(out_size);   /* exact size: a write past it is an ASan report */
    char *text = malloc(n + 1);
    enum adminarg_rc rc;
    uint32_t id = 0;

    if (out == NULL || text == NULL) {
        free(out);
        free(text);
        return 0;
    }
    rc = adminarg_name(args, n, out, out_size);
    if (rc == ADMINARG_OK) {
        size_t len = strlen(out);

        check(len > 0 && len < out_size && len <= n);
        check(memmem(args, n, out, len) != NULL);
        for (size_t i = 0; i < len; i++)
            check((unsigned char)out[i] > 0x20 && out[i] != 0x7f && out[i] != '"' &&
                  out[i] != '\'');
    } else {
        check(out[0] == '\0');
    }
    memcpy(text, args, n);
    text[n] = '\0';
    if (adminarg_id(text, &id) == 0) {
        char again[16];

        check(id > 0);
        snprintf(again, sizeof(again), "%u", (unsigned)id);
        /* Leading zeros are allowed; the digits name the same number. */
        check(strtoull(text, NULL, 10) == id);
        check(strlen(text) >= strlen(again));
    }
    free(out);
    free(text);
    return 0;
}
