/*
 * config/cfgvalue.h - parsers for single config values (ports, sizes, durations,
 * addresses, names), text in, typed value or a reason out. No files, no state.
 */
#ifndef PGROUTER_CFGVALUE_H
#define PGROUTER_CFGVALUE_H

#include <stddef.h>

#include "config/cfg.h"

/*
 * Every parser reads v (already trimmed), checks it against [min, max] where a
 * range applies, and on success stores the value into *field and returns 0.
 * On bad input returns -EINVAL with a reason in why, e.g.
 * "\"70000\" is not a port (1-65535)" (the caller adds the key name), or
 * -ENOMEM. *field is untouched on failure.
 */
typedef int (*cfgvalue_parse_fn)(const char *v, long long min, long long max, void *field,
                                 char *why, size_t why_len);

/* char[256]: host name, IPv4 or IPv6 literal; "*" becomes "0.0.0.0". */
int cfgvalue_parse_listen_addr(const char *v, long long min, long long max, void *field,
                               char *why, size_t why_len);
/* uint16_t: 1..65535. */
int cfgvalue_parse_port(const char *v, long long min, long long max, void *field,
                        char *why, size_t why_len);
/* uint16_t: 0..65535, 0 meaning "off". */
int cfgvalue_parse_port_or_off(const char *v, long long min, long long max, void *field,
                               char *why, size_t why_len);
/* enum cfg_auth: scram-sha-256, md5 or trust. */
int cfgvalue_parse_auth(const char *v, long long min, long long max, void *field,
                        char *why, size_t why_len);
/* char *: strdup of v; an empty v means "not set" and leaves *field alone. */
int cfgvalue_parse_string(const char *v, long long min, long long max, void *field,
                          char *why, size_t why_len);
/* char *: strdup of v, also when empty ("" then means "disabled"). */
int cfgvalue_parse_text(const char *v, long long min, long long max, void *field,
                        char *why, size_t why_len);
/* int: decimal, optionally negative, min..max. */
int cfgvalue_parse_int(const char *v, long long min, long long max, void *field,
                       char *why, size_t why_len);
/* size_t: bytes, or a number followed by kB, MB or GB (powers of 1024), min..max bytes. */
int cfgvalue_parse_size(const char *v, long long min, long long max, void *field,
                        char *why, size_t why_len);
/* unsigned milliseconds: seconds, or a number followed by ms, s, min or h; min..max ms. */
int cfgvalue_parse_duration(const char *v, long long min, long long max, void *field,
                            char *why, size_t why_len);
/* int 1 or 0: on/off, true/false, yes/no, 1/0, in any case. */
int cfgvalue_parse_bool(const char *v, long long min, long long max, void *field,
                        char *why, size_t why_len);
/* enum cfg_pool_mode: transaction or session, in any case; statement is refused. */
int cfgvalue_parse_pool_mode(const char *v, long long min, long long max, void *field,
                             char *why, size_t why_len);
/* int holding an enum cfg_role: auto, primary or replica, in any case. */
/* workers: 1..max, or "auto" / 0 for the number of online cores (at most max). */
int cfgvalue_parse_workers(const char *v, long long min, long long max, void *field,
                           char *why, size_t why_len);

int cfgvalue_parse_role(const char *v, long long min, long long max, void *field,
                        char *why, size_t why_len);
/*
 * char **: "name, schema.name, ..." as a malloc'd NULL-terminated array of
 * malloc'd lowercase names (free each, then the array). Each part of a name is
 * 1-63 of A-Z a-z 0-9 _ $ and starts with a letter or '_'. Empty v: *field = NULL.
 */
int cfgvalue_parse_funclist(const char *v, long long min, long long max, void *field,
                            char *why, size_t why_len);
/*
 * char ** like cfgvalue_parse_funclist ("table" or "schema.table"), but appends to the
 * list already in *field (sharded_tables may repeat) and refuses a name listed twice.
 * Empty v leaves *field alone.
 */
int cfgvalue_parse_tablelist(const char *v, long long min, long long max, void *field,
                             char *why, size_t why_len);
/*
 * Cut a comma-separated list (modified in place) at item: returns the entry without
 * surrounding blanks and sets *next to the text after its ',' (NULL after the last one).
 */
char *cfgvalue_cut_item(char *item, char **next);
/* Free a list made by cfgvalue_parse_funclist or _tablelist; NULL is ignored. */
void cfgvalue_free_funclist(char **names);
/* char[64]: a cluster name, see cfgvalue_name_ok. */
int cfgvalue_parse_name(const char *v, long long min, long long max, void *field,
                        char *why, size_t why_len);
/* struct cfg_node: "host:port" or "[ipv6]:port", weight 1. */
int cfgvalue_parse_node(const char *v, long long min, long long max, void *field,
                        char *why, size_t why_len);
/*
 * struct cfg_cluster (field points at the whole cluster): sets replicas and
 * n_replicas from "addr[ weight=N], ..."; weight is 1..1000. Empty v: none.
 */
int cfgvalue_parse_replicas(const char *v, long long min, long long max, void *field,
                            char *why, size_t why_len);

/* unsigned: decimal, min..max (min below 0 counts as 0). */
int cfgvalue_parse_uint(const char *v, long long min, long long max, void *field,
                        char *why, size_t why_len);
/* unsigned long long: bytes, or a number followed by kB, MB, GB or TB; min..max bytes. */
int cfgvalue_parse_size_ull(const char *v, long long min, long long max, void *field,
                            char *why, size_t why_len);
/* int holding an enum cfg_lb: round_robin, least_conn, random, weighted, least_latency. */
int cfgvalue_parse_lb(const char *v, long long min, long long max, void *field,
                      char *why, size_t why_len);
/* int holding an enum cfg_primary_reads: off, on or fallback, in any case. */
int cfgvalue_parse_primary_reads(const char *v, long long min, long long max, void *field,
                                 char *why, size_t why_len);
/* int: primary gives 0, error gives 1, in any case. */
int cfgvalue_parse_read_fallback(const char *v, long long min, long long max, void *field,
                                 char *why, size_t why_len);
/* int: enum cfg_facility ("daemon", "user", "auth", "authpriv", "local0".."local7"). */
int cfgvalue_parse_facility(const char *v, long long min, long long max, void *field,
                            char *why, size_t why_len);
/* read_your_writes: window | lsn -> int 0 | 1. */
int cfgvalue_parse_ryw(const char *v, long long min, long long max, void *field,
                       char *why, size_t why_len);
/* char[64]: an unquoted SQL identifier (1-63 of A-Z a-z 0-9 _ $), folded to lowercase. */
int cfgvalue_parse_ident(const char *v, long long min, long long max, void *field,
                         char *why, size_t why_len);
/* char[64]: a custom setting name "prefix.name" (two identifiers), folded to lowercase. */
int cfgvalue_parse_setting(const char *v, long long min, long long max, void *field,
                           char *why, size_t why_len);
/*
 * struct cfg_cluster (field points at the whole cluster): sets bucket_ranges and
 * n_bucket_ranges from "0-511, 600, ..." (each 0-65535, ranges inclusive, lo <= hi).
 * Whether they fit [sharding] buckets is checked once the whole file is read.
 */
int cfgvalue_parse_buckets(const char *v, long long min, long long max, void *field,
                           char *why, size_t why_len);

/* True if s is a [tenants] name: 1-63 bytes, no control characters. */
int cfgvalue_tenant_ok(const char *s);

/* True if s is 1-63 characters of A-Z a-z 0-9 _ - (cluster names). */
int cfgvalue_name_ok(const char *s);

#endif
