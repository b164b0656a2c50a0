/*
 * router/adminstats.c - admin console commands: SHOW STATS/STATS_TOTALS/STATS_AVERAGES/ROUTES.
 * (A placeholder table until the commands land; see router/admin.h.)
 */
#include "router/admin.h"

#include <stddef.h>

const struct admin_cmd adminstats_cmds[] = {
    { NULL, 0, NULL, NULL },
};
