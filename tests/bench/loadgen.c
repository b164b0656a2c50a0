/*
 * tests/bench/loadgen.c - a closed-loop load generator: N connections each log in (trust,
 * cleartext or md5) and send `SELECT 1` again as soon as the previous answer's
 * ReadyForQuery arrives.  One thread, epoll, so it costs little CPU per transaction and
 * the proxy under test stays the bottleneck.  tests/bench/isolated.sh runs it.
 *
 *   loadgen -p PORT [-h 127.0.0.1] [-U user] [-d db] [-w password]
 *           [-c 8] [-T 5] [-W 1] [-M simple|extended|prepared] [-P PID[,PID...]]
 *
 *   -c  connections                -T  seconds measured     -W  seconds of warm-up first
 *   -M  simple: Query; extended: Parse/Bind/Describe/Execute/Sync each time (unnamed);
 *       prepared: Parse once per connection, then Bind/Execute/Sync
 *   -P  processes whose CPU time (utime + stime of /proc/PID/stat, all threads) is read
 *       when the measured window opens and closes; loadgen's own is always read
 *
 * Output, one line on stdout:
 *   tps=T xacts=N seconds=S p50_us=A p99_us=B errors=E conns=C self_us=U [cpu_us=V,W...]
 * self_us and cpu_us are CPU microseconds per transaction (loadgen's, then each -P
 * process's, in -P order); cores busy = cpu_us * tps / 1e6.
 * Latency is from the first byte sent to ReadyForQuery, in microseconds (1 us buckets
 * up to 1 s).  Exit status 0 if every connection logged in and no error arrived,
 * 1 otherwise, 2 on bad usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#define MSG_MAX (1u << 20)
#define LAT_BUCKETS 1000000     /* 1 us each, the last one holds everything slower */

enum lg_mode { MODE_SIMPLE, MODE_EXTENDED, MODE_PREPARED };
enum lg_state { LG_CONNECTING, LG_LOGIN, LG_BUSY, LG_DEAD };

struct lg_opts {
    const char *host, *user, *db, *password;
    int port, conns;
    double seconds, warmup;
    enum lg_mode mode;
    int pids[8];
    int n_pids;
};

struct lg_conn {
    int fd;
    enum lg_state st;
    int prepared;               /* MODE_PREPARED: the statement exists on this connection */
    double sent_at;
    uint8_t *in;
    size_t in_len, in_cap;
};

struct lg_run {
    struct lg_opts o;
    int epfd;
    double measure_from, measure_to;
    unsigned long long xacts, errors;
    uint64_t *lat;
    int n_ready, n_dead;
    double cpu_from[9], cpu_to[9];  /* seconds: loadgen, then each -P process */
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

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

/* Appends a typed message to buf at *n (cap bytes); -1 if it does not fit. */
static int put_msg(uint8_t *buf, size_t cap, size_t *n, char type, const void *body,
                   size_t len)
{
    if (*n + 5 + len > cap)
        return -1;
    buf[*n] = (uint8_t)type;
    put32(buf + *n + 1, (uint32_t)(len + 4));
    memcpy(buf + *n + 5, body, len);
    *n += 5 + len;
    return 0;
}

/* Small messages on a socket with room: a short write means trouble. */
static int send_all(struct lg_conn *c, const void *buf, size_t len)
{
    ssize_t w = send(c->fd, buf, len, MSG_NOSIGNAL);

    return w == (ssize_t)len ? 0 : -1;
}

static int send_startup(const struct lg_run *r, struct lg_conn *c)
{
    uint8_t buf[512];
    size_t n = 8;
    const char *kv[] = { "user", r->o.user, "database", r->o.db,
                         "application_name", "loadgen" };

    put32(buf + 4, 196608);
    for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++) {
        size_t l = strlen(kv[i]) + 1;

        if (n + l + 1 > sizeof(buf))
            return -1;
        memcpy(buf + n, kv[i], l);
        n += l;
    }
    buf[n++] = 0;
    put32(buf, (uint32_t)n);
    return send_all(c, buf, n);
}

static void md5_hex(const void *a, size_t al, const void *b, size_t bl, char out[33])
{
    unsigned char d[16];
    unsigned int dl = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();

    EVP_DigestInit_ex(ctx, EVP_md5(), NULL);
    EVP_DigestUpdate(ctx, a, al);
    EVP_DigestUpdate(ctx, b, bl);
    EVP_DigestFinal_ex(ctx, d, &dl);
    EVP_MD_CTX_free(ctx);
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static int send_password(const struct lg_run *r, struct lg_conn *c, const uint8_t *body,
                         size_t len)
{
    uint8_t buf[256];
    size_t n = 0;
    uint32_t code = get32(body);

    if (code == 3)
        return put_msg(buf, sizeof(buf), &n, 'p', r->o.password,
                       strlen(r->o.password) + 1) < 0 ? -1 : send_all(c, buf, n);
    if (code == 5 && len >= 8) {
        char inner[33], outer[36];

        md5_hex(r->o.password, strlen(r->o.password), r->o.user, strlen(r->o.user), inner);
        memcpy(outer, "md5", 3);
        md5_hex(inner, 32, body + 4, 4, outer + 3);
        return put_msg(buf, sizeof(buf), &n, 'p', outer, 36) < 0 ? -1 : send_all(c, buf, n);
    }
    fprintf(stderr, "loadgen: authentication request %u is not supported "
            "(use trust, password or md5)\n", code);
    return -1;
}

/* One transaction: the statement in the chosen protocol. */
static int send_xact(const struct lg_run *r, struct lg_conn *c)
{
    static const char sql[] = "SELECT 1";
    uint8_t buf[256];
    size_t n = 0;
    int rc = 0;

    switch (r->o.mode) {
    case MODE_SIMPLE:
        rc = put_msg(buf, sizeof(buf), &n, 'Q', sql, sizeof(sql));
        break;
    case MODE_EXTENDED:
    case MODE_PREPARED: {
        const char *name = r->o.mode == MODE_PREPARED ? "lg1" : "";
        uint8_t parse[64], bind[32];
        size_t pl = strlen(name) + 1, bl = 0;

        if (r->o.mode == MODE_EXTENDED || !c->prepared) {
            memcpy(parse, name, pl);
            memcpy(parse + pl, sql, sizeof(sql));
            pl += sizeof(sql);
            parse[pl++] = 0;            /* no parameter types */
            parse[pl++] = 0;
            rc |= put_msg(buf, sizeof(buf), &n, 'P', parse, pl);
            c->prepared = 1;
        }
        bind[bl++] = 0;                 /* unnamed portal */
        memcpy(bind + bl, name, strlen(name) + 1);
        bl += strlen(name) + 1;
        memset(bind + bl, 0, 6);        /* no formats, no parameters, no result formats */
        bl += 6;
        rc |= put_msg(buf, sizeof(buf), &n, 'B', bind, bl);
        if (r->o.mode == MODE_EXTENDED)
            rc |= put_msg(buf, sizeof(buf), &n, 'D', "P", 2);
        rc |= put_msg(buf, sizeof(buf), &n, 'E', "\0\0\0\0", 5);
        rc |= put_msg(buf, sizeof(buf), &n, 'S', "", 0);
        break;
    }
    }
    if (rc != 0)
        return -1;
    c->sent_at = now_s();
    return send_all(c, buf, n);
}

static void conn_kill(struct lg_run *r, struct lg_conn *c, const char *why)
{
    if (c->st == LG_DEAD)
        return;
    if (r->n_dead < 5)
        fprintf(stderr, "loadgen: connection closed: %s\n", why);
    if (c->st == LG_BUSY)
        r->n_ready--;
    c->st = LG_DEAD;
    r->n_dead++;
    epoll_ctl(r->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
}

static void on_ready(struct lg_run *r, struct lg_conn *c)
{
    double t = now_s();

    if (c->st == LG_LOGIN) {
        c->st = LG_BUSY;
        r->n_ready++;
    } else if (t >= r->measure_from && c->sent_at >= r->measure_from && t < r->measure_to) {
        uint64_t us = (uint64_t)((t - c->sent_at) * 1e6);

        r->lat[us < LAT_BUCKETS ? us : LAT_BUCKETS - 1]++;
        r->xacts++;
    }
    if (t < r->measure_to && send_xact(r, c) < 0)
        conn_kill(r, c, "send failed");
}

static void on_message(struct lg_run *r, struct lg_conn *c, char type, const uint8_t *body,
                       size_t len)
{
    switch (type) {
    case 'R':
        if (len < 4)
            conn_kill(r, c, "short authentication message");
        else if (get32(body) != 0 && send_password(r, c, body, len) < 0)
            conn_kill(r, c, "authentication failed");
        break;
    case 'E':
        r->errors++;
        if (r->errors <= 5) {
            const uint8_t *m = memchr(body, 'M', len);

            fprintf(stderr, "loadgen: ErrorResponse: %.*s\n",
                    m != NULL ? (int)strnlen((const char *)m + 1, len - (size_t)(m - body) - 1)
                              : 0, m != NULL ? (const char *)m + 1 : "");
        }
        if (c->st == LG_LOGIN)
            conn_kill(r, c, "login refused");
        break;
    case 'Z':
        on_ready(r, c);
        break;
    default:
        break;
    }
}

static void conn_read(struct lg_run *r, struct lg_conn *c)
{
    for (;;) {
        size_t room, off = 0;
        ssize_t got;

        if (c->in_cap - c->in_len < 4096) {
            size_t cap = c->in_cap ? c->in_cap * 2 : 8192;
            uint8_t *p;

            if (cap > 2 * MSG_MAX || (p = realloc(c->in, cap)) == NULL) {
                conn_kill(r, c, "input too large");
                return;
            }
            c->in = p;
            c->in_cap = cap;
        }
        room = c->in_cap - c->in_len;
        got = recv(c->fd, c->in + c->in_len, room, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (got <= 0) {
            conn_kill(r, c, got == 0 ? "end of file" : strerror(errno));
            return;
        }
        c->in_len += (size_t)got;
        while (c->in_len - off >= 5) {
            uint32_t len = get32(c->in + off + 1);

            if (len < 4 || len > MSG_MAX) {
                conn_kill(r, c, "bad message length");
                return;
            }
            if (c->in_len - off < len + 1)
                break;
            on_message(r, c, (char)c->in[off], c->in + off + 5, len - 4);
            if (c->st == LG_DEAD)
                return;
            off += len + 1;
        }
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
        if ((size_t)got < room)
            return;
    }
}

static int conn_open(struct lg_run *r, struct lg_conn *c)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)r->o.port) };
    int one = 1;

    if (inet_pton(AF_INET, r->o.host, &sa.sin_addr) != 1)
        return -1;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    /* Blocking connect and startup, then non-blocking: logins are not measured. */
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || send_startup(r, c) < 0) {
        fprintf(stderr, "loadgen: %s:%d: %s\n", r->o.host, r->o.port, strerror(errno));
        close(c->fd);
        return -1;
    }
    c->st = LG_LOGIN;
    int fl = fcntl(c->fd, F_GETFL);
    if (fl < 0 || fcntl(c->fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
    return epoll_ctl(r->epfd, EPOLL_CTL_ADD, c->fd, &ev);
}

/* utime + stime of a process in seconds, or -1. */
static double proc_cpu(int pid)
{
    char path[64], buf[1024], *p;
    unsigned long long ut, st;
    FILE *f;
    size_t n;

    if (pid > 0)
        snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    else
        snprintf(path, sizeof(path), "/proc/self/stat");
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    /* the command name may hold blanks and parentheses: fields count from the last ')' */
    p = strrchr(buf, ')');
    if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                            &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static void cpu_sample(const struct lg_run *r, double *out)
{
    out[0] = proc_cpu(0);
    for (int i = 0; i < r->o.n_pids; i++)
        out[i + 1] = proc_cpu(r->o.pids[i]);
}

static uint64_t percentile(const uint64_t *lat, unsigned long long total, double p)
{
    unsigned long long want = (unsigned long long)(p * (double)total), seen = 0;

    if (total == 0)
        return 0;
    if (want >= total)
        want = total - 1;
    for (uint64_t us = 0; us < LAT_BUCKETS; us++) {
        seen += lat[us];
        if (seen > want)
            return us;
    }
    return LAT_BUCKETS - 1;
}

static int parse_args(int argc, char **argv, struct lg_opts *o)
{
    int opt;

    *o = (struct lg_opts){ .host = "127.0.0.1", .user = "app", .db = "appdb",
                           .password = "app", .conns = 8, .seconds = 5, .warmup = 1,
                           .mode = MODE_SIMPLE };
    while ((opt = getopt(argc, argv, "h:p:U:d:w:c:T:W:M:P:")) != -1) {
        switch (opt) {
        case 'P':
            for (char *t = strtok(optarg, ","); t != NULL; t = strtok(NULL, ",")) {
                if (o->n_pids == 8 || atoi(t) <= 0)
                    return -1;
                o->pids[o->n_pids++] = atoi(t);
            }
            break;
        case 'h': o->host = optarg; break;
        case 'p': o->port = atoi(optarg); break;
        case 'U': o->user = optarg; break;
        case 'd': o->db = optarg; break;
        case 'w': o->password = optarg; break;
        case 'c': o->conns = atoi(optarg); break;
        case 'T': o->seconds = atof(optarg); break;
        case 'W': o->warmup = atof(optarg); break;
        case 'M':
            if (strcmp(optarg, "simple") == 0)
                o->mode = MODE_SIMPLE;
            else if (strcmp(optarg, "extended") == 0)
                o->mode = MODE_EXTENDED;
            else if (strcmp(optarg, "prepared") == 0)
                o->mode = MODE_PREPARED;
            else
                return -1;
            break;
        default:
            return -1;
        }
    }
    if (o->port <= 0 || o->port > 65535 || o->conns <= 0 || o->conns > 10000 ||
        !(o->seconds > 0) || o->warmup < 0 || strlen(o->user) > 100 || strlen(o->db) > 100 ||
        strlen(o->password) > 200)
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    struct lg_run r = { .epfd = -1 };
    struct lg_conn *conns;
    struct epoll_event evs[256];
    double start, login_deadline;

    if (parse_args(argc, argv, &r.o) < 0) {
        fprintf(stderr, "usage: loadgen -p PORT [-h 127.0.0.1] [-U app] [-d appdb] [-w app] "
                "[-c 8] [-T 5] [-W 1] [-M simple|extended|prepared] [-P PID,...]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    conns = calloc((size_t)r.o.conns, sizeof(*conns));
    r.lat = calloc(LAT_BUCKETS, sizeof(*r.lat));
    r.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (conns == NULL || r.lat == NULL || r.epfd < 0) {
        perror("loadgen");
        return 1;
    }
    /* Nothing is measured until every connection has logged in. */
    r.measure_from = r.measure_to = 1e300;
    for (int i = 0; i < r.o.conns; i++) {
        if (conn_open(&r, &conns[i]) < 0) {
            conns[i].st = LG_DEAD;
            r.n_dead++;
        }
    }
    start = now_s();
    login_deadline = start + 30;
    int sampled = 0;
    for (;;) {
        double t = now_s();
        int n;

        if (r.measure_from > 1e299 && r.n_ready + r.n_dead == r.o.conns) {
            r.measure_from = t + r.o.warmup;
            r.measure_to = r.measure_from + r.o.seconds;
        }
        if (!sampled && t >= r.measure_from) {
            cpu_sample(&r, r.cpu_from);
            sampled = 1;
        }
        if (t >= r.measure_to || (r.measure_from > 1e299 && t > login_deadline) ||
            r.n_dead == r.o.conns)
            break;
        n = epoll_wait(r.epfd, evs, (int)(sizeof(evs) / sizeof(evs[0])), 100);
        if (n < 0 && errno != EINTR) {
            perror("loadgen: epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++)
            conn_read(&r, evs[i].data.ptr);
    }
    cpu_sample(&r, r.cpu_to);
    /* A polite goodbye, so the proxy logs no abandoned clients. */
    for (int i = 0; i < r.o.conns; i++) {
        if (conns[i].st != LG_DEAD) {
            send(conns[i].fd, "X\0\0\0\4", 5, MSG_NOSIGNAL);
            close(conns[i].fd);
        }
    }
    double secs = r.measure_to < 1e299 ? r.o.seconds : 0;
    printf("tps=%.0f xacts=%llu seconds=%.1f p50_us=%llu p99_us=%llu errors=%llu conns=%d",
           secs > 0 ? (double)r.xacts / secs : 0.0, r.xacts, secs,
           (unsigned long long)percentile(r.lat, r.xacts, 0.50),
           (unsigned long long)percentile(r.lat, r.xacts, 0.99), r.errors,
           r.o.conns - r.n_dead);
    for (int i = 0; i <= r.o.n_pids; i++) {
        double d = r.cpu_to[i] - r.cpu_from[i];
        int ok = sampled && r.xacts > 0 && r.cpu_from[i] >= 0 && r.cpu_to[i] >= 0;

        printf("%s", i == 0 ? " self_us=" : i == 1 ? " cpu_us=" : ",");
        if (ok)
            printf("%.1f", d * 1e6 / (double)r.xacts);
        else
            printf("n/a");
    }
    printf("\n");
    return r.n_dead == 0 && r.errors == 0 && r.xacts > 0 ? 0 : 1;
}
