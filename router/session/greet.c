/*
 * router/session/greet.c - from an authenticated client to a greeted one: the client's startup
 * settings turned into SET state that follows it from server to server, the server
 * parameters it is greeted with (from its pool), and the catalog read it may wait for.
 */
#include "router/session/greet.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "protocol/msg.h"
#include "router/admin/admin.h"
#include "router/core/log.h"
#include "router/session/dispatch.h"
#include "router/session/session.h"

/* Parameters whose client value wins over the pool's in the greeting. */
static const char *greet_client_param(const struct session *s, const char *name)
{
    for (size_t i = 0; i < s->st->n_params; i++)
        if (strcasecmp(s->st->params[i].name, name) == 0)
            return s->st->params[i].value;
    return NULL;
}

/*
 * Must the greeting wait for the catalog (volatile_functions_are_writes)? Only when the
 * list is missing, or out of date with an idle server of a healthy primary at hand (be:
 * the one the session holds, or NULL).
 */
static int greet_need_catalog(struct session *s, const struct pool *p, const struct backend *be,
                              unsigned primary)
{
    if (s->cfg->volatile_functions_are_writes && s->cat == NULL)
        s->cat = catalog_db(&s->w->catalog, s->db, &s->w->routing);
    if (s->cat == NULL || s->cat->building_active ||
        !catalog_stale(s->cat, session_now(s), s->cfg->volatile_refresh_ms))
        return 0;
    /* A list that is only out of date (after a reload, volatile_functions_refresh or a
     * CREATE FUNCTION) is refreshed on an idle server of a healthy primary, never by
     * waiting for one: the login would wait behind busy clients, or fail when the
     * primary goes down meanwhile, for a list it has.  A later login refreshes it. */
    if (be == NULL && s->cat->loaded && p->n_params > 0 &&
        (p->n_idle == 0 ||
         breaker_state(&session_node(s, primary)->br, session_now(s)) != BREAKER_CLOSED))
        return 0;
    return 1;
}

/* Send the catalog query on be. 1 when it went out (greet_captured greets), else 0. */
static int greet_read_catalog(struct session *s, struct backend *be)
{
    const char *q = catalog_query();
    struct msgbuf b;
    int sent = 0;

    msgbuf_init(&b);
    msg_raw(&b, 'Q', q, strlen(q) + 1);
    if (!b.oom && backend_send(be, b.data, b.len) == 0 &&
        backend_push_unit(be, BACKEND_SINK_CAPTURE) == 0) {
        catalog_begin(s->cat);
        s->loading_catalog = 1;
        sent = 1;
    }
    msgbuf_free(&b);
    return sent;
}

/* AuthenticationOk, the pool's server parameters (the client's own values win),
 * BackendKeyData and ReadyForQuery. 0, or < 0 with the session closing. */
static int greet_send(struct session *s, const struct pool *p)
{
    struct msgbuf b;

    for (size_t i = 0; !s->escape_known && i < p->n_params; i++)
        if (strcmp(p->params[i].name, "standard_conforming_strings") == 0)
            s->escape_strings = strcmp(p->params[i].value, "off") == 0;
    msgbuf_init(&b);
    msg_auth(&b, MSG_AUTH_OK, NULL, 0);
    for (size_t i = 0; i < p->n_params; i++) {
        const char *v = greet_client_param(s, p->params[i].name);

        msg_param_status(&b, p->params[i].name, v != NULL ? v : p->params[i].value);
    }
    msg_backend_key(&b, s->cancel_pid, s->cancel_key);
    msg_ready(&b, 'I');
    return session_send(s, &b);
}

void greet_client(struct session *s)
{
    unsigned primary = session_primary_slot(s);
    struct pool *p = borrow_pool(s, primary);
    struct backend *be = borrow_held(s, primary);
    int need_catalog;

    if (p == NULL) {
        session_fatal(s, "53200", NULL, "out of memory");
        return;
    }
    need_catalog = greet_need_catalog(s, p, be, primary);
    if (be == NULL && (p->n_params == 0 || need_catalog)) {
        /* Learn the server's parameters (and its catalog) on a borrowed server first. */
        if (borrow_server(s, primary) == NULL)
            return;
        be = borrow_held(s, primary);
    }
    if (be != NULL && need_catalog && greet_read_catalog(s, be))
        return;     /* greeted again from greet_captured */
    if (greet_send(s, p) < 0)
        return;
    uv_timer_stop(&s->login_timer);
    s->last_slot = (int)primary;
    free(s->st);    /* user and db point into startup_pkt, which stays */
    s->st = NULL;
    session_set_state(s, SESSION_IDLE);
    /* SHOW STATS counts what the client sends from here (a query sent early included). */
    s->stats.in_charged = s->client.bytes_in - (s->client.recvd - s->client.parsed);
    dispatch_idle_timer(s, 'I');
    if (be != NULL && !(s->pinned & (1ull << primary)))
        borrow_give_back(s, primary, 0);
    conn_want_read(&s->client, 1);
    s->greet_ops->greeted(s);
}

/* A boolean setting's "off" as PostgreSQL reads it (off, false, no, 0 and prefixes). */
static int greet_is_off(const char *v, size_t n)
{
    while (n > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        n--;
    }
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    if (n == 1 && v[0] == '0')
        return 1;
    if (n >= 2 && strncasecmp(v, "off", n) == 0 && n <= 3)
        return 1;
    return n >= 1 && ((n <= 5 && strncasecmp(v, "false", n) == 0) ||
                      (n <= 2 && strncasecmp(v, "no", n) == 0));
}

/*
 * Record name = value, in the client's encoding enc (NULL: the database's), to apply on
 * every server borrowed. It is kept as data, not SQL (replay_param_pack): the server
 * gets it as Bind parameters, so no value can end a literal, whatever
 * standard_conforming_strings or client_encoding says.
 */
int greet_record_setting(struct session *s, const char *name, size_t nlen, const char *value,
                         size_t vlen, const char *enc)
{
    char *packed;
    size_t len;
    int rc;

    if (nlen == 27 && strncasecmp(name, "standard_conforming_strings", 27) == 0) {
        s->escape_strings = greet_is_off(value, vlen);
        s->escape_known = 1;
    }
    if (nlen == 14 && strncasecmp(name, "pgrouter.role", 13) == 0 && name[13] == '\0')
        nlen = 13;
    if (nlen == 13 && strncasecmp(name, "pgrouter.role", 13) == 0) {
        if (vlen == 7 && strncasecmp(value, "primary", 7) == 0)
            s->role = ROUTE_ROLE_PRIMARY;
        else if (vlen == 7 && strncasecmp(value, "replica", 7) == 0)
            s->role = ROUTE_ROLE_REPLICA;
    }
    const char *key = s->cfg->sharding.tenant_key[0] ? s->cfg->sharding.tenant_key
                                                      : "pgrouter.tenant";
    if (nlen == strlen(key) && strncasecmp(name, key, nlen) == 0)
        snprintf(s->tenant, sizeof(s->tenant), "%.*s", (int)vlen, value);
    rc = replay_param_pack(name, nlen, value, vlen, enc, &packed, &len);
    if (rc == 0) {
        char pname[REPLAY_NAME_MAX];

        snprintf(pname, sizeof(pname), "%.*s", (int)nlen, name);
        rc = replay_set_base(&s->replay, pname, packed, len);
        free(packed);
    }
    return rc;
}

/* What the options callbacks work on: the session and the startup's encoding. */
struct greet_opts {
    struct session *s;
    const char *enc;
    char found[64];     /* greet_option_encoding: the last client_encoding in options */
};

/* One setting of the options parameter (startup_options splits it). */
static int greet_option(void *arg, const char *name, size_t nlen, const char *value,
                        size_t vlen)
{
    struct greet_opts *o = arg;

    return greet_record_setting(o->s, name, nlen, value, vlen, o->enc);
}

static int greet_option_encoding(void *arg, const char *name, size_t nlen, const char *value,
                                 size_t vlen)
{
    struct greet_opts *o = arg;

    if (nlen == 15 && strncasecmp(name, "client_encoding", 15) == 0)
        snprintf(o->found, sizeof(o->found), "%.*s", (int)vlen, value);
    return 0;
}

/*
 * The encoding the client's startup values are written in: its client_encoding, from
 * the parameters or else from options (PostgreSQL applies options first), NULL if none.
 */
static const char *greet_startup_encoding(struct session *s, struct greet_opts *o)
{
    const char *enc = startup_get(s->st, "client_encoding");

    if (enc != NULL)
        return enc;
    o->found[0] = '\0';
    if (s->st->options != NULL)
        startup_options(s->st->options, greet_option_encoding, o);
    return o->found[0] != '\0' ? o->found : NULL;
}

void greet_login(struct session *s)
{
    int admin = admin_database(s->db);

    if (s->auth != NULL) {
        auth_close(s->auth);
        free(s->auth);
        s->auth = NULL;
    }
    s->app_name = startup_get(s->st, "application_name");
    if (!admin) {
        session_set_state(s, SESSION_CONNECT);
        conn_want_read(&s->client, 0);
    }
    s->role = s->cfg->default_role == CFG_ROLE_PRIMARY ? ROUTE_ROLE_PRIMARY
              : s->cfg->default_role == CFG_ROLE_REPLICA ? ROUTE_ROLE_REPLICA
              : ROUTE_ROLE_AUTO;
    /*
     * Startup settings become state applied on whichever server the client borrows. An
     * admin console session borrows none; it keeps its pgrouter.tenant and pgrouter.role
     * from them, the state its EXPLAIN ROUTE answers for (adminnode.c).
     */
    struct greet_opts opts = { s, NULL, "" };

    opts.enc = greet_startup_encoding(s, &opts);
    for (size_t i = 0; i < s->st->n_params; i++) {
        const char *name = s->st->params[i].name;
        const char *value = s->st->params[i].value;
        int rc = 0;

        if (strcmp(name, "user") == 0 || strcmp(name, "database") == 0 ||
            strcmp(name, "replication") == 0)
            continue;
        if (strcmp(name, "options") == 0)
            rc = startup_options(value, greet_option, &opts);
        else
            rc = greet_record_setting(s, name, strlen(name), value, strlen(value), opts.enc);
        if (rc == -E2BIG) {
            session_fatal(s, "54000", "Pass fewer settings in the startup packet (options).",
                          "pgrouter: too many startup settings to carry from server to server "
                          "(at most %d parameters, %u bytes)", REPLAY_MAX_ITEMS,
                          REPLAY_MAX_BYTES);
            return;
        }
        if (rc < 0) {
            session_fatal(s, "53200", NULL, "out of memory");
            return;
        }
    }
    if (!admin) {
        greet_client(s);
        return;
    }
    admin_login(s);
    if (s->state == SESSION_IDLE && s->admin != NULL && s->client.recvd > s->client.parsed)
        admin_read(s);      /* pipelined after the authentication, as above */
}

void greet_row(struct backend *be, const uint8_t *body, size_t n)
{
    struct session *s = be->owner;

    if (s->loading_catalog && s->cat != NULL)
        catalog_row(s->cat, body, n);
}

void greet_captured(struct backend *be, int had_error)
{
    struct session *s = be->owner;

    if (!s->loading_catalog)
        return;
    s->loading_catalog = 0;
    if (s->cat != NULL && catalog_finish(s->cat, &s->w->routing, !had_error,
                                         session_now(s)) < 0) {
        session_fatal(s, "53200", NULL, "out of memory");
        return;
    }
    if (s->state == SESSION_CONNECT)
        greet_client(s);
}
