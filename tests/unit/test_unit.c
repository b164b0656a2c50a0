/*
 * tests/unit/test_unit.c - unit assembly: classification merge, rewriting statement names
 * to the shared pgr_<id>, what unit_build adds for a given server's statement set (Close
 * and Parse of what it lacks, a Close of nothing for a Parse it has, LRU eviction under a
 * bound) with what becomes of their answers, and unit_settle undoing what never ran.
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
#include "router/sql/classify.h"
#include "router/session/session.h"
#include "router/session/stmt.h"
#include "router/session/unit.h"

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
/* Close 'S' of a name the server never has: stands for a Parse the server need not run. */
static const uint8_t close_none[] = { 'C', 0, 0, 0, 14, 'S', 'p', 'g', 'r', '_', 'n', 'o',
                                      'n', 'e', 0 };
static const uint8_t close_closed[] = { 'C', 0, 0, 0, 16, 'S', 'p', 'g', 'r', '_', 'c', 'l',
                                        'o', 's', 'e', 'd', 0 };
static const uint8_t close_dup[] = { 'C', 0, 0, 0, 13, 'S', 'p', 'g', 'r', '_', 'd', 'u',
                                     'p', 0 };
static const uint8_t parse_dup[] = { 'P', 0, 0, 0, 15, 'p', 'g', 'r', '_', 'd', 'u', 'p', 0,
                                     0, 0, 0 };

static void unit_setup(struct session_unit *u)
{
    memset(u, 0, sizeof(*u));
    msgbuf_init(&u->out);
    unit_reset(u);
}

/* The unit's answer actions after a build: n pairs of (ord, act). */
static void assert_acts(const struct session_unit *u, size_t n, const size_t *ords,
                        const enum backend_pc *acts)
{
    assert_int_equal(u->n_acts, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(u->acts[i].ord, ords[i]);
        assert_int_equal(u->acts[i].act, acts[i]);
    }
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
    unit_append_parse(u, a, body_a, sizeof(body_a), SIZE_MAX);
    unit_append_bind(u, "", a, "s1", bind_rest, sizeof(bind_rest));
    unit_append_describe(u, a, "s1");
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

struct fix {
    struct session_unit u;
    struct srvstmt ss;
    struct stmt_table t;
    struct msgbuf out;
    struct frame f[MAX_FRAMES];
};

static void fix_init(struct fix *x)
{
    unit_setup(&x->u);
    srvstmt_init(&x->ss);
    stmt_table_init(&x->t);
    msgbuf_init(&x->out);
}

static void fix_free(struct fix *x)
{
    msgbuf_free(&x->out);
    stmt_table_free(&x->t);
    srvstmt_free(&x->ss);
    unit_free(&x->u);
}

/* unit_build for a fresh unit on the server (ords from 0); the frames of what it sends. */
static size_t fix_build(struct fix *x, unsigned max_stmts)
{
    x->out.len = 0;
    x->u.pc_total = 0;
    x->u.n_srvp = 0;
    assert_int_equal(unit_build(&x->u, &x->ss, max_stmts, &x->t, &x->out), 0);
    return walk(&x->out, x->f);
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

static void test_unit_build_on_empty_server_closes_first_and_drops_that_answer(void **state)
{
    static const size_t ords[] = { 1 };
    static const enum backend_pc acts[] = { BACKEND_PC_DROP };
    struct fix x;
    uint64_t a = stmt_id(body_a, sizeof(body_a));

    (void)state;
    fix_init(&x);
    unit_parse_bind_describe(&x.u, a);
    assert_int_equal(fix_build(&x, 0), 7);
    /* The prefix's Parse is the unit's first (ord 0); our Close (ord 1) is not relayed. */
    assert_frame_bytes(&x.f[0], prefix_parse, sizeof(prefix_parse));
    assert_is_target(&x.f[1], 'C', 'S', a);
    assert_is_parse(&x.f[2], a, body_a, sizeof(body_a));
    assert_is_bind(&x.f[3], a);
    assert_is_target(&x.f[4], 'D', 'S', a);
    assert_frame_bytes(&x.f[5], execute_msg, sizeof(execute_msg));
    assert_frame_bytes(&x.f[6], sync_msg, sizeof(sync_msg));
    assert_acts(&x.u, 1, ords, acts);
    assert_int_equal(x.u.pc_total, 3);
    assert_int_equal(x.ss.n, 1);
    assert_int_equal(srvstmt_has(&x.ss, a), 1);
    fix_free(&x);
}

static void test_unit_build_held_parse_becomes_close_of_nothing_answered_as_parse(void **state)
{
    static const size_t ords[] = { 1 };
    static const enum backend_pc acts[] = { BACKEND_PC_AS_PARSE };
    struct fix x;
    uint64_t a = stmt_id(body_a, sizeof(body_a));

    (void)state;
    fix_init(&x);
    unit_parse_bind_describe(&x.u, a);
    assert_int_equal(fix_build(&x, 0), 7);
    /* Again on the same server: the unnamed statement of the prefix is left alone. */
    assert_int_equal(fix_build(&x, 0), 6);
    assert_frame_bytes(&x.f[0], prefix_parse, sizeof(prefix_parse));
    assert_frame_bytes(&x.f[1], close_none, sizeof(close_none));
    assert_is_bind(&x.f[2], a);
    assert_is_target(&x.f[3], 'D', 'S', a);
    assert_frame_bytes(&x.f[4], execute_msg, sizeof(execute_msg));
    assert_frame_bytes(&x.f[5], sync_msg, sizeof(sync_msg));
    assert_acts(&x.u, 1, ords, acts);
    assert_int_equal(x.ss.n, 1);
    fix_free(&x);
}

static void test_unit_build_prepares_bound_statement_server_lacks_from_client_table(
    void **state)
{
    static const size_t ords[] = { 0, 1 };
    static const enum backend_pc acts[] = { BACKEND_PC_DROP, BACKEND_PC_DROP };
    struct fix x;
    struct stmt *e;
    uint8_t *body = malloc(sizeof(body_b));

    (void)state;
    assert_non_null(body);
    memcpy(body, body_b, sizeof(body_b));
    fix_init(&x);
    e = stmt_put(&x.t, "s", body, sizeof(body_b), 0, 0);
    assert_non_null(e);
    /* The Parse must come from the table's copy, not the caller's buffer. */
    memset(body, 'x', sizeof(body_b));
    free(body);
    unit_bind_only(&x.u, e->id);

    assert_int_equal(fix_build(&x, 0), 5);
    assert_is_target(&x.f[0], 'C', 'S', e->id);
    assert_is_parse(&x.f[1], e->id, body_b, sizeof(body_b));
    assert_is_bind(&x.f[2], e->id);
    assert_frame_bytes(&x.f[3], execute_msg, sizeof(execute_msg));
    assert_frame_bytes(&x.f[4], sync_msg, sizeof(sync_msg));
    assert_acts(&x.u, 2, ords, acts);
    assert_int_equal(srvstmt_has(&x.ss, e->id), 1);

    /* Now the server has it: nothing to send first. */
    assert_int_equal(fix_build(&x, 0), 3);
    assert_is_bind(&x.f[0], e->id);
    assert_acts(&x.u, 0, NULL, NULL);
    fix_free(&x);
}

static void test_unit_build_prepares_described_statement_server_lacks(void **state)
{
    struct fix x;
    struct stmt *e;

    (void)state;
    fix_init(&x);
    e = stmt_put(&x.t, "s", body_c, sizeof(body_c), 0, 0);
    assert_non_null(e);
    assert_int_equal(unit_rewrite_begin(&x.u, NULL, 0), 0);
    unit_append_describe(&x.u, e->id, "s");
    unit_append(&x.u, sync_msg, sizeof(sync_msg));

    assert_int_equal(fix_build(&x, 0), 4);
    assert_is_target(&x.f[0], 'C', 'S', e->id);
    assert_is_parse(&x.f[1], e->id, body_c, sizeof(body_c));
    assert_is_target(&x.f[2], 'D', 'S', e->id);
    assert_int_equal(x.u.n_acts, 2);
    assert_int_equal(srvstmt_has(&x.ss, e->id), 1);
    fix_free(&x);
}

static void test_unit_build_close_of_a_statement_closes_a_name_nobody_has(void **state)
{
    struct fix x;
    struct stmt *e;

    (void)state;
    fix_init(&x);
    e = stmt_put(&x.t, "s", body_c, sizeof(body_c), 0, 0);
    assert_non_null(e);
    assert_int_equal(srvstmt_add(&x.ss, e->id), 0);
    assert_int_equal(unit_rewrite_begin(&x.u, NULL, 0), 0);
    unit_append_close(&x.u, unit_record(&x.u, NULL, stmt_take(&x.t, "s")));
    unit_append(&x.u, sync_msg, sizeof(sync_msg));
    assert_null(stmt_get(&x.t, "s"));

    assert_int_equal(fix_build(&x, 0), 2);
    assert_frame_bytes(&x.f[0], close_closed, sizeof(close_closed));
    assert_acts(&x.u, 0, NULL, NULL);
    /* The server's statement stays for other clients. */
    assert_int_equal(x.ss.n, 1);
    assert_int_equal(x.u.recs[0].ord, 0);
    fix_free(&x);
}

static void test_unit_build_bind_of_statement_missing_from_table_prepares_nothing(
    void **state)
{
    struct fix x;
    uint64_t gone = stmt_id(body_d, sizeof(body_d));

    (void)state;
    fix_init(&x);
    assert_non_null(stmt_put(&x.t, "other", body_c, sizeof(body_c), 0, 0));
    unit_bind_only(&x.u, gone);

    assert_int_equal(fix_build(&x, 0), 3);
    assert_is_bind(&x.f[0], gone);
    assert_int_equal(x.ss.n, 0);
    fix_free(&x);
}

static void test_unit_plain_names_are_kept_as_the_client_wrote_them(void **state)
{
    static const uint8_t bind_unnamed[] = { 'B', 0, 0, 0, 19, 'p', '1', 0, 0,
                                            0, 0, 0, 1, 0, 0, 0, 1, '7', 0, 0 };
    static const uint8_t describe_unnamed[] = { 'D', 0, 0, 0, 6, 'S', 0 };
    struct fix x;

    (void)state;
    fix_init(&x);
    assert_int_equal(unit_rewrite_begin(&x.u, prefix_parse, sizeof(prefix_parse)), 0);
    unit_append_bind(&x.u, "p1", 0, "", bind_rest, sizeof(bind_rest));
    unit_append_describe(&x.u, 0, "");
    unit_append(&x.u, sync_msg, sizeof(sync_msg));

    assert_int_equal(fix_build(&x, 0), 4);
    assert_frame_bytes(&x.f[0], prefix_parse, sizeof(prefix_parse));
    assert_frame_bytes(&x.f[1], bind_unnamed, sizeof(bind_unnamed));
    assert_frame_bytes(&x.f[2], describe_unnamed, sizeof(describe_unnamed));
    assert_frame_bytes(&x.f[3], sync_msg, sizeof(sync_msg));
    assert_acts(&x.u, 0, NULL, NULL);
    assert_int_equal(x.u.pc_total, 1);
    assert_int_equal(x.ss.n, 0);
    fix_free(&x);
}

static void test_unit_build_skips_held_parse_and_sends_missing_one(void **state)
{
    static const size_t ords[] = { 0, 2 };
    static const enum backend_pc acts[] = { BACKEND_PC_DROP, BACKEND_PC_AS_PARSE };
    struct fix x;
    uint64_t a = stmt_id(body_a, sizeof(body_a));
    uint64_t b = stmt_id(body_b, sizeof(body_b));

    (void)state;
    fix_init(&x);
    assert_int_equal(srvstmt_add(&x.ss, b), 0);
    assert_int_equal(unit_rewrite_begin(&x.u, NULL, 0), 0);
    unit_append_parse(&x.u, a, body_a, sizeof(body_a), SIZE_MAX);
    unit_append_parse(&x.u, b, body_b, sizeof(body_b), SIZE_MAX);
    unit_append(&x.u, sync_msg, sizeof(sync_msg));

    assert_int_equal(fix_build(&x, 0), 4);
    assert_is_target(&x.f[0], 'C', 'S', a);
    assert_is_parse(&x.f[1], a, body_a, sizeof(body_a));
    assert_frame_bytes(&x.f[2], close_none, sizeof(close_none));
    assert_frame_bytes(&x.f[3], sync_msg, sizeof(sync_msg));
    assert_acts(&x.u, 2, ords, acts);
    assert_int_equal(x.ss.n, 2);
    assert_int_equal(srvstmt_has(&x.ss, a), 1);
    fix_free(&x);
}

static void test_unit_build_parse_of_a_name_the_client_has_fails_on_the_server(void **state)
{
    static const size_t ords[] = { 0, 1 };
    static const enum backend_pc acts[] = { BACKEND_PC_DROP, BACKEND_PC_DROP };
    struct fix x;

    (void)state;
    fix_init(&x);
    assert_int_equal(unit_rewrite_begin(&x.u, NULL, 0), 0);
    unit_append_dup(&x.u);
    unit_append(&x.u, sync_msg, sizeof(sync_msg));

    /* Close, Parse (both unseen), then a second Parse of the name: 42P05 to the client. */
    assert_int_equal(fix_build(&x, 0), 4);
    assert_frame_bytes(&x.f[0], close_dup, sizeof(close_dup));
    assert_frame_bytes(&x.f[1], parse_dup, sizeof(parse_dup));
    assert_frame_bytes(&x.f[2], parse_dup, sizeof(parse_dup));
    assert_frame_bytes(&x.f[3], sync_msg, sizeof(sync_msg));
    assert_acts(&x.u, 2, ords, acts);
    assert_int_equal(x.ss.n, 0);
    fix_free(&x);
}

static void test_unit_build_at_max_stmts_evicts_least_recently_used(void **state)
{
    struct fix x;
    uint64_t a = stmt_id(body_a, sizeof(body_a));
    uint64_t c = stmt_id(body_c, sizeof(body_c));
    uint64_t d = stmt_id(body_d, sizeof(body_d));

    (void)state;
    fix_init(&x);
    /* d added first but used since: c is the least recently used. */
    assert_int_equal(srvstmt_add(&x.ss, d), 0);
    assert_int_equal(srvstmt_add(&x.ss, c), 0);
    assert_int_equal(srvstmt_has(&x.ss, d), 1);
    unit_parse_bind_describe(&x.u, a);

    assert_int_equal(fix_build(&x, 2), 8);
    assert_frame_bytes(&x.f[0], prefix_parse, sizeof(prefix_parse));
    assert_is_target(&x.f[1], 'C', 'S', c);
    assert_is_target(&x.f[2], 'C', 'S', a);
    assert_is_parse(&x.f[3], a, body_a, sizeof(body_a));
    assert_int_equal(x.u.n_acts, 2);
    assert_int_equal(x.ss.n, 2);
    assert_int_equal(srvstmt_has(&x.ss, c), 0);
    assert_int_equal(srvstmt_has(&x.ss, d), 1);
    assert_int_equal(srvstmt_has(&x.ss, a), 1);
    fix_free(&x);
}

static void test_unit_build_evicts_in_lru_order_for_each_new_statement(void **state)
{
    struct fix x;
    uint64_t a = stmt_id(body_a, sizeof(body_a));
    uint64_t b = stmt_id(body_b, sizeof(body_b));
    uint64_t c = stmt_id(body_c, sizeof(body_c));
    uint64_t d = stmt_id(body_d, sizeof(body_d));

    (void)state;
    fix_init(&x);
    assert_int_equal(srvstmt_add(&x.ss, c), 0);
    assert_int_equal(srvstmt_add(&x.ss, d), 0);
    assert_int_equal(unit_rewrite_begin(&x.u, NULL, 0), 0);
    unit_append_parse(&x.u, a, body_a, sizeof(body_a), SIZE_MAX);
    unit_append_parse(&x.u, b, body_b, sizeof(body_b), SIZE_MAX);
    unit_append(&x.u, sync_msg, sizeof(sync_msg));

    assert_int_equal(fix_build(&x, 2), 7);
    assert_is_target(&x.f[0], 'C', 'S', c);
    assert_is_target(&x.f[1], 'C', 'S', a);
    assert_is_parse(&x.f[2], a, body_a, sizeof(body_a));
    assert_is_target(&x.f[3], 'C', 'S', d);
    assert_is_target(&x.f[4], 'C', 'S', b);
    assert_is_parse(&x.f[5], b, body_b, sizeof(body_b));
    assert_int_equal(x.u.n_acts, 4);
    assert_int_equal(x.ss.n, 2);
    assert_int_equal(srvstmt_has(&x.ss, a), 1);
    assert_int_equal(srvstmt_has(&x.ss, b), 1);
    fix_free(&x);
}

static void test_unit_build_never_evicts_a_statement_the_unit_uses(void **state)
{
    struct fix x;
    struct stmt *ea, *ec;
    uint64_t b = stmt_id(body_b, sizeof(body_b));

    (void)state;
    fix_init(&x);
    ea = stmt_put(&x.t, "a", body_a, sizeof(body_a), 0, 0);
    ec = stmt_put(&x.t, "c", body_c, sizeof(body_c), 0, 0);
    assert_non_null(ea);
    assert_non_null(ec);
    /* a is the least recently used, but the unit binds it after c, which is missing. */
    assert_int_equal(srvstmt_add(&x.ss, ea->id), 0);
    assert_int_equal(srvstmt_add(&x.ss, b), 0);
    assert_int_equal(unit_rewrite_begin(&x.u, NULL, 0), 0);
    unit_append_bind(&x.u, "", ec->id, "c", bind_rest, sizeof(bind_rest));
    unit_append_bind(&x.u, "", ea->id, "a", bind_rest, sizeof(bind_rest));
    unit_append(&x.u, sync_msg, sizeof(sync_msg));

    assert_int_equal(fix_build(&x, 2), 6);
    assert_is_target(&x.f[0], 'C', 'S', b);
    assert_is_target(&x.f[1], 'C', 'S', ec->id);
    assert_is_parse(&x.f[2], ec->id, body_c, sizeof(body_c));
    assert_is_bind(&x.f[3], ec->id);
    assert_is_bind(&x.f[4], ea->id);
    assert_int_equal(srvstmt_has(&x.ss, ea->id), 1);
    assert_int_equal(srvstmt_has(&x.ss, ec->id), 1);
    assert_int_equal(srvstmt_has(&x.ss, b), 0);
    fix_free(&x);
}

/* Bind s1, Execute, Close s1 in one unit on a server that lacks s1: it is prepared first. */
static void test_unit_build_prepares_a_statement_the_unit_binds_then_closes(void **state)
{
    struct fix x;
    struct stmt *ea;
    uint64_t a;

    (void)state;
    fix_init(&x);
    ea = stmt_put(&x.t, "s1", body_a, sizeof(body_a), 0, 0);
    assert_non_null(ea);
    a = ea->id;
    assert_int_equal(unit_rewrite_begin(&x.u, NULL, 0), 0);
    unit_append_bind(&x.u, "", a, "s1", bind_rest, sizeof(bind_rest));
    unit_append(&x.u, execute_msg, sizeof(execute_msg));
    unit_append_close(&x.u, unit_record(&x.u, NULL, stmt_take(&x.t, "s1")));
    unit_append(&x.u, sync_msg, sizeof(sync_msg));
    assert_null(stmt_get(&x.t, "s1"));

    assert_int_equal(fix_build(&x, 0), 6);
    assert_is_target(&x.f[0], 'C', 'S', a);
    assert_is_parse(&x.f[1], a, body_a, sizeof(body_a));
    assert_is_bind(&x.f[2], a);
    assert_frame_bytes(&x.f[3], execute_msg, sizeof(execute_msg));
    assert_frame_bytes(&x.f[4], close_closed, sizeof(close_closed));
    assert_frame_bytes(&x.f[5], sync_msg, sizeof(sync_msg));
    assert_int_equal(srvstmt_has(&x.ss, a), 1);
    fix_free(&x);
}

static void test_unit_build_exceeds_bound_rather_than_evict_statements_in_use(void **state)
{
    struct fix x;
    uint64_t a = stmt_id(body_a, sizeof(body_a));
    uint64_t c = stmt_id(body_c, sizeof(body_c));
    uint64_t d = stmt_id(body_d, sizeof(body_d));

    (void)state;
    fix_init(&x);
    assert_int_equal(srvstmt_add(&x.ss, c), 0);
    assert_int_equal(srvstmt_add(&x.ss, d), 0);
    /* Uses both held statements and parses a third: neither held one may go. */
    assert_int_equal(unit_rewrite_begin(&x.u, NULL, 0), 0);
    unit_append_bind(&x.u, "", c, "c", bind_rest, sizeof(bind_rest));
    unit_append_describe(&x.u, d, "d");
    unit_append_parse(&x.u, a, body_a, sizeof(body_a), SIZE_MAX);
    unit_append(&x.u, sync_msg, sizeof(sync_msg));

    assert_int_equal(fix_build(&x, 2), 5);
    assert_is_bind(&x.f[0], c);
    assert_is_target(&x.f[1], 'D', 'S', d);
    assert_is_target(&x.f[2], 'C', 'S', a);
    assert_is_parse(&x.f[3], a, body_a, sizeof(body_a));
    assert_int_equal(srvstmt_has(&x.ss, c), 1);
    assert_int_equal(srvstmt_has(&x.ss, d), 1);
    assert_int_equal(srvstmt_has(&x.ss, a), 1);
    fix_free(&x);
}

static void test_unit_settle_undoes_what_the_server_skipped(void **state)
{
    struct fix x;
    struct stmt *e;
    uint64_t a = stmt_id(body_a, sizeof(body_a));

    (void)state;
    fix_init(&x);
    e = stmt_put(&x.t, "old", body_c, sizeof(body_c), 0, 0);
    assert_non_null(e);
    assert_non_null(stmt_put(&x.t, "s1", body_a, sizeof(body_a), 0, 0));
    /* Parse s1 (new), Close old, Sync: on an empty server Close a(0) Parse a(1) Close(2). */
    assert_int_equal(unit_rewrite_begin(&x.u, NULL, 0), 0);
    unit_append_parse(&x.u, a, body_a, sizeof(body_a), unit_record(&x.u, "s1", NULL));
    unit_append_close(&x.u, unit_record(&x.u, NULL, stmt_take(&x.t, "old")));
    unit_append(&x.u, sync_msg, sizeof(sync_msg));
    assert_int_equal(fix_build(&x, 0), 4);
    assert_int_equal(x.u.recs[0].ord, 1);
    assert_int_equal(x.u.recs[1].ord, 2);
    assert_int_equal(srvstmt_has(&x.ss, a), 1);

    /* The Parse failed (one answer only): neither it nor the Close ran. */
    unit_settle(&x.u, &x.ss, &x.t, 1);
    assert_int_equal(srvstmt_has(&x.ss, a), 0);
    assert_null(stmt_get(&x.t, "s1"));
    assert_non_null(stmt_get(&x.t, "old"));
    assert_int_equal(x.t.n, 1);
    unit_reset(&x.u);

    /* Everything ran: s1 stays, old is gone for good. */
    assert_non_null(stmt_put(&x.t, "s1", body_a, sizeof(body_a), 0, 0));
    assert_int_equal(unit_rewrite_begin(&x.u, NULL, 0), 0);
    unit_append_parse(&x.u, a, body_a, sizeof(body_a), unit_record(&x.u, "s1", NULL));
    unit_append_close(&x.u, unit_record(&x.u, NULL, stmt_take(&x.t, "old")));
    unit_append(&x.u, sync_msg, sizeof(sync_msg));
    assert_int_equal(fix_build(&x, 0), 4);
    unit_settle(&x.u, &x.ss, &x.t, 3);
    assert_int_equal(srvstmt_has(&x.ss, a), 1);
    assert_non_null(stmt_get(&x.t, "s1"));
    assert_null(stmt_get(&x.t, "old"));
    fix_free(&x);
}

/* An error before the Close that evicted a statement: the server still holds it. */
static void test_unit_settle_keeps_a_statement_whose_eviction_never_ran(void **state)
{
    struct fix x;
    uint64_t a = stmt_id(body_a, sizeof(body_a));
    uint64_t b = stmt_id(body_b, sizeof(body_b));

    (void)state;
    fix_init(&x);
    assert_int_equal(srvstmt_add(&x.ss, b), 0);
    /* A duplicate Parse (fails on the server), then Parse s1 at a bound of 1: Close b. */
    assert_int_equal(unit_rewrite_begin(&x.u, NULL, 0), 0);
    unit_append_dup(&x.u);
    unit_append_parse(&x.u, a, body_a, sizeof(body_a), SIZE_MAX);
    unit_append(&x.u, sync_msg, sizeof(sync_msg));
    assert_int_equal(fix_build(&x, 1), 7);
    assert_frame_bytes(&x.f[0], close_dup, sizeof(close_dup));
    assert_frame_bytes(&x.f[2], parse_dup, sizeof(parse_dup));
    assert_is_target(&x.f[3], 'C', 'S', b);
    assert_is_target(&x.f[4], 'C', 'S', a);
    assert_is_parse(&x.f[5], a, body_a, sizeof(body_a));
    assert_int_equal(srvstmt_has(&x.ss, b), 0);
    assert_int_equal(unit_server_parses(&x.u), 1);

    /* The second pgr_dup Parse failed: Close pgr_dup and the first Parse ran, no more. */
    unit_settle(&x.u, &x.ss, &x.t, 2);
    assert_int_equal(srvstmt_has(&x.ss, b), 1);
    assert_int_equal(srvstmt_has(&x.ss, a), 0);
    unit_reset(&x.u);

    /* Everything ran: b is gone, a is held. */
    assert_int_equal(unit_rewrite_begin(&x.u, NULL, 0), 0);
    unit_append_parse(&x.u, a, body_a, sizeof(body_a), SIZE_MAX);
    unit_append(&x.u, sync_msg, sizeof(sync_msg));
    assert_int_equal(fix_build(&x, 1), 4);
    unit_settle(&x.u, &x.ss, &x.t, 3);
    assert_int_equal(srvstmt_has(&x.ss, b), 0);
    assert_int_equal(srvstmt_has(&x.ss, a), 1);
    fix_free(&x);
}

static void test_unit_unnamed_statement_follows_the_client_between_units(void **state)
{
    static const uint8_t close_unnamed[] = { 'C', 0, 0, 0, 6, 'S', 0 };
    static const uint8_t parse_unnamed_b[] = { 'P', 0, 0, 0, 16, 0, 'S', 'E', 'L', 'E', 'C',
                                               'T', ' ', '2', 0, 0, 0 };
    static const size_t ords[] = { 0 };
    static const enum backend_pc drop[] = { BACKEND_PC_DROP };
    struct fix x;
    uint8_t *mine = NULL;
    size_t mine_len = 0;

    (void)state;
    fix_init(&x);
    /* Parse "" (ord 1 after the prefix's), Sync: once it ran, it is the client's. */
    assert_int_equal(unit_rewrite_begin(&x.u, prefix_parse, sizeof(prefix_parse)), 0);
    unit_append_unnamed(&x.u, parse_unnamed_b, sizeof(parse_unnamed_b), body_b,
                        sizeof(body_b));
    unit_append(&x.u, sync_msg, sizeof(sync_msg));
    assert_int_equal(fix_build(&x, 0), 3);
    assert_frame_bytes(&x.f[1], parse_unnamed_b, sizeof(parse_unnamed_b));
    assert_acts(&x.u, 0, NULL, NULL);
    unit_settle_unnamed(&x.u, 1, &mine, &mine_len);
    assert_null(mine);      /* its Parse did not run */
    unit_settle_unnamed(&x.u, 2, &mine, &mine_len);
    assert_non_null(mine);
    assert_int_equal(mine_len, sizeof(body_b));
    assert_memory_equal(mine, body_b, sizeof(body_b));
    unit_reset(&x.u);

    /* A later unit Binds it without a Parse: the server gets the client's own first. */
    assert_int_equal(unit_rewrite_begin(&x.u, NULL, 0), 0);
    unit_append_unnamed_use(&x.u, mine, mine_len);
    unit_append(&x.u, execute_msg, sizeof(execute_msg));
    unit_append(&x.u, sync_msg, sizeof(sync_msg));
    assert_int_equal(fix_build(&x, 0), 3);
    assert_frame_bytes(&x.f[0], parse_unnamed_b, sizeof(parse_unnamed_b));
    assert_acts(&x.u, 1, ords, drop);
    unit_reset(&x.u);

    /* With none, whatever the server holds is closed first: PostgreSQL's 26000 follows. */
    assert_int_equal(unit_rewrite_begin(&x.u, NULL, 0), 0);
    unit_append_unnamed_use(&x.u, NULL, 0);
    unit_append(&x.u, execute_msg, sizeof(execute_msg));
    assert_int_equal(fix_build(&x, 0), 2);
    assert_frame_bytes(&x.f[0], close_unnamed, sizeof(close_unnamed));
    assert_acts(&x.u, 1, ords, drop);
    unit_reset(&x.u);

    /* The client's Close of it, once run, leaves it none. */
    assert_int_equal(unit_rewrite_begin(&x.u, NULL, 0), 0);
    unit_append_unnamed(&x.u, close_unnamed, sizeof(close_unnamed), NULL, 0);
    assert_int_equal(fix_build(&x, 0), 1);
    unit_settle_unnamed(&x.u, 0, &mine, &mine_len);
    assert_non_null(mine);  /* skipped: still there */
    unit_settle_unnamed(&x.u, 1, &mine, &mine_len);
    assert_null(mine);
    fix_free(&x);
}

static void test_unit_count_pc_counts_parse_and_close_and_stops_at_a_cut(void **state)
{
    uint8_t buf[128];
    size_t n = 0;

    (void)state;
    memcpy(buf + n, prefix_parse, sizeof(prefix_parse));
    n += sizeof(prefix_parse);
    memcpy(buf + n, execute_msg, sizeof(execute_msg));
    n += sizeof(execute_msg);
    memcpy(buf + n, close_none, sizeof(close_none));
    n += sizeof(close_none);
    memcpy(buf + n, sync_msg, sizeof(sync_msg));
    n += sizeof(sync_msg);
    assert_int_equal(unit_count_pc(buf, n), 2);
    assert_int_equal(unit_count_pc(buf, n - sizeof(sync_msg) - 1), 1);
    assert_int_equal(unit_count_pc(buf, 3), 0);
    buf[4] = 2;     /* a length below 4 */
    assert_int_equal(unit_count_pc(buf, n), 0);
}

static void test_unit_reset_forgets_rewritten_messages_and_statements(void **state)
{
    struct fix x;
    struct stmt *e;

    (void)state;
    fix_init(&x);
    e = stmt_put(&x.t, "b", body_b, sizeof(body_b), 0, 0);
    assert_non_null(e);
    unit_parse_bind_describe(&x.u, stmt_id(body_a, sizeof(body_a)));
    unit_append_bind(&x.u, "", e->id, "b", bind_rest, sizeof(bind_rest));
    assert_int_not_equal(unit_record(&x.u, "b", NULL), SIZE_MAX);
    unit_reset(&x.u);
    assert_int_equal(x.u.rewrite, 0);
    assert_int_equal(x.u.out.len, 0);
    assert_int_equal(x.u.have_cr, 0);
    assert_int_equal(x.u.n_recs, 0);
    assert_int_equal(x.u.n_marks, 0);

    assert_int_equal(fix_build(&x, 0), 0);
    assert_int_equal(x.out.len, 0);
    assert_int_equal(x.ss.n, 0);
    fix_free(&x);
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
        cmocka_unit_test(test_unit_build_on_empty_server_closes_first_and_drops_that_answer),
        cmocka_unit_test(test_unit_build_held_parse_becomes_close_of_nothing_answered_as_parse),
        cmocka_unit_test(test_unit_build_prepares_bound_statement_server_lacks_from_client_table),
        cmocka_unit_test(test_unit_build_prepares_described_statement_server_lacks),
        cmocka_unit_test(test_unit_build_close_of_a_statement_closes_a_name_nobody_has),
        cmocka_unit_test(test_unit_build_bind_of_statement_missing_from_table_prepares_nothing),
        cmocka_unit_test(test_unit_plain_names_are_kept_as_the_client_wrote_them),
        cmocka_unit_test(test_unit_build_skips_held_parse_and_sends_missing_one),
        cmocka_unit_test(test_unit_build_parse_of_a_name_the_client_has_fails_on_the_server),
        cmocka_unit_test(test_unit_build_at_max_stmts_evicts_least_recently_used),
        cmocka_unit_test(test_unit_build_evicts_in_lru_order_for_each_new_statement),
        cmocka_unit_test(test_unit_build_never_evicts_a_statement_the_unit_uses),
        cmocka_unit_test(test_unit_build_prepares_a_statement_the_unit_binds_then_closes),
        cmocka_unit_test(test_unit_build_exceeds_bound_rather_than_evict_statements_in_use),
        cmocka_unit_test(test_unit_settle_undoes_what_the_server_skipped),
        cmocka_unit_test(test_unit_settle_keeps_a_statement_whose_eviction_never_ran),
        cmocka_unit_test(test_unit_unnamed_statement_follows_the_client_between_units),
        cmocka_unit_test(test_unit_count_pc_counts_parse_and_close_and_stops_at_a_cut),
        cmocka_unit_test(test_unit_reset_forgets_rewritten_messages_and_statements),
        cmocka_unit_test(test_unit_merge_ors_write_and_flags_and_keeps_first_write_reason),
        cmocka_unit_test(test_unit_merge_primary_hint_wins_over_replica),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
