/*
 * router/session/login.c - the start of a client connection: startup packet, SSLRequest (TLS when
 * client_tls_sslmode allows it) and GSSENCRequest refusal, CancelRequest dispatch, limits,
 * and the authentication exchange against the auth_file. Tells the session through
 * login_ops once the client is authenticated (or was a CancelRequest).
 */
#include "router/session/login.h"

#include <errno.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfgsec.h"
#include "config/userlist.h"
#include "protocol/frame.h"
#include "protocol/msg.h"
#include "router/auth/authlimit.h"
#include "router/auth/authq.h"
#include "router/auth/hbacheck.h"
#include "router/core/log.h"
#include "router/auth/passthru.h"
#include "router/net/tls.h"
#include "router/session/session.h"

#define LOGIN_AUTH_MAX_MSG 65536        /* PostgreSQL's PG_MAX_AUTH_TOKEN_LENGTH */

/*
 * A SCRAM secret for a plain password, derived once per user and password and kept by
 * the worker: PBKDF2 with 4096 rounds per login would cost more than the login itself.
 */
static const char *login_scram_secret(struct worker *w, const char *user, const char *pw)
{
    struct login_secret *e;
    struct scram_secret sec;
    uint8_t salt[SCRAM_DEFAULT_SALT_LEN];

    for (e = w->secrets; e != NULL; e = e->next)
        if (strcmp(e->user, user) == 0 && strcmp(e->password, pw) == 0)
            return e->secret;
    if (RAND_bytes(salt, sizeof(salt)) != 1 ||
        scram_secret_from_password(pw, salt, sizeof(salt), SCRAM_DEFAULT_ITERATIONS, &sec) < 0)
        return pw;
    e = calloc(1, sizeof(*e));
    if (e == NULL)
        return pw;
    e->user = strdup(user);
    e->password = strdup(pw);
    if (e->user == NULL || e->password == NULL ||
        scram_secret_format(&sec, e->secret, sizeof(e->secret)) < 0) {
        free(e->user);
        free(e->password);
        free(e);
        return pw;
    }
    e->next = w->secrets;
    w->secrets = e;
    return e->secret;
}

/* Keep what the login yields for opening servers without a plain password (passthru.h). */
static void login_passthru(struct session *s)
{
    passthru_free(s->passthru);
    s->passthru = passthru_from_auth(s->auth);
}

static void login_begin_auth(struct session *s)
{
    const struct cfg *cfg = s->cfg;
    const struct cfg_user *u = NULL;
    const char *secret = "";
    enum auth_method method;

    snprintf(s->tag, sizeof(s->tag), "c%u %s@%s", s->id, s->st->user,
             s->st->database != NULL ? s->st->database : s->st->user);
    if (hbacheck_method(s, &method) < 0)
        return;
    if (cfg->have_userlist) {
        u = cfg_find_user(cfg, s->st->user);
        secret = u != NULL ? u->secret : NULL;
        /* not in auth_file: auth_query may know the user (the exchange resumes later) */
        if (u == NULL && method != AUTH_TRUST && authq_lookup(s, method) == 0)
            return;
    }
    login_exchange(s, method, secret);
}

void login_exchange(struct session *s, enum auth_method method, const char *secret)
{
    uint8_t random[AUTH_RANDOM_LEN];
    const uint8_t *cb;
    size_t cb_len = 0;
    enum auth_rc rc;
    struct msgbuf b;

    if (method == AUTH_SCRAM && secret != NULL && secret[0] != '\0' && userlist_is_plain(secret))
        secret = login_scram_secret(s->w, s->st->user, secret);
    if (method == AUTH_TRUST && secret == NULL) {
        session_fatal(s, "28000", "Add the user to auth_file.",
                      "user \"%s\" is not allowed to connect (not in auth_file)", s->st->user);
        return;
    }
    if (RAND_bytes(random, sizeof(random)) != 1) {
        session_fatal(s, "58000", NULL, "no random bytes for authentication");
        return;
    }
    s->auth = calloc(1, sizeof(*s->auth));
    if (s->auth == NULL) {
        session_fatal(s, "53200", NULL, "out of memory");
        return;
    }
    session_set_state(s, SESSION_AUTH);
    msgbuf_init(&b);
    /* On TLS, SCRAM offers channel binding to the certificate the client was given. */
    cb = conn_tls_on(&s->client) ? conn_tls_endpoint(&s->client, &cb_len) : NULL;
    rc = auth_begin_cb(s->auth, method, s->st->user, secret, random, s->w->mock_key,
                       sizeof(s->w->mock_key), cb, cb_len, &b);
    if (session_send(s, &b) < 0)
        return;
    if (rc == AUTH_DONE) {
        login_passthru(s);
        connlog_login(s);
        s->login_ops->authenticated(s);
    }
    else if (rc != AUTH_CONTINUE)
        session_fatal(s, "28P01", NULL, "password authentication failed for user \"%s\"",
                      s->st->user);
}

/*
 * SSLRequest: 'S' and TLS when there is a context toward clients, else 'N' (go on in
 * plain text). GSSENCRequest: always 'N'; the client may send an SSLRequest next.
 */
static void login_encryption_request(struct session *s)
{
    struct conn *c = &s->client;
    int rc;

    if (conn_tls_on(c)) {
        session_fatal(s, "08P01", NULL, "%s request on a connection that uses TLS already",
                      s->st->kind == STARTUP_SSL ? "SSL" : "GSSENC");
        return;
    }
    if (s->st->kind == STARTUP_GSSENC || s->w->client_tls == NULL) {
        conn_send(c, "N", 1);
        return;
    }
    /*
     * Bytes after the SSLRequest were sent before the client could know our answer: a
     * man in the middle may have put them there to run as if they came through TLS
     * (CVE-2021-23214). PostgreSQL refuses them; so do we.
     */
    if (c->recvd != c->parsed) {
        conn_consume(c, c->recvd - c->parsed);
        session_fatal(s, "08P01", NULL, "received unencrypted data after SSL request");
        return;
    }
    conn_send(c, "S", 1);
    rc = conn_tls_accept(c, s->w->client_tls);
    if (rc < 0)
        session_fatal(s, "58000", NULL, "cannot start TLS: %s", strerror(-rc));
}

/* May this client log in at all (TLS, replication, shutdown, max_client_conn)? 0, or -1
 * with the session closed with a FATAL that says why. */
static int login_admit(struct session *s)
{
    const char *repl = startup_get(s->st, "replication");
    struct worker *w = s->w;

    if (s->cfg->client_tls.sslmode >= CFG_SSL_REQUIRE && !conn_tls_on(&s->client)) {
        session_fatal(s, "28000", "Connect with TLS (sslmode=require or stronger).",
                      "pgrouter requires TLS for every client (client_tls_sslmode = %s)",
                      cfgsec_sslmode_name(s->cfg->client_tls.sslmode));
        return -1;
    }
    if (repl != NULL && strcmp(repl, "false") != 0 && strcmp(repl, "0") != 0 &&
        strcmp(repl, "off") != 0 && strcmp(repl, "no") != 0) {
        session_fatal(s, "0A000", "Connect to the server directly for replication.",
                      "replication connections are not supported by pgrouter");
        return -1;
    }
    if (w->draining == WORKER_DRAIN_SHUTDOWN) {
        session_fatal(s, "57P01", NULL, "pgrouter is shutting down");
        return -1;
    }
    if (!worker_client_take(w, (unsigned)s->cfg->max_client_conn)) {
        session_fatal(s, "53300", "Raise max_client_conn or use fewer connections.",
                      "no more connections allowed (max_client_conn = %d)",
                      s->cfg->max_client_conn);
        return -1;
    }
    return 0;
}

static void login_startup_packet(struct session *s, const struct frame *f)
{
    struct msgbuf b;
    int rc;

    free(s->startup_pkt);
    s->startup_pkt = malloc(f->body_len);
    if (s->st == NULL)
        s->st = malloc(sizeof(*s->st));
    if (s->startup_pkt == NULL || s->st == NULL) {
        session_fatal(s, "53200", NULL, "out of memory");
        return;
    }
    memcpy(s->startup_pkt, f->body, f->body_len);
    rc = startup_parse(s->startup_pkt, f->body_len, s->st);
    if (s->st->kind == STARTUP_SSL || s->st->kind == STARTUP_GSSENC) {
        free(s->startup_pkt);
        s->startup_pkt = NULL;
        if (rc < 0) {
            session_fatal(s, "08P01", NULL, "invalid SSL/GSSENC request");
            return;
        }
        login_encryption_request(s);
        return;
    }
    if (rc == -EPROTONOSUPPORT) {
        session_fatal(s, "0A000", NULL, "unsupported frontend protocol %u.%u: pgrouter "
                      "speaks 3.0", s->st->version >> 16, s->st->version & 0xffff);
        return;
    }
    if (rc < 0) {
        session_fatal(s, "08P01", NULL, "invalid startup packet layout%s",
                      rc == -E2BIG ? " (too many parameters)" : "");
        return;
    }
    if (s->st->kind == STARTUP_CANCEL) {
        s->login_ops->cancel(s);
        return;
    }
    if (authlimit_over(s))
        return;     /* came over max_pending_logins: FATAL 53300 */
    /* 3.x with x > 0, or _pq_. options: say what is spoken (3.0) and go on, as PostgreSQL */
    msgbuf_init(&b);
    if (startup_negotiate(s->st, &b) > 0 && session_send(s, &b) < 0)
        return;
    msgbuf_free(&b);
    connlog_tried(s);
    if (login_admit(s) < 0)
        return;
    s->counted = 1;
    s->user = s->st->user;
    s->db = s->st->database != NULL ? s->st->database : s->st->user;
    s->cluster = s->cfg->default_cluster;
    login_begin_auth(s);
}

static void login_startup_read(struct session *s)
{
    struct conn *c = &s->client;
    struct frame f;

    while (s->state == SESSION_STARTUP && s->authq == NULL) {
        switch (frame_startup(c->buf + c->parsed, c->recvd - c->parsed, &f)) {
        case FRAME_OK:
            conn_consume(c, f.len);
            conn_discard(c);    /* before: a trust login may run a pipelined query now */
            login_startup_packet(s, &f);
            continue;
        case FRAME_AGAIN:
            c->want = f.have_header ? f.len : 4;
            return;
        case FRAME_BAD:
            conn_consume(c, c->recvd - c->parsed);
            conn_discard(c);
            session_fatal(s, "08P01", NULL, "invalid length of startup packet");
            return;
        }
    }
}

static void login_auth_read(struct session *s)
{
    struct conn *c = &s->client;
    const char *why, *code, *detail;
    struct frame f;
    struct msgbuf b;
    enum auth_rc rc;

    if (authlimit_hold(s))
        return;     /* its user failed recently: the check waits (authlimit.c) */
    while (s->state == SESSION_AUTH) {
        switch (conn_next(c, LOGIN_AUTH_MAX_MSG, NULL, &f)) {
        case CONN_SCAN_MSG:
            break;
        case CONN_SCAN_STREAM:
        case CONN_SCAN_MORE:
            return;
        case CONN_SCAN_BAD:
            conn_consume(c, c->recvd - c->parsed);
            conn_discard(c);
            session_fatal(s, "08P01", NULL, "invalid message length during authentication");
            return;
        }
        conn_consume(c, f.len);
        conn_discard(c);
        if (f.type != 'p') {
            session_fatal(s, "08P01", NULL, "expected password response, got message type "
                          "'%c'", f.type >= 32 && f.type < 127 ? f.type : '?');
            return;
        }
        msgbuf_init(&b);
        rc = auth_step(s->auth, f.body, f.body_len, &b);
        if (session_send(s, &b) < 0)
            return;
        switch (rc) {
        case AUTH_CONTINUE:
            break;
        case AUTH_DONE:
            authlimit_success(s);
            login_passthru(s);
            connlog_login(s);
            s->login_ops->authenticated(s);
            return;
        case AUTH_FAILED:
        case AUTH_PROTOCOL:
            why = auth_error(s->auth, &code, &detail);
            if (why != NULL)
                session_fatal_detail(s, code, detail, why);
            else if (rc == AUTH_FAILED)
                authlimit_failed(s);    /* FATAL 28P01, after a backoff delay when repeated */
            else
                session_fatal(s, "08P01", NULL, "malformed authentication message");
            return;
        }
    }
}

void login_read(struct session *s)
{
    if (s->state == SESSION_STARTUP)
        login_startup_read(s);
    if (s->state == SESSION_AUTH)
        login_auth_read(s);
}
