/*
 * router/unit.h - assembling one unit of work (a simple Query, or extended-protocol
 * messages up to Sync): its merged classification, and, when it names prepared
 * statements, its messages rewritten to the shared server-side names (pgr_<id>), with
 * what a given server must prepare first and which Parses it can skip. No I/O.
 */
#ifndef PGROUTER_UNIT_H
#define PGROUTER_UNIT_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/msg.h"
#include "router/classify.h"
#include "router/session.h"
#include "router/stmt.h"

/* Forget everything about the unit (keeps allocated arrays for reuse). */
void unit_reset(struct session_unit *u);

/* Free what the unit holds. */
void unit_free(struct session_unit *u);

/* Fold one statement's classification into the unit's. */
void unit_merge(struct session_unit *u, const struct classify_result *cr);

/*
 * Switch the unit to rewriting: prefix (its messages so far, as the client sent them) is
 * copied to u->out. 0 or -ENOMEM.
 */
int unit_rewrite_begin(struct session_unit *u, const uint8_t *prefix, size_t len);

/* Append a message unchanged (rewriting mode). */
void unit_append(struct session_unit *u, const uint8_t *msg, size_t len);

/*
 * Append a Parse of a named statement under its server-side name (rewriting mode):
 * body is the Parse body after the client's name (query, parameter types).
 */
void unit_append_parse(struct session_unit *u, uint64_t id, const uint8_t *body, size_t len);

/*
 * Append a Bind (rest = the Bind body after the portal and statement names), Describe or
 * Close naming statement id (server_name) or a plain name (id 0: kept as the client wrote
 * it, e.g. the unnamed statement). For Bind and Describe of a known statement the id is
 * noted as needed on the server.
 */
void unit_append_bind(struct session_unit *u, const char *portal, uint64_t id,
                      const char *stmt, const uint8_t *rest, size_t rest_len);
void unit_append_target(struct session_unit *u, uint8_t type, char kind, uint64_t id,
                        const char *name);

/*
 * Make the unit's bytes for server statement set ss: pre receives what must run first as
 * pgrouter's own unit (Close of evicted statements, Parse of missing ones, Sync), or stays
 * empty; out receives the client's messages with the Parses the server already has
 * replaced by a no-op Parse (so the client still sees its ParseComplete). lookup finds a
 * statement's Parse body by id in the client's table. max_stmts bounds ss (0 = no bound).
 * Updates ss. 0 or -ENOMEM.
 */
int unit_build(struct session_unit *u, struct srvstmt *ss, unsigned max_stmts,
               const struct stmt_table *t, struct msgbuf *pre, struct msgbuf *out);

#endif
