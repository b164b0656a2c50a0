/*
 * tests/unit/test_cfgperm.c - modes of the files that hold passwords: the auth_file and a
 * config file that sets health_check_password. Others may read: a warning in cfg->warnings;
 * others may write, or not a regular file: the load fails with the key's file:line.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/cfg.h"

#define CLUSTER "[cluster.main]\nprimary = 127.0.0.1:5432\n"

struct files {
    char dir[64];
    char ini[96];
    char users[96];
};

/* A directory with pgrouter.ini (auth_file on line 2, extra appended) and userlist.txt. */
static void files_make(struct files *f, mode_t users_mode, const char *extra)
{
    FILE *fp;

    snprintf(f->dir, sizeof(f->dir), "/tmp/test_cfgperm_XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->ini, sizeof(f->ini), "%s/pgrouter.ini", f->dir);
    snprintf(f->users, sizeof(f->users), "%s/userlist.txt", f->dir);
    fp = fopen(f->users, "w");
    assert_non_null(fp);
    fputs("\"app\" \"secret\"\n", fp);
    fclose(fp);
    assert_int_equal(chmod(f->users, users_mode), 0);
    fp = fopen(f->ini, "w");
    assert_non_null(fp);
    fprintf(fp, "[pgrouter]\nauth_file = userlist.txt\n" CLUSTER "%s", extra);
    fclose(fp);
    assert_int_equal(chmod(f->ini, 0600), 0);
}

static void files_remove(struct files *f)
{
    unlink(f->ini);
    if (unlink(f->users) < 0)
        rmdir(f->users);
    rmdir(f->dir);
}

/* "<ini>:<line>: <rest>\n" */
static char *at(const struct files *f, int line, const char *fmt, ...)
{
    static char buf[1024];
    char rest[768];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(rest, sizeof(rest), fmt, ap);
    va_end(ap);
    snprintf(buf, sizeof(buf), "%s:%d: %s\n", f->ini, line, rest);
    return buf;
}

static void test_cfgperm_auth_file_0600_loads_without_warning(void **state)
{
    struct files f;
    struct cfg *c = NULL;

    (void)state;
    files_make(&f, 0600, "");
    assert_int_equal(cfg_load(f.ini, &c, NULL), 0);
    assert_null(c->warnings);
    assert_non_null(cfg_find_user(c, "app"));
    cfg_unref(c);
    files_remove(&f);
}

static void test_cfgperm_auth_file_readable_by_others_loads_with_a_warning(void **state)
{
    static const struct { mode_t mode; const char *who; } cases[] = {
        { 0640, "its group" }, { 0644, "everyone" }, { 0604, "everyone" }, { 0440, "its group" },
    };
    struct files f;
    struct cfg *c;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        files_make(&f, cases[i].mode, "");
        c = NULL;
        assert_int_equal(cfg_load(f.ini, &c, NULL), 0);
        assert_non_null(cfg_find_user(c, "app"));
        assert_non_null(c->warnings);
        assert_string_equal(c->warnings,
                            at(&f, 2, "auth_file \"%s\" holds passwords or secrets and is "
                               "readable by %s (mode %04o); run chmod 600 %s", f.users,
                               cases[i].who, (unsigned)cases[i].mode, f.users));
        cfg_unref(c);
        files_remove(&f);
    }
}

static void test_cfgperm_auth_file_writable_by_others_is_refused(void **state)
{
    static const struct { mode_t mode; const char *who; } cases[] = {
        { 0662, "others" }, { 0620, "its group" }, { 0602, "others" }, { 0666, "others" },
    };
    struct files f;
    struct cfg *c;
    char *errors;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        files_make(&f, cases[i].mode, "");
        c = NULL;
        errors = NULL;
        assert_int_equal(cfg_load(f.ini, &c, &errors), -EINVAL);
        assert_null(c);
        assert_string_equal(errors,
                            at(&f, 2, "auth_file \"%s\" is writable by %s (mode %04o), and "
                               "whoever can change it controls who may log in; run chmod "
                               "600 %s", f.users, cases[i].who, (unsigned)cases[i].mode,
                               f.users));
        free(errors);
        files_remove(&f);
    }
}

static void test_cfgperm_auth_file_not_regular_is_refused_without_reading_it(void **state)
{
    struct files f;
    struct cfg *c = NULL;
    char *errors = NULL;
    const char *want;

    (void)state;
    files_make(&f, 0600, "");
    assert_int_equal(unlink(f.users), 0);
    /* A FIFO nobody writes to would block fopen forever: it must not be opened. */
    assert_int_equal(mkfifo(f.users, 0600), 0);
    assert_int_equal(cfg_load(f.ini, &c, &errors), -EINVAL);
    want = at(&f, 2, "auth_file \"%s\" is not a regular file; it holds passwords or "
              "secrets, so it must be a file only its owner can change", f.users);
    assert_string_equal(errors, want);
    free(errors);
    errors = NULL;
    assert_int_equal(unlink(f.users), 0);
    assert_int_equal(mkdir(f.users, 0700), 0);
    assert_int_equal(cfg_load(f.ini, &c, &errors), -EINVAL);
    assert_string_equal(errors, at(&f, 2, "auth_file \"%s\" is not a regular file; it holds "
                                   "passwords or secrets, so it must be a file only its "
                                   "owner can change", f.users));
    free(errors);
    files_remove(&f);
}

static void test_cfgperm_config_file_with_health_check_password_is_judged(void **state)
{
    struct files f;
    struct cfg *c = NULL;
    char *errors = NULL;

    (void)state;
    /* [health] is on line 5, health_check_password on line 7. */
    files_make(&f, 0600, "[health]\nhealth_check_user = hc\nhealth_check_password = pw\n");
    assert_int_equal(chmod(f.ini, 0644), 0);
    assert_int_equal(cfg_load(f.ini, &c, NULL), 0);
    assert_string_equal(c->warnings,
                        at(&f, 7, "\"%s\" (it sets health_check_password) holds passwords "
                           "or secrets and is readable by everyone (mode 0644); run chmod "
                           "600 %s", f.ini, f.ini));
    cfg_unref(c);
    c = NULL;
    assert_int_equal(chmod(f.ini, 0664), 0);
    assert_int_equal(cfg_load(f.ini, &c, &errors), -EINVAL);
    assert_string_equal(errors,
                        at(&f, 7, "\"%s\" (it sets health_check_password) is writable by its "
                           "group (mode 0664), and whoever can change it controls who may "
                           "log in; run chmod 600 %s", f.ini, f.ini));
    free(errors);
    files_remove(&f);
}

static void test_cfgperm_config_file_without_passwords_may_be_0644(void **state)
{
    struct files f;
    struct cfg *c = NULL;

    (void)state;
    files_make(&f, 0600, "[health]\nhealth_check_user = hc\n");
    assert_int_equal(chmod(f.ini, 0664), 0);
    assert_int_equal(cfg_load(f.ini, &c, NULL), 0);
    assert_null(c->warnings);
    cfg_unref(c);
    files_remove(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cfgperm_auth_file_0600_loads_without_warning),
        cmocka_unit_test(test_cfgperm_auth_file_readable_by_others_loads_with_a_warning),
        cmocka_unit_test(test_cfgperm_auth_file_writable_by_others_is_refused),
        cmocka_unit_test(test_cfgperm_auth_file_not_regular_is_refused_without_reading_it),
        cmocka_unit_test(test_cfgperm_config_file_with_health_check_password_is_judged),
        cmocka_unit_test(test_cfgperm_config_file_without_passwords_may_be_0644),
    };

    /* The modes under test are set explicitly; a umask must not change them. */
    umask(022);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
