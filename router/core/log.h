/*
 * router/core/log.h - one-line log events to stderr or a log file, and to syslog if asked,
 * with a level threshold.
 */
#ifndef PGROUTER_LOG_H
#define PGROUTER_LOG_H

#include <stdio.h>

struct cfg;

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG, LOG_TRACE };

/*
 * Route log lines to path (appended; NULL or "" = stderr) at verbosity
 * 0 = info, 1 = debug, 2 = trace (PgBouncer's "verbose"). Returns 0 or -errno; on an
 * error the lines keep going where they went before (the level is set either way).
 * The logger is process-wide by nature (one stderr); it is the one piece of state
 * outside struct worker, set from main.c before any worker starts and on reload.
 */
int log_open(const char *path, int verbose);

/*
 * Apply a snapshot's log keys: logfile (reopened even if unchanged, so that a rotated
 * file is let go), verbose plus cli_verbose (the -v count of the command line), syslog,
 * syslog_ident, syslog_facility. At start; 0 or -errno as log_open.
 */
int log_apply(const struct cfg *c, int cli_verbose);

/* log_apply on reload: the -v count given at start still counts. Logs a changed verbose. */
int log_reload(const struct cfg *c);

int log_enabled(enum log_level level);

/*
 * One event. The text is made safe for a one-line-per-event log: control characters
 * become '?', and the lines of a multi-line text after the first are indented.
 */
void log_write(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_error(...) log_write(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_write(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_write(LOG_INFO, __VA_ARGS__)
#define log_debug(...) do { if (log_enabled(LOG_DEBUG)) log_write(LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
