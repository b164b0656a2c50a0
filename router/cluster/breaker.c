/*
 * router/cluster/breaker.c - circuit breaker per pool: closed, open, half-open.
 * Counts connect failures and timeouts, not SQL errors. No I/O here.
 */
#include "router/cluster/breaker.h"

#include <stddef.h>
#include <string.h>

/* Every state change goes through here so that transitions counts each one. */
static void breaker_set_state(struct breaker *b, enum breaker_state to)
{
    if (b->state == to)
        return;
    b->state = to;
    b->transitions++;
}

static void breaker_open(struct breaker *b, uint64_t now_ms)
{
    breaker_set_state(b, BREAKER_OPEN);
    b->open_until_ms = now_ms + b->timeout_ms;
    b->failures = 0;
    b->probes = 0;
}

void breaker_init(struct breaker *b, const struct breaker_params *p)
{
    memset(b, 0, sizeof(*b));
    b->p = *p;
    if (b->p.failure_threshold == 0)
        b->p.failure_threshold = 1;
    if (b->p.half_open_probes == 0)
        b->p.half_open_probes = 1;
    if (b->p.max_open_timeout_ms < b->p.open_timeout_ms)
        b->p.max_open_timeout_ms = b->p.open_timeout_ms;
    b->state = BREAKER_CLOSED;
    b->reported = BREAKER_CLOSED;
    b->timeout_ms = b->p.open_timeout_ms;
}

int breaker_allow(struct breaker *b, uint64_t now_ms)
{
    switch (b->state) {
    case BREAKER_CLOSED:
        return 1;
    case BREAKER_OPEN:
        if (now_ms < b->open_until_ms)
            return 0;
        breaker_set_state(b, BREAKER_HALF_OPEN);
        b->probes = 0;
        break;
    case BREAKER_HALF_OPEN:
        break;
    }
    if (b->probes >= b->p.half_open_probes)
        return 0;
    b->probes++;
    return 1;
}

void breaker_success(struct breaker *b, uint64_t now_ms)
{
    (void)now_ms;
    switch (b->state) {
    case BREAKER_CLOSED:
        b->failures = 0;
        break;
    case BREAKER_OPEN:
        break;
    case BREAKER_HALF_OPEN:
        breaker_set_state(b, BREAKER_CLOSED);
        b->failures = 0;
        b->probes = 0;
        b->timeout_ms = b->p.open_timeout_ms;
        break;
    }
}

void breaker_failure(struct breaker *b, uint64_t now_ms)
{
    uint64_t doubled;

    switch (b->state) {
    case BREAKER_CLOSED:
        if (++b->failures >= b->p.failure_threshold)
            breaker_open(b, now_ms);
        break;
    case BREAKER_OPEN:
        break;
    case BREAKER_HALF_OPEN:
        /* 64-bit so that doubling a large timeout cannot wrap before the cap. */
        doubled = (uint64_t)b->timeout_ms * 2;
        if (doubled > b->p.max_open_timeout_ms)
            doubled = b->p.max_open_timeout_ms;
        b->timeout_ms = (unsigned)doubled;
        breaker_open(b, now_ms);
        break;
    }
}

void breaker_force_open(struct breaker *b, uint64_t now_ms)
{
    uint64_t until = now_ms + b->timeout_ms;

    if (b->state == BREAKER_OPEN) {
        if (until > b->open_until_ms)
            b->open_until_ms = until;
        return;
    }
    breaker_open(b, now_ms);
}

enum breaker_state breaker_state(const struct breaker *b, uint64_t now_ms)
{
    if (b->state == BREAKER_OPEN && now_ms >= b->open_until_ms)
        return BREAKER_HALF_OPEN;
    return b->state;
}

uint64_t breaker_retry_at(const struct breaker *b)
{
    return b->state == BREAKER_OPEN ? b->open_until_ms : 0;
}

int breaker_changed(struct breaker *b, enum breaker_state *from)
{
    if (b->reported == b->state)
        return 0;
    if (from != NULL)
        *from = b->reported;
    b->reported = b->state;
    return 1;
}

const char *breaker_state_name(enum breaker_state s)
{
    switch (s) {
    case BREAKER_CLOSED:
        return "closed";
    case BREAKER_OPEN:
        return "open";
    case BREAKER_HALF_OPEN:
        return "half-open";
    }
    return "?";
}

int breaker_counts(const char *sqlstate)
{
    /*
     * Not 53300: "too many connections" is as often a limit of one role or database
     * (CONNECTION LIMIT) as the server's, and a client must not take a node down.
     */
    static const char *const counted[] = { "57P01", "57P02", "57P03" };

    if (sqlstate == NULL || strlen(sqlstate) != 5)
        return 0;
    if (sqlstate[0] == '0' && sqlstate[1] == '8')
        return 1;
    for (size_t i = 0; i < sizeof(counted) / sizeof(counted[0]); i++)
        if (strcmp(sqlstate, counted[i]) == 0)
            return 1;
    return 0;
}
