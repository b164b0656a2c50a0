/*
 * tests/unit/test_srvtls.c - TLS toward servers: the checks of the server_tls_* keys at
 * load (file:line errors), and the libpq parameters they become.
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
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "config/cfg.h"
#include "router/pool/srvtls.h"

#define HEAD "[pgrouter]\nauth_type = trust\n"
#define CLUSTER "[cluster.main]\nprimary = 127.0.0.1:5432\n"

/* A file in /tmp with text and mode; returns its malloc'd path. */
static char *tmp_file(const char *text, mode_t mode)
{
    char *path = strdup("/tmp/test_srvtls_XXXXXX");
    int fd;

    assert_non_null(path);
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    assert_int_equal(fchmod(fd, mode), 0);
    assert_int_equal(close(fd), 0);
    return path;
}

/* A real (self-signed, EC) certificate and its key in /tmp: the checks at load read them. */
static void make_pem(char **crt, char **key, mode_t key_mode)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    FILE *f;

    assert_non_null(k);
    assert_non_null(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, k);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)"tlscert", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    assert_true(X509_sign(x, k, EVP_sha256()) > 0);
    *crt = tmp_file("", 0644);
    *key = tmp_file("", key_mode);
    f = fopen(*crt, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_X509(f, x), 1);
    fclose(f);
    f = fopen(*key, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(k);
}

/* Load ini text; returns the snapshot, or NULL with *errors set. */
static struct cfg *load(const char *ini, char **errors)
{
    FILE *f = fmemopen((void *)ini, strlen(ini), "r");
    struct cfg *c = NULL;

    assert_non_null(f);
    *errors = NULL;
    if (cfg_load_stream(f, "t.ini", &c, errors) < 0)
        c = NULL;
    fclose(f);
    return c;
}

static void expect_error(const char *ini, const char *want)
{
    char *errors;
    struct cfg *c = load(ini, &errors);

    assert_null(c);
    assert_non_null(errors);
    if (strstr(errors, want) == NULL)
        fail_msg("errors \"%s\" lack \"%s\"", errors, want);
    free(errors);
}

static void test_check_refuses_a_gap_in_protocols(void **state)
{
    (void)state;
    expect_error(HEAD "server_tls_protocols = tlsv1.0,tlsv1.3\n" CLUSTER,
                 "t.ini:3: server_tls_protocols: \"tlsv1.0,tlsv1.3\" leaves a gap between "
                 "versions");
    expect_error(HEAD "server_tls_protocols = tlsv9\n" CLUSTER,
                 "t.ini:3: server_tls_protocols: \"tlsv9\" is not a TLS protocol");
}

static void test_check_verify_modes_need_a_ca(void **state)
{
    (void)state;
    expect_error(HEAD "server_tls_sslmode = verify-full\n" CLUSTER,
                 "t.ini:3: server_tls_sslmode = verify-full needs server_tls_ca_file");
    expect_error(HEAD "server_tls_sslmode = verify-ca\n" CLUSTER,
                 "t.ini:3: server_tls_sslmode = verify-ca needs server_tls_ca_file");
}

static void test_check_files_readable_and_key_private(void **state)
{
    char *crt, *key;
    char ini[768], *errors;
    struct cfg *c;

    (void)state;
    make_pem(&crt, &key, 0644);
    expect_error(HEAD "server_tls_ca_file = /nonexistent/ca.crt\n" CLUSTER,
                 "t.ini:3: server_tls_ca_file: \"/nonexistent/ca.crt\": No such "
                 "file or directory");
    snprintf(ini, sizeof(ini), HEAD "server_tls_cert_file = %s\nserver_tls_key_file = %s\n"
             CLUSTER, crt, key);
    expect_error(ini, "t.ini:4: server_tls_key_file: ");
    expect_error(ini, "is readable by group or others (mode 0644)");
    assert_int_equal(chmod(key, 0600), 0);
    c = load(ini, &errors);
    assert_non_null(c);
    assert_null(errors);
    cfg_unref(c);
    /* disable uses no file: nothing is checked but the pairing and the protocols */
    snprintf(ini, sizeof(ini), HEAD "server_tls_sslmode = disable\n"
             "server_tls_ca_file = /nonexistent/ca.crt\n" CLUSTER);
    c = load(ini, &errors);
    assert_non_null(c);
    cfg_unref(c);
    unlink(crt);
    unlink(key);
    free(crt);
    free(key);
}

/* The value of keyword k among n params, or NULL. */
static const char *param(const char **keys, const char **vals, size_t n, const char *k)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(keys[i], k) == 0)
            return vals[i];
    return NULL;
}

static void test_params_default_prefer_with_secure_range(void **state)
{
    const char *keys[SRVTLS_MAX_PARAMS + 1], *vals[SRVTLS_MAX_PARAMS + 1];
    char *errors;
    struct cfg *c = load(HEAD CLUSTER, &errors);
    size_t n;

    (void)state;
    assert_non_null(c);
    keys[0] = "user";
    vals[0] = "u";
    n = srvtls_params(c, keys, vals, 1);
    assert_int_equal(n, 5);
    assert_string_equal(param(keys, vals, n, "user"), "u");
    assert_string_equal(param(keys, vals, n, "sslmode"), "prefer");
    assert_string_equal(param(keys, vals, n, "gssencmode"), "disable");
    assert_string_equal(param(keys, vals, n, "ssl_min_protocol_version"), "TLSv1.2");
    assert_string_equal(param(keys, vals, n, "ssl_max_protocol_version"), "TLSv1.3");
    assert_null(param(keys, vals, n, "sslrootcert"));
    cfg_unref(c);
}

static void test_params_carry_files_and_versions(void **state)
{
    const char *keys[SRVTLS_MAX_PARAMS], *vals[SRVTLS_MAX_PARAMS];
    char *ca, *crt, *key;
    char ini[768], *errors;
    struct cfg *c;
    size_t n;

    (void)state;
    make_pem(&crt, &key, 0600);
    ca = strdup(crt);   /* self-signed: its own CA */
    assert_non_null(ca);
    snprintf(ini, sizeof(ini), HEAD "server_tls_sslmode = verify-full\nserver_tls_ca_file = %s\n"
             "server_tls_cert_file = %s\nserver_tls_key_file = %s\n"
             "server_tls_protocols = TLSv1.1, tlsv1.2\n" CLUSTER, ca, crt, key);
    c = load(ini, &errors);
    assert_non_null(c);
    n = srvtls_params(c, keys, vals, 0);
    assert_int_equal(n, SRVTLS_MAX_PARAMS);
    assert_string_equal(param(keys, vals, n, "sslmode"), "verify-full");
    assert_string_equal(param(keys, vals, n, "sslrootcert"), ca);
    assert_string_equal(param(keys, vals, n, "sslcert"), crt);
    assert_string_equal(param(keys, vals, n, "sslkey"), key);
    assert_string_equal(param(keys, vals, n, "ssl_min_protocol_version"), "TLSv1.1");
    assert_string_equal(param(keys, vals, n, "ssl_max_protocol_version"), "TLSv1.2");
    cfg_unref(c);
    c = load(HEAD "server_tls_sslmode = disable\n" CLUSTER, &errors);
    assert_non_null(c);
    n = srvtls_params(c, keys, vals, 0);
    assert_int_equal(n, 2);
    assert_string_equal(param(keys, vals, n, "sslmode"), "disable");
    cfg_unref(c);
    unlink(crt);
    unlink(key);
    free(ca);
    free(crt);
    free(key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_refuses_a_gap_in_protocols),
        cmocka_unit_test(test_check_verify_modes_need_a_ca),
        cmocka_unit_test(test_check_files_readable_and_key_private),
        cmocka_unit_test(test_params_default_prefer_with_secure_range),
        cmocka_unit_test(test_params_carry_files_and_versions),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
