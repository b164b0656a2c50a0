/*
 * tests/unit/test_frame.c - the framer: message boundaries in split and coalesced streams,
 * every impossible length, exact boundaries, partial headers, startup-phase packets.
 * Inputs that stop short live in heap buffers of exactly n bytes so ASan sees overreads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/frame.h"

#define MAX_LEN (1u << 20)
#define STREAM_CAP 16384

/* One message of the test stream, and where it starts in the stream. */
struct sample {
    uint8_t type;
    size_t body_len;
    uint8_t fill;
    size_t at;
};

struct stream {
    uint8_t buf[STREAM_CAP];
    size_t n;
};

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Heap copy of exactly n bytes; the caller frees it. */
static uint8_t *copy_exact(const void *p, size_t n)
{
    uint8_t *c = malloc(n > 0 ? n : 1);

    assert_non_null(c);
    if (n > 0)
        memcpy(c, p, n);
    return c;
}

/* Body bytes vary with their position so a body shifted by one byte would not compare equal. */
static uint8_t body_byte(const struct sample *m, size_t i)
{
    return (uint8_t)(m->fill + i * 7);
}

static void stream_add(struct stream *s, struct sample *m)
{
    assert_true(s->n + FRAME_HDR + m->body_len <= sizeof(s->buf));
    m->at = s->n;
    s->buf[s->n] = m->type;
    put32(s->buf + s->n + 1, (uint32_t)(m->body_len + 4));
    for (size_t i = 0; i < m->body_len; i++)
        s->buf[s->n + FRAME_HDR + i] = body_byte(m, i);
    s->n += FRAME_HDR + m->body_len;
}

/* Several messages in one stream: empty bodies, tiny, medium, and one over 4 KiB. */
static size_t build_stream(struct stream *s, struct sample *m)
{
    static const struct sample proto[] = {
        { 'Q', 23, 0x10, 0 }, { 'S', 0, 0, 0 },     { 'P', 1, 0x55, 0 },
        { 'B', 300, 0x20, 0 }, { 'E', 9, 0x00, 0 }, { 'd', 5000, 0x33, 0 },
        { 'H', 0, 0, 0 },     { 'X', 0, 0, 0 },     { 'D', 4, 0xff, 0 },
    };
    size_t count = sizeof(proto) / sizeof(proto[0]);

    s->n = 0;
    for (size_t i = 0; i < count; i++) {
        m[i] = proto[i];
        stream_add(s, &m[i]);
    }
    return count;
}

static void check_message(const struct frame *f, const struct stream *s,
                          const struct sample *m)
{
    assert_int_equal(f->type, m->type);
    assert_int_equal(f->have_header, 1);
    assert_int_equal(f->len, FRAME_HDR + m->body_len);
    assert_int_equal(f->body_len, m->body_len);
    assert_ptr_equal(f->body, s->buf + m->at + FRAME_HDR);
    for (size_t i = 0; i < m->body_len; i++)
        assert_int_equal(f->body[i], body_byte(m, i));
}

/* xorshift32: deterministic chunk sizes, same on every run. */
static uint32_t next_rand(uint32_t *state)
{
    uint32_t x = *state;

    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return x;
}

/*
 * Deliver the stream in chunks as a socket would: after each chunk, frame every whole
 * message sitting between parsed and received. chunk(i) gives the size of the i-th read.
 */
static void feed_stream(size_t (*chunk)(uint32_t *), uint32_t seed)
{
    struct stream *s = malloc(sizeof(*s));
    struct sample m[16];
    size_t count, received = 0, parsed = 0, next = 0;
    uint32_t state = seed;

    assert_non_null(s);
    count = build_stream(s, m);
    while (received < s->n) {
        size_t c = chunk(&state);

        received += c < s->n - received ? c : s->n - received;
        for (;;) {
            struct frame f;
            enum frame_rc rc = frame_next(s->buf + parsed, received - parsed, MAX_LEN, &f);

            if (rc == FRAME_AGAIN && received == parsed) {
                assert_int_equal(f.have_header, 0);
                break;
            }
            if (rc == FRAME_AGAIN) {
                /* Never AGAIN while a whole message is there. */
                assert_true(next < count);
                assert_true(received - parsed < FRAME_HDR + m[next].body_len);
                if (received - parsed >= FRAME_HDR) {
                    assert_int_equal(f.have_header, 1);
                    assert_int_equal(f.type, m[next].type);
                    assert_int_equal(f.len, FRAME_HDR + m[next].body_len);
                } else {
                    assert_int_equal(f.have_header, 0);
                }
                break;
            }
            assert_int_equal(rc, FRAME_OK);
            assert_true(next < count);
            check_message(&f, s, &m[next]);
            parsed += f.len;
            next++;
        }
    }
    assert_int_equal(next, count);
    assert_int_equal(parsed, s->n);
    free(s);
}

static size_t chunk_one(uint32_t *state)
{
    (void)state;
    return 1;
}

static size_t chunk_random(uint32_t *state)
{
    return 1 + next_rand(state) % 700;
}

static void test_frame_splits_stream_fed_byte_by_byte(void **state)
{
    (void)state;
    feed_stream(chunk_one, 1);
}

static void test_frame_splits_stream_fed_in_random_chunks(void **state)
{
    (void)state;
    for (uint32_t seed = 1; seed <= 200; seed++)
        feed_stream(chunk_random, seed * 2654435761u);
}

static void test_frame_takes_coalesced_stream_at_once(void **state)
{
    struct stream *s = malloc(sizeof(*s));
    struct sample m[16];
    size_t count, off = 0;

    (void)state;
    assert_non_null(s);
    count = build_stream(s, m);
    for (size_t i = 0; i < count; i++) {
        struct frame f;

        assert_int_equal(frame_next(s->buf + off, s->n - off, MAX_LEN, &f), FRAME_OK);
        check_message(&f, s, &m[i]);
        off += f.len;
    }
    assert_int_equal(off, s->n);
    free(s);
}

/* A header with the given length field, alone in an exact 5-byte heap buffer. */
static enum frame_rc frame_header_only(uint32_t len, size_t max_len, struct frame *f)
{
    uint8_t hdr[FRAME_HDR] = { 'Q' };
    uint8_t *p;
    enum frame_rc rc;

    put32(hdr + 1, len);
    p = copy_exact(hdr, sizeof(hdr));
    rc = frame_next(p, sizeof(hdr), max_len, f);
    free(p);
    return rc;
}

static void test_frame_rejects_length_below_4(void **state)
{
    static const uint32_t bad[] = { 0, 1, 2, 3 };
    struct frame f;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(frame_header_only(bad[i], MAX_LEN, &f), FRAME_BAD);
        assert_int_equal(f.have_header, 0);
        assert_null(f.body);
    }
}

static void test_frame_rejects_negative_length_even_without_limit(void **state)
{
    static const uint32_t bad[] = { 0xffffffffu, 0x80000000u, 0xfffffffcu, 0x80000004u };
    struct frame f;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(frame_header_only(bad[i], MAX_LEN, &f), FRAME_BAD);
        /* Even a caller with no limit must not see a negative int32 as a huge length. */
        assert_int_equal(frame_header_only(bad[i], SIZE_MAX, &f), FRAME_BAD);
    }
}

static void test_frame_accepts_largest_int32_length_without_limit(void **state)
{
    struct frame f;

    (void)state;
    assert_int_equal(frame_header_only(0x7fffffffu, SIZE_MAX, &f), FRAME_AGAIN);
    assert_int_equal(f.have_header, 1);
    assert_int_equal(f.len, (size_t)0x7fffffffu + 1);
}

static void test_frame_rejects_length_above_max_len(void **state)
{
    struct frame f;

    (void)state;
    assert_int_equal(frame_header_only(MAX_LEN + 1, MAX_LEN, &f), FRAME_BAD);
    assert_int_equal(frame_header_only(0x7fffffffu, MAX_LEN, &f), FRAME_BAD);
    assert_int_equal(frame_header_only(5, 4, &f), FRAME_BAD);
}

static void test_frame_accepts_length_4_as_empty_body(void **state)
{
    static const uint8_t sync[] = { 'S', 0, 0, 0, 4 };
    uint8_t *p = copy_exact(sync, sizeof(sync));
    struct frame f;

    (void)state;
    assert_int_equal(frame_next(p, sizeof(sync), MAX_LEN, &f), FRAME_OK);
    assert_int_equal(f.type, 'S');
    assert_int_equal(f.len, 5);
    assert_int_equal(f.body_len, 0);
    assert_ptr_equal(f.body, p + FRAME_HDR);
    /* The smallest limit that admits it. */
    assert_int_equal(frame_next(p, sizeof(sync), 4, &f), FRAME_OK);
    free(p);
}

static void test_frame_accepts_length_equal_to_max_len(void **state)
{
    size_t max_len = 1000;
    size_t n = max_len + 1;
    uint8_t *p = calloc(1, n);
    struct frame f;

    (void)state;
    assert_non_null(p);
    p[0] = 'd';
    put32(p + 1, (uint32_t)max_len);
    assert_int_equal(frame_next(p, n, max_len, &f), FRAME_OK);
    assert_int_equal(f.len, n);
    assert_int_equal(f.body_len, max_len - 4);
    assert_int_equal(frame_next(p, n, max_len - 1, &f), FRAME_BAD);
    free(p);
}

static void test_frame_ignores_bytes_after_the_message(void **state)
{
    static const uint8_t two[] = { 'Z', 0, 0, 0, 5, 'I', 'S', 0, 0, 0, 4 };
    struct frame f;

    (void)state;
    assert_int_equal(frame_next(two, sizeof(two), MAX_LEN, &f), FRAME_OK);
    assert_int_equal(f.type, 'Z');
    assert_int_equal(f.len, 6);
    assert_int_equal(f.body_len, 1);
    assert_int_equal(f.body[0], 'I');
}

static void test_frame_wants_more_before_a_whole_header(void **state)
{
    static const uint8_t hdr[] = { 'Q', 0, 0, 0, 9 };
    struct frame f;

    (void)state;
    for (size_t n = 0; n < FRAME_HDR; n++) {
        uint8_t *p = copy_exact(hdr, n);

        memset(&f, 0xa5, sizeof(f));
        assert_int_equal(frame_next(p, n, MAX_LEN, &f), FRAME_AGAIN);
        assert_int_equal(f.have_header, 0);
        assert_null(f.body);
        free(p);
    }
}

static void test_frame_sets_header_on_partial_large_message(void **state)
{
    size_t body = 500000, have = 4096;
    uint8_t *p = malloc(have);
    struct frame f;

    (void)state;
    assert_non_null(p);
    memset(p, 'x', have);
    p[0] = 'd';
    put32(p + 1, (uint32_t)(body + 4));
    for (size_t n = FRAME_HDR; n <= have; n += have - FRAME_HDR) {
        memset(&f, 0xa5, sizeof(f));
        assert_int_equal(frame_next(p, n, MAX_LEN, &f), FRAME_AGAIN);
        assert_int_equal(f.have_header, 1);
        assert_int_equal(f.type, 'd');
        assert_int_equal(f.len, body + FRAME_HDR);
        assert_null(f.body);
        assert_int_equal(f.body_len, 0);
    }
    free(p);
}

static void test_frame_wants_one_more_byte_for_last_body_byte(void **state)
{
    static const uint8_t q[] = { 'Q', 0, 0, 0, 7, 'x', ';', 0 };
    struct frame f;

    (void)state;
    for (size_t n = FRAME_HDR; n < sizeof(q); n++) {
        uint8_t *p = copy_exact(q, n);

        assert_int_equal(frame_next(p, n, MAX_LEN, &f), FRAME_AGAIN);
        assert_int_equal(f.len, sizeof(q));
        free(p);
    }
    assert_int_equal(frame_next(q, sizeof(q), MAX_LEN, &f), FRAME_OK);
    assert_memory_equal(f.body, "x;", 3);
}

static void test_frame_reads_big_endian_integers(void **state)
{
    static const uint8_t b[] = { 0x80, 0x01, 0xfe, 0x7f };

    (void)state;
    assert_int_equal(frame_get32(b), 0x8001fe7fu);
    assert_int_equal(frame_get16(b), 0x8001u);
    assert_int_equal(frame_get16(b + 2), 0xfe7fu);
}

/* A startup-phase packet of total length len, whose first n bytes are given to the framer. */
static enum frame_rc frame_startup_prefix(uint32_t len, size_t n, struct frame *f)
{
    size_t full = len >= 8 && len <= 2 * FRAME_STARTUP_MAX ? len : 8;
    uint8_t *pkt = calloc(1, full);
    uint8_t *p;
    enum frame_rc rc;

    assert_non_null(pkt);
    put32(pkt, len);
    put32(pkt + 4, 196608);
    assert_true(n <= full);
    p = copy_exact(pkt, n);
    rc = frame_startup(p, n, f);
    if (rc == FRAME_OK) {
        assert_ptr_equal(f->body, p + 4);
        assert_int_equal(frame_get32(f->body), 196608);
    }
    free(p);
    free(pkt);
    return rc;
}

static void test_frame_startup_rejects_length_below_8(void **state)
{
    struct frame f;

    (void)state;
    for (uint32_t len = 0; len < 8; len++) {
        assert_int_equal(frame_startup_prefix(len, 4, &f), FRAME_BAD);
        assert_int_equal(f.have_header, 0);
    }
}

static void test_frame_startup_rejects_length_above_10000(void **state)
{
    struct frame f;

    (void)state;
    assert_int_equal(frame_startup_prefix(FRAME_STARTUP_MAX + 1, 8, &f), FRAME_BAD);
    assert_int_equal(frame_startup_prefix(0x7fffffffu, 8, &f), FRAME_BAD);
    assert_int_equal(frame_startup_prefix(0x80000000u, 8, &f), FRAME_BAD);
    assert_int_equal(frame_startup_prefix(0xffffffffu, 8, &f), FRAME_BAD);
}

static void test_frame_startup_accepts_exactly_8(void **state)
{
    struct frame f;

    (void)state;
    assert_int_equal(frame_startup_prefix(8, 8, &f), FRAME_OK);
    assert_int_equal(f.type, 0);
    assert_int_equal(f.len, 8);
    assert_int_equal(f.body_len, 4);
}

static void test_frame_startup_accepts_exactly_10000(void **state)
{
    struct frame f;

    (void)state;
    assert_int_equal(frame_startup_prefix(FRAME_STARTUP_MAX, FRAME_STARTUP_MAX, &f), FRAME_OK);
    assert_int_equal(f.len, FRAME_STARTUP_MAX);
    assert_int_equal(f.body_len, FRAME_STARTUP_MAX - 4);
}

static void test_frame_startup_wants_more_for_partial_packet(void **state)
{
    struct frame f;

    (void)state;
    for (size_t n = 0; n < 4; n++) {
        assert_int_equal(frame_startup_prefix(84, n, &f), FRAME_AGAIN);
        assert_int_equal(f.have_header, 0);
    }
    for (size_t n = 4; n < 84; n++) {
        assert_int_equal(frame_startup_prefix(84, n, &f), FRAME_AGAIN);
        assert_int_equal(f.have_header, 1);
        assert_int_equal(f.len, 84);
        assert_null(f.body);
    }
    assert_int_equal(frame_startup_prefix(84, 84, &f), FRAME_OK);
    assert_int_equal(f.body_len, 80);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_splits_stream_fed_byte_by_byte),
        cmocka_unit_test(test_frame_splits_stream_fed_in_random_chunks),
        cmocka_unit_test(test_frame_takes_coalesced_stream_at_once),
        cmocka_unit_test(test_frame_rejects_length_below_4),
        cmocka_unit_test(test_frame_rejects_negative_length_even_without_limit),
        cmocka_unit_test(test_frame_accepts_largest_int32_length_without_limit),
        cmocka_unit_test(test_frame_rejects_length_above_max_len),
        cmocka_unit_test(test_frame_accepts_length_4_as_empty_body),
        cmocka_unit_test(test_frame_accepts_length_equal_to_max_len),
        cmocka_unit_test(test_frame_ignores_bytes_after_the_message),
        cmocka_unit_test(test_frame_wants_more_before_a_whole_header),
        cmocka_unit_test(test_frame_sets_header_on_partial_large_message),
        cmocka_unit_test(test_frame_wants_one_more_byte_for_last_body_byte),
        cmocka_unit_test(test_frame_reads_big_endian_integers),
        cmocka_unit_test(test_frame_startup_rejects_length_below_8),
        cmocka_unit_test(test_frame_startup_rejects_length_above_10000),
        cmocka_unit_test(test_frame_startup_accepts_exactly_8),
        cmocka_unit_test(test_frame_startup_accepts_exactly_10000),
        cmocka_unit_test(test_frame_startup_wants_more_for_partial_packet),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
