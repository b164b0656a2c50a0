/*
 * router/cluster/shard.c - the shard map (tenant -> cluster) and PostgreSQL's hashtext().
 *
 * The hash is lookup3 by Bob Jenkins (public domain), in the variant PostgreSQL uses in
 * hash_bytes(): the initial state is 0x9e3779b9 + len + 3923095, the key is read in
 * 12-byte blocks as three little-endian words, and the last 1-11 bytes fill a from its
 * low byte, then b, then c from its second byte (c's low byte stays free), before the
 * final mix. The result equals SELECT hashtext(key) on little-endian servers.
 */
#include "router/cluster/shard.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint32_t shard_rot(uint32_t x, int k)
{
    return (x << k) | (x >> (32 - k));
}

static void shard_mix(uint32_t *a, uint32_t *b, uint32_t *c)
{
    *a -= *c;  *a ^= shard_rot(*c, 4);  *c += *b;
    *b -= *a;  *b ^= shard_rot(*a, 6);  *a += *c;
    *c -= *b;  *c ^= shard_rot(*b, 8);  *b += *a;
    *a -= *c;  *a ^= shard_rot(*c, 16); *c += *b;
    *b -= *a;  *b ^= shard_rot(*a, 19); *a += *c;
    *c -= *b;  *c ^= shard_rot(*b, 4);  *b += *a;
}

static void shard_final(uint32_t *a, uint32_t *b, uint32_t *c)
{
    *c ^= *b; *c -= shard_rot(*b, 14);
    *a ^= *c; *a -= shard_rot(*c, 11);
    *b ^= *a; *b -= shard_rot(*a, 25);
    *c ^= *b; *c -= shard_rot(*b, 16);
    *a ^= *c; *a -= shard_rot(*c, 4);
    *b ^= *a; *b -= shard_rot(*a, 14);
    *c ^= *b; *c -= shard_rot(*b, 24);
}

/* Bytes k[0..n), n <= 4, as a little-endian word shifted left by shift bits. */
static uint32_t shard_word(const unsigned char *k, size_t n, int shift)
{
    uint32_t w = 0;

    for (size_t i = 0; i < n; i++)
        w |= (uint32_t)k[i] << (8 * i);
    return w << shift;
}

uint32_t shard_hashtext(const char *key, size_t len)
{
    const unsigned char *k = (const unsigned char *)key;
    uint32_t a, b, c;
    size_t n = len;

    /* PostgreSQL takes the length as an int; tenant keys never come near 2 GB */
    a = b = c = 0x9e3779b9u + (uint32_t)len + 3923095u;
    while (n >= 12) {
        a += shard_word(k, 4, 0);
        b += shard_word(k + 4, 4, 0);
        c += shard_word(k + 8, 4, 0);
        shard_mix(&a, &b, &c);
        k += 12;
        n -= 12;
    }
    /* the tail: a takes bytes 0-3, b bytes 4-7, c bytes 8-10 above its low byte */
    if (n > 8)
        c += shard_word(k + 8, n - 8, 8);
    if (n > 4)
        b += shard_word(k + 4, n > 8 ? 4 : n - 4, 0);
    if (n > 0)
        a += shard_word(k, n > 4 ? 4 : n, 0);
    shard_final(&a, &b, &c);
    return c;
}

int shard_bucket(const char *key, size_t len, unsigned n_buckets)
{
    int64_t h = (int32_t)shard_hashtext(key, len);
    int64_t n = n_buckets;

    if (n_buckets == 0)
        return -EINVAL;
    return (int)(((h % n) + n) % n);
}

/* Order of [tenants] names: bytes, then length (a prefix sorts first). */
static int shard_cmp_name(const char *a, size_t alen, const char *b, size_t blen)
{
    int r = memcmp(a, b, alen < blen ? alen : blen);

    if (r != 0)
        return r;
    return (alen > blen) - (alen < blen);
}

static int shard_cmp_tenant(const void *x, const void *y)
{
    const struct cfg_tenant *a = *(const struct cfg_tenant *const *)x;
    const struct cfg_tenant *b = *(const struct cfg_tenant *const *)y;

    return shard_cmp_name(a->name, strlen(a->name), b->name, strlen(b->name));
}

int shard_map_build(const struct cfg *cfg, struct shard_map *out)
{
    const struct cfg_sharding *sh = &cfg->sharding;

    memset(out, 0, sizeof(*out));
    if (sh->n_buckets > 0) {
        out->owner = calloc(sh->n_buckets, sizeof(*out->owner));
        if (out->owner == NULL)
            goto oom;
        out->n_buckets = sh->n_buckets;
        for (size_t i = 0; i < cfg->n_clusters; i++) {
            const struct cfg_cluster *cl = &cfg->clusters[i];

            for (size_t r = 0; r < cl->n_bucket_ranges; r++) {
                /* cfg_load checked that ranges fit and never overlap */
                for (unsigned b = cl->bucket_ranges[2 * r];
                     b <= cl->bucket_ranges[2 * r + 1] && b < sh->n_buckets; b++)
                    out->owner[b] = cl;
            }
        }
    }
    if (cfg->n_tenants > 0) {
        out->tenants = malloc(cfg->n_tenants * sizeof(*out->tenants));
        if (out->tenants == NULL)
            goto oom;
        for (size_t i = 0; i < cfg->n_tenants; i++)
            out->tenants[i] = &cfg->tenants[i];
        out->n_tenants = cfg->n_tenants;
        qsort(out->tenants, out->n_tenants, sizeof(*out->tenants), shard_cmp_tenant);
    }
    return 0;
oom:
    shard_map_free(out);
    return -ENOMEM;
}

void shard_map_free(struct shard_map *m)
{
    free(m->owner);
    free(m->tenants);
    memset(m, 0, sizeof(*m));
}

const struct cfg_tenant *shard_explicit(const struct shard_map *m, const char *tenant,
                                        size_t len)
{
    size_t lo = 0, hi = m->n_tenants;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct cfg_tenant *t = m->tenants[mid];
        int r = shard_cmp_name(tenant, len, t->name, strlen(t->name));

        if (r == 0)
            return t;
        if (r < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

const struct cfg_cluster *shard_cluster_for(const struct shard_map *m, const char *tenant,
                                            size_t len)
{
    const struct cfg_tenant *t = shard_explicit(m, tenant, len);
    int b;

    if (t != NULL)
        return t->cluster;
    b = shard_bucket(tenant, len, m->n_buckets);
    return b < 0 ? NULL : m->owner[b];
}
