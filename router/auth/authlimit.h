/*
 * router/auth/authlimit.h - limits on what a client can do before it has logged in: the
 * failed-login backoff per client address and per user, the cap on connections still
 * logging in (max_pending_logins), the budget of cancel requests forwarded to servers,
 * and one summary log line per period instead of a line per hostile request.
 */
#ifndef PGROUTER_AUTHLIMIT_H
#define PGROUTER_AUTHLIMIT_H

#include <pthread.h>
#include <stdint.h>

#define AUTHLIMIT_SLOTS 4096        /* tracked addresses and users together (fixed memory) */
#define AUTHLIMIT_WAYS 8            /* a key lives in one set of this many slots */
#define AUTHLIMIT_FORGET_MS 60000   /* failures older than this are forgotten */
#define AUTHLIMIT_OVER_MS 1000     /* a connection over max_pending_logins: startup within */
#define AUTHLIMIT_CANCEL_RATE 100   /* cancels forwarded to servers per second... */
#define AUTHLIMIT_CANCEL_BURST 200  /* ...and at once after a quiet time */

struct session;
struct worker;

/* Recent failed logins of one key (an address or a user), by a keyed 64-bit hash. */
struct authlimit_entry {
    uint64_t key;               /* 0 = free */
    uint64_t last_ms;           /* the last failure */
    uint32_t failures;
};

/* What a cancel request turned out to be. */
enum authlimit_cancel {
    AUTHLIMIT_CANCEL_SENT = 0,  /* forwarded to the server of a running query */
    AUTHLIMIT_CANCEL_IDLE,      /* a live client, but no query to cancel */
    AUTHLIMIT_CANCEL_UNKNOWN,   /* no client has that key */
    AUTHLIMIT_CANCEL_DROPPED,   /* over the budget of forwarded cancels */
    AUTHLIMIT_CANCEL_KINDS,
};

/* One for the process (struct shared); lock guards everything below seed. */
struct authlimit {
    pthread_mutex_t lock;
    uint64_t seed[2];           /* keys the hash, so collisions cannot be chosen */
    struct authlimit_entry e[AUTHLIMIT_SLOTS];
    unsigned pending;           /* connections not logged in yet (max_pending_logins) */
    double cancel_tokens;       /* token bucket of forwarded cancels */
    uint64_t cancel_refill_ms;
    uint64_t summary_ms;        /* the start of the current summary period */
    /* since summary_ms: */
    unsigned cancels[AUTHLIMIT_CANCEL_KINDS];
    unsigned refused_pending;   /* over max_pending_logins */
    unsigned startup_timeouts;  /* no startup packet within client_startup_timeout */
    unsigned failed_logins;
    unsigned delayed_logins;    /* ...of which answered late (backoff) */
    /* since start, for SHOW LISTS and metrics */
    uint64_t total_cancels[AUTHLIMIT_CANCEL_KINDS];
    uint64_t total_refused_pending;
    uint64_t total_failed_logins;
};

/* Set a up with a random hash key. 0, or -1 when no random bytes are available. */
int authlimit_init(struct authlimit *a);

/*
 * A client was accepted: count it as a pending login, or return -1 (uncounted) when
 * max_pending_logins connections are logging in already: it is then refused at its
 * startup packet (authlimit_over), or closed if that does not come within
 * AUTHLIMIT_OVER_MS. A cancel request from it is still served.
 */
int authlimit_accept(struct session *s);

/*
 * At s's startup packet (not a cancel request): if s came over max_pending_logins, refuse
 * it now with FATAL 53300 and return 1 (it had client_startup_timeout, at most
 * AUTHLIMIT_OVER_MS, to send it). Else 0.
 */
int authlimit_over(struct session *s);

/* s logged in or is gone: it no longer counts as pending. Idempotent. */
void authlimit_done(struct session *s);

/*
 * Refuse s without logging a line for it (the summary counts it): a FATAL with sqlstate
 * and message, and the connection closes. For floods: max_pending_logins, the startup
 * timeout.
 */
void authlimit_refuse(struct session *s, const char *sqlstate, const char *hint,
                      const char *msg);

/*
 * Before s's password is checked: while its user has failed recently, the check waits
 * (a timer; reading stops) until the user's backoff has passed, at most once per
 * connection and at most auth_failure_max_delay. Returns 1 when s waits (login_read is
 * called again later), else 0.
 */
int authlimit_hold(struct session *s);

/* s's password was wrong: count it for its address and user, answer FATAL 28P01 after
 * the backoff delay (a timer; at once for a first failure). */
void authlimit_failed(struct session *s);

/* s logged in: its user's failures are forgotten, its address's halved. */
void authlimit_success(struct session *s);

/* Count a cancel request. */
void authlimit_cancel_note(struct worker *w, enum authlimit_cancel kind);

/* May one more cancel be forwarded to a server now? Takes a token if so. */
int authlimit_cancel_take(struct worker *w, uint64_t now_ms);

/* Once a second: log the summary line of a stats_period that had anything to report. */
void authlimit_tick(struct worker *w, uint64_t now_ms);

#endif
