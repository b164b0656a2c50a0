/*
 * router/health.c - health checks of one node: resolve, connect and query with libpq's
 * non-blocking API on the loop, one deadline per check, connection kept between checks.
 * Owns the node's check connection, its poll handle and two timers; reports through
 * the done callback only.
 */
#include "router/health.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "router/log.h"

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

/* host, hostaddr, port, application_name on top of the caller's, and the NULL. */
#define HEALTH_OWN_PARAMS 5

static void health_poll_cb(uv_poll_t *poll, int status, int events);

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

    if (!h->stopping || h->closing > 0 || h->gai_busy)
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

static void health_poll_closed(uv_handle_t *handle)
{
    struct health_node *h = handle->data;

    free(handle);
    h->closing--;
    health_maybe_closed(h);
}

/*
 * Close the poll handle before libpq closes the socket: libuv must not watch an fd
 * that is already closed (its number may come back as another socket).
 */
static void health_poll_close(struct health_node *h)
{
    if (h->poll == NULL)
        return;
    uv_poll_stop(h->poll);
    uv_close((uv_handle_t *)h->poll, health_poll_closed);
    h->closing++;
    h->poll = NULL;
    h->poll_fd = -1;
}

static void health_drop_conn(struct health_node *h)
{
    health_poll_close(h);
    if (h->conn != NULL) {
        PQfinish(h->conn);
        h->conn = NULL;
    }
}

/*
 * Watch the connection's socket for events. libpq may replace the socket while
 * connecting (next address, SSL retry), so compare the fd each time: a new fd gets a
 * new handle. Restarting the poll on the same fd is cheap and also re-registers a
 * socket that libpq closed and reopened under the same number.
 */
static int health_watch(struct health_node *h, int events)
{
    int fd = PQsocket(h->conn);
    int rc;

    if (fd < 0)
        return -EBADF;
    if (h->poll != NULL && h->poll_fd != fd)
        health_poll_close(h);
    if (h->poll == NULL) {
        uv_poll_t *poll = malloc(sizeof(*poll));

        if (poll == NULL)
            return -ENOMEM;
        rc = uv_poll_init(h->loop, poll, fd);
        if (rc < 0) {
            free(poll);
            return rc;
        }
        poll->data = h;
        h->poll = poll;
        h->poll_fd = fd;
    }
    return uv_poll_start(h->poll, events, health_poll_cb);
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
    health_fail(h, "%s: %s", what, h->conn != NULL ? PQerrorMessage(h->conn) : "no connection");
}

static void health_deadline_cb(uv_timer_t *timer)
{
    struct health_node *h = timer->data;
    const char *what = "";

    switch (h->phase) {
    case HEALTH_IDLE:
        return;
    case HEALTH_RESOLVING:
        /* Fails if the lookup already runs; its callback then sees a stale phase. */
        uv_cancel((uv_req_t *)&h->gai);
        what = "resolving the host";
        break;
    case HEALTH_CONNECTING:
        what = "connecting";
        break;
    case HEALTH_QUERYING:
        what = "waiting for the health query";
        break;
    }
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

    if (!PQconsumeInput(h->conn)) {
        health_fail_conn(h, "health query");
        return;
    }
    while (!PQisBusy(h->conn)) {
        PGresult *res = PQgetResult(h->conn);

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
    int rc = PQflush(h->conn);

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
    if (!PQsendQuery(h->conn, health_sql)) {
        health_fail_conn(h, "sending the health query");
        return;
    }
    h->sent_ns = uv_hrtime();
    health_query_flush(h);
}

/* --- connecting ------------------------------------------------------------ */

static void health_connect_poll(struct health_node *h)
{
    int rc;

    switch (PQconnectPoll(h->conn)) {
    case PGRES_POLLING_READING:
        rc = health_watch(h, UV_READABLE);
        break;
    case PGRES_POLLING_WRITING:
        rc = health_watch(h, UV_WRITABLE);
        break;
    case PGRES_POLLING_OK:
        h->connects++;
        if (PQsetnonblocking(h->conn, 1) != 0) {
            health_fail_conn(h, "connect");
            return;
        }
        health_query_send(h);
        return;
    case PGRES_POLLING_FAILED:
    default:
        health_fail_conn(h, "connect");
        return;
    }
    if (rc < 0)
        health_fail(h, "watching the socket: %s", uv_strerror(rc));
}

/* libpq prints notices to stderr by default; a health check has no use for them. */
static void health_notice_ignore(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* Start connecting; with_addrs: pass the resolved addr_list as hostaddr. */
static void health_connect_start(struct health_node *h, int with_addrs)
{
    const char *keys[HEALTH_MAX_PARAMS + HEALTH_OWN_PARAMS];
    const char *vals[HEALTH_MAX_PARAMS + HEALTH_OWN_PARAMS];
    int have_app = 0;
    size_t n = 0;
    int rc;

    for (size_t i = 0; i < h->n_params; i++) {
        have_app |= strcmp(h->keys[i], "application_name") == 0;
        keys[n] = h->keys[i];
        vals[n++] = h->vals[i];
    }
    keys[n] = "host";
    vals[n++] = with_addrs ? h->host_list : h->host;
    if (with_addrs) {
        keys[n] = "hostaddr";
        vals[n++] = h->addr_list;
    }
    keys[n] = "port";
    vals[n++] = h->port_text;
    if (!have_app) {
        keys[n] = "application_name";
        vals[n++] = "pgrouter-health";
    }
    keys[n] = NULL;
    vals[n] = NULL;

    h->phase = HEALTH_CONNECTING;
    h->conn = PQconnectStartParams(keys, vals, 0);
    if (h->conn == NULL) {
        health_fail(h, "connect: out of memory");
        return;
    }
    if (PQstatus(h->conn) == CONNECTION_BAD) {
        health_fail_conn(h, "connect");
        return;
    }
    PQsetNoticeProcessor(h->conn, health_notice_ignore, NULL);
    /* libpq's protocol: after PQconnectStart, wait until writable, then poll. */
    rc = health_watch(h, UV_WRITABLE);
    if (rc < 0)
        health_fail(h, "watching the socket: %s", uv_strerror(rc));
}

static void health_resolved_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct health_node *h = req->data;
    size_t hl = 0, al = 0;
    int k = 0;

    h->gai_busy = 0;
    if (h->stopping || h->phase != HEALTH_RESOLVING) {
        /* Stopped, or this check already timed out. */
        uv_freeaddrinfo(res);
        health_maybe_closed(h);
        return;
    }
    if (status < 0) {
        uv_freeaddrinfo(res);
        health_fail(h, "could not resolve %s: %s", h->host, uv_strerror(status));
        return;
    }
    for (struct addrinfo *ai = res; ai != NULL && k < HEALTH_MAX_ADDRS; ai = ai->ai_next) {
        char addr[INET6_ADDRSTRLEN];
        const void *src;

        if (ai->ai_family == AF_INET)
            src = &((const struct sockaddr_in *)(const void *)ai->ai_addr)->sin_addr;
        else if (ai->ai_family == AF_INET6)
            src = &((const struct sockaddr_in6 *)(const void *)ai->ai_addr)->sin6_addr;
        else
            continue;
        if (inet_ntop(ai->ai_family, src, addr, sizeof(addr)) == NULL)
            continue;
        /* Sizes hold HEALTH_MAX_ADDRS entries of host (< 256) and address (< 46). */
        hl += (size_t)snprintf(h->host_list + hl, sizeof(h->host_list) - hl, "%s%s",
                               k > 0 ? "," : "", h->host);
        al += (size_t)snprintf(h->addr_list + al, sizeof(h->addr_list) - al, "%s%s",
                               k > 0 ? "," : "", addr);
        k++;
    }
    uv_freeaddrinfo(res);
    if (k == 0) {
        health_fail(h, "could not resolve %s: no IPv4 or IPv6 address", h->host);
        return;
    }
    health_connect_start(h, 1);
}

static void health_resolve(struct health_node *h)
{
    struct addrinfo hints;
    int rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    h->phase = HEALTH_RESOLVING;
    h->gai.data = h;
    rc = uv_getaddrinfo(h->loop, &h->gai, health_resolved_cb, h->host, NULL, &hints);
    if (rc < 0) {
        health_fail(h, "could not resolve %s: %s", h->host, uv_strerror(rc));
        return;
    }
    h->gai_busy = 1;
}

/* --- events ----------------------------------------------------------------- */

/* The idle connection became readable: notices, or the server going away. */
static void health_idle_input(struct health_node *h)
{
    PGnotify *note;

    if (!PQconsumeInput(h->conn) || PQstatus(h->conn) != CONNECTION_OK) {
        log_debug("health %s:%u: connection lost while idle: %s", h->host,
                  (unsigned)h->port, PQerrorMessage(h->conn));
        health_drop_conn(h);
        return;
    }
    while ((note = PQnotifies(h->conn)) != NULL)
        PQfreemem(note);
}

static void health_poll_cb(uv_poll_t *poll, int status, int events)
{
    struct health_node *h = poll->data;

    /*
     * libuv reports POLLERR as status UV_EBADF and stops the handle. While connecting
     * that is how a refused connection shows: PQconnectPoll reads SO_ERROR and says
     * what happened (or moves on to the next address), re-arming the poll as usual.
     */
    if (status < 0 && h->phase != HEALTH_CONNECTING) {
        if (h->phase == HEALTH_IDLE)
            health_drop_conn(h);
        else if (h->phase == HEALTH_QUERYING && !PQconsumeInput(h->conn))
            health_fail_conn(h, "health query");
        else
            health_fail(h, "socket error: %s", uv_strerror(status));
        return;
    }
    switch (h->phase) {
    case HEALTH_IDLE:
        health_idle_input(h);
        break;
    case HEALTH_RESOLVING:
        break;
    case HEALTH_CONNECTING:
        health_connect_poll(h);
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
    /* A lookup abandoned by a timed-out check still owns h->gai: skip this round. */
    if (h->stopping || h->phase != HEALTH_IDLE || h->gai_busy)
        return;
    memset(&h->cur, 0, sizeof(h->cur));
    h->cur.replay_lag_ms = -1;
    uv_timer_start(&h->deadline, health_deadline_cb, h->timeout_ms, 0);
    if (h->conn != NULL && PQstatus(h->conn) == CONNECTION_OK) {
        health_query_send(h);
        return;
    }
    health_drop_conn(h);
    if (h->host_is_addr)
        health_connect_start(h, 0);
    else
        health_resolve(h);
}

static void health_tick_cb(uv_timer_t *timer)
{
    health_begin(timer->data);
}

/* --- public ------------------------------------------------------------------ */

/* Numeric IPv4/IPv6 addresses and socket directories need no lookup. */
static int health_host_is_addr(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];

    return host[0] == '/' || inet_pton(AF_INET, host, buf) == 1 ||
           inet_pton(AF_INET6, host, buf) == 1;
}

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
    h->poll_fd = -1;
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
    snprintf(h->port_text, sizeof(h->port_text), "%u", (unsigned)port);
    h->host_is_addr = health_host_is_addr(host);
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
    if (h->gai_busy)
        uv_cancel((uv_req_t *)&h->gai);
    uv_close((uv_handle_t *)&h->tick, health_handle_closed);
    uv_close((uv_handle_t *)&h->deadline, health_handle_closed);
    h->closing += 2;
}
