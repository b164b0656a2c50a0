/*
 * router/session/srvevent.h - the events a session's servers send up (srvevent.c): the
 * backend_ops every session hands its backends, and forgetting an unfinished catalog read.
 */
#ifndef PGROUTER_SRVEVENT_H
#define PGROUTER_SRVEVENT_H

#include "router/pool/backend.h"

struct session;

/* unit_done, lost, async_ok, row (greet_row) and captured for every session's backends. */
extern const struct backend_ops srvevent_ops;

/*
 * be, a server s holds, is gone (why: for the log and the client): count it against its
 * node, and retry the read elsewhere or tell the client what it lost. srvevent_ops.lost.
 */
void srvevent_lost(struct backend *be, const char *why);

/* The catalog read this session started will not finish: the next login reads it again. */
void srvevent_catalog_abandon(struct session *s);

#endif
