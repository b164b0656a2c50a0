/*
 * router/admin/stats.h - the counters everything else reads (SHOW STATS and SHOW ROUTES, the
 * stats_period log line, the Prometheus exporter): per pool (node, database, user), per
 * node, routing decisions by rule, errors to clients by SQLSTATE class, and a histogram of
 * query time. They live on the worker that counts them and are plain increments on its
 * loop thread: nothing is allocated per message, nothing is atomic, and any reader must run
 * on that loop. Every counter counts from process start and never goes down (Prometheus
 * counters); the averages are computed over the last complete stats_period.
 *
 * Terms used below:
 *   unit         what the client sends up to the server's ReadyForQuery: one simple Query
 *                (all of its statements), or extended-protocol messages up to Sync. Units
 *                pgrouter answers itself (SET pgrouter.role, errors it raises before a
 *                server is chosen, the admin console) are in no pool.
 *   transaction  units from one that starts on a server outside a transaction to the
 *                ReadyForQuery 'I' that ends it: an autocommit statement is one
 *                transaction, BEGIN ... COMMIT is one.
 *   time         microseconds of the loop's monotonic clock (uv_hrtime), from the moment
 *                the unit's first bytes go to the server.
 */
#ifndef PGROUTER_STATS_H
#define PGROUTER_STATS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Histogram buckets of durations, shared with the pool's wait histogram (pool.h's
 * POOL_WAIT_BUCKETS has the same bounds): bucket 0 counts durations under 1 ms, bucket b
 * (1 <= b < STATS_BUCKETS - 1) durations in [2^(b-1), 2^b) ms, and the last bucket
 * everything from 2^(STATS_BUCKETS - 2) ms (about 17 minutes) up. As a Prometheus
 * histogram: bucket b has the upper bound stats_bucket_le_ms(b) (the last one +Inf);
 * cumulative counts are the running sum from bucket 0.
 */
#define STATS_BUCKETS 22

/* Bucket of a duration in microseconds (the bounds above). */
unsigned stats_bucket_us(uint64_t us);

/* Upper bound of bucket b in ms (exclusive): 1, 2, 4, ...; 0 for the last (+Inf). */
uint64_t stats_bucket_le_ms(unsigned b);

/*
 * What one pool (node, database, user) did, PgBouncer's SHOW STATS meanings (its column
 * names in brackets). SHOW STATS adds up every pool of a database, whatever the node and
 * user.
 */
struct stats_counters {
    uint64_t server_assignment_count;   /* [server_assignment_count] times a server of the
                                         * pool was handed to a client (idle at once, or
                                         * after waiting in the queue) */
    uint64_t xact_count;        /* [xact_count] transactions that ended on the pool's
                                 * servers (ReadyForQuery 'I' after a client unit) */
    uint64_t query_count;       /* [query_count] client units that ended on them
                                 * (ReadyForQuery); a Query of three statements is one */
    uint64_t received;          /* [total_received] bytes received from clients, counted
                                 * when a unit of theirs ends on this pool (what they sent
                                 * since the previous unit ended, so login bytes and a
                                 * last Terminate are not counted) */
    uint64_t sent;              /* [total_sent] bytes of server answers relayed to clients
                                 * (pgrouter's own messages are not counted) */
    uint64_t xact_time_us;      /* [xact_time] time from the start of a transaction's
                                 * first unit to the end of its last, idle in transaction
                                 * included */
    uint64_t query_time_us;     /* [query_time] time units ran on servers */
    uint64_t wait_time_us;      /* [wait_time] time clients waited for a server of this
                                 * pool, added when it was handed over (0 when idle) */
    uint64_t client_parse_count;    /* [client_parse_count] Parse messages of named
                                     * statements from clients, counted when the unit
                                     * ends on this pool */
    uint64_t server_parse_count;    /* [server_parse_count] Parses of named statements
                                     * pgrouter sent to the pool's servers (the client's
                                     * own, or one prepared again on another server) */
    uint64_t bind_count;        /* [bind_count] Bind messages of named statements */
};

/* One pool's counters, with what they were at the last two stats_period ticks. */
struct stats_pool {
    struct stats_counters total;    /* since start (or since the pool was created) */
    struct stats_counters tick;     /* total at the latest tick */
    struct stats_counters prev;     /* total at the tick before */
    uint64_t query_hist[STATS_BUCKETS];     /* units by query time (buckets above) */
};

/*
 * Per node, what pools do not say (queries, transactions and bytes of a node are the sum
 * of its pools: stats_sum_node).
 */
struct stats_node {
    uint64_t breaker_opened;        /* closed -> open: failure_threshold failures in a row,
                                     * or a failed health check */
    uint64_t breaker_half_opened;   /* open -> half-open: the open period ended and a probe
                                     * was let through */
    uint64_t breaker_closed;        /* half-open -> closed: a probe succeeded */
    uint64_t breaker_reopened;      /* half-open -> open: a probe failed (or a health check
                                     * failed meanwhile) */
    uint64_t health_ok;             /* health checks that connected and answered */
    uint64_t health_failed;         /* health checks that failed other than by timeout: the
                                     * node refused, closed, crashed, or the check's own
                                     * login failed (health_check_user) */
    uint64_t health_timeout;        /* health checks past health_check_timeout */
    uint64_t read_retries;          /* reads moved from this node to another because it
                                     * failed before their answer began (lost server, or a
                                     * connection that could not be made); the unit runs
                                     * again elsewhere, unseen by the client */
};

/*
 * Routing decisions by rule and where they sent the unit: the rule strings of route.c
 * (route_decide's reasons, a write's being what made it one: "INSERT", "write
 * function"...) and dispatch.c's own ("transaction", "read-only transaction", "session
 * state that stays on one server"). One decision per unit sent to a server, and one more
 * each time a unit is routed again (a read retried on another node).
 */
#define STATS_ROUTES_MAX 128
struct stats_route {
    const char *rule;               /* static string */
    int target;                     /* enum route_target (route.h) */
    uint64_t count;
};

/* Errors sent to clients, by SQLSTATE class (its first two characters). */
#define STATS_ERROR_CLASSES 64
enum stats_error_src {
    STATS_ERR_OWN = 0,              /* an ErrorResponse pgrouter built (ERROR or FATAL,
                                     * through session_error/session_fatal, and the admin
                                     * console's ERRORs about its commands) */
    STATS_ERR_SERVER,               /* a server's ErrorResponse relayed to the client as
                                     * is (a server's FATAL is not relayed: the client gets
                                     * pgrouter's own error instead, counted as OWN) */
};
struct stats_error {
    char cls[3];                    /* "08", "42"...; "??" for malformed codes and for
                                     * classes past the table (it never fills: there are
                                     * fewer than 50 classes) */
    uint64_t own, server;
};

/* Everything a worker counts that is not per pool or per node. */
struct stats {
    struct stats_route routes[STATS_ROUTES_MAX];
    unsigned n_routes;
    uint64_t routes_other;          /* decisions whose (rule, target) did not fit */
    struct stats_error errors[STATS_ERROR_CLASSES];
    unsigned n_errors;
    uint64_t tick_us, prev_tick_us; /* when the last two stats_period ticks happened
                                     * (uv_hrtime / 1000; 0: not yet) */
};

/*
 * What a client session keeps between its units to charge them to a pool at their end:
 * embedded in struct session, zeroed with it.
 */
struct stats_client {
    uint64_t unit_start_us;         /* the running unit went to its server */
    uint64_t tx_start_us;           /* the open transaction's first unit did; 0: none */
    uint64_t in_charged;            /* client bytes already charged to a pool */
    uint32_t parses, binds;         /* named Parse / Bind messages of the running unit */
};

/* ---- counting (the hot path: no allocation, a few adds) ---- */

/* The loop's clock in microseconds, for the calls below. */
uint64_t stats_now_us(void);

/*
 * A unit's first bytes went to a server at now_us; prev_status: that server's
 * transaction status before it ('I': the unit starts a transaction).
 */
void stats_unit_begin(struct stats_client *sc, char prev_status, uint64_t now_us);

/*
 * A client unit ended with ReadyForQuery status on a server of ps at now_us. in_total:
 * bytes received from the client so far (its connection's counter); server_parses:
 * named statements prepared on that server by the unit.
 */
void stats_unit_end(struct stats_pool *ps, struct stats_client *sc, char status,
                    uint64_t now_us, uint64_t in_total, unsigned server_parses);

/* A server of ps was handed to a client after waiting waited_us (0: one was idle). */
void stats_assign(struct stats_pool *ps, uint64_t waited_us);

/* Server answer bytes relayed to a client. */
static inline void stats_sent(struct stats_pool *ps, size_t n)
{
    ps->total.sent += n;
}

/* A routing decision: rule (a static string; NULL counts as "other") sent it to target. */
void stats_route(struct stats *st, const char *rule, int target);

/* An ErrorResponse to a client with this SQLSTATE (NULL or malformed: class "??"). */
void stats_error(struct stats *st, const char *sqlstate, enum stats_error_src src);

/* ---- reading ---- */

struct worker;

/* Add a's counters into sum. */
void stats_add(struct stats_counters *sum, const struct stats_counters *a);

/*
 * Averages over one period, PgBouncer's: counts and bytes per second over elapsed_us;
 * times per transaction, query or assignment of that period (0 when there were none).
 * now and then: totals at the end and at the start of the period.
 */
struct stats_avg {
    uint64_t server_assignment_count, xact_count, query_count;   /* per second */
    uint64_t recv, sent;                                            /* bytes per second */
    uint64_t xact_time_us, query_time_us, wait_time_us;             /* average durations */
    uint64_t client_parse_count, server_parse_count, bind_count;    /* per second */
};
void stats_average(const struct stats_counters *now, const struct stats_counters *then,
                   uint64_t elapsed_us, struct stats_avg *out);

/*
 * One database's rollup over every pool of w: totals, and averages over the last complete
 * stats_period (all zero before the second tick). Databases come in the order of
 * stats_databases.
 */
struct stats_db {
    char name[64];
    struct stats_counters total;
    struct stats_avg avg;
};

/*
 * Fill out[0..max) with one entry per database that has a pool, sorted by name; returns
 * how many there are (may exceed max: the rest was not written).
 */
size_t stats_databases(struct worker *w, struct stats_db *out, size_t max);

/* Counters of every pool of node id, added up (the per-node queries, bytes...). */
void stats_sum_node(struct worker *w, int node_id, struct stats_counters *out);

/* The query-time histogram of every pool of node id (node_id < 0: all), added up. */
void stats_sum_hist(struct worker *w, int node_id, uint64_t hist[STATS_BUCKETS]);

/*
 * A stats_period tick at now_us: every pool's totals are remembered, and one line per
 * database is logged with its averages over the period that just ended (if log is 1).
 * The worker's maintenance timer calls stats_maybe_tick every second; it ticks when
 * period_ms (stats_period) has passed since the last tick, give or take half a second.
 */
void stats_tick(struct worker *w, uint64_t now_us, int log);
void stats_maybe_tick(struct worker *w, uint64_t now_us, unsigned period_ms);

/* ---- hooks for the counters above that need a name ---- */

/* A breaker of node counters changed from -> to (enum breaker_state values). */
void stats_breaker(struct stats_node *sn, int from, int to);

#endif
