/*
 * router/admin/httpreq.h - the head of an HTTP/1.0 or 1.1 request (request line and headers),
 * parsed from bytes received so far, for the metrics endpoint. Pure: no sockets, no
 * allocation; the result points into the caller's buffer. Bodies, chunked encoding and
 * keep-alive are not supported: the endpoint answers one request and closes.
 */
#ifndef PGROUTER_HTTPREQ_H
#define PGROUTER_HTTPREQ_H

#include <stddef.h>

#define HTTPREQ_MAX 8192        /* largest request head accepted (request line + headers) */

enum httpreq_rc {
    HTTPREQ_OK = 0,         /* a whole head: *out is filled */
    HTTPREQ_AGAIN,          /* everything so far is well-formed; need more bytes */
    HTTPREQ_BAD,            /* malformed (answer 400) */
    HTTPREQ_TOO_LONG,       /* no end of head within the limit (answer 400) */
};

enum httpreq_method {
    HTTPREQ_GET = 0,
    HTTPREQ_HEAD,
    HTTPREQ_OTHER,          /* a well-formed method we do not serve (answer 405) */
};

struct httpreq {
    enum httpreq_method method;
    const char *path;       /* the target up to '?' or '#': starts with '/' */
    size_t path_len;
    int minor;              /* HTTP/1.minor: 0 or 1 */
    size_t head_len;        /* bytes of the head, up to and including its empty line */
    unsigned n_headers;
};

/*
 * Parse the request head at the start of buf[0..n). max: the largest head accepted (at
 * most HTTPREQ_MAX is sensible; 0 means HTTPREQ_MAX). Lines end in CRLF or a bare LF.
 * The request line is METHOD SP TARGET SP HTTP/1.x, with the method a token, the target in
 * origin form ("/path?query": visible ASCII only) and no other version; each header is
 * `name: value` with a token name and a value of visible characters, blanks and bytes
 * 0x80-0xff; folded continuation lines, control characters and NUL are refused. A line
 * already complete is judged at once, so garbage is refused before the head is whole.
 * Returns HTTPREQ_OK (*out filled, head_len <= n and <= max), HTTPREQ_AGAIN (every
 * complete line is valid, the partial one holds no control character but a final CR, and
 * fewer than max bytes came), HTTPREQ_BAD or HTTPREQ_TOO_LONG. *out is written only on
 * HTTPREQ_OK. Bytes after the head (a body, a second request) are not looked at.
 */
enum httpreq_rc httpreq_parse(const char *buf, size_t n, size_t max, struct httpreq *out);

#endif
