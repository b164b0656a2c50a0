/*
 * config/cfgshow.c - the keys of the INI file as text for SHOW CONFIG: each value formatted
 * by the kind of its parser (the key table in cfg.c says which), so a new key shows up
 * without a line here unless it has a parser of a new kind.
 */
#include "config/cfgshow.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "config/cfgload.h"
#include "config/cfgsec.h"
#include "config/cfgvalue.h"

static const char *cfgshow_section(enum cfg_sect s)
{
    switch (s) {
    case SECT_PGROUTER:
        return "pgrouter";
    case SECT_ROUTING:
        return "routing";
    case SECT_CLUSTER:
        return "";
    case SECT_SHARDING:
        return "sharding";
    case SECT_TENANTS:
        return "tenants";
    case SECT_BREAKER:
        return "breaker";
    case SECT_HEALTH:
        return "health";
    }
    return "";
}

const char *cfgshow_key(size_t i, const char **section)
{
    const struct cfg_key *k = cfg_key_at(i);

    if (k == NULL)
        return NULL;
    *section = cfgshow_section(k->sect);
    return k->sect == SECT_CLUSTER ? "" : k->name;
}

int cfgshow_changeable(size_t i)
{
    const struct cfg_key *k = cfg_key_at(i);

    /* The listening sockets, the pid file and the worker threads are set up once, at start. */
    static const char *const fixed[] = {
        "listen_addr", "listen_port", "pidfile", "restart_socket", "workers",
    };

    if (k == NULL)
        return 0;
    for (size_t j = 0; j < sizeof(fixed) / sizeof(fixed[0]); j++)
        if (strcmp(k->name, fixed[j]) == 0)
            return 0;
    return 1;
}

struct cfg *cfgshow_defaults(void)
{
    return cfg_new_defaults();
}

/* words[v], or "?" when v is out of range. */
static const char *cfgshow_word(const char *const *words, size_t n, int v)
{
    return v >= 0 && (size_t)v < n ? words[v] : "?";
}

#define CFGSHOW_WORD(words, v) cfgshow_word(words, sizeof(words) / sizeof(words[0]), v)

static void cfgshow_list(char *const *names, char *buf, size_t len)
{
    size_t o = 0;

    buf[0] = '\0';
    for (size_t i = 0; names != NULL && names[i] != NULL && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%s", i > 0 ? ", " : "", names[i]);
}

static void cfgshow_duration(unsigned ms, char *buf, size_t len)
{
    if (ms % 1000 == 0)
        snprintf(buf, len, "%u", ms / 1000);
    else
        snprintf(buf, len, "%ums", ms);
}

void cfgshow_value(const struct cfg *c, size_t i, char *buf, size_t len)
{
    static const char *const auth[] = { "trust", "md5", "scram-sha-256", "hba", "cert" };
    static const char *const modes[] = { "transaction", "session" };
    static const char *const roles[] = { "auto", "primary", "replica" };
    static const char *const fallback[] = { "primary", "error" };
    static const char *const ryw[] = { "window", "lsn" };
    static const char *const facility[] = {
        "daemon", "user", "auth", "authpriv", "local0", "local1", "local2", "local3",
        "local4", "local5", "local6", "local7",
    };
    const struct cfg_key *k = cfg_key_at(i);
    const void *f;
    cfgvalue_parse_fn p;

    buf[0] = '\0';
    if (k == NULL || len == 0 || k->where == IN_CLUSTER)
        return;
    if (k->where == IN_LOADER) {
        /* default_cluster: the loader resolves it to the cluster itself */
        if (strcmp(k->name, "default_cluster") == 0 && c->default_cluster != NULL)
            snprintf(buf, len, "%s", c->default_cluster->name);
        return;
    }
    f = (const char *)c + k->offset;
    p = k->parse;
    if (p == cfgvalue_parse_string || p == cfgvalue_parse_text) {
        const char *v = *(char *const *)f;

        if (v != NULL && v[0] != '\0' &&
            (strstr(k->name, "password") != NULL || strstr(k->name, "secret") != NULL))
            v = "********";
        snprintf(buf, len, "%s", v != NULL ? v : "");
    } else if (p == cfgvalue_parse_listen_addr || p == cfgvalue_parse_ident ||
               p == cfgvalue_parse_setting || p == cfgvalue_parse_name) {
        snprintf(buf, len, "%s", (const char *)f);
    } else if (p == cfgvalue_parse_port || p == cfgvalue_parse_port_or_off) {
        snprintf(buf, len, "%u", (unsigned)*(const uint16_t *)f);
    } else if (p == cfgvalue_parse_int || p == cfgvalue_parse_workers) {
        snprintf(buf, len, "%d", *(const int *)f);
    } else if (p == cfgvalue_parse_uint) {
        snprintf(buf, len, "%u", *(const unsigned *)f);
    } else if (p == cfgvalue_parse_size) {
        snprintf(buf, len, "%zu", *(const size_t *)f);
    } else if (p == cfgvalue_parse_size_ull) {
        snprintf(buf, len, "%llu", *(const unsigned long long *)f);
    } else if (p == cfgvalue_parse_duration) {
        cfgshow_duration(*(const unsigned *)f, buf, len);
    } else if (p == cfgvalue_parse_bool) {
        snprintf(buf, len, "%s", *(const int *)f ? "on" : "off");
    } else if (p == cfgvalue_parse_auth) {
        snprintf(buf, len, "%s", CFGSHOW_WORD(auth, (int)*(const enum cfg_auth *)f));
    } else if (p == cfgvalue_parse_pool_mode) {
        snprintf(buf, len, "%s", CFGSHOW_WORD(modes, (int)*(const enum cfg_pool_mode *)f));
    } else if (p == cfgvalue_parse_role) {
        snprintf(buf, len, "%s", CFGSHOW_WORD(roles, *(const int *)f));
    } else if (p == cfgvalue_parse_read_fallback) {
        snprintf(buf, len, "%s", CFGSHOW_WORD(fallback, *(const int *)f));
    } else if (p == cfgvalue_parse_ryw) {
        snprintf(buf, len, "%s", CFGSHOW_WORD(ryw, *(const int *)f));
    } else if (p == cfgvalue_parse_facility) {
        snprintf(buf, len, "%s", CFGSHOW_WORD(facility, *(const int *)f));
    } else if (p == cfgvalue_parse_funclist || p == cfgvalue_parse_tablelist) {
        cfgshow_list(*(char *const *const *)f, buf, len);
    } else if (p == cfgsec_parse_sslmode) {
        snprintf(buf, len, "%s", cfgsec_sslmode_name(*(const int *)f));
    } else {
        snprintf(buf, len, "?");   /* a parser of a kind this file does not know yet */
    }
}
