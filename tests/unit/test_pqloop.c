/*
 * tests/unit/test_pqloop.c - libpq on the loop: parsing libpq's connection error
 * messages (the server's SQLSTATE, libpq's own words, several hosts); and on a real
 * libuv loop, without a server: a refused port (a node fault, 08006), a name resolved
 * before connecting ("localhost"), an unresolvable name, dropping an attempt before it
 * ends, pgrouter itself out of file descriptors (its own fault, not the node's). With PGROUTER_TEST_PGPORT set, against that server: a connection by name and by
 * address, and the login errors that belong to one database or user (3D000, 28P01, a
 * missing password), with the server's exact message. Every loop test ends with
 * uv_loop_close() == 0.
 *
 *   PGROUTER_TEST_PGHOST (127.0.0.1), PGROUTER_TEST_PGUSER (app),
 *   PGROUTER_TEST_PGPASSWORD (app), PGROUTER_TEST_PGDATABASE (appdb)
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <uv.h>

#include "router/pool/pqloop.h"

struct ctx {
    uv_loop_t loop;
    struct pqloop pq;
    int n_done;
    int ok;
    struct pqloop_error err;
    int status_ok;              /* PQstatus was CONNECTION_OK in the callback */
};

static void connected_cb(struct pqloop *pq, const struct pqloop_error *err)
{
    struct ctx *c = pq->arg;

    c->n_done++;
    c->ok = err == NULL;
    if (err != NULL) {
        c->err = *err;
        assert_null(pq->pg);    /* a failed attempt leaves nothing connected */
    } else {
        c->status_ok = PQstatus(pq->pg) == CONNECTION_OK;
    }
    pqloop_drop(pq);
}

/* Connect and run the loop until the attempt ends; the loop must close cleanly. */
static void connect_and_run(struct ctx *c, const char *host, uint16_t port,
                            const char *const *keys, const char *const *vals)
{
    struct pqloop_error early;

    assert_int_equal(uv_loop_init(&c->loop), 0);
    pqloop_init(&c->pq, &c->loop, c);
    assert_int_equal(pqloop_connect(&c->pq, host, port, keys, vals, connected_cb, &early), 0);
    assert_int_equal(c->n_done, 0);     /* never from inside the call */
    assert_int_equal(uv_run(&c->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(c->n_done, 1);
    assert_int_equal(uv_loop_close(&c->loop), 0);
}

/* A port on 127.0.0.1 where nothing listens (bound, then released). */
static uint16_t closed_port(void)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

static const char *const basic_keys[] = { "user", "dbname", "connect_timeout", NULL };
static const char *const basic_vals[] = { "nobody", "nodb", "10", NULL };

/* ---- parsing ---- */

static void test_pqloop_parse_takes_the_servers_sqlstate_and_message(void **state)
{
    char code[6], msg[PQLOOP_MESSAGE_MAX];

    (void)state;
    assert_int_equal(pqloop_parse_error("connection to server at \"127.0.0.1\", port 5432 "
                                        "failed: FATAL:  3D000: database \"nosuchdb\" does "
                                        "not exist\nLOCATION:  InitPostgres, postinit.c:885\n",
                                        code, msg, sizeof(msg)), 1);
    assert_string_equal(code, "3D000");
    assert_string_equal(msg, "database \"nosuchdb\" does not exist");
}

static void test_pqloop_parse_keeps_libpqs_own_first_line(void **state)
{
    char code[6], msg[PQLOOP_MESSAGE_MAX];

    (void)state;
    assert_int_equal(pqloop_parse_error("connection to server at \"127.0.0.1\", port 1 "
                                        "failed: Connection refused\n\tIs the server running "
                                        "on that host and accepting TCP/IP connections?\n",
                                        code, msg, sizeof(msg)), 0);
    assert_string_equal(code, "");
    assert_string_equal(msg, "Connection refused");
    assert_int_equal(pqloop_parse_error("fe_sendauth: no password supplied\n", code, msg,
                                        sizeof(msg)), 0);
    assert_string_equal(msg, "fe_sendauth: no password supplied");
    /* Single colons and spaces are no severity and code. */
    assert_int_equal(pqloop_parse_error("could not translate host name \"x\" to address: "
                                        "Name or service not known", code, msg,
                                        sizeof(msg)), 0);
}

static void test_pqloop_parse_uses_the_last_attempt(void **state)
{
    char code[6], msg[PQLOOP_MESSAGE_MAX];

    (void)state;
    assert_int_equal(pqloop_parse_error("connection to server at \"localhost\" (::1), port 5 "
                                        "failed: Connection refused\n\tIs the server running?"
                                        "\nconnection to server at \"localhost\" (127.0.0.1), "
                                        "port 5 failed: FATAL:  28P01: password authentication"
                                        " failed for user \"app\"\n", code, msg,
                                        sizeof(msg)), 1);
    assert_string_equal(code, "28P01");
    assert_string_equal(msg, "password authentication failed for user \"app\"");
    /* The server's error first, libpq's own last: the last one counts. */
    assert_int_equal(pqloop_parse_error("connection to server at \"a\" (10.0.0.1), port 5 "
                                        "failed: FATAL:  57P03: the database system is "
                                        "starting up\nconnection to server at \"a\" "
                                        "(10.0.0.2), port 5 failed: timeout expired\n", code,
                                        msg, sizeof(msg)), 0);
    assert_string_equal(msg, "timeout expired");
}

/* ---- on a loop, without a server ---- */

static void test_pqloop_refused_port_is_a_node_fault(void **state)
{
    struct ctx *c = calloc(1, sizeof(*c));

    (void)state;
    assert_non_null(c);
    connect_and_run(c, "127.0.0.1", closed_port(), basic_keys, basic_vals);
    assert_false(c->ok);
    assert_int_equal(c->err.fault, PQLOOP_FAULT_NODE);
    assert_false(c->err.from_server);
    assert_string_equal(c->err.sqlstate, "08006");
    assert_string_equal(c->err.message, "Connection refused");
    free(c);
}

static void test_pqloop_resolves_a_name_before_connecting(void **state)
{
    struct ctx *c = calloc(1, sizeof(*c));

    (void)state;
    assert_non_null(c);
    /* Refused on every address of localhost: the name resolved, libpq tried them. */
    connect_and_run(c, "localhost", closed_port(), basic_keys, basic_vals);
    assert_false(c->ok);
    assert_int_equal(c->err.fault, PQLOOP_FAULT_NODE);
    assert_string_equal(c->err.sqlstate, "08006");
    assert_string_equal(c->err.message, "Connection refused");
    free(c);
}

static void test_pqloop_unresolvable_name_is_a_node_fault(void **state)
{
    struct ctx *c = calloc(1, sizeof(*c));

    (void)state;
    assert_non_null(c);
    connect_and_run(c, "no-such-host.invalid", 5432, basic_keys, basic_vals);
    assert_false(c->ok);
    assert_int_equal(c->err.fault, PQLOOP_FAULT_NODE);
    assert_string_equal(c->err.sqlstate, "08006");
    if (strstr(c->err.message, "could not resolve host name \"no-such-host.invalid\"") == NULL)
        fail_msg("message: %s", c->err.message);
    free(c);
}

static void test_pqloop_drop_before_the_end_reports_nothing(void **state)
{
    struct ctx *c = calloc(1, sizeof(*c));
    struct pqloop_error early;

    (void)state;
    assert_non_null(c);
    assert_int_equal(uv_loop_init(&c->loop), 0);
    pqloop_init(&c->pq, &c->loop, c);
    /* Dropped while resolving, then while connecting. */
    assert_int_equal(pqloop_connect(&c->pq, "localhost", closed_port(), basic_keys,
                                    basic_vals, connected_cb, &early), 0);
    assert_true(pqloop_resolving(&c->pq));
    pqloop_drop(&c->pq);
    assert_false(pqloop_connecting(&c->pq));
    assert_int_equal(pqloop_connect(&c->pq, "127.0.0.1", closed_port(), basic_keys,
                                    basic_vals, connected_cb, &early), 0);
    assert_true(pqloop_connecting(&c->pq));
    pqloop_drop(&c->pq);
    assert_int_equal(uv_run(&c->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(c->n_done, 0);
    assert_int_equal(uv_loop_close(&c->loop), 0);
    free(c);
}

static void test_pqloop_out_of_descriptors_is_pgrouters_own(void **state)
{
    struct ctx *c = calloc(1, sizeof(*c));
    struct pqloop_error err;
    struct rlimit old, low;
    int fds[256], n = 0, rc;
    uint16_t port = closed_port();

    (void)state;
    assert_non_null(c);
    assert_int_equal(uv_loop_init(&c->loop), 0);
    pqloop_init(&c->pq, &c->loop, c);
    /* Use up every descriptor under a low limit, as a flood of clients would. */
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = old;
    low.rlim_cur = 64;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    while (n < 256) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

        if (fd < 0)
            break;
        fds[n++] = fd;
    }
    rc = pqloop_connect(&c->pq, "127.0.0.1", port, basic_keys, basic_vals, connected_cb, &err);
    while (n > 0)
        close(fds[--n]);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    assert_true(rc < 0);
    assert_int_equal(err.fault, PQLOOP_FAULT_LOCAL);
    assert_string_equal(err.sqlstate, "53000");
    if (strstr(err.message, "pgrouter is out of file descriptors (Too many open files; its "
               "open-file limit RLIMIT_NOFILE is 64)") == NULL)
        fail_msg("message: %s", err.message);
    assert_int_equal(uv_run(&c->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(c->n_done, 0);
    assert_int_equal(uv_loop_close(&c->loop), 0);
    free(c);
}

/* ---- against a real server ---- */

static uint16_t server_port_or_skip(void)
{
    const char *p = getenv("PGROUTER_TEST_PGPORT");

    if (p == NULL || atoi(p) <= 0 || atoi(p) > 65535) {
        skip();
        return 0;
    }
    return (uint16_t)atoi(p);
}

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);

    return v != NULL && v[0] != '\0' ? v : dflt;
}

/* Connect to the test server as user/password to db; password NULL: none given. */
static void connect_server(struct ctx *c, const char *host, const char *db,
                           const char *password)
{
    const char *keys[] = { "user", "dbname", "sslmode", "password", NULL };
    const char *vals[] = {
        env_or("PGROUTER_TEST_PGUSER", "app"), db, "disable", password, NULL,
    };
    uint16_t port = server_port_or_skip();

    if (password == NULL)
        keys[3] = NULL;
    connect_and_run(c, host, port, keys, vals);
}

static void test_pqloop_connects_by_address_and_by_name(void **state)
{
    const char *db = env_or("PGROUTER_TEST_PGDATABASE", "appdb");
    const char *pw = env_or("PGROUTER_TEST_PGPASSWORD", "app");
    struct ctx *c;

    (void)state;
    /* skip before allocating: a skip leaves the test without running its free() */
    (void)server_port_or_skip();
    c = calloc(1, sizeof(*c));
    assert_non_null(c);
    connect_server(c, env_or("PGROUTER_TEST_PGHOST", "127.0.0.1"), db, pw);
    assert_true(c->ok);
    assert_true(c->status_ok);
    memset(c, 0, sizeof(*c));
    connect_server(c, "localhost", db, pw);
    if (!c->ok)
        fail_msg("localhost: %s (%s)", c->err.message, c->err.sqlstate);
    assert_true(c->status_ok);
    free(c);
}

static void test_pqloop_missing_database_is_a_login_error(void **state)
{
    struct ctx *c;

    (void)state;
    /* skip before allocating: a skip leaves the test without running its free() */
    (void)server_port_or_skip();
    c = calloc(1, sizeof(*c));
    assert_non_null(c);
    connect_server(c, env_or("PGROUTER_TEST_PGHOST", "127.0.0.1"), "pgrouter_nosuchdb",
                   env_or("PGROUTER_TEST_PGPASSWORD", "app"));
    assert_false(c->ok);
    assert_int_equal(c->err.fault, PQLOOP_FAULT_LOGIN);
    assert_true(c->err.from_server);
    assert_string_equal(c->err.sqlstate, "3D000");
    assert_string_equal(c->err.message, "database \"pgrouter_nosuchdb\" does not exist");
    free(c);
}

static void test_pqloop_wrong_password_is_a_login_error(void **state)
{
    char want[200];
    struct ctx *c;

    (void)state;
    /* skip before allocating: a skip leaves the test without running its free() */
    (void)server_port_or_skip();
    c = calloc(1, sizeof(*c));
    assert_non_null(c);
    connect_server(c, env_or("PGROUTER_TEST_PGHOST", "127.0.0.1"),
                   env_or("PGROUTER_TEST_PGDATABASE", "appdb"), "certainly-wrong");
    assert_false(c->ok);
    assert_int_equal(c->err.fault, PQLOOP_FAULT_LOGIN);
    assert_true(c->err.from_server);
    assert_string_equal(c->err.sqlstate, "28P01");
    snprintf(want, sizeof(want), "password authentication failed for user \"%s\"",
             env_or("PGROUTER_TEST_PGUSER", "app"));
    assert_string_equal(c->err.message, want);
    free(c);
}

static void test_pqloop_missing_password_is_a_login_error(void **state)
{
    struct ctx *c;

    (void)state;
    /* skip before allocating: a skip leaves the test without running its free() */
    (void)server_port_or_skip();
    c = calloc(1, sizeof(*c));
    assert_non_null(c);
    connect_server(c, env_or("PGROUTER_TEST_PGHOST", "127.0.0.1"),
                   env_or("PGROUTER_TEST_PGDATABASE", "appdb"), NULL);
    assert_false(c->ok);
    assert_int_equal(c->err.fault, PQLOOP_FAULT_LOGIN);
    assert_true(c->err.needs_password);
    assert_string_equal(c->err.sqlstate, "28P01");
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pqloop_parse_takes_the_servers_sqlstate_and_message),
        cmocka_unit_test(test_pqloop_parse_keeps_libpqs_own_first_line),
        cmocka_unit_test(test_pqloop_parse_uses_the_last_attempt),
        cmocka_unit_test(test_pqloop_refused_port_is_a_node_fault),
        cmocka_unit_test(test_pqloop_resolves_a_name_before_connecting),
        cmocka_unit_test(test_pqloop_unresolvable_name_is_a_node_fault),
        cmocka_unit_test(test_pqloop_drop_before_the_end_reports_nothing),
        cmocka_unit_test(test_pqloop_out_of_descriptors_is_pgrouters_own),
        cmocka_unit_test(test_pqloop_connects_by_address_and_by_name),
        cmocka_unit_test(test_pqloop_missing_database_is_a_login_error),
        cmocka_unit_test(test_pqloop_wrong_password_is_a_login_error),
        cmocka_unit_test(test_pqloop_missing_password_is_a_login_error),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
