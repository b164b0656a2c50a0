/*
 * tests/unit/test_startup.c - startup-phase parsing: StartupMessage parameters and every
 * way to malform them, SSLRequest, GSSENCRequest, CancelRequest, SASLInitialResponse and
 * PasswordMessage. Bodies are parsed from heap copies of exactly their size so that ASan
 * reports any read past the packet.
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

#include "protocol/frame.h"
#include "protocol/msg.h"
#include "protocol/startup.h"

/* Bytes of a packet or body under construction. */
struct pkt {
    uint8_t b[4096];
    size_t n;
};

static void pkt_mem(struct pkt *p, const void *m, size_t n)
{
    assert_true(p->n + n <= sizeof(p->b));
    memcpy(p->b + p->n, m, n);
    p->n += n;
}

static void pkt_32(struct pkt *p, uint32_t v)
{
    uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };

    pkt_mem(p, b, 4);
}

/* A string with its NUL. */
static void pkt_str(struct pkt *p, const char *s)
{
    pkt_mem(p, s, strlen(s) + 1);
}

/* Start a StartupMessage body: the protocol version. */
static void body_begin(struct pkt *p, uint32_t version)
{
    p->n = 0;
    pkt_32(p, version);
}

/* Heap copy of exactly n bytes; the caller frees it. */
static uint8_t *copy_exact(const void *m, size_t n)
{
    uint8_t *c = malloc(n > 0 ? n : 1);

    assert_non_null(c);
    if (n > 0)
        memcpy(c, m, n);
    return c;
}

/* Parse p as a body; *heap holds the bytes s points into and must be freed after use. */
static int parse_body(const struct pkt *p, struct startup *s, uint8_t **heap)
{
    *heap = copy_exact(p->b, p->n);
    return startup_parse(*heap, p->n, s);
}

/* Parse and free at once, for tests that only look at the result code. */
static int parse_rc(const struct pkt *p)
{
    struct startup s;
    uint8_t *heap;
    int rc = parse_body(p, &s, &heap);

    free(heap);
    return rc;
}

static void test_startup_parses_real_startup_message(void **state)
{
    struct pkt body, wire = { .n = 0 };
    struct startup s;
    struct frame f;
    uint8_t *heap;

    (void)state;
    /* What psql sends, framed as on the wire: int32 length, then the body. */
    body_begin(&body, STARTUP_PROTO_3_0);
    pkt_str(&body, "user");
    pkt_str(&body, "app");
    pkt_str(&body, "database");
    pkt_str(&body, "shop");
    pkt_str(&body, "options");
    pkt_str(&body, "-c search_path=shop");
    pkt_str(&body, "application_name");
    pkt_str(&body, "psql");
    pkt_str(&body, "");
    pkt_32(&wire, (uint32_t)(body.n + 4));
    pkt_mem(&wire, body.b, body.n);

    heap = copy_exact(wire.b, wire.n);
    assert_int_equal(frame_startup(heap, wire.n, &f), FRAME_OK);
    assert_int_equal(f.len, wire.n);
    assert_int_equal(startup_parse(f.body, f.body_len, &s), 0);
    assert_int_equal(s.kind, STARTUP_NORMAL);
    assert_int_equal(s.version, STARTUP_PROTO_3_0);
    assert_string_equal(s.user, "app");
    assert_string_equal(s.database, "shop");
    assert_string_equal(s.options, "-c search_path=shop");
    assert_int_equal(s.n_params, 4);
    assert_string_equal(s.params[0].name, "user");
    assert_string_equal(s.params[3].name, "application_name");
    assert_string_equal(s.params[3].value, "psql");
    assert_string_equal(startup_get(&s, "application_name"), "psql");
    assert_string_equal(startup_get(&s, "database"), "shop");
    assert_null(startup_get(&s, "client_encoding"));
    /* Pointers into the packet, not copies. */
    assert_true((const uint8_t *)s.user > heap && (const uint8_t *)s.user < heap + wire.n);
    free(heap);
}

static void test_startup_accepts_protocol_3_minor_versions(void **state)
{
    struct pkt p;
    struct startup s;
    uint8_t *heap;

    (void)state;
    body_begin(&p, (3u << 16) | 2);
    pkt_str(&p, "user");
    pkt_str(&p, "app");
    pkt_str(&p, "");
    assert_int_equal(parse_body(&p, &s, &heap), 0);
    assert_int_equal(s.version, (3u << 16) | 2);
    free(heap);
}

static void test_startup_leaves_missing_database_null(void **state)
{
    struct pkt p;
    struct startup s;
    uint8_t *heap;

    (void)state;
    body_begin(&p, STARTUP_PROTO_3_0);
    pkt_str(&p, "user");
    pkt_str(&p, "app");
    pkt_str(&p, "");
    assert_int_equal(parse_body(&p, &s, &heap), 0);
    assert_string_equal(s.user, "app");
    assert_null(s.database);
    assert_null(s.options);
    assert_int_equal(s.n_params, 1);
    free(heap);
}

static void test_startup_treats_empty_database_as_missing(void **state)
{
    struct pkt p;
    struct startup s;
    uint8_t *heap;

    (void)state;
    body_begin(&p, STARTUP_PROTO_3_0);
    pkt_str(&p, "database");
    pkt_str(&p, "");
    pkt_str(&p, "user");
    pkt_str(&p, "app");
    pkt_str(&p, "");
    assert_int_equal(parse_body(&p, &s, &heap), 0);
    assert_null(s.database);
    free(heap);
}

static void test_startup_last_duplicate_parameter_wins(void **state)
{
    struct pkt p;
    struct startup s;
    uint8_t *heap;

    (void)state;
    /* PostgreSQL keeps the last value of a repeated parameter; so must every reader here. */
    body_begin(&p, STARTUP_PROTO_3_0);
    pkt_str(&p, "user");
    pkt_str(&p, "first");
    pkt_str(&p, "application_name");
    pkt_str(&p, "a1");
    pkt_str(&p, "user");
    pkt_str(&p, "second");
    pkt_str(&p, "application_name");
    pkt_str(&p, "a2");
    pkt_str(&p, "");
    assert_int_equal(parse_body(&p, &s, &heap), 0);
    assert_string_equal(s.user, "second");
    assert_string_equal(startup_get(&s, "user"), "second");
    assert_string_equal(startup_get(&s, "application_name"), "a2");
    free(heap);
}

static void test_startup_rejects_missing_user(void **state)
{
    struct pkt p;

    (void)state;
    body_begin(&p, STARTUP_PROTO_3_0);
    pkt_str(&p, "database");
    pkt_str(&p, "shop");
    pkt_str(&p, "");
    assert_int_equal(parse_rc(&p), -EPROTO);
}

static void test_startup_rejects_empty_user(void **state)
{
    struct pkt p;

    (void)state;
    body_begin(&p, STARTUP_PROTO_3_0);
    pkt_str(&p, "user");
    pkt_str(&p, "");
    pkt_str(&p, "");
    assert_int_equal(parse_rc(&p), -EPROTO);
}

static void test_startup_rejects_empty_parameter_list(void **state)
{
    struct pkt p;

    (void)state;
    body_begin(&p, STARTUP_PROTO_3_0);
    assert_int_equal(parse_rc(&p), -EPROTO);    /* not even the final NUL */
    pkt_str(&p, "");
    assert_int_equal(parse_rc(&p), -EPROTO);    /* terminated, but no user */
}

static void test_startup_rejects_body_shorter_than_version(void **state)
{
    struct pkt p = { .n = 0 };

    (void)state;
    for (size_t n = 0; n < 4; n++) {
        p.n = n;
        memset(p.b, 0, 4);
        assert_int_equal(parse_rc(&p), -EPROTO);
    }
}

static void test_startup_rejects_unterminated_name(void **state)
{
    struct pkt p;

    (void)state;
    body_begin(&p, STARTUP_PROTO_3_0);
    pkt_str(&p, "user");
    pkt_str(&p, "app");
    pkt_mem(&p, "database", 8);
    assert_int_equal(parse_rc(&p), -EPROTO);
}

static void test_startup_rejects_unterminated_value(void **state)
{
    struct pkt p;

    (void)state;
    body_begin(&p, STARTUP_PROTO_3_0);
    pkt_str(&p, "user");
    pkt_mem(&p, "app", 3);
    assert_int_equal(parse_rc(&p), -EPROTO);
}

static void test_startup_rejects_name_without_value(void **state)
{
    struct pkt p;

    (void)state;
    body_begin(&p, STARTUP_PROTO_3_0);
    pkt_str(&p, "user");
    assert_int_equal(parse_rc(&p), -EPROTO);
}

static void test_startup_rejects_missing_final_nul(void **state)
{
    struct pkt p;

    (void)state;
    body_begin(&p, STARTUP_PROTO_3_0);
    pkt_str(&p, "user");
    pkt_str(&p, "app");
    assert_int_equal(parse_rc(&p), -EPROTO);
}

static void test_startup_rejects_trailing_bytes(void **state)
{
    struct pkt p;

    (void)state;
    body_begin(&p, STARTUP_PROTO_3_0);
    pkt_str(&p, "user");
    pkt_str(&p, "app");
    pkt_str(&p, "");
    pkt_mem(&p, "x", 1);
    assert_int_equal(parse_rc(&p), -EPROTO);
    /* A second terminator is a trailing byte too. */
    p.b[p.n - 1] = 0;
    assert_int_equal(parse_rc(&p), -EPROTO);
}

/* A body with total parameters: the user and total - 1 others. */
static void body_with_params(struct pkt *p, size_t total)
{
    char name[24];

    body_begin(p, STARTUP_PROTO_3_0);
    pkt_str(p, "user");
    pkt_str(p, "app");
    for (size_t i = 1; i < total; i++) {
        snprintf(name, sizeof(name), "p%zu", i);
        pkt_str(p, name);
        pkt_str(p, "v");
    }
    pkt_str(p, "");
}

static void test_startup_accepts_64_params(void **state)
{
    struct pkt p;
    struct startup s;
    uint8_t *heap;

    (void)state;
    body_with_params(&p, STARTUP_MAX_PARAMS);
    assert_int_equal(parse_body(&p, &s, &heap), 0);
    assert_int_equal(s.n_params, STARTUP_MAX_PARAMS);
    assert_string_equal(startup_get(&s, "p63"), "v");
    free(heap);
}

static void test_startup_rejects_65_params(void **state)
{
    struct pkt p;

    (void)state;
    body_with_params(&p, STARTUP_MAX_PARAMS + 1);
    assert_int_equal(parse_rc(&p), -E2BIG);
}

static void test_startup_rejects_protocol_2(void **state)
{
    struct pkt p;
    struct startup s;
    uint8_t *heap;

    (void)state;
    body_begin(&p, 2u << 16);
    pkt_str(&p, "user");
    pkt_str(&p, "app");
    pkt_str(&p, "");
    assert_int_equal(parse_body(&p, &s, &heap), -EPROTONOSUPPORT);
    assert_int_equal(s.kind, STARTUP_NORMAL);
    assert_int_equal(s.version, 2u << 16);
    free(heap);
    body_begin(&p, 4u << 16);
    pkt_str(&p, "");
    assert_int_equal(parse_rc(&p), -EPROTONOSUPPORT);
}

/* A whole startup-phase packet (length + code + extra bytes) through frame_startup. */
static int parse_special(uint32_t code, const void *extra, size_t n_extra, struct startup *s)
{
    struct pkt wire = { .n = 0 };
    struct frame f;
    uint8_t *heap;
    int rc;

    pkt_32(&wire, (uint32_t)(8 + n_extra));
    pkt_32(&wire, code);
    if (n_extra > 0)
        pkt_mem(&wire, extra, n_extra);
    heap = copy_exact(wire.b, wire.n);
    assert_int_equal(frame_startup(heap, wire.n, &f), FRAME_OK);
    rc = startup_parse(f.body, f.body_len, s);
    free(heap);
    return rc;
}

static void test_startup_recognizes_ssl_request(void **state)
{
    static const uint8_t ssl[] = { 0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f };
    struct startup s;
    struct frame f;

    (void)state;
    /* The exact bytes libpq sends. */
    assert_int_equal(frame_startup(ssl, sizeof(ssl), &f), FRAME_OK);
    assert_int_equal(startup_parse(f.body, f.body_len, &s), 0);
    assert_int_equal(s.kind, STARTUP_SSL);
    assert_int_equal(s.version, STARTUP_CODE_SSL);
    assert_int_equal(parse_special(STARTUP_CODE_SSL, "\0\0\0\0", 4, &s), -EPROTO);
    assert_int_equal(s.kind, STARTUP_SSL);
}

static void test_startup_recognizes_gssenc_request(void **state)
{
    static const uint8_t gss[] = { 0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30 };
    struct startup s;
    struct frame f;

    (void)state;
    assert_int_equal(frame_startup(gss, sizeof(gss), &f), FRAME_OK);
    assert_int_equal(startup_parse(f.body, f.body_len, &s), 0);
    assert_int_equal(s.kind, STARTUP_GSSENC);
    assert_int_equal(parse_special(STARTUP_CODE_GSSENC, "x", 1, &s), -EPROTO);
}

static void test_startup_reads_cancel_pid_and_key(void **state)
{
    static const uint8_t cancel[] = {
        0, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e,
        0x00, 0x01, 0xe2, 0x40,     /* pid 123456 */
        0xde, 0xad, 0xbe, 0xef,     /* secret key */
    };
    struct startup s;
    struct frame f;

    (void)state;
    assert_int_equal(frame_startup(cancel, sizeof(cancel), &f), FRAME_OK);
    assert_int_equal(startup_parse(f.body, f.body_len, &s), 0);
    assert_int_equal(s.kind, STARTUP_CANCEL);
    assert_int_equal(s.cancel_pid, 123456);
    assert_int_equal(s.cancel_key, 0xdeadbeefu);
}

static void test_startup_rejects_cancel_of_wrong_length(void **state)
{
    static const uint8_t extra[12] = { 0 };
    struct startup s;

    (void)state;
    assert_int_equal(parse_special(STARTUP_CODE_CANCEL, extra, 0, &s), -EPROTO);
    assert_int_equal(parse_special(STARTUP_CODE_CANCEL, extra, 4, &s), -EPROTO);
    assert_int_equal(parse_special(STARTUP_CODE_CANCEL, extra, 7, &s), -EPROTO);
    assert_int_equal(parse_special(STARTUP_CODE_CANCEL, extra, 9, &s), -EPROTO);
    assert_int_equal(parse_special(STARTUP_CODE_CANCEL, extra, 12, &s), -EPROTO);
    assert_int_equal(s.kind, STARTUP_CANCEL);
    assert_int_equal(parse_special(STARTUP_CODE_CANCEL, extra, 8, &s), 0);
}

/* SASLInitialResponse body: mechanism, int32 length, data. */
static int sasl_rc(const struct pkt *p, const char **mech, const uint8_t **data,
                   size_t *data_len)
{
    uint8_t *heap = copy_exact(p->b, p->n);
    int rc = startup_sasl_initial(heap, p->n, mech, data, data_len);

    /* Check pointers while the bytes exist; turn them into offsets for the caller. */
    if (rc == 0) {
        assert_ptr_equal(*mech, (const char *)heap);
        assert_true(*data >= heap && *data + *data_len <= heap + p->n);
        *mech = (const char *)p->b;
        *data = p->b + (*data - heap);
    }
    free(heap);
    return rc;
}

static void test_startup_parses_sasl_initial_response(void **state)
{
    static const char first[] = "n,,n=,r=rOprNGfwEbeRWgbNEkqO";
    struct pkt p = { .n = 0 };
    const char *mech;
    const uint8_t *data;
    size_t data_len;

    (void)state;
    pkt_str(&p, "SCRAM-SHA-256");
    pkt_32(&p, (uint32_t)strlen(first));
    pkt_mem(&p, first, strlen(first));
    assert_int_equal(sasl_rc(&p, &mech, &data, &data_len), 0);
    assert_string_equal(mech, "SCRAM-SHA-256");
    assert_int_equal(data_len, strlen(first));
    assert_memory_equal(data, first, data_len);
}

static void test_startup_accepts_sasl_initial_without_data(void **state)
{
    struct pkt p = { .n = 0 };
    const char *mech;
    const uint8_t *data;
    size_t data_len = 99;

    (void)state;
    pkt_str(&p, "SCRAM-SHA-256");
    pkt_32(&p, 0xffffffffu);
    assert_int_equal(sasl_rc(&p, &mech, &data, &data_len), 0);
    assert_string_equal(mech, "SCRAM-SHA-256");
    assert_int_equal(data_len, 0);
    /* -1 means no data: anything after it is a protocol error. */
    pkt_mem(&p, "x", 1);
    assert_int_equal(sasl_rc(&p, &mech, &data, &data_len), -EPROTO);
}

static void test_startup_accepts_sasl_initial_with_empty_data(void **state)
{
    struct pkt p = { .n = 0 };
    const char *mech;
    const uint8_t *data;
    size_t data_len = 99;

    (void)state;
    pkt_str(&p, "SCRAM-SHA-256");
    pkt_32(&p, 0);
    assert_int_equal(sasl_rc(&p, &mech, &data, &data_len), 0);
    assert_int_equal(data_len, 0);
}

static void test_startup_rejects_sasl_initial_of_wrong_length(void **state)
{
    struct pkt p = { .n = 0 };
    const char *mech;
    const uint8_t *data;
    size_t data_len;

    (void)state;
    pkt_str(&p, "SCRAM-SHA-256");
    pkt_32(&p, 6);
    pkt_mem(&p, "n,,n=", 5);
    assert_int_equal(sasl_rc(&p, &mech, &data, &data_len), -EPROTO);   /* claims more */
    pkt_mem(&p, "rx", 2);
    assert_int_equal(sasl_rc(&p, &mech, &data, &data_len), -EPROTO);   /* claims less */
    p.n--;
    assert_int_equal(sasl_rc(&p, &mech, &data, &data_len), 0);
    /* Lengths that would go negative or wrap must not be trusted either. */
    p.b[14] = 0x80;
    assert_int_equal(sasl_rc(&p, &mech, &data, &data_len), -EPROTO);
    memcpy(p.b + 14, "\xff\xff\xff\xfe", 4);
    assert_int_equal(sasl_rc(&p, &mech, &data, &data_len), -EPROTO);
}

static void test_startup_rejects_malformed_sasl_initial(void **state)
{
    struct pkt p = { .n = 0 };
    const char *mech;
    const uint8_t *data;
    size_t data_len;

    (void)state;
    assert_int_equal(sasl_rc(&p, &mech, &data, &data_len), -EPROTO);   /* empty body */
    pkt_mem(&p, "SCRAM-SHA-256", 13);
    assert_int_equal(sasl_rc(&p, &mech, &data, &data_len), -EPROTO);   /* no NUL */
    p.n = 0;
    pkt_str(&p, "SCRAM-SHA-256");
    for (size_t cut = 0; cut < 4; cut++) {
        struct pkt q = p;

        pkt_mem(&q, "\0\0\0\0", cut);
        assert_int_equal(sasl_rc(&q, &mech, &data, &data_len), -EPROTO);   /* short length */
    }
    p.n = 0;
    pkt_str(&p, "");
    pkt_32(&p, 0xffffffffu);
    assert_int_equal(sasl_rc(&p, &mech, &data, &data_len), -EPROTO);   /* empty mechanism */
}

static int password_rc(const void *m, size_t n, char *out, size_t *len)
{
    uint8_t *heap = copy_exact(m, n);
    const char *pw;
    int rc = startup_password(heap, n, &pw, len);

    if (rc == 0) {
        assert_ptr_equal(pw, (const char *)heap);
        memcpy(out, pw, *len + 1);
    }
    free(heap);
    return rc;
}

static void test_startup_parses_password_message(void **state)
{
    static const char md5[] = "md5a3556571e93b0d20722ba62be61e8c2d";
    char out[64];
    size_t len;

    (void)state;
    assert_int_equal(password_rc(md5, sizeof(md5), out, &len), 0);
    assert_int_equal(len, sizeof(md5) - 1);
    assert_string_equal(out, md5);
    assert_int_equal(password_rc("", 1, out, &len), 0);
    assert_int_equal(len, 0);
}

static void test_startup_rejects_malformed_password_message(void **state)
{
    char out[64];
    size_t len;

    (void)state;
    assert_int_equal(password_rc("", 0, out, &len), -EPROTO);
    assert_int_equal(password_rc("secret", 6, out, &len), -EPROTO);
    assert_int_equal(password_rc("secret\0x", 8, out, &len), -EPROTO);
    assert_int_equal(password_rc("secret\0", 8, out, &len), -EPROTO);
}

/* What startup_options hands its callback: "name=value;" per setting. */
static int options_collect(void *arg, const char *name, size_t nlen, const char *value,
                           size_t vlen)
{
    char *out = arg;
    size_t at = strlen(out);

    assert_true(nlen > 0);
    assert_true(at + nlen + vlen + 2 < 256);
    memcpy(out + at, name, nlen);
    out[at + nlen] = '=';
    memcpy(out + at + nlen + 1, value, vlen);
    out[at + nlen + 1 + vlen] = ';';
    out[at + nlen + vlen + 2] = '\0';
    return strncmp(name, "stop", nlen) == 0 ? -7 : 0;
}

static void test_startup_options_splits_settings(void **state)
{
    char out[256] = "";

    (void)state;
    assert_int_equal(startup_options("  -c a=1\t--b=x\\ y -c   c= -x d=2 -c =e --f -c",
                                     options_collect, out), 0);
    assert_string_equal(out, "a=1;b=x y;c=;");
    out[0] = '\0';
    assert_int_equal(startup_options("-c geqo=off\\ on -c x=a\\\\b --y=1\\", options_collect,
                                     out), 0);
    assert_string_equal(out, "geqo=off on;x=a\\b;y=1\\;");
}

static void test_startup_options_stops_at_the_first_error(void **state)
{
    char out[256] = "";

    (void)state;
    assert_int_equal(startup_options("--a=1 --stop=2 --b=3", options_collect, out), -7);
    assert_string_equal(out, "a=1;stop=2;");
}

static void test_startup_options_cuts_long_words(void **state)
{
    char opt[STARTUP_OPTION_WORD + 6], out[256] = "";

    (void)state;
    /* A word of STARTUP_OPTION_WORD bytes, not a setting, then at once "--b=2": cut there,
     * that is a word of its own. */
    memset(opt, 'x', sizeof(opt));
    opt[0] = '-';
    memcpy(opt + STARTUP_OPTION_WORD, "--b=2", 6);
    assert_int_equal(startup_options(opt, options_collect, out), 0);
    assert_string_equal(out, "b=2;");
}

/* 3.2 with two _pq_. options: NegotiateProtocolVersion with 3.0 and both names, in order. */
static void test_startup_negotiates_minor_version_and_pq_options(void **state)
{
    static const uint8_t want[] = {
        'v', 0, 0, 0, 31, 0, 3, 0, 0, 0, 0, 0, 2,
        '_', 'p', 'q', '_', '.', 'a', 0,
        '_', 'p', 'q', '_', '.', 'b', 'i', 'g', 'g', 'e', 'r', 0,
    };
    struct pkt p;
    struct startup s;
    struct msgbuf b;
    uint8_t *heap;

    (void)state;
    body_begin(&p, (3u << 16) | 2);
    pkt_str(&p, "user");
    pkt_str(&p, "app");
    pkt_str(&p, "_pq_.a");
    pkt_str(&p, "1");
    pkt_str(&p, "application_name");
    pkt_str(&p, "x");
    pkt_str(&p, "_pq_.bigger");
    pkt_str(&p, "");
    pkt_str(&p, "");
    assert_int_equal(parse_body(&p, &s, &heap), 0);
    /* protocol options are not settings: greet must not SET them */
    assert_int_equal(s.n_params, 2);
    assert_null(startup_get(&s, "_pq_.a"));
    assert_int_equal(s.n_pq_options, 2);
    msgbuf_init(&b);
    assert_int_equal(startup_negotiate(&s, &b), 1);
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.data, want, sizeof(want));
    msgbuf_free(&b);
    free(heap);
}

static void test_startup_negotiates_nothing_for_plain_3_0(void **state)
{
    struct pkt p;
    struct startup s;
    struct msgbuf b;
    uint8_t *heap;

    (void)state;
    body_begin(&p, STARTUP_PROTO_3_0);
    pkt_str(&p, "user");
    pkt_str(&p, "app");
    pkt_str(&p, "");
    assert_int_equal(parse_body(&p, &s, &heap), 0);
    msgbuf_init(&b);
    assert_int_equal(startup_negotiate(&s, &b), 0);
    assert_int_equal(b.len, 0);
    free(heap);
    /* 3.0 with a _pq_. option: reported, minor 0 */
    body_begin(&p, STARTUP_PROTO_3_0);
    pkt_str(&p, "_pq_.x");
    pkt_str(&p, "y");
    pkt_str(&p, "user");
    pkt_str(&p, "app");
    pkt_str(&p, "");
    assert_int_equal(parse_body(&p, &s, &heap), 0);
    assert_string_equal(s.user, "app");
    assert_int_equal(startup_negotiate(&s, &b), 1);
    assert_int_equal(b.data[0], 'v');
    assert_int_equal(frame_get32(b.data + 5), STARTUP_PROTO_3_0);
    assert_int_equal(frame_get32(b.data + 9), 1);
    assert_string_equal((const char *)b.data + 13, "_pq_.x");
    msgbuf_free(&b);
    free(heap);
    /* a major other than 3 is still refused, and SSLRequest negotiates nothing */
    body_begin(&p, 4u << 16);
    pkt_str(&p, "user");
    pkt_str(&p, "app");
    pkt_str(&p, "");
    assert_int_equal(parse_rc(&p), -EPROTONOSUPPORT);
    body_begin(&p, STARTUP_CODE_SSL);
    assert_int_equal(parse_body(&p, &s, &heap), 0);
    assert_int_equal(startup_negotiate(&s, &b), 0);
    free(heap);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_startup_parses_real_startup_message),
        cmocka_unit_test(test_startup_accepts_protocol_3_minor_versions),
        cmocka_unit_test(test_startup_negotiates_minor_version_and_pq_options),
        cmocka_unit_test(test_startup_negotiates_nothing_for_plain_3_0),
        cmocka_unit_test(test_startup_leaves_missing_database_null),
        cmocka_unit_test(test_startup_treats_empty_database_as_missing),
        cmocka_unit_test(test_startup_last_duplicate_parameter_wins),
        cmocka_unit_test(test_startup_rejects_missing_user),
        cmocka_unit_test(test_startup_rejects_empty_user),
        cmocka_unit_test(test_startup_rejects_empty_parameter_list),
        cmocka_unit_test(test_startup_rejects_body_shorter_than_version),
        cmocka_unit_test(test_startup_rejects_unterminated_name),
        cmocka_unit_test(test_startup_rejects_unterminated_value),
        cmocka_unit_test(test_startup_rejects_name_without_value),
        cmocka_unit_test(test_startup_rejects_missing_final_nul),
        cmocka_unit_test(test_startup_rejects_trailing_bytes),
        cmocka_unit_test(test_startup_accepts_64_params),
        cmocka_unit_test(test_startup_rejects_65_params),
        cmocka_unit_test(test_startup_rejects_protocol_2),
        cmocka_unit_test(test_startup_recognizes_ssl_request),
        cmocka_unit_test(test_startup_recognizes_gssenc_request),
        cmocka_unit_test(test_startup_reads_cancel_pid_and_key),
        cmocka_unit_test(test_startup_rejects_cancel_of_wrong_length),
        cmocka_unit_test(test_startup_parses_sasl_initial_response),
        cmocka_unit_test(test_startup_accepts_sasl_initial_without_data),
        cmocka_unit_test(test_startup_accepts_sasl_initial_with_empty_data),
        cmocka_unit_test(test_startup_rejects_sasl_initial_of_wrong_length),
        cmocka_unit_test(test_startup_rejects_malformed_sasl_initial),
        cmocka_unit_test(test_startup_parses_password_message),
        cmocka_unit_test(test_startup_rejects_malformed_password_message),
        cmocka_unit_test(test_startup_options_splits_settings),
        cmocka_unit_test(test_startup_options_stops_at_the_first_error),
        cmocka_unit_test(test_startup_options_cuts_long_words),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
