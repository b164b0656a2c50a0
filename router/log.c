/*
 * router/log.c - the logger: timestamp, level, one line per event.
 */
#include "router/log.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static struct {
    FILE *out;
    enum log_level level;
} log_state = { NULL, LOG_INFO };

int log_open(const char *path, int verbose)
{
    log_state.level = verbose >= 2 ? LOG_TRACE : verbose == 1 ? LOG_DEBUG : LOG_INFO;
    if (path == NULL || path[0] == '\0') {
        log_state.out = stderr;
        return 0;
    }
    FILE *f = fopen(path, "a");
    if (f == NULL)
        return -errno;
    setvbuf(f, NULL, _IOLBF, 0);
    if (log_state.out != NULL && log_state.out != stderr)
        fclose(log_state.out);
    log_state.out = f;
    return 0;
}

int log_enabled(enum log_level level)
{
    return level <= log_state.level;
}

void log_write(enum log_level level, const char *fmt, ...)
{
    static const char *const names[] = { "ERROR", "WARNING", "LOG", "DEBUG", "TRACE" };
    FILE *out = log_state.out != NULL ? log_state.out : stderr;
    char stamp[32];
    struct timeval tv;
    struct tm tm;
    va_list ap;

    if (!log_enabled(level))
        return;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
    flockfile(out);
    fprintf(out, "%s.%03d UTC [%d] %s ", stamp, (int)(tv.tv_usec / 1000), (int)getpid(),
            names[level]);
    va_start(ap, fmt);
    vfprintf(out, fmt, ap);
    va_end(ap);
    fputc('\n', out);
    funlockfile(out);
}
