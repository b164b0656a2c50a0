/*
 * tests/unit/test_auth.c - the client-authentication sequencer, driven as a client would:
 * trust, md5 and SCRAM-SHA-256 exchanges, unknown users, secrets that cannot answer the
 * method, malformed replies, and the use of the caller's random bytes. The client side
 * of SCRAM and md5 is computed here with OpenSSL, independently of scram.c / md5auth.c.
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
#define CLIENT_NONCE "rOprNGfwEbeRWgbNEkqO"
#define CLIENT_FIRST "n,,n=,r=" CLIENT_NONCE
#define MAX_MSG 8192
#define DATA_CAP 2048

static const uint8_t mock_key[32] = {
    0x6d, 0x6f, 0x63, 0x6b, 0x20, 0x6b, 0x65, 0x79, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
    0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14,
    0x15, 0x16, 0x17, 0x18,
};

/* What the client remembers between SCRAM messages. */
struct client {
    char server_first[DATA_CAP];
    char expected_final[128];   /* "v=" + base64(ServerSignature) */
};

static void fill_random(uint8_t random[AUTH_RANDOM_LEN], uint8_t seed)
{
    size_t i;

    for (i = 0; i < AUTH_RANDOM_LEN; i++)
        random[i] = (uint8_t)(seed + i * 37u + 1u);
}

/*
 * Check that out holds exactly one Authentication request ('R') with the given code, copy
 * its data (after the code) NUL-terminated to data, empty out and return the data length.
 */
static size_t take_request(struct msgbuf *out, uint32_t code, uint8_t *data, size_t cap)
{
    struct frame f;
    size_t n;

    assert_false(out->oom);
    assert_int_equal(frame_next(out->data, out->len, MAX_MSG, &f), FRAME_OK);
    assert_int_equal(f.type, 'R');
    assert_int_equal(f.len, out->len);
    assert_true(f.body_len >= 4);
    assert_int_equal(frame_get32(f.body), code);
    n = f.body_len - 4;
    assert_true(n < cap);
    memcpy(data, f.body + 4, n);
    data[n] = '\0';
    msgbuf_free(out);
    return n;
}

/* Feed a client message body from an exactly-sized heap copy, so ASan sees reads past n. */
static enum auth_rc feed(struct auth *a, const void *body, size_t n, struct msgbuf *out)
{
    uint8_t *copy = malloc(n > 0 ? n : 1);
    enum auth_rc rc;

    assert_non_null(copy);
    memcpy(copy, body, n);
    rc = auth_step(a, copy, n, out);
    free(copy);
    return rc;
}

/* SASLInitialResponse body: mech, NUL, int32 declared, then data[0..data_len). */
static size_t build_initial(uint8_t *body, const char *mech, const char *data,
                            size_t data_len, uint32_t declared)
{
    size_t n = strlen(mech) + 1;

    memcpy(body, mech, n);
    body[n++] = (uint8_t)(declared >> 24);
    body[n++] = (uint8_t)(declared >> 16);
    body[n++] = (uint8_t)(declared >> 8);
    body[n++] = (uint8_t)declared;
    memcpy(body + n, data, data_len);
    return n + data_len;
}

static enum auth_rc send_initial(struct auth *a, const char *mech, const char *data,
                                 struct msgbuf *out)
{
    uint8_t body[DATA_CAP];
    size_t n = build_initial(body, mech, data, strlen(data), (uint32_t)strlen(data));

    return feed(a, body, n, out);
}

static void b64(const uint8_t *in, size_t n, char *out)
{
    EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

static size_t unb64(const char *in, size_t n, uint8_t *out)
{
    int len = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);

    assert_true(len >= 0);
    /* EVP_DecodeBlock counts the padding as zero bytes. */
    if (n > 0 && in[n - 1] == '=')
        len--;
    if (n > 1 && in[n - 2] == '=')
        len--;
    return (size_t)len;
}

static void hmac(const uint8_t *key, size_t key_len, const void *msg, size_t n,
                 uint8_t out[SCRAM_KEY_LEN])
{
    unsigned int len = 0;

    assert_non_null(HMAC(EVP_sha256(), key, (int)key_len, msg, n, out, &len));
    assert_int_equal(len, SCRAM_KEY_LEN);
}

/* The server nonce part of server_first (after the client nonce, up to ","). */
static void server_nonce_of(const char *server_first, char *out, size_t cap)
{
    const char *p = server_first + 2 + strlen(CLIENT_NONCE);
    const char *end = strchr(p, ',');

    assert_non_null(end);
    assert_true((size_t)(end - p) < cap);
    memcpy(out, p, (size_t)(end - p));
    out[end - p] = '\0';
}

/* The base64 salt of server_first ("s=" up to ","). */
static void salt_of(const char *server_first, char *out, size_t cap)
{
    const char *p = strstr(server_first, ",s=");
    const char *end;

    assert_non_null(p);
    p += 3;
    end = strchr(p, ',');
    assert_non_null(end);
    assert_true((size_t)(end - p) < cap);
    memcpy(out, p, (size_t)(end - p));
    out[end - p] = '\0';
}

/*
 * auth_begin has written AuthenticationSASL: check it offers SCRAM-SHA-256, send the
 * SASLInitialResponse and keep the server-first-message from AuthenticationSASLContinue.
 */
static void client_first(struct auth *a, struct msgbuf *out, struct client *c)
{
    uint8_t data[DATA_CAP];
    size_t n = take_request(out, MSG_AUTH_SASL, data, sizeof(data));
    size_t off = 0;
    int offered = 0;

    /* A list of NUL-terminated names ending with an empty one. */
    while (off < n && data[off] != '\0') {
        const char *name = (const char *)data + off;

        if (strcmp(name, "SCRAM-SHA-256") == 0)
            offered = 1;
        off += strlen(name) + 1;
    }
    assert_true(offered);
    assert_int_equal(off + 1, n);

    assert_int_equal(send_initial(a, "SCRAM-SHA-256", CLIENT_FIRST, out), AUTH_CONTINUE);
    n = take_request(out, MSG_AUTH_SASL_CONTINUE, (uint8_t *)c->server_first,
                     sizeof(c->server_first));
    assert_int_equal(strlen(c->server_first), n);
    /* The combined nonce starts with ours and adds a server part. */
    assert_int_equal(strncmp(c->server_first, "r=" CLIENT_NONCE, 2 + strlen(CLIENT_NONCE)),
                     0);
    assert_true(c->server_first[2 + strlen(CLIENT_NONCE)] != ',');
}

/*
 * Build client-final-message for password from c->server_first into msg, and remember the
 * ServerSignature the server must answer with.
 */
static void client_final(struct client *c, const char *password, char *msg, size_t cap)
{
    uint8_t salt[SCRAM_MAX_SALT + 3], salted[SCRAM_KEY_LEN], client_key[SCRAM_KEY_LEN];
    uint8_t stored_key[SCRAM_KEY_LEN], server_key[SCRAM_KEY_LEN], sig[SCRAM_KEY_LEN];
    uint8_t proof[SCRAM_KEY_LEN];
    char without_proof[DATA_CAP], auth_msg[3 * DATA_CAP], proof_b64[64];
    const char *s, *i, *end;
    size_t salt_len, k;
    int iterations;

    assert_int_equal(strncmp(c->server_first, "r=", 2), 0);
    end = strchr(c->server_first, ',');
    assert_non_null(end);
    assert_true((size_t)snprintf(without_proof, sizeof(without_proof), "c=biws,r=%.*s",
                                 (int)(end - c->server_first - 2), c->server_first + 2) <
                sizeof(without_proof));
    s = end + 1;
    assert_int_equal(strncmp(s, "s=", 2), 0);
    end = strchr(s, ',');
    assert_non_null(end);
    assert_true((size_t)(end - s - 2) <= (SCRAM_MAX_SALT / 3 + 1) * 4);
    salt_len = unb64(s + 2, (size_t)(end - s - 2), salt);
    assert_true(salt_len > 0);
    i = end + 1;
    assert_int_equal(strncmp(i, "i=", 2), 0);
    iterations = atoi(i + 2);
    assert_true(iterations > 0);

    assert_int_equal(PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, (int)salt_len,
                                       iterations, EVP_sha256(), SCRAM_KEY_LEN, salted), 1);
    hmac(salted, sizeof(salted), "Client Key", 10, client_key);
    SHA256(client_key, sizeof(client_key), stored_key);
    hmac(salted, sizeof(salted), "Server Key", 10, server_key);

    snprintf(auth_msg, sizeof(auth_msg), "%s,%s,%s", CLIENT_FIRST + 3, c->server_first,
             without_proof);
    hmac(stored_key, sizeof(stored_key), auth_msg, strlen(auth_msg), sig);
    for (k = 0; k < SCRAM_KEY_LEN; k++)
        proof[k] = client_key[k] ^ sig[k];
    b64(proof, sizeof(proof), proof_b64);
    assert_true((size_t)snprintf(msg, cap, "%s,p=%s", without_proof, proof_b64) < cap);

    hmac(server_key, sizeof(server_key), auth_msg, strlen(auth_msg), sig);
    memcpy(c->expected_final, "v=", 2);
    b64(sig, sizeof(sig), c->expected_final + 2);
}

/* Run a whole SCRAM exchange after auth_begin with password; return the last rc. */
static enum auth_rc scram_run(struct auth *a, struct msgbuf *out, const char *password,
                              struct client *c)
{
    char msg[DATA_CAP];

    client_first(a, out, c);
    client_final(c, password, msg, sizeof(msg));
    return feed(a, msg, strlen(msg), out);
}

/* Check out holds AuthenticationSASLFinal with the expected ServerSignature. */
static void expect_sasl_final(struct msgbuf *out, const struct client *c)
{
    uint8_t data[DATA_CAP];

    take_request(out, MSG_AUTH_SASL_FINAL, data, sizeof(data));
    assert_string_equal((const char *)data, c->expected_final);
}

static void scram_secret_text(const char *password, char out[SCRAM_SECRET_TEXT_CAP])
{
    static const char salt[] = "0123456789abcdef";
    struct scram_secret sec;

    assert_int_equal(scram_secret_from_password(password, (const uint8_t *)salt,
                                                strlen(salt), 4096, &sec), 0);
    assert_int_equal(scram_secret_format(&sec, out, SCRAM_SECRET_TEXT_CAP), 0);
}

static void md5_hex(const void *a, size_t an, const void *b, size_t bn, char out[33])
{
    uint8_t in[DATA_CAP], d[EVP_MAX_MD_SIZE];
    unsigned int len = 0, k;

    assert_true(an + bn <= sizeof(in));
    memcpy(in, a, an);
    memcpy(in + an, b, bn);
    assert_int_equal(EVP_Digest(in, an + bn, d, &len, EVP_md5(), NULL), 1);
    assert_int_equal(len, 16);
    for (k = 0; k < 16; k++)
        snprintf(out + 2 * k, 3, "%02x", d[k]);
}

/* The PasswordMessage body a libpq client sends for md5: "md5" + hex(md5(hex || salt)). */
static void md5_response(const char *user, const char *password, const uint8_t salt[4],
                         char out[36])
{
    char inner[33];

    md5_hex(password, strlen(password), user, strlen(user), inner);
    memcpy(out, "md5", 3);
    md5_hex(inner, 32, salt, 4, out + 3);
}

/* auth_begin has written AuthenticationMD5Password: send the answer for password. */
static enum auth_rc md5_run(struct auth *a, struct msgbuf *out, const char *password)
{
    uint8_t salt[DATA_CAP];
    char resp[36];

    assert_int_equal(take_request(out, MSG_AUTH_MD5, salt, sizeof(salt)), 4);
    md5_response(USER, password, salt, resp);
    /* With its NUL, as the PasswordMessage carries it. */
    return feed(a, resp, sizeof(resp), out);
}

static enum auth_rc begin(struct auth *a, enum auth_method method, const char *secret,
                          uint8_t seed, struct msgbuf *out)
{
    uint8_t random[AUTH_RANDOM_LEN];

    fill_random(random, seed);
    msgbuf_init(out);
    return auth_begin(a, method, USER, secret, random, mock_key, sizeof(mock_key), out);
}

static void test_auth_scram_plain_secret_succeeds_with_server_signature(void **state)
{
    struct auth a;
    struct msgbuf out;
    struct client c;

    (void)state;
    assert_int_equal(begin(&a, AUTH_SCRAM, PASSWORD, 1, &out), AUTH_CONTINUE);
    assert_int_equal(scram_run(&a, &out, PASSWORD, &c), AUTH_DONE);
    expect_sasl_final(&out, &c);
    auth_close(&a);
    msgbuf_free(&out);
}

static void test_auth_scram_stored_scram_secret_succeeds(void **state)
{
    char secret[SCRAM_SECRET_TEXT_CAP];
    char salt[64];
    struct auth a;
    struct msgbuf out;
    struct client c;

    (void)state;
    scram_secret_text(PASSWORD, secret);
    assert_int_equal(begin(&a, AUTH_SCRAM, secret, 2, &out), AUTH_CONTINUE);
    assert_int_equal(scram_run(&a, &out, PASSWORD, &c), AUTH_DONE);
    expect_sasl_final(&out, &c);
    /* The stored salt and iterations are offered, not fresh ones. */
    salt_of(c.server_first, salt, sizeof(salt));
    assert_string_equal(salt, "MDEyMzQ1Njc4OWFiY2RlZg==");
    assert_non_null(strstr(c.server_first, ",i=4096"));
    auth_close(&a);
    msgbuf_free(&out);
}

static void test_auth_scram_wrong_password_fails_without_output(void **state)
{
    char secret[SCRAM_SECRET_TEXT_CAP];
    struct auth a;
    struct msgbuf out;
    struct client c;

    (void)state;
    assert_int_equal(begin(&a, AUTH_SCRAM, PASSWORD, 3, &out), AUTH_CONTINUE);
    assert_int_equal(scram_run(&a, &out, "wrong", &c), AUTH_FAILED);
    assert_int_equal(out.len, 0);
    auth_close(&a);

    scram_secret_text(PASSWORD, secret);
    assert_int_equal(begin(&a, AUTH_SCRAM, secret, 3, &out), AUTH_CONTINUE);
    assert_int_equal(scram_run(&a, &out, "S3cret", &c), AUTH_FAILED);
    assert_int_equal(out.len, 0);
    auth_close(&a);
    msgbuf_free(&out);
}

static void test_auth_scram_unknown_user_runs_exchange_then_fails(void **state)
{
    struct auth a;
    struct msgbuf out;
    struct client c;
    char salt1[64], salt2[64];

    (void)state;
    assert_int_equal(begin(&a, AUTH_SCRAM, NULL, 4, &out), AUTH_CONTINUE);
    /* scram_run checks that a server-first-message came back. */
    assert_int_equal(scram_run(&a, &out, PASSWORD, &c), AUTH_FAILED);
    assert_int_equal(out.len, 0);
    salt_of(c.server_first, salt1, sizeof(salt1));
    auth_close(&a);

    /* Even the empty password, and the mock salt is stable like a real user's. */
    assert_int_equal(begin(&a, AUTH_SCRAM, NULL, 5, &out), AUTH_CONTINUE);
    assert_int_equal(scram_run(&a, &out, "", &c), AUTH_FAILED);
    assert_int_equal(out.len, 0);
    salt_of(c.server_first, salt2, sizeof(salt2));
    assert_string_equal(salt1, salt2);
    auth_close(&a);
    msgbuf_free(&out);
}

static void test_auth_scram_with_md5_secret_fails(void **state)
{
    char secret[36], hex[33];
    struct auth a;
    struct msgbuf out;
    struct client c;

    (void)state;
    md5_hex(PASSWORD, strlen(PASSWORD), USER, strlen(USER), hex);
    snprintf(secret, sizeof(secret), "md5%s", hex);
    assert_int_equal(begin(&a, AUTH_SCRAM, secret, 6, &out), AUTH_CONTINUE);
    assert_int_equal(scram_run(&a, &out, PASSWORD, &c), AUTH_FAILED);
    assert_int_equal(out.len, 0);
    auth_close(&a);
    /* Nor does the md5 hash itself work as a password. */
    assert_int_equal(begin(&a, AUTH_SCRAM, secret, 6, &out), AUTH_CONTINUE);
    assert_int_equal(scram_run(&a, &out, secret, &c), AUTH_FAILED);
    auth_close(&a);
    msgbuf_free(&out);
}

static void test_auth_md5_plain_secret_succeeds(void **state)
{
    struct auth a;
    struct msgbuf out;

    (void)state;
    assert_int_equal(begin(&a, AUTH_MD5, PASSWORD, 7, &out), AUTH_CONTINUE);
    assert_int_equal(md5_run(&a, &out, PASSWORD), AUTH_DONE);
    assert_int_equal(out.len, 0);
    auth_close(&a);
    msgbuf_free(&out);
}

static void test_auth_md5_hashed_secret_succeeds(void **state)
{
    char secret[36], hex[33];
    struct auth a;
    struct msgbuf out;

    (void)state;
    md5_hex(PASSWORD, strlen(PASSWORD), USER, strlen(USER), hex);
    snprintf(secret, sizeof(secret), "md5%s", hex);
    assert_int_equal(begin(&a, AUTH_MD5, secret, 8, &out), AUTH_CONTINUE);
    assert_int_equal(md5_run(&a, &out, PASSWORD), AUTH_DONE);
    auth_close(&a);
    msgbuf_free(&out);
}

static void test_auth_md5_wrong_password_fails(void **state)
{
    static const char cleartext[] = PASSWORD;
    struct auth a;
    struct msgbuf out;
    uint8_t salt[8];

    (void)state;
    assert_int_equal(begin(&a, AUTH_MD5, PASSWORD, 9, &out), AUTH_CONTINUE);
    assert_int_equal(md5_run(&a, &out, "wrong"), AUTH_FAILED);
    assert_int_equal(out.len, 0);
    auth_close(&a);

    /* The cleartext password is not an md5 answer. */
    assert_int_equal(begin(&a, AUTH_MD5, PASSWORD, 9, &out), AUTH_CONTINUE);
    take_request(&out, MSG_AUTH_MD5, salt, sizeof(salt));
    assert_int_equal(feed(&a, cleartext, sizeof(cleartext), &out), AUTH_FAILED);
    auth_close(&a);
    msgbuf_free(&out);
}

static void test_auth_md5_unknown_user_fails_after_salt_request(void **state)
{
    struct auth a;
    struct msgbuf out;

    (void)state;
    assert_int_equal(begin(&a, AUTH_MD5, NULL, 10, &out), AUTH_CONTINUE);
    /* md5_run checks the salt request came first. */
    assert_int_equal(md5_run(&a, &out, PASSWORD), AUTH_FAILED);
    assert_int_equal(out.len, 0);
    auth_close(&a);
    /* Not even an empty password matches the empty stand-in secret. */
    assert_int_equal(begin(&a, AUTH_MD5, NULL, 10, &out), AUTH_CONTINUE);
    assert_int_equal(md5_run(&a, &out, ""), AUTH_FAILED);
    auth_close(&a);
    msgbuf_free(&out);
}

static void test_auth_md5_with_scram_secret_switches_to_scram(void **state)
{
    char secret[SCRAM_SECRET_TEXT_CAP];
    struct auth a;
    struct msgbuf out;
    struct client c;

    (void)state;
    scram_secret_text(PASSWORD, secret);
    assert_int_equal(begin(&a, AUTH_MD5, secret, 11, &out), AUTH_CONTINUE);
    /* client_first checks the first request is AuthenticationSASL (10). */
    assert_int_equal(scram_run(&a, &out, PASSWORD, &c), AUTH_DONE);
    expect_sasl_final(&out, &c);
    auth_close(&a);
    msgbuf_free(&out);
}

static void test_auth_trust_is_done_without_writing(void **state)
{
    struct auth a;
    struct msgbuf out;

    (void)state;
    assert_int_equal(begin(&a, AUTH_TRUST, PASSWORD, 12, &out), AUTH_DONE);
    assert_int_equal(out.len, 0);
    auth_close(&a);
    assert_int_equal(begin(&a, AUTH_TRUST, NULL, 12, &out), AUTH_DONE);
    assert_int_equal(out.len, 0);
    auth_close(&a);
    msgbuf_free(&out);
}

/* Begin SCRAM for a plain secret and discard AuthenticationSASL. */
static void begin_scram(struct auth *a, struct msgbuf *out)
{
    uint8_t data[DATA_CAP];

    assert_int_equal(begin(a, AUTH_SCRAM, PASSWORD, 13, out), AUTH_CONTINUE);
    take_request(out, MSG_AUTH_SASL, data, sizeof(data));
}

static void test_auth_sasl_initial_with_wrong_mechanism_is_protocol_error(void **state)
{
    static const char *const mechs[] = { "SCRAM-SHA-1", "SCRAM-SHA-256-PLUS", "scram-sha-256",
                                         "PLAIN" };
    struct auth a;
    struct msgbuf out;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++) {
        begin_scram(&a, &out);
        assert_int_equal(send_initial(&a, mechs[i], CLIENT_FIRST, &out), AUTH_PROTOCOL);
        assert_int_equal(out.len, 0);
        auth_close(&a);
    }
    msgbuf_free(&out);
}

static void test_auth_sasl_initial_with_bad_length_is_protocol_error(void **state)
{
    static const char first[] = CLIENT_FIRST;
    uint8_t body[DATA_CAP];
    size_t len = strlen(first), n;
    struct auth a;
    struct msgbuf out;

    (void)state;
    /* Declared one byte longer, one byte shorter, and as -1 with data following. */
    begin_scram(&a, &out);
    n = build_initial(body, "SCRAM-SHA-256", first, len, (uint32_t)len + 1);
    assert_int_equal(feed(&a, body, n, &out), AUTH_PROTOCOL);
    auth_close(&a);

    begin_scram(&a, &out);
    n = build_initial(body, "SCRAM-SHA-256", first, len, (uint32_t)len - 1);
    assert_int_equal(feed(&a, body, n, &out), AUTH_PROTOCOL);
    auth_close(&a);

    begin_scram(&a, &out);
    n = build_initial(body, "SCRAM-SHA-256", first, len, 0xffffffffu);
    assert_int_equal(feed(&a, body, n, &out), AUTH_PROTOCOL);
    auth_close(&a);

    /* -1 and no data: there is no client-first-message at all. */
    begin_scram(&a, &out);
    n = build_initial(body, "SCRAM-SHA-256", "", 0, 0xffffffffu);
    assert_int_equal(feed(&a, body, n, &out), AUTH_PROTOCOL);
    auth_close(&a);

    /* The length field cut short, and no terminator after the mechanism. */
    begin_scram(&a, &out);
    assert_int_equal(feed(&a, "SCRAM-SHA-256\0\0\0", 16, &out), AUTH_PROTOCOL);
    auth_close(&a);

    begin_scram(&a, &out);
    assert_int_equal(feed(&a, "SCRAM-SHA-256", 13, &out), AUTH_PROTOCOL);
    assert_int_equal(out.len, 0);
    auth_close(&a);
    msgbuf_free(&out);
}

static void test_auth_sasl_initial_with_garbage_client_first_is_protocol_error(void **state)
{
    static const char *const bad[] = {
        "hello",
        "",
        "p=tls-server-end-point,,n=,r=abc",     /* channel binding required */
        "n,a=bob,n=,r=abc",                     /* authorization identity */
        "n,,r=abc",                             /* no user attribute */
        "n,,n=,r=",                             /* empty nonce */
        "n,,n=,r=ab cd",                        /* unprintable nonce */
        "n,,m=ext,n=,r=abc",                    /* mandatory extension */
    };
    struct auth a;
    struct msgbuf out;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        begin_scram(&a, &out);
        assert_int_equal(send_initial(&a, "SCRAM-SHA-256", bad[i], &out), AUTH_PROTOCOL);
        assert_int_equal(out.len, 0);
        auth_close(&a);
    }
    msgbuf_free(&out);
}

static void test_auth_sasl_response_with_wrong_nonce_is_protocol_error(void **state)
{
    char msg[DATA_CAP];
    char *r;
    struct auth a;
    struct msgbuf out;
    struct client c;

    (void)state;
    assert_int_equal(begin(&a, AUTH_SCRAM, PASSWORD, 14, &out), AUTH_CONTINUE);
    client_first(&a, &out, &c);
    client_final(&c, PASSWORD, msg, sizeof(msg));
    /* Alter the server part of the nonce echoed back in r=. */
    r = strstr(msg, ",r=");
    assert_non_null(r);
    r[3 + strlen(CLIENT_NONCE)] ^= 1;
    assert_int_equal(feed(&a, msg, strlen(msg), &out), AUTH_PROTOCOL);
    assert_int_equal(out.len, 0);
    auth_close(&a);
    msgbuf_free(&out);
}

static void test_auth_malformed_password_message_is_protocol_error(void **state)
{
    char resp[36];
    uint8_t salt[8];
    struct auth a;
    struct msgbuf out;

    (void)state;
    /* No terminating NUL. */
    assert_int_equal(begin(&a, AUTH_MD5, PASSWORD, 15, &out), AUTH_CONTINUE);
    take_request(&out, MSG_AUTH_MD5, salt, sizeof(salt));
    md5_response(USER, PASSWORD, salt, resp);
    assert_int_equal(feed(&a, resp, 35, &out), AUTH_PROTOCOL);
    auth_close(&a);

    /* Bytes after the NUL, even with a correct answer before it. */
    assert_int_equal(begin(&a, AUTH_MD5, PASSWORD, 15, &out), AUTH_CONTINUE);
    take_request(&out, MSG_AUTH_MD5, salt, sizeof(salt));
    {
        char body[40];

        md5_response(USER, PASSWORD, salt, body);
        memcpy(body + 36, "xyz", 4);
        assert_int_equal(feed(&a, body, sizeof(body), &out), AUTH_PROTOCOL);
    }
    auth_close(&a);

    /* An empty body, and a SASLInitialResponse where a PasswordMessage belongs. */
    assert_int_equal(begin(&a, AUTH_MD5, PASSWORD, 15, &out), AUTH_CONTINUE);
    take_request(&out, MSG_AUTH_MD5, salt, sizeof(salt));
    assert_int_equal(feed(&a, "", 0, &out), AUTH_PROTOCOL);
    auth_close(&a);

    assert_int_equal(begin(&a, AUTH_MD5, NULL, 15, &out), AUTH_CONTINUE);
    take_request(&out, MSG_AUTH_MD5, salt, sizeof(salt));
    assert_int_equal(send_initial(&a, "SCRAM-SHA-256", CLIENT_FIRST, &out), AUTH_PROTOCOL);
    assert_int_equal(out.len, 0);
    auth_close(&a);
    msgbuf_free(&out);
}

/* The server-first-message for a plain secret and the given random seed. */
static void server_first_for(uint8_t seed, struct client *c)
{
    struct auth a;
    struct msgbuf out;

    assert_int_equal(begin(&a, AUTH_SCRAM, PASSWORD, seed, &out), AUTH_CONTINUE);
    client_first(&a, &out, c);
    auth_close(&a);
    msgbuf_free(&out);
}

static void test_auth_scram_nonce_and_salt_come_from_random(void **state)
{
    struct client c1, c2, c3;
    char n1[128], n2[128], s1[64], s2[64];

    (void)state;
    server_first_for(20, &c1);
    server_first_for(21, &c2);
    server_first_for(20, &c3);
    server_nonce_of(c1.server_first, n1, sizeof(n1));
    server_nonce_of(c2.server_first, n2, sizeof(n2));
    assert_true(strlen(n1) > 0);
    assert_string_not_equal(n1, n2);
    /* A plain secret gets a fresh salt from the random bytes too. */
    salt_of(c1.server_first, s1, sizeof(s1));
    salt_of(c2.server_first, s2, sizeof(s2));
    assert_string_not_equal(s1, s2);
    assert_string_equal(c1.server_first, c3.server_first);
}

static void test_auth_md5_salt_comes_from_random(void **state)
{
    uint8_t s1[8], s2[8], s3[8];
    struct auth a;
    struct msgbuf out;

    (void)state;
    assert_int_equal(begin(&a, AUTH_MD5, PASSWORD, 30, &out), AUTH_CONTINUE);
    assert_int_equal(take_request(&out, MSG_AUTH_MD5, s1, sizeof(s1)), 4);
    auth_close(&a);
    assert_int_equal(begin(&a, AUTH_MD5, PASSWORD, 31, &out), AUTH_CONTINUE);
    assert_int_equal(take_request(&out, MSG_AUTH_MD5, s2, sizeof(s2)), 4);
    auth_close(&a);
    assert_int_equal(begin(&a, AUTH_MD5, PASSWORD, 30, &out), AUTH_CONTINUE);
    assert_int_equal(take_request(&out, MSG_AUTH_MD5, s3, sizeof(s3)), 4);
    auth_close(&a);
    assert_memory_not_equal(s1, s2, 4);
    assert_memory_equal(s1, s3, 4);
    msgbuf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auth_scram_plain_secret_succeeds_with_server_signature),
        cmocka_unit_test(test_auth_scram_stored_scram_secret_succeeds),
        cmocka_unit_test(test_auth_scram_wrong_password_fails_without_output),
        cmocka_unit_test(test_auth_scram_unknown_user_runs_exchange_then_fails),
        cmocka_unit_test(test_auth_scram_with_md5_secret_fails),
        cmocka_unit_test(test_auth_md5_plain_secret_succeeds),
        cmocka_unit_test(test_auth_md5_hashed_secret_succeeds),
        cmocka_unit_test(test_auth_md5_wrong_password_fails),
        cmocka_unit_test(test_auth_md5_unknown_user_fails_after_salt_request),
        cmocka_unit_test(test_auth_md5_with_scram_secret_switches_to_scram),
        cmocka_unit_test(test_auth_trust_is_done_without_writing),
        cmocka_unit_test(test_auth_sasl_initial_with_wrong_mechanism_is_protocol_error),
        cmocka_unit_test(test_auth_sasl_initial_with_bad_length_is_protocol_error),
        cmocka_unit_test(test_auth_sasl_initial_with_garbage_client_first_is_protocol_error),
        cmocka_unit_test(test_auth_sasl_response_with_wrong_nonce_is_protocol_error),
        cmocka_unit_test(test_auth_malformed_password_message_is_protocol_error),
        cmocka_unit_test(test_auth_scram_nonce_and_salt_come_from_random),
        cmocka_unit_test(test_auth_md5_salt_comes_from_random),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
