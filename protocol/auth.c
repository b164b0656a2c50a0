/*
 * protocol/auth.c - client authentication exchange: trust, md5 and SCRAM-SHA-256 over the
 * startup-phase messages. Crypto lives in scram.c and md5auth.c; this file only sequences.
 */
#include "protocol/auth.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

#include "protocol/md5auth.h"
#include "protocol/startup.h"

static int auth_is_scram_secret(const char *s)
{
    return s != NULL && strncmp(s, "SCRAM-SHA-256$", 14) == 0;
}

static enum auth_rc auth_begin_scram(struct auth *a, const char *secret,
                                     const uint8_t *random, const uint8_t *mock_key,
                                     size_t mock_key_len, const uint8_t *cb_data,
                                     size_t cb_len, struct msgbuf *out)
{
    /* Lists end with an empty name; on TLS PLUS comes first, as PostgreSQL sends them. */
    static const char mechs[] = SCRAM_MECH "\0";
    static const char mechs_plus[] = SCRAM_MECH_PLUS "\0" SCRAM_MECH "\0";
    struct scram_secret sec;

    if (secret == NULL) {
        scram_secret_mock(a->user, mock_key, mock_key_len, &sec);
    } else if (auth_is_scram_secret(secret)) {
        if (scram_secret_parse(secret, &sec) < 0)
            return AUTH_FAILED;
    } else if (strncmp(secret, "md5", 3) == 0 && md5auth_is_secret(secret)) {
        /* An md5 hash cannot answer SCRAM; run the exchange on a mock and fail. */
        scram_secret_mock(a->user, mock_key, mock_key_len, &sec);
    } else {
        /* A plain password: derive a secret with a fresh salt for this exchange. */
        if (scram_secret_from_password(secret, random, SCRAM_DEFAULT_SALT_LEN,
                                       SCRAM_DEFAULT_ITERATIONS, &sec) < 0)
            return AUTH_FAILED;
    }
    scram_init(&a->scram, &sec);
    OPENSSL_cleanse(&sec, sizeof(sec));
    if (cb_data != NULL && scram_set_channel_binding(&a->scram, cb_data, cb_len) < 0)
        return AUTH_FAILED;
    /* The server nonce part: 18 random bytes in base64, as PostgreSQL does. */
    if (scram_b64_encode(random + SCRAM_DEFAULT_SALT_LEN, 18, a->nonce, sizeof(a->nonce),
                         NULL) < 0)
        return AUTH_FAILED;
    if (cb_data != NULL)
        msg_auth(out, MSG_AUTH_SASL, mechs_plus, sizeof(mechs_plus));
    else
        msg_auth(out, MSG_AUTH_SASL, mechs, sizeof(mechs));
    return AUTH_CONTINUE;
}

enum auth_rc auth_begin(struct auth *a, enum auth_method method, const char *user,
                        const char *secret, const uint8_t *random, const uint8_t *mock_key,
                        size_t mock_key_len, struct msgbuf *out)
{
    return auth_begin_cb(a, method, user, secret, random, mock_key, mock_key_len, NULL, 0,
                         out);
}

enum auth_rc auth_begin_cb(struct auth *a, enum auth_method method, const char *user,
                           const char *secret, const uint8_t *random,
                           const uint8_t *mock_key, size_t mock_key_len,
                           const uint8_t *cb_data, size_t cb_len, struct msgbuf *out)
{
    memset(a, 0, sizeof(*a));
    a->known = secret != NULL;
    snprintf(a->user, sizeof(a->user), "%s", user);
    if (strlen(user) >= sizeof(a->user))
        return AUTH_FAILED;
    if (method == AUTH_MD5 && auth_is_scram_secret(secret))
        method = AUTH_SCRAM;
    a->method = method;
    switch (method) {
    case AUTH_TRUST:
        return AUTH_DONE;
    case AUTH_MD5:
        if (secret != NULL && strlen(secret) >= sizeof(a->secret))
            return AUTH_FAILED;
        snprintf(a->secret, sizeof(a->secret), "%s", secret != NULL ? secret : "");
        memcpy(a->salt, random, 4);
        msg_auth(out, MSG_AUTH_MD5, a->salt, 4);
        return AUTH_CONTINUE;
    case AUTH_SCRAM:
        return auth_begin_scram(a, secret, random, mock_key, mock_key_len, cb_data, cb_len,
                                out);
    }
    return AUTH_FAILED;
}

static enum auth_rc auth_step_md5(struct auth *a, const uint8_t *body, size_t n)
{
    const char *pw;
    size_t len;
    int rc;

    if (startup_password(body, n, &pw, &len) < 0)
        return AUTH_PROTOCOL;
    if (!a->known)
        return AUTH_FAILED;
    rc = md5auth_check(a->user, a->secret, a->salt, pw, len);
    return rc == 0 ? AUTH_DONE : AUTH_FAILED;
}

static enum auth_rc auth_step_scram(struct auth *a, const uint8_t *body, size_t n,
                                    struct msgbuf *out)
{
    char reply[SCRAM_SERVER_FIRST_CAP];
    size_t rlen;
    int rc;

    if (a->step == 0) {
        const char *mech;
        const uint8_t *data;
        size_t dlen;

        if (startup_sasl_initial(body, n, &mech, &data, &dlen) < 0)
            return AUTH_PROTOCOL;
        if (scram_select(&a->scram, mech) < 0)
            return AUTH_PROTOCOL;
        rc = scram_client_first(&a->scram, data, dlen, a->nonce, reply, sizeof(reply), &rlen);
        if (rc < 0)
            return rc == -EPERM ? AUTH_FAILED : AUTH_PROTOCOL;
        a->step = 1;
        msg_auth(out, MSG_AUTH_SASL_CONTINUE, reply, rlen);
        return AUTH_CONTINUE;
    }
    rc = scram_client_final(&a->scram, body, n, reply, sizeof(reply), &rlen);
    if (rc == -EACCES || (rc == 0 && !a->known))
        return AUTH_FAILED;
    if (rc < 0)
        return rc == -EPROTO ? AUTH_PROTOCOL : AUTH_FAILED;
    msg_auth(out, MSG_AUTH_SASL_FINAL, reply, rlen);
    return AUTH_DONE;
}

enum auth_rc auth_step(struct auth *a, const uint8_t *body, size_t n, struct msgbuf *out)
{
    switch (a->method) {
    case AUTH_TRUST:
        return AUTH_DONE;
    case AUTH_MD5:
        return auth_step_md5(a, body, n);
    case AUTH_SCRAM:
        return auth_step_scram(a, body, n, out);
    }
    return AUTH_PROTOCOL;
}

const char *auth_error(const struct auth *a, const char **sqlstate, const char **detail)
{
    if (a->method != AUTH_SCRAM || a->scram.err_code == NULL)
        return NULL;
    *sqlstate = a->scram.err_code;
    *detail = a->scram.err_detail;
    return a->scram.err_msg;
}

void auth_close(struct auth *a)
{
    scram_close(&a->scram);
    OPENSSL_cleanse(a, sizeof(*a));
}
