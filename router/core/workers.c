/*
 * router/core/workers.c - the worker threads and the messages between loops: a client
 * socket handed over, a cancel request for another worker's client, a reload, a stop,
 * and a thread that finished. See workers.h.
 */
#include "router/core/workers.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "router/admin/stats.h"
#include "router/auth/authq.h"
#include "router/core/log.h"
#include "router/net/tls.h"
#include "router/pool/pool.h"
#include "router/session/session.h"

enum worker_msg_kind {
    WORKER_MSG_ACCEPT = 0,      /* serve the client on fd */
    WORKER_MSG_CANCEL,          /* a cancel request for (pid, key) */
    WORKER_MSG_RELOAD,          /* take cfg, client_tls, server_tls (references given) */
    WORKER_MSG_RELOAD_REQUEST,  /* (to worker 0) reload the configuration */
    WORKER_MSG_STOP,            /* lifecycle_shutdown_here(how) */
    WORKER_MSG_EXITED,          /* (to worker 0) a thread finished */
    WORKER_MSG_SHED,            /* close an idle server holding a unit of slot */
    WORKER_MSG_RETRY,           /* budget was freed: waiters try again */
};

struct worker_msg {
    struct worker_msg *next;
    enum worker_msg_kind kind;
    int fd;
    uint32_t pid, key;
    enum lifecycle_stop how;
    struct cfg *cfg;
    struct tls_ctx *client_tls, *server_tls;
    const struct budget_slot *slot;
};

/* Free m and what it holds (a message that will not be read). */
static void workers_msg_drop(struct worker_msg *m)
{
    if (m->kind == WORKER_MSG_ACCEPT)
        close(m->fd);
    if (m->kind == WORKER_MSG_RELOAD) {
        cfg_unref(m->cfg);
        tls_ctx_unref(m->client_tls);
        tls_ctx_unref(m->server_tls);
    }
    free(m);
}

/* Post m to w's inbox and wake its loop; once w has finished, m is dropped. */
static void workers_post(struct worker *w, struct worker_msg *m)
{
    int gone;

    m->next = NULL;
    pthread_mutex_lock(&w->inbox_lock);
    gone = w->wake.data == NULL;
    if (!gone) {
        if (w->inbox_tail != NULL)
            w->inbox_tail->next = m;
        else
            w->inbox = m;
        w->inbox_tail = m;
        uv_async_send(&w->wake);
    }
    pthread_mutex_unlock(&w->inbox_lock);
    if (gone)
        workers_msg_drop(m);
}

static struct worker_msg *workers_msg(enum worker_msg_kind kind)
{
    struct worker_msg *m = calloc(1, sizeof(*m));

    if (m != NULL)
        m->kind = kind;
    else
        log_error("out of memory for a message between workers");
    return m;
}

static void workers_apply_reload(struct worker *w, struct worker_msg *m)
{
    if (routing_load(&w->routing, m->cfg) < 0) {
        log_error("worker %u: reload failed (out of memory), keeping its configuration",
                  w->index);
        return;
    }
    catalog_invalidate(&w->catalog);
    authq_invalidate(w);
    tls_ctx_unref(w->client_tls);
    tls_ctx_unref(w->server_tls);
    w->client_tls = m->client_tls;
    w->server_tls = m->server_tls;
    m->client_tls = m->server_tls = NULL;
    cfg_unref(w->cfg);
    w->cfg = m->cfg;
    m->cfg = NULL;
    log_debug("worker %u: configuration reloaded", w->index);
}

static void workers_on_wake(uv_async_t *a)
{
    struct worker *w = a->data;
    struct worker_msg *m, *next;

    pthread_mutex_lock(&w->inbox_lock);
    m = w->inbox;
    w->inbox = w->inbox_tail = NULL;
    pthread_mutex_unlock(&w->inbox_lock);
    for (; m != NULL; m = next) {
        next = m->next;
        switch (m->kind) {
        case WORKER_MSG_ACCEPT: {
            int rc = session_accept(w, m->fd);

            m->fd = -1;
            if (rc < 0)
                log_warn("worker %u: cannot start a client session: %s", w->index,
                         uv_strerror(rc));
            else if (w->sessions != NULL)
                log_debug("%s: served by worker %u", w->sessions->tag, w->index);
            break;
        }
        case WORKER_MSG_CANCEL:
            session_cancel_run(w, m->pid, m->key, NULL);
            break;
        case WORKER_MSG_RELOAD:
            workers_apply_reload(w, m);
            break;
        case WORKER_MSG_RELOAD_REQUEST:
            lifecycle_reload(w, NULL);
            break;
        case WORKER_MSG_STOP:
            lifecycle_shutdown_here(w, m->how);
            break;
        case WORKER_MSG_EXITED:
            break;      /* workers_join looks at shared.running */
        case WORKER_MSG_SHED:
            pool_shed(w, m->slot);
            break;
        case WORKER_MSG_RETRY:
            pool_retry(w);
            break;
        }
        if (m->kind != WORKER_MSG_ACCEPT)
            workers_msg_drop(m);
        else
            free(m);
    }
}

/* Worker 1..N-1's maintenance: its pools, and its stats periods (worker 0 logs). */
static void workers_on_maint(uv_timer_t *t)
{
    struct worker *w = t->data;
    uint64_t now_us = stats_now_us();

    pool_maintain(w, uv_now(w->loop));
    if (w->stats.tick_us == 0 ||
        now_us - w->stats.tick_us + 500000u >= (uint64_t)w->cfg->stats_period_ms * 1000u)
        stats_tick(w, now_us, 0);
}

static int workers_inbox_open(struct worker *w)
{
    int rc;

    pthread_mutex_init(&w->inbox_lock, NULL);
    rc = uv_async_init(w->loop, &w->wake, workers_on_wake);
    if (rc == 0)
        w->wake.data = w;
    return rc;
}

void workers_free_state(struct worker *w)
{
    pool_free_all(w);
    while (w->secrets != NULL) {
        struct login_secret *e = w->secrets;

        w->secrets = e->next;
        free(e->user);
        free(e->password);
        free(e);
    }
    catalog_close(&w->catalog);
    routing_close(&w->routing);
    tls_ctx_unref(w->client_tls);
    tls_ctx_unref(w->server_tls);
    cfg_unref(w->cfg);
    w->cfg = NULL;
}

/* No message is accepted from here on; those waiting are dropped. */
static void workers_inbox_close(struct worker *w)
{
    struct worker_msg *m, *next;

    pthread_mutex_lock(&w->inbox_lock);
    m = w->inbox;
    w->inbox = w->inbox_tail = NULL;
    w->wake.data = NULL;
    pthread_mutex_unlock(&w->inbox_lock);
    for (; m != NULL; m = next) {
        next = m->next;
        workers_msg_drop(m);
    }
    uv_close((uv_handle_t *)&w->wake, NULL);
}

static void *workers_main(void *arg)
{
    struct worker *w = arg;
    struct worker *w0 = w->shared->workers[0];
    struct worker_msg *m;

    uv_run(w->loop, UV_RUN_DEFAULT);
    pool_log_waits(w);
    pool_close_all(w);
    uv_close((uv_handle_t *)&w->maint, NULL);
    lifecycle_close(w);
    authq_close(w);
    workers_inbox_close(w);
    uv_run(w->loop, UV_RUN_DEFAULT);
    workers_free_state(w);
    if (uv_loop_close(w->loop) < 0)
        log_warn("worker %u: its loop still had handles at exit", w->index);
    log_debug("worker %u: finished", w->index);
    __atomic_sub_fetch(&w->shared->running, 1, __ATOMIC_ACQ_REL);
    m = workers_msg(WORKER_MSG_EXITED);
    if (m != NULL)
        workers_post(w0, m);
    else
        uv_async_send(&w0->wake);
    return NULL;
}

/* Set worker i up as a copy of w0's configuration, on a loop of its own. */
static struct worker *workers_new(struct worker *w0, unsigned i)
{
    struct worker *w = calloc(1, sizeof(*w));

    if (w == NULL)
        return NULL;
    w->loop = calloc(1, sizeof(*w->loop));
    if (w->loop == NULL || uv_loop_init(w->loop) < 0) {
        free(w->loop);
        free(w);
        return NULL;
    }
    worker_attach(w, w0->shared);
    w->index = i;
    w->cfg = cfg_ref(w0->cfg);
    memcpy(w->mock_key, w0->mock_key, sizeof(w->mock_key));
    w->client_tls = tls_ctx_ref(w0->client_tls);
    w->server_tls = tls_ctx_ref(w0->server_tls);
    if (routing_load(&w->routing, w->cfg) < 0 || workers_inbox_open(w) < 0) {
        routing_close(&w->routing);
        tls_ctx_unref(w->client_tls);
        tls_ctx_unref(w->server_tls);
        cfg_unref(w->cfg);
        uv_loop_close(w->loop);
        free(w->loop);
        free(w);
        return NULL;
    }
    uv_timer_init(w->loop, &w->maint);
    w->maint.data = w;
    uv_timer_start(&w->maint, workers_on_maint, 1000, 1000);
    stats_tick(w, stats_now_us(), 0);
    return w;
}

int workers_start(struct worker *w0, unsigned n)
{
    struct shared *sh = w0->shared;
    int rc;

    sh->workers = calloc(n, sizeof(*sh->workers));
    if (sh->workers == NULL || (rc = workers_inbox_open(w0)) < 0) {
        log_error("cannot set up %u workers: out of memory", n);
        return -ENOMEM;
    }
    w0->index = 0;
    sh->workers[0] = w0;
    sh->n_workers = 1;
    for (unsigned i = 1; i < n; i++) {
        struct worker *w = workers_new(w0, i);

        if (w == NULL) {
            log_error("cannot set up worker %u: out of memory", i);
            return -ENOMEM;
        }
        sh->workers[i] = w;
        sh->n_workers = i + 1;
    }
    /* Every worker exists before any thread runs: indexes, cancel keys and the
     * round-robin count on n_workers. */
    for (unsigned i = 1; i < n; i++) {
        struct worker *w = sh->workers[i];

        __atomic_add_fetch(&sh->running, 1, __ATOMIC_ACQ_REL);
        rc = pthread_create(&w->thread, NULL, workers_main, w);
        if (rc != 0) {
            __atomic_sub_fetch(&sh->running, 1, __ATOMIC_ACQ_REL);
            log_error("cannot start worker %u: %s", i, strerror(rc));
            sh->n_workers = i;      /* the ones after it were never started */
            workers_stop(w0, LIFECYCLE_FAST);
            return -rc;
        }
    }
    if (n > 1)
        log_info("%u workers: worker 0 accepts and hands clients to each in turn", n);
    return 0;
}

int workers_accept(struct worker *w0, int fd)
{
    struct shared *sh = w0->shared;
    unsigned i = sh->n_workers > 1 ? sh->next_accept++ % sh->n_workers : 0;
    struct worker_msg *m;
    int rc;

    if (i == 0) {
        rc = session_accept(w0, fd);
        if (rc == 0 && sh->n_workers > 1 && w0->sessions != NULL)
            log_debug("%s: served by worker 0", w0->sessions->tag);
        return rc;
    }
    m = workers_msg(WORKER_MSG_ACCEPT);
    if (m == NULL) {
        close(fd);
        return UV_ENOMEM;
    }
    m->fd = fd;
    workers_post(sh->workers[i], m);
    return 0;
}

unsigned workers_cancel_owner(const struct worker *w, uint32_t cancel_pid)
{
    unsigned n = w->shared->n_workers;

    return n > 1 ? cancel_pid % n : 0;
}

uint32_t workers_cancel_pid(const struct worker *w, uint32_t raw)
{
    unsigned n = w->shared->n_workers;

    if (n <= 1)
        return raw;
    if (raw > UINT32_MAX - n)
        return 0;
    return raw - raw % n + w->index;
}

void workers_cancel(struct worker *w, unsigned owner, uint32_t pid, uint32_t key)
{
    struct worker_msg *m;

    if (owner >= w->shared->n_workers || (m = workers_msg(WORKER_MSG_CANCEL)) == NULL)
        return;
    m->pid = pid;
    m->key = key;
    workers_post(w->shared->workers[owner], m);
}

void workers_reloaded(struct worker *w0)
{
    struct shared *sh = w0->shared;

    for (unsigned i = 1; i < sh->n_workers; i++) {
        struct worker_msg *m = workers_msg(WORKER_MSG_RELOAD);

        if (m == NULL)
            continue;
        m->cfg = cfg_ref(w0->cfg);
        m->client_tls = tls_ctx_ref(w0->client_tls);
        m->server_tls = tls_ctx_ref(w0->server_tls);
        workers_post(sh->workers[i], m);
    }
}

void workers_reload_request(struct worker *w)
{
    struct worker_msg *m = workers_msg(WORKER_MSG_RELOAD_REQUEST);

    if (m != NULL)
        workers_post(w->shared->workers[0], m);
}

/* A message of kind (with slot) to every worker but w. */
static void workers_tell_others(struct worker *w, enum worker_msg_kind kind,
                                const struct budget_slot *slot)
{
    struct shared *sh = w->shared;

    for (unsigned i = 0; i < sh->n_workers; i++) {
        struct worker_msg *m;

        if (sh->workers[i] == w || (m = workers_msg(kind)) == NULL)
            continue;
        m->slot = slot;
        workers_post(sh->workers[i], m);
    }
}

void workers_budget_wanted(struct worker *w, struct budget_slot *slot)
{
    workers_tell_others(w, WORKER_MSG_SHED, slot);
}

void workers_budget_freed(struct worker *w)
{
    workers_tell_others(w, WORKER_MSG_RETRY, NULL);
}

void workers_stop(struct worker *w, enum lifecycle_stop how)
{
    struct shared *sh = w->shared;

    for (unsigned i = 0; i < sh->n_workers; i++) {
        struct worker_msg *m;

        if (sh->workers[i] == w || (m = workers_msg(WORKER_MSG_STOP)) == NULL)
            continue;
        m->how = how;
        workers_post(sh->workers[i], m);
    }
}

void workers_join(struct worker *w0)
{
    struct shared *sh = w0->shared;

    if (sh->workers == NULL)
        return;
    while (__atomic_load_n(&sh->running, __ATOMIC_ACQUIRE) > 0)
        uv_run(w0->loop, UV_RUN_ONCE);
    for (unsigned i = 1; i < sh->n_workers; i++) {
        struct worker *w = sh->workers[i];

        pthread_join(w->thread, NULL);
        pthread_mutex_destroy(&w->inbox_lock);
        free(w->loop);
        free(w);
    }
    workers_inbox_close(w0);
    free(sh->workers);
    sh->workers = NULL;
    sh->n_workers = 1;
}
