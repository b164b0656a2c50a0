/*
 * tests/unit/test_saslprep.c - SASLprep as PostgreSQL's pg_saslprep does it: RFC 4013's
 * examples, the mapping and normalization steps, the checks PostgreSQL makes on the mapped
 * text, invalid UTF-8, the raw fallback, and SCRAM secrets derived from prepared passwords.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "protocol/saslprep.h"
#include "protocol/scram.h"

/* The issue's password: a no-break space and an A followed by a combining ring above. */
#define ISSUE_RAW "p\xc2\xa0" "A\xcc\x8a" "ngstr\xc3\xb6m"
#define ISSUE_NFC "p\xc2\xa0\xc3\x85ngstr\xc3\xb6m"
#define ISSUE_PREP "p \xc3\x85ngstr\xc3\xb6m"

/* saslprep_strict into an exactly sized heap buffer, so ASan sees any overrun. */
static int strict(const char *in, char *out, size_t outcap)
{
    size_t cap = SASLPREP_CAP(strlen(in));
    char *buf = malloc(cap);
    int rc;

    assert_non_null(buf);
    rc = saslprep_strict(in, buf, cap);
    if (rc == 0) {
        assert_true(strlen(buf) < outcap);
        memcpy(out, buf, strlen(buf) + 1);
    }
    free(buf);
    return rc;
}

static void assert_prep(const char *in, const char *want)
{
    char out[256];

    assert_int_equal(strict(in, out, sizeof(out)), 0);
    assert_string_equal(out, want);
}

static void test_saslprep_rfc4013_examples(void **state)
{
    char out[64];

    (void)state;
    assert_prep("I\xc2\xad" "X", "IX");             /* SOFT HYPHEN mapped to nothing */
    assert_prep("user", "user");
    assert_prep("USER", "USER");                    /* case is kept */
    assert_prep("\xc2\xaa", "a");                   /* FEMININE ORDINAL INDICATOR, NFKC */
    assert_prep("\xe2\x85\xa8", "IX");              /* ROMAN NUMERAL NINE, NFKC */
    /* U+0627 U+0031: a RandALCat first, but not last */
    assert_int_equal(strict("\xd8\xa7" "1", out, sizeof(out)), -EPERM);
}

static void test_saslprep_ascii_is_returned_unchanged_even_control_characters(void **state)
{
    (void)state;
    /* RFC 4013 prohibits U+0007, but PostgreSQL passes pure ASCII through untouched. */
    assert_prep("\x07", "\x07");
    assert_prep("tab\there", "tab\there");
    assert_prep("", "");
}

static void test_saslprep_issue_password_is_space_and_composed_a_ring(void **state)
{
    (void)state;
    assert_prep(ISSUE_RAW, ISSUE_PREP);
    assert_prep(ISSUE_NFC, ISSUE_PREP);
}

static void test_saslprep_maps_every_non_ascii_space_to_space(void **state)
{
    (void)state;
    assert_prep("a\xe1\x9a\x80" "b", "a b");        /* U+1680 OGHAM SPACE MARK */
    assert_prep("a\xe2\x80\x83" "b", "a b");        /* U+2003 EM SPACE */
    assert_prep("a\xe3\x80\x80" "b", "a b");        /* U+3000 IDEOGRAPHIC SPACE */
    /* U+200B is in C.1.2 and B.1; PostgreSQL maps it to a space, not to nothing. */
    assert_prep("a\xe2\x80\x8b" "b", "a b");
}

static void test_saslprep_drops_commonly_mapped_to_nothing(void **state)
{
    (void)state;
    assert_prep("a\xe2\x81\xa0" "b\xef\xbb\xbf", "ab");    /* WORD JOINER, ZWNBSP */
    assert_prep("x\xef\xb8\x8f", "x");                      /* VARIATION SELECTOR-16 */
}

static void test_saslprep_normalizes_with_nfkc(void **state)
{
    (void)state;
    assert_prep("\xef\xac\x81", "fi");                      /* U+FB01 LATIN SMALL LIGATURE FI */
    assert_prep("\xe2\x84\xaa", "K");                       /* U+212A KELVIN SIGN */
    assert_prep("\xef\xbc\xa1\xef\xbd\x82", "Ab");          /* fullwidth A, b */
    assert_prep("e\xcc\x81", "\xc3\xa9");                   /* e + COMBINING ACUTE */
}

static void test_saslprep_largest_nfkc_expansion_fits_saslprep_cap(void **state)
{
    char exact[SASLPREP_CAP(3)];
    char small[SASLPREP_CAP(3) - 1];

    (void)state;
    /* U+FDFA: 3 bytes that NFKC turns into 18 characters, 33 bytes. */
    assert_int_equal(saslprep_strict("\xef\xb7\xba", exact, sizeof(exact)), 0);
    assert_int_equal(strlen(exact), 33);
    assert_int_equal(saslprep_strict("\xef\xb7\xba", small, sizeof(small)), -ENOSPC);
    assert_int_equal(saslprep("\xef\xb7\xba", small, sizeof(small)), -ENOSPC);
    assert_int_equal(saslprep("abc", small, 3), -ENOSPC);
    assert_int_equal(saslprep_strict("abc", small, 0), -ENOSPC);
}

static void test_saslprep_refuses_prohibited_and_unassigned(void **state)
{
    char out[64];

    (void)state;
    assert_int_equal(strict("a\xee\x80\x80", out, sizeof(out)), -EPERM);   /* U+E000 private */
    assert_int_equal(strict("a\xef\xbf\xbe", out, sizeof(out)), -EPERM);   /* U+FFFE */
    assert_int_equal(strict("\xc3\xa9\x01", out, sizeof(out)), -EPERM);    /* ASCII control */
    assert_int_equal(strict("\xc3\xa9\xc2\x85", out, sizeof(out)), -EPERM); /* U+0085 */
    assert_int_equal(strict("a\xc8\xa1", out, sizeof(out)), -EPERM);       /* U+0221, 3.2 */
    assert_int_equal(strict("a\xf3\xa0\x80\x81", out, sizeof(out)), -EPERM); /* tag U+E0001 */
}

static void test_saslprep_checks_the_mapped_text_before_nfkc_as_postgresql_does(void **state)
{
    char out[64];

    (void)state;
    /* U+0340 is prohibited (C.8) although NFKC would turn it into the allowed U+0300. */
    assert_int_equal(strict("a\xcd\x80", out, sizeof(out)), -EPERM);
    /* Only characters mapped to nothing: PostgreSQL refuses an empty password. */
    assert_int_equal(strict("\xc2\xad\xe2\x80\x8d", out, sizeof(out)), -EPERM);
}

static void test_saslprep_bidi_rules(void **state)
{
    char out[64];

    (void)state;
    assert_prep("\xd8\xa7\xd8\xa8", "\xd8\xa7\xd8\xa8");        /* U+0627 U+0628: all AL */
    assert_prep("\xd8\xa7" "1\xd8\xa8", "\xd8\xa7" "1\xd8\xa8");  /* a digit inside is fine */
    assert_int_equal(strict("\xd8\xa7" "a\xd8\xa8", out, sizeof(out)), -EPERM);  /* LCat */
    assert_int_equal(strict("1\xd8\xa7", out, sizeof(out)), -EPERM);  /* not RandAL first */
}

static void test_saslprep_refuses_invalid_utf8(void **state)
{
    static const char *const bad[] = {
        "a\xc3",                /* truncated */
        "\xc3\x28",             /* bad continuation */
        "\xc0\xaf",             /* overlong '/' */
        "\xe0\x80\xaf",         /* overlong, 3 bytes */
        "\xed\xa0\x80",         /* surrogate U+D800 */
        "\xf4\x90\x80\x80",     /* above U+10FFFF */
        "\xf8\x88\x80\x80\x80", /* 5-byte form */
        "\x80",                 /* lone continuation */
        "\xff",
    };
    char out[64];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(strict(bad[i], out, sizeof(out)), -EILSEQ);
}

static void test_saslprep_falls_back_to_raw_bytes_like_postgresql(void **state)
{
    char out[64];

    (void)state;
    assert_int_equal(saslprep("\xc3\x28", out, sizeof(out)), 0);
    assert_string_equal(out, "\xc3\x28");
    assert_int_equal(saslprep("a\xcd\x80", out, sizeof(out)), 0);
    assert_string_equal(out, "a\xcd\x80");
    assert_int_equal(saslprep("\xc2\xad", out, sizeof(out)), 0);
    assert_string_equal(out, "\xc2\xad");
    assert_int_equal(saslprep(ISSUE_RAW, out, sizeof(out)), 0);
    assert_string_equal(out, ISSUE_PREP);
}

static void secret_for(const char *password, struct scram_secret *s)
{
    static const uint8_t salt[16] = "pgrouter-salt-16";

    assert_int_equal(scram_secret_from_password(password, salt, sizeof(salt), 4096, s), 0);
}

static void test_saslprep_scram_secret_is_the_same_for_raw_nfc_and_prepared(void **state)
{
    struct scram_secret raw, nfc, prep, other;

    (void)state;
    secret_for(ISSUE_RAW, &raw);
    secret_for(ISSUE_NFC, &nfc);
    secret_for(ISSUE_PREP, &prep);
    secret_for("p \xc3\x85ngstrom", &other);
    assert_memory_equal(raw.stored_key, prep.stored_key, SCRAM_KEY_LEN);
    assert_memory_equal(nfc.stored_key, prep.stored_key, SCRAM_KEY_LEN);
    assert_memory_equal(raw.server_key, prep.server_key, SCRAM_KEY_LEN);
    assert_memory_not_equal(other.stored_key, prep.stored_key, SCRAM_KEY_LEN);
}

static void test_saslprep_scram_secret_of_a_refused_password_uses_raw_bytes(void **state)
{
    struct scram_secret a, b;

    (void)state;
    /* U+0340 makes SASLprep fail: the raw bytes are hashed, not the NFKC form U+0300. */
    secret_for("a\xcd\x80", &a);
    secret_for("a\xcc\x80", &b);
    assert_memory_not_equal(a.stored_key, b.stored_key, SCRAM_KEY_LEN);
}

/*
 * libpq is PostgreSQL's own code: PQencryptPasswordConn SASLpreps the password (or falls
 * back to its raw bytes) and builds the secret with a random salt. The same salt and
 * password must give the same keys here.
 */
static void test_saslprep_secrets_match_libpq_for_every_kind_of_password(void **state)
{
    static const char *const passwords[] = {
        ISSUE_RAW, ISSUE_NFC, ISSUE_PREP, "pencil", "\x07" "bell", "I\xc2\xad" "X",
        "\xef\xac\x81" "sh", "\xef\xb7\xba", "a\xcd\x80", "\xc2\xad", "\xc3\x28",
        "\xd8\xa7" "a\xd8\xa8", "\xd8\xa7\xd8\xa8", "a\xc8\xa1", "a\xe2\x80\x8b" "b",
    };
    PGconn *conn = PQconnectStart("host=/nonexistent/pgrouter-test dbname=x");

    (void)state;
    assert_non_null(conn);
    for (size_t i = 0; i < sizeof(passwords) / sizeof(passwords[0]); i++) {
        char *pg = PQencryptPasswordConn(conn, passwords[i], "u", "scram-sha-256");
        struct scram_secret want, got;

        assert_non_null(pg);
        assert_int_equal(scram_secret_parse(pg, &want), 0);
        assert_int_equal(scram_secret_from_password(passwords[i], want.salt, want.salt_len,
                                                    want.iterations, &got), 0);
        if (memcmp(want.stored_key, got.stored_key, SCRAM_KEY_LEN) != 0)
            fail_msg("password %zu: StoredKey differs from libpq's", i);
        assert_memory_equal(want.server_key, got.server_key, SCRAM_KEY_LEN);
        PQfreemem(pg);
    }
    PQfinish(conn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_saslprep_rfc4013_examples),
        cmocka_unit_test(test_saslprep_ascii_is_returned_unchanged_even_control_characters),
        cmocka_unit_test(test_saslprep_issue_password_is_space_and_composed_a_ring),
        cmocka_unit_test(test_saslprep_maps_every_non_ascii_space_to_space),
        cmocka_unit_test(test_saslprep_drops_commonly_mapped_to_nothing),
        cmocka_unit_test(test_saslprep_normalizes_with_nfkc),
        cmocka_unit_test(test_saslprep_largest_nfkc_expansion_fits_saslprep_cap),
        cmocka_unit_test(test_saslprep_refuses_prohibited_and_unassigned),
        cmocka_unit_test(test_saslprep_checks_the_mapped_text_before_nfkc_as_postgresql_does),
        cmocka_unit_test(test_saslprep_bidi_rules),
        cmocka_unit_test(test_saslprep_refuses_invalid_utf8),
        cmocka_unit_test(test_saslprep_falls_back_to_raw_bytes_like_postgresql),
        cmocka_unit_test(test_saslprep_scram_secret_is_the_same_for_raw_nfc_and_prepared),
        cmocka_unit_test(test_saslprep_scram_secret_of_a_refused_password_uses_raw_bytes),
        cmocka_unit_test(test_saslprep_secrets_match_libpq_for_every_kind_of_password),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
