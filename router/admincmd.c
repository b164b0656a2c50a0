/*
 * router/admincmd.c - admin console commands: RELOAD, PAUSE, RESUME, RECONNECT, KILL, DISABLE, ENABLE, SHUTDOWN, WAIT_CLOSE.
 * (A placeholder table until the commands land; see router/admin.h.)
 */
#include "router/admin.h"

#include <stddef.h>

const struct admin_cmd admincmd_cmds[] = {
    { NULL, 0, NULL, NULL },
};
