/*
 * config/cfgvalue.c - parsers for single config values: each turns the text of
 * one value into a typed field or explains, in words an operator can act on,
 * why it cannot. cfg.c's key table points at these.
 */
#include "config/cfgvalue.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define CFGVALUE_LETTERS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
#define CFGVALUE_ALNUM CFGVALUE_LETTERS "0123456789"

/* Read decimal digits at *pp into *out. -EINVAL if none, -ERANGE on overflow. */
static int cfgvalue_digits(const char **pp, unsigned long long *out)
{
    const char *p = *pp;
    unsigned long long v = 0;

    if (!isdigit((unsigned char)*p))
        return -EINVAL;
    for (; isdigit((unsigned char)*p); p++) {
        if (v > (ULLONG_MAX - 9) / 10)
            return -ERANGE;
        v = v * 10 + (unsigned long long)(*p - '0');
    }
    *pp = p;
    *out = v;
    return 0;
}

/* A decimal number that is all of s, 1..max. */
static int cfgvalue_whole(const char *s, unsigned long long max, unsigned long long *out)
{
    const char *p = s;

    if (cfgvalue_digits(&p, out) < 0 || *p != '\0' || *out < 1 || *out > max)
        return -EINVAL;
    return 0;
}

int cfgvalue_name_ok(const char *s)
{
    size_t n = strlen(s);

    return n >= 1 && n <= 63 && strspn(s, CFGVALUE_ALNUM "_-") == n;
}

/*
 * A host name (dot-separated labels of letters, digits, '-' and '_', which
 * Docker service names use; not starting with '-'), an IPv4 literal or, if
 * allow_v6, an IPv6 literal.
 */
static int cfgvalue_host_ok(const char *h, int allow_v6)
{
    size_t n = strlen(h);
    struct in6_addr a6;
    struct in_addr a4;

    if (n == 0 || n > 253)
        return 0;
    if (inet_pton(AF_INET, h, &a4) == 1)
        return 1;
    if (strchr(h, ':') != NULL)
        return allow_v6 && inet_pton(AF_INET6, h, &a6) == 1;
    if (strspn(h, "0123456789.") == n)
        return 0;               /* looks like IPv4 but is not one */
    while (*h != '\0') {
        size_t len = strspn(h, CFGVALUE_ALNUM "-_");

        if (len == 0 || len > 63 || *h == '-' || (h[len] != '.' && h[len] != '\0'))
            return 0;
        h += len;
        if (*h == '.' && *++h == '\0')
            return 0;
    }
    return 1;
}

int cfgvalue_parse_node(const char *v, long long min, long long max, void *field,
                        char *why, size_t why_len)
{
    struct cfg_node *out = field;
    char host[sizeof(out->host)];
    const char *h = v;
    const char *port_s;
    unsigned long long port;
    struct in6_addr a6;
    size_t hlen;
    int v6 = 0;

    (void)min;
    (void)max;
    if (v[0] == '[') {
        const char *close = strchr(v, ']');

        if (close == NULL || close[1] != ':') {
            snprintf(why, why_len, "\"%s\" is not [IPv6 address]:port", v);
            return -EINVAL;
        }
        h = v + 1;
        hlen = (size_t)(close - h);
        port_s = close + 2;
        v6 = 1;
    } else {
        const char *colon = strrchr(v, ':');

        if (colon == NULL) {
            snprintf(why, why_len, "\"%s\" has no port (expected host:port)", v);
            return -EINVAL;
        }
        if (memchr(v, ':', (size_t)(colon - v)) != NULL) {
            snprintf(why, why_len, "\"%s\": write an IPv6 address in brackets, "
                     "e.g. [::1]:5432", v);
            return -EINVAL;
        }
        hlen = (size_t)(colon - v);
        port_s = colon + 1;
    }
    if (hlen >= sizeof(host))
        hlen = sizeof(host) - 1;    /* cut, then refused below as too long */
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    if (v6 ? inet_pton(AF_INET6, host, &a6) != 1 : !cfgvalue_host_ok(host, 0)) {
        snprintf(why, why_len, "\"%s\": \"%s\" is not a host name or IP address", v, host);
        return -EINVAL;
    }
    if (cfgvalue_whole(port_s, 65535, &port) < 0) {
        snprintf(why, why_len, "\"%s\": port \"%s\" is not 1-65535", v, port_s);
        return -EINVAL;
    }
    memset(out, 0, sizeof(*out));
    memcpy(out->host, host, hlen + 1);
    out->port = (uint16_t)port;
    out->weight = 1;
    snprintf(out->name, sizeof(out->name), v6 ? "[%s]:%u" : "%s:%u", host, out->port);
    return 0;
}

int cfgvalue_parse_listen_addr(const char *v, long long min, long long max, void *field,
                               char *why, size_t why_len)
{
    (void)min;
    (void)max;
    if (strcmp(v, "*") == 0)
        v = "0.0.0.0";
    if (!cfgvalue_host_ok(v, 1)) {
        snprintf(why, why_len, "\"%s\" is not a host name or IP address", v);
        return -EINVAL;
    }
    strcpy(field, v);           /* cfgvalue_host_ok allows at most 253 characters */
    return 0;
}

int cfgvalue_parse_port(const char *v, long long min, long long max, void *field,
                        char *why, size_t why_len)
{
    unsigned long long port;

    (void)min;
    (void)max;
    if (cfgvalue_whole(v, 65535, &port) < 0) {
        snprintf(why, why_len, "\"%s\" is not a port (1-65535)", v);
        return -EINVAL;
    }
    *(uint16_t *)field = (uint16_t)port;
    return 0;
}

int cfgvalue_parse_port_or_off(const char *v, long long min, long long max, void *field,
                               char *why, size_t why_len)
{
    if (strcmp(v, "0") == 0) {
        *(uint16_t *)field = 0;
        return 0;
    }
    if (cfgvalue_parse_port(v, min, max, field, why, why_len) < 0) {
        snprintf(why, why_len, "\"%s\" is not a port (1-65535, or 0 for off)", v);
        return -EINVAL;
    }
    return 0;
}

int cfgvalue_parse_auth(const char *v, long long min, long long max, void *field,
                        char *why, size_t why_len)
{
    enum cfg_auth *dst = field;

    (void)min;
    (void)max;
    if (strcmp(v, "scram-sha-256") == 0) {
        *dst = CFG_AUTH_SCRAM;
    } else if (strcmp(v, "md5") == 0) {
        *dst = CFG_AUTH_MD5;
    } else if (strcmp(v, "trust") == 0) {
        *dst = CFG_AUTH_TRUST;
    } else if (strcmp(v, "hba") == 0) {
        *dst = CFG_AUTH_HBA;
    } else if (strcmp(v, "cert") == 0) {
        *dst = CFG_AUTH_CERT;
    } else {
        snprintf(why, why_len, "\"%s\" is not one of scram-sha-256, md5, trust, hba, cert", v);
        return -EINVAL;
    }
    return 0;
}

int cfgvalue_parse_string(const char *v, long long min, long long max, void *field,
                          char *why, size_t why_len)
{
    char *copy;

    (void)min;
    (void)max;
    (void)why;
    (void)why_len;
    if (*v == '\0')
        return 0;
    copy = strdup(v);
    if (copy == NULL)
        return -ENOMEM;
    *(char **)field = copy;
    return 0;
}

int cfgvalue_parse_text(const char *v, long long min, long long max, void *field,
                        char *why, size_t why_len)
{
    char *copy;

    (void)min;
    (void)max;
    (void)why;
    (void)why_len;
    copy = strdup(v);
    if (copy == NULL)
        return -ENOMEM;
    *(char **)field = copy;
    return 0;
}

int cfgvalue_parse_int(const char *v, long long min, long long max, void *field,
                       char *why, size_t why_len)
{
    const char *p = v + (*v == '-');
    unsigned long long mag = 0;
    long long n;
    int rc = cfgvalue_digits(&p, &mag);

    if (rc == -EINVAL || *p != '\0') {
        snprintf(why, why_len, "\"%s\" is not an integer", v);
        return -EINVAL;
    }
    if (rc == -ERANGE || mag > LLONG_MAX)
        n = *v == '-' ? LLONG_MIN : LLONG_MAX;
    else
        n = *v == '-' ? -(long long)mag : (long long)mag;
    if (n < min || n > max) {
        if (max == INT_MAX)
            snprintf(why, why_len, "\"%s\" is out of range (at least %lld)", v, min);
        else
            snprintf(why, why_len, "\"%s\" is out of range (%lld-%lld)", v, min, max);
        return -EINVAL;
    }
    *(int *)field = (int)n;
    return 0;
}

/*
 * A number, optional blanks, then one of units (NULL-terminated; "" for none),
 * multiplied by the matching mult. -EINVAL if malformed, -ERANGE above max.
 */
static int cfgvalue_number_unit(const char *v, const char *const *units,
                                const unsigned long long *mults, unsigned long long max,
                                unsigned long long *out)
{
    const char *p = v;
    unsigned long long n = 0;
    int rc = cfgvalue_digits(&p, &n);

    if (rc == -EINVAL)
        return rc;
    while (isdigit((unsigned char)*p))
        p++;                    /* past the rest of an overflowing number */
    while (*p == ' ' || *p == '\t')
        p++;
    for (size_t i = 0; units[i] != NULL; i++) {
        if (strcmp(p, units[i]) != 0)
            continue;
        if (rc == -ERANGE || n > max / mults[i])
            return -ERANGE;
        *out = n * mults[i];
        return 0;
    }
    return -EINVAL;
}

int cfgvalue_parse_size(const char *v, long long min, long long max, void *field,
                        char *why, size_t why_len)
{
    static const char *const units[] = { "", "kB", "MB", "GB", NULL };
    static const unsigned long long mults[] = { 1, 1ULL << 10, 1ULL << 20, 1ULL << 30 };
    unsigned long long n = 0;
    int rc = cfgvalue_number_unit(v, units, mults, (unsigned long long)max, &n);

    if (rc == -EINVAL) {
        snprintf(why, why_len, "\"%s\" is not a size (bytes, or a number followed by "
                 "kB, MB or GB)", v);
        return rc;
    }
    if (rc < 0 || n < (unsigned long long)min) {
        snprintf(why, why_len, "\"%s\" is out of range (%lld-%lld bytes)", v, min, max);
        return -EINVAL;
    }
    *(size_t *)field = (size_t)n;
    return 0;
}

int cfgvalue_parse_duration(const char *v, long long min, long long max, void *field,
                            char *why, size_t why_len)
{
    static const char *const units[] = { "", "ms", "s", "min", "h", NULL };
    static const unsigned long long mults[] = { 1000, 1, 1000, 60000, 3600000 };
    unsigned long long n = 0;
    int rc = cfgvalue_number_unit(v, units, mults, (unsigned long long)max, &n);

    if (rc == -EINVAL) {
        snprintf(why, why_len, "\"%s\" is not a duration (seconds, or a number followed "
                 "by ms, s, min or h)", v);
        return rc;
    }
    if (rc < 0 || n < (unsigned long long)min) {
        snprintf(why, why_len, "\"%s\" is out of range (%lld-%lld ms)", v, min, max);
        return -EINVAL;
    }
    *(unsigned *)field = (unsigned)n;
    return 0;
}

int cfgvalue_parse_bool(const char *v, long long min, long long max, void *field,
                        char *why, size_t why_len)
{
    static const char *const on[] = { "on", "true", "yes", "1" };
    static const char *const off[] = { "off", "false", "no", "0" };

    (void)min;
    (void)max;
    for (size_t i = 0; i < sizeof(on) / sizeof(on[0]); i++) {
        if (strcasecmp(v, on[i]) == 0) {
            *(int *)field = 1;
            return 0;
        }
        if (strcasecmp(v, off[i]) == 0) {
            *(int *)field = 0;
            return 0;
        }
    }
    snprintf(why, why_len, "\"%s\" is not a boolean (on, off, true, false, yes, no, 1, 0)", v);
    return -EINVAL;
}

int cfgvalue_parse_pool_mode(const char *v, long long min, long long max, void *field,
                             char *why, size_t why_len)
{
    enum cfg_pool_mode *dst = field;

    (void)min;
    (void)max;
    if (strcasecmp(v, "transaction") == 0) {
        *dst = CFG_POOL_TRANSACTION;
    } else if (strcasecmp(v, "session") == 0) {
        *dst = CFG_POOL_SESSION;
    } else if (strcasecmp(v, "statement") == 0) {
        /* it would break every multi-statement transaction routed through us */
        snprintf(why, why_len, "statement pooling is not supported (use transaction or "
                 "session)");
        return -EINVAL;
    } else {
        snprintf(why, why_len, "\"%s\" is not one of transaction, session", v);
        return -EINVAL;
    }
    return 0;
}

int cfgvalue_parse_workers(const char *v, long long min, long long max, void *field,
                           char *why, size_t why_len)
{
    long cores;

    if (strcasecmp(v, "auto") != 0) {
        int rc = cfgvalue_parse_int(v, min, max, field, why, why_len);

        if (rc < 0 || *(int *)field > 0)
            return rc;
    }
    cores = sysconf(_SC_NPROCESSORS_ONLN);
    *(int *)field = cores < 1 ? 1 : cores > max ? (int)max : (int)cores;
    return 0;
}

int cfgvalue_parse_role(const char *v, long long min, long long max, void *field,
                        char *why, size_t why_len)
{
    int *dst = field;

    (void)min;
    (void)max;
    if (strcasecmp(v, "auto") == 0) {
        *dst = CFG_ROLE_AUTO;
    } else if (strcasecmp(v, "primary") == 0) {
        *dst = CFG_ROLE_PRIMARY;
    } else if (strcasecmp(v, "replica") == 0) {
        *dst = CFG_ROLE_REPLICA;
    } else {
        snprintf(why, why_len, "\"%s\" is not one of auto, primary, replica", v);
        return -EINVAL;
    }
    return 0;
}

int cfgvalue_parse_name(const char *v, long long min, long long max, void *field,
                        char *why, size_t why_len)
{
    (void)min;
    (void)max;
    if (!cfgvalue_name_ok(v)) {
        snprintf(why, why_len, "\"%s\" is not a cluster name (1-63 of A-Z a-z 0-9 _ -)", v);
        return -EINVAL;
    }
    strcpy(field, v);
    return 0;
}

/*
 * Cut a comma-separated list at item: returns the entry without surrounding
 * blanks and sets *next to the text after its ',' (NULL after the last entry).
 */
char *cfgvalue_cut_item(char *item, char **next)
{
    char *end;

    *next = strchr(item, ',');
    if (*next != NULL)
        *(*next)++ = '\0';
    item += strspn(item, " \t");
    end = item + strlen(item);
    while (end > item && (end[-1] == ' ' || end[-1] == '\t'))
        *--end = '\0';
    return item;
}

/* One replicas entry: an address, optionally followed by blanks and "weight=N". */
static int cfgvalue_replica(char *item, struct cfg_node *out, char *why, size_t why_len)
{
    char *sp = item + strcspn(item, " \t");
    char *w = sp + strspn(sp, " \t");
    unsigned long long weight = 1;
    int rc;

    if (*w != '\0') {
        if (strncmp(w, "weight=", 7) != 0) {
            snprintf(why, why_len, "\"%s\": expected \"weight=N\" after the address", item);
            return -EINVAL;
        }
        if (cfgvalue_whole(w + 7, 1000, &weight) < 0) {
            snprintf(why, why_len, "\"%s\": weight must be 1-1000", item);
            return -EINVAL;
        }
    }
    *sp = '\0';
    rc = cfgvalue_parse_node(item, 0, 0, out, why, why_len);
    out->weight = (int)weight;
    return rc;
}

int cfgvalue_parse_replicas(const char *v, long long min, long long max, void *field,
                            char *why, size_t why_len)
{
    struct cfg_cluster *cl = field;
    struct cfg_node *nodes = NULL;
    char *copy = NULL;
    char *item, *next;
    size_t n = 1, i = 0;
    int rc = -ENOMEM;

    (void)min;
    (void)max;
    if (*v == '\0')
        return 0;
    for (const char *p = v; *p != '\0'; p++)
        n += *p == ',';
    copy = strdup(v);
    nodes = calloc(n, sizeof(*nodes));
    if (copy == NULL || nodes == NULL)
        goto fail;
    for (item = copy; item != NULL; item = next, i++) {
        item = cfgvalue_cut_item(item, &next);
        if (*item == '\0') {
            snprintf(why, why_len, "entry %zu of \"%s\" is empty", i + 1, v);
            rc = -EINVAL;
            goto fail;
        }
        rc = cfgvalue_replica(item, &nodes[i], why, why_len);
        if (rc < 0)
            goto fail;
    }
    cl->replicas = nodes;
    cl->n_replicas = n;
    free(copy);
    return 0;
fail:
    free(nodes);
    free(copy);
    return rc;
}

int cfgvalue_parse_uint(const char *v, long long min, long long max, void *field,
                        char *why, size_t why_len)
{
    int n = 0;
    int rc = cfgvalue_parse_int(v, min < 0 ? 0 : min, max, &n, why, why_len);

    if (rc == 0)
        *(unsigned *)field = (unsigned)n;
    return rc;
}

int cfgvalue_parse_size_ull(const char *v, long long min, long long max, void *field,
                            char *why, size_t why_len)
{
    static const char *const units[] = { "", "kB", "MB", "GB", "TB", NULL };
    static const unsigned long long mults[] = {
        1, 1ULL << 10, 1ULL << 20, 1ULL << 30, 1ULL << 40,
    };
    unsigned long long n = 0;
    int rc = cfgvalue_number_unit(v, units, mults, (unsigned long long)max, &n);

    if (rc == -EINVAL) {
        snprintf(why, why_len, "\"%s\" is not a size (bytes, or a number followed by "
                 "kB, MB, GB or TB)", v);
        return rc;
    }
    if (rc < 0 || n < (unsigned long long)min) {
        snprintf(why, why_len, "\"%s\" is out of range (%lld-%lld bytes)", v, min, max);
        return -EINVAL;
    }
    *(unsigned long long *)field = n;
    return 0;
}

/* Store into *field the index of v in words (NULL-terminated), ignoring case. */
static int cfgvalue_choice(const char *v, const char *const *words, void *field,
                           char *why, size_t why_len)
{
    size_t used = 0;

    for (int i = 0; words[i] != NULL; i++) {
        if (strcasecmp(v, words[i]) == 0) {
            *(int *)field = i;
            return 0;
        }
    }
    used = (size_t)snprintf(why, why_len, "\"%s\" is not one of ", v);
    for (int i = 0; words[i] != NULL && used < why_len; i++)
        used += (size_t)snprintf(why + used, why_len - used, "%s%s", i ? ", " : "", words[i]);
    return -EINVAL;
}

int cfgvalue_parse_lb(const char *v, long long min, long long max, void *field,
                      char *why, size_t why_len)
{
    /* in enum cfg_lb order */
    static const char *const words[] = {
        "round_robin", "least_conn", "random", "weighted", "least_latency", NULL,
    };

    (void)min;
    (void)max;
    return cfgvalue_choice(v, words, field, why, why_len);
}

int cfgvalue_parse_primary_reads(const char *v, long long min, long long max, void *field,
                                 char *why, size_t why_len)
{
    /* in enum cfg_primary_reads order */
    static const char *const words[] = { "off", "on", "fallback", NULL };

    (void)min;
    (void)max;
    return cfgvalue_choice(v, words, field, why, why_len);
}

int cfgvalue_parse_read_fallback(const char *v, long long min, long long max, void *field,
                                 char *why, size_t why_len)
{
    static const char *const words[] = { "primary", "error", NULL };

    (void)min;
    (void)max;
    return cfgvalue_choice(v, words, field, why, why_len);
}

int cfgvalue_parse_facility(const char *v, long long min, long long max, void *field,
                            char *why, size_t why_len)
{
    /* in enum cfg_facility order: PgBouncer's names */
    static const char *const words[] = {
        "daemon", "user", "auth", "authpriv", "local0", "local1", "local2", "local3",
        "local4", "local5", "local6", "local7", NULL,
    };

    (void)min;
    (void)max;
    return cfgvalue_choice(v, words, field, why, why_len);
}

int cfgvalue_parse_ryw(const char *v, long long min, long long max, void *field,
                       char *why, size_t why_len)
{
    static const char *const words[] = { "window", "lsn", NULL };

    (void)min;
    (void)max;
    return cfgvalue_choice(v, words, field, why, why_len);
}

/* One "lo-hi" or "n" entry of a bucket list. */
static int cfgvalue_bucket_range(const char *item, uint16_t *lo, uint16_t *hi,
                                 char *why, size_t why_len)
{
    const char *p = item;
    unsigned long long a = 0, b = 0;

    if (cfgvalue_digits(&p, &a) < 0 || a > 65535)
        goto bad;
    b = a;
    if (*p == '-') {
        p++;
        if (cfgvalue_digits(&p, &b) < 0 || b > 65535)
            goto bad;
    }
    if (*p != '\0')
        goto bad;
    if (b < a) {
        snprintf(why, why_len, "range \"%s\" ends before it starts", item);
        return -EINVAL;
    }
    *lo = (uint16_t)a;
    *hi = (uint16_t)b;
    return 0;
bad:
    snprintf(why, why_len, "\"%s\" is not a bucket number or range (0-65535, e.g. 0-511)",
             item);
    return -EINVAL;
}

int cfgvalue_parse_buckets(const char *v, long long min, long long max, void *field,
                           char *why, size_t why_len)
{
    struct cfg_cluster *cl = field;
    uint16_t *pairs = NULL;
    char *copy = NULL;
    char *item, *next;
    size_t n = 1, i = 0;
    int rc = -ENOMEM;

    (void)min;
    (void)max;
    if (*v == '\0')
        return 0;
    for (const char *p = v; *p != '\0'; p++)
        n += *p == ',';
    copy = strdup(v);
    pairs = calloc(2 * n, sizeof(*pairs));
    if (copy == NULL || pairs == NULL)
        goto fail;
    for (item = copy; item != NULL; item = next, i++) {
        item = cfgvalue_cut_item(item, &next);
        if (*item == '\0') {
            snprintf(why, why_len, "entry %zu of \"%s\" is empty", i + 1, v);
            rc = -EINVAL;
            goto fail;
        }
        rc = cfgvalue_bucket_range(item, &pairs[2 * i], &pairs[2 * i + 1], why, why_len);
        if (rc < 0)
            goto fail;
    }
    cl->bucket_ranges = pairs;
    cl->n_bucket_ranges = n;
    free(copy);
    return 0;
fail:
    free(pairs);
    free(copy);
    return rc;
}

int cfgvalue_tenant_ok(const char *s)
{
    size_t n = strlen(s);

    if (n < 1 || n > 63)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}
