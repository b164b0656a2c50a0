/*
 * router/sql/funcset.c - a set of lowercase function names for the classifier: linear probing
 * in a power-of-two table kept at most half full, names stored once in a string pool.
 */
#include "router/sql/funcset.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* FNV-1a: short names, no adversary (the names come from config and the catalog). */
static uint32_t funcset_hash(const char *p, size_t n)
{
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 16777619u;
    }
    return h;
}

/* Slot holding name, or the empty slot where it would go. cap must be a power of two. */
static struct funcset_slot *funcset_find(const struct funcset_slot *slots, size_t cap,
                                         const char *pool, const char *name, size_t len,
                                         uint32_t h)
{
    size_t mask = cap - 1;

    for (size_t i = h & mask;; i = (i + 1) & mask) {
        const struct funcset_slot *s = &slots[i];

        if (s->len == 0)
            return (struct funcset_slot *)s;
        if (s->hash == h && s->len == len && memcmp(pool + s->off, name, len) == 0)
            return (struct funcset_slot *)s;
    }
}

/* Move every name to a table of new_cap slots. */
static int funcset_grow(struct funcset *fs, size_t new_cap)
{
    struct funcset_slot *slots = calloc(new_cap, sizeof(*slots));

    if (slots == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < fs->cap; i++) {
        const struct funcset_slot *s = &fs->slots[i];

        if (s->len > 0)
            *funcset_find(slots, new_cap, fs->pool, fs->pool + s->off, s->len, s->hash) = *s;
    }
    free(fs->slots);
    fs->slots = slots;
    fs->cap = new_cap;
    return 0;
}

void funcset_init(struct funcset *fs)
{
    memset(fs, 0, sizeof(*fs));
}

int funcset_add(struct funcset *fs, const char *name, size_t len)
{
    char low[FUNCSET_NAME_MAX];
    struct funcset_slot *s;
    uint32_t h;

    if (len == 0 || len > FUNCSET_NAME_MAX)
        return -EINVAL;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];

        low[i] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
    }
    if (funcset_has(fs, low, len))
        return 0;
    /* Keep the table at most half full so probes stay short and always end. */
    if ((fs->n + 1) * 2 > fs->cap) {
        int rc = funcset_grow(fs, fs->cap == 0 ? 16 : fs->cap * 2);

        if (rc < 0)
            return rc;
    }
    if (fs->pool_len + len > fs->pool_cap) {
        size_t cap = fs->pool_cap == 0 ? 256 : fs->pool_cap * 2;
        char *pool;

        while (cap < fs->pool_len + len)
            cap *= 2;
        if (cap > UINT32_MAX)
            return -ENOMEM;
        pool = realloc(fs->pool, cap);
        if (pool == NULL)
            return -ENOMEM;
        fs->pool = pool;
        fs->pool_cap = cap;
    }
    memcpy(fs->pool + fs->pool_len, low, len);
    h = funcset_hash(low, len);
    s = funcset_find(fs->slots, fs->cap, fs->pool, low, len, h);
    s->hash = h;
    s->off = (uint32_t)fs->pool_len;
    s->len = (uint32_t)len;
    fs->pool_len += len;
    fs->n++;
    return 0;
}

int funcset_has(const struct funcset *fs, const char *name, size_t len)
{
    if (fs == NULL || fs->n == 0 || len == 0 || len > FUNCSET_NAME_MAX)
        return 0;
    return funcset_find(fs->slots, fs->cap, fs->pool, name, len,
                        funcset_hash(name, len))->len != 0;
}

size_t funcset_count(const struct funcset *fs)
{
    return fs == NULL ? 0 : fs->n;
}

void funcset_close(struct funcset *fs)
{
    free(fs->slots);
    free(fs->pool);
    funcset_init(fs);
}
