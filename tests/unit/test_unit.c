/*
 * tests/unit/test_unit.c - unit assembly: classification merge, rewriting statement names
 * to the shared pgr_<id>, and what unit_build sends first (Close/Parse/Sync) or skips
 * (no-op Parse) for a given server's statement set, with LRU eviction under a bound.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/frame.h"
#include "protocol/msg.h"
#include "router/classify.h"
#include "router/session.h"
#include "router/stmt.h"
#include "router/unit.h"

#define MAX_FRAMES 32

/* Parse bodies after the name: query NUL, int16 n, n int32 type OIDs. */
static const uint8_t body_a[] = { 'S', 'E', 'L', 'E', 'C', 'T', ' ', '$', '1', 0,
                                  0, 1, 0, 0, 0, 23 };
static const uint8_t body_b[] = { 'S', 'E', 'L', 'E', 'C', 'T', ' ', '2', 0, 0, 0 };
static const uint8_t body_c[] = { 'S', 'E', 'L', 'E', 'C', 'T', ' ', '3', 0, 0, 0 };
static const uint8_t body_d[] = { 'S', 'E', 'L', 'E', 'C', 'T', ' ', '4', 0, 0, 0 };
/* Bind body after portal and statement names: no formats, one text parameter "7",
 * no result formats. */
static const uint8_t bind_rest[] = { 0, 0, 0, 1, 0, 0, 0, 1, '7', 0, 0 };
/* Parse "" "SELECT 0" with no types: the part of the unit sent before rewriting began. */
static const uint8_t prefix_parse[] = { 'P', 0, 0, 0, 16, 0, 'S', 'E', 'L', 'E', 'C', 'T',
                                        ' ', '0', 0, 0, 0 };
static const uint8_t execute_msg[] = { 'E', 0, 0, 0, 9, 0, 0, 0, 0, 0 };
static const uint8_t sync_msg[] = { 'S', 0, 0, 0, 4 };
static const uint8_t noop_parse[] = { 'P', 0, 0, 0, 8, 0, 0, 0, 0 };

static void unit_setup(struct session_unit *u)
{
    memset(u, 0, sizeof(*u));
    msgbuf_init(&u->out);
    unit_reset(u);
}

/* Frame every message of b; each must be whole and nothing may trail. Returns the count. */
static size_t walk(const struct msgbuf *b, struct frame *f)
{
    size_t off = 0, n = 0;

    assert_int_equal(b->oom, 0);
    while (off < b->len) {
        assert_true(n < MAX_FRAMES);
        assert_int_equal(frame_next(b->data + off, b->len - off, 1u << 20, &f[n]), FRAME_OK);
        off += f[n].len;
        n++;
    }
    assert_int_equal(off, b->len);
    return n;
}

static void assert_frame_bytes(const struct frame *f, const uint8_t *msg, size_t len)
{
    assert_int_equal(f->len, len);
    assert_int_equal(f->type, msg[0]);
    assert_memory_equal(f->body, msg + FRAME_HDR, len - FRAME_HDR);
}

static void assert_frame_body(const struct frame *f, uint8_t type, const struct msgbuf *body)
{
    assert_int_equal(f->type, type);
    assert_int_equal(f->body_len, body->len);
    assert_memory_equal(f->body, body->data, body->len);
}

/* A Parse of pgr_<id> with body. */
static void assert_is_parse(const struct frame *f, uint64_t id, const uint8_t *body, size_t n)
{
    char name[STMT_SERVER_NAME_LEN];
    struct msgbuf w;

    msgbuf_init(&w);
    stmt_server_name(id, name);
    msgbuf_putstr(&w, name);
    msgbuf_put(&w, body, n);
    assert_frame_body(f, 'P', &w);
    msgbuf_free(&w);
}

/* A Close or Describe (type) of kind naming pgr_<id>. */
static void assert_is_target(const struct frame *f, uint8_t type, char kind, uint64_t id)
{
    char name[STMT_SERVER_NAME_LEN];
    struct msgbuf w;

    msgbuf_init(&w);
    stmt_server_name(id, name);
    msgbuf_put8(&w, (uint8_t)kind);
    msgbuf_putstr(&w, name);
    assert_frame_body(f, type, &w);
    msgbuf_free(&w);
}

/* A Bind of portal "" to statement pgr_<id> with bind_rest. */
static void assert_is_bind(const struct frame *f, uint64_t id)
{
    char name[STMT_SERVER_NAME_LEN];
    struct msgbuf w;

    msgbuf_init(&w);
    stmt_server_name(id, name);
    msgbuf_putstr(&w, "");
    msgbuf_putstr(&w, name);
    msgbuf_put(&w, bind_rest, sizeof(bind_rest));
    assert_frame_body(f, 'B', &w);
    msgbuf_free(&w);
}

/* prefix; Parse pgr_<a>; Bind to it; Describe 'S' of it; Execute; Sync. */
static void unit_parse_bind_describe(struct session_unit *u, uint64_t a)
{
    assert_int_equal(unit_rewrite_begin(u, prefix_parse, sizeof(prefix_parse)), 0);
    unit_append_parse(u, a, body_a, sizeof(body_a));
    unit_append_bind(u, "", a, "s1", bind_rest, sizeof(bind_rest));
    unit_append_target(u, 'D', 'S', a, "s1");
    unit_append(u, execute_msg, sizeof(execute_msg));
    unit_append(u, sync_msg, sizeof(sync_msg));
    assert_int_equal(u->out.oom, 0);
}

/* Bind pgr_<id>; Execute; Sync: a unit that only uses a statement prepared earlier. */
static void unit_bind_only(struct session_unit *u, uint64_t id)
{
    assert_int_equal(unit_rewrite_begin(u, NULL, 0), 0);
    unit_append_bind(u, "", id, "s", bind_rest, sizeof(bind_rest));
    unit_append(u, execute_msg, sizeof(execute_msg));
    unit_append(u, sync_msg, sizeof(sync_msg));
}

static void test_unit_rewrite_copies_prefix_and_names_statements_pgr_id(void **state)
{
    struct session_unit u;
    struct frame f[MAX_FRAMES];
    uint64_t a = stmt_id(body_a, sizeof(body_a));

    (void)state;
    unit_setup(&u);
    unit_parse_bind_describe(&u, a);
    assert_int_equal(u.rewrite, 1);
    assert_int_equal(walk(&u.out, f), 6);
    assert_frame_bytes(&f[0], prefix_parse, sizeof(prefix_parse));
    assert_is_parse(&f[1], a, body_a, sizeof(body_a));
    assert_is_bind(&f[2], a);
    assert_is_target(&f[3], 'D', 'S', a);
    assert_frame_bytes(&f[4], execute_msg, sizeof(execute_msg));
    assert_frame_bytes(&f[5], sync_msg, sizeof(sync_msg));
    unit_free(&u);
}

static void test_unit_build_on_empty_server_closes_first_and_sends_the_parse(void **state)
{
    struct session_unit u;
    struct srvstmt ss;
    struct stmt_table t;
    struct msgbuf pre, out;
    struct frame f[MAX_FRAMES];
    uint64_t a = stmt_id(body_a, sizeof(body_a));

    (void)state;
    unit_setup(&u);
    srvstmt_init(&ss);
    stmt_table_init(&t);
    msgbuf_init(&pre);
    msgbuf_init(&out);
    unit_parse_bind_describe(&u, a);

    assert_int_equal(unit_build(&u, &ss, 0, &t, &pre, &out), 0);
    /* pre: Close 'S' pgr_<a> (the server may hold a stale one), then Sync. */
    assert_int_equal(walk(&pre, f), 2);
    assert_is_target(&f[0], 'C', 'S', a);
    assert_frame_bytes(&f[1], sync_msg, sizeof(sync_msg));
    /* out: the client's unit with the Parse under its server-side name. */
    assert_int_equal(walk(&out, f), 6);
    assert_frame_bytes(&f[0], prefix_parse, sizeof(prefix_parse));
    assert_is_parse(&f[1], a, body_a, sizeof(body_a));
    assert_is_bind(&f[2], a);
    assert_is_target(&f[3], 'D', 'S', a);
    assert_frame_bytes(&f[4], execute_msg, sizeof(execute_msg));
    assert_frame_bytes(&f[5], sync_msg, sizeof(sync_msg));
    assert_int_equal(out.len, u.out.len);
    assert_memory_equal(out.data, u.out.data, out.len);
    /* The server now holds it. */
    assert_int_equal(ss.n, 1);
    assert_int_equal(srvstmt_has(&ss, a), 1);

    msgbuf_free(&pre);
    msgbuf_free(&out);
    stmt_table_free(&t);
    srvstmt_free(&ss);
    unit_free(&u);
}

static void test_unit_build_again_replaces_held_parse_with_noop_and_pre_is_empty(void **state)
{
    struct session_unit u;
    struct srvstmt ss;
    struct stmt_table t;
    struct msgbuf pre, out;
    struct frame f[MAX_FRAMES];
    uint64_t a = stmt_id(body_a, sizeof(body_a));

    (void)state;
    unit_setup(&u);
    srvstmt_init(&ss);
    stmt_table_init(&t);
    msgbuf_init(&pre);
    msgbuf_init(&out);
    unit_parse_bind_describe(&u, a);
    assert_int_equal(unit_build(&u, &ss, 0, &t, &pre, &out), 0);
    pre.len = 0;
    out.len = 0;

    assert_int_equal(unit_build(&u, &ss, 0, &t, &pre, &out), 0);
    assert_int_equal(pre.len, 0);
    assert_int_equal(walk(&out, f), 6);
    assert_frame_bytes(&f[0], prefix_parse, sizeof(prefix_parse));
    assert_int_equal(f[1].len, sizeof(noop_parse));
    assert_memory_equal(out.data + sizeof(prefix_parse), noop_parse, sizeof(noop_parse));
    assert_is_bind(&f[2], a);
    assert_is_target(&f[3], 'D', 'S', a);
    assert_frame_bytes(&f[4], execute_msg, sizeof(execute_msg));
    assert_frame_bytes(&f[5], sync_msg, sizeof(sync_msg));
    assert_int_equal(ss.n, 1);

    msgbuf_free(&pre);
    msgbuf_free(&out);
    stmt_table_free(&t);
    srvstmt_free(&ss);
    unit_free(&u);
}

static void test_unit_build_prepares_bound_statement_server_lacks_from_client_table(
    void **state)
{
    struct session_unit u;
    struct srvstmt ss;
    struct stmt_table t;
    struct msgbuf pre, out;
    struct frame f[MAX_FRAMES];
    struct stmt *e;
    uint8_t *body = malloc(sizeof(body_b));

    (void)state;
    assert_non_null(body);
    memcpy(body, body_b, sizeof(body_b));
    unit_setup(&u);
    srvstmt_init(&ss);
    stmt_table_init(&t);
    msgbuf_init(&pre);
    msgbuf_init(&out);
    e = stmt_put(&t, "s", body, sizeof(body_b), 0, 0);
    assert_non_null(e);
    /* The Parse must come from the table's copy, not the caller's buffer. */
    memset(body, 'x', sizeof(body_b));
    free(body);
    unit_bind_only(&u, e->id);

    assert_int_equal(unit_build(&u, &ss, 0, &t, &pre, &out), 0);
    assert_int_equal(walk(&pre, f), 2);
    assert_is_parse(&f[0], e->id, body_b, sizeof(body_b));
    assert_frame_bytes(&f[1], sync_msg, sizeof(sync_msg));
    assert_int_equal(walk(&out, f), 3);
    assert_is_bind(&f[0], e->id);
    assert_frame_bytes(&f[1], execute_msg, sizeof(execute_msg));
    assert_frame_bytes(&f[2], sync_msg, sizeof(sync_msg));
    assert_int_equal(srvstmt_has(&ss, e->id), 1);

    /* Now the server has it: nothing to send first. */
    pre.len = 0;
    out.len = 0;
    assert_int_equal(unit_build(&u, &ss, 0, &t, &pre, &out), 0);
    assert_int_equal(pre.len, 0);
    assert_int_equal(walk(&out, f), 3);
    assert_is_bind(&f[0], e->id);

    msgbuf_free(&pre);
    msgbuf_free(&out);
    stmt_table_free(&t);
    srvstmt_free(&ss);
    unit_free(&u);
}

static void test_unit_build_prepares_described_statement_server_lacks(void **state)
{
    struct session_unit u;
    struct srvstmt ss;
    struct stmt_table t;
    struct msgbuf pre, out;
    struct frame f[MAX_FRAMES];
    struct stmt *e;

    (void)state;
    unit_setup(&u);
    srvstmt_init(&ss);
    stmt_table_init(&t);
    msgbuf_init(&pre);
    msgbuf_init(&out);
    e = stmt_put(&t, "s", body_c, sizeof(body_c), 0, 0);
    assert_non_null(e);
    assert_int_equal(unit_rewrite_begin(&u, NULL, 0), 0);
    unit_append_target(&u, 'D', 'S', e->id, "s");
    unit_append(&u, sync_msg, sizeof(sync_msg));

    assert_int_equal(unit_build(&u, &ss, 0, &t, &pre, &out), 0);
    assert_int_equal(walk(&pre, f), 2);
    assert_is_parse(&f[0], e->id, body_c, sizeof(body_c));
    assert_frame_bytes(&f[1], sync_msg, sizeof(sync_msg));
    assert_int_equal(walk(&out, f), 2);
    assert_is_target(&f[0], 'D', 'S', e->id);
    assert_int_equal(srvstmt_has(&ss, e->id), 1);

    msgbuf_free(&pre);
    msgbuf_free(&out);
    stmt_table_free(&t);
    srvstmt_free(&ss);
    unit_free(&u);
}

static void test_unit_build_close_of_a_statement_prepares_nothing_first(void **state)
{
    struct session_unit u;
    struct srvstmt ss;
    struct stmt_table t;
    struct msgbuf pre, out;
    struct frame f[MAX_FRAMES];
    struct stmt *e;

    (void)state;
    unit_setup(&u);
    srvstmt_init(&ss);
    stmt_table_init(&t);
    msgbuf_init(&pre);
    msgbuf_init(&out);
    e = stmt_put(&t, "s", body_c, sizeof(body_c), 0, 0);
    assert_non_null(e);
    assert_int_equal(unit_rewrite_begin(&u, NULL, 0), 0);
    unit_append_target(&u, 'C', 'S', e->id, "s");
    unit_append(&u, sync_msg, sizeof(sync_msg));

    assert_int_equal(unit_build(&u, &ss, 0, &t, &pre, &out), 0);
    assert_int_equal(pre.len, 0);
    assert_int_equal(walk(&out, f), 2);
    assert_is_target(&f[0], 'C', 'S', e->id);
    assert_int_equal(srvstmt_has(&ss, e->id), 0);

    msgbuf_free(&pre);
    msgbuf_free(&out);
    stmt_table_free(&t);
    srvstmt_free(&ss);
    unit_free(&u);
}

static void test_unit_build_bind_of_statement_missing_from_table_prepares_nothing(
    void **state)
{
    struct session_unit u;
    struct srvstmt ss;
    struct stmt_table t;
    struct msgbuf pre, out;
    struct frame f[MAX_FRAMES];
    uint64_t gone = stmt_id(body_d, sizeof(body_d));

    (void)state;
    unit_setup(&u);
    srvstmt_init(&ss);
    stmt_table_init(&t);
    msgbuf_init(&pre);
    msgbuf_init(&out);
    assert_non_null(stmt_put(&t, "other", body_c, sizeof(body_c), 0, 0));
    unit_bind_only(&u, gone);

    assert_int_equal(unit_build(&u, &ss, 0, &t, &pre, &out), 0);
    assert_int_equal(pre.len, 0);
    assert_int_equal(walk(&out, f), 3);
    assert_is_bind(&f[0], gone);
    assert_int_equal(ss.n, 0);

    msgbuf_free(&pre);
    msgbuf_free(&out);
    stmt_table_free(&t);
    srvstmt_free(&ss);
    unit_free(&u);
}

static void test_unit_plain_names_are_kept_as_the_client_wrote_them(void **state)
{
    static const uint8_t bind_unnamed[] = { 'B', 0, 0, 0, 19, 'p', '1', 0, 0,
                                            0, 0, 0, 1, 0, 0, 0, 1, '7', 0, 0 };
    static const uint8_t describe_portal[] = { 'D', 0, 0, 0, 8, 'P', 'p', '1', 0 };
    struct session_unit u;
    struct srvstmt ss;
    struct stmt_table t;
    struct msgbuf pre, out;
    struct frame f[MAX_FRAMES];

    (void)state;
    unit_setup(&u);
    srvstmt_init(&ss);
    stmt_table_init(&t);
    msgbuf_init(&pre);
    msgbuf_init(&out);
    assert_int_equal(unit_rewrite_begin(&u, prefix_parse, sizeof(prefix_parse)), 0);
    unit_append_bind(&u, "p1", 0, "", bind_rest, sizeof(bind_rest));
    unit_append_target(&u, 'D', 'P', 0, "p1");
    unit_append(&u, sync_msg, sizeof(sync_msg));

    assert_int_equal(unit_build(&u, &ss, 0, &t, &pre, &out), 0);
    assert_int_equal(pre.len, 0);
    assert_int_equal(walk(&out, f), 4);
    assert_frame_bytes(&f[0], prefix_parse, sizeof(prefix_parse));
    assert_frame_bytes(&f[1], bind_unnamed, sizeof(bind_unnamed));
    assert_frame_bytes(&f[2], describe_portal, sizeof(describe_portal));
    assert_frame_bytes(&f[3], sync_msg, sizeof(sync_msg));
    assert_int_equal(ss.n, 0);

    msgbuf_free(&pre);
    msgbuf_free(&out);
    stmt_table_free(&t);
    srvstmt_free(&ss);
    unit_free(&u);
}

static void test_unit_build_skips_held_parse_and_sends_missing_one(void **state)
{
    struct session_unit u;
    struct srvstmt ss;
    struct stmt_table t;
    struct msgbuf pre, out;
    struct frame f[MAX_FRAMES];
    uint64_t a = stmt_id(body_a, sizeof(body_a));
    uint64_t b = stmt_id(body_b, sizeof(body_b));

    (void)state;
    unit_setup(&u);
    srvstmt_init(&ss);
    stmt_table_init(&t);
    msgbuf_init(&pre);
    msgbuf_init(&out);
    assert_int_equal(srvstmt_add(&ss, b), 0);
    assert_int_equal(unit_rewrite_begin(&u, NULL, 0), 0);
    unit_append_parse(&u, a, body_a, sizeof(body_a));
    unit_append_parse(&u, b, body_b, sizeof(body_b));
    unit_append(&u, sync_msg, sizeof(sync_msg));

    assert_int_equal(unit_build(&u, &ss, 0, &t, &pre, &out), 0);
    assert_int_equal(walk(&pre, f), 2);
    assert_is_target(&f[0], 'C', 'S', a);
    assert_frame_bytes(&f[1], sync_msg, sizeof(sync_msg));
    assert_int_equal(walk(&out, f), 3);
    assert_is_parse(&f[0], a, body_a, sizeof(body_a));
    assert_frame_bytes(&f[1], noop_parse, sizeof(noop_parse));
    assert_frame_bytes(&f[2], sync_msg, sizeof(sync_msg));
    assert_int_equal(ss.n, 2);
    assert_int_equal(srvstmt_has(&ss, a), 1);

    msgbuf_free(&pre);
    msgbuf_free(&out);
    stmt_table_free(&t);
    srvstmt_free(&ss);
    unit_free(&u);
}

static void test_unit_build_at_max_stmts_evicts_least_recently_used(void **state)
{
    struct session_unit u;
    struct srvstmt ss;
    struct stmt_table t;
    struct msgbuf pre, out;
    struct frame f[MAX_FRAMES];
    uint64_t a = stmt_id(body_a, sizeof(body_a));
    uint64_t c = stmt_id(body_c, sizeof(body_c));
    uint64_t d = stmt_id(body_d, sizeof(body_d));

    (void)state;
    unit_setup(&u);
    srvstmt_init(&ss);
    stmt_table_init(&t);
    msgbuf_init(&pre);
    msgbuf_init(&out);
    /* d added first but used since: c is the least recently used. */
    assert_int_equal(srvstmt_add(&ss, d), 0);
    assert_int_equal(srvstmt_add(&ss, c), 0);
    assert_int_equal(srvstmt_has(&ss, d), 1);
    unit_parse_bind_describe(&u, a);

    assert_int_equal(unit_build(&u, &ss, 2, &t, &pre, &out), 0);
    assert_int_equal(walk(&pre, f), 3);
    assert_is_target(&f[0], 'C', 'S', c);
    assert_is_target(&f[1], 'C', 'S', a);
    assert_frame_bytes(&f[2], sync_msg, sizeof(sync_msg));
    assert_int_equal(walk(&out, f), 6);
    assert_is_parse(&f[1], a, body_a, sizeof(body_a));
    assert_int_equal(ss.n, 2);
    assert_int_equal(srvstmt_has(&ss, c), 0);
    assert_int_equal(srvstmt_has(&ss, d), 1);
    assert_int_equal(srvstmt_has(&ss, a), 1);

    msgbuf_free(&pre);
    msgbuf_free(&out);
    stmt_table_free(&t);
    srvstmt_free(&ss);
    unit_free(&u);
}

static void test_unit_build_evicts_in_lru_order_for_each_new_statement(void **state)
{
    struct session_unit u;
    struct srvstmt ss;
    struct stmt_table t;
    struct msgbuf pre, out;
    struct frame f[MAX_FRAMES];
    uint64_t a = stmt_id(body_a, sizeof(body_a));
    uint64_t b = stmt_id(body_b, sizeof(body_b));
    uint64_t c = stmt_id(body_c, sizeof(body_c));
    uint64_t d = stmt_id(body_d, sizeof(body_d));

    (void)state;
    unit_setup(&u);
    srvstmt_init(&ss);
    stmt_table_init(&t);
    msgbuf_init(&pre);
    msgbuf_init(&out);
    assert_int_equal(srvstmt_add(&ss, c), 0);
    assert_int_equal(srvstmt_add(&ss, d), 0);
    assert_int_equal(unit_rewrite_begin(&u, NULL, 0), 0);
    unit_append_parse(&u, a, body_a, sizeof(body_a));
    unit_append_parse(&u, b, body_b, sizeof(body_b));
    unit_append(&u, sync_msg, sizeof(sync_msg));

    assert_int_equal(unit_build(&u, &ss, 2, &t, &pre, &out), 0);
    assert_int_equal(walk(&pre, f), 5);
    assert_is_target(&f[0], 'C', 'S', c);
    assert_is_target(&f[1], 'C', 'S', a);
    assert_is_target(&f[2], 'C', 'S', d);
    assert_is_target(&f[3], 'C', 'S', b);
    assert_frame_bytes(&f[4], sync_msg, sizeof(sync_msg));
    assert_int_equal(walk(&out, f), 3);
    assert_is_parse(&f[0], a, body_a, sizeof(body_a));
    assert_is_parse(&f[1], b, body_b, sizeof(body_b));
    assert_int_equal(ss.n, 2);
    assert_int_equal(srvstmt_has(&ss, a), 1);
    assert_int_equal(srvstmt_has(&ss, b), 1);

    msgbuf_free(&pre);
    msgbuf_free(&out);
    stmt_table_free(&t);
    srvstmt_free(&ss);
    unit_free(&u);
}

static void test_unit_build_never_evicts_a_statement_the_unit_uses(void **state)
{
    struct session_unit u;
    struct srvstmt ss;
    struct stmt_table t;
    struct msgbuf pre, out;
    struct frame f[MAX_FRAMES];
    struct stmt *ea, *ec;
    uint64_t b = stmt_id(body_b, sizeof(body_b));

    (void)state;
    unit_setup(&u);
    srvstmt_init(&ss);
    stmt_table_init(&t);
    msgbuf_init(&pre);
    msgbuf_init(&out);
    ea = stmt_put(&t, "a", body_a, sizeof(body_a), 0, 0);
    ec = stmt_put(&t, "c", body_c, sizeof(body_c), 0, 0);
    assert_non_null(ea);
    assert_non_null(ec);
    /* a is the least recently used, but the unit binds it after c, which is missing. */
    assert_int_equal(srvstmt_add(&ss, ea->id), 0);
    assert_int_equal(srvstmt_add(&ss, b), 0);
    assert_int_equal(unit_rewrite_begin(&u, NULL, 0), 0);
    unit_append_bind(&u, "", ec->id, "c", bind_rest, sizeof(bind_rest));
    unit_append_bind(&u, "", ea->id, "a", bind_rest, sizeof(bind_rest));
    unit_append(&u, sync_msg, sizeof(sync_msg));

    assert_int_equal(unit_build(&u, &ss, 2, &t, &pre, &out), 0);
    assert_int_equal(walk(&pre, f), 3);
    assert_is_target(&f[0], 'C', 'S', b);
    assert_is_parse(&f[1], ec->id, body_c, sizeof(body_c));
    assert_frame_bytes(&f[2], sync_msg, sizeof(sync_msg));
    assert_int_equal(walk(&out, f), 3);
    assert_is_bind(&f[0], ec->id);
    assert_is_bind(&f[1], ea->id);
    assert_int_equal(srvstmt_has(&ss, ea->id), 1);
    assert_int_equal(srvstmt_has(&ss, ec->id), 1);
    assert_int_equal(srvstmt_has(&ss, b), 0);

    msgbuf_free(&pre);
    msgbuf_free(&out);
    stmt_table_free(&t);
    srvstmt_free(&ss);
    unit_free(&u);
}

static void test_unit_build_exceeds_bound_rather_than_evict_statements_in_use(void **state)
{
    struct session_unit u;
    struct srvstmt ss;
    struct stmt_table t;
    struct msgbuf pre, out;
    struct frame f[MAX_FRAMES];
    uint64_t a = stmt_id(body_a, sizeof(body_a));
    uint64_t c = stmt_id(body_c, sizeof(body_c));
    uint64_t d = stmt_id(body_d, sizeof(body_d));

    (void)state;
    unit_setup(&u);
    srvstmt_init(&ss);
    stmt_table_init(&t);
    msgbuf_init(&pre);
    msgbuf_init(&out);
    assert_int_equal(srvstmt_add(&ss, c), 0);
    assert_int_equal(srvstmt_add(&ss, d), 0);
    /* Uses both held statements and parses a third: neither held one may go. */
    assert_int_equal(unit_rewrite_begin(&u, NULL, 0), 0);
    unit_append_bind(&u, "", c, "c", bind_rest, sizeof(bind_rest));
    unit_append_target(&u, 'D', 'S', d, "d");
    unit_append_parse(&u, a, body_a, sizeof(body_a));
    unit_append(&u, sync_msg, sizeof(sync_msg));

    assert_int_equal(unit_build(&u, &ss, 2, &t, &pre, &out), 0);
    assert_int_equal(walk(&pre, f), 2);
    assert_is_target(&f[0], 'C', 'S', a);
    assert_frame_bytes(&f[1], sync_msg, sizeof(sync_msg));
    assert_int_equal(walk(&out, f), 4);
    assert_is_parse(&f[2], a, body_a, sizeof(body_a));
    assert_int_equal(srvstmt_has(&ss, c), 1);
    assert_int_equal(srvstmt_has(&ss, d), 1);
    assert_int_equal(srvstmt_has(&ss, a), 1);

    msgbuf_free(&pre);
    msgbuf_free(&out);
    stmt_table_free(&t);
    srvstmt_free(&ss);
    unit_free(&u);
}

static void test_unit_reset_forgets_rewritten_messages_and_statements(void **state)
{
    struct session_unit u;
    struct srvstmt ss;
    struct stmt_table t;
    struct msgbuf pre, out;
    struct stmt *e;

    (void)state;
    unit_setup(&u);
    srvstmt_init(&ss);
    stmt_table_init(&t);
    msgbuf_init(&pre);
    msgbuf_init(&out);
    e = stmt_put(&t, "b", body_b, sizeof(body_b), 0, 0);
    assert_non_null(e);
    unit_parse_bind_describe(&u, stmt_id(body_a, sizeof(body_a)));
    unit_append_bind(&u, "", e->id, "b", bind_rest, sizeof(bind_rest));
    unit_reset(&u);
    assert_int_equal(u.rewrite, 0);
    assert_int_equal(u.out.len, 0);
    assert_int_equal(u.have_cr, 0);

    assert_int_equal(unit_build(&u, &ss, 0, &t, &pre, &out), 0);
    assert_int_equal(pre.len, 0);
    assert_int_equal(out.len, 0);
    assert_int_equal(ss.n, 0);

    msgbuf_free(&pre);
    msgbuf_free(&out);
    stmt_table_free(&t);
    srvstmt_free(&ss);
    unit_free(&u);
}

static void test_unit_merge_ors_write_and_flags_and_keeps_first_write_reason(void **state)
{
    struct session_unit u;
    struct classify_result rd, w1, w2;

    (void)state;
    memset(&rd, 0, sizeof(rd));
    memset(&w1, 0, sizeof(w1));
    memset(&w2, 0, sizeof(w2));
    rd.reason = "read";
    rd.flags = CLASSIFY_F_SESSION;
    rd.n_statements = 1;
    w1.write = 1;
    w1.reason = "INSERT";
    w1.flags = CLASSIFY_F_CURSOR;
    w1.n_statements = 1;
    w2.write = 1;
    w2.reason = "write function";
    w2.flags = CLASSIFY_F_STICKY;
    w2.n_statements = 2;

    unit_setup(&u);
    unit_merge(&u, &rd);
    assert_int_equal(u.have_cr, 1);
    assert_int_equal(u.cr.write, 0);
    assert_string_equal(u.cr.reason, "read");
    unit_merge(&u, &w1);
    unit_merge(&u, &rd);
    unit_merge(&u, &w2);
    assert_int_equal(u.cr.write, 1);
    assert_string_equal(u.cr.reason, "INSERT");
    assert_int_equal(u.cr.flags, CLASSIFY_F_SESSION | CLASSIFY_F_CURSOR | CLASSIFY_F_STICKY);
    assert_int_equal(u.cr.n_statements, 5);

    /* A unit that starts with a write keeps that reason through later reads. */
    unit_reset(&u);
    assert_int_equal(u.have_cr, 0);
    unit_merge(&u, &w2);
    unit_merge(&u, &rd);
    unit_merge(&u, &w1);
    assert_int_equal(u.cr.write, 1);
    assert_string_equal(u.cr.reason, "write function");
    assert_int_equal(u.cr.flags, CLASSIFY_F_SESSION | CLASSIFY_F_CURSOR | CLASSIFY_F_STICKY);
    unit_free(&u);
}

static void test_unit_merge_primary_hint_wins_over_replica(void **state)
{
    struct session_unit u;
    struct classify_result rep, pri;

    (void)state;
    memset(&rep, 0, sizeof(rep));
    memset(&pri, 0, sizeof(pri));
    rep.reason = "read";
    rep.hint = CLASSIFY_ROLE_REPLICA;
    pri.reason = "read";
    pri.hint = CLASSIFY_ROLE_PRIMARY;
    unit_setup(&u);
    unit_merge(&u, &pri);
    unit_merge(&u, &rep);
    assert_int_equal(u.cr.hint, CLASSIFY_ROLE_PRIMARY);
    unit_reset(&u);
    unit_merge(&u, &rep);
    unit_merge(&u, &pri);
    assert_int_equal(u.cr.hint, CLASSIFY_ROLE_PRIMARY);
    unit_free(&u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unit_rewrite_copies_prefix_and_names_statements_pgr_id),
        cmocka_unit_test(test_unit_build_on_empty_server_closes_first_and_sends_the_parse),
        cmocka_unit_test(test_unit_build_again_replaces_held_parse_with_noop_and_pre_is_empty),
        cmocka_unit_test(test_unit_build_prepares_bound_statement_server_lacks_from_client_table),
        cmocka_unit_test(test_unit_build_prepares_described_statement_server_lacks),
        cmocka_unit_test(test_unit_build_close_of_a_statement_prepares_nothing_first),
        cmocka_unit_test(test_unit_build_bind_of_statement_missing_from_table_prepares_nothing),
        cmocka_unit_test(test_unit_plain_names_are_kept_as_the_client_wrote_them),
        cmocka_unit_test(test_unit_build_skips_held_parse_and_sends_missing_one),
        cmocka_unit_test(test_unit_build_at_max_stmts_evicts_least_recently_used),
        cmocka_unit_test(test_unit_build_evicts_in_lru_order_for_each_new_statement),
        cmocka_unit_test(test_unit_build_never_evicts_a_statement_the_unit_uses),
        cmocka_unit_test(test_unit_build_exceeds_bound_rather_than_evict_statements_in_use),
        cmocka_unit_test(test_unit_reset_forgets_rewritten_messages_and_statements),
        cmocka_unit_test(test_unit_merge_ors_write_and_flags_and_keeps_first_write_reason),
        cmocka_unit_test(test_unit_merge_primary_hint_wins_over_replica),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
