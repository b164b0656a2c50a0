/*
 * config/cfgtls.c - the TLS keys' syntax and, at load, the checks of the files they name
 * (see cfgtls.h). The contexts themselves are built by router/net/tls.c.
 */
#include "config/cfgtls.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "config/cfgload.h"
#include "config/cfgsec.h"

static const char *const cfgtls_names[CFGTLS_N_VERSIONS] = {
    "tlsv1.0", "tlsv1.1", "tlsv1.2", "tlsv1.3",
};

int cfgtls_protocols(const char *spec, unsigned *mask, char *why, size_t why_len)
{
    const char *p = spec;

    *mask = 0;
    while (*p != '\0') {
        char word[32];
        size_t n = 0;
        int i;

        while (*p == ',' || isspace((unsigned char)*p))
            p++;
        if (*p == '\0')
            break;
        while (*p != '\0' && *p != ',' && !isspace((unsigned char)*p)) {
            if (n + 1 < sizeof(word))
                word[n++] = *p;
            p++;
        }
        word[n] = '\0';
        if (strcasecmp(word, "secure") == 0) {
            *mask |= 0xcu;
            continue;
        }
        if (strcasecmp(word, "all") == 0 || strcasecmp(word, "legacy") == 0) {
            *mask |= 0xfu;
            continue;
        }
        for (i = 0; i < CFGTLS_N_VERSIONS; i++)
            if (strcasecmp(word, cfgtls_names[i]) == 0)
                break;
        if (i == CFGTLS_N_VERSIONS) {
            snprintf(why, why_len, "\"%s\" is not a TLS protocol (secure, all, legacy, or a "
                     "list of tlsv1.0, tlsv1.1, tlsv1.2, tlsv1.3)", word);
            return -EINVAL;
        }
        *mask |= 1u << i;
    }
    if (*mask == 0) {
        snprintf(why, why_len, "no protocol given (secure, all, legacy, or a list of "
                 "tlsv1.0, tlsv1.1, tlsv1.2, tlsv1.3)");
        return -EINVAL;
    }
    return 0;
}

/* One side's keys, for error lines. */
struct cfgtls_side {
    struct loader *ld;
    const struct cfg_section *pg;
    const struct cfg_tls *t;
    const char *prefix;         /* "client" or "server" */
};

/* The line KEY (without the prefix) was set on, or the [pgrouter] line if it was not. */
static int cfgtls_line(const struct cfgtls_side *s, const char *key)
{
    char name[64];
    size_t k;

    snprintf(name, sizeof(name), "%s_tls_%s", s->prefix, key);
    k = cfg_key_find(SECT_PGROUTER, name);
    return s->pg->key_line[k] != 0 ? s->pg->key_line[k] : s->pg->line;
}

/* OpenSSL's reason for the last failure (its queue is cleared). */
static const char *cfgtls_reason(char *buf, size_t len)
{
    unsigned long e = ERR_peek_last_error();

    if (e == 0)
        snprintf(buf, len, "not in PEM format");
    else
        snprintf(buf, len, "%s", ERR_reason_error_string(e) != NULL
                 ? ERR_reason_error_string(e) : "not in PEM format");
    ERR_clear_error();
    return buf;
}

/* Open a file a key names; reports and returns NULL if it cannot be read. */
static FILE *cfgtls_open(const struct cfgtls_side *s, const char *key, const char *path)
{
    FILE *f = fopen(path, "r");

    if (f == NULL)
        cfgload_error(s->ld, cfgtls_line(s, key), "%s_tls_%s: \"%s\": %s", s->prefix, key,
                      path, strerror(errno));
    return f;
}

/* The certificate and key: readable, PEM, and belonging together. */
static void cfgtls_check_pair(const struct cfgtls_side *s)
{
    const struct cfg_tls *t = s->t;
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    char why[160];
    FILE *f;

    if (t->cert_file != NULL && (f = cfgtls_open(s, "cert_file", t->cert_file)) != NULL) {
        cert = PEM_read_X509(f, NULL, NULL, NULL);
        fclose(f);
        if (cert == NULL)
            cfgload_error(s->ld, cfgtls_line(s, "cert_file"), "%s_tls_cert_file: \"%s\" "
                          "holds no certificate (%s)", s->prefix, t->cert_file,
                          cfgtls_reason(why, sizeof(why)));
    }
    if (t->key_file != NULL && (f = cfgtls_open(s, "key_file", t->key_file)) != NULL) {
        char key_name[32];

        snprintf(key_name, sizeof(key_name), "%s_tls_key_file", s->prefix);
        cfgperm_key_file(s->ld, cfgtls_line(s, "key_file"), key_name, t->key_file,
                         fileno(f));
        /* An empty passphrase callback: an encrypted key fails instead of prompting. */
        key = PEM_read_PrivateKey(f, NULL, NULL, (void *)"");
        fclose(f);
        if (key == NULL)
            cfgload_error(s->ld, cfgtls_line(s, "key_file"), "%s_tls_key_file: \"%s\" "
                          "holds no unencrypted private key (%s)", s->prefix, t->key_file,
                          cfgtls_reason(why, sizeof(why)));
    }
    if (cert != NULL && key != NULL && X509_check_private_key(cert, key) != 1)
        cfgload_error(s->ld, cfgtls_line(s, "key_file"), "%s_tls_key_file: \"%s\" is not "
                      "the key of %s_tls_cert_file \"%s\"", s->prefix, t->key_file, s->prefix,
                      t->cert_file);
    ERR_clear_error();
    X509_free(cert);
    EVP_PKEY_free(key);
}

static void cfgtls_check_ca(const struct cfgtls_side *s)
{
    X509_STORE *store;
    char why[160];
    FILE *f;

    if (s->t->ca_file == NULL || (f = cfgtls_open(s, "ca_file", s->t->ca_file)) == NULL)
        return;
    fclose(f);
    store = X509_STORE_new();
    if (store != NULL && X509_STORE_load_file(store, s->t->ca_file) != 1)
        cfgload_error(s->ld, cfgtls_line(s, "ca_file"), "%s_tls_ca_file: \"%s\" holds no "
                      "CA certificate (%s)", s->prefix, s->t->ca_file,
                      cfgtls_reason(why, sizeof(why)));
    ERR_clear_error();
    X509_STORE_free(store);
}

static void cfgtls_check_side(const struct cfgtls_side *s)
{
    const struct cfg_tls *t = s->t;
    const char *mode = cfgsec_sslmode_name(t->sslmode);
    char why[CFG_WHY_MAX];
    unsigned mask;

    if (t->sslmode == CFG_SSL_DISABLE)
        return;
    if (cfgtls_protocols(t->protocols, &mask, why, sizeof(why)) < 0)
        cfgload_error(s->ld, cfgtls_line(s, "protocols"), "%s_tls_protocols: %s", s->prefix,
                      why);
    if (strcasecmp(t->ciphers, "default") != 0) {
        SSL_CTX *ctx = SSL_CTX_new(TLS_method());

        if (ctx != NULL && SSL_CTX_set_cipher_list(ctx, t->ciphers) != 1)
            cfgload_error(s->ld, cfgtls_line(s, "ciphers"), "%s_tls_ciphers: \"%s\" names "
                          "no cipher this OpenSSL knows", s->prefix, t->ciphers);
        ERR_clear_error();
        SSL_CTX_free(ctx);
    }
    if (strcmp(s->prefix, "client") == 0 && (t->cert_file == NULL || t->key_file == NULL))
        cfgload_error(s->ld, cfgtls_line(s, "sslmode"), "client_tls_sslmode = %s needs "
                      "client_tls_cert_file and client_tls_key_file (pgrouter's certificate "
                      "toward clients)", mode);
    if (strcmp(s->prefix, "server") == 0 && (t->cert_file == NULL) != (t->key_file == NULL))
        cfgload_error(s->ld, cfgtls_line(s, t->cert_file == NULL ? "key_file" : "cert_file"),
                      "server_tls_cert_file and server_tls_key_file go together (pgrouter's "
                      "client certificate toward servers)");
    if (t->sslmode >= CFG_SSL_VERIFY_CA && t->ca_file == NULL)
        cfgload_error(s->ld, cfgtls_line(s, "sslmode"), "%s_tls_sslmode = %s needs "
                      "%s_tls_ca_file (the CA that %s certificates are checked against)",
                      s->prefix, mode, s->prefix, s->prefix[0] == 'c' ? "clients'"
                                                                     : "the servers'");
    cfgtls_check_pair(s);
    cfgtls_check_ca(s);
}

void cfgtls_check(struct loader *ld)
{
    struct cfgtls_side s = { .ld = ld };

    for (size_t i = 0; i < ld->n_sects; i++)
        if (ld->sects[i].sect == SECT_PGROUTER)
            s.pg = &ld->sects[i];
    if (s.pg == NULL)
        return;
    s.t = &ld->cfg->client_tls;
    s.prefix = "client";
    cfgtls_check_side(&s);
    s.t = &ld->cfg->server_tls;
    s.prefix = "server";
    cfgtls_check_side(&s);
}
