/*
 * router/session/login.h - the start of a client connection, up to an authenticated client:
 * startup packet, SSLRequest/GSSENCRequest, CancelRequest, limits, the auth exchange.
 * Reports up through struct login_ops; never calls greet.c or the rest of session.c.
 */
#ifndef PGROUTER_LOGIN_H
#define PGROUTER_LOGIN_H

#include "protocol/auth.h"

struct session;

/* What login.c tells the session (s->login_ops). */
struct login_ops {
    /* The client proved who it is: greet it. */
    void (*authenticated)(struct session *s);
    /* The startup packet was a CancelRequest (s->st holds its key): find the target, cancel,
     * close s. */
    void (*cancel)(struct session *s);
};

/* Client input during startup and authentication (SESSION_STARTUP, SESSION_AUTH). */
void login_read(struct session *s);

/*
 * Run the authentication exchange with method on secret (NULL: unknown user, a mock
 * exchange that fails). login.c calls it, and authq.c once a lookup answers.
 */
void login_exchange(struct session *s, enum auth_method method, const char *secret);

#endif
