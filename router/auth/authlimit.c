/*
 * router/auth/authlimit.c - limits on hostile traffic before login: the failed-login backoff
 * (a fixed table of addresses and users by keyed hash, oldest evicted), the count of
 * connections still logging in, the token bucket of forwarded cancel requests, and the
 * summary line that replaces a log line per hostile request. See authlimit.h.
 *
 * Backoff: the n-th failure in a row of an address or a user (n >= 2) is answered after
 * auth_failure_delay * 2^(n-2), at most auth_failure_max_delay; the larger of the two
 * keys' delays counts. A wrong answer that comes late costs a client that waits for it
 * time, and one that does not wait gains nothing: the next attempt for the same user is
 * not even checked before that user's delay has passed. These are delays, never
 * refusals, and a legitimate login waits at most auth_failure_max_delay once, so an
 * attacker can slow a user down but not lock it out. Another user from the same address
 * is checked at once, and answered at once if its password is right.
 */
#include "router/auth/authlimit.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "protocol/msg.h"
#include "router/core/log.h"
#include "router/session/login.h"
#include "router/session/session.h"

#define AUTHLIMIT_SETS (AUTHLIMIT_SLOTS / AUTHLIMIT_WAYS)

int authlimit_init(struct authlimit *a)
{
    memset(a, 0, sizeof(*a));
    a->cancel_tokens = AUTHLIMIT_CANCEL_BURST;
    if (RAND_bytes((unsigned char *)a->seed, sizeof(a->seed)) != 1)
        return -1;
    return 0;
}

/* ---- the table ---- */

static uint64_t authlimit_mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

/* A keyed hash of (kind, text); never 0. */
static uint64_t authlimit_hash(const struct authlimit *a, char kind, const char *p, size_t n)
{
    uint64_t h = a->seed[0] ^ (uint64_t)(unsigned char)kind;

    for (size_t i = 0; i < n; i++)
        h = authlimit_mix(h ^ (unsigned char)p[i] ^ a->seed[1]);
    h = authlimit_mix(h ^ n);
    return h != 0 ? h : 1;
}

/* The entry of key; with create, a free or the least recently failed slot of its set. */
static struct authlimit_entry *authlimit_find(struct authlimit *a, uint64_t key, int create)
{
    struct authlimit_entry *set = &a->e[(key >> 32) % AUTHLIMIT_SETS * AUTHLIMIT_WAYS];
    struct authlimit_entry *victim = &set[0];

    for (unsigned i = 0; i < AUTHLIMIT_WAYS; i++) {
        if (set[i].key == key)
            return &set[i];
        if (set[i].key == 0 || (victim->key != 0 && set[i].last_ms < victim->last_ms))
            victim = &set[i];
    }
    if (!create)
        return NULL;
    memset(victim, 0, sizeof(*victim));
    victim->key = key;
    return victim;
}

/* The address of s without its port ("127.0.0.1", "[::1]"), from the connection log. */
static uint64_t authlimit_addr_key(struct session *s)
{
    const char *addr = s->connlog.addr;
    const char *colon = strrchr(addr, ':');
    size_t n = colon != NULL && colon != addr ? (size_t)(colon - addr) : strlen(addr);

    return authlimit_hash(s->w->authlimit, 'a', addr, n);
}

static uint64_t authlimit_user_key(struct session *s)
{
    const char *user = s->st != NULL && s->st->user != NULL ? s->st->user : "";

    return authlimit_hash(s->w->authlimit, 'u', user, strlen(user));
}

/* Failures in a row of e, forgotten after a quiet AUTHLIMIT_FORGET_MS. */
static uint32_t authlimit_failures(const struct authlimit_entry *e, uint64_t now)
{
    if (e == NULL || now - e->last_ms >= AUTHLIMIT_FORGET_MS)
        return 0;
    return e->failures;
}

/* The delay after the n-th failure in a row: none for the first. */
static uint64_t authlimit_delay(const struct cfg *cfg, uint32_t n)
{
    uint64_t d;

    if (n < 2 || cfg->auth_failure_delay_ms == 0)
        return 0;
    d = (uint64_t)cfg->auth_failure_delay_ms << (n - 2 > 20 ? 20 : n - 2);
    return d < cfg->auth_failure_max_delay_ms ? d : cfg->auth_failure_max_delay_ms;
}

/* ---- the backoff ---- */

static void authlimit_hold_cb(uv_timer_t *t)
{
    struct session *s = t->data;

    session_login_timer(s);
    conn_want_read(&s->client, 1);
    login_read(s);
}

int authlimit_hold(struct session *s)
{
    const struct cfg *cfg = s->cfg;
    uint64_t now = session_now(s), ready, wait;
    struct authlimit_entry *u;
    uint32_t n;

    if (s->auth_held || cfg->auth_failure_delay_ms == 0)
        return 0;
    s->auth_held = 1;
    pthread_mutex_lock(&s->w->authlimit->lock);
    u = authlimit_find(s->w->authlimit, authlimit_user_key(s), 0);
    n = authlimit_failures(u, now);
    ready = n < 2 ? 0 : u->last_ms + authlimit_delay(cfg, n);
    pthread_mutex_unlock(&s->w->authlimit->lock);
    if (n < 2)
        return 0;
    if (ready <= now)
        return 0;
    wait = ready - now < cfg->auth_failure_max_delay_ms ? ready - now
                                                        : cfg->auth_failure_max_delay_ms;
    uv_timer_stop(&s->login_timer);
    conn_want_read(&s->client, 0);
    uv_timer_start(&s->login_timer, authlimit_hold_cb, wait, 0);
    return 1;
}

static void authlimit_fail_now(struct session *s)
{
    session_fatal(s, "28P01", NULL, "password authentication failed for user \"%s\"",
                  s->st->user);
}

static void authlimit_fail_cb(uv_timer_t *t)
{
    authlimit_fail_now(t->data);
}

static uint32_t authlimit_count(struct authlimit_entry *e, uint64_t now)
{
    e->failures = authlimit_failures(e, now);
    if (e->failures < UINT32_MAX)
        e->failures++;
    e->last_ms = now;
    return e->failures;
}

void authlimit_failed(struct session *s)
{
    struct authlimit *a = s->w->authlimit;
    uint64_t now = session_now(s), d;
    uint32_t na, nu;

    pthread_mutex_lock(&a->lock);
    a->failed_logins++;
    a->total_failed_logins++;
    na = authlimit_count(authlimit_find(a, authlimit_addr_key(s), 1), now);
    nu = authlimit_count(authlimit_find(a, authlimit_user_key(s), 1), now);
    d = authlimit_delay(s->cfg, na > nu ? na : nu);
    if (d > 0)
        a->delayed_logins++;
    pthread_mutex_unlock(&a->lock);
    if (d == 0) {
        authlimit_fail_now(s);
        return;
    }
    /* Nothing more is read: the client waits for its answer. */
    conn_want_read(&s->client, 0);
    uv_timer_stop(&s->login_timer);
    uv_timer_start(&s->login_timer, authlimit_fail_cb, d, 0);
}

void authlimit_success(struct session *s)
{
    struct authlimit *a = s->w->authlimit;
    struct authlimit_entry *e;

    pthread_mutex_lock(&a->lock);
    e = authlimit_find(a, authlimit_user_key(s), 0);
    if (e != NULL)
        memset(e, 0, sizeof(*e));
    e = authlimit_find(a, authlimit_addr_key(s), 0);
    if (e != NULL)
        e->failures /= 2;
    pthread_mutex_unlock(&a->lock);
}

/* ---- connections still logging in ---- */

int authlimit_accept(struct session *s)
{
    struct authlimit *a = s->w->authlimit;
    int rc = 0;

    pthread_mutex_lock(&a->lock);
    if (s->cfg->max_pending_logins > 0 && a->pending >= (unsigned)s->cfg->max_pending_logins) {
        a->refused_pending++;
        a->total_refused_pending++;
        s->pending_login = -1;
        rc = -1;
    } else {
        a->pending++;
        s->pending_login = 1;
    }
    pthread_mutex_unlock(&a->lock);
    return rc;
}

int authlimit_over(struct session *s)
{
    if (s->pending_login >= 0)
        return 0;
    authlimit_refuse(s, "53300", "Retry later; an administrator may raise max_pending_logins "
                     "or find who opens connections that do not log in.",
                     "too many connections are logging in at once (max_pending_logins)");
    return 1;
}

void authlimit_done(struct session *s)
{
    if (s->pending_login <= 0)
        return;
    s->pending_login = 0;
    pthread_mutex_lock(&s->w->authlimit->lock);
    s->w->authlimit->pending--;
    pthread_mutex_unlock(&s->w->authlimit->lock);
}

void authlimit_refuse(struct session *s, const char *sqlstate, const char *hint,
                      const char *msg)
{
    struct msgbuf b;
    uint8_t *data;
    size_t n;

    msgbuf_init(&b);
    msg_error(&b, "FATAL", sqlstate, msg, NULL, hint);
    if (!b.oom) {
        data = msgbuf_steal(&b, &n);
        conn_send_owned(&s->client, data, n);
    }
    msgbuf_free(&b);
    connlog_why(s, "FATAL %s %s", sqlstate, msg);
    session_close(s);
}

/* ---- cancel requests ---- */

void authlimit_cancel_note(struct worker *w, enum authlimit_cancel kind)
{
    pthread_mutex_lock(&w->authlimit->lock);
    w->authlimit->cancels[kind]++;
    w->authlimit->total_cancels[kind]++;
    pthread_mutex_unlock(&w->authlimit->lock);
}

int authlimit_cancel_take(struct worker *w, uint64_t now_ms)
{
    struct authlimit *a = w->authlimit;
    int ok = 0;

    pthread_mutex_lock(&a->lock);
    if (now_ms > a->cancel_refill_ms) {
        a->cancel_tokens += (double)(now_ms - a->cancel_refill_ms) * AUTHLIMIT_CANCEL_RATE / 1000;
        if (a->cancel_tokens > AUTHLIMIT_CANCEL_BURST)
            a->cancel_tokens = AUTHLIMIT_CANCEL_BURST;
        a->cancel_refill_ms = now_ms;
    }
    if (a->cancel_tokens >= 1) {
        a->cancel_tokens -= 1;
        ok = 1;
    }
    pthread_mutex_unlock(&a->lock);
    return ok;
}

/* ---- the summary line ---- */

/* Worker 0 only: the line is for the process. */
void authlimit_tick(struct worker *w, uint64_t now_ms)
{
    struct authlimit *a = w->authlimit;
    unsigned *c = a->cancels;
    unsigned n_cancel = c[0] + c[1] + c[2] + c[3];

    pthread_mutex_lock(&a->lock);
    if (a->summary_ms == 0)
        a->summary_ms = now_ms;
    if (now_ms - a->summary_ms < w->cfg->stats_period_ms) {
        pthread_mutex_unlock(&a->lock);
        return;
    }
    if (n_cancel > 0)
        log_info("cancel requests in the last %.0f s: %u (%u sent to a server, %u for a client "
                 "running no query, %u with an unknown key, %u dropped over the limit of %d/s)",
                 (double)(now_ms - a->summary_ms) / 1000, n_cancel,
                 c[AUTHLIMIT_CANCEL_SENT], c[AUTHLIMIT_CANCEL_IDLE], c[AUTHLIMIT_CANCEL_UNKNOWN],
                 c[AUTHLIMIT_CANCEL_DROPPED], AUTHLIMIT_CANCEL_RATE);
    if (a->refused_pending > 0 || a->startup_timeouts > 0 || a->delayed_logins > 0)
        log_warn("clients not logged in, last %.0f s: %u refused over max_pending_logins = %d, "
                 "%u closed without a startup packet within client_startup_timeout, %u failed "
                 "logins (%u answered after a backoff delay); %u logging in now",
                 (double)(now_ms - a->summary_ms) / 1000, a->refused_pending,
                 w->cfg->max_pending_logins, a->startup_timeouts, a->failed_logins,
                 a->delayed_logins, a->pending);
    memset(a->cancels, 0, sizeof(a->cancels));
    a->refused_pending = a->startup_timeouts = a->failed_logins = a->delayed_logins = 0;
    a->summary_ms = now_ms;
    pthread_mutex_unlock(&a->lock);
}
