/*
 * protocol/msg.h - builders for the messages the proxy itself sends (ErrorResponse,
 * ReadyForQuery, ParameterStatus, BackendKeyData, Authentication*), a growable output
 * buffer to build them in, and readers for the few server messages the proxy inspects.
 */
#ifndef PGROUTER_MSG_H
#define PGROUTER_MSG_H

#include <stddef.h>
#include <stdint.h>

/* Growable byte buffer. A failed allocation sets oom and makes later appends no-ops, so a
 * builder sequence needs one check at the end. */
struct msgbuf {
    uint8_t *data;
    size_t len;
    size_t cap;
    int oom;
};

/* Authentication request codes (the int32 after 'R'). */
enum msg_auth {
    MSG_AUTH_OK = 0,
    MSG_AUTH_CLEARTEXT = 3,
    MSG_AUTH_MD5 = 5,
    MSG_AUTH_SASL = 10,
    MSG_AUTH_SASL_CONTINUE = 11,
    MSG_AUTH_SASL_FINAL = 12,
};

void msgbuf_init(struct msgbuf *b);
void msgbuf_free(struct msgbuf *b);
/* Hand the bytes to the caller (who frees them) and leave b empty. */
uint8_t *msgbuf_steal(struct msgbuf *b, size_t *len);
void msgbuf_put(struct msgbuf *b, const void *p, size_t n);
void msgbuf_put8(struct msgbuf *b, uint8_t v);
void msgbuf_put32(struct msgbuf *b, uint32_t v);
void msgbuf_putstr(struct msgbuf *b, const char *s); /* with its NUL */

/*
 * ErrorResponse ('E') or NoticeResponse ('N' when notice is set). severity is "ERROR",
 * "FATAL", "WARNING", ...; sqlstate is 5 characters; detail and hint may be NULL.
 */
void msg_error(struct msgbuf *b, const char *severity, const char *sqlstate,
               const char *message, const char *detail, const char *hint);
void msg_notice(struct msgbuf *b, const char *sqlstate, const char *message);
void msg_ready(struct msgbuf *b, char status);
void msg_param_status(struct msgbuf *b, const char *name, const char *value);
void msg_backend_key(struct msgbuf *b, uint32_t pid, uint32_t key);
/* Authentication request: code, then data (may be NULL/0). */
void msg_auth(struct msgbuf *b, enum msg_auth code, const void *data, size_t n);
/*
 * Start a typed message of type in b; returns the offset of its length field, which
 * msg_end fills in once the body is appended.
 */
size_t msg_begin(struct msgbuf *b, uint8_t type);
void msg_end(struct msgbuf *b, size_t at);

/*
 * The messages of a result set pgrouter answers itself (the admin console), all in text
 * format. RowDescription: n columns with their names and type OIDs (typlen is derived:
 * 2, 4 or 8 for int2/int4/int8 and bool's 1, -1 for anything else).
 */
void msg_row_desc(struct msgbuf *b, const char *const *names, const uint32_t *types, int n);
/* DataRow: msg_datarow_begin, one msg_datarow_cell per column (p NULL: SQL NULL), then
 * msg_datarow_end with the offset begin returned and the number of cells written. */
size_t msg_datarow_begin(struct msgbuf *b);
void msg_datarow_cell(struct msgbuf *b, const void *p, size_t n);
void msg_datarow_end(struct msgbuf *b, size_t at, uint16_t cells);
/* CommandComplete with tag ("SHOW", "SELECT 3"), EmptyQueryResponse. */
void msg_command_complete(struct msgbuf *b, const char *tag);
void msg_empty_query(struct msgbuf *b);

/* A typed message with an arbitrary body (used for tests and simple replies). */
void msg_raw(struct msgbuf *b, uint8_t type, const void *body, size_t n);

/*
 * Find field `code` (e.g. 'C' for SQLSTATE, 'S' for severity) in the body of an
 * ErrorResponse/NoticeResponse. Returns a pointer to the NUL-terminated value inside body,
 * or NULL if absent or the body is malformed (no terminator within n).
 */
const char *msg_error_field(const uint8_t *body, size_t n, char code);

#endif
