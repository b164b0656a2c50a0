/*
 * tests/unit/test_cfgshow.c - SHOW CONFIG's view of a snapshot: every key of the table has
 * a name and a value of a known kind, values read back in the file's own syntax,
 * passwords are masked, defaults come from a snapshot of defaults, and the keys that need a
 * restart say so.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/cfg.h"
#include "config/cfgshow.h"

/* The snapshot of ini (which must be valid), read from memory. */
static struct cfg *load(const char *ini)
{
    FILE *f = fmemopen((void *)ini, strlen(ini), "r");
    struct cfg *c = NULL;
    char *errors = NULL;
    int rc;

    assert_non_null(f);
    rc = cfg_load_stream(f, "/tmp/test_cfgshow.ini", &c, &errors);
    fclose(f);
    if (rc != 0)
        fprintf(stderr, "unexpected errors:\n%s", errors != NULL ? errors : "(none)\n");
    assert_int_equal(rc, 0);
    free(errors);
    return c;
}

/* Key name's value in c. */
static const char *value(const struct cfg *c, const char *name, char *buf, size_t len)
{
    const char *section, *key;

    for (size_t i = 0; (key = cfgshow_key(i, &section)) != NULL; i++) {
        if (strcmp(key, name) == 0) {
            cfgshow_value(c, i, buf, len);
            return buf;
        }
    }
    fail_msg("no key %s", name);
    return NULL;
}

static int changeable(const char *name)
{
    const char *section, *key;

    for (size_t i = 0; (key = cfgshow_key(i, &section)) != NULL; i++)
        if (strcmp(key, name) == 0)
            return cfgshow_changeable(i);
    fail_msg("no key %s", name);
    return -1;
}

static const char ini[] =
    "[pgrouter]\n"
    "auth_type = trust\n"
    "listen_port = 7000\n"
    "client_login_timeout = 1500ms\n"
    "server_lifetime = 2min\n"
    "max_packet_size = 64kB\n"
    "pool_mode = session\n"
    "server_round_robin = on\n"
    "admin_users = admin, ops\n"
    "default_cluster = b\n"
    "[routing]\n"
    "write_functions = nextval_x, s.f\n"
    "read_your_writes = window\n"
    "[health]\n"
    "health_check_user = mon\n"
    "health_check_password = hunter2\n"
    "max_replica_lag_bytes = 16MB\n"
    "[cluster.a]\n"
    "primary = 127.0.0.1:5432\n"
    "[cluster.b]\n"
    "primary = 127.0.0.1:5433\n";

static void test_cfgshow_values_read_as_the_file_writes_them(void **state)
{
    struct cfg *c = load(ini);
    char buf[256];

    (void)state;
    assert_string_equal(value(c, "listen_port", buf, sizeof(buf)), "7000");
    assert_string_equal(value(c, "stats_listen_port", buf, sizeof(buf)), "0");
    assert_string_equal(value(c, "auth_type", buf, sizeof(buf)), "trust");
    assert_string_equal(value(c, "client_login_timeout", buf, sizeof(buf)), "1500ms");
    assert_string_equal(value(c, "server_lifetime", buf, sizeof(buf)), "120");
    assert_string_equal(value(c, "max_packet_size", buf, sizeof(buf)), "65536");
    assert_string_equal(value(c, "pool_mode", buf, sizeof(buf)), "session");
    assert_string_equal(value(c, "server_round_robin", buf, sizeof(buf)), "on");
    assert_string_equal(value(c, "server_reset_query_always", buf, sizeof(buf)), "off");
    assert_string_equal(value(c, "admin_users", buf, sizeof(buf)), "admin, ops");
    assert_string_equal(value(c, "stats_users", buf, sizeof(buf)), "");
    assert_string_equal(value(c, "default_cluster", buf, sizeof(buf)), "b");
    assert_string_equal(value(c, "write_functions", buf, sizeof(buf)), "nextval_x, s.f");
    assert_string_equal(value(c, "read_your_writes", buf, sizeof(buf)), "window");
    assert_string_equal(value(c, "health_check_user", buf, sizeof(buf)), "mon");
    assert_string_equal(value(c, "max_replica_lag_bytes", buf, sizeof(buf)), "16777216");
    cfg_unref(c);
}

static void test_cfgshow_masks_passwords(void **state)
{
    struct cfg *c = load(ini);
    const char *section, *key;
    char buf[256];

    (void)state;
    assert_string_equal(value(c, "health_check_password", buf, sizeof(buf)), "********");
    for (size_t i = 0; (key = cfgshow_key(i, &section)) != NULL; i++) {
        cfgshow_value(c, i, buf, sizeof(buf));
        assert_null(strstr(buf, "hunter2"));
    }
    cfg_unref(c);
}

static void test_cfgshow_every_key_has_a_known_kind(void **state)
{
    struct cfg *c = load(ini);
    struct cfg *d = cfgshow_defaults();
    const char *section, *key;
    char buf[256];
    size_t n = 0;

    (void)state;
    assert_non_null(d);
    for (size_t i = 0; (key = cfgshow_key(i, &section)) != NULL; i++) {
        if (key[0] == '\0') {
            assert_string_equal(section, "");     /* a [cluster.NAME] key */
            continue;
        }
        n++;
        assert_true(section[0] != '\0');
        cfgshow_value(c, i, buf, sizeof(buf));
        assert_string_not_equal(buf, "?");
        cfgshow_value(d, i, buf, sizeof(buf));
        assert_string_not_equal(buf, "?");
    }
    assert_true(n > 50);
    cfg_unref(d);
    cfg_unref(c);
}

static void test_cfgshow_defaults_are_the_loaders(void **state)
{
    struct cfg *d = cfgshow_defaults();
    char buf[256];

    (void)state;
    assert_non_null(d);
    assert_string_equal(value(d, "listen_port", buf, sizeof(buf)), "6432");
    assert_string_equal(value(d, "auth_type", buf, sizeof(buf)), "scram-sha-256");
    assert_string_equal(value(d, "server_reset_query", buf, sizeof(buf)), "DISCARD ALL");
    assert_string_equal(value(d, "server_connect_timeout", buf, sizeof(buf)), "15");
    assert_string_equal(value(d, "default_cluster", buf, sizeof(buf)), "");
    assert_string_equal(value(d, "health_check_password", buf, sizeof(buf)), "");
    cfg_unref(d);
}

static void test_cfgshow_changeable_and_short_buffers(void **state)
{
    struct cfg *c = load(ini);
    char small[4];

    (void)state;
    assert_int_equal(changeable("listen_port"), 0);
    assert_int_equal(changeable("listen_addr"), 0);
    assert_int_equal(changeable("pidfile"), 0);
    assert_int_equal(changeable("default_pool_size"), 1);
    assert_int_equal(changeable("admin_users"), 1);
    /* cut, never overrun */
    assert_string_equal(value(c, "write_functions", small, sizeof(small)), "nex");
    assert_string_equal(value(c, "auth_type", small, sizeof(small)), "tru");
    assert_null(cfgshow_key(100000, &(const char *){ NULL }));
    cfg_unref(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cfgshow_values_read_as_the_file_writes_them),
        cmocka_unit_test(test_cfgshow_masks_passwords),
        cmocka_unit_test(test_cfgshow_every_key_has_a_known_kind),
        cmocka_unit_test(test_cfgshow_defaults_are_the_loaders),
        cmocka_unit_test(test_cfgshow_changeable_and_short_buffers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
