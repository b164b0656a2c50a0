/*
 * tests/unit/test_http.c - the metrics endpoint's HTTP server on a real loop and real
 * sockets: the server runs on this thread's loop, a client thread with blocking sockets
 * sends requests and checks the answers (status, headers, body, the close after it), the
 * deadline for a slow request, the cap on connections, and that the loop closes cleanly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "router/admin/http.h"

#define BODY "# HELP x y\n# TYPE x gauge\nx 1\n"

struct fixture {
    uv_loop_t loop;
    uv_async_t done;
    struct http_server *h;
    int port;
    int renders;
    int fail_render;
    void (*client)(struct fixture *f);
    pthread_t thread;
};

static char *render(void *arg, size_t *len)
{
    struct fixture *f = arg;

    f->renders++;
    if (f->fail_render)
        return NULL;
    *len = strlen(BODY);
    return strdup(BODY);
}

static void on_done(uv_async_t *a)
{
    struct fixture *f = a->data;

    http_close(f->h, 1);
    uv_close((uv_handle_t *)&f->done, NULL);
}

static void *client_main(void *arg)
{
    struct fixture *f = arg;

    f->client(f);
    uv_async_send(&f->done);
    return NULL;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int dial(struct fixture *f)
{
    struct sockaddr_in sa;
    struct timeval tv = { 10, 0 };
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)f->port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Everything up to the server's close (EOF) into a malloc'd string; NULL on timeout. */
static char *read_to_eof(int fd)
{
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);

    for (;;) {
        ssize_t r = recv(fd, buf + n, cap - n - 1, 0);

        if (r == 0)
            break;
        if (r < 0) {
            free(buf);
            return NULL;
        }
        n += (size_t)r;
        if (n + 1 == cap) {
            free(buf);
            return NULL;
        }
    }
    buf[n] = '\0';
    return buf;
}

/* Send req on a new connection and return the whole answer (the server must close). */
static char *exchange(struct fixture *f, const char *req, size_t len)
{
    int fd = dial(f);
    char *answer;

    if (fd < 0 || send_all(fd, req, len) < 0) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    answer = read_to_eof(fd);
    close(fd);
    return answer;
}

static void run(struct fixture *f, void (*client)(struct fixture *f), unsigned timeout_ms,
                unsigned max_conns)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);

    assert_int_equal(uv_loop_init(&f->loop), 0);
    assert_int_equal(http_listen(&f->loop, "127.0.0.1", 0, "/metrics",
                                 "text/plain; version=0.0.4", render, f, &f->h), 0);
    if (timeout_ms != 0)
        f->h->request_timeout_ms = timeout_ms;
    if (max_conns != 0)
        f->h->max_conns = max_conns;
    f->h->linger_ms = 100;
    assert_int_equal(uv_tcp_getsockname(&f->h->listener, (struct sockaddr *)&ss, &len), 0);
    f->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    assert_int_equal(uv_async_init(&f->loop, &f->done, on_done), 0);
    f->done.data = f;
    f->client = client;
    assert_int_equal(pthread_create(&f->thread, NULL, client_main, f), 0);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    pthread_join(f->thread, NULL);
    assert_int_equal(uv_loop_close(&f->loop), 0);
}

/* The client thread's verdicts, checked on the main thread after the loop ends. */
static char *answers[8];
static double seconds[8];

static void reset_answers(void)
{
    for (size_t i = 0; i < 8; i++) {
        free(answers[i]);
        answers[i] = NULL;
        seconds[i] = 0;
    }
}

static void client_basic(struct fixture *f)
{
    static const char get[] = "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n";

    answers[0] = exchange(f, get, sizeof(get) - 1);
    answers[1] = exchange(f, "HEAD /metrics?a=b HTTP/1.0\r\n\r\n", 30);
    answers[2] = exchange(f, "GET / HTTP/1.1\r\n\r\n", 18);
    answers[3] = exchange(f, "POST /metrics HTTP/1.1\r\nContent-Length: 2\r\n\r\nab", 47);
    answers[4] = exchange(f, "\x16\x03\x01\x00\x05hello", 10);
    /* FIN before the head is whole */
    {
        int fd = dial(f);

        if (fd >= 0) {
            send_all(fd, "GET /metrics HTTP/1.1\r\n", 23);
            shutdown(fd, SHUT_WR);
            answers[5] = read_to_eof(fd);
            close(fd);
        }
    }
}

static void test_http_answers_get_head_and_refusals(void **state)
{
    struct fixture f = { 0 };
    char want[256];

    (void)state;
    reset_answers();
    run(&f, client_basic, 0, 0);
    snprintf(want, sizeof(want), "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
             "Content-Length: %zu\r\n", strlen(BODY));
    assert_non_null(answers[0]);
    assert_memory_equal(answers[0], want, strlen(want));
    assert_non_null(strstr(answers[0], "\r\nConnection: close\r\n"));
    assert_non_null(strstr(answers[0], "\r\nDate: "));
    assert_string_equal(strstr(answers[0], "\r\n\r\n") + 4, BODY);
    /* HEAD: the same length announced, no body */
    assert_non_null(answers[1]);
    assert_memory_equal(answers[1], want, strlen(want));
    assert_string_equal(strstr(answers[1], "\r\n\r\n") + 4, "");
    assert_int_equal(f.renders, 2);
    assert_non_null(answers[2]);
    assert_memory_equal(answers[2], "HTTP/1.1 404 Not Found\r\n", 24);
    assert_non_null(answers[3]);
    assert_memory_equal(answers[3], "HTTP/1.1 405 Method Not Allowed\r\n", 33);
    assert_non_null(strstr(answers[3], "\r\nAllow: GET, HEAD\r\n"));
    assert_non_null(answers[4]);
    assert_memory_equal(answers[4], "HTTP/1.1 400 Bad Request\r\n", 26);
    assert_non_null(answers[5]);
    assert_memory_equal(answers[5], "HTTP/1.1 400 Bad Request\r\n", 26);
    reset_answers();
}

static void client_too_long(struct fixture *f)
{
    size_t n = 64 * 1024;
    char *req = malloc(n);
    int fd = dial(f);

    memset(req, 'a', n);
    memcpy(req, "GET /metrics HTTP/1.1\r\nX-Long: ", 31);
    /* the server answers after 8 KiB; the rest may or may not be taken */
    if (fd >= 0) {
        send_all(fd, req, n);
        answers[0] = read_to_eof(fd);
        close(fd);
    }
    free(req);
}

static void test_http_too_long_request_gets_400_and_close(void **state)
{
    struct fixture f = { 0 };

    (void)state;
    reset_answers();
    run(&f, client_too_long, 0, 0);
    assert_non_null(answers[0]);
    assert_memory_equal(answers[0], "HTTP/1.1 400 Bad Request\r\n", 26);
    assert_int_equal(f.renders, 0);
    reset_answers();
}

static void client_slow(struct fixture *f)
{
    int fd = dial(f);
    double t0 = now_s();

    if (fd >= 0) {
        send_all(fd, "GET /metr", 9);
        answers[0] = read_to_eof(fd);
        seconds[0] = now_s() - t0;
        close(fd);
    }
}

static void test_http_slow_request_gets_408_after_the_deadline(void **state)
{
    struct fixture f = { 0 };

    (void)state;
    reset_answers();
    run(&f, client_slow, 300, 0);
    assert_non_null(answers[0]);
    assert_memory_equal(answers[0], "HTTP/1.1 408 Request Timeout\r\n", 30);
    assert_true(seconds[0] >= 0.29);
    reset_answers();
}

/*
 * Two connections that send nothing fill a cap of 2; a third one's request is answered only
 * after the deadline frees a slot.
 */
static void client_capped(struct fixture *f)
{
    static const char get[] = "GET /metrics HTTP/1.1\r\n\r\n";
    int a = dial(f), b = dial(f), c = dial(f);
    double t0 = now_s();

    if (a < 0 || b < 0 || c < 0)
        return;
    send_all(c, get, sizeof(get) - 1);
    answers[2] = read_to_eof(c);
    seconds[2] = now_s() - t0;
    answers[0] = read_to_eof(a);
    answers[1] = read_to_eof(b);
    close(a);
    close(b);
    close(c);
}

static void test_http_caps_connections_and_keeps_the_rest_waiting(void **state)
{
    struct fixture f = { 0 };

    (void)state;
    reset_answers();
    run(&f, client_capped, 400, 2);
    assert_non_null(answers[0]);
    assert_non_null(answers[1]);
    assert_non_null(answers[2]);
    assert_memory_equal(answers[0], "HTTP/1.1 408 ", 13);
    assert_memory_equal(answers[1], "HTTP/1.1 408 ", 13);
    assert_memory_equal(answers[2], "HTTP/1.1 200 OK\r\n", 17);
    assert_true(seconds[2] >= 0.39);
    reset_answers();
}

static void client_one(struct fixture *f)
{
    answers[0] = exchange(f, "GET /metrics HTTP/1.1\r\n\r\n", 25);
}

static void test_http_render_failure_is_500(void **state)
{
    struct fixture f = { 0 };

    (void)state;
    reset_answers();
    f.fail_render = 1;
    run(&f, client_one, 0, 0);
    assert_non_null(answers[0]);
    assert_memory_equal(answers[0], "HTTP/1.1 500 Internal Server Error\r\n", 36);
    reset_answers();
}

static void test_http_listen_on_a_taken_port_fails_cleanly(void **state)
{
    uv_loop_t loop;
    struct http_server *a = NULL, *b = NULL;
    struct sockaddr_storage ss;
    int len = sizeof(ss);

    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(http_listen(&loop, "127.0.0.1", 0, "/metrics", "text/plain", render, NULL,
                                 &a), 0);
    assert_int_equal(uv_tcp_getsockname(&a->listener, (struct sockaddr *)&ss, &len), 0);
    assert_int_equal(http_listen(&loop, "127.0.0.1", ntohs(((struct sockaddr_in *)&ss)->sin_port),
                                 "/metrics", "text/plain", render, NULL, &b), UV_EADDRINUSE);
    assert_null(b);
    http_close(a, 1);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_answers_get_head_and_refusals),
        cmocka_unit_test(test_http_too_long_request_gets_400_and_close),
        cmocka_unit_test(test_http_slow_request_gets_408_after_the_deadline),
        cmocka_unit_test(test_http_caps_connections_and_keeps_the_rest_waiting),
        cmocka_unit_test(test_http_render_failure_is_500),
        cmocka_unit_test(test_http_listen_on_a_taken_port_fails_cleanly),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
