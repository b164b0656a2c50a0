/*
 * tests/unit/test_authcb.c - SCRAM-SHA-256-PLUS with tls-server-end-point channel binding
 * in the authentication sequencer: what is offered on TLS and on plain connections, a full
 * PLUS exchange, and every refusal with PostgreSQL's SQLSTATE, message and detail. The
 * client side is computed here with OpenSSL, independently of scram.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "protocol/auth.h"
#include "protocol/frame.h"
#include "protocol/msg.h"
#include "protocol/scram.h"

#define USER "alice"
#define PASSWORD "s3cret"
#define NONCE "fyko+d2lbbFgONRv9qkxdawL"
#define CAP 2048
#define PLUS_HEADER "p=tls-server-end-point,,"
#define NEEDS_DATA "The client selected SCRAM-SHA-256-PLUS, but the SCRAM message does not " \
                   "include channel binding data."

static const uint8_t mock_key[32] = "test_authcb mock key 0123456789";

/* A certificate hash as conn_tls_endpoint gives it (SHA-256: 32 bytes). */
static const uint8_t endpoint[32] = {
    0x9a, 0x1b, 0x2c, 0x3d, 0x4e, 0x5f, 0x60, 0x71, 0x82, 0x93, 0xa4, 0xb5, 0xc6, 0xd7,
    0xe8, 0xf9, 0x0a, 0x1b, 0x2c, 0x3d, 0x4e, 0x5f, 0x60, 0x71, 0x82, 0x93, 0xa4, 0xb5,
    0xc6, 0xd7, 0xe8, 0x00,
};

/* Data of the one Authentication request in out (after its code), NUL-terminated. */
static size_t take(struct msgbuf *out, uint32_t code, uint8_t *data, size_t cap)
{
    struct frame f;
    size_t n;

    assert_false(out->oom);
    assert_int_equal(frame_next(out->data, out->len, 8192, &f), FRAME_OK);
    assert_int_equal(f.type, 'R');
    assert_int_equal(f.len, out->len);
    assert_int_equal(frame_get32(f.body), code);
    n = f.body_len - 4;
    assert_true(n < cap);
    memcpy(data, f.body + 4, n);
    data[n] = '\0';
    msgbuf_free(out);
    msgbuf_init(out);
    return n;
}

static enum auth_rc begin(struct auth *a, int tls, struct msgbuf *out)
{
    uint8_t random[AUTH_RANDOM_LEN];

    for (size_t i = 0; i < sizeof(random); i++)
        random[i] = (uint8_t)(i * 13 + 5);
    msgbuf_init(out);
    return auth_begin_cb(a, AUTH_SCRAM, USER, PASSWORD, random, mock_key, sizeof(mock_key),
                         tls ? endpoint : NULL, tls ? sizeof(endpoint) : 0, out);
}

/* SASLInitialResponse with mech and client-first-message gs2 + "n=,r=" NONCE. */
static enum auth_rc initial(struct auth *a, const char *mech, const char *gs2,
                            struct msgbuf *out)
{
    char first[256];
    uint8_t body[512];
    size_t n = strlen(mech) + 1, len;

    len = (size_t)snprintf(first, sizeof(first), "%sn=,r=" NONCE, gs2);
    memcpy(body, mech, n);
    body[n++] = (uint8_t)(len >> 24);
    body[n++] = (uint8_t)(len >> 16);
    body[n++] = (uint8_t)(len >> 8);
    body[n++] = (uint8_t)len;
    memcpy(body + n, first, len);
    return auth_step(a, body, n + len, out);
}

static void hmac(const uint8_t *key, const void *msg, size_t n, uint8_t out[SCRAM_KEY_LEN])
{
    unsigned int len = 0;

    assert_non_null(HMAC(EVP_sha256(), key, SCRAM_KEY_LEN, msg, n, out, &len));
}

/*
 * client-final-message with c = base64(cbind[0..cb_len)) for server_first and PASSWORD;
 * *want gets the ServerSignature line the server must send.
 */
static void final_msg(const char *server_first, const uint8_t *cbind, size_t cb_len,
                      char *msg, char *want)
{
    char without[CAP], auth_msg[3 * CAP], c_b64[256], salt_b64[128], proof_b64[64];
    uint8_t salt[96], salted[32], ck[32], sk[32], stored[32], sig[32], proof[32];
    const char *s = strstr(server_first, ",s="), *i = strstr(server_first, ",i=");
    int salt_len;

    assert_non_null(s);
    assert_non_null(i);
    snprintf(salt_b64, sizeof(salt_b64), "%.*s", (int)(i - s - 3), s + 3);
    salt_len = EVP_DecodeBlock(salt, (const uint8_t *)salt_b64, (int)strlen(salt_b64));
    salt_len -= (int)(strchr(salt_b64, '=') != NULL) + (int)(strstr(salt_b64, "==") != NULL);
    EVP_EncodeBlock((uint8_t *)c_b64, cbind, (int)cb_len);
    snprintf(without, sizeof(without), "c=%s,r=%.*s", c_b64, (int)(s - server_first - 2),
             server_first + 2);
    assert_int_equal(PKCS5_PBKDF2_HMAC(PASSWORD, (int)strlen(PASSWORD), salt, salt_len,
                                       atoi(i + 3), EVP_sha256(), 32, salted), 1);
    hmac(salted, "Client Key", 10, ck);
    SHA256(ck, 32, stored);
    hmac(salted, "Server Key", 10, sk);
    snprintf(auth_msg, sizeof(auth_msg), "n=,r=" NONCE ",%s,%s", server_first, without);
    hmac(stored, auth_msg, strlen(auth_msg), sig);
    for (size_t k = 0; k < 32; k++)
        proof[k] = ck[k] ^ sig[k];
    EVP_EncodeBlock((uint8_t *)proof_b64, proof, 32);
    assert_true((size_t)snprintf(msg, CAP, "%s,p=%s", without, proof_b64) < CAP);
    hmac(sk, auth_msg, strlen(auth_msg), sig);
    memcpy(want, "v=", 2);
    EVP_EncodeBlock((uint8_t *)want + 2, sig, 32);
}

/* A whole exchange: mech and gs2 header first, then c= from cbind. Returns the last rc. */
static enum auth_rc exchange(struct auth *a, struct msgbuf *out, const char *mech,
                             const char *gs2, const uint8_t *cbind, size_t cb_len)
{
    char server_first[CAP], msg[CAP], want[128];
    enum auth_rc rc = initial(a, mech, gs2, out);

    if (rc != AUTH_CONTINUE)
        return rc;
    take(out, MSG_AUTH_SASL_CONTINUE, (uint8_t *)server_first, sizeof(server_first));
    final_msg(server_first, cbind, cb_len, msg, want);
    rc = auth_step(a, (const uint8_t *)msg, strlen(msg), out);
    if (rc == AUTH_DONE) {
        uint8_t got[CAP];

        take(out, MSG_AUTH_SASL_FINAL, got, sizeof(got));
        assert_string_equal((const char *)got, want);
    }
    return rc;
}

/* gs2 header followed by the certificate hash: what c= carries with channel binding. */
static size_t plus_cbind(uint8_t *buf, const uint8_t *hash)
{
    memcpy(buf, PLUS_HEADER, strlen(PLUS_HEADER));
    memcpy(buf + strlen(PLUS_HEADER), hash, sizeof(endpoint));
    return strlen(PLUS_HEADER) + sizeof(endpoint);
}

static void expect_error(const struct auth *a, const char *code, const char *msg,
                         const char *detail)
{
    const char *c = NULL, *d = NULL, *m = auth_error(a, &c, &d);

    assert_non_null(m);
    assert_string_equal(c, code);
    assert_string_equal(m, msg);
    if (detail == NULL)
        assert_null(d);
    else
        assert_string_equal(d, detail);
}

static void test_authcb_tls_offers_plus_first_plain_offers_scram_only(void **state)
{
    static const char plus[] = "SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0";
    static const char plain[] = "SCRAM-SHA-256\0";
    uint8_t data[CAP];
    struct msgbuf out;
    struct auth a;

    (void)state;
    assert_int_equal(begin(&a, 1, &out), AUTH_CONTINUE);
    assert_int_equal(take(&out, MSG_AUTH_SASL, data, sizeof(data)), sizeof(plus));
    assert_memory_equal(data, plus, sizeof(plus));
    auth_close(&a);
    msgbuf_free(&out);
    assert_int_equal(begin(&a, 0, &out), AUTH_CONTINUE);
    assert_int_equal(take(&out, MSG_AUTH_SASL, data, sizeof(data)), sizeof(plain));
    assert_memory_equal(data, plain, sizeof(plain));
    auth_close(&a);
    msgbuf_free(&out);
}

static void test_authcb_plus_exchange_with_the_certificate_hash_succeeds(void **state)
{
    uint8_t cb[128];
    struct msgbuf out;
    struct auth a;

    (void)state;
    begin(&a, 1, &out);
    take(&out, MSG_AUTH_SASL, (uint8_t[CAP]){ 0 }, CAP);
    assert_int_equal(exchange(&a, &out, SCRAM_MECH_PLUS, PLUS_HEADER, cb,
                              plus_cbind(cb, endpoint)), AUTH_DONE);
    assert_null(auth_error(&a, &(const char *){ NULL }, &(const char *){ NULL }));
    auth_close(&a);
    msgbuf_free(&out);
}

static void test_authcb_plus_with_another_hash_fails_the_binding_check(void **state)
{
    uint8_t cb[128], other[sizeof(endpoint)];
    struct msgbuf out;
    struct auth a;

    (void)state;
    memcpy(other, endpoint, sizeof(other));
    other[5] ^= 1;      /* a man in the middle's certificate */
    begin(&a, 1, &out);
    take(&out, MSG_AUTH_SASL, (uint8_t[CAP]){ 0 }, CAP);
    assert_int_equal(exchange(&a, &out, SCRAM_MECH_PLUS, PLUS_HEADER, cb,
                              plus_cbind(cb, other)), AUTH_FAILED);
    expect_error(&a, "28000", "SCRAM channel binding check failed", NULL);
    auth_close(&a);
    msgbuf_free(&out);
    /* c= carrying only the header, without the hash, fails the same way. */
    begin(&a, 1, &out);
    take(&out, MSG_AUTH_SASL, (uint8_t[CAP]){ 0 }, CAP);
    assert_int_equal(exchange(&a, &out, SCRAM_MECH_PLUS, PLUS_HEADER,
                              (const uint8_t *)PLUS_HEADER, strlen(PLUS_HEADER)), AUTH_FAILED);
    expect_error(&a, "28000", "SCRAM channel binding check failed", NULL);
    auth_close(&a);
    msgbuf_free(&out);
}

static void test_authcb_y_when_plus_was_offered_is_a_downgrade(void **state)
{
    struct msgbuf out;
    struct auth a;

    (void)state;
    begin(&a, 1, &out);
    take(&out, MSG_AUTH_SASL, (uint8_t[CAP]){ 0 }, CAP);
    assert_int_equal(initial(&a, SCRAM_MECH, "y,,", &out), AUTH_FAILED);
    expect_error(&a, "28000", "SCRAM channel binding negotiation error",
                 "The client supports SCRAM channel binding but thinks the server does not.  "
                 "However, this server does support channel binding.");
    assert_int_equal(out.len, 0);
    auth_close(&a);
    msgbuf_free(&out);
}

static void test_authcb_n_on_tls_still_logs_in(void **state)
{
    struct msgbuf out;
    struct auth a;

    (void)state;
    /* A client that does not do channel binding at all (channel_binding=disable). */
    begin(&a, 1, &out);
    take(&out, MSG_AUTH_SASL, (uint8_t[CAP]){ 0 }, CAP);
    assert_int_equal(exchange(&a, &out, SCRAM_MECH, "n,,", (const uint8_t *)"n,,", 3),
                     AUTH_DONE);
    auth_close(&a);
    msgbuf_free(&out);
    /* and "y" is fine where nothing better was offered */
    begin(&a, 0, &out);
    take(&out, MSG_AUTH_SASL, (uint8_t[CAP]){ 0 }, CAP);
    assert_int_equal(exchange(&a, &out, SCRAM_MECH, "y,,", (const uint8_t *)"y,,", 3),
                     AUTH_DONE);
    auth_close(&a);
    msgbuf_free(&out);
}

static void test_authcb_plus_without_binding_data_is_malformed(void **state)
{
    struct msgbuf out;
    struct auth a;

    (void)state;
    begin(&a, 1, &out);
    take(&out, MSG_AUTH_SASL, (uint8_t[CAP]){ 0 }, CAP);
    assert_int_equal(initial(&a, SCRAM_MECH_PLUS, "n,,", &out), AUTH_PROTOCOL);
    expect_error(&a, "08P01", "malformed SCRAM message", NEEDS_DATA);
    auth_close(&a);
    msgbuf_free(&out);
    begin(&a, 1, &out);
    take(&out, MSG_AUTH_SASL, (uint8_t[CAP]){ 0 }, CAP);
    assert_int_equal(initial(&a, SCRAM_MECH_PLUS, "y,,", &out), AUTH_PROTOCOL);
    expect_error(&a, "08P01", "malformed SCRAM message", NEEDS_DATA);
    auth_close(&a);
    msgbuf_free(&out);
}

static void test_authcb_p_without_plus_is_malformed_on_tls_and_plain(void **state)
{
    struct msgbuf out;
    struct auth a;

    (void)state;
    for (int tls = 0; tls <= 1; tls++) {
        begin(&a, tls, &out);
        take(&out, MSG_AUTH_SASL, (uint8_t[CAP]){ 0 }, CAP);
        assert_int_equal(initial(&a, SCRAM_MECH, PLUS_HEADER, &out), AUTH_PROTOCOL);
        expect_error(&a, "08P01", "malformed SCRAM message",
                     "The client selected SCRAM-SHA-256 without channel binding, but the "
                     "SCRAM message includes channel binding data.");
        auth_close(&a);
        msgbuf_free(&out);
    }
}

static void test_authcb_other_binding_types_are_unsupported(void **state)
{
    struct msgbuf out;
    struct auth a;

    (void)state;
    begin(&a, 1, &out);
    take(&out, MSG_AUTH_SASL, (uint8_t[CAP]){ 0 }, CAP);
    assert_int_equal(initial(&a, SCRAM_MECH_PLUS, "p=tls-unique,,", &out), AUTH_PROTOCOL);
    expect_error(&a, "08P01", "unsupported SCRAM channel-binding type \"tls-unique\"", NULL);
    auth_close(&a);
    msgbuf_free(&out);
    begin(&a, 1, &out);
    take(&out, MSG_AUTH_SASL, (uint8_t[CAP]){ 0 }, CAP);
    assert_int_equal(initial(&a, SCRAM_MECH_PLUS, "p=tls-\x01x,,", &out), AUTH_PROTOCOL);
    expect_error(&a, "08P01", "unsupported SCRAM channel-binding type \"tls-?x\"", NULL);
    auth_close(&a);
    msgbuf_free(&out);
}

static void test_authcb_plus_on_a_plain_connection_is_an_invalid_mechanism(void **state)
{
    struct msgbuf out;
    struct auth a;

    (void)state;
    begin(&a, 0, &out);
    take(&out, MSG_AUTH_SASL, (uint8_t[CAP]){ 0 }, CAP);
    assert_int_equal(initial(&a, SCRAM_MECH_PLUS, PLUS_HEADER, &out), AUTH_PROTOCOL);
    expect_error(&a, "08P01", "client selected an invalid SASL authentication mechanism", NULL);
    auth_close(&a);
    msgbuf_free(&out);
    begin(&a, 1, &out);
    take(&out, MSG_AUTH_SASL, (uint8_t[CAP]){ 0 }, CAP);
    assert_int_equal(initial(&a, "SCRAM-SHA-1", "n,,", &out), AUTH_PROTOCOL);
    expect_error(&a, "08P01", "client selected an invalid SASL authentication mechanism", NULL);
    auth_close(&a);
    msgbuf_free(&out);
}

static void test_authcb_final_with_the_wrong_flag_is_unexpected_attribute(void **state)
{
    struct msgbuf out;
    struct auth a;

    (void)state;
    begin(&a, 1, &out);
    take(&out, MSG_AUTH_SASL, (uint8_t[CAP]){ 0 }, CAP);
    /* first "n,,", then c= says "y,," */
    assert_int_equal(exchange(&a, &out, SCRAM_MECH, "n,,", (const uint8_t *)"y,,", 3),
                     AUTH_PROTOCOL);
    expect_error(&a, "08P01", "unexpected SCRAM channel-binding attribute in "
                 "client-final-message", NULL);
    auth_close(&a);
    msgbuf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_authcb_tls_offers_plus_first_plain_offers_scram_only),
        cmocka_unit_test(test_authcb_plus_exchange_with_the_certificate_hash_succeeds),
        cmocka_unit_test(test_authcb_plus_with_another_hash_fails_the_binding_check),
        cmocka_unit_test(test_authcb_y_when_plus_was_offered_is_a_downgrade),
        cmocka_unit_test(test_authcb_n_on_tls_still_logs_in),
        cmocka_unit_test(test_authcb_plus_without_binding_data_is_malformed),
        cmocka_unit_test(test_authcb_p_without_plus_is_malformed_on_tls_and_plain),
        cmocka_unit_test(test_authcb_other_binding_types_are_unsupported),
        cmocka_unit_test(test_authcb_plus_on_a_plain_connection_is_an_invalid_mechanism),
        cmocka_unit_test(test_authcb_final_with_the_wrong_flag_is_unexpected_attribute),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
