/*
 * router/core/shared.c - the process-wide state every worker points to: the current
 * snapshot (swapped under a lock), and the server budget (atomic counts per pool key, a
 * list under a lock). The node table and the login limits carry their own locks.
 */
#include "router/core/shared.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int shared_init(struct shared *sh, struct cfg *cfg)
{
    memset(sh, 0, sizeof(*sh));
    if (authlimit_init(&sh->authlimit) < 0)
        return -1;
    pthread_mutex_init(&sh->lock, NULL);
    pthread_mutex_init(&sh->nodes.lock, NULL);
    pthread_mutex_init(&sh->authlimit.lock, NULL);
    pthread_mutex_init(&sh->budget.lock, NULL);
    sh->cfg = cfg_ref(cfg);
    return 0;
}

void shared_close(struct shared *sh)
{
    while (sh->budget.slots != NULL) {
        struct budget_slot *b = sh->budget.slots;

        sh->budget.slots = b->next;
        free(b);
    }
    cfg_unref(sh->cfg);
    sh->cfg = NULL;
    pthread_mutex_destroy(&sh->authlimit.lock);
    pthread_mutex_destroy(&sh->budget.lock);
    pthread_mutex_destroy(&sh->nodes.lock);
    pthread_mutex_destroy(&sh->lock);
}

struct cfg *shared_cfg(struct shared *sh)
{
    struct cfg *c;

    pthread_mutex_lock(&sh->lock);
    c = cfg_ref(sh->cfg);
    pthread_mutex_unlock(&sh->lock);
    return c;
}

void shared_set_cfg(struct shared *sh, struct cfg *fresh)
{
    struct cfg *old;

    pthread_mutex_lock(&sh->lock);
    old = sh->cfg;
    sh->cfg = fresh;
    pthread_mutex_unlock(&sh->lock);
    cfg_unref(old);
}

struct budget_slot *budget_slot(struct budget *b, const char *node, const char *db,
                                const char *user)
{
    struct budget_slot *s;

    pthread_mutex_lock(&b->lock);
    for (s = b->slots; s != NULL; s = s->next)
        if (strcmp(s->node, node) == 0 && strcmp(s->db, db) == 0 && strcmp(s->user, user) == 0)
            break;
    if (s == NULL && (s = calloc(1, sizeof(*s))) != NULL) {
        snprintf(s->node, sizeof(s->node), "%s", node);
        snprintf(s->db, sizeof(s->db), "%s", db);
        snprintf(s->user, sizeof(s->user), "%s", user);
        s->next = b->slots;
        b->slots = s;
    }
    pthread_mutex_unlock(&b->lock);
    return s;
}

unsigned budget_count(const struct budget_slot *slot)
{
    return __atomic_load_n(&slot->n, __ATOMIC_RELAXED);
}

/* One unit of slot if it holds fewer than limit (0 = no limit). */
static int budget_take_one(struct budget_slot *slot, unsigned limit)
{
    unsigned n = __atomic_load_n(&slot->n, __ATOMIC_RELAXED);

    do {
        if (limit > 0 && n >= limit)
            return 0;
    } while (!__atomic_compare_exchange_n(&slot->n, &n, n + 1, 1, __ATOMIC_ACQ_REL,
                                          __ATOMIC_RELAXED));
    return 1;
}

int budget_take(struct budget_slot *pool, unsigned limit, struct budget_slot *db,
                unsigned dblimit)
{
    /* default_pool_size 0 would mean no server at all, not no limit. */
    if (limit == 0 || !budget_take_one(pool, limit))
        return 0;
    if (db != NULL && !budget_take_one(db, dblimit)) {
        __atomic_fetch_sub(&pool->n, 1, __ATOMIC_ACQ_REL);
        return 0;
    }
    return 1;
}

void budget_give(struct budget_slot *pool, struct budget_slot *db)
{
    __atomic_fetch_sub(&pool->n, 1, __ATOMIC_ACQ_REL);
    if (db != NULL)
        __atomic_fetch_sub(&db->n, 1, __ATOMIC_ACQ_REL);
}
