/*
 * router/pool/pqloop.c - libpq on the loop: resolve with uv_getaddrinfo, connect with
 * PQconnectStartParams/PQconnectPoll driven by uv_poll, describe failures (the server's
 * SQLSTATE, whose fault), and watch the socket of a connected PGconn for its owner.
 * Owns the poll handle and the lookup request; deadlines belong to the caller.
 */
#include "router/pool/pqloop.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "router/cluster/breaker.h"

/*
 * A lookup outlives an abandoned attempt (uv_cancel fails once the thread pool runs it):
 * it is allocated apart and frees itself in its callback; c is NULL once abandoned.
 */
struct pqloop_lookup {
    uv_getaddrinfo_t req;
    struct pqloop *c;
};

static void pqloop_poll_cb(uv_poll_t *poll, int status, int events);

/* ---- parsing libpq's message ---- */

static int pqloop_is_code(const char *p)
{
    for (int i = 0; i < 5; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'A' && p[i] <= 'Z')))
            return 0;
    return 1;
}

static void pqloop_line(const char *p, char *out, size_t n)
{
    size_t len = strcspn(p, "\r\n");

    while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
        len--;
    snprintf(out, n, "%.*s", (int)len, p);
}

int pqloop_parse_error(const char *text, char sqlstate[6], char *msg, size_t n)
{
    static const char host_prefix[] = "connection to server ";
    const char *seg = text, *p, *body, *sep;

    /* Several hosts or addresses: one line per attempt, the last one counts. */
    for (p = text; (p = strstr(p, host_prefix)) != NULL; p++)
        if (p == text || p[-1] == '\n')
            seg = p;
    body = seg;
    p = strstr(seg, "failed: ");
    if (p != NULL && memchr(seg, '\n', (size_t)(p - seg)) == NULL)
        body = p + 8;
    /* "FATAL:  3D000: database ..." (the severity may be translated by the server). */
    sep = strstr(body, ":  ");
    if (sep != NULL && sep - body <= 32 && memchr(body, '\n', (size_t)(sep - body)) == NULL &&
        pqloop_is_code(sep + 3) && sep[8] == ':' && sep[9] == ' ') {
        memcpy(sqlstate, sep + 3, 5);
        sqlstate[5] = '\0';
        pqloop_line(sep + 10, msg, n);
        return 1;
    }
    sqlstate[0] = '\0';
    pqloop_line(body, msg, n);
    return 0;
}

/* ---- describing a failure ---- */

/* Is pgrouter itself out of sockets? Asked right after libpq failed, on the same thread. */
static int pqloop_local_shortage(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd >= 0) {
        close(fd);
        return 0;
    }
    if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
        return errno;
    return 0;
}

static void pqloop_set(struct pqloop_error *err, enum pqloop_fault fault, const char *code,
                       const char *msg)
{
    memset(err, 0, sizeof(*err));
    err->fault = fault;
    snprintf(err->sqlstate, sizeof(err->sqlstate), "%s", code);
    snprintf(err->message, sizeof(err->message), "%s", msg);
}

/*
 * Is libpq's message (one with no SQLSTATE) about TLS? PQLOOP_FAULT_LOCAL when it is about
 * pgrouter's own side (its server_tls_* files or settings: unreadable, unloadable, a key
 * not matching, a version libpq refuses), PQLOOP_FAULT_NODE when it is about what the
 * server did (no TLS under require, a certificate that fails verification or names
 * another host, a failed handshake), -1 when it is not about TLS. libpq 15's wording.
 */
static int pqloop_tls_fault(const char *msg)
{
    static const char *const local[] = {
        "certificate file", "private key", "could not load", "SSL protocol version",
        "could not create SSL context", "could not initialize SSL", "invalid sslmode",
        "invalid ssl_m", "invalid value",
    };

    if (strstr(msg, "SSL") == NULL && strstr(msg, "certificate") == NULL &&
        strstr(msg, "ssl") == NULL && strstr(msg, "private key") == NULL)
        return -1;
    /* "server certificate for ... does not match" is the server's, despite "certificate". */
    if (strstr(msg, "server certificate") == NULL && strstr(msg, "server's") == NULL)
        for (size_t i = 0; i < sizeof(local) / sizeof(local[0]); i++)
            if (strstr(msg, local[i]) != NULL)
                return PQLOOP_FAULT_LOCAL;
    return PQLOOP_FAULT_NODE;
}

/*
 * libpq's socket() failed ("could not create socket: Too many open files"), or one would
 * fail now: pgrouter's own limit, never the node's. Fills err and returns 1, else 0.
 */
static int pqloop_describe_shortage(const char *msg, struct pqloop_error *err)
{
    int shortage = pqloop_local_shortage();

    if (shortage == 0 && strstr(msg, "could not create socket") != NULL)
        shortage = strstr(msg, "Too many open files") != NULL ? EMFILE : ENFILE;
    if (shortage == EMFILE || shortage == ENFILE) {
        struct rlimit rl;

        pqloop_set(err, PQLOOP_FAULT_LOCAL, "53000", "");
        getrlimit(RLIMIT_NOFILE, &rl);
        snprintf(err->message, sizeof(err->message), "pgrouter is out of file descriptors "
                 "(%s; its open-file limit RLIMIT_NOFILE is %llu) and cannot open a server "
                 "connection: raise the limit (ulimit -n, LimitNOFILE) or lower "
                 "max_client_conn", strerror(shortage), (unsigned long long)rl.rlim_cur);
        return 1;
    }
    if (shortage != 0) {
        pqloop_set(err, PQLOOP_FAULT_LOCAL, "53000", "");
        snprintf(err->message, sizeof(err->message), "pgrouter cannot open a socket: %s (%.160s)",
                 strerror(shortage), msg);
        return 1;
    }
    return 0;
}

static void pqloop_describe(const struct pqloop *c, struct pqloop_error *err)
{
    int tls;

    char code[6], msg[PQLOOP_MESSAGE_MAX];

    if (c->pg == NULL) {
        pqloop_set(err, PQLOOP_FAULT_LOCAL, "53200", "out of memory");
        return;
    }
    if (pqloop_parse_error(PQerrorMessage(c->pg), code, msg, sizeof(msg))) {
        /* The server answered: only a crash, a shutdown or a broken link is the node's. */
        pqloop_set(err, breaker_counts(code) ? PQLOOP_FAULT_NODE : PQLOOP_FAULT_LOGIN, code,
                   msg);
        err->from_server = 1;
        return;
    }
    tls = pqloop_tls_fault(msg);
    if (tls >= 0) {
        pqloop_set(err, (enum pqloop_fault)tls, "08001", "");
        snprintf(err->message, sizeof(err->message), "TLS: %.240s", msg);
        err->tls = 1;
        return;
    }
    if (PQconnectionNeedsPassword(c->pg)) {
        pqloop_set(err, PQLOOP_FAULT_LOGIN, "28P01",
                   "the server asks for a password and none is known for this user");
        err->needs_password = 1;
        return;
    }
    if (pqloop_describe_shortage(msg, err))
        return;
    /*
     * No word from the server (refused, reset, closed): 08006 connection_failure, the
     * code pgrouter has always given for an unreachable node, whether or not a TCP
     * connection came up first.
     */
    pqloop_set(err, PQLOOP_FAULT_NODE, "08006", msg);
}

void pqloop_timeout_error(const struct pqloop *c, unsigned timeout_ms, struct pqloop_error *err)
{
    char msg[PQLOOP_MESSAGE_MAX];

    snprintf(msg, sizeof(msg), "timeout expired after %u ms %s", timeout_ms,
             c->lookup != NULL ? "resolving the host name"
             : c->talked ? "logging in" : "connecting");
    pqloop_set(err, PQLOOP_FAULT_NODE, "08006", msg);
}

/* ---- the poll handle ---- */

static void pqloop_poll_closed(uv_handle_t *h)
{
    free(h);
}

void pqloop_unwatch(struct pqloop *c)
{
    if (c->poll == NULL)
        return;
    uv_poll_stop(c->poll);
    uv_close((uv_handle_t *)c->poll, pqloop_poll_closed);
    c->poll = NULL;
    c->poll_fd = -1;
}

/* Watch PQsocket: libpq may replace the socket (next address), so compare each time. */
static int pqloop_arm(struct pqloop *c, int events)
{
    int fd = c->pg != NULL ? PQsocket(c->pg) : -1;
    int rc;

    if (fd < 0)
        return UV_EBADF;
    if (c->poll != NULL && c->poll_fd != fd)
        pqloop_unwatch(c);
    if (c->poll == NULL) {
        uv_poll_t *poll = malloc(sizeof(*poll));

        if (poll == NULL)
            return UV_ENOMEM;
        rc = uv_poll_init(c->loop, poll, fd);
        if (rc < 0) {
            free(poll);
            return rc;
        }
        poll->data = c;
        c->poll = poll;
        c->poll_fd = fd;
    }
    return uv_poll_start(c->poll, events, pqloop_poll_cb);
}

int pqloop_watch(struct pqloop *c, int events, pqloop_io_fn cb)
{
    c->io = cb;
    return pqloop_arm(c, events);
}

/* ---- connecting ---- */

static void pqloop_free_params(struct pqloop *c)
{
    for (size_t i = 0; i < c->n_params; i++) {
        free(c->keys[i]);
        free(c->vals[i]);
        c->keys[i] = c->vals[i] = NULL;
    }
    c->n_params = 0;
}

void pqloop_drop(struct pqloop *c)
{
    c->connected = NULL;
    c->io = NULL;
    if (c->lookup != NULL) {
        c->lookup->c = NULL;    /* it frees itself when it ends */
        uv_cancel((uv_req_t *)&c->lookup->req);
        c->lookup = NULL;
    }
    pqloop_unwatch(c);
    if (c->pg != NULL) {
        PQfinish(c->pg);
        c->pg = NULL;
    }
    pqloop_free_params(c);
    c->talked = 0;
}

/* The attempt ended; tell the caller last of all (it may drop or reuse c). */
static void pqloop_report(struct pqloop *c, const struct pqloop_error *err)
{
    pqloop_connected_fn cb = c->connected;

    c->connected = NULL;
    if (err != NULL)
        pqloop_drop(c);
    pqloop_free_params(c);
    if (cb != NULL)
        cb(c, err);
}

static void pqloop_fail(struct pqloop *c)
{
    struct pqloop_error err;

    pqloop_describe(c, &err);
    pqloop_report(c, &err);
}

static void pqloop_fail_uv(struct pqloop *c, const char *what, int rc)
{
    struct pqloop_error err;
    char msg[PQLOOP_MESSAGE_MAX];

    snprintf(msg, sizeof(msg), "%s: %s", what, uv_strerror(rc));
    pqloop_set(&err, PQLOOP_FAULT_LOCAL, rc == UV_ENOMEM ? "53200" : "53000", msg);
    pqloop_report(c, &err);
}

static int pqloop_is_talking(ConnStatusType st)
{
    return st != CONNECTION_STARTED && st != CONNECTION_NEEDED && st != CONNECTION_BAD;
}

static void pqloop_step(struct pqloop *c)
{
    PostgresPollingStatusType ps = PQconnectPoll(c->pg);
    int rc;

    if (pqloop_is_talking(PQstatus(c->pg)))
        c->talked = 1;
    switch (ps) {
    case PGRES_POLLING_READING:
        rc = pqloop_arm(c, UV_READABLE);
        break;
    case PGRES_POLLING_WRITING:
        rc = pqloop_arm(c, UV_WRITABLE);
        break;
    case PGRES_POLLING_OK:
        c->talked = 1;
        /* Verbose was for reading the SQLSTATE of a failed login; messages now as usual. */
        PQsetErrorVerbosity(c->pg, PQERRORS_DEFAULT);
        pqloop_unwatch(c);
        pqloop_report(c, NULL);
        return;
    case PGRES_POLLING_FAILED:
    case PGRES_POLLING_ACTIVE:
    default:
        pqloop_fail(c);
        return;
    }
    if (rc < 0)
        pqloop_fail_uv(c, "watching the server socket", rc);
}

static void pqloop_poll_cb(uv_poll_t *poll, int status, int events)
{
    struct pqloop *c = poll->data;

    if (c->connected != NULL) {
        /*
         * libuv reports POLLERR as a status < 0 and stops the handle: a refused connect
         * shows so. PQconnectPoll reads SO_ERROR and says what happened (or moves to the
         * next address), and the poll is armed again as usual.
         */
        pqloop_step(c);
        return;
    }
    if (c->io != NULL)
        c->io(c, status, events);
}

/* libpq prints notices to stderr by default; nobody reads them here. */
static void pqloop_notice_ignore(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* Start libpq; with_addrs: hostaddr from the lookup. 0, or < 0 with *err filled. */
static int pqloop_start(struct pqloop *c, int with_addrs, struct pqloop_error *err)
{
    const char *k[PQLOOP_MAX_PARAMS + 4], *v[PQLOOP_MAX_PARAMS + 4];
    size_t n = 0;
    int rc;

    for (size_t i = 0; i < c->n_params; i++) {
        k[n] = c->keys[i];
        v[n++] = c->vals[i];
    }
    k[n] = "host";
    v[n++] = with_addrs ? c->host_list : c->host;
    if (with_addrs || (c->host[0] != '/' && strchr(c->host, ',') == NULL)) {
        /* A numeric host is its own address: libpq must never look anything up. */
        k[n] = "hostaddr";
        v[n++] = with_addrs ? c->addr_list : c->host;
    }
    k[n] = "port";
    v[n++] = c->port;
    k[n] = NULL;
    v[n] = NULL;
    c->talked = 0;
    c->pg = PQconnectStartParams(k, v, 0);
    if (c->pg == NULL || PQstatus(c->pg) == CONNECTION_BAD) {
        pqloop_describe(c, err);
        return -ECONNREFUSED;
    }
    /* The server's SQLSTATE then reaches the error message, where it can be read. */
    PQsetErrorVerbosity(c->pg, PQERRORS_VERBOSE);
    PQsetNoticeProcessor(c->pg, pqloop_notice_ignore, NULL);
    /* libpq's protocol: after PQconnectStart, wait until writable, then poll. */
    rc = pqloop_arm(c, UV_WRITABLE);
    if (rc < 0) {
        char msg[PQLOOP_MESSAGE_MAX];

        snprintf(msg, sizeof(msg), "watching the server socket: %s", uv_strerror(rc));
        pqloop_set(err, PQLOOP_FAULT_LOCAL, "53000", msg);
        return rc;
    }
    return 0;
}

static void pqloop_resolved_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct pqloop_lookup *lk = req->data;
    struct pqloop *c = lk->c;
    struct pqloop_error err;
    size_t hl = 0, al = 0;
    int k = 0;

    free(lk);
    if (c == NULL) {
        /* Abandoned. */
        uv_freeaddrinfo(res);
        return;
    }
    c->lookup = NULL;
    for (struct addrinfo *ai = res; status == 0 && ai != NULL && k < PQLOOP_MAX_ADDRS;
         ai = ai->ai_next) {
        char addr[INET6_ADDRSTRLEN];
        const void *src;

        if (ai->ai_family == AF_INET)
            src = &((const struct sockaddr_in *)(const void *)ai->ai_addr)->sin_addr;
        else if (ai->ai_family == AF_INET6)
            src = &((const struct sockaddr_in6 *)(const void *)ai->ai_addr)->sin6_addr;
        else
            continue;
        if (inet_ntop(ai->ai_family, src, addr, sizeof(addr)) == NULL)
            continue;
        /* Sizes hold PQLOOP_MAX_ADDRS entries of host (< 256) and address (< 46). */
        hl += (size_t)snprintf(c->host_list + hl, sizeof(c->host_list) - hl, "%s%s",
                               k > 0 ? "," : "", c->host);
        al += (size_t)snprintf(c->addr_list + al, sizeof(c->addr_list) - al, "%s%s",
                               k > 0 ? "," : "", addr);
        k++;
    }
    uv_freeaddrinfo(res);
    if (k == 0) {
        char msg[PQLOOP_MESSAGE_MAX];

        snprintf(msg, sizeof(msg), "could not resolve host name \"%.160s\": %s", c->host,
                 status < 0 ? uv_strerror(status) : "no IPv4 or IPv6 address");
        pqloop_set(&err, PQLOOP_FAULT_NODE, "08006", msg);
        pqloop_report(c, &err);
        return;
    }
    if (pqloop_start(c, 1, &err) < 0)
        pqloop_report(c, &err);
}

/* Numeric IPv4/IPv6 addresses and socket directories need no lookup. */
static int pqloop_is_addr(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];

    return host[0] == '/' || inet_pton(AF_INET, host, buf) == 1 ||
           inet_pton(AF_INET6, host, buf) == 1;
}

static int pqloop_ignored_key(const char *key)
{
    return strcmp(key, "host") == 0 || strcmp(key, "hostaddr") == 0 ||
           strcmp(key, "port") == 0;
}

void pqloop_init(struct pqloop *c, uv_loop_t *loop, void *arg)
{
    memset(c, 0, sizeof(*c));
    c->loop = loop;
    c->arg = arg;
    c->poll_fd = -1;
}

/* Copy the keyword/value pairs libpq gets (host, hostaddr and port are pqloop's). */
static int pqloop_copy_params(struct pqloop *c, const char *const *keys,
                              const char *const *vals, struct pqloop_error *err)
{
    for (size_t i = 0; keys != NULL && keys[i] != NULL; i++) {
        if (vals[i] == NULL || pqloop_ignored_key(keys[i]))
            continue;
        if (c->n_params == PQLOOP_MAX_PARAMS) {
            pqloop_free_params(c);
            pqloop_set(err, PQLOOP_FAULT_LOCAL, "53000", "too many connection parameters");
            return -E2BIG;
        }
        c->keys[c->n_params] = strdup(keys[i]);
        c->vals[c->n_params] = strdup(vals[i]);
        c->n_params++;
        if (c->keys[c->n_params - 1] == NULL || c->vals[c->n_params - 1] == NULL) {
            pqloop_free_params(c);
            pqloop_set(err, PQLOOP_FAULT_LOCAL, "53200", "out of memory");
            return -ENOMEM;
        }
    }
    return 0;
}

/* Resolve c->host on the loop; pqloop_resolved_cb goes on from there. */
static int pqloop_resolve(struct pqloop *c, struct pqloop_error *err)
{
    struct addrinfo hints;
    struct pqloop_lookup *lk = calloc(1, sizeof(*lk));
    int rc;

    if (lk == NULL) {
        pqloop_drop(c);
        pqloop_set(err, PQLOOP_FAULT_LOCAL, "53200", "out of memory");
        return -ENOMEM;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    lk->c = c;
    lk->req.data = lk;
    rc = uv_getaddrinfo(c->loop, &lk->req, pqloop_resolved_cb, c->host, NULL, &hints);
    if (rc < 0) {
        char msg[PQLOOP_MESSAGE_MAX];

        snprintf(msg, sizeof(msg), "could not resolve host name \"%.160s\": %s", c->host,
                 uv_strerror(rc));
        free(lk);
        pqloop_drop(c);
        pqloop_set(err, PQLOOP_FAULT_LOCAL, "53000", msg);
        return rc;
    }
    c->lookup = lk;
    return 0;
}

int pqloop_connect(struct pqloop *c, const char *host, uint16_t port,
                   const char *const *keys, const char *const *vals, pqloop_connected_fn cb,
                   struct pqloop_error *err)
{
    int rc;

    pqloop_drop(c);
    if (host == NULL || host[0] == '\0' || strlen(host) >= sizeof(c->host)) {
        pqloop_set(err, PQLOOP_FAULT_NODE, "08006", "invalid host name");
        return -EINVAL;
    }
    snprintf(c->host, sizeof(c->host), "%s", host);
    snprintf(c->port, sizeof(c->port), "%u", (unsigned)port);
    rc = pqloop_copy_params(c, keys, vals, err);
    if (rc < 0)
        return rc;
    c->connected = cb;
    if (pqloop_is_addr(host)) {
        rc = pqloop_start(c, 0, err);
        if (rc < 0)
            pqloop_drop(c);
        return rc;
    }
    return pqloop_resolve(c, err);
}

int pqloop_resolving(const struct pqloop *c)
{
    return c->lookup != NULL;
}

int pqloop_connecting(const struct pqloop *c)
{
    return c->connected != NULL || c->lookup != NULL;
}
