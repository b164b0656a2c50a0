/*
 * tests/fuzz/fuzz_srvauth.c - libFuzzer harness for pgrouter's answers to a hostile
 * server's authentication requests. The first byte picks the credentials (SCRAM secret
 * with or without a ClientKey, an md5 secret, nothing) and TLS; then 'R' bodies, each
 * behind a 2-byte length. Whatever comes, every verdict is a known one, a reply is one
 * bounded 'p' message, AuthenticationOk is accepted only once the exchange is settled,
 * and nothing is accepted after a verdict that ends the login.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/frame.h"
#include "protocol/srvauth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char scram[] = "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
                                "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
                                "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=";
    static const char md5[] = "md50d7be16ba292043d45baddef92cca285";
    static const uint8_t key[SCRAM_KEY_LEN] = { 7 };
    static const uint8_t random[SRVAUTH_RANDOM_LEN] = { 1, 2, 3 };
    const char *secrets[] = { scram, scram, md5, "" };
    struct srvauth a;
    size_t off = 1;
    char why[128];

    if (size < 1)
        return 0;
    srvauth_init(&a, "fuzz", secrets[data[0] & 3], (data[0] & 3) == 0 ? key : NULL,
                 (data[0] >> 2) & 1);
    while (size - off >= 2) {
        size_t n = (size_t)data[off] << 8 | data[off + 1];
        struct msgbuf out;
        uint8_t *body;
        enum srvauth_rc rc;

        off += 2;
        if (n > size - off)
            n = size - off;
        body = malloc(n > 0 ? n : 1);       /* exactly sized: reads past n are caught */
        if (body == NULL)
            break;
        memcpy(body, data + off, n);
        off += n;
        msgbuf_init(&out);
        why[0] = '\0';
        rc = srvauth_step(&a, body, n, random, &out, why, sizeof(why));
        free(body);
        check(rc <= SRVAUTH_FAILED);
        if (rc == SRVAUTH_REPLY) {
            check(!out.oom && out.len >= 5 && out.len < 2048 && out.data[0] == 'p');
            check(frame_get32(out.data + 1) == out.len - 1);
        } else {
            check(out.len == 0);
        }
        if (rc == SRVAUTH_OK)
            check(srvauth_settled(&a));
        if (rc >= SRVAUTH_MISMATCH)
            check(why[0] != '\0');
        msgbuf_free(&out);
        if (rc >= SRVAUTH_MISMATCH || rc == SRVAUTH_OK)
            break;      /* the caller ends the login here */
    }
    srvauth_close(&a);
    return 0;
}
