/*
 * router/admin/admincmd.c - the console's control commands (admin_users only): RELOAD,
 * PAUSE/RESUME [db], RECONNECT [db], WAIT_CLOSE [db], KILL <client id> | <db>,
 * DISABLE/ENABLE <node>, SHUTDOWN. The state they change lives where it acts: paused
 * databases and RECONNECT in pause.c and the pools, a node's disabled flag in nodes.h,
 * reload and shutdown in lifecycle.c. PAUSE and WAIT_CLOSE answer ADMIN_AGAIN until what
 * they wait for has happened.
 */
#include "router/admin/admin.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "router/admin/adminarg.h"
#include "router/core/lifecycle.h"
#include "router/core/log.h"
#include "router/admin/pause.h"
#include "router/pool/pool.h"
#include "router/session/session.h"

/*
 * The one name args holds (a database or a node, plain or quoted) into out; "" is allowed
 * when optional. 0, or -1 with the client told why.
 */
static int admincmd_name(struct admin_reply *r, const char *cmd, const char *args,
                         int optional, char *out, size_t size)
{
    switch (adminarg_name(args, strlen(args), out, size)) {
    case ADMINARG_OK:
        return 0;
    case ADMINARG_EMPTY:
        if (optional)
            return 0;
        admin_error(r, "42601", "%s needs an argument (see SHOW HELP)", cmd);
        return -1;
    case ADMINARG_LONG:
        admin_error(r, "42622", "%s: the name is too long (at most %zu characters)", cmd,
                    size - 1);
        return -1;
    case ADMINARG_BAD:
        break;
    }
    admin_error(r, "42601", "%s takes one name, not \"%.100s\"", cmd, args);
    return -1;
}

/* "database \"x\"" or "pgrouter" (every database), for messages. */
static const char *admincmd_what(const char *db, char *buf, size_t size)
{
    if (db[0] == '\0')
        snprintf(buf, size, "pgrouter");
    else
        snprintf(buf, size, "database \"%s\"", db);
    return buf;
}

static enum admin_rc admincmd_pause(struct session *s, struct admin_reply *r,
                                    const char *args)
{
    struct worker *w = s->w;
    char db[64], what[96];
    int rc;

    if (admincmd_name(r, "PAUSE", args, 1, db, sizeof(db)) < 0)
        return ADMIN_DONE;
    admincmd_what(db, what, sizeof(what));
    switch (pause_mine(w, db, s->id)) {
    case 1:
        break;      /* called again: still waiting for the servers */
    case 0:
        admin_error(r, "57014", "PAUSE of %s was cancelled by RESUME before every server "
                    "came back", what);
        return ADMIN_DONE;
    default:
        rc = pause_set(w, db, s->id);
        if (rc == -EALREADY) {
            admin_error(r, "55000", "%s is already paused", what);
            return ADMIN_DONE;
        }
        if (rc < 0) {
            admin_error(r, "54000", "at most %d databases can be paused one by one; PAUSE "
                        "without a database pauses them all", PAUSE_MAX);
            return ADMIN_DONE;
        }
        log_info("%s: PAUSE %s: new transactions wait; waiting for the servers in use to "
                 "come back", s->tag, what);
        break;
    }
    if (!pause_drained(w, db, 1))
        return ADMIN_AGAIN;
    pause_answered(w, db, s->id);
    log_info("%s: PAUSE %s: every server is back and closed; RESUME lets clients go on",
             s->tag, what);
    admin_done(r, "PAUSE");
    return ADMIN_DONE;
}

static enum admin_rc admincmd_resume(struct session *s, struct admin_reply *r,
                                     const char *args)
{
    char db[64], what[96];
    int rc;

    if (admincmd_name(r, "RESUME", args, 1, db, sizeof(db)) < 0)
        return ADMIN_DONE;
    admincmd_what(db, what, sizeof(what));
    rc = pause_clear(s->w, db);
    if (rc == -EBUSY) {
        admin_error(r, "55000", "pgrouter is paused as a whole (PAUSE without a database): "
                    "RESUME without a database");
        return ADMIN_DONE;
    }
    if (rc < 0) {
        admin_error(r, "55000", "%s is not paused", what);
        return ADMIN_DONE;
    }
    log_info("%s: RESUME %s", s->tag, what);
    admin_done(r, "RESUME");
    return ADMIN_DONE;
}

static enum admin_rc admincmd_reconnect(struct session *s, struct admin_reply *r,
                                        const char *args)
{
    char db[64], what[96];

    if (admincmd_name(r, "RECONNECT", args, 1, db, sizeof(db)) < 0)
        return ADMIN_DONE;
    pause_reconnect(s->w, db);
    log_info("%s: RECONNECT %s: %u servers in use close when given back, idle ones now",
             s->tag, admincmd_what(db, what, sizeof(what)), pause_closing(s->w, db));
    admin_done(r, "RECONNECT");
    return ADMIN_DONE;
}

static enum admin_rc admincmd_wait_close(struct session *s, struct admin_reply *r,
                                         const char *args)
{
    char db[64];

    if (admincmd_name(r, "WAIT_CLOSE", args, 1, db, sizeof(db)) < 0)
        return ADMIN_DONE;
    if (pause_closing(s->w, db) > 0)
        return ADMIN_AGAIN;
    admin_done(r, "WAIT_CLOSE");
    return ADMIN_DONE;
}

/* KILL <db>: its clients are closed, its idle servers too, and it stays paused. */
static void admincmd_kill_db(struct session *s, struct admin_reply *r, const char *db)
{
    struct worker *w = s->w;
    struct session *t, *next;
    unsigned n = 0;
    int rc;

    if (strcmp(db, s->db) == 0 || strcmp(db, "pgrouter") == 0 ||
        strcmp(db, "pgbouncer") == 0) {
        admin_error(r, "55000", "KILL cannot close the console (database \"%s\")", db);
        return;
    }
    rc = pause_set(w, db, 0);
    if (rc < 0 && rc != -EALREADY) {
        admin_error(r, "54000", "at most %d databases can be paused one by one", PAUSE_MAX);
        return;
    }
    for (t = w->sessions; t != NULL; t = next) {
        next = t->next;
        if (t == s || t->state == SESSION_CLOSING || t->db == NULL ||
            t->state == SESSION_STARTUP || t->state == SESSION_AUTH || strcmp(t->db, db) != 0)
            continue;
        session_fatal(t, "57P01", NULL, "pgrouter: database \"%s\" killed by admin "
                      "(KILL %s)", db, db);
        n++;
    }
    for (struct pool *p = w->pools; p != NULL; p = p->next)
        if (strcmp(p->db, db) == 0)
            pool_close_idle(p);
    log_info("%s: KILL %s: %u clients closed; the database stays paused until RESUME",
             s->tag, db, n);
    admin_done(r, "KILL");
}

static void admincmd_kill_id(struct session *s, struct admin_reply *r, const char *arg)
{
    uint32_t id;

    if (adminarg_id(arg, &id) < 0) {
        admin_error(r, "42704", "no client with id %s (the id column of SHOW CLIENTS)", arg);
        return;
    }
    if (id == s->id) {
        admin_error(r, "55000", "KILL cannot close your own connection; disconnect instead");
        return;
    }
    for (struct session *t = s->w->sessions; t != NULL; t = t->next) {
        if (t->id != id || t->state == SESSION_CLOSING)
            continue;
        log_info("%s: KILL %u (%s)", s->tag, id, t->tag);
        session_fatal(t, "57P01", NULL, "pgrouter: connection terminated by admin (KILL %u)",
                      id);
        admin_done(r, "KILL");
        return;
    }
    admin_error(r, "42704", "no client with id %u (the id column of SHOW CLIENTS)", id);
}

static enum admin_rc admincmd_kill(struct session *s, struct admin_reply *r, const char *args)
{
    char name[64];

    if (admincmd_name(r, "KILL", args, 0, name, sizeof(name)) < 0)
        return ADMIN_DONE;
    if (isdigit((unsigned char)name[0]))
        admincmd_kill_id(s, r, name);
    else
        admincmd_kill_db(s, r, name);
    return ADMIN_DONE;
}

static enum admin_rc admincmd_kill_client(struct session *s, struct admin_reply *r,
                                          const char *args)
{
    char name[64];

    if (admincmd_name(r, "KILL_CLIENT", args, 0, name, sizeof(name)) < 0)
        return ADMIN_DONE;
    admincmd_kill_id(s, r, name);
    return ADMIN_DONE;
}

/*
 * The configured node called name ("host:port", as in the config and SHOW NODES), with
 * its cluster; the node id or -1.
 */
static int admincmd_node(struct worker *w, const char *name, const struct cfg_cluster **cl)
{
    const struct cfg *cfg = w->cfg;

    for (size_t i = 0; i < cfg->n_clusters; i++) {
        const struct cfg_cluster *c = &cfg->clusters[i];

        for (size_t k = 0; k <= c->n_replicas; k++) {
            const struct cfg_node *cn = k < c->n_replicas ? &c->replicas[k] : &c->primary;

            if (strcmp(cn->name, name) == 0) {
                *cl = c;
                return nodes_find(w->nodes, cn);
            }
        }
    }
    return -1;
}

static enum admin_rc admincmd_enable(struct session *s, struct admin_reply *r,
                                     const char *args, int disable)
{
    const char *cmd = disable ? "DISABLE" : "ENABLE";
    const struct cfg_cluster *cl = NULL;
    struct node *n;
    char name[280];
    int id;

    if (admincmd_name(r, cmd, args, 0, name, sizeof(name)) < 0)
        return ADMIN_DONE;
    id = admincmd_node(s->w, name, &cl);
    if (id < 0) {
        admin_error(r, "42704", "%s: no node \"%s\" in the configuration (host:port, as "
                    "SHOW NODES lists them)", cmd, name);
        return ADMIN_DONE;
    }
    n = &s->w->nodes->n[id];
    if (disable && nodes_primary(s->w->nodes, cl) == id) {
        admin_error(r, "55000", "DISABLE: %s is the primary of cluster \"%s\": writes have "
                    "nowhere else to go; only replicas can be taken out of rotation", name,
                    cl->name);
        return ADMIN_DONE;
    }
    if (n->disabled != disable)
        log_info("%s: %s %s (cluster %s): %s", s->tag, cmd, name, cl->name,
                 disable ? "no new reads go there; transactions on it finish" :
                 "back in the read rotation");
    n->disabled = disable;
    admin_done(r, cmd);
    return ADMIN_DONE;
}

static enum admin_rc admincmd_disable_cmd(struct session *s, struct admin_reply *r,
                                          const char *args)
{
    return admincmd_enable(s, r, args, 1);
}

static enum admin_rc admincmd_enable_cmd(struct session *s, struct admin_reply *r,
                                         const char *args)
{
    return admincmd_enable(s, r, args, 0);
}

static enum admin_rc admincmd_reload(struct session *s, struct admin_reply *r,
                                     const char *args)
{
    char *errors = NULL;
    int rc;

    if (args[0] != '\0') {
        admin_error(r, "42601", "RELOAD takes no argument");
        return ADMIN_DONE;
    }
    log_info("%s: RELOAD", s->tag);
    rc = lifecycle_reload(s->w, &errors);
    if (rc < 0) {
        size_t n = errors != NULL ? strlen(errors) : 0;

        while (n > 0 && errors[n - 1] == '\n')
            errors[--n] = '\0';
        admin_error(r, "F0000", "RELOAD failed, the running configuration stays: %s",
                    n > 0 ? errors : strerror(-rc));
        free(errors);
        return ADMIN_DONE;
    }
    free(errors);
    admin_done(r, "RELOAD");
    return ADMIN_DONE;
}

static enum admin_rc admincmd_shutdown(struct session *s, struct admin_reply *r,
                                       const char *args)
{
    if (args[0] != '\0') {
        /* PgBouncer's WAIT_FOR_CLIENTS leaves idle clients alone: pgrouter's does not. */
        admin_error(r, strcasecmp(args, "WAIT_FOR_SERVERS") == 0 ||
                    strcasecmp(args, "WAIT_FOR_CLIENTS") == 0 ? "0A000" : "42601",
                    "SHUTDOWN %s is not supported: SHUTDOWN, as SIGTERM, stops accepting, "
                    "closes idle clients and lets transactions finish within "
                    "shutdown_timeout; PAUSE first to wait for the servers", args);
        return ADMIN_DONE;
    }
    log_info("%s: SHUTDOWN", s->tag);
    lifecycle_shutdown(s->w, LIFECYCLE_GRACEFUL);
    admin_done(r, "SHUTDOWN");
    return ADMIN_DONE;
}

const struct admin_cmd admincmd_cmds[] = {
    { "RELOAD", 0, admincmd_reload, "read the configuration file again (as SIGHUP)" },
    { "PAUSE", 0, admincmd_pause, "PAUSE [db]: new transactions wait; returns once every "
      "server is back, then closes them" },
    { "RESUME", 0, admincmd_resume, "RESUME [db]: end a PAUSE or KILL <db>" },
    { "RECONNECT", 0, admincmd_reconnect, "RECONNECT [db]: close every server when it is "
      "next given back" },
    { "WAIT_CLOSE", 0, admincmd_wait_close, "WAIT_CLOSE [db]: wait until the servers "
      "RECONNECT (or a RELOAD) marked are closed" },
    { "KILL_CLIENT", 0, admincmd_kill_client, "KILL_CLIENT <id>: close a client (the id "
      "of SHOW CLIENTS)" },
    { "KILL", 0, admincmd_kill, "KILL <id> | <db>: close a client, or every client of a "
      "database and pause it" },
    { "DISABLE", 0, admincmd_disable_cmd, "DISABLE <host:port>: no new reads go to that "
      "replica" },
    { "ENABLE", 0, admincmd_enable_cmd, "ENABLE <host:port>: the replica takes reads again" },
    { "SHUTDOWN", 0, admincmd_shutdown, "as SIGTERM: stop accepting, close idle clients, "
      "exit once transactions have finished" },
    { NULL, 0, NULL, NULL },
};
