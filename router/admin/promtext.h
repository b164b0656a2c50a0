/*
 * router/admin/promtext.h - writer of Prometheus' text exposition format (version 0.0.4) into a
 * growing buffer: HELP and TYPE lines, samples with escaped labels, histograms. Pure: no
 * I/O and no knowledge of pgrouter's objects (metrics.c decides what to write).
 */
#ifndef PGROUTER_PROMTEXT_H
#define PGROUTER_PROMTEXT_H

#include <stddef.h>
#include <stdint.h>

/* The output. Out of memory sets oom and makes every later call a no-op. */
struct promtext {
    char *buf;
    size_t len, cap;
    int oom;
};

/*
 * The label set of a sample, built once and reused: `name="value",...` without braces.
 * Values are escaped (\\, \", \n) and bytes that are not UTF-8 become U+FFFD, so any
 * input (database and user names come from clients) makes a valid exposition. A label set
 * that does not fit is marked and its samples are left out rather than cut.
 */
#define PROMTEXT_LABELS_MAX 4096
struct promtext_labels {
    char s[PROMTEXT_LABELS_MAX];
    size_t len;
    int overflow;
};

void promtext_init(struct promtext *p);
void promtext_free(struct promtext *p);

/* The text written so far as a malloc'd buffer (the caller frees it) and its length in
 * *len, leaving p empty; NULL if memory ran out at any point. */
char *promtext_steal(struct promtext *p, size_t *len);

/*
 * Start a metric family: "# HELP name help" and "# TYPE name type". type is "counter",
 * "gauge" or "histogram"; name a valid metric name (the caller's constant).
 */
void promtext_family(struct promtext *p, const char *name, const char *type, const char *help);

/* An empty label set; promtext_label appends name="value" (name: the caller's constant). */
void promtext_labels_init(struct promtext_labels *l);
void promtext_label(struct promtext_labels *l, const char *name, const char *value);

/* A sample `name{labels} value`; l may be NULL for none. */
void promtext_u64(struct promtext *p, const char *name, const struct promtext_labels *l,
                  uint64_t v);
void promtext_f64(struct promtext *p, const char *name, const struct promtext_labels *l,
                  double v);

/*
 * A histogram's samples for one label set: name_bucket{...,le="bound"} with cumulative
 * counts for each of the n buckets (counts[i] counts observations in bucket i, bounds[i]
 * its upper bound in the metric's unit, ascending; the last bucket is +Inf whatever
 * bounds[n - 1] says), then name_sum (sum) and name_count.
 */
void promtext_histogram(struct promtext *p, const char *name, const struct promtext_labels *l,
                        const uint64_t *counts, const double *bounds, size_t n, double sum);

/*
 * Append value escaped as a label value (no quotes) to out[0..cap) starting at *len;
 * returns 0, or -1 (nothing appended past cap; *len unchanged) if it does not fit.
 */
int promtext_escape(char *out, size_t cap, size_t *len, const char *value);

#endif
