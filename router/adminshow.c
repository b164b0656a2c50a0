/*
 * router/adminshow.c - admin console commands: SHOW POOLS/CLIENTS/SERVERS/DATABASES/LISTS/CONFIG/VERSION/HELP.
 * (A placeholder table until the commands land; see router/admin.h.)
 */
#include "router/admin.h"

#include <stddef.h>

const struct admin_cmd adminshow_cmds[] = {
    { NULL, 0, NULL, NULL },
};
