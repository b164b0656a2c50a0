/*
 * router/explain.c - routing explanations for --classify: the classifier and the routing
 * rules applied to a statement for a fresh autocommit session.
 */
#include "router/explain.h"

#include <stdlib.h>
#include <string.h>

#include "router/classify.h"
#include "router/route.h"
#include "router/shard.h"
#include "router/tenant.h"

size_t explain_route(const struct routing *r, const struct cfg *cfg, const char *sql,
                     size_t len, char *buf, size_t n)
{
    struct classify_result cr;
    struct route_decision d;
    struct route_state rs;
    const char *cluster = cfg->default_cluster->name;
    char where[200] = "";
    int w;

    if (cfg->sharding.enabled && r->have_shard) {
        /* The tenant as a fresh session sees it: a comment or the statement's values. */
        struct tenant_result *tr = malloc(sizeof(*tr));
        struct tenant_opts o;

        if (tr == NULL)
            return 0;
        memset(&o, 0, sizeof(o));
        o.column = cfg->sharding.tenant_column;
        o.tables = (const char *const *)cfg->sharding.tables;
        o.n_tables = cfg->sharding.n_tables;
        tenant_extract(&o, sql, len, NULL, tr);
        const char *t = tr->comment != NULL ? tr->comment
                        : tr->n_values > 0 ? tr->values[0].p : NULL;
        size_t tl = tr->comment != NULL ? tr->comment_len
                    : tr->n_values > 0 ? tr->values[0].len : 0;
        if (t != NULL && (tr->touches_sharded || tr->comment != NULL)) {
            const struct cfg_cluster *c = shard_cluster_for(&r->shard, t, tl);
            const struct cfg_tenant *ex = shard_explicit(&r->shard, t, tl);
            int bucket = shard_bucket(t, tl, cfg->sharding.n_buckets);

            cluster = c != NULL ? c->name : "(none)";
            if (ex != NULL)
                snprintf(where, sizeof(where), ", tenant %.*s placed in [tenants]", (int)tl, t);
            else
                snprintf(where, sizeof(where), ", tenant %.*s, bucket %d", (int)tl, t, bucket);
        } else if (tr->touches_sharded) {
            w = snprintf(buf, n, "%s ? refused (sharded table without a tenant, SQLSTATE "
                         "22023)", "write");
            free(tr);
            return w < 0 ? 0 : (size_t)w < n ? (size_t)w : n - 1;
        }
        free(tr);
    }

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
        w = snprintf(buf, n, "%s %s replica%s%s%s", cr.write ? "write" : "read", cluster,
                     where[0] ? " (" : "", where[0] ? where + 2 : "", where[0] ? ")" : "");
        break;
    case ROUTE_ANY:
    case ROUTE_PINNED:
        w = snprintf(buf, n, "%s %s current server (%s%s)", cr.write ? "write" : "read",
                     cluster, why, where);
        break;
    case ROUTE_PRIMARY:
    default:
        w = snprintf(buf, n, "%s %s primary (%s%s)", cr.write ? "write" : "read", cluster, why,
                     where);
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
