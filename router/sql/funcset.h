/*
 * router/sql/funcset.h - a small set of lowercase SQL function names ("nextval",
 * "app.bump_counter"), open addressing over one string pool. Built once with
 * funcset_add, then only read (funcset_has), so one set can be shared by every worker.
 */
#ifndef PGROUTER_FUNCSET_H
#define PGROUTER_FUNCSET_H

#include <stddef.h>
#include <stdint.h>

/* Longest name accepted: schema (63 bytes) + '.' + function (63 bytes), as PostgreSQL. */
#define FUNCSET_NAME_MAX 127

struct funcset_slot {
    uint32_t hash;
    uint32_t off;           /* name's offset in pool */
    uint32_t len;           /* 0: empty slot */
};

struct funcset {
    struct funcset_slot *slots;
    size_t cap;             /* slots: a power of two, or 0 before the first add */
    size_t n;               /* names stored */
    char *pool;             /* the names, lowercase, back to back */
    size_t pool_len, pool_cap;
};

/* An empty set; never fails. funcset_has on it answers 0. */
void funcset_init(struct funcset *fs);

/*
 * Add name[0..len), folding ASCII letters to lowercase. A name holding a '.' is a
 * qualified "schema.function" entry. Adding a name twice is harmless. Returns 0,
 * -EINVAL for an empty name or one longer than FUNCSET_NAME_MAX, -ENOMEM (the set is
 * unchanged then). Not to be called while another thread reads the set.
 */
int funcset_add(struct funcset *fs, const char *name, size_t len);

/*
 * 1 if name[0..len) is in the set, else 0. The name must already be lowercase (the
 * classifier folds identifiers before asking). No allocation; fs may be NULL (empty).
 */
int funcset_has(const struct funcset *fs, const char *name, size_t len);

/* Number of names in the set (0 for NULL). */
size_t funcset_count(const struct funcset *fs);

/* Free what the set holds and leave it empty, ready for funcset_add again. */
void funcset_close(struct funcset *fs);

#endif
