/*
 * protocol/srvauth.h - answering a PostgreSQL server's authentication requests ('R'
 * messages) as a client that has no password, only what pg_authid holds: a SCRAM secret
 * plus the ClientKey recovered from a client's proof (SCRAM pass-through), or an md5
 * secret. SCRAM-SHA-256 without channel binding (flag 'y' when the caller runs TLS and the
 * server did not offer -PLUS), the server's signature checked; md5 from the md5 secret;
 * AuthenticationOk only where the exchange allows it. Pure: the caller sends the replies
 * and supplies the random bytes of the nonce.
 */
#ifndef PGROUTER_SRVAUTH_H
#define PGROUTER_SRVAUTH_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/msg.h"
#include "protocol/scram.h"
#include "protocol/scramcli.h"

#define SRVAUTH_RANDOM_LEN 18       /* random bytes of one SCRAM nonce */

enum srvauth_rc {
    SRVAUTH_REPLY = 0,  /* out holds the message to send; wait for the next request */
    SRVAUTH_WAIT,       /* nothing to send (the server's SCRAM signature was right) */
    SRVAUTH_OK,         /* AuthenticationOk, and the exchange allowed it */
    SRVAUTH_MISMATCH,   /* the server wants what these credentials cannot give: another
                         * method or salt, a plaintext password, no key yet (why says) */
    SRVAUTH_FORGED,     /* the server's SCRAM signature is wrong: it lacks the secret */
    SRVAUTH_PROTOCOL,   /* malformed or out of order (why says what) */
    SRVAUTH_FAILED,     /* pgrouter's own failure (crypto, memory) */
};

struct srvauth {
    char user[64];                          /* for messages */
    int have_scram;                         /* secret parsed from a SCRAM secret */
    struct scram_secret secret;
    int have_key;
    uint8_t client_key[SCRAM_KEY_LEN];
    int have_md5;
    char md5[40];                           /* "md5" + 32 hex */
    int tls;                                /* the connection runs TLS */
    int sasl;                               /* 0 none, 1 first sent, 2 final sent, 3 done */
    struct scramcli scram;
};

/*
 * Set a up for one login as user with secret ("SCRAM-SHA-256$..." or "md5" + 32 hex; any
 * other text gives no credentials) and, for SCRAM, client_key (may be NULL: no key yet).
 * tls: the connection is encrypted (decides the gs2 flag).
 */
void srvauth_init(struct srvauth *a, const char *user, const char *secret,
                  const uint8_t *client_key, int tls);

/*
 * Take the body of one 'R' message (n bytes). random: SRVAUTH_RANDOM_LEN bytes, used
 * only when a SCRAM exchange starts. On SRVAUTH_REPLY the 'p' message to send is appended
 * to out; on MISMATCH, PROTOCOL, FORGED or FAILED a one-line reason goes to why.
 */
enum srvauth_rc srvauth_step(struct srvauth *a, const uint8_t *body, size_t n,
                             const uint8_t *random, struct msgbuf *out, char *why,
                             size_t whylen);

/* 1 unless a SCRAM exchange began and the server's signature has not been checked yet:
 * ReadyForQuery before then is a protocol violation. */
int srvauth_settled(const struct srvauth *a);

/* Wipe the keys and messages in *a. */
void srvauth_close(struct srvauth *a);

#endif
