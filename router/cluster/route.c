/*
 * router/cluster/route.c - routing rules, in the order they apply. Being wrong toward the primary
 * costs speed, toward a replica an error, so every doubt resolves to the primary.
 */
#include "router/cluster/route.h"

#include <stddef.h>

static void route_set(struct route_decision *d, enum route_target t, const char *reason)
{
    d->target = t;
    d->reason = reason;
    d->sqlstate = NULL;
}

/* A write the classifier recognised, as opposed to text it did not understand. */
static int route_certain_write(const struct classify_result *cr)
{
    return cr->write && cr->certain && !(cr->flags & CLASSIFY_F_BAD);
}

void route_decide(const struct route_state *rs, const struct classify_result *cr,
                  struct route_decision *out)
{
    unsigned f = cr->flags;

    if (cr->hint_conflict) {
        out->target = ROUTE_ERROR;
        out->reason = "a pgrouter_role: replica hint on a statement that writes";
        out->sqlstate = "25006";
        return;
    }
    if (rs->in_tx) {
        route_set(out, ROUTE_PINNED, "inside a transaction");
        return;
    }
    if (f & CLASSIFY_F_BEGIN) {
        if ((f & CLASSIFY_F_BEGIN_READ_ONLY) && !cr->write && !rs->sticky &&
            rs->role != ROUTE_ROLE_PRIMARY && cr->hint != CLASSIFY_ROLE_PRIMARY)
            route_set(out, ROUTE_REPLICA, "read-only transaction");
        else if (rs->role == ROUTE_ROLE_REPLICA && !cr->write)
            route_set(out, ROUTE_REPLICA, "transaction, pgrouter.role = replica");
        else
            route_set(out, ROUTE_PRIMARY, "transaction");
        return;
    }
    if (cr->write) {
        if ((f & CLASSIFY_F_NODE) && cr->hint == CLASSIFY_ROLE_REPLICA &&
            !route_certain_write(cr)) {
            /* pg_cancel_backend() and friends on a replica: only when a hint asks. */
            route_set(out, ROUTE_REPLICA, "node-specific admin function, pgrouter_role: "
                      "replica hint");
            return;
        }
        if (rs->role == ROUTE_ROLE_REPLICA && cr->hint != CLASSIFY_ROLE_PRIMARY &&
            !(f & (CLASSIFY_F_SESSION | CLASSIFY_F_CURSOR | CLASSIFY_F_EXECUTE)) &&
            route_certain_write(cr)) {
            /* The session asked for replicas; this statement cannot run on one. */
            out->target = ROUTE_ERROR;
            out->reason = "pgrouter.role = replica, but the statement writes";
            out->sqlstate = "25006";
            return;
        }
        route_set(out, ROUTE_PRIMARY, cr->reason != NULL ? cr->reason : "write");
        return;
    }
    if (f & CLASSIFY_F_SESSION) {
        route_set(out, ROUTE_ANY, "session state");
        return;
    }
    if (f & (CLASSIFY_F_EMPTY | CLASSIFY_F_END | CLASSIFY_F_TXCTL)) {
        route_set(out, ROUTE_ANY, (f & CLASSIFY_F_EMPTY) ? "empty query" : "no transaction open");
        return;
    }
    if (cr->hint == CLASSIFY_ROLE_PRIMARY) {
        route_set(out, ROUTE_PRIMARY, "pgrouter_role: primary hint");
        return;
    }
    if (cr->hint == CLASSIFY_ROLE_REPLICA) {
        route_set(out, ROUTE_REPLICA, "pgrouter_role: replica hint");
        return;
    }
    if (rs->sticky) {
        route_set(out, ROUTE_PRIMARY, "session pinned to the primary "
                  "(temp table, LISTEN, session advisory lock or WITH HOLD cursor)");
        return;
    }
    if (rs->role == ROUTE_ROLE_PRIMARY) {
        route_set(out, ROUTE_PRIMARY, "pgrouter.role = primary");
        return;
    }
    if (rs->role == ROUTE_ROLE_REPLICA) {
        route_set(out, ROUTE_REPLICA, "pgrouter.role = replica");
        return;
    }
    if (rs->ryw) {
        route_set(out, ROUTE_PRIMARY, "read-your-writes window after a write");
        return;
    }
    route_set(out, ROUTE_REPLICA, "read");
}

const char *route_target_name(enum route_target t)
{
    switch (t) {
    case ROUTE_PRIMARY:
        return "primary";
    case ROUTE_REPLICA:
        return "replica";
    case ROUTE_PINNED:
        return "pinned";
    case ROUTE_ANY:
        return "any";
    case ROUTE_ERROR:
        return "error";
    }
    return "?";
}
