/*
 * tests/fuzz/fuzz_unit.c - libFuzzer harness for unit rewriting (router/session/unit.c): client
 * Parse/Bind/Describe/Close/Execute/Sync messages go through the same calls frontend.c
 * makes (statement table, unit_append_*), each Sync builds the unit for one server
 * (unit_build) and settles it (unit_settle, unit_settle_unnamed), units after units.
 * Input: one byte (bits 0-2: max_prepared_statements, 0 = unbounded), then the client's
 * messages. The harness plays the server: it runs the built bytes against the statements
 * the server holds, as PostgreSQL would (an error skips the rest up to Sync). Checks that
 * the bytes frame whole, that Parse/Close counts and answer actions agree, that the server
 * never fails on a statement the client has (only on names the client lacks and on the
 * intended duplicate Parse), and that after settling, the statements pgrouter believes
 * the server holds are exactly the ones it holds.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/extq.h"
#include "protocol/frame.h"
#include "protocol/msg.h"
#include "router/session/session.h"
#include "router/session/stmt.h"
#include "router/session/unit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SIM_MAX 512

/* The server as the harness plays it: named statements it holds (pgr_... and others). */
struct sim {
    char *names[SIM_MAX];
    size_t n;
};

/* The client session, as much of it as unit rewriting uses. */
struct client {
    struct stmt_table t;
    struct srvstmt ss;
    struct session_unit u;
    uint8_t *unnamed;
    size_t unnamed_len;
    struct sim srv;
};

/* An invariant broke: crash so libFuzzer keeps the input. */
static void check(int ok)
{
    if (!ok)
        abort();
}

static size_t sim_find(const struct sim *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->names[i], name) == 0)
            return i;
    return SIZE_MAX;
}

static void sim_add(struct sim *s, const char *name)
{
    check(s->n < SIM_MAX);
    s->names[s->n] = strdup(name);
    check(s->names[s->n] != NULL);
    s->n++;
}

static void sim_del(struct sim *s, const char *name)
{
    size_t i = sim_find(s, name);

    if (i == SIZE_MAX)
        return;
    free(s->names[i]);
    s->names[i] = s->names[--s->n];
}

/* "pgr_" and 16 lowercase hex digits: a statement pgrouter prepared by content. */
static int is_server_name(const char *s)
{
    if (strncmp(s, "pgr_", 4) != 0 || strlen(s) != 20)
        return 0;
    for (size_t i = 4; i < 20; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/*
 * Run the built bytes against the simulated server. Returns how many Parse/Close
 * messages completed before an error (all of them without one).
 */
static size_t sim_run(struct sim *s, const struct msgbuf *out, size_t *n_pc)
{
    size_t off = 0, pc = 0, seen = SIZE_MAX;
    int failed = 0;

    while (off < out->len) {
        const char *name, *query, *portal;
        struct frame f;
        size_t qlen;
        char kind;

        check(frame_next(out->data + off, out->len - off, 1u << 24, &f) == FRAME_OK);
        off += f.len;
        if (f.type == 'P' || f.type == 'C')
            pc++;
        if (failed)
            continue;
        switch (f.type) {
        case 'P':
            check(extq_parse(f.body, f.body_len, &name, &query, &qlen) == 0);
            if (name[0] != '\0' && sim_find(s, name) != SIZE_MAX) {
                /* 42P05: only the Parse that stands for the client's own duplicate. */
                check(strcmp(name, "pgr_dup") == 0);
                failed = 1;
            } else if (name[0] != '\0') {
                sim_add(s, name);
            }
            break;
        case 'B':
            check(extq_bind(f.body, f.body_len, &portal, &name) == 0);
            if (name[0] != '\0' && sim_find(s, name) == SIZE_MAX) {
                /* 26000: only for a name the client does not have. */
                check(!is_server_name(name));
                failed = 1;
            }
            break;
        case 'D':
        case 'C':
            check(extq_target(f.body, f.body_len, &kind, &name) == 0);
            if (f.type == 'C' && kind == 'S')
                sim_del(s, name);
            if (f.type == 'D' && kind == 'S' && name[0] != '\0' &&
                sim_find(s, name) == SIZE_MAX) {
                check(!is_server_name(name));
                failed = 1;
            }
            break;
        }
        if (failed)
            seen = pc - (f.type == 'P' || f.type == 'C');
    }
    check(off == out->len);
    *n_pc = pc;
    return seen == SIZE_MAX ? pc : seen;
}

/* The unit ends at Sync: build it for the server, run it there, settle, compare. */
static void client_sync(struct client *c, unsigned max_stmts)
{
    struct session_unit *u = &c->u;
    struct msgbuf out;
    size_t n_pc, seen;

    if (!u->rewrite) {
        unit_reset(u);
        return;
    }
    msgbuf_init(&out);
    u->pc_total = 0;
    u->n_srvp = 0;
    check(unit_build(u, &c->ss, max_stmts, &c->t, &out) == 0);
    seen = sim_run(&c->srv, &out, &n_pc);
    check(n_pc == u->pc_total);
    for (size_t i = 0; i < u->n_acts; i++)
        check(u->acts[i].ord < u->pc_total && (i == 0 || u->acts[i - 1].ord < u->acts[i].ord));
    unit_settle(u, &c->ss, &c->t, seen);
    unit_settle_unnamed(u, seen, &c->unnamed, &c->unnamed_len);
    /* What pgrouter believes the server holds is what it holds. */
    for (size_t i = 0; i < c->ss.cap; i++) {
        char name[STMT_SERVER_NAME_LEN];

        if (c->ss.slots[i].id == 0)
            continue;
        stmt_server_name(c->ss.slots[i].id, name);
        check(sim_find(&c->srv, name) != SIZE_MAX);
    }
    for (size_t i = 0; i < c->srv.n; i++)
        if (is_server_name(c->srv.names[i])) {
            uint64_t id = strtoull(c->srv.names[i] + 4, NULL, 16);

            check(srvstmt_has(&c->ss, id));
        }
    msgbuf_free(&out);
    unit_reset(u);
}

/* frontend_rewrite_on: the unit's earlier messages (prefix) go to u->out as they are. */
static void rewrite_on(struct client *c, const uint8_t *prefix, size_t len)
{
    if (!c->u.rewrite)
        check(unit_rewrite_begin(&c->u, prefix, len) == 0);
}

/*
 * client_lacks_server_name: a Bind or Describe of a name the client never prepared goes to
 * the server as the client wrote it, so one spelled like pgrouter's own (pgr_ and 16 hex
 * digits of the statement's content) reaches the statement of that content if the server
 * holds one, where PostgreSQL would answer 26000. That is the same user's statement with
 * the same text, so nothing leaks; the README says so. The harness cannot tell such a
 * name from a rewritten one, so an input that sends one ends there.
 */

/* One client message, as frontend_message handles it. 0, or -1 for a malformed one. */
static int client_message(struct client *c, const struct frame *f, const uint8_t *prefix,
                          size_t prefix_len, unsigned max_stmts)
{
    struct session_unit *u = &c->u;
    const uint8_t *msg = f->body - FRAME_HDR;
    const char *name, *query, *portal;
    struct stmt *e;
    size_t qlen, skip;
    char kind;

    switch (f->type) {
    case 'P':
        if (extq_parse(f->body, f->body_len, &name, &query, &qlen) < 0)
            return -1;
        rewrite_on(c, prefix, prefix_len);
        if (name[0] != '\0' && stmt_get(&c->t, name) != NULL) {
            unit_append_dup(u);
        } else if (name[0] != '\0') {
            skip = strlen(name) + 1;
            e = stmt_put(&c->t, name, f->body + skip, f->body_len - skip, 0, 0);
            check(e != NULL);
            unit_append_parse(u, e->id, e->body, e->body_len, unit_record(u, name, NULL));
        } else {
            unit_append_unnamed(u, msg, f->len, f->body + 1, f->body_len - 1);
        }
        return 0;
    case 'B':
        if (extq_bind(f->body, f->body_len, &portal, &name) < 0)
            return -1;
        if (name[0] != '\0') {
            e = stmt_get(&c->t, name);
            if (e == NULL && is_server_name(name))
                return -1;  /* out of scope: see client_lacks_server_name */
            skip = strlen(portal) + 1 + strlen(name) + 1;
            rewrite_on(c, prefix, prefix_len);
            unit_append_bind(u, portal, e != NULL ? e->id : 0, name, f->body + skip,
                             f->body_len - skip);
            return 0;
        }
        if (!u->unnamed_set && !u->unnamed_used) {
            rewrite_on(c, prefix, prefix_len);
            unit_append_unnamed_use(u, c->unnamed, c->unnamed_len);
        }
        unit_append(u, msg, f->len);
        return 0;
    case 'D':
    case 'C':
        if (extq_target(f->body, f->body_len, &kind, &name) < 0)
            return -1;
        if (kind == 'S' && name[0] != '\0') {
            rewrite_on(c, prefix, prefix_len);
            if (f->type == 'C') {
                e = stmt_take(&c->t, name);
                unit_append_close(u, e != NULL ? unit_record(u, NULL, e) : SIZE_MAX);
            } else {
                e = stmt_get(&c->t, name);
                if (e == NULL && is_server_name(name))
                    return -1;
                unit_append_describe(u, e != NULL ? e->id : 0, name);
            }
        } else if (kind == 'S' && f->type == 'C') {
            rewrite_on(c, prefix, prefix_len);
            unit_append_unnamed(u, msg, f->len, NULL, 0);
        } else {
            if (kind == 'S' && !u->unnamed_set && !u->unnamed_used) {
                rewrite_on(c, prefix, prefix_len);
                unit_append_unnamed_use(u, c->unnamed, c->unnamed_len);
            }
            if (u->rewrite)
                unit_append(u, msg, f->len);
        }
        return 0;
    case 'E':
    case 'H':
        if (u->rewrite)
            unit_append(u, msg, f->len);
        return 0;
    case 'S':
        if (u->rewrite)
            unit_append(u, msg, f->len);
        client_sync(c, max_stmts);
        return 0;
    }
    return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct client *c;
    size_t off = 1, unit_start = 1;
    unsigned max_stmts;

    if (size < 1)
        return 0;
    max_stmts = data[0] & 7;
    c = calloc(1, sizeof(*c));
    check(c != NULL);
    stmt_table_init(&c->t);
    srvstmt_init(&c->ss);
    msgbuf_init(&c->u.out);
    unit_reset(&c->u);
    for (;;) {
        struct frame f;

        if (frame_next(data + off, size - off, 1u << 16, &f) != FRAME_OK)
            break;
        /* A copy of exactly the message, so ASan sees any overread. */
        uint8_t *m = malloc(f.len);

        check(m != NULL);
        memcpy(m, data + off, f.len);
        f.body = m + FRAME_HDR;
        if (client_message(c, &f, data + unit_start, off - unit_start, max_stmts) < 0) {
            free(m);
            break;
        }
        free(m);
        off += f.len;
        if (f.type == 'S')
            unit_start = off;
    }
    unit_free(&c->u);
    stmt_table_free(&c->t);
    srvstmt_free(&c->ss);
    free(c->unnamed);
    for (size_t i = 0; i < c->srv.n; i++)
        free(c->srv.names[i]);
    free(c);
    return 0;
}
