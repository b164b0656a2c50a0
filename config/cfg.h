/*
 * config/cfg.h - the configuration snapshot: one immutable, refcounted struct cfg
 * built from the INI file (and its auth_file), validated completely before anyone sees it.
 */
#ifndef PGROUTER_CFG_H
#define PGROUTER_CFG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* auth_type: PgBouncer's values; hba reads the method from auth_hba_file per client. */
enum cfg_auth { CFG_AUTH_TRUST, CFG_AUTH_MD5, CFG_AUTH_SCRAM, CFG_AUTH_HBA, CFG_AUTH_CERT };

struct hba;

/* pool_mode: when a server connection goes back to the pool. No statement mode. */
enum cfg_pool_mode { CFG_POOL_TRANSACTION, CFG_POOL_SESSION };

/* [routing] default_role: where a statement goes when nothing else decides. */
enum cfg_role { CFG_ROLE_AUTO, CFG_ROLE_PRIMARY, CFG_ROLE_REPLICA };

/* [cluster.NAME] load_balance: how a read picks among the cluster's replicas. */
enum cfg_lb {
    CFG_LB_ROUND_ROBIN, CFG_LB_LEAST_CONN, CFG_LB_RANDOM, CFG_LB_WEIGHTED, CFG_LB_LEAST_LATENCY,
};

/*
 * [cluster.NAME] primary_reads: may reads go to the primary? OFF never, ON as one more
 * replica, FALLBACK only when no replica can take them.
 */
enum cfg_primary_reads {
    CFG_PRIMARY_READS_OFF, CFG_PRIMARY_READS_ON, CFG_PRIMARY_READS_FALLBACK,
};

/* syslog_facility: where syslog(3) files pgrouter's lines (router/core/logsys.c maps them). */
enum cfg_facility {
    CFG_FACILITY_DAEMON = 0, CFG_FACILITY_USER, CFG_FACILITY_AUTH, CFG_FACILITY_AUTHPRIV,
    CFG_FACILITY_LOCAL0, CFG_FACILITY_LOCAL1, CFG_FACILITY_LOCAL2, CFG_FACILITY_LOCAL3,
    CFG_FACILITY_LOCAL4, CFG_FACILITY_LOCAL5, CFG_FACILITY_LOCAL6, CFG_FACILITY_LOCAL7,
};

/* client_tls_sslmode / server_tls_sslmode, PgBouncer's (and libpq's) six modes. */
enum cfg_sslmode {
    CFG_SSL_DISABLE = 0, CFG_SSL_ALLOW, CFG_SSL_PREFER, CFG_SSL_REQUIRE, CFG_SSL_VERIFY_CA,
    CFG_SSL_VERIFY_FULL,
};

/*
 * TLS on one side: client_tls_* (pgrouter as the TLS server, toward clients) or
 * server_tls_* (pgrouter as the TLS client, toward PostgreSQL). PgBouncer's keys.
 */
struct cfg_tls {
    int sslmode;            /* enum cfg_sslmode; client default disable, server prefer */
    char *cert_file;        /* NULL = none */
    char *key_file;
    char *ca_file;
    char *protocols;        /* never NULL; default "secure" (TLS 1.2 and 1.3) */
    char *ciphers;          /* never NULL; default "default" */
};

/* One PostgreSQL server: host name or IP literal (IPv6 without brackets) and port. */
struct cfg_node {
    char host[256];
    uint16_t port;
    int weight;             /* 1..1000, default 1; only replicas may set it */
    char name[280];         /* "host:port" or "[v6]:port", for messages */
};

/* A [cluster.NAME] section: one primary and any number of replicas. */
struct cfg_cluster {
    char name[64];
    struct cfg_node primary;
    struct cfg_node *replicas;
    size_t n_replicas;
    int load_balance;               /* enum cfg_lb, default round_robin */
    int primary_reads;              /* enum cfg_primary_reads, default fallback */
    /*
     * Hash buckets this cluster owns ("buckets = 0-511, 600"): n_bucket_ranges pairs
     * lo, hi (inclusive, lo <= hi) in file order; NULL and 0 when the key is absent.
     * cfg_load guarantees that the clusters' ranges never overlap and together cover
     * 0 .. sharding.n_buckets - 1 when n_buckets > 0.
     */
    uint16_t *bucket_ranges;
    size_t n_bucket_ranges;
};

/* A [tenants] entry: "name = cluster" places tenant name on that cluster, whatever its hash. */
struct cfg_tenant {
    char *name;                     /* 1-63 bytes, exact (case-sensitive) */
    const struct cfg_cluster *cluster;  /* points into cfg->clusters */
};

/* [sharding]: how a statement's tenant is found, see router/sql/tenant.h and router/cluster/shard.h. */
struct cfg_sharding {
    int enabled;                    /* 1 if the file has a [sharding] section */
    char tenant_key[64];            /* setting / startup parameter, "pgrouter.tenant" */
    char tenant_column[64];         /* lowercase column name, "" if not set */
    /*
     * Lowercase "table" or "schema.table" names, NULL-terminated (NULL itself when
     * n_tables is 0). The only key that may repeat: each line appends to the list.
     */
    char **tables;
    size_t n_tables;
    unsigned n_buckets;             /* 1..65536, 0 = no hash placement */
};

/* [breaker]: per-pool circuit breaker (router/breaker). */
struct cfg_breaker {
    unsigned failure_threshold;     /* consecutive failures that open it, 1..1000 */
    unsigned open_timeout_ms;       /* first wait before half-open */
    unsigned max_open_timeout_ms;   /* the wait doubles up to this, >= open_timeout_ms */
    unsigned half_open_probes;      /* connections let through when half-open, 1..100 */
};

/* [health]: health checks and replica selection; 0 in a limit means "off". */
struct cfg_health {
    unsigned interval_ms;           /* health_check_interval, 0 = no checks */
    unsigned long long max_lag_bytes;   /* max_replica_lag_bytes */
    unsigned max_lag_ms;            /* max_replica_lag */
    int read_fallback_error;        /* read_fallback: 0 = primary, 1 = error */
    unsigned read_retries;          /* 0..10 */
    unsigned timeout_ms;            /* health_check_timeout */
    char *user;                     /* health_check_user (Pgpool-II's name); NULL = no checks */
    char *password;                 /* health_check_password, NULL = from auth_file / .pgpass */
    char *database;                 /* health_check_database, NULL = "postgres" */
    int ryw_lsn;                    /* read_your_writes = lsn (1) or window (0) */
};

/* One auth_file entry; secret is a password, "md5<32 hex>" or "SCRAM-SHA-256$...". */
struct cfg_user {
    char *name;
    char *secret;
};

#define CFG_WORKERS_MAX 256         /* workers = N: event loops, one thread each */

/*
 * The snapshot. Never modified after cfg_load returns, except refs (through
 * cfg_ref/cfg_unref), so any worker may read it without locks.
 */
struct cfg {
    int refs;
    char *path;                     /* the config file as given to cfg_load */
    char listen_addr[256];          /* "*" is stored as "0.0.0.0" */
    uint16_t listen_port;
    char stats_listen_addr[256];    /* the Prometheus /metrics endpoint ("*" as above) */
    uint16_t stats_listen_port;     /* 0 = no metrics endpoint */
    enum cfg_auth auth_type;
    char *auth_file;                /* resolved path, NULL if none given */
    int have_userlist;              /* 1 if auth_file was read: only listed users may log in */
    struct cfg_user *users;         /* sorted by name (strcmp) */
    size_t n_users;
    int max_client_conn;
    size_t max_packet_size;         /* bytes */
    unsigned server_connect_timeout_ms; /* 0 = no timeout */
    unsigned client_login_timeout_ms;   /* 0 = no timeout */
    unsigned stats_period_ms;       /* SHOW STATS averages and the stats log line */
    int workers;                    /* event loops (threads), 1..CFG_WORKERS_MAX; "auto" or 0
                                     * is resolved to the number of cores when loaded */

    /* pooling, PgBouncer's names and defaults; a _ms field of 0 means "off" */
    enum cfg_pool_mode pool_mode;
    int default_pool_size;          /* >= 1 */
    int min_pool_size;              /* <= default_pool_size */
    int reserve_pool_size;
    int max_db_connections;         /* 0 = unlimited */
    int max_user_connections;       /* 0 = unlimited */
    int max_prepared_statements;    /* 0 = no tracking */
    unsigned reserve_pool_timeout_ms;
    unsigned server_idle_timeout_ms;
    unsigned server_lifetime_ms;    /* 0 = no limit (PgBouncer: use once, then close) */
    unsigned query_wait_timeout_ms;
    unsigned client_idle_timeout_ms;
    unsigned query_timeout_ms;
    unsigned idle_transaction_timeout_ms;
    unsigned server_check_delay_ms; /* 0 = check every time a connection is reused */
    char *server_check_query;       /* never NULL; "" = no check */
    char *server_reset_query;       /* never NULL; "" = no reset */
    int server_reset_query_always;  /* 1 = reset in transaction mode too */
    int server_round_robin;
    int application_name_add_host;

    /* [routing] */
    unsigned ryw_window_ms;         /* read-your-writes window after a write; 0 = off */
    /*
     * Function names added to the built-in lists: lowercase "name" or "schema.name",
     * in file order, the array NULL-terminated (NULL itself when n is 0).
     */
    char **write_functions;
    size_t n_write_functions;
    char **read_only_functions;
    size_t n_read_only_functions;
    int volatile_functions_are_writes;
    unsigned volatile_refresh_ms;   /* how often the volatile function list is reread */
    int default_role;               /* enum cfg_role */

    int verbose;                    /* 0 info, 1 debug, 2 trace */
    char *logfile;                  /* NULL = stderr */
    char *pidfile;                  /* NULL = none */
    unsigned shutdown_timeout_ms;   /* SIGTERM/SHUTDOWN/online restart: how long transactions
                                     * (restart: clients) may go on; 0 = no limit */
    char *restart_socket;           /* unix socket of online restarts, NULL = the default
                                     * /tmp/.s.pgrouter.<listen_port> (restart.c) */
    int log_connections;            /* a line per login, and per failed login (default 1) */
    int log_disconnections;         /* a line per disconnection with its reason (default 1) */
    int log_pooler_errors;          /* log the errors pgrouter itself sends (default 1) */
    int syslog;                     /* also log to syslog(3) (default 0) */
    char *syslog_ident;             /* never NULL; default "pgrouter" */
    int syslog_facility;            /* enum cfg_facility, default daemon */
    char *admin_users;              /* comma-separated names for the admin console, NULL = none */
    char *stats_users;              /* ...who may only run its SHOW commands */
    struct cfg_cluster *clusters;   /* in file order */
    size_t n_clusters;
    const struct cfg_cluster *default_cluster;  /* points into clusters, never NULL */

    struct cfg_sharding sharding;
    struct cfg_tenant *tenants;     /* [tenants] in file order, names unique */
    size_t n_tenants;
    struct cfg_breaker breaker;
    struct cfg_health health;

    /* ---- security: TLS (router/net/tls.c) ---- */
    struct cfg_tls client_tls;
    struct cfg_tls server_tls;

    /* ---- security: who may log in, and with which secret ---- */
    char *auth_hba_file;            /* pg_hba.conf-format rules, NULL = none */
    struct hba *hba;                /* its rules (config/hba.h), read with the snapshot */
    char *auth_query;               /* never NULL; PgBouncer's default query on pg_shadow */
    char *auth_user;                /* runs auth_query; NULL = no auth_query lookups */
    char *auth_dbname;              /* database auth_query runs in; NULL = the client's */
    unsigned auth_query_cache_ttl_ms;   /* how long a looked-up secret is reused */
    /*
     * "file:line: message\n" warnings found while loading (files holding passwords that
     * others may read, config/cfgperm.c), or NULL. Printed by -t, logged at start and reload.
     */
    char *warnings;

    /* ---- security: bounds on hostile input ---- */
    size_t max_query_size;          /* Query/Parse text; 0 = only max_packet_size */
    size_t max_bind_size;           /* a Bind (held whole); 0 = only max_packet_size */
    int max_pending_logins;         /* connections not yet logged in; 0 = no limit */
    unsigned client_startup_timeout_ms; /* startup packet within this; 0 = login timeout */
    unsigned auth_failure_delay_ms;     /* backoff after the 2nd failure in a row; 0 = off */
    unsigned auth_failure_max_delay_ms; /* its cap */
};

/*
 * Read and validate the INI file at path, and the auth_file it names.
 * On success returns 0, sets *out to a new snapshot with refs = 1 and *errors to NULL.
 * On invalid input returns -EINVAL and sets *errors to malloc'd text with one
 * "file:line: message\n" per problem, all of them, in file order (the caller frees it).
 * If the file itself cannot be read returns -errno with *errors = "path: reason\n".
 * Returns -ENOMEM if memory runs out (*errors may then be NULL).
 * errors may be NULL if the caller does not want the text; *out is untouched on failure.
 */
int cfg_load(const char *path, struct cfg **out, char **errors);

/*
 * Same as cfg_load, but reads the INI text from f (which the caller opened and
 * closes). path names it in messages and anchors relative auth_file paths.
 */
int cfg_load_stream(FILE *f, const char *path, struct cfg **out, char **errors);

/* Take one more reference to c and return c. Safe from any thread. */
struct cfg *cfg_ref(struct cfg *c);

/* Drop one reference; frees the snapshot when the last one goes. NULL is ignored. */
void cfg_unref(struct cfg *c);

/* The auth_file entry for user name (exact, case-sensitive), or NULL if none. */
const struct cfg_user *cfg_find_user(const struct cfg *c, const char *name);

/*
 * Is name (exact, case-sensitive) one of the comma-separated names in list (admin_users,
 * stats_users; blanks around a name ignored)? NULL list: no one.
 */
int cfg_user_listed(const char *list, const char *name);

/* The cluster called name, or NULL if none. */
const struct cfg_cluster *cfg_find_cluster(const struct cfg *c, const char *name);

/*
 * Parse "host:port", "[ipv6]:port" into out (host without brackets, name
 * filled, weight 1). Returns 0, or -EINVAL if text is not such an address.
 */
int cfg_parse_hostport(const char *text, struct cfg_node *out);

#endif
