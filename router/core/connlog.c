/*
 * router/core/connlog.c - log lines of a client connection's life: login, failed login, errors
 * pgrouter sends, disconnection with duration and reason. See connlog.h.
 */
#include "router/core/connlog.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "router/core/log.h"
#include "router/session/session.h"
#include "router/net/tls.h"

void connlog_accept(struct session *s)
{
    struct connlog *l = &s->connlog;
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    char ip[48];

    l->start_ns = uv_hrtime();
    snprintf(l->addr, sizeof(l->addr), "?");
    if (uv_tcp_getpeername(&s->client.tcp, (struct sockaddr *)&ss, &len) != 0)
        return;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;

        if (uv_ip4_name(in, ip, sizeof(ip)) == 0)
            snprintf(l->addr, sizeof(l->addr), "%s:%u", ip, (unsigned)ntohs(in->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;

        if (uv_ip6_name(in6, ip, sizeof(ip)) == 0)
            snprintf(l->addr, sizeof(l->addr), "[%s]:%u", ip, (unsigned)ntohs(in6->sin6_port));
    }
}

void connlog_tried(struct session *s)
{
    s->connlog.tried = 1;
}

static const char *connlog_method(const struct session *s)
{
    enum auth_method m = s->auth != NULL ? s->auth->method : AUTH_TRUST;

    return m == AUTH_SCRAM ? "scram-sha-256" : m == AUTH_MD5 ? "md5" : "trust";
}

void connlog_login(struct session *s)
{
    s->connlog.logged_in = 1;
    if (s->cfg->log_connections)
        log_info("%s: login from %s user=%s database=%s auth=%s%s%s", s->tag,
                 s->connlog.addr, s->user, s->db, connlog_method(s),
                 conn_tls_on(&s->client) ? " tls=" : "",
                 conn_tls_on(&s->client) ? conn_tls_describe(&s->client) : "");
}

void connlog_why(struct session *s, const char *fmt, ...)
{
    va_list ap;

    if (s->connlog.why[0] != '\0')
        return;
    va_start(ap, fmt);
    vsnprintf(s->connlog.why, sizeof(s->connlog.why), fmt, ap);
    va_end(ap);
}

void connlog_pooler_error(struct session *s, const char *severity, const char *sqlstate,
                          const char *text)
{
    if (strcmp(severity, "FATAL") == 0) {
        s->connlog.refused = 1;
        connlog_why(s, "FATAL %s %s", sqlstate, text);
    }
    if (s->cfg->log_pooler_errors)
        log_info("%s: pooler error: %s %s %s", s->tag, severity, sqlstate, text);
}

void connlog_end(struct session *s)
{
    const struct connlog *l = &s->connlog;
    double secs = (double)(uv_hrtime() - l->start_ns) / 1e9;
    const char *why = l->why[0] != '\0' ? l->why : "closed by pgrouter";

    if (l->logged_in) {
        if (s->cfg->log_disconnections)
            log_info("%s: disconnect from %s user=%s database=%s duration=%.3fs reason: %s",
                     s->tag, l->addr, s->user, s->db, secs, why);
    } else if (l->tried || l->refused) {
        /* Refused or gone before authenticating; a bare connect-and-close (a port probe,
         * an SSL probe) says nothing. */
        const char *user = s->user, *db = s->db;

        if (user == NULL && l->tried && s->st != NULL) {
            /* refused before the session took them (max_client_conn, shutting down...) */
            user = s->st->user;
            db = s->st->database != NULL ? s->st->database : user;
        }
        if (s->cfg->log_connections)
            log_info("%s: login failed from %s user=%s database=%s duration=%.3fs reason: %s",
                     s->tag, l->addr, user != NULL ? user : "?", db != NULL ? db : "?", secs,
                     why);
    }
}
