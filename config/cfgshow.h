/*
 * config/cfgshow.h - every key of the INI file as text, for the admin console's SHOW CONFIG:
 * its name and section, its value in a snapshot (in a form the file accepts; secrets
 * masked), its default, and whether a reload can change it.
 */
#ifndef PGROUTER_CFGSHOW_H
#define PGROUTER_CFGSHOW_H

#include <stddef.h>

#include "config/cfg.h"

/*
 * The name of key i (0, 1, ... in the order of the key table) and its section name
 * ("pgrouter", "routing", ...) in *section; "" for a key of [cluster.NAME] (one value per
 * cluster); NULL once i is past the last key.
 */
const char *cfgshow_key(size_t i, const char **section);

/*
 * Key i's value in c as text into buf (always NUL-terminated, cut to len): numbers as the
 * file writes them (durations in seconds, or "Nms" when not whole seconds; sizes in
 * bytes), names for enumerations, on/off, lists comma-separated; "" for none. A key whose
 * name says password or secret shows "********" when set.
 */
void cfgshow_value(const struct cfg *c, size_t i, char *buf, size_t len);

/* 1 if RELOAD applies a new value of key i; 0 for the few that need a restart. */
int cfgshow_changeable(size_t i);

/* A snapshot of the defaults (no file; default_cluster NULL), for cfgshow_value; the
 * caller drops it with cfg_unref. NULL when out of memory. */
struct cfg *cfgshow_defaults(void);

#endif
