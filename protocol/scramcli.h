/*
 * protocol/scramcli.h - client side of SCRAM-SHA-256 (RFC 5802, RFC 7677) and of md5
 * password authentication, for pgrouter's own logins to PostgreSQL. The client proves
 * itself with a ClientKey (recovered from a client's proof: SCRAM pass-through) or with
 * keys derived from a password, and checks the server's signature with the ServerKey.
 * Pure functions over buffers; the caller supplies the nonce.
 */
#ifndef PGROUTER_SCRAMCLI_H
#define PGROUTER_SCRAMCLI_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/scram.h"

/* Bounds on what the server may send; longer messages are refused with -EPROTO. */
#define SCRAMCLI_MAX_SERVER_FIRST 1024
#define SCRAMCLI_MAX_NONCE 128          /* the client's own nonce part */
/* Room for client-first-message "n,,n=,r=<nonce>" or "y,,...", NUL included. */
#define SCRAMCLI_FIRST_CAP (16 + SCRAMCLI_MAX_NONCE)
/* Room for client-final-message: c=, the combined nonce, p= with 44 base64 bytes. */
#define SCRAMCLI_FINAL_CAP (SCRAMCLI_MAX_SERVER_FIRST + 96)
/* The md5 answer: "md5" + 32 hex, NUL included. */
#define SCRAMCLI_MD5_LEN 36

enum scramcli_step {
    SCRAMCLI_STEP_FIRST = 0,    /* nothing sent yet */
    SCRAMCLI_STEP_SERVER_FIRST, /* client-first sent, waiting for server-first */
    SCRAMCLI_STEP_SERVER_FINAL, /* client-final sent, waiting for server-final */
    SCRAMCLI_STEP_DONE,         /* finished, successfully or not */
};

/* One exchange. Fixed size, no heap. */
struct scramcli {
    enum scramcli_step step;
    char gs2_flag;                          /* 'n' or 'y' */
    char first_bare[SCRAMCLI_FIRST_CAP];    /* client-first-message-bare */
    size_t first_bare_len;
    size_t cnonce_len;                      /* first_bare ends with the client nonce */
    char server_first[SCRAMCLI_MAX_SERVER_FIRST + 1];
    size_t server_first_len;
    size_t nonce_len;                       /* combined nonce at server_first + 2 */
    uint8_t salt[SCRAM_MAX_SALT];           /* what the server sent */
    size_t salt_len;
    int iterations;
    uint8_t server_sig[SCRAM_KEY_LEN];      /* expected in server-final */
};

/*
 * Start an exchange: write client-first-message "<flag>,,n=,r=<nonce>" NUL-terminated to
 * out[0..outcap). The user name is empty, as libpq sends it: PostgreSQL takes the user from
 * the startup packet. nonce: 1..SCRAMCLI_MAX_NONCE printable characters (0x21..0x7e,
 * not ','). gs2_flag: 'n' (no channel binding) or 'y' (the client could bind but the
 * server did not offer it). Returns 0, -EINVAL or -ENOSPC.
 */
int scramcli_first(struct scramcli *c, const char *nonce, char gs2_flag, char *out,
                   size_t outcap, size_t *outlen);

/*
 * Take server-first-message (the data of AuthenticationSASLContinue, n bytes, not
 * NUL-terminated): "r=<nonce>,s=<b64 salt>,i=<iterations>[,ext...]". The combined nonce
 * must start with the client's and be longer; the salt 1..SCRAM_MAX_SALT bytes;
 * iterations 1..INT_MAX. Afterwards scramcli_salt tells what the server wants.
 * Returns 0, -EPROTO (malformed, or longer than SCRAMCLI_MAX_SERVER_FIRST: step becomes
 * DONE) or -EINVAL (wrong step).
 */
int scramcli_server_first(struct scramcli *c, const uint8_t *msg, size_t n);

/* The salt and iteration count of server-first (valid after scramcli_server_first). */
const uint8_t *scramcli_salt(const struct scramcli *c, size_t *len, int *iterations);

/*
 * 1 if server-first's salt and iterations are those of secret: only then can a ClientKey
 * recovered against secret log in to this server. 0 otherwise.
 */
int scramcli_matches(const struct scramcli *c, const struct scram_secret *secret);

/*
 * Write client-final-message "c=<b64 gs2 header>,r=<nonce>,p=<proof>" to out, from the
 * ClientKey (the proof is ClientKey XOR HMAC(H(ClientKey), AuthMessage)), and remember
 * the ServerSignature expected from server_key. Returns 0, -EINVAL (wrong step), -ENOSPC
 * or -EIO (OpenSSL failed).
 */
int scramcli_final(struct scramcli *c, const uint8_t client_key[SCRAM_KEY_LEN],
                   const uint8_t server_key[SCRAM_KEY_LEN], char *out, size_t outcap,
                   size_t *outlen);

/*
 * Take server-final-message (data of AuthenticationSASLFinal): "v=<b64 signature>",
 * compared in constant time, or "e=<error>". Whatever the result, the step becomes DONE.
 * Returns 0 (the server knows the secret), -EACCES (wrong signature or e=), -EPROTO
 * (malformed) or -EINVAL (wrong step).
 */
int scramcli_server_final(struct scramcli *c, const uint8_t *msg, size_t n);

/* Wipe *c (messages and the expected signature). */
void scramcli_close(struct scramcli *c);

/*
 * ClientKey and ServerKey from a password, salt and iterations, as the client computes
 * them (SASLprep, PBKDF2, then HMAC "Client Key" / "Server Key"), so a non-ASCII
 * password gives the keys of the secret PostgreSQL stored for it.
 * Returns 0, -EINVAL, -ENOMEM or -EIO.
 */
int scramcli_keys_from_password(const char *password, const uint8_t *salt, size_t salt_len,
                                int iterations, uint8_t client_key[SCRAM_KEY_LEN],
                                uint8_t server_key[SCRAM_KEY_LEN]);

/*
 * The answer to AuthenticationMD5Password from an md5 secret ("md5" + 32 lowercase hex,
 * md5(password || user)): "md5" + hex(md5(hex32 || salt)), NUL-terminated. No password is
 * needed: the secret is what the answer is made of. Returns 0, -EINVAL (not an md5
 * secret) or -EIO (MD5 unavailable).
 */
int scramcli_md5_answer(const char *md5_secret, const uint8_t salt[4],
                        char out[SCRAMCLI_MD5_LEN]);

#endif
