/*
 * router/auth/authq.c - auth_query lookups (see authq.h): one libpq connection per lookup to
 * the primary of the client's cluster, driven by pqloop and a deadline timer, and the
 * worker's cache of answers. A user the query does not know (no row, or a NULL secret)
 * is cached like any other answer and gets the same mock exchange as a wrong password,
 * so nobody learns which users exist. A failed lookup fails the waiting logins; only a
 * failure of the node itself (refused, timed out, lost) counts against its breaker.
 */
#include "router/auth/authq.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <uv.h>

#include "config/userlist.h"
#include "router/core/log.h"
#include "router/pool/pqloop.h"
#include "router/session/login.h"
#include "router/session/session.h"
#include "router/pool/srvtls.h"

#define AUTHQ_DEFAULT_TIMEOUT_MS 15000

enum authq_state { AUTHQ_LOOKING = 0, AUTHQ_READY };

struct authq_entry {
    struct authq_entry *next, *prev;
    struct authq *q;
    enum authq_state state;
    char cluster[64];
    char db[64];
    char user[64];
    char *secret;               /* READY: the answer; NULL = no such user */
    uint64_t expires_ms;
    struct session *waiters;    /* LOOKING: linked through session->authq_next */
    /* LOOKING only: */
    struct pqloop pq;
    uv_timer_t *timer;          /* the lookup's deadline; freed in its close callback */
    unsigned timeout_ms;
    int node;
    char node_name[280];
    char *query;                /* auth_query of the snapshot that started it */
    int have_answer;            /* a row came: secret holds its value (or NULL) */
};

struct authq {
    struct worker *w;
    struct authq_entry *head;
    size_t n;
    unsigned inflight;
};

static struct authq *authq_get(struct worker *w)
{
    if (w->authq == NULL) {
        w->authq = calloc(1, sizeof(*w->authq));
        if (w->authq != NULL)
            w->authq->w = w;
    }
    return w->authq;
}

static void authq_timer_closed(uv_handle_t *h)
{
    free(h);
}

/* End the lookup's I/O: the connection and the deadline. */
static void authq_stop(struct authq_entry *e)
{
    pqloop_drop(&e->pq);
    if (e->timer != NULL) {
        uv_close((uv_handle_t *)e->timer, authq_timer_closed);
        e->timer = NULL;
    }
    free(e->query);
    e->query = NULL;
}

static void authq_unlink_free(struct authq_entry *e)
{
    struct authq *q = e->q;

    authq_stop(e);
    if (e->prev != NULL)
        e->prev->next = e->next;
    else
        q->head = e->next;
    if (e->next != NULL)
        e->next->prev = e->prev;
    q->n--;
    free(e->secret);
    free(e);
}

/*
 * Hand the answer (ok) or the failure (sqlstate, msg) to every session waiting for e.
 * Sessions that closed meanwhile are skipped.
 */
static void authq_deliver(struct authq_entry *e, int ok, const char *sqlstate,
                          const char *msg)
{
    struct session *s = e->waiters, *next;

    e->waiters = NULL;
    for (; s != NULL; s = next) {
        next = s->authq_next;
        s->authq = NULL;
        s->authq_next = NULL;
        if (s->state == SESSION_CLOSING)
            continue;
        if (!ok) {
            session_fatal(s, sqlstate, NULL, "%s", msg);
            continue;
        }
        login_exchange(s, (enum auth_method)s->authq_method, e->secret);
        /* bytes the client sent while it waited */
        if (s->state == SESSION_AUTH)
            login_read(s);
    }
}

/* The lookup ended: cache the answer, or forget the entry after failing its waiters. */
static void authq_finish(struct authq_entry *e, int ok, const char *sqlstate, const char *msg)
{
    struct authq *q = e->q;
    struct worker *w = q->w;

    authq_stop(e);
    q->inflight--;
    if (ok) {
        e->state = AUTHQ_READY;
        e->expires_ms = uv_now(w->loop) + w->cfg->auth_query_cache_ttl_ms;
        log_debug("auth_query: user \"%s\" in %s: %s", e->user, e->db,
                  e->secret != NULL ? "found" : "no such user");
        authq_deliver(e, 1, NULL, NULL);
        return;
    }
    log_warn("auth_query for user \"%s\" in database %s on %s failed: %s", e->user, e->db,
             e->node_name, msg);
    authq_deliver(e, 0, sqlstate, msg);
    authq_unlink_free(e);
}

static void authq_fail_node(struct authq_entry *e, const char *why)
{
    char msg[PQLOOP_MESSAGE_MAX + 700];

    snprintf(msg, sizeof(msg), "could not look up user \"%s\" with auth_query: the primary "
             "%s did not answer (%s)", e->user, e->node_name, why);
    nodes_failure(e->q->w->nodes, e->node, uv_now(e->q->w->loop), why);
    authq_finish(e, 0, "08006", msg);
}

static void authq_fail_query(struct authq_entry *e, const char *why)
{
    char msg[PQLOOP_MESSAGE_MAX + 700];

    snprintf(msg, sizeof(msg), "could not look up user \"%s\" with auth_query on %s: %s",
             e->user, e->node_name, why);
    authq_finish(e, 0, "28000", msg);
}

/* One result of the query. 0 to go on, -1 after failing the lookup. */
static int authq_result(struct authq_entry *e, PGresult *res)
{
    const char *v;
    int col;

    switch (PQresultStatus(res)) {
    case PGRES_TUPLES_OK:
        break;
    case PGRES_COMMAND_OK:
        return 0;
    default: {
        char why[PQLOOP_MESSAGE_MAX];
        const char *m = PQresultErrorMessage(res);

        snprintf(why, sizeof(why), "%.*s", (int)strcspn(m, "\n"), m);
        authq_fail_query(e, why);
        return -1;
    }
    }
    if (e->have_answer || PQntuples(res) == 0 || PQnfields(res) == 0)
        return 0;
    e->have_answer = 1;
    col = PQnfields(res) >= 2 ? 1 : 0;      /* PgBouncer's query: usename, passwd */
    if (PQgetisnull(res, 0, col))
        return 0;
    v = PQgetvalue(res, 0, col);
    if (strlen(v) > AUTHQ_SECRET_MAX || v[0] == '\0') {
        log_warn("auth_query: the secret of user \"%s\" is empty or longer than %d bytes; "
                 "the user cannot log in", e->user, AUTHQ_SECRET_MAX);
        return 0;
    }
    e->secret = strdup(v);
    if (e->secret == NULL) {
        authq_finish(e, 0, "53200", "out of memory");
        return -1;
    }
    return 0;
}

static void authq_io(struct pqloop *pq, int status, int events)
{
    struct authq_entry *e = pq->arg;
    PGresult *res;

    if (status < 0) {
        authq_fail_node(e, uv_strerror(status));
        return;
    }
    if (events & UV_WRITABLE) {
        int rc = PQflush(pq->pg);

        if (rc < 0) {
            authq_fail_node(e, "connection lost while sending the query");
            return;
        }
        if (rc == 0 && pqloop_watch(pq, UV_READABLE, authq_io) < 0) {
            authq_fail_node(e, "cannot watch the connection");
            return;
        }
    }
    if (!(events & UV_READABLE))
        return;
    if (!PQconsumeInput(pq->pg)) {
        authq_fail_node(e, "connection lost during the query");
        return;
    }
    while (!PQisBusy(pq->pg)) {
        res = PQgetResult(pq->pg);
        if (res == NULL) {
            authq_finish(e, 1, NULL, NULL);
            return;
        }
        if (authq_result(e, res) < 0) {
            PQclear(res);
            return;
        }
        PQclear(res);
    }
}

static void authq_connected(struct pqloop *pq, const struct pqloop_error *err)
{
    struct authq_entry *e = pq->arg;
    const char *params[1] = { e->user };
    int rc;

    if (err != NULL) {
        if (err->fault == PQLOOP_FAULT_NODE) {
            authq_fail_node(e, err->message);
        } else {
            char why[PQLOOP_MESSAGE_MAX + 64];

            snprintf(why, sizeof(why), "auth_user cannot log in: %s", err->message);
            authq_fail_query(e, why);
        }
        return;
    }
    if (PQsetnonblocking(pq->pg, 1) != 0 ||
        !PQsendQueryParams(pq->pg, e->query, 1, NULL, params, NULL, NULL, 0)) {
        authq_fail_query(e, "cannot send auth_query");
        return;
    }
    rc = PQflush(pq->pg);
    if (rc < 0 || pqloop_watch(pq, rc == 1 ? UV_READABLE | UV_WRITABLE : UV_READABLE,
                               authq_io) < 0)
        authq_fail_node(e, "cannot send auth_query");
}

static void authq_deadline(uv_timer_t *t)
{
    struct authq_entry *e = t->data;
    struct pqloop_error err;

    if (pqloop_connecting(&e->pq)) {
        pqloop_timeout_error(&e->pq, e->timeout_ms, &err);
        authq_fail_node(e, err.message);
    } else {
        char why[64];

        snprintf(why, sizeof(why), "no answer to auth_query within %u ms", e->timeout_ms);
        authq_fail_node(e, why);
    }
}

/* Start the lookup of e as s's snapshot says. 0, or -1 after failing it. */
static int authq_start(struct authq_entry *e, const struct session *s)
{
    const struct cfg *cfg = s->cfg;
    struct worker *w = s->w;
    const struct cfg_user *au = cfg_find_user(cfg, cfg->auth_user);
    const char *keys[6 + SRVTLS_MAX_PARAMS], *vals[6 + SRVTLS_MAX_PARAMS];
    const struct node *n;
    struct pqloop_error err;
    size_t k = 0;

    pqloop_init(&e->pq, w->loop, e);
    e->node = nodes_primary(w->nodes, s->cluster);
    if (e->node < 0) {
        authq_finish(e, 0, "08006", "could not look up the user with auth_query: the "
                     "cluster's primary is not known");
        return -1;
    }
    n = &w->nodes->n[e->node];
    snprintf(e->node_name, sizeof(e->node_name), "%s", n->name);
    e->timeout_ms = cfg->server_connect_timeout_ms ? cfg->server_connect_timeout_ms
                                                   : AUTHQ_DEFAULT_TIMEOUT_MS;
    e->have_answer = 0;
    e->query = strdup(cfg->auth_query);
    e->timer = malloc(sizeof(*e->timer));
    if (e->query == NULL || e->timer == NULL) {
        free(e->timer);
        e->timer = NULL;
        authq_finish(e, 0, "53200", "out of memory");
        return -1;
    }
    uv_timer_init(w->loop, e->timer);
    e->timer->data = e;
    uv_timer_start(e->timer, authq_deadline, e->timeout_ms, 0);
    keys[k] = "user";
    vals[k++] = cfg->auth_user;
    keys[k] = "dbname";
    vals[k++] = e->db;
    if (au != NULL && userlist_is_plain(au->secret)) {
        keys[k] = "password";
        vals[k++] = au->secret;
    }
    keys[k] = "application_name";
    vals[k++] = "pgrouter auth_query";
    /* The same TLS as the pools' and health checks' connections (client certificate too). */
    k = srvtls_params(cfg, keys, vals, k);
    keys[k] = NULL;
    vals[k] = NULL;
    log_info("auth_query: looking up user \"%s\" in database %s on %s as %s", e->user, e->db,
             e->node_name, cfg->auth_user);
    if (pqloop_connect(&e->pq, n->host, n->port, keys, vals, authq_connected, &err) < 0) {
        if (err.fault == PQLOOP_FAULT_NODE)
            authq_fail_node(e, err.message);
        else
            authq_fail_query(e, err.message);
        return -1;
    }
    return 0;
}

static struct authq_entry *authq_find(struct authq *q, const char *cluster, const char *db,
                                      const char *user)
{
    for (struct authq_entry *e = q->head; e != NULL; e = e->next)
        if (strcmp(e->user, user) == 0 && strcmp(e->db, db) == 0 &&
            strcmp(e->cluster, cluster) == 0)
            return e;
    return NULL;
}

/* Make room for one more entry: drop the cached answer that expires first. */
static void authq_evict(struct authq *q)
{
    struct authq_entry *victim = NULL;

    if (q->n < AUTHQ_MAX_ENTRIES)
        return;
    for (struct authq_entry *e = q->head; e != NULL; e = e->next)
        if (e->state == AUTHQ_READY && (victim == NULL || e->expires_ms < victim->expires_ms))
            victim = e;
    if (victim != NULL)
        authq_unlink_free(victim);
}

int authq_lookup(struct session *s, enum auth_method method)
{
    const struct cfg *cfg = s->cfg;
    const char *db = cfg->auth_dbname != NULL ? cfg->auth_dbname : s->db;
    struct authq *q;
    struct authq_entry *e;

    if (cfg->auth_user == NULL || strlen(s->user) >= sizeof(e->user) ||
        strlen(db) >= sizeof(e->db) || strlen(s->cluster->name) >= sizeof(e->cluster))
        return 1;
    q = authq_get(s->w);
    if (q == NULL) {
        session_fatal(s, "53200", NULL, "out of memory");
        return 0;
    }
    e = authq_find(q, s->cluster->name, db, s->user);
    if (e != NULL && e->state == AUTHQ_READY && uv_now(s->w->loop) < e->expires_ms) {
        login_exchange(s, method, e->secret);
        return 0;
    }
    if (e == NULL || e->state == AUTHQ_READY) {
        if (q->inflight >= AUTHQ_MAX_INFLIGHT) {
            session_fatal(s, "53300", "Try again in a moment.", "too many auth_query lookups "
                          "in flight (%d): cannot look up user \"%s\"", AUTHQ_MAX_INFLIGHT,
                          s->user);
            return 0;
        }
    }
    if (e == NULL) {
        authq_evict(q);
        e = calloc(1, sizeof(*e));
        if (e == NULL) {
            session_fatal(s, "53200", NULL, "out of memory");
            return 0;
        }
        e->q = q;
        snprintf(e->cluster, sizeof(e->cluster), "%s", s->cluster->name);
        snprintf(e->db, sizeof(e->db), "%s", db);
        snprintf(e->user, sizeof(e->user), "%s", s->user);
        e->state = AUTHQ_READY;
        e->next = q->head;
        if (q->head != NULL)
            q->head->prev = e;
        q->head = e;
        q->n++;
    }
    s->authq = e;
    s->authq_method = (int)method;
    s->authq_next = e->waiters;
    e->waiters = s;
    if (e->state == AUTHQ_LOOKING)
        return 0;
    /* a new lookup (or a stale answer to renew) */
    free(e->secret);
    e->secret = NULL;
    e->state = AUTHQ_LOOKING;
    q->inflight++;
    authq_start(e, s);
    return 0;
}

void authq_forget(struct session *s)
{
    struct authq_entry *e = s->authq;
    struct session **pp;

    if (e == NULL)
        return;
    for (pp = &e->waiters; *pp != NULL; pp = &(*pp)->authq_next) {
        if (*pp == s) {
            *pp = s->authq_next;
            break;
        }
    }
    s->authq = NULL;
    s->authq_next = NULL;
}

void authq_invalidate(struct worker *w)
{
    struct authq_entry *e, *next;

    if (w->authq == NULL)
        return;
    for (e = w->authq->head; e != NULL; e = next) {
        next = e->next;
        if (e->state == AUTHQ_READY)
            authq_unlink_free(e);
    }
}

void authq_close(struct worker *w)
{
    if (w->authq == NULL)
        return;
    while (w->authq->head != NULL) {
        struct authq_entry *e = w->authq->head;

        for (struct session *s = e->waiters; s != NULL; s = s->authq_next)
            s->authq = NULL;
        e->waiters = NULL;
        authq_unlink_free(e);
    }
    free(w->authq);
    w->authq = NULL;
}
