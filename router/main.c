/*
 * router/main.c - command line, configuration check, signals and the event loop.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "config/cfg.h"
#include "router/auth/authq.h"
#include "router/sql/explain.h"
#include "router/net/fdlimit.h"
#include "router/core/lifecycle.h"
#include "router/net/listener.h"
#include "router/core/log.h"
#include "router/admin/metrics.h"
#include "router/pool/pool.h"
#include "router/core/restart.h"
#include "router/core/workers.h"
#include "router/session/session.h"
#include "router/net/tls.h"
#include "router/worker.h"

static void main_usage(FILE *out)
{
    fprintf(out,
            "pgrouter %s - PostgreSQL routing proxy\n"
            "\n"
            "Usage: pgrouter [OPTIONS] -c FILE\n"
            "  -c, --config FILE   configuration file (INI)\n"
            "  -t, --test          check the configuration and exit (0 = valid)\n"
            "  -R, --restart       online restart: take the listening socket over from the\n"
            "                      pgrouter running with this configuration (restart_socket)\n"
            "      --classify      read SQL statements from stdin, one per line, and print\n"
            "                      for each: read|write, the cluster, and where it would go\n"
            "  -v, --verbose       more logging (repeat for more)\n"
            "  -h, --help          show this help\n"
            "  -V, --version       show the version\n"
            "\n"
            "Signals: SIGHUP reloads the configuration; SIGTERM stops accepting, closes idle\n"
            "clients, lets transactions finish (shutdown_timeout) and exits; SIGINT closes\n"
            "every client and exits; SIGUSR2 starts a new process that takes over (-R).\n",
            PGROUTER_VERSION);
}

/* When the last loop run has not ended after this long, the open handles are logged. */
#define MAIN_EXIT_SLOW_MS 5000

static struct shared main_shared;
static struct worker main_worker;
static uv_signal_t main_sig_hup, main_sig_term, main_sig_int;

static void main_print_errors(const char *errors)
{
    fputs(errors != NULL ? errors : "out of memory\n", stderr);
}

static void main_on_hup(uv_signal_t *h, int signum)
{
    (void)signum;
    lifecycle_reload(h->data, NULL);
}

static void main_on_maint(uv_timer_t *t)
{
    struct worker *w = t->data;

    pool_maintain(w, uv_now(w->loop));
    authlimit_tick(w, uv_now(w->loop));
    stats_maybe_tick(w, stats_now_us(), w->cfg->stats_period_ms);
}

static void main_on_term(uv_signal_t *h, int signum)
{
    (void)signum;
    lifecycle_shutdown(h->data, LIFECYCLE_GRACEFUL);
    if (!uv_is_closing((uv_handle_t *)&main_sig_hup))
        uv_close((uv_handle_t *)&main_sig_hup, NULL);
}

static void main_on_int(uv_signal_t *h, int signum)
{
    (void)signum;
    lifecycle_shutdown(h->data, LIFECYCLE_FAST);
}

/* One open handle for the exit report: its type, state, descriptor and TCP peer. */
static void main_walk_cb(uv_handle_t *h, void *arg)
{
    struct sockaddr_storage ss;
    int sl = sizeof(ss);
    char peer[80] = "", host[64], desc[24] = "";
    uv_os_fd_t fd = -1;

    if (h == arg)
        return;     /* the exit watch itself */
    (void)uv_fileno(h, &fd);
    if (h->type == UV_TCP &&
        uv_tcp_getpeername((uv_tcp_t *)h, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET && uv_ip4_name((struct sockaddr_in *)&ss, host,
                                                   sizeof(host)) == 0)
            snprintf(peer, sizeof(peer), " peer %s:%u", host,
                     ntohs(((struct sockaddr_in *)&ss)->sin_port));
        else if (ss.ss_family == AF_INET6 && uv_ip6_name((struct sockaddr_in6 *)&ss, host,
                                                         sizeof(host)) == 0)
            snprintf(peer, sizeof(peer), " peer [%s]:%u", host,
                     ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
    }
    if (fd >= 0)
        snprintf(desc, sizeof(desc), " fd %d", (int)fd);
    log_warn("  still open: %s%s%s%s%s%s", uv_handle_type_name(h->type),
             uv_is_active(h) ? " active" : "", uv_is_closing(h) ? " closing" : "",
             uv_has_ref(h) ? "" : " unref", desc, peer);
}

/*
 * The last uv_run should end at once; when it does not, some handle was never closed or
 * its close never completed. Say which, so that a hang at exit can be told apart (the
 * timer is unreferenced: it keeps nothing running).
 */
static void main_on_exit_slow(uv_timer_t *t)
{
    log_warn("pgrouter has not finished closing %llu ms after its clients left; handles:",
             (unsigned long long)(uv_now(t->loop) - *(uint64_t *)t->data));
    uv_walk(t->loop, main_walk_cb, t);
}

static int main_write_pidfile(const char *path)
{
    FILE *f;

    if (path == NULL)
        return 0;
    f = fopen(path, "w");
    if (f == NULL)
        return -errno;
    fprintf(f, "%d\n", (int)getpid());
    return fclose(f) == 0 ? 0 : -errno;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "config", required_argument, NULL, 'c' },
        { "test", no_argument, NULL, 't' },
        { "restart", no_argument, NULL, 'R' },
        { "classify", no_argument, NULL, 'C' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    const char *path = NULL;
    struct worker *w = &main_worker;
    uv_timer_t exit_watch;
    uint64_t exit_start;
    char *errors = NULL;
    int check_only = 0, classify = 0, verbose = 0, takeover = 0, opt, rc;

    while ((opt = getopt_long(argc, argv, "c:tRvhV", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            path = optarg;
            break;
        case 't':
            check_only = 1;
            break;
        case 'C':
            classify = 1;
            break;
        case 'R':
            takeover = 1;
            break;
        case 'v':
            verbose++;
            break;
        case 'h':
            main_usage(stdout);
            return 0;
        case 'V':
            printf("pgrouter %s\n", PGROUTER_VERSION);
            return 0;
        default:
            main_usage(stderr);
            return 2;
        }
    }
    if (path == NULL && optind < argc)
        path = argv[optind++];
    if (path == NULL || optind < argc) {
        main_usage(stderr);
        return 2;
    }
    memset(w, 0, sizeof(*w));
    rc = cfg_load(path, &w->cfg, &errors);
    if (rc < 0) {
        main_print_errors(errors);
        free(errors);
        return 1;
    }
    if (classify) {
        rc = routing_load(&w->routing, w->cfg);
        if (rc == 0)
            explain_stream(&w->routing, w->cfg, stdin, stdout);
        routing_close(&w->routing);
        cfg_unref(w->cfg);
        return rc == 0 ? 0 : 1;
    }
    {
        char tls_err[512];

        /* The certificates and keys must serve, for -t too. */
        if (lifecycle_load_tls(w, w->cfg, tls_err, sizeof(tls_err)) < 0) {
            fprintf(stderr, "%s: %s\n", path, tls_err);
            cfg_unref(w->cfg);
            return 1;
        }
    }
    if (check_only) {
        for (const char *p = w->cfg->warnings, *nl; p != NULL &&
             (nl = strchr(p, '\n')) != NULL; p = nl + 1)
            fprintf(stderr, "WARNING: %.*s\n", (int)(nl - p), p);
        printf("%s: configuration is valid\n", path);
        tls_ctx_unref(w->client_tls);
        tls_ctx_unref(w->server_tls);
        cfg_unref(w->cfg);
        return 0;
    }
    rc = log_apply(w->cfg, verbose);
    if (rc < 0) {
        fprintf(stderr, "cannot open logfile %s: %s\n", w->cfg->logfile, strerror(-rc));
        return 1;
    }
    lifecycle_log_warnings(w->cfg);
    signal(SIGPIPE, SIG_IGN);
    fdlimit_check(w->cfg, "start");
    if (RAND_bytes(w->mock_key, sizeof(w->mock_key)) != 1 ||
        shared_init(&main_shared, w->cfg) < 0) {
        log_error("no random bytes available");
        return 1;
    }
    if (routing_load(&w->routing, w->cfg) < 0) {
        log_error("out of memory");
        return 1;
    }
    worker_attach(w, &main_shared);
    w->loop = uv_default_loop();
    if (nodes_sync(w->nodes, w->loop, w->cfg) < 0) {
        log_error("too many nodes (at most %d)", NODES_MAX);
        return 1;
    }
    if ((takeover ? restart_takeover(w) : listener_start(w)) < 0)
        return 1;
    if (!takeover && metrics_start(w) < 0)
        return 1;
    if (main_write_pidfile(w->cfg->pidfile) < 0)
        log_warn("cannot write pidfile %s", w->cfg->pidfile);
    restart_start(w, argv);
    /* The old process let go of the metrics port when it handed over (restart_start
     * waited for that); failing now must not leave the clients without a server. */
    if (takeover && metrics_start(w) < 0)
        log_error("online restart: the metrics endpoint is off; a reload tries again");
    uv_signal_init(w->loop, &main_sig_hup);
    uv_signal_init(w->loop, &main_sig_term);
    uv_signal_init(w->loop, &main_sig_int);
    main_sig_hup.data = main_sig_term.data = main_sig_int.data = w;
    uv_signal_start(&main_sig_hup, main_on_hup, SIGHUP);
    uv_signal_start(&main_sig_term, main_on_term, SIGTERM);
    uv_signal_start(&main_sig_int, main_on_int, SIGINT);
    uv_timer_init(w->loop, &w->maint);
    w->maint.data = w;
    uv_timer_start(&w->maint, main_on_maint, 1000, 1000);
    /* The first stats_period starts now, from zero: traffic of the first second counts. */
    stats_tick(w, stats_now_us(), 0);
    log_info("pgrouter %s started, cluster \"%s\" primary %s", PGROUTER_VERSION,
             w->cfg->default_cluster->name, w->cfg->default_cluster->primary.name);
    if (workers_start(w, (unsigned)w->cfg->workers) < 0)
        return 1;
    uv_run(w->loop, UV_RUN_DEFAULT);
    workers_join(w);
    log_info("pgrouter exiting");
    pool_log_waits(w);
    /* Close what is left (idle servers, timers, signals) and let the loop finish it. */
    pool_close_all(w);
    metrics_stop(w);
    nodes_close(w->nodes, NULL);
    uv_close((uv_handle_t *)&w->maint, NULL);
    restart_close(w);
    lifecycle_close(w);
    authq_close(w);
    if (!uv_is_closing((uv_handle_t *)&main_sig_hup))
        uv_close((uv_handle_t *)&main_sig_hup, NULL);
    uv_close((uv_handle_t *)&main_sig_term, NULL);
    uv_close((uv_handle_t *)&main_sig_int, NULL);
    if (w->listening)
        listener_stop(w);
    exit_start = uv_now(w->loop);
    uv_timer_init(w->loop, &exit_watch);
    exit_watch.data = &exit_start;
    uv_timer_start(&exit_watch, main_on_exit_slow, MAIN_EXIT_SLOW_MS, MAIN_EXIT_SLOW_MS);
    uv_unref((uv_handle_t *)&exit_watch);
    uv_run(w->loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&exit_watch, NULL);
    uv_run(w->loop, UV_RUN_NOWAIT);
    restart_unlink_pidfile(w->cfg->pidfile);
    workers_free_state(w);
    shared_close(&main_shared);
    return 0;
}
