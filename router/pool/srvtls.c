/*
 * router/pool/srvtls.c - the server_tls_* keys as libpq connection parameters (see srvtls.h).
 * config/cfgsec.c has checked them when the snapshot was loaded.
 */
#include "router/pool/srvtls.h"

#include "config/cfgsec.h"
#include "config/cfgtls.h"

/* libpq's names of the versions, lowest first (ssl_min/max_protocol_version). */
static const char *const srvtls_versions[] = { "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3" };

size_t srvtls_params(const struct cfg *c, const char **keys, const char **vals, size_t n)
{
    const struct cfg_tls *t = &c->server_tls;
    unsigned mask;
    char why[160];
    int lo = -1, hi = -1;

    keys[n] = "sslmode";
    vals[n++] = cfgsec_sslmode_name(t->sslmode);
    keys[n] = "gssencmode";
    vals[n++] = "disable";
    if (t->sslmode == CFG_SSL_DISABLE)
        return n;
    if (t->ca_file != NULL) {
        keys[n] = "sslrootcert";
        vals[n++] = t->ca_file;
    }
    if (t->cert_file != NULL && t->key_file != NULL) {
        keys[n] = "sslcert";
        vals[n++] = t->cert_file;
        keys[n] = "sslkey";
        vals[n++] = t->key_file;
    }
    if (cfgtls_protocols(t->protocols != NULL ? t->protocols : "secure", &mask, why,
                         sizeof(why)) < 0)
        return n;   /* cannot happen: the snapshot was checked; libpq's defaults then */
    for (int i = 0; i < CFGTLS_N_VERSIONS; i++) {
        if (!(mask & (1u << i)))
            continue;
        if (lo < 0)
            lo = i;
        hi = i;
    }
    keys[n] = "ssl_min_protocol_version";
    vals[n++] = srvtls_versions[lo];
    keys[n] = "ssl_max_protocol_version";
    vals[n++] = srvtls_versions[hi];
    return n;
}
