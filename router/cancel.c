/*
 * router/cancel.c - one cancel job: PQgetCancel on the loop, PQcancel in the thread pool,
 * result logged back on the loop.
 */
#include "router/cancel.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "router/log.h"

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
