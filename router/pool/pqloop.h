/*
 * router/pool/pqloop.h - libpq on the loop: opening one PostgreSQL connection with libpq's
 * non-blocking API without ever blocking the loop, for server connections (server.c)
 * and health checks (health.c) alike. A host name is resolved first with
 * uv_getaddrinfo (libpq would call a blocking getaddrinfo inside PQconnectStart), and
 * libpq gets the addresses as hostaddr plus the name as host; PQconnectPoll is driven
 * by uv_poll on PQsocket. Deadlines are the caller's (a timer of its own). Once
 * connected, the caller uses the PGconn and may keep watching its socket here.
 *
 * A failed attempt is described by a struct pqloop_error: the server's own SQLSTATE
 * and message when it sent an ErrorResponse, and whose fault it is (the node, this
 * database and user, or pgrouter itself), which decides whether a breaker hears of it.
 * libpq's own messages are in English: pgrouter never calls setlocale.
 */
#ifndef PGROUTER_PQLOOP_H
#define PGROUTER_PQLOOP_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>
#include <uv.h>

#define PQLOOP_MAX_ADDRS 4          /* resolved addresses handed to libpq */
#define PQLOOP_MAX_PARAMS 24        /* caller's libpq keywords */
#define PQLOOP_MESSAGE_MAX 256

/* Whose fault a failed connection is. */
enum pqloop_fault {
    PQLOOP_FAULT_NODE = 0,  /* the node: refused, timed out, unresolvable, lost, crash or
                             * shutdown (SQLSTATE class 08, 57P01-57P03) */
    PQLOOP_FAULT_LOGIN,     /* this database and user only: no such database or role,
                             * authentication, datallowconn, connection limits... */
    PQLOOP_FAULT_LOCAL,     /* pgrouter itself: out of file descriptors or memory */
};

struct pqloop_error {
    enum pqloop_fault fault;
    int from_server;        /* sqlstate and message come from the server's ErrorResponse */
    int needs_password;     /* the server asked for a password and libpq had none */
    int tls;                /* TLS failed: the handshake, the server's certificate or its
                             * refusal of TLS (a node fault), or pgrouter's own TLS
                             * files or settings (a local fault); sqlstate 08001 */
    char sqlstate[6];       /* the server's; else 08006 (no word from the server: refused,
                             * timed out, unresolvable, closed), 08001 (TLS), 28P01 (no
                             * password),
                             * 53000 (pgrouter out of sockets), 53200 (out of memory) */
    char message[PQLOOP_MESSAGE_MAX];   /* one line, without libpq's "FATAL:  " prefix */
};

struct pqloop;
/* The attempt ended: err == NULL and c->pg is connected, or err says why not (and c is
 * unconnected again). */
typedef void (*pqloop_connected_fn)(struct pqloop *c, const struct pqloop_error *err);
/* The watched socket of a connected c: events (UV_READABLE...) or status < 0. */
typedef void (*pqloop_io_fn)(struct pqloop *c, int status, int events);

struct pqloop_lookup;

/*
 * One connection. The caller owns the memory; pqloop_init before first use. Fields above
 * "private" may be read at any time.
 */
struct pqloop {
    uv_loop_t *loop;
    PGconn *pg;                 /* NULL when no connection; the caller's once connected */
    void *arg;                  /* the caller's, untouched */
    int talked;                 /* a TCP connection to the server was established */

    /* private */
    pqloop_connected_fn connected;  /* set while an attempt runs */
    pqloop_io_fn io;
    uv_poll_t *poll;            /* on PQsocket(pg); freed in its close callback */
    int poll_fd;
    struct pqloop_lookup *lookup;   /* a uv_getaddrinfo in flight, or NULL */
    char *keys[PQLOOP_MAX_PARAMS + 1];  /* caller's keywords and values, copied */
    char *vals[PQLOOP_MAX_PARAMS + 1];
    size_t n_params;
    char host[256];
    char port[8];
    char host_list[PQLOOP_MAX_ADDRS * 257];     /* host once per resolved address */
    char addr_list[PQLOOP_MAX_ADDRS * 47];      /* resolved addresses, comma separated */
};

/* Set c up, unconnected. Nothing to close afterwards while nothing is started. */
void pqloop_init(struct pqloop *c, uv_loop_t *loop, void *arg);

/*
 * Start connecting to host:port (a name, a numeric address, or a Unix socket directory
 * starting with '/') with the given NULL-terminated libpq keywords/values (copied; host,
 * hostaddr and port among them are ignored). Any previous connection of c is dropped.
 * Returns 0: cb fires later from the loop, exactly once, unless pqloop_drop comes first.
 * Returns < 0 when the attempt failed at once: *err says why and cb never fires.
 */
int pqloop_connect(struct pqloop *c, const char *host, uint16_t port,
                   const char *const *keys, const char *const *vals, pqloop_connected_fn cb,
                   struct pqloop_error *err);

/* Is an attempt running (resolving or connecting)? Is it still resolving the name? */
int pqloop_connecting(const struct pqloop *c);
int pqloop_resolving(const struct pqloop *c);

/*
 * Describe an attempt the caller gave up on after timeout_ms (its own deadline) into
 * *err: a node fault, 08006. The caller then calls pqloop_drop.
 */
void pqloop_timeout_error(const struct pqloop *c, unsigned timeout_ms, struct pqloop_error *err);

/*
 * Watch the connected socket for events (UV_READABLE and/or UV_WRITABLE); cb gets them.
 * The socket may change (libpq reconnects): each call checks. 0 or a libuv error.
 */
int pqloop_watch(struct pqloop *c, int events, pqloop_io_fn cb);

/* Stop watching (the handle is closed; the connection stays). */
void pqloop_unwatch(struct pqloop *c);

/*
 * Abandon an attempt in progress (no callback) or close the connection (PQfinish): c is
 * unconnected again and may connect anew. The poll handle is closed before libpq closes
 * its socket. Safe on an unconnected c, and from inside a callback of c.
 */
void pqloop_drop(struct pqloop *c);

/*
 * Parse libpq's error message of a failed connection: when the last attempt in it ended
 * with the server's ErrorResponse (formatted by libpq's PQERRORS_VERBOSE as
 * "SEVERITY:  SQLSTATE: message"), copy its SQLSTATE into sqlstate and its message into
 * msg, and return 1. Otherwise put libpq's own first line ("Connection refused") into
 * msg and return 0. msg is always one line, without "connection to server ... failed: ".
 */
int pqloop_parse_error(const char *text, char sqlstate[6], char *msg, size_t n);

#endif
