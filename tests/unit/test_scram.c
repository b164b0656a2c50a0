/*
 * tests/unit/test_scram.c - SCRAM-SHA-256 server side: RFC 7677 vector, secrets, mock
 * secrets, malformed client messages, base64.
 */
#include <errno.h>
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

#include "protocol/scram.h"

/* RFC 7677 section 3. */
#define RFC_PASSWORD "pencil"
#define RFC_SALT_B64 "W22ZaJ0SNY7soEsUEjb6gQ=="
#define RFC_SERVER_NONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define RFC_CLIENT_FIRST "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
#define RFC_SERVER_FIRST "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0," \
                         "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
#define RFC_FINAL_NO_PROOF "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define RFC_PROOF "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define RFC_CLIENT_FINAL RFC_FINAL_NO_PROOF "," RFC_PROOF
#define RFC_SERVER_FINAL "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
/* The same credentials as PostgreSQL stores them in pg_authid.rolpassword. */
#define RFC_PG_SECRET "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$" \
                      "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:" \
                      "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="

static void rfc_secret(struct scram_secret *s, const char *password)
{
    uint8_t salt[SCRAM_MAX_SALT];
    size_t salt_len = 0;

    assert_int_equal(scram_b64_decode(RFC_SALT_B64, strlen(RFC_SALT_B64), salt, sizeof(salt),
                                      &salt_len), 0);
    assert_int_equal(scram_secret_from_password(password, salt, salt_len, 4096, s), 0);
}

/* Feed a message from an exactly-sized heap copy, so ASan sees any read past n. */
static int first(struct scram_state *st, const char *msg, size_t n, char *out, size_t cap)
{
    uint8_t *copy = malloc(n > 0 ? n : 1);
    size_t outlen = 0;
    int rc;

    assert_non_null(copy);
    memcpy(copy, msg, n);
    rc = scram_client_first(st, copy, n, RFC_SERVER_NONCE, out, cap, &outlen);
    if (rc == 0)
        assert_int_equal(outlen, strlen(out));
    free(copy);
    return rc;
}

static int final(struct scram_state *st, const char *msg, size_t n, char *out, size_t cap)
{
    uint8_t *copy = malloc(n > 0 ? n : 1);
    size_t outlen = 0;
    int rc;

    assert_non_null(copy);
    memcpy(copy, msg, n);
    rc = scram_client_final(st, copy, n, out, cap, &outlen);
    if (rc == 0)
        assert_int_equal(outlen, strlen(out));
    free(copy);
    return rc;
}

/* A state that has answered the RFC client-first with the RFC secret. */
static void rfc_state_after_first(struct scram_state *st)
{
    struct scram_secret s;
    char out[SCRAM_SERVER_FIRST_CAP];

    rfc_secret(&s, RFC_PASSWORD);
    scram_init(st, &s);
    assert_int_equal(first(st, RFC_CLIENT_FIRST, strlen(RFC_CLIENT_FIRST), out, sizeof(out)),
                     0);
    assert_string_equal(out, RFC_SERVER_FIRST);
}

/*
 * The client side, written independently of scram.c, to build proofs for exchanges that are
 * not the RFC vector: returns "p=<b64 proof>" for the given AuthMessage parts.
 */
static void client_proof(const char *password, const struct scram_secret *s,
                         const char *auth_message, char *out, size_t cap)
{
    uint8_t salted[32], client_key[32], stored[32], sig[32], proof[32];
    unsigned int len = 0;
    int i;

    assert_int_equal(PKCS5_PBKDF2_HMAC(password, (int)strlen(password), s->salt,
                                       (int)s->salt_len, s->iterations, EVP_sha256(), 32,
                                       salted), 1);
    assert_non_null(HMAC(EVP_sha256(), salted, 32, (const uint8_t *)"Client Key", 10,
                         client_key, &len));
    assert_int_equal(EVP_Digest(client_key, 32, stored, &len, EVP_sha256(), NULL), 1);
    assert_non_null(HMAC(EVP_sha256(), stored, 32, (const uint8_t *)auth_message,
                         strlen(auth_message), sig, &len));
    for (i = 0; i < 32; i++)
        proof[i] = client_key[i] ^ sig[i];
    assert_true(cap > 2);
    memcpy(out, "p=", 2);
    assert_int_equal(scram_b64_encode(proof, 32, out + 2, cap - 2, NULL), 0);
}

static void test_scram_rfc7677_vector_accepts_proof(void **state)
{
    struct scram_state st;
    char out[128];

    (void)state;
    rfc_state_after_first(&st);
    assert_int_equal(st.step, SCRAM_STEP_FINAL);
    assert_int_equal(final(&st, RFC_CLIENT_FINAL, strlen(RFC_CLIENT_FINAL), out, sizeof(out)),
                     0);
    assert_string_equal(out, RFC_SERVER_FINAL);
    assert_int_equal(strlen(out), SCRAM_SERVER_FINAL_LEN);
    assert_int_equal(st.step, SCRAM_STEP_DONE);
    scram_close(&st);
}

static void test_scram_rfc7677_vector_works_with_parsed_postgresql_secret(void **state)
{
    struct scram_secret s;
    struct scram_state st;
    char out[SCRAM_SERVER_FIRST_CAP];

    (void)state;
    assert_int_equal(scram_secret_parse(RFC_PG_SECRET, &s), 0);
    scram_init(&st, &s);
    assert_int_equal(first(&st, RFC_CLIENT_FIRST, strlen(RFC_CLIENT_FIRST), out, sizeof(out)),
                     0);
    assert_string_equal(out, RFC_SERVER_FIRST);
    assert_int_equal(final(&st, RFC_CLIENT_FINAL, strlen(RFC_CLIENT_FINAL), out, sizeof(out)),
                     0);
    assert_string_equal(out, RFC_SERVER_FINAL);
}

static void test_scram_wrong_proof_is_eacces_and_ends_exchange(void **state)
{
    struct scram_state st;
    char msg[] = RFC_CLIENT_FINAL;
    char out[128];

    (void)state;
    rfc_state_after_first(&st);
    /* Still valid base64 of 32 bytes, one bit of the proof differs. */
    msg[strlen(RFC_FINAL_NO_PROOF) + 3] ^= 0x01;
    assert_int_equal(final(&st, msg, strlen(msg), out, sizeof(out)), -EACCES);
    assert_int_equal(st.step, SCRAM_STEP_DONE);
    /* No second try on the same exchange, even with the right proof. */
    assert_int_equal(final(&st, RFC_CLIENT_FINAL, strlen(RFC_CLIENT_FINAL), out, sizeof(out)),
                     -EINVAL);
}

static void test_scram_wrong_password_secret_rejects_rfc_proof(void **state)
{
    struct scram_secret s;
    struct scram_state st;
    char out[SCRAM_SERVER_FIRST_CAP];

    (void)state;
    rfc_secret(&s, "pencil2");
    scram_init(&st, &s);
    assert_int_equal(first(&st, RFC_CLIENT_FIRST, strlen(RFC_CLIENT_FIRST), out, sizeof(out)),
                     0);
    assert_int_equal(final(&st, RFC_CLIENT_FINAL, strlen(RFC_CLIENT_FINAL), out, sizeof(out)),
                     -EACCES);
}

static void test_scram_secret_parse_matches_password_derivation(void **state)
{
    struct scram_secret parsed, derived;

    (void)state;
    memset(&parsed, 0xaa, sizeof(parsed));
    memset(&derived, 0x55, sizeof(derived));
    rfc_secret(&derived, RFC_PASSWORD);
    assert_int_equal(scram_secret_parse(RFC_PG_SECRET, &parsed), 0);
    assert_int_equal(parsed.iterations, 4096);
    assert_int_equal(parsed.salt_len, 16);
    assert_int_equal(derived.salt_len, 16);
    assert_memory_equal(parsed.salt, derived.salt, 16);
    assert_memory_equal(parsed.stored_key, derived.stored_key, SCRAM_KEY_LEN);
    assert_memory_equal(parsed.server_key, derived.server_key, SCRAM_KEY_LEN);
}

static void test_scram_secret_format_round_trips_through_parse(void **state)
{
    static const uint8_t salt[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    struct scram_secret a, b;
    char text[SCRAM_SECRET_TEXT_CAP];

    (void)state;
    rfc_secret(&a, RFC_PASSWORD);
    assert_int_equal(scram_secret_format(&a, text, sizeof(text)), 0);
    assert_string_equal(text, RFC_PG_SECRET);
    assert_int_equal(scram_secret_format(&a, text, strlen(RFC_PG_SECRET)), -ENOSPC);

    assert_int_equal(scram_secret_from_password("other", salt, 36, 10000, &a), 0);
    assert_int_equal(scram_secret_format(&a, text, sizeof(text)), 0);
    assert_int_equal(scram_secret_parse(text, &b), 0);
    assert_int_equal(b.iterations, 10000);
    assert_int_equal(b.salt_len, a.salt_len);
    assert_memory_equal(b.salt, a.salt, a.salt_len);
    assert_memory_equal(b.stored_key, a.stored_key, SCRAM_KEY_LEN);
    assert_memory_equal(b.server_key, a.server_key, SCRAM_KEY_LEN);
}

static void test_scram_secret_parse_rejects_malformed(void **state)
{
    static const char *const bad[] = {
        "",
        "md5c5b0ee7b6a0ac9c0d4bc6e18b7e6ee7d",
        "SCRAM-SHA-1$4096:W22ZaJ0SNY7soEsUEjb6gQ==$AAAA:AAAA",
        "SCRAM-SHA-256$",
        "SCRAM-SHA-256$0:W22ZaJ0SNY7soEsUEjb6gQ==$"
        "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
        "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
        "SCRAM-SHA-256$99999999999:W22ZaJ0SNY7soEsUEjb6gQ==$"
        "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
        "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
        "SCRAM-SHA-256$-1:W22ZaJ0SNY7soEsUEjb6gQ==$"
        "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
        "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
        "SCRAM-SHA-256$4096:$"
        "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
        "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ=$"
        "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
        "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
        "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=",
        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
        "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbs=:"
        "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
        "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
        "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU= ",
        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
        "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
        "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=AAAA",
        "SCRAM-SHA-256$4096:"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA$"
        "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
        "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
    };
    struct scram_secret s, before;
    size_t i;

    (void)state;
    memset(&s, 0x5a, sizeof(s));
    before = s;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (scram_secret_parse(bad[i], &s) != -EINVAL)
            fail_msg("accepted secret %zu: %s", i, bad[i]);
    }
    assert_memory_equal(&s, &before, sizeof(s));
    assert_int_equal(scram_secret_parse(NULL, &s), -EINVAL);
}

static void test_scram_secret_from_password_rejects_bad_parameters(void **state)
{
    uint8_t salt[SCRAM_MAX_SALT + 1] = { 0 };
    struct scram_secret s;

    (void)state;
    assert_int_equal(scram_secret_from_password("pw", salt, 0, 4096, &s), -EINVAL);
    assert_int_equal(scram_secret_from_password("pw", salt, sizeof(salt), 4096, &s), -EINVAL);
    assert_int_equal(scram_secret_from_password("pw", salt, 16, 0, &s), -EINVAL);
    assert_int_equal(scram_secret_from_password(NULL, salt, 16, 4096, &s), -EINVAL);
}

static void test_scram_mock_secret_is_deterministic_per_user_and_key(void **state)
{
    static const uint8_t key[] = "mock key of this process";
    static const uint8_t key2[] = "another process";
    struct scram_secret a, b, c, d;

    (void)state;
    scram_secret_mock("ghost", key, sizeof(key) - 1, &a);
    scram_secret_mock("ghost", key, sizeof(key) - 1, &b);
    scram_secret_mock("ghost2", key, sizeof(key) - 1, &c);
    scram_secret_mock("ghost", key2, sizeof(key2) - 1, &d);
    assert_memory_equal(&a, &b, sizeof(a));
    assert_int_equal(a.iterations, SCRAM_DEFAULT_ITERATIONS);
    assert_int_equal(a.salt_len, SCRAM_DEFAULT_SALT_LEN);
    assert_memory_not_equal(a.salt, c.salt, SCRAM_DEFAULT_SALT_LEN);
    assert_memory_not_equal(a.salt, d.salt, SCRAM_DEFAULT_SALT_LEN);
    assert_memory_not_equal(a.stored_key, c.stored_key, SCRAM_KEY_LEN);
    assert_memory_not_equal(a.stored_key, a.server_key, SCRAM_KEY_LEN);

    /* An empty or missing key still gives a usable, deterministic secret. */
    scram_secret_mock("ghost", NULL, 0, &c);
    scram_secret_mock("ghost", key, 0, &d);
    assert_memory_equal(&c, &d, sizeof(c));
    assert_memory_not_equal(c.salt, a.salt, SCRAM_DEFAULT_SALT_LEN);
}

static void test_scram_mock_secret_fails_proof_like_wrong_password(void **state)
{
    static const uint8_t key[] = "mock key";
    struct scram_secret s;
    struct scram_state st;
    char out[SCRAM_SERVER_FIRST_CAP], auth[2048], final_msg[256];
    size_t outlen = 0;

    (void)state;
    scram_secret_mock("ghost", key, sizeof(key) - 1, &s);
    scram_init(&st, &s);
    assert_int_equal(scram_client_first(&st, (const uint8_t *)RFC_CLIENT_FIRST,
                                        strlen(RFC_CLIENT_FIRST), RFC_SERVER_NONCE, out,
                                        sizeof(out), &outlen), 0);
    /* The client computes a proof from the mock salt with some password; it cannot match. */
    snprintf(auth, sizeof(auth), "%s,%s,%s", &RFC_CLIENT_FIRST[3], out, RFC_FINAL_NO_PROOF);
    strcpy(final_msg, RFC_FINAL_NO_PROOF ",");
    client_proof(RFC_PASSWORD, &s, auth, final_msg + strlen(final_msg),
                 sizeof(final_msg) - strlen(final_msg));
    assert_int_equal(final(&st, final_msg, strlen(final_msg), out, sizeof(out)), -EACCES);
}

static void test_scram_y_flag_exchange_succeeds_with_matching_cbind(void **state)
{
    static const char cfirst[] = "y,,n=,r=fyko+d2lbbFgONRv9qkxdawL,x=ignored";
    static const char nonce_part[] = "3rfcNHYJY1ZVvWVs7j";
    struct scram_secret s;
    struct scram_state st;
    char out[SCRAM_SERVER_FIRST_CAP], sfirst[SCRAM_SERVER_FIRST_CAP];
    char no_proof[256], auth[2048], final_msg[512];
    size_t outlen = 0;

    (void)state;
    assert_int_equal(scram_secret_from_password("secret", (const uint8_t *)"saltsalt", 8, 4096,
                                                &s), 0);
    scram_init(&st, &s);
    assert_int_equal(scram_client_first(&st, (const uint8_t *)cfirst, strlen(cfirst),
                                        nonce_part, sfirst, sizeof(sfirst), &outlen), 0);
    assert_string_equal(sfirst, "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,"
                                "s=c2FsdHNhbHQ=,i=4096");
    /* "eSws" is base64 of "y,,"; an extension before the proof is allowed. */
    snprintf(no_proof, sizeof(no_proof), "c=eSws,r=fyko+d2lbbFgONRv9qkxdawL%s,e=x", nonce_part);
    snprintf(auth, sizeof(auth), "%s,%s,%s", cfirst + 3, sfirst, no_proof);
    snprintf(final_msg, sizeof(final_msg), "%s,", no_proof);
    client_proof("secret", &s, auth, final_msg + strlen(final_msg),
                 sizeof(final_msg) - strlen(final_msg));
    assert_int_equal(final(&st, final_msg, strlen(final_msg), out, sizeof(out)), 0);
    assert_int_equal(strncmp(out, "v=", 2), 0);
    assert_int_equal(strlen(out), SCRAM_SERVER_FINAL_LEN);

    /* The same exchange with the wrong password in the client is refused. */
    scram_init(&st, &s);
    assert_int_equal(scram_client_first(&st, (const uint8_t *)cfirst, strlen(cfirst),
                                        nonce_part, sfirst, sizeof(sfirst), &outlen), 0);
    snprintf(final_msg, sizeof(final_msg), "%s,", no_proof);
    client_proof("Secret", &s, auth, final_msg + strlen(final_msg),
                 sizeof(final_msg) - strlen(final_msg));
    assert_int_equal(final(&st, final_msg, strlen(final_msg), out, sizeof(out)), -EACCES);
}

static void test_scram_client_first_rejects_malformed_with_eproto(void **state)
{
    static const char *const bad[] = {
        "",
        "n",
        "n,",
        "n,,",
        "n,,n=user",
        "n,,n=user,",
        "n,,n=user,r=",
        "n,,r=abc",
        "n,,n=user,r=ab c",
        "n,,n=user,r=abc,",
        "n,,n=user,r=abc,1=x",
        "n,,n=user,r=abc,x",
        "n,,n=user,x=abc",
        "p=tls-server-end-point,,n=user,r=abc",
        "p,,n=user,r=abc",
        "n,a=admin,n=user,r=abc",
        "n,,m=ext,n=user,r=abc",
        "x,,n=user,r=abc",
        "n,n=user,r=abc",
        "N,,n=user,r=abc",
    };
    struct scram_secret s;
    struct scram_state st;
    char out[SCRAM_SERVER_FIRST_CAP];
    size_t i, outlen, prefix_max = strlen("n,,n=user,r=");

    (void)state;
    rfc_secret(&s, RFC_PASSWORD);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        scram_init(&st, &s);
        if (first(&st, bad[i], strlen(bad[i]), out, sizeof(out)) != -EPROTO)
            fail_msg("accepted client-first %zu: %s", i, bad[i]);
        assert_int_equal(st.step, SCRAM_STEP_DONE);
    }
    /* Every truncation that cuts into the gs2 header, the user or the empty nonce. */
    for (i = 0; i <= prefix_max; i++) {
        scram_init(&st, &s);
        assert_int_equal(first(&st, RFC_CLIENT_FIRST, i, out, sizeof(out)), -EPROTO);
    }
    /* An embedded NUL is not part of any valid message. */
    scram_init(&st, &s);
    assert_int_equal(first(&st, "n,,n=us\0r,r=abc", 15, out, sizeof(out)), -EPROTO);
    /* A NULL message with length 0 is just empty. */
    scram_init(&st, &s);
    assert_int_equal(scram_client_first(&st, NULL, 0, RFC_SERVER_NONCE, out, sizeof(out),
                                        &outlen), -EPROTO);
}

static void test_scram_client_first_rejects_oversized_message(void **state)
{
    struct scram_secret s;
    struct scram_state st;
    char msg[SCRAM_MAX_CLIENT_FIRST + 64], out[SCRAM_SERVER_FIRST_CAP];
    size_t len;

    (void)state;
    rfc_secret(&s, RFC_PASSWORD);
    /* A bare part of exactly SCRAM_MAX_CLIENT_FIRST bytes is accepted... */
    len = (size_t)snprintf(msg, sizeof(msg), "n,,n=user,r=");
    memset(msg + len, 'a', SCRAM_MAX_CLIENT_FIRST - (len - 3));
    len = 3 + SCRAM_MAX_CLIENT_FIRST;
    scram_init(&st, &s);
    assert_int_equal(first(&st, msg, len, out, sizeof(out)), 0);
    /* ...one more byte is not. */
    msg[len] = 'a';
    scram_init(&st, &s);
    assert_int_equal(first(&st, msg, len + 1, out, sizeof(out)), -EPROTO);
}

static void test_scram_client_first_rejects_bad_server_nonce_with_einval(void **state)
{
    struct scram_secret s;
    struct scram_state st;
    char out[SCRAM_SERVER_FIRST_CAP], big[SCRAM_MAX_SERVER_NONCE + 2];
    size_t outlen;

    (void)state;
    rfc_secret(&s, RFC_PASSWORD);
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    scram_init(&st, &s);
    assert_int_equal(scram_client_first(&st, (const uint8_t *)RFC_CLIENT_FIRST,
                                        strlen(RFC_CLIENT_FIRST), "", out, sizeof(out),
                                        &outlen), -EINVAL);
    assert_int_equal(scram_client_first(&st, (const uint8_t *)RFC_CLIENT_FIRST,
                                        strlen(RFC_CLIENT_FIRST), "ab,cd", out, sizeof(out),
                                        &outlen), -EINVAL);
    assert_int_equal(scram_client_first(&st, (const uint8_t *)RFC_CLIENT_FIRST,
                                        strlen(RFC_CLIENT_FIRST), big, out, sizeof(out),
                                        &outlen), -EINVAL);
    /* The caller's mistakes do not burn the exchange. */
    assert_int_equal(st.step, SCRAM_STEP_FIRST);
}

static void test_scram_client_first_small_buffer_is_enospc_and_retryable(void **state)
{
    struct scram_secret s;
    struct scram_state st;
    char out[SCRAM_SERVER_FIRST_CAP];

    (void)state;
    rfc_secret(&s, RFC_PASSWORD);
    scram_init(&st, &s);
    /* Exactly the length leaves no room for the NUL. */
    assert_int_equal(first(&st, RFC_CLIENT_FIRST, strlen(RFC_CLIENT_FIRST), out,
                           strlen(RFC_SERVER_FIRST)), -ENOSPC);
    assert_int_equal(st.step, SCRAM_STEP_FIRST);
    assert_int_equal(first(&st, RFC_CLIENT_FIRST, strlen(RFC_CLIENT_FIRST), out,
                           strlen(RFC_SERVER_FIRST) + 1), 0);
    assert_string_equal(out, RFC_SERVER_FIRST);
    assert_int_equal(final(&st, RFC_CLIENT_FINAL, strlen(RFC_CLIENT_FINAL), out, sizeof(out)),
                     0);
}

static void test_scram_client_final_rejects_malformed_with_eproto(void **state)
{
    static const char *const bad[] = {
        "",
        /* channel binding does not match "n,,": "y,," and "p=tls-unique,," */
        "c=eSws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0," RFC_PROOF,
        "c=cD10bHMtdW5pcXVlLCw=,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
        RFC_PROOF,
        /* garbage base64 in c= and in p= */
        "c=b!ws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0," RFC_PROOF,
        "c=biw,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0," RFC_PROOF,
        RFC_FINAL_NO_PROOF ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7An*VQ=",
        RFC_FINAL_NO_PROOF ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ",
        /* proof of 33 and of 30 bytes */
        RFC_FINAL_NO_PROOF ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQA",
        RFC_FINAL_NO_PROOF ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7An",
        /* nonce mismatch: other server part, client part only, longer, shorter */
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k1," RFC_PROOF,
        "c=biws,r=rOprNGfwEbeRWgbNEkqO," RFC_PROOF,
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k00," RFC_PROOF,
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k," RFC_PROOF,
        /* missing r=, wrong order, missing proof, proof not last, empty attribute */
        "c=biws," RFC_PROOF,
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,c=biws," RFC_PROOF,
        RFC_FINAL_NO_PROOF,
        RFC_FINAL_NO_PROOF ",",
        RFC_CLIENT_FINAL ",x=1",
        RFC_CLIENT_FINAL ",",
        RFC_FINAL_NO_PROOF ",," RFC_PROOF,
        RFC_FINAL_NO_PROOF ",1=2," RFC_PROOF,
    };
    struct scram_state st;
    char out[128];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        rfc_state_after_first(&st);
        if (final(&st, bad[i], strlen(bad[i]), out, sizeof(out)) != -EPROTO)
            fail_msg("accepted client-final %zu: %s", i, bad[i]);
        assert_int_equal(st.step, SCRAM_STEP_DONE);
    }
    /* Every proper truncation of the RFC client-final. */
    for (i = 0; i < strlen(RFC_CLIENT_FINAL); i++) {
        rfc_state_after_first(&st);
        if (final(&st, RFC_CLIENT_FINAL, i, out, sizeof(out)) != -EPROTO)
            fail_msg("accepted client-final truncated to %zu bytes", i);
    }
    /* An embedded NUL. */
    rfc_state_after_first(&st);
    assert_int_equal(final(&st, "c=biws\0r=x", 10, out, sizeof(out)), -EPROTO);
}

static void test_scram_client_final_small_buffer_is_enospc(void **state)
{
    struct scram_state st;
    char out[SCRAM_SERVER_FINAL_LEN + 1];

    (void)state;
    rfc_state_after_first(&st);
    assert_int_equal(final(&st, RFC_CLIENT_FINAL, strlen(RFC_CLIENT_FINAL), out,
                           SCRAM_SERVER_FINAL_LEN), -ENOSPC);
    rfc_state_after_first(&st);
    assert_int_equal(final(&st, RFC_CLIENT_FINAL, strlen(RFC_CLIENT_FINAL), out, 2), -ENOSPC);
    rfc_state_after_first(&st);
    assert_int_equal(final(&st, RFC_CLIENT_FINAL, strlen(RFC_CLIENT_FINAL), out,
                           sizeof(out)), 0);
    assert_string_equal(out, RFC_SERVER_FINAL);
}

static void test_scram_calls_out_of_order_are_einval(void **state)
{
    struct scram_secret s;
    struct scram_state st;
    char out[SCRAM_SERVER_FIRST_CAP];

    (void)state;
    rfc_secret(&s, RFC_PASSWORD);
    scram_init(&st, &s);
    assert_int_equal(final(&st, RFC_CLIENT_FINAL, strlen(RFC_CLIENT_FINAL), out, sizeof(out)),
                     -EINVAL);
    assert_int_equal(first(&st, RFC_CLIENT_FIRST, strlen(RFC_CLIENT_FIRST), out, sizeof(out)),
                     0);
    assert_int_equal(first(&st, RFC_CLIENT_FIRST, strlen(RFC_CLIENT_FIRST), out, sizeof(out)),
                     -EINVAL);
    scram_close(&st);
    assert_int_equal(final(&st, RFC_CLIENT_FINAL, strlen(RFC_CLIENT_FINAL), out, sizeof(out)),
                     -EINVAL);
}

static void test_scram_b64_matches_rfc4648_vectors(void **state)
{
    static const char *const plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
    static const char *const coded[] = {
        "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy",
    };
    char enc[16];
    uint8_t dec[16];
    size_t i, len;

    (void)state;
    for (i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
        len = 99;
        assert_int_equal(scram_b64_encode((const uint8_t *)plain[i], strlen(plain[i]), enc,
                                          sizeof(enc), &len), 0);
        assert_string_equal(enc, coded[i]);
        assert_int_equal(len, strlen(coded[i]));
        len = 99;
        assert_int_equal(scram_b64_decode(coded[i], strlen(coded[i]), dec, sizeof(dec), &len),
                         0);
        assert_int_equal(len, strlen(plain[i]));
        assert_memory_equal(dec, plain[i], len);
    }
}

static void test_scram_b64_rejects_malformed_and_short_buffers(void **state)
{
    static const char *const bad[] = {
        "Zg=", "Zg", "Z===", "====", "=Zg=", "Zg==Zg==", "Zm9v YmFy", "Zm9v\nYmE=", "Zm=v",
        "Zg=A", "Zm9-", "Zm9_",
    };
    char enc[9];
    uint8_t dec[8];
    size_t i, len;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (scram_b64_decode(bad[i], strlen(bad[i]), dec, sizeof(dec), &len) != -EINVAL)
            fail_msg("accepted base64 %zu: %s", i, bad[i]);
    }
    assert_int_equal(scram_b64_decode("Zm9vYmFy", 8, dec, 5, &len), -ENOSPC);
    assert_int_equal(scram_b64_decode("Zm9vYmE=", 8, dec, 5, &len), 0);
    assert_int_equal(scram_b64_encode((const uint8_t *)"foobar", 6, enc, 8, &len), -ENOSPC);
    assert_int_equal(scram_b64_encode((const uint8_t *)"fooba", 5, enc, 9, &len), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scram_rfc7677_vector_accepts_proof),
        cmocka_unit_test(test_scram_rfc7677_vector_works_with_parsed_postgresql_secret),
        cmocka_unit_test(test_scram_wrong_proof_is_eacces_and_ends_exchange),
        cmocka_unit_test(test_scram_wrong_password_secret_rejects_rfc_proof),
        cmocka_unit_test(test_scram_secret_parse_matches_password_derivation),
        cmocka_unit_test(test_scram_secret_format_round_trips_through_parse),
        cmocka_unit_test(test_scram_secret_parse_rejects_malformed),
        cmocka_unit_test(test_scram_secret_from_password_rejects_bad_parameters),
        cmocka_unit_test(test_scram_mock_secret_is_deterministic_per_user_and_key),
        cmocka_unit_test(test_scram_mock_secret_fails_proof_like_wrong_password),
        cmocka_unit_test(test_scram_y_flag_exchange_succeeds_with_matching_cbind),
        cmocka_unit_test(test_scram_client_first_rejects_malformed_with_eproto),
        cmocka_unit_test(test_scram_client_first_rejects_oversized_message),
        cmocka_unit_test(test_scram_client_first_rejects_bad_server_nonce_with_einval),
        cmocka_unit_test(test_scram_client_first_small_buffer_is_enospc_and_retryable),
        cmocka_unit_test(test_scram_client_final_rejects_malformed_with_eproto),
        cmocka_unit_test(test_scram_client_final_small_buffer_is_enospc),
        cmocka_unit_test(test_scram_calls_out_of_order_are_einval),
        cmocka_unit_test(test_scram_b64_matches_rfc4648_vectors),
        cmocka_unit_test(test_scram_b64_rejects_malformed_and_short_buffers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
