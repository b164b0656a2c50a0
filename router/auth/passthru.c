/*
 * router/auth/passthru.c - pass-through credentials: taken from a client's verified login,
 * handed to its pools, wiped when freed.
 */
#include "router/auth/passthru.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <uv.h>

#include "protocol/md5auth.h"

struct passthru *passthru_from_auth(const struct auth *a)
{
    struct passthru *pt;

    if (a == NULL || !a->known)
        return NULL;
    if (a->method == AUTH_SCRAM && a->scram.have_client_key) {
        pt = calloc(1, sizeof(*pt));
        if (pt == NULL)
            return NULL;
        if (scram_secret_format(&a->scram.secret, pt->secret, sizeof(pt->secret)) < 0 ||
            scram_client_key(&a->scram, pt->client_key) < 0) {
            passthru_free(pt);
            return NULL;
        }
        pt->have_key = 1;
    } else if (a->method == AUTH_MD5 && md5auth_is_secret(a->secret)) {
        pt = calloc(1, sizeof(*pt));
        if (pt == NULL)
            return NULL;
        memcpy(pt->secret, a->secret, MD5AUTH_LEN);   /* is_secret: exactly that long */
        pt->secret[MD5AUTH_LEN] = '\0';
    } else {
        return NULL;
    }
    pt->stamp = uv_hrtime();
    return pt;
}

int passthru_learn(struct passthru **slot, const struct passthru *from)
{
    struct passthru *cur = *slot;

    if (from == NULL)
        return 0;
    if (cur != NULL && (from->stamp <= cur->stamp ||
                        (strcmp(cur->secret, from->secret) == 0 &&
                         (cur->have_key || !from->have_key))))
        return 0;
    if (cur == NULL) {
        cur = malloc(sizeof(*cur));
        if (cur == NULL)
            return -ENOMEM;
        *slot = cur;
    }
    *cur = *from;
    cur->refused = 0;
    cur->why[0] = '\0';
    return 0;
}

int passthru_is_md5(const struct passthru *pt)
{
    return md5auth_is_secret(pt->secret);
}

void passthru_free(struct passthru *pt)
{
    if (pt == NULL)
        return;
    OPENSSL_cleanse(pt, sizeof(*pt));
    free(pt);
}
