/*
 * tests/fuzz/fuzz_scram.c - libFuzzer harness for the server side of SCRAM-SHA-256
 * (protocol/scram.c): secret parsing and formatting, base64, and one exchange against a
 * fixed secret whose ClientKey the harness knows, so it can act as an honest client.
 * Input: a mode byte, two big-endian int16 lengths, then a secret text, a
 * client-first-message and, in the rest, a client-final-message.
 * Mode bit 0: answer with a correct client-final (it must be accepted, with the right
 * ServerSignature), bit 1: the same with one proof bit flipped (it must be refused),
 * otherwise the fuzzed one (accepted only with the right proof); bit 2: a first call with
 * too small an output (-ENOSPC, then the exchange goes on).
 * A secret that parses formats to a text that parses back equal and formats the same.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/scram.h"
#include "tests/fuzz/fuzzscram.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_FINAL_CAP 2048

static int secret_equal(const struct scram_secret *a, const struct scram_secret *b)
{
    return a->iterations == b->iterations && a->salt_len == b->salt_len &&
           memcmp(a->salt, b->salt, a->salt_len) == 0 &&
           memcmp(a->stored_key, b->stored_key, SCRAM_KEY_LEN) == 0 &&
           memcmp(a->server_key, b->server_key, SCRAM_KEY_LEN) == 0;
}

static void check_secret(const uint8_t *p, size_t n)
{
    char *text = malloc(n + 1), out[SCRAM_SECRET_TEXT_CAP], again[SCRAM_SECRET_TEXT_CAP];
    char b64[1024];
    uint8_t raw[1024];
    struct scram_secret s, t;
    size_t len, rlen;

    check(text != NULL);
    memcpy(text, p, n);
    text[n] = '\0';
    memset(&s, 0xa5, sizeof(s));
    t = s;
    if (scram_secret_parse(text, &s) == 0) {
        check(s.iterations >= 1 && s.salt_len >= 1 && s.salt_len <= SCRAM_MAX_SALT);
        check(scram_secret_format(&s, out, sizeof(out)) == 0);
        check(scram_secret_parse(out, &t) == 0 && secret_equal(&s, &t));
        check(scram_secret_format(&t, again, sizeof(again)) == 0 && strcmp(out, again) == 0);
    } else {
        check(memcmp(&s, &t, sizeof(s)) == 0);      /* untouched on failure */
    }
    /* base64 of the bytes decodes back to them; decoding the text never overruns. */
    if (n <= 700) {
        check(scram_b64_encode(p, n, b64, sizeof(b64), &len) == 0 && len == (n + 2) / 3 * 4);
        check(scram_b64_decode(b64, len, raw, sizeof(raw), &rlen) == 0 && rlen == n);
        check(n == 0 || memcmp(raw, p, n) == 0);
    }
    if (scram_b64_decode(text, n, raw, n, &rlen) == 0)
        check(rlen <= n / 4 * 3);
    free(text);
}

static void check_first(const struct scram_state *st, const uint8_t *msg, size_t n,
                        const char *out, size_t len)
{
    char tail[128];
    size_t sn = strlen(FUZZ_SNONCE);

    check(st->step == SCRAM_STEP_FINAL && len == strlen(out) && strncmp(out, "r=", 2) == 0);
    check(len == st->server_first_len && memcmp(out, st->server_first, len) == 0);
    check(st->nonce_len > sn && 2 + st->nonce_len < len);
    check(memcmp(out + 2 + st->nonce_len - sn, FUZZ_SNONCE, sn) == 0);
    check(strcpy(tail, ",s=c2FsdHNhbHRzYWx0c2FsdA==,i=4096") != NULL);
    check(strcmp(out + 2 + st->nonce_len, tail) == 0);
    check(st->client_first_bare_len <= SCRAM_MAX_CLIENT_FIRST &&
          st->client_first_bare_len <= n &&
          memcmp(st->client_first_bare, msg + n - st->client_first_bare_len,
                 st->client_first_bare_len) == 0);
    check(st->cbind_flag == 'n' || st->cbind_flag == 'y');
    check(n >= 3 && msg[0] == (uint8_t)st->cbind_flag);
}

static void check_final(struct scram_state *st, const uint8_t *msg, size_t n, int mode)
{
    uint8_t buf[FUZZ_FINAL_CAP], proof[SCRAM_KEY_LEN], sig[SCRAM_KEY_LEN], got[64];
    char out[SCRAM_SERVER_FINAL_LEN + 1];
    size_t outlen = 0, glen;
    int rc;

    if (mode & 3) {
        size_t bn = honest_final(st, buf, mode & 2 ? msg[0] | 1 : 0);
        uint8_t *copy = malloc(bn);

        check(copy != NULL);
        memcpy(copy, buf, bn);
        rc = scram_client_final(st, copy, bn, out, sizeof(out), &outlen);
        check(st->step == SCRAM_STEP_DONE);
        if (mode & 2) {
            check(rc == -EACCES);
        } else {
            client_proof(st, copy, bn - 47, proof, sig);
            check(rc == 0 && is_server_final(out, outlen, sig));
        }
        free(copy);
        return;
    }
    rc = scram_client_final(st, msg, n, out, sizeof(out), &outlen);
    check(st->step == SCRAM_STEP_DONE);
    check(rc == 0 || rc == -EACCES || rc == -EPROTO);
    if (rc != 0)
        return;
    /* Accepted: p= is last, and holds the proof for what comes before it. */
    for (glen = n; glen >= 3 && memcmp(msg + glen - 3, ",p=", 3) != 0; glen--)
        ;
    check(glen >= 3);
    client_proof(st, msg, glen - 3, proof, sig);
    check(scram_b64_decode((const char *)msg + glen, n - glen, got, sizeof(got), &glen) == 0);
    check(glen == SCRAM_KEY_LEN && memcmp(got, proof, SCRAM_KEY_LEN) == 0);
    check(is_server_final(out, outlen, sig));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct scram_state st;
    char out[SCRAM_SERVER_FIRST_CAP];
    size_t l1, l2, outlen = 0;
    uint8_t *first, *final;
    int mode, rc;

    if (size < 5)
        return 0;
    fixed_init();
    mode = data[0];
    l1 = (size_t)data[1] << 8 | data[2];
    l2 = (size_t)data[3] << 8 | data[4];
    data += 5;
    size -= 5;
    l1 = l1 < size ? l1 : size;
    l2 = l2 < size - l1 ? l2 : size - l1;
    check_secret(data, l1);
    first = malloc(l2 > 0 ? l2 : 1);
    final = malloc(size - l1 - l2 > 0 ? size - l1 - l2 : 1);
    check(first != NULL && final != NULL);
    memcpy(first, data + l1, l2);
    memcpy(final, data + l1 + l2, size - l1 - l2);

    scram_init(&st, &fixed);
    if (mode & 4) {
        rc = scram_client_first(&st, first, l2, FUZZ_SNONCE, out, (size_t)mode >> 3, &outlen);
        check(rc == -ENOSPC ? st.step == SCRAM_STEP_FIRST : rc == -EPROTO);
    }
    if (st.step == SCRAM_STEP_FIRST) {
        rc = scram_client_first(&st, first, l2, FUZZ_SNONCE, out, sizeof(out), &outlen);
        check(rc == 0 || (rc == -EPROTO && st.step == SCRAM_STEP_DONE));
        if (rc == 0) {
            check_first(&st, first, l2, out, outlen);
            check_final(&st, final, size - l1 - l2, mode);
        }
    }
    /* Nothing more once done. */
    check(scram_client_final(&st, final, size - l1 - l2, out, sizeof(out), &outlen) ==
          -EINVAL);
    scram_close(&st);
    free(first);
    free(final);
    return 0;
}
