/*
 * router/cluster/routing.c - building the classifier's function sets from the configuration.
 */
#include "router/cluster/routing.h"

#include <errno.h>
#include <string.h>

int routing_load(struct routing *r, const struct cfg *cfg)
{
    const char *const *defaults = classify_default_writes(NULL);
    struct funcset writes, exempt;
    int rc = 0;

    funcset_init(&writes);
    funcset_init(&exempt);
    for (size_t i = 0; defaults[i] != NULL && rc == 0; i++)
        rc = funcset_add(&writes, defaults[i], strlen(defaults[i]));
    for (size_t i = 0; i < cfg->n_write_functions && rc == 0; i++)
        rc = funcset_add(&writes, cfg->write_functions[i], strlen(cfg->write_functions[i]));
    for (size_t i = 0; i < cfg->n_read_only_functions && rc == 0; i++)
        rc = funcset_add(&exempt, cfg->read_only_functions[i],
                         strlen(cfg->read_only_functions[i]));
    if (rc < 0) {
        funcset_close(&writes);
        funcset_close(&exempt);
        return rc;
    }
    if (r->have_shard)
        shard_map_free(&r->shard);
    r->have_shard = 0;
    if (cfg->sharding.enabled) {
        if (shard_map_build(cfg, &r->shard) < 0) {
            funcset_close(&writes);
            funcset_close(&exempt);
            return -ENOMEM;
        }
        r->have_shard = 1;
    }
    funcset_close(&r->writes);
    funcset_close(&r->exempt);
    r->writes = writes;
    r->exempt = exempt;
    r->opts.writes = &r->writes;
    r->opts.exempt = &r->exempt;
    r->opts.escape_strings = 0;
    return 0;
}

void routing_close(struct routing *r)
{
    if (r->have_shard)
        shard_map_free(&r->shard);
    r->have_shard = 0;
    funcset_close(&r->writes);
    funcset_close(&r->exempt);
}
