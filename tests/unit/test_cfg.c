/*
 * tests/unit/test_cfg.c - cfg_load: values and defaults, every kind of error as
 * the exact "file:line: message" text, auth_file handling and refcounting.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/cfg.h"

#define MIN_CLUSTER "[cluster.main]\nprimary = 127.0.0.1:5432\n"
#define TRUST_HEAD "[pgrouter]\nauth_type = trust\n"

/* Write text to a new file in /tmp; returns its malloc'd path. */
static char *tmp_file(const char *text)
{
    char *path = strdup("/tmp/test_cfg_XXXXXX");
    FILE *f;
    int fd;

    assert_non_null(path);
    fd = mkstemp(path);
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
    return path;
}

/* tmpl with every '@' replaced by path (malloc'd). */
static char *subst(const char *tmpl, const char *path)
{
    size_t n = strlen(tmpl) + 1;
    char *out, *w;

    for (const char *p = tmpl; *p != '\0'; p++)
        n += *p == '@' ? strlen(path) : 0;
    out = malloc(n);
    assert_non_null(out);
    for (w = out; *tmpl != '\0'; tmpl++) {
        if (*tmpl == '@') {
            strcpy(w, path);
            w += strlen(path);
        } else {
            *w++ = *tmpl;
        }
    }
    *w = '\0';
    return out;
}

/* Load ini text that must be valid; the caller unrefs. */
static struct cfg *load_ok(const char *ini)
{
    char *path = tmp_file(ini);
    struct cfg *c = NULL;
    char *errors = NULL;
    int rc = cfg_load(path, &c, &errors);

    if (rc != 0)
        fprintf(stderr, "unexpected errors:\n%s", errors ? errors : "(none)\n");
    assert_int_equal(rc, 0);
    assert_null(errors);
    assert_non_null(c);
    assert_string_equal(c->path, path);
    unlink(path);
    free(path);
    return c;
}

/* Load ini text that must fail with exactly the errors in tmpl ('@' = the file). */
static void expect_errors(const char *ini, const char *tmpl)
{
    char *path = tmp_file(ini);
    char *want = subst(tmpl, path);
    struct cfg *c = NULL;
    char *errors = NULL;

    assert_int_equal(cfg_load(path, &c, &errors), -EINVAL);
    assert_null(c);
    assert_non_null(errors);
    assert_string_equal(errors, want);
    free(errors);
    free(want);
    unlink(path);
    free(path);
}

static void test_cfg_loads_every_value_of_a_full_config(void **state)
{
    char *users = tmp_file("\"app\" \"app\"\n"
                           "\"alice\" \"md5a8e8bc1e9de2bd6ef3d0bd9e1d1b8e2f\"\n");
    char ini[2048];
    struct cfg *c;
    const struct cfg_cluster *a, *b;

    (void)state;
    snprintf(ini, sizeof(ini),
             "[pgrouter]\n"
             "listen_addr = *\n"
             "listen_port = 7432\n"
             "auth_type = md5\n"
             "auth_file = %s\n"
             "max_client_conn = 250\n"
             "max_packet_size = 64MB\n"
             "server_connect_timeout = 500ms\n"
             "client_login_timeout = 2min\n"
             "verbose = 2\n"
             "logfile = /var/log/pgrouter.log\n"
             "pidfile = /run/pgrouter.pid\n"
             "default_cluster = shard_b\n"
             "\n"
             "[cluster.shard-a]\n"
             "primary = db1.example.com:5432\n"
             "replicas = 10.0.0.2:5433 weight=3, [::1]:5434\n"
             "[cluster.shard_b]\n"
             "primary = [2001:db8::1]:6000\n", users);
    c = load_ok(ini);
    assert_int_equal(c->refs, 1);
    assert_string_equal(c->listen_addr, "0.0.0.0");
    assert_int_equal(c->listen_port, 7432);
    assert_int_equal(c->auth_type, CFG_AUTH_MD5);
    assert_string_equal(c->auth_file, users);
    assert_true(c->have_userlist);
    assert_int_equal(c->n_users, 2);
    assert_int_equal(c->max_client_conn, 250);
    assert_int_equal(c->max_packet_size, 64 * 1024 * 1024);
    assert_int_equal(c->server_connect_timeout_ms, 500);
    assert_int_equal(c->client_login_timeout_ms, 120000);
    assert_int_equal(c->verbose, 2);
    assert_string_equal(c->logfile, "/var/log/pgrouter.log");
    assert_string_equal(c->pidfile, "/run/pgrouter.pid");
    assert_int_equal(c->n_clusters, 2);

    a = &c->clusters[0];
    assert_string_equal(a->name, "shard-a");
    assert_string_equal(a->primary.host, "db1.example.com");
    assert_int_equal(a->primary.port, 5432);
    assert_string_equal(a->primary.name, "db1.example.com:5432");
    assert_int_equal(a->n_replicas, 2);
    assert_string_equal(a->replicas[0].host, "10.0.0.2");
    assert_int_equal(a->replicas[0].port, 5433);
    assert_int_equal(a->replicas[0].weight, 3);
    assert_string_equal(a->replicas[1].host, "::1");
    assert_string_equal(a->replicas[1].name, "[::1]:5434");
    assert_int_equal(a->replicas[1].weight, 1);

    b = cfg_find_cluster(c, "shard_b");
    assert_ptr_equal(b, &c->clusters[1]);
    assert_ptr_equal(c->default_cluster, b);
    assert_string_equal(b->primary.host, "2001:db8::1");
    assert_int_equal(b->primary.port, 6000);
    assert_int_equal(b->n_replicas, 0);
    assert_null(b->replicas);

    assert_string_equal(cfg_find_user(c, "alice")->secret,
                        "md5a8e8bc1e9de2bd6ef3d0bd9e1d1b8e2f");
    assert_string_equal(cfg_find_user(c, "app")->secret, "app");
    assert_null(cfg_find_user(c, "mallory"));
    assert_null(cfg_find_cluster(c, "main"));
    cfg_unref(c);
    unlink(users);
    free(users);
}

static void test_cfg_applies_defaults_and_picks_the_only_cluster(void **state)
{
    struct cfg *c = load_ok(TRUST_HEAD MIN_CLUSTER);

    (void)state;
    assert_string_equal(c->listen_addr, "127.0.0.1");
    assert_int_equal(c->listen_port, 6432);
    assert_int_equal(c->auth_type, CFG_AUTH_TRUST);
    assert_null(c->auth_file);
    assert_false(c->have_userlist);
    assert_int_equal(c->n_users, 0);
    assert_null(cfg_find_user(c, "app"));
    assert_int_equal(c->max_client_conn, 100);
    assert_int_equal(c->max_packet_size, 1073741823);
    assert_int_equal(c->server_connect_timeout_ms, 15000);
    assert_int_equal(c->client_login_timeout_ms, 60000);
    assert_int_equal(c->verbose, 0);
    assert_null(c->logfile);
    assert_null(c->pidfile);
    assert_int_equal(c->n_clusters, 1);
    assert_ptr_equal(c->default_cluster, &c->clusters[0]);
    assert_string_equal(c->default_cluster->primary.name, "127.0.0.1:5432");
    cfg_unref(c);
}

static void test_cfg_defaults_to_scram(void **state)
{
    char *users = tmp_file("\"app\" \"app\"\n");
    char ini[512];
    struct cfg *c;

    (void)state;
    snprintf(ini, sizeof(ini), "[pgrouter]\nauth_file = %s\n" MIN_CLUSTER, users);
    c = load_ok(ini);
    assert_int_equal(c->auth_type, CFG_AUTH_SCRAM);
    cfg_unref(c);
    unlink(users);
    free(users);
}

static void test_cfg_resolves_relative_auth_file_next_to_the_config(void **state)
{
    char dir[] = "/tmp/test_cfg_dir_XXXXXX";
    char ini_path[128], ul_path[128];
    struct cfg *c = NULL;
    char *errors = NULL;
    FILE *f;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(ini_path, sizeof(ini_path), "%s/pgrouter.ini", dir);
    snprintf(ul_path, sizeof(ul_path), "%s/userlist.txt", dir);
    f = fopen(ul_path, "w");
    assert_non_null(f);
    fputs("\"app\" \"app\"\n", f);
    fclose(f);
    f = fopen(ini_path, "w");
    assert_non_null(f);
    fputs("[pgrouter]\nauth_file = userlist.txt\n" MIN_CLUSTER, f);
    fclose(f);

    assert_int_equal(cfg_load(ini_path, &c, &errors), 0);
    assert_string_equal(c->auth_file, ul_path);
    assert_non_null(cfg_find_user(c, "app"));
    cfg_unref(c);
    unlink(ini_path);
    unlink(ul_path);
    rmdir(dir);
}

static void test_cfg_trust_with_auth_file_still_lists_users(void **state)
{
    char *users = tmp_file("\"app\" \"\"\n");
    char ini[512];
    struct cfg *c;

    (void)state;
    snprintf(ini, sizeof(ini), TRUST_HEAD "auth_file = %s\n" MIN_CLUSTER, users);
    c = load_ok(ini);
    assert_true(c->have_userlist);
    assert_string_equal(cfg_find_user(c, "app")->secret, "");
    assert_null(cfg_find_user(c, "other"));
    cfg_unref(c);
    unlink(users);
    free(users);
}

static void test_cfg_strips_inline_comments_and_accepts_indented_keys(void **state)
{
    struct cfg *c = load_ok("; leading comment\n"
                            "# hash comment\n"
                            "[pgrouter]   ; the main section\n"
                            "auth_type = trust ; no passwords\n"
                            "  listen_port = 7000\n"
                            "\tverbose = 1\n"
                            "logfile = /tmp/a;b\n"
                            "pidfile = /tmp/p ;comment\n"
                            MIN_CLUSTER);

    (void)state;
    assert_int_equal(c->auth_type, CFG_AUTH_TRUST);
    assert_int_equal(c->listen_port, 7000);
    assert_int_equal(c->verbose, 1);
    assert_string_equal(c->logfile, "/tmp/a;b");     /* ';' needs a blank before it */
    assert_string_equal(c->pidfile, "/tmp/p");
    cfg_unref(c);
}

static void test_cfg_accepts_crlf_line_endings(void **state)
{
    struct cfg *c = load_ok("[pgrouter]\r\nauth_type = trust\r\nlisten_port = 7001\r\n"
                            "[cluster.main]\r\nprimary = 127.0.0.1:5432\r\n");

    (void)state;
    assert_int_equal(c->listen_port, 7001);
    assert_string_equal(c->clusters[0].primary.name, "127.0.0.1:5432");
    cfg_unref(c);
}

static void test_cfg_parses_sizes_and_durations_with_units(void **state)
{
    static const struct {
        const char *text;
        size_t bytes;
    } sizes[] = {
        { "1024", 1024 }, { "8kB", 8192 }, { "2 MB", 2u << 20 }, { "1GB", 1u << 30 },
        { "2147483647", 2147483647u },
    };
    static const struct {
        const char *text;
        unsigned ms;
    } times[] = {
        { "15", 15000 }, { "500ms", 500 }, { "15s", 15000 }, { "2min", 120000 },
        { "1h", 3600000 }, { "1 s", 1000 },
    };
    char ini[512];

    (void)state;
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        struct cfg *c;

        snprintf(ini, sizeof(ini), TRUST_HEAD "max_packet_size = %s\n" MIN_CLUSTER,
                 sizes[i].text);
        c = load_ok(ini);
        assert_int_equal(c->max_packet_size, sizes[i].bytes);
        cfg_unref(c);
    }
    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        struct cfg *c;

        snprintf(ini, sizeof(ini), TRUST_HEAD "server_connect_timeout = %s\n" MIN_CLUSTER,
                 times[i].text);
        c = load_ok(ini);
        assert_int_equal(c->server_connect_timeout_ms, times[i].ms);
        cfg_unref(c);
    }
}

static void test_cfg_rejects_bad_sizes_and_durations(void **state)
{
    (void)state;
    expect_errors(TRUST_HEAD
                  "max_packet_size = 1023\n"
                  "client_login_timeout = 10x\n"
                  "server_connect_timeout = 99999999999999999999999s\n"
                  MIN_CLUSTER,
                  "@:3: max_packet_size: \"1023\" is out of range (1024-2147483647 bytes)\n"
                  "@:4: client_login_timeout: \"10x\" is not a duration (seconds, or a number "
                  "followed by ms, s, min or h)\n"
                  "@:5: server_connect_timeout: \"99999999999999999999999s\" is out of range "
                  "(1-86400000 ms)\n");
    expect_errors(TRUST_HEAD "max_packet_size = 2GB\nmax_packet_size = 5kb\n" MIN_CLUSTER,
                  "@:3: max_packet_size: \"2GB\" is out of range (1024-2147483647 bytes)\n"
                  "@:4: duplicate key \"max_packet_size\" (first set on line 3)\n");
    expect_errors(TRUST_HEAD "max_packet_size = -1\n" MIN_CLUSTER,
                  "@:3: max_packet_size: \"-1\" is not a size (bytes, or a number followed "
                  "by kB, MB or GB)\n");
}

static void test_cfg_reports_unknown_section(void **state)
{
    (void)state;
    expect_errors(TRUST_HEAD "[pools]\nsize = 3\n" MIN_CLUSTER,
                  "@:3: unknown section [pools] (expected [pgrouter] or [cluster.NAME])\n");
}

static void test_cfg_reports_unknown_key_with_its_section(void **state)
{
    (void)state;
    expect_errors(TRUST_HEAD "foo = 1\nListen_Port = 1\n" MIN_CLUSTER "weight = 2\n",
                  "@:3: unknown key \"foo\" in [pgrouter]\n"
                  "@:4: unknown key \"Listen_Port\" in [pgrouter] (keys are lower-case)\n"
                  "@:7: unknown key \"weight\" in [cluster.main]\n");
}

static void test_cfg_reports_key_in_the_wrong_section(void **state)
{
    (void)state;
    expect_errors(TRUST_HEAD "primary = 127.0.0.1:5432\n" MIN_CLUSTER "listen_port = 1\n",
                  "@:3: unknown key \"primary\" in [pgrouter] (it belongs in [cluster.NAME])\n"
                  "@:6: unknown key \"listen_port\" in [cluster.main] "
                  "(it belongs in [pgrouter])\n");
}

static void test_cfg_reports_key_before_any_section(void **state)
{
    (void)state;
    expect_errors("listen_port = 6432\n" TRUST_HEAD MIN_CLUSTER,
                  "@:1: key \"listen_port\" before any [section]\n");
}

static void test_cfg_reports_bad_values(void **state)
{
    (void)state;
    /* a bad auth_type does not also cause "auth_file is required" */
    expect_errors("[pgrouter]\n"
                  "auth_type = plain\n"
                  "listen_port = 70000\n"
                  "listen_addr = not a host\n"
                  "max_client_conn = 0\n"
                  "verbose = 3\n"
                  "default_cluster = a.b\n"
                  MIN_CLUSTER,
                  "@:2: auth_type: \"plain\" is not one of scram-sha-256, md5, trust\n"
                  "@:3: listen_port: \"70000\" is not a port (1-65535)\n"
                  "@:4: listen_addr: \"not a host\" is not a host name or IP address\n"
                  "@:5: max_client_conn: \"0\" is out of range (at least 1)\n"
                  "@:6: verbose: \"3\" is out of range (0-2)\n"
                  "@:7: default_cluster: \"a.b\" is not a cluster name "
                  "(1-63 of A-Z a-z 0-9 _ -)\n");
    expect_errors(TRUST_HEAD "listen_port = 0\nmax_client_conn = ten\n" MIN_CLUSTER,
                  "@:3: listen_port: \"0\" is not a port (1-65535)\n"
                  "@:4: max_client_conn: \"ten\" is not an integer\n");
}

static void test_cfg_reports_bad_addresses(void **state)
{
    (void)state;
    expect_errors(TRUST_HEAD
                  "[cluster.a]\nprimary = 127.0.0.1\n"
                  "[cluster.b]\nprimary = ::1:5432\n"
                  "[cluster.c]\nprimary = [::1:5432\n"
                  "[cluster.d]\nprimary = 300.1.1.1:5432\n"
                  "[cluster.e]\nprimary = host:99999\n"
                  "[cluster.f]\nprimary = h:1\nreplicas = h:2 weight=0\n"
                  "[cluster.g]\nprimary = h:1\nreplicas = h:2,,h:3\n"
                  "[cluster.h]\nprimary = h:1\nreplicas = h:2 heavy\n"
                  "default_cluster = a\n",
                  "@:1: default_cluster is required when there are several clusters\n"
                  "@:4: primary: \"127.0.0.1\" has no port (expected host:port)\n"
                  "@:6: primary: \"::1:5432\": write an IPv6 address in brackets, "
                  "e.g. [::1]:5432\n"
                  "@:8: primary: \"[::1:5432\" is not [IPv6 address]:port\n"
                  "@:10: primary: \"300.1.1.1:5432\": \"300.1.1.1\" is not a host name "
                  "or IP address\n"
                  "@:12: primary: \"host:99999\": port \"99999\" is not 1-65535\n"
                  "@:15: replicas: \"h:2 weight=0\": weight must be 1-1000\n"
                  "@:18: replicas: entry 2 of \"h:2,,h:3\" is empty\n"
                  "@:21: replicas: \"h:2 heavy\": expected \"weight=N\" after the address\n"
                  "@:22: unknown key \"default_cluster\" in [cluster.h] "
                  "(it belongs in [pgrouter])\n");
}

static void test_cfg_reports_missing_primary_at_section_header(void **state)
{
    (void)state;
    expect_errors(TRUST_HEAD "[cluster.main]\nreplicas = 127.0.0.1:5433\n",
                  "@:3: missing required key \"primary\" in [cluster.main]\n");
}

static void test_cfg_reports_duplicate_key_with_first_line(void **state)
{
    (void)state;
    expect_errors(TRUST_HEAD "listen_port = 6432\nlisten_port = 6433\n" MIN_CLUSTER,
                  "@:4: duplicate key \"listen_port\" (first set on line 3)\n");
}

static void test_cfg_keeps_the_first_of_duplicate_keys_per_section(void **state)
{
    struct cfg *c = load_ok(TRUST_HEAD
                            "default_cluster = a\n"
                            "[cluster.a]\nprimary = h:1\n"
                            "[cluster.b]\nprimary = h:2\n");

    (void)state;
    /* the same key in two sections is not a duplicate */
    assert_int_equal(c->n_clusters, 2);
    assert_string_equal(c->default_cluster->name, "a");
    cfg_unref(c);
}

static void test_cfg_reports_duplicate_sections(void **state)
{
    (void)state;
    expect_errors(TRUST_HEAD MIN_CLUSTER "[pgrouter]\nverbose = 1\n" MIN_CLUSTER,
                  "@:5: duplicate section [pgrouter] (first on line 1)\n"
                  "@:7: duplicate section [cluster.main] (first on line 3)\n");
}

static void test_cfg_reports_bad_section_headers(void **state)
{
    (void)state;
    expect_errors(TRUST_HEAD MIN_CLUSTER
                  "[cluster.]\n[cluster.a b]\n[cluster.x] junk\n[cluster.y\nprimary = h:1\n",
                  "@:5: invalid cluster name \"\" (1-63 of A-Z a-z 0-9 _ -)\n"
                  "@:6: invalid cluster name \"a b\" (1-63 of A-Z a-z 0-9 _ -)\n"
                  "@:7: unexpected text after \"]\"\n"
                  "@:8: section header without closing \"]\"\n");
}

static void test_cfg_reports_no_cluster(void **state)
{
    (void)state;
    expect_errors("\n" TRUST_HEAD,
                  "@:2: no [cluster.NAME] section: at least one cluster is required\n");
}

static void test_cfg_reports_missing_pgrouter_section(void **state)
{
    (void)state;
    expect_errors(MIN_CLUSTER, "@:1: missing [pgrouter] section\n");
}

static void test_cfg_reports_unknown_default_cluster(void **state)
{
    (void)state;
    expect_errors(TRUST_HEAD "default_cluster = other\n" MIN_CLUSTER,
                  "@:3: default_cluster: no [cluster.other] section\n");
}

static void test_cfg_requires_default_cluster_with_several_clusters(void **state)
{
    (void)state;
    expect_errors(TRUST_HEAD "[cluster.a]\nprimary = h:1\n[cluster.b]\nprimary = h:2\n",
                  "@:1: default_cluster is required when there are several clusters\n");
}

static void test_cfg_reports_replica_listed_twice(void **state)
{
    (void)state;
    expect_errors(TRUST_HEAD "[cluster.main]\nprimary = h:1\nreplicas = h:2, h:1, h:2\n",
                  "@:5: replicas: h:1 is listed twice in [cluster.main]\n"
                  "@:5: replicas: h:2 is listed twice in [cluster.main]\n");
}

static void test_cfg_requires_auth_file_unless_trust(void **state)
{
    (void)state;
    expect_errors("[pgrouter]\nauth_type = md5\n" MIN_CLUSTER,
                  "@:1: auth_file is required unless auth_type = trust\n");
    expect_errors("[pgrouter]\nauth_file =\n" MIN_CLUSTER,
                  "@:1: auth_file is required unless auth_type = trust\n");
}

static void test_cfg_reports_unreadable_auth_file(void **state)
{
    (void)state;
    expect_errors("[pgrouter]\nauth_file = /nonexistent/userlist.txt\n" MIN_CLUSTER,
                  "@:2: auth_file \"/nonexistent/userlist.txt\": No such file or directory\n");
    expect_errors("[pgrouter]\nauth_file = /tmp\n" MIN_CLUSTER,
                  "@:2: auth_file \"/tmp\": Is a directory\n");
}

static void test_cfg_reports_auth_file_errors_with_its_own_file_and_line(void **state)
{
    char *users = tmp_file("\"app\" \"app\"\n"
                           "; comment\n"
                           "\"bob\" \"unterminated\n"
                           "\"app\" \"again\"\n");
    char ini[512], tmpl[1024];

    (void)state;
    snprintf(ini, sizeof(ini), "[pgrouter]\nlisten_port = 0\nauth_file = %s\nverbose = 9\n"
             MIN_CLUSTER, users);
    snprintf(tmpl, sizeof(tmpl),
             "@:2: listen_port: \"0\" is not a port (1-65535)\n"
             "%s:3: user \"bob\": unterminated quoted password\n"
             "%s:4: duplicate user \"app\" (first on line 1)\n"
             "@:4: verbose: \"9\" is out of range (0-2)\n", users, users);
    expect_errors(ini, tmpl);
    unlink(users);
    free(users);
}

static void test_cfg_reports_line_too_long_without_splitting_it(void **state)
{
    char ini[1024];
    char value[256];
    struct cfg *c;

    (void)state;
    /* "logfile = " is 10 characters: 189 more make the longest line allowed */
    memset(value, 'a', 189);
    value[189] = '\0';
    snprintf(ini, sizeof(ini), TRUST_HEAD "logfile = %s\n" MIN_CLUSTER, value);
    c = load_ok(ini);
    assert_int_equal(strlen(c->logfile), 189);
    cfg_unref(c);

    /* one more: refused, and the tail is not read as a line of its own */
    value[189] = 'a';
    value[190] = '\0';
    snprintf(ini, sizeof(ini), TRUST_HEAD "logfile = %s=x\nverbose = 7\n" MIN_CLUSTER, value);
    expect_errors(ini, "@:3: line too long (max 199 characters)\n"
                       "@:4: verbose: \"7\" is out of range (0-2)\n");
}

static void test_cfg_accepts_long_comment_lines(void **state)
{
    char ini[1024];
    char comment[600];
    struct cfg *c;

    (void)state;
    memset(comment, '-', sizeof(comment) - 1);
    comment[sizeof(comment) - 1] = '\0';
    snprintf(ini, sizeof(ini), TRUST_HEAD ";%s\nverbose = 2\n" MIN_CLUSTER, comment);
    c = load_ok(ini);
    assert_int_equal(c->verbose, 2);
    cfg_unref(c);
}

static void test_cfg_reports_syntax_errors_on_their_lines(void **state)
{
    (void)state;
    expect_errors(TRUST_HEAD "listen_port 6432\nlisten_port: 6432\n= 5\nverbose = 8\n"
                  MIN_CLUSTER,
                  "@:3: syntax error (expected \"key = value\" or \"[section]\")\n"
                  "@:4: syntax error (expected \"key = value\" or \"[section]\")\n"
                  "@:5: syntax error (expected \"key = value\" or \"[section]\")\n"
                  "@:6: verbose: \"8\" is out of range (0-2)\n");
}

static void test_cfg_reports_every_error_not_just_the_first(void **state)
{
    (void)state;
    expect_errors("[pgrouter]\n"
                  "listen_port = 70000\n"
                  "bogus = 1\n"
                  "listen_port = 1\n"
                  "default_cluster = nope\n"
                  "[cluster.main]\n"
                  "replicas = 127.0.0.1:5433\n"
                  "[cluster.main]\n"
                  "[extra]\n",
                  "@:1: auth_file is required unless auth_type = trust\n"
                  "@:2: listen_port: \"70000\" is not a port (1-65535)\n"
                  "@:3: unknown key \"bogus\" in [pgrouter]\n"
                  "@:4: duplicate key \"listen_port\" (first set on line 2)\n"
                  "@:5: default_cluster: no [cluster.nope] section\n"
                  "@:6: missing required key \"primary\" in [cluster.main]\n"
                  "@:8: duplicate section [cluster.main] (first on line 6)\n"
                  "@:9: unknown section [extra] (expected [pgrouter] or [cluster.NAME])\n");
}

static void test_cfg_returns_errno_for_an_unreadable_file(void **state)
{
    struct cfg *c = NULL;
    char *errors = NULL;

    (void)state;
    assert_int_equal(cfg_load("/nonexistent/pgrouter.ini", &c, &errors), -ENOENT);
    assert_null(c);
    assert_string_equal(errors, "/nonexistent/pgrouter.ini: No such file or directory\n");
    free(errors);
    assert_int_equal(cfg_load("/tmp", &c, &errors), -EISDIR);
    assert_null(c);
    assert_string_equal(errors, "/tmp: Is a directory\n");
    free(errors);
    assert_int_equal(cfg_load("/nonexistent/pgrouter.ini", &c, NULL), -ENOENT);
}

static void test_cfg_load_stream_reads_from_memory(void **state)
{
    static const char text[] = TRUST_HEAD "listen_port = 6500\n" MIN_CLUSTER;
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    struct cfg *c = NULL;
    char *errors = NULL;

    (void)state;
    assert_non_null(f);
    assert_int_equal(cfg_load_stream(f, "mem.ini", &c, &errors), 0);
    assert_int_equal(c->listen_port, 6500);
    assert_string_equal(c->path, "mem.ini");
    cfg_unref(c);
    fclose(f);
}

static void test_cfg_ref_keeps_snapshot_until_last_unref(void **state)
{
    struct cfg *c = load_ok(TRUST_HEAD MIN_CLUSTER);
    struct cfg *held;

    (void)state;
    assert_int_equal(c->refs, 1);
    held = cfg_ref(c);
    assert_ptr_equal(held, c);
    assert_int_equal(c->refs, 2);
    cfg_unref(c);
    /* still readable through the other reference (ASan would catch a free) */
    assert_int_equal(held->refs, 1);
    assert_int_equal(held->listen_port, 6432);
    cfg_unref(held);
    cfg_unref(NULL);
}

static void test_cfg_parse_hostport_accepts_names_and_ip_literals(void **state)
{
    struct cfg_node n;

    (void)state;
    assert_int_equal(cfg_parse_hostport("localhost:5432", &n), 0);
    assert_string_equal(n.host, "localhost");
    assert_int_equal(n.port, 5432);
    assert_int_equal(n.weight, 1);
    assert_string_equal(n.name, "localhost:5432");
    assert_int_equal(cfg_parse_hostport("pg_primary_1.internal:1", &n), 0);
    assert_string_equal(n.host, "pg_primary_1.internal");
    assert_int_equal(cfg_parse_hostport("192.168.1.20:65535", &n), 0);
    assert_int_equal(n.port, 65535);
    assert_int_equal(cfg_parse_hostport("[fe80::1]:5432", &n), 0);
    assert_string_equal(n.host, "fe80::1");
    assert_string_equal(n.name, "[fe80::1]:5432");
}

static void test_cfg_parse_hostport_rejects_malformed_addresses(void **state)
{
    static const char *const bad[] = {
        "", ":5432", "host", "host:", "host:0", "host:65536", "host:54x", "host:-1",
        "::1:5432", "[::1]", "[::1]5432", "[nothost]:5432", "a..b:1", "a.:1",
        "-:1", "300.0.0.1:1", "sp ace:1", "host: 5432",
    };
    char longname[300];
    struct cfg_node n;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (cfg_parse_hostport(bad[i], &n) != -EINVAL)
            fail_msg("accepted \"%s\"", bad[i]);
    }
    memset(longname, 'a', sizeof(longname));
    memcpy(longname + sizeof(longname) - 6, ":5432", 6);
    assert_int_equal(cfg_parse_hostport(longname, &n), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cfg_loads_every_value_of_a_full_config),
        cmocka_unit_test(test_cfg_applies_defaults_and_picks_the_only_cluster),
        cmocka_unit_test(test_cfg_defaults_to_scram),
        cmocka_unit_test(test_cfg_resolves_relative_auth_file_next_to_the_config),
        cmocka_unit_test(test_cfg_trust_with_auth_file_still_lists_users),
        cmocka_unit_test(test_cfg_strips_inline_comments_and_accepts_indented_keys),
        cmocka_unit_test(test_cfg_accepts_crlf_line_endings),
        cmocka_unit_test(test_cfg_parses_sizes_and_durations_with_units),
        cmocka_unit_test(test_cfg_rejects_bad_sizes_and_durations),
        cmocka_unit_test(test_cfg_reports_unknown_section),
        cmocka_unit_test(test_cfg_reports_unknown_key_with_its_section),
        cmocka_unit_test(test_cfg_reports_key_in_the_wrong_section),
        cmocka_unit_test(test_cfg_reports_key_before_any_section),
        cmocka_unit_test(test_cfg_reports_bad_values),
        cmocka_unit_test(test_cfg_reports_bad_addresses),
        cmocka_unit_test(test_cfg_reports_missing_primary_at_section_header),
        cmocka_unit_test(test_cfg_reports_duplicate_key_with_first_line),
        cmocka_unit_test(test_cfg_keeps_the_first_of_duplicate_keys_per_section),
        cmocka_unit_test(test_cfg_reports_duplicate_sections),
        cmocka_unit_test(test_cfg_reports_bad_section_headers),
        cmocka_unit_test(test_cfg_reports_no_cluster),
        cmocka_unit_test(test_cfg_reports_missing_pgrouter_section),
        cmocka_unit_test(test_cfg_reports_unknown_default_cluster),
        cmocka_unit_test(test_cfg_requires_default_cluster_with_several_clusters),
        cmocka_unit_test(test_cfg_reports_replica_listed_twice),
        cmocka_unit_test(test_cfg_requires_auth_file_unless_trust),
        cmocka_unit_test(test_cfg_reports_unreadable_auth_file),
        cmocka_unit_test(test_cfg_reports_auth_file_errors_with_its_own_file_and_line),
        cmocka_unit_test(test_cfg_reports_line_too_long_without_splitting_it),
        cmocka_unit_test(test_cfg_accepts_long_comment_lines),
        cmocka_unit_test(test_cfg_reports_syntax_errors_on_their_lines),
        cmocka_unit_test(test_cfg_reports_every_error_not_just_the_first),
        cmocka_unit_test(test_cfg_returns_errno_for_an_unreadable_file),
        cmocka_unit_test(test_cfg_load_stream_reads_from_memory),
        cmocka_unit_test(test_cfg_ref_keeps_snapshot_until_last_unref),
        cmocka_unit_test(test_cfg_parse_hostport_accepts_names_and_ip_literals),
        cmocka_unit_test(test_cfg_parse_hostport_rejects_malformed_addresses),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
