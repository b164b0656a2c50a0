/*
 * tests/unit/test_passthru.c - what a client's login yields for opening servers: the SCRAM
 * secret and the ClientKey recovered from the proof (and the key is the client's real one),
 * the md5 secret, nothing for an unknown user or a plain password; and how a pool takes
 * credentials from its clients (the newest login wins, a keyless login never drops a key,
 * a new secret clears a refusal).
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

#include "protocol/md5auth.h"
#include "protocol/scramcli.h"
#include "router/auth/passthru.h"

#define RFC_PG_SECRET "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$" \
                      "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:" \
                      "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="

static const uint8_t MOCK_KEY[32] = { 42 };

static uint8_t *random_bytes(void)
{
    static uint8_t r[AUTH_RANDOM_LEN];

    for (size_t i = 0; i < sizeof(r); i++)
        r[i] = (uint8_t)(i * 7 + 1);
    return r;
}

/* The data of the Authentication message at the start of out ('R', len, code, data). */
static const char *auth_data(const struct msgbuf *out, size_t *n)
{
    assert_true(out->len >= 9 && out->data[0] == 'R');
    *n = out->len - 9;
    return (const char *)out->data + 9;
}

/* A whole SCRAM login of a client that knows password, against secret. */
static enum auth_rc scram_login(struct auth *a, const char *secret, const char *password)
{
    struct scram_secret s;
    struct scramcli c;
    struct msgbuf out;
    uint8_t ck[SCRAM_KEY_LEN], sk[SCRAM_KEY_LEN], body[512];
    char first[SCRAMCLI_FIRST_CAP], final[SCRAMCLI_FINAL_CAP];
    const char *data;
    size_t flen, n, blen;
    enum auth_rc rc;

    msgbuf_init(&out);
    assert_int_equal(auth_begin(a, AUTH_SCRAM, "alice", secret, random_bytes(), MOCK_KEY,
                                sizeof(MOCK_KEY), &out), AUTH_CONTINUE);
    msgbuf_free(&out);
    assert_int_equal(scramcli_first(&c, "clientNONCE", 'n', first, sizeof(first), &flen), 0);
    /* SASLInitialResponse: mechanism, int32 length, data */
    memcpy(body, "SCRAM-SHA-256", 14);
    body[14] = 0;
    body[15] = 0;
    body[16] = (uint8_t)(flen >> 8);
    body[17] = (uint8_t)flen;
    memcpy(body + 18, first, flen);
    blen = 18 + flen;
    msgbuf_init(&out);
    assert_int_equal(auth_step(a, body, blen, &out), AUTH_CONTINUE);
    data = auth_data(&out, &n);
    assert_int_equal(scramcli_server_first(&c, (const uint8_t *)data, n), 0);
    msgbuf_free(&out);
    assert_int_equal(scram_secret_parse(RFC_PG_SECRET, &s), 0);
    assert_int_equal(scramcli_keys_from_password(password, s.salt, s.salt_len, s.iterations,
                                                 ck, sk), 0);
    assert_int_equal(scramcli_final(&c, ck, sk, final, sizeof(final), &flen), 0);
    msgbuf_init(&out);
    rc = auth_step(a, (const uint8_t *)final, flen, &out);
    msgbuf_free(&out);
    return rc;
}

static void test_passthru_scram_login_yields_secret_and_client_key(void **state)
{
    struct scram_secret s;
    struct passthru *pt;
    struct auth a;
    uint8_t ck[SCRAM_KEY_LEN], sk[SCRAM_KEY_LEN];

    (void)state;
    assert_int_equal(scram_login(&a, RFC_PG_SECRET, "pencil"), AUTH_DONE);
    pt = passthru_from_auth(&a);
    assert_non_null(pt);
    assert_string_equal(pt->secret, RFC_PG_SECRET);
    assert_true(pt->have_key);
    assert_false(pt->refused);
    assert_true(pt->stamp > 0);
    assert_int_equal(scram_secret_parse(RFC_PG_SECRET, &s), 0);
    assert_int_equal(scramcli_keys_from_password("pencil", s.salt, s.salt_len, s.iterations,
                                                 ck, sk), 0);
    assert_memory_equal(pt->client_key, ck, SCRAM_KEY_LEN);
    assert_false(passthru_is_md5(pt));
    passthru_free(pt);
    auth_close(&a);
}

static void test_passthru_nothing_from_failed_or_unknown_logins(void **state)
{
    struct auth a;

    (void)state;
    /* wrong password */
    assert_int_equal(scram_login(&a, RFC_PG_SECRET, "pen"), AUTH_FAILED);
    assert_null(passthru_from_auth(&a));
    auth_close(&a);
    /* unknown user: a mock secret, which no proof matches */
    assert_int_equal(scram_login(&a, NULL, "pencil"), AUTH_FAILED);
    assert_null(passthru_from_auth(&a));
    auth_close(&a);
    assert_null(passthru_from_auth(NULL));
}

static void test_passthru_md5_login_yields_the_md5_secret_only(void **state)
{
    char secret[MD5AUTH_LEN + 1], answer[SCRAMCLI_MD5_LEN];
    struct passthru *pt;
    struct msgbuf out;
    struct auth a;
    const char *salt;
    size_t n;

    (void)state;
    md5auth_hash("alice", "s3cret", secret);
    msgbuf_init(&out);
    assert_int_equal(auth_begin(&a, AUTH_MD5, "alice", secret, random_bytes(), MOCK_KEY,
                                sizeof(MOCK_KEY), &out), AUTH_CONTINUE);
    salt = auth_data(&out, &n);
    assert_int_equal(n, 4);
    assert_int_equal(scramcli_md5_answer(secret, (const uint8_t *)salt, answer), 0);
    msgbuf_free(&out);
    msgbuf_init(&out);
    assert_int_equal(auth_step(&a, (const uint8_t *)answer, strlen(answer) + 1, &out),
                     AUTH_DONE);
    msgbuf_free(&out);
    pt = passthru_from_auth(&a);
    assert_non_null(pt);
    assert_string_equal(pt->secret, secret);
    assert_false(pt->have_key);
    assert_true(passthru_is_md5(pt));
    passthru_free(pt);
    auth_close(&a);
    /* a plain password checked by md5 gives nothing: libpq logs in with the password */
    msgbuf_init(&out);
    assert_int_equal(auth_begin(&a, AUTH_MD5, "alice", "s3cret", random_bytes(), MOCK_KEY,
                                sizeof(MOCK_KEY), &out), AUTH_CONTINUE);
    salt = auth_data(&out, &n);
    assert_int_equal(scramcli_md5_answer(secret, (const uint8_t *)salt, answer), 0);
    msgbuf_free(&out);
    msgbuf_init(&out);
    assert_int_equal(auth_step(&a, (const uint8_t *)answer, strlen(answer) + 1, &out),
                     AUTH_DONE);
    msgbuf_free(&out);
    assert_null(passthru_from_auth(&a));
    auth_close(&a);
}

static struct passthru cred(uint64_t stamp, const char *secret, int key)
{
    struct passthru p;

    memset(&p, 0, sizeof(p));
    p.stamp = stamp;
    snprintf(p.secret, sizeof(p.secret), "%s", secret);
    p.have_key = key != 0;
    memset(p.client_key, key, sizeof(p.client_key));
    return p;
}

static void test_passthru_pool_learns_the_newest_and_keeps_keys(void **state)
{
    struct passthru *slot = NULL;
    struct passthru a = cred(10, "SCRAM-A", 1), older = cred(5, "SCRAM-B", 2);
    struct passthru keyless = cred(20, "SCRAM-A", 0), newer = cred(30, "SCRAM-B", 3);

    (void)state;
    assert_int_equal(passthru_learn(&slot, NULL), 0);
    assert_null(slot);
    assert_int_equal(passthru_learn(&slot, &a), 0);
    assert_non_null(slot);
    assert_string_equal(slot->secret, "SCRAM-A");
    /* a client that logged in before (old secret, before a reload) changes nothing */
    assert_int_equal(passthru_learn(&slot, &older), 0);
    assert_string_equal(slot->secret, "SCRAM-A");
    /* a newer login without a key (trust) never drops the key of the same secret */
    assert_int_equal(passthru_learn(&slot, &keyless), 0);
    assert_true(slot->have_key);
    assert_int_equal(slot->client_key[0], 1);
    /* a server refused these; a newer login with another secret replaces and clears that */
    slot->refused = 1;
    snprintf(slot->why, sizeof(slot->why), "another salt");
    assert_int_equal(passthru_learn(&slot, &newer), 0);
    assert_string_equal(slot->secret, "SCRAM-B");
    assert_int_equal(slot->client_key[0], 3);
    assert_false(slot->refused);
    assert_string_equal(slot->why, "");
    passthru_free(slot);
    passthru_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_passthru_scram_login_yields_secret_and_client_key),
        cmocka_unit_test(test_passthru_nothing_from_failed_or_unknown_logins),
        cmocka_unit_test(test_passthru_md5_login_yields_the_md5_secret_only),
        cmocka_unit_test(test_passthru_pool_learns_the_newest_and_keeps_keys),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
