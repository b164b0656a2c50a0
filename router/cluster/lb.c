/*
 * router/cluster/lb.c - load-balancing strategies over eligible candidates. No I/O, no clock,
 * no random generator of its own: see lb.h for the rules of each strategy.
 */
#include "router/cluster/lb.h"

#include <errno.h>
#include <string.h>

/* least_latency: candidates within 1/LB_TIE_FRACTION of the fastest count as tied. */
#define LB_TIE_FRACTION 4

static const char *const lb_names[] = {
    [LB_ROUND_ROBIN] = "round_robin",
    [LB_LEAST_CONN] = "least_conn",
    [LB_RANDOM] = "random",
    [LB_WEIGHTED] = "weighted",
    [LB_LEAST_LATENCY] = "least_latency",
};

void lb_init(struct lb *state)
{
    memset(state, 0, sizeof(*state));
}

/*
 * The first eligible candidate at or after the cursor whose key is at most max_key
 * (key(c) = active or latency, as the caller chose; max_key UINT64_MAX = any), and
 * advance *cursor past it. This is what spreads ties evenly.
 */
static int lb_next(unsigned *cursor, const struct lb_candidate *c, size_t n,
                   const uint64_t *key, uint64_t max_key)
{
    for (size_t i = 0; i < n; i++) {
        size_t idx = (*cursor + i) % n;

        if (c[idx].eligible && (key == NULL || key[idx] <= max_key)) {
            *cursor = (unsigned)((idx + 1) % n);
            return (int)idx;
        }
    }
    return -1;
}

static int lb_least(struct lb *state, const struct lb_candidate *c, size_t n,
                    enum lb_strategy s)
{
    uint64_t key[LB_MAX_CANDIDATES];
    uint64_t min = UINT64_MAX;
    int any = 0;

    for (size_t i = 0; i < n; i++) {
        key[i] = s == LB_LEAST_CONN ? c[i].active : c[i].latency_us;
        if (c[i].eligible && key[i] < min)
            min = key[i];
        any |= c[i].eligible;
    }
    if (!any)
        return -1;
    if (s == LB_LEAST_LATENCY)
        min += min / LB_TIE_FRACTION;
    return lb_next(&state->rr, c, n, key, min);
}

/* nginx's smooth weighted round robin: exact shares, interleaved. */
static int lb_weighted(struct lb *state, const struct lb_candidate *c, size_t n)
{
    int64_t total = 0;
    int best = -1;

    for (size_t i = 0; i < n; i++) {
        int64_t w = c[i].weight > 0 ? c[i].weight : 1;

        if (!c[i].eligible)
            continue;
        state->current[i] += w;
        total += w;
        if (best < 0 || state->current[i] > state->current[best])
            best = (int)i;
    }
    if (best >= 0)
        state->current[best] -= total;
    return best;
}

static int lb_random(const struct lb_candidate *c, size_t n, uint64_t rand_value)
{
    size_t eligible = 0;
    size_t k;

    for (size_t i = 0; i < n; i++)
        eligible += c[i].eligible != 0;
    if (eligible == 0)
        return -1;
    k = (size_t)(rand_value % eligible);
    for (size_t i = 0; i < n; i++)
        if (c[i].eligible && k-- == 0)
            return (int)i;
    return -1;
}

int lb_pick(struct lb *state, enum lb_strategy s, const struct lb_candidate *c, size_t n,
            uint64_t rand_value)
{
    if (n > LB_MAX_CANDIDATES)
        n = LB_MAX_CANDIDATES;
    if (n == 0)
        return -1;
    switch (s) {
    case LB_ROUND_ROBIN:
        return lb_next(&state->rr, c, n, NULL, 0);
    case LB_LEAST_CONN:
        return lb_least(state, c, n, s);
    case LB_RANDOM:
        return lb_random(c, n, rand_value);
    case LB_WEIGHTED:
        return lb_weighted(state, c, n);
    case LB_LEAST_LATENCY:
        /* Own cursor: sharing rr with the tie rotation could lock onto one node. */
        if (++state->picks % LB_EXPLORE_EVERY == 0)
            return lb_next(&state->explore, c, n, NULL, 0);
        return lb_least(state, c, n, s);
    }
    return -1;
}

void lb_latency_update(uint32_t *ewma_us, uint32_t sample_us)
{
    uint64_t next;

    if (sample_us == 0)
        sample_us = 1;
    if (*ewma_us == 0) {
        *ewma_us = sample_us;
        return;
    }
    /* 0.8 old + 0.2 new, rounded to nearest so small steps are not lost downwards. */
    next = ((uint64_t)*ewma_us * 4 + sample_us + 2) / 5;
    *ewma_us = next > 0 ? (uint32_t)next : 1;
}

const char *lb_strategy_name(enum lb_strategy s)
{
    if ((unsigned)s < sizeof(lb_names) / sizeof(lb_names[0]))
        return lb_names[s];
    return "?";
}

int lb_strategy_parse(const char *name, enum lb_strategy *out)
{
    for (size_t i = 0; i < sizeof(lb_names) / sizeof(lb_names[0]); i++) {
        if (strcmp(name, lb_names[i]) == 0) {
            *out = (enum lb_strategy)i;
            return 0;
        }
    }
    return -EINVAL;
}
