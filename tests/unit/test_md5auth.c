/*
 * tests/unit/test_md5auth.c - md5 secrets and the salted md5 response check. Expected
 * values were computed with Python's hashlib: md5(password || user), then
 * md5(hex || salt), as PostgreSQL and libpq do.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/md5auth.h"

#define USER "alice"
#define PASSWORD "s3cret"
/* "md5" + md5("s3cret" || "alice") */
#define SECRET "md58213e4d0d5792b064442db7988e9f4c4"
/* "md5" + md5("8213e4d0d5792b064442db7988e9f4c4" || 01 02 03 04) */
#define RESPONSE_SALT1 "md5b79948bbeb35dee03ab8fe15a839030b"
/* the same for salt de ad be ef */
#define RESPONSE_SALT2 "md54e41fed304c9edbcc8ad39fb2202bd93"

static const uint8_t salt1[4] = { 0x01, 0x02, 0x03, 0x04 };

static void test_md5auth_hash_matches_postgresql_secret(void **state)
{
    char out[MD5AUTH_LEN + 1];

    (void)state;
    memset(out, 'x', sizeof(out));
    md5auth_hash(USER, PASSWORD, out);
    assert_string_equal(out, SECRET);
    md5auth_hash("bob", PASSWORD, out);
    assert_string_not_equal(out, SECRET);
}

static void test_md5auth_accepts_response_for_md5_stored_secret(void **state)
{
    (void)state;
    assert_int_equal(md5auth_check(USER, SECRET, salt1, RESPONSE_SALT1, MD5AUTH_LEN), 0);
}

static void test_md5auth_accepts_response_for_plain_stored_password(void **state)
{
    (void)state;
    assert_int_equal(md5auth_check(USER, PASSWORD, salt1, RESPONSE_SALT1, MD5AUTH_LEN), 0);
    /* The PasswordMessage body with its terminating NUL is accepted too. */
    assert_int_equal(md5auth_check(USER, PASSWORD, salt1, RESPONSE_SALT1, MD5AUTH_LEN + 1),
                     0);
}

static void test_md5auth_rejects_wrong_response_with_eacces(void **state)
{
    static const uint8_t salt2[4] = { 0xde, 0xad, 0xbe, 0xef };
    char flipped[] = RESPONSE_SALT1;

    (void)state;
    /* A response computed for another salt: a replay. */
    assert_int_equal(md5auth_check(USER, SECRET, salt1, RESPONSE_SALT2, MD5AUTH_LEN), -EACCES);
    assert_int_equal(md5auth_check(USER, SECRET, salt2, RESPONSE_SALT2, MD5AUTH_LEN), 0);
    /* The user is part of the secret when the password is stored in plain. */
    assert_int_equal(md5auth_check("bob", PASSWORD, salt1, RESPONSE_SALT1, MD5AUTH_LEN),
                     -EACCES);
    assert_int_equal(md5auth_check(USER, "s3cret!", salt1, RESPONSE_SALT1, MD5AUTH_LEN),
                     -EACCES);
    flipped[MD5AUTH_LEN - 1] = flipped[MD5AUTH_LEN - 1] == '0' ? '1' : '0';
    assert_int_equal(md5auth_check(USER, SECRET, salt1, flipped, MD5AUTH_LEN), -EACCES);
}

static void test_md5auth_scram_stored_secret_never_matches(void **state)
{
    static const char scram[] = "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
                                "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
                                "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=";
    static const char salt_str[5] = { 0x01, 0x02, 0x03, 0x04, 0x00 };
    char secret[MD5AUTH_LEN + 1], response[MD5AUTH_LEN + 1];

    (void)state;
    /* md5auth_hash(salt, hex) is md5(hex || salt): the client's side of the handshake. */
    md5auth_hash(salt_str, &SECRET[3], response);
    assert_string_equal(response, RESPONSE_SALT1);
    /* Even a client that sends the SCRAM text itself as its password is refused. */
    md5auth_hash(USER, scram, secret);
    md5auth_hash(salt_str, secret + 3, response);
    assert_int_equal(md5auth_check(USER, scram, salt1, response, MD5AUTH_LEN), -EACCES);
    assert_int_equal(md5auth_check(USER, scram, salt1, RESPONSE_SALT1, MD5AUTH_LEN), -EACCES);
}

static void test_md5auth_rejects_malformed_response_with_einval(void **state)
{
    static const char *const bad[] = {
        "",
        "md5",
        "md5b79948bbeb35dee03ab8fe15a839030",
        "md5b79948bbeb35dee03ab8fe15a839030b0",
        "MD5b79948bbeb35dee03ab8fe15a839030b",
        "sha256b79948bbeb35dee03ab8fe15a8390",
        "md5B79948BBEB35DEE03AB8FE15A839030B",
        "md5b79948bbeb35dee03ab8fe15a83903gb",
        "md5b79948bbeb35dee03ab8fe15a83903 b",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (md5auth_check(USER, SECRET, salt1, bad[i], strlen(bad[i])) != -EINVAL)
            fail_msg("accepted response %zu: %s", i, bad[i]);
    }
    /* A right response with a length that cuts it, or one extra byte that is not NUL. */
    assert_int_equal(md5auth_check(USER, SECRET, salt1, RESPONSE_SALT1, MD5AUTH_LEN - 1),
                     -EINVAL);
    assert_int_equal(md5auth_check(USER, SECRET, salt1, RESPONSE_SALT1 "x", MD5AUTH_LEN + 1),
                     -EINVAL);
    assert_int_equal(md5auth_check(USER, SECRET, salt1, NULL, 0), -EINVAL);
    assert_int_equal(md5auth_check(USER, NULL, salt1, RESPONSE_SALT1, MD5AUTH_LEN), -EINVAL);
}

static void test_md5auth_is_secret_requires_md5_and_32_lowercase_hex(void **state)
{
    (void)state;
    assert_int_equal(md5auth_is_secret(SECRET), 1);
    assert_int_equal(md5auth_is_secret(PASSWORD), 0);
    assert_int_equal(md5auth_is_secret(""), 0);
    assert_int_equal(md5auth_is_secret(NULL), 0);
    assert_int_equal(md5auth_is_secret("md58213e4d0d5792b064442db7988e9f4c"), 0);
    assert_int_equal(md5auth_is_secret("md58213e4d0d5792b064442db7988e9f4c40"), 0);
    assert_int_equal(md5auth_is_secret("md58213E4D0D5792B064442DB7988E9F4C4"), 0);
    assert_int_equal(md5auth_is_secret("md58213e4d0d5792b064442db7988e9f4cg"), 0);
    assert_int_equal(md5auth_is_secret("MD58213e4d0d5792b064442db7988e9f4c4"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_md5auth_hash_matches_postgresql_secret),
        cmocka_unit_test(test_md5auth_accepts_response_for_md5_stored_secret),
        cmocka_unit_test(test_md5auth_accepts_response_for_plain_stored_password),
        cmocka_unit_test(test_md5auth_rejects_wrong_response_with_eacces),
        cmocka_unit_test(test_md5auth_scram_stored_secret_never_matches),
        cmocka_unit_test(test_md5auth_rejects_malformed_response_with_einval),
        cmocka_unit_test(test_md5auth_is_secret_requires_md5_and_32_lowercase_hex),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
