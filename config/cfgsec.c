/*
 * config/cfgsec.c - the security keys: TLS modes toward clients and servers, and the
 * authentication sources (auth_hba_file, auth_query). The key table is in cfgkeys.c.
 */
#include "config/cfgsec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "config/cfgtls.h"
#include "config/hba.h"

static const char *const cfgsec_sslmodes[] = {
    [CFG_SSL_DISABLE] = "disable", [CFG_SSL_ALLOW] = "allow", [CFG_SSL_PREFER] = "prefer",
    [CFG_SSL_REQUIRE] = "require", [CFG_SSL_VERIFY_CA] = "verify-ca",
    [CFG_SSL_VERIFY_FULL] = "verify-full",
};

#define CFGSEC_N_MODES (sizeof(cfgsec_sslmodes) / sizeof(cfgsec_sslmodes[0]))

/* PgBouncer's default auth_query. */
#define CFGSEC_AUTH_QUERY "SELECT usename, passwd FROM pg_shadow WHERE usename=$1"

int cfgsec_parse_sslmode(const char *v, long long min, long long max, void *field,
                         char *why, size_t why_len)
{
    (void)min;
    (void)max;
    for (size_t i = 0; i < CFGSEC_N_MODES; i++) {
        if (strcasecmp(v, cfgsec_sslmodes[i]) == 0) {
            *(int *)field = (int)i;
            return 0;
        }
    }
    snprintf(why, why_len, "\"%s\" is not an sslmode (disable, allow, prefer, require, "
             "verify-ca or verify-full)", v);
    return -EINVAL;
}

const char *cfgsec_sslmode_name(int mode)
{
    if (mode < 0 || (size_t)mode >= CFGSEC_N_MODES)
        return "?";
    return cfgsec_sslmodes[mode];
}

/*
 * What libpq itself would refuse, found at load instead of at the first connection (the
 * keys' syntax and files are config/cfgtls.c's): a key file others may read, and
 * protocols that are not one range (libpq takes a minimum and a maximum version).
 */
int cfgsec_check_server_tls(const struct cfg *c, const char **key, char *why, size_t why_len)
{
    const struct cfg_tls *t = &c->server_tls;
    unsigned mask = 0, lo, hi;
    struct stat st;
    char ignored[160];

    if (t->sslmode == CFG_SSL_DISABLE)
        return 0;
    *key = "server_tls_protocols";
    if (cfgtls_protocols(t->protocols != NULL ? t->protocols : "secure", &mask, ignored,
                         sizeof(ignored)) == 0) {
        /* lo and hi: the lowest and highest version in the set; all between must be in. */
        lo = mask & (~mask + 1);
        for (hi = lo; (mask & ~((hi << 1) - 1)) != 0; hi <<= 1)
            ;
        if (mask != (hi << 1) - lo) {
            snprintf(why, why_len, "\"%s\" leaves a gap between versions: toward servers "
                     "libpq takes one range (a minimum and a maximum version)", t->protocols);
            return -EINVAL;
        }
    }
    *key = "server_tls_key_file";
    /* libpq's rule for a key: private to its owner, or group-readable if root owns it. */
    if (t->key_file != NULL && stat(t->key_file, &st) == 0 && S_ISREG(st.st_mode) &&
        (st.st_uid == 0 ? (st.st_mode & 0137) != 0 : (st.st_mode & 0077) != 0)) {
        snprintf(why, why_len, "\"%s\" is readable by group or others (mode %04o): libpq "
                 "refuses such a key; chmod 600 it", t->key_file,
                 (unsigned)(st.st_mode & 07777));
        return -EINVAL;
    }
    return 0;
}

void cfgsec_set_defaults(struct cfg *c)
{
    c->client_tls.sslmode = CFG_SSL_DISABLE;
    c->server_tls.sslmode = CFG_SSL_PREFER;
    c->auth_query_cache_ttl_ms = 60000;
    c->max_pending_logins = 200;
    c->client_startup_timeout_ms = 5000;
    c->auth_failure_delay_ms = 200;
    c->auth_failure_max_delay_ms = 2000;
}

static int cfgsec_default(char **field, const char *value)
{
    if (*field == NULL && (*field = strdup(value)) == NULL)
        return -ENOMEM;
    return 0;
}

int cfgsec_set_late_defaults(struct cfg *c)
{
    if (cfgsec_default(&c->client_tls.protocols, "secure") < 0 ||
        cfgsec_default(&c->client_tls.ciphers, "default") < 0 ||
        cfgsec_default(&c->server_tls.protocols, "secure") < 0 ||
        cfgsec_default(&c->server_tls.ciphers, "default") < 0 ||
        cfgsec_default(&c->auth_query, CFGSEC_AUTH_QUERY) < 0)
        return -ENOMEM;
    return 0;
}

static void cfgsec_free_tls(struct cfg_tls *t)
{
    free(t->cert_file);
    free(t->key_file);
    free(t->ca_file);
    free(t->protocols);
    free(t->ciphers);
}

void cfgsec_free(struct cfg *c)
{
    cfgsec_free_tls(&c->client_tls);
    cfgsec_free_tls(&c->server_tls);
    free(c->auth_hba_file);
    hba_free(c->hba);
    free(c->auth_query);
    free(c->auth_user);
    free(c->auth_dbname);
}
