/*
 * router/core/connlog.h - the log lines of a client connection's life: its login (or why the
 * login failed), the errors pgrouter sends it, and its end with duration and reason
 * (log_connections, log_pooler_errors, log_disconnections). Never a secret: these lines
 * carry the address, the user and database names, SQLSTATEs and pgrouter's own messages.
 */
#ifndef PGROUTER_CONNLOG_H
#define PGROUTER_CONNLOG_H

#include <stdint.h>

struct session;

struct connlog {
    char addr[64];          /* "127.0.0.1:53012", "[::1]:53012"; "?" if unknown */
    uint64_t start_ns;      /* uv_hrtime() when accepted */
    int tried;              /* sent a startup packet to log in (not a cancel, not a probe) */
    int logged_in;          /* authenticated: its end gets a disconnection line */
    int refused;            /* pgrouter sent it a FATAL error */
    char why[256];          /* why it ended; the first reason recorded wins */
};

/* The client was accepted: note its address and the time. */
void connlog_accept(struct session *s);

/* The client sent a startup packet to log in (its failure, if any, is logged). */
void connlog_tried(struct session *s);

/* The client authenticated: the login line (log_connections). */
void connlog_login(struct session *s);

/*
 * Record why the connection ends ("client closed the connection", "shutdown"...), for the
 * disconnection or failed-login line. Only the first call counts.
 */
void connlog_why(struct session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * An ErrorResponse pgrouter itself sends (log_pooler_errors); a FATAL one is also recorded
 * as the reason the connection ends.
 */
void connlog_pooler_error(struct session *s, const char *severity, const char *sqlstate,
                          const char *text);

/* The session is gone: the disconnection line, or the failed-login line. */
void connlog_end(struct session *s);

#endif
