/*
 * router/auth/passthru.h - credentials to log in to servers for a user pgrouter has no plain
 * password of (SCRAM pass-through, as PgBouncer does): the user's secret, as PostgreSQL
 * stores it in pg_authid, and for a SCRAM secret the ClientKey recovered from a client's
 * verified proof. The secret may come from auth_file or from anywhere else (auth_query):
 * whatever secret a client was authenticated against is what its servers are opened with.
 * A session keeps what its login yielded; a pool keeps the newest one its clients brought.
 */
#ifndef PGROUTER_PASSTHRU_H
#define PGROUTER_PASSTHRU_H

#include <stdint.h>

#include "protocol/auth.h"
#include "protocol/scram.h"

struct passthru {
    uint64_t stamp;                         /* when a client logged in with it: newest wins */
    char secret[SCRAM_SECRET_TEXT_CAP];     /* "SCRAM-SHA-256$..." or "md5" + 32 hex */
    uint8_t client_key[SCRAM_KEY_LEN];      /* SCRAM: H(client_key) is the StoredKey */
    int have_key;
    /* A pool's copy only: a server asked for what these cannot answer (another method or
     * salt), so the pool logs in through libpq as before (PGPASSFILE, trust); why says it. */
    int refused;
    char why[256];
};

/*
 * What a finished, successful authentication a yields for logging in to servers: the SCRAM
 * secret it verified against plus the ClientKey recovered from the proof, or the md5 secret
 * it checked. Returns a new heap copy (free with passthru_free), or NULL when a carries
 * none (trust, a plain password, an unknown user, or out of memory).
 */
struct passthru *passthru_from_auth(const struct auth *a);

/*
 * A client of the pool logged in with *from: the pool's credentials (*slot, may be NULL)
 * become a copy of it when it is newer and brings something new (another secret after a
 * reload or an auth_query refresh, or the first ClientKey for the secret). 0 or -ENOMEM.
 */
int passthru_learn(struct passthru **slot, const struct passthru *from);

/* Is this an md5 secret (answers md5 only) rather than a SCRAM one? */
int passthru_is_md5(const struct passthru *pt);

/* Wipe and free (NULL is fine). */
void passthru_free(struct passthru *pt);

#endif
