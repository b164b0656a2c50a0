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
             "shutdown_timeout = 90s\n"
             "restart_socket = /run/pgrouter.restart\n"
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
    assert_int_equal(c->shutdown_timeout_ms, 90000);
    assert_string_equal(c->restart_socket, "/run/pgrouter.restart");
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
    assert_int_equal(c->max_bind_size, 32 * 1024 * 1024);
    assert_int_equal(c->max_query_size, 0);
    assert_int_equal(c->server_connect_timeout_ms, 15000);
    assert_int_equal(c->client_login_timeout_ms, 60000);
    assert_int_equal(c->verbose, 0);
    assert_null(c->logfile);
    assert_null(c->pidfile);
    assert_int_equal(c->shutdown_timeout_ms, 30000);
    assert_null(c->restart_socket);
    assert_int_equal(c->n_clusters, 1);
    assert_ptr_equal(c->default_cluster, &c->clusters[0]);
    assert_string_equal(c->default_cluster->primary.name, "127.0.0.1:5432");

    assert_int_equal(c->pool_mode, CFG_POOL_TRANSACTION);
    assert_int_equal(c->default_pool_size, 20);
    assert_int_equal(c->min_pool_size, 0);
    assert_int_equal(c->reserve_pool_size, 0);
    assert_int_equal(c->reserve_pool_timeout_ms, 5000);
    assert_int_equal(c->max_db_connections, 0);
    assert_int_equal(c->max_user_connections, 0);
    assert_int_equal(c->max_prepared_statements, 200);
    assert_int_equal(c->server_idle_timeout_ms, 600000);
    assert_int_equal(c->server_lifetime_ms, 3600000);
    assert_int_equal(c->query_wait_timeout_ms, 120000);
    assert_int_equal(c->client_idle_timeout_ms, 0);
    assert_int_equal(c->query_timeout_ms, 0);
    assert_int_equal(c->idle_transaction_timeout_ms, 0);
    assert_string_equal(c->server_check_query, "select 1");
    assert_int_equal(c->server_check_delay_ms, 30000);
    assert_string_equal(c->server_reset_query, "DISCARD ALL");
    assert_int_equal(c->server_reset_query_always, 0);
    assert_int_equal(c->server_round_robin, 0);
    assert_int_equal(c->application_name_add_host, 0);

    assert_int_equal(c->ryw_window_ms, 2000);
    assert_null(c->write_functions);
    assert_int_equal(c->n_write_functions, 0);
    assert_null(c->read_only_functions);
    assert_int_equal(c->n_read_only_functions, 0);
    assert_int_equal(c->volatile_functions_are_writes, 1);
    assert_int_equal(c->volatile_refresh_ms, 300000);
    assert_int_equal(c->default_role, CFG_ROLE_AUTO);
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

static void test_cfg_loads_log_keys_with_pgbouncer_defaults(void **state)
{
    struct cfg *c;

    (void)state;
    c = load_ok(TRUST_HEAD MIN_CLUSTER);
    assert_int_equal(c->log_connections, 1);
    assert_int_equal(c->log_disconnections, 1);
    assert_int_equal(c->log_pooler_errors, 1);
    assert_int_equal(c->syslog, 0);
    assert_string_equal(c->syslog_ident, "pgrouter");
    assert_int_equal(c->syslog_facility, CFG_FACILITY_DAEMON);
    cfg_unref(c);
    c = load_ok(TRUST_HEAD "log_connections = 0\nlog_disconnections = off\n"
                "log_pooler_errors = false\nsyslog = 1\nsyslog_ident = pgr-east\n"
                "syslog_facility = LOCAL3\n" MIN_CLUSTER);
    assert_int_equal(c->log_connections, 0);
    assert_int_equal(c->log_disconnections, 0);
    assert_int_equal(c->log_pooler_errors, 0);
    assert_int_equal(c->syslog, 1);
    assert_string_equal(c->syslog_ident, "pgr-east");
    assert_int_equal(c->syslog_facility, CFG_FACILITY_LOCAL3);
    cfg_unref(c);
    c = load_ok(TRUST_HEAD "syslog_facility = authpriv\n" MIN_CLUSTER);
    assert_int_equal(c->syslog_facility, CFG_FACILITY_AUTHPRIV);
    cfg_unref(c);
}

static void test_cfg_rejects_bad_log_keys(void **state)
{
    (void)state;
    expect_errors(TRUST_HEAD "log_connections = maybe\nsyslog_facility = local8\n"
                  "syslog = 2\n" MIN_CLUSTER,
                  "@:3: log_connections: \"maybe\" is not a boolean (on, off, true, false, yes, "
                  "no, 1, 0)\n"
                  "@:4: syslog_facility: \"local8\" is not one of daemon, user, auth, authpriv, "
                  "local0, local1, local2, local3, local4, local5, local6, local7\n"
                  "@:5: syslog: \"2\" is not a boolean (on, off, true, false, yes, no, 1, 0)\n");
    expect_errors(TRUST_HEAD "[routing]\nlog_pooler_errors = 1\n" MIN_CLUSTER,
                  "@:4: unknown key \"log_pooler_errors\" in [routing] (it belongs in "
                  "[pgrouter])\n");
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
                  "(0-86400000 ms)\n");
    expect_errors(TRUST_HEAD "max_packet_size = 2GB\nmax_packet_size = 5kb\n" MIN_CLUSTER,
                  "@:3: max_packet_size: \"2GB\" is out of range (1024-2147483647 bytes)\n"
                  "@:4: duplicate key \"max_packet_size\" (first set on line 3)\n");
    expect_errors(TRUST_HEAD "max_packet_size = -1\n" MIN_CLUSTER,
                  "@:3: max_packet_size: \"-1\" is not a size (bytes, or a number followed "
                  "by kB, MB or GB)\n");
}

static void test_cfg_loads_every_pool_key(void **state)
{
    struct cfg *c = load_ok(TRUST_HEAD
                            "pool_mode = session\n"
                            "default_pool_size = 50\n"
                            "min_pool_size = 50\n"
                            "reserve_pool_size = 5\n"
                            "reserve_pool_timeout = 1500ms\n"
                            "max_db_connections = 80\n"
                            "max_user_connections = 40\n"
                            "max_prepared_statements = 1000\n"
                            "server_idle_timeout = 10min\n"
                            "server_lifetime = 2h\n"
                            "query_wait_timeout = 30\n"
                            "client_idle_timeout = 1h\n"
                            "query_timeout = 90s\n"
                            "idle_transaction_timeout = 15\n"
                            "server_check_query = select 2\n"
                            "server_check_delay = 10\n"
                            "server_reset_query = RESET ALL; DEALLOCATE ALL\n"
                            "server_reset_query_always = yes\n"
                            "server_round_robin = 1\n"
                            "application_name_add_host = on\n"
                            MIN_CLUSTER);

    (void)state;
    assert_int_equal(c->pool_mode, CFG_POOL_SESSION);
    assert_int_equal(c->default_pool_size, 50);
    assert_int_equal(c->min_pool_size, 50);
    assert_int_equal(c->reserve_pool_size, 5);
    assert_int_equal(c->reserve_pool_timeout_ms, 1500);
    assert_int_equal(c->max_db_connections, 80);
    assert_int_equal(c->max_user_connections, 40);
    assert_int_equal(c->max_prepared_statements, 1000);
    assert_int_equal(c->server_idle_timeout_ms, 600000);
    assert_int_equal(c->server_lifetime_ms, 7200000);
    assert_int_equal(c->query_wait_timeout_ms, 30000);
    assert_int_equal(c->client_idle_timeout_ms, 3600000);
    assert_int_equal(c->query_timeout_ms, 90000);
    assert_int_equal(c->idle_transaction_timeout_ms, 15000);
    assert_string_equal(c->server_check_query, "select 2");
    assert_int_equal(c->server_check_delay_ms, 10000);
    /* ';' right after a word is not a comment, so a reset query may chain statements */
    assert_string_equal(c->server_reset_query, "RESET ALL; DEALLOCATE ALL");
    assert_int_equal(c->server_reset_query_always, 1);
    assert_int_equal(c->server_round_robin, 1);
    assert_int_equal(c->application_name_add_host, 1);
    cfg_unref(c);
}

static void test_cfg_accepts_zero_where_pgbouncer_means_off(void **state)
{
    struct cfg *c = load_ok(TRUST_HEAD
                            "server_connect_timeout = 0\n"
                            "client_login_timeout = 0\n"
                            "shutdown_timeout = 0\n"
                            "reserve_pool_timeout = 0\n"
                            "max_prepared_statements = 0\n"
                            "server_idle_timeout = 0\n"
                            "server_lifetime = 0\n"
                            "query_wait_timeout = 0s\n"
                            "server_check_delay = 0\n"
                            "[routing]\n"
                            "read_your_writes_window = 0\n"
                            MIN_CLUSTER);

    (void)state;
    assert_int_equal(c->server_connect_timeout_ms, 0);
    assert_int_equal(c->client_login_timeout_ms, 0);
    assert_int_equal(c->shutdown_timeout_ms, 0);
    assert_int_equal(c->reserve_pool_timeout_ms, 0);
    assert_int_equal(c->max_prepared_statements, 0);
    assert_int_equal(c->server_idle_timeout_ms, 0);
    assert_int_equal(c->server_lifetime_ms, 0);
    assert_int_equal(c->query_wait_timeout_ms, 0);
    assert_int_equal(c->server_check_delay_ms, 0);
    assert_int_equal(c->ryw_window_ms, 0);
    cfg_unref(c);
}

static void test_cfg_empty_server_queries_mean_disabled(void **state)
{
    struct cfg *c = load_ok(TRUST_HEAD "server_check_query =\nserver_reset_query = \n"
                            MIN_CLUSTER);

    (void)state;
    assert_non_null(c->server_check_query);
    assert_string_equal(c->server_check_query, "");
    assert_non_null(c->server_reset_query);
    assert_string_equal(c->server_reset_query, "");
    cfg_unref(c);
}

static void test_cfg_parses_every_boolean_spelling(void **state)
{
    static const struct {
        const char *text;
        int value;
    } bools[] = {
        { "on", 1 }, { "ON", 1 }, { "true", 1 }, { "True", 1 }, { "yes", 1 }, { "1", 1 },
        { "off", 0 }, { "Off", 0 }, { "false", 0 }, { "FALSE", 0 }, { "no", 0 }, { "0", 0 },
    };
    char ini[512];

    (void)state;
    for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
        struct cfg *c;

        snprintf(ini, sizeof(ini), TRUST_HEAD "server_round_robin = %s\n"
                 "[routing]\nvolatile_functions_are_writes = %s\n" MIN_CLUSTER,
                 bools[i].text, bools[i].text);
        c = load_ok(ini);
        assert_int_equal(c->server_round_robin, bools[i].value);
        assert_int_equal(c->volatile_functions_are_writes, bools[i].value);
        cfg_unref(c);
    }
}

static void test_cfg_loads_the_routing_section(void **state)
{
    struct cfg *c = load_ok(TRUST_HEAD
                            "[routing]\n"
                            "read_your_writes_window = 500ms\n"
                            "write_functions = NextVal, app.Bump_Counter ,  audit.log$1\n"
                            "read_only_functions = _peek\n"
                            "volatile_functions_are_writes = off\n"
                            "volatile_functions_refresh = 1s\n"
                            "default_role = Replica\n"
                            MIN_CLUSTER);

    (void)state;
    assert_int_equal(c->ryw_window_ms, 500);
    assert_int_equal(c->n_write_functions, 3);
    assert_string_equal(c->write_functions[0], "nextval");
    assert_string_equal(c->write_functions[1], "app.bump_counter");
    assert_string_equal(c->write_functions[2], "audit.log$1");
    assert_null(c->write_functions[3]);
    assert_int_equal(c->n_read_only_functions, 1);
    assert_string_equal(c->read_only_functions[0], "_peek");
    assert_null(c->read_only_functions[1]);
    assert_int_equal(c->volatile_functions_are_writes, 0);
    assert_int_equal(c->volatile_refresh_ms, 1000);
    assert_int_equal(c->default_role, CFG_ROLE_REPLICA);
    cfg_unref(c);
}

static void test_cfg_accepts_routing_before_pgrouter_and_every_role(void **state)
{
    static const struct {
        const char *text;
        int role;
    } roles[] = {
        { "auto", CFG_ROLE_AUTO }, { "primary", CFG_ROLE_PRIMARY },
        { "PRIMARY", CFG_ROLE_PRIMARY }, { "replica", CFG_ROLE_REPLICA },
    };
    char ini[512];

    (void)state;
    for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
        struct cfg *c;

        snprintf(ini, sizeof(ini), "[routing]\ndefault_role = %s\nwrite_functions =\n"
                 TRUST_HEAD "pool_mode = Transaction\n" MIN_CLUSTER, roles[i].text);
        c = load_ok(ini);
        assert_int_equal(c->default_role, roles[i].role);
        assert_int_equal(c->pool_mode, CFG_POOL_TRANSACTION);
        assert_null(c->write_functions);
        assert_int_equal(c->n_write_functions, 0);
        cfg_unref(c);
    }
}

static void test_cfg_reports_bad_pool_values(void **state)
{
    (void)state;
    expect_errors(TRUST_HEAD
                  "pool_mode = statement\n"
                  "default_pool_size = 0\n"
                  "min_pool_size = -1\n"
                  "reserve_pool_size = many\n"
                  "reserve_pool_timeout = 5 sec\n"
                  "max_db_connections = -5\n"
                  "max_user_connections = 1.5\n"
                  "max_prepared_statements = -1\n"
                  "server_idle_timeout = 8d\n"
                  "server_lifetime = 169h\n"
                  "query_wait_timeout = -1\n"
                  "client_idle_timeout = 25h\n"
                  "query_timeout = 1 min\n"
                  "idle_transaction_timeout = forever\n"
                  "server_check_delay = 2days\n"
                  "server_reset_query_always = maybe\n"
                  "server_round_robin = 2\n"
                  "application_name_add_host = enabled\n"
                  MIN_CLUSTER,
                  "@:3: pool_mode: statement pooling is not supported "
                  "(use transaction or session)\n"
                  "@:4: default_pool_size: \"0\" is out of range (at least 1)\n"
                  "@:5: min_pool_size: \"-1\" is out of range (at least 0)\n"
                  "@:6: reserve_pool_size: \"many\" is not an integer\n"
                  "@:7: reserve_pool_timeout: \"5 sec\" is not a duration (seconds, or a "
                  "number followed by ms, s, min or h)\n"
                  "@:8: max_db_connections: \"-5\" is out of range (at least 0)\n"
                  "@:9: max_user_connections: \"1.5\" is not an integer\n"
                  "@:10: max_prepared_statements: \"-1\" is out of range (at least 0)\n"
                  "@:11: server_idle_timeout: \"8d\" is not a duration (seconds, or a number "
                  "followed by ms, s, min or h)\n"
                  "@:12: server_lifetime: \"169h\" is out of range (0-604800000 ms)\n"
                  "@:13: query_wait_timeout: \"-1\" is not a duration (seconds, or a number "
                  "followed by ms, s, min or h)\n"
                  "@:14: client_idle_timeout: \"25h\" is out of range (0-86400000 ms)\n"
                  "@:16: idle_transaction_timeout: \"forever\" is not a duration (seconds, "
                  "or a number followed by ms, s, min or h)\n"
                  "@:17: server_check_delay: \"2days\" is not a duration (seconds, or a "
                  "number followed by ms, s, min or h)\n"
                  "@:18: server_reset_query_always: \"maybe\" is not a boolean "
                  "(on, off, true, false, yes, no, 1, 0)\n"
                  "@:19: server_round_robin: \"2\" is not a boolean "
                  "(on, off, true, false, yes, no, 1, 0)\n"
                  "@:20: application_name_add_host: \"enabled\" is not a boolean "
                  "(on, off, true, false, yes, no, 1, 0)\n");
    expect_errors(TRUST_HEAD "pool_mode = pooled\n" MIN_CLUSTER,
                  "@:3: pool_mode: \"pooled\" is not one of transaction, session\n");
}

static void test_cfg_stats_period_default_value_and_range(void **state)
{
    struct cfg *c = load_ok(TRUST_HEAD MIN_CLUSTER);

    (void)state;
    assert_int_equal(c->stats_period_ms, 60000);    /* PgBouncer's default */
    cfg_unref(c);
    c = load_ok(TRUST_HEAD "stats_period = 10\n" MIN_CLUSTER);
    assert_int_equal(c->stats_period_ms, 10000);
    cfg_unref(c);
    c = load_ok(TRUST_HEAD "stats_period = 2min\n" MIN_CLUSTER);
    assert_int_equal(c->stats_period_ms, 120000);
    cfg_unref(c);
    expect_errors(TRUST_HEAD "stats_period = 0\n" MIN_CLUSTER,
                  "@:3: stats_period: \"0\" is out of range (1000-86400000 ms)\n");
    expect_errors(TRUST_HEAD "stats_period = 500ms\n" MIN_CLUSTER,
                  "@:3: stats_period: \"500ms\" is out of range (1000-86400000 ms)\n");
}

static void test_cfg_reports_min_pool_size_above_default_pool_size(void **state)
{
    (void)state;
    expect_errors(TRUST_HEAD "min_pool_size = 21\n" MIN_CLUSTER,
                  "@:3: min_pool_size: 21 is more than default_pool_size (20)\n");
    expect_errors(TRUST_HEAD "min_pool_size = 6\nverbose = 1\ndefault_pool_size = 5\n"
                  MIN_CLUSTER,
                  "@:3: min_pool_size: 6 is more than default_pool_size (5)\n");
    /* a bad default_pool_size is reported once, not compared with */
    expect_errors(TRUST_HEAD "default_pool_size = 0\nmin_pool_size = 30\n" MIN_CLUSTER,
                  "@:3: default_pool_size: \"0\" is out of range (at least 1)\n");
}

static void test_cfg_reports_bad_routing_values(void **state)
{
    (void)state;
    expect_errors(TRUST_HEAD
                  "[routing]\n"
                  "read_your_writes_window = soon\n"
                  "write_functions = nextval, bad-name\n"
                  "read_only_functions = a,,b\n"
                  "volatile_functions_are_writes = sometimes\n"
                  "volatile_functions_refresh = 999ms\n"
                  "default_role = standby\n"
                  MIN_CLUSTER,
                  "@:4: read_your_writes_window: \"soon\" is not a duration (seconds, or a "
                  "number followed by ms, s, min or h)\n"
                  "@:5: write_functions: \"bad-name\" is not a function name (name or "
                  "schema.name, each 1-63 of A-Z a-z 0-9 _ $, starting with a letter or _)\n"
                  "@:6: read_only_functions: entry 2 of \"a,,b\" is empty\n"
                  "@:7: volatile_functions_are_writes: \"sometimes\" is not a boolean "
                  "(on, off, true, false, yes, no, 1, 0)\n"
                  "@:8: volatile_functions_refresh: \"999ms\" is out of range "
                  "(1000-86400000 ms)\n"
                  "@:9: default_role: \"standby\" is not one of auto, primary, replica\n");
    expect_errors(TRUST_HEAD "[routing]\nvolatile_functions_refresh = 0\n"
                  "read_your_writes_window = 2d\n" MIN_CLUSTER,
                  "@:4: volatile_functions_refresh: \"0\" is out of range "
                  "(1000-86400000 ms)\n"
                  "@:5: read_your_writes_window: \"2d\" is not a duration (seconds, or a "
                  "number followed by ms, s, min or h)\n");
}

static void test_cfg_rejects_malformed_function_names(void **state)
{
    static const char *const bad[] = {
        "a.b.c", ".f", "s.", ".", "1f", "$f", "s.1f", "s.$f", "f()", "f g", "\"F\"",
        "x,", ",x", "caf\xc3\xa9",
        "a123456789012345678901234567890123456789012345678901234567890123",
        "s.a123456789012345678901234567890123456789012345678901234567890123",
    };
    static const char *const good[] = {
        "f", "_", "F$", "s.f", "a12345678901234567890123456789012345678901234567890123456789012",
        "a12345678901234567890123456789012345678901234567890123456789012.f_1",
    };
    char ini[512];
    char *errors = NULL;
    struct cfg *c = NULL;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        FILE *f;

        snprintf(ini, sizeof(ini), TRUST_HEAD "[routing]\nwrite_functions = %s\n" MIN_CLUSTER,
                 bad[i]);
        f = fmemopen(ini, strlen(ini), "r");
        assert_non_null(f);
        if (cfg_load_stream(f, "mem.ini", &c, &errors) != -EINVAL)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_non_null(strstr(errors, "mem.ini:4: write_functions: "));
        free(errors);
        fclose(f);
    }
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        snprintf(ini, sizeof(ini), TRUST_HEAD "[routing]\nread_only_functions = %s\n"
                 MIN_CLUSTER, good[i]);
        c = load_ok(ini);
        assert_int_equal(c->n_read_only_functions, 1);
        cfg_unref(c);
    }
}

static void test_cfg_reports_routing_keys_in_the_wrong_section(void **state)
{
    (void)state;
    expect_errors(TRUST_HEAD "default_role = primary\n[routing]\npool_mode = session\n"
                  "Default_Role = auto\n" MIN_CLUSTER "write_functions = f\n",
                  "@:3: unknown key \"default_role\" in [pgrouter] (it belongs in [routing])\n"
                  "@:5: unknown key \"pool_mode\" in [routing] (it belongs in [pgrouter])\n"
                  "@:6: unknown key \"Default_Role\" in [routing] (keys are lower-case)\n"
                  "@:9: unknown key \"write_functions\" in [cluster.main] "
                  "(it belongs in [routing])\n");
}

static void test_cfg_reports_duplicate_routing_section(void **state)
{
    (void)state;
    expect_errors(TRUST_HEAD "[routing]\ndefault_role = primary\n" MIN_CLUSTER
                  "[routing]\ndefault_role = replica\n",
                  "@:7: duplicate section [routing] (first on line 3)\n");
    expect_errors(TRUST_HEAD "[routing]\nwrite_functions = f\nwrite_functions = g\n"
                  MIN_CLUSTER,
                  "@:5: duplicate key \"write_functions\" (first set on line 4)\n");
}

static void test_cfg_reports_unknown_section(void **state)
{
    (void)state;
    expect_errors(TRUST_HEAD "[pools]\nsize = 3\n" MIN_CLUSTER,
                  "@:3: unknown section [pools] (expected [pgrouter], [routing], "
                  "[cluster.NAME], [sharding], [tenants], [breaker] or [health])\n");
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
                  "@:2: auth_type: \"plain\" is not one of scram-sha-256, md5, trust, hba, cert\n"
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

static void test_cfg_stats_endpoint_is_off_by_default_on_loopback(void **state)
{
    struct cfg *c = load_ok(TRUST_HEAD MIN_CLUSTER);

    (void)state;
    assert_int_equal(c->stats_listen_port, 0);
    assert_string_equal(c->stats_listen_addr, "127.0.0.1");
    cfg_unref(c);
}

static void test_cfg_reads_the_stats_endpoint(void **state)
{
    struct cfg *c = load_ok(TRUST_HEAD "stats_listen_addr = *\nstats_listen_port = 9187\n"
                            MIN_CLUSTER);

    (void)state;
    assert_int_equal(c->stats_listen_port, 9187);
    assert_string_equal(c->stats_listen_addr, "0.0.0.0");
    cfg_unref(c);
    c = load_ok(TRUST_HEAD "stats_listen_port = 0\nstats_listen_addr = ::1\n" MIN_CLUSTER);
    assert_int_equal(c->stats_listen_port, 0);
    assert_string_equal(c->stats_listen_addr, "::1");
    cfg_unref(c);
}

static void test_cfg_rejects_bad_stats_endpoints(void **state)
{
    (void)state;
    expect_errors(TRUST_HEAD "stats_listen_port = 65536\nstats_listen_addr = a b\n"
                  "stats_listen_port = 9000\n" MIN_CLUSTER,
                  "@:3: stats_listen_port: \"65536\" is not a port (1-65535, or 0 for off)\n"
                  "@:4: stats_listen_addr: \"a b\" is not a host name or IP address\n"
                  "@:5: duplicate key \"stats_listen_port\" (first set on line 3)\n");
    expect_errors(TRUST_HEAD "stats_listen_port = -1\n" MIN_CLUSTER,
                  "@:3: stats_listen_port: \"-1\" is not a port (1-65535, or 0 for off)\n");
    /* the clients' port: on the same address, or with either side on a wildcard */
    expect_errors(TRUST_HEAD "listen_port = 7000\nstats_listen_port = 7000\n" MIN_CLUSTER,
                  "@:4: stats_listen_port: 7000 is listen_port too; the metrics endpoint "
                  "needs a port of its own\n");
    expect_errors(TRUST_HEAD "listen_addr = *\nstats_listen_port = 6432\n" MIN_CLUSTER,
                  "@:4: stats_listen_port: 6432 is listen_port too; the metrics endpoint "
                  "needs a port of its own\n");
}

static void test_cfg_allows_the_clients_port_on_another_stats_address(void **state)
{
    struct cfg *c = load_ok(TRUST_HEAD "listen_addr = 127.0.0.1\nstats_listen_port = 6432\n"
                            "stats_listen_addr = 127.0.0.2\n" MIN_CLUSTER);

    (void)state;
    assert_int_equal(c->stats_listen_port, 6432);
    assert_int_equal(c->listen_port, 6432);
    cfg_unref(c);
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
                  "@:1: auth_file is required unless auth_type = trust or cert\n");
    expect_errors("[pgrouter]\nauth_file =\n" MIN_CLUSTER,
                  "@:1: auth_file is required unless auth_type = trust or cert\n");
}

static void test_cfg_reports_unreadable_auth_file(void **state)
{
    (void)state;
    expect_errors("[pgrouter]\nauth_file = /nonexistent/userlist.txt\n" MIN_CLUSTER,
                  "@:2: auth_file \"/nonexistent/userlist.txt\": No such file or directory\n");
    expect_errors("[pgrouter]\nauth_file = /tmp\n" MIN_CLUSTER,
                  "@:2: auth_file \"/tmp\" is not a regular file; it holds passwords or "
                  "secrets, so it must be a file only its owner can change\n");
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
                  "@:1: auth_file is required unless auth_type = trust or cert\n"
                  "@:2: listen_port: \"70000\" is not a port (1-65535)\n"
                  "@:3: unknown key \"bogus\" in [pgrouter]\n"
                  "@:4: duplicate key \"listen_port\" (first set on line 2)\n"
                  "@:5: default_cluster: no [cluster.nope] section\n"
                  "@:6: missing required key \"primary\" in [cluster.main]\n"
                  "@:8: duplicate section [cluster.main] (first on line 6)\n"
                  "@:9: unknown section [extra] (expected [pgrouter], [routing], "
                  "[cluster.NAME], [sharding], [tenants], [breaker] or [health])\n");
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

/* ---- [sharding], [tenants], [breaker], [health], per-cluster balancing ---- */

#define SHARD_HEAD TRUST_HEAD "default_cluster = shard_a\n"

static void test_cfg_defaults_for_sharding_breaker_health_and_balancing(void **state)
{
    struct cfg *c = load_ok(TRUST_HEAD MIN_CLUSTER);

    (void)state;
    assert_false(c->sharding.enabled);
    assert_string_equal(c->sharding.tenant_key, "pgrouter.tenant");
    assert_string_equal(c->sharding.tenant_column, "");
    assert_null(c->sharding.tables);
    assert_int_equal(c->sharding.n_tables, 0);
    assert_int_equal(c->sharding.n_buckets, 0);
    assert_null(c->tenants);
    assert_int_equal(c->n_tenants, 0);
    assert_int_equal(c->breaker.failure_threshold, 3);
    assert_int_equal(c->breaker.open_timeout_ms, 1000);
    assert_int_equal(c->breaker.max_open_timeout_ms, 30000);
    assert_int_equal(c->breaker.half_open_probes, 1);
    assert_int_equal(c->health.interval_ms, 1000);
    assert_int_equal(c->health.max_lag_bytes, 0);
    assert_int_equal(c->health.max_lag_ms, 0);
    assert_int_equal(c->health.read_fallback_error, 0);
    assert_int_equal(c->health.read_retries, 1);
    assert_int_equal(c->health.timeout_ms, 2000);
    assert_int_equal(c->clusters[0].load_balance, CFG_LB_ROUND_ROBIN);
    assert_int_equal(c->clusters[0].primary_reads, CFG_PRIMARY_READS_FALLBACK);
    assert_null(c->clusters[0].bucket_ranges);
    assert_int_equal(c->clusters[0].n_bucket_ranges, 0);
    cfg_unref(c);
}

static void test_cfg_loads_sharding_and_tenants(void **state)
{
    struct cfg *c = load_ok(SHARD_HEAD
                            "[sharding]\n"
                            "tenant_key = App.Tenant\n"
                            "tenant_column = Tenant_ID\n"
                            "sharded_tables = accounts, Sales.Orders\n"
                            "sharded_tables = invoices\n"
                            "buckets = 1024\n"
                            "[cluster.shard_a]\n"
                            "primary = a:5432\n"
                            "buckets = 0-511\n"
                            "[cluster.shard_b]\n"
                            "primary = b:5432\n"
                            "buckets = 512-599, 600, 601-1023\n"
                            "[tenants]\n"
                            "acme = shard_b\n"
                            "Big Corp = shard_a\n");

    (void)state;
    assert_true(c->sharding.enabled);
    assert_string_equal(c->sharding.tenant_key, "app.tenant");
    assert_string_equal(c->sharding.tenant_column, "tenant_id");
    assert_int_equal(c->sharding.n_tables, 3);
    assert_string_equal(c->sharding.tables[0], "accounts");
    assert_string_equal(c->sharding.tables[1], "sales.orders");
    assert_string_equal(c->sharding.tables[2], "invoices");
    assert_null(c->sharding.tables[3]);
    assert_int_equal(c->sharding.n_buckets, 1024);
    assert_int_equal(c->clusters[0].n_bucket_ranges, 1);
    assert_int_equal(c->clusters[0].bucket_ranges[0], 0);
    assert_int_equal(c->clusters[0].bucket_ranges[1], 511);
    assert_int_equal(c->clusters[1].n_bucket_ranges, 3);
    assert_int_equal(c->clusters[1].bucket_ranges[2], 600);
    assert_int_equal(c->clusters[1].bucket_ranges[3], 600);
    assert_int_equal(c->clusters[1].bucket_ranges[5], 1023);
    assert_int_equal(c->n_tenants, 2);
    assert_string_equal(c->tenants[0].name, "acme");
    assert_ptr_equal(c->tenants[0].cluster, &c->clusters[1]);
    assert_string_equal(c->tenants[1].name, "Big Corp");
    assert_ptr_equal(c->tenants[1].cluster, &c->clusters[0]);
    cfg_unref(c);
}

static void test_cfg_accepts_tenants_without_buckets_and_one_bucket(void **state)
{
    struct cfg *c = load_ok(TRUST_HEAD "[tenants]\nacme = main\n[sharding]\n" MIN_CLUSTER);

    (void)state;
    assert_int_equal(c->sharding.n_buckets, 0);
    assert_ptr_equal(c->tenants[0].cluster, &c->clusters[0]);
    cfg_unref(c);
    c = load_ok(TRUST_HEAD "[sharding]\nbuckets = 1\n" MIN_CLUSTER "buckets = 0\n");
    assert_int_equal(c->sharding.n_buckets, 1);
    cfg_unref(c);
}

static void test_cfg_reports_overlapping_buckets_at_the_later_cluster(void **state)
{
    (void)state;
    expect_errors(SHARD_HEAD
                  "[sharding]\nbuckets = 1024\n"
                  "[cluster.shard_a]\nprimary = a:1\nbuckets = 0-511\n"
                  "[cluster.shard_b]\nprimary = b:1\nbuckets = 300-1023\n",
                  "@:11: buckets: bucket 300 is already owned by cluster \"shard_a\" "
                  "(line 8)\n");
}

static void test_cfg_reports_a_bucket_listed_twice_in_one_cluster(void **state)
{
    (void)state;
    expect_errors(TRUST_HEAD "[sharding]\nbuckets = 16\n" MIN_CLUSTER "buckets = 0-9, 8-15\n",
                  "@:7: buckets: bucket 8 is listed twice\n");
}

static void test_cfg_reports_buckets_that_belong_to_no_cluster(void **state)
{
    (void)state;
    expect_errors(SHARD_HEAD
                  "[sharding]\nbuckets = 1024\n"
                  "[cluster.shard_a]\nprimary = a:1\nbuckets = 0-511\n",
                  "@:5: buckets: buckets 512-1023 belong to no cluster (add them to a "
                  "[cluster.NAME] buckets line)\n");
    expect_errors(TRUST_HEAD "[sharding]\nbuckets = 100\n" MIN_CLUSTER
                  "buckets = 1-9, 11, 13-19, 21, 23, 25, 27, 29, 31-99\n",
                  "@:4: buckets: buckets 0, 10, 12, 20, 22, 24, ... belong to no cluster "
                  "(add them to a [cluster.NAME] buckets line)\n");
    expect_errors(TRUST_HEAD "[sharding]\nbuckets = 10\n" MIN_CLUSTER "buckets = 0-8\n",
                  "@:4: buckets: bucket 9 belongs to no cluster (add them to a "
                  "[cluster.NAME] buckets line)\n");
}

static void test_cfg_reports_buckets_out_of_range(void **state)
{
    (void)state;
    expect_errors(TRUST_HEAD "[sharding]\nbuckets = 1024\n" MIN_CLUSTER
                  "buckets = 0-1023, 1024-2000, 1000-1030\n",
                  "@:7: buckets: bucket 1024 is out of range ([sharding] buckets = 1024, "
                  "so 0-1023)\n"
                  "@:7: buckets: bucket 1024 is out of range ([sharding] buckets = 1024, "
                  "so 0-1023)\n"
                  "@:7: buckets: bucket 1000 is listed twice\n");
}

static void test_cfg_reports_malformed_bucket_lists(void **state)
{
    (void)state;
    expect_errors(TRUST_HEAD "[sharding]\nbuckets = 0\n[cluster.a]\nprimary = a:1\n"
                  "buckets = 10-5\n"
                  "[cluster.b]\nprimary = b:1\nbuckets = 0-x\n"
                  "[cluster.c]\nprimary = c:1\nbuckets = 1,,2\n"
                  "[cluster.d]\nprimary = d:1\nbuckets = 70000\n",
                  "@:1: default_cluster is required when there are several clusters\n"
                  "@:4: buckets: \"0\" is out of range (1-65536)\n"
                  "@:7: buckets: range \"10-5\" ends before it starts\n"
                  "@:10: buckets: \"0-x\" is not a bucket number or range (0-65535, "
                  "e.g. 0-511)\n"
                  "@:13: buckets: entry 2 of \"1,,2\" is empty\n"
                  "@:16: buckets: \"70000\" is not a bucket number or range (0-65535, "
                  "e.g. 0-511)\n");
    expect_errors(TRUST_HEAD "[sharding]\nbuckets = 65537\n" MIN_CLUSTER,
                  "@:4: buckets: \"65537\" is out of range (1-65536)\n");
}

static void test_cfg_reports_cluster_buckets_without_sharding_buckets(void **state)
{
    (void)state;
    expect_errors(TRUST_HEAD MIN_CLUSTER "buckets = 0-9\n",
                  "@:5: buckets: [sharding] buckets is not set, so there are no buckets "
                  "to own\n");
}

static void test_cfg_reports_unknown_cluster_in_tenants(void **state)
{
    (void)state;
    expect_errors(TRUST_HEAD "[sharding]\n" MIN_CLUSTER "[tenants]\nacme = main\n"
                  "globex = shard_z\nbad = no/such\n",
                  "@:8: tenant \"globex\": no [cluster.shard_z] section\n"
                  "@:9: tenant \"bad\": \"no/such\" is not a cluster name\n");
}

static void test_cfg_reports_a_tenant_listed_twice(void **state)
{
    (void)state;
    expect_errors(TRUST_HEAD "[sharding]\n" MIN_CLUSTER "[tenants]\nacme = main\n"
                  "globex = main\nacme = main\nACME = main\nglobex = main\n",
                  "@:9: tenant \"acme\" is listed twice (first on line 7)\n"
                  "@:11: tenant \"globex\" is listed twice (first on line 8)\n");
}

static void test_cfg_reports_sharded_tables_without_tenant_column(void **state)
{
    (void)state;
    expect_errors(TRUST_HEAD "[sharding]\nsharded_tables = accounts\n" MIN_CLUSTER
                  "[tenants]\nacme = main\n",
                  "@:4: sharded_tables: tenant_column is not set, so statements on them "
                  "cannot name their tenant\n");
}

static void test_cfg_reports_tenants_without_sharding_and_sharding_placing_nothing(void **state)
{
    (void)state;
    expect_errors(TRUST_HEAD MIN_CLUSTER "[tenants]\nacme = main\n",
                  "@:5: [tenants] needs a [sharding] section\n");
    expect_errors(TRUST_HEAD "[sharding]\ntenant_column = tenant_id\n" MIN_CLUSTER,
                  "@:3: [sharding] places no tenant: set buckets (and buckets in each "
                  "[cluster.NAME]) or list tenants in [tenants]\n");
}

static void test_cfg_reports_bad_sharding_values(void **state)
{
    (void)state;
    expect_errors(TRUST_HEAD "[sharding]\ntenant_key = tenant\ntenant_column = 1col\n"
                  "sharded_tables = accounts\nsharded_tables = orders, a.b.c\n"
                  "sharded_tables = ACCOUNTS\n"
                  "buckets = 4\ntenant_key = x.y\n" MIN_CLUSTER "buckets = 0-3\n"
                  "[tenants]\n\x01x = main\n",
                  "@:4: tenant_key: \"tenant\" is not a custom setting name (prefix.name, "
                  "e.g. pgrouter.tenant)\n"
                  "@:5: tenant_column: \"1col\" is not a column name (1-63 of A-Z a-z 0-9 _ "
                  "$, starting with a letter or _)\n"
                  "@:7: sharded_tables: \"a.b.c\" is not a table name (name or schema.name, "
                  "each 1-63 of A-Z a-z 0-9 _ $, starting with a letter or _)\n"
                  "@:8: sharded_tables: table \"accounts\" is listed twice\n"
                  "@:10: duplicate key \"tenant_key\" (first set on line 4)\n"
                  "@:15: tenant \"\x01x\": a tenant name is 1-63 bytes without control "
                  "characters\n");
}

static void test_cfg_loads_breaker_health_and_balancing(void **state)
{
    struct cfg *c = load_ok(TRUST_HEAD
                            "[breaker]\nfailure_threshold = 5\nopen_timeout = 250ms\n"
                            "max_open_timeout = 1min\nhalf_open_probes = 3\n"
                            "[health]\nhealth_check_interval = 0\nhealth_check_timeout = 500ms\n"
                            "max_replica_lag_bytes = 16MB\nmax_replica_lag = 10s\n"
                            "read_fallback = Error\nread_retries = 0\n"
                            MIN_CLUSTER "load_balance = least_latency\nprimary_reads = off\n");

    (void)state;
    assert_int_equal(c->breaker.failure_threshold, 5);
    assert_int_equal(c->breaker.open_timeout_ms, 250);
    assert_int_equal(c->breaker.max_open_timeout_ms, 60000);
    assert_int_equal(c->breaker.half_open_probes, 3);
    assert_int_equal(c->health.interval_ms, 0);
    assert_int_equal(c->health.timeout_ms, 500);
    assert_true(c->health.max_lag_bytes == 16ULL << 20);
    assert_int_equal(c->health.max_lag_ms, 10000);
    assert_int_equal(c->health.read_fallback_error, 1);
    assert_int_equal(c->health.read_retries, 0);
    assert_int_equal(c->clusters[0].load_balance, CFG_LB_LEAST_LATENCY);
    assert_int_equal(c->clusters[0].primary_reads, CFG_PRIMARY_READS_OFF);
    cfg_unref(c);
    c = load_ok(TRUST_HEAD "[health]\nmax_replica_lag_bytes = 2TB\nread_fallback = primary\n"
                MIN_CLUSTER "load_balance = Weighted\nprimary_reads = ON\n");
    assert_true(c->health.max_lag_bytes == 2ULL << 40);
    assert_int_equal(c->health.read_fallback_error, 0);
    assert_int_equal(c->clusters[0].load_balance, CFG_LB_WEIGHTED);
    assert_int_equal(c->clusters[0].primary_reads, CFG_PRIMARY_READS_ON);
    cfg_unref(c);
}

static void test_cfg_reports_bad_breaker_health_and_balancing_values(void **state)
{
    (void)state;
    expect_errors(TRUST_HEAD
                  "[breaker]\nfailure_threshold = 0\nhalf_open_probes = 101\n"
                  "open_timeout = 0\n"
                  "[health]\nread_retries = 11\nread_fallback = replica\n"
                  "max_replica_lag_bytes = 5 PB\nhealth_check_timeout = 0\n"
                  MIN_CLUSTER "load_balance = fastest\nprimary_reads = maybe\n",
                  "@:4: failure_threshold: \"0\" is out of range (1-1000)\n"
                  "@:5: half_open_probes: \"101\" is out of range (1-100)\n"
                  "@:6: open_timeout: \"0\" is out of range (1-86400000 ms)\n"
                  "@:8: read_retries: \"11\" is out of range (0-10)\n"
                  "@:9: read_fallback: \"replica\" is not one of primary, error\n"
                  "@:10: max_replica_lag_bytes: \"5 PB\" is not a size (bytes, or a number "
                  "followed by kB, MB, GB or TB)\n"
                  "@:11: health_check_timeout: \"0\" is out of range (1-86400000 ms)\n"
                  "@:14: load_balance: \"fastest\" is not one of round_robin, least_conn, "
                  "random, weighted, least_latency\n"
                  "@:15: primary_reads: \"maybe\" is not one of off, on, fallback\n");
}

static void test_cfg_reports_max_open_timeout_below_open_timeout(void **state)
{
    (void)state;
    expect_errors(TRUST_HEAD "[breaker]\nopen_timeout = 10s\nmax_open_timeout = 5s\n"
                  MIN_CLUSTER,
                  "@:5: max_open_timeout: 5000 ms is less than open_timeout (10000 ms)\n");
    expect_errors(TRUST_HEAD "[breaker]\nopen_timeout = 1min\n" MIN_CLUSTER,
                  "@:4: open_timeout: 60000 ms is more than max_open_timeout (30000 ms by "
                  "default)\n");
}

static void test_cfg_reads_admin_and_stats_users(void **state)
{
    struct cfg *c = load_ok(TRUST_HEAD "admin_users = admin, ops ,root\n"
                            "stats_users = mon\n" MIN_CLUSTER);

    (void)state;
    assert_string_equal(c->admin_users, "admin, ops ,root");
    assert_true(cfg_user_listed(c->admin_users, "admin"));
    assert_true(cfg_user_listed(c->admin_users, "ops"));
    assert_true(cfg_user_listed(c->admin_users, "root"));
    assert_false(cfg_user_listed(c->admin_users, "mon"));
    assert_false(cfg_user_listed(c->admin_users, "Admin"));   /* names are exact */
    assert_false(cfg_user_listed(c->admin_users, "adm"));     /* not a prefix */
    assert_false(cfg_user_listed(c->admin_users, "admin, ops"));
    assert_false(cfg_user_listed(c->admin_users, ""));
    assert_true(cfg_user_listed(c->stats_users, "mon"));
    cfg_unref(c);
}

static void test_cfg_admin_users_default_to_no_one(void **state)
{
    struct cfg *c = load_ok(TRUST_HEAD MIN_CLUSTER);

    (void)state;
    assert_null(c->admin_users);
    assert_null(c->stats_users);
    assert_false(cfg_user_listed(c->admin_users, "admin"));
    assert_false(cfg_user_listed(NULL, "postgres"));
    assert_false(cfg_user_listed(",, ,", "postgres"));
    cfg_unref(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cfg_loads_every_value_of_a_full_config),
        cmocka_unit_test(test_cfg_applies_defaults_and_picks_the_only_cluster),
        cmocka_unit_test(test_cfg_reads_admin_and_stats_users),
        cmocka_unit_test(test_cfg_admin_users_default_to_no_one),
        cmocka_unit_test(test_cfg_defaults_to_scram),
        cmocka_unit_test(test_cfg_stats_endpoint_is_off_by_default_on_loopback),
        cmocka_unit_test(test_cfg_reads_the_stats_endpoint),
        cmocka_unit_test(test_cfg_rejects_bad_stats_endpoints),
        cmocka_unit_test(test_cfg_allows_the_clients_port_on_another_stats_address),
        cmocka_unit_test(test_cfg_resolves_relative_auth_file_next_to_the_config),
        cmocka_unit_test(test_cfg_trust_with_auth_file_still_lists_users),
        cmocka_unit_test(test_cfg_strips_inline_comments_and_accepts_indented_keys),
        cmocka_unit_test(test_cfg_accepts_crlf_line_endings),
        cmocka_unit_test(test_cfg_parses_sizes_and_durations_with_units),
        cmocka_unit_test(test_cfg_loads_log_keys_with_pgbouncer_defaults),
        cmocka_unit_test(test_cfg_rejects_bad_log_keys),
        cmocka_unit_test(test_cfg_rejects_bad_sizes_and_durations),
        cmocka_unit_test(test_cfg_loads_every_pool_key),
        cmocka_unit_test(test_cfg_accepts_zero_where_pgbouncer_means_off),
        cmocka_unit_test(test_cfg_empty_server_queries_mean_disabled),
        cmocka_unit_test(test_cfg_parses_every_boolean_spelling),
        cmocka_unit_test(test_cfg_loads_the_routing_section),
        cmocka_unit_test(test_cfg_accepts_routing_before_pgrouter_and_every_role),
        cmocka_unit_test(test_cfg_reports_bad_pool_values),
        cmocka_unit_test(test_cfg_stats_period_default_value_and_range),
        cmocka_unit_test(test_cfg_reports_min_pool_size_above_default_pool_size),
        cmocka_unit_test(test_cfg_reports_bad_routing_values),
        cmocka_unit_test(test_cfg_rejects_malformed_function_names),
        cmocka_unit_test(test_cfg_reports_routing_keys_in_the_wrong_section),
        cmocka_unit_test(test_cfg_reports_duplicate_routing_section),
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
        cmocka_unit_test(test_cfg_defaults_for_sharding_breaker_health_and_balancing),
        cmocka_unit_test(test_cfg_loads_sharding_and_tenants),
        cmocka_unit_test(test_cfg_accepts_tenants_without_buckets_and_one_bucket),
        cmocka_unit_test(test_cfg_reports_overlapping_buckets_at_the_later_cluster),
        cmocka_unit_test(test_cfg_reports_a_bucket_listed_twice_in_one_cluster),
        cmocka_unit_test(test_cfg_reports_buckets_that_belong_to_no_cluster),
        cmocka_unit_test(test_cfg_reports_buckets_out_of_range),
        cmocka_unit_test(test_cfg_reports_malformed_bucket_lists),
        cmocka_unit_test(test_cfg_reports_cluster_buckets_without_sharding_buckets),
        cmocka_unit_test(test_cfg_reports_unknown_cluster_in_tenants),
        cmocka_unit_test(test_cfg_reports_a_tenant_listed_twice),
        cmocka_unit_test(test_cfg_reports_sharded_tables_without_tenant_column),
        cmocka_unit_test(test_cfg_reports_tenants_without_sharding_and_sharding_placing_nothing),
        cmocka_unit_test(test_cfg_reports_bad_sharding_values),
        cmocka_unit_test(test_cfg_loads_breaker_health_and_balancing),
        cmocka_unit_test(test_cfg_reports_bad_breaker_health_and_balancing_values),
        cmocka_unit_test(test_cfg_reports_max_open_timeout_below_open_timeout),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
