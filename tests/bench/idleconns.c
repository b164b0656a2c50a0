/*
 * tests/bench/idleconns.c - open N client connections to a PostgreSQL-speaking
 * server (PostgreSQL itself, pgrouter, PgBouncer), log each one in up to
 * ReadyForQuery, then hold them all idle until stdin reaches end of file or a
 * SIGINT/SIGTERM arrives.  tests/bench/run.sh uses it to measure how much
 * memory a proxy spends per idle client.
 *
 *   idleconns -p PORT [-h 127.0.0.1] [-U user] [-d db] [-w password]
 *             [-n 10000] [-c 64] [-t 300]
 *
 *   -n  connections to open        -c  logins in flight at once
 *   -t  seconds allowed for all logins
 *
 * Authentication: SCRAM-SHA-256 (client side written here on OpenSSL), md5,
 * cleartext or none.  PBKDF2 with 4096 rounds costs about a millisecond, so
 * the SaltedPassword is kept per (salt, iterations): a server that reuses one
 * salt per user (PostgreSQL, pgrouter) costs one derivation in total.
 *
 * Output on stdout, one line each:
 *   ready OK FAILED SECONDS       every login has finished (OK reached ReadyForQuery)
 *   pbkdf2 D                      SaltedPassword derivations done (1 if the salt never changed)
 *   closed K                      at exit: K connections the server closed meanwhile
 * Errors (the first few) go to stderr.  Exit status: 0 if every login worked and
 * no connection was closed by the server, 1 otherwise, 2 on bad usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#define RBUF_MAX 65536          /* largest message accepted during login */
#define MAX_ERRORS_SHOWN 5
#define SALT_CACHE 64

enum state { ST_FREE, ST_CONNECTING, ST_LOGIN, ST_READY, ST_DONE };

struct conn {
    int fd;
    enum state st;
    unsigned char *rbuf;        /* login messages; freed once ready */
    size_t rlen, rcap;
    char cnonce[33];            /* SCRAM client nonce, base64 text */
    char *first_bare;           /* client-first-message-bare */
    unsigned char server_sig[SHA256_DIGEST_LENGTH];
};

struct salted {
    unsigned char salt[64];
    size_t salt_len;
    int iterations;
    unsigned char key[SHA256_DIGEST_LENGTH];
};

static const char *opt_host = "127.0.0.1";
static int opt_port;
static const char *opt_user = "app";
static const char *opt_db = "appdb";
static const char *opt_password = "app";
static int opt_n = 10000;
static int opt_inflight = 64;
static int opt_timeout = 300;

static struct conn *conns;
static int epfd;
static int n_started, n_inflight, n_ok, n_failed, n_closed_later, n_errors_shown;
static struct salted salt_cache[SALT_CACHE];
static int salt_cache_used, salt_cache_next, n_pbkdf2;
static volatile sig_atomic_t stop_requested;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void report(const char *fmt, ...)
{
    va_list ap;
    if (n_errors_shown >= MAX_ERRORS_SHOWN)
        return;
    n_errors_shown++;
    fputs("idleconns: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* ---- base64 (RFC 4648, with padding) ---- */

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void b64_encode(const unsigned char *in, size_t len, char *out)
{
    size_t i;
    for (i = 0; i + 2 < len; i += 3) {
        uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8) | in[i + 2];
        *out++ = b64chars[(v >> 18) & 63];
        *out++ = b64chars[(v >> 12) & 63];
        *out++ = b64chars[(v >> 6) & 63];
        *out++ = b64chars[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)in[i + 1] << 8;
        *out++ = b64chars[(v >> 18) & 63];
        *out++ = b64chars[(v >> 12) & 63];
        *out++ = i + 1 < len ? b64chars[(v >> 6) & 63] : '=';
        *out++ = '=';
    }
    *out = '\0';
}

/* Decodes len characters of base64; returns the byte count or -1. */
static int b64_decode(const char *in, size_t len, unsigned char *out, size_t cap)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        const char *p;
        if (in[i] == '=')
            break;
        p = strchr(b64chars, in[i]);
        if (p == NULL || in[i] == '\0')
            return -1;
        acc = (acc << 6) | (uint32_t)(p - b64chars);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n >= cap)
                return -1;
            out[n++] = (unsigned char)(acc >> bits);
        }
    }
    return (int)n;
}

/* ---- sending ---- */

/* Login messages are small and go out on a fresh socket, so a short write
 * would mean something is badly wrong: treat it as a failure. */
static int send_all(struct conn *c, const void *buf, size_t len)
{
    ssize_t w = send(c->fd, buf, len, MSG_NOSIGNAL);
    if (w != (ssize_t)len) {
        report("send: %s", w < 0 ? strerror(errno) : "short write");
        return -1;
    }
    return 0;
}

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint32_t get32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* A typed message: type byte, length, body. */
static int send_msg(struct conn *c, char type, const void *body, size_t len)
{
    unsigned char buf[1024];
    if (len + 5 > sizeof(buf)) {
        report("message too long");
        return -1;
    }
    buf[0] = (unsigned char)type;
    put32(buf + 1, (uint32_t)(len + 4));
    memcpy(buf + 5, body, len);
    return send_all(c, buf, len + 5);
}

static int send_startup(struct conn *c)
{
    unsigned char buf[512];
    size_t n = 8;
    const char *kv[] = { "user", opt_user, "database", opt_db,
                         "application_name", "idleconns" };
    put32(buf + 4, 196608);     /* protocol 3.0 */
    for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++) {
        size_t l = strlen(kv[i]) + 1;
        if (n + l + 1 > sizeof(buf)) {
            report("startup packet too long");
            return -1;
        }
        memcpy(buf + n, kv[i], l);
        n += l;
    }
    buf[n++] = '\0';
    put32(buf, (uint32_t)n);
    return send_all(c, buf, n);
}

/* ---- SCRAM-SHA-256, client side (RFC 5802, RFC 7677) ---- */

static const unsigned char *salted_password(const unsigned char *salt, size_t salt_len,
                                            int iterations)
{
    struct salted *s;
    for (int i = 0; i < salt_cache_used; i++) {
        s = &salt_cache[i];
        if (s->iterations == iterations && s->salt_len == salt_len &&
            memcmp(s->salt, salt, salt_len) == 0)
            return s->key;
    }
    s = &salt_cache[salt_cache_next];
    salt_cache_next = (salt_cache_next + 1) % SALT_CACHE;
    if (salt_cache_used < SALT_CACHE)
        salt_cache_used++;
    memcpy(s->salt, salt, salt_len);
    s->salt_len = salt_len;
    s->iterations = iterations;
    /* PostgreSQL would SASLprep the password; an ASCII password is unchanged. */
    if (PKCS5_PBKDF2_HMAC(opt_password, (int)strlen(opt_password), salt, (int)salt_len,
                          iterations, EVP_sha256(), SHA256_DIGEST_LENGTH, s->key) != 1) {
        s->iterations = 0;
        return NULL;
    }
    n_pbkdf2++;
    return s->key;
}

static void hmac256(const unsigned char *key, size_t key_len, const void *data, size_t len,
                    unsigned char *out)
{
    unsigned int out_len = SHA256_DIGEST_LENGTH;
    HMAC(EVP_sha256(), key, (int)key_len, data, len, out, &out_len);
}

static int scram_start(struct conn *c)
{
    unsigned char raw[24], body[256];
    char first[128];
    size_t n = 0;
    int fl;

    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        report("RAND_bytes failed");
        return -1;
    }
    b64_encode(raw, sizeof(raw), c->cnonce);
    /* the user name is taken from the startup packet, so n= stays empty */
    fl = snprintf(first, sizeof(first), "n,,n=,r=%s", c->cnonce);
    c->first_bare = strdup(first + 3);
    if (c->first_bare == NULL)
        return -1;
    memcpy(body, "SCRAM-SHA-256", 14);
    n = 14;
    put32(body + n, (uint32_t)fl);
    n += 4;
    memcpy(body + n, first, (size_t)fl);
    n += (size_t)fl;
    return send_msg(c, 'p', body, n);
}

/* attr finds "X=" at the start of an attribute in a comma-separated SCRAM
 * message and returns its value and length. */
static const char *attr(const char *msg, size_t len, char name, size_t *vlen)
{
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && msg[j] != ',')
            j++;
        if (j - i >= 2 && msg[i] == name && msg[i + 1] == '=') {
            *vlen = j - i - 2;
            return msg + i + 2;
        }
        i = j + 1;
    }
    return NULL;
}

static int scram_continue(struct conn *c, const char *sfirst, size_t slen)
{
    const char *r, *s, *it;
    size_t rl, sl, il;
    unsigned char salt[64], client_key[32], stored_key[32], server_key[32], sig[32],
        proof[32];
    char final_wo[256], itbuf[16], proof64[64], msg[320], *auth;
    const unsigned char *sp;
    int salt_len, iterations, fl, ml;
    size_t alen;

    r = attr(sfirst, slen, 'r', &rl);
    s = attr(sfirst, slen, 's', &sl);
    it = attr(sfirst, slen, 'i', &il);
    if (r == NULL || s == NULL || it == NULL || il == 0 || il >= sizeof(itbuf) ||
        rl <= strlen(c->cnonce) || rl > 128 || memcmp(r, c->cnonce, strlen(c->cnonce)) != 0) {
        report("malformed SCRAM server-first-message");
        return -1;
    }
    memcpy(itbuf, it, il);
    itbuf[il] = '\0';
    iterations = atoi(itbuf);
    salt_len = b64_decode(s, sl, salt, sizeof(salt));
    if (iterations <= 0 || salt_len <= 0) {
        report("bad salt or iteration count in SCRAM server-first-message");
        return -1;
    }
    sp = salted_password(salt, (size_t)salt_len, iterations);
    if (sp == NULL) {
        report("PBKDF2 failed");
        return -1;
    }
    fl = snprintf(final_wo, sizeof(final_wo), "c=biws,r=%.*s", (int)rl, r);

    alen = strlen(c->first_bare) + 1 + slen + 1 + (size_t)fl;
    auth = malloc(alen + 1);
    if (auth == NULL)
        return -1;
    snprintf(auth, alen + 1, "%s,%.*s,%s", c->first_bare, (int)slen, sfirst, final_wo);

    hmac256(sp, 32, "Client Key", 10, client_key);
    SHA256(client_key, 32, stored_key);
    hmac256(stored_key, 32, auth, alen, sig);
    for (int i = 0; i < 32; i++)
        proof[i] = client_key[i] ^ sig[i];
    hmac256(sp, 32, "Server Key", 10, server_key);
    hmac256(server_key, 32, auth, alen, c->server_sig);
    free(auth);

    b64_encode(proof, 32, proof64);
    ml = snprintf(msg, sizeof(msg), "%s,p=%s", final_wo, proof64);
    return send_msg(c, 'p', msg, (size_t)ml);
}

static int scram_final(struct conn *c, const char *sfinal, size_t slen)
{
    const char *v;
    size_t vl;
    unsigned char sig[64];
    int n;

    v = attr(sfinal, slen, 'v', &vl);
    if (v == NULL) {
        report("SCRAM server-final-message without v=: %.*s", (int)slen, sfinal);
        return -1;
    }
    n = b64_decode(v, vl, sig, sizeof(sig));
    if (n != 32 || memcmp(sig, c->server_sig, 32) != 0) {
        report("SCRAM: the server's signature does not match");
        return -1;
    }
    return 0;
}

/* ---- md5 ---- */

static void md5_hex(const void *data, size_t len, char *out)
{
    unsigned char d[16];
    unsigned int dl = 0;
    EVP_Digest(data, len, d, &dl, EVP_md5(), NULL);
    for (int i = 0; i < 16; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

static int md5_answer(struct conn *c, const unsigned char *salt)
{
    char inner[33], buf[256], out[36];
    size_t pl = strlen(opt_password), ul = strlen(opt_user);
    if (pl + ul > 200)
        return -1;
    memcpy(buf, opt_password, pl);
    memcpy(buf + pl, opt_user, ul);
    md5_hex(buf, pl + ul, inner);
    memcpy(buf, inner, 32);
    memcpy(buf + 32, salt, 4);
    memcpy(out, "md5", 3);
    md5_hex(buf, 36, out + 3);
    return send_msg(c, 'p', out, 36);
}

/* ---- one connection ---- */

static void release(struct conn *c)
{
    free(c->rbuf);
    c->rbuf = NULL;
    c->rlen = c->rcap = 0;
    free(c->first_bare);
    c->first_bare = NULL;
}

static void start_next(void);

/* finish_login ends the login phase of c, successfully or not. */
static void finish_login(struct conn *c, int ok)
{
    release(c);
    n_inflight--;
    if (ok) {
        c->st = ST_READY;
        n_ok++;
        /* from now on only a close by the server is of interest */
        struct epoll_event ev = { .events = EPOLLRDHUP | EPOLLIN, .data.ptr = c };
        epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
    } else {
        epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
        c->st = ST_DONE;
        n_failed++;
    }
    start_next();
}

/* An ErrorResponse: report its severity, SQLSTATE and message. */
static void report_error(const unsigned char *body, size_t len)
{
    const char *sev = "", *code = "", *msg = "";
    size_t i = 0;
    while (i < len && body[i] != 0) {
        char t = (char)body[i];
        const char *v = (const char *)body + i + 1;
        size_t vl = strnlen(v, len - i - 1);
        if (t == 'S')
            sev = v;
        else if (t == 'C')
            code = v;
        else if (t == 'M')
            msg = v;
        i += vl + 2;
    }
    report("server: %s %s %s", sev, code, msg);
}

/* handle_msg processes one complete message; returns 1 when ReadyForQuery
 * arrived, 0 to go on, -1 on failure. */
static int handle_msg(struct conn *c, char type, const unsigned char *body, size_t len)
{
    uint32_t code;
    switch (type) {
    case 'R':
        if (len < 4)
            return -1;
        code = get32(body);
        switch (code) {
        case 0:         /* AuthenticationOk */
            return 0;
        case 3:         /* cleartext */
            return send_msg(c, 'p', opt_password, strlen(opt_password) + 1);
        case 5:         /* md5 */
            if (len < 8)
                return -1;
            return md5_answer(c, body + 4);
        case 10:        /* SASL: mechanism list */
            for (size_t i = 4; i < len && body[i] != 0;) {
                const char *m = (const char *)body + i;
                if (strcmp(m, "SCRAM-SHA-256") == 0)
                    return scram_start(c);
                i += strnlen(m, len - i) + 1;
            }
            report("server offers no SCRAM-SHA-256");
            return -1;
        case 11:        /* SASLContinue */
            return scram_continue(c, (const char *)body + 4, len - 4);
        case 12:        /* SASLFinal */
            return scram_final(c, (const char *)body + 4, len - 4);
        default:
            report("unsupported authentication request %u", code);
            return -1;
        }
    case 'E':
        report_error(body, len);
        return -1;
    case 'Z':
        return 1;
    default:            /* ParameterStatus, BackendKeyData, NoticeResponse */
        return 0;
    }
}

static void on_readable(struct conn *c)
{
    for (;;) {
        ssize_t r;
        if (c->rcap - c->rlen < 4096) {
            size_t ncap = c->rcap ? c->rcap * 2 : 4096;
            unsigned char *nb;
            if (ncap > RBUF_MAX) {
                report("login reply too long");
                finish_login(c, 0);
                return;
            }
            nb = realloc(c->rbuf, ncap);
            if (nb == NULL) {
                finish_login(c, 0);
                return;
            }
            c->rbuf = nb;
            c->rcap = ncap;
        }
        r = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, 0);
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (r <= 0) {
            report("connection closed during login: %s", r < 0 ? strerror(errno) : "EOF");
            finish_login(c, 0);
            return;
        }
        c->rlen += (size_t)r;
    }
    /* complete messages */
    size_t off = 0;
    while (c->rlen - off >= 5) {
        uint32_t mlen = get32(c->rbuf + off + 1);
        int rc;
        if (mlen < 4 || mlen > RBUF_MAX) {
            report("bad message length %u", mlen);
            finish_login(c, 0);
            return;
        }
        if (c->rlen - off < 1 + (size_t)mlen)
            break;
        rc = handle_msg(c, (char)c->rbuf[off], c->rbuf + off + 5, mlen - 4);
        off += 1 + mlen;
        if (rc != 0) {
            finish_login(c, rc > 0);
            return;
        }
    }
    memmove(c->rbuf, c->rbuf + off, c->rlen - off);
    c->rlen -= off;
}

static void on_connected(struct conn *c)
{
    int err = 0;
    socklen_t el = sizeof(err);
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
    if (err != 0) {
        report("connect: %s", strerror(err));
        finish_login(c, 0);
        return;
    }
    c->st = ST_LOGIN;
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
    if (send_startup(c) != 0)
        finish_login(c, 0);
}

static void start_next(void)
{
    static struct sockaddr_in sa;
    static int sa_ready;

    if (!sa_ready) {
        sa.sin_family = AF_INET;
        sa.sin_port = htons((uint16_t)opt_port);
        if (inet_pton(AF_INET, opt_host, &sa.sin_addr) != 1) {
            fprintf(stderr, "idleconns: -h wants an IPv4 address, not %s\n", opt_host);
            exit(2);
        }
        sa_ready = 1;
    }
    while (n_inflight < opt_inflight && n_started < opt_n) {
        struct conn *c = &conns[n_started++];
        int one = 1;
        c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        n_inflight++;
        if (c->fd < 0) {
            report("socket: %s", strerror(errno));
            c->st = ST_CONNECTING;
            finish_login(c, 0);
            continue;
        }
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c->st = ST_CONNECTING;
        struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
            report("epoll_ctl: %s", strerror(errno));
            finish_login(c, 0);
            continue;
        }
        if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 && errno != EINPROGRESS) {
            report("connect: %s", strerror(errno));
            finish_login(c, 0);
        }
    }
}

static void dispatch(struct epoll_event *ev)
{
    struct conn *c = ev->data.ptr;
    if (c == NULL)
        return;         /* stdin: looked at by the idle loop */
    switch (c->st) {
    case ST_CONNECTING:
        on_connected(c);
        break;
    case ST_LOGIN:
        on_readable(c);
        break;
    case ST_READY: {
        /* anything from an idle server is a notice or its goodbye */
        unsigned char buf[4096];
        ssize_t r = recv(c->fd, buf, sizeof(buf), 0);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
            close(c->fd);
            c->fd = -1;
            c->st = ST_DONE;
            n_closed_later++;
        }
        break;
    }
    default:
        break;
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: idleconns -p PORT [-h HOST] [-U USER] [-d DB] [-w PASSWORD]"
                    " [-n CONNS] [-c INFLIGHT] [-t SECONDS]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    struct rlimit rl;
    struct epoll_event evs[256];
    double t0, deadline;
    int opt;

    while ((opt = getopt(argc, argv, "h:p:U:d:w:n:c:t:")) != -1) {
        switch (opt) {
        case 'h': opt_host = optarg; break;
        case 'p': opt_port = atoi(optarg); break;
        case 'U': opt_user = optarg; break;
        case 'd': opt_db = optarg; break;
        case 'w': opt_password = optarg; break;
        case 'n': opt_n = atoi(optarg); break;
        case 'c': opt_inflight = atoi(optarg); break;
        case 't': opt_timeout = atoi(optarg); break;
        default: usage();
        }
    }
    if (optind != argc || opt_port <= 0 || opt_port > 65535 || opt_n <= 0 ||
        opt_inflight <= 0 || opt_timeout <= 0)
        usage();

    /* one descriptor per connection, plus a few */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)opt_n + 32) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
        if (rl.rlim_cur < (rlim_t)opt_n + 32) {
            fprintf(stderr, "idleconns: %d connections need more than the %llu open files"
                            " allowed (ulimit -n)\n", opt_n, (unsigned long long)rl.rlim_cur);
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    conns = calloc((size_t)opt_n, sizeof(*conns));
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (conns == NULL || epfd < 0) {
        perror("idleconns");
        return 1;
    }

    t0 = now_s();
    deadline = t0 + opt_timeout;
    start_next();
    while (n_ok + n_failed < opt_n && !stop_requested) {
        int n = epoll_wait(epfd, evs, 256, 1000);
        for (int i = 0; i < n; i++)
            dispatch(&evs[i]);
        if (now_s() > deadline) {
            int started = n_started;
            report("%d logins still unfinished after %d s", opt_n - n_ok - n_failed,
                   opt_timeout);
            /* n_started = opt_n keeps finish_login from starting new ones */
            n_failed += opt_n - started;
            n_started = opt_n;
            for (int i = 0; i < started; i++)
                if (conns[i].st == ST_CONNECTING || conns[i].st == ST_LOGIN)
                    finish_login(&conns[i], 0);
        }
    }
    printf("ready %d %d %.1f\npbkdf2 %d\n", n_ok, n_failed, now_s() - t0, n_pbkdf2);
    fflush(stdout);

    /* idle until stdin is closed or a signal arrives; a stdin that cannot be
     * polled (/dev/null, a regular file) leaves only the signal */
    {
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
        (void)epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &ev);
        while (!stop_requested) {
            int n = epoll_wait(epfd, evs, 256, 1000);
            for (int i = 0; i < n; i++) {
                if (evs[i].data.ptr == NULL) {
                    char b[256];
                    ssize_t r = read(0, b, sizeof(b));
                    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
                        stop_requested = 1;
                } else {
                    dispatch(&evs[i]);
                }
            }
        }
    }

    /* goodbye: Terminate, then close */
    for (int i = 0; i < n_started; i++) {
        struct conn *c = &conns[i];
        if (c->st == ST_READY) {
            static const unsigned char term[5] = { 'X', 0, 0, 0, 4 };
            (void)send(c->fd, term, sizeof(term), MSG_NOSIGNAL);
        }
        if (c->fd >= 0)
            close(c->fd);
        release(c);
    }
    printf("closed %d\n", n_closed_later);
    return n_failed == 0 && n_closed_later == 0 ? 0 : 1;
}
