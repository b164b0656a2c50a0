/*
 * protocol/auth.h - the client-authentication exchange of the startup phase: which
 * Authentication request to send, and what to make of each PasswordMessage / SASL reply.
 * Pure: the caller supplies the stored secret and every random byte, and sends the output.
 */
#ifndef PGROUTER_AUTH_H
#define PGROUTER_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/msg.h"
#include "protocol/scram.h"

#define AUTH_RANDOM_LEN 40      /* random bytes auth_begin needs */

enum auth_method { AUTH_TRUST = 0, AUTH_MD5, AUTH_SCRAM };

enum auth_rc {
    AUTH_CONTINUE = 0,  /* a request was written to out: wait for the next 'p' message */
    AUTH_DONE,          /* authenticated: send AuthenticationOk when ready */
    AUTH_FAILED,        /* wrong password, unknown user or refused method: 28P01 */
    AUTH_PROTOCOL,      /* malformed reply: 08P01 */
};

struct auth {
    enum auth_method method;
    int step;
    int known;                  /* the user exists: a failure must not say otherwise */
    uint8_t salt[4];            /* md5 */
    char user[128];
    char secret[512];           /* md5: stored secret (plain or md5 hash) */
    char nonce[40];             /* SCRAM server nonce part */
    struct scram_state scram;
};

/*
 * Start authenticating user. secret is the stored password or secret (plain, "md5...",
 * "SCRAM-SHA-256$...") or NULL when the user is unknown (the exchange then runs on a
 * mock secret derived from mock_key and fails at the end, so nobody learns which users
 * exist). method is what the config asks for; as in PgBouncer, md5 with a SCRAM secret
 * switches to SCRAM. random: AUTH_RANDOM_LEN bytes. Writes the first request to out.
 * Returns AUTH_CONTINUE, AUTH_DONE (trust) or AUTH_FAILED.
 */
enum auth_rc auth_begin(struct auth *a, enum auth_method method, const char *user,
                        const char *secret, const uint8_t *random, const uint8_t *mock_key,
                        size_t mock_key_len, struct msgbuf *out);

/*
 * auth_begin on a TLS connection: cb_data[0..cb_len) is the tls-server-end-point hash of the
 * certificate the client was given (conn_tls_endpoint). SCRAM then offers
 * SCRAM-SHA-256-PLUS before SCRAM-SHA-256 and refuses a client that could bind but says
 * "y" (a downgrade). cb_data NULL is auth_begin.
 */
enum auth_rc auth_begin_cb(struct auth *a, enum auth_method method, const char *user,
                           const char *secret, const uint8_t *random,
                           const uint8_t *mock_key, size_t mock_key_len,
                           const uint8_t *cb_data, size_t cb_len, struct msgbuf *out);

/*
 * After AUTH_FAILED or AUTH_PROTOCOL: PostgreSQL's message for the failure when it is more
 * specific than a failed password or a malformed message (SCRAM channel binding, mechanism
 * choice), with its SQLSTATE and detail (NULL if none); NULL if there is nothing more.
 */
const char *auth_error(const struct auth *a, const char **sqlstate, const char **detail);

/* Feed the body of a client 'p' message; may write the next request to out. */
enum auth_rc auth_step(struct auth *a, const uint8_t *body, size_t n, struct msgbuf *out);

/* Wipe secrets held in *a. */
void auth_close(struct auth *a);

#endif
