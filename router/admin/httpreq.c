/*
 * router/admin/httpreq.c - parses the head of an HTTP/1.x request (request line and header
 * lines, RFC 9112's grammar, strictly) from a byte buffer. No I/O, no allocation.
 */
#include "router/admin/httpreq.h"

#include <string.h>

/* RFC 9110 tchar: the characters of a method or a header name. */
static int httpreq_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* A byte of a header value: visible ASCII, blank, or obs-text (0x80-0xff). */
static int httpreq_value_char(unsigned char c)
{
    return c == ' ' || c == '\t' || (c >= 0x21 && c <= 0x7e) || c >= 0x80;
}

/* A byte no line of a head may hold before its CR LF: a control character or DEL. */
static int httpreq_never(unsigned char c)
{
    return (c < 0x20 && c != '\t') || c == 0x7f;
}

/* "METHOD SP TARGET SP HTTP/1.x" in line[0..len) (line end removed) into r. */
static int httpreq_request_line(const char *line, size_t len, struct httpreq *r)
{
    static const char version[] = "HTTP/1.";
    const size_t vlen = sizeof(version) - 1;
    size_t m = 0, t, tend;

    while (m < len && httpreq_tchar((unsigned char)line[m]))
        m++;
    if (m == 0 || m == len || line[m] != ' ')
        return -1;
    t = m + 1;
    tend = t;
    while (tend < len && (unsigned char)line[tend] >= 0x21 && (unsigned char)line[tend] <= 0x7e)
        tend++;
    if (tend == t || tend == len || line[tend] != ' ' || line[t] != '/')
        return -1;
    if (len - (tend + 1) != vlen + 1 || memcmp(line + tend + 1, version, vlen) != 0)
        return -1;
    switch (line[len - 1]) {
    case '0':
        r->minor = 0;
        break;
    case '1':
        r->minor = 1;
        break;
    default:
        return -1;
    }
    if (m == 3 && memcmp(line, "GET", 3) == 0)
        r->method = HTTPREQ_GET;
    else if (m == 4 && memcmp(line, "HEAD", 4) == 0)
        r->method = HTTPREQ_HEAD;
    else
        r->method = HTTPREQ_OTHER;
    r->path = line + t;
    r->path_len = 0;
    while (t + r->path_len < tend && line[t + r->path_len] != '?' &&
           line[t + r->path_len] != '#')
        r->path_len++;
    return 0;
}

/* "name: value" in line[0..len): a token, a colon at once, then value characters. */
static int httpreq_header_line(const char *line, size_t len)
{
    size_t i = 0;

    while (i < len && httpreq_tchar((unsigned char)line[i]))
        i++;
    if (i == 0 || i == len || line[i] != ':')
        return -1;
    for (i++; i < len; i++)
        if (!httpreq_value_char((unsigned char)line[i]))
            return -1;
    return 0;
}

enum httpreq_rc httpreq_parse(const char *buf, size_t n, size_t max, struct httpreq *out)
{
    size_t limit = max == 0 ? HTTPREQ_MAX : max;
    size_t scan = n < limit ? n : limit;
    size_t pos = 0;
    struct httpreq r;

    memset(&r, 0, sizeof(r));
    for (;;) {
        const char *nl = memchr(buf + pos, '\n', scan - pos);
        size_t len;

        if (nl == NULL) {
            /* The partial line: refuse what no line may hold; a CR only as its last byte. */
            for (size_t i = pos; i < scan; i++)
                if (httpreq_never((unsigned char)buf[i]) && !(buf[i] == '\r' && i + 1 == scan))
                    return HTTPREQ_BAD;
            return scan >= limit ? HTTPREQ_TOO_LONG : HTTPREQ_AGAIN;
        }
        len = (size_t)(nl - (buf + pos));
        if (len > 0 && buf[pos + len - 1] == '\r')
            len--;
        for (size_t i = pos; i < pos + len; i++)
            if (httpreq_never((unsigned char)buf[i]))
                return HTTPREQ_BAD;
        if (pos == 0) {
            if (httpreq_request_line(buf, len, &r) < 0)
                return HTTPREQ_BAD;
        } else if (len == 0) {
            r.head_len = (size_t)(nl - buf) + 1;
            *out = r;
            return HTTPREQ_OK;
        } else {
            /* a line starting with a blank would fold into the previous one: refused */
            if (httpreq_header_line(buf + pos, len) < 0)
                return HTTPREQ_BAD;
            r.n_headers++;
        }
        pos = (size_t)(nl - buf) + 1;
    }
}
