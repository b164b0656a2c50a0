/*
 * router/session/dispatch.h - sending a unit of work: cluster, node, the borrowed server brought
 * to the client's state, the bytes; and the idle and query_timeout timers. Calls borrow.c
 * down; reports a hung server up through struct dispatch_ops.
 */
#ifndef PGROUTER_DISPATCH_H
#define PGROUTER_DISPATCH_H

#include "router/cluster/decide.h"

struct backend;
struct session;

/* What dispatch.c tells the session (s->dispatch_ops). */
struct dispatch_ops {
    /* query_timeout says the unit's server is hung (why): treat it as lost. */
    void (*server_lost)(struct backend *be, const char *why);
};

/* How dispatch_unit is called: the unit's last message is in, a Flush, or a resume. */
enum dispatch_end {
    DISPATCH_FLUSH = 0,     /* part of a batch (Flush, or a long batch without Sync) */
    DISPATCH_END = 1,       /* its Query or Sync is in: it is pending until ReadyForQuery */
    DISPATCH_RESUME = -1,   /* it waited (a server, the state replay) or is retried */
};

/* Send the unit assembled so far (end: see enum dispatch_end). */
void dispatch_unit(struct session *s, enum dispatch_end end);

/* Start the idle timer for ReadyForQuery status ('I' client_idle_timeout, else
 * idle_transaction_timeout); stops it when that is 0. */
void dispatch_idle_timer(struct session *s, char status);

/* Stop the query_timeout timer (the unit ended or its server is gone). */
void dispatch_query_timer_stop(struct session *s);

/* What s knows for routing its next statement (decide.h), as dispatch_unit uses it. */
void dispatch_decide_state(struct session *s, struct decide_session *ds);

/* The state replay sent by dispatch_unit ended (had_error: it failed). On success the held
 * unit goes out; the caller reads the client on. */
void dispatch_state_done(struct session *s, struct backend *be, int had_error);

#endif
