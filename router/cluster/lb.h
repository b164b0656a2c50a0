/*
 * router/cluster/lb.h - load-balancing strategies: which of N candidate replicas gets the next
 * read. Pure: the caller says which candidates are eligible (breaker allows, lag within
 * bounds) and passes their weight, connection count and latency; randomness comes in
 * as an argument, so every strategy is reproducible in tests.
 *
 *   LB_ROUND_ROBIN    next eligible candidate after the previous pick.
 *   LB_LEAST_CONN     fewest active connections; ties go round robin.
 *   LB_RANDOM         uniform over the eligible candidates, from rand_value.
 *   LB_WEIGHTED       smooth weighted round robin (nginx): with weights 2:1:1 every
 *                     4 picks are a b c a: exact shares, no bursts.
 *   LB_LEAST_LATENCY  the lowest latency EWMA, where candidates within 25% of the
 *                     fastest count as tied and share round robin; and one pick in
 *                     LB_EXPLORE_EVERY goes round robin over all eligible candidates,
 *                     so a slow node keeps getting a few reads and its EWMA can recover.
 *                     A latency of 0 means "no sample yet" and counts as fastest, so
 *                     a new node is tried at once.
 */
#ifndef PGROUTER_LB_H
#define PGROUTER_LB_H

#include <stddef.h>
#include <stdint.h>

/* Candidates beyond this many are not considered (matches BALANCE_MAX_NODES). */
#define LB_MAX_CANDIDATES 64

/* least_latency: one pick in this many explores (round robin over all eligible). */
#define LB_EXPLORE_EVERY 20

enum lb_strategy {
    LB_ROUND_ROBIN = 0,
    LB_LEAST_CONN,
    LB_RANDOM,
    LB_WEIGHTED,
    LB_LEAST_LATENCY,
};

struct lb_candidate {
    int eligible;           /* 0: never picked */
    unsigned weight;        /* 1..1000; 0 is taken as 1 */
    unsigned active;        /* connections in use on this node */
    uint32_t latency_us;    /* EWMA from lb_latency_update; 0 = no sample yet */
};

/*
 * Per-cluster balancing state, zeroed by lb_init. Holds cursors and the smooth-weighted
 * counters, indexed like the candidate array: keep the candidates of a cluster in the
 * same order from pick to pick (lb_init again when the set changes, e.g. on reload).
 */
struct lb {
    unsigned rr;                            /* round-robin cursor: next index to try */
    unsigned picks;                         /* least_latency pick counter */
    unsigned explore;                       /* least_latency exploration cursor */
    int64_t current[LB_MAX_CANDIDATES];     /* smooth weighted round robin */
};

void lb_init(struct lb *state);

/*
 * Pick one of c[0..n-1] by strategy s. rand_value is used by LB_RANDOM only (any
 * 64-bit random number; the caller owns the generator). Returns the index of the
 * chosen candidate, or -1 if none is eligible (or n is 0, or s is unknown).
 */
int lb_pick(struct lb *state, enum lb_strategy s, const struct lb_candidate *c, size_t n,
            uint64_t rand_value);

/*
 * Fold a latency sample into an EWMA with alpha 0.2: ewma = 0.8 ewma + 0.2 sample.
 * The first sample (ewma 0) is taken as is. Samples of 0 count as 1 us so that the
 * result never falls back to "no sample yet".
 */
void lb_latency_update(uint32_t *ewma_us, uint32_t sample_us);

/* "round_robin", "least_conn", "random", "weighted", "least_latency"; "?" otherwise. */
const char *lb_strategy_name(enum lb_strategy s);

/* Parse one of the names above into *out. Returns 0, or -EINVAL for anything else. */
int lb_strategy_parse(const char *name, enum lb_strategy *out);

#endif
