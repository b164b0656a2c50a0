/*
 * router/stmt.c - the client's prepared-statement table (chained hash by name) and the
 * ordered list of session-state statements to replay on other servers.
 */
#include "router/stmt.h"

#include <stdlib.h>
#include <string.h>

static uint32_t stmt_hash(const char *s)
{
    uint32_t h = 2166136261u;

    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

void stmt_table_init(struct stmt_table *t)
{
    memset(t, 0, sizeof(*t));
}

static void stmt_free(struct stmt *e)
{
    free(e->name);
    free(e->parse);
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
        return -1;
    for (size_t i = 0; i < t->n_buckets; i++) {
        struct stmt *e = t->buckets[i], *next;

        for (; e != NULL; e = next) {
            next = e->next;
            size_t k = stmt_hash(e->name) & (nb - 1);
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

struct stmt *stmt_put(struct stmt_table *t, const char *name, const uint8_t *parse,
                      size_t parse_len, int write, unsigned flags)
{
    struct stmt *e = stmt_get(t, name);
    uint8_t *copy = malloc(parse_len);

    if (copy == NULL)
        return NULL;
    memcpy(copy, parse, parse_len);
    if (e != NULL) {
        free(e->parse);
        e->stale |= e->on;
        e->on = 0;
    } else {
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
    }
    e->parse = copy;
    e->parse_len = parse_len;
    e->write = write;
    e->flags = flags;
    e->closed = 0;
    return e;
}

static void stmt_remove(struct stmt_table *t, struct stmt *victim)
{
    struct stmt **pp = &t->buckets[stmt_hash(victim->name) & (t->n_buckets - 1)];

    for (; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == victim) {
            *pp = victim->next;
            stmt_free(victim);
            t->n--;
            return;
        }
    }
}

void stmt_close(struct stmt_table *t, const char *name)
{
    struct stmt *e = stmt_get(t, name);

    if (e == NULL)
        return;
    e->stale |= e->on;
    e->on = 0;
    e->closed = 1;
    if (e->stale == 0)
        stmt_remove(t, e);
}

void stmt_forget_slot(struct stmt_table *t, unsigned slot)
{
    uint32_t bit = 1u << slot;

    for (size_t i = 0; i < t->n_buckets; i++) {
        struct stmt *e = t->buckets[i], *next;

        for (; e != NULL; e = next) {
            next = e->next;
            e->on &= ~bit;
            e->stale &= ~bit;
            if (e->closed && e->stale == 0)
                stmt_remove(t, e);
        }
    }
}

void replay_init(struct replay *r)
{
    memset(r, 0, sizeof(*r));
}

static void replay_drop(struct replay *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->items[i].sql);
    r->n = 0;
}

void replay_free(struct replay *r)
{
    replay_drop(r);
    free(r->items);
    memset(r, 0, sizeof(*r));
}

unsigned replay_add(struct replay *r, const char *sql, size_t len, int reset)
{
    char *copy = malloc(len + 1);

    if (copy == NULL)
        return 0;
    memcpy(copy, sql, len);
    copy[len] = '\0';
    if (reset)
        replay_drop(r);
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 8;
        struct replay_item *p = realloc(r->items, cap * sizeof(*p));

        if (p == NULL) {
            free(copy);
            return 0;
        }
        r->items = p;
        r->cap = cap;
    }
    r->version++;
    r->items[r->n].sql = copy;
    r->items[r->n].version = r->version;
    r->n++;
    return r->version;
}
