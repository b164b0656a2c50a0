/*
 * config/userlist.h - the PgBouncer-format auth_file: lines of "user" "secret",
 * parsed into an array of struct cfg_user sorted by name.
 */
#ifndef PGROUTER_USERLIST_H
#define PGROUTER_USERLIST_H

#include <stddef.h>

#include "config/cfg.h"

/* Called once per problem found; line counts from 1, msg has no file prefix. */
typedef void (*userlist_error_fn)(void *arg, int line, const char *msg);

/*
 * Parse len bytes of auth_file text. Format, one entry per line:
 *     "username" "password-or-secret"
 * A '"' inside quotes is written '""'. Blank lines and lines whose first
 * non-blank character is ';' or '#' are skipped. Anything else is an error.
 * On success returns 0 and sets *users (sorted by name; free with userlist_free)
 * and *n_users. Returns -EINVAL after reporting every problem through on_error,
 * or -ENOMEM. On failure *users and *n_users are untouched.
 */
int userlist_parse(const char *text, size_t len, userlist_error_fn on_error, void *arg,
                   struct cfg_user **users, size_t *n_users);

/*
 * Read the file at path and parse it as userlist_parse does.
 * Returns -errno (without calling on_error) if the file cannot be read.
 */
int userlist_load(const char *path, userlist_error_fn on_error, void *arg,
                  struct cfg_user **users, size_t *n_users);

/* Free an array returned by userlist_parse or userlist_load. NULL is fine. */
void userlist_free(struct cfg_user *users, size_t n_users);

/* Binary search of a sorted array for name; NULL if absent. */
const struct cfg_user *userlist_find(const struct cfg_user *users, size_t n_users,
                                     const char *name);

/*
 * 1 if secret is a plain password, 0 if it is a stored secret: "SCRAM-SHA-256$..." or
 * "md5" followed by 32 lowercase hex digits (anything else after "md5" is a password,
 * as in PgBouncer). Only a plain password can log in to a server for a client.
 */
int userlist_is_plain(const char *secret);

#endif
