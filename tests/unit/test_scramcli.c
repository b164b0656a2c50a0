/*
 * tests/unit/test_scramcli.c - the client side of SCRAM-SHA-256 and md5 that pgrouter logs
 * in to servers with: the RFC 7677 vector, exchanges against pgrouter's own server side
 * (scram.c) including a ClientKey recovered from one client's proof and reused for a
 * second login (pass-through), malformed and hostile server messages, the md5 answer.
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

#include "protocol/md5auth.h"
#include "protocol/scram.h"
#include "protocol/scramcli.h"

/* RFC 7677 section 3. */
#define RFC_CLIENT_NONCE "rOprNGfwEbeRWgbNEkqO"
#define RFC_SERVER_FIRST "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0," \
                         "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
#define RFC_CLIENT_FINAL "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0," \
                         "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define RFC_SERVER_FINAL "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
#define RFC_PG_SECRET "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$" \
                      "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:" \
                      "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="

/* Feed server-first from an exactly-sized heap copy, so ASan sees any read past n. */
static int server_first(struct scramcli *c, const char *msg, size_t n)
{
    uint8_t *copy = malloc(n > 0 ? n : 1);
    int rc;

    assert_non_null(copy);
    memcpy(copy, msg, n);
    rc = scramcli_server_first(c, copy, n);
    free(copy);
    return rc;
}

static int server_final(struct scramcli *c, const char *msg)
{
    size_t n = strlen(msg);
    uint8_t *copy = malloc(n > 0 ? n : 1);
    int rc;

    assert_non_null(copy);
    memcpy(copy, msg, n);
    rc = scramcli_server_final(c, copy, n);
    free(copy);
    return rc;
}

static void rfc_keys(uint8_t ck[SCRAM_KEY_LEN], uint8_t sk[SCRAM_KEY_LEN])
{
    struct scram_secret s;

    assert_int_equal(scram_secret_parse(RFC_PG_SECRET, &s), 0);
    assert_int_equal(scramcli_keys_from_password("pencil", s.salt, s.salt_len, s.iterations,
                                                 ck, sk), 0);
    assert_memory_equal(sk, s.server_key, SCRAM_KEY_LEN);
}

static void test_scramcli_rfc7677_vector(void **state)
{
    struct scramcli c;
    uint8_t ck[SCRAM_KEY_LEN], sk[SCRAM_KEY_LEN];
    char out[SCRAMCLI_FINAL_CAP];
    size_t len = 0;

    (void)state;
    rfc_keys(ck, sk);
    assert_int_equal(scramcli_first(&c, RFC_CLIENT_NONCE, 'n', out, sizeof(out), &len), 0);
    assert_string_equal(out, "n,,n=,r=" RFC_CLIENT_NONCE);
    assert_int_equal(len, strlen(out));
    /* The RFC's client names its user; PostgreSQL's does not. Use the RFC's bare message. */
    snprintf(c.first_bare, sizeof(c.first_bare), "n=user,r=" RFC_CLIENT_NONCE);
    c.first_bare_len = strlen(c.first_bare);
    assert_int_equal(server_first(&c, RFC_SERVER_FIRST, strlen(RFC_SERVER_FIRST)), 0);
    assert_int_equal(scramcli_final(&c, ck, sk, out, sizeof(out), &len), 0);
    assert_string_equal(out, RFC_CLIENT_FINAL);
    assert_int_equal(len, strlen(out));
    assert_int_equal(server_final(&c, RFC_SERVER_FINAL), 0);
    assert_int_equal(c.step, SCRAMCLI_STEP_DONE);
}

/*
 * One whole exchange between scramcli and pgrouter's server side (scram.c) holding
 * secret. The client proves itself with ck/sk. Returns scram_client_final's result; on
 * success the server's recovered ClientKey is copied to recovered (if not NULL).
 */
static int exchange(const struct scram_secret *secret, const uint8_t *ck, const uint8_t *sk,
                    char flag, uint8_t *recovered)
{
    struct scram_state st;
    struct scramcli c;
    char cmsg[SCRAMCLI_FINAL_CAP], smsg[SCRAM_SERVER_FIRST_CAP];
    size_t clen = 0, slen = 0;
    int rc;

    scram_init(&st, secret);
    assert_int_equal(scramcli_first(&c, "abcDEF123+/=", flag, cmsg, sizeof(cmsg), &clen), 0);
    assert_int_equal(scram_client_first(&st, (const uint8_t *)cmsg, clen, "srvNONCE", smsg,
                                        sizeof(smsg), &slen), 0);
    assert_int_equal(server_first(&c, smsg, slen), 0);
    assert_true(scramcli_matches(&c, secret));
    assert_int_equal(scramcli_final(&c, ck, sk, cmsg, sizeof(cmsg), &clen), 0);
    rc = scram_client_final(&st, (const uint8_t *)cmsg, clen, smsg, sizeof(smsg), &slen);
    if (rc == 0) {
        assert_int_equal(server_final(&c, smsg), 0);
        if (recovered != NULL)
            assert_int_equal(scram_client_key(&st, recovered), 0);
    } else {
        uint8_t none[SCRAM_KEY_LEN];

        assert_int_equal(scram_client_key(&st, none), -ENOENT);
    }
    scram_close(&st);
    scramcli_close(&c);
    return rc;
}

static void test_scramcli_logs_in_to_scram_server_side_with_flags_n_and_y(void **state)
{
    struct scram_secret s;
    uint8_t ck[SCRAM_KEY_LEN], sk[SCRAM_KEY_LEN];

    (void)state;
    assert_int_equal(scram_secret_parse(RFC_PG_SECRET, &s), 0);
    rfc_keys(ck, sk);
    assert_int_equal(exchange(&s, ck, sk, 'n', NULL), 0);
    assert_int_equal(exchange(&s, ck, sk, 'y', NULL), 0);
}

static void test_scramcli_recovered_client_key_logs_in_again(void **state)
{
    struct scram_secret s;
    uint8_t ck[SCRAM_KEY_LEN], sk[SCRAM_KEY_LEN], got[SCRAM_KEY_LEN], none[SCRAM_KEY_LEN];
    struct scram_state st;

    (void)state;
    assert_int_equal(scram_secret_parse(RFC_PG_SECRET, &s), 0);
    rfc_keys(ck, sk);
    /* The client's login: pgrouter (server side) recovers the ClientKey from its proof. */
    memset(got, 0, sizeof(got));
    assert_int_equal(exchange(&s, ck, sk, 'n', got), 0);
    assert_memory_equal(got, ck, SCRAM_KEY_LEN);
    /* pgrouter's own login to the server: only the secret and the recovered key. */
    assert_int_equal(exchange(&s, got, s.server_key, 'n', NULL), 0);
    /* A wrong key is refused by the server side and nothing is recovered from it. */
    got[0] ^= 1;
    assert_int_equal(exchange(&s, got, s.server_key, 'n', NULL), -EACCES);
    /* No key before a proof was verified. */
    scram_init(&st, &s);
    assert_int_equal(scram_client_key(&st, none), -ENOENT);
    scram_close(&st);
}

static void test_scramcli_wrong_or_error_server_final_is_eacces(void **state)
{
    struct scramcli c;
    uint8_t ck[SCRAM_KEY_LEN], sk[SCRAM_KEY_LEN];
    char out[SCRAMCLI_FINAL_CAP];
    size_t len = 0;

    (void)state;
    rfc_keys(ck, sk);
    for (int i = 0; i < 4; i++) {
        static const char *const finals[] = {
            "v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",  /* one bit off */
            "e=invalid-proof",
            "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4",   /* bad base64 */
            "x=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
        };
        static const int want[] = { -EACCES, -EACCES, -EPROTO, -EPROTO };

        assert_int_equal(scramcli_first(&c, RFC_CLIENT_NONCE, 'n', out, sizeof(out), &len), 0);
        snprintf(c.first_bare, sizeof(c.first_bare), "n=user,r=" RFC_CLIENT_NONCE);
        c.first_bare_len = strlen(c.first_bare);
        assert_int_equal(server_first(&c, RFC_SERVER_FIRST, strlen(RFC_SERVER_FIRST)), 0);
        assert_int_equal(scramcli_final(&c, ck, sk, out, sizeof(out), &len), 0);
        assert_int_equal(server_final(&c, finals[i]), want[i]);
        /* Done either way: a second answer is out of order. */
        assert_int_equal(server_final(&c, RFC_SERVER_FINAL), -EINVAL);
    }
}

static void test_scramcli_server_first_rejects_malformed(void **state)
{
    static const char *const bad[] = {
        "",
        "r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",       /* no server part */
        "r=XOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",    /* not our nonce */
        "r=rOprNGfwEbeRWgbNEkq,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",        /* shorter */
        "m=x,r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        "r=rOprNGfwEbeRWgbNEkqOabc,i=4096,s=W22ZaJ0SNY7soEsUEjb6gQ==",    /* order */
        "r=rOprNGfwEbeRWgbNEkqOabc,s=,i=4096",                            /* empty salt */
        "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ=,i=4096",     /* bad base64 */
        "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0",
        "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=04096",
        "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=2147483648",
        "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=99999999999",
        "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=",
        "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=12a",
        "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,",
        "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,1=x",
        "r=rOprNGfwEbeRWgbNEkqOa c,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",    /* space in nonce */
        "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==",
    };
    struct scramcli c;
    char out[SCRAMCLI_FIRST_CAP];
    size_t len;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(scramcli_first(&c, RFC_CLIENT_NONCE, 'n', out, sizeof(out), &len), 0);
        if (server_first(&c, bad[i], strlen(bad[i])) != -EPROTO)
            fail_msg("accepted: %s", bad[i]);
        assert_int_equal(c.step, SCRAMCLI_STEP_DONE);
    }
    /* An embedded NUL, and an extension, which is allowed. */
    assert_int_equal(scramcli_first(&c, RFC_CLIENT_NONCE, 'n', out, sizeof(out), &len), 0);
    assert_int_equal(server_first(&c, "r=rOprNGfwEbeRWgbNEkqOa\0c,s=AA==,i=1", 36), -EPROTO);
    assert_int_equal(scramcli_first(&c, RFC_CLIENT_NONCE, 'n', out, sizeof(out), &len), 0);
    assert_int_equal(server_first(&c, RFC_SERVER_FIRST ",x=y", strlen(RFC_SERVER_FIRST) + 4),
                     0);
}

static void test_scramcli_server_first_bounds(void **state)
{
    static char big[SCRAMCLI_MAX_SERVER_FIRST + 2];
    struct scramcli c;
    char out[SCRAMCLI_FIRST_CAP];
    size_t len, n;

    (void)state;
    /* A valid message padded with an extension to exactly the bound, then one byte more. */
    n = (size_t)snprintf(big, sizeof(big), "%s,x=", RFC_SERVER_FIRST);
    memset(big + n, 'a', sizeof(big) - n);
    assert_int_equal(scramcli_first(&c, RFC_CLIENT_NONCE, 'n', out, sizeof(out), &len), 0);
    assert_int_equal(server_first(&c, big, SCRAMCLI_MAX_SERVER_FIRST), 0);
    assert_int_equal(scramcli_first(&c, RFC_CLIENT_NONCE, 'n', out, sizeof(out), &len), 0);
    assert_int_equal(server_first(&c, big, SCRAMCLI_MAX_SERVER_FIRST + 1), -EPROTO);
}

static void test_scramcli_salt_mismatch_is_reported(void **state)
{
    struct scram_secret mine, other;
    struct scramcli c;
    char out[SCRAMCLI_FIRST_CAP];
    const uint8_t *salt;
    size_t len, salt_len;
    int iter;

    (void)state;
    assert_int_equal(scram_secret_parse(RFC_PG_SECRET, &mine), 0);
    other = mine;
    other.salt[0] ^= 1;
    assert_int_equal(scramcli_first(&c, RFC_CLIENT_NONCE, 'n', out, sizeof(out), &len), 0);
    assert_int_equal(server_first(&c, RFC_SERVER_FIRST, strlen(RFC_SERVER_FIRST)), 0);
    salt = scramcli_salt(&c, &salt_len, &iter);
    assert_int_equal(salt_len, 16);
    assert_int_equal(iter, 4096);
    assert_memory_equal(salt, mine.salt, 16);
    assert_true(scramcli_matches(&c, &mine));
    assert_false(scramcli_matches(&c, &other));
    other = mine;
    other.iterations = 4097;
    assert_false(scramcli_matches(&c, &other));
}

static void test_scramcli_rejects_bad_arguments_and_order(void **state)
{
    struct scramcli c;
    uint8_t k[SCRAM_KEY_LEN] = { 0 };
    char out[SCRAMCLI_FINAL_CAP], longnonce[SCRAMCLI_MAX_NONCE + 2];
    size_t len;

    (void)state;
    assert_int_equal(scramcli_first(&c, "abc", 'p', out, sizeof(out), &len), -EINVAL);
    assert_int_equal(scramcli_first(&c, "a,c", 'n', out, sizeof(out), &len), -EINVAL);
    assert_int_equal(scramcli_first(&c, "", 'n', out, sizeof(out), &len), -EINVAL);
    memset(longnonce, 'a', sizeof(longnonce) - 1);
    longnonce[sizeof(longnonce) - 1] = '\0';
    assert_int_equal(scramcli_first(&c, longnonce, 'n', out, sizeof(out), &len), -EINVAL);
    assert_int_equal(scramcli_first(&c, "abc", 'n', out, 5, &len), -ENOSPC);
    assert_int_equal(scramcli_first(&c, "abc", 'n', out, sizeof(out), &len), 0);
    /* final before server-first, server-final before final */
    assert_int_equal(scramcli_final(&c, k, k, out, sizeof(out), &len), -EINVAL);
    assert_int_equal(server_final(&c, RFC_SERVER_FINAL), -EINVAL);
    assert_int_equal(server_first(&c, "r=abcd,s=AA==,i=1", 17), 0);
    assert_int_equal(server_first(&c, "r=abcd,s=AA==,i=1", 17), -EINVAL);
    assert_int_equal(scramcli_final(&c, k, k, out, 20, &len), -ENOSPC);
    assert_int_equal(scramcli_final(&c, k, k, out, sizeof(out), &len), 0);
    assert_int_equal(len, strlen(out));
    assert_int_equal(strncmp(out, "c=biws,r=abcd,p=", 16), 0);
}

static void test_scramcli_md5_answer_passes_server_check(void **state)
{
    static const uint8_t salt[4] = { 0x01, 0xfe, 0x7f, 0x00 };
    char secret[MD5AUTH_LEN + 1], answer[SCRAMCLI_MD5_LEN];

    (void)state;
    md5auth_hash("alice", "s3cret", secret);
    assert_int_equal(scramcli_md5_answer(secret, salt, answer), 0);
    assert_int_equal(strlen(answer), 35);
    assert_int_equal(md5auth_check("alice", secret, salt, answer, strlen(answer)), 0);
    /* The same answer from the plain password, as PostgreSQL checks md5 logins. */
    assert_int_equal(md5auth_check("alice", "s3cret", salt, answer, strlen(answer)), 0);
    assert_int_not_equal(md5auth_check("bob", "s3cret", salt, answer, strlen(answer)), 0);
    assert_int_equal(scramcli_md5_answer("s3cret", salt, answer), -EINVAL);
    assert_string_equal(answer, "");
    assert_int_equal(scramcli_md5_answer(RFC_PG_SECRET, salt, answer), -EINVAL);
}

/* A non-ASCII password gives the keys of the secret derived (SASLprepped) from it. */
static void test_scramcli_keys_saslprep_like_the_server(void **state)
{
    /* "a", U+00A0 (mapped to a space), "A" + U+030A (composed to U+00C5 by NFKC) */
    static const char typed[] = "a\xc2\xa0" "A\xcc\x8a";
    static const char prepped[] = "a \xc3\x85";
    static const uint8_t salt[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
    struct scram_secret s;
    uint8_t ck[SCRAM_KEY_LEN], sk[SCRAM_KEY_LEN], ck2[SCRAM_KEY_LEN], sk2[SCRAM_KEY_LEN];
    uint8_t stored[SCRAM_KEY_LEN];
    unsigned int n = 0;

    (void)state;
    assert_int_equal(scram_secret_from_password(typed, salt, sizeof(salt), 4096, &s), 0);
    assert_int_equal(scramcli_keys_from_password(typed, salt, sizeof(salt), 4096, ck, sk), 0);
    assert_memory_equal(sk, s.server_key, SCRAM_KEY_LEN);
    assert_non_null(EVP_Digest(ck, SCRAM_KEY_LEN, stored, &n, EVP_sha256(), NULL));
    assert_memory_equal(stored, s.stored_key, SCRAM_KEY_LEN);
    /* the prepared form is the same password */
    assert_int_equal(scramcli_keys_from_password(prepped, salt, sizeof(salt), 4096, ck2, sk2), 0);
    assert_memory_equal(ck, ck2, SCRAM_KEY_LEN);
    assert_memory_equal(sk, sk2, SCRAM_KEY_LEN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scramcli_rfc7677_vector),
        cmocka_unit_test(test_scramcli_keys_saslprep_like_the_server),
        cmocka_unit_test(test_scramcli_logs_in_to_scram_server_side_with_flags_n_and_y),
        cmocka_unit_test(test_scramcli_recovered_client_key_logs_in_again),
        cmocka_unit_test(test_scramcli_wrong_or_error_server_final_is_eacces),
        cmocka_unit_test(test_scramcli_server_first_rejects_malformed),
        cmocka_unit_test(test_scramcli_server_first_bounds),
        cmocka_unit_test(test_scramcli_salt_mismatch_is_reported),
        cmocka_unit_test(test_scramcli_rejects_bad_arguments_and_order),
        cmocka_unit_test(test_scramcli_md5_answer_passes_server_check),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
