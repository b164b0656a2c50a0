/*
 * tests/unit/test_shard.c - shard_hashtext against values read from PostgreSQL 15
 * (SELECT hashtext(k)), bucket arithmetic including negative hashes, explicit [tenants]
 * placement over the hash, and a map built from a real config.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/cfg.h"
#include "router/cluster/shard.h"

/*
 * Pinned on PostgreSQL 15.20 (x86_64, UTF8 database) with
 *   SELECT k, hashtext(k), ((hashtext(k)::bigint % 1024) + 1024) % 1024,
 *          ((hashtext(k)::bigint % 7) + 7) % 7 FROM unnest(ARRAY[...]) AS k;
 * Lengths 0-13 and 24 cover every tail length of the 12-byte blocks that matters.
 */
static const struct known {
    const char *key;
    int32_t hashtext;
    int bucket1024;
    int bucket7;
} known[] = {
    { "", -1477818771, 621, 5 },
    { "a", 1075015857, 177, 6 },
    { "acme", -1850687378, 110, 6 },
    { "globex", -166328368, 976, 4 },
    { "initech", 1770537873, 913, 6 },
    { "umbrella", 702494676, 980, 2 },
    { "tenant-00042", 973208844, 268, 6 },
    { "42", 1865074622, 958, 5 },
    { "-7", -1225634043, 773, 3 },
    { "0", -1970733076, 1004, 3 },
    { "abcdefghijk", -1483803693, 979, 6 },
    { "abcdefghijkl", -1586087212, 724, 4 },
    { "abcdefghijklm", 405849808, 720, 0 },
    { "abcdefghijklmnopqrstuvwx", 1251586959, 911, 0 },
    { "\xc3\x9c" "n" "\xc3\xaf" "c" "\xc3\xb6" "d" "\xc3\xa9", 1924335333, 741, 4 },
    { "O'Brien", -614973660, 804, 0 },
    { "a longer tenant name that spans several blocks of twelve bytes", 1145573149, 797, 0 },
    { "9223372036854775807", -918417179, 229, 6 },
    { "-2147483648", -510520820, 524, 2 },
    { "acme ", 1099979878, 102, 4 },
};

#define N_KNOWN (sizeof(known) / sizeof(known[0]))

static void test_shard_hashtext_matches_postgresql(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_KNOWN; i++) {
        int32_t h = (int32_t)shard_hashtext(known[i].key, strlen(known[i].key));

        if (h != known[i].hashtext)
            fprintf(stderr, "hashtext('%s') = %d, PostgreSQL says %d\n", known[i].key, h,
                    known[i].hashtext);
        assert_int_equal(h, known[i].hashtext);
    }
}

static void test_shard_bucket_matches_the_documented_sql(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_KNOWN; i++) {
        const char *k = known[i].key;

        assert_int_equal(shard_bucket(k, strlen(k), 1024), known[i].bucket1024);
        assert_int_equal(shard_bucket(k, strlen(k), 7), known[i].bucket7);
        assert_int_equal(shard_bucket(k, strlen(k), 1), 0);
    }
}

static void test_shard_bucket_of_negative_hashes_is_not_the_unsigned_remainder(void **state)
{
    uint32_t u = shard_hashtext("acme", 4);

    (void)state;
    /*
     * hashtext('acme') is negative: taken as unsigned it lands in another bucket unless
     * the bucket count divides 2^32
     */
    assert_true((int32_t)u < 0);
    assert_int_equal(u % 1000, 918);
    /* -1850687378 % 1000 = -378 in SQL, + 1000 = 622 */
    assert_int_equal(shard_bucket("acme", 4, 1000), 622);
    assert_int_equal(u % 1024, 110);
    assert_int_equal(shard_bucket("acme", 4, 1024), 110);
    assert_int_equal(shard_bucket("acme", 4, 65536), (int)(((int64_t)-1850687378 % 65536
                                                           + 65536) % 65536));
    assert_int_equal(shard_bucket("acme", 4, 0), -EINVAL);
}

static void test_shard_hashtext_uses_the_length_not_a_terminator(void **state)
{
    (void)state;
    assert_int_equal((int32_t)shard_hashtext("acme-and-more", 4), -1850687378);
    assert_int_not_equal(shard_hashtext("acme\0", 5), shard_hashtext("acme", 4));
}

/* Load ini text (must be valid) from memory. */
static struct cfg *load(const char *ini)
{
    FILE *f = fmemopen((void *)ini, strlen(ini), "r");
    struct cfg *c = NULL;
    char *errors = NULL;
    int rc;

    assert_non_null(f);
    rc = cfg_load_stream(f, "shard.ini", &c, &errors);
    fclose(f);
    if (rc != 0)
        fprintf(stderr, "%s", errors != NULL ? errors : "(no text)\n");
    assert_int_equal(rc, 0);
    return c;
}

#define SHARD_INI \
    "[pgrouter]\nauth_type = trust\ndefault_cluster = shard_a\n" \
    "[sharding]\ntenant_column = tenant_id\nsharded_tables = accounts\nbuckets = 1024\n" \
    "[cluster.shard_a]\nprimary = 127.0.0.1:5001\nbuckets = 0-511\n" \
    "[cluster.shard_b]\nprimary = 127.0.0.1:5002\nbuckets = 512-1023\n"

static void test_shard_map_places_tenants_by_bucket_owner(void **state)
{
    struct cfg *c = load(SHARD_INI);
    struct shard_map m;
    const struct cfg_cluster *a, *b;

    (void)state;
    assert_int_equal(shard_map_build(c, &m), 0);
    a = cfg_find_cluster(c, "shard_a");
    b = cfg_find_cluster(c, "shard_b");
    assert_int_equal(m.n_buckets, 1024);
    for (size_t i = 0; i < N_KNOWN; i++) {
        const char *k = known[i].key;

        assert_ptr_equal(shard_cluster_for(&m, k, strlen(k)), known[i].bucket1024 < 512 ? a : b);
    }
    assert_ptr_equal(m.owner[0], a);
    assert_ptr_equal(m.owner[511], a);
    assert_ptr_equal(m.owner[512], b);
    assert_ptr_equal(m.owner[1023], b);
    assert_null(shard_explicit(&m, "acme", 4));
    shard_map_free(&m);
    assert_null(m.owner);
    shard_map_free(&m);         /* twice is harmless */
    cfg_unref(c);
}

static void test_shard_map_explicit_tenants_override_the_hash(void **state)
{
    struct cfg *c = load(SHARD_INI "[tenants]\nacme = shard_b\nglobex = shard_a\n"
                         "Acme = shard_a\nac = shard_b\nacme2 = shard_a\n");
    struct shard_map m;
    const struct cfg_cluster *a, *b;

    (void)state;
    assert_int_equal(shard_map_build(c, &m), 0);
    a = cfg_find_cluster(c, "shard_a");
    b = cfg_find_cluster(c, "shard_b");
    /* by hash: acme (110) on shard_a, globex (976) on shard_b */
    assert_int_equal(shard_bucket("acme", 4, 1024), 110);
    assert_int_equal(shard_bucket("globex", 6, 1024), 976);
    assert_ptr_equal(shard_cluster_for(&m, "acme", 4), b);
    assert_ptr_equal(shard_cluster_for(&m, "globex", 6), a);
    assert_ptr_equal(shard_cluster_for(&m, "Acme", 4), a);
    assert_ptr_equal(shard_cluster_for(&m, "ac", 2), b);
    assert_ptr_equal(shard_cluster_for(&m, "acme2", 5), a);
    assert_string_equal(shard_explicit(&m, "acme", 4)->name, "acme");
    /* a slice of a longer text: only its length counts */
    assert_ptr_equal(shard_cluster_for(&m, "acme-xyz", 4), b);
    assert_null(shard_explicit(&m, "acm", 3));
    assert_null(shard_explicit(&m, "acme22", 6));
    assert_null(shard_explicit(&m, "", 0));
    /* initech (913) is not listed: its bucket decides */
    assert_ptr_equal(shard_cluster_for(&m, "initech", 7), b);
    shard_map_free(&m);
    cfg_unref(c);
}

static void test_shard_map_without_buckets_places_only_listed_tenants(void **state)
{
    struct cfg *c = load("[pgrouter]\nauth_type = trust\ndefault_cluster = one\n"
                         "[sharding]\n[tenants]\nacme = two\n"
                         "[cluster.one]\nprimary = h:1\n[cluster.two]\nprimary = h:2\n");
    struct shard_map m;

    (void)state;
    assert_int_equal(shard_map_build(c, &m), 0);
    assert_int_equal(m.n_buckets, 0);
    assert_ptr_equal(shard_cluster_for(&m, "acme", 4), cfg_find_cluster(c, "two"));
    assert_null(shard_cluster_for(&m, "globex", 6));
    shard_map_free(&m);
    cfg_unref(c);
}

static void test_shard_map_with_many_clusters_and_scattered_ranges(void **state)
{
    struct cfg *c = load("[pgrouter]\nauth_type = trust\ndefault_cluster = x\n"
                         "[sharding]\nbuckets = 7\n"
                         "[cluster.x]\nprimary = h:1\nbuckets = 0, 2, 4-5\n"
                         "[cluster.y]\nprimary = h:2\nbuckets = 1, 3, 6\n");
    struct shard_map m;
    const struct cfg_cluster *x, *y;

    (void)state;
    assert_int_equal(shard_map_build(c, &m), 0);
    x = cfg_find_cluster(c, "x");
    y = cfg_find_cluster(c, "y");
    for (size_t i = 0; i < N_KNOWN; i++) {
        const char *k = known[i].key;
        int bk = known[i].bucket7;

        assert_ptr_equal(shard_cluster_for(&m, k, strlen(k)),
                         (bk == 1 || bk == 3 || bk == 6) ? y : x);
    }
    shard_map_free(&m);
    cfg_unref(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shard_hashtext_matches_postgresql),
        cmocka_unit_test(test_shard_bucket_matches_the_documented_sql),
        cmocka_unit_test(test_shard_bucket_of_negative_hashes_is_not_the_unsigned_remainder),
        cmocka_unit_test(test_shard_hashtext_uses_the_length_not_a_terminator),
        cmocka_unit_test(test_shard_map_places_tenants_by_bucket_owner),
        cmocka_unit_test(test_shard_map_explicit_tenants_override_the_hash),
        cmocka_unit_test(test_shard_map_without_buckets_places_only_listed_tenants),
        cmocka_unit_test(test_shard_map_with_many_clusters_and_scattered_ranges),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
