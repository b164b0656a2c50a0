/*
 * config/cfgcheck.c - checks that span keys and sections, run once the whole file is
 * read: [breaker] timeouts against each other, the metrics port against listen_port, and
 * sharding: every bucket owned by exactly one cluster, every tenant placed once on a
 * cluster that exists, [sharding] keys that only make sense together; and the
 * auth_hba_file, read with the snapshot. Reads the loader (cfgload.h), reports through
 * cfgload_error.
 */
#include "config/cfgload.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/hba.h"

static const struct cfg_section *cfgcheck_find_section(const struct loader *ld, enum cfg_sect sect)
{
    for (size_t i = 0; i < ld->n_sects; i++)
        if (ld->sects[i].sect == sect)
            return &ld->sects[i];
    return NULL;
}

void cfgcheck_breaker(struct loader *ld)
{
    const struct cfg_breaker *b = &ld->cfg->breaker;
    const struct cfg_section *s = cfgcheck_find_section(ld, SECT_BREAKER);
    size_t lo = cfg_key_find(SECT_BREAKER, "open_timeout");
    size_t hi = cfg_key_find(SECT_BREAKER, "max_open_timeout");

    if (s == NULL || s->key_bad[lo] || s->key_bad[hi] || b->max_open_timeout_ms >=
        b->open_timeout_ms)
        return;
    if (s->key_line[hi] != 0)
        cfgload_error(ld, s->key_line[hi], "max_open_timeout: %u ms is less than open_timeout "
                      "(%u ms)", b->max_open_timeout_ms, b->open_timeout_ms);
    else
        cfgload_error(ld, s->key_line[lo], "open_timeout: %u ms is more than max_open_timeout "
                      "(%u ms by default)", b->open_timeout_ms, b->max_open_timeout_ms);
}

static int cfgcheck_wildcard(const char *addr)
{
    return strcmp(addr, "0.0.0.0") == 0 || strcmp(addr, "::") == 0;
}

void cfgcheck_stats(struct loader *ld)
{
    const struct cfg *c = ld->cfg;
    const struct cfg_section *s = cfgcheck_find_section(ld, SECT_PGROUTER);
    size_t port_key = cfg_key_find(SECT_PGROUTER, "stats_listen_port");

    if (s == NULL || c->stats_listen_port == 0 || c->stats_listen_port != c->listen_port)
        return;
    if (strcmp(c->stats_listen_addr, c->listen_addr) != 0 &&
        !cfgcheck_wildcard(c->stats_listen_addr) && !cfgcheck_wildcard(c->listen_addr))
        return;
    cfgload_error(ld, s->key_line[port_key], "stats_listen_port: %u is listen_port too; the "
                  "metrics endpoint needs a port of its own", c->stats_listen_port);
}

/* "a-b" or "a" into buf, after a ", " unless first. */
static void cfgcheck_put_range(char *buf, size_t len, unsigned a, unsigned b, int first)
{
    size_t used = strlen(buf);

    if (used + 1 >= len)
        return;
    if (a == b)
        snprintf(buf + used, len - used, "%s%u", first ? "" : ", ", a);
    else
        snprintf(buf + used, len - used, "%s%u-%u", first ? "" : ", ", a, b);
}

/*
 * Each bucket 0..n_buckets-1 must belong to exactly one cluster. Overlaps are reported at
 * the later cluster's buckets line, gaps at the [sharding] buckets line.
 */
static void cfgcheck_buckets(struct loader *ld, const struct cfg_section *sh)
{
    const struct cfg *c = ld->cfg;
    size_t ckey = cfg_key_find(SECT_CLUSTER, "buckets");
    unsigned n = c->sharding.n_buckets;
    uint32_t *owner;            /* section index + 1 of the owner, 0 = none */
    int bad = 0;                /* a cluster's buckets line was refused: gaps would mislead */
    char gaps[160] = "";
    unsigned n_gaps = 0, gap_count = 0;

    owner = calloc(n, sizeof(*owner));
    if (owner == NULL) {
        ld->oom = 1;
        return;
    }
    for (size_t i = 0; i < ld->n_sects; i++) {
        const struct cfg_section *s = &ld->sects[i];
        const struct cfg_cluster *cl;
        int line = s->key_line[ckey];

        if (s->sect != SECT_CLUSTER)
            continue;
        cl = &c->clusters[s->cluster];  /* only cluster sections index clusters */
        bad |= s->key_bad[ckey];
        for (size_t r = 0; r < cl->n_bucket_ranges; r++) {
            unsigned lo = cl->bucket_ranges[2 * r], hi = cl->bucket_ranges[2 * r + 1];
            int reported = 0;

            if (hi >= n) {
                cfgload_error(ld, line, "buckets: bucket %u is out of range ([sharding] buckets = "
                              "%u, so 0-%u)", lo >= n ? lo : n, n, n - 1);
                if (lo >= n)
                    continue;
                hi = n - 1;
            }
            for (unsigned b = lo; b <= hi; b++) {
                const struct cfg_section *o;

                if (owner[b] == 0) {
                    owner[b] = (uint32_t)(i + 1);
                    continue;
                }
                if (reported++)
                    continue;
                o = &ld->sects[owner[b] - 1];
                if (o == s)
                    cfgload_error(ld, line, "buckets: bucket %u is listed twice", b);
                else
                    cfgload_error(ld, line, "buckets: bucket %u is already owned by cluster "
                                  "\"%s\" (line %d)", b, c->clusters[o->cluster].name,
                                  o->key_line[ckey]);
            }
        }
    }
    for (unsigned b = 0; b < n; b++) {
        unsigned e = b;

        if (owner[b] != 0)
            continue;
        while (e + 1 < n && owner[e + 1] == 0)
            e++;
        if (n_gaps++ < 6)
            cfgcheck_put_range(gaps, sizeof(gaps), b, e, n_gaps == 1);
        gap_count += e - b + 1;
        b = e;
    }
    if (gap_count > 0 && !bad)
        cfgload_error(ld, sh->key_line[cfg_key_find(SECT_SHARDING, "buckets")],
                      "buckets: %s %s%s %s to no cluster (add them to a [cluster.NAME] "
                      "buckets line)", gap_count == 1 ? "bucket" : "buckets", gaps,
                      n_gaps > 6 ? ", ..." : "", gap_count == 1 ? "belongs" : "belong");
    free(owner);
}

static int cfgcheck_cmp_tenant(const void *a, const void *b, void *arg)
{
    const struct loader *ld = arg;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    int r = strcmp(ld->cfg->tenants[x].name, ld->cfg->tenants[y].name);

    return r != 0 ? r : (x > y) - (x < y);
}

/* Resolve each tenant's cluster; a name placed twice is reported at its later line. */
static void cfgcheck_tenants(struct loader *ld)
{
    struct cfg *c = ld->cfg;
    size_t *order;

    for (size_t i = 0; i < c->n_tenants; i++) {
        c->tenants[i].cluster = cfg_find_cluster(c, ld->tenant_src[i].cluster);
        if (c->tenants[i].cluster == NULL)
            cfgload_error(ld, ld->tenant_src[i].line, "tenant \"%s\": no [cluster.%s] section",
                          c->tenants[i].name, ld->tenant_src[i].cluster);
    }
    order = malloc((c->n_tenants + 1) * sizeof(*order));
    if (order == NULL) {
        ld->oom = 1;
        return;
    }
    for (size_t i = 0; i < c->n_tenants; i++)
        order[i] = i;
    qsort_r(order, c->n_tenants, sizeof(*order), cfgcheck_cmp_tenant, ld);
    for (size_t i = 1, first = 0; i < c->n_tenants; i++) {
        if (strcmp(c->tenants[order[i]].name, c->tenants[order[first]].name) != 0) {
            first = i;
            continue;
        }
        cfgload_error(ld, ld->tenant_src[order[i]].line, "tenant \"%s\" is listed twice "
                      "(first on line %d)", c->tenants[order[i]].name,
                      ld->tenant_src[order[first]].line);
    }
    free(order);
}

void cfgcheck_sharding(struct loader *ld)
{
    struct cfg *c = ld->cfg;
    const struct cfg_section *sh = cfgcheck_find_section(ld, SECT_SHARDING);
    const struct cfg_section *tn = cfgcheck_find_section(ld, SECT_TENANTS);
    size_t ckey = cfg_key_find(SECT_CLUSTER, "buckets");
    size_t nkey = cfg_key_find(SECT_SHARDING, "buckets");
    size_t tkey = cfg_key_find(SECT_SHARDING, "sharded_tables");

    c->sharding.enabled = sh != NULL;
    if (tn != NULL && sh == NULL)
        cfgload_error(ld, tn->line, "[tenants] needs a [sharding] section");
    for (size_t i = 0; i < ld->n_sects; i++) {
        const struct cfg_section *s = &ld->sects[i];

        if (s->sect == SECT_CLUSTER && s->key_line[ckey] != 0 && c->sharding.n_buckets == 0 &&
            (sh == NULL || !sh->key_bad[nkey]))
            cfgload_error(ld, s->key_line[ckey], "buckets: [sharding] buckets is not set, so "
                          "there are no buckets to own");
    }
    cfgcheck_tenants(ld);
    if (sh == NULL)
        return;
    if (c->sharding.n_tables > 0 && c->sharding.tenant_column[0] == '\0' &&
        !sh->key_bad[cfg_key_find(SECT_SHARDING, "tenant_column")])
        cfgload_error(ld, sh->key_line[tkey], "sharded_tables: tenant_column is not set, so "
                      "statements on them cannot name their tenant");
    if (c->sharding.n_buckets > 0)
        cfgcheck_buckets(ld, sh);
    else if (c->n_tenants == 0 && !sh->key_bad[nkey])
        cfgload_error(ld, sh->line, "[sharding] places no tenant: set buckets (and buckets in "
                      "each [cluster.NAME]) or list tenants in [tenants]");
}

/* ---- auth_hba_file ---- */

struct cfgcheck_hba_ctx {
    struct loader *ld;
    int key_line;
    const char *path;
};

static void cfgcheck_on_hba_error(void *arg, int line, const char *msg)
{
    struct cfgcheck_hba_ctx *x = arg;

    cfgload_add_error(x->ld, x->key_line, line, x->path, line, msg);
}

void cfgcheck_hba(struct loader *ld, const struct cfg_section *pg)
{
    struct cfg *c = ld->cfg;
    size_t key = cfg_key_find(SECT_PGROUTER, "auth_hba_file");
    struct cfgcheck_hba_ctx x = { .ld = ld, .key_line = pg->key_line[key] };
    const char *slash = strrchr(ld->path, '/');
    int rc;

    if (c->auth_hba_file == NULL) {
        if (c->auth_type == CFG_AUTH_HBA)
            cfgload_error(ld, pg->line, "auth_hba_file is required when auth_type = hba");
        return;
    }
    if (c->auth_hba_file[0] != '/' && slash != NULL) {
        size_t dir_len = (size_t)(slash - ld->path) + 1;
        char *full = malloc(dir_len + strlen(c->auth_hba_file) + 1);

        if (full == NULL) {
            ld->oom = 1;
            return;
        }
        memcpy(full, ld->path, dir_len);
        strcpy(full + dir_len, c->auth_hba_file);
        free(c->auth_hba_file);
        c->auth_hba_file = full;
    }
    x.path = c->auth_hba_file;
    rc = hba_load(c->auth_hba_file, cfgcheck_on_hba_error, &x, &c->hba);
    if (rc == -ENOMEM)
        ld->oom = 1;
    else if (rc == -EFBIG)
        cfgload_error(ld, x.key_line, "auth_hba_file \"%s\": larger than %d bytes",
                      c->auth_hba_file, HBA_MAX_FILE);
    else if (rc < 0 && rc != -EINVAL)
        cfgload_error(ld, x.key_line, "auth_hba_file \"%s\": %s", c->auth_hba_file,
                      strerror(-rc));
}
