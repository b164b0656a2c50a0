/*
 * tests/unit/test_sqllex.c - the SQL lexer: token kinds and exact slices for every string,
 * identifier and comment form PostgreSQL knows, keywords, unterminated input, identifier
 * names (folding, escapes, 63-byte cut) and the statement cursor. Inputs live in heap
 * buffers of exactly their length so ASan sees any overread.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "router/sql/sqllex.h"

#define MAX_TOKENS 32

/* One expected token: kind and text (whole token), body when not NULL. */
struct want {
    enum sqllex_kind kind;
    const char *text;
    const char *body;
};

struct comments {
    int n;
    char last[128];
};

static void on_comment(void *arg, const char *text, size_t len)
{
    struct comments *c = arg;

    c->n++;
    if (len >= sizeof(c->last))
        len = sizeof(c->last) - 1;
    memcpy(c->last, text, len);
    c->last[len] = '\0';
}

static char *copy_exact(const char *s, size_t n)
{
    char *c = malloc(n > 0 ? n : 1);

    assert_non_null(c);
    if (n > 0)
        memcpy(c, s, n);
    return c;
}

/* Lex sql and compare with want[0..n), then expect EOF (twice: it stays there). */
static void expect_tokens(const char *sql, int escape_strings, const struct want *want, size_t n)
{
    size_t len = strlen(sql);
    char *buf = copy_exact(sql, len);
    struct sqllex lx;
    struct sqllex_token t;

    sqllex_init(&lx, buf, len, escape_strings, NULL, NULL);
    for (size_t i = 0; i < n; i++) {
        enum sqllex_kind k = sqllex_next(&lx, &t);

        if (k != want[i].kind || t.len != strlen(want[i].text) ||
            memcmp(t.p, want[i].text, t.len) != 0) {
            print_error("%s: token %zu: got kind %d \"%.*s\", want kind %d \"%s\"\n", sql, i,
                        k, (int)t.len, t.p, want[i].kind, want[i].text);
            fail();
        }
        if (want[i].body != NULL) {
            if (t.body_len != strlen(want[i].body) ||
                memcmp(t.body, want[i].body, t.body_len) != 0) {
                print_error("%s: token %zu: body \"%.*s\", want \"%s\"\n", sql, i,
                            (int)t.body_len, t.body, want[i].body);
                fail();
            }
        }
    }
    assert_int_equal(sqllex_next(&lx, &t), SQLLEX_EOF);
    assert_int_equal(sqllex_next(&lx, &t), SQLLEX_EOF);
    free(buf);
}

#define EXPECT(sql, ...) do { \
        static const struct want w_[] = { __VA_ARGS__ }; \
        expect_tokens(sql, 0, w_, sizeof(w_) / sizeof(w_[0])); \
    } while (0)

static void test_sqllex_words_numbers_and_punctuation(void **state)
{
    (void)state;
    EXPECT("SELECT a_1, $2 FROM t;",
           { SQLLEX_IDENT, "SELECT", NULL }, { SQLLEX_IDENT, "a_1", NULL },
           { SQLLEX_COMMA, ",", NULL }, { SQLLEX_PARAM, "$2", NULL },
           { SQLLEX_IDENT, "FROM", NULL }, { SQLLEX_IDENT, "t", NULL },
           { SQLLEX_SEMI, ";", NULL });
    EXPECT("x.y(1.5e-3, .5, 0x1F, 1_000)",
           { SQLLEX_IDENT, "x", NULL }, { SQLLEX_DOT, ".", NULL }, { SQLLEX_IDENT, "y", NULL },
           { SQLLEX_LPAREN, "(", NULL }, { SQLLEX_NUMBER, "1.5e-3", NULL },
           { SQLLEX_COMMA, ",", NULL }, { SQLLEX_NUMBER, ".5", NULL },
           { SQLLEX_COMMA, ",", NULL }, { SQLLEX_NUMBER, "0x1F", NULL },
           { SQLLEX_COMMA, ",", NULL }, { SQLLEX_NUMBER, "1_000", NULL },
           { SQLLEX_RPAREN, ")", NULL });
    EXPECT("1..2", { SQLLEX_NUMBER, "1", NULL }, { SQLLEX_DOT, ".", NULL },
           { SQLLEX_NUMBER, ".2", NULL });
    EXPECT("a$b x$$y$$ é1", { SQLLEX_IDENT, "a$b", NULL }, { SQLLEX_IDENT, "x$$y$$", NULL },
           { SQLLEX_IDENT, "é1", NULL });
    EXPECT("a<>b::int[1]", { SQLLEX_IDENT, "a", NULL }, { SQLLEX_OP, "<>", NULL },
           { SQLLEX_IDENT, "b", NULL }, { SQLLEX_PUNCT, ":", NULL },
           { SQLLEX_PUNCT, ":", NULL }, { SQLLEX_IDENT, "int", NULL },
           { SQLLEX_PUNCT, "[", NULL }, { SQLLEX_NUMBER, "1", NULL },
           { SQLLEX_PUNCT, "]", NULL });
    EXPECT("$ $x", { SQLLEX_PUNCT, "$", NULL }, { SQLLEX_PUNCT, "$", NULL },
           { SQLLEX_IDENT, "x", NULL });
}

static void test_sqllex_comments_are_skipped(void **state)
{
    const char *sql = "a -- one ; two\r/* x /* nested */ still ' comment */b--\nc/**/d";
    size_t len = strlen(sql);
    char *buf = copy_exact(sql, len);
    struct comments cm = { 0, "" };
    struct sqllex lx;
    struct sqllex_token t;

    (void)state;
    sqllex_init(&lx, buf, len, 0, on_comment, &cm);
    assert_int_equal(sqllex_next(&lx, &t), SQLLEX_IDENT);
    assert_int_equal(cm.n, 0);
    assert_int_equal(sqllex_next(&lx, &t), SQLLEX_IDENT);
    assert_memory_equal(t.p, "b", 1);
    assert_int_equal(cm.n, 2);
    assert_string_equal(cm.last, "/* x /* nested */ still ' comment */");
    assert_int_equal(sqllex_next(&lx, &t), SQLLEX_IDENT);
    assert_memory_equal(t.p, "c", 1);
    assert_string_equal(cm.last, "--");
    assert_int_equal(sqllex_next(&lx, &t), SQLLEX_IDENT);
    assert_memory_equal(t.p, "d", 1);
    assert_int_equal(cm.n, 4);
    assert_int_equal(sqllex_next(&lx, &t), SQLLEX_EOF);
    free(buf);
    /* An operator stops where a comment starts. */
    EXPECT("a+-- c\n-b", { SQLLEX_IDENT, "a", NULL }, { SQLLEX_OP, "+", NULL },
           { SQLLEX_OP, "-", NULL }, { SQLLEX_IDENT, "b", NULL });
    EXPECT("a*/*c*/b", { SQLLEX_IDENT, "a", NULL }, { SQLLEX_OP, "*", NULL },
           { SQLLEX_IDENT, "b", NULL });
    EXPECT("-- only");
    EXPECT("  \t\n\f\v");
    EXPECT("");
}

static void test_sqllex_strings(void **state)
{
    (void)state;
    EXPECT("'it''s' 'a'", { SQLLEX_STRING, "'it''s'", "it''s" }, { SQLLEX_STRING, "'a'", "a" });
    EXPECT("'a\\' b", { SQLLEX_STRING, "'a\\'", "a\\" }, { SQLLEX_IDENT, "b", NULL });
    EXPECT("E'\\'' e'\\\\' 'x'", { SQLLEX_STRING, "E'\\''", "\\'" },
           { SQLLEX_STRING, "e'\\\\'", "\\\\" }, { SQLLEX_STRING, "'x'", "x" });
    EXPECT("U&'d\\0061t' u&'x'", { SQLLEX_STRING, "U&'d\\0061t'", "d\\0061t" },
           { SQLLEX_STRING, "u&'x'", "x" });
    EXPECT("B'1010' x'1F' N'n'", { SQLLEX_STRING, "B'1010'", "1010" },
           { SQLLEX_STRING, "x'1F'", "1F" }, { SQLLEX_STRING, "N'n'", "n" });
    /* Only a lone letter is a prefix. */
    EXPECT("abcE'x'", { SQLLEX_IDENT, "abcE", NULL }, { SQLLEX_STRING, "'x'", "x" });
    EXPECT("U &'x'", { SQLLEX_IDENT, "U", NULL }, { SQLLEX_OP, "&", NULL },
           { SQLLEX_STRING, "'x'", "x" });
    EXPECT("''", { SQLLEX_STRING, "''", "" });
}

static void test_sqllex_dollar_quotes(void **state)
{
    (void)state;
    EXPECT("$$a;b$$", { SQLLEX_STRING, "$$a;b$$", "a;b" });
    EXPECT("$tag$ x $$ y $Tag$ $tag$;",
           { SQLLEX_STRING, "$tag$ x $$ y $Tag$ $tag$", " x $$ y $Tag$ " },
           { SQLLEX_SEMI, ";", NULL });
    EXPECT("$a$$b$$a$", { SQLLEX_STRING, "$a$$b$$a$", "$b$" });
    EXPECT("$_1$ ' $_1$", { SQLLEX_STRING, "$_1$ ' $_1$", " ' " });
    EXPECT("$1$2", { SQLLEX_PARAM, "$1", NULL }, { SQLLEX_PARAM, "$2", NULL });
    EXPECT("$1abc", { SQLLEX_PARAM, "$1", NULL }, { SQLLEX_IDENT, "abc", NULL });
    EXPECT("$$$$", { SQLLEX_STRING, "$$$$", "" });
}

static void test_sqllex_quoted_identifiers(void **state)
{
    (void)state;
    EXPECT("\"a\"\"b\" \"select\"", { SQLLEX_QIDENT, "\"a\"\"b\"", "a\"\"b" },
           { SQLLEX_QIDENT, "\"select\"", "select" });
    EXPECT("U&\"d\\0061t\"", { SQLLEX_QIDENT, "U&\"d\\0061t\"", "d\\0061t" });
}

static void test_sqllex_unterminated_is_bad_to_the_end(void **state)
{
    (void)state;
    EXPECT("select 'abc", { SQLLEX_IDENT, "select", NULL }, { SQLLEX_BAD, "'abc", NULL });
    EXPECT("a \"b", { SQLLEX_IDENT, "a", NULL }, { SQLLEX_BAD, "\"b", NULL });
    EXPECT("a /* b /* c */ d", { SQLLEX_IDENT, "a", NULL },
           { SQLLEX_BAD, "/* b /* c */ d", NULL });
    EXPECT("/*", { SQLLEX_BAD, "/*", NULL });
    EXPECT("/*/", { SQLLEX_BAD, "/*/", NULL });
    EXPECT("$q$ x $Q$", { SQLLEX_BAD, "$q$ x $Q$", NULL });
    EXPECT("E'\\", { SQLLEX_BAD, "E'\\", NULL });
    EXPECT("E'\\'", { SQLLEX_BAD, "E'\\'", NULL });
    EXPECT("'a''", { SQLLEX_BAD, "'a''", NULL });
    EXPECT("U&\"x", { SQLLEX_BAD, "U&\"x", NULL });
}

static void test_sqllex_escape_strings_mode(void **state)
{
    static const struct want on[] = {
        { SQLLEX_STRING, "'\\'", "\\" }, { SQLLEX_SEMI, ";", NULL }, { SQLLEX_BAD, "'", NULL },
    };
    static const struct want off[] = { { SQLLEX_STRING, "'\\';'", "\\';" } };

    (void)state;
    expect_tokens("'\\';'", 0, on, 3);
    expect_tokens("'\\';'", 1, off, 1);
}

static void test_sqllex_keywords_ignore_case(void **state)
{
    static const struct {
        const char *text;
        enum sqllex_kw kw;
    } words[] = {
        { "select", SQLLEX_KW_SELECT }, { "SeLeCt", SQLLEX_KW_SELECT },
        { "ABORT", SQLLEX_KW_ABORT }, { "write", SQLLEX_KW_WRITE },
        { "Transaction", SQLLEX_KW_TRANSACTION }, { "do", SQLLEX_KW_DO },
        { "analyse", SQLLEX_KW_ANALYSE }, { "analyze", SQLLEX_KW_ANALYZE },
        { "selects", SQLLEX_KW_NONE }, { "selec", SQLLEX_KW_NONE }, { "d", SQLLEX_KW_NONE },
        { "transactions", SQLLEX_KW_NONE }, { "zzz", SQLLEX_KW_NONE },
        { "a", SQLLEX_KW_NONE }, { "s\xc3\xa9lect", SQLLEX_KW_NONE },
    };
    struct sqllex lx;
    struct sqllex_token t;

    (void)state;
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        sqllex_init(&lx, words[i].text, strlen(words[i].text), 0, NULL, NULL);
        assert_int_equal(sqllex_next(&lx, &t), SQLLEX_IDENT);
        assert_int_equal(t.kw, words[i].kw);
    }
    sqllex_init(&lx, "\"select\"", 8, 0, NULL, NULL);
    assert_int_equal(sqllex_next(&lx, &t), SQLLEX_QIDENT);
    assert_int_equal(t.kw, SQLLEX_KW_NONE);
    /* Every keyword of the table is found: the table is in order. */
#define KW_CHECK(id, s) \
    sqllex_init(&lx, s, strlen(s), 0, NULL, NULL); \
    assert_int_equal(sqllex_next(&lx, &t), SQLLEX_IDENT); \
    assert_int_equal(t.kw, SQLLEX_KW_##id);
    SQLLEX_KEYWORDS(KW_CHECK)
#undef KW_CHECK
    assert_true(sqllex_is(&t, "write"));
    assert_false(sqllex_is(&t, "writ"));
    assert_true(sqllex_ieq("ABC", 3, "abc"));
    assert_false(sqllex_ieq("ABC", 2, "abc"));
}

static size_t ident_of(const char *sql, char *buf)
{
    struct sqllex lx;
    struct sqllex_token t;

    sqllex_init(&lx, sql, strlen(sql), 0, NULL, NULL);
    sqllex_next(&lx, &t);
    return sqllex_ident(&t, buf);
}

static void test_sqllex_ident_names(void **state)
{
    char buf[SQLLEX_IDENT_MAX], long_name[200];
    size_t n;

    (void)state;
    n = ident_of("NextVal", buf);
    assert_int_equal(n, 7);
    assert_memory_equal(buf, "nextval", 7);
    n = ident_of("\"NEXT\"\"val\"", buf);
    assert_int_equal(n, 8);
    assert_memory_equal(buf, "next\"val", 8);
    n = ident_of("U&\"\\006Eext\\+000076al\\\\\"", buf);
    assert_int_equal(n, 8);
    assert_memory_equal(buf, "nextval\\", 8);
    n = ident_of("U&\"\\00e9\"", buf);
    assert_int_equal(n, 2);
    assert_memory_equal(buf, "\xc3\xa9", 2);
    n = ident_of("U&\"\\zz\"", buf);      /* not an escape: kept */
    assert_int_equal(n, 3);
    assert_int_equal(ident_of("'str'", buf), 0);
    /* 62 ASCII bytes then a 2-byte character: the character does not fit, none of it. */
    memset(long_name, 'a', 62);
    memcpy(long_name + 62, "\xc3\xa9xyz", 6);
    n = ident_of(long_name, buf);
    assert_int_equal(n, 62);
    memset(long_name, 'B', 100);
    long_name[100] = '\0';
    n = ident_of(long_name, buf);
    assert_int_equal(n, SQLLEX_IDENT_MAX);
    assert_int_equal(buf[62], 'b');
}

static void test_sqllex_cursor_splits_statements(void **state)
{
    const char *sql = "a (b; c) d; e";
    struct sqllex_cursor cu;
    int ends = 0;

    (void)state;
    sqllex_cursor_init(&cu, sql, strlen(sql), 0, NULL, NULL);
    assert_int_equal(sqllex_back(&cu, 0)->kind, SQLLEX_IDENT);
    while (sqllex_back(&cu, 0)->kind != SQLLEX_EOF) {
        if (sqllex_at_end(&cu)) {
            ends++;
            /* Only the ';' after d ends a statement. */
            assert_memory_equal(sqllex_back(&cu, 1)->p, "d", 1);
            assert_memory_equal(sqllex_back(&cu, 2)->p, ")", 1);
            assert_memory_equal(sqllex_back(&cu, 3)->p, "c", 1);
        }
        sqllex_advance(&cu);
    }
    assert_int_equal(ends, 1);
    assert_true(sqllex_at_end(&cu));
    assert_int_equal(cu.depth, 0);
    sqllex_advance(&cu);
    assert_int_equal(sqllex_back(&cu, 0)->kind, SQLLEX_EOF);
    /* ')' never takes the depth below 0; BEGIN ATOMIC depth is the caller's. */
    sqllex_cursor_init(&cu, "));", 3, 0, NULL, NULL);
    sqllex_advance(&cu);
    sqllex_advance(&cu);
    assert_int_equal(cu.depth, 0);
    cu.atomic = 1;
    assert_false(sqllex_at_end(&cu));
    cu.atomic = 0;
    assert_true(sqllex_at_end(&cu));
    sqllex_cursor_init(&cu, "'x", 2, 0, NULL, NULL);
    assert_true(cu.bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sqllex_words_numbers_and_punctuation),
        cmocka_unit_test(test_sqllex_comments_are_skipped),
        cmocka_unit_test(test_sqllex_strings),
        cmocka_unit_test(test_sqllex_dollar_quotes),
        cmocka_unit_test(test_sqllex_quoted_identifiers),
        cmocka_unit_test(test_sqllex_unterminated_is_bad_to_the_end),
        cmocka_unit_test(test_sqllex_escape_strings_mode),
        cmocka_unit_test(test_sqllex_keywords_ignore_case),
        cmocka_unit_test(test_sqllex_ident_names),
        cmocka_unit_test(test_sqllex_cursor_splits_statements),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
