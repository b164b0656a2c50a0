/*
 * tests/fuzz/fuzz_startup.c - libFuzzer harness for the startup phase: frame_startup then
 * startup_parse on the framed body, and startup_parse, startup_sasl_initial and
 * startup_password on the raw input. Every string handed back must end inside its input.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/frame.h"
#include "protocol/msg.h"
#include "protocol/startup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A parser invariant broke: crash so libFuzzer keeps the input. */
static void check(int ok)
{
    if (!ok)
        abort();
}

/* s lies inside body[0..n) and its NUL does too. */
static void check_string(const char *s, const uint8_t *body, size_t n)
{
    const uint8_t *u = (const uint8_t *)s;

    check(u >= body && u < body + n);
    check(memchr(u, 0, (size_t)(body + n - u)) != NULL);
}

static void check_startup(const uint8_t *body, size_t n)
{
    struct startup s;
    int rc = startup_parse(body, n, &s);

    check(rc == 0 || rc == -EPROTO || rc == -E2BIG || rc == -EPROTONOSUPPORT);
    check(s.n_params <= STARTUP_MAX_PARAMS);
    if (rc != 0)
        return;
    switch (s.kind) {
    case STARTUP_SSL:
    case STARTUP_GSSENC:
        check(n == 4);
        return;
    case STARTUP_CANCEL:
        check(n == 12 && s.cancel_pid == frame_get32(body + 4));
        return;
    case STARTUP_NORMAL:
        break;
    }
    check((s.version >> 16) == 3);
    check(s.user != NULL && s.user[0] != '\0');
    check_string(s.user, body, n);
    for (size_t i = 0; i < s.n_params; i++) {
        check_string(s.params[i].name, body, n);
        check_string(s.params[i].value, body, n);
        check(s.params[i].name[0] != '\0');
    }
    /* The named fields and startup_get agree, whatever is repeated. */
    check(startup_get(&s, "user") == s.user);
    check(s.database == NULL || startup_get(&s, "database") == s.database);
    check(startup_get(&s, "options") == s.options);
    /* _pq_. options: inside the packet, and NegotiateProtocolVersion lists each one */
    struct msgbuf b;
    size_t want = 1 + 4 + 4 + 4;

    check(s.n_params + s.n_pq_options <= STARTUP_MAX_PARAMS);
    for (size_t i = 0; i < s.n_pq_options; i++) {
        check_string(s.pq_options[i], body, n);
        check(strncmp(s.pq_options[i], "_pq_.", 5) == 0);
        want += strlen(s.pq_options[i]) + 1;
    }
    msgbuf_init(&b);
    if (startup_negotiate(&s, &b) == 1)
        check(!b.oom && b.len == want && b.data[0] == 'v');
    else
        check(b.len == 0 && (s.version & 0xffff) == 0 && s.n_pq_options == 0);
    msgbuf_free(&b);
}

static void check_sasl_initial(const uint8_t *body, size_t n)
{
    const char *mech;
    const uint8_t *d;
    size_t dl;

    if (startup_sasl_initial(body, n, &mech, &d, &dl) != 0)
        return;
    check_string(mech, body, n);
    check(mech[0] != '\0');
    check(d >= body && d <= body + n && dl <= (size_t)(body + n - d));
    check(d + dl == body + n);
}

static void check_password(const uint8_t *body, size_t n)
{
    const char *pw;
    size_t len;

    if (startup_password(body, n, &pw, &len) != 0)
        return;
    check((const uint8_t *)pw == body && len + 1 == n && pw[len] == '\0');
    check(strlen(pw) == len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct frame f;
    enum frame_rc rc = frame_startup(data, size, &f);

    if (rc == FRAME_OK) {
        uint8_t *body;

        check(f.type == 0 && f.len >= 8 && f.len <= FRAME_STARTUP_MAX && f.len <= size);
        check(f.len == frame_get32(data) && f.body == data + 4 && f.body_len == f.len - 4);
        /* An exact copy: the packet may be followed by more input the parser must not see. */
        body = malloc(f.body_len);
        if (body != NULL) {
            memcpy(body, f.body, f.body_len);
            check_startup(body, f.body_len);
            free(body);
        }
    } else if (rc == FRAME_AGAIN) {
        check(f.body == NULL && (size < 4 ? !f.have_header : f.len > size));
    } else {
        check(size >= 4 && (frame_get32(data) < 8 || frame_get32(data) > FRAME_STARTUP_MAX));
    }
    /* The raw input as a body too: reaches parser states a valid length field would hide. */
    check_startup(data, size);
    check_sasl_initial(data, size);
    check_password(data, size);
    return 0;
}
