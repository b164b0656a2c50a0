/*
 * router/admin/admin.c - the admin console's framework: who may log in to the virtual database
 * (`pgrouter`, `pgbouncer`), its greeting, reading the simple query protocol, finding each
 * statement's command in the tables of adminshow.c, adminstats.c, adminnode.c and
 * admincmd.c, running it (again every ADMIN_AGAIN_MS while it says ADMIN_AGAIN), and
 * building its answer. The session never borrows a server.
 */
#include "router/admin/admin.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/frame.h"
#include "protocol/msg.h"
#include "router/admin/adminparse.h"
#include "router/core/log.h"
#include "router/session/session.h"
#include "router/admin/stats.h"

#define ADMIN_AGAIN_MS 50
#define ADMIN_QUERY_MAX (1u << 20)      /* a longer Query is refused (FATAL 54000) */
#define ADMIN_REPLY_MAX (16u << 20)     /* rows past this are left out, with a notice */
#define ADMIN_QUEUE_MAX (1u << 20)      /* the next Query waits while more is unsent */
#define ADMIN_COLS_MAX 64

struct admin_reply {
    struct msgbuf pre;          /* NoticeResponses, sent first whatever happens */
    struct msgbuf b;            /* RowDescription, DataRows, CommandComplete or the error */
    int ncols;
    int cells;                  /* in the row being built */
    size_t row_at;              /* its msg_datarow_begin offset, if cells > 0 or in_row */
    int in_row;
    unsigned long long rows, dropped;
    int failed;                 /* admin_error was called: the rest is ignored */
    int done;
};

/* What an admin session keeps (session->admin). */
struct admin_conn {
    int full;                   /* in admin_users; else stats_users only (SHOW commands) */
    char *query;                /* the Query string being run, NUL-terminated */
    size_t len, pos;            /* its length, and the next statement's offset */
    int any;                    /* some statement of it was not empty */
    const struct admin_cmd *again;  /* the command that answered ADMIN_AGAIN... */
    char *args;                 /* ...and its arguments */
    int skip_to_sync;           /* an extended-protocol message was refused */
};

static void admin_pump(struct session *s);

static const struct admin_cmd *const admin_tables[] = {
    adminshow_cmds, adminstats_cmds, adminnode_cmds, admincmd_cmds,
};

/* ---- building an answer ---- */

static void admin_reply_init(struct admin_reply *r)
{
    memset(r, 0, sizeof(*r));
    msgbuf_init(&r->pre);
    msgbuf_init(&r->b);
}

void admin_columns(struct admin_reply *r, const struct admin_col *cols, int n)
{
    const char *names[ADMIN_COLS_MAX];
    uint32_t types[ADMIN_COLS_MAX];

    if (r->failed || r->done)
        return;
    if (n > ADMIN_COLS_MAX)
        n = ADMIN_COLS_MAX;
    for (int i = 0; i < n; i++) {
        names[i] = cols[i].name;
        types[i] = cols[i].type;
    }
    msg_row_desc(&r->b, names, types, n);
    r->ncols = n;
}

static void admin_cell(struct admin_reply *r, const char *p, size_t n)
{
    if (r->failed || r->done)
        return;
    if (!r->in_row) {
        r->row_at = msg_datarow_begin(&r->b);
        r->in_row = 1;
        r->cells = 0;
    }
    msg_datarow_cell(&r->b, p, n);
    r->cells++;
}

void admin_cell_text(struct admin_reply *r, const char *s)
{
    admin_cell(r, s, s != NULL ? strlen(s) : 0);
}

void admin_cell_int(struct admin_reply *r, long long v)
{
    char t[32];
    int n = snprintf(t, sizeof(t), "%lld", v);

    admin_cell(r, t, (size_t)n);
}

void admin_cell_fmt(struct admin_reply *r, const char *fmt, ...)
{
    char t[1024];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(t, sizeof(t), fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    admin_cell(r, t, (size_t)n < sizeof(t) ? (size_t)n : sizeof(t) - 1);
}

void admin_row_end(struct admin_reply *r)
{
    if (r->failed || r->done)
        return;
    if (!r->in_row)
        r->row_at = msg_datarow_begin(&r->b);   /* a row of no columns */
    msg_datarow_end(&r->b, r->row_at, (uint16_t)r->cells);
    r->in_row = 0;
    r->cells = 0;
    if (!r->b.oom && r->b.len > ADMIN_REPLY_MAX) {
        r->b.len = r->row_at;   /* one row too many: the client gets the rest */
        r->dropped++;
    } else {
        r->rows++;
    }
}

void admin_done(struct admin_reply *r, const char *tag)
{
    if (r->failed || r->done)
        return;
    if (r->in_row)
        admin_row_end(r);
    if (r->dropped > 0) {
        char text[160];

        snprintf(text, sizeof(text), "pgrouter: %llu rows left out: the answer is limited "
                 "to %u MB", r->dropped, ADMIN_REPLY_MAX >> 20);
        msg_notice(&r->pre, "01000", text);
    }
    msg_command_complete(&r->b, tag);
    r->done = 1;
}

void admin_error(struct admin_reply *r, const char *sqlstate, const char *fmt, ...)
{
    char text[512];
    va_list ap;

    if (r->failed || r->done)
        return;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    r->b.len = 0;
    r->b.oom = 0;
    msg_error(&r->b, "ERROR", sqlstate, text, NULL, NULL);
    r->failed = 1;
}

void admin_notice(struct admin_reply *r, const char *fmt, ...)
{
    char text[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    msg_notice(&r->pre, "00000", text);
}

/* Send r's answer (or 53200 if memory ran out building it). 0, or < 0: s is closing. */
static int admin_reply_send(struct session *s, struct admin_reply *r, const char *cmd)
{
    int rc;

    if (!r->failed && !r->done) {
        log_warn("%s: admin command %s ended without an answer", s->tag, cmd);
        admin_done(r, "SHOW");
    }
    if (r->pre.oom || r->b.oom) {
        msgbuf_free(&r->pre);
        msgbuf_free(&r->b);
        r->failed = 1;
        msg_error(&r->b, "ERROR", "53200", "pgrouter: out of memory building the answer",
                  NULL, NULL);
    }
    if (r->failed && !r->b.oom && r->b.len > 5 && r->b.data[0] == 'E') {
        /* log_pooler_errors: the command's error, as every error pgrouter sends */
        const char *code = msg_error_field(r->b.data + 5, r->b.len - 5, 'C');
        const char *text = msg_error_field(r->b.data + 5, r->b.len - 5, 'M');

        connlog_pooler_error(s, "ERROR", code != NULL ? code : "?", text != NULL ? text : "");
        stats_error(&s->w->stats, code, STATS_ERR_OWN);
    }
    rc = session_send(s, &r->pre);
    if (rc == 0)
        rc = session_send(s, &r->b);
    msgbuf_free(&r->pre);
    msgbuf_free(&r->b);
    return rc;
}

/* ---- running a Query string ---- */

static const struct admin_cmd *admin_find(const char *t, size_t n, size_t *args)
{
    const struct admin_cmd *best = NULL;
    int best_words = 0;

    for (size_t i = 0; i < sizeof(admin_tables) / sizeof(admin_tables[0]); i++) {
        for (const struct admin_cmd *c = admin_tables[i]; c->words != NULL; c++) {
            size_t off;
            int m = adminparse_match(c->words, t, n, &off);

            if (m > best_words) {   /* the longest match wins: EXPLAIN ROUTE over EXPLAIN */
                best = c;
                best_words = m;
                *args = off;
            }
        }
    }
    return best;
}

/* The query is over (all run, or one failed): ReadyForQuery, and read the next message. */
static void admin_query_end(struct session *s)
{
    struct admin_conn *a = s->admin;
    struct msgbuf b;

    msgbuf_init(&b);
    if (!a->any)
        msg_empty_query(&b);
    msg_ready(&b, 'I');
    free(a->query);
    a->query = NULL;
    session_send(s, &b);    /* admin_pump reads the next message */
}

static void admin_timer_cb(uv_timer_t *t)
{
    struct session *s = t->data;

    if (s->state != SESSION_CLOSING)
        admin_pump(s);
}

/*
 * Run cmd once. ADMIN_AGAIN: the timer calls it again (admin_pump). -1: the session is
 * closing or the command failed (the rest of the string is skipped, as PostgreSQL does).
 */
static int admin_call(struct session *s, const struct admin_cmd *cmd, const char *args)
{
    struct admin_reply r;
    enum admin_rc rc;

    admin_reply_init(&r);
    rc = cmd->fn(s, &r, args);
    if (rc == ADMIN_AGAIN || s->state == SESSION_CLOSING) {
        msgbuf_free(&r.pre);
        msgbuf_free(&r.b);
        return s->state == SESSION_CLOSING ? -1 : ADMIN_AGAIN;
    }
    if (admin_reply_send(s, &r, cmd->words) < 0)
        return -1;
    return r.failed ? -1 : ADMIN_DONE;
}

/* An ERROR for the statement; the query stops there. */
static void admin_refuse(struct session *s, const char *sqlstate, const char *hint,
                         const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void admin_refuse(struct session *s, const char *sqlstate, const char *hint,
                         const char *fmt, ...)
{
    struct msgbuf b;
    char text[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    connlog_pooler_error(s, "ERROR", sqlstate, text);     /* log_pooler_errors */
    stats_error(&s->w->stats, sqlstate, STATS_ERR_OWN);
    msgbuf_init(&b);
    msg_error(&b, "ERROR", sqlstate, text, NULL, hint);
    session_send(s, &b);
}

/*
 * Run the statements of the current query from a->pos; returns when it ended (a->query
 * NULL) or a command waits (the timer runs). Never reads on: admin_pump does, in a loop,
 * so that many queued queries do not nest calls.
 */
static void admin_run(struct session *s)
{
    struct admin_conn *a = s->admin;
    size_t start, end, off;

    if (a->again != NULL) {
        int rc = admin_call(s, a->again, a->args);

        if (rc == ADMIN_AGAIN) {
            uv_timer_start(&s->admin_timer, admin_timer_cb, ADMIN_AGAIN_MS, 0);
            return;
        }
        a->again = NULL;
        free(a->args);
        a->args = NULL;
        if (rc < 0) {
            if (s->state != SESSION_CLOSING)
                admin_query_end(s);
            return;
        }
    }
    while (adminparse_next(a->query, a->len, &a->pos, &start, &end)) {
        const char *t = a->query + start;
        size_t n = end - start;
        const struct admin_cmd *cmd;
        char head[72];
        int rc;

        if (n == 0)
            continue;
        a->any = 1;
        cmd = admin_find(t, n, &off);
        adminparse_head(t, n, head, sizeof(head));
        if (cmd == NULL) {
            admin_refuse(s, "42601", "SHOW HELP lists the commands.",
                         "pgrouter: unknown admin command \"%s\"", head);
            break;
        }
        if (!a->full && !cmd->stats_ok) {
            admin_refuse(s, "42501", "Only admin_users may run it; stats_users may run the "
                         "SHOW commands.", "pgrouter: permission denied for %s: user \"%s\" "
                         "is not in admin_users", cmd->words, s->user);
            break;
        }
        a->args = malloc(n - off + 1);
        if (a->args == NULL) {
            admin_refuse(s, "53200", NULL, "pgrouter: out of memory");
            break;
        }
        memcpy(a->args, t + off, n - off);
        a->args[n - off] = '\0';
        rc = admin_call(s, cmd, a->args);
        if (rc == ADMIN_AGAIN) {
            a->again = cmd;
            uv_timer_start(&s->admin_timer, admin_timer_cb, ADMIN_AGAIN_MS, 0);
            return;
        }
        free(a->args);
        a->args = NULL;
        if (rc < 0)
            break;
    }
    if (s->state != SESSION_CLOSING)
        admin_query_end(s);
}

/* A Query message: body is its NUL-terminated string. */
static void admin_query(struct session *s, const uint8_t *body, size_t n)
{
    struct admin_conn *a = s->admin;

    if (n == 0 || body[n - 1] != '\0' || memchr(body, '\0', n - 1) != NULL) {
        session_fatal(s, "08P01", NULL, "invalid Query message: its string must end the "
                      "message");
        return;
    }
    a->query = malloc(n);
    if (a->query == NULL) {
        session_fatal(s, "53200", NULL, "out of memory");
        return;
    }
    memcpy(a->query, body, n);
    a->len = n - 1;
    a->pos = 0;
    a->any = 0;
    log_debug("%s: admin: %s", s->tag, a->query);
    admin_run(s);
}

/* Frame and answer client messages until input runs out or a command waits. */
static void admin_pump(struct session *s)
{
    struct admin_conn *a = s->admin;
    struct conn *c = &s->client;
    size_t max = s->cfg->max_packet_size < ADMIN_QUERY_MAX ? s->cfg->max_packet_size
                                                             : ADMIN_QUERY_MAX;
    struct msgbuf b;
    struct frame f;

    while (s->state == SESSION_IDLE) {
        if (a->query != NULL) {
            /* A command is running (ADMIN_AGAIN): its query goes on from the timer. */
            if (uv_is_active((uv_handle_t *)&s->admin_timer)) {
                conn_want_read(c, 0);
                return;
            }
            admin_run(s);
            continue;
        }
        if (c->queued > ADMIN_QUEUE_MAX) {
            /* The client reads slowly: no new answer until the last one is mostly out. */
            conn_want_read(c, 0);
            uv_timer_start(&s->admin_timer, admin_timer_cb, ADMIN_AGAIN_MS, 0);
            return;
        }
        conn_want_read(c, 1);
        switch (conn_next(c, max, NULL, &f)) {
        case CONN_SCAN_MSG:
            break;
        case CONN_SCAN_MORE:
        case CONN_SCAN_STREAM:
            return;
        case CONN_SCAN_BAD:
            session_fatal(s, "54000", NULL, "pgrouter: admin console message too long "
                          "(message type '%c', at most %zu bytes)",
                          f.type >= 32 && f.type < 127 ? f.type : '?', max);
            return;
        }
        conn_consume(c, f.len);
        if (f.type == 'X') {
            conn_discard(c);
            connlog_why(s, "client closed the connection");
            session_close(s);
            return;
        }
        if (a->skip_to_sync && f.type != 'S') {
            conn_discard(c);    /* as PostgreSQL: after an error, nothing until Sync */
            continue;
        }
        msgbuf_init(&b);
        switch (f.type) {
        case 'Q':
            admin_query(s, f.body, f.body_len);
            break;
        case 'S':
            a->skip_to_sync = 0;
            msg_ready(&b, 'I');
            break;
        case 'H':
        case 'd':
        case 'c':
        case 'f':
            break;      /* Flush; COPY data with no COPY running: nothing to do */
        case 'P':
        case 'B':
        case 'D':
        case 'E':
        case 'C':
        case 'F':
            log_info("%s: admin: extended query protocol refused", s->tag);
            msg_error(&b, "ERROR", "0A000", "pgrouter: the admin console takes only simple "
                      "queries (the extended query protocol is not supported)", NULL,
                      "Use psql, or a driver's simple query mode (psycopg: ClientCursor).");
            if (f.type == 'F')
                msg_ready(&b, 'I');     /* a function call is a cycle of its own */
            else
                a->skip_to_sync = 1;
            break;
        default:
            conn_discard(c);
            session_fatal(s, "08P01", NULL, "invalid frontend message type '%c'",
                          f.type >= 32 && f.type < 127 ? f.type : '?');
            msgbuf_free(&b);
            return;
        }
        conn_discard(c);
        if (session_send(s, &b) < 0)
            return;
    }
}

/* ---- the session ---- */

int admin_database(const char *db)
{
    return db != NULL && (strcmp(db, "pgrouter") == 0 || strcmp(db, "pgbouncer") == 0);
}

int admin_is_admin(const struct session *s)
{
    return s->admin != NULL && s->admin->full;
}

void admin_read(struct session *s)
{
    admin_pump(s);
}

void admin_login(struct session *s)
{
    const char *app = s->app_name;
    struct admin_conn *a;
    struct msgbuf b;
    int full = cfg_user_listed(s->cfg->admin_users, s->user);

    if (!full && !cfg_user_listed(s->cfg->stats_users, s->user)) {
        session_fatal(s, "28000", "Add the user to admin_users or stats_users in [pgrouter].",
                      "pgrouter: user \"%s\" may not use the admin console (not in "
                      "admin_users or stats_users)", s->user);
        return;
    }
    a = calloc(1, sizeof(*a));
    if (a == NULL) {
        session_fatal(s, "53200", NULL, "out of memory");
        return;
    }
    a->full = full;
    s->admin = a;
    msgbuf_init(&b);
    msg_auth(&b, MSG_AUTH_OK, NULL, 0);
    /* What psql, libpq and the drivers look for; the version reads like PgBouncer's. */
    msg_param_status(&b, "server_version", PGROUTER_VERSION "/pgrouter");
    msg_param_status(&b, "server_encoding", "UTF8");
    msg_param_status(&b, "client_encoding", "UTF8");
    msg_param_status(&b, "DateStyle", "ISO, MDY");
    msg_param_status(&b, "IntervalStyle", "postgres");
    msg_param_status(&b, "TimeZone", "UTC");
    msg_param_status(&b, "integer_datetimes", "on");
    msg_param_status(&b, "standard_conforming_strings", "on");
    msg_param_status(&b, "is_superuser", "off");
    msg_param_status(&b, "session_authorization", s->user);
    msg_param_status(&b, "application_name", app != NULL ? app : "");
    msg_backend_key(&b, s->cancel_pid, s->cancel_key);
    msg_ready(&b, 'I');
    if (session_send(s, &b) < 0)
        return;
    uv_timer_stop(&s->login_timer); /* logged in */
    free(s->st);    /* user and db point into startup_pkt, which stays */
    s->st = NULL;
    log_info("%s: admin console login (%s)", s->tag, full ? "admin_users" : "stats_users");
    session_set_state(s, SESSION_IDLE);
    conn_want_read(&s->client, 1);
}

void admin_free(struct session *s)
{
    if (s->admin == NULL)
        return;
    free(s->admin->query);
    free(s->admin->args);
    free(s->admin);
    s->admin = NULL;
}
