/*
 * router/auth/hbacheck.h - which authentication exchange a client gets: auth_type, or with
 * auth_type = hba the first auth_hba_file rule matching its connection (TLS or not),
 * address, database and user; reject and cert are decided here.
 */
#ifndef PGROUTER_HBACHECK_H
#define PGROUTER_HBACHECK_H

#include "protocol/auth.h"

struct session;

/*
 * The exchange for s (startup parsed, user and db set): 0 with *method, or -1 after a
 * FATAL 28000 was sent (rejected, no matching rule, client certificate missing or not
 * naming the user). cert answers AUTH_TRUST once the certificate's CN is the user.
 */
int hbacheck_method(struct session *s, enum auth_method *method);

#endif
