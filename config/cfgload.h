/*
 * config/cfgload.h - the INI loader's private state, shared by cfg.c (reading the file,
 * the key table), cfgcheck.c (checks across sections) and cfgload.c (the error list).
 * Private to config/, not for router/: everything else sees only struct cfg (cfg.h).
 */
#ifndef PGROUTER_CFGLOAD_H
#define PGROUTER_CFGLOAD_H

#include <stddef.h>
#include <stdio.h>

#include "config/cfg.h"
#include "config/cfgvalue.h"

#define CFG_KEYS_MAX 160        /* room in the per-section key bookkeeping */
#define CFG_WHY_MAX 512
#define CUR_NONE (-1L)          /* no section header seen yet */
#define CUR_IGNORE (-2L)        /* inside a section already reported as bad */

enum cfg_sect {
    SECT_PGROUTER, SECT_ROUTING, SECT_CLUSTER, SECT_SHARDING, SECT_TENANTS, SECT_BREAKER,
    SECT_HEALTH,
};

#define KEY_REQUIRED 0x1u       /* reported at the section header if missing */
#define KEY_REPEAT 0x2u         /* may be given on several lines; the parser appends */

/* Where a key's field lives: the snapshot, the current cluster, or load-time scratch. */
enum cfg_where { IN_CFG, IN_CLUSTER, IN_LOADER };

struct cfg_key {
    enum cfg_sect sect;
    enum cfg_where where;
    size_t offset;              /* into the struct named by where */
    const char *name;
    cfgvalue_parse_fn parse;
    long long min, max;         /* for numeric parsers */
    unsigned flags;             /* KEY_* */
};

/* One accepted section header. */
struct cfg_section {
    enum cfg_sect sect;
    int line;
    size_t cluster;                     /* index into cfg->clusters */
    int key_line[CFG_KEYS_MAX];         /* where each key was set, 0 if not */
    unsigned char key_bad[CFG_KEYS_MAX];
};

/* Load-time facts about one [tenants] entry, parallel to cfg->tenants. */
struct cfg_tenant_src {
    int line;
    char cluster[64];           /* resolved in cfgcheck_sharding */
};

struct cfg_error {
    int line;                   /* line in the main file, for ordering */
    int subline;                /* line in the auth_file, 0 for the main file */
    size_t seq;
    char *text;                 /* "file:line: message\n" */
};

struct loader {
    struct cfg *cfg;
    const char *path;
    FILE *f;
    char *buf;
    size_t buf_cap;
    int line;                   /* physical line last handed to inih */
    int read_errno;
    long cur;                   /* index into sects, or CUR_NONE / CUR_IGNORE */
    struct cfg_section *sects;
    size_t n_sects;
    size_t clusters_cap;
    char default_name[64];      /* default_cluster, resolved in cfg_check */
    struct cfg_tenant_src *tenant_src;
    size_t tenants_cap;
    int auth_line;              /* line of auth_file, anchors its errors */
    const char *auth_path;
    size_t n_auth_errors;
    struct cfg_error *errs;
    size_t n_errs, errs_cap;
    int oom;
    char why[CFG_WHY_MAX];
};

/* ---- config/cfgkeys.c: the key table ---- */

/* Number of entries in the key table. */
size_t cfg_n_keys(void);
/*
 * Index into the key table of the key name in sect. The name must be in the table
 * (callers pass literals); an unknown one returns the table's size.
 */
size_t cfg_key_find(enum cfg_sect sect, const char *name);
/* The i-th entry of the key table, or NULL past the end. */
const struct cfg_key *cfg_key_at(size_t i);

/* ---- config/cfg.c ---- */

/* A snapshot holding only the defaults (refs 1, no clusters), or NULL (cfgshow.c). */
struct cfg *cfg_new_defaults(void);

/* ---- config/cfgload.c: the error list ---- */

/*
 * Record "file:file_line: msg" (msg is copied). line is the main file's line the error
 * sorts by; subline orders errors inside an included file (0 for the main file itself).
 * Out of memory sets ld->oom and drops the error.
 */
void cfgload_add_error(struct loader *ld, int line, int subline, const char *file,
                       int file_line, const char *msg);

/* Record a printf-style error at line of the main file (ld->path). */
__attribute__((format(printf, 3, 4)))
void cfgload_error(struct loader *ld, int line, const char *fmt, ...);

/* 1 if an error is already recorded at line of the main file itself, else 0. */
int cfgload_has_error_at(const struct loader *ld, int line);

/*
 * All error texts in file order as one malloc'd string (the caller frees it), or NULL if
 * out of memory. Sorts ld->errs; they stay owned by ld.
 */
char *cfgload_join_errors(struct loader *ld);

/* ---- config/cfgcheck.c: checks across keys and sections, after the whole file ---- */

/* [breaker]: max_open_timeout must not be less than open_timeout. Errors go to ld. */
void cfgcheck_breaker(struct loader *ld);

/*
 * [pgrouter]: the metrics endpoint (stats_listen_addr:stats_listen_port) must not be the
 * clients' address and port (both on one address, or either on a wildcard). Errors go to ld.
 */
void cfgcheck_stats(struct loader *ld);

/*
 * [sharding] and [tenants]: sets cfg->sharding.enabled, resolves each tenant's cluster,
 * and checks that buckets are all owned exactly once and tenant names are unique. Errors
 * go to ld; out of memory sets ld->oom.
 */
void cfgcheck_sharding(struct loader *ld);

/* ---- config/cfgperm.c: modes of the files that hold passwords ---- */

/*
 * The auth_file (ld->cfg->auth_file, key at ld->auth_line), before it is read: not a
 * regular file, or writable by group or others, is an error at the key's line and returns
 * -1 (do not read it); readable by group or others adds a line to cfg->warnings. Else 0.
 */
int cfgperm_auth_file(struct loader *ld);

/*
 * The config file itself when it sets health_check_password: writable by group or others
 * is an error, readable by them a warning, both at health_check_password's line. Nothing
 * is said about a config file that is not a regular file (a pipe has no mode to judge).
 */
void cfgperm_config_file(struct loader *ld);

/*
 * A TLS private key (key names it, at line; fd is the open file): not a regular file or
 * writable by group or others is an error, readable by them a warning.
 */
void cfgperm_key_file(struct loader *ld, int line, const char *key, const char *path,
                      int fd);

/*
 * [pgrouter] auth_hba_file: read its rules into cfg->hba (a relative path is taken from
 * the config file's directory), each problem reported as "hbafile:line: message" in the
 * order of the auth_hba_file key's line; auth_type = hba requires the file. pg is the
 * [pgrouter] section.
 */
void cfgcheck_hba(struct loader *ld, const struct cfg_section *pg);

#endif
