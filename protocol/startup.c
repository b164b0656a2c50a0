/*
 * protocol/startup.c - parsing of startup-phase packets and authentication replies.
 * Strings are returned as pointers into the caller's buffer after checking that each one
 * ends inside it, so no copy and no read past the packet.
 */
#include "protocol/startup.h"

#include <errno.h>
#include <string.h>

#include "protocol/frame.h"
#include "protocol/msg.h"

/* Length of the NUL-terminated string at p within n bytes, or -1 if unterminated. */
static long startup_strlen(const uint8_t *p, size_t n)
{
    const uint8_t *end = memchr(p, 0, n);

    return end == NULL ? -1 : (long)(end - p);
}

int startup_parse(const uint8_t *body, size_t n, struct startup *out)
{
    size_t i = 4;

    memset(out, 0, sizeof(*out));
    if (n < 4)
        return -EPROTO;
    out->version = frame_get32(body);
    switch (out->version) {
    case STARTUP_CODE_CANCEL:
        out->kind = STARTUP_CANCEL;
        if (n != 12)
            return -EPROTO;
        out->cancel_pid = frame_get32(body + 4);
        out->cancel_key = frame_get32(body + 8);
        return 0;
    case STARTUP_CODE_SSL:
        out->kind = STARTUP_SSL;
        return n == 4 ? 0 : -EPROTO;
    case STARTUP_CODE_GSSENC:
        out->kind = STARTUP_GSSENC;
        return n == 4 ? 0 : -EPROTO;
    }
    out->kind = STARTUP_NORMAL;
    if ((out->version >> 16) != 3)
        return -EPROTONOSUPPORT;
    for (;;) {
        long nl, vl;
        const char *name, *value;

        if (i >= n)
            return -EPROTO;     /* the list must end with an empty name */
        nl = startup_strlen(body + i, n - i);
        if (nl < 0)
            return -EPROTO;
        if (nl == 0)
            break;
        name = (const char *)(body + i);
        i += (size_t)nl + 1;
        if (i >= n)
            return -EPROTO;
        vl = startup_strlen(body + i, n - i);
        if (vl < 0)
            return -EPROTO;
        value = (const char *)(body + i);
        i += (size_t)vl + 1;
        if (out->n_params + out->n_pq_options == STARTUP_MAX_PARAMS)
            return -E2BIG;
        if (strncmp(name, "_pq_.", 5) == 0) {
            /* protocol extensions, not settings: reported back as unknown */
            out->pq_options[out->n_pq_options++] = name;
            continue;
        }
        out->params[out->n_params].name = name;
        out->params[out->n_params].value = value;
        out->n_params++;
        if (strcmp(name, "user") == 0)
            out->user = value;
        else if (strcmp(name, "database") == 0)
            out->database = value;
        else if (strcmp(name, "options") == 0)
            out->options = value;
    }
    if (i + 1 != n)
        return -EPROTO;         /* bytes after the terminator */
    if (out->user == NULL || out->user[0] == '\0')
        return -EPROTO;
    if (out->database != NULL && out->database[0] == '\0')
        out->database = NULL;
    return 0;
}

int startup_negotiate(const struct startup *s, struct msgbuf *b)
{
    size_t at;

    if (s->kind != STARTUP_NORMAL || ((s->version & 0xffff) == 0 && s->n_pq_options == 0))
        return 0;
    at = msg_begin(b, 'v');
    msgbuf_put32(b, STARTUP_PROTO_3_0);     /* PostgreSQL's PG_PROTOCOL_LATEST */
    msgbuf_put32(b, (uint32_t)s->n_pq_options);
    for (size_t i = 0; i < s->n_pq_options; i++)
        msgbuf_putstr(b, s->pq_options[i]);
    msg_end(b, at);
    return 1;
}

const char *startup_get(const struct startup *s, const char *name)
{
    /* From the end: a repeated parameter takes its last value, as in PostgreSQL and as
     * user/database/options above, so every reader sees the same user. */
    for (size_t i = s->n_params; i > 0; i--)
        if (strcmp(s->params[i - 1].name, name) == 0)
            return s->params[i - 1].value;
    return NULL;
}

int startup_sasl_initial(const uint8_t *body, size_t n, const char **mech,
                         const uint8_t **data, size_t *data_len)
{
    long ml = startup_strlen(body, n);
    size_t i;
    uint32_t dl;

    if (ml <= 0)
        return -EPROTO;
    *mech = (const char *)body;
    i = (size_t)ml + 1;
    if (n - i < 4)
        return -EPROTO;
    dl = frame_get32(body + i);
    i += 4;
    if (dl == 0xffffffffu) {
        *data = body + i;
        *data_len = 0;
        return i == n ? 0 : -EPROTO;
    }
    if (dl != n - i)
        return -EPROTO;
    *data = body + i;
    *data_len = dl;
    return 0;
}

int startup_password(const uint8_t *body, size_t n, const char **password, size_t *len)
{
    long l = startup_strlen(body, n);

    if (l < 0 || (size_t)l + 1 != n)
        return -EPROTO;
    *password = (const char *)body;
    *len = (size_t)l;
    return 0;
}

int startup_options(const char *opt, startup_option_fn fn, void *arg)
{
    char word[STARTUP_OPTION_WORD + 1];
    int expect_setting = 0;

    while (*opt != '\0') {
        const char *setting = NULL, *eq;
        size_t n = 0;
        int rc;

        while (*opt == ' ' || *opt == '\t')
            opt++;
        if (*opt == '\0')
            break;
        while (*opt != '\0' && *opt != ' ' && *opt != '\t' && n < STARTUP_OPTION_WORD) {
            if (*opt == '\\' && opt[1] != '\0')
                opt++;
            word[n++] = *opt++;
        }
        word[n] = '\0';
        if (expect_setting)
            setting = word;
        else if (strncmp(word, "--", 2) == 0)
            setting = word + 2;
        expect_setting = strcmp(word, "-c") == 0;
        if (setting == NULL)
            continue;
        eq = strchr(setting, '=');
        if (eq == NULL || eq == setting)
            continue;
        rc = fn(arg, setting, (size_t)(eq - setting), eq + 1, strlen(eq + 1));
        if (rc < 0)
            return rc;
    }
    return 0;
}
