/*
 * router/pool/cancel.c - one cancel job: PQgetCancel on the loop, PQcancel in the thread pool,
 * result logged back on the loop; for servers pgrouter logged in to itself, a
 * CancelRequest written on the loop.
 */
#include "router/pool/cancel.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "router/core/log.h"
#include "router/pool/srvlogin.h"

struct cancel_job {
    uv_work_t work;
    PGcancel *cancel;
    int ok;
    char node[280];
    char err[256];
};

static void cancel_work(uv_work_t *w)
{
    struct cancel_job *job = w->data;

    job->ok = PQcancel(job->cancel, job->err, (int)sizeof(job->err));
}

static void cancel_done(uv_work_t *w, int status)
{
    struct cancel_job *job = w->data;

    if (status < 0 || !job->ok)
        log_warn("cancel to %s failed: %s", job->node,
                 status < 0 ? uv_strerror(status) : job->err);
    else
        log_debug("cancel sent to %s", job->node);
    PQfreeCancel(job->cancel);
    free(job);
}

int cancel_send(uv_loop_t *loop, PGconn *pg, const char *node)
{
    struct cancel_job *job = calloc(1, sizeof(*job));
    int rc;

    if (job == NULL)
        return -ENOMEM;
    job->cancel = PQgetCancel(pg);
    if (job->cancel == NULL) {
        free(job);
        return -EINVAL;
    }
    snprintf(job->node, sizeof(job->node), "%s", node);
    job->work.data = job;
    rc = uv_queue_work(loop, &job->work, cancel_work, cancel_done);
    if (rc < 0) {
        PQfreeCancel(job->cancel);
        free(job);
        return rc;
    }
    return 0;
}

/* A CancelRequest of pgrouter's own: a TCP handle and the 16 bytes, freed when closed. */
struct cancel_native {
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_write_t wreq;
    uint8_t msg[16];
    char node[280];
};

static void cancel_native_closed(uv_handle_t *h)
{
    free(h->data);
}

static void cancel_native_written(uv_write_t *req, int status)
{
    struct cancel_native *cn = req->data;

    if (status < 0)
        log_warn("cancel to %s failed: %s", cn->node, uv_strerror(status));
    else
        log_debug("cancel sent to %s", cn->node);
    /* The server closes once it has read the request; so do we. */
    uv_close((uv_handle_t *)&cn->tcp, cancel_native_closed);
}

static void cancel_native_connected(uv_connect_t *req, int status)
{
    struct cancel_native *cn = req->data;
    uv_buf_t buf = uv_buf_init((char *)cn->msg, sizeof(cn->msg));

    if (status == 0)
        status = uv_write(&cn->wreq, (uv_stream_t *)&cn->tcp, &buf, 1, cancel_native_written);
    if (status < 0) {
        log_warn("cancel to %s failed: %s", cn->node, uv_strerror(status));
        uv_close((uv_handle_t *)&cn->tcp, cancel_native_closed);
    }
}

static void cancel_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

int cancel_server(uv_loop_t *loop, const struct server *srv, const char *node)
{
    struct sockaddr_storage addr;
    struct cancel_native *cn;
    uint32_t pid, key;
    int rc;

    if (server_pg(srv) != NULL)
        return cancel_send(loop, server_pg(srv), node);
    if (srvlogin_cancel_target(srv, &addr, &pid, &key) < 0)
        return -EINVAL;
    cn = calloc(1, sizeof(*cn));
    if (cn == NULL)
        return -ENOMEM;
    snprintf(cn->node, sizeof(cn->node), "%s", node);
    cancel_put32(cn->msg, 16);
    cancel_put32(cn->msg + 4, 80877102);
    cancel_put32(cn->msg + 8, pid);
    cancel_put32(cn->msg + 12, key);
    rc = uv_tcp_init(loop, &cn->tcp);
    if (rc < 0) {
        free(cn);
        return rc;
    }
    cn->tcp.data = cn;
    cn->creq.data = cn;
    cn->wreq.data = cn;
    rc = uv_tcp_connect(&cn->creq, &cn->tcp, (const struct sockaddr *)&addr,
                        cancel_native_connected);
    if (rc < 0) {
        uv_close((uv_handle_t *)&cn->tcp, cancel_native_closed);
        return rc;
    }
    return 0;
}
