/*
 * protocol/startup.h - the startup phase: StartupMessage, SSLRequest, GSSENCRequest and
 * CancelRequest packets, and the client's authentication replies (PasswordMessage,
 * SASLInitialResponse, SASLResponse). Parsing only, in place over the caller's bytes.
 */
#ifndef PGROUTER_STARTUP_H
#define PGROUTER_STARTUP_H

#include <stddef.h>
#include <stdint.h>

#define STARTUP_PROTO_3_0   196608u     /* 3 << 16 */
#define STARTUP_CODE_CANCEL 80877102u
#define STARTUP_CODE_SSL    80877103u
#define STARTUP_CODE_GSSENC 80877104u
#define STARTUP_MAX_PARAMS  64

enum startup_kind {
    STARTUP_NORMAL = 0,
    STARTUP_SSL,
    STARTUP_GSSENC,
    STARTUP_CANCEL,
};

struct startup_param {
    const char *name;       /* point into the packet: valid while it is */
    const char *value;
};

struct startup {
    enum startup_kind kind;
    uint32_t version;
    const char *user;       /* NULL if absent */
    const char *database;   /* NULL if absent: PostgreSQL then uses the user name */
    const char *options;    /* NULL if absent */
    /* Every parameter in packet order, user/database/options included, _pq_. ones not. */
    struct startup_param params[STARTUP_MAX_PARAMS];
    size_t n_params;
    /* Protocol options ("_pq_." names), none of which pgrouter knows, in packet order. */
    const char *pq_options[STARTUP_MAX_PARAMS];
    size_t n_pq_options;
    uint32_t cancel_pid;
    uint32_t cancel_key;
};

/*
 * Parse the body of a startup-phase packet (the bytes after its length field, as given by
 * frame_startup). Returns 0, -EPROTO for a malformed packet (bad cancel length, a name or
 * value without terminator, missing final NUL, empty user), -E2BIG for too many parameters,
 * -EPROTONOSUPPORT for a protocol version other than 3.x (kind and version are still set).
 */
int startup_parse(const uint8_t *body, size_t n, struct startup *out);

/*
 * NegotiateProtocolVersion for a parsed StartupMessage, as PostgreSQL sends it before
 * authentication: when the client asked for 3.x with x > 0, or for any _pq_. option
 * (pgrouter knows none), the message ('v', the newest version spoken, 3.0, and the
 * unknown options) is appended to b and 1 returned; otherwise 0 and b is unchanged.
 */
struct msgbuf;
int startup_negotiate(const struct startup *s, struct msgbuf *b);

/* Value of parameter name, or NULL. */
const char *startup_get(const struct startup *s, const char *name);

/*
 * SASLInitialResponse body: mechanism name, int32 length (-1 = none), data.
 * Returns 0 and points mech/data into body, or -EPROTO.
 */
int startup_sasl_initial(const uint8_t *body, size_t n, const char **mech,
                         const uint8_t **data, size_t *data_len);

/* PasswordMessage body: one NUL-terminated string filling the body. 0 or -EPROTO. */
int startup_password(const uint8_t *body, size_t n, const char **password, size_t *len);

/* Longest word of the options parameter; a longer one is cut there and goes on as the next. */
#define STARTUP_OPTION_WORD 1023

/* One "name=value" setting of the options parameter (name non-empty, not NUL-terminated). */
typedef int (*startup_option_fn)(void *arg, const char *name, size_t nlen, const char *value,
                                 size_t vlen);

/*
 * Split the options startup parameter (NUL-terminated) into words at spaces and tabs, with
 * backslash escapes, and call fn for each setting given as "-c name=value" or
 * "--name=value". Words without '=' or with an empty name are skipped. Returns 0, or the
 * first negative value fn returned (no later setting is looked at).
 */
int startup_options(const char *opt, startup_option_fn fn, void *arg);

#endif
