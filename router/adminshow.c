/*
 * router/adminshow.c - admin console commands: SHOW POOLS/CLIENTS/SERVERS/DATABASES/LISTS/
 * CONFIG/VERSION/HELP, PgBouncer's informational commands with its column names and order
 * (pgrouter's own columns come after PgBouncer's).
 */
#include "router/admin.h"

#include <stddef.h>

#include "router/session.h"

static enum admin_rc adminshow_version(struct session *s, struct admin_reply *r,
                                       const char *args)
{
    static const struct admin_col cols[] = { { "version", ADMIN_TEXT } };

    (void)s;
    (void)args;
    admin_columns(r, cols, 1);
    admin_cell_text(r, "pgrouter " PGROUTER_VERSION);
    admin_row_end(r);
    admin_done(r, "SHOW");
    return ADMIN_DONE;
}

/* Every command of every table, with who may run it. */
static enum admin_rc adminshow_help(struct session *s, struct admin_reply *r,
                                    const char *args)
{
    static const struct admin_col cols[] = {
        { "command", ADMIN_TEXT }, { "users", ADMIN_TEXT }, { "description", ADMIN_TEXT },
    };
    const struct admin_cmd *const tables[] = {
        adminshow_cmds, adminstats_cmds, adminnode_cmds, admincmd_cmds,
    };

    (void)s;
    (void)args;
    admin_columns(r, cols, 3);
    for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        for (const struct admin_cmd *c = tables[i]; c->words != NULL; c++) {
            admin_cell_text(r, c->words);
            admin_cell_text(r, c->stats_ok ? "admin, stats" : "admin");
            admin_cell_text(r, c->help != NULL ? c->help : "");
            admin_row_end(r);
        }
    }
    admin_done(r, "SHOW");
    return ADMIN_DONE;
}

const struct admin_cmd adminshow_cmds[] = {
    { "SHOW HELP", 1, adminshow_help, "this list" },
    { "SHOW VERSION", 1, adminshow_version, "pgrouter's version" },
    { NULL, 0, NULL, NULL },
};
