/*
 * protocol/scramcli.c - client side of SCRAM-SHA-256 and md5 for pgrouter's own server
 * logins: client-first with the caller's nonce, server-first parsed within bounds,
 * client-final from a ClientKey, server-final checked against the ServerKey; the md5
 * answer from an md5 secret. No I/O, no randomness.
 */
#include "protocol/scramcli.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "protocol/md5auth.h"
#include "protocol/saslprep.h"

/* RFC 5802 "printable": 0x21..0x7e except ','. */
static int scramcli_printable(const uint8_t *p, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x21 || p[i] > 0x7e || p[i] == ',')
            return 0;
    return 1;
}

int scramcli_first(struct scramcli *c, const char *nonce, char gs2_flag, char *out,
                   size_t outcap, size_t *outlen)
{
    size_t nlen;
    int len;

    memset(c, 0, sizeof(*c));
    c->step = SCRAMCLI_STEP_DONE;
    if (nonce == NULL || (gs2_flag != 'n' && gs2_flag != 'y'))
        return -EINVAL;
    nlen = strnlen(nonce, SCRAMCLI_MAX_NONCE + 1);
    if (nlen > SCRAMCLI_MAX_NONCE || !scramcli_printable((const uint8_t *)nonce, nlen))
        return -EINVAL;
    len = snprintf(c->first_bare, sizeof(c->first_bare), "n=,r=%s", nonce);
    if (len < 0 || (size_t)len >= sizeof(c->first_bare))
        return -EINVAL;
    c->first_bare_len = (size_t)len;
    c->cnonce_len = nlen;
    c->gs2_flag = gs2_flag;
    len = snprintf(out, outcap, "%c,,%s", gs2_flag, c->first_bare);
    if (len < 0 || (size_t)len >= outcap)
        return -ENOSPC;
    *outlen = (size_t)len;
    c->step = SCRAMCLI_STEP_SERVER_FIRST;
    return 0;
}

/* The value of "<name>=" at msg[*off..n), up to the next ',' or the end; *off moves past
 * the value (onto the ',' if any). -EPROTO if the attribute is not there. */
static int scramcli_attr(const uint8_t *msg, size_t n, size_t *off, char name,
                         const uint8_t **val, size_t *vlen)
{
    size_t o = *off;

    if (n - o < 2 || msg[o] != (uint8_t)name || msg[o + 1] != '=')
        return -EPROTO;
    o += 2;
    *val = msg + o;
    while (o < n && msg[o] != ',')
        o++;
    *vlen = (size_t)(msg + o - *val);
    *off = o;
    return 0;
}

static int scramcli_comma(const uint8_t *msg, size_t n, size_t *off)
{
    if (*off >= n || msg[*off] != ',')
        return -EPROTO;
    (*off)++;
    return 0;
}

static int scramcli_parse_first(struct scramcli *c, const uint8_t *msg, size_t n)
{
    const uint8_t *val;
    size_t vlen, off = 0;
    long long iter = 0;

    if (n == 0 || n > SCRAMCLI_MAX_SERVER_FIRST || memchr(msg, '\0', n) != NULL)
        return -EPROTO;
    /* r=<client nonce + server part>: the server part must not be empty. */
    if (scramcli_attr(msg, n, &off, 'r', &val, &vlen) < 0 || !scramcli_printable(val, vlen))
        return -EPROTO;
    if (vlen <= c->cnonce_len ||
        memcmp(val, c->first_bare + c->first_bare_len - c->cnonce_len, c->cnonce_len) != 0)
        return -EPROTO;
    c->nonce_len = vlen;
    if (scramcli_comma(msg, n, &off) < 0 || scramcli_attr(msg, n, &off, 's', &val, &vlen) < 0)
        return -EPROTO;
    if (scram_b64_decode((const char *)val, vlen, c->salt, sizeof(c->salt), &c->salt_len) < 0
        || c->salt_len == 0)
        return -EPROTO;
    if (scramcli_comma(msg, n, &off) < 0 || scramcli_attr(msg, n, &off, 'i', &val, &vlen) < 0)
        return -EPROTO;
    if (vlen == 0 || vlen > 10 || val[0] == '0')
        return -EPROTO;
    for (size_t i = 0; i < vlen; i++) {
        if (val[i] < '0' || val[i] > '9')
            return -EPROTO;
        iter = iter * 10 + (val[i] - '0');
    }
    if (iter > INT_MAX)
        return -EPROTO;
    c->iterations = (int)iter;
    /* Extensions may follow; each must be "<letter>=...". */
    while (off < n) {
        if (scramcli_comma(msg, n, &off) < 0 || n - off < 2 || msg[off + 1] != '=' ||
            !((msg[off] >= 'a' && msg[off] <= 'z') || (msg[off] >= 'A' && msg[off] <= 'Z')))
            return -EPROTO;
        off += 2;
        while (off < n && msg[off] != ',')
            off++;
    }
    memcpy(c->server_first, msg, n);
    c->server_first[n] = '\0';
    c->server_first_len = n;
    return 0;
}

int scramcli_server_first(struct scramcli *c, const uint8_t *msg, size_t n)
{
    int rc;

    if (c->step != SCRAMCLI_STEP_SERVER_FIRST)
        return -EINVAL;
    rc = scramcli_parse_first(c, msg, n);
    if (rc < 0) {
        c->step = SCRAMCLI_STEP_DONE;
        return rc;
    }
    c->step = SCRAMCLI_STEP_SERVER_FINAL;
    return 0;
}

const uint8_t *scramcli_salt(const struct scramcli *c, size_t *len, int *iterations)
{
    *len = c->salt_len;
    *iterations = c->iterations;
    return c->salt;
}

int scramcli_matches(const struct scramcli *c, const struct scram_secret *secret)
{
    return c->salt_len > 0 && c->salt_len == secret->salt_len &&
           c->iterations == secret->iterations &&
           memcmp(c->salt, secret->salt, c->salt_len) == 0;
}

/* HMAC-SHA-256(key, a "," b "," c). 0 or -EIO. */
static int scramcli_hmac_auth(const uint8_t *key, const struct scramcli *c,
                              const char *final_bare, size_t final_len,
                              uint8_t out[SCRAM_KEY_LEN])
{
    char msg[SCRAMCLI_FIRST_CAP + SCRAMCLI_MAX_SERVER_FIRST + SCRAMCLI_FINAL_CAP + 4];
    unsigned int len = 0;
    size_t n = 0;

    if (c->first_bare_len + c->server_first_len + final_len + 2 > sizeof(msg))
        return -EIO;
    memcpy(msg, c->first_bare, c->first_bare_len);
    n = c->first_bare_len;
    msg[n++] = ',';
    memcpy(msg + n, c->server_first, c->server_first_len);
    n += c->server_first_len;
    msg[n++] = ',';
    memcpy(msg + n, final_bare, final_len);
    n += final_len;
    if (HMAC(EVP_sha256(), key, SCRAM_KEY_LEN, (const uint8_t *)msg, n, out, &len) == NULL ||
        len != SCRAM_KEY_LEN) {
        OPENSSL_cleanse(msg, sizeof(msg));
        return -EIO;
    }
    OPENSSL_cleanse(msg, sizeof(msg));
    return 0;
}

int scramcli_final(struct scramcli *c, const uint8_t client_key[SCRAM_KEY_LEN],
                   const uint8_t server_key[SCRAM_KEY_LEN], char *out, size_t outcap,
                   size_t *outlen)
{
    uint8_t stored[SCRAM_KEY_LEN], sig[SCRAM_KEY_LEN], proof[SCRAM_KEY_LEN];
    char proof_b64[SCRAM_KEY_LEN / 3 * 4 + 8];
    unsigned int dlen = 0;
    int len, rc = -EIO;

    if (c->step != SCRAMCLI_STEP_SERVER_FINAL)
        return -EINVAL;
    /* Without channel binding, c= is the base64 of the gs2 header: "biws" or "eSws". */
    len = snprintf(out, outcap, "c=%s,r=%.*s", c->gs2_flag == 'y' ? "eSws" : "biws",
                   (int)c->nonce_len, c->server_first + 2);
    if (len < 0 || (size_t)len >= outcap)
        return -ENOSPC;
    if (EVP_Digest(client_key, SCRAM_KEY_LEN, stored, &dlen, EVP_sha256(), NULL) != 1 ||
        dlen != SCRAM_KEY_LEN)
        goto done;
    if (scramcli_hmac_auth(stored, c, out, (size_t)len, sig) < 0)
        goto done;
    for (size_t i = 0; i < SCRAM_KEY_LEN; i++)
        proof[i] = client_key[i] ^ sig[i];
    if (scramcli_hmac_auth(server_key, c, out, (size_t)len, c->server_sig) < 0)
        goto done;
    rc = -ENOSPC;
    if (scram_b64_encode(proof, SCRAM_KEY_LEN, proof_b64, sizeof(proof_b64), NULL) < 0)
        goto done;
    if ((size_t)len + 3 + strlen(proof_b64) >= outcap)
        goto done;
    len += snprintf(out + len, outcap - (size_t)len, ",p=%s", proof_b64);
    *outlen = (size_t)len;
    rc = 0;
done:
    OPENSSL_cleanse(stored, sizeof(stored));
    OPENSSL_cleanse(sig, sizeof(sig));
    OPENSSL_cleanse(proof, sizeof(proof));
    OPENSSL_cleanse(proof_b64, sizeof(proof_b64));
    return rc;
}

int scramcli_server_final(struct scramcli *c, const uint8_t *msg, size_t n)
{
    uint8_t sig[SCRAM_KEY_LEN];
    size_t len = 0;
    int rc = -EPROTO;

    if (c->step != SCRAMCLI_STEP_SERVER_FINAL)
        return -EINVAL;
    c->step = SCRAMCLI_STEP_DONE;
    if (n >= 2 && msg[0] == 'e' && msg[1] == '=')
        return -EACCES;
    if (n < 2 || msg[0] != 'v' || msg[1] != '=')
        return -EPROTO;
    /* Extensions after the signature are allowed by RFC 5802. */
    for (len = 2; len < n && msg[len] != ','; len++)
        ;
    if (scram_b64_decode((const char *)msg + 2, len - 2, sig, sizeof(sig), &len) < 0 ||
        len != SCRAM_KEY_LEN)
        goto done;
    rc = CRYPTO_memcmp(sig, c->server_sig, SCRAM_KEY_LEN) == 0 ? 0 : -EACCES;
done:
    OPENSSL_cleanse(sig, sizeof(sig));
    OPENSSL_cleanse(c->server_sig, sizeof(c->server_sig));
    return rc;
}

void scramcli_close(struct scramcli *c)
{
    OPENSSL_cleanse(c, sizeof(*c));
    c->step = SCRAMCLI_STEP_DONE;
}

int scramcli_keys_from_password(const char *password, const uint8_t *salt, size_t salt_len,
                                int iterations, uint8_t client_key[SCRAM_KEY_LEN],
                                uint8_t server_key[SCRAM_KEY_LEN])
{
    uint8_t salted[SCRAM_KEY_LEN];
    unsigned int len = 0;
    char *prep = NULL;
    size_t plen, cap = 0;
    int rc;

    if (password == NULL || salt == NULL || salt_len == 0 || salt_len > SCRAM_MAX_SALT ||
        iterations < 1)
        return -EINVAL;
    plen = strlen(password);
    if (plen > INT_MAX / 11 - 1)
        return -EINVAL;
    /* SASLprep as the server did when it stored the secret (raw bytes when it refuses). */
    cap = SASLPREP_CAP(plen);
    prep = malloc(cap);
    if (prep == NULL)
        return -ENOMEM;
    rc = saslprep(password, prep, cap);
    if (rc < 0)
        goto done;
    plen = strlen(prep);
    rc = -EIO;
    if (PKCS5_PBKDF2_HMAC(prep, (int)plen, salt, (int)salt_len, iterations, EVP_sha256(),
                          SCRAM_KEY_LEN, salted) != 1)
        goto done;
    if (HMAC(EVP_sha256(), salted, SCRAM_KEY_LEN, (const uint8_t *)"Client Key", 10,
             client_key, &len) == NULL || len != SCRAM_KEY_LEN)
        goto done;
    if (HMAC(EVP_sha256(), salted, SCRAM_KEY_LEN, (const uint8_t *)"Server Key", 10,
             server_key, &len) == NULL || len != SCRAM_KEY_LEN)
        goto done;
    rc = 0;
done:
    OPENSSL_cleanse(salted, sizeof(salted));
    OPENSSL_cleanse(prep, cap);
    free(prep);
    return rc;
}

int scramcli_md5_answer(const char *md5_secret, const uint8_t salt[4],
                        char out[SCRAMCLI_MD5_LEN])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t in[32 + 4], digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;

    out[0] = '\0';
    if (md5_secret == NULL || !md5auth_is_secret(md5_secret))
        return -EINVAL;
    memcpy(in, md5_secret + 3, 32);
    memcpy(in + 32, salt, 4);
    if (EVP_Digest(in, sizeof(in), digest, &len, EVP_md5(), NULL) != 1 || len != 16) {
        OPENSSL_cleanse(in, sizeof(in));
        return -EIO;
    }
    memcpy(out, "md5", 3);
    for (unsigned i = 0; i < 16; i++) {
        out[3 + 2 * i] = hex[digest[i] >> 4];
        out[4 + 2 * i] = hex[digest[i] & 15];
    }
    out[35] = '\0';
    OPENSSL_cleanse(in, sizeof(in));
    OPENSSL_cleanse(digest, sizeof(digest));
    return 0;
}
