/*
 * router/core/log.c - the logger: timestamp, level, one line per event, to stderr or the
 * logfile and, with syslog = 1, to syslog as well (router/core/logsys.c).
 */
#include "router/core/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "config/cfg.h"
#include "router/core/logsys.h"

static struct {
    pthread_mutex_t lock;   /* guards out: worker threads write while a reload reopens */
    FILE *out;
    enum log_level level;
    int verbose;            /* as configured plus cli_verbose, 0..2 */
    int cli_verbose;        /* -v count given at start */
} log_state = { PTHREAD_MUTEX_INITIALIZER, NULL, LOG_INFO, 0, 0 };

int log_open(const char *path, int verbose)
{
    FILE *f = stderr;

    if (verbose > 2)
        verbose = 2;
    log_state.verbose = verbose < 0 ? 0 : verbose;
    log_state.level = verbose >= 2 ? LOG_TRACE : verbose == 1 ? LOG_DEBUG : LOG_INFO;
    if (path != NULL && path[0] != '\0') {
        f = fopen(path, "a");
        if (f == NULL)
            return -errno;
        setvbuf(f, NULL, _IOLBF, 0);
    }
    pthread_mutex_lock(&log_state.lock);
    if (log_state.out != NULL && log_state.out != stderr)
        fclose(log_state.out);
    log_state.out = f;
    pthread_mutex_unlock(&log_state.lock);
    return 0;
}

int log_apply(const struct cfg *c, int cli_verbose)
{
    log_state.cli_verbose = cli_verbose;
    if (c->syslog)
        logsys_open(c->syslog_ident, c->syslog_facility);
    else
        logsys_close();
    return log_open(c->logfile, c->verbose + cli_verbose);
}

int log_reload(const struct cfg *c)
{
    int before = log_state.verbose;
    int rc = log_apply(c, log_state.cli_verbose);

    if (log_state.verbose != before)
        log_info("verbose %d -> %d", before, log_state.verbose);
    return rc;
}

int log_enabled(enum log_level level)
{
    return level <= log_state.level;
}

/* Control characters of hostile input (user names, server text) cannot forge a line. */
static void log_clean(char *text)
{
    for (unsigned char *p = (unsigned char *)text; *p != '\0'; p++)
        if ((*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f)
            *p = '?';
}

/* Write text with every line after the first indented: one event stays one entry. */
static void log_put_lines(FILE *out, const char *text)
{
    const char *nl;

    while ((nl = strchr(text, '\n')) != NULL) {
        fwrite(text, 1, (size_t)(nl - text), out);
        fputs("\n    ", out);
        text = nl + 1;
    }
    fputs(text, out);
}

void log_write(enum log_level level, const char *fmt, ...)
{
    static const char *const names[] = { "ERROR", "WARNING", "LOG", "DEBUG", "TRACE" };
    FILE *out;
    char stamp[32], small[1024], *text = small;
    struct timeval tv;
    struct tm tm;
    va_list ap;
    int n;

    if (!log_enabled(level))
        return;
    va_start(ap, fmt);
    n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(small)) {
        /* A long text (the errors of a refused reload) is kept whole if memory allows. */
        char *big = malloc((size_t)n + 1);

        if (big != NULL) {
            va_start(ap, fmt);
            vsnprintf(big, (size_t)n + 1, fmt, ap);
            va_end(ap);
            text = big;
        }
    }
    log_clean(text);
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
    pthread_mutex_lock(&log_state.lock);
    out = log_state.out != NULL ? log_state.out : stderr;
    fprintf(out, "%s.%03d UTC [%d] %s ", stamp, (int)(tv.tv_usec / 1000), (int)getpid(),
            names[level]);
    log_put_lines(out, text);
    fputc('\n', out);
    pthread_mutex_unlock(&log_state.lock);
    logsys_write((int)level, text);
    if (text != small)
        free(text);
}
