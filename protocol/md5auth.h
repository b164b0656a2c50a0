/*
 * protocol/md5auth.h - PostgreSQL "md5" password authentication, server side: the stored
 * md5 secret format and the check of a salted PasswordMessage. Pure functions, no I/O.
 */
#ifndef PGROUTER_MD5AUTH_H
#define PGROUTER_MD5AUTH_H

#include <stddef.h>
#include <stdint.h>

/* "md5" + 32 lowercase hex digits, without the NUL. */
#define MD5AUTH_LEN 35

/*
 * Check the PasswordMessage string a client sent in answer to AuthenticationMD5Password.
 * stored is the user's secret (NUL-terminated): "md5" + 32 lowercase hex (md5(password ||
 * user), see md5auth_is_secret) or else a plain password. response[0..response_len) is
 * "md5" + hex(md5(hex32 || salt)); one trailing NUL is tolerated, so the body of the message
 * can be passed as it is. The comparison is constant time.
 * A SCRAM secret cannot answer md5 and always gives -EACCES, like a wrong password.
 * Returns 0 (match), -EACCES (no match), -EINVAL (response is not "md5" + 32 lowercase hex,
 * or a NULL argument) or -EIO (OpenSSL could not compute MD5, e.g. in FIPS mode).
 */
int md5auth_check(const char *user, const char *stored, const uint8_t salt[4],
                  const char *response, size_t response_len);

/*
 * Write "md5" + hex(md5(password || user)) and a NUL to out: the md5 secret that
 * PostgreSQL stores and PgBouncer's userlist uses. If MD5 is unavailable out is "".
 */
void md5auth_hash(const char *user, const char *password, char out[MD5AUTH_LEN + 1]);

/* 1 if stored (NUL-terminated) is exactly "md5" + 32 lowercase hex digits, else 0. */
int md5auth_is_secret(const char *stored);

#endif
