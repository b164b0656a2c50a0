/*
 * router/net/listener.h - the listening socket of a worker.
 */
#ifndef PGROUTER_LISTENER_H
#define PGROUTER_LISTENER_H

#include "router/worker.h"

/*
 * Bind w->cfg's listen_addr:listen_port with SO_REUSEADDR and SO_REUSEPORT (set by hand:
 * libuv 1.44 has no UV_TCP_REUSEPORT) and start accepting. An address another process
 * serves already is refused (-EADDRINUSE), found by a probe bind without SO_REUSEPORT.
 * Returns 0 or a negative error, logged with the address.
 */
int listener_start(struct worker *w);

/*
 * Accept on fd, a socket listening already (handed over by the process pgrouter -R takes
 * over from: restart.c). The worker owns fd from here on, even on failure. 0 or an error.
 */
int listener_adopt(struct worker *w, int fd);

/* Stop accepting (SIGTERM); existing sessions go on. */
void listener_stop(struct worker *w);

#endif
