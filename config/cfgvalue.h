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
/* enum cfg_auth: scram-sha-256, md5 or trust. */
int cfgvalue_parse_auth(const char *v, long long min, long long max, void *field,
                        char *why, size_t why_len);
/* char *: strdup of v; an empty v means "not set" and leaves *field alone. */
int cfgvalue_parse_string(const char *v, long long min, long long max, void *field,
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

/* True if s is 1-63 characters of A-Z a-z 0-9 _ - (cluster names). */
int cfgvalue_name_ok(const char *s);

#endif
