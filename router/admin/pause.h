/*
 * router/admin/pause.h - holds an operator puts on the pools of a worker (the console's PAUSE,
 * RESUME, RECONNECT, WAIT_CLOSE and KILL <db>): which databases are paused, so that their
 * new units of work wait instead of borrowing a server, and which servers must be closed
 * when they are given back; and whether either has taken effect yet. pool.c asks
 * pause_active before it hands a server to anyone.
 */
#ifndef PGROUTER_PAUSE_H
#define PGROUTER_PAUSE_H

#include <stdint.h>

#define PAUSE_MAX 32            /* databases paused one by one at once */

struct worker;

/* One PAUSE: a database, or every database (db ""). */
struct pause_entry {
    char db[64];
    int active;                 /* units of work of db wait for RESUME */
    uint32_t waiter;            /* the admin session whose PAUSE waits for the servers to
                                 * come back; 0: none (answered, or KILL <db>) */
    int cancelled;              /* a RESUME came before that PAUSE was answered */
};

struct pause {
    struct pause_entry e[PAUSE_MAX];
    unsigned n_active;          /* entries with active set (0: nothing is paused) */
};

/* Are db's new units held back (db paused, or everything)? Cheap when nothing is paused. */
int pause_active(const struct worker *w, const char *db);

/*
 * Pause db (NULL or "": every database). waiter: the admin session id that will wait for
 * the servers (pause_drained), 0 for none. 0, -EALREADY (db, or
 * everything, is paused already) or -ENOSPC (PAUSE_MAX databases are paused one by one).
 */
int pause_set(struct worker *w, const char *db, uint32_t waiter);

/*
 * A PAUSE's later calls: the state of the pause that session waiter set on db. 1: still
 * in force (wait for pause_drained), 0: it was cancelled by a RESUME (the entry is
 * forgotten now), -1: that session set no pause on db.
 */
int pause_mine(struct worker *w, const char *db, uint32_t waiter);

/* The PAUSE of session waiter on db was answered: it no longer waits. */
void pause_answered(struct worker *w, const char *db, uint32_t waiter);

/*
 * Resume db (NULL or "": everything, every database paused one by one included): its
 * waiting units get servers again. 0, -ENOENT (not paused) or -EBUSY (db given while
 * everything is paused).
 */
int pause_clear(struct worker *w, const char *db);

/*
 * Has every server of db's pools (NULL: every pool) come back, none being opened? Then,
 * with close_idle, the idle ones are closed (PAUSE's end). Returns 1 or 0.
 */
int pause_drained(struct worker *w, const char *db, int close_idle);

/*
 * RECONNECT: every server of db's pools (NULL: all) is closed when it is next given back;
 * idle ones at once. New connections are opened as they are needed.
 */
void pause_reconnect(struct worker *w, const char *db);

/* Servers of db's pools (NULL: all) that close when given back and are not closed yet:
 * marked by pause_reconnect, or on a node a reload removed (WAIT_CLOSE). */
unsigned pause_closing(const struct worker *w, const char *db);

#endif
