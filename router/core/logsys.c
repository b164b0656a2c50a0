/*
 * router/core/logsys.c - the syslog(3) side of the logger: ident and facility from the config,
 * pgrouter's levels mapped to syslog priorities. Like the logger, process-wide state.
 */
#include "router/core/logsys.h"

#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "config/cfg.h"

static struct {
    int open;
    char ident[64];     /* openlog keeps the pointer: it must outlive the connection */
} logsys_state;

static int logsys_facility(int f)
{
    static const int codes[] = {
        [CFG_FACILITY_DAEMON] = LOG_DAEMON, [CFG_FACILITY_USER] = LOG_USER,
        [CFG_FACILITY_AUTH] = LOG_AUTH, [CFG_FACILITY_AUTHPRIV] = LOG_AUTHPRIV,
        [CFG_FACILITY_LOCAL0] = LOG_LOCAL0, [CFG_FACILITY_LOCAL1] = LOG_LOCAL1,
        [CFG_FACILITY_LOCAL2] = LOG_LOCAL2, [CFG_FACILITY_LOCAL3] = LOG_LOCAL3,
        [CFG_FACILITY_LOCAL4] = LOG_LOCAL4, [CFG_FACILITY_LOCAL5] = LOG_LOCAL5,
        [CFG_FACILITY_LOCAL6] = LOG_LOCAL6, [CFG_FACILITY_LOCAL7] = LOG_LOCAL7,
    };

    return f >= 0 && (size_t)f < sizeof(codes) / sizeof(codes[0]) ? codes[f] : LOG_DAEMON;
}

void logsys_open(const char *ident, int facility)
{
    if (logsys_state.open)
        closelog();
    snprintf(logsys_state.ident, sizeof(logsys_state.ident), "%s",
             ident != NULL && ident[0] != '\0' ? ident : "pgrouter");
    /* LOG_NDELAY: connect now, so that a chroot or a missing /dev/log shows at once. */
    openlog(logsys_state.ident, LOG_PID | LOG_NDELAY, logsys_facility(facility));
    logsys_state.open = 1;
}

void logsys_close(void)
{
    if (!logsys_state.open)
        return;
    closelog();
    logsys_state.open = 0;
}

int logsys_active(void)
{
    return logsys_state.open;
}

void logsys_write(int level, const char *msg)
{
    static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG, LOG_DEBUG };

    if (!logsys_state.open || level < 0 || level > 4)
        return;
    syslog(prio[level], "%s", msg);
}
