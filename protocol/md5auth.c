/*
 * protocol/md5auth.c - PostgreSQL md5 password authentication: md5 secrets and the
 * salted response check. MD5 comes from OpenSSL's EVP interface.
 */
#include "protocol/md5auth.h"

#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#define MD5_LEN 16

/* "md5" + hex of md5(a || b) into out[MD5AUTH_LEN + 1]. Returns 0 or -EIO. */
static int md5_hex(const void *a, size_t alen, const void *b, size_t blen,
                   char out[MD5AUTH_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    uint8_t digest[MD5_LEN];
    unsigned int len = 0, i;
    int rc = -EIO;

    if (ctx == NULL)
        goto done;
    if (EVP_DigestInit_ex(ctx, EVP_md5(), NULL) != 1 || EVP_DigestUpdate(ctx, a, alen) != 1 ||
        EVP_DigestUpdate(ctx, b, blen) != 1 || EVP_DigestFinal_ex(ctx, digest, &len) != 1 ||
        len != MD5_LEN)
        goto done;
    memcpy(out, "md5", 3);
    for (i = 0; i < MD5_LEN; i++) {
        out[3 + 2 * i] = hex[digest[i] >> 4];
        out[3 + 2 * i + 1] = hex[digest[i] & 15];
    }
    out[MD5AUTH_LEN] = '\0';
    rc = 0;
done:
    EVP_MD_CTX_free(ctx);
    OPENSSL_cleanse(digest, sizeof(digest));
    return rc;
}

/* "md5" followed by exactly 32 lowercase hex digits in p[0..n). */
static int is_md5_text(const char *p, size_t n)
{
    size_t i;

    if (n != MD5AUTH_LEN || memcmp(p, "md5", 3) != 0)
        return 0;
    for (i = 3; i < n; i++) {
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
            return 0;
    }
    return 1;
}

int md5auth_is_secret(const char *stored)
{
    if (stored == NULL)
        return 0;
    return is_md5_text(stored, strnlen(stored, MD5AUTH_LEN + 1));
}

void md5auth_hash(const char *user, const char *password, char out[MD5AUTH_LEN + 1])
{
    if (md5_hex(password, strlen(password), user, strlen(user), out) < 0)
        out[0] = '\0';
}

int md5auth_check(const char *user, const char *stored, const uint8_t salt[4],
                  const char *response, size_t response_len)
{
    char secret[MD5AUTH_LEN + 1], expect[MD5AUTH_LEN + 1];
    int rc;

    if (user == NULL || stored == NULL || salt == NULL || response == NULL)
        return -EINVAL;
    if (response_len == MD5AUTH_LEN + 1 && response[MD5AUTH_LEN] == '\0')
        response_len--;
    if (!is_md5_text(response, response_len))
        return -EINVAL;
    if (strncmp(stored, "SCRAM-SHA-256$", 14) == 0)
        return -EACCES;
    if (md5auth_is_secret(stored)) {
        memcpy(secret, stored, MD5AUTH_LEN + 1);
    } else {
        rc = md5_hex(stored, strlen(stored), user, strlen(user), secret);
        if (rc < 0)
            goto done;
    }
    /* The client hashes the 32 hex digits of the secret, without its "md5" prefix. */
    rc = md5_hex(secret + 3, MD5AUTH_LEN - 3, salt, 4, expect);
    if (rc < 0)
        goto done;
    rc = CRYPTO_memcmp(expect, response, MD5AUTH_LEN) == 0 ? 0 : -EACCES;
done:
    OPENSSL_cleanse(secret, sizeof(secret));
    OPENSSL_cleanse(expect, sizeof(expect));
    return rc;
}
