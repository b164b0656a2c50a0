/*
 * router/session/stmt.c - the client's prepared-statement table (chained hash by name), the
 * per-server statement set (open addressing, LRU by a use clock).
 */
#include "router/session/stmt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t stmt_fnv(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;

    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

static uint32_t stmt_hash(const char *s)
{
    return (uint32_t)stmt_fnv(14695981039346656037ull, s, strlen(s));
}

uint64_t stmt_id(const uint8_t *body, size_t len)
{
    uint64_t h = stmt_fnv(14695981039346656037ull, body, len);

    return h != 0 ? h : 1;  /* 0 marks an empty slot */
}

void stmt_server_name(uint64_t id, char out[STMT_SERVER_NAME_LEN])
{
    snprintf(out, STMT_SERVER_NAME_LEN, "pgr_%016llx", (unsigned long long)id);
}

void stmt_table_init(struct stmt_table *t)
{
    memset(t, 0, sizeof(*t));
}

static void stmt_free(struct stmt *e)
{
    free(e->name);
    free(e->body);
    free(e);
}

void stmt_clear(struct stmt_table *t)
{
    for (size_t i = 0; i < t->n_buckets; i++) {
        struct stmt *e = t->buckets[i], *next;

        for (; e != NULL; e = next) {
            next = e->next;
            stmt_free(e);
        }
        t->buckets[i] = NULL;
    }
    t->n = 0;
}

void stmt_table_free(struct stmt_table *t)
{
    stmt_clear(t);
    free(t->buckets);
    memset(t, 0, sizeof(*t));
}

static int stmt_grow(struct stmt_table *t)
{
    size_t nb = t->n_buckets ? t->n_buckets * 2 : 16;
    struct stmt **b = calloc(nb, sizeof(*b));

    if (b == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < t->n_buckets; i++) {
        struct stmt *e = t->buckets[i], *next;

        for (; e != NULL; e = next) {
            size_t k = stmt_hash(e->name) & (nb - 1);

            next = e->next;
            e->next = b[k];
            b[k] = e;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->n_buckets = nb;
    return 0;
}

struct stmt *stmt_get(const struct stmt_table *t, const char *name)
{
    if (t->n_buckets == 0)
        return NULL;
    for (struct stmt *e = t->buckets[stmt_hash(name) & (t->n_buckets - 1)]; e; e = e->next)
        if (strcmp(e->name, name) == 0)
            return e;
    return NULL;
}

struct stmt *stmt_put(struct stmt_table *t, const char *name, const uint8_t *body,
                      size_t body_len, int write, unsigned flags)
{
    struct stmt *e = stmt_get(t, name);
    uint8_t *copy = malloc(body_len > 0 ? body_len : 1);

    if (copy == NULL)
        return NULL;
    memcpy(copy, body, body_len);
    if (e == NULL) {
        if (t->n + 1 > t->n_buckets && stmt_grow(t) < 0) {
            free(copy);
            return NULL;
        }
        e = calloc(1, sizeof(*e));
        if (e == NULL || (e->name = strdup(name)) == NULL) {
            free(e);
            free(copy);
            return NULL;
        }
        size_t k = stmt_hash(name) & (t->n_buckets - 1);
        e->next = t->buckets[k];
        t->buckets[k] = e;
        t->n++;
    } else {
        free(e->body);
    }
    e->body = copy;
    e->body_len = body_len;
    e->id = stmt_id(body, body_len);
    e->write = write;
    e->flags = flags;
    return e;
}

struct stmt *stmt_take(struct stmt_table *t, const char *name)
{
    struct stmt **pp;

    if (t->n_buckets == 0)
        return NULL;
    for (pp = &t->buckets[stmt_hash(name) & (t->n_buckets - 1)]; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->name, name) == 0) {
            struct stmt *e = *pp;

            *pp = e->next;
            e->next = NULL;
            t->n--;
            return e;
        }
    }
    return NULL;
}

void stmt_remove(struct stmt_table *t, const char *name)
{
    struct stmt *e = stmt_take(t, name);

    if (e != NULL)
        stmt_free(e);
}

void stmt_entry_free(struct stmt *e)
{
    if (e != NULL)
        stmt_free(e);
}

void stmt_restore(struct stmt_table *t, struct stmt *e)
{
    size_t k;

    if (stmt_get(t, e->name) != NULL || (t->n + 1 > t->n_buckets && stmt_grow(t) < 0)) {
        stmt_free(e);
        return;
    }
    k = stmt_hash(e->name) & (t->n_buckets - 1);
    e->next = t->buckets[k];
    t->buckets[k] = e;
    t->n++;
}

void srvstmt_init(struct srvstmt *s)
{
    memset(s, 0, sizeof(*s));
}

void srvstmt_free(struct srvstmt *s)
{
    free(s->slots);
    memset(s, 0, sizeof(*s));
}

void srvstmt_clear(struct srvstmt *s)
{
    if (s->slots != NULL)
        memset(s->slots, 0, s->cap * sizeof(*s->slots));
    s->n = 0;
}

static struct srvstmt_slot *srvstmt_find(const struct srvstmt *s, uint64_t id)
{
    if (s->cap == 0)
        return NULL;
    for (size_t i = (size_t)id & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
        if (s->slots[i].id == id)
            return &s->slots[i];
        if (s->slots[i].id == 0)
            return NULL;
    }
}

static void srvstmt_insert(struct srvstmt *s, uint64_t id, uint64_t used)
{
    size_t i = (size_t)id & (s->cap - 1);

    while (s->slots[i].id != 0)
        i = (i + 1) & (s->cap - 1);
    s->slots[i].id = id;
    s->slots[i].used = used;
    s->n++;
}

int srvstmt_has(struct srvstmt *s, uint64_t id)
{
    struct srvstmt_slot *e = srvstmt_find(s, id);

    if (e == NULL)
        return 0;
    e->used = ++s->clock;
    return 1;
}

int srvstmt_add(struct srvstmt *s, uint64_t id)
{
    if (srvstmt_has(s, id))
        return 0;
    if ((s->n + 1) * 2 > s->cap) {
        struct srvstmt old = *s;
        size_t cap = s->cap ? s->cap * 2 : 16;

        s->slots = calloc(cap, sizeof(*s->slots));
        if (s->slots == NULL) {
            *s = old;
            return -ENOMEM;
        }
        s->cap = cap;
        s->n = 0;
        for (size_t i = 0; i < old.cap; i++)
            if (old.slots[i].id != 0)
                srvstmt_insert(s, old.slots[i].id, old.slots[i].used);
        free(old.slots);
    }
    srvstmt_insert(s, id, ++s->clock);
    return 0;
}

/* Rebuild the table without id: open addressing has no cheap delete. */
static void srvstmt_drop(struct srvstmt *s, uint64_t id)
{
    struct srvstmt old = *s;

    s->slots = calloc(old.cap, sizeof(*s->slots));
    if (s->slots == NULL) {
        /* Keep the old table but forget everything: the server is asked again. */
        s->slots = old.slots;
        srvstmt_clear(s);
        return;
    }
    s->n = 0;
    for (size_t i = 0; i < old.cap; i++)
        if (old.slots[i].id != 0 && old.slots[i].id != id)
            srvstmt_insert(s, old.slots[i].id, old.slots[i].used);
    free(old.slots);
}

void srvstmt_remove(struct srvstmt *s, uint64_t id)
{
    if (srvstmt_find(s, id) != NULL)
        srvstmt_drop(s, id);
}

uint64_t srvstmt_evict(struct srvstmt *s, const uint64_t *keep, size_t n_keep)
{
    struct srvstmt_slot *victim = NULL;
    uint64_t id;

    for (size_t i = 0; i < s->cap; i++) {
        struct srvstmt_slot *e = &s->slots[i];
        int kept = 0;

        if (e->id == 0)
            continue;
        for (size_t k = 0; k < n_keep && !kept; k++)
            kept = keep[k] == e->id;
        if (!kept && (victim == NULL || e->used < victim->used))
            victim = e;
    }
    if (victim == NULL)
        return 0;
    id = victim->id;
    srvstmt_drop(s, id);
    return id;
}
