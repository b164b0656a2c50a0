/*
 * tests/unit/test_srvauth.c - pgrouter's answers to a server's authentication requests from
 * pass-through credentials: a whole SCRAM login against pgrouter's own server side
 * (scram.c) with only the secret and the ClientKey, the gs2 flag under TLS, every request
 * these credentials cannot answer (MISMATCH, so the pool may try libpq), a forged server
 * signature, AuthenticationOk out of order, and md5 from an md5 secret.
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

#include "protocol/frame.h"
#include "protocol/md5auth.h"
#include "protocol/srvauth.h"

#define RFC_PG_SECRET "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$" \
                      "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:" \
                      "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="

static const uint8_t RANDOM[SRVAUTH_RANDOM_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };

/* An 'R' body: the code, then data. */
static size_t req(uint8_t *buf, uint32_t code, const void *data, size_t n)
{
    buf[0] = (uint8_t)(code >> 24);
    buf[1] = (uint8_t)(code >> 16);
    buf[2] = (uint8_t)(code >> 8);
    buf[3] = (uint8_t)code;
    if (n > 0)
        memcpy(buf + 4, data, n);
    return n + 4;
}

static enum srvauth_rc step(struct srvauth *a, uint32_t code, const void *data, size_t n,
                            struct msgbuf *out, char *why)
{
    uint8_t buf[2048];

    assert_true(n + 4 <= sizeof(buf));
    return srvauth_step(a, buf, req(buf, code, data, n), RANDOM, out, why, 256);
}

/* The reply in out: one 'p' message; its body and length. */
static const uint8_t *reply_body(const struct msgbuf *out, size_t *n)
{
    assert_false(out->oom);
    assert_true(out->len >= 5);
    assert_int_equal(out->data[0], 'p');
    assert_int_equal(frame_get32(out->data + 1), out->len - 1);
    *n = out->len - 5;
    return out->data + 5;
}

static void client_key_of(const char *password, uint8_t ck[SCRAM_KEY_LEN])
{
    struct scram_secret s;
    uint8_t sk[SCRAM_KEY_LEN];

    assert_int_equal(scram_secret_parse(RFC_PG_SECRET, &s), 0);
    assert_int_equal(scramcli_keys_from_password(password, s.salt, s.salt_len, s.iterations,
                                                 ck, sk), 0);
}

/* SASL request, then the SASLInitialResponse's data (client-first) is returned. */
static void start_scram(struct srvauth *a, const char *mechs, size_t mlen, char *first,
                        size_t *flen)
{
    struct msgbuf out;
    char why[256];
    const uint8_t *body;
    size_t n, mech_len;

    msgbuf_init(&out);
    assert_int_equal(step(a, MSG_AUTH_SASL, mechs, mlen, &out, why), SRVAUTH_REPLY);
    body = reply_body(&out, &n);
    assert_string_equal((const char *)body, "SCRAM-SHA-256");
    mech_len = strlen("SCRAM-SHA-256") + 1;
    *flen = frame_get32(body + mech_len);
    assert_int_equal(*flen, n - mech_len - 4);
    memcpy(first, body + mech_len + 4, *flen);
    first[*flen] = '\0';
    msgbuf_free(&out);
}

static const char MECHS[] = "SCRAM-SHA-256\0";
static const char MECHS_PLUS[] = "SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0";

static void test_srvauth_scram_login_with_secret_and_client_key(void **state)
{
    struct srvauth a;
    struct scram_state st;
    struct scram_secret s;
    struct msgbuf out;
    uint8_t ck[SCRAM_KEY_LEN];
    char first[256], sfirst[SCRAM_SERVER_FIRST_CAP], sfinal[64], why[256];
    const uint8_t *body;
    size_t flen, slen, n;

    (void)state;
    client_key_of("pencil", ck);
    assert_int_equal(scram_secret_parse(RFC_PG_SECRET, &s), 0);
    srvauth_init(&a, "alice", RFC_PG_SECRET, ck, 0);
    assert_true(srvauth_settled(&a));
    start_scram(&a, MECHS, sizeof(MECHS), first, &flen);
    assert_int_equal(strncmp(first, "n,,n=,r=", 8), 0);
    assert_false(srvauth_settled(&a));
    /* The server side (scram.c) holding the same secret answers. */
    scram_init(&st, &s);
    assert_int_equal(scram_client_first(&st, (const uint8_t *)first, flen, "srvNonce", sfirst,
                                        sizeof(sfirst), &slen), 0);
    msgbuf_init(&out);
    assert_int_equal(step(&a, MSG_AUTH_SASL_CONTINUE, sfirst, slen, &out, why), SRVAUTH_REPLY);
    body = reply_body(&out, &n);
    assert_int_equal(scram_client_final(&st, body, n, sfinal, sizeof(sfinal), &slen), 0);
    msgbuf_free(&out);
    msgbuf_init(&out);
    assert_int_equal(step(&a, MSG_AUTH_SASL_FINAL, sfinal, slen, &out, why), SRVAUTH_WAIT);
    assert_int_equal(out.len, 0);
    assert_true(srvauth_settled(&a));
    assert_int_equal(step(&a, MSG_AUTH_OK, NULL, 0, &out, why), SRVAUTH_OK);
    msgbuf_free(&out);
    scram_close(&st);
    srvauth_close(&a);
}

static void test_srvauth_gs2_flag_follows_tls_and_plus(void **state)
{
    struct srvauth a;
    uint8_t ck[SCRAM_KEY_LEN];
    char first[256];
    size_t flen;

    (void)state;
    client_key_of("pencil", ck);
    srvauth_init(&a, "alice", RFC_PG_SECRET, ck, 1);
    start_scram(&a, MECHS, sizeof(MECHS), first, &flen);
    assert_int_equal(first[0], 'y');    /* TLS, but no -PLUS offered */
    srvauth_init(&a, "alice", RFC_PG_SECRET, ck, 1);
    start_scram(&a, MECHS_PLUS, sizeof(MECHS_PLUS), first, &flen);
    assert_int_equal(first[0], 'n');    /* -PLUS offered: binding is not used, not refused */
    srvauth_init(&a, "alice", RFC_PG_SECRET, ck, 0);
    start_scram(&a, MECHS_PLUS, sizeof(MECHS_PLUS), first, &flen);
    assert_int_equal(first[0], 'n');
    srvauth_close(&a);
}

static void test_srvauth_mismatches_say_why(void **state)
{
    static const uint8_t salt[4] = { 9, 8, 7, 6 };
    char md5[MD5AUTH_LEN + 1], why[256];
    struct srvauth a;
    struct msgbuf out;
    uint8_t ck[SCRAM_KEY_LEN];

    (void)state;
    client_key_of("pencil", ck);
    md5auth_hash("alice", "pencil", md5);
    msgbuf_init(&out);
    /* No key yet */
    srvauth_init(&a, "alice", RFC_PG_SECRET, NULL, 0);
    assert_int_equal(step(&a, MSG_AUTH_SASL, MECHS, sizeof(MECHS), &out, why),
                     SRVAUTH_MISMATCH);
    assert_non_null(strstr(why, "no SCRAM key"));
    /* md5 secret, SCRAM server */
    srvauth_init(&a, "alice", md5, NULL, 0);
    assert_int_equal(step(&a, MSG_AUTH_SASL, MECHS, sizeof(MECHS), &out, why),
                     SRVAUTH_MISMATCH);
    assert_non_null(strstr(why, "only the md5 secret"));
    /* SCRAM secret, md5 server */
    srvauth_init(&a, "alice", RFC_PG_SECRET, ck, 0);
    assert_int_equal(step(&a, MSG_AUTH_MD5, salt, 4, &out, why), SRVAUTH_MISMATCH);
    assert_non_null(strstr(why, "only the SCRAM secret"));
    /* Cleartext, unknown methods, SASL without SCRAM-SHA-256 */
    srvauth_init(&a, "alice", RFC_PG_SECRET, ck, 0);
    assert_int_equal(step(&a, MSG_AUTH_CLEARTEXT, NULL, 0, &out, why), SRVAUTH_MISMATCH);
    assert_non_null(strstr(why, "plaintext"));
    assert_int_equal(step(&a, 7, NULL, 0, &out, why), SRVAUTH_MISMATCH);
    assert_int_equal(step(&a, MSG_AUTH_SASL, "OTHER\0", 7, &out, why), SRVAUTH_MISMATCH);
    /* Another salt on the server */
    srvauth_init(&a, "alice", RFC_PG_SECRET, ck, 0);
    {
        char first[256];
        size_t flen;
        static const char sfirst_tail[] = ",s=AAAAAAAAAAAAAAAAAAAAAA==,i=4096";
        char sfirst[512];

        start_scram(&a, MECHS, sizeof(MECHS), first, &flen);
        snprintf(sfirst, sizeof(sfirst), "r=%sXYZ%s", first + 8, sfirst_tail);
        assert_int_equal(step(&a, MSG_AUTH_SASL_CONTINUE, sfirst, strlen(sfirst), &out, why),
                         SRVAUTH_MISMATCH);
        assert_non_null(strstr(why, "differs from pgrouter's"));
    }
    assert_int_equal(out.len, 0);   /* nothing was ever to be sent */
    msgbuf_free(&out);
    srvauth_close(&a);
}

static void test_srvauth_forged_signature_and_order(void **state)
{
    struct srvauth a;
    struct scram_state st;
    struct scram_secret s;
    struct msgbuf out;
    uint8_t ck[SCRAM_KEY_LEN];
    char first[256], sfirst[SCRAM_SERVER_FIRST_CAP], why[256];
    size_t flen, slen;
    static const char forged[] = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

    (void)state;
    client_key_of("pencil", ck);
    assert_int_equal(scram_secret_parse(RFC_PG_SECRET, &s), 0);
    srvauth_init(&a, "alice", RFC_PG_SECRET, ck, 0);
    msgbuf_init(&out);
    /* Out of order before anything: Continue, Final */
    assert_int_equal(step(&a, MSG_AUTH_SASL_CONTINUE, "r=x", 3, &out, why), SRVAUTH_PROTOCOL);
    assert_int_equal(step(&a, MSG_AUTH_SASL_FINAL, forged, strlen(forged), &out, why),
                     SRVAUTH_PROTOCOL);
    assert_int_equal(srvauth_step(&a, (const uint8_t *)"\0\0", 2, RANDOM, &out, why, 256),
                     SRVAUTH_PROTOCOL);
    assert_int_equal(step(&a, MSG_AUTH_SASL, "SCRAM-SHA-256\0", 14, &out, why),
                     SRVAUTH_PROTOCOL);     /* the list lacks its empty terminator */
    start_scram(&a, MECHS, sizeof(MECHS), first, &flen);
    /* AuthenticationOk now would skip the server's proof */
    assert_int_equal(step(&a, MSG_AUTH_OK, NULL, 0, &out, why), SRVAUTH_PROTOCOL);
    assert_int_equal(step(&a, MSG_AUTH_SASL, MECHS, sizeof(MECHS), &out, why),
                     SRVAUTH_PROTOCOL);
    scram_init(&st, &s);
    assert_int_equal(scram_client_first(&st, (const uint8_t *)first, flen, "srvNonce", sfirst,
                                        sizeof(sfirst), &slen), 0);
    assert_int_equal(step(&a, MSG_AUTH_SASL_CONTINUE, sfirst, slen, &out, why), SRVAUTH_REPLY);
    assert_int_equal(step(&a, MSG_AUTH_SASL_FINAL, forged, strlen(forged), &out, why),
                     SRVAUTH_FORGED);
    assert_non_null(strstr(why, "signature is wrong"));
    msgbuf_free(&out);
    scram_close(&st);
    srvauth_close(&a);
}

static void test_srvauth_md5_answer_from_md5_secret(void **state)
{
    static const uint8_t salt[4] = { 0x11, 0x22, 0x33, 0x44 };
    char md5[MD5AUTH_LEN + 1], why[256];
    struct srvauth a;
    struct msgbuf out;
    const uint8_t *body;
    size_t n;

    (void)state;
    md5auth_hash("bob", "builder", md5);
    srvauth_init(&a, "bob", md5, NULL, 0);
    msgbuf_init(&out);
    assert_int_equal(step(&a, MSG_AUTH_MD5, salt, 4, &out, why), SRVAUTH_REPLY);
    body = reply_body(&out, &n);
    assert_int_equal(n, 36);
    assert_int_equal(body[35], '\0');
    /* What PostgreSQL checks: the server holds the same md5 secret, or the password. */
    assert_int_equal(md5auth_check("bob", "builder", salt, (const char *)body, n), 0);
    msgbuf_free(&out);
    msgbuf_init(&out);
    assert_int_equal(step(&a, MSG_AUTH_MD5, salt, 3, &out, why), SRVAUTH_PROTOCOL);
    assert_int_equal(step(&a, MSG_AUTH_OK, NULL, 0, &out, why), SRVAUTH_OK);
    msgbuf_free(&out);
    srvauth_close(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_srvauth_scram_login_with_secret_and_client_key),
        cmocka_unit_test(test_srvauth_gs2_flag_follows_tls_and_plus),
        cmocka_unit_test(test_srvauth_mismatches_say_why),
        cmocka_unit_test(test_srvauth_forged_signature_and_order),
        cmocka_unit_test(test_srvauth_md5_answer_from_md5_secret),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
