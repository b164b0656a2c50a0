/*
 * tests/unit/test_route.c - routing rules of route_decide fed by the real classifier:
 * a table of (SQL, session state) -> target, reason and SQLSTATE, plus results built by
 * hand the way the session merges an extended-protocol batch.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "router/sql/classify.h"
#include "router/sql/funcset.h"
#include "router/cluster/route.h"

/* Session states used by the table. */
#define AUTO     { 0, 0, 0, ROUTE_ROLE_AUTO }
#define IN_TX    { 1, 0, 0, ROUTE_ROLE_AUTO }
#define STICKY   { 0, 1, 0, ROUTE_ROLE_AUTO }
#define RYW      { 0, 0, 1, ROUTE_ROLE_AUTO }
#define PRIMARY  { 0, 0, 0, ROUTE_ROLE_PRIMARY }
#define REPLICA  { 0, 0, 0, ROUTE_ROLE_REPLICA }
#define RYW_PRIM { 0, 0, 1, ROUTE_ROLE_PRIMARY }
#define TX_REPL  { 1, 0, 0, ROUTE_ROLE_REPLICA }

struct route_case {
    const char *sql;
    struct route_state rs;
    enum route_target target;
    const char *reason;         /* exact text expected in the decision */
    const char *sqlstate;       /* NULL unless ROUTE_ERROR */
};

static const char R_TX[] = "inside a transaction";
static const char R_STICKY[] = "session pinned to the primary "
                               "(temp table, LISTEN, session advisory lock or WITH HOLD cursor)";
static const char R_RYW[] = "read-your-writes window after a write";
static const char R_HINT_CONFLICT[] = "a pgrouter_role: replica hint on a statement that writes";
static const char R_ROLE_WRITE[] = "pgrouter.role = replica, but the statement writes";

static const struct route_case route_cases[] = {
    /* Plain reads go to a replica. */
    { "SELECT 1", AUTO, ROUTE_REPLICA, "read", NULL },
    { "select * from accounts where id = $1", AUTO, ROUTE_REPLICA, "read", NULL },
    { "SHOW search_path", AUTO, ROUTE_REPLICA, "read", NULL },
    { "VALUES (1), (2)", AUTO, ROUTE_REPLICA, "read", NULL },
    { "WITH x AS (SELECT 1) SELECT * FROM x", AUTO, ROUTE_REPLICA, "read", NULL },
    { "EXPLAIN SELECT * FROM t", AUTO, ROUTE_REPLICA, "read", NULL },
    { "COPY t TO STDOUT", AUTO, ROUTE_REPLICA, "read", NULL },
    { "SELECT 'INSERT INTO t VALUES (1)'", AUTO, ROUTE_REPLICA, "read", NULL },
    { "SELECT 1; SELECT 2", AUTO, ROUTE_REPLICA, "read", NULL },
    /* Writes go to the primary, named by the classifier. */
    { "INSERT INTO t VALUES (1)", AUTO, ROUTE_PRIMARY, "INSERT", NULL },
    { "UPDATE t SET a = 1", AUTO, ROUTE_PRIMARY, "UPDATE", NULL },
    { "DELETE FROM t", AUTO, ROUTE_PRIMARY, "DELETE", NULL },
    { "TRUNCATE t", AUTO, ROUTE_PRIMARY, "TRUNCATE", NULL },
    { "DROP TABLE t", AUTO, ROUTE_PRIMARY, "DROP", NULL },
    { "SELECT * FROM t FOR UPDATE", AUTO, ROUTE_PRIMARY, "SELECT ... FOR UPDATE", NULL },
    { "SELECT 1; INSERT INTO t VALUES (1)", AUTO, ROUTE_PRIMARY, "INSERT", NULL },
    { "SELECT nextval('s')", AUTO, ROUTE_PRIMARY, "write function", NULL },
    { "SELECT public.nextval('s')", AUTO, ROUTE_PRIMARY, "write function", NULL },
    { "SELECT setval('s', 10)", AUTO, ROUTE_PRIMARY, "write function", NULL },
    { "frobnicate the widgets", AUTO, ROUTE_PRIMARY, "unrecognised statement", NULL },
    /* An open transaction pins everything to its server. */
    { "SELECT 1", IN_TX, ROUTE_PINNED, R_TX, NULL },
    { "INSERT INTO t VALUES (1)", IN_TX, ROUTE_PINNED, R_TX, NULL },
    { "COMMIT", IN_TX, ROUTE_PINNED, R_TX, NULL },
    { "SET search_path = app", IN_TX, ROUTE_PINNED, R_TX, NULL },
    { "/* pgrouter_role: primary */ SELECT 1", IN_TX, ROUTE_PINNED, R_TX, NULL },
    { "SELECT 1", TX_REPL, ROUTE_PINNED, R_TX, NULL },
    /* Transactions start on the primary unless read only. */
    { "BEGIN", AUTO, ROUTE_PRIMARY, "transaction", NULL },
    { "START TRANSACTION", AUTO, ROUTE_PRIMARY, "transaction", NULL },
    { "BEGIN READ WRITE", AUTO, ROUTE_PRIMARY, "transaction", NULL },
    { "BEGIN READ ONLY", AUTO, ROUTE_REPLICA, "read-only transaction", NULL },
    { "START TRANSACTION READ ONLY", AUTO, ROUTE_REPLICA, "read-only transaction", NULL },
    { "begin transaction isolation level repeatable read, read only", AUTO, ROUTE_REPLICA,
      "read-only transaction", NULL },
    { "BEGIN READ ONLY", STICKY, ROUTE_PRIMARY, "transaction", NULL },
    { "BEGIN READ ONLY", PRIMARY, ROUTE_PRIMARY, "transaction", NULL },
    { "/* pgrouter_role: primary */ BEGIN READ ONLY", AUTO, ROUTE_PRIMARY, "transaction",
      NULL },
    { "BEGIN READ ONLY; INSERT INTO t VALUES (1)", AUTO, ROUTE_PRIMARY, "transaction", NULL },
    { "BEGIN", REPLICA, ROUTE_REPLICA, "transaction, pgrouter.role = replica", NULL },
    /* Session pins and the read-your-writes window keep reads on the primary. */
    { "SELECT 1", STICKY, ROUTE_PRIMARY, R_STICKY, NULL },
    { "SELECT 1", RYW, ROUTE_PRIMARY, R_RYW, NULL },
    { "INSERT INTO t VALUES (1)", RYW, ROUTE_PRIMARY, "INSERT", NULL },
    { "INSERT INTO t VALUES (1)", STICKY, ROUTE_PRIMARY, "INSERT", NULL },
    /* pgrouter.role of the session. */
    { "SELECT 1", PRIMARY, ROUTE_PRIMARY, "pgrouter.role = primary", NULL },
    { "SELECT 1", RYW_PRIM, ROUTE_PRIMARY, "pgrouter.role = primary", NULL },
    { "SELECT 1", REPLICA, ROUTE_REPLICA, "pgrouter.role = replica", NULL },
    { "INSERT INTO t VALUES (1)", REPLICA, ROUTE_ERROR, R_ROLE_WRITE, "25006" },
    { "UPDATE t SET a = 1", REPLICA, ROUTE_ERROR, R_ROLE_WRITE, "25006" },
    { "CREATE TABLE t (a int)", REPLICA, ROUTE_ERROR, R_ROLE_WRITE, "25006" },
    { "frobnicate the widgets", REPLICA, ROUTE_PRIMARY, "unrecognised statement", NULL },
    { "SELECT 'unterminated", REPLICA, ROUTE_PRIMARY,
      "unterminated string, identifier or comment", NULL },
    { "/* pgrouter_role: primary */ INSERT INTO t VALUES (1)", REPLICA, ROUTE_PRIMARY, "INSERT",
      NULL },
    { "INSERT INTO t VALUES (1)", PRIMARY, ROUTE_PRIMARY, "INSERT", NULL },
    /* Hints in comments. */
    { "/* pgrouter_role: primary */ SELECT 1", AUTO, ROUTE_PRIMARY,
      "pgrouter_role: primary hint", NULL },
    { "SELECT 1 -- pgrouter_role=primary", REPLICA, ROUTE_PRIMARY,
      "pgrouter_role: primary hint", NULL },
    { "/* pgrouter_role: replica */ SELECT 1", AUTO, ROUTE_REPLICA,
      "pgrouter_role: replica hint", NULL },
    { "/* PGROUTER_ROLE = Replica */ SELECT 1", RYW, ROUTE_REPLICA,
      "pgrouter_role: replica hint", NULL },
    { "/* pgrouter_role: replicas */ SELECT 1", RYW, ROUTE_PRIMARY, R_RYW, NULL },
    { "/* pgrouter_role: replica */ /* pgrouter_role: primary */ SELECT 1", AUTO,
      ROUTE_PRIMARY, "pgrouter_role: primary hint", NULL },
    { "/* pgrouter_role: replica */ INSERT INTO t VALUES (1)", AUTO, ROUTE_ERROR,
      R_HINT_CONFLICT, "25006" },
    { "/* pgrouter_role: replica */ INSERT INTO t VALUES (1)", IN_TX, ROUTE_ERROR,
      R_HINT_CONFLICT, "25006" },
    { "/* pgrouter_role: replica */ SELECT nextval('s')", AUTO, ROUTE_PRIMARY,
      "write function", NULL },
    /* Node-specific admin functions: the primary, whatever the session prefers... */
    { "SELECT pg_promote()", AUTO, ROUTE_PRIMARY, "node-specific admin function", NULL },
    { "select pg_wal_replay_pause()", REPLICA, ROUTE_PRIMARY, "node-specific admin function",
      NULL },
    { "SELECT pg_catalog.pg_wal_replay_resume()", RYW, ROUTE_PRIMARY,
      "node-specific admin function", NULL },
    { "SELECT pg_cancel_backend(pid) FROM pg_stat_activity", AUTO, ROUTE_PRIMARY,
      "node-specific admin function", NULL },
    { "/* pgrouter_role: primary */ SELECT pg_reload_conf()", REPLICA, ROUTE_PRIMARY,
      "node-specific admin function", NULL },
    /* ...unless a hint names the replica. */
    { "/* pgrouter_role: replica */ SELECT pg_wal_replay_pause()", AUTO, ROUTE_REPLICA,
      "node-specific admin function, pgrouter_role: replica hint", NULL },
    { "/* pgrouter_role: replica */ SELECT pg_terminate_backend(42)", RYW, ROUTE_REPLICA,
      "node-specific admin function, pgrouter_role: replica hint", NULL },
    /* Session state and transaction control outside a transaction: no preference. */
    { "SET search_path = app", AUTO, ROUTE_ANY, "session state", NULL },
    { "SET pgrouter.role = replica", AUTO, ROUTE_ANY, "session state", NULL },
    { "RESET ALL", AUTO, ROUTE_ANY, "session state", NULL },
    { "RESET work_mem", STICKY, ROUTE_ANY, "session state", NULL },
    { "DISCARD ALL", AUTO, ROUTE_ANY, "session state", NULL },
    { "SET search_path = app", REPLICA, ROUTE_ANY, "session state", NULL },
    { "", AUTO, ROUTE_ANY, "empty query", NULL },
    { " ; -- nothing here\n/* nor here */ ;", AUTO, ROUTE_ANY, "empty query", NULL },
    { "", REPLICA, ROUTE_ANY, "empty query", NULL },
    { "COMMIT", AUTO, ROUTE_ANY, "no transaction open", NULL },
    { "ROLLBACK", STICKY, ROUTE_ANY, "no transaction open", NULL },
    { "END", RYW, ROUTE_ANY, "no transaction open", NULL },
    { "SAVEPOINT a", AUTO, ROUTE_ANY, "no transaction open", NULL },
    /* Sessions that must stay on the primary, and the writes that make them so. */
    { "LISTEN ch", AUTO, ROUTE_PRIMARY, "LISTEN", NULL },
    { "SELECT pg_advisory_lock(1)", AUTO, ROUTE_PRIMARY, "write function", NULL },
    { "COPY t FROM STDIN", AUTO, ROUTE_PRIMARY, "COPY ... FROM", NULL },
    { "EXECUTE p(1)", REPLICA, ROUTE_PRIMARY, "EXECUTE (prepared statement unknown here)",
      NULL },
};

static const char *role_name(enum route_role r)
{
    switch (r) {
    case ROUTE_ROLE_AUTO:
        return "auto";
    case ROUTE_ROLE_PRIMARY:
        return "primary";
    case ROUTE_ROLE_REPLICA:
        return "replica";
    }
    return "?";
}

static int setup_writes(void **state)
{
    struct funcset *fs = calloc(1, sizeof(*fs));
    const char *const *names = classify_default_writes(NULL);

    if (fs == NULL)
        return -1;
    funcset_init(fs);
    for (; *names != NULL; names++)
        if (funcset_add(fs, *names, strlen(*names)) < 0)
            return -1;
    *state = fs;
    return 0;
}

static int teardown_writes(void **state)
{
    struct funcset *fs = *state;

    funcset_close(fs);
    free(fs);
    return 0;
}

static void decide_sql(const struct funcset *writes, const char *sql,
                       const struct route_state *rs, struct route_decision *d)
{
    struct classify_opts o = { .writes = writes, .exempt = NULL, .escape_strings = 0 };
    struct classify_result cr;

    assert_int_equal(classify_sql(&o, sql, strlen(sql), &cr), 0);
    memset(d, 0xa5, sizeof(*d));
    route_decide(rs, &cr, d);
}

/* Every row is checked; mismatches are printed together so one run shows them all. */
static void test_route_table_gives_expected_target_reason_and_sqlstate(void **state)
{
    const struct funcset *writes = *state;
    size_t n = sizeof(route_cases) / sizeof(route_cases[0]), bad = 0;

    assert_true(n >= 40);
    for (size_t i = 0; i < n; i++) {
        const struct route_case *c = &route_cases[i];
        struct route_decision d;
        int ok;

        decide_sql(writes, c->sql, &c->rs, &d);
        ok = d.target == c->target && d.reason != NULL && strcmp(d.reason, c->reason) == 0;
        if (c->sqlstate == NULL)
            ok = ok && d.sqlstate == NULL;
        else
            ok = ok && d.sqlstate != NULL && strcmp(d.sqlstate, c->sqlstate) == 0;
        if (!ok) {
            print_error("row %zu: \"%s\" in_tx=%d sticky=%d ryw=%d role=%s: want %s \"%s\" %s,"
                        " got %s \"%s\" %s\n", i, c->sql, c->rs.in_tx, c->rs.sticky,
                        c->rs.ryw, role_name(c->rs.role), route_target_name(c->target),
                        c->reason, c->sqlstate ? c->sqlstate : "-",
                        route_target_name(d.target), d.reason ? d.reason : "(null)",
                        d.sqlstate ? d.sqlstate : "-");
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

/*
 * route.h promises 25006 only for a certain write; LOCK in a mode a hot standby allows and
 * DO only may write (classify_result.certain = 0), so with pgrouter.role = replica they
 * belong on the primary, as they do under a replica hint.
 */
static void test_route_role_replica_sends_possible_writes_to_primary(void **state)
{
    static const char *const sql[] = {
        "LOCK TABLE t IN ACCESS SHARE MODE",
        "DO $$ BEGIN PERFORM 1; END $$",
    };
    const struct route_state rs = REPLICA;
    size_t bad = 0;

    for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
        struct route_decision d;

        decide_sql(*state, sql[i], &rs, &d);
        if (d.target != ROUTE_PRIMARY) {
            print_error("\"%s\" role=replica: want primary, got %s \"%s\" %s\n", sql[i],
                        route_target_name(d.target), d.reason ? d.reason : "(null)",
                        d.sqlstate ? d.sqlstate : "-");
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

/* The session merges Parse..Sync into one result; a bare write flag means the primary. */
static void test_route_hand_built_write_without_flags_goes_to_primary(void **state)
{
    struct classify_result cr;
    struct route_decision d;
    struct route_state rs = AUTO;

    (void)state;
    memset(&cr, 0, sizeof(cr));
    cr.write = 1;
    cr.flags = 0;
    route_decide(&rs, &cr, &d);
    assert_int_equal(d.target, ROUTE_PRIMARY);
    assert_string_equal(d.reason, "write");
    assert_null(d.sqlstate);

    /* Without a reason the write is not certain: role replica still goes to the primary. */
    rs.role = ROUTE_ROLE_REPLICA;
    route_decide(&rs, &cr, &d);
    assert_int_equal(d.target, ROUTE_PRIMARY);
    assert_null(d.sqlstate);
}

static void test_route_hand_built_read_goes_to_replica(void **state)
{
    struct classify_result cr;
    struct route_decision d;
    struct route_state rs = AUTO;

    (void)state;
    memset(&cr, 0, sizeof(cr));
    cr.reason = "read";
    route_decide(&rs, &cr, &d);
    assert_int_equal(d.target, ROUTE_REPLICA);
    assert_string_equal(d.reason, "read");
    assert_null(d.sqlstate);

    rs.in_tx = 1;
    route_decide(&rs, &cr, &d);
    assert_int_equal(d.target, ROUTE_PINNED);
}

static void test_route_hand_built_certain_write_with_role_replica_is_25006(void **state)
{
    struct classify_result cr;
    struct route_decision d;
    struct route_state rs = REPLICA;

    (void)state;
    memset(&cr, 0, sizeof(cr));
    cr.write = 1;
    cr.certain = 1;
    cr.reason = "UPDATE";
    route_decide(&rs, &cr, &d);
    assert_int_equal(d.target, ROUTE_ERROR);
    assert_string_equal(d.sqlstate, "25006");

    /* A batch with a session statement (PREPARE/SET) is exempt: it stays on the primary. */
    cr.flags = CLASSIFY_F_SESSION;
    route_decide(&rs, &cr, &d);
    assert_int_equal(d.target, ROUTE_PRIMARY);
    assert_null(d.sqlstate);
}

static void test_route_hand_built_hint_conflict_wins_over_everything(void **state)
{
    struct classify_result cr;
    struct route_decision d;
    struct route_state rs = { 1, 1, 1, ROUTE_ROLE_PRIMARY };

    (void)state;
    memset(&cr, 0, sizeof(cr));
    cr.write = 1;
    cr.certain = 1;
    cr.reason = "INSERT";
    cr.hint = CLASSIFY_ROLE_REPLICA;
    cr.hint_conflict = 1;
    route_decide(&rs, &cr, &d);
    assert_int_equal(d.target, ROUTE_ERROR);
    assert_string_equal(d.sqlstate, "25006");
    assert_string_equal(d.reason, R_HINT_CONFLICT);
}

static void test_route_target_name_names_every_target(void **state)
{
    (void)state;
    assert_string_equal(route_target_name(ROUTE_PRIMARY), "primary");
    assert_string_equal(route_target_name(ROUTE_REPLICA), "replica");
    assert_string_equal(route_target_name(ROUTE_PINNED), "pinned");
    assert_string_equal(route_target_name(ROUTE_ANY), "any");
    assert_string_equal(route_target_name(ROUTE_ERROR), "error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_route_table_gives_expected_target_reason_and_sqlstate),
        cmocka_unit_test(test_route_role_replica_sends_possible_writes_to_primary),
        cmocka_unit_test(test_route_hand_built_write_without_flags_goes_to_primary),
        cmocka_unit_test(test_route_hand_built_read_goes_to_replica),
        cmocka_unit_test(test_route_hand_built_certain_write_with_role_replica_is_25006),
        cmocka_unit_test(test_route_hand_built_hint_conflict_wins_over_everything),
        cmocka_unit_test(test_route_target_name_names_every_target),
    };

    return cmocka_run_group_tests(tests, setup_writes, teardown_writes);
}
