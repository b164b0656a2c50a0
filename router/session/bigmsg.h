/*
 * router/session/bigmsg.h - Queries and Parses too large to hold whole: streamed to the server,
 * or refused and skipped as they arrive (bigmsg.c).
 */
#ifndef PGROUTER_BIGMSG_H
#define PGROUTER_BIGMSG_H

struct frame;
struct session;

/*
 * The largest Query or Parse held whole in memory (and so classified): 1 MB. Classifying
 * that much takes about a millisecond, so no message holds the loop longer; 1 MB is far
 * above any statement an application writes by hand or an ORM generates, and as much as
 * the admin console takes. Larger ones stream (bigmsg_start).
 */
#define BIGMSG_WHOLE_MAX (1u << 20)

/* Is the message f frames (whole or not, header read) one bigmsg_start takes: a Query or
 * Parse too large to hold, or a Bind over max_bind_size? */
int bigmsg_is_big(const struct session *s, const struct frame *f);

/*
 * Take the large Query, Parse or Bind at parsed: stream it to its server, or refuse it and skip
 * it. 1 when the pump goes on, 0 when it stops (the previous unit still runs, or the
 * session closed).
 */
int bigmsg_start(struct session *s, const struct frame *f);

/* The skipped message's last byte came: a refused Query is answered now. */
void bigmsg_drop_done(struct session *s);

/* The streamed Query's last byte came: it follows the rest to its server. */
void bigmsg_stream_done(struct session *s);

#endif
