/*
 * router/session/frontend.h - client messages into units of work. Calls dispatch.c down to send
 * a unit; never calls session.c except the shared helpers of session.h.
 */
#ifndef PGROUTER_FRONTEND_H
#define PGROUTER_FRONTEND_H

#include <stddef.h>

struct frame;
struct session;

/* Frame and route client messages until input runs out or a unit must wait. */
void frontend_pump(struct session *s);

/*
 * One whole client message f (consumed already, not a big one) folded into the unit, and
 * the unit sent when it ends. 0, -ENOMEM, or -EPROTO for a malformed message.
 */
int frontend_message(struct session *s, const struct frame *f);

/* Is this SET/RESET [SESSION|LOCAL] pgrouter.role ... (not RESET ALL or DISCARD ALL)? */
int frontend_names_role(const char *sql, size_t len);

#endif
