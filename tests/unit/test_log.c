/*
 * tests/unit/test_log.c - the logger: one entry per event whatever the text holds,
 * the verbose threshold, and a snapshot's log keys applied (and applied again on reload,
 * with the -v count kept).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/cfg.h"
#include "router/core/log.h"

static char log_file[] = "/tmp/pgrouter-test-log-XXXXXX";

static int setup(void **state)
{
    int fd = mkstemp(log_file);

    (void)state;
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    log_open(NULL, 0);
    unlink(log_file);
    return 0;
}

/* Everything written to the log file so far (static buffer). */
static const char *read_all(void)
{
    static char buf[65536];
    FILE *f = fopen(log_file, "r");
    size_t n;

    assert_non_null(f);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void fresh_log(int verbose)
{
    FILE *f = fopen(log_file, "w");

    assert_non_null(f);
    fclose(f);
    assert_int_equal(log_open(log_file, verbose), 0);
}

static int count_lines(const char *text)
{
    int n = 0;

    for (; *text != '\0'; text++)
        n += *text == '\n';
    return n;
}

static void test_log_control_characters_cannot_forge_a_line(void **state)
{
    const char *text;

    (void)state;
    fresh_log(0);
    log_info("c1 %s@db: login", "evil\n2026-01-01 00:00:00.000 UTC [1] LOG forged\r\x1b[2J");
    text = read_all();
    assert_int_equal(count_lines(text), 2);
    /* the second line is indented: no line but pgrouter's own starts with a timestamp */
    assert_non_null(strstr(text, "LOG c1 evil\n    2026-01-01 00:00:00.000 UTC [1] LOG forged??[2J"
                                 "@db: login\n"));
    assert_null(strchr(text, '\r'));
    assert_null(strchr(text, '\x1b'));
}

static void test_log_keeps_a_long_text_whole(void **state)
{
    char big[5000];
    const char *text;

    (void)state;
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    fresh_log(0);
    log_warn("start %s end", big);
    text = read_all();
    assert_non_null(strstr(text, "WARNING start xxx"));
    assert_non_null(strstr(text, "xxx end\n"));
    assert_int_equal(count_lines(text), 1);
}

static void test_log_verbose_sets_the_threshold(void **state)
{
    const char *text;

    (void)state;
    fresh_log(0);
    log_debug("hidden %d", 1);
    log_info("shown %d", 1);
    assert_false(log_enabled(LOG_DEBUG));
    assert_int_equal(log_open(log_file, 1), 0);     /* appends */
    log_debug("shown %d", 2);
    assert_true(log_enabled(LOG_DEBUG));
    assert_false(log_enabled(LOG_TRACE));
    text = read_all();
    assert_null(strstr(text, "hidden"));
    assert_non_null(strstr(text, " LOG shown 1\n"));
    assert_non_null(strstr(text, " DEBUG shown 2\n"));
    fresh_log(2);
    assert_true(log_enabled(LOG_TRACE));
}

static void test_log_open_failure_keeps_the_old_destination(void **state)
{
    (void)state;
    fresh_log(0);
    assert_int_equal(log_open("/nonexistent-dir/x/pgrouter.log", 1), -ENOENT);
    log_debug("still here %d", 3);     /* the level was applied, the file kept */
    assert_non_null(strstr(read_all(), " DEBUG still here 3\n"));
}

static void test_log_reload_applies_verbose_and_keeps_the_cli_count(void **state)
{
    struct cfg c;
    const char *text;

    (void)state;
    memset(&c, 0, sizeof(c));
    c.logfile = log_file;
    c.syslog_ident = "pgrouter-test";
    fresh_log(0);
    assert_int_equal(log_apply(&c, 1), 0);      /* verbose = 0 in the file, -v once */
    assert_true(log_enabled(LOG_DEBUG));
    assert_false(log_enabled(LOG_TRACE));
    c.verbose = 1;
    assert_int_equal(log_reload(&c), 0);        /* 1 + 1 */
    assert_true(log_enabled(LOG_TRACE));
    c.verbose = 0;
    assert_int_equal(log_reload(&c), 0);
    assert_false(log_enabled(LOG_TRACE));
    assert_true(log_enabled(LOG_DEBUG));
    text = read_all();
    assert_non_null(strstr(text, " LOG verbose 1 -> 2\n"));
    assert_non_null(strstr(text, " LOG verbose 2 -> 1\n"));
    assert_int_equal(log_apply(&c, 0), 0);
    assert_false(log_enabled(LOG_DEBUG));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_control_characters_cannot_forge_a_line),
        cmocka_unit_test(test_log_keeps_a_long_text_whole),
        cmocka_unit_test(test_log_verbose_sets_the_threshold),
        cmocka_unit_test(test_log_open_failure_keeps_the_old_destination),
        cmocka_unit_test(test_log_reload_applies_verbose_and_keeps_the_cli_count),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
