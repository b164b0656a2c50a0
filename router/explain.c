/*
 * router/explain.c - routing explanations for --classify: the classifier and the routing
 * rules applied to a statement for a fresh autocommit session.
 */
#include "router/explain.h"

#include <stdlib.h>
#include <string.h>

#include "router/classify.h"
#include "router/route.h"

size_t explain_route(const struct routing *r, const struct cfg *cfg, const char *sql,
                     size_t len, char *buf, size_t n)
{
    struct classify_result cr;
    struct route_decision d;
    struct route_state rs;
    const char *cluster = cfg->default_cluster->name;
    int w;

    classify_sql(&r->opts, sql, len, &cr);
    memset(&rs, 0, sizeof(rs));
    rs.role = cfg->default_role == CFG_ROLE_PRIMARY ? ROUTE_ROLE_PRIMARY
              : cfg->default_role == CFG_ROLE_REPLICA ? ROUTE_ROLE_REPLICA : ROUTE_ROLE_AUTO;
    route_decide(&rs, &cr, &d);
    if (d.target == ROUTE_REPLICA && cfg->default_cluster->n_replicas == 0) {
        d.target = ROUTE_PRIMARY;
        d.reason = "cluster has no replicas";
    }
    char why[256];

    if (cr.func != NULL && d.target == ROUTE_PRIMARY && cr.reason == d.reason)
        snprintf(why, sizeof(why), "%s %.*s()", d.reason, (int)cr.func_len, cr.func);
    else
        snprintf(why, sizeof(why), "%s", d.reason);
    switch (d.target) {
    case ROUTE_ERROR:
        w = snprintf(buf, n, "%s %s refused (%s, SQLSTATE %s)", cr.write ? "write" : "read",
                     cluster, d.reason, d.sqlstate);
        break;
    case ROUTE_REPLICA:
        w = snprintf(buf, n, "%s %s replica", cr.write ? "write" : "read", cluster);
        break;
    case ROUTE_ANY:
    case ROUTE_PINNED:
        w = snprintf(buf, n, "%s %s current server (%s)", cr.write ? "write" : "read",
                     cluster, why);
        break;
    case ROUTE_PRIMARY:
    default:
        w = snprintf(buf, n, "%s %s primary (%s)", cr.write ? "write" : "read", cluster, why);
        break;
    }
    if (w < 0)
        return 0;
    return (size_t)w < n ? (size_t)w : n - 1;
}

int explain_stream(const struct routing *r, const struct cfg *cfg, FILE *in, FILE *out)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    char buf[512];

    while ((got = getline(&line, &cap, in)) >= 0) {
        size_t len = (size_t)got;

        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        explain_route(r, cfg, line, len, buf, sizeof(buf));
        fprintf(out, "%s\n", buf);
    }
    free(line);
    return 0;
}
