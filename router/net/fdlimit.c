/*
 * router/net/fdlimit.c - RLIMIT_NOFILE against what the configuration may need: raise the
 * soft limit toward the hard one, warn when that is still short. See fdlimit.h.
 */
#include "router/net/fdlimit.h"

#include <errno.h>
#include <string.h>
#include <sys/resource.h>

#include "router/core/log.h"

#define FDLIMIT_MARGIN 64       /* listeners, metrics, logs, libuv, cancel jobs */

uint64_t fdlimit_need(const struct cfg *cfg)
{
    uint64_t nodes = 0, users, per_pool;

    for (size_t i = 0; i < cfg->n_clusters; i++)
        nodes += 1 + cfg->clusters[i].n_replicas;
    users = cfg->have_userlist && cfg->n_users > 0 ? cfg->n_users : 1;
    per_pool = (uint64_t)cfg->default_pool_size + (uint64_t)cfg->reserve_pool_size;
    if (cfg->max_db_connections > 0 && (uint64_t)cfg->max_db_connections < per_pool * users)
        per_pool = (uint64_t)cfg->max_db_connections, users = 1;
    return (uint64_t)cfg->max_client_conn + (uint64_t)cfg->max_pending_logins +
           2 * nodes * users * per_pool + nodes + FDLIMIT_MARGIN;
}

uint64_t fdlimit_check(const struct cfg *cfg, const char *when)
{
    uint64_t need = fdlimit_need(cfg);
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
        log_warn("%s: cannot read the open-file limit: %s", when, strerror(errno));
        return 0;
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        struct rlimit up = rl;
        uint64_t old = rl.rlim_cur;

        up.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need ? need : rl.rlim_max;
        if (up.rlim_cur > rl.rlim_cur && setrlimit(RLIMIT_NOFILE, &up) == 0) {
            rl = up;
            log_info("%s: open-file limit raised from %llu to %llu (this configuration may "
                     "need %llu)", when, (unsigned long long)old,
                     (unsigned long long)rl.rlim_cur, (unsigned long long)need);
        }
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
        log_warn("%s: the open-file limit is %llu (hard limit %llu) but this configuration "
                 "may need %llu file descriptors (max_client_conn %d + max_pending_logins %d "
                 "+ 2 per server connection + health checks + %d): past the limit, clients "
                 "get FATAL 53000 and new connections wait. Raise the hard limit (ulimit -Hn, "
                 "systemd LimitNOFILE) or lower max_client_conn and the pool sizes", when,
                 (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max,
                 (unsigned long long)need, cfg->max_client_conn, cfg->max_pending_logins,
                 FDLIMIT_MARGIN);
    return rl.rlim_cur;
}
