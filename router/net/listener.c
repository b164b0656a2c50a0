/*
 * router/net/listener.c - listening socket: resolve, bind, listen, accept into sessions.
 * pgrouter accepts itself (uv_poll on the socket, accept4) rather than through
 * uv_listen: when it runs out of file descriptors (EMFILE/ENFILE), libuv would either
 * accept and drop every waiting client, or, once its reserve descriptor is gone, retry
 * accept without end at 100% CPU. Here accepting pauses instead, as PgBouncer does:
 * clients wait in the kernel's backlog and are served when descriptors are free again.
 */
#include "router/net/listener.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "router/core/log.h"
#include "router/core/workers.h"

#define LISTENER_BATCH 64           /* accepts per wake-up, then other work */
#define LISTENER_PAUSE_MS 250       /* out of descriptors: try accepting again after this */
#define LISTENER_WARN_MS 10000      /* at most one warning per this time */

static void listener_poll_cb(uv_poll_t *p, int status, int events);

static void listener_resume_cb(uv_timer_t *t)
{
    struct worker *w = t->data;

    if (w->listening)
        uv_poll_start(&w->accept_poll, UV_READABLE, listener_poll_cb);
}

/* Out of file descriptors: stop polling the socket for a while (never spin on it). */
static void listener_pause(struct worker *w, int err)
{
    uint64_t now = uv_now(w->loop);

    uv_poll_stop(&w->accept_poll);
    uv_timer_start(&w->accept_pause, listener_resume_cb, LISTENER_PAUSE_MS, 0);
    if (w->accept_warned_ms == 0 || now - w->accept_warned_ms >= LISTENER_WARN_MS) {
        w->accept_warned_ms = now;
        log_warn("cannot accept clients: %s: pgrouter is out of file descriptors; new "
                 "clients wait in the listen backlog (pausing %d ms at a time). Raise the "
                 "open-file limit (ulimit -n, LimitNOFILE) or lower max_client_conn",
                 strerror(err), LISTENER_PAUSE_MS);
    }
}

static void listener_poll_cb(uv_poll_t *p, int status, int events)
{
    struct worker *w = p->data;
    uv_os_fd_t lfd;
    int rc;

    (void)events;
    if (status < 0 || uv_fileno((uv_handle_t *)&w->listener, &lfd) < 0) {
        log_warn("accept failed: %s", status < 0 ? uv_strerror(status) : "no socket");
        return;
    }
    for (int i = 0; i < LISTENER_BATCH && w->listening; i++) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                listener_pause(w, errno);
            else if (errno != EAGAIN && errno != EWOULDBLOCK)
                log_warn("accept failed: %s", strerror(errno));
            return;
        }
        rc = workers_accept(w, fd);
        if (rc < 0)
            log_warn("cannot start a client session: %s", uv_strerror(rc));
    }
}

/* Poll the listening socket w->listener holds. 0 or a libuv error. */
static int listener_poll_start(struct worker *w)
{
    uv_os_fd_t lfd;
    int rc = uv_fileno((uv_handle_t *)&w->listener, &lfd);

    if (rc < 0)
        return rc;
    rc = uv_poll_init_socket(w->loop, &w->accept_poll, lfd);
    if (rc < 0)
        return rc;
    w->accept_poll.data = w;
    uv_timer_init(w->loop, &w->accept_pause);
    w->accept_pause.data = w;
    rc = uv_poll_start(&w->accept_poll, UV_READABLE, listener_poll_cb);
    if (rc < 0) {
        uv_close((uv_handle_t *)&w->accept_poll, NULL);
        uv_close((uv_handle_t *)&w->accept_pause, NULL);
    }
    return rc;
}

/*
 * Is the address bound by another process already? A socket without SO_REUSEPORT cannot
 * bind where another socket listens, with or without SO_REUSEPORT: this probe then fails
 * with EADDRINUSE. (SO_REUSEADDR keeps a previous instance's TIME_WAIT connections from
 * counting.) Without the probe, SO_REUSEPORT would let a second pgrouter start silently
 * and take half of the clients. Returns 0, or a negative errno from bind.
 */
static int listener_probe(const struct addrinfo *ai)
{
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1, rc = 0;

    if (fd < 0)
        return -errno;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0)
        rc = -errno;
    close(fd);
    return rc;
}

static void listener_closed(uv_handle_t *h)
{
    struct worker *w = h->data;

    if (w->draining && w->sessions == NULL)
        uv_stop(w->loop);
}

int listener_start(struct worker *w)
{
    const struct cfg *cfg = w->cfg;
    struct addrinfo hints, *ai = NULL;
    char port[8];
    int fd = -1, one = 1, rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    snprintf(port, sizeof(port), "%u", cfg->listen_port);
    rc = getaddrinfo(cfg->listen_addr, port, &hints, &ai);
    if (rc != 0) {
        log_error("listen_addr %s: %s", cfg->listen_addr, gai_strerror(rc));
        return -EINVAL;
    }
    if (listener_probe(ai) == -EADDRINUSE) {
        log_error("cannot listen on %s:%u: address already in use by another process "
                  "(another pgrouter?); refusing to share it. Stop that process or choose "
                  "another listen_port", cfg->listen_addr, cfg->listen_port);
        freeaddrinfo(ai);
        return -EADDRINUSE;
    }
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        rc = -errno;
        goto fail;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    /*
     * For several workers of this process to share the port later; another process
     * was refused above (a multi-process mode would have to ask for it explicitly).
     */
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    rc = uv_tcp_init(w->loop, &w->listener);
    if (rc < 0)
        goto fail;
    w->listener.data = w;
    rc = uv_tcp_open(&w->listener, fd);
    if (rc < 0)
        goto fail_handle;
    fd = -1;
    rc = uv_tcp_bind(&w->listener, ai->ai_addr, 0);
    if (rc < 0)
        goto fail_handle;
    {
        uv_os_fd_t lfd;

        rc = uv_fileno((uv_handle_t *)&w->listener, &lfd);
        if (rc == 0 && listen(lfd, 1024) < 0)
            rc = uv_translate_sys_error(errno);
    }
    if (rc < 0)
        goto fail_handle;
    rc = listener_poll_start(w);
    if (rc < 0)
        goto fail_handle;
    w->listening = 1;
    log_info("listening on %s:%u", cfg->listen_addr, cfg->listen_port);
    freeaddrinfo(ai);
    return 0;
fail_handle:
    uv_close((uv_handle_t *)&w->listener, NULL);
fail:
    log_error("cannot listen on %s:%u: %s", cfg->listen_addr, cfg->listen_port,
              uv_strerror(rc < 0 ? rc : -EINVAL));
    if (fd >= 0)
        close(fd);
    freeaddrinfo(ai);
    return rc < 0 ? rc : -EINVAL;
}

int listener_adopt(struct worker *w, int fd)
{
    int rc = uv_tcp_init(w->loop, &w->listener);

    if (rc < 0) {
        close(fd);
        return rc;
    }
    w->listener.data = w;
    rc = uv_tcp_open(&w->listener, fd);
    if (rc < 0) {
        close(fd);
        uv_close((uv_handle_t *)&w->listener, NULL);
        return rc;
    }
    rc = listener_poll_start(w);
    if (rc < 0) {
        uv_close((uv_handle_t *)&w->listener, NULL);
        return rc;
    }
    w->listening = 1;
    return 0;
}

void listener_stop(struct worker *w)
{
    if (!w->listening)
        return;
    w->listening = 0;
    /* The poll lets go of the socket before the tcp handle closes it. */
    uv_close((uv_handle_t *)&w->accept_poll, NULL);
    uv_close((uv_handle_t *)&w->accept_pause, NULL);
    uv_close((uv_handle_t *)&w->listener, listener_closed);
}
