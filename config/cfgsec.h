/*
 * config/cfgsec.h - the security part of the configuration: value parsers for the TLS
 * and authentication keys, their defaults, and freeing them with the snapshot.
 */
#ifndef PGROUTER_CFGSEC_H
#define PGROUTER_CFGSEC_H

#include <stddef.h>

#include "config/cfg.h"

/* int holding an enum cfg_sslmode: disable, allow, prefer, require, verify-ca, verify-full. */
int cfgsec_parse_sslmode(const char *v, long long min, long long max, void *field,
                         char *why, size_t why_len);

/* The name of an sslmode as the config spells it ("verify-full"). */
const char *cfgsec_sslmode_name(int mode);

/*
 * The server_tls_* checks that are libpq's own (after the file is read; the keys' syntax
 * and files are checked by config/cfgtls.c): protocols that form one range (libpq takes a
 * minimum and a maximum) and a private key file (libpq refuses one that others may read).
 * Nothing when sslmode is disable. 0, or -EINVAL with *key the key to blame and why.
 */
int cfgsec_check_server_tls(const struct cfg *c, const char **key, char *why, size_t why_len);

/* Defaults that are not zero and not strings (cfg_set_defaults calls this). */
void cfgsec_set_defaults(struct cfg *c);

/* String defaults for keys left unset (after the file is read). 0 or -ENOMEM. */
int cfgsec_set_late_defaults(struct cfg *c);

/* Free what the security keys hold (not c itself). */
void cfgsec_free(struct cfg *c);

#endif
