/*
 * tests/fuzz/fuzz_auth.c - libFuzzer harness for protocol/auth.c: auth_begin, then
 * auth_step fed the bodies of fuzzed 'p' messages until the exchange ends, for trust, md5
 * and SCRAM-SHA-256 against a plain password, an md5 secret, a SCRAM secret or an unknown
 * user. Input: a config byte, then 'p' bodies, each a big-endian int16 length and bytes.
 * Config bits 0-1: method (trust, md5, SCRAM, md5); bits 2-3: the stored secret (plain
 * "pencil", its md5 secret, the fixed SCRAM secret, none); bit 4: the harness answers
 * the last request correctly itself (md5 response or SCRAM client-final) after the fuzzed
 * bodies. A plain password under SCRAM runs PBKDF2 per login, too slow to fuzz: it is
 * replaced by the SCRAM secret. Checks that every request written frames as an 'R' message
 * of the right code, that an unknown user never logs in, that md5 logs in only with the
 * right response, SCRAM only after a correct proof (with its ServerSignature), and that an
 * honest client always logs in with a known secret.
 */
#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/auth.h"
#include "protocol/frame.h"
#include "protocol/md5auth.h"
#include "protocol/msg.h"
#include "protocol/scram.h"
#include "tests/fuzz/fuzzscram.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_USER "alice"

static char md5_secret[MD5AUTH_LEN + 1];
static char scram_text[SCRAM_SECRET_TEXT_CAP];

static void secrets_init(void)
{
    if (scram_text[0] != '\0')
        return;
    fixed_init();
    md5auth_hash(FUZZ_USER, "pencil", md5_secret);
    check(md5auth_is_secret(md5_secret));
    check(scram_secret_format(&fixed, scram_text, sizeof(scram_text)) == 0);
}

/* The md5 PasswordMessage body for salt: "md5" + hex(md5(hex(md5(pw || user)) || salt)). */
static void md5_answer(const uint8_t salt[4], char out[MD5AUTH_LEN + 1])
{
    uint8_t in[32 + 4], d[16];
    unsigned len = 0;

    memcpy(in, md5_secret + 3, 32);
    memcpy(in + 32, salt, 4);
    check(EVP_Digest(in, sizeof(in), d, &len, EVP_md5(), NULL) == 1 && len == 16);
    memcpy(out, "md5", 3);
    for (size_t i = 0; i < 16; i++)
        snprintf(out + 3 + 2 * i, 3, "%02x", d[i]);
}

/*
 * The 'R' messages written since *off: each must frame, and the last one's code is
 * returned with its data (-1 if none was written).
 */
static int last_request(const struct msgbuf *out, size_t *off, const uint8_t **body,
                        size_t *n)
{
    int code = -1;

    check(!out->oom);
    while (*off < out->len) {
        struct frame f;

        check(frame_next(out->data + *off, out->len - *off, 1u << 20, &f) == FRAME_OK);
        check(f.type == 'R' && f.body_len >= 4);
        code = (int)frame_get32(f.body);
        *body = f.body + 4;
        *n = f.body_len - 4;
        *off += f.len;
    }
    return code;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t random[AUTH_RANDOM_LEN] = "0123456789abcdefghijklmnopqrstuvwxyzABCD";
    static const uint8_t mock_key[16] = "mock-key-mock-ke";
    const enum auth_method methods[] = { AUTH_TRUST, AUTH_MD5, AUTH_SCRAM, AUTH_MD5 };
    const char *secrets[] = { "pencil", md5_secret, scram_text, NULL };
    enum auth_method method;
    const char *secret;
    struct auth *a;
    struct msgbuf out;
    const uint8_t *req = NULL;
    size_t off = 0, rn = 0, at = 1;
    enum auth_rc rc;
    int code, honest, scram, usable, proved = 0;
    uint8_t salt[4];

    if (size < 1)
        return 0;
    secrets_init();
    method = methods[data[0] & 3];
    secret = secrets[(data[0] >> 2) & 3];
    honest = (data[0] >> 4) & 1;
    scram = method == AUTH_SCRAM || (method == AUTH_MD5 && secret == scram_text);
    if (scram && secret == secrets[0])
        secret = scram_text;
    /* An md5 secret cannot answer SCRAM: a mock runs and fails, as for an unknown user. */
    usable = secret != NULL && !(scram && secret == md5_secret);
    a = malloc(sizeof(*a));
    check(a != NULL);
    msgbuf_init(&out);
    rc = auth_begin(a, method, FUZZ_USER, secret, random, mock_key, sizeof(mock_key), &out);
    code = last_request(&out, &off, &req, &rn);
    if (method == AUTH_TRUST) {
        check(rc == AUTH_DONE && code == -1);
        goto done;
    }
    check(rc == AUTH_CONTINUE);
    if (scram) {
        check(code == MSG_AUTH_SASL && rn == 15 && memcmp(req, "SCRAM-SHA-256\0", 15) == 0);
    } else {
        check(code == MSG_AUTH_MD5 && rn == 4);
        memcpy(salt, req, 4);
    }
    for (;;) {
        uint8_t *body;
        size_t n;
        char md5[MD5AUTH_LEN + 1];
        int answered = 0;

        if (at + 2 <= size) {
            n = (size_t)data[at] << 8 | data[at + 1];
            at += 2;
            n = n < size - at ? n : size - at;
            body = malloc(n > 0 ? n : 1);
            check(body != NULL);
            memcpy(body, data + at, n);
            at += n;
        } else if (honest && !scram) {
            md5_answer(salt, md5);
            n = MD5AUTH_LEN + 1;
            body = malloc(n);
            check(body != NULL);
            memcpy(body, md5, n);
            answered = 1;
        } else if (honest && a->step == 1) {
            body = malloc(1024);
            check(body != NULL);
            n = honest_final(&a->scram, body, 0);
            answered = 1;
        } else {
            break;
        }
        proved = 0;
        if (scram && a->step == 1 && a->scram.step == SCRAM_STEP_FINAL) {
            /* Would this client-final prove the key? Its p= must be the honest proof. */
            uint8_t proof[SCRAM_KEY_LEN], sig[SCRAM_KEY_LEN];
            char b64[64];

            if (n > 47) {
                client_proof(&a->scram, body, n - 47, proof, sig);
                check(scram_b64_encode(proof, SCRAM_KEY_LEN, b64, sizeof(b64), NULL) == 0);
                proved = memcmp(body + n - 47, ",p=", 3) == 0 &&
                         memcmp(body + n - 44, b64, 44) == 0;
            }
        }
        rc = auth_step(a, body, n, &out);
        check(rc == AUTH_CONTINUE || rc == AUTH_DONE || rc == AUTH_FAILED ||
              rc == AUTH_PROTOCOL);
        code = last_request(&out, &off, &req, &rn);
        if (rc == AUTH_DONE) {
            check(usable);
            if (scram) {
                char v[SCRAM_SERVER_FINAL_LEN + 1];
                uint8_t proof[SCRAM_KEY_LEN], sig[SCRAM_KEY_LEN];

                check(proved && code == MSG_AUTH_SASL_FINAL && rn < sizeof(v));
                memcpy(v, req, rn);
                v[rn] = '\0';
                client_proof(&a->scram, body, n - 47, proof, sig);
                check(is_server_final(v, rn, sig));
            } else {
                md5_answer(salt, md5);
                check(n >= MD5AUTH_LEN && memcmp(body, md5, MD5AUTH_LEN) == 0);
            }
        } else if (rc == AUTH_CONTINUE) {
            check(scram && a->step == 1 && code == MSG_AUTH_SASL_CONTINUE);
        } else {
            check(code == -1);
        }
        if (answered)
            check(rc == (usable ? AUTH_DONE : AUTH_FAILED));
        free(body);
        if (rc != AUTH_CONTINUE)
            break;
    }
done:
    auth_close(a);
    free(a);
    msgbuf_free(&out);
    return 0;
}
