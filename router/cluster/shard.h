/*
 * router/cluster/shard.h - the shard map: which cluster serves a tenant. An explicit [tenants]
 * placement wins; otherwise the tenant's hash bucket, computed exactly like PostgreSQL's
 * own hashtext(), names the cluster that owns it. Built once per config snapshot and
 * read-only afterwards, so any worker may use it without locks.
 *
 * The hash is stable and can be checked in SQL on any PostgreSQL server (with a
 * deterministic collation, on a little-endian machine, as all supported ones are):
 *
 *     SELECT ((hashtext('acme')::bigint % 1024) + 1024) % 1024;   -- 1024 = buckets
 *
 * A tenant is always hashed in its text form: tenant 42, given as a number or as '42',
 * goes to the bucket of hashtext('42').
 */
#ifndef PGROUTER_SHARD_H
#define PGROUTER_SHARD_H

#include <stddef.h>
#include <stdint.h>

#include "config/cfg.h"

struct shard_map {
    unsigned n_buckets;                     /* [sharding] buckets, 0 = no hash placement */
    const struct cfg_cluster **owner;       /* owner[bucket], n_buckets entries */
    const struct cfg_tenant **tenants;      /* [tenants] sorted by name (memcmp, then length) */
    size_t n_tenants;
};

/*
 * PostgreSQL's hashtext() of the bytes key[0..len): Bob Jenkins' lookup3 hash as in
 * PostgreSQL's hash_bytes(), little-endian reading. The SQL function returns this value
 * as a signed int4: (int32_t)shard_hashtext(...).
 */
uint32_t shard_hashtext(const char *key, size_t len);

/*
 * The bucket of key[0..len) among n_buckets: ((hashtext(key) % n) + n) % n with the
 * hash taken as a signed 32-bit number, as the SQL above computes it. Returns 0..n-1,
 * or -EINVAL if n_buckets is 0.
 */
int shard_bucket(const char *key, size_t len, unsigned n_buckets);

/*
 * Build the map from a validated snapshot. The map points into cfg, which must outlive
 * it (keep a reference). Returns 0 or -ENOMEM (out is then empty: shard_map_free is safe).
 */
int shard_map_build(const struct cfg *cfg, struct shard_map *out);

/* Free what shard_map_build allocated and empty m. Safe on an empty or zeroed map. */
void shard_map_free(struct shard_map *m);

/* The [tenants] entry for tenant[0..len) (exact, case-sensitive), or NULL. */
const struct cfg_tenant *shard_explicit(const struct shard_map *m, const char *tenant,
                                        size_t len);

/*
 * The cluster that serves tenant[0..len): its [tenants] entry if it has one, else the
 * owner of its bucket. NULL if neither places it (no [tenants] entry and no buckets):
 * the caller refuses the statement rather than guess.
 */
const struct cfg_cluster *shard_cluster_for(const struct shard_map *m, const char *tenant,
                                            size_t len);

#endif
