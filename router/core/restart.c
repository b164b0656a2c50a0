/*
 * router/core/restart.c - online restart over a unix socket (restart_socket). Every running
 * pgrouter listens there. A new one (pgrouter -R, or the child SIGUSR2 starts) connects
 * and the two speak in lines:
 *   new: TAKEOVER           old: LISTEN <pid>, with the listening socket (SCM_RIGHTS)
 *   new: READY              old: stops accepting, lets go of the restart socket: BYE
 * Between LISTEN and READY both accept on the one socket, so no connection attempt is
 * refused. A new process that fails before READY leaves the old one as it was.
 */
#include "router/core/restart.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "router/core/lifecycle.h"
#include "router/net/listener.h"
#include "router/core/log.h"

#define RESTART_WAIT_S 10       /* the new process's blocking steps, each */
#define RESTART_LINE_MAX 64

struct restart {
    struct worker *w;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    char **argv;
    int takeover_fd;            /* -R: the line to the old process, until BYE */
    int old_pid;
    uv_pipe_t server;           /* the restart socket */
    int server_live;
    uv_pipe_t peer;             /* the one successor talking to us */
    int peer_live;
    int peer_pid;
    int sent_fd;                /* the peer has the listening socket */
    char line[RESTART_LINE_MAX];
    size_t n_line;
    int handed;                 /* a successor took over: we only drain */
    uv_signal_t usr2;
    int usr2_live;
    uv_process_t child;         /* started by SIGUSR2 */
    int child_live;
    int handles;                /* open libuv handles; the struct goes with the last */
    int closing;
};

int restart_path(const struct cfg *cfg, char *buf, size_t n)
{
    int len;

    if (cfg->restart_socket != NULL && cfg->restart_socket[0] != '\0')
        len = snprintf(buf, n, "%s", cfg->restart_socket);
    else
        len = snprintf(buf, n, "/tmp/.s.pgrouter.%u", cfg->listen_port);
    if (len < 0 || (size_t)len >= n || (size_t)len >= sizeof(((struct sockaddr_un *)0)->sun_path))
        return -ENAMETOOLONG;
    return 0;
}

static struct restart *restart_get(struct worker *w)
{
    struct restart *r = w->restart;

    if (r != NULL)
        return r;
    r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->w = w;
    r->takeover_fd = -1;
    if (restart_path(w->cfg, r->path, sizeof(r->path)) < 0) {
        log_error("restart_socket: path too long for a unix socket");
        free(r);
        return NULL;
    }
    w->restart = r;
    return r;
}

/* ---- the new process (blocking, before its loop runs) ---------------------------- */

static int restart_send_line(int fd, const char *line)
{
    size_t n = strlen(line);

    return send(fd, line, n, MSG_NOSIGNAL) == (ssize_t)n ? 0 : -1;
}

/* Read one line (without the newline) into buf; the fd, if one came along, into *fd. */
static int restart_recv_line(int sock, char *buf, size_t n, int *fd)
{
    size_t got = 0;

    if (fd != NULL)
        *fd = -1;
    while (got + 1 < n) {
        union {
            struct cmsghdr h;
            char space[CMSG_SPACE(sizeof(int))];
        } ctl;
        struct iovec iov = { buf + got, n - 1 - got };
        struct msghdr m;
        struct cmsghdr *c;
        ssize_t k;

        memset(&m, 0, sizeof(m));
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        m.msg_control = ctl.space;
        m.msg_controllen = sizeof(ctl.space);
        k = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
        if (k <= 0)
            return k == 0 ? -EPIPE : -errno;
        for (c = CMSG_FIRSTHDR(&m); c != NULL; c = CMSG_NXTHDR(&m, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
                c->cmsg_len == CMSG_LEN(sizeof(int))) {
                int passed;

                memcpy(&passed, CMSG_DATA(c), sizeof(int));
                if (fd != NULL && *fd < 0)
                    *fd = passed;
                else
                    close(passed);
            }
        }
        got += (size_t)k;
        buf[got] = '\0';
        if (memchr(buf, '\n', got) != NULL) {
            *strchr(buf, '\n') = '\0';
            return 0;
        }
    }
    return -EPROTO;
}

int restart_takeover(struct worker *w)
{
    struct restart *r = restart_get(w);
    struct sockaddr_un sa;
    struct timeval tv = { RESTART_WAIT_S, 0 };
    char line[RESTART_LINE_MAX];
    int sock, lfd = -1, rc;

    if (r == NULL)
        return -ENOMEM;
    sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sock < 0)
        return -errno;
    setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, r->path, strlen(r->path) + 1);
    if (connect(sock, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        rc = -errno;
        log_error("online restart: no pgrouter answers at %s (%s): start one without -R",
                  r->path, strerror(-rc));
        close(sock);
        return rc;
    }
    rc = restart_send_line(sock, "TAKEOVER\n") < 0 ? -errno :
         restart_recv_line(sock, line, sizeof(line), &lfd);
    if (rc == 0 && (lfd < 0 || sscanf(line, "LISTEN %d", &r->old_pid) != 1))
        rc = -EPROTO;
    if (rc < 0) {
        log_error("online restart: the running pgrouter did not hand over its socket: %s",
                  rc == -EPROTO && strncmp(line, "NO ", 3) == 0 ? line + 3 : strerror(-rc));
        if (lfd >= 0)
            close(lfd);
        close(sock);
        return rc;
    }
    rc = listener_adopt(w, lfd);
    if (rc < 0) {
        log_error("online restart: cannot accept on the socket of pid %d: %s", r->old_pid,
                  uv_strerror(rc));
        close(sock);
        return rc;
    }
    r->takeover_fd = sock;
    log_info("online restart: accepting on the listening socket of pid %d", r->old_pid);
    return 0;
}

/* After the takeover: the old process stops accepting and lets go of the restart socket. */
static void restart_finish_takeover(struct restart *r)
{
    char line[RESTART_LINE_MAX] = "";
    int rc;

    rc = restart_send_line(r->takeover_fd, "READY\n") < 0 ? -errno :
         restart_recv_line(r->takeover_fd, line, sizeof(line), NULL);
    if (rc == 0 && strcmp(line, "BYE") != 0)
        rc = -EPROTO;
    if (rc < 0)
        log_warn("online restart: pid %d did not confirm that it stopped accepting (%s); "
                 "both may accept until it exits", r->old_pid, strerror(-rc));
    else
        log_info("online restart: pid %d stopped accepting and drains its clients",
                 r->old_pid);
    close(r->takeover_fd);
    r->takeover_fd = -1;
}

/* ---- the running process: the restart socket ------------------------------------- */

static void restart_handle_closed(uv_handle_t *h)
{
    struct restart *r = h->data;

    if (--r->handles == 0 && r->closing)
        free(r);
}

static void restart_close_peer(struct restart *r)
{
    if (!r->peer_live)
        return;
    r->peer_live = 0;
    uv_close((uv_handle_t *)&r->peer, restart_handle_closed);
}

static void restart_close_server(struct restart *r)
{
    if (!r->server_live)
        return;
    r->server_live = 0;
    uv_close((uv_handle_t *)&r->server, restart_handle_closed);
    unlink(r->path);
}

static void restart_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    struct restart *r = h->data;

    (void)hint;
    buf->base = r->line + r->n_line;
    buf->len = sizeof(r->line) - 1 - r->n_line;
}

/* Hand our listening socket to the peer. */
static void restart_send_fd(struct restart *r)
{
    union {
        struct cmsghdr h;
        char space[CMSG_SPACE(sizeof(int))];
    } ctl;
    struct worker *w = r->w;
    char line[RESTART_LINE_MAX];
    struct iovec iov;
    struct msghdr m;
    struct cmsghdr *c;
    uv_os_fd_t sock, lfd;

    if (!w->listening || w->draining) {
        log_warn("online restart: pid %d asked for the listening socket, but this process "
                 "is shutting down", r->peer_pid);
        if (uv_fileno((uv_handle_t *)&r->peer, &sock) == 0)
            (void)!send(sock, "NO shutting down\n", 17, MSG_NOSIGNAL);
        restart_close_peer(r);
        return;
    }
    if (uv_fileno((uv_handle_t *)&r->peer, &sock) < 0 ||
        uv_fileno((uv_handle_t *)&w->listener, &lfd) < 0) {
        restart_close_peer(r);
        return;
    }
    snprintf(line, sizeof(line), "LISTEN %d\n", (int)getpid());
    iov.iov_base = line;
    iov.iov_len = strlen(line);
    memset(&m, 0, sizeof(m));
    memset(&ctl, 0, sizeof(ctl));
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = ctl.space;
    m.msg_controllen = sizeof(ctl.space);
    c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &lfd, sizeof(int));
    /* A few bytes on a fresh unix socket: the send buffer has room. */
    if (sendmsg(sock, &m, MSG_NOSIGNAL) != (ssize_t)iov.iov_len) {
        log_warn("online restart: cannot pass the listening socket to pid %d: %s",
                 r->peer_pid, strerror(errno));
        restart_close_peer(r);
        return;
    }
    r->sent_fd = 1;
    log_info("online restart: passed the listening socket to pid %d", r->peer_pid);
}

/* The successor accepts too: stop accepting, let go of the restart socket, drain. */
static void restart_hand_over(struct restart *r)
{
    uv_os_fd_t sock;

    r->handed = 1;
    restart_close_server(r);
    lifecycle_shutdown(r->w, LIFECYCLE_HANDOVER);
    if (uv_fileno((uv_handle_t *)&r->peer, &sock) == 0)
        (void)!send(sock, "BYE\n", 4, MSG_NOSIGNAL);
    restart_close_peer(r);
    log_info("online restart: pid %d took over", r->peer_pid);
}

static void restart_on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    struct restart *r = st->data;
    char *nl;

    (void)buf;
    if (nread < 0) {
        if (r->sent_fd && !r->handed)
            log_warn("online restart: pid %d went away before taking over; this process "
                     "serves on", r->peer_pid);
        restart_close_peer(r);
        return;
    }
    r->n_line += (size_t)nread;
    r->line[r->n_line] = '\0';
    while (r->peer_live && (nl = strchr(r->line, '\n')) != NULL) {
        *nl = '\0';
        if (strcmp(r->line, "TAKEOVER") == 0 && !r->sent_fd)
            restart_send_fd(r);
        else if (strcmp(r->line, "READY") == 0 && r->sent_fd)
            restart_hand_over(r);
        else {
            log_warn("online restart: unexpected request from pid %d; closed", r->peer_pid);
            restart_close_peer(r);
        }
        r->n_line -= (size_t)(nl + 1 - r->line);
        memmove(r->line, nl + 1, r->n_line + 1);
    }
    if (r->peer_live && r->n_line + 1 >= sizeof(r->line))
        restart_close_peer(r);
}

static void restart_reject_closed(uv_handle_t *h)
{
    free(h);
}

static void restart_on_conn(uv_stream_t *server, int status)
{
    struct restart *r = server->data;
    struct ucred cred;
    socklen_t len = sizeof(cred);
    uv_os_fd_t fd;

    if (status < 0)
        return;
    if (r->peer_live || r->handed) {
        /* One successor at a time. */
        uv_pipe_t *extra = malloc(sizeof(*extra));

        if (extra == NULL || uv_pipe_init(r->w->loop, extra, 0) < 0) {
            free(extra);
            return;
        }
        uv_accept(server, (uv_stream_t *)extra);
        uv_close((uv_handle_t *)extra, restart_reject_closed);
        return;
    }
    if (uv_pipe_init(r->w->loop, &r->peer, 0) < 0)
        return;
    r->peer.data = r;
    r->peer_live = 1;
    r->handles++;
    r->sent_fd = 0;
    r->n_line = 0;
    if (uv_accept(server, (uv_stream_t *)&r->peer) < 0 ||
        uv_fileno((uv_handle_t *)&r->peer, &fd) < 0 ||
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
        restart_close_peer(r);
        return;
    }
    r->peer_pid = (int)cred.pid;
    if (cred.uid != geteuid()) {
        log_warn("online restart: refused pid %d of uid %u (not ours)", r->peer_pid,
                 (unsigned)cred.uid);
        restart_close_peer(r);
        return;
    }
    uv_read_start((uv_stream_t *)&r->peer, restart_alloc, restart_on_read);
}

/* Is a process listening at path? (Then it is not ours to unlink.) */
static int restart_path_live(const char *path)
{
    struct sockaddr_un sa;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), live;

    if (fd < 0)
        return 0;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    live = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return live;
}

static int restart_listen(struct restart *r)
{
    int rc;

    if (restart_path_live(r->path)) {
        log_warn("restart socket %s: another process listens there; online restart (SIGUSR2, "
                 "-R) is off for this process: set restart_socket", r->path);
        return -EADDRINUSE;
    }
    unlink(r->path);    /* left by a process that did not exit cleanly */
    rc = uv_pipe_init(r->w->loop, &r->server, 0);
    if (rc < 0)
        return rc;
    r->server.data = r;
    r->server_live = 1;
    r->handles++;
    rc = uv_pipe_bind(&r->server, r->path);
    if (rc == 0) {
        chmod(r->path, 0600);
        rc = uv_listen((uv_stream_t *)&r->server, 4, restart_on_conn);
    }
    if (rc < 0) {
        log_warn("restart socket %s: %s; online restart (SIGUSR2, -R) is off for this "
                 "process", r->path, uv_strerror(rc));
        r->server_live = 0;
        uv_close((uv_handle_t *)&r->server, restart_handle_closed);
        return rc;
    }
    return 0;
}

/* ---- SIGUSR2: start the successor ------------------------------------------------ */

static void restart_child_exit(uv_process_t *p, int64_t status, int sig)
{
    struct restart *r = p->data;

    if (status != 0 || sig != 0) {
        if (!r->handed)
            log_error("online restart failed: the new process (pid %d) exited with status "
                      "%lld%s before taking over; this process serves on (its own messages "
                      "say why)", p->pid, (long long)status, sig != 0 ? " on a signal" : "");
        else
            log_warn("the new process (pid %d) exited with status %lld", p->pid,
                     (long long)status);
    }
    r->child_live = 0;
    uv_close((uv_handle_t *)p, restart_handle_closed);
}

/* The binary to start: this one, or the file that replaced it at the same path. */
static int restart_exe(char *buf, size_t n)
{
    static const char deleted[] = " (deleted)";
    ssize_t k = readlink("/proc/self/exe", buf, n - 1);
    size_t len;

    if (k <= 0)
        return -1;
    buf[k] = '\0';
    len = (size_t)k;
    if (len > sizeof(deleted) - 1 && strcmp(buf + len - (sizeof(deleted) - 1), deleted) == 0 &&
        access(buf, X_OK) != 0)
        buf[len - (sizeof(deleted) - 1)] = '\0';    /* upgraded in place */
    if (access(buf, X_OK) != 0)
        snprintf(buf, n, "/proc/self/exe");
    return 0;
}

static void restart_spawn(struct restart *r)
{
    struct worker *w = r->w;
    uv_process_options_t o;
    uv_stdio_container_t io[3];
    char exe[PATH_MAX];
    char **args;
    size_t argc = 0;
    int rc;

    if (r->child_live || r->peer_live) {
        log_warn("SIGUSR2: an online restart is under way already");
        return;
    }
    if (w->draining || !r->server_live) {
        log_warn("SIGUSR2 ignored: %s", w->draining ? "this process is shutting down or "
                 "handed over already" : "no restart socket");
        return;
    }
    while (r->argv[argc] != NULL)
        argc++;
    args = calloc(argc + 2, sizeof(*args));
    if (args == NULL || restart_exe(exe, sizeof(exe)) < 0) {
        free(args);
        log_error("SIGUSR2: cannot start a new process: %s", args == NULL ?
                  "out of memory" : "cannot read /proc/self/exe");
        return;
    }
    args[0] = r->argv[0];
    args[1] = "-R";
    for (size_t i = 1; i < argc; i++)
        args[i + 1] = r->argv[i];
    memset(&o, 0, sizeof(o));
    memset(io, 0, sizeof(io));
    io[0].flags = UV_IGNORE;
    io[1].flags = UV_INHERIT_FD;
    io[1].data.fd = 1;
    io[2].flags = UV_INHERIT_FD;
    io[2].data.fd = 2;
    o.file = exe;
    o.args = args;
    o.exit_cb = restart_child_exit;
    o.flags = UV_PROCESS_DETACHED;
    o.stdio = io;
    o.stdio_count = 3;
    r->child.data = r;
    rc = uv_spawn(w->loop, &r->child, &o);
    free(args);
    r->handles++;
    if (rc < 0) {
        log_error("SIGUSR2: cannot start %s: %s; this process serves on", exe,
                  uv_strerror(rc));
        uv_close((uv_handle_t *)&r->child, restart_handle_closed);
        return;
    }
    r->child_live = 1;
    log_info("SIGUSR2: online restart, started pid %d (%s -R)", r->child.pid, exe);
}

static void restart_on_usr2(uv_signal_t *h, int signum)
{
    (void)signum;
    restart_spawn(h->data);
}

int restart_start(struct worker *w, char **argv)
{
    struct restart *r = restart_get(w);

    if (r == NULL)
        return -ENOMEM;
    r->argv = argv;
    if (r->takeover_fd >= 0)
        restart_finish_takeover(r);
    if (uv_signal_init(w->loop, &r->usr2) == 0) {
        r->usr2.data = r;
        r->usr2_live = 1;
        r->handles++;
        uv_signal_start(&r->usr2, restart_on_usr2, SIGUSR2);
    }
    return restart_listen(r);
}

void restart_close(struct worker *w)
{
    struct restart *r = w->restart;

    if (r == NULL)
        return;
    w->restart = NULL;
    if (r->takeover_fd >= 0)
        close(r->takeover_fd);
    restart_close_server(r);
    restart_close_peer(r);
    if (r->usr2_live) {
        r->usr2_live = 0;
        uv_close((uv_handle_t *)&r->usr2, restart_handle_closed);
    }
    if (r->child_live) {
        /* It runs on by itself (detached); we stop watching it. */
        r->child_live = 0;
        uv_close((uv_handle_t *)&r->child, restart_handle_closed);
    }
    r->closing = 1;
    if (r->handles == 0)
        free(r);
}

void restart_unlink_pidfile(const char *path)
{
    FILE *f;
    int pid = 0;

    if (path == NULL)
        return;
    f = fopen(path, "r");
    if (f == NULL)
        return;
    if (fscanf(f, "%d", &pid) != 1)
        pid = 0;
    fclose(f);
    if (pid == (int)getpid())
        unlink(path);
}
