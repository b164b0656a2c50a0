/*
 * tests/bench/fakepg.c - a trivial PostgreSQL server for measuring a proxy alone: it
 * accepts any login (AuthenticationOk, no password), and answers every query at once
 * without looking at any table, so the proxy in front of it is the only thing that
 * costs.  tests/bench/isolated.sh puts pgrouter between it and tests/bench/loadgen.c.
 *
 *   fakepg -p PORT [-h 127.0.0.1]
 *
 * What it answers (protocol 3.0, one thread, epoll):
 *   SSLRequest, GSSENCRequest     'N' (no encryption)
 *   CancelRequest                 the connection is closed
 *   StartupMessage                AuthenticationOk, ParameterStatus, BackendKeyData,
 *                                 ReadyForQuery
 *   Query                         pgrouter's health query: one row of 4 columns
 *                                 (a primary at LSN 0/3000000); its catalog query
 *                                 (pg_proc): no rows; BEGIN/COMMIT/ROLLBACK set the
 *                                 transaction status; other SELECTs: one row, "1";
 *                                 anything else: CommandComplete with its first word
 *   Parse/Bind/Describe/Execute/Close/Sync/Flush
 *                                 the same answers in the extended protocol; a
 *                                 statement returns rows when its text starts with
 *                                 SELECT, VALUES, SHOW, TABLE or WITH
 * Hostile input is bounded: a message longer than MSG_MAX, a length under 4, or more
 * than OUT_MAX bytes of unread answers closes that connection and nothing else.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MSG_MAX (1u << 20)      /* largest message accepted */
#define OUT_MAX (4u << 20)      /* answers a client may leave unread */
#define STARTUP_MAX 10000
#define STMT_MAX 256            /* prepared statements remembered per connection */
#define NAME_MAX_LEN 64

enum fake_phase { FAKE_STARTUP, FAKE_READY };

struct fake_stmt {
    char name[NAME_MAX_LEN];
    int rows;                   /* returns a row when executed */
    int nparams;
};

struct fake_conn {
    int fd;
    enum fake_phase phase;
    char tx;                    /* 'I' or 'T' */
    int portal_rows;            /* the last Bind's statement returns rows */
    uint8_t *in;
    size_t in_len, in_cap;
    uint8_t *out;
    size_t out_len, out_off, out_cap;
    struct fake_stmt *stmts;
    size_t n_stmts;
    int want_out;               /* EPOLLOUT is armed */
};

struct fake_server {
    int epfd;
    int lfd;
    uint32_t next_pid;
};

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* ---- output ---------------------------------------------------------------------- */

static int out_reserve(struct fake_conn *c, size_t more)
{
    size_t need;

    if (c->out_off > 0 && c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    need = c->out_len + more;
    if (need <= c->out_cap)
        return 0;
    if (need - c->out_off > OUT_MAX)
        return -1;
    if (c->out_off > 0) {
        memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
        c->out_len -= c->out_off;
        c->out_off = 0;
        need = c->out_len + more;
        if (need <= c->out_cap)
            return 0;
    }
    size_t cap = c->out_cap ? c->out_cap * 2 : 4096;
    while (cap < need)
        cap *= 2;
    uint8_t *p = realloc(c->out, cap);
    if (p == NULL)
        return -1;
    c->out = p;
    c->out_cap = cap;
    return 0;
}

/* msg_begin returns where the body goes; msg_end fixes the length. */
static size_t msg_begin(struct fake_conn *c, char type, size_t body_max)
{
    if (out_reserve(c, body_max + 5) < 0)
        return SIZE_MAX;
    c->out[c->out_len] = (uint8_t)type;
    return c->out_len;
}

static void msg_end(struct fake_conn *c, size_t start, size_t body_len)
{
    put32(c->out + start + 1, (uint32_t)(body_len + 4));
    c->out_len = start + 5 + body_len;
}

static int send_msg(struct fake_conn *c, char type, const void *body, size_t len)
{
    size_t at = msg_begin(c, type, len);

    if (at == SIZE_MAX)
        return -1;
    memcpy(c->out + at + 5, body, len);
    msg_end(c, at, len);
    return 0;
}

static int send_str(struct fake_conn *c, char type, const char *s)
{
    return send_msg(c, type, s, strlen(s) + 1);
}

static int send_param(struct fake_conn *c, const char *k, const char *v)
{
    char buf[256];
    size_t kl = strlen(k) + 1, vl = strlen(v) + 1;

    memcpy(buf, k, kl);
    memcpy(buf + kl, v, vl);
    return send_msg(c, 'S', buf, kl + vl);
}

static int send_ready(struct fake_conn *c)
{
    return send_msg(c, 'Z', &c->tx, 1);
}

/* A RowDescription of n text columns named col0.., and (rows) one DataRow of vals
 * (NULL for SQL NULL). */
static int send_rowdesc(struct fake_conn *c, int n)
{
    uint8_t buf[2 + 4 * 32];
    size_t len = 2;

    buf[0] = 0;
    buf[1] = (uint8_t)n;
    for (int i = 0; i < n; i++) {
        memcpy(buf + len, "c", 2);
        buf[len + 1] = 0;
        len += 2;
        memset(buf + len, 0, 18);
        put32(buf + len + 6, 25);       /* type oid: text */
        buf[len + 10] = 0xff;           /* typlen -1 */
        buf[len + 11] = 0xff;
        buf[len + 12] = 0xff;           /* typmod -1 */
        buf[len + 13] = 0xff;
        buf[len + 14] = 0xff;
        buf[len + 15] = 0xff;
        len += 18;
    }
    return send_msg(c, 'T', buf, len);
}

static int send_datarow(struct fake_conn *c, int n, const char *const *vals)
{
    uint8_t buf[256];
    size_t len = 2;

    buf[0] = 0;
    buf[1] = (uint8_t)n;
    for (int i = 0; i < n; i++) {
        if (vals[i] == NULL) {
            put32(buf + len, 0xffffffffu);
            len += 4;
            continue;
        }
        size_t vl = strlen(vals[i]);
        put32(buf + len, (uint32_t)vl);
        memcpy(buf + len + 4, vals[i], vl);
        len += 4 + vl;
    }
    return send_msg(c, 'D', buf, len);
}

static int send_error(struct fake_conn *c, const char *code, const char *text)
{
    char buf[512];
    int n = snprintf(buf, sizeof(buf), "SERROR%cC%s%cM%s%c", 0, code, 0, text, 0);

    if (n < 0 || (size_t)n >= sizeof(buf) - 1)
        return -1;
    buf[n] = 0;
    return send_msg(c, 'E', buf, (size_t)n + 1);
}

/* ---- what a statement is --------------------------------------------------------- */

enum fake_kind { KIND_EMPTY, KIND_ROWS, KIND_HEALTH, KIND_CATALOG, KIND_BEGIN, KIND_END,
                 KIND_OTHER };

static size_t first_word(const char *sql, size_t len, char *word, size_t cap)
{
    size_t i = 0, n = 0;

    while (i < len && (isspace((unsigned char)sql[i]) || sql[i] == '(' || sql[i] == ';'))
        i++;
    while (i < len && isalpha((unsigned char)sql[i]) && n + 1 < cap)
        word[n++] = (char)toupper((unsigned char)sql[i++]);
    word[n] = 0;
    return n;
}

static enum fake_kind classify(const char *sql, size_t len, char *word, size_t cap)
{
    static const char *const rows[] = { "SELECT", "VALUES", "SHOW", "TABLE", "WITH" };

    if (memmem(sql, len, "pg_is_in_recovery", 17) != NULL)
        return KIND_HEALTH;
    if (memmem(sql, len, "pg_proc", 7) != NULL)
        return KIND_CATALOG;
    if (first_word(sql, len, word, cap) == 0)
        return KIND_EMPTY;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        if (strcmp(word, rows[i]) == 0)
            return KIND_ROWS;
    if (strcmp(word, "BEGIN") == 0 || strcmp(word, "START") == 0)
        return KIND_BEGIN;
    if (strcmp(word, "COMMIT") == 0 || strcmp(word, "END") == 0 ||
        strcmp(word, "ROLLBACK") == 0 || strcmp(word, "ABORT") == 0)
        return KIND_END;
    return KIND_OTHER;
}

/* The answer to one statement after its RowDescription (if any). */
static int send_result(struct fake_conn *c, enum fake_kind k, const char *word)
{
    static const char *const health[] = { "f", "0/3000000", NULL, NULL };
    static const char *const one[] = { "1" };
    char tag[80];

    switch (k) {
    case KIND_EMPTY:
        return send_msg(c, 'I', "", 0);
    case KIND_HEALTH:
        if (send_datarow(c, 4, health) < 0)
            return -1;
        return send_str(c, 'C', "SELECT 1");
    case KIND_CATALOG:
        return send_str(c, 'C', "SELECT 0");
    case KIND_ROWS:
        if (send_datarow(c, 1, one) < 0)
            return -1;
        return send_str(c, 'C', "SELECT 1");
    case KIND_BEGIN:
        c->tx = 'T';
        return send_str(c, 'C', "BEGIN");
    case KIND_END:
        c->tx = 'I';
        return send_str(c, 'C', strcmp(word, "COMMIT") == 0 || strcmp(word, "END") == 0
                                    ? "COMMIT" : "ROLLBACK");
    case KIND_OTHER:
        if (strcmp(word, "INSERT") == 0)
            snprintf(tag, sizeof(tag), "INSERT 0 1");
        else if (strcmp(word, "UPDATE") == 0 || strcmp(word, "DELETE") == 0)
            snprintf(tag, sizeof(tag), "%s 1", word);
        else
            snprintf(tag, sizeof(tag), "%s", word);
        return send_str(c, 'C', tag);
    }
    return -1;
}

static int kind_columns(enum fake_kind k)
{
    return k == KIND_HEALTH ? 4 : k == KIND_CATALOG ? 2 : k == KIND_ROWS ? 1 : 0;
}

static int answer_query(struct fake_conn *c, const uint8_t *body, size_t len)
{
    const char *sql = (const char *)body;
    size_t sl = strnlen(sql, len);
    char word[32];
    enum fake_kind k = classify(sql, sl, word, sizeof(word));

    if (kind_columns(k) > 0 && send_rowdesc(c, kind_columns(k)) < 0)
        return -1;
    if (send_result(c, k, word) < 0)
        return -1;
    return send_ready(c);
}

/* ---- extended protocol ------------------------------------------------------------ */

/* name need not end inside the message: at most len bytes of it are read. */
static struct fake_stmt *stmt_find(struct fake_conn *c, const char *name, size_t len)
{
    size_t nl = strnlen(name, len);

    if (nl == len || nl >= NAME_MAX_LEN)
        return NULL;
    for (size_t i = 0; i < c->n_stmts; i++)
        if (strcmp(c->stmts[i].name, name) == 0)
            return &c->stmts[i];
    return NULL;
}

static int count_params(const char *sql, size_t len)
{
    int max = 0;

    for (size_t i = 0; i + 1 < len; i++) {
        if (sql[i] != '$' || !isdigit((unsigned char)sql[i + 1]))
            continue;
        int v = 0;
        for (i++; i < len && isdigit((unsigned char)sql[i]) && v < 10000; i++)
            v = v * 10 + (sql[i] - '0');
        if (v > max)
            max = v;
    }
    return max > 1000 ? 1000 : max;
}

static int on_parse(struct fake_conn *c, const uint8_t *body, size_t len)
{
    const char *name = (const char *)body, *sql;
    size_t nl = strnlen(name, len), sl;
    char word[32];
    struct fake_stmt *s;

    if (nl >= len || nl >= NAME_MAX_LEN)
        return send_error(c, "42601", "fakepg: bad Parse");
    sql = name + nl + 1;
    sl = strnlen(sql, len - nl - 1);
    s = stmt_find(c, name, len);
    if (s == NULL) {
        if (c->n_stmts == STMT_MAX) {
            s = &c->stmts[c->n_stmts - 1];      /* the newest is overwritten */
        } else {
            if (c->stmts == NULL && (c->stmts = calloc(STMT_MAX, sizeof(*s))) == NULL)
                return -1;
            s = &c->stmts[c->n_stmts++];
        }
        memcpy(s->name, name, nl + 1);
    }
    enum fake_kind k = classify(sql, sl, word, sizeof(word));
    s->rows = k == KIND_ROWS;
    s->nparams = count_params(sql, sl);
    return send_msg(c, '1', "", 0);
}

static int on_bind(struct fake_conn *c, const uint8_t *body, size_t len)
{
    const char *portal = (const char *)body;
    size_t pl = strnlen(portal, len);
    struct fake_stmt *s;

    if (pl >= len)
        return send_error(c, "08P01", "fakepg: bad Bind");
    s = stmt_find(c, portal + pl + 1, len - pl - 1);
    c->portal_rows = s == NULL || s->rows;
    return send_msg(c, '2', "", 0);
}

static int on_describe(struct fake_conn *c, const uint8_t *body, size_t len)
{
    int rows = c->portal_rows;

    if (len >= 2 && body[0] == 'S') {
        struct fake_stmt *s = stmt_find(c, (const char *)body + 1, len - 1);
        uint8_t pd[2 + 4 * 16];
        int np = s != NULL && s->nparams <= 16 ? s->nparams : 0;

        rows = s == NULL || s->rows;
        pd[0] = 0;
        pd[1] = (uint8_t)np;
        for (int i = 0; i < np; i++)
            put32(pd + 2 + 4 * i, 25);
        if (send_msg(c, 't', pd, 2 + 4 * (size_t)np) < 0)
            return -1;
    }
    return rows ? send_rowdesc(c, 1) : send_msg(c, 'n', "", 0);
}

static int on_execute(struct fake_conn *c)
{
    return send_result(c, c->portal_rows ? KIND_ROWS : KIND_OTHER, "SELECT");
}

/* ---- one message ------------------------------------------------------------------ */

static int on_startup(struct fake_server *srv, struct fake_conn *c, const uint8_t *body,
                      size_t len)
{
    uint32_t code = len >= 4 ? get32(body) : 0;
    uint8_t key[8];

    if (code == 80877103 || code == 80877104) {     /* SSLRequest, GSSENCRequest */
        if (out_reserve(c, 1) < 0)
            return -1;
        c->out[c->out_len++] = 'N';
        return 0;
    }
    if (code != 196608) {
        send_error(c, "08P01", "fakepg: unsupported protocol or cancel request");
        return -1;
    }
    c->phase = FAKE_READY;
    c->tx = 'I';
    put32(key, 0);
    if (send_msg(c, 'R', key, 4) < 0 || send_param(c, "server_version", "16.0 (fakepg)") < 0 ||
        send_param(c, "server_encoding", "UTF8") < 0 ||
        send_param(c, "client_encoding", "UTF8") < 0 ||
        send_param(c, "DateStyle", "ISO, MDY") < 0 ||
        send_param(c, "integer_datetimes", "on") < 0 ||
        send_param(c, "IntervalStyle", "postgres") < 0 ||
        send_param(c, "standard_conforming_strings", "on") < 0 ||
        send_param(c, "TimeZone", "UTC") < 0 || send_param(c, "is_superuser", "off") < 0)
        return -1;
    put32(key, ++srv->next_pid);
    put32(key + 4, 0x5eed);
    if (send_msg(c, 'K', key, 8) < 0)
        return -1;
    return send_ready(c);
}

static int on_message(struct fake_conn *c, char type, const uint8_t *body, size_t len)
{
    switch (type) {
    case 'Q':
        return answer_query(c, body, len);
    case 'P':
        return on_parse(c, body, len);
    case 'B':
        return on_bind(c, body, len);
    case 'D':
        return on_describe(c, body, len);
    case 'E':
        return on_execute(c);
    case 'C':
        return send_msg(c, '3', "", 0);
    case 'S':
        return send_ready(c);
    case 'H':
    case 'd':
    case 'c':
    case 'f':
        return 0;
    case 'X':
        return -1;
    default:
        return send_error(c, "08P01", "fakepg: unsupported message");
    }
}

/* Consumes every whole message in c->in; -1 closes the connection. */
static int on_input(struct fake_server *srv, struct fake_conn *c)
{
    size_t off = 0;

    for (;;) {
        size_t avail = c->in_len - off, hdr = c->phase == FAKE_STARTUP ? 4 : 5;
        uint32_t len;

        if (avail < hdr)
            break;
        len = get32(c->in + off + hdr - 4);
        if (len < 4 || len > (c->phase == FAKE_STARTUP ? STARTUP_MAX : MSG_MAX))
            return -1;
        if (avail < hdr - 4 + len)
            break;
        const uint8_t *body = c->in + off + hdr;
        size_t blen = len - 4;
        int rc = c->phase == FAKE_STARTUP ? on_startup(srv, c, body, blen)
                                          : on_message(c, (char)c->in[off], body, blen);
        if (rc < 0)
            return -1;
        off += hdr - 4 + len;
    }
    if (off > 0) {
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
    }
    return 0;
}

/* ---- sockets ------------------------------------------------------------------------ */

static void conn_close(struct fake_server *srv, struct fake_conn *c)
{
    epoll_ctl(srv->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->in);
    free(c->out);
    free(c->stmts);
    free(c);
}

static int conn_flush(struct fake_server *srv, struct fake_conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (w <= 0)
            return -1;
        c->out_off += (size_t)w;
    }
    int want = c->out_off < c->out_len;
    if (want != c->want_out) {
        struct epoll_event ev = { .events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c };

        if (epoll_ctl(srv->epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
            return -1;
        c->want_out = want;
    }
    return 0;
}

static int conn_read(struct fake_server *srv, struct fake_conn *c)
{
    for (;;) {
        size_t room;

        if (c->in_cap - c->in_len < 4096) {
            size_t cap = c->in_cap ? c->in_cap * 2 : 8192;
            uint8_t *p;

            if (cap > 2 * MSG_MAX)
                return -1;          /* on_input has refused such a length already */
            if ((p = realloc(c->in, cap)) == NULL)
                return -1;
            c->in = p;
            c->in_cap = cap;
        }
        room = c->in_cap - c->in_len;
        ssize_t r = recv(c->fd, c->in + c->in_len, room, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (r <= 0)
            return -1;
        c->in_len += (size_t)r;
        if (on_input(srv, c) < 0)
            return -1;
        if ((size_t)r < room)
            return 0;               /* a short read: the socket is drained */
    }
}

static void on_accept(struct fake_server *srv)
{
    for (;;) {
        int fd = accept4(srv->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), one = 1;
        struct fake_conn *c;

        if (fd < 0)
            return;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c = calloc(1, sizeof(*c));
        if (c == NULL) {
            close(fd);
            continue;
        }
        c->fd = fd;
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
        if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close(fd);
            free(c);
        }
    }
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1";
    int port = 0, opt, one = 1;
    struct fake_server srv = { .epfd = -1 };
    struct sockaddr_in sa = { .sin_family = AF_INET };
    struct epoll_event evs[256];

    while ((opt = getopt(argc, argv, "h:p:")) != -1) {
        if (opt == 'h')
            host = optarg;
        else if (opt == 'p')
            port = atoi(optarg);
        else
            goto usage;
    }
    if (port <= 0 || port > 65535 || inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        goto usage;
    signal(SIGPIPE, SIG_IGN);
    sa.sin_port = htons((uint16_t)port);
    srv.lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (srv.lfd < 0 || setsockopt(srv.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(srv.lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(srv.lfd, 1024) < 0) {
        fprintf(stderr, "fakepg: %s:%d: %s\n", host, port, strerror(errno));
        return 1;
    }
    srv.epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = { .events = EPOLLIN, .data.ptr = NULL };
    if (srv.epfd < 0 || epoll_ctl(srv.epfd, EPOLL_CTL_ADD, srv.lfd, &lev) < 0) {
        perror("fakepg: epoll");
        return 1;
    }
    fprintf(stderr, "fakepg: listening on %s:%d\n", host, port);
    for (;;) {
        int n = epoll_wait(srv.epfd, evs, (int)(sizeof(evs) / sizeof(evs[0])), -1);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            perror("fakepg: epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            struct fake_conn *c = evs[i].data.ptr;

            if (c == NULL) {
                on_accept(&srv);
                continue;
            }
            if (((evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) && conn_read(&srv, c) < 0) ||
                conn_flush(&srv, c) < 0)
                conn_close(&srv, c);
        }
    }
usage:
    fprintf(stderr, "usage: fakepg -p PORT [-h 127.0.0.1]\n");
    return 2;
}
