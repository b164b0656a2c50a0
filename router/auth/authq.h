/*
 * router/auth/authq.h - auth_query: the secret of a user not in auth_file, looked up on the
 * primary of the client's cluster as auth_user, in auth_dbname (or the client's
 * database), with libpq's non-blocking API on the loop. Answers are cached per
 * (cluster, database, user) for auth_query_cache_ttl, "no such user" included; logins of
 * one user that arrive while a lookup runs wait for that lookup instead of starting one.
 * Lookups in flight and cache entries are bounded per worker.
 */
#ifndef PGROUTER_AUTHQ_H
#define PGROUTER_AUTHQ_H

#include <stddef.h>

#include "protocol/auth.h"

#define AUTHQ_MAX_INFLIGHT 32       /* lookups running at once, per worker */
#define AUTHQ_MAX_ENTRIES 4096      /* cached answers, per worker */
#define AUTHQ_SECRET_MAX 500        /* longer answers are refused (struct auth holds 512) */

struct session;
struct worker;
struct authq_entry;

/*
 * The user of s is not in auth_file. When auth_user is set, take over its login: the
 * exchange (login_exchange with method) runs once the secret is known, at once if cached,
 * else when the lookup answers (a FATAL if it fails); returns 0. Returns 1 when
 * auth_query is not configured (or the names are too long to look up): the caller goes
 * on with an unknown user.
 */
int authq_lookup(struct session *s, enum auth_method method);

/* s goes away: it no longer waits for a lookup. Safe when it does not wait. */
void authq_forget(struct session *s);

/* Reload: cached answers are dropped (lookups in flight still answer their waiters). */
void authq_invalidate(struct worker *w);

/* Stop every lookup and free the cache (shutdown); the loop then closes the handles. */
void authq_close(struct worker *w);

#endif
