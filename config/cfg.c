/*
 * config/cfg.c - builds the struct cfg snapshot from the INI file: the table of
 * known keys, sections ([pgrouter], [routing], [cluster.NAME], [sharding], [tenants],
 * [breaker], [health]), the checks within [pgrouter] and each cluster, and the
 * snapshot's refcount. Single values are parsed in cfgvalue.c, the auth_file in
 * userlist.c; checks across [sharding], [tenants] and [breaker] are in cfgcheck.c, the
 * error list in cfgload.c, the loader state all of them share in cfgload.h.
 *
 * inih splits "key = value" and strips comments. Our own line reader feeds it
 * one physical line at a time, so we always know the line number (Debian's inih
 * is built without INI_HANDLER_LINENO). The reader also parses [section] headers
 * itself and strips leading blanks, because inih silently truncates long
 * section names, splits over-long lines and treats indented lines as
 * continuations of the previous value; here each of those is an error or harmless.
 */
#include "config/cfg.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include <ini.h>

#include "config/cfgload.h"
#include "config/cfgsec.h"
#include "config/cfgtls.h"
#include "config/cfgvalue.h"
#include "config/userlist.h"

/* ---- errors from the auth_file (the error list itself is in cfgload.c) ---- */

static void cfg_on_userlist_error(void *arg, int line, const char *msg)
{
    struct loader *ld = arg;

    ld->n_auth_errors++;
    cfgload_add_error(ld, ld->auth_line, line, ld->auth_path, line, msg);
}

/* ---- sections ---- */

static const char *cfg_sect_label(enum cfg_sect sect)
{
    switch (sect) {
    case SECT_PGROUTER:
        return "[pgrouter]";
    case SECT_ROUTING:
        return "[routing]";
    case SECT_CLUSTER:
        return "[cluster.NAME]";
    case SECT_SHARDING:
        return "[sharding]";
    case SECT_TENANTS:
        return "[tenants]";
    case SECT_BREAKER:
        return "[breaker]";
    case SECT_HEALTH:
        return "[health]";
    }
    return "?";
}

static void cfg_section_label(const struct loader *ld, const struct cfg_section *s,
                              char *buf, size_t len)
{
    if (s->sect == SECT_CLUSTER)
        snprintf(buf, len, "[cluster.%s]", ld->cfg->clusters[s->cluster].name);
    else
        snprintf(buf, len, "%s", cfg_sect_label(s->sect));
}

static int cfg_add_cluster(struct loader *ld, const char *name, size_t *idx)
{
    struct cfg *c = ld->cfg;
    struct cfg_cluster *cl;

    if (c->n_clusters == ld->clusters_cap) {
        size_t cap = ld->clusters_cap ? ld->clusters_cap * 2 : 4;

        cl = realloc(c->clusters, cap * sizeof(*cl));
        if (cl == NULL)
            return -ENOMEM;
        c->clusters = cl;
        ld->clusters_cap = cap;
    }
    cl = &c->clusters[c->n_clusters];
    memset(cl, 0, sizeof(*cl));
    strcpy(cl->name, name);     /* cfg_name_ok: at most 63 characters */
    cl->load_balance = CFG_LB_ROUND_ROBIN;
    cl->primary_reads = CFG_PRIMARY_READS_FALLBACK;
    *idx = c->n_clusters++;
    return 0;
}

/* Start the section named name ("pgrouter", "routing", "cluster.X"...); bad ones are reported. */
static void cfg_begin_section(struct loader *ld, const char *name)
{
    static const char *const plain[] = {
        [SECT_PGROUTER] = "pgrouter", [SECT_ROUTING] = "routing", [SECT_CLUSTER] = NULL,
        [SECT_SHARDING] = "sharding", [SECT_TENANTS] = "tenants", [SECT_BREAKER] = "breaker",
        [SECT_HEALTH] = "health",
    };
    struct cfg_section *s;
    enum cfg_sect sect = SECT_CLUSTER;
    const char *cl_name = NULL;
    size_t idx = 0;

    ld->cur = CUR_IGNORE;
    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
        if (plain[i] != NULL && strcmp(name, plain[i]) == 0)
            sect = (enum cfg_sect)i;
    if (sect != SECT_CLUSTER) {
        /* one of the plain sections */
    } else if (strncmp(name, "cluster.", 8) == 0) {
        sect = SECT_CLUSTER;
        cl_name = name + 8;
        if (!cfgvalue_name_ok(cl_name)) {
            cfgload_error(ld, ld->line, "invalid cluster name \"%s\" (1-63 of A-Z a-z 0-9 _ -)",
                          cl_name);
            return;
        }
    } else {
        cfgload_error(ld, ld->line, "unknown section [%s] (expected [pgrouter], [routing], "
                      "[cluster.NAME], [sharding], [tenants], [breaker] or [health])", name);
        return;
    }
    for (size_t i = 0; i < ld->n_sects; i++) {
        s = &ld->sects[i];
        if (s->sect == sect &&
            (sect != SECT_CLUSTER || strcmp(ld->cfg->clusters[s->cluster].name, cl_name) == 0)) {
            cfgload_error(ld, ld->line, "duplicate section [%s] (first on line %d)", name,
                          s->line);
            return;
        }
    }
    s = realloc(ld->sects, (ld->n_sects + 1) * sizeof(*s));
    if (s == NULL)
        goto oom;
    ld->sects = s;
    if (sect == SECT_CLUSTER && cfg_add_cluster(ld, cl_name, &idx) < 0)
        goto oom;
    s = &ld->sects[ld->n_sects];
    memset(s, 0, sizeof(*s));
    s->sect = sect;
    s->line = ld->line;
    s->cluster = idx;
    ld->cur = (long)ld->n_sects++;
    return;
oom:
    ld->oom = 1;
}

/* A "[name]" line (p at '['): take it over from inih. */
static void cfg_scan_section(struct loader *ld, char *p)
{
    char *close = strchr(p, ']');
    char *rest;

    if (close == NULL) {
        ld->cur = CUR_IGNORE;
        cfgload_error(ld, ld->line, "section header without closing \"]\"");
        return;
    }
    rest = close + 1 + strspn(close + 1, " \t");
    if (*rest != '\0' && *rest != ';' && *rest != '#') {
        ld->cur = CUR_IGNORE;
        cfgload_error(ld, ld->line, "unexpected text after \"]\"");
        return;
    }
    *close = '\0';
    cfg_begin_section(ld, p + 1);
}

/*
 * Look at a line (leading blanks already gone) before inih does.
 * Returns 1 if inih should see it, 0 if it was handled or refused here.
 */
static int cfg_scan_line(struct loader *ld, char *p)
{
    const char *q;

    if (*p == '\0' || *p == ';' || *p == '#')
        return 1;
    if (*p == '[') {
        cfg_scan_section(ld, p);
        return 0;
    }
    /* inih would also take "key: value"; only '=' is our syntax */
    for (q = p; *q != '\0' && *q != '=' && *q != ':'; q++)
        if (*q == ';' && (q[-1] == ' ' || q[-1] == '\t'))
            break;
    if (*q != '=' || q == p) {
        cfgload_error(ld, ld->line, "syntax error (expected \"key = value\" or \"[section]\")");
        return 0;
    }
    return 1;
}

/* The ini_reader: exactly one physical line per call, so inih's count stays ours. */
static char *cfg_read_line(char *str, int num, void *stream)
{
    struct loader *ld = stream;
    ssize_t n;
    char *p;

    errno = 0;
    n = getline(&ld->buf, &ld->buf_cap, ld->f);
    if (n < 0) {
        if (ferror(ld->f))
            ld->read_errno = errno != 0 ? errno : EIO;
        return NULL;
    }
    ld->line++;
    if (n > 0 && ld->buf[n - 1] == '\n')
        n--;
    if (n > 0 && ld->buf[n - 1] == '\r')
        n--;
    ld->buf[n] = '\0';
    str[0] = '\0';
    p = ld->buf;
    if (ld->line == 1 && strncmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3;
    p += strspn(p, " \t");
    if (memchr(ld->buf, '\0', (size_t)n) != NULL) {
        cfgload_error(ld, ld->line, "line contains a NUL byte");
        return str;
    }
    if (*p == ';' || *p == '#')
        return str;             /* a comment may be as long as it likes */
    if (n > num - 1) {
        cfgload_error(ld, ld->line, "line too long (max %d characters)", num - 1);
        return str;
    }
    if (cfg_scan_line(ld, p))
        memcpy(str, p, strlen(p) + 1);
    return str;
}

/* A [tenants] line "name = cluster"; the cluster is looked up once the file is read. */
static void cfg_add_tenant(struct loader *ld, const char *name, const char *cluster)
{
    struct cfg *c = ld->cfg;

    if (!cfgvalue_tenant_ok(name)) {
        cfgload_error(ld, ld->line, "tenant \"%s\": a tenant name is 1-63 bytes without control "
                      "characters", name);
        return;
    }
    if (!cfgvalue_name_ok(cluster)) {
        cfgload_error(ld, ld->line, "tenant \"%s\": \"%s\" is not a cluster name", name, cluster);
        return;
    }
    if (c->n_tenants == ld->tenants_cap) {
        size_t cap = ld->tenants_cap ? ld->tenants_cap * 2 : 16;
        struct cfg_tenant *t = realloc(c->tenants, cap * sizeof(*t));
        struct cfg_tenant_src *src;

        if (t == NULL)
            goto oom;
        c->tenants = t;
        src = realloc(ld->tenant_src, cap * sizeof(*src));
        if (src == NULL)
            goto oom;
        ld->tenant_src = src;
        ld->tenants_cap = cap;
    }
    c->tenants[c->n_tenants].name = strdup(name);
    if (c->tenants[c->n_tenants].name == NULL)
        goto oom;
    c->tenants[c->n_tenants].cluster = NULL;
    ld->tenant_src[c->n_tenants].line = ld->line;
    strcpy(ld->tenant_src[c->n_tenants].cluster, cluster);
    c->n_tenants++;
    return;
oom:
    ld->oom = 1;
}

/* The ini_handler: section comes from our reader, so inih's section is unused. */
static int cfg_on_key(void *user, const char *section, const char *name, const char *value)
{
    struct loader *ld = user;
    struct cfg_section *s;
    const struct cfg_key *k;
    char label[96];
    char hint[64] = "";
    size_t i;
    void *base = NULL;
    int rc;

    (void)section;
    if (ld->cur == CUR_IGNORE)
        return 1;
    if (ld->cur == CUR_NONE) {
        cfgload_error(ld, ld->line, "key \"%s\" before any [section]", name);
        return 1;
    }
    s = &ld->sects[ld->cur];
    if (s->sect == SECT_TENANTS) {
        cfg_add_tenant(ld, name, value);
        return 1;
    }
    i = cfg_key_find(s->sect, name);
    if (i == cfg_n_keys()) {
        cfg_section_label(ld, s, label, sizeof(label));
        for (size_t j = 0; j < cfg_n_keys(); j++) {
            const struct cfg_key *other = cfg_key_at(j);

            if (strcasecmp(other->name, name) != 0)
                continue;
            if (other->sect != s->sect)
                snprintf(hint, sizeof(hint), " (it belongs in %s)", cfg_sect_label(other->sect));
            else
                snprintf(hint, sizeof(hint), " (keys are lower-case)");
        }
        cfgload_error(ld, ld->line, "unknown key \"%s\" in %s%s", name, label, hint);
        return 1;
    }
    k = cfg_key_at(i);
    if (s->key_line[i] != 0 && !(k->flags & KEY_REPEAT)) {
        cfgload_error(ld, ld->line, "duplicate key \"%s\" (first set on line %d)", name,
                      s->key_line[i]);
        return 1;
    }
    if (s->key_line[i] == 0)
        s->key_line[i] = ld->line;
    switch (k->where) {
    case IN_CFG:
        base = ld->cfg;
        break;
    case IN_CLUSTER:
        base = &ld->cfg->clusters[s->cluster];
        break;
    case IN_LOADER:
        base = ld;
        break;
    }
    ld->why[0] = '\0';
    rc = k->parse(value, k->min, k->max, (char *)base + k->offset, ld->why, sizeof(ld->why));
    if (rc == -ENOMEM) {
        ld->oom = 1;
    } else if (rc < 0) {
        s->key_bad[i] = 1;
        cfgload_error(ld, ld->line, "%s: %s", k->name, ld->why);
    }
    return 1;
}

/* ---- checks that need the whole file ---- */

static void cfg_check_cluster(struct loader *ld, const struct cfg_section *s)
{
    const struct cfg_cluster *cl = &ld->cfg->clusters[s->cluster];
    int line = s->key_line[cfg_key_find(SECT_CLUSTER, "replicas")];

    for (size_t i = 0; i < cl->n_replicas; i++) {
        const struct cfg_node *r = &cl->replicas[i];
        int twice = strcmp(r->host, cl->primary.host) == 0 && r->port == cl->primary.port;

        for (size_t j = 0; j < i && !twice; j++)
            twice = strcmp(r->host, cl->replicas[j].host) == 0 &&
                    r->port == cl->replicas[j].port;
        if (twice)
            cfgload_error(ld, line, "replicas: %s is listed twice in [cluster.%s]", r->name,
                          cl->name);
    }
}

/* Join a relative auth_file to the directory of the config file. */
static int cfg_resolve_auth_file(struct loader *ld)
{
    struct cfg *c = ld->cfg;
    const char *slash = strrchr(ld->path, '/');
    size_t dir_len;
    char *full;

    if (c->auth_file[0] == '/' || slash == NULL)
        return 0;
    dir_len = (size_t)(slash - ld->path) + 1;
    full = malloc(dir_len + strlen(c->auth_file) + 1);
    if (full == NULL)
        return -ENOMEM;
    memcpy(full, ld->path, dir_len);
    strcpy(full + dir_len, c->auth_file);
    free(c->auth_file);
    c->auth_file = full;
    return 0;
}

static void cfg_check_auth(struct loader *ld, const struct cfg_section *pg)
{
    struct cfg *c = ld->cfg;
    size_t type_key = cfg_key_find(SECT_PGROUTER, "auth_type");
    int rc;

    if (c->auth_file == NULL) {
        if (c->auth_type != CFG_AUTH_TRUST && c->auth_type != CFG_AUTH_CERT &&
            !pg->key_bad[type_key])
            cfgload_error(ld, pg->line, "auth_file is required unless auth_type = trust or "
                          "cert");
        return;
    }
    if (cfg_resolve_auth_file(ld) < 0) {
        ld->oom = 1;
        return;
    }
    ld->auth_line = pg->key_line[cfg_key_find(SECT_PGROUTER, "auth_file")];
    ld->auth_path = c->auth_file;
    if (cfgperm_auth_file(ld) < 0)
        return;
    rc = userlist_load(c->auth_file, cfg_on_userlist_error, ld, &c->users, &c->n_users);
    if (rc == -ENOMEM)
        ld->oom = 1;
    else if (rc < 0 && ld->n_auth_errors == 0)
        cfgload_error(ld, ld->auth_line, "auth_file \"%s\": %s", c->auth_file, strerror(-rc));
    else if (rc == 0)
        c->have_userlist = 1;
}

static void cfg_check_pool(struct loader *ld, const struct cfg_section *pg)
{
    const struct cfg *c = ld->cfg;
    size_t min_key = cfg_key_find(SECT_PGROUTER, "min_pool_size");
    size_t size_key = cfg_key_find(SECT_PGROUTER, "default_pool_size");

    /* a bad default_pool_size was reported already; comparing with 20 would mislead */
    if (c->min_pool_size > c->default_pool_size && !pg->key_bad[size_key])
        cfgload_error(ld, pg->key_line[min_key], "min_pool_size: %d is more than "
                      "default_pool_size (%d)", c->min_pool_size, c->default_pool_size);
}

static void cfg_check_server_tls(struct loader *ld, const struct cfg_section *pg)
{
    const char *key;
    char why[400];
    int line;

    if (cfgsec_check_server_tls(ld->cfg, &key, why, sizeof(why)) == 0)
        return;
    line = pg->key_line[cfg_key_find(SECT_PGROUTER, key)];
    if (line > 0 && cfgload_has_error_at(ld, line))
        return;     /* its value was refused already */
    cfgload_error(ld, line > 0 ? line : pg->line, "%s: %s", key, why);
}

static void cfg_check(struct loader *ld)
{
    struct cfg *c = ld->cfg;
    const struct cfg_section *pg = NULL;
    char label[96];
    int anchor;

    for (size_t i = 0; i < ld->n_sects; i++) {
        const struct cfg_section *s = &ld->sects[i];

        if (s->sect == SECT_PGROUTER)
            pg = s;
        cfg_section_label(ld, s, label, sizeof(label));
        for (size_t k = 0; k < cfg_n_keys(); k++) {
            const struct cfg_key *key = cfg_key_at(k);

            if (key->sect == s->sect && (key->flags & KEY_REQUIRED) && !s->key_line[k])
                cfgload_error(ld, s->line, "missing required key \"%s\" in %s", key->name,
                              label);
        }
        if (s->sect == SECT_CLUSTER)
            cfg_check_cluster(ld, s);
    }
    anchor = pg != NULL ? pg->line : 1;
    if (pg == NULL)
        cfgload_error(ld, 1, "missing [pgrouter] section");
    if (c->n_clusters == 0)
        cfgload_error(ld, anchor, "no [cluster.NAME] section: at least one cluster is required");
    if (ld->default_name[0] != '\0') {
        int line = pg->key_line[cfg_key_find(SECT_PGROUTER, "default_cluster")];

        c->default_cluster = cfg_find_cluster(c, ld->default_name);
        if (c->default_cluster == NULL)
            cfgload_error(ld, line, "default_cluster: no [cluster.%s] section", ld->default_name);
    } else if (c->n_clusters == 1) {
        c->default_cluster = &c->clusters[0];
    } else if (c->n_clusters > 1 && pg != NULL &&
               !pg->key_bad[cfg_key_find(SECT_PGROUTER, "default_cluster")]) {
        cfgload_error(ld, anchor, "default_cluster is required when there are several clusters");
    }
    if (pg != NULL) {
        cfg_check_auth(ld, pg);
        cfgcheck_hba(ld, pg);
        cfg_check_pool(ld, pg);
        cfg_check_server_tls(ld, pg);
    }
    cfgperm_config_file(ld);
    cfgcheck_breaker(ld);
    cfgcheck_stats(ld);
    cfgcheck_sharding(ld);
    cfgtls_check(ld);
}

/* ---- the snapshot ---- */

static void cfg_free(struct cfg *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n_clusters; i++) {
        free(c->clusters[i].replicas);
        free(c->clusters[i].bucket_ranges);
    }
    free(c->clusters);
    for (size_t i = 0; i < c->n_tenants; i++)
        free(c->tenants[i].name);
    free(c->tenants);
    cfgvalue_free_funclist(c->sharding.tables);
    userlist_free(c->users, c->n_users);
    free(c->warnings);
    free(c->path);
    free(c->auth_file);
    free(c->logfile);
    free(c->health.user);
    free(c->health.password);
    free(c->health.database);
    free(c->pidfile);
    free(c->restart_socket);
    free(c->syslog_ident);
    free(c->admin_users);
    free(c->stats_users);
    free(c->server_check_query);
    free(c->server_reset_query);
    cfgvalue_free_funclist(c->write_functions);
    cfgvalue_free_funclist(c->read_only_functions);
    cfgsec_free(c);
    free(c);
}

static void cfg_set_defaults(struct cfg *c)
{
    strcpy(c->listen_addr, "127.0.0.1");
    c->listen_port = 6432;
    strcpy(c->stats_listen_addr, "127.0.0.1");
    c->auth_type = CFG_AUTH_SCRAM;
    c->max_client_conn = 100;
    c->workers = 1;
    c->max_packet_size = 1073741823;
    c->max_bind_size = 32u << 20;
    c->server_connect_timeout_ms = 15000;
    c->client_login_timeout_ms = 60000;
    c->shutdown_timeout_ms = 30000;
    c->log_connections = 1;
    c->log_disconnections = 1;
    c->log_pooler_errors = 1;
    c->syslog_facility = CFG_FACILITY_DAEMON;
    c->stats_period_ms = 60000;
    c->pool_mode = CFG_POOL_TRANSACTION;
    c->default_pool_size = 20;
    c->max_prepared_statements = 200;
    c->reserve_pool_timeout_ms = 5000;
    c->server_idle_timeout_ms = 600000;
    c->server_lifetime_ms = 3600000;
    c->query_wait_timeout_ms = 120000;
    c->server_check_delay_ms = 30000;
    c->ryw_window_ms = 2000;
    c->volatile_functions_are_writes = 1;
    c->volatile_refresh_ms = 300000;
    c->default_role = CFG_ROLE_AUTO;
    strcpy(c->sharding.tenant_key, "pgrouter.tenant");
    c->breaker.failure_threshold = 3;
    c->breaker.open_timeout_ms = 1000;
    c->breaker.max_open_timeout_ms = 30000;
    c->breaker.half_open_probes = 1;
    c->health.interval_ms = 1000;
    c->health.read_retries = 1;
    c->health.ryw_lsn = 1;
    c->health.timeout_ms = 2000;
    cfgsec_set_defaults(c);
}

static size_t cfg_count_names(char *const *names)
{
    size_t n = 0;

    while (names != NULL && names[n] != NULL)
        n++;
    return n;
}

/*
 * After the file is read: strings whose key was absent get their default here,
 * so that parsers never have to free a default they replace.
 */
static int cfg_set_late_defaults(struct cfg *c)
{
    if (c->server_check_query == NULL && (c->server_check_query = strdup("select 1")) == NULL)
        return -ENOMEM;
    if (c->syslog_ident == NULL && (c->syslog_ident = strdup("pgrouter")) == NULL)
        return -ENOMEM;
    if (c->server_reset_query == NULL &&
        (c->server_reset_query = strdup("DISCARD ALL")) == NULL)
        return -ENOMEM;
    c->n_write_functions = cfg_count_names(c->write_functions);
    c->n_read_only_functions = cfg_count_names(c->read_only_functions);
    c->sharding.n_tables = cfg_count_names(c->sharding.tables);
    return cfgsec_set_late_defaults(c);
}

struct cfg *cfg_new_defaults(void)
{
    struct cfg *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    cfg_set_defaults(c);
    if (cfg_set_late_defaults(c) < 0) {
        cfg_free(c);
        return NULL;
    }
    c->refs = 1;
    return c;
}

static int cfg_fail_text(char **errors, const char *path, int err)
{
    size_t len;

    if (errors == NULL)
        return -err;
    len = (size_t)snprintf(NULL, 0, "%s: %s\n", path, strerror(err));
    *errors = malloc(len + 1);
    if (*errors != NULL)
        snprintf(*errors, len + 1, "%s: %s\n", path, strerror(err));
    return -err;
}

int cfg_load_stream(FILE *f, const char *path, struct cfg **out, char **errors)
{
    struct loader ld = { .path = path, .f = f, .cur = CUR_NONE };
    int rc = -ENOMEM;
    int ini_rc;

    if (errors != NULL)
        *errors = NULL;
    ld.cfg = calloc(1, sizeof(*ld.cfg));
    if (ld.cfg == NULL)
        goto out;
    cfg_set_defaults(ld.cfg);
    ini_rc = ini_parse_stream(cfg_read_line, &ld, cfg_on_key, &ld);
    if (ld.read_errno != 0) {
        rc = cfg_fail_text(errors, path, ld.read_errno);
        goto out;
    }
    /* every line inih could object to was checked by cfg_scan_line; just in case: */
    if (ini_rc > 0 && !cfgload_has_error_at(&ld, ini_rc))
        cfgload_error(&ld, ini_rc, "syntax error (expected \"key = value\" or \"[section]\")");
    if (ini_rc < 0)
        ld.oom = 1;
    if (!ld.oom && cfg_set_late_defaults(ld.cfg) < 0)
        ld.oom = 1;
    if (!ld.oom)
        cfg_check(&ld);
    if (ld.oom) {
        rc = -ENOMEM;
        goto out;
    }
    if (ld.n_errs > 0) {
        rc = -EINVAL;
        if (errors != NULL && (*errors = cfgload_join_errors(&ld)) == NULL)
            rc = -ENOMEM;
        goto out;
    }
    ld.cfg->path = strdup(path);
    if (ld.cfg->path == NULL)
        goto out;
    ld.cfg->refs = 1;
    *out = ld.cfg;
    ld.cfg = NULL;
    rc = 0;
out:
    cfg_free(ld.cfg);
    for (size_t i = 0; i < ld.n_errs; i++)
        free(ld.errs[i].text);
    free(ld.errs);
    free(ld.sects);
    free(ld.tenant_src);
    free(ld.buf);
    return rc;
}

int cfg_load(const char *path, struct cfg **out, char **errors)
{
    FILE *f = fopen(path, "r");
    int rc;

    if (errors != NULL)
        *errors = NULL;
    if (f == NULL)
        return cfg_fail_text(errors, path, errno);
    rc = cfg_load_stream(f, path, out, errors);
    fclose(f);
    return rc;
}

struct cfg *cfg_ref(struct cfg *c)
{
    __atomic_fetch_add(&c->refs, 1, __ATOMIC_RELAXED);
    return c;
}

void cfg_unref(struct cfg *c)
{
    if (c != NULL && __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) == 0)
        cfg_free(c);
}

const struct cfg_user *cfg_find_user(const struct cfg *c, const char *name)
{
    return userlist_find(c->users, c->n_users, name);
}

int cfg_user_listed(const char *list, const char *name)
{
    size_t n = strlen(name);

    while (list != NULL && *list != '\0') {
        size_t len;

        list += strspn(list, " \t,");
        len = strcspn(list, ",");
        /* the entry without the blanks around it */
        while (len > 0 && (list[len - 1] == ' ' || list[len - 1] == '\t'))
            len--;
        if (len > 0 && len == n && memcmp(list, name, n) == 0)
            return 1;
        list += strcspn(list, ",");
    }
    return 0;
}

const struct cfg_cluster *cfg_find_cluster(const struct cfg *c, const char *name)
{
    for (size_t i = 0; i < c->n_clusters; i++)
        if (strcmp(c->clusters[i].name, name) == 0)
            return &c->clusters[i];
    return NULL;
}

int cfg_parse_hostport(const char *text, struct cfg_node *out)
{
    char why[CFG_WHY_MAX];

    return cfgvalue_parse_node(text, 0, 0, out, why, sizeof(why));
}
