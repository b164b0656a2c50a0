/*
 * tests/unit/test_msg.c - message builders checked byte for byte against the PostgreSQL
 * protocol documentation, ErrorResponse round trips through the framer, and
 * msg_error_field on malformed bodies held in heap buffers of exactly their size.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/frame.h"
#include "protocol/msg.h"

#define MAX_LEN (1u << 20)

/* Heap copy of exactly n bytes; the caller frees it. */
static uint8_t *copy_exact(const void *m, size_t n)
{
    uint8_t *c = malloc(n > 0 ? n : 1);

    assert_non_null(c);
    if (n > 0)
        memcpy(c, m, n);
    return c;
}

/* The builder's output must equal want, and frame as exactly one message of its size. */
static void check_bytes(struct msgbuf *b, const uint8_t *want, size_t n)
{
    struct frame f;

    assert_int_equal(b->oom, 0);
    assert_int_equal(b->len, n);
    assert_memory_equal(b->data, want, n);
    assert_int_equal(frame_next(b->data, b->len, MAX_LEN, &f), FRAME_OK);
    assert_int_equal(f.len, n);
}

static void test_msg_error_frames_and_reads_back_fields(void **state)
{
    struct msgbuf b;
    struct frame f;
    uint8_t *wire;
    size_t n;

    (void)state;
    msgbuf_init(&b);
    msg_error(&b, "FATAL", "28P01", "password authentication failed for user \"app\"",
              "no such user", "check userlist.txt");
    assert_int_equal(b.oom, 0);
    wire = msgbuf_steal(&b, &n);
    assert_null(b.data);
    assert_int_equal(b.len, 0);

    assert_int_equal(frame_next(wire, n, MAX_LEN, &f), FRAME_OK);
    assert_int_equal(f.type, 'E');
    assert_int_equal(f.len, n);
    /* Fields end with a zero byte in place of a field type. */
    assert_int_equal(f.body[f.body_len - 1], 0);
    assert_string_equal(msg_error_field(f.body, f.body_len, 'S'), "FATAL");
    assert_string_equal(msg_error_field(f.body, f.body_len, 'V'), "FATAL");
    assert_string_equal(msg_error_field(f.body, f.body_len, 'C'), "28P01");
    assert_string_equal(msg_error_field(f.body, f.body_len, 'M'),
                        "password authentication failed for user \"app\"");
    assert_string_equal(msg_error_field(f.body, f.body_len, 'D'), "no such user");
    assert_string_equal(msg_error_field(f.body, f.body_len, 'H'), "check userlist.txt");
    assert_null(msg_error_field(f.body, f.body_len, 'P'));
    assert_null(msg_error_field(f.body, f.body_len, '\0'));
    free(wire);
}

static void test_msg_error_omits_null_detail_and_hint(void **state)
{
    static const uint8_t want[] = {
        'E', 0, 0, 0, 31,
        'S', 'E', 'R', 'R', 'O', 'R', 0,
        'V', 'E', 'R', 'R', 'O', 'R', 0,
        'C', '0', '8', 'P', '0', '1', 0,
        'M', 'b', 'a', 'd', 0,
        0,
    };
    struct msgbuf b;
    struct frame f;

    (void)state;
    msgbuf_init(&b);
    msg_error(&b, "ERROR", "08P01", "bad", NULL, NULL);
    check_bytes(&b, want, sizeof(want));
    frame_next(b.data, b.len, MAX_LEN, &f);
    assert_null(msg_error_field(f.body, f.body_len, 'D'));
    assert_null(msg_error_field(f.body, f.body_len, 'H'));
    msgbuf_free(&b);
    assert_null(b.data);
}

static void test_msg_notice_has_type_n_and_severity_notice(void **state)
{
    struct msgbuf b;
    struct frame f;

    (void)state;
    msgbuf_init(&b);
    msg_notice(&b, "01000", "pool is warming up");
    assert_int_equal(frame_next(b.data, b.len, MAX_LEN, &f), FRAME_OK);
    assert_int_equal(f.type, 'N');
    assert_int_equal(f.len, b.len);
    assert_string_equal(msg_error_field(f.body, f.body_len, 'S'), "NOTICE");
    assert_string_equal(msg_error_field(f.body, f.body_len, 'C'), "01000");
    assert_string_equal(msg_error_field(f.body, f.body_len, 'M'), "pool is warming up");
    msgbuf_free(&b);
}

static void test_msg_ready_matches_protocol_bytes(void **state)
{
    static const uint8_t idle[] = { 'Z', 0, 0, 0, 5, 'I' };
    static const uint8_t in_tx[] = { 'Z', 0, 0, 0, 5, 'T' };
    struct msgbuf b;

    (void)state;
    msgbuf_init(&b);
    msg_ready(&b, 'I');
    check_bytes(&b, idle, sizeof(idle));
    msgbuf_free(&b);
    msg_ready(&b, 'T');
    check_bytes(&b, in_tx, sizeof(in_tx));
    msgbuf_free(&b);
}

static void test_msg_param_status_matches_protocol_bytes(void **state)
{
    static const uint8_t want[] = {
        'S', 0, 0, 0, 25,
        'c', 'l', 'i', 'e', 'n', 't', '_', 'e', 'n', 'c', 'o', 'd', 'i', 'n', 'g', 0,
        'U', 'T', 'F', '8', 0,
    };
    struct msgbuf b;

    (void)state;
    msgbuf_init(&b);
    msg_param_status(&b, "client_encoding", "UTF8");
    check_bytes(&b, want, sizeof(want));
    msgbuf_free(&b);
}

static void test_msg_backend_key_matches_protocol_bytes(void **state)
{
    static const uint8_t want[] = {
        'K', 0, 0, 0, 12,
        0x00, 0x01, 0xe2, 0x40,
        0xde, 0xad, 0xbe, 0xef,
    };
    struct msgbuf b;

    (void)state;
    msgbuf_init(&b);
    msg_backend_key(&b, 123456, 0xdeadbeefu);
    check_bytes(&b, want, sizeof(want));
    msgbuf_free(&b);
}

static void test_msg_auth_sasl_matches_protocol_bytes(void **state)
{
    /* Int32(10), then mechanism names each NUL-terminated, then a final zero byte. */
    static const uint8_t want[] = {
        'R', 0, 0, 0, 23,
        0, 0, 0, 10,
        'S', 'C', 'R', 'A', 'M', '-', 'S', 'H', 'A', '-', '2', '5', '6', 0,
        0,
    };
    static const char mechs[] = "SCRAM-SHA-256\0";
    struct msgbuf b;

    (void)state;
    msgbuf_init(&b);
    msg_auth(&b, MSG_AUTH_SASL, mechs, sizeof(mechs));
    check_bytes(&b, want, sizeof(want));
    msgbuf_free(&b);
}

static void test_msg_auth_ok_and_md5_match_protocol_bytes(void **state)
{
    static const uint8_t ok[] = { 'R', 0, 0, 0, 8, 0, 0, 0, 0 };
    static const uint8_t md5[] = { 'R', 0, 0, 0, 12, 0, 0, 0, 5, 0x01, 0x02, 0xfe, 0xff };
    static const uint8_t salt[] = { 0x01, 0x02, 0xfe, 0xff };
    struct msgbuf b;

    (void)state;
    msgbuf_init(&b);
    msg_auth(&b, MSG_AUTH_OK, NULL, 0);
    check_bytes(&b, ok, sizeof(ok));
    msgbuf_free(&b);
    msg_auth(&b, MSG_AUTH_MD5, salt, sizeof(salt));
    check_bytes(&b, md5, sizeof(md5));
    msgbuf_free(&b);
}

static void test_msg_raw_with_empty_body_has_length_4(void **state)
{
    static const uint8_t want[] = { 'I', 0, 0, 0, 4 };
    struct msgbuf b;

    (void)state;
    msgbuf_init(&b);
    msg_raw(&b, 'I', NULL, 0);
    check_bytes(&b, want, sizeof(want));
    msgbuf_free(&b);
}

static void test_msg_builders_append_messages_in_order(void **state)
{
    static const uint8_t types[] = { 'R', 'S', 'K', 'Z' };
    struct msgbuf b;
    size_t off = 0, i = 0;

    (void)state;
    msgbuf_init(&b);
    msg_auth(&b, MSG_AUTH_OK, NULL, 0);
    msg_param_status(&b, "server_version", "16.4");
    msg_backend_key(&b, 1, 2);
    msg_ready(&b, 'I');
    assert_int_equal(b.oom, 0);
    while (off < b.len) {
        struct frame f;

        assert_int_equal(frame_next(b.data + off, b.len - off, MAX_LEN, &f), FRAME_OK);
        assert_true(i < sizeof(types));
        assert_int_equal(f.type, types[i]);
        off += f.len;
        i++;
    }
    assert_int_equal(i, sizeof(types));
    assert_int_equal(off, b.len);
    msgbuf_free(&b);
}

static void test_msgbuf_grows_past_initial_capacity(void **state)
{
    size_t n = 70000;
    uint8_t *body = malloc(n);
    struct msgbuf b;
    struct frame f;

    (void)state;
    assert_non_null(body);
    for (size_t i = 0; i < n; i++)
        body[i] = (uint8_t)(i * 31);
    msgbuf_init(&b);
    msg_ready(&b, 'I');
    msg_raw(&b, 'd', body, n);
    assert_int_equal(b.oom, 0);
    assert_int_equal(b.len, 6 + FRAME_HDR + n);
    assert_true(b.cap >= b.len);
    assert_int_equal(frame_next(b.data + 6, b.len - 6, MAX_LEN, &f), FRAME_OK);
    assert_int_equal(f.body_len, n);
    assert_memory_equal(f.body, body, n);
    /* The message written before the buffer moved is still intact. */
    assert_int_equal(b.data[0], 'Z');
    assert_int_equal(b.data[5], 'I');
    msgbuf_free(&b);
    free(body);
}

/* msg_error_field over an exact heap copy: NULL, or a string that ends inside the body. */
static const char *field_exact(const void *m, size_t n, char code, char *out, size_t cap)
{
    uint8_t *heap = copy_exact(m, n);
    const char *v = msg_error_field(heap, n, code);

    if (v != NULL) {
        const uint8_t *end;

        assert_true((const uint8_t *)v > heap && (const uint8_t *)v < heap + n);
        end = memchr(v, 0, (size_t)(heap + n - (const uint8_t *)v));
        assert_non_null(end);
        assert_true((size_t)(end - (const uint8_t *)v) < cap);
        memcpy(out, v, (size_t)(end - (const uint8_t *)v) + 1);
        v = out;
    }
    free(heap);
    return v;
}

static void test_msg_error_field_returns_null_on_malformed_bodies(void **state)
{
    char out[64];

    (void)state;
    assert_null(field_exact("", 0, 'S', out, sizeof(out)));
    assert_null(field_exact("S", 1, 'S', out, sizeof(out)));        /* code, no value */
    assert_null(field_exact("SERROR", 6, 'S', out, sizeof(out)));   /* value unterminated */
    assert_null(field_exact("SERROR", 6, 'C', out, sizeof(out)));
    /* A good field then a broken one: the good one is still found. */
    assert_string_equal(field_exact("SERROR\0C08P0", 12, 'S', out, sizeof(out)), "ERROR");
    assert_null(field_exact("SERROR\0C08P0", 12, 'C', out, sizeof(out)));
    assert_null(field_exact("SERROR\0C", 8, 'C', out, sizeof(out)));
    /* Missing final terminator: fields present are found, absent ones are not. */
    assert_string_equal(field_exact("SERROR\0", 7, 'S', out, sizeof(out)), "ERROR");
    assert_null(field_exact("SERROR\0", 7, 'M', out, sizeof(out)));
}

static void test_msg_error_field_stops_at_terminator(void **state)
{
    char out[64];

    (void)state;
    assert_null(field_exact("\0CXX000\0", 8, 'C', out, sizeof(out)));
    assert_null(field_exact("SERROR\0\0CXX000\0", 15, 'C', out, sizeof(out)));
    /* An empty value is a value. */
    assert_string_equal(field_exact("M\0\0", 3, 'M', out, sizeof(out)), "");
}

static void test_msg_error_field_never_reads_past_any_prefix(void **state)
{
    static const char codes[] = "SVCMDHPX";
    struct msgbuf b;
    char out[128];

    (void)state;
    msgbuf_init(&b);
    msg_error(&b, "ERROR", "42P01", "relation \"t\" does not exist", "d", "h");
    assert_int_equal(b.oom, 0);
    /* Every truncation of a real body; ASan turns any overread into a crash. */
    for (size_t n = 0; n <= b.len - FRAME_HDR; n++)
        for (size_t c = 0; c < sizeof(codes) - 1; c++)
            field_exact(b.data + FRAME_HDR, n, codes[c], out, sizeof(out));
    assert_string_equal(field_exact(b.data + FRAME_HDR, b.len - FRAME_HDR, 'C', out,
                                    sizeof(out)), "42P01");
    /* One byte short of the final terminator still finds every field. */
    assert_string_equal(field_exact(b.data + FRAME_HDR, b.len - FRAME_HDR - 1, 'H', out,
                                    sizeof(out)), "h");
    msgbuf_free(&b);
}

static void test_msg_row_desc_matches_protocol_bytes(void **state)
{
    static const char *const names[] = { "id", "name", "n" };
    static const uint32_t types[] = { 23, 25, 20 };
    /* name, table OID 0, column 0, type OID, typlen, typmod -1, format 0 (text) */
    static const uint8_t want[] = {
        'T', 0, 0, 0, 70, 0, 3,
        'i', 'd', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 23, 0, 4, 0xff, 0xff, 0xff, 0xff, 0, 0,
        'n', 'a', 'm', 'e', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 25, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0, 0,
        'n', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 20, 0, 8, 0xff, 0xff, 0xff, 0xff, 0, 0,
    };
    struct msgbuf b;

    (void)state;
    msgbuf_init(&b);
    msg_row_desc(&b, names, types, 3);
    check_bytes(&b, want, sizeof(want));
    msgbuf_free(&b);
}

static void test_msg_datarow_counts_cells_and_sends_null_as_minus_one(void **state)
{
    static const uint8_t want[] = {
        'D', 0, 0, 0, 20, 0, 3,
        0, 0, 0, 2, 'h', 'i',
        0xff, 0xff, 0xff, 0xff,
        0, 0, 0, 0,
    };
    struct msgbuf b;
    size_t at;

    (void)state;
    msgbuf_init(&b);
    at = msg_datarow_begin(&b);
    msg_datarow_cell(&b, "hi", 2);
    msg_datarow_cell(&b, NULL, 0);
    msg_datarow_cell(&b, "", 0);
    msg_datarow_end(&b, at, 3);
    check_bytes(&b, want, sizeof(want));
    msgbuf_free(&b);
}

static void test_msg_command_complete_and_empty_query_match_protocol_bytes(void **state)
{
    static const uint8_t want[] = {
        'C', 0, 0, 0, 9, 'S', 'H', 'O', 'W', 0,
        'I', 0, 0, 0, 4,
    };
    struct msgbuf b;

    (void)state;
    msgbuf_init(&b);
    msg_command_complete(&b, "SHOW");
    msg_empty_query(&b);
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.data, want, sizeof(want));
    msgbuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_msg_error_frames_and_reads_back_fields),
        cmocka_unit_test(test_msg_error_omits_null_detail_and_hint),
        cmocka_unit_test(test_msg_notice_has_type_n_and_severity_notice),
        cmocka_unit_test(test_msg_ready_matches_protocol_bytes),
        cmocka_unit_test(test_msg_param_status_matches_protocol_bytes),
        cmocka_unit_test(test_msg_backend_key_matches_protocol_bytes),
        cmocka_unit_test(test_msg_auth_sasl_matches_protocol_bytes),
        cmocka_unit_test(test_msg_auth_ok_and_md5_match_protocol_bytes),
        cmocka_unit_test(test_msg_raw_with_empty_body_has_length_4),
        cmocka_unit_test(test_msg_builders_append_messages_in_order),
        cmocka_unit_test(test_msgbuf_grows_past_initial_capacity),
        cmocka_unit_test(test_msg_error_field_returns_null_on_malformed_bodies),
        cmocka_unit_test(test_msg_error_field_stops_at_terminator),
        cmocka_unit_test(test_msg_error_field_never_reads_past_any_prefix),
        cmocka_unit_test(test_msg_row_desc_matches_protocol_bytes),
        cmocka_unit_test(test_msg_datarow_counts_cells_and_sends_null_as_minus_one),
        cmocka_unit_test(test_msg_command_complete_and_empty_query_match_protocol_bytes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
