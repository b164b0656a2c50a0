/*
 * router/adminnode.c - admin console commands: SHOW CLUSTERS/NODES/BREAKERS/SHARDS and EXPLAIN ROUTE.
 * (A placeholder table until the commands land; see router/admin.h.)
 */
#include "router/admin.h"

#include <stddef.h>

const struct admin_cmd adminnode_cmds[] = {
    { NULL, 0, NULL, NULL },
};
