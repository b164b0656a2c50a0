/*
 * router/admin/adminstats.c - admin console commands: SHOW STATS, SHOW STATS_TOTALS and
 * SHOW STATS_AVERAGES (PgBouncer's columns, in its order, one row per database) and
 * SHOW ROUTES (routing decisions by rule). The numbers come from router/admin/stats.c.
 */
#include "router/admin/admin.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "router/cluster/route.h"
#include "router/session/session.h"
#include "router/admin/stats.h"
#include "router/worker.h"

/* Databases are few; past this many a SHOW lists the first ones by name. */
#define ADMINSTATS_MAX_DBS 4096

static void adminstats_u64(struct admin_reply *r, uint64_t v)
{
    admin_cell_fmt(r, "%" PRIu64, v);
}

/* Every database's rollup, or NULL (the reply says why) with *n = 0. */
static struct stats_db *adminstats_dbs(struct session *s, struct admin_reply *r, size_t *n)
{
    size_t want = stats_databases(s->w, NULL, 0);
    struct stats_db *dbs;

    *n = 0;
    if (want > ADMINSTATS_MAX_DBS)
        want = ADMINSTATS_MAX_DBS;
    dbs = calloc(want > 0 ? want : 1, sizeof(*dbs));
    if (dbs == NULL) {
        admin_error(r, "53200", "out of memory");
        return NULL;
    }
    *n = stats_databases(s->w, dbs, want);
    if (*n > want)
        *n = want;
    return dbs;
}

static void adminstats_totals(struct admin_reply *r, const struct stats_counters *t)
{
    adminstats_u64(r, t->server_assignment_count);
    adminstats_u64(r, t->xact_count);
    adminstats_u64(r, t->query_count);
    adminstats_u64(r, t->received);
    adminstats_u64(r, t->sent);
    adminstats_u64(r, t->xact_time_us);
    adminstats_u64(r, t->query_time_us);
    adminstats_u64(r, t->wait_time_us);
    adminstats_u64(r, t->client_parse_count);
    adminstats_u64(r, t->server_parse_count);
    adminstats_u64(r, t->bind_count);
}

static void adminstats_avgs(struct admin_reply *r, const struct stats_avg *a)
{
    adminstats_u64(r, a->server_assignment_count);
    adminstats_u64(r, a->xact_count);
    adminstats_u64(r, a->query_count);
    adminstats_u64(r, a->recv);
    adminstats_u64(r, a->sent);
    adminstats_u64(r, a->xact_time_us);
    adminstats_u64(r, a->query_time_us);
    adminstats_u64(r, a->wait_time_us);
    adminstats_u64(r, a->client_parse_count);
    adminstats_u64(r, a->server_parse_count);
    adminstats_u64(r, a->bind_count);
}

#define N ADMIN_NUMERIC

/* PgBouncer's SHOW STATS: totals since start, then averages over the last stats_period. */
static const struct admin_col adminstats_stats_cols[] = {
    { "database", ADMIN_TEXT },
    { "total_server_assignment_count", N }, { "total_xact_count", N },
    { "total_query_count", N }, { "total_received", N }, { "total_sent", N },
    { "total_xact_time", N }, { "total_query_time", N }, { "total_wait_time", N },
    { "total_client_parse_count", N }, { "total_server_parse_count", N },
    { "total_bind_count", N },
    { "avg_server_assignment_count", N }, { "avg_xact_count", N }, { "avg_query_count", N },
    { "avg_recv", N }, { "avg_sent", N }, { "avg_xact_time", N }, { "avg_query_time", N },
    { "avg_wait_time", N }, { "avg_client_parse_count", N },
    { "avg_server_parse_count", N }, { "avg_bind_count", N },
};

/* SHOW STATS_TOTALS: the totals under PgBouncer's shorter names. */
static const struct admin_col adminstats_totals_cols[] = {
    { "database", ADMIN_TEXT },
    { "server_assignment_count", N }, { "xact_count", N }, { "query_count", N },
    { "bytes_received", N }, { "bytes_sent", N }, { "xact_time", N }, { "query_time", N },
    { "wait_time", N }, { "client_parse_count", N }, { "server_parse_count", N },
    { "bind_count", N },
};

/* SHOW STATS_AVERAGES: the same names for the averages (PgBouncer's, avg_ prefixes too). */
static const struct admin_col adminstats_avgs_cols[] = {
    { "database", ADMIN_TEXT },
    { "server_assignment_count", N }, { "xact_count", N }, { "query_count", N },
    { "bytes_received", N }, { "bytes_sent", N }, { "xact_time", N }, { "query_time", N },
    { "wait_time", N }, { "avg_client_parse_count", N }, { "avg_server_parse_count", N },
    { "avg_bind_count", N },
};

#undef N

#define ADMINSTATS_NCOLS(a) ((int)(sizeof(a) / sizeof((a)[0])))

enum adminstats_kind { ADMINSTATS_BOTH, ADMINSTATS_TOTALS, ADMINSTATS_AVERAGES };

static enum admin_rc adminstats_show(struct session *s, struct admin_reply *r,
                                     const char *args, enum adminstats_kind kind)
{
    static const char *const names[] = {
        [ADMINSTATS_BOTH] = "SHOW STATS", [ADMINSTATS_TOTALS] = "SHOW STATS_TOTALS",
        [ADMINSTATS_AVERAGES] = "SHOW STATS_AVERAGES",
    };
    struct stats_db *dbs;
    size_t n;

    if (admin_no_args(r, names[kind], args) < 0)
        return ADMIN_DONE;
    dbs = adminstats_dbs(s, r, &n);
    if (dbs == NULL)
        return ADMIN_DONE;
    switch (kind) {
    case ADMINSTATS_BOTH:
        admin_columns(r, adminstats_stats_cols, ADMINSTATS_NCOLS(adminstats_stats_cols));
        break;
    case ADMINSTATS_TOTALS:
        admin_columns(r, adminstats_totals_cols, ADMINSTATS_NCOLS(adminstats_totals_cols));
        break;
    case ADMINSTATS_AVERAGES:
        admin_columns(r, adminstats_avgs_cols, ADMINSTATS_NCOLS(adminstats_avgs_cols));
        break;
    }
    for (size_t i = 0; i < n; i++) {
        admin_cell_text(r, dbs[i].name);
        if (kind != ADMINSTATS_AVERAGES)
            adminstats_totals(r, &dbs[i].total);
        if (kind != ADMINSTATS_TOTALS)
            adminstats_avgs(r, &dbs[i].avg);
        admin_row_end(r);
    }
    free(dbs);
    admin_done(r, "SHOW");
    return ADMIN_DONE;
}

static enum admin_rc adminstats_stats(struct session *s, struct admin_reply *r,
                                      const char *args)
{
    return adminstats_show(s, r, args, ADMINSTATS_BOTH);
}

static enum admin_rc adminstats_stats_totals(struct session *s, struct admin_reply *r,
                                             const char *args)
{
    return adminstats_show(s, r, args, ADMINSTATS_TOTALS);
}

static enum admin_rc adminstats_stats_averages(struct session *s, struct admin_reply *r,
                                               const char *args)
{
    return adminstats_show(s, r, args, ADMINSTATS_AVERAGES);
}

/* Most used first; ties by rule, then target, so the order is stable. */
static int adminstats_route_cmp(const void *a, const void *b)
{
    const struct stats_route *x = a, *y = b;
    int c;

    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    c = strcmp(x->rule, y->rule);
    if (c != 0)
        return c;
    return x->target - y->target;
}

static enum admin_rc adminstats_routes(struct session *s, struct admin_reply *r,
                                       const char *args)
{
    static const struct admin_col cols[] = {
        { "rule", ADMIN_TEXT }, { "target", ADMIN_TEXT }, { "count", ADMIN_NUMERIC },
    };
    const struct stats *st = &s->w->stats;
    struct stats_route rows[STATS_ROUTES_MAX];
    unsigned n = st->n_routes;

    if (admin_no_args(r, "SHOW ROUTES", args) < 0)
        return ADMIN_DONE;
    memcpy(rows, st->routes, n * sizeof(rows[0]));
    qsort(rows, n, sizeof(rows[0]), adminstats_route_cmp);
    admin_columns(r, cols, ADMINSTATS_NCOLS(cols));
    for (unsigned i = 0; i < n; i++) {
        admin_cell_text(r, rows[i].rule);
        admin_cell_text(r, route_target_name((enum route_target)rows[i].target));
        adminstats_u64(r, rows[i].count);
        admin_row_end(r);
    }
    if (st->routes_other > 0) {
        admin_cell_text(r, "(other rules)");
        admin_cell_text(r, NULL);
        adminstats_u64(r, st->routes_other);
        admin_row_end(r);
    }
    admin_done(r, "SHOW");
    return ADMIN_DONE;
}

const struct admin_cmd adminstats_cmds[] = {
    { "SHOW STATS", 1, adminstats_stats,
      "per database: totals since start and averages over the last stats_period" },
    { "SHOW STATS_TOTALS", 1, adminstats_stats_totals, "per database: totals since start" },
    { "SHOW STATS_AVERAGES", 1, adminstats_stats_averages,
      "per database: averages over the last stats_period" },
    { "SHOW ROUTES", 1, adminstats_routes,
      "routing decisions by rule and the node role each asked for" },
    { NULL, 0, NULL, NULL },
};
