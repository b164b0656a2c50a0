/*
 * router/session.c - the client session state machine: startup packet, SSL/GSSENC
 * refusal, cancel requests, client authentication, the server connection, and relaying
 * in both directions while tracking message boundaries and ReadyForQuery.
 * The only file that ties protocol/, config/ and the server connection together.
 */
#include "router/session.h"

#include <errno.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/frame.h"
#include "protocol/msg.h"
#include "router/cancel.h"
#include "router/log.h"

#define SESSION_AUTH_MAX_MSG 65536      /* PostgreSQL's PG_MAX_AUTH_TOKEN_LENGTH */
#define SESSION_CLOSE_DEADLINE_MS 5000  /* a closing client gets this long to read */

/* ParameterStatus names PostgreSQL 15 reports at start-up (GUC_REPORT). */
static const char *const session_reported[] = {
    "application_name", "client_encoding", "DateStyle", "default_transaction_read_only",
    "in_hot_standby", "integer_datetimes", "IntervalStyle", "is_superuser",
    "server_encoding", "server_version", "session_authorization",
    "standard_conforming_strings", "TimeZone",
};

static const char *const session_state_names[] = {
    "startup", "auth", "connect", "idle", "in_tx", "copy", "closing",
};

static void session_close(struct session *s);
static void session_client_read(struct conn *c);

void session_set_state(struct session *s, enum session_state to)
{
    if (s->state == to)
        return;
    log_debug("%s: %s -> %s", s->tag, session_state_names[s->state], session_state_names[to]);
    s->state = to;
}

static void session_release(struct session *s)
{
    struct worker *w = s->w;

    if (--s->handles > 0)
        return;
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        w->sessions = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    if (s->counted)
        w->n_clients--;
    conn_free_buf(&s->client);
    auth_close(&s->auth);
    free(s->startup_pkt);
    cfg_unref(s->cfg);
    free(s);
    if (w->draining && w->sessions == NULL && !w->listening)
        uv_stop(w->loop);
}

static void session_timer_closed(uv_handle_t *h)
{
    session_release(h->data);
}

static void session_client_closed(struct conn *c)
{
    struct session *s = c->owner;

    if (!uv_is_closing((uv_handle_t *)&s->timer))
        uv_close((uv_handle_t *)&s->timer, session_timer_closed);
    session_release(s);
}

static void session_server_closed(struct server *srv)
{
    struct session *s = srv->owner;

    if (s->srv == srv)
        s->srv = NULL;
    free(srv);
    session_release(s);
}

static void session_deadline_cb(uv_timer_t *t)
{
    struct session *s = t->data;

    conn_close(&s->client);
}

/* Close everything; a client gets SESSION_CLOSE_DEADLINE_MS to read what is queued. */
static void session_close(struct session *s)
{
    if (s->state == SESSION_CLOSING)
        return;
    session_set_state(s, SESSION_CLOSING);
    if (s->srv != NULL)
        server_close(s->srv);
    uv_timer_stop(&s->timer);
    uv_timer_start(&s->timer, session_deadline_cb, SESSION_CLOSE_DEADLINE_MS, 0);
    conn_want_read(&s->client, 1);  /* to discard late input and see the EOF */
    conn_shutdown(&s->client);
}

/* Send an ErrorResponse with severity FATAL, log it, and close the session. */
static void session_fatal(struct session *s, const char *sqlstate, const char *hint,
                          const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void session_fatal(struct session *s, const char *sqlstate, const char *hint,
                          const char *fmt, ...)
{
    struct msgbuf b;
    char text[512];
    va_list ap;
    uint8_t *data;
    size_t n;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    log_info("%s: closing: %s (%s)", s->tag, text, sqlstate);
    if (s->state == SESSION_CLOSING)
        return;
    msgbuf_init(&b);
    msg_error(&b, "FATAL", sqlstate, text, NULL, hint);
    if (!b.oom) {
        data = msgbuf_steal(&b, &n);
        conn_send_owned(&s->client, data, n);
    }
    msgbuf_free(&b);
    session_close(s);
}

/* Queue a built buffer on the client; on allocation failure, close the session. */
static int session_send(struct session *s, struct msgbuf *b)
{
    uint8_t *data;
    size_t n;

    if (b->oom) {
        msgbuf_free(b);
        session_fatal(s, "53200", NULL, "out of memory");
        return -ENOMEM;
    }
    if (b->len == 0)
        return 0;
    data = msgbuf_steal(b, &n);
    if (conn_send_owned(&s->client, data, n) < 0) {
        session_close(s);
        return -EPIPE;
    }
    return 0;
}

/* ---- server side ---- */

static int session_server_stream_ok(uint8_t type)
{
    /* Only what the proxy inspects must arrive whole; rows and copy data stream through. */
    return type != 'Z' && type != 'E' && type != 'G' && type != 'H' && type != 'W';
}

static void session_server_msg(struct session *s, const struct frame *f)
{
    const char *sev;

    switch (f->type) {
    case 'Z':
        if (f->body_len >= 1)
            session_set_state(s, f->body[0] == 'I' ? SESSION_IDLE : SESSION_IN_TX);
        break;
    case 'E':
        sev = msg_error_field(f->body, f->body_len, 'V');
        if (sev == NULL)
            sev = msg_error_field(f->body, f->body_len, 'S');
        if (sev != NULL && (strcmp(sev, "FATAL") == 0 || strcmp(sev, "PANIC") == 0))
            s->server_said_fatal = 1;
        break;
    case 'G':
    case 'H':
    case 'W':
        session_set_state(s, SESSION_COPY);
        break;
    }
}

static void session_server_read(struct conn *c)
{
    struct server *srv = c->owner;
    struct session *s = srv->owner;
    struct frame f;
    int rc;

    if (s->state == SESSION_CLOSING) {
        conn_consume(c, c->recvd - c->parsed);
        conn_discard(c);
        return;
    }
    for (;;) {
        switch (conn_next(c, 0x7fffffff, session_server_stream_ok, &f)) {
        case CONN_SCAN_MSG:
            session_server_msg(s, &f);
            conn_consume(c, f.len);
            continue;
        case CONN_SCAN_STREAM:
            continue;
        case CONN_SCAN_MORE:
            break;
        case CONN_SCAN_BAD:
            conn_forward(c, &s->client);
            session_fatal(s, "08P01", NULL, "server %s sent an invalid message length",
                          srv->node);
            return;
        }
        break;
    }
    rc = conn_forward(c, &s->client);
    if (rc < 0)
        session_close(s);
}

static void session_server_error(struct conn *c, int err)
{
    struct server *srv = c->owner;
    struct session *s = srv->owner;
    int mid_message = c->skip > 0 || c->parsed < c->recvd;

    if (s->state == SESSION_CLOSING)
        return;
    log_info("%s: server %s closed the connection (%s)", s->tag, srv->node,
             err == UV_EOF ? "end of stream" : uv_strerror(err));
    if (s->server_said_fatal || mid_message) {
        /* The client already has the server's FATAL, or a message cut in half. */
        conn_forward(c, &s->client);
        session_close(s);
        return;
    }
    session_fatal(s, "08006", "The server may have crashed or been restarted; reconnect.",
                  "server connection to %s (cluster \"%s\") was lost", srv->node,
                  s->cluster->name);
}

/* SQLSTATE for a server connection failure, from libpq's message. */
static const char *session_connect_sqlstate(const char *msg)
{
    if (strstr(msg, "database \"") != NULL && strstr(msg, "does not exist") != NULL)
        return "3D000";
    if (strstr(msg, "role \"") != NULL && strstr(msg, "does not exist") != NULL)
        return "28000";
    if (strstr(msg, "password authentication failed") != NULL)
        return "28P01";
    if (strstr(msg, "too many") != NULL)
        return "53300";
    if (strstr(msg, "starting up") != NULL || strstr(msg, "shutting down") != NULL)
        return "57P03";
    return "08006";
}

static void session_server_ready(struct server *srv, int err, const char *msg)
{
    struct session *s = srv->owner;
    struct msgbuf b;

    if (err < 0) {
        const char *code = session_connect_sqlstate(msg);

        if (strcmp(code, "08006") == 0 || strcmp(code, "57P03") == 0)
            session_fatal(s, code, "Check that the server is running and accepts TCP "
                          "connections; pgrouter tries again for the next client.",
                          "pgrouter: cannot connect to primary %s of cluster \"%s\": %s",
                          srv->node, s->cluster->name, msg);
        else
            session_fatal(s, code, NULL, "%s (server %s)", msg, srv->node);
        return;
    }
    log_info("%s: connected to %s (backend pid %u)", s->tag, srv->node, srv->be_pid);
    srv->conn.on_read = session_server_read;
    srv->conn.on_error = session_server_error;
    msgbuf_init(&b);
    msg_auth(&b, MSG_AUTH_OK, NULL, 0);
    for (size_t i = 0; i < sizeof(session_reported) / sizeof(session_reported[0]); i++) {
        const char *v = server_param(srv, session_reported[i]);

        if (v != NULL)
            msg_param_status(&b, session_reported[i], v);
    }
    msg_backend_key(&b, s->cancel_pid, s->cancel_key);
    msg_ready(&b, 'I');
    if (session_send(s, &b) < 0)
        return;
    uv_timer_stop(&s->timer);
    session_set_state(s, SESSION_IDLE);
    conn_want_read(&srv->conn, 1);
    conn_want_read(&s->client, 1);
}

/* Append " -c name=value" to opts, escaping as PostgreSQL's options parser expects. */
static void session_add_option(struct msgbuf *opts, const char *name, const char *value)
{
    if (opts->len > 0)
        msgbuf_put8(opts, ' ');
    msgbuf_put(opts, "-c ", 3);
    for (const char *p = name; *p; p++) {
        if (*p == ' ' || *p == '\\')
            msgbuf_put8(opts, '\\');
        msgbuf_put8(opts, (uint8_t)*p);
    }
    msgbuf_put8(opts, '=');
    for (const char *p = value; *p; p++) {
        if (*p == ' ' || *p == '\\')
            msgbuf_put8(opts, '\\');
        msgbuf_put8(opts, (uint8_t)*p);
    }
}

static int session_is_plain_password(const char *secret)
{
    return secret != NULL && strncmp(secret, "SCRAM-SHA-256$", 14) != 0 &&
           !(strlen(secret) == 35 && strncmp(secret, "md5", 3) == 0);
}

static void session_connect(struct session *s)
{
    const char *keys[16], *vals[16];
    const struct cfg_user *u = cfg_find_user(s->cfg, s->st.user);
    const struct cfg_node *node = &s->cluster->primary;
    struct msgbuf opts;
    size_t n = 0;
    int rc;

    session_set_state(s, SESSION_CONNECT);
    conn_want_read(&s->client, 0);
    msgbuf_init(&opts);
    if (s->st.options != NULL)
        msgbuf_put(&opts, s->st.options, strlen(s->st.options));
    for (size_t i = 0; i < s->st.n_params; i++) {
        const char *name = s->st.params[i].name;
        const char *value = s->st.params[i].value;

        if (strcmp(name, "user") == 0 || strcmp(name, "database") == 0 ||
            strcmp(name, "options") == 0 || strcmp(name, "replication") == 0)
            continue;
        if (strcmp(name, "application_name") == 0 || strcmp(name, "client_encoding") == 0) {
            keys[n] = name;
            vals[n++] = value;
            continue;
        }
        session_add_option(&opts, name, value);
    }
    msgbuf_put8(&opts, 0);
    if (opts.oom) {
        msgbuf_free(&opts);
        session_fatal(s, "53200", NULL, "out of memory");
        return;
    }
    keys[n] = "user";
    vals[n++] = s->st.user;
    keys[n] = "dbname";
    vals[n++] = s->st.database != NULL ? s->st.database : s->st.user;
    keys[n] = "options";
    vals[n++] = (const char *)opts.data;
    if (u != NULL && session_is_plain_password(u->secret)) {
        keys[n] = "password";
        vals[n++] = u->secret;
    }
    keys[n] = NULL;
    vals[n] = NULL;
    s->srv = calloc(1, sizeof(*s->srv));
    if (s->srv == NULL) {
        msgbuf_free(&opts);
        session_fatal(s, "53200", NULL, "out of memory");
        return;
    }
    /* libpq copies every parameter it keeps, so opts can go right after the call. */
    rc = server_connect(s->srv, s->w->loop, node->host, node->port, keys, vals,
                        s->cfg->server_connect_timeout_ms, s, session_server_ready,
                        session_server_closed);
    msgbuf_free(&opts);
    if (rc < 0) {
        free(s->srv);
        s->srv = NULL;
        session_fatal(s, "08006", NULL, "cannot start a connection to %s: %s", node->name,
                      strerror(-rc));
        return;
    }
    s->handles++;
}

/* ---- client side ---- */

static int session_client_stream_ok(uint8_t type)
{
    return type == 'd';     /* CopyData may be large; everything else is held whole */
}

static void session_relay(struct session *s)
{
    struct conn *c = &s->client;
    struct frame f;

    for (;;) {
        switch (conn_next(c, s->cfg->max_packet_size, session_client_stream_ok, &f)) {
        case CONN_SCAN_MSG:
            if (f.type == 'X') {
                /* Closing the server connection sends its Terminate. */
                conn_forward(c, &s->srv->conn);
                session_close(s);
                return;
            }
            conn_consume(c, f.len);
            continue;
        case CONN_SCAN_STREAM:
            continue;
        case CONN_SCAN_MORE:
            break;
        case CONN_SCAN_BAD:
            conn_forward(c, &s->srv->conn);
            session_fatal(s, "08P01", NULL,
                          "invalid message length (message type '%c', limit "
                          "max_packet_size = %zu bytes)",
                          f.type >= 32 && f.type < 127 ? f.type : '?',
                          s->cfg->max_packet_size);
            return;
        }
        break;
    }
    if (conn_forward(c, &s->srv->conn) < 0)
        session_close(s);
}

static void session_handle_cancel(struct session *s)
{
    struct session *t;

    for (t = s->w->sessions; t != NULL; t = t->next) {
        if (t != s && t->cancel_pid == s->st.cancel_pid && t->cancel_key == s->st.cancel_key)
            break;
    }
    if (t == NULL) {
        log_info("%s: cancel request for unknown key (pid %u)", s->tag, s->st.cancel_pid);
    } else if (t->srv != NULL && t->srv->state == SERVER_READY) {
        log_info("%s: cancel request for %s, sent to %s", s->tag, t->tag, t->srv->node);
        if (cancel_send(s->w->loop, t->srv->pg, t->srv->node) < 0)
            log_warn("%s: cannot start cancel for %s", s->tag, t->tag);
    }
    /* PostgreSQL answers a cancel request by closing the connection, and so do we. */
    session_close(s);
}

static void session_begin_auth(struct session *s)
{
    const struct cfg *cfg = s->cfg;
    const struct cfg_user *u = NULL;
    const char *secret = NULL;
    uint8_t random[AUTH_RANDOM_LEN];
    enum auth_method method;
    enum auth_rc rc;
    struct msgbuf b;

    snprintf(s->tag, sizeof(s->tag), "c%u %s@%s", s->id, s->st.user,
             s->st.database != NULL ? s->st.database : s->st.user);
    if (cfg->have_userlist) {
        u = cfg_find_user(cfg, s->st.user);
        secret = u != NULL ? u->secret : NULL;
    } else {
        secret = "";
    }
    method = cfg->auth_type == CFG_AUTH_TRUST ? AUTH_TRUST
             : cfg->auth_type == CFG_AUTH_MD5 ? AUTH_MD5 : AUTH_SCRAM;
    if (method == AUTH_TRUST && secret == NULL) {
        session_fatal(s, "28000", "Add the user to auth_file.",
                      "user \"%s\" is not allowed to connect (not in auth_file)", s->st.user);
        return;
    }
    if (RAND_bytes(random, sizeof(random)) != 1) {
        session_fatal(s, "58000", NULL, "no random bytes for authentication");
        return;
    }
    session_set_state(s, SESSION_AUTH);
    msgbuf_init(&b);
    rc = auth_begin(&s->auth, method, s->st.user, secret, random, s->w->mock_key,
                    sizeof(s->w->mock_key), &b);
    if (session_send(s, &b) < 0)
        return;
    if (rc == AUTH_DONE)
        session_connect(s);
    else if (rc != AUTH_CONTINUE)
        session_fatal(s, "28P01", NULL, "password authentication failed for user \"%s\"",
                      s->st.user);
}

static void session_startup_packet(struct session *s, const struct frame *f)
{
    struct worker *w = s->w;
    int rc;

    s->startup_pkt = malloc(f->body_len);
    if (s->startup_pkt == NULL) {
        session_fatal(s, "53200", NULL, "out of memory");
        return;
    }
    memcpy(s->startup_pkt, f->body, f->body_len);
    rc = startup_parse(s->startup_pkt, f->body_len, &s->st);
    if (s->st.kind == STARTUP_SSL || s->st.kind == STARTUP_GSSENC) {
        free(s->startup_pkt);
        s->startup_pkt = NULL;
        if (rc < 0) {
            session_fatal(s, "08P01", NULL, "invalid SSL/GSSENC request");
            return;
        }
        /* No TLS yet: 'N' means "go on in plain text", and the client sends its startup. */
        conn_send(&s->client, "N", 1);
        return;
    }
    if (rc == -EPROTONOSUPPORT) {
        session_fatal(s, "0A000", NULL, "unsupported frontend protocol %u.%u: pgrouter "
                      "speaks 3.0", s->st.version >> 16, s->st.version & 0xffff);
        return;
    }
    if (rc < 0) {
        session_fatal(s, "08P01", NULL, "invalid startup packet layout%s",
                      rc == -E2BIG ? " (too many parameters)" : "");
        return;
    }
    if (s->st.kind == STARTUP_CANCEL) {
        session_handle_cancel(s);
        return;
    }
    const char *repl = startup_get(&s->st, "replication");
    if (repl != NULL && strcmp(repl, "false") != 0 && strcmp(repl, "0") != 0 &&
        strcmp(repl, "off") != 0 && strcmp(repl, "no") != 0) {
        session_fatal(s, "0A000", "Connect to the server directly for replication.",
                      "replication connections are not supported by pgrouter");
        return;
    }
    if (w->draining) {
        session_fatal(s, "57P01", NULL, "pgrouter is shutting down");
        return;
    }
    if (w->n_clients >= (unsigned)s->cfg->max_client_conn) {
        session_fatal(s, "53300", "Raise max_client_conn or use fewer connections.",
                      "no more connections allowed (max_client_conn = %d)",
                      s->cfg->max_client_conn);
        return;
    }
    w->n_clients++;
    s->counted = 1;
    s->cluster = s->cfg->default_cluster;
    session_begin_auth(s);
}

static void session_startup_read(struct session *s)
{
    struct conn *c = &s->client;
    struct frame f;

    while (s->state == SESSION_STARTUP) {
        switch (frame_startup(c->buf + c->parsed, c->recvd - c->parsed, &f)) {
        case FRAME_OK:
            conn_consume(c, f.len);
            session_startup_packet(s, &f);
            conn_discard(c);
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

static void session_auth_read(struct session *s)
{
    struct conn *c = &s->client;
    struct frame f;
    struct msgbuf b;
    enum auth_rc rc;

    while (s->state == SESSION_AUTH) {
        switch (conn_next(c, SESSION_AUTH_MAX_MSG, NULL, &f)) {
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
        rc = auth_step(&s->auth, f.body, f.body_len, &b);
        if (session_send(s, &b) < 0)
            return;
        switch (rc) {
        case AUTH_CONTINUE:
            break;
        case AUTH_DONE:
            log_debug("%s: authenticated", s->tag);
            session_connect(s);
            return;
        case AUTH_FAILED:
            session_fatal(s, "28P01", NULL, "password authentication failed for user \"%s\"",
                          s->st.user);
            return;
        case AUTH_PROTOCOL:
            session_fatal(s, "08P01", NULL, "malformed authentication message");
            return;
        }
    }
}

static void session_client_read(struct conn *c)
{
    struct session *s = c->owner;

    switch (s->state) {
    case SESSION_STARTUP:
        session_startup_read(s);
        break;
    case SESSION_AUTH:
        session_auth_read(s);
        break;
    case SESSION_CONNECT:
        /* The client should wait for AuthenticationOk; keep its bytes for later. */
        conn_want_read(c, 0);
        break;
    case SESSION_IDLE:
    case SESSION_IN_TX:
    case SESSION_COPY:
        session_relay(s);
        break;
    case SESSION_CLOSING:
        conn_consume(c, c->recvd - c->parsed);
        conn_discard(c);
        break;
    }
}

static void session_client_error(struct conn *c, int err)
{
    struct session *s = c->owner;

    if (s->state != SESSION_CLOSING && s->state != SESSION_STARTUP)
        log_info("%s: client closed the connection%s%s", s->tag,
                 err == UV_EOF ? "" : ": ", err == UV_EOF ? "" : uv_strerror(err));
    session_close(s);
    conn_close(c);
}

static void session_login_timeout_cb(uv_timer_t *t)
{
    struct session *s = t->data;

    session_fatal(s, "08P01", "Raise client_login_timeout if clients are slow to log in.",
                  "login timeout: not authenticated within client_login_timeout");
}

int session_accept(struct worker *w)
{
    struct session *s = calloc(1, sizeof(*s));
    int rc;

    if (s == NULL)
        return -ENOMEM;
    rc = conn_init(w->loop, &s->client, s, session_client_read, session_client_error,
                   session_client_closed);
    if (rc < 0) {
        free(s);
        return rc;
    }
    s->w = w;
    s->cfg = cfg_ref(w->cfg);
    s->id = ++w->next_id;
    s->handles = 2;     /* client stream and timer */
    snprintf(s->tag, sizeof(s->tag), "c%u", s->id);
    uv_timer_init(w->loop, &s->timer);
    s->timer.data = s;
    s->next = w->sessions;
    if (w->sessions != NULL)
        w->sessions->prev = s;
    w->sessions = s;
    /* The BackendKeyData we hand out: our own, never the server's. */
    s->cancel_pid = s->id;
    if (RAND_bytes((uint8_t *)&s->cancel_key, sizeof(s->cancel_key)) != 1)
        s->cancel_key = (uint32_t)rand();
    rc = uv_accept((uv_stream_t *)&w->listener, (uv_stream_t *)&s->client.tcp);
    if (rc < 0) {
        session_close(s);
        conn_close(&s->client);
        return rc;
    }
    uv_tcp_nodelay(&s->client.tcp, 1);
    if (s->cfg->client_login_timeout_ms > 0)
        uv_timer_start(&s->timer, session_login_timeout_cb, s->cfg->client_login_timeout_ms, 0);
    conn_want_read(&s->client, 1);
    return 0;
}

void session_close_all(struct worker *w)
{
    struct session *s, *next;

    for (s = w->sessions; s != NULL; s = next) {
        next = s->next;
        if (s->state == SESSION_CLOSING)
            continue;
        session_fatal(s, "57P01", NULL, "terminating connection due to administrator command");
    }
}
