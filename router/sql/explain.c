/*
 * router/sql/explain.c - routing explanations for --classify and the admin console's EXPLAIN
 * ROUTE: decide_query's answer for a statement, as one line of text.
 */
#include "router/sql/explain.h"

#include <stdlib.h>
#include <string.h>

#include "router/cluster/decide.h"

const char *explain_node(const struct decide_route *dr)
{
    switch (dr->d.target) {
    case ROUTE_REPLICA:
        return dr->cluster->n_replicas > 0 ? "replica" : "primary";
    case ROUTE_ANY:
    case ROUTE_PINNED:
        return "current server";
    case ROUTE_PRIMARY:
    case ROUTE_ERROR:
        break;
    }
    return "primary";
}

size_t explain_format(const struct decide_route *dr, char *buf, size_t n)
{
    const struct decide_tenant *tn = &dr->tn;
    const char *verb = dr->cr.write ? "write" : "read";
    char why[200], where[200] = "";
    int w;

    if (n == 0)
        return 0;
    if (dr->sqlstate != NULL) {
        w = snprintf(buf, n, "%s %s refused (SQLSTATE %s: %s)", verb,
                     tn->sqlstate != NULL ? "?" : dr->cluster->name, dr->sqlstate,
                     dr->message);
        return w < 0 ? 0 : (size_t)w < n ? (size_t)w : n - 1;
    }
    if (dr->d.target == ROUTE_REPLICA && dr->cluster->n_replicas == 0)
        snprintf(why, sizeof(why), "cluster has no replicas");
    else if (dr->cr.func != NULL && dr->d.target == ROUTE_PRIMARY &&
             dr->cr.reason == dr->d.reason)
        snprintf(why, sizeof(why), "%s %.*s()", dr->d.reason, (int)dr->cr.func_len,
                 dr->cr.func);
    else
        snprintf(why, sizeof(why), "%s", dr->d.reason);
    if (tn->cluster != NULL && tn->placed)
        snprintf(where, sizeof(where), "; %s: %s, placed in [tenants]", tn->rule, tn->tenant);
    else if (tn->cluster != NULL)
        snprintf(where, sizeof(where), "; %s: %s, bucket %d", tn->rule, tn->tenant,
                 tn->bucket);
    w = snprintf(buf, n, "%s %s %s (%s%s)", verb, dr->cluster->name, explain_node(dr), why,
                 where);
    if (w < 0)
        return 0;
    return (size_t)w < n ? (size_t)w : n - 1;
}

size_t explain_route_in(const struct routing *r, const struct cfg *cfg,
                        const struct decide_session *ds, const char *sql, size_t len,
                        char *buf, size_t n)
{
    struct decide_route *dr = malloc(sizeof(*dr));
    size_t w;

    if (dr == NULL || n == 0) {
        free(dr);
        return 0;
    }
    decide_query(cfg, r, NULL, ds, sql, len, dr);
    w = explain_format(dr, buf, n);
    free(dr);
    return w;
}

size_t explain_route(const struct routing *r, const struct cfg *cfg, const char *sql,
                     size_t len, char *buf, size_t n)
{
    struct decide_session ds;

    memset(&ds, 0, sizeof(ds));
    ds.role = cfg->default_role == CFG_ROLE_PRIMARY ? ROUTE_ROLE_PRIMARY
              : cfg->default_role == CFG_ROLE_REPLICA ? ROUTE_ROLE_REPLICA : ROUTE_ROLE_AUTO;
    return explain_route_in(r, cfg, &ds, sql, len, buf, n);
}

int explain_stream(const struct routing *r, const struct cfg *cfg, FILE *in, FILE *out)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    char buf[EXPLAIN_LINE_MAX];

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
