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

/* TLS protocol versions as bits of a mask (*_tls_protocols). */
#define CFGSEC_TLS_V1_0 0x1u
#define CFGSEC_TLS_V1_1 0x2u
#define CFGSEC_TLS_V1_2 0x4u
#define CFGSEC_TLS_V1_3 0x8u

/*
 * Parse a *_tls_protocols value as PgBouncer does: tlsv1.0, tlsv1.1, tlsv1.2, tlsv1.3 and
 * the shortcuts all (= legacy, every version) and secure (= default, tlsv1.2 and tlsv1.3),
 * separated by commas, colons or blanks, case-insensitive. 0 and *mask, or -EINVAL with
 * the reason in why.
 */
int cfgsec_parse_protocols(const char *v, unsigned *mask, char *why, size_t why_len);

/*
 * The server_tls_* keys taken together (after the file is read): protocols that parse and
 * form one range (libpq takes a minimum and a maximum), cert_file and key_file set
 * together, a ca_file for verify-ca and verify-full, and the files readable (a key file
 * private, as libpq demands) unless sslmode is disable. 0, or -EINVAL with *key the key
 * to blame and the reason in why.
 */
int cfgsec_check_server_tls(const struct cfg *c, const char **key, char *why, size_t why_len);

/* Defaults that are not zero and not strings (cfg_set_defaults calls this). */
void cfgsec_set_defaults(struct cfg *c);

/* String defaults for keys left unset (after the file is read). 0 or -ENOMEM. */
int cfgsec_set_late_defaults(struct cfg *c);

/* Free what the security keys hold (not c itself). */
void cfgsec_free(struct cfg *c);

#endif
