/*
 * protocol/scram.h - server side of SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL
 * speaks it: stored secrets, the mock secret for unknown users, and one exchange.
 * Pure functions over buffers; the caller supplies every random byte.
 */
#ifndef PGROUTER_SCRAM_H
#define PGROUTER_SCRAM_H

#include <stddef.h>
#include <stdint.h>

#define SCRAM_KEY_LEN 32
#define SCRAM_MAX_SALT 64
/* What PostgreSQL uses when it creates a secret (and what the mock secret uses). */
#define SCRAM_DEFAULT_ITERATIONS 4096
#define SCRAM_DEFAULT_SALT_LEN 16
/* Bound on client-first-message-bare; longer messages are refused with -EPROTO. */
#define SCRAM_MAX_CLIENT_FIRST 512
/* Bound on the caller's server nonce part. */
#define SCRAM_MAX_SERVER_NONCE 128
/* Room for server-first-message: r=<client+server nonce>,s=<b64 salt>,i=<int>. */
#define SCRAM_SERVER_FIRST_CAP 1024
/* server-final-message is "v=" + base64 of 32 bytes; add 1 for the NUL. */
#define SCRAM_SERVER_FINAL_LEN 46
/* Bound on tls-server-end-point data: a certificate hash, SHA-512 at most. */
#define SCRAM_MAX_CB_DATA 64
#define SCRAM_MECH "SCRAM-SHA-256"
#define SCRAM_MECH_PLUS "SCRAM-SHA-256-PLUS"
/* Room for a formatted secret, NUL included. */
#define SCRAM_SECRET_TEXT_CAP 256

struct scram_secret {
    int iterations;
    uint8_t salt[SCRAM_MAX_SALT];
    size_t salt_len;
    uint8_t stored_key[SCRAM_KEY_LEN];
    uint8_t server_key[SCRAM_KEY_LEN];
};

enum scram_step {
    SCRAM_STEP_FIRST = 0,   /* waiting for client-first-message */
    SCRAM_STEP_FINAL,       /* server-first sent, waiting for client-final-message */
    SCRAM_STEP_DONE,        /* finished, successfully or not; no retries */
};

/* One exchange. Fixed size, no heap: it can live inside a session. */
struct scram_state {
    enum scram_step step;
    struct scram_secret secret;     /* a copy: the caller's secret may go away */
    char cbind_flag;                /* 'n', 'y' or 'p' (gs2 header "p=tls-server-end-point,,") */
    int plus;                       /* the client chose SCRAM-SHA-256-PLUS */
    uint8_t cb_data[SCRAM_MAX_CB_DATA]; /* tls-server-end-point of our certificate */
    size_t cb_len;                  /* 0: not TLS, so SCRAM-SHA-256-PLUS is not offered */
    /* Why the last call failed, in PostgreSQL's words, when it says more than "malformed". */
    const char *err_code;           /* SQLSTATE, NULL if nothing more to say */
    char err_msg[96];
    const char *err_detail;         /* NULL if none */
    char client_first_bare[SCRAM_MAX_CLIENT_FIRST];
    size_t client_first_bare_len;
    char server_first[SCRAM_SERVER_FIRST_CAP];
    size_t server_first_len;
    size_t nonce_len;               /* combined nonce is server_first[2 .. 2 + nonce_len) */
    uint8_t client_key[SCRAM_KEY_LEN];  /* recovered from a verified proof (pass-through) */
    int have_client_key;
};

/*
 * Parse a PostgreSQL/PgBouncer secret
 * "SCRAM-SHA-256$<iterations>:<b64 salt>$<b64 StoredKey>:<b64 ServerKey>" (NUL-terminated).
 * Iterations must be 1..INT_MAX, the salt 1..SCRAM_MAX_SALT bytes, each key exactly
 * SCRAM_KEY_LEN bytes. Returns 0, or -EINVAL with *out left untouched.
 */
int scram_secret_parse(const char *text, struct scram_secret *out);

/*
 * Format a secret back into the text form scram_secret_parse() reads, NUL-terminated,
 * into out[0..outcap). SCRAM_SECRET_TEXT_CAP is always enough.
 * Returns 0, -EINVAL (salt_len or iterations out of range) or -ENOSPC.
 */
int scram_secret_format(const struct scram_secret *secret, char *out, size_t outcap);

/*
 * Derive a secret from a plain password, the way PostgreSQL does for password_encryption
 * = scram-sha-256: the password is SASLprep'd first (protocol/saslprep.h; where PostgreSQL
 * falls back to the raw bytes, so does this), so a non-ASCII password gives the same keys
 * as PostgreSQL and libpq derive from it. salt_len must be 1..SCRAM_MAX_SALT,
 * iterations >= 1. Returns 0, -EINVAL, -ENOMEM or -EIO (OpenSSL failed).
 */
int scram_secret_from_password(const char *password, const uint8_t *salt, size_t salt_len,
                               int iterations, struct scram_secret *out);

/*
 * Fill *out with a fake secret for a user that does not exist, so the exchange runs to the
 * end and fails at the proof like a wrong password. Deterministic in (user, mock_key): the
 * same unknown user always gets the same salt, as a real one would. mock_key must be a
 * secret of the caller (random per process or from config), otherwise anyone can tell mock
 * salts from real ones. Uses SCRAM_DEFAULT_ITERATIONS and SCRAM_DEFAULT_SALT_LEN, so users
 * whose real secrets use other parameters remain distinguishable.
 * If OpenSSL fails the keys are left zero, which no proof can match.
 */
void scram_secret_mock(const char *user, const uint8_t *mock_key, size_t key_len,
                       struct scram_secret *out);

/* Start an exchange against a copy of *secret. */
void scram_init(struct scram_state *st, const struct scram_secret *secret);

/*
 * The client connection is TLS and data[0..len) is the tls-server-end-point hash of the
 * certificate it was given (RFC 5929): SCRAM-SHA-256-PLUS is offered, and a client that
 * says "y" (it could bind but thinks we cannot) is refused, as that means a downgrade.
 * Call after scram_init. Returns 0 or -EINVAL (len is 0 or above SCRAM_MAX_CB_DATA).
 */
int scram_set_channel_binding(struct scram_state *st, const uint8_t *data, size_t len);

/*
 * The mechanism the client chose in SASLInitialResponse: SCRAM_MECH, or SCRAM_MECH_PLUS
 * when channel binding was set. Returns 0, or -EPROTO ("client selected an invalid SASL
 * authentication mechanism", in st->err_msg) and the step becomes DONE.
 */
int scram_select(struct scram_state *st, const char *mech);

/* Wipe the keys and messages held by *st. It can be initialised again afterwards. */
void scram_close(struct scram_state *st);

/*
 * Take client-first-message (the data of SASLInitialResponse, n bytes, not NUL-terminated)
 * and write server-first-message, NUL-terminated, to out[0..outcap); *outlen excludes the
 * NUL. server_nonce is the caller's printable nonce part (NUL-terminated, 1 to
 * SCRAM_MAX_SERVER_NONCE characters from 0x21..0x7e except ','), e.g. random bytes in base64.
 * gs2 headers, as PostgreSQL judges them: with SCRAM_MECH_PLUS only
 * "p=tls-server-end-point,,"; with SCRAM_MECH "n,,", and "y,," unless channel binding was
 * set (then it is refused, 28000). An authorization identity ("a=") or a mandatory
 * extension ("m=") is refused. The user name (n=) must be present but is ignored: the user
 * comes from the startup packet. On a refusal st->err_code/err_msg/err_detail say why.
 * Returns 0 (step becomes FINAL), -EPROTO (malformed or unsupported message, or longer
 * than SCRAM_MAX_CLIENT_FIRST; step becomes DONE), -EPERM (channel-binding downgrade: 28000;
 * step becomes DONE), -EINVAL (wrong step, bad server_nonce
 * or a secret with no salt or iterations) or -ENOSPC (out too small; the step stays FIRST
 * and the call can be repeated).
 */
int scram_client_first(struct scram_state *st, const uint8_t *msg, size_t n,
                       const char *server_nonce, char *out, size_t outcap, size_t *outlen);

/*
 * Take client-final-message (n bytes, not NUL-terminated) and check its proof in constant
 * time. On success write server-final-message "v=<ServerSignature>", NUL-terminated, to
 * out[0..outcap) (SCRAM_SERVER_FINAL_LEN + 1 is enough); *outlen excludes the NUL.
 * c= must be the base64 of the gs2 header from client-first (followed by the channel-binding
 * data for "p="), r= the combined nonce, and p= the last attribute. Whatever the result, the
 * step becomes DONE.
 * Returns 0, -EACCES (wrong proof), -EPERM (channel-binding data differs: 28000, "SCRAM
 * channel binding check failed"), -EPROTO (malformed: channel binding or nonce mismatch,
 * bad base64, proof not SCRAM_KEY_LEN bytes), -EINVAL (wrong step), -ENOSPC (out too small,
 * after the proof was accepted: treat as failure) or -EIO (OpenSSL failed).
 */
int scram_client_final(struct scram_state *st, const uint8_t *msg, size_t n,
                       char *out, size_t outcap, size_t *outlen);

/*
 * The ClientKey recovered from the client's proof (ClientProof XOR ClientSignature, which
 * hashed to StoredKey) after scram_client_final returned 0: what pgrouter logs in to the
 * server with for a user it only has the secret of. Copies it to out and returns 0, or
 * -ENOENT if no proof was verified. scram_close wipes it.
 */
int scram_client_key(const struct scram_state *st, uint8_t out[SCRAM_KEY_LEN]);

/*
 * Standard base64 (RFC 4648, with padding) of in[0..n) into out[0..outcap), NUL-terminated;
 * *outlen (may be NULL) excludes the NUL. Returns 0 or -ENOSPC.
 */
int scram_b64_encode(const uint8_t *in, size_t n, char *out, size_t outcap, size_t *outlen);

/*
 * Decode standard base64 in[0..n) (not NUL-terminated) into out[0..outcap).
 * Strict: no whitespace, length a multiple of 4, '=' only as the final padding. Leftover
 * bits in the last character are ignored. Returns 0, -EINVAL or -ENOSPC.
 */
int scram_b64_decode(const char *in, size_t n, uint8_t *out, size_t outcap, size_t *outlen);

#endif
