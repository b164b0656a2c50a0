/*
 * router/listener.c - listening socket: resolve, bind, listen, accept into sessions.
 */
#include "router/listener.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "router/log.h"
#include "router/session.h"

static void listener_connection_cb(uv_stream_t *server, int status)
{
    struct worker *w = server->data;
    int rc;

    if (status < 0) {
        log_warn("accept failed: %s", uv_strerror(status));
        return;
    }
    rc = session_accept(w);
    if (rc < 0)
        log_warn("cannot start a client session: %s", strerror(-rc));
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
    rc = uv_listen((uv_stream_t *)&w->listener, 1024, listener_connection_cb);
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
    rc = uv_listen((uv_stream_t *)&w->listener, 1024, listener_connection_cb);
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
    uv_close((uv_handle_t *)&w->listener, listener_closed);
}
