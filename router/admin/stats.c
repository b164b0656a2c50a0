/*
 * router/admin/stats.c - counting (units, transactions, bytes, waits, routing rules, error
 * classes, breaker transitions) and reading it back: rollups per database and per node,
 * PgBouncer's averages over the last stats_period, and the period's log line.
 */
#include "router/admin/stats.h"

#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "router/cluster/breaker.h"
#include "router/core/log.h"
#include "router/pool/pool.h"
#include "router/worker.h"

unsigned stats_bucket_us(uint64_t us)
{
    uint64_t ms = us / 1000;
    unsigned b = 0;

    while (b + 1 < STATS_BUCKETS && ms >= (1ull << b))
        b++;
    return b;
}

uint64_t stats_bucket_le_ms(unsigned b)
{
    return b + 1 < STATS_BUCKETS ? 1ull << b : 0;
}

uint64_t stats_now_us(void)
{
    return uv_hrtime() / 1000;
}

void stats_unit_begin(struct stats_client *sc, char prev_status, uint64_t now_us)
{
    sc->unit_start_us = now_us;
    /* A unit on a server outside a transaction starts one; so does the first unit after
     * a BEGIN pgrouter held back (its server already says 'T'). */
    if (prev_status == 'I' || sc->tx_start_us == 0)
        sc->tx_start_us = now_us;
}

void stats_unit_end(struct stats_pool *ps, struct stats_client *sc, char status,
                    uint64_t now_us, uint64_t in_total, unsigned server_parses)
{
    struct stats_counters *t = &ps->total;
    uint64_t q = now_us > sc->unit_start_us ? now_us - sc->unit_start_us : 0;

    t->query_count++;
    t->query_time_us += q;
    ps->query_hist[stats_bucket_us(q)]++;
    if (status == 'I') {
        uint64_t start = sc->tx_start_us != 0 ? sc->tx_start_us : sc->unit_start_us;

        t->xact_count++;
        t->xact_time_us += now_us > start ? now_us - start : 0;
        sc->tx_start_us = 0;
    }
    if (in_total > sc->in_charged) {
        t->received += in_total - sc->in_charged;
        sc->in_charged = in_total;
    }
    t->client_parse_count += sc->parses;
    t->bind_count += sc->binds;
    t->server_parse_count += server_parses;
    sc->parses = sc->binds = 0;
}

void stats_assign(struct stats_pool *ps, uint64_t waited_us)
{
    ps->total.server_assignment_count++;
    ps->total.wait_time_us += waited_us;
}

void stats_route(struct stats *st, const char *rule, int target)
{
    unsigned i;

    if (rule == NULL) {
        st->routes_other++;
        return;
    }
    /* Rules are static strings: the same pointer nearly always, the text otherwise. */
    for (i = 0; i < st->n_routes; i++) {
        if (st->routes[i].rule == rule && st->routes[i].target == target) {
            st->routes[i].count++;
            return;
        }
    }
    for (i = 0; i < st->n_routes; i++) {
        if (st->routes[i].target == target && strcmp(st->routes[i].rule, rule) == 0) {
            st->routes[i].count++;
            return;
        }
    }
    if (st->n_routes == STATS_ROUTES_MAX) {
        st->routes_other++;
        return;
    }
    st->routes[st->n_routes].rule = rule;
    st->routes[st->n_routes].target = target;
    st->routes[st->n_routes].count = 1;
    st->n_routes++;
}

static int stats_class_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z');
}

void stats_error(struct stats *st, const char *sqlstate, enum stats_error_src src)
{
    char cls[3] = "??";
    struct stats_error *e = NULL;

    if (sqlstate != NULL && stats_class_char(sqlstate[0]) && stats_class_char(sqlstate[1])) {
        cls[0] = sqlstate[0];
        cls[1] = sqlstate[1];
    }
    for (unsigned i = 0; i < st->n_errors; i++) {
        if (memcmp(st->errors[i].cls, cls, 2) == 0) {
            e = &st->errors[i];
            break;
        }
    }
    if (e == NULL) {
        if (st->n_errors == STATS_ERROR_CLASSES) {
            /* Full (never with real codes): the last entry takes the rest as "??". */
            e = &st->errors[STATS_ERROR_CLASSES - 1];
            memcpy(e->cls, "??", 3);
        } else {
            e = &st->errors[st->n_errors++];
            memcpy(e->cls, cls, 3);
        }
    }
    if (src == STATS_ERR_SERVER)
        e->server++;
    else
        e->own++;
}

void stats_breaker(struct stats_node *sn, int from, int to)
{
    if (from == BREAKER_CLOSED && to == BREAKER_OPEN)
        sn->breaker_opened++;
    else if (from == BREAKER_OPEN && to == BREAKER_HALF_OPEN)
        sn->breaker_half_opened++;
    else if (from == BREAKER_HALF_OPEN && to == BREAKER_CLOSED)
        sn->breaker_closed++;
    else if (from == BREAKER_HALF_OPEN && to == BREAKER_OPEN)
        sn->breaker_reopened++;
    else if (from == BREAKER_OPEN && to == BREAKER_CLOSED)
        sn->breaker_closed++;   /* seen as one change: half-open and closed in a row */
}

/* ---- reading ---- */

void stats_add(struct stats_counters *sum, const struct stats_counters *a)
{
    sum->server_assignment_count += a->server_assignment_count;
    sum->xact_count += a->xact_count;
    sum->query_count += a->query_count;
    sum->received += a->received;
    sum->sent += a->sent;
    sum->xact_time_us += a->xact_time_us;
    sum->query_time_us += a->query_time_us;
    sum->wait_time_us += a->wait_time_us;
    sum->client_parse_count += a->client_parse_count;
    sum->server_parse_count += a->server_parse_count;
    sum->bind_count += a->bind_count;
}

/* Per second over elapsed_us, without overflow for any realistic count. */
static uint64_t stats_rate(uint64_t now, uint64_t then, uint64_t elapsed_us)
{
    uint64_t d = now > then ? now - then : 0;

    if (elapsed_us == 0)
        return 0;
    if (d > UINT64_MAX / 1000000u)
        return d / elapsed_us * 1000000u;
    return d * 1000000u / elapsed_us;
}

static uint64_t stats_mean(uint64_t sum_now, uint64_t sum_then, uint64_t n_now,
                           uint64_t n_then)
{
    uint64_t n = n_now > n_then ? n_now - n_then : 0;

    if (n == 0 || sum_now < sum_then)
        return 0;
    return (sum_now - sum_then) / n;
}

void stats_average(const struct stats_counters *now, const struct stats_counters *then,
                   uint64_t elapsed_us, struct stats_avg *out)
{
    out->server_assignment_count = stats_rate(now->server_assignment_count,
                                              then->server_assignment_count, elapsed_us);
    out->xact_count = stats_rate(now->xact_count, then->xact_count, elapsed_us);
    out->query_count = stats_rate(now->query_count, then->query_count, elapsed_us);
    out->recv = stats_rate(now->received, then->received, elapsed_us);
    out->sent = stats_rate(now->sent, then->sent, elapsed_us);
    out->client_parse_count = stats_rate(now->client_parse_count, then->client_parse_count,
                                         elapsed_us);
    out->server_parse_count = stats_rate(now->server_parse_count, then->server_parse_count,
                                         elapsed_us);
    out->bind_count = stats_rate(now->bind_count, then->bind_count, elapsed_us);
    out->xact_time_us = stats_mean(now->xact_time_us, then->xact_time_us, now->xact_count,
                                   then->xact_count);
    out->query_time_us = stats_mean(now->query_time_us, then->query_time_us,
                                    now->query_count, then->query_count);
    out->wait_time_us = stats_mean(now->wait_time_us, then->wait_time_us,
                                   now->server_assignment_count,
                                   then->server_assignment_count);
}

/* Index of name in out[0..n) (which is sorted), or where it goes (negative: -1 - at). */
static long stats_find_db(const char (*names)[64], size_t n, const char *name)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(names[mid], name);

        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1 - (long)lo;
}

size_t stats_databases(struct worker *w, struct stats_db *out, size_t max)
{
    /* Names of every database with a pool, sorted; a pool's db is at most 63 bytes. */
    size_t n = 0, cap = 0;
    char (*names)[64] = NULL;
    struct stats_counters *tick = NULL, *prev = NULL;
    uint64_t elapsed = w->stats.tick_us > w->stats.prev_tick_us && w->stats.prev_tick_us != 0
                       ? w->stats.tick_us - w->stats.prev_tick_us : 0;

    for (const struct pool *p = w->pools; p != NULL; p = p->next) {
        long at = stats_find_db((const char (*)[64])names, n, p->db);

        if (at >= 0)
            continue;
        if (n == cap) {
            size_t c = cap ? cap * 2 : 16;
            char (*nn)[64] = realloc(names, c * sizeof(*names));

            if (nn == NULL)
                break;  /* out of memory: the databases so far */
            names = nn;
            cap = c;
        }
        at = -1 - at;
        memmove(names + at + 1, names + at, (n - (size_t)at) * sizeof(*names));
        memcpy(names[at], p->db, sizeof(names[at]));
        names[at][63] = '\0';
        n++;
    }
    tick = calloc(n > 0 ? n : 1, sizeof(*tick));
    prev = calloc(n > 0 ? n : 1, sizeof(*prev));
    for (size_t i = 0; i < n && i < max; i++) {
        memset(&out[i], 0, sizeof(out[i]));
        memcpy(out[i].name, names[i], sizeof(out[i].name));
    }
    for (const struct pool *p = w->pools; p != NULL; p = p->next) {
        long at = stats_find_db((const char (*)[64])names, n, p->db);

        if (at < 0 || (size_t)at >= max)
            continue;
        stats_add(&out[at].total, &p->stats.total);
        if (tick != NULL && prev != NULL) {
            stats_add(&tick[at], &p->stats.tick);
            stats_add(&prev[at], &p->stats.prev);
        }
    }
    for (size_t i = 0; i < n && i < max && tick != NULL && prev != NULL; i++)
        stats_average(&tick[i], &prev[i], elapsed, &out[i].avg);
    free(tick);
    free(prev);
    free(names);
    return n;
}

void stats_sum_node(struct worker *w, int node_id, struct stats_counters *out)
{
    memset(out, 0, sizeof(*out));
    for (const struct pool *p = w->pools; p != NULL; p = p->next)
        if (p->node_id == node_id)
            stats_add(out, &p->stats.total);
}

void stats_sum_hist(struct worker *w, int node_id, uint64_t hist[STATS_BUCKETS])
{
    memset(hist, 0, STATS_BUCKETS * sizeof(hist[0]));
    for (const struct pool *p = w->pools; p != NULL; p = p->next)
        if (node_id < 0 || p->node_id == node_id)
            for (unsigned b = 0; b < STATS_BUCKETS; b++)
                hist[b] += p->stats.query_hist[b];
}

void stats_tick(struct worker *w, uint64_t now_us, int log)
{
    struct stats_db *dbs;
    size_t n, got;

    for (struct pool *p = w->pools; p != NULL; p = p->next) {
        p->stats.prev = p->stats.tick;
        p->stats.tick = p->stats.total;
    }
    w->stats.prev_tick_us = w->stats.tick_us;
    w->stats.tick_us = now_us;
    if (!log || w->stats.prev_tick_us == 0)
        return;     /* the first tick starts the first period */
    n = stats_databases(w, NULL, 0);
    if (n == 0)
        return;
    dbs = calloc(n, sizeof(*dbs));
    if (dbs == NULL)
        return;
    got = stats_databases(w, dbs, n);
    for (size_t i = 0; i < got && i < n; i++) {
        const struct stats_avg *a = &dbs[i].avg;

        log_info("stats: database %s: %llu xacts/s, %llu queries/s, in %llu B/s, "
                 "out %llu B/s, xact %llu us, query %llu us, wait %llu us", dbs[i].name,
                 (unsigned long long)a->xact_count, (unsigned long long)a->query_count,
                 (unsigned long long)a->recv, (unsigned long long)a->sent,
                 (unsigned long long)a->xact_time_us, (unsigned long long)a->query_time_us,
                 (unsigned long long)a->wait_time_us);
    }
    free(dbs);
}

void stats_maybe_tick(struct worker *w, uint64_t now_us, unsigned period_ms)
{
    uint64_t period_us = (uint64_t)period_ms * 1000u;

    if (w->stats.tick_us == 0) {
        stats_tick(w, now_us, 0);   /* the first period starts now */
        return;
    }
    /* Half a second early is on time: the caller runs once a second. */
    if (now_us - w->stats.tick_us + 500000u < period_us)
        return;
    stats_tick(w, now_us, 1);
}
