/*
 * router/cluster/route.h - the routing decision for one unit of work (a simple Query, or an
 * extended-protocol batch up to Sync): primary, a replica, the server holding the
 * client's transaction, or wherever the client already is. Pure: no I/O, no clock.
 */
#ifndef PGROUTER_ROUTE_H
#define PGROUTER_ROUTE_H

#include <stdint.h>

#include "router/sql/classify.h"

enum route_target {
    ROUTE_PRIMARY = 0,
    ROUTE_REPLICA,      /* any healthy replica (the balancer picks; primary if none) */
    ROUTE_PINNED,       /* the server the client's open transaction runs on */
    ROUTE_ANY,          /* no preference: the server used last, else the primary */
    ROUTE_ERROR,        /* refuse: see sqlstate and reason */
};

enum route_role { ROUTE_ROLE_AUTO = 0, ROUTE_ROLE_PRIMARY, ROUTE_ROLE_REPLICA };

/* What the session knows when it routes. */
struct route_state {
    int in_tx;                  /* a server of this client is inside a transaction */
    int sticky;                 /* temp table, LISTEN, session lock...: primary for good */
    int ryw;                    /* inside the read-your-writes window after a write */
    enum route_role role;       /* pgrouter.role of the session (startup or SET) */
};

struct route_decision {
    enum route_target target;
    const char *reason;         /* static text for logs, --classify and EXPLAIN ROUTE */
    const char *sqlstate;       /* with ROUTE_ERROR */
};

/*
 * Decide where a unit classified as *cr goes for a client in state *rs.
 * Writes and unknown statements go to the primary; reads to a replica unless a
 * transaction, a pin, the read-your-writes window, a hint or pgrouter.role says otherwise;
 * a replica hint or role on a certain write is an error (25006), never a silent reroute.
 */
void route_decide(const struct route_state *rs, const struct classify_result *cr,
                  struct route_decision *out);

const char *route_target_name(enum route_target t);

#endif
