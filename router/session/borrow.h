/*
 * router/session/borrow.h - the servers a client session holds: borrowing from a node's pool,
 * waiting in its queue, and giving servers back.
 */
#ifndef PGROUTER_BORROW_H
#define PGROUTER_BORROW_H

struct backend;
struct backend_ops;
struct pool;
struct session;

/* What borrow.c tells the session (s->borrow_ops). */
struct borrow_ops {
    /* What a server borrowed for s reports to (be->ops). */
    const struct backend_ops *backend;
    /* The server s waited for is held now (or the unit must choose again): go on with what
     * waited (the greeting, or the unit). */
    void (*resume)(struct session *s);
    /* The wait ended with an error the client was told of: read its next unit. */
    void (*answered)(struct session *s);
};

/*
 * The server for node slot: one the session holds already, one idle in the pool (attached
 * now), or NULL while the session waits in the pool's queue (SESSION_WAIT_SERVER; it
 * resumes through borrow_ops.resume, the unit on that same slot) or was closed with a FATAL.
 */
struct backend *borrow_server(struct session *s, unsigned slot);

/* The server this client holds on node slot, or NULL. */
struct backend *borrow_held(const struct session *s, unsigned slot);

/* The borrowed server inside a transaction, or NULL. */
struct backend *borrow_pinned_tx(const struct session *s);

/* Forget be (lost or given up) without giving it back. */
void borrow_unhold(struct session *s, struct backend *be);

/* Give the server in slot back to its pool (reset: run server_reset_query first), or close
 * it when it cannot be reused (in a transaction, mid-answer, lost). */
void borrow_give_back(struct session *s, unsigned slot, int reset);

/* Give back every held server between transactions that is not pinned and not running the
 * client's unit: transaction pooling holds a server only while it is needed. */
void borrow_give_back_idle(struct session *s);

/* The pool of slot's node for this client's database and user (created on first use), or
 * NULL when out of memory. */
struct pool *borrow_pool(struct session *s, unsigned slot);

#endif
