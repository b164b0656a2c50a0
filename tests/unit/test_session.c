/*
 * tests/unit/test_session.c - the client-session files without sockets: the table of state
 * transitions (session.c), client messages folded into a unit (frontend.c), startup
 * settings recorded for replay (greet.c), and what login.c decides about a startup packet.
 * The session is a struct on the stack with a fake client buffer; what would leave it is
 * cut at link time (-Wl,--wrap, see the Makefile): dispatch_unit, session_fatal,
 * session_send, and the login's limits, log line and hba check.
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
#include "protocol/frame.h"
#include "protocol/msg.h"
#include "router/core/log.h"
#include "router/core/shared.h"
#include "router/session/dispatch.h"
#include "router/session/frontend.h"
#include "router/session/greet.h"
#include "router/session/login.h"
#include "router/session/session.h"
#include "router/session/unit.h"

/* ---- what the wrapped calls saw ---- */

static struct {
    int dispatched;             /* dispatch_unit calls */
    enum dispatch_end last_end;
    char fatal[6];              /* SQLSTATE of the last session_fatal, "" if none */
    int sends;
    int hba;                    /* hbacheck_method reached: the packet was accepted */
    int cancels;
} seen;

void __wrap_dispatch_unit(struct session *s, enum dispatch_end end);
void __wrap_dispatch_unit(struct session *s, enum dispatch_end end)
{
    (void)s;
    seen.dispatched++;
    seen.last_end = end;
}

void __wrap_session_fatal(struct session *s, const char *sqlstate, const char *hint,
                          const char *fmt, ...);
void __wrap_session_fatal(struct session *s, const char *sqlstate, const char *hint,
                          const char *fmt, ...)
{
    (void)hint;
    (void)fmt;
    snprintf(seen.fatal, sizeof(seen.fatal), "%s", sqlstate);
    s->state = SESSION_CLOSING;     /* as session_close would */
}

int __wrap_session_send(struct session *s, struct msgbuf *b);
int __wrap_session_send(struct session *s, struct msgbuf *b)
{
    (void)s;
    seen.sends++;
    msgbuf_free(b);
    return 0;
}

int __wrap_authlimit_over(struct session *s);
int __wrap_authlimit_over(struct session *s)
{
    (void)s;
    return 0;
}

void __wrap_connlog_tried(struct session *s);
void __wrap_connlog_tried(struct session *s)
{
    (void)s;
}

int __wrap_hbacheck_method(struct session *s, enum auth_method *method);
int __wrap_hbacheck_method(struct session *s, enum auth_method *method)
{
    (void)s;
    (void)method;
    seen.hba++;
    return -1;      /* stop here: the exchange is not what these tests are about */
}

static void fake_authenticated(struct session *s)
{
    (void)s;
}

static void fake_cancel(struct session *s)
{
    (void)s;
    seen.cancels++;
}

static const struct login_ops fake_login_ops = {
    .authenticated = fake_authenticated,
    .cancel = fake_cancel,
};

/* ---- a session without a loop ---- */

struct fixture {
    struct shared shared;
    struct worker w;
    struct cfg cfg;
    struct session s;
    uint8_t buf[4096];
};

static struct fixture *fixture_new(void)
{
    struct fixture *fx = calloc(1, sizeof(*fx));

    assert_non_null(fx);
    memset(&seen, 0, sizeof(seen));
    fx->cfg.max_packet_size = 1 << 20;
    fx->cfg.max_client_conn = 100;
    fx->w.shared = &fx->shared;
    fx->s.w = &fx->w;
    fx->s.cfg = &fx->cfg;
    fx->s.login_ops = &fake_login_ops;
    fx->s.client.buf = fx->buf;
    fx->s.client.cap = sizeof(fx->buf);
    snprintf(fx->s.tag, sizeof(fx->s.tag), "c1");
    stmt_table_init(&fx->s.stmts);
    replay_init(&fx->s.replay);
    msgbuf_init(&fx->s.unit.out);
    unit_reset(&fx->s.unit);
    fx->s.state = SESSION_IDLE;
    return fx;
}

static void fixture_free(struct fixture *fx)
{
    unit_free(&fx->s.unit);
    stmt_table_free(&fx->s.stmts);
    replay_free(&fx->s.replay);
    free(fx->s.startup_pkt);
    free(fx->s.st);
    free(fx);
}

/* Put one message (type, body) in the client buffer as received and framed, and hand it
 * to frontend_message as frontend_pump does. */
static int feed(struct fixture *fx, char type, const void *body, size_t n)
{
    struct conn *c = &fx->s.client;
    struct frame f;
    size_t at = c->recvd;

    assert_true(at + 5 + n <= sizeof(fx->buf));
    fx->buf[at] = (uint8_t)type;
    fx->buf[at + 1] = (uint8_t)((n + 4) >> 24);
    fx->buf[at + 2] = (uint8_t)((n + 4) >> 16);
    fx->buf[at + 3] = (uint8_t)((n + 4) >> 8);
    fx->buf[at + 4] = (uint8_t)(n + 4);
    memcpy(fx->buf + at + 5, body, n);
    c->recvd += 5 + n;
    memset(&f, 0, sizeof(f));
    f.type = (uint8_t)type;
    f.len = 5 + n;
    f.body = fx->buf + at + 5;
    f.body_len = n;
    f.have_header = 1;
    c->parsed += f.len;     /* consumed, as frontend_take does first */
    return frontend_message(&fx->s, &f);
}

/* ---- session.c: the transitions ---- */

static void test_state_transitions_legal(void **state)
{
    (void)state;
    assert_true(session_state_allowed(SESSION_STARTUP, SESSION_AUTH));
    assert_true(session_state_allowed(SESSION_AUTH, SESSION_CONNECT));
    assert_true(session_state_allowed(SESSION_AUTH, SESSION_IDLE));     /* admin console */
    assert_true(session_state_allowed(SESSION_CONNECT, SESSION_IDLE));
    assert_true(session_state_allowed(SESSION_IDLE, SESSION_IN_TX));
    assert_true(session_state_allowed(SESSION_IN_TX, SESSION_IDLE));
    for (int from = SESSION_STARTUP; from <= SESSION_CLOSING; from++) {
        assert_true(session_state_allowed(from, SESSION_CLOSING));
        assert_true(session_state_allowed(from, from));
    }
}

static void test_state_transitions_illegal(void **state)
{
    (void)state;
    assert_false(session_state_allowed(SESSION_STARTUP, SESSION_IDLE));   /* no login */
    assert_false(session_state_allowed(SESSION_STARTUP, SESSION_CONNECT));
    assert_false(session_state_allowed(SESSION_AUTH, SESSION_IN_TX));
    assert_false(session_state_allowed(SESSION_CONNECT, SESSION_IN_TX));
    assert_false(session_state_allowed(SESSION_IDLE, SESSION_AUTH));
    assert_false(session_state_allowed(SESSION_IN_TX, SESSION_CONNECT));
    for (int to = SESSION_STARTUP; to < SESSION_CLOSING; to++)
        assert_false(session_state_allowed(SESSION_CLOSING, to));       /* no way back */
}

/* ---- frontend.c: messages into the unit ---- */

static const char parse_s1[] = "s1\0SELECT 1\0\0";     /* name, query, 0 types */

static void test_frontend_parse_then_sync(void **state)
{
    struct fixture *fx = fixture_new();
    struct session_unit *u = &fx->s.unit;

    (void)state;
    assert_int_equal(feed(fx, 'P', parse_s1, sizeof(parse_s1)), 0);
    assert_non_null(stmt_get(&fx->s.stmts, "s1"));
    assert_int_equal(fx->s.stats.parses, 1);
    assert_true(u->open);
    assert_true(u->rewrite);        /* the server gets it under pgr_<id> */
    assert_int_equal(u->n_marks, 1);
    assert_int_equal(u->marks[0].kind, SESSION_MARK_PARSE);
    assert_int_equal(seen.dispatched, 0);   /* nothing goes out before Sync */

    /* PostgreSQL refuses a second Parse of a name: the unit must fail there too. */
    assert_int_equal(feed(fx, 'P', parse_s1, sizeof(parse_s1)), 0);
    assert_int_equal(fx->s.stats.parses, 1);
    assert_int_equal(u->n_marks, 2);
    assert_int_equal(u->marks[1].kind, SESSION_MARK_DUP);

    assert_int_equal(feed(fx, 'S', "", 0), 0);
    assert_int_equal(seen.dispatched, 1);
    assert_int_equal(seen.last_end, DISPATCH_END);
    fixture_free(fx);
}

static void test_frontend_flush_sends_part(void **state)
{
    struct fixture *fx = fixture_new();

    (void)state;
    assert_int_equal(feed(fx, 'E', "\0\0\0\0\0", 5), 0);
    assert_int_equal(seen.dispatched, 0);
    assert_true(fx->s.unit.open);
    assert_int_equal(feed(fx, 'H', "", 0), 0);
    assert_int_equal(seen.dispatched, 1);
    assert_int_equal(seen.last_end, DISPATCH_FLUSH);
    assert_true(fx->s.unit.have_cr);    /* classified as a sync: the unit has a class */
    fixture_free(fx);
}

static void test_frontend_close_takes_the_name(void **state)
{
    struct fixture *fx = fixture_new();
    struct session_unit *u = &fx->s.unit;

    (void)state;
    assert_int_equal(feed(fx, 'P', parse_s1, sizeof(parse_s1)), 0);
    assert_int_equal(feed(fx, 'C', "Ss1", 4), 0);
    /* gone for the rest of the unit (a later Bind must fail), back if never run */
    assert_null(stmt_get(&fx->s.stmts, "s1"));
    assert_int_equal(u->marks[u->n_marks - 1].kind, SESSION_MARK_CLOSE);
    assert_int_equal(u->n_recs, 2);     /* the Parse's name and the Close's entry */
    fixture_free(fx);
}

static void test_frontend_bad_messages(void **state)
{
    struct fixture *fx = fixture_new();

    (void)state;
    assert_int_equal(feed(fx, 'P', "no-terminator", 13), -EPROTO);
    assert_int_equal(feed(fx, 'B', "p", 1), -EPROTO);
    assert_int_equal(feed(fx, 'D', "X", 1), -EPROTO);
    assert_int_equal(feed(fx, 'Z', "", 0), -EPROTO);     /* not a frontend message */
    assert_int_equal(seen.dispatched, 0);
    fixture_free(fx);
}

static void test_frontend_names_role(void **state)
{
    (void)state;
#define ROLE(sql) frontend_names_role(sql, strlen(sql))
    assert_true(ROLE("SET pgrouter.role = replica"));
    assert_true(ROLE("set session pgrouter . role to auto"));
    assert_true(ROLE("RESET pgrouter.role"));
    assert_true(ROLE("SET LOCAL pgrouter.role = primary"));
    assert_false(ROLE("RESET ALL"));
    assert_false(ROLE("SET pgrouter.tenant = 'a'"));
    assert_false(ROLE("SELECT pgrouter.role"));
    assert_false(ROLE("SET role = x"));
#undef ROLE
}

/* ---- greet.c: startup settings as replay state ---- */

#define RECORD(fx, n, v) greet_record_setting(&(fx)->s, n, strlen(n), v, strlen(v), NULL)

static void test_greet_settings_recorded(void **state)
{
    struct fixture *fx = fixture_new();

    (void)state;
    assert_int_equal(RECORD(fx, "application_name", "app"), 0);
    assert_int_equal(fx->s.replay.n, 1);
    assert_int_equal(RECORD(fx, "standard_conforming_strings", " OFF "), 0);
    assert_true(fx->s.escape_strings);
    assert_true(fx->s.escape_known);
    assert_int_equal(RECORD(fx, "standard_conforming_strings", "on"), 0);
    assert_false(fx->s.escape_strings);
    assert_int_equal(fx->s.replay.n, 2);    /* the second value replaced the first */
    assert_int_equal(RECORD(fx, "pgrouter.role", "replica"), 0);
    assert_int_equal(fx->s.role, ROUTE_ROLE_REPLICA);
    assert_int_equal(RECORD(fx, "pgrouter.tenant", "acme"), 0);
    assert_string_equal(fx->s.tenant, "acme");
    assert_true(fx->s.replay.sig != 0);
    fixture_free(fx);
}

static void test_greet_tenant_key_from_config(void **state)
{
    struct fixture *fx = fixture_new();

    (void)state;
    snprintf(fx->cfg.sharding.tenant_key, sizeof(fx->cfg.sharding.tenant_key), "app.tenant");
    assert_int_equal(RECORD(fx, "pgrouter.tenant", "ignored"), 0);
    assert_string_equal(fx->s.tenant, "");
    assert_int_equal(RECORD(fx, "APP.TENANT", "t7"), 0);
    assert_string_equal(fx->s.tenant, "t7");
    fixture_free(fx);
}

static void test_greet_settings_bounded(void **state)
{
    struct fixture *fx = fixture_new();
    char name[32];
    int rc = 0, i;

    (void)state;
    for (i = 0; i < REPLAY_MAX_ITEMS + 5 && rc == 0; i++) {
        snprintf(name, sizeof(name), "app.s%d", i);
        rc = RECORD(fx, name, "v");
    }
    assert_int_equal(rc, -E2BIG);
    assert_int_equal(i, REPLAY_MAX_ITEMS + 1);
    assert_int_equal(fx->s.replay.n, REPLAY_MAX_ITEMS);
    fixture_free(fx);
}

/* ---- login.c: what a startup packet leads to ---- */

/* A startup packet: version, then name/value pairs (NULL-terminated list). */
static void startup(struct fixture *fx, uint32_t version, const char *const *kv)
{
    struct conn *c = &fx->s.client;
    size_t n = 8;

    fx->buf[4] = (uint8_t)(version >> 24);
    fx->buf[5] = (uint8_t)(version >> 16);
    fx->buf[6] = (uint8_t)(version >> 8);
    fx->buf[7] = (uint8_t)version;
    for (; kv != NULL && *kv != NULL; kv++) {
        memcpy(fx->buf + n, *kv, strlen(*kv) + 1);
        n += strlen(*kv) + 1;
    }
    fx->buf[n++] = '\0';
    fx->buf[0] = (uint8_t)(n >> 24);
    fx->buf[1] = (uint8_t)(n >> 16);
    fx->buf[2] = (uint8_t)(n >> 8);
    fx->buf[3] = (uint8_t)n;
    c->recvd = n;
    fx->s.state = SESSION_STARTUP;
    login_read(&fx->s);
}

static const char *const alice[] = { "user", "alice", NULL };

static void test_login_accepts_a_startup_packet(void **state)
{
    struct fixture *fx = fixture_new();

    (void)state;
    startup(fx, 0x30000, alice);
    assert_string_equal(seen.fatal, "");
    assert_int_equal(seen.hba, 1);
    assert_int_equal(fx->w.n_clients, 1);
    assert_int_equal(fx->shared.n_clients, 1);  /* max_client_conn counts every worker's */
    assert_true(fx->s.counted);
    assert_string_equal(fx->s.user, "alice");
    assert_string_equal(fx->s.db, "alice");     /* no database: the user's name */
    assert_int_equal(fx->s.client.parsed, fx->s.client.recvd);
    fixture_free(fx);
}

static void test_login_refusals(void **state)
{
    static const char *const repl[] = { "user", "alice", "replication", "database", NULL };
    struct fixture *fx;

    (void)state;
    fx = fixture_new();
    startup(fx, 0x20000, alice);
    assert_string_equal(seen.fatal, "0A000");   /* protocol 2.0 */
    fixture_free(fx);

    fx = fixture_new();
    startup(fx, 0x30000, repl);
    assert_string_equal(seen.fatal, "0A000");   /* replication connection */
    assert_int_equal(seen.hba, 0);
    fixture_free(fx);

    fx = fixture_new();
    fx->shared.n_clients = 100;                 /* max_client_conn reached (all workers) */
    startup(fx, 0x30000, alice);
    assert_string_equal(seen.fatal, "53300");
    assert_int_equal(fx->shared.n_clients, 100);
    assert_int_equal(fx->w.n_clients, 0);
    assert_false(fx->s.counted);
    fixture_free(fx);

    fx = fixture_new();
    fx->w.draining = WORKER_DRAIN_SHUTDOWN;
    startup(fx, 0x30000, alice);
    assert_string_equal(seen.fatal, "57P01");
    fixture_free(fx);

    fx = fixture_new();
    fx->cfg.client_tls.sslmode = CFG_SSL_REQUIRE;   /* and this client has no TLS */
    startup(fx, 0x30000, alice);
    assert_string_equal(seen.fatal, "28000");
    assert_int_equal(seen.hba, 0);
    fixture_free(fx);
}

static void test_login_bad_length_and_cancel(void **state)
{
    struct fixture *fx = fixture_new();

    (void)state;
    memcpy(fx->buf, "\0\0\0\2", 4);     /* shorter than its own header */
    fx->s.client.recvd = 4;
    fx->s.state = SESSION_STARTUP;
    login_read(&fx->s);
    assert_string_equal(seen.fatal, "08P01");
    fixture_free(fx);

    fx = fixture_new();
    /* CancelRequest: 16 bytes, code 80877102, pid, key: goes up to login_ops.cancel */
    memcpy(fx->buf, "\0\0\0\x10\x04\xd2\x16\x2e\0\0\0\x07\0\0\0\x09", 16);
    fx->s.client.recvd = 16;
    fx->s.state = SESSION_STARTUP;
    login_read(&fx->s);
    assert_int_equal(seen.cancels, 1);
    assert_string_equal(seen.fatal, "");
    assert_int_equal(fx->s.st->cancel_pid, 7);
    assert_int_equal(fx->s.st->cancel_key, 9);
    assert_int_equal(seen.hba, 0);
    fixture_free(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_transitions_legal),
        cmocka_unit_test(test_state_transitions_illegal),
        cmocka_unit_test(test_frontend_parse_then_sync),
        cmocka_unit_test(test_frontend_flush_sends_part),
        cmocka_unit_test(test_frontend_close_takes_the_name),
        cmocka_unit_test(test_frontend_bad_messages),
        cmocka_unit_test(test_frontend_names_role),
        cmocka_unit_test(test_greet_settings_recorded),
        cmocka_unit_test(test_greet_tenant_key_from_config),
        cmocka_unit_test(test_greet_settings_bounded),
        cmocka_unit_test(test_login_accepts_a_startup_packet),
        cmocka_unit_test(test_login_refusals),
        cmocka_unit_test(test_login_bad_length_and_cancel),
    };

    log_open("/dev/null", 0);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
