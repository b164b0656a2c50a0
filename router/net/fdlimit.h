/*
 * router/net/fdlimit.h - the open-file limit (RLIMIT_NOFILE) against what a configuration
 * may need: raised toward the hard limit when short, and a warning when still short.
 */
#ifndef PGROUTER_FDLIMIT_H
#define PGROUTER_FDLIMIT_H

#include <stdint.h>

#include "config/cfg.h"

/*
 * File descriptors cfg may need at once: max_client_conn and max_pending_logins
 * clients, two per server connection (libpq's socket and pgrouter's dup of it) for a
 * full pool (default_pool_size + reserve_pool_size) per node and auth_file user, a
 * health check per node, and a margin for listeners, logs and libuv's own.
 */
uint64_t fdlimit_need(const struct cfg *cfg);

/*
 * Compare RLIMIT_NOFILE with fdlimit_need(cfg); raise the soft limit toward the hard
 * one when short, and log a warning naming the numbers when still short. when says
 * what asked ("start", "reload") in the log lines. Returns the soft limit in effect.
 */
uint64_t fdlimit_check(const struct cfg *cfg, const char *when);

#endif
