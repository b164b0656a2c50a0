/*
 * protocol/srvauth.c - the client's answers to a server's authentication requests from
 * pass-through credentials (see srvauth.h). Sequencing only: the SCRAM and md5 arithmetic
 * is in scramcli.c.
 */
#include "protocol/srvauth.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "protocol/frame.h"
#include "protocol/md5auth.h"

static enum srvauth_rc srvauth_say(enum srvauth_rc rc, char *why, size_t whylen,
                                   const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static enum srvauth_rc srvauth_say(enum srvauth_rc rc, char *why, size_t whylen,
                                   const char *fmt, ...)
{
    va_list ap;

    if (whylen > 0) {
        va_start(ap, fmt);
        vsnprintf(why, whylen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

void srvauth_init(struct srvauth *a, const char *user, const char *secret,
                  const uint8_t *client_key, int tls)
{
    memset(a, 0, sizeof(*a));
    snprintf(a->user, sizeof(a->user), "%s", user != NULL ? user : "");
    a->tls = tls;
    a->scram.step = SCRAMCLI_STEP_DONE;
    if (secret == NULL)
        return;
    if (scram_secret_parse(secret, &a->secret) == 0) {
        a->have_scram = 1;
        if (client_key != NULL) {
            memcpy(a->client_key, client_key, SCRAM_KEY_LEN);
            a->have_key = 1;
        }
    } else if (md5auth_is_secret(secret)) {
        memcpy(a->md5, secret, MD5AUTH_LEN);
        a->md5[MD5AUTH_LEN] = '\0';
        a->have_md5 = 1;
    }
}

/* A 'p' message: with mech, SASLInitialResponse (mech, length, data); else the data. */
static void srvauth_put_p(struct msgbuf *out, const char *mech, const char *data, size_t n)
{
    size_t at = msg_begin(out, 'p');

    if (mech != NULL) {
        msgbuf_putstr(out, mech);
        msgbuf_put32(out, (uint32_t)n);
    }
    msgbuf_put(out, data, n);
    msg_end(out, at);
}

static enum srvauth_rc srvauth_sasl(struct srvauth *a, const uint8_t *body, size_t n,
                                    const uint8_t *random, struct msgbuf *out, char *why,
                                    size_t whylen)
{
    char first[SCRAMCLI_FIRST_CAP], nonce[32];
    size_t i = 0, len = 0;
    int scram = 0, plus = 0;

    if (a->sasl != 0)
        return srvauth_say(SRVAUTH_PROTOCOL, why, whylen, "a second SASL request");
    /* NUL-terminated mechanism names, ending with an empty one. */
    for (;;) {
        const uint8_t *end = i < n ? memchr(body + i, 0, n - i) : NULL;

        if (end == NULL)
            return srvauth_say(SRVAUTH_PROTOCOL, why, whylen, "SASL mechanism list");
        if (end == body + i)
            break;
        if (strcmp((const char *)body + i, "SCRAM-SHA-256") == 0)
            scram = 1;
        else if (strcmp((const char *)body + i, "SCRAM-SHA-256-PLUS") == 0)
            plus = 1;
        i = (size_t)(end - body) + 1;
    }
    if (!scram)
        return srvauth_say(SRVAUTH_MISMATCH, why, whylen, "the server offers no SASL "
                           "mechanism pgrouter can log in as \"%s\" with (SCRAM-SHA-256)",
                           a->user);
    if (!a->have_scram)
        return srvauth_say(SRVAUTH_MISMATCH, why, whylen, "the server asks for SCRAM and "
                           "pgrouter has only the md5 secret of \"%s\": store its SCRAM "
                           "secret (or a password) in auth_file", a->user);
    if (!a->have_key)
        return srvauth_say(SRVAUTH_MISMATCH, why, whylen, "pgrouter has no SCRAM key for "
                           "\"%s\" yet: it learns one when a client logs in with SCRAM",
                           a->user);
    if (scram_b64_encode(random, SRVAUTH_RANDOM_LEN, nonce, sizeof(nonce), NULL) < 0)
        return srvauth_say(SRVAUTH_FAILED, why, whylen, "cannot encode the SCRAM nonce");
    /* 'y': pgrouter could bind to the TLS channel, but the server did not offer -PLUS. */
    if (scramcli_first(&a->scram, nonce, a->tls && !plus ? 'y' : 'n', first, sizeof(first),
                       &len) < 0)
        return srvauth_say(SRVAUTH_FAILED, why, whylen, "cannot start SCRAM");
    a->sasl = 1;
    srvauth_put_p(out, "SCRAM-SHA-256", first, len);
    return SRVAUTH_REPLY;
}

static enum srvauth_rc srvauth_continue(struct srvauth *a, const uint8_t *data, size_t n,
                                        struct msgbuf *out, char *why, size_t whylen)
{
    char final[SCRAMCLI_FINAL_CAP];
    size_t len = 0;

    if (a->sasl != 1 || scramcli_server_first(&a->scram, data, n) < 0)
        return srvauth_say(SRVAUTH_PROTOCOL, why, whylen, "SCRAM server-first-message");
    if (!scramcli_matches(&a->scram, &a->secret))
        return srvauth_say(SRVAUTH_MISMATCH, why, whylen, "the server's SCRAM secret for "
                           "\"%s\" differs from pgrouter's (another salt or iteration "
                           "count): copy rolpassword from pg_authid into auth_file again",
                           a->user);
    if (scramcli_final(&a->scram, a->client_key, a->secret.server_key, final, sizeof(final),
                       &len) < 0)
        return srvauth_say(SRVAUTH_FAILED, why, whylen, "cannot compute the SCRAM proof");
    a->sasl = 2;
    srvauth_put_p(out, NULL, final, len);
    OPENSSL_cleanse(final, sizeof(final));
    return SRVAUTH_REPLY;
}

static enum srvauth_rc srvauth_md5(struct srvauth *a, const uint8_t *salt, struct msgbuf *out,
                                   char *why, size_t whylen)
{
    char answer[SCRAMCLI_MD5_LEN];

    if (!a->have_md5)
        return srvauth_say(SRVAUTH_MISMATCH, why, whylen, "the server asks for md5 and "
                           "pgrouter has only the SCRAM secret of \"%s\": an md5 login needs "
                           "the md5 secret or a password", a->user);
    if (scramcli_md5_answer(a->md5, salt, answer) < 0)
        return srvauth_say(SRVAUTH_FAILED, why, whylen, "cannot compute the md5 answer");
    srvauth_put_p(out, NULL, answer, strlen(answer) + 1);
    OPENSSL_cleanse(answer, sizeof(answer));
    return SRVAUTH_REPLY;
}

enum srvauth_rc srvauth_step(struct srvauth *a, const uint8_t *body, size_t n,
                             const uint8_t *random, struct msgbuf *out, char *why,
                             size_t whylen)
{
    uint32_t code;

    if (n < 4)
        return srvauth_say(SRVAUTH_PROTOCOL, why, whylen, "short authentication request");
    code = frame_get32(body);
    body += 4;
    n -= 4;
    switch (code) {
    case MSG_AUTH_OK:
        /* After SCRAM began, only once the server proved it knows the secret. */
        if (!srvauth_settled(a))
            return srvauth_say(SRVAUTH_PROTOCOL, why, whylen, "AuthenticationOk before the "
                               "server's SCRAM signature");
        return SRVAUTH_OK;
    case MSG_AUTH_MD5:
        if (n != 4 || a->sasl != 0)
            return srvauth_say(SRVAUTH_PROTOCOL, why, whylen, "md5 request");
        return srvauth_md5(a, body, out, why, whylen);
    case MSG_AUTH_SASL:
        return srvauth_sasl(a, body, n, random, out, why, whylen);
    case MSG_AUTH_SASL_CONTINUE:
        return srvauth_continue(a, body, n, out, why, whylen);
    case MSG_AUTH_SASL_FINAL:
        if (a->sasl != 2)
            return srvauth_say(SRVAUTH_PROTOCOL, why, whylen, "unexpected SASL final message");
        a->sasl = 3;
        if (scramcli_server_final(&a->scram, body, n) < 0)
            return srvauth_say(SRVAUTH_FORGED, why, whylen, "the server's SCRAM signature is "
                               "wrong: it does not know the secret of \"%s\" (is it the "
                               "server pgrouter expects?)", a->user);
        return SRVAUTH_WAIT;
    case MSG_AUTH_CLEARTEXT:
        return srvauth_say(SRVAUTH_MISMATCH, why, whylen, "the server asks for a plaintext "
                           "password and pgrouter has only the secret of \"%s\": use "
                           "scram-sha-256 or md5 for this user in pg_hba.conf", a->user);
    default:
        return srvauth_say(SRVAUTH_MISMATCH, why, whylen, "the server asks for an "
                           "authentication method pgrouter does not speak (%u)", code);
    }
}

int srvauth_settled(const struct srvauth *a)
{
    return a->sasl == 0 || a->sasl == 3;
}

void srvauth_close(struct srvauth *a)
{
    scramcli_close(&a->scram);
    OPENSSL_cleanse(a, sizeof(*a));
}
