/*
 * tests/fuzz/fuzzscram.h - what the SCRAM harnesses share: check(), a fixed secret whose
 * ClientKey is known, and an honest client's proof and expected ServerSignature for it.
 * Static functions, included by fuzz_scram.c and fuzz_auth.c.
 */
#ifndef PGROUTER_FUZZSCRAM_H
#define PGROUTER_FUZZSCRAM_H

#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/scram.h"

/* An invariant broke: crash so libFuzzer keeps the input. */
static void check(int ok)
{
    if (!ok)
        abort();
}

#define FUZZ_SNONCE "Zm9vYmFyLWJhei1xdXV4"   /* the server nonce part fuzz_scram uses */

/* The fixed secret: known ClientKey, StoredKey = H(ClientKey), a made-up ServerKey. */
static uint8_t client_key[SCRAM_KEY_LEN];
static struct scram_secret fixed;

static void fixed_init(void)
{
    if (fixed.iterations != 0)
        return;
    for (size_t i = 0; i < SCRAM_KEY_LEN; i++) {
        client_key[i] = (uint8_t)(i + 1);
        fixed.server_key[i] = (uint8_t)(0x40 + 3 * i);
    }
    SHA256(client_key, SCRAM_KEY_LEN, fixed.stored_key);
    fixed.iterations = SCRAM_DEFAULT_ITERATIONS;
    fixed.salt_len = SCRAM_DEFAULT_SALT_LEN;
    memcpy(fixed.salt, "saltsaltsaltsalt", SCRAM_DEFAULT_SALT_LEN);
}

static void hmac(const uint8_t *key, const uint8_t *msg, size_t n,
                 uint8_t out[SCRAM_KEY_LEN])
{
    unsigned len = SCRAM_KEY_LEN;

    check(HMAC(EVP_sha256(), key, SCRAM_KEY_LEN, msg, n, out, &len) != NULL);
}

/*
 * AuthMessage for a client-final whose part before ",p=" is wp[0..wn): the proof an honest
 * client sends and the ServerSignature it expects.
 */
static void client_proof(const struct scram_state *st, const uint8_t *wp, size_t wn,
                         uint8_t proof[SCRAM_KEY_LEN], uint8_t sig[SCRAM_KEY_LEN])
{
    size_t n = st->client_first_bare_len + 1 + st->server_first_len + 1 + wn;
    uint8_t *am = malloc(n);

    check(am != NULL);
    memcpy(am, st->client_first_bare, st->client_first_bare_len);
    am[st->client_first_bare_len] = ',';
    memcpy(am + st->client_first_bare_len + 1, st->server_first, st->server_first_len);
    am[n - wn - 1] = ',';
    memcpy(am + n - wn, wp, wn);
    hmac(fixed.stored_key, am, n, proof);
    for (size_t i = 0; i < SCRAM_KEY_LEN; i++)
        proof[i] ^= client_key[i];
    hmac(fixed.server_key, am, n, sig);
    free(am);
}

/* "v=" + base64 of sig. */
static int is_server_final(const char *out, size_t len,
                           const uint8_t sig[SCRAM_KEY_LEN])
{
    char want[SCRAM_SERVER_FINAL_LEN + 1] = "v=";

    check(scram_b64_encode(sig, SCRAM_KEY_LEN, want + 2, sizeof(want) - 2, NULL) == 0);
    return len == strlen(want) && strcmp(out, want) == 0;
}

/* A correct client-final, optionally with one proof bit flipped. */
static size_t honest_final(const struct scram_state *st, uint8_t *buf, int flip)
{
    uint8_t proof[SCRAM_KEY_LEN], sig[SCRAM_KEY_LEN];
    char gs2[4] = { st->cbind_flag, ',', ',', 0 }, b64[64];
    size_t n = 0, wn;

    memcpy(buf, "c=", 2);
    n = 2;
    check(scram_b64_encode((const uint8_t *)gs2, 3, b64, sizeof(b64), NULL) == 0);
    memcpy(buf + n, b64, strlen(b64));
    n += strlen(b64);
    memcpy(buf + n, ",r=", 3);
    n += 3;
    memcpy(buf + n, st->server_first + 2, st->nonce_len);
    n += st->nonce_len;
    wn = n;
    client_proof(st, buf, wn, proof, sig);
    if (flip)
        proof[flip % SCRAM_KEY_LEN] ^= (uint8_t)(1u << (flip % 8));
    memcpy(buf + n, ",p=", 3);
    n += 3;
    check(scram_b64_encode(proof, SCRAM_KEY_LEN, b64, sizeof(b64), NULL) == 0);
    memcpy(buf + n, b64, strlen(b64));
    return n + strlen(b64);
}

#endif
