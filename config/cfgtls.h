/*
 * config/cfgtls.h - the TLS keys' syntax (client_tls_protocols, server_tls_protocols)
 * and, at load, the checks that the files they name can serve: readable, a certificate and
 * a key that belong together, a CA file that parses.
 */
#ifndef PGROUTER_CFGTLS_H
#define PGROUTER_CFGTLS_H

#include <stddef.h>

#define CFGTLS_N_VERSIONS 4     /* bit i of a mask: TLS 1.0, 1.1, 1.2, 1.3 */

/*
 * A protocols value in PgBouncer's syntax: "secure" (TLS 1.2 and 1.3), "all" or "legacy"
 * (1.0 to 1.3), or a comma list of tlsv1.0, tlsv1.1, tlsv1.2, tlsv1.3 (case and blanks
 * ignored). *mask gets a bit per version. 0, or -EINVAL with the reason in why.
 */
int cfgtls_protocols(const char *spec, unsigned *mask, char *why, size_t why_len);

struct loader;

/*
 * After the file is read (cfg.c): the client_tls_* and server_tls_* keys of a side that
 * is not disabled. The protocols and ciphers must parse, the files be readable PEM, the
 * key match the certificate, and what a mode needs be given (a certificate toward
 * clients, a CA for verify-ca and verify-full). Errors go to ld at the key's line.
 */
void cfgtls_check(struct loader *ld);

#endif
