/*
 * router/session/greet.h - from an authenticated client to a greeted one: startup settings
 * recorded as state to replay, server parameters from the pool, the catalog read.
 * Reports up through struct greet_ops.
 */
#ifndef PGROUTER_GREET_H
#define PGROUTER_GREET_H

#include <stddef.h>
#include <stdint.h>

struct backend;
struct session;

/* What greet.c tells the session (s->greet_ops). */
struct greet_ops {
    /* AuthenticationOk..ReadyForQuery went out: the client is SESSION_IDLE now. */
    void (*greeted)(struct session *s);
};

/* Authentication succeeded: record startup settings, greet the client (or the admin
 * console). */
void greet_login(struct session *s);

/* Greet the client once its pool knows the server parameters (and the catalog): called
 * again when the server it waited for arrives, or the catalog read ends. */
void greet_client(struct session *s);

/* Rows and end of the catalog query run for a client being greeted (or a refresh). */
void greet_row(struct backend *be, const uint8_t *body, size_t n);
void greet_captured(struct backend *be, int had_error);

/*
 * Record one startup setting name = value (client encoding enc, NULL: the database's) as
 * state to apply on every server borrowed; notes pgrouter.role, the tenant key and
 * standard_conforming_strings on s. 0, -E2BIG past the replay bounds, or -ENOMEM.
 */
int greet_record_setting(struct session *s, const char *name, size_t nlen,
                         const char *value, size_t vlen, const char *enc);

#endif
