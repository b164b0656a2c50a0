/*
 * router/core/restart.h - online restart: a new pgrouter process takes the listening socket
 * over from the running one through a unix socket (SCM_RIGHTS), so that no connection
 * attempt is ever refused; the old process then serves its clients until they leave.
 */
#ifndef PGROUTER_RESTART_H
#define PGROUTER_RESTART_H

#include "router/worker.h"

/*
 * The path of cfg's restart socket: restart_socket, or /tmp/.s.pgrouter.<listen_port>.
 * Returns 0, or -ENAMETOOLONG if it does not fit a unix socket address.
 */
int restart_path(const struct cfg *cfg, char *buf, size_t n);

/*
 * `pgrouter -R`: ask the process serving at cfg's restart socket for its listening socket
 * and accept on it (w->listening). Blocks (at most about 10 s); run before the loop.
 * Returns 0, or a negative error, logged (nothing was taken over: the old one serves on).
 */
int restart_takeover(struct worker *w);

/*
 * Once the worker is ready to serve (pidfile written): after restart_takeover, tell the
 * old process to stop accepting and wait for it to let go of the restart socket; then (in
 * any case) listen on the restart socket for a successor, and handle SIGUSR2 by starting
 * one (argv + -R). argv must outlive the worker. Returns 0 or a negative error, logged
 * (the worker serves on without online restarts).
 */
int restart_start(struct worker *w, char **argv);

/* At exit: close the restart socket (unlinked unless handed over) and handles. */
void restart_close(struct worker *w);

/* Remove the pidfile at exit, unless a successor has written its own pid there since. */
void restart_unlink_pidfile(const char *path);

#endif
