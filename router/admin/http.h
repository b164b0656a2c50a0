/*
 * router/admin/http.h - a minimal HTTP/1.x server on a libuv loop for the metrics endpoint: one
 * request per connection (Connection: close), GET or HEAD of one path answered by a
 * render callback, everything else refused (404, 405, 400), a deadline per connection
 * and a cap on connections served at once (the rest wait in the listen backlog).
 */
#ifndef PGROUTER_HTTP_H
#define PGROUTER_HTTP_H

#include <stdint.h>
#include <uv.h>

#define HTTP_MAX_CONNS 32           /* connections served at once */
#define HTTP_REQUEST_TIMEOUT_MS 5000    /* to send the whole request head (then 408) */
#define HTTP_WRITE_TIMEOUT_MS 10000     /* to take the whole answer */
#define HTTP_LINGER_MS 2000         /* after the answer: wait this long for the peer's FIN */

/*
 * Build the body for a GET of the served path: a malloc'd buffer (the server frees it)
 * and its length in *len; NULL when out of memory (the client gets 500).
 */
typedef char *(*http_render_fn)(void *arg, size_t *len);

/* Answers given, by kind (for the server's own metrics). */
enum http_code {
    HTTP_CODE_200 = 0,
    HTTP_CODE_400,
    HTTP_CODE_404,
    HTTP_CODE_405,
    HTTP_CODE_408,
    HTTP_CODE_500,
    HTTP_N_CODES,
};

struct http_conn;

/*
 * The server. http_listen allocates it; it frees itself once http_close has closed every
 * handle. Fields are read-only for callers.
 */
struct http_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    char addr[256];
    uint16_t port;
    char path[64];                  /* the one path served ("/metrics") */
    const char *content_type;
    http_render_fn render;
    void *arg;
    unsigned max_conns;
    unsigned request_timeout_ms;
    unsigned write_timeout_ms;
    unsigned linger_ms;
    struct http_conn *conns;        /* open connections (closing ones included) */
    unsigned n_conns;
    int backlog_waiting;            /* a connection waits for a free slot */
    uv_timer_t retry;               /* accept again after running out of memory */
    int handles;                    /* open: listener and retry */
    int closing;
    uint64_t answers[HTTP_N_CODES];
    char scratch[4096];             /* bytes read after the request head, dropped */
};

/*
 * Listen on addr:port (a numeric address or a name, "0.0.0.0" or "::" for all) on loop and
 * serve GET/HEAD of path with render(arg), answered as content_type. The limits and
 * timeouts take the HTTP_* defaults; a caller may lower them in the returned server
 * before the loop runs (tests do). Returns 0 with *out set, or a negative error (the
 * address cannot be resolved or bound), logged with the address; nothing is left open.
 */
int http_listen(uv_loop_t *loop, const char *addr, uint16_t port, const char *path,
                const char *content_type, http_render_fn render, void *arg,
                struct http_server **out);

/*
 * Stop listening. cut = 1: close every connection now (answers being sent are cut);
 * cut = 0: connections already accepted finish as usual (within their deadlines). The
 * server frees itself from the loop once everything is closed; the caller forgets h now.
 * NULL is ignored.
 */
void http_close(struct http_server *h, int cut);

#endif
