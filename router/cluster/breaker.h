/*
 * router/cluster/breaker.h - circuit breaker per node pool: closed, open, half-open.
 *
 * Pure: no I/O, no clock of its own; every call that depends on time takes now_ms
 * (the loop's uv_now). The caller reports the outcome of every attempt it was
 * allowed to make: exactly one breaker_success or breaker_failure per breaker_allow
 * that returned 1. Only failures that say the node is unusable count (connection
 * refused or lost, timeouts, crash or shutdown: see breaker_counts); SQL errors from
 * a healthy server and login errors of one database or user do not.
 *
 *   closed --(failure_threshold consecutive failures)--> open
 *   open --(open timeout elapsed, at the next breaker_allow)--> half-open
 *   half-open --(a probe succeeds)--> closed, timeout back to open_timeout_ms
 *   half-open --(a probe fails)--> open, timeout doubled up to max_open_timeout_ms
 *   any --(breaker_force_open: a health check says the node is down)--> open
 */
#ifndef PGROUTER_BREAKER_H
#define PGROUTER_BREAKER_H

#include <stdint.h>

enum breaker_state {
    BREAKER_CLOSED = 0,     /* traffic flows; counting consecutive failures */
    BREAKER_OPEN,           /* node out of rotation until open_until_ms */
    BREAKER_HALF_OPEN,      /* up to half_open_probes attempts may test the node */
};

/*
 * Same fields as config's struct cfg_breaker, so that session.c can copy one into the
 * other without this file depending on config/. Zeros are made usable by breaker_init:
 * failure_threshold and half_open_probes become 1, max_open_timeout_ms below
 * open_timeout_ms becomes open_timeout_ms.
 */
struct breaker_params {
    unsigned failure_threshold;     /* consecutive failures that open the breaker */
    unsigned open_timeout_ms;       /* first open period */
    unsigned max_open_timeout_ms;   /* cap for the doubling after failed probes */
    unsigned half_open_probes;      /* attempts let through at once while half-open */
};

struct breaker {
    struct breaker_params p;
    enum breaker_state state;       /* as of the last call; see breaker_state() */
    unsigned failures;              /* consecutive failures while closed */
    unsigned probes;                /* probe slots taken in this half-open period */
    unsigned timeout_ms;            /* length of the current (or next) open period */
    uint64_t open_until_ms;         /* while open: when half-open may begin */
    uint64_t transitions;           /* state changes since init, for metrics */
    enum breaker_state reported;    /* state at the last breaker_changed() */
};

/* Set b up closed, with a copy of *p (normalised as described above). */
void breaker_init(struct breaker *b, const struct breaker_params *p);

/*
 * May the caller try the node now? Returns 1 when closed, or when half-open and a
 * probe slot is free (the call takes that slot); 0 when open, or half-open with every
 * slot taken. An open breaker whose time has come (now_ms >= open_until_ms) turns
 * half-open here and hands out the first probe.
 */
int breaker_allow(struct breaker *b, uint64_t now_ms);

/*
 * An attempt succeeded. Closed: the failure count starts over. Half-open: the breaker
 * closes and the open timeout goes back to open_timeout_ms. Open: ignored (a late
 * answer to an attempt made before the breaker opened proves little).
 */
void breaker_success(struct breaker *b, uint64_t now_ms);

/*
 * An attempt failed in a way that counts (see breaker_counts). Closed: the breaker
 * opens for open_timeout_ms at the failure_threshold-th consecutive failure.
 * Half-open: it opens again at once, for twice the previous period, at most
 * max_open_timeout_ms. Open: ignored, for the same reason as breaker_success.
 */
void breaker_failure(struct breaker *b, uint64_t now_ms);

/*
 * Open the breaker now, whatever its state, for the current timeout (not doubled):
 * a health check found the node down. Already open: the open period is extended to
 * now_ms + timeout if that is later, so repeated failed checks keep it open.
 */
void breaker_force_open(struct breaker *b, uint64_t now_ms);

/*
 * The state as seen at now_ms, without changing anything: an open breaker whose
 * time has come reads as BREAKER_HALF_OPEN (it turns so at the next breaker_allow).
 */
enum breaker_state breaker_state(const struct breaker *b, uint64_t now_ms);

/* While open: the time (ms, same clock as now_ms) at which a probe may go; else 0. */
uint64_t breaker_retry_at(const struct breaker *b);

/*
 * For logging transitions once: returns 1 if the state changed since the previous
 * call (or since init), storing the state at that previous call in *from (may be
 * NULL) and recording the current one; 0 otherwise. b->state is the new state.
 */
int breaker_changed(struct breaker *b, enum breaker_state *from);

/* "closed", "open", "half-open"; "?" for a value outside the enum. */
const char *breaker_state_name(enum breaker_state s);

/*
 * Does an error with this SQLSTATE (5 characters) count as a node failure? 1 for
 * class 08 (connection exception), 57P01 admin_shutdown, 57P02 crash_shutdown and
 * 57P03 cannot_connect_now; 0 for everything else (syntax, constraints, permissions,
 * login errors such as 3D000, 28P01, 55000, and 53300 too_many_connections, which a
 * role's or database's CONNECTION LIMIT gives too) and for NULL or malformed codes.
 */
int breaker_counts(const char *sqlstate);

#endif
