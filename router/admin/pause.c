/*
 * router/admin/pause.c - holds an operator puts on a worker's pools: the paused databases (a
 * PAUSE of everything is the entry with db ""), the PAUSE commands still waiting for
 * their servers, and RECONNECT over the pools of a database. The pools themselves keep
 * their accounting (pool.c); this file only says which pools and asks them.
 */
#include "router/admin/pause.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "router/pool/pool.h"
#include "router/worker.h"

/* db as the entries hold it: "" for every database. */
static const char *pause_key(const char *db)
{
    return db != NULL ? db : "";
}

static struct pause_entry *pause_find(struct pause *ps, const char *db)
{
    for (unsigned i = 0; i < PAUSE_MAX; i++) {
        struct pause_entry *e = &ps->e[i];

        if ((e->active || e->waiter != 0) && strcmp(e->db, db) == 0)
            return e;
    }
    return NULL;
}

static void pause_deactivate(struct pause *ps, struct pause_entry *e)
{
    if (e->active) {
        e->active = 0;
        ps->n_active--;
    }
    if (e->waiter != 0)
        e->cancelled = 1;   /* that PAUSE hears of it on its next call */
    else
        e->db[0] = '\0';
}

int pause_active(const struct worker *w, const char *db)
{
    const struct pause *ps = &w->pause;

    if (ps->n_active == 0)
        return 0;
    for (unsigned i = 0; i < PAUSE_MAX; i++) {
        const struct pause_entry *e = &ps->e[i];

        if (e->active && (e->db[0] == '\0' || strcmp(e->db, db) == 0))
            return 1;
    }
    return 0;
}

int pause_set(struct worker *w, const char *db, uint32_t waiter)
{
    struct pause *ps = &w->pause;
    const char *key = pause_key(db);
    struct pause_entry *e = pause_find(ps, key);

    /* Everything paused pauses every database; a database alone only itself. */
    if (key[0] == '\0' ? e != NULL && e->active : pause_active(w, key))
        return -EALREADY;
    /* A free slot, else one kept to tell a PAUSE that RESUME cancelled it (that PAUSE
     * then hears it is not its own any more, which it takes as cancelled too). */
    for (unsigned i = 0; i < PAUSE_MAX && e == NULL; i++)
        if (!ps->e[i].active && ps->e[i].waiter == 0)
            e = &ps->e[i];
    for (unsigned i = 0; i < PAUSE_MAX && e == NULL; i++)
        if (!ps->e[i].active)
            e = &ps->e[i];
    if (e == NULL)
        return -ENOSPC;
    snprintf(e->db, sizeof(e->db), "%s", key);
    e->active = 1;
    e->waiter = waiter;
    e->cancelled = 0;
    ps->n_active++;
    return 0;
}

int pause_mine(struct worker *w, const char *db, uint32_t waiter)
{
    struct pause_entry *e = pause_find(&w->pause, pause_key(db));

    if (e == NULL || waiter == 0 || e->waiter != waiter)
        return -1;
    if (e->cancelled) {
        e->waiter = 0;
        e->cancelled = 0;
        if (!e->active)
            e->db[0] = '\0';
        return 0;
    }
    return 1;
}

void pause_answered(struct worker *w, const char *db, uint32_t waiter)
{
    struct pause_entry *e = pause_find(&w->pause, pause_key(db));

    if (e != NULL && e->waiter == waiter)
        e->waiter = 0;
}

int pause_clear(struct worker *w, const char *db)
{
    struct pause *ps = &w->pause;
    const char *key = pause_key(db);
    uint64_t now = uv_now(w->loop);
    struct pause_entry *e;

    if (key[0] == '\0') {
        if (ps->n_active == 0)
            return -ENOENT;
        for (unsigned i = 0; i < PAUSE_MAX; i++)
            if (ps->e[i].active)
                pause_deactivate(ps, &ps->e[i]);
    } else {
        e = pause_find(ps, key);
        if (e == NULL || !e->active) {
            struct pause_entry *all = pause_find(ps, "");

            return all != NULL && all->active ? -EBUSY : -ENOENT;
        }
        pause_deactivate(ps, e);
    }
    for (struct pool *p = w->pools; p != NULL; p = p->next)
        if ((key[0] == '\0' || strcmp(p->db, key) == 0) && !pause_active(w, p->db))
            pool_resume(p, now);
    return 0;
}

static int pause_match(const struct pool *p, const char *db)
{
    return db == NULL || db[0] == '\0' || strcmp(p->db, db) == 0;
}

int pause_drained(struct worker *w, const char *db, int close_idle)
{
    for (struct pool *p = w->pools; p != NULL; p = p->next)
        if (pause_match(p, db) && (p->n_used > 0 || p->n_connecting > 0))
            return 0;
    if (close_idle)
        for (struct pool *p = w->pools; p != NULL; p = p->next)
            if (pause_match(p, db))
                pool_close_idle(p);
    return 1;
}

void pause_reconnect(struct worker *w, const char *db)
{
    for (struct pool *p = w->pools; p != NULL; p = p->next)
        if (pause_match(p, db))
            pool_reconnect(p);
}

unsigned pause_closing(const struct worker *w, const char *db)
{
    unsigned n = 0;

    for (const struct pool *p = w->pools; p != NULL; p = p->next) {
        if (!pause_match(p, db))
            continue;
        /* A reload that removed the node closes all its servers as they come back. */
        n += w->nodes->n[p->node_id].removed ? p->n_used : p->n_old;
    }
    return n;
}
