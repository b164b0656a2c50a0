/*
 * protocol/scram.c - server side of SCRAM-SHA-256: secrets (parse, format, derive, mock),
 * the two-message exchange and the base64 it needs. No I/O, no randomness; the only heap of
 * our own is the SASLprep'd copy of a password (OpenSSL allocates its contexts internally).
 */
#include "protocol/scram.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "protocol/saslprep.h"

#define SECRET_PREFIX "SCRAM-SHA-256$"

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* One piece of a message fed to HMAC, so the AuthMessage never has to be concatenated. */
struct chunk {
    const void *p;
    size_t n;
};

/* Read position inside a message that is not NUL-terminated. */
struct cursor {
    const uint8_t *p;
    size_t n;
    size_t off;
};

int scram_b64_encode(const uint8_t *in, size_t n, char *out, size_t outcap, size_t *outlen)
{
    size_t i, o = 0;
    uint32_t w;

    if (n / 3 >= SIZE_MAX / 4 - 1 || outcap < (n + 2) / 3 * 4 + 1)
        return -ENOSPC;
    for (i = 0; i + 3 <= n; i += 3) {
        w = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64_alphabet[w >> 18 & 63];
        out[o++] = b64_alphabet[w >> 12 & 63];
        out[o++] = b64_alphabet[w >> 6 & 63];
        out[o++] = b64_alphabet[w & 63];
    }
    if (n - i > 0) {
        w = (uint32_t)in[i] << 16;
        if (n - i == 2)
            w |= (uint32_t)in[i + 1] << 8;
        out[o++] = b64_alphabet[w >> 18 & 63];
        out[o++] = b64_alphabet[w >> 12 & 63];
        out[o++] = n - i == 2 ? b64_alphabet[w >> 6 & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
    if (outlen != NULL)
        *outlen = o;
    return 0;
}

static int b64_value(char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '+')
        return 62;
    if (ch == '/')
        return 63;
    return -1;
}

int scram_b64_decode(const char *in, size_t n, uint8_t *out, size_t outcap, size_t *outlen)
{
    size_t i, j, o = 0, pad = 0;

    if (n % 4 != 0)
        return -EINVAL;
    if (n > 0 && in[n - 1] == '=') {
        pad = 1;
        if (in[n - 2] == '=')
            pad = 2;
    }
    for (i = 0; i < n; i += 4) {
        /* Characters that carry data in this group: 4, or 3 / 2 before the padding. */
        size_t take = i + 4 == n ? 4 - pad : 4;
        uint32_t w = 0;

        for (j = 0; j < 4; j++) {
            int v = 0;

            if (j < take) {
                v = b64_value(in[i + j]);
                if (v < 0)
                    return -EINVAL;
            }
            w = w << 6 | (uint32_t)v;
        }
        if (outcap - o < take - 1)
            return -ENOSPC;
        out[o++] = (uint8_t)(w >> 16);
        if (take > 2)
            out[o++] = (uint8_t)(w >> 8);
        if (take > 3)
            out[o++] = (uint8_t)w;
    }
    if (outlen != NULL)
        *outlen = o;
    return 0;
}

/* HMAC-SHA-256 over the concatenation of parts. Returns 0 or -EIO. */
static int hmac_sha256(const uint8_t *key, size_t klen, const struct chunk *parts,
                       size_t nparts, uint8_t out[SCRAM_KEY_LEN])
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = NULL;
    OSSL_PARAM params[2];
    uint8_t no_key = 0;
    size_t i, len = 0;
    int rc = -EIO;

    if (mac == NULL)
        goto done;
    ctx = EVP_MAC_CTX_new(mac);
    if (ctx == NULL)
        goto done;
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    /* A NULL key would mean "keep the previous key" to OpenSSL; we want an empty one. */
    if (EVP_MAC_init(ctx, key != NULL ? key : &no_key, key != NULL ? klen : 0, params) != 1)
        goto done;
    for (i = 0; i < nparts; i++) {
        if (parts[i].n > 0 && EVP_MAC_update(ctx, parts[i].p, parts[i].n) != 1)
            goto done;
    }
    if (EVP_MAC_final(ctx, out, &len, SCRAM_KEY_LEN) != 1 || len != SCRAM_KEY_LEN)
        goto done;
    rc = 0;
done:
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    return rc;
}

/* HMAC-SHA-256 of one NUL-terminated string. */
static int hmac_str(const uint8_t *key, size_t klen, const char *s, uint8_t out[SCRAM_KEY_LEN])
{
    struct chunk c = { s, strlen(s) };

    return hmac_sha256(key, klen, &c, 1, out);
}

static int sha256(const uint8_t *p, size_t n, uint8_t out[SCRAM_KEY_LEN])
{
    unsigned int len = 0;

    if (EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) != 1 || len != SCRAM_KEY_LEN)
        return -EIO;
    return 0;
}

/* Decode base64 text[0..n) that must yield exactly want bytes. */
static int b64_exact(const char *text, size_t n, uint8_t *out, size_t want)
{
    size_t len = 0;

    if (scram_b64_decode(text, n, out, want, &len) < 0 || len != want)
        return -EINVAL;
    return 0;
}

int scram_secret_parse(const char *text, struct scram_secret *out)
{
    struct scram_secret s;
    const char *p, *salt, *stored, *server;
    long long iter = 0;
    int rc = -EINVAL;

    if (text == NULL || out == NULL)
        return -EINVAL;
    if (strncmp(text, SECRET_PREFIX, strlen(SECRET_PREFIX)) != 0)
        return -EINVAL;
    memset(&s, 0, sizeof(s));
    p = text + strlen(SECRET_PREFIX);
    if (*p < '0' || *p > '9')
        goto done;
    for (; *p >= '0' && *p <= '9'; p++) {
        iter = iter * 10 + (*p - '0');
        if (iter > INT_MAX)
            goto done;
    }
    if (iter < 1 || *p != ':')
        goto done;
    s.iterations = (int)iter;
    salt = p + 1;
    stored = strchr(salt, '$');
    if (stored == NULL)
        goto done;
    stored++;
    server = strchr(stored, ':');
    if (server == NULL)
        goto done;
    server++;
    if (scram_b64_decode(salt, (size_t)(stored - 1 - salt), s.salt, sizeof(s.salt),
                         &s.salt_len) < 0 || s.salt_len == 0)
        goto done;
    if (b64_exact(stored, (size_t)(server - 1 - stored), s.stored_key, SCRAM_KEY_LEN) < 0)
        goto done;
    if (b64_exact(server, strlen(server), s.server_key, SCRAM_KEY_LEN) < 0)
        goto done;
    *out = s;
    rc = 0;
done:
    OPENSSL_cleanse(&s, sizeof(s));
    return rc;
}

int scram_secret_format(const struct scram_secret *secret, char *out, size_t outcap)
{
    char salt[SCRAM_MAX_SALT / 3 * 4 + 8];
    char stored[SCRAM_KEY_LEN / 3 * 4 + 8];
    char server[SCRAM_KEY_LEN / 3 * 4 + 8];
    int len;

    if (secret->iterations < 1 || secret->salt_len == 0 || secret->salt_len > SCRAM_MAX_SALT)
        return -EINVAL;
    if (scram_b64_encode(secret->salt, secret->salt_len, salt, sizeof(salt), NULL) < 0 ||
        scram_b64_encode(secret->stored_key, SCRAM_KEY_LEN, stored, sizeof(stored), NULL) < 0 ||
        scram_b64_encode(secret->server_key, SCRAM_KEY_LEN, server, sizeof(server), NULL) < 0)
        return -ENOSPC;
    len = snprintf(out, outcap, SECRET_PREFIX "%d:%s$%s:%s", secret->iterations, salt,
                   stored, server);
    if (len < 0 || (size_t)len >= outcap)
        return -ENOSPC;
    return 0;
}

int scram_secret_from_password(const char *password, const uint8_t *salt, size_t salt_len,
                               int iterations, struct scram_secret *out)
{
    uint8_t salted[SCRAM_KEY_LEN], client_key[SCRAM_KEY_LEN];
    struct scram_secret s;
    char *prep = NULL;
    size_t plen;
    int rc = -EINVAL;

    if (password == NULL || salt == NULL || out == NULL || salt_len == 0 ||
        salt_len > SCRAM_MAX_SALT || iterations < 1)
        return -EINVAL;
    plen = strlen(password);
    if (plen > INT_MAX / 11 - 1)
        return -EINVAL;
    prep = malloc(SASLPREP_CAP(plen));
    if (prep == NULL)
        return -ENOMEM;
    rc = saslprep(password, prep, SASLPREP_CAP(plen));
    if (rc < 0)
        goto done;
    plen = strlen(prep);
    memset(&s, 0, sizeof(s));
    s.iterations = iterations;
    memcpy(s.salt, salt, salt_len);
    s.salt_len = salt_len;
    rc = -EIO;
    if (PKCS5_PBKDF2_HMAC(prep, (int)plen, salt, (int)salt_len, iterations, EVP_sha256(),
                          SCRAM_KEY_LEN, salted) != 1)
        goto done;
    if (hmac_str(salted, sizeof(salted), "Client Key", client_key) < 0 ||
        sha256(client_key, sizeof(client_key), s.stored_key) < 0 ||
        hmac_str(salted, sizeof(salted), "Server Key", s.server_key) < 0)
        goto done;
    *out = s;
    rc = 0;
done:
    OPENSSL_cleanse(salted, sizeof(salted));
    OPENSSL_cleanse(client_key, sizeof(client_key));
    OPENSSL_cleanse(&s, sizeof(s));
    if (prep != NULL) {
        OPENSSL_cleanse(prep, SASLPREP_CAP(strlen(password)));
        free(prep);
    }
    return rc;
}

/* HMAC(mock_key, label || NUL || user): the label separates salt and keys. */
static int mock_derive(const char *label, const char *user, const uint8_t *key,
                       size_t key_len, uint8_t out[SCRAM_KEY_LEN])
{
    struct chunk parts[2] = {
        { label, strlen(label) + 1 },
        { user, strlen(user) },
    };

    return hmac_sha256(key, key_len, parts, 2, out);
}

void scram_secret_mock(const char *user, const uint8_t *mock_key, size_t key_len,
                       struct scram_secret *out)
{
    uint8_t salt[SCRAM_KEY_LEN];

    memset(out, 0, sizeof(*out));
    if (user == NULL)
        user = "";
    out->iterations = SCRAM_DEFAULT_ITERATIONS;
    out->salt_len = SCRAM_DEFAULT_SALT_LEN;
    if (mock_derive("pgrouter scram mock salt", user, mock_key, key_len, salt) == 0)
        memcpy(out->salt, salt, SCRAM_DEFAULT_SALT_LEN);
    if (mock_derive("pgrouter scram mock stored key", user, mock_key, key_len,
                    out->stored_key) < 0 ||
        mock_derive("pgrouter scram mock server key", user, mock_key, key_len,
                    out->server_key) < 0) {
        OPENSSL_cleanse(out->stored_key, SCRAM_KEY_LEN);
        OPENSSL_cleanse(out->server_key, SCRAM_KEY_LEN);
    }
    OPENSSL_cleanse(salt, sizeof(salt));
}

void scram_init(struct scram_state *st, const struct scram_secret *secret)
{
    memset(st, 0, sizeof(*st));
    st->step = SCRAM_STEP_FIRST;
    st->secret = *secret;
}

void scram_close(struct scram_state *st)
{
    OPENSSL_cleanse(st, sizeof(*st));
    st->step = SCRAM_STEP_DONE;
}

static int cursor_comma(struct cursor *c)
{
    if (c->off >= c->n || c->p[c->off] != ',')
        return -EPROTO;
    c->off++;
    return 0;
}

/* The attribute letter at the cursor if "<letter>=" follows, else 0. */
static char cursor_attr_name(const struct cursor *c)
{
    uint8_t ch;

    if (c->n - c->off < 2 || c->p[c->off + 1] != '=')
        return 0;
    ch = c->p[c->off];
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'))
        return (char)ch;
    return 0;
}

/* Read "<name>=<value>"; the value runs to the next ',' or the end and may be empty. */
static int cursor_attr(struct cursor *c, char name, const uint8_t **val, size_t *vlen)
{
    size_t start;

    if (name == 0 || cursor_attr_name(c) != name)
        return -EPROTO;
    c->off += 2;
    start = c->off;
    while (c->off < c->n && c->p[c->off] != ',')
        c->off++;
    *val = c->p + start;
    *vlen = c->off - start;
    return 0;
}

/* RFC 5802 "printable": 0x21..0x7e except ','. */
static int nonce_valid(const uint8_t *p, size_t n)
{
    size_t i;

    if (n == 0)
        return 0;
    for (i = 0; i < n; i++) {
        if (p[i] < 0x21 || p[i] > 0x7e || p[i] == ',')
            return 0;
    }
    return 1;
}

/* Skip optional trailing ",x=value" extensions up to the end of the message. */
static int cursor_skip_extensions(struct cursor *c)
{
    const uint8_t *val;
    size_t vlen;

    while (c->off < c->n) {
        if (cursor_comma(c) < 0 || cursor_attr(c, cursor_attr_name(c), &val, &vlen) < 0)
            return -EPROTO;
    }
    return 0;
}

#define CB_TYPE "tls-server-end-point"
#define CB_HEADER "p=" CB_TYPE ",,"

/* Record why an exchange was refused, in PostgreSQL's words. */
static void scram_refuse(struct scram_state *st, const char *code, const char *detail,
                         const char *fmt, const char *arg)
{
    st->err_code = code;
    st->err_detail = detail;
    snprintf(st->err_msg, sizeof(st->err_msg), fmt, arg);
}

#define MALFORMED "malformed SCRAM message"
#define NEEDS_DATA "The client selected SCRAM-SHA-256-PLUS, but the SCRAM message does not " \
                   "include channel binding data."

/*
 * The gs2-cbind-flag at the cursor: "n", "y" or "p=tls-server-end-point", judged as
 * PostgreSQL does against the mechanism chosen and whether we are on TLS.
 */
static int parse_cbind_flag(struct scram_state *st, struct cursor *c, char *flag)
{
    const uint8_t *name;
    size_t name_len;
    char shown[32];

    *flag = (char)c->p[0];
    switch (*flag) {
    case 'n':
    case 'y':
        if (st->plus) {
            scram_refuse(st, "08P01", NEEDS_DATA, MALFORMED, NULL);
            return -EPROTO;
        }
        if (*flag == 'y' && st->cb_len > 0) {
            scram_refuse(st, "28000", "The client supports SCRAM channel binding but thinks "
                         "the server does not.  However, this server does support channel "
                         "binding.", "SCRAM channel binding negotiation error", NULL);
            return -EPERM;
        }
        c->off = 1;
        return 0;
    case 'p':
        if (!st->plus) {
            scram_refuse(st, "08P01", "The client selected SCRAM-SHA-256 without channel "
                         "binding, but the SCRAM message includes channel binding data.",
                         MALFORMED, NULL);
            return -EPROTO;
        }
        if (cursor_attr(c, 'p', &name, &name_len) < 0)
            return -EPROTO;
        if (name_len != strlen(CB_TYPE) || memcmp(name, CB_TYPE, name_len) != 0) {
            size_t i;

            /* Printable and short, as PostgreSQL shows it. */
            for (i = 0; i < name_len && i < sizeof(shown) - 1; i++)
                shown[i] = name[i] >= 0x20 && name[i] < 0x7f ? (char)name[i] : '?';
            shown[i] = '\0';
            scram_refuse(st, "08P01", NULL, "unsupported SCRAM channel-binding type \"%s\"",
                         shown);
            return -EPROTO;
        }
        return 0;
    default:
        return -EPROTO;
    }
}

/*
 * gs2-header ("n,,", "y,," or "p=tls-server-end-point,,") then client-first-message-bare
 * "n=<user>,r=<nonce>[,ext...]". Sets the gs2 flag, where the bare part starts and the
 * client nonce.
 */
static int parse_client_first(struct scram_state *st, const uint8_t *msg, size_t n,
                              char *flag, size_t *bare_off, const uint8_t **cnonce,
                              size_t *cnonce_len)
{
    struct cursor c = { msg, n, 0 };
    const uint8_t *user;
    size_t user_len;
    int rc;

    if (n == 0 || memchr(msg, '\0', n) != NULL)
        return -EPROTO;
    rc = parse_cbind_flag(st, &c, flag);
    if (rc < 0)
        return rc;
    /* The second comma right away means an empty authzid; "a=" is not supported. */
    if (cursor_comma(&c) < 0 || cursor_comma(&c) < 0)
        return -EPROTO;
    *bare_off = c.off;
    /* "m=" (a mandatory extension) fails here, as it must. */
    if (cursor_attr(&c, 'n', &user, &user_len) < 0 || cursor_comma(&c) < 0)
        return -EPROTO;
    if (cursor_attr(&c, 'r', cnonce, cnonce_len) < 0 || !nonce_valid(*cnonce, *cnonce_len))
        return -EPROTO;
    return cursor_skip_extensions(&c);
}

int scram_set_channel_binding(struct scram_state *st, const uint8_t *data, size_t len)
{
    if (data == NULL || len == 0 || len > SCRAM_MAX_CB_DATA)
        return -EINVAL;
    memcpy(st->cb_data, data, len);
    st->cb_len = len;
    return 0;
}

int scram_select(struct scram_state *st, const char *mech)
{
    if (strcmp(mech, SCRAM_MECH) == 0)
        return 0;
    if (strcmp(mech, SCRAM_MECH_PLUS) == 0 && st->cb_len > 0) {
        st->plus = 1;
        return 0;
    }
    scram_refuse(st, "08P01", NULL, "client selected an invalid SASL authentication "
                 "mechanism", NULL);
    st->step = SCRAM_STEP_DONE;
    return -EPROTO;
}

/* Append n bytes to buf[*len..cap), keeping one byte for a NUL; -ENOSPC if they do not fit. */
static int put(char *buf, size_t cap, size_t *len, const void *p, size_t n)
{
    if (cap - *len <= n)
        return -ENOSPC;
    memcpy(buf + *len, p, n);
    *len += n;
    buf[*len] = '\0';
    return 0;
}

int scram_client_first(struct scram_state *st, const uint8_t *msg, size_t n,
                       const char *server_nonce, char *out, size_t outcap, size_t *outlen)
{
    char salt[SCRAM_MAX_SALT / 3 * 4 + 8], iter[16];
    const uint8_t *cnonce;
    size_t cnonce_len, snonce_len, bare_off, len = 0, salt_b64_len;
    char flag;
    int rc;

    if (st->step != SCRAM_STEP_FIRST || server_nonce == NULL)
        return -EINVAL;
    snonce_len = strnlen(server_nonce, SCRAM_MAX_SERVER_NONCE + 1);
    if (snonce_len > SCRAM_MAX_SERVER_NONCE ||
        !nonce_valid((const uint8_t *)server_nonce, snonce_len))
        return -EINVAL;
    if (st->secret.salt_len == 0 || st->secret.salt_len > SCRAM_MAX_SALT ||
        st->secret.iterations < 1)
        return -EINVAL;

    rc = parse_client_first(st, msg, n, &flag, &bare_off, &cnonce, &cnonce_len);
    if (rc == 0 && n - bare_off > SCRAM_MAX_CLIENT_FIRST)
        rc = -EPROTO;
    if (rc < 0) {
        st->step = SCRAM_STEP_DONE;
        return rc;
    }

    /* Cannot fail: the salt fits by its bound and the nonces by the message bounds. */
    scram_b64_encode(st->secret.salt, st->secret.salt_len, salt, sizeof(salt),
                     &salt_b64_len);
    snprintf(iter, sizeof(iter), "%d", st->secret.iterations);
    if (put(st->server_first, sizeof(st->server_first), &len, "r=", 2) < 0 ||
        put(st->server_first, sizeof(st->server_first), &len, cnonce, cnonce_len) < 0 ||
        put(st->server_first, sizeof(st->server_first), &len, server_nonce, snonce_len) < 0 ||
        put(st->server_first, sizeof(st->server_first), &len, ",s=", 3) < 0 ||
        put(st->server_first, sizeof(st->server_first), &len, salt, salt_b64_len) < 0 ||
        put(st->server_first, sizeof(st->server_first), &len, ",i=", 3) < 0 ||
        put(st->server_first, sizeof(st->server_first), &len, iter, strlen(iter)) < 0) {
        st->step = SCRAM_STEP_DONE;
        return -EPROTO;
    }
    if (outcap <= len)
        return -ENOSPC;

    st->server_first_len = len;
    st->nonce_len = cnonce_len + snonce_len;
    st->cbind_flag = flag;
    memcpy(st->client_first_bare, msg + bare_off, n - bare_off);
    st->client_first_bare_len = n - bare_off;
    memcpy(out, st->server_first, len + 1);
    *outlen = len;
    st->step = SCRAM_STEP_FINAL;
    return 0;
}

/*
 * c= of client-final-message: the base64 of the gs2 header, followed by our certificate's
 * hash when the client bound to it. Compared as base64 text, as PostgreSQL does.
 */
static int check_cbind(struct scram_state *st, const char *val, size_t vlen)
{
    uint8_t raw[sizeof(CB_HEADER) + SCRAM_MAX_CB_DATA];
    char want[(sizeof(raw) + 2) / 3 * 4 + 1];
    size_t rawlen, wantlen;

    if (st->cbind_flag != 'p') {
        /* "n,," is "biws", "y,," is "eSws"; the flag must be the one sent first. */
        if (vlen == 4 && memcmp(val, st->cbind_flag == 'n' ? "biws" : "eSws", 4) == 0)
            return 0;
        scram_refuse(st, "08P01", NULL, "unexpected SCRAM channel-binding attribute in "
                     "client-final-message", NULL);
        return -EPROTO;
    }
    rawlen = strlen(CB_HEADER);
    memcpy(raw, CB_HEADER, rawlen);
    memcpy(raw + rawlen, st->cb_data, st->cb_len);
    rawlen += st->cb_len;
    scram_b64_encode(raw, rawlen, want, sizeof(want), &wantlen);
    if (vlen != wantlen || memcmp(val, want, vlen) != 0) {
        scram_refuse(st, "28000", NULL, "SCRAM channel binding check failed", NULL);
        return -EPERM;
    }
    return 0;
}

/*
 * client-final-message: "c=<b64 gs2 header>,r=<nonce>[,ext...],p=<b64 proof>".
 * Sets the length of client-final-message-without-proof and the decoded proof.
 */
static int parse_client_final(struct scram_state *st, const uint8_t *msg, size_t n,
                              size_t *without_proof, uint8_t proof[SCRAM_KEY_LEN])
{
    struct cursor c = { msg, n, 0 };
    const uint8_t *val;
    size_t vlen, comma;
    char name;
    int rc;

    if (n == 0 || memchr(msg, '\0', n) != NULL)
        return -EPROTO;
    if (cursor_attr(&c, 'c', &val, &vlen) < 0)
        return -EPROTO;
    rc = check_cbind(st, (const char *)val, vlen);
    if (rc < 0)
        return rc;
    if (cursor_comma(&c) < 0 || cursor_attr(&c, 'r', &val, &vlen) < 0)
        return -EPROTO;
    if (vlen != st->nonce_len || memcmp(val, st->server_first + 2, vlen) != 0)
        return -EPROTO;
    for (;;) {
        comma = c.off;
        if (cursor_comma(&c) < 0)
            return -EPROTO;
        name = cursor_attr_name(&c);
        if (cursor_attr(&c, name, &val, &vlen) < 0)
            return -EPROTO;
        if (name == 'p')
            break;
    }
    if (c.off != n)
        return -EPROTO;
    if (b64_exact((const char *)val, vlen, proof, SCRAM_KEY_LEN) < 0)
        return -EPROTO;
    *without_proof = comma;
    return 0;
}

int scram_client_key(const struct scram_state *st, uint8_t out[SCRAM_KEY_LEN])
{
    if (!st->have_client_key)
        return -ENOENT;
    memcpy(out, st->client_key, SCRAM_KEY_LEN);
    return 0;
}

int scram_client_final(struct scram_state *st, const uint8_t *msg, size_t n,
                       char *out, size_t outcap, size_t *outlen)
{
    uint8_t proof[SCRAM_KEY_LEN], sig[SCRAM_KEY_LEN], key[SCRAM_KEY_LEN];
    struct chunk auth[5];
    size_t without_proof = 0, i;
    int rc;

    if (st->step != SCRAM_STEP_FINAL)
        return -EINVAL;
    st->step = SCRAM_STEP_DONE;
    rc = parse_client_final(st, msg, n, &without_proof, proof);
    if (rc < 0)
        goto done;
    /* AuthMessage = client-first-bare "," server-first "," client-final-without-proof */
    auth[0] = (struct chunk){ st->client_first_bare, st->client_first_bare_len };
    auth[1] = (struct chunk){ ",", 1 };
    auth[2] = (struct chunk){ st->server_first, st->server_first_len };
    auth[3] = (struct chunk){ ",", 1 };
    auth[4] = (struct chunk){ msg, without_proof };

    /* ClientKey = proof XOR HMAC(StoredKey, AuthMessage); it must hash to StoredKey. */
    rc = hmac_sha256(st->secret.stored_key, SCRAM_KEY_LEN, auth, 5, sig);
    if (rc < 0)
        goto done;
    for (i = 0; i < SCRAM_KEY_LEN; i++)
        key[i] = proof[i] ^ sig[i];
    rc = sha256(key, SCRAM_KEY_LEN, sig);
    if (rc < 0)
        goto done;
    if (CRYPTO_memcmp(sig, st->secret.stored_key, SCRAM_KEY_LEN) != 0) {
        rc = -EACCES;
        goto done;
    }
    memcpy(st->client_key, key, SCRAM_KEY_LEN);
    st->have_client_key = 1;
    rc = hmac_sha256(st->secret.server_key, SCRAM_KEY_LEN, auth, 5, sig);
    if (rc < 0)
        goto done;
    rc = -ENOSPC;
    if (outcap < 3)
        goto done;
    out[0] = 'v';
    out[1] = '=';
    rc = scram_b64_encode(sig, SCRAM_KEY_LEN, out + 2, outcap - 2, outlen);
    if (rc < 0)
        goto done;
    *outlen += 2;
done:
    OPENSSL_cleanse(proof, sizeof(proof));
    OPENSSL_cleanse(sig, sizeof(sig));
    OPENSSL_cleanse(key, sizeof(key));
    return rc;
}
