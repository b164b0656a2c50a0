/*
 * router/cluster/decide.c - one routing decision per statement, for the proxy and --classify:
 * the tenant's cluster from comment, session or statement (refusing what it cannot be
 * sure of), the transaction's cluster, then route.c's node rules. When in doubt it
 * refuses; it never guesses one shard.
 */
#include "router/cluster/decide.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void decide_refuse(struct decide_tenant *out, const char *sqlstate, const char *rule,
                          const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Refuse with sqlstate and a message; the first reason stands. */
static void decide_refuse(struct decide_tenant *out, const char *sqlstate, const char *rule,
                          const char *fmt, ...)
{
    va_list ap;

    if (out->sqlstate != NULL)
        return;
    out->sqlstate = sqlstate;
    out->rule = rule;
    out->cluster = NULL;
    va_start(ap, fmt);
    vsnprintf(out->message, sizeof(out->message), fmt, ap);
    va_end(ap);
}

/* Put the statement on tenant t[0..len)'s cluster; refuse if unplaced or a second one. */
static void decide_place(const struct cfg *cfg, const struct shard_map *map, const char *t,
                         size_t len, struct decide_tenant *out)
{
    const struct cfg_cluster *c = shard_cluster_for(map, t, len);

    if (out->sqlstate != NULL)
        return;
    /* the map may be of a newer snapshot: the session's own cluster of that name */
    c = c != NULL ? cfg_find_cluster(cfg, c->name) : NULL;
    if (c == NULL) {
        decide_refuse(out, "22023", "tenant not placed", "pgrouter: tenant \"%.*s\" is not "
                      "placed on any cluster", (int)len, t);
        return;
    }
    if (out->cluster != NULL && out->cluster != c) {
        decide_refuse(out, "0A000", "tenants on two clusters", "pgrouter: one statement or "
                      "batch for tenants on two clusters (%s and %s)", out->cluster->name,
                      c->name);
        return;
    }
    if (out->cluster == NULL) {
        snprintf(out->tenant, sizeof(out->tenant), "%.*s", (int)len, t);
        out->placed = shard_explicit(map, t, len) != NULL;
        out->bucket = out->placed ? -1 : shard_bucket(t, len, cfg->sharding.n_buckets);
    }
    out->cluster = c;
}

/* "needs a tenant", with why when the statement compares the tenant column oddly. */
static void decide_needs_tenant(const struct cfg *cfg, const struct tenant_result *tr,
                                struct decide_tenant *out)
{
    const char *table = cfg->sharding.tables[tr->n_tables > 0 ? tr->tables[0] : 0];
    const char *col = cfg->sharding.tenant_column;

    if (tr->broad)
        decide_refuse(out, "22023", "tenant compared other than by =",
                      "pgrouter: a statement on sharded table \"%s\" needs a tenant: it "
                      "compares %s with NOT, <>, <, LIKE, IS, NOT IN, ANY or a subquery, "
                      "which can match tenants on several clusters; use %s = '...'",
                      table, col, col);
    else
        decide_refuse(out, "22023", "no tenant", "pgrouter: a statement on sharded table "
                      "\"%s\" needs a tenant: add %s = '...' to its WHERE clause or INSERT, "
                      "a /* tenant=... */ comment, or SET %s = '...'", table, col,
                      cfg->sharding.tenant_key);
}

int decide_tenant(const struct cfg *cfg, const struct shard_map *map,
                  const struct decide_session *ds, const char *sql, size_t len,
                  const struct tenant_params *params, struct decide_tenant *out)
{
    struct tenant_result *tr;
    struct tenant_opts o;
    const char *t = NULL;
    size_t tlen = 0;

    memset(out, 0, sizeof(*out));
    out->bucket = -1;
    out->rule = "not sharded";
    if (!cfg->sharding.enabled || map == NULL)
        return 0;
    tr = malloc(sizeof(*tr));
    if (tr == NULL) {
        decide_refuse(out, "53200", "out of memory", "out of memory");
        return -ENOMEM;
    }
    memset(&o, 0, sizeof(o));
    o.column = cfg->sharding.tenant_column;
    o.tables = (const char *const *)cfg->sharding.tables;
    o.n_tables = cfg->sharding.n_tables;
    o.escape_strings = ds->escape_strings;
    tenant_extract(&o, sql, len, params, tr);
    if (tr->comment != NULL) {
        t = tr->comment;
        tlen = tr->comment_len;
        out->rule = "tenant from a comment";
    } else if (tr->touches_sharded && ds->tenant != NULL && ds->tenant[0] != '\0') {
        t = ds->tenant;
        tlen = strlen(ds->tenant);
        out->rule = "tenant from the session";
    }
    if (tr->comment_conflict)
        decide_refuse(out, "0A000", "two tenant comments", "pgrouter: two different "
                      "tenant=... comments in one statement");
    if (!tr->touches_sharded && t == NULL) {
        out->rule = "no sharded table";
        free(tr);
        return 0;
    }
    /* a comparison that can match several tenants: no source makes it one cluster's */
    if (tr->touches_sharded && tr->broad)
        decide_needs_tenant(cfg, tr, out);
    if (t != NULL) {
        for (unsigned i = 0; i < tr->n_values; i++) {
            const struct tenant_value *v = &tr->values[i];

            if (v->len != tlen || memcmp(v->p, t, tlen) != 0) {
                decide_refuse(out, "0A000", "tenants disagree", "pgrouter: the statement "
                              "names tenant \"%.*s\" but the session or comment says "
                              "\"%.*s\"", (int)v->len, v->p, (int)tlen, t);
                break;
            }
        }
        decide_place(cfg, map, t, tlen, out);
    } else if (tr->n_values == 0 || tr->unknown || tr->unbounded || tr->has_or ||
               tr->overflow) {
        decide_needs_tenant(cfg, tr, out);
    } else {
        out->rule = "tenant from the statement";
        for (unsigned i = 0; i < tr->n_values; i++)
            decide_place(cfg, map, tr->values[i].p, tr->values[i].len, out);
    }
    free(tr);
    return 0;
}

void decide_tx_message(char *buf, size_t n, const struct cfg_cluster *unit,
                       const struct cfg_cluster *tx)
{
    snprintf(buf, n, "pgrouter: this statement belongs to cluster \"%s\", but the "
             "transaction runs on cluster \"%s\"", unit->name, tx->name);
}

int decide_query(const struct cfg *cfg, const struct routing *r,
                 const struct classify_opts *co, const struct decide_session *ds,
                 const char *sql, size_t len, struct decide_route *out)
{
    struct route_state rs;
    int rc;

    memset(out, 0, sizeof(*out));
    classify_sql(co != NULL ? co : &r->opts, sql, len, &out->cr);
    rc = decide_tenant(cfg, r->have_shard ? &r->shard : NULL, ds, sql, len, NULL, &out->tn);
    if (rc == 0 && out->tn.cluster == NULL && out->tn.sqlstate == NULL && ds->tx_cluster == NULL &&
        cfg->sharding.enabled && r->have_shard && (out->cr.flags & CLASSIFY_F_BEGIN) &&
        out->cr.n_statements == 1 && ds->tenant != NULL && ds->tenant[0] != '\0') {
        /* BEGIN alone: the transaction is the session tenant's */
        decide_place(cfg, &r->shard, ds->tenant, strlen(ds->tenant), &out->tn);
        out->tn.rule = "BEGIN with the session's tenant";
    }
    out->cluster = ds->tx_cluster != NULL ? ds->tx_cluster
                   : out->tn.cluster != NULL ? out->tn.cluster : cfg->default_cluster;
    if (out->tn.sqlstate != NULL) {
        out->sqlstate = out->tn.sqlstate;
        out->rule = out->tn.rule;
        snprintf(out->message, sizeof(out->message), "%s", out->tn.message);
    } else if (ds->tx_cluster != NULL && out->tn.cluster != NULL &&
               out->tn.cluster != ds->tx_cluster) {
        out->sqlstate = "0A000";
        out->rule = "another cluster inside a transaction";
        decide_tx_message(out->message, sizeof(out->message), out->tn.cluster, ds->tx_cluster);
    }
    if (out->sqlstate != NULL) {
        out->d.target = ROUTE_ERROR;
        out->d.reason = out->rule;
        out->d.sqlstate = out->sqlstate;
        return rc;
    }
    memset(&rs, 0, sizeof(rs));
    rs.in_tx = ds->in_tx;
    rs.sticky = ds->sticky;
    rs.ryw = ds->ryw && ds->ryw_cluster == out->cluster;
    rs.role = ds->role;
    route_decide(&rs, &out->cr, &out->d);
    out->rule = out->d.reason;
    if (out->d.target == ROUTE_ERROR) {
        out->sqlstate = out->d.sqlstate;
        snprintf(out->message, sizeof(out->message), "pgrouter: %s", out->d.reason);
    }
    return 0;
}
