/*
 * protocol/extq.h - reading the client messages of the extended query protocol that name
 * statements: Parse, Bind, Describe and Close. In place over the message body.
 */
#ifndef PGROUTER_EXTQ_H
#define PGROUTER_EXTQ_H

#include <stddef.h>
#include <stdint.h>

/*
 * Parse ('P'): statement name, query text, parameter types. Points *name and *query into
 * body (NUL-terminated there). Returns 0 or -EPROTO.
 */
int extq_parse(const uint8_t *body, size_t n, const char **name, const char **query,
               size_t *query_len);

/* Bind ('B'): portal and statement names. 0 or -EPROTO. */
int extq_bind(const uint8_t *body, size_t n, const char **portal, const char **stmt);

/* Describe ('D') or Close ('C'): kind 'S' (statement) or 'P' (portal) and name. */
int extq_target(const uint8_t *body, size_t n, char *kind, const char **name);

#endif
