/*
 * tests/fuzz/fuzz_explain.c - libFuzzer harness for EXPLAIN ROUTE's path (the admin
 * console hands it any text): decide_query and explain_format (router/cluster/decide.c,
 * router/sql/explain.c) on a sharded config. Input: one option byte (bits 0-1: the session's
 * tenant none, "acme", "globex" or the first 8 bytes after the option byte; bits 2-3:
 * pgrouter.role auto, primary, replica; bit 4: in a transaction on shard_a), then SQL.
 * Checks that the line fits and ends where it says, starts with read/write as the
 * decision does, names the decision's cluster or "?", and is the same when asked twice.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfg.h"
#include "router/cluster/decide.h"
#include "router/sql/explain.h"
#include "router/cluster/routing.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char ini[] =
    "[pgrouter]\nauth_type = trust\ndefault_cluster = main\n"
    "[sharding]\ntenant_column = tenant_id\nsharded_tables = accounts, orders\nbuckets = 4\n"
    "[cluster.main]\nprimary = 127.0.0.1:5001\nreplicas = 127.0.0.1:5002\n"
    "[cluster.shard_a]\nprimary = 127.0.0.1:5003\nreplicas = 127.0.0.1:5004\nbuckets = 0-1\n"
    "[cluster.shard_b]\nprimary = 127.0.0.1:5005\nbuckets = 2-3\n"
    "[tenants]\nacme = shard_b\n";

static struct cfg *cfg;
static struct routing routing;

/* An invariant broke: crash so libFuzzer keeps the input. */
static void check(int ok)
{
    if (!ok)
        abort();
}

static void setup(void)
{
    FILE *f = fmemopen((void *)ini, sizeof(ini) - 1, "r");

    check(f != NULL);
    check(cfg_load_stream(f, "fuzz.ini", &cfg, NULL) == 0);
    fclose(f);
    check(routing_load(&routing, cfg) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const tenants[] = { NULL, "acme", "globex" };
    static const enum route_role roles[] = {
        ROUTE_ROLE_AUTO, ROUTE_ROLE_PRIMARY, ROUTE_ROLE_REPLICA, ROUTE_ROLE_AUTO,
    };
    struct decide_session ds;
    struct decide_route *dr;
    char own[9], line[EXPLAIN_LINE_MAX], again[EXPLAIN_LINE_MAX];
    const char *sql;
    size_t len, n;

    if (cfg == NULL)
        setup();
    if (size < 1)
        return 0;
    memset(&ds, 0, sizeof(ds));
    if ((data[0] & 3) == 3) {
        if (size < 9)
            return 0;
        memcpy(own, data + 1, 8);
        own[8] = '\0';
        ds.tenant = own;
        data += 8;
        size -= 8;
    } else {
        ds.tenant = tenants[data[0] & 3];
    }
    ds.role = roles[(data[0] >> 2) & 3];
    if (data[0] & 16) {
        ds.in_tx = 1;
        ds.tx_cluster = cfg_find_cluster(cfg, "shard_a");
    }
    sql = (const char *)data + 1;
    len = size - 1;
    dr = malloc(sizeof(*dr));
    check(dr != NULL);
    check(decide_query(cfg, &routing, NULL, &ds, sql, len, dr) == 0);
    n = explain_format(dr, line, sizeof(line));
    check(n < sizeof(line) && strlen(line) == n);
    check(strncmp(line, dr->cr.write ? "write " : "read ", dr->cr.write ? 6 : 5) == 0);
    if (dr->tn.sqlstate != NULL)
        check(strstr(line, " ? refused (SQLSTATE ") != NULL);
    else
        check(dr->cluster != NULL && strstr(line, dr->cluster->name) != NULL);
    check((dr->sqlstate != NULL) == (dr->d.target == ROUTE_ERROR));
    check(explain_route_in(&routing, cfg, &ds, sql, len, again, sizeof(again)) == n);
    check(memcmp(line, again, n + 1) == 0);
    free(dr);
    return 0;
}
