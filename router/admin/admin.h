/*
 * router/admin/admin.h - the admin console: a virtual database (`pgrouter`, and `pgbouncer` as an
 * alias for PgBouncer's tools) that pgrouter answers itself, over the simple query protocol.
 * admin.c owns the framework (who may log in, reading a command, building the answer as
 * RowDescription/DataRow/CommandComplete, errors); each group of commands lives in a file
 * of its own and exports a table of struct admin_cmd that admin.c looks through:
 *   adminshow.c   SHOW POOLS/CLIENTS/SERVERS/DATABASES/LISTS/CONFIG/VERSION/HELP
 *   adminstats.c  SHOW STATS/STATS_TOTALS/STATS_AVERAGES/ROUTES
 *   adminnode.c   SHOW CLUSTERS/NODES/BREAKERS/SHARDS, EXPLAIN ROUTE
 *   admincmd.c    RELOAD, PAUSE, RESUME, RECONNECT, KILL, DISABLE, ENABLE, SHUTDOWN, WAIT_CLOSE
 */
#ifndef PGROUTER_ADMIN_H
#define PGROUTER_ADMIN_H

#include <stdint.h>

struct session;
struct worker;
struct admin_reply;

/* Type OIDs for admin_columns: every value is sent as text in that type's text format. */
#define ADMIN_TEXT    25u
#define ADMIN_INT4    23u
#define ADMIN_INT8    20u
#define ADMIN_NUMERIC 1700u

struct admin_col {
    const char *name;
    uint32_t type;          /* ADMIN_TEXT, ADMIN_INT4, ADMIN_INT8, ADMIN_NUMERIC */
};

/* What a command handler returns. */
enum admin_rc {
    ADMIN_DONE = 0,         /* the reply is complete (rows, or an error) */
    ADMIN_AGAIN = 1,        /* not done yet (PAUSE, WAIT_CLOSE...): admin.c calls the handler
                             * again with the same args and a fresh, empty reply about every
                             * 50 ms until it returns ADMIN_DONE; the client sees nothing
                             * in between and its next command waits. If the client leaves
                             * meanwhile, the handler is not called again. */
};

/*
 * A command handler. args: what follows the command's words, trimmed, never NULL (""),
 * without a trailing ';'. s: the admin session asking (s->w is the worker). Build the
 * answer in r with the functions below; do not write to the client yourself.
 */
typedef enum admin_rc (*admin_cmd_fn)(struct session *s, struct admin_reply *r,
                                      const char *args);

/*
 * One command: words is the command in capitals with single spaces ("SHOW POOLS",
 * "EXPLAIN ROUTE", "RELOAD"); a client's words match it case-insensitively with any
 * blanks. stats_ok: 1 if stats_users may run it (SHOW commands), 0 for admin_users only.
 * Tables end with an entry whose words is NULL.
 */
struct admin_cmd {
    const char *words;
    int stats_ok;
    admin_cmd_fn fn;
    const char *help;       /* one line for SHOW HELP */
};

/* The command tables (each file defines its own). */
extern const struct admin_cmd adminshow_cmds[];
extern const struct admin_cmd adminstats_cmds[];
extern const struct admin_cmd adminnode_cmds[];
extern const struct admin_cmd admincmd_cmds[];

/*
 * Building an answer. Call admin_columns once, then for each row one admin_cell_* per
 * column followed by admin_row_end, then admin_done with the command tag ("SHOW", "RELOAD").
 * Or, at any point before admin_done, admin_error: the rows built so far are dropped and
 * the client gets ErrorResponse (severity ERROR) with that SQLSTATE and message instead.
 * A command with no result set (RELOAD, PAUSE) calls admin_done alone. Out of memory is
 * handled inside (the client gets 53200); the caller need not check.
 */
void admin_columns(struct admin_reply *r, const struct admin_col *cols, int n);
void admin_cell_text(struct admin_reply *r, const char *s);    /* NULL sends SQL NULL */
void admin_cell_int(struct admin_reply *r, long long v);
void admin_cell_fmt(struct admin_reply *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void admin_row_end(struct admin_reply *r);
void admin_done(struct admin_reply *r, const char *tag);
void admin_error(struct admin_reply *r, const char *sqlstate, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void admin_notice(struct admin_reply *r, const char *fmt, ...)     /* NoticeResponse first */
    __attribute__((format(printf, 2, 3)));

/*
 * For commands that take no arguments: 0 if args is empty; otherwise the reply becomes
 * ERROR 42601 naming cmd and what followed it (a typo is refused, not ignored), and -1.
 * Inline, so that admin_error is called from the command's own file (its unit test
 * replaces the reply builder at link time).
 */
static inline int admin_no_args(struct admin_reply *r, const char *cmd, const char *args)
{
    if (args[0] == '\0')
        return 0;
    admin_error(r, "42601", "pgrouter: %s takes no arguments (got \"%.40s\")", cmd, args);
    return -1;
}

/* ---- the session side (admin.c; called from greet.c and session.c) ---- */

/* Is db the admin console's virtual database ("pgrouter", or "pgbouncer" for its tools)? */
int admin_database(const char *db);
/* s authenticated to the admin database: admit it (admin_users, stats_users) and greet it,
 * or close it with FATAL 28000. */
void admin_login(struct session *s);
/* Client input of a greeted admin session. */
void admin_read(struct session *s);
/* Free the admin state of s (when the session goes). */
void admin_free(struct session *s);
/* 1 if s is an admin session of a user in admin_users (all commands), else 0. */
int admin_is_admin(const struct session *s);

#endif
