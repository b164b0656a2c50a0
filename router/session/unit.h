/*
 * router/session/unit.h - assembling one unit of work (a simple Query, or extended-protocol
 * messages up to Sync): its merged classification, and, when it names prepared
 * statements, its messages rewritten to the shared server-side names (pgr_<id>), with
 * what a given server must prepare first, which Parses it can skip, and which answers
 * the client must not see; afterwards, what of it really ran. No I/O.
 */
#ifndef PGROUTER_UNIT_H
#define PGROUTER_UNIT_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/msg.h"
#include "router/sql/classify.h"
#include "router/session/session.h"
#include "router/session/stmt.h"

/* Forget everything about the unit (keeps allocated arrays for reuse). */
void unit_reset(struct session_unit *u);

/* Free what the unit holds. */
void unit_free(struct session_unit *u);

/* Fold one statement's classification into the unit's. */
void unit_merge(struct session_unit *u, const struct classify_result *cr);

/* Refuse the unit (answered at its end) with sqlstate (static) and a message; the first
 * reason given stands. */
void unit_refuse(struct session_unit *u, const char *sqlstate, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Switch the unit to rewriting: prefix (its messages so far, as the client sent them) is
 * copied to u->out. 0 or -ENOMEM.
 */
int unit_rewrite_begin(struct session_unit *u, const uint8_t *prefix, size_t len);

/* Append a message unchanged (rewriting mode). */
void unit_append(struct session_unit *u, const uint8_t *msg, size_t len);

/*
 * Note a change to the client's statement table to undo if the server never runs the
 * message that made it: a Parse that created name, or a Close that took closed (owned
 * by the unit from now on). Returns its index for unit_append_parse/close, SIZE_MAX on
 * failure (out.oom is set).
 */
size_t unit_record(struct session_unit *u, const char *name, struct stmt *closed);

/*
 * Append a Parse of a named statement under its server-side name (rewriting mode):
 * body is the Parse body after the client's name (query, parameter types); rec is its
 * unit_record index.
 */
void unit_append_parse(struct session_unit *u, uint64_t id, const uint8_t *body, size_t len,
                       size_t rec);

/* A Parse of a name the client already has: the server must answer 42P05 here. */
void unit_append_dup(struct session_unit *u);

/*
 * Append a Bind (rest = the Bind body after the portal and statement names) or a Describe
 * 'S' of statement id (by its server name), or of a plain name kept as the client wrote
 * it (id 0: the unnamed statement, or one the client does not have).
 */
void unit_append_bind(struct session_unit *u, const char *portal, uint64_t id,
                      const char *stmt, const uint8_t *rest, size_t rest_len);
void unit_append_describe(struct session_unit *u, uint64_t id, const char *name);

/* Append the client's Close 'S' of a named statement (rec: its unit_record index). */
void unit_append_close(struct session_unit *u, size_t rec);

/*
 * Append the client's Parse of the unnamed statement (body: after its name) or, body
 * NULL, its Close 'S' of it: msg as the client sent it.
 */
void unit_append_unnamed(struct session_unit *u, const uint8_t *msg, size_t len,
                         const uint8_t *body, size_t body_len);

/*
 * The unit Binds or Describes the unnamed statement it did not Parse: the server gets the
 * client's own (body, from an earlier unit) first, or, body NULL, loses any it holds.
 */
void unit_append_unnamed_use(struct session_unit *u, const uint8_t *body, size_t body_len);

/* Parse and Close messages among the whole messages in p[0..n). */
size_t unit_count_pc(const uint8_t *p, size_t n);

/*
 * Make the unit's bytes (what u->out holds now) for a server whose statements are ss.
 * out receives the client's messages, with: before a Bind or Describe of a statement the
 * server lacks, a Close and Parse of it from t; for a named Parse, a Close and the Parse,
 * or, when the server has the statement, a Close of nothing that stands for it; for a
 * Parse of a name the client has, two Parses that make the server fail with 42P05; at
 * max_stmts (0 = no bound), Closes of the least recently used. u->acts lists what the
 * answers to the Parses and Closes pgrouter added become (dropped, or a ParseComplete),
 * numbered from u->pc_total on. Updates ss as if everything ran. 0 or -ENOMEM.
 */
int unit_build(struct session_unit *u, struct srvstmt *ss, unsigned max_stmts,
               const struct stmt_table *t, struct msgbuf *out);

/* Statements the unit prepared on its server so far (evictions not counted). */
size_t unit_server_parses(const struct session_unit *u);

/*
 * The unit ended after the server answered seen of its Parses and Closes: the rest never
 * ran. Forget the statements ss was told of that were not prepared, keep those whose
 * eviction Close did not run, and undo the client table changes whose message did not run
 * (t as PostgreSQL would have it).
 */
void unit_settle(struct session_unit *u, struct srvstmt *ss, struct stmt_table *t,
                 size_t seen);

/*
 * The same for the client's unnamed statement (*body, *len: the session's, replaced or
 * freed when the unit's Parse or Close of it ran).
 */
void unit_settle_unnamed(struct session_unit *u, size_t seen, uint8_t **body, size_t *len);

#endif
