/*
 * router/auth/hbacheck.c - auth_type and auth_hba_file applied to one client at login: the
 * rule that matches its connection decides the exchange, or refuses it the way
 * PostgreSQL does (FATAL 28000 naming host, user, database and encryption). pgrouter
 * accepts TCP only, so "local" rules never match. The admin console's database is
 * checked like any other.
 */
#include "router/auth/hbacheck.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "config/hba.h"
#include "router/session/session.h"
#include "router/net/tls.h"

/* The client's address as a rule sees it, and as text for messages. */
static void hbacheck_client_addr(struct session *s, struct hba_client *hc, char *text,
                                 size_t len)
{
    struct sockaddr_storage ss;
    int n = sizeof(ss);

    snprintf(text, len, "?");
    hc->family = 0;
    if (uv_tcp_getpeername(&s->client.tcp, (struct sockaddr *)&ss, &n) != 0)
        return;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;

        hc->family = 4;
        memcpy(hc->addr, &in->sin_addr, 4);
    } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;

        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
            hc->family = 4;
            memcpy(hc->addr, in6->sin6_addr.s6_addr + 12, 4);
        } else {
            hc->family = 6;
            memcpy(hc->addr, in6->sin6_addr.s6_addr, 16);
        }
    }
    if (hc->family != 0)
        inet_ntop(hc->family == 4 ? AF_INET : AF_INET6, hc->addr, text, (socklen_t)len);
}

/* cert: a verified client certificate whose CN is the user name. 0, or -1 after FATAL. */
static int hbacheck_cert(struct session *s)
{
    const char *cn = conn_tls_peer_cn(&s->client);

    if (cn == NULL) {
        session_fatal(s, "28000", "Connect with sslcert and sslkey of a certificate the "
                      "client_tls_ca_file signs.", "connection requires a valid client "
                      "certificate");
        return -1;
    }
    if (strcmp(cn, s->user) != 0) {
        session_fatal(s, "28000", NULL, "certificate authentication failed for user \"%s\": "
                      "the certificate's CN is \"%s\"", s->user, cn);
        return -1;
    }
    return 0;
}

int hbacheck_method(struct session *s, enum auth_method *method)
{
    const struct cfg *cfg = s->cfg;
    struct hba_client hc;
    const struct hba_rule *r;
    char host[INET6_ADDRSTRLEN + 1];
    const char *enc;

    switch (cfg->auth_type) {
    case CFG_AUTH_TRUST:
        *method = AUTH_TRUST;
        return 0;
    case CFG_AUTH_MD5:
        *method = AUTH_MD5;
        return 0;
    case CFG_AUTH_SCRAM:
        *method = AUTH_SCRAM;
        return 0;
    case CFG_AUTH_CERT:
        *method = AUTH_TRUST;
        return hbacheck_cert(s);
    case CFG_AUTH_HBA:
        break;
    }
    memset(&hc, 0, sizeof(hc));
    hc.tls = conn_tls_on(&s->client);
    hc.db = s->db;
    hc.user = s->user;
    hbacheck_client_addr(s, &hc, host, sizeof(host));
    enc = hc.tls ? "SSL encryption" : "no encryption";
    r = hc.family != 0 ? hba_match(cfg->hba, &hc) : NULL;
    if (r == NULL) {
        session_fatal(s, "28000", "Add a line for it to the auth_hba_file.",
                      "no pg_hba.conf entry for host \"%s\", user \"%s\", database \"%s\", %s",
                      host, s->user, s->db, enc);
        return -1;
    }
    switch (r->method) {
    case HBA_REJECT:
        session_fatal(s, "28000", NULL, "pg_hba.conf rejects connection for host \"%s\", "
                      "user \"%s\", database \"%s\", %s", host, s->user, s->db, enc);
        return -1;
    case HBA_TRUST:
        *method = AUTH_TRUST;
        return 0;
    case HBA_MD5:
        *method = AUTH_MD5;
        return 0;
    case HBA_SCRAM:
        *method = AUTH_SCRAM;
        return 0;
    case HBA_CERT:
        *method = AUTH_TRUST;
        return hbacheck_cert(s);
    }
    return -1;
}
