/*
 * router/cluster/health.c - health checks of one node: connect (through pqloop) and query with
 * libpq's non-blocking API on the loop, one deadline per check, connection kept between
 * checks. Owns the node's check connection and two timers; reports through the done
 * callback only.
 */
#include "router/cluster/health.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router/core/log.h"

/*
 * One round trip for everything a router needs to know: the role, how far the WAL
 * went, and how far behind a standby is. The lag is 0 when the standby has replayed
 * all it received: otherwise an idle primary would make a caught-up standby look
 * ever more lagged, since the last replayed commit only gets older.
 */
static const char health_sql[] =
    "SELECT pg_is_in_recovery(),"
    " CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()"
    " ELSE pg_current_wal_lsn() END,"
    " CASE WHEN NOT pg_is_in_recovery() THEN NULL"
    " WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0"
    " ELSE (extract(epoch FROM now() - pg_last_xact_replay_timestamp()) * 1000)::bigint"
    " END,"
    " pg_last_wal_receive_lsn()";

static void health_io_cb(struct pqloop *pq, int status, int events);

int health_parse_lsn(const char *text, uint64_t *out)
{
    uint64_t part[2] = { 0, 0 };
    const char *p = text;

    for (int i = 0; i < 2; i++) {
        int digits = 0;

        for (; digits < 9; p++, digits++) {
            int v;

            if (*p >= '0' && *p <= '9')
                v = *p - '0';
            else if (*p >= 'a' && *p <= 'f')
                v = *p - 'a' + 10;
            else if (*p >= 'A' && *p <= 'F')
                v = *p - 'A' + 10;
            else
                break;
            part[i] = part[i] << 4 | (uint64_t)v;
        }
        if (digits == 0 || digits > 8)
            return -EINVAL;
        if (*p != (i == 0 ? '/' : '\0'))
            return -EINVAL;
        p++;
    }
    *out = part[0] << 32 | part[1];
    return 0;
}

/* --- connection and handles --------------------------------------------- */

static void health_maybe_closed(struct health_node *h)
{
    health_closed_fn cb = h->closed;

    if (!h->stopping || h->closing > 0)
        return;
    for (size_t i = 0; i < h->n_params; i++) {
        free(h->keys[i]);
        free(h->vals[i]);
        h->keys[i] = h->vals[i] = NULL;
    }
    h->n_params = 0;
    h->closed = NULL;
    if (cb != NULL)
        cb(h);
}

static void health_handle_closed(uv_handle_t *handle)
{
    struct health_node *h = handle->data;

    h->closing--;
    health_maybe_closed(h);
}

/* Close the connection (and abandon an attempt); pqloop closes the poll handle first. */
static void health_drop_conn(struct health_node *h)
{
    pqloop_drop(&h->pq);
}

/* Watch the connection's socket for events (pqloop follows a socket libpq replaced). */
static int health_watch(struct health_node *h, int events)
{
    return pqloop_watch(&h->pq, events, health_io_cb);
}

/* --- ending a check -------------------------------------------------------- */

/* The check ended (h->cur filled in): record it and tell the caller, last of all. */
static void health_report(struct health_node *h)
{
    uv_timer_stop(&h->deadline);
    h->phase = HEALTH_IDLE;
    h->cur.checked_at_ms = uv_now(h->loop);
    h->last = h->cur;
    h->checks++;
    h->failures = h->last.ok ? 0 : h->failures + 1;
    if (h->done != NULL)
        h->done(h, &h->last);
}

/* Fail the check with a message; the connection is dropped (state unknown). */
__attribute__((format(printf, 2, 3)))
static void health_fail(struct health_node *h, const char *fmt, ...)
{
    char msg[HEALTH_ERROR_MAX];
    size_t n = 0;
    va_list ap;

    /* Format first: arguments may point into h->cur or into the connection. */
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    memset(&h->cur, 0, sizeof(h->cur));
    h->cur.replay_lag_ms = -1;
    h->cur.node_down = !h->login_failed;
    h->cur.timed_out = h->timing_out;
    h->timing_out = 0;
    h->login_failed = 0;
    /* libpq messages span lines ("...\n\tIs the server running..."): make one line. */
    for (const char *p = msg; *p != '\0'; p++) {
        int space = *p == ' ' || *p == '\t' || *p == '\r' || *p == '\n';

        if (space && (n == 0 || h->cur.error[n - 1] == ' '))
            continue;
        h->cur.error[n++] = space ? ' ' : *p;
    }
    while (n > 0 && h->cur.error[n - 1] == ' ')
        n--;
    h->cur.error[n] = '\0';
    log_debug("health %s:%u: %s", h->host, (unsigned)h->port, h->cur.error);
    health_drop_conn(h);
    health_report(h);
}

static void health_fail_conn(struct health_node *h, const char *what)
{
    health_fail(h, "%s: %s", what,
                h->pq.pg != NULL ? PQerrorMessage(h->pq.pg) : "no connection");
}

static void health_deadline_cb(uv_timer_t *timer)
{
    struct health_node *h = timer->data;
    const char *what = "";

    switch (h->phase) {
    case HEALTH_IDLE:
        return;
    case HEALTH_CONNECTING:
        what = pqloop_resolving(&h->pq) ? "resolving the host" : "connecting";
        break;
    case HEALTH_QUERYING:
        what = "waiting for the health query";
        break;
    }
    h->timing_out = 1;
    health_fail(h, "timeout after %u ms %s", h->timeout_ms, what);
}

/* --- the query ------------------------------------------------------------- */

static int health_read_row(struct health_node *h, const PGresult *res)
{
    struct health_result *r = &h->cur;

    if (PQntuples(res) != 1 || PQnfields(res) != 4 || PQgetisnull(res, 0, 0))
        return -EINVAL;
    r->in_recovery = PQgetvalue(res, 0, 0)[0] == 't';
    if (!PQgetisnull(res, 0, 1) && health_parse_lsn(PQgetvalue(res, 0, 1), &r->lsn) < 0)
        return -EINVAL;
    r->replay_lag_ms = -1;
    if (!PQgetisnull(res, 0, 2)) {
        long long lag = strtoll(PQgetvalue(res, 0, 2), NULL, 10);

        /* Clocks of primary and standby differ a little; never report negative lag. */
        r->replay_lag_ms = lag > 0 ? lag : 0;
    }
    if (!PQgetisnull(res, 0, 3) &&
        health_parse_lsn(PQgetvalue(res, 0, 3), &r->receive_lsn) < 0)
        return -EINVAL;
    return 0;
}

static void health_query_done(struct health_node *h)
{
    uint64_t rtt = (uv_hrtime() - h->sent_ns) / 1000;

    h->cur.ok = 1;
    h->cur.rtt_us = rtt > UINT32_MAX ? UINT32_MAX : (uint32_t)rtt;
    /* Watch the idle connection so that a server going away is noticed at once. */
    if (health_watch(h, UV_READABLE) < 0)
        health_drop_conn(h);
    health_report(h);
}

/* Read what arrived; report once the last result is in. */
static void health_query_input(struct health_node *h)
{
    int got_row = 0;

    if (!PQconsumeInput(h->pq.pg)) {
        health_fail_conn(h, "health query");
        return;
    }
    while (!PQisBusy(h->pq.pg)) {
        PGresult *res = PQgetResult(h->pq.pg);

        if (res == NULL) {
            if (h->cur.error[0] != '\0') {
                health_fail(h, "health query: %s", h->cur.error);
                return;
            }
            health_query_done(h);
            return;
        }
        if (PQresultStatus(res) == PGRES_TUPLES_OK && !got_row) {
            if (health_read_row(h, res) < 0)
                snprintf(h->cur.error, sizeof(h->cur.error), "unexpected answer");
            got_row = 1;
        } else if (h->cur.error[0] == '\0') {
            snprintf(h->cur.error, sizeof(h->cur.error), "%s",
                     PQresultErrorMessage(res)[0] != '\0' ? PQresultErrorMessage(res)
                                                          : PQresStatus(PQresultStatus(res)));
        }
        PQclear(res);
    }
}

/* Flush what libpq holds, then wait for input (and for writability if more is left). */
static void health_query_flush(struct health_node *h)
{
    int rc = PQflush(h->pq.pg);

    if (rc < 0) {
        health_fail_conn(h, "health query");
        return;
    }
    rc = health_watch(h, rc > 0 ? UV_READABLE | UV_WRITABLE : UV_READABLE);
    if (rc < 0)
        health_fail(h, "watching the socket: %s", uv_strerror(rc));
}

static void health_query_send(struct health_node *h)
{
    h->phase = HEALTH_QUERYING;
    if (!PQsendQuery(h->pq.pg, health_sql)) {
        health_fail_conn(h, "sending the health query");
        return;
    }
    h->sent_ns = uv_hrtime();
    health_query_flush(h);
}

/* --- connecting ------------------------------------------------------------ */

static void health_connected_cb(struct pqloop *pq, const struct pqloop_error *err)
{
    struct health_node *h = pq->arg;

    if (h->stopping || h->phase != HEALTH_CONNECTING)
        return;
    if (err != NULL) {
        /* The health check's own login (user, password, database) is not the node's. */
        h->login_failed = err->fault != PQLOOP_FAULT_NODE;
        health_fail(h, "connect: %s (%s)", err->message, err->sqlstate);
        return;
    }
    h->connects++;
    if (PQsetnonblocking(h->pq.pg, 1) != 0) {
        health_fail_conn(h, "connect");
        return;
    }
    health_query_send(h);
}

static void health_connect_start(struct health_node *h)
{
    const char *keys[HEALTH_MAX_PARAMS + 2], *vals[HEALTH_MAX_PARAMS + 2];
    struct pqloop_error err;
    int have_app = 0;
    size_t n = 0;

    for (size_t i = 0; i < h->n_params; i++) {
        have_app |= strcmp(h->keys[i], "application_name") == 0;
        keys[n] = h->keys[i];
        vals[n++] = h->vals[i];
    }
    if (!have_app) {
        keys[n] = "application_name";
        vals[n++] = "pgrouter-health";
    }
    keys[n] = NULL;
    vals[n] = NULL;
    h->phase = HEALTH_CONNECTING;
    if (pqloop_connect(&h->pq, h->host, h->port, keys, vals, health_connected_cb, &err) < 0)
        health_fail(h, "connect: %s (%s)", err.message, err.sqlstate);
}

/* --- events ----------------------------------------------------------------- */

/* The idle connection became readable: notices, or the server going away. */
static void health_idle_input(struct health_node *h)
{
    PGnotify *note;

    if (!PQconsumeInput(h->pq.pg) || PQstatus(h->pq.pg) != CONNECTION_OK) {
        log_debug("health %s:%u: connection lost while idle: %s", h->host,
                  (unsigned)h->port, PQerrorMessage(h->pq.pg));
        health_drop_conn(h);
        return;
    }
    while ((note = PQnotifies(h->pq.pg)) != NULL)
        PQfreemem(note);
}

/* The connected socket: pqloop drives it itself while connecting. */
static void health_io_cb(struct pqloop *pq, int status, int events)
{
    struct health_node *h = pq->arg;

    /* libuv reports POLLERR as status UV_EBADF and stops the handle. */
    if (status < 0) {
        if (h->phase == HEALTH_IDLE)
            health_drop_conn(h);
        else if (h->phase == HEALTH_QUERYING && !PQconsumeInput(h->pq.pg))
            health_fail_conn(h, "health query");
        else
            health_fail(h, "socket error: %s", uv_strerror(status));
        return;
    }
    switch (h->phase) {
    case HEALTH_IDLE:
        health_idle_input(h);
        break;
    case HEALTH_CONNECTING:
        break;
    case HEALTH_QUERYING:
        if (events & UV_WRITABLE) {
            /* Flushing re-arms the poll for input, with writable only if needed. */
            health_query_flush(h);
            if (h->phase != HEALTH_QUERYING)
                return;
        }
        if (events & UV_READABLE)
            health_query_input(h);
        break;
    }
}

static void health_begin(struct health_node *h)
{
    if (h->stopping || h->phase != HEALTH_IDLE)
        return;
    memset(&h->cur, 0, sizeof(h->cur));
    h->cur.replay_lag_ms = -1;
    uv_timer_start(&h->deadline, health_deadline_cb, h->timeout_ms, 0);
    if (h->pq.pg != NULL && PQstatus(h->pq.pg) == CONNECTION_OK) {
        health_query_send(h);
        return;
    }
    health_drop_conn(h);
    health_connect_start(h);
}

static void health_tick_cb(uv_timer_t *timer)
{
    health_begin(timer->data);
}

/* --- public ------------------------------------------------------------------ */

static int health_ignored_key(const char *key)
{
    return strcmp(key, "host") == 0 || strcmp(key, "hostaddr") == 0 ||
           strcmp(key, "port") == 0;
}

int health_start(struct health_node *h, uv_loop_t *loop, const char *host, uint16_t port,
                 const char *const *keys, const char *const *vals, unsigned interval_ms,
                 unsigned timeout_ms, health_done_fn cb, void *arg)
{
    int rc = -EINVAL;

    memset(h, 0, sizeof(*h));
    if (loop == NULL || host == NULL || host[0] == '\0' || strlen(host) >= sizeof(h->host) ||
        interval_ms == 0 || timeout_ms == 0 || (keys == NULL) != (vals == NULL))
        return -EINVAL;
    for (size_t i = 0; keys != NULL && keys[i] != NULL; i++) {
        if (vals[i] == NULL)
            goto fail;
        if (health_ignored_key(keys[i]))
            continue;
        if (h->n_params == HEALTH_MAX_PARAMS)
            goto fail;
        h->keys[h->n_params] = strdup(keys[i]);
        h->vals[h->n_params] = strdup(vals[i]);
        h->n_params++;
        if (h->keys[h->n_params - 1] == NULL || h->vals[h->n_params - 1] == NULL) {
            rc = -ENOMEM;
            goto fail;
        }
    }
    h->loop = loop;
    snprintf(h->host, sizeof(h->host), "%s", host);
    h->port = port;
    pqloop_init(&h->pq, loop, h);
    h->interval_ms = interval_ms;
    h->timeout_ms = timeout_ms;
    h->done = cb;
    h->arg = arg;
    h->last.replay_lag_ms = -1;
    uv_timer_init(loop, &h->tick);
    uv_timer_init(loop, &h->deadline);
    h->tick.data = h;
    h->deadline.data = h;
    uv_timer_start(&h->tick, health_tick_cb, 0, interval_ms);
    return 0;
fail:
    for (size_t i = 0; i < h->n_params; i++) {
        free(h->keys[i]);
        free(h->vals[i]);
    }
    h->n_params = 0;
    return rc;
}

void health_check_now(struct health_node *h)
{
    health_begin(h);
}

void health_stop(struct health_node *h, health_closed_fn cb)
{
    if (h->stopping)
        return;
    h->stopping = 1;
    h->closed = cb;
    h->phase = HEALTH_IDLE;
    health_drop_conn(h);
    uv_close((uv_handle_t *)&h->tick, health_handle_closed);
    uv_close((uv_handle_t *)&h->deadline, health_handle_closed);
    h->closing += 2;
}
