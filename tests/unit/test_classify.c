/*
 * tests/unit/test_classify.c - the read/write classifier, table-driven: every statement
 * kind, keywords hidden in strings, identifiers and comments, CTEs with DML, locking
 * clauses, write functions, EXPLAIN [ANALYZE], COPY directions, transaction and session
 * statements, pgrouter.role/tenant, hints, multi-statement strings and broken input.
 * Each SQL text is copied to a heap buffer of exactly its length so ASan sees overreads.
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

#define R 0
#define W 1

#define BEGIN_ CLASSIFY_F_BEGIN
#define RO CLASSIFY_F_BEGIN_READ_ONLY
#define END_ CLASSIFY_F_END
#define TXCTL CLASSIFY_F_TXCTL
#define SESS CLASSIFY_F_SESSION
#define STICKY CLASSIFY_F_STICKY
#define SROLE CLASSIFY_F_SET_ROLE
#define STENANT CLASSIFY_F_SET_TENANT
#define COPYF CLASSIFY_F_COPY_FROM
#define EMPTY CLASSIFY_F_EMPTY
#define CURSOR CLASSIFY_F_CURSOR
#define EXEC CLASSIFY_F_EXECUTE
#define BAD CLASSIFY_F_BAD

/* Flags a plain read or write statement must not carry. */
#define PLAIN (BEGIN_ | RO | END_ | TXCTL | SESS | STICKY | SROLE | STENANT | COPYF | EMPTY | \
               CURSOR | EXEC | BAD)

struct tcase {
    const char *sql;
    int write;
    unsigned flags;         /* must all be set */
    unsigned noflags;       /* must all be clear */
    const char *reason;     /* a substring of the reason, or NULL */
};

static const struct tcase cases[] = {
    /* Reads. */
    { "SELECT 1", R, 0, PLAIN, "read" },
    { "select * from t where a = 1", R, 0, PLAIN, "read" },
    { "SeLeCt 1", R, 0, PLAIN, "read" },
    { "VALUES (1), (2)", R, 0, PLAIN, "read" },
    { "TABLE t", R, 0, PLAIN, "read" },
    { "SHOW search_path", R, 0, PLAIN, NULL },
    { "(SELECT 1)", R, 0, PLAIN, "read" },
    { "((SELECT 1) UNION (SELECT 2))", R, 0, PLAIN, "read" },
    { "WITH x AS (SELECT 1) SELECT * FROM x", R, 0, PLAIN, "read" },
    { "WITH RECURSIVE t(n) AS (VALUES (1) UNION ALL SELECT n + 1 FROM t WHERE n < 5) "
      "SELECT * FROM t", R, 0, PLAIN, NULL },
    { "with recursive r as (select 1 union all select 1 from r) select * from r limit 1",
      R, 0, PLAIN, NULL },
    { "WITH x(a) AS (SELECT 1) SELECT * FROM x", R, 0, PLAIN, NULL },
    { "WITH x AS (SELECT 'delete' AS a) SELECT a FROM x", R, 0, PLAIN, NULL },
    { "select count(*) from t group by a having count(*) > 1 order by 1 limit 10 offset 5",
      R, 0, PLAIN, NULL },
    { "select * from t where a in (select b from u)", R, 0, PLAIN, NULL },
    { "select substring('abc' from 1 for 2)", R, 0, PLAIN, NULL },
    { "SELECT * FROM unnest(array[1,2]) WITH ORDINALITY AS u(v, n)", R, 0, PLAIN, NULL },
    { "select x::text, array[1,2][1] from t", R, 0, PLAIN, NULL },
    { "SELECT * FROM t WHERE updated_at > now()", R, 0, PLAIN, NULL },
    { "select insert_time, deleted, for_update from t", R, 0, PLAIN, NULL },
    { "select $1 from t where a = $2", R, 0, PLAIN, NULL },
    { "select a$b, x$$y from t", R, 0, PLAIN, NULL },
    /* Keywords inside strings, quoted identifiers and comments. */
    { "select 'for update' from t", R, 0, PLAIN, NULL },
    { "select 'insert into t values (1)'", R, 0, PLAIN, NULL },
    { "select * from t where note = 'SELECT 1 INTO x'", R, 0, PLAIN, NULL },
    { "select 'it''s for update'", R, 0, PLAIN, NULL },
    { "select \"insert\" from t", R, 0, PLAIN, NULL },
    { "select \"update\", \"delete\" from \"for\"", R, 0, PLAIN, NULL },
    { "select \"a\"\"for update\" from t", R, 0, PLAIN, NULL },
    { "select 1 -- delete from t", R, 0, PLAIN, NULL },
    { "select 1 -- x\n", R, 0, PLAIN, NULL },
    { "select /* update t set a = 1 */ 1", R, 0, PLAIN, NULL },
    { "select /* outer /* inner */ for update */ 1", R, 0, PLAIN, NULL },
    { "select $$ ; delete from t; $$", R, 0, PLAIN, NULL },
    { "select $tag$ for update; insert $$ $tag$", R, 0, PLAIN, NULL },
    { "select $a$ $b$ delete $b$ $a$, 1", R, 0, PLAIN, NULL },
    { "select $_1$ into x $_1$", R, 0, PLAIN, NULL },
    { "select E'\\' for update'", R, 0, PLAIN, NULL },
    { "select e'\\\\', 'x'", R, 0, PLAIN, NULL },
    { "select E'\\'; delete from t; --'", R, 0, PLAIN, NULL },
    { "select U&'d\\0061t for update' as x", R, 0, PLAIN, NULL },
    { "select U&\"d\\0061t\" from t", R, 0, PLAIN, NULL },
    { "select B'1010', X'1F', N'for update'", R, 0, PLAIN, NULL },
    /* Names that only look like write functions, and non-calls. */
    { "select nextval_ish() from t", R, 0, PLAIN, NULL },
    { "select setvalue(1)", R, 0, PLAIN, NULL },
    { "select my_nextval(1)", R, 0, PLAIN, NULL },
    { "select nextval_x('s')", R, 0, PLAIN, NULL },
    { "select t.nextval from t", R, 0, PLAIN, NULL },
    { "select nextval from t", R, 0, PLAIN, NULL },
    { "select 'nextval(1)'", R, 0, PLAIN, NULL },
    { "select 1 /* nextval('s') */", R, 0, PLAIN, NULL },
    { "select \"pg_advisory_lock\" from t", R, 0, PLAIN, NULL },
    /* EXPLAIN without ANALYZE runs nothing. */
    { "explain select * from t", R, 0, PLAIN, "EXPLAIN" },
    { "explain delete from t", R, 0, PLAIN, "EXPLAIN" },
    { "EXPLAIN (ANALYZE false) DELETE FROM t", R, 0, PLAIN, "EXPLAIN" },
    { "EXPLAIN (ANALYZE off, VERBOSE) UPDATE t SET a = 1", R, 0, PLAIN, "EXPLAIN" },
    { "EXPLAIN (ANALYZE 0) INSERT INTO t VALUES (1)", R, 0, PLAIN, "EXPLAIN" },
    { "EXPLAIN (ANALYZE 'false') DELETE FROM t", R, 0, PLAIN, "EXPLAIN" },
    { "EXPLAIN (FORMAT JSON) DELETE FROM t", R, 0, PLAIN, "EXPLAIN" },
    { "EXPLAIN VERBOSE DELETE FROM t", R, 0, PLAIN, "EXPLAIN" },
    { "EXPLAIN ANALYZE SELECT 1", R, 0, PLAIN, NULL },
    { "EXPLAIN (ANALYZE) SELECT * FROM t", R, 0, PLAIN, NULL },
    { "explain select nextval('s')", R, 0, PLAIN, "EXPLAIN" },
    { "explain select pg_advisory_lock(1)", R, 0, PLAIN, "EXPLAIN" },
    { "EXPLAIN CREATE TABLE t2 AS SELECT 1", R, 0, PLAIN, "EXPLAIN" },
    { "EXPLAIN SELECT * FROM t FOR UPDATE", R, 0, PLAIN, "EXPLAIN" },
    /* COPY: TO reads, FROM writes, (query) TO is what the query is. */
    { "COPY t TO STDOUT", R, 0, PLAIN, "COPY ... TO" },
    { "COPY t (a, b) TO STDOUT WITH (FORMAT csv)", R, 0, PLAIN, "COPY ... TO" },
    { "COPY (SELECT * FROM t) TO STDOUT", R, 0, PLAIN, "COPY ... TO" },
    { "copy public.t to '/tmp/x'", R, 0, PLAIN, NULL },
    { "COPY BINARY t TO STDOUT", R, 0, PLAIN, NULL },
    { "COPY t FROM STDIN", W, COPYF, 0, "COPY ... FROM" },
    { "COPY t (a, b) FROM STDIN WITH (FORMAT csv)", W, COPYF, 0, "COPY ... FROM" },
    { "copy s.t from '/tmp/x'", W, COPYF, 0, NULL },
    { "COPY (DELETE FROM t RETURNING *) TO STDOUT", W, 0, COPYF, "DELETE" },
    { "COPY (INSERT INTO t VALUES (1) RETURNING id) TO STDOUT", W, 0, COPYF, "INSERT" },
    { "COPY (SELECT * FROM t FOR UPDATE) TO STDOUT", W, 0, COPYF, "FOR UPDATE" },
    { "COPY (WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d) TO STDOUT", W, 0, 0,
      "WITH ... DELETE" },
    { "COPY (SELECT nextval('s')) TO STDOUT", W, 0, 0, "write function" },
    /* DML. */
    { "INSERT INTO t VALUES (1)", W, 0, PLAIN, "INSERT" },
    { "insert into t select * from u", W, 0, PLAIN, "INSERT" },
    { "  \n\tinsert into t default values", W, 0, PLAIN, "INSERT" },
    { "UPDATE t SET a = 1", W, 0, PLAIN, "UPDATE" },
    { "DELETE FROM t WHERE a = 1", W, 0, PLAIN, "DELETE" },
    { "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET a = s.a", W, 0, PLAIN,
      "MERGE" },
    { "INSERT INTO t VALUES (1) ON CONFLICT (id) DO UPDATE SET a = 1", W, 0, PLAIN, "INSERT" },
    { "INSERT INTO t VALUES (nextval('s'))", W, 0, PLAIN, "INSERT" },
    { "INSERT INTO temp VALUES (1)", W, 0, STICKY, "INSERT" },
    { "TRUNCATE t", W, 0, PLAIN, "TRUNCATE" },
    /* DDL and other writes. */
    { "CREATE TABLE t (a int)", W, 0, PLAIN, "CREATE" },
    { "create index on t (a)", W, 0, PLAIN, "CREATE" },
    { "CREATE MATERIALIZED VIEW v AS SELECT 1", W, 0, PLAIN, "CREATE" },
    { "CREATE TABLE t2 AS SELECT * FROM t", W, 0, PLAIN, "CREATE" },
    { "CREATE OR REPLACE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql", W, 0,
      PLAIN, "CREATE" },
    { "CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO u VALUES (1); "
      "INSERT INTO v VALUES (2))", W, 0, PLAIN, "CREATE" },
    { "CREATE UNLOGGED TABLE x (a int)", W, 0, STICKY, "CREATE" },
    { "CREATE TABLE temp (a int)", W, 0, STICKY, "CREATE" },
    { "CREATE TABLE t (a int DEFAULT nextval('s'))", W, 0, STICKY, "CREATE" },
    { "ALTER TABLE t ADD COLUMN b int", W, 0, PLAIN, "ALTER" },
    { "ALTER SYSTEM SET work_mem = '64MB'", W, 0, PLAIN, "ALTER SYSTEM" },
    { "DROP TABLE t", W, 0, PLAIN, "DROP" },
    { "GRANT SELECT ON t TO u", W, 0, PLAIN, "GRANT" },
    { "REVOKE ALL ON t FROM u", W, 0, PLAIN, "REVOKE" },
    { "COMMENT ON TABLE t IS 'select'", W, 0, PLAIN, "COMMENT" },
    { "SECURITY LABEL ON TABLE t IS 'x'", W, 0, PLAIN, "SECURITY LABEL" },
    { "VACUUM t", W, 0, PLAIN, "VACUUM" },
    { "VACUUM (VERBOSE, ANALYZE) t", W, 0, PLAIN, "VACUUM" },
    { "ANALYZE t", W, 0, PLAIN, "ANALYZE" },
    { "ANALYSE t", W, 0, PLAIN, "ANALYZE" },
    { "REINDEX TABLE t", W, 0, PLAIN, "REINDEX" },
    { "CLUSTER t USING i", W, 0, PLAIN, "CLUSTER" },
    { "REFRESH MATERIALIZED VIEW v", W, 0, PLAIN, "REFRESH" },
    { "LOCK TABLE t IN ACCESS EXCLUSIVE MODE", W, 0, PLAIN, "LOCK" },
    { "CALL p(1)", W, 0, PLAIN, "CALL" },
    { "DO $$BEGIN PERFORM 1; END$$", W, 0, PLAIN, "DO" },
    { "CHECKPOINT", W, 0, PLAIN, "CHECKPOINT" },
    { "NOTIFY ch, 'x'", W, 0, PLAIN, "NOTIFY" },
    { "UNLISTEN *", W, 0, PLAIN, "UNLISTEN" },
    { "IMPORT FOREIGN SCHEMA s FROM SERVER f INTO public", W, 0, PLAIN, "IMPORT" },
    { "REASSIGN OWNED BY a TO b", W, 0, PLAIN, "REASSIGN" },
    /* SELECT INTO creates a table; INSERT INTO does not count. */
    { "SELECT * INTO t2 FROM t", W, 0, PLAIN, "SELECT ... INTO" },
    { "select a into temp t2 from t", W, STICKY, 0, "SELECT ... INTO" },
    { "SELECT * INTO TEMPORARY TABLE t2 FROM t", W, STICKY, 0, "SELECT ... INTO" },
    { "SELECT * INTO LOCAL TEMP t2 FROM t", W, STICKY, 0, "SELECT ... INTO" },
    { "SELECT * INTO UNLOGGED t2 FROM t", W, 0, STICKY, "SELECT ... INTO" },
    { "SELECT * INTO pg_temp.t2 FROM t", W, STICKY, 0, "SELECT ... INTO" },
    { "(SELECT 1 INTO t2)", W, 0, 0, "SELECT ... INTO" },
    /* Locking clauses, anywhere. */
    { "SELECT * FROM t FOR UPDATE", W, 0, PLAIN, "SELECT ... FOR UPDATE" },
    { "select * from t for no key update", W, 0, PLAIN, "FOR NO KEY UPDATE" },
    { "SELECT * FROM t FOR SHARE", W, 0, PLAIN, "FOR SHARE" },
    { "SELECT * FROM t FOR KEY SHARE", W, 0, PLAIN, "FOR KEY SHARE" },
    { "SELECT * FROM t FOR UPDATE OF t SKIP LOCKED", W, 0, 0, "FOR UPDATE" },
    { "SELECT * FROM t FOR UPDATE NOWAIT", W, 0, 0, "FOR UPDATE" },
    { "SELECT * FROM (SELECT * FROM t FOR UPDATE) s", W, 0, 0, "FOR UPDATE" },
    { "SELECT * FROM t WHERE id IN (SELECT id FROM u FOR SHARE)", W, 0, 0, "FOR SHARE" },
    { "SELECT * FROM t WHERE EXISTS (SELECT 1 FROM u FOR KEY SHARE)", W, 0, 0, "KEY SHARE" },
    { "select * from t for /* c */ update", W, 0, 0, "FOR UPDATE" },
    { "select * from t\nfor\nupdate", W, 0, 0, "FOR UPDATE" },
    { "(SELECT * FROM t FOR UPDATE)", W, 0, 0, "FOR UPDATE" },
    { "WITH x AS (SELECT * FROM t FOR UPDATE) SELECT * FROM x", W, 0, 0, "FOR UPDATE" },
    /* Data-modifying CTEs. */
    { "WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x", W, 0, PLAIN, "WITH ... DELETE" },
    { "WITH x AS (INSERT INTO t VALUES (1) RETURNING id) SELECT id FROM x", W, 0, PLAIN,
      "WITH ... INSERT" },
    { "WITH x AS (UPDATE t SET a = 1 RETURNING *) SELECT count(*) FROM x", W, 0, PLAIN,
      "WITH ... UPDATE" },
    { "WITH x AS MATERIALIZED (DELETE FROM t RETURNING *) SELECT 1", W, 0, 0, "WITH ... DELETE" },
    { "WITH x AS NOT MATERIALIZED (SELECT 1), y AS (DELETE FROM t) SELECT 1", W, 0, 0,
      "WITH ... DELETE" },
    { "WITH x AS (SELECT 1) DELETE FROM t WHERE a IN (SELECT * FROM x)", W, 0, 0,
      "WITH ... DELETE" },
    { "WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x", W, 0, 0, "WITH ... INSERT" },
    { "WITH x AS (SELECT 1) UPDATE t SET a = (SELECT * FROM x)", W, 0, 0, "WITH ... UPDATE" },
    { "with x as (select 1) merge into t using x on true when matched then delete", W, 0, 0,
      "WITH ... MERGE" },
    { "WITH a AS (SELECT 1), b AS (WITH c AS (SELECT 2) SELECT * FROM c) "
      "UPDATE t SET a = 1", W, 0, 0, "WITH ... UPDATE" },
    { "(WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x)", W, 0, 0, "WITH ... DELETE" },
    /* Write functions, qualified or not, any case, quoted, spaced. */
    { "select nextval('s')", W, 0, PLAIN, "write function" },
    { "SELECT pg_catalog.NEXTVAL('s')", W, 0, PLAIN, "write function" },
    { "select \"nextval\"('s')", W, 0, PLAIN, "write function" },
    { "SELECT pg_catalog.\"setval\"('s', 1)", W, 0, PLAIN, "write function" },
    { "SELECT NEXTVAL ('s')", W, 0, PLAIN, "write function" },
    { "select nextval/* c */('s')", W, 0, PLAIN, "write function" },
    { "select nextval\n('s')", W, 0, PLAIN, "write function" },
    { "select myschema.nextval('s')", W, 0, PLAIN, "write function" },
    { "select db.pg_catalog.nextval('s')", W, 0, PLAIN, "write function" },
    { "SELECT U&\"\\006Eextval\"('s')", W, 0, PLAIN, "write function" },
    { "SELECT currval('s'), lastval()", W, 0, PLAIN, "write function" },
    { "select * from t where id = nextval('s')", W, 0, PLAIN, "write function" },
    { "SELECT (SELECT setval('s', 1))", W, 0, PLAIN, "write function" },
    { "VALUES (nextval('s'))", W, 0, PLAIN, "write function" },
    { "select txid_current()", W, 0, PLAIN, "write function" },
    { "select pg_current_xact_id()", W, 0, PLAIN, "write function" },
    { "SELECT pg_notify('c', 'x')", W, 0, PLAIN, "write function" },
    { "select lo_create(0)", W, 0, PLAIN, "write function" },
    { "select lo_import('/tmp/x')", W, 0, PLAIN, "write function" },
    { "select set_config('a.b', 'c', false)", W, 0, PLAIN, "write function" },
    /* Node-specific admin functions: writes (the primary) flagged as such. */
    { "select pg_terminate_backend(123)", W, CLASSIFY_F_NODE, PLAIN, "node-specific admin" },
    { "select pg_reload_conf()", W, CLASSIFY_F_NODE, PLAIN, "node-specific admin" },
    { "select pg_switch_wal()", W, CLASSIFY_F_NODE, PLAIN, "node-specific admin" },
    { "SELECT pg_promote()", W, CLASSIFY_F_NODE, PLAIN, "node-specific admin" },
    { "SELECT pg_promote(true, 60)", W, CLASSIFY_F_NODE, PLAIN, "node-specific admin" },
    { "select pg_catalog.pg_wal_replay_pause()", W, CLASSIFY_F_NODE, PLAIN,
      "node-specific admin" },
    { "SELECT PG_WAL_REPLAY_RESUME()", W, CLASSIFY_F_NODE, PLAIN, "node-specific admin" },
    { "select pg_create_restore_point('x')", W, CLASSIFY_F_NODE, PLAIN,
      "node-specific admin" },
    { "select pg_cancel_backend(pid) from pg_stat_activity", W, CLASSIFY_F_NODE, PLAIN,
      "node-specific admin" },
    { "select pg_rotate_logfile()", W, CLASSIFY_F_NODE, PLAIN, "node-specific admin" },
    { "select 'pg_promote()', pg_promote_x()", R, 0, PLAIN | CLASSIFY_F_NODE, "read" },
    { "select pg_get_wal_replay_pause_state()", R, 0, PLAIN | CLASSIFY_F_NODE, "read" },
    { "select * from pg_create_logical_replication_slot('s', 'pgoutput')", W, 0, PLAIN,
      "write function" },
    { "SELECT pg_advisory_lock(1)", W, STICKY, 0, "write function" },
    { "SELECT pg_try_advisory_lock(1)", W, STICKY, 0, "write function" },
    { "SELECT pg_advisory_lock_shared(1)", W, STICKY, 0, "write function" },
    { "SELECT pg_try_advisory_lock_shared(1, 2)", W, STICKY, 0, "write function" },
    { "SELECT pg_catalog.pg_advisory_lock(1)", W, STICKY, 0, "write function" },
    { "SELECT pg_advisory_xact_lock(1)", W, 0, STICKY, "write function" },
    { "SELECT pg_try_advisory_xact_lock(1)", W, 0, STICKY, "write function" },
    { "SELECT pg_advisory_unlock(1)", W, 0, STICKY, "write function" },
    { "SELECT pg_advisory_unlock_all()", W, 0, STICKY, "write function" },
    { "UPDATE t SET a = 1 RETURNING pg_advisory_lock(id)", W, STICKY, 0, "UPDATE" },
    /* EXPLAIN ANALYZE runs the statement. */
    { "EXPLAIN ANALYZE DELETE FROM t", W, 0, PLAIN, "DELETE" },
    { "explain analyse update t set a = 1", W, 0, PLAIN, "UPDATE" },
    { "EXPLAIN ANALYZE VERBOSE INSERT INTO t VALUES (1)", W, 0, PLAIN, "INSERT" },
    { "EXPLAIN (ANALYZE) DELETE FROM t", W, 0, PLAIN, "DELETE" },
    { "EXPLAIN (ANALYZE true, BUFFERS) DELETE FROM t", W, 0, PLAIN, "DELETE" },
    { "EXPLAIN (VERBOSE, ANALYZE on) UPDATE t SET a = 1", W, 0, PLAIN, "UPDATE" },
    { "EXPLAIN (ANALYZE 1) DELETE FROM t", W, 0, PLAIN, "DELETE" },
    { "EXPLAIN (ANALYZE, FORMAT JSON) WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x",
      W, 0, PLAIN, "WITH ... DELETE" },
    { "EXPLAIN ANALYZE SELECT * FROM t FOR UPDATE", W, 0, PLAIN, "FOR UPDATE" },
    { "EXPLAIN ANALYZE SELECT nextval('s')", W, 0, PLAIN, "write function" },
    { "EXPLAIN ANALYZE CREATE TABLE t2 AS SELECT 1", W, 0, 0, "CREATE" },
    /* Transactions. */
    { "BEGIN", R, BEGIN_, RO | END_ | SESS, "BEGIN" },
    { "begin work", R, BEGIN_, RO, "BEGIN" },
    { "BEGIN TRANSACTION", R, BEGIN_, RO, "BEGIN" },
    { "BEGIN READ ONLY", R, BEGIN_ | RO, 0, "BEGIN" },
    { "BEGIN TRANSACTION READ ONLY", R, BEGIN_ | RO, 0, "BEGIN" },
    { "begin work isolation level serializable read only deferrable", R, BEGIN_ | RO, 0,
      NULL },
    { "START TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", R, BEGIN_ | RO, 0,
      "BEGIN" },
    { "START TRANSACTION READ ONLY, ISOLATION LEVEL SERIALIZABLE, NOT DEFERRABLE", R,
      BEGIN_ | RO, 0, "BEGIN" },
    { "BEGIN ISOLATION LEVEL READ COMMITTED", R, BEGIN_, RO, NULL },
    { "BEGIN READ WRITE", R, BEGIN_, RO, NULL },
    { "BEGIN READ ONLY, READ WRITE", R, BEGIN_, RO, NULL },
    { "BEGIN ISOLATION LEVEL READ UNCOMMITTED READ WRITE", R, BEGIN_, RO, NULL },
    { "START TRANSACTION", R, BEGIN_, RO, "BEGIN" },
    { "COMMIT", R, END_, BEGIN_ | TXCTL | SESS, "COMMIT" },
    { "commit work", R, END_, 0, "COMMIT" },
    { "END", R, END_, 0, "COMMIT" },
    { "END TRANSACTION", R, END_, 0, "COMMIT" },
    { "ROLLBACK", R, END_, TXCTL, "ROLLBACK" },
    { "ABORT", R, END_, 0, "ROLLBACK" },
    { "ROLLBACK TO SAVEPOINT a", R, TXCTL, END_, "ROLLBACK TO" },
    { "ROLLBACK TO a", R, TXCTL, END_, "ROLLBACK TO" },
    { "rollback transaction to savepoint a", R, TXCTL, END_, "ROLLBACK TO" },
    { "SAVEPOINT a", R, TXCTL, END_ | SESS, "SAVEPOINT" },
    { "RELEASE SAVEPOINT a", R, TXCTL, END_, "RELEASE" },
    { "RELEASE a", R, TXCTL, END_, "RELEASE" },
    { "COMMIT PREPARED 'x'", W, 0, END_, "COMMIT PREPARED" },
    { "ROLLBACK PREPARED 'x'", W, 0, END_, "ROLLBACK PREPARED" },
    { "PREPARE TRANSACTION 'x'", W, END_, SESS, "PREPARE TRANSACTION" },
    { "COMMIT AND CHAIN", R, END_ | BEGIN_, RO, NULL },
    { "COMMIT AND NO CHAIN", R, END_, BEGIN_, NULL },
    { "SET TRANSACTION READ ONLY", R, TXCTL, SESS, "SET TRANSACTION" },
    { "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", R, TXCTL, SESS, NULL },
    { "SET CONSTRAINTS ALL DEFERRED", R, TXCTL, SESS, NULL },
    { "BEGIN; INSERT INTO t VALUES (1); COMMIT", W, BEGIN_ | END_, RO, "INSERT" },
    { "BEGIN READ ONLY; SELECT 1; COMMIT", R, BEGIN_ | RO | END_, 0, "BEGIN" },
    { "BEGIN READ ONLY; COMMIT; BEGIN", R, BEGIN_ | END_, RO, NULL },
    /* Session state. */
    { "SET search_path = a, b", R, SESS, SROLE | STENANT | TXCTL, "SET" },
    { "SET SESSION work_mem TO '64MB'", R, SESS, SROLE, "SET" },
    { "SET LOCAL statement_timeout = 0", R, SESS, SROLE, "SET" },
    { "SET TIME ZONE 'UTC'", R, SESS, 0, "SET" },
    { "SET ROLE admin", R, SESS, SROLE, "SET" },
    { "SET SESSION AUTHORIZATION DEFAULT", R, SESS, 0, "SET" },
    { "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY", R, SESS, TXCTL, "SET" },
    { "RESET ALL", R, SESS | SROLE | STENANT, 0, "RESET" },
    { "RESET work_mem", R, SESS, SROLE | STENANT, "RESET" },
    { "DISCARD ALL", R, SESS | SROLE | STENANT, 0, "DISCARD" },
    { "DISCARD PLANS", R, SESS, SROLE, "DISCARD" },
    { "DISCARD TEMP", R, SESS, 0, "DISCARD" },
    { "DEALLOCATE p", R, SESS, 0, "DEALLOCATE" },
    { "DEALLOCATE ALL", R, SESS, 0, "DEALLOCATE" },
    { "deallocate prepare p", R, SESS, 0, "DEALLOCATE" },
    { "PREPARE p AS SELECT 1", R, SESS, 0, "PREPARE" },
    { "PREPARE p (int, text) AS SELECT $1, $2", R, SESS, 0, "PREPARE" },
    { "prepare transaction AS select 1", R, SESS, END_, "PREPARE" },
    { "PREPARE p AS INSERT INTO t VALUES ($1)", W, SESS, 0, "INSERT" },
    { "PREPARE p AS SELECT * FROM t FOR UPDATE", W, SESS, 0, "FOR UPDATE" },
    { "PREPARE p AS SELECT nextval('s')", W, SESS, 0, "write function" },
    { "PREPARE p", W, 0, 0, "unrecognised" },
    { "EXECUTE p(1)", W, SESS | EXEC, 0, "EXECUTE" },
    { "EXECUTE p", W, SESS | EXEC, 0, "EXECUTE" },
    /* Cursors stay on the server that has them. */
    { "DECLARE c CURSOR FOR SELECT 1", W, CURSOR, STICKY, "cursor" },
    { "DECLARE c CURSOR WITH HOLD FOR SELECT * FROM t", W, CURSOR | STICKY, 0, "cursor" },
    { "declare c binary insensitive no scroll cursor without hold for select 1", W, CURSOR,
      STICKY, "cursor" },
    { "DECLARE c CURSOR FOR WITH hold AS (SELECT 1) SELECT * FROM hold", W, CURSOR, STICKY,
      "cursor" },
    { "DECLARE c CURSOR FOR SELECT * FROM t FOR UPDATE", W, CURSOR, 0, "FOR UPDATE" },
    { "FETCH 10 FROM c", W, CURSOR, 0, "cursor" },
    { "MOVE NEXT IN c", W, CURSOR, 0, "cursor" },
    { "CLOSE c", W, CURSOR, 0, "cursor" },
    { "CLOSE ALL", W, CURSOR, 0, "cursor" },
    /* What pins a session. */
    { "LISTEN ch", W, STICKY, 0, "LISTEN" },
    { "CREATE TEMP TABLE x (a int)", W, STICKY, 0, "CREATE" },
    { "CREATE TEMPORARY TABLE x AS SELECT 1", W, STICKY, 0, "CREATE" },
    { "CREATE GLOBAL TEMPORARY TABLE x (a int)", W, STICKY, 0, "CREATE" },
    { "CREATE LOCAL TEMP TABLE x (a int)", W, STICKY, 0, "CREATE" },
    { "CREATE OR REPLACE TEMP VIEW v AS SELECT 1", W, STICKY, 0, "CREATE" },
    { "CREATE TEMP SEQUENCE s", W, STICKY, 0, "CREATE" },
    { "CREATE TABLE pg_temp.x (a int)", W, STICKY, 0, "CREATE" },
    { "create view v as select * from pg_temp.x", W, STICKY, 0, "CREATE" },
    /* SQL-standard function bodies hold ';' between BEGIN ATOMIC and END. */
    { "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END",
      W, 0, END_ | BEGIN_, "CREATE" },
    { "CREATE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC INSERT INTO t VALUES (1); "
      "SELECT CASE WHEN true THEN 1 ELSE 2 END; END; COMMIT", W, END_, BEGIN_, "CREATE" },
    /* Text the classifier does not understand. */
    { "FOO BAR", W, 0, 0, "unrecognised statement" },
    { "42", W, 0, 0, "unrecognised statement" },
    { "+", W, 0, 0, "unrecognised statement" },
    { "LOAD 'auto_explain'", W, 0, 0, "unrecognised statement" },
    { "START", W, 0, BEGIN_, "unrecognised statement" },
    { "(INSERT INTO t VALUES (1))", W, 0, 0, "unrecognised statement" },
    { "\"select\" 1", W, 0, 0, "unrecognised statement" },
    { "EXPLAIN", W, 0, 0, "unrecognised statement" },
    { "COPY t", W, 0, COPYF, "unrecognised statement" },
    { "select 1; frobnicate", W, 0, 0, "unrecognised statement" },
    /* Unterminated strings, identifiers and comments. */
    { "select 'abc", W, BAD, 0, "unterminated" },
    { "select \"abc", W, BAD, 0, "unterminated" },
    { "select 1 /* abc", W, BAD, 0, "unterminated" },
    { "select 1 /* a /* b */", W, BAD, 0, "unterminated" },
    { "select $$ abc", W, BAD, 0, "unterminated" },
    { "select $q$ abc $Q$", W, BAD, 0, "unterminated" },
    { "select E'abc\\'", W, BAD, 0, "unterminated" },
    { "select U&'abc", W, BAD, 0, "unterminated" },
    { "SELECT 1; SELECT 'x", W, BAD, 0, "unterminated" },
    { "/* only a comment", W, BAD, EMPTY, "unterminated" },
    { "'", W, BAD, 0, "unterminated" },
    /* Nothing to run. */
    { "", R, EMPTY, ~EMPTY, "empty" },
    { "   \n\t ", R, EMPTY, ~EMPTY, "empty" },
    { "-- comment only", R, EMPTY, ~EMPTY, "empty" },
    { "/* c */ /* d */", R, EMPTY, ~EMPTY, "empty" },
    { ";", R, EMPTY, ~EMPTY, "empty" },
    { " ; ; ", R, EMPTY, ~EMPTY, "empty" },
    /* Several statements: any write makes a write, flags add up. */
    { "SELECT 1; SELECT 2", R, 0, PLAIN, "read" },
    { "select 1; delete from t", W, 0, 0, "DELETE" },
    { "select 1; select ';'; select $$;$$", R, 0, PLAIN, NULL },
    { "SET search_path = a; SELECT 1", R, SESS, 0, "SET" },
    { "LISTEN a; SELECT 1", W, STICKY, 0, "LISTEN" },
    { "EXECUTE p; INSERT INTO t VALUES (1)", W, EXEC, 0, "INSERT" },
    { "select 1;;;", R, 0, EMPTY, "read" },
};

/* Heap copy of exactly n bytes (no terminator), so ASan catches any overread. */
static char *copy_exact(const char *s, size_t n)
{
    char *c = malloc(n > 0 ? n : 1);

    assert_non_null(c);
    if (n > 0)
        memcpy(c, s, n);
    return c;
}

static struct funcset defaults;
/* The text last classified: results point into it, so it lives until the next call. */
static char *last_sql;

static int setup_defaults(void **state)
{
    size_t n;
    const char *const *names = classify_default_writes(&n);

    (void)state;
    funcset_init(&defaults);
    for (size_t i = 0; i < n; i++) {
        if (funcset_add(&defaults, names[i], strlen(names[i])) != 0)
            return -1;
    }
    return 0;
}

static int teardown_defaults(void **state)
{
    (void)state;
    free(last_sql);
    last_sql = NULL;
    funcset_close(&defaults);
    return 0;
}

static void classify_with(const struct classify_opts *o, const char *sql,
                          struct classify_result *r)
{
    size_t n = strlen(sql);

    free(last_sql);
    last_sql = copy_exact(sql, n);
    assert_int_equal(classify_sql(o, last_sql, n, r), 0);
    assert_non_null(r->reason);
}

static void classify(const char *sql, struct classify_result *r)
{
    struct classify_opts o = { &defaults, NULL, 0 };

    classify_with(&o, sql, r);
}

static void test_classify_table(void **state)
{
    size_t n = sizeof(cases) / sizeof(cases[0]), bad = 0;

    (void)state;
    assert_true(n >= 150);
    for (size_t i = 0; i < n; i++) {
        const struct tcase *t = &cases[i];
        struct classify_result r;

        classify(t->sql, &r);
        if (r.write != t->write || (r.flags & t->flags) != t->flags ||
            (r.flags & t->noflags) != 0 ||
            (t->reason != NULL && strstr(r.reason, t->reason) == NULL)) {
            print_error("case %zu: %s\n  got write=%d flags=%#x reason=\"%s\"; want write=%d "
                        "flags %#x without %#x reason ~ \"%s\"\n", i, t->sql, r.write, r.flags,
                        r.reason, t->write, t->flags, t->noflags,
                        t->reason != NULL ? t->reason : "");
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

static void test_classify_counts_statements(void **state)
{
    struct classify_result r;

    (void)state;
    classify("SELECT 1; SELECT 2;; SELECT 3;", &r);
    assert_int_equal(r.n_statements, 3);
    classify("", &r);
    assert_int_equal(r.n_statements, 0);
    classify("select ';' ; select \";\" -- ;\n", &r);
    assert_int_equal(r.n_statements, 2);
    classify("CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; "
             "SELECT CASE WHEN true THEN 1 END; END; SELECT 2", &r);
    assert_int_equal(r.n_statements, 2);
    classify("CREATE RULE r AS ON INSERT TO t DO ALSO (DELETE FROM u; DELETE FROM v); COMMIT",
             &r);
    assert_int_equal(r.n_statements, 2);
    assert_true(r.flags & CLASSIFY_F_END);
}

static void test_classify_reports_write_function_name(void **state)
{
    struct classify_result r;
    static const char *sqls[][2] = {
        { "SELECT pg_catalog.NEXTVAL('s')", "pg_catalog.NEXTVAL" },
        { "select \"nextval\"('s')", "\"nextval\"" },
        { "select 1, setval ('s', 2)", "setval" },
        { "select a . lo_unlink(1)", "a . lo_unlink" },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(sqls) / sizeof(sqls[0]); i++) {
        classify(sqls[i][0], &r);
        assert_true(r.write);
        assert_string_equal(r.reason, "write function");
        assert_non_null(r.func);
        assert_int_equal(r.func_len, strlen(sqls[i][1]));
        assert_memory_equal(r.func, sqls[i][1], r.func_len);
    }
    classify("INSERT INTO t VALUES (nextval('s'))", &r);
    assert_null(r.func);
    /* Text PostgreSQL rejects whole calls nothing. */
    classify("select nextval('s'), 'x", &r);
    assert_true(r.write && (r.flags & CLASSIFY_F_BAD));
    assert_null(r.func);
    assert_int_equal(r.func_len, 0);
    classify("select 1", &r);
    assert_null(r.func);
}

struct role_case {
    const char *sql;
    unsigned flags;             /* SROLE / STENANT expected exactly */
    enum classify_role role;
    const char *tenant;         /* NULL: reset */
    unsigned tenant_flags;      /* CLASSIFY_F_TENANT_FOLD / _ESCAPED expected exactly */
};

static const struct role_case role_cases[] = {
    { "SET pgrouter.role = primary", SROLE, CLASSIFY_ROLE_PRIMARY, NULL, 0 },
    { "SET pgrouter.role TO 'replica'", SROLE, CLASSIFY_ROLE_REPLICA, NULL, 0 },
    { "set PGROUTER.ROLE = AUTO", SROLE, CLASSIFY_ROLE_AUTO, NULL, 0 },
    { "SET pgrouter.role TO 'Primary'", SROLE, CLASSIFY_ROLE_PRIMARY, NULL, 0 },
    { "SET SESSION pgrouter.role = replica", SROLE, CLASSIFY_ROLE_REPLICA, NULL, 0 },
    { "SET LOCAL pgrouter.role TO primary", SROLE, CLASSIFY_ROLE_PRIMARY, NULL, 0 },
    { "SET pgrouter . role = /* c */ replica", SROLE, CLASSIFY_ROLE_REPLICA, NULL, 0 },
    { "SET \"pgrouter\".\"role\" = replica", SROLE, CLASSIFY_ROLE_REPLICA, NULL, 0 },
    { "RESET pgrouter.role", SROLE, CLASSIFY_ROLE_AUTO, NULL, 0 },
    { "SET pgrouter.role TO DEFAULT", SROLE, CLASSIFY_ROLE_AUTO, NULL, 0 },
    { "SET pgrouter.role = 'bogus'", SROLE, CLASSIFY_ROLE_NONE, NULL, 0 },
    { "SET pgrouter.role = 42", SROLE, CLASSIFY_ROLE_NONE, NULL, 0 },
    { "SET pgrouter.role = replicas", SROLE, CLASSIFY_ROLE_NONE, NULL, 0 },
    { "SET pgrouter.role = replica; SET pgrouter.role = primary", SROLE,
      CLASSIFY_ROLE_PRIMARY, NULL, 0 },
    { "SET pgrouter.rolex = replica", 0, CLASSIFY_ROLE_NONE, NULL, 0 },
    { "SET \"PGROUTER\".role = replica", 0, CLASSIFY_ROLE_NONE, NULL, 0 },
    { "SET app.role = replica", 0, CLASSIFY_ROLE_NONE, NULL, 0 },
    { "SELECT 'SET pgrouter.role = replica'", 0, CLASSIFY_ROLE_NONE, NULL, 0 },
    { "SET pgrouter.tenant = 'acme'", STENANT, CLASSIFY_ROLE_NONE, "acme", 0 },
    { "SET pgrouter.tenant TO acme", STENANT, CLASSIFY_ROLE_NONE, "acme", 0 },
    { "SET pgrouter.tenant = Acme", STENANT, CLASSIFY_ROLE_NONE, "Acme",
      CLASSIFY_F_TENANT_FOLD },
    { "SET pgrouter.tenant = 'O''Brien'", STENANT, CLASSIFY_ROLE_NONE, "O''Brien",
      CLASSIFY_F_TENANT_ESCAPED },
    { "SET pgrouter.tenant = E'a\\'b'", STENANT, CLASSIFY_ROLE_NONE, "a\\'b",
      CLASSIFY_F_TENANT_ESCAPED },
    { "SET pgrouter.tenant = $$x y$$", STENANT, CLASSIFY_ROLE_NONE, "x y", 0 },
    { "SET pgrouter.tenant = \"Big Co\"", STENANT, CLASSIFY_ROLE_NONE, "Big Co", 0 },
    { "SET pgrouter.tenant = 42", STENANT, CLASSIFY_ROLE_NONE, "42", 0 },
    { "SET pgrouter.tenant = ''", STENANT, CLASSIFY_ROLE_NONE, "", 0 },
    { "RESET pgrouter.tenant", STENANT, CLASSIFY_ROLE_NONE, NULL, 0 },
    { "SET pgrouter.tenant =", 0, CLASSIFY_ROLE_NONE, NULL, 0 },
    { "SET pgrouter.tenant TO ; SELECT 1", 0, CLASSIFY_ROLE_NONE, NULL, 0 },
    { "SET pgrouter.tenant TO DEFAULT", STENANT, CLASSIFY_ROLE_NONE, NULL, 0 },
    { "SET pgrouter.tenant = 'a'; SET pgrouter.tenant = b", STENANT, CLASSIFY_ROLE_NONE, "b",
      0 },
    { "SET pgrouter.tenant = Acme; SET pgrouter.tenant = 'b'", STENANT, CLASSIFY_ROLE_NONE,
      "b", 0 },
    { "SET pgrouter.tenant = 'x'; RESET ALL", SROLE | STENANT, CLASSIFY_ROLE_AUTO, NULL, 0 },
    { "SET pgrouter.tenant = 'x'; SET pgrouter.role = replica", SROLE | STENANT,
      CLASSIFY_ROLE_REPLICA, "x", 0 },
    { "DISCARD ALL", SROLE | STENANT, CLASSIFY_ROLE_AUTO, NULL, 0 },
};

static void test_classify_pgrouter_settings(void **state)
{
    size_t bad = 0;

    (void)state;
    for (size_t i = 0; i < sizeof(role_cases) / sizeof(role_cases[0]); i++) {
        const struct role_case *t = &role_cases[i];
        unsigned tf = CLASSIFY_F_TENANT_FOLD | CLASSIFY_F_TENANT_ESCAPED;
        struct classify_result r;
        int ok;

        classify(t->sql, &r);
        ok = (r.flags & (SROLE | STENANT)) == t->flags && r.set_role == t->role &&
             (r.flags & tf) == t->tenant_flags && r.write == 0;
        if (t->tenant == NULL)
            ok = ok && r.tenant == NULL && r.tenant_len == 0;
        else
            ok = ok && r.tenant != NULL && r.tenant_len == strlen(t->tenant) &&
                 memcmp(r.tenant, t->tenant, r.tenant_len) == 0;
        if (!ok) {
            print_error("role case %zu: %s\n  got flags=%#x role=%d tenant=%.*s\n", i, t->sql,
                        r.flags, r.set_role, (int)r.tenant_len,
                        r.tenant != NULL ? r.tenant : "(null)");
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

struct hint_case {
    const char *sql;
    enum classify_role hint;
    int conflict;
};

static const struct hint_case hint_cases[] = {
    { "/* pgrouter_role: replica */ SELECT 1", CLASSIFY_ROLE_REPLICA, 0 },
    { "SELECT 1 /* PGROUTER_ROLE = Primary */", CLASSIFY_ROLE_PRIMARY, 0 },
    { "-- pgrouter_role=replica\nSELECT 1", CLASSIFY_ROLE_REPLICA, 0 },
    { "SELECT /*pgrouter_role:replica*/ * FROM t", CLASSIFY_ROLE_REPLICA, 0 },
    { "/* app=web pgrouter_role :\treplica, trace=1 */ SELECT 1", CLASSIFY_ROLE_REPLICA, 0 },
    { "/* outer /* pgrouter_role: replica */ */ SELECT 1", CLASSIFY_ROLE_REPLICA, 0 },
    { "/*pgrouter_role:replica*/ DELETE FROM t", CLASSIFY_ROLE_REPLICA, 1 },
    { "/* pgrouter_role: replica */ SELECT * FROM t FOR UPDATE", CLASSIFY_ROLE_REPLICA, 1 },
    { "/* pgrouter_role: replica */ SELECT 1; INSERT INTO t VALUES (1)",
      CLASSIFY_ROLE_REPLICA, 1 },
    /* Might write but might not: the hint stands. */
    { "/* pgrouter_role: replica */ SELECT nextval('s')", CLASSIFY_ROLE_REPLICA, 0 },
    { "/* pgrouter_role: replica */ FOO", CLASSIFY_ROLE_REPLICA, 0 },
    { "/* pgrouter_role: replica */ EXPLAIN DELETE FROM t", CLASSIFY_ROLE_REPLICA, 0 },
    { "/* pgrouter_role: primary */ DELETE FROM t", CLASSIFY_ROLE_PRIMARY, 0 },
    { "/* pgrouter_role: replica */ /* pgrouter_role: primary */ SELECT 1",
      CLASSIFY_ROLE_PRIMARY, 0 },
    { "/* pgrouter_role: primary */ /* pgrouter_role: replica */ DELETE FROM t",
      CLASSIFY_ROLE_PRIMARY, 0 },
    { "SELECT '/* pgrouter_role: replica */'", CLASSIFY_ROLE_NONE, 0 },
    { "SELECT $$ -- pgrouter_role: replica $$", CLASSIFY_ROLE_NONE, 0 },
    { "SELECT \"pgrouter_role: replica\" FROM t", CLASSIFY_ROLE_NONE, 0 },
    { "/* pgrouter_role: replicas */ SELECT 1", CLASSIFY_ROLE_NONE, 0 },
    { "/* pgrouter_role replica */ SELECT 1", CLASSIFY_ROLE_NONE, 0 },
    { "/* pgrouter_role: */ SELECT 1", CLASSIFY_ROLE_NONE, 0 },
    { "/* pgrouter_roles: replica */ SELECT 1", CLASSIFY_ROLE_NONE, 0 },
    { "/* pgrouter_role: auto */ SELECT 1", CLASSIFY_ROLE_NONE, 0 },
    { "SELECT 1", CLASSIFY_ROLE_NONE, 0 },
};

static void test_classify_hints(void **state)
{
    size_t bad = 0;

    (void)state;
    for (size_t i = 0; i < sizeof(hint_cases) / sizeof(hint_cases[0]); i++) {
        const struct hint_case *t = &hint_cases[i];
        struct classify_result r;

        classify(t->sql, &r);
        if (r.hint != t->hint || r.hint_conflict != t->conflict) {
            print_error("hint case %zu: %s\n  got hint=%d conflict=%d\n", i, t->sql, r.hint,
                        r.hint_conflict);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

static void test_classify_certain_writes(void **state)
{
    struct classify_result r;

    (void)state;
    classify("DELETE FROM t", &r);
    assert_true(r.write && r.certain);
    classify("select nextval('s')", &r);
    assert_true(r.write && !r.certain);
    classify("EXECUTE p; UPDATE t SET a = 1", &r);
    assert_true(r.write && r.certain);
    assert_string_equal(r.reason, "UPDATE");
    classify("PREPARE p AS DELETE FROM t", &r);
    assert_true(r.write && !r.certain);
    classify("SELECT 1", &r);
    assert_false(r.write || r.certain);
}

static void test_classify_without_function_sets(void **state)
{
    struct classify_result r;

    (void)state;
    assert_int_equal(classify_sql(NULL, "select nextval('s')", 19, &r), 0);
    assert_false(r.write);
    assert_int_equal(classify_sql(NULL, "select pg_advisory_lock(1)", 26, &r), 0);
    assert_false(r.write);
    assert_true(r.flags & CLASSIFY_F_STICKY);
    assert_int_equal(classify_sql(NULL, NULL, 0, &r), 0);
    assert_true(r.flags & CLASSIFY_F_EMPTY);
}

/* pg_promote() and friends act on the node they run on: no set or exemption changes that. */
static void test_classify_node_functions_need_no_sets_and_are_never_exempt(void **state)
{
    struct funcset ex;
    struct classify_opts o = { NULL, &ex, 0 };
    struct classify_result r;

    (void)state;
    funcset_init(&ex);
    assert_int_equal(funcset_add(&ex, "pg_reload_conf", 14), 0);
    assert_int_equal(classify_sql(NULL, "select pg_promote()", 19, &r), 0);
    assert_true(r.write);
    assert_false(r.certain);
    assert_true(r.flags & CLASSIFY_F_NODE);
    classify_with(&o, "select pg_reload_conf()", &r);
    assert_true(r.write);
    assert_true(r.flags & CLASSIFY_F_NODE);
    assert_non_null(r.func);
    assert_int_equal(r.func_len, 14);
    assert_memory_equal(r.func, "pg_reload_conf", 14);
    /* A certain write in the same string keeps its reason. */
    classify_with(&o, "insert into t values (1); select pg_cancel_backend(1)", &r);
    assert_true(r.write && r.certain);
    assert_string_equal(r.reason, "INSERT");
    assert_true(r.flags & CLASSIFY_F_NODE);
    funcset_close(&ex);
}

static void test_classify_exempt_and_qualified_entries(void **state)
{
    struct funcset w, ex;
    struct classify_opts o = { &w, &ex, 0 };
    struct classify_result r;

    (void)state;
    funcset_init(&w);
    funcset_init(&ex);
    assert_int_equal(funcset_add(&w, "nextval", 7), 0);
    assert_int_equal(funcset_add(&w, "App.Bump", 8), 0);
    assert_int_equal(funcset_add(&w, "audit_log", 9), 0);
    assert_int_equal(funcset_add(&ex, "pg_catalog.nextval", 18), 0);
    assert_int_equal(funcset_add(&ex, "audit_log", 9), 0);

    classify_with(&o, "select nextval('s')", &r);
    assert_true(r.write);
    classify_with(&o, "select pg_catalog.nextval('s')", &r);
    assert_false(r.write);
    classify_with(&o, "select other.nextval('s')", &r);
    assert_true(r.write);
    classify_with(&o, "select app.bump()", &r);
    assert_true(r.write);
    classify_with(&o, "select \"APP\".\"BUMP\"()", &r);
    assert_true(r.write);
    classify_with(&o, "select bump()", &r);
    assert_false(r.write);
    classify_with(&o, "select other.bump()", &r);
    assert_false(r.write);
    classify_with(&o, "select audit_log('x')", &r);
    assert_false(r.write);
    classify_with(&o, "select setval('s', 1)", &r);
    assert_false(r.write);
    funcset_close(&w);
    funcset_close(&ex);
}

static void test_classify_identifiers_cut_at_63_bytes(void **state)
{
    char sql[256];
    struct classify_result r;
    struct funcset w;
    struct classify_opts o = { &w, NULL, 0 };
    const char *name63 = "f23456789012345678901234567890123456789012345678901234567890123";

    (void)state;
    funcset_init(&w);
    assert_int_equal(funcset_add(&w, name63, strlen(name63)), 0);
    /* PostgreSQL truncates the longer name to the function's, so it is that call. */
    snprintf(sql, sizeof(sql), "select %sxyz(1)", name63);
    classify_with(&o, sql, &r);
    assert_true(r.write);
    snprintf(sql, sizeof(sql), "select %.62s(1)", name63);
    classify_with(&o, sql, &r);
    assert_false(r.write);
    funcset_close(&w);
}

static void test_classify_standard_conforming_strings_off(void **state)
{
    const char *sql = "select '\\'; delete from t; --'";
    struct classify_opts on = { &defaults, NULL, 0 }, off = { &defaults, NULL, 1 };
    struct classify_result r;

    (void)state;
    /* standard_conforming_strings = on: the string ends at the second quote. */
    classify_with(&on, sql, &r);
    assert_true(r.write);
    assert_string_equal(r.reason, "DELETE");
    /* off: the backslash hides it and the DELETE is inside the string. */
    classify_with(&off, sql, &r);
    assert_false(r.write);
    assert_int_equal(r.n_statements, 1);
}

/* The text from issue 9: three statements with the setting off, one SELECT with it on. */
static void test_classify_backslash_quote_hides_insert_only_when_off(void **state)
{
    const char *sql = "SELECT 'a\\', ' ; INSERT INTO t VALUES (1) ; SELECT 'x' -- '";
    struct classify_opts on = { &defaults, NULL, 0 }, off = { &defaults, NULL, 1 };
    struct classify_result r;

    (void)state;
    classify_with(&off, sql, &r);
    assert_true(r.write && r.certain);
    assert_string_equal(r.reason, "INSERT");
    assert_int_equal(r.n_statements, 3);
    classify_with(&on, sql, &r);
    assert_false(r.write);
    assert_int_equal(r.n_statements, 1);
    /* E'' strings escape in both modes; dollar quotes in neither. */
    classify_with(&on, "SELECT E'\\'; DELETE FROM t; --'", &r);
    assert_false(r.write);
    classify_with(&off, "SELECT $$\\$$; DELETE FROM t", &r);
    assert_true(r.write);
}

static void test_classify_default_writes_listed(void **state)
{
    static const char *const want[] = {
        "nextval", "setval", "currval", "lastval", "pg_advisory_lock",
        "pg_advisory_xact_lock", "pg_advisory_lock_shared", "pg_advisory_xact_lock_shared",
        "pg_try_advisory_lock", "pg_try_advisory_xact_lock", "pg_try_advisory_lock_shared",
        "pg_try_advisory_xact_lock_shared", "pg_advisory_unlock", "pg_advisory_unlock_shared",
        "pg_advisory_unlock_all", "txid_current", "txid_current_if_assigned",
        "pg_current_xact_id", "pg_current_xact_id_if_assigned", "pg_notify", "lo_create",
        "lo_creat", "lo_import", "lo_export", "lo_unlink", "lo_open", "lo_write", "lo_put",
        "lo_truncate", "lo_truncate64", "lo_from_bytea", "lowrite", "pg_create_restore_point",
        "pg_switch_wal", "pg_create_physical_replication_slot",
        "pg_create_logical_replication_slot", "pg_drop_replication_slot", "set_config",
        "pg_terminate_backend", "pg_cancel_backend", "pg_reload_conf", "pg_rotate_logfile",
    };
    size_t n = 0;
    const char *const *names = classify_default_writes(&n);

    (void)state;
    assert_int_equal(n, sizeof(want) / sizeof(want[0]));
    assert_null(names[n]);
    assert_null(classify_default_writes(NULL)[n]);
    for (size_t i = 0; i < n; i++)
        assert_true(funcset_has(&defaults, want[i], strlen(want[i])));
}

/* Deep nesting must neither recurse without bound nor misjudge. */
static void test_classify_survives_deep_nesting(void **state)
{
    size_t reps = 20000, n = 0;
    char *sql = malloc(reps * 8 + 32);
    struct classify_result r;

    (void)state;
    assert_non_null(sql);
    for (size_t i = 0; i < reps; i++) {
        memcpy(sql + n, "EXPLAIN ", 8);
        n += 8;
    }
    memcpy(sql + n, "SELECT 1", 8);
    n += 8;
    assert_int_equal(classify_sql(NULL, sql, n, &r), 0);
    assert_true(r.write);
    assert_int_equal(r.n_statements, 1);
    n = 0;
    for (size_t i = 0; i < reps; i++)
        sql[n++] = '(';
    memcpy(sql + n, "SELECT 1; DELETE FROM t", 23);
    n += 23;
    assert_int_equal(classify_sql(NULL, sql, n, &r), 0);
    assert_int_equal(r.n_statements, 1);
    n = 0;
    for (size_t i = 0; i < reps; i++) {
        memcpy(sql + n, "/*", 2);
        n += 2;
    }
    assert_int_equal(classify_sql(NULL, sql, n, &r), 0);
    assert_true(r.write && (r.flags & CLASSIFY_F_BAD));
    free(sql);
}

/* Every prefix of tricky statements and random bytes: no crash, always an answer. */
static void test_classify_never_fails(void **state)
{
    uint32_t seed = 12345;
    char bytes[64];
    struct classify_result r;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = strlen(cases[i].sql);

        for (size_t k = 0; k <= n; k++) {
            char *buf = copy_exact(cases[i].sql, k);

            assert_int_equal(classify_sql(NULL, buf, k, &r), 0);
            assert_non_null(r.reason);
            free(buf);
        }
    }
    for (int i = 0; i < 20000; i++) {
        size_t n = 0;
        char *buf;

        seed = seed * 1103515245u + 12345u;
        n = (seed >> 16) % sizeof(bytes);
        for (size_t k = 0; k < n; k++) {
            static const char alphabet[] = "'\"$;()/*-\\eEuU&xX ab_1.:\n";

            seed = seed * 1103515245u + 12345u;
            bytes[k] = (seed >> 24) & 1 ? alphabet[(seed >> 16) % (sizeof(alphabet) - 1)]
                                        : (char)(seed >> 8);
        }
        buf = copy_exact(bytes, n);
        assert_int_equal(classify_sql(&(struct classify_opts){ &defaults, NULL, i & 1 }, buf,
                                      n, &r), 0);
        assert_non_null(r.reason);
        assert_true(r.write || !(r.flags & CLASSIFY_F_BAD));
        free(buf);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify_table),
        cmocka_unit_test(test_classify_counts_statements),
        cmocka_unit_test(test_classify_reports_write_function_name),
        cmocka_unit_test(test_classify_pgrouter_settings),
        cmocka_unit_test(test_classify_hints),
        cmocka_unit_test(test_classify_certain_writes),
        cmocka_unit_test(test_classify_without_function_sets),
        cmocka_unit_test(test_classify_node_functions_need_no_sets_and_are_never_exempt),
        cmocka_unit_test(test_classify_exempt_and_qualified_entries),
        cmocka_unit_test(test_classify_identifiers_cut_at_63_bytes),
        cmocka_unit_test(test_classify_standard_conforming_strings_off),
        cmocka_unit_test(test_classify_backslash_quote_hides_insert_only_when_off),
        cmocka_unit_test(test_classify_default_writes_listed),
        cmocka_unit_test(test_classify_survives_deep_nesting),
        cmocka_unit_test(test_classify_never_fails),
    };

    return cmocka_run_group_tests(tests, setup_defaults, teardown_defaults);
}
