/*
 * router/log.h - one-line log events to stderr or a log file, with a level threshold.
 */
#ifndef PGROUTER_LOG_H
#define PGROUTER_LOG_H

#include <stdio.h>

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG, LOG_TRACE };

/*
 * Route log lines to path (appended; NULL or "" = stderr) at verbosity
 * 0 = info, 1 = debug, 2 = trace (PgBouncer's "verbose"). Returns 0 or -errno.
 * The logger is process-wide by nature (one stderr); it is the one piece of state
 * outside struct worker, set from main.c before any worker starts.
 */
int log_open(const char *path, int verbose);
int log_enabled(enum log_level level);
void log_write(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_error(...) log_write(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_write(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_write(LOG_INFO, __VA_ARGS__)
#define log_debug(...) do { if (log_enabled(LOG_DEBUG)) log_write(LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
