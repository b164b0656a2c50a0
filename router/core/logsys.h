/*
 * router/core/logsys.h - the syslog(3) side of the logger. Kept apart from router/core/log.h
 * because <syslog.h> defines LOG_INFO and LOG_DEBUG as macros, which log.h uses as names.
 */
#ifndef PGROUTER_LOGSYS_H
#define PGROUTER_LOGSYS_H

/*
 * Open (or reopen with another ident or facility) the connection to syslog.
 * facility: an enum cfg_facility value. ident is copied. Not thread-safe: called from
 * the thread that starts and reloads pgrouter.
 */
void logsys_open(const char *ident, int facility);

/* Stop sending to syslog; harmless when not open. */
void logsys_close(void);

/* 1 if lines go to syslog. */
int logsys_active(void);

/*
 * Send one message (without the timestamp: syslog adds its own). level is an
 * enum log_level value: 0 error, 1 warning, 2 info, 3 debug, 4 trace.
 */
void logsys_write(int level, const char *msg);

#endif
