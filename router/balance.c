/*
 * router/balance.c - replica choice for reads and per-node down marks.
 */
#include "router/balance.h"

#include <stdio.h>
#include <string.h>

#include "router/log.h"

static struct balance_node *balance_node(struct balance *b, const struct cfg_node *node)
{
    for (unsigned i = 0; i < b->n_nodes; i++)
        if (strcmp(b->nodes[i].name, node->name) == 0)
            return &b->nodes[i];
    if (b->n_nodes == BALANCE_MAX_NODES)
        return NULL;
    struct balance_node *n = &b->nodes[b->n_nodes++];
    memset(n, 0, sizeof(*n));
    snprintf(n->name, sizeof(n->name), "%s", node->name);
    return n;
}

int balance_is_down(struct balance *b, const struct cfg_node *node, uint64_t now_ms)
{
    struct balance_node *n = balance_node(b, node);

    return n != NULL && n->down_until_ms > now_ms;
}

int balance_pick_replica(struct balance *b, const struct cfg_cluster *cl, uint64_t now_ms)
{
    size_t n = cl->n_replicas;

    for (size_t i = 0; i < n; i++) {
        size_t idx = (b->rr + i) % n;

        if (!balance_is_down(b, &cl->replicas[idx], now_ms)) {
            b->rr = (unsigned)(idx + 1);
            b->logged_no_replica = 0;
            return (int)idx;
        }
    }
    if (n > 0 && !b->logged_no_replica) {
        log_warn("cluster %s: no replica reachable, reads go to the primary %s", cl->name,
                 cl->primary.name);
        b->logged_no_replica = 1;
    }
    return -1;
}

void balance_mark_down(struct balance *b, const struct cfg_node *node, uint64_t now_ms,
                       unsigned down_ms, const char *why)
{
    struct balance_node *n = balance_node(b, node);

    if (n == NULL)
        return;
    if (n->down_until_ms <= now_ms && !n->logged_down) {
        log_warn("node %s: out of rotation for %u ms: %s", node->name, down_ms, why);
        n->logged_down = 1;
    }
    n->down_until_ms = now_ms + down_ms;
}

void balance_mark_up(struct balance *b, const struct cfg_node *node)
{
    struct balance_node *n = balance_node(b, node);

    if (n == NULL)
        return;
    if (n->logged_down)
        log_info("node %s: back in rotation", node->name);
    n->down_until_ms = 0;
    n->logged_down = 0;
}
