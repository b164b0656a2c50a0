/*
 * config/cfgkeys.c - the table of every known key: its section, where its field lives,
 * its name and the parser (cfgvalue.c, cfgsec.c) that reads its value. Adding a key is
 * one line here plus its field in cfg.h and, if not zero, its default in cfg.c.
 */
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "config/cfgload.h"
#include "config/cfgsec.h"
#include "config/cfgvalue.h"

#define CFG_MS_DAY 86400000LL
#define CFG_MS_WEEK (7 * CFG_MS_DAY)

/* ---- the key table: adding a key is one line here plus its field ---- */

#define PG(field) SECT_PGROUTER, IN_CFG, offsetof(struct cfg, field)
#define RT(field) SECT_ROUTING, IN_CFG, offsetof(struct cfg, field)
#define CL(field) SECT_CLUSTER, IN_CLUSTER, offsetof(struct cfg_cluster, field)
#define LD(field) SECT_PGROUTER, IN_LOADER, offsetof(struct loader, field)
#define CLUSTER_ITSELF SECT_CLUSTER, IN_CLUSTER, 0  /* parser sets several fields */
#define SH(field) SECT_SHARDING, IN_CFG, offsetof(struct cfg, sharding.field)
#define BR(field) SECT_BREAKER, IN_CFG, offsetof(struct cfg, breaker.field)
#define HL(field) SECT_HEALTH, IN_CFG, offsetof(struct cfg, health.field)

static const struct cfg_key cfg_keys[] = {
    { PG(listen_addr), "listen_addr", cfgvalue_parse_listen_addr, 0, 0, 0 },
    { PG(listen_port), "listen_port", cfgvalue_parse_port, 0, 0, 0 },
    { PG(stats_listen_addr), "stats_listen_addr", cfgvalue_parse_listen_addr, 0, 0, 0 },
    { PG(stats_listen_port), "stats_listen_port", cfgvalue_parse_port_or_off, 0, 0, 0 },
    { PG(auth_type), "auth_type", cfgvalue_parse_auth, 0, 0, 0 },
    { PG(auth_file), "auth_file", cfgvalue_parse_string, 0, 0, 0 },
    { PG(max_client_conn), "max_client_conn", cfgvalue_parse_int, 1, INT_MAX, 0 },
    { PG(workers), "workers", cfgvalue_parse_workers, 0, CFG_WORKERS_MAX, 0 },
    { PG(max_packet_size), "max_packet_size", cfgvalue_parse_size, 1024, INT32_MAX, 0 },
    { PG(server_connect_timeout_ms), "server_connect_timeout", cfgvalue_parse_duration,
      0, CFG_MS_DAY, 0 },
    { PG(client_login_timeout_ms), "client_login_timeout", cfgvalue_parse_duration,
      0, CFG_MS_DAY, 0 },
    { PG(verbose), "verbose", cfgvalue_parse_int, 0, 2, 0 },
    { PG(logfile), "logfile", cfgvalue_parse_string, 0, 0, 0 },
    { PG(pidfile), "pidfile", cfgvalue_parse_string, 0, 0, 0 },
    { PG(shutdown_timeout_ms), "shutdown_timeout", cfgvalue_parse_duration, 0, CFG_MS_DAY, 0 },
    { PG(restart_socket), "restart_socket", cfgvalue_parse_string, 0, 0, 0 },
    { PG(log_connections), "log_connections", cfgvalue_parse_bool, 0, 0, 0 },
    { PG(log_disconnections), "log_disconnections", cfgvalue_parse_bool, 0, 0, 0 },
    { PG(log_pooler_errors), "log_pooler_errors", cfgvalue_parse_bool, 0, 0, 0 },
    { PG(syslog), "syslog", cfgvalue_parse_bool, 0, 0, 0 },
    { PG(syslog_ident), "syslog_ident", cfgvalue_parse_string, 0, 0, 0 },
    { PG(syslog_facility), "syslog_facility", cfgvalue_parse_facility, 0, 0, 0 },
    { PG(stats_period_ms), "stats_period", cfgvalue_parse_duration, 1000, CFG_MS_DAY, 0 },
    { PG(admin_users), "admin_users", cfgvalue_parse_string, 0, 0, 0 },
    { PG(stats_users), "stats_users", cfgvalue_parse_string, 0, 0, 0 },
    { LD(default_name), "default_cluster", cfgvalue_parse_name, 0, 0, 0 },

    { PG(pool_mode), "pool_mode", cfgvalue_parse_pool_mode, 0, 0, 0 },
    { PG(default_pool_size), "default_pool_size", cfgvalue_parse_int, 1, INT_MAX, 0 },
    { PG(min_pool_size), "min_pool_size", cfgvalue_parse_int, 0, INT_MAX, 0 },
    { PG(reserve_pool_size), "reserve_pool_size", cfgvalue_parse_int, 0, INT_MAX, 0 },
    { PG(reserve_pool_timeout_ms), "reserve_pool_timeout", cfgvalue_parse_duration,
      0, CFG_MS_DAY, 0 },
    { PG(max_db_connections), "max_db_connections", cfgvalue_parse_int, 0, INT_MAX, 0 },
    { PG(max_user_connections), "max_user_connections", cfgvalue_parse_int, 0, INT_MAX, 0 },
    { PG(max_prepared_statements), "max_prepared_statements", cfgvalue_parse_int,
      0, INT_MAX, 0 },
    { PG(server_idle_timeout_ms), "server_idle_timeout", cfgvalue_parse_duration,
      0, CFG_MS_WEEK, 0 },
    { PG(server_lifetime_ms), "server_lifetime", cfgvalue_parse_duration, 0, CFG_MS_WEEK, 0 },
    { PG(query_wait_timeout_ms), "query_wait_timeout", cfgvalue_parse_duration,
      0, CFG_MS_DAY, 0 },
    { PG(client_idle_timeout_ms), "client_idle_timeout", cfgvalue_parse_duration,
      0, CFG_MS_DAY, 0 },
    { PG(query_timeout_ms), "query_timeout", cfgvalue_parse_duration, 0, CFG_MS_DAY, 0 },
    { PG(idle_transaction_timeout_ms), "idle_transaction_timeout", cfgvalue_parse_duration,
      0, CFG_MS_DAY, 0 },
    { PG(server_check_query), "server_check_query", cfgvalue_parse_text, 0, 0, 0 },
    { PG(server_check_delay_ms), "server_check_delay", cfgvalue_parse_duration,
      0, CFG_MS_DAY, 0 },
    { PG(server_reset_query), "server_reset_query", cfgvalue_parse_text, 0, 0, 0 },
    { PG(server_reset_query_always), "server_reset_query_always", cfgvalue_parse_bool,
      0, 0, 0 },
    { PG(server_round_robin), "server_round_robin", cfgvalue_parse_bool, 0, 0, 0 },
    { PG(application_name_add_host), "application_name_add_host", cfgvalue_parse_bool,
      0, 0, 0 },

    { RT(ryw_window_ms), "read_your_writes_window", cfgvalue_parse_duration,
      0, CFG_MS_DAY, 0 },
    { RT(health.ryw_lsn), "read_your_writes", cfgvalue_parse_ryw, 0, 0, 0 },
    { RT(write_functions), "write_functions", cfgvalue_parse_funclist, 0, 0, 0 },
    { RT(read_only_functions), "read_only_functions", cfgvalue_parse_funclist, 0, 0, 0 },
    { RT(volatile_functions_are_writes), "volatile_functions_are_writes",
      cfgvalue_parse_bool, 0, 0, 0 },
    { RT(volatile_refresh_ms), "volatile_functions_refresh", cfgvalue_parse_duration,
      1000, CFG_MS_DAY, 0 },
    { RT(default_role), "default_role", cfgvalue_parse_role, 0, 0, 0 },

    { CL(primary), "primary", cfgvalue_parse_node, 0, 0, KEY_REQUIRED },
    { CLUSTER_ITSELF, "replicas", cfgvalue_parse_replicas, 0, 0, 0 },
    { CLUSTER_ITSELF, "buckets", cfgvalue_parse_buckets, 0, 0, 0 },
    { CL(load_balance), "load_balance", cfgvalue_parse_lb, 0, 0, 0 },
    { CL(primary_reads), "primary_reads", cfgvalue_parse_primary_reads, 0, 0, 0 },

    { SH(tenant_key), "tenant_key", cfgvalue_parse_setting, 0, 0, 0 },
    { SH(tenant_column), "tenant_column", cfgvalue_parse_ident, 0, 0, 0 },
    { SH(tables), "sharded_tables", cfgvalue_parse_tablelist, 0, 0, KEY_REPEAT },
    { SH(n_buckets), "buckets", cfgvalue_parse_uint, 1, 65536, 0 },

    { BR(failure_threshold), "failure_threshold", cfgvalue_parse_uint, 1, 1000, 0 },
    { BR(open_timeout_ms), "open_timeout", cfgvalue_parse_duration, 1, CFG_MS_DAY, 0 },
    { BR(max_open_timeout_ms), "max_open_timeout", cfgvalue_parse_duration,
      1, CFG_MS_DAY, 0 },
    { BR(half_open_probes), "half_open_probes", cfgvalue_parse_uint, 1, 100, 0 },

    { HL(interval_ms), "health_check_interval", cfgvalue_parse_duration, 0, CFG_MS_DAY, 0 },
    { HL(timeout_ms), "health_check_timeout", cfgvalue_parse_duration, 1, CFG_MS_DAY, 0 },
    { HL(max_lag_bytes), "max_replica_lag_bytes", cfgvalue_parse_size_ull, 0, LLONG_MAX, 0 },
    { HL(max_lag_ms), "max_replica_lag", cfgvalue_parse_duration, 0, CFG_MS_DAY, 0 },
    { HL(read_fallback_error), "read_fallback", cfgvalue_parse_read_fallback, 0, 0, 0 },
    { HL(read_retries), "read_retries", cfgvalue_parse_uint, 0, 10, 0 },
    { HL(user), "health_check_user", cfgvalue_parse_string, 0, 0, 0 },
    { HL(password), "health_check_password", cfgvalue_parse_string, 0, 0, 0 },
    { HL(database), "health_check_database", cfgvalue_parse_string, 0, 0, 0 },

    /* ---- security: TLS ---- */
    { PG(client_tls.sslmode), "client_tls_sslmode", cfgsec_parse_sslmode, 0, 0, 0 },
    { PG(client_tls.cert_file), "client_tls_cert_file", cfgvalue_parse_string, 0, 0, 0 },
    { PG(client_tls.key_file), "client_tls_key_file", cfgvalue_parse_string, 0, 0, 0 },
    { PG(client_tls.ca_file), "client_tls_ca_file", cfgvalue_parse_string, 0, 0, 0 },
    { PG(client_tls.protocols), "client_tls_protocols", cfgvalue_parse_string, 0, 0, 0 },
    { PG(client_tls.ciphers), "client_tls_ciphers", cfgvalue_parse_string, 0, 0, 0 },
    { PG(server_tls.sslmode), "server_tls_sslmode", cfgsec_parse_sslmode, 0, 0, 0 },
    { PG(server_tls.cert_file), "server_tls_cert_file", cfgvalue_parse_string, 0, 0, 0 },
    { PG(server_tls.key_file), "server_tls_key_file", cfgvalue_parse_string, 0, 0, 0 },
    { PG(server_tls.ca_file), "server_tls_ca_file", cfgvalue_parse_string, 0, 0, 0 },
    { PG(server_tls.protocols), "server_tls_protocols", cfgvalue_parse_string, 0, 0, 0 },
    { PG(server_tls.ciphers), "server_tls_ciphers", cfgvalue_parse_string, 0, 0, 0 },

    /* ---- security: who may log in ---- */
    { PG(auth_hba_file), "auth_hba_file", cfgvalue_parse_string, 0, 0, 0 },
    { PG(auth_query), "auth_query", cfgvalue_parse_string, 0, 0, 0 },
    { PG(auth_user), "auth_user", cfgvalue_parse_string, 0, 0, 0 },
    { PG(auth_dbname), "auth_dbname", cfgvalue_parse_string, 0, 0, 0 },
    { PG(auth_query_cache_ttl_ms), "auth_query_cache_ttl", cfgvalue_parse_duration,
      0, CFG_MS_DAY, 0 },

    /* ---- security: bounds on hostile input ---- */
    { PG(max_query_size), "max_query_size", cfgvalue_parse_size, 0, INT32_MAX, 0 },
    { PG(max_bind_size), "max_bind_size", cfgvalue_parse_size, 0, INT32_MAX, 0 },
    { PG(max_pending_logins), "max_pending_logins", cfgvalue_parse_int, 0, INT_MAX, 0 },
    { PG(client_startup_timeout_ms), "client_startup_timeout", cfgvalue_parse_duration,
      0, CFG_MS_DAY, 0 },
    { PG(auth_failure_delay_ms), "auth_failure_delay", cfgvalue_parse_duration,
      0, 60000, 0 },
    { PG(auth_failure_max_delay_ms), "auth_failure_max_delay", cfgvalue_parse_duration,
      0, 60000, 0 },
};

#define CFG_N_KEYS (sizeof(cfg_keys) / sizeof(cfg_keys[0]))

size_t cfg_n_keys(void)
{
    return CFG_N_KEYS;
}
_Static_assert(CFG_N_KEYS <= CFG_KEYS_MAX, "raise CFG_KEYS_MAX");

size_t cfg_key_find(enum cfg_sect sect, const char *name)
{
    for (size_t i = 0; i < CFG_N_KEYS; i++)
        if (cfg_keys[i].sect == sect && strcmp(cfg_keys[i].name, name) == 0)
            return i;
    return CFG_N_KEYS;
}

const struct cfg_key *cfg_key_at(size_t i)
{
    return i < CFG_N_KEYS ? &cfg_keys[i] : NULL;
}
