/*
 * config/hba.c - parses the auth_hba_file (pg_hba.conf format, PgBouncer's subset) into
 * struct hba rules and matches a client against them, first match wins. Everything the
 * subset lacks (include files, +group, regular expressions, host names, peer/ident/ldap...,
 * authentication options) is an error at its line, never silently skipped: a rule read
 * differently from what its author meant would let the wrong people in.
 */
#include "config/hba.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HBA_MSG_MAX 512
#define HBA_MAX_FIELDS 16
#define HBA_MAX_ITEMS 1024         /* names in one record */

/* One token of a record: a name (quotes removed) and whether any of it was quoted. */
struct hba_item {
    const char *s;
    int quoted;
    int field;
};

struct hba_parse {
    hba_error_fn on_error;
    void *arg;
    struct hba *h;
    size_t cap;
    int failed;
    int oom;
    int line;                   /* first physical line of the record being parsed */
    char buf[HBA_MAX_LINE + 1]; /* the record, continuation lines joined */
    size_t len;
    char toks[HBA_MAX_LINE * 2 + 2];    /* item texts, NUL-terminated each */
    struct hba_item items[HBA_MAX_ITEMS];
    size_t n_items;
    size_t field_start[HBA_MAX_FIELDS + 1];
    size_t n_fields;
};

__attribute__((format(printf, 2, 3)))
static void hba_error(struct hba_parse *hp, const char *fmt, ...)
{
    char msg[HBA_MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    hp->failed = 1;
    if (hp->on_error != NULL)
        hp->on_error(hp->arg, hp->line, msg);
}

/* Split hp->buf into fields of comma-separated items. 0, or -1 after reporting. */
static int hba_tokenize(struct hba_parse *hp)
{
    const char *p = hp->buf, *end = hp->buf + hp->len;
    char *w = hp->toks;
    int more = 0;               /* the last item ended with a comma */

    hp->n_items = 0;
    hp->n_fields = 0;
    for (;;) {
        struct hba_item *it;
        int in_quote = 0, quoted = 0, comma = 0;
        char *start;

        while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
            p++;
        if (p == end || *p == '#')
            break;
        if (hp->n_items == HBA_MAX_ITEMS) {
            hba_error(hp, "too many names in one record (at most %d)", HBA_MAX_ITEMS);
            return -1;
        }
        if (!more) {
            if (hp->n_fields == HBA_MAX_FIELDS) {
                hba_error(hp, "too many fields (at most %d)", HBA_MAX_FIELDS);
                return -1;
            }
            hp->field_start[hp->n_fields++] = hp->n_items;
        }
        start = w;
        while (p < end) {
            char c = *p;

            if (c == '"') {
                in_quote = !in_quote;
                quoted = 1;
                p++;
                continue;
            }
            if (!in_quote && (c == ' ' || c == '\t' || c == '\r' || c == '#'))
                break;
            if (!in_quote && c == ',') {
                comma = 1;
                p++;
                break;
            }
            *w++ = c;
            p++;
        }
        *w++ = '\0';
        if (in_quote) {
            hba_error(hp, "unterminated quoted string");
            return -1;
        }
        if (start[0] == '\0' && !quoted) {
            hba_error(hp, "empty name in a comma-separated list");
            return -1;
        }
        it = &hp->items[hp->n_items++];
        it->s = start;
        it->quoted = quoted;
        it->field = (int)hp->n_fields - 1;
        more = comma;
    }
    if (more) {
        hba_error(hp, "a comma-separated list ends with a comma");
        return -1;
    }
    hp->field_start[hp->n_fields] = hp->n_items;
    return 0;
}

static size_t hba_field_len(const struct hba_parse *hp, size_t f)
{
    return hp->field_start[f + 1] - hp->field_start[f];
}

static const struct hba_item *hba_field(const struct hba_parse *hp, size_t f)
{
    return &hp->items[hp->field_start[f]];
}

/* The field's one unquoted word, or NULL after reporting that it is a list. */
static const char *hba_single(struct hba_parse *hp, size_t f, const char *what)
{
    if (hba_field_len(hp, f) != 1) {
        hba_error(hp, "%s: a list is not allowed here", what);
        return NULL;
    }
    return hba_field(hp, f)->s;
}

/* The database (is_db) or user column. 0, -1 after reporting, -ENOMEM. */
static int hba_names(struct hba_parse *hp, size_t f, int is_db, struct hba_names *out)
{
    const char *what = is_db ? "database" : "user";
    size_t n = hba_field_len(hp, f);
    const struct hba_item *it = hba_field(hp, f);

    out->names = calloc(n, sizeof(*out->names));
    if (out->names == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const char *s = it[i].s;

        if (!it[i].quoted) {
            if (strcmp(s, "all") == 0) {
                out->all = 1;
                continue;
            }
            if (is_db && strcmp(s, "sameuser") == 0) {
                out->sameuser = 1;
                continue;
            }
            if ((is_db && (strcmp(s, "samerole") == 0 || strcmp(s, "samegroup") == 0 ||
                           strcmp(s, "replication") == 0)) ||
                (!is_db && s[0] == '+')) {
                hba_error(hp, "%s \"%s\": group membership and replication are not "
                          "supported by pgrouter", what, s);
                return -1;
            }
            if (s[0] == '@') {
                hba_error(hp, "%s \"%s\": included files are not supported by pgrouter",
                          what, s);
                return -1;
            }
            if (s[0] == '/') {
                hba_error(hp, "%s \"%s\": regular expressions are not supported by pgrouter",
                          what, s);
                return -1;
            }
        }
        if (strlen(s) > HBA_MAX_NAME) {
            hba_error(hp, "%s name \"%.20s...\" is longer than %d bytes", what, s,
                      HBA_MAX_NAME);
            return -1;
        }
        if (s[0] == '\0') {
            hba_error(hp, "empty %s name", what);
            return -1;
        }
        out->names[out->n] = strdup(s);
        if (out->names[out->n] == NULL)
            return -ENOMEM;
        out->n++;
    }
    return 0;
}

/* Parse an IPv4 or IPv6 literal: its family (4, 6) or 0. */
static int hba_ip(const char *s, uint8_t addr[16])
{
    memset(addr, 0, 16);
    if (inet_pton(AF_INET, s, addr) == 1)
        return 4;
    if (inet_pton(AF_INET6, s, addr) == 1)
        return 6;
    return 0;
}

static void hba_prefix_mask(int bits, uint8_t mask[16])
{
    memset(mask, 0, 16);
    for (int i = 0; i < bits; i++)
        mask[i / 8] |= (uint8_t)(0x80u >> (i % 8));
}

/*
 * The address column at field *f ("all", CIDR, or an address followed by a mask in the
 * next field, which *f then skips). 0 or -1 after reporting.
 */
static int hba_address(struct hba_parse *hp, size_t *f, struct hba_rule *r)
{
    const char *s = hba_single(hp, *f, "address");
    char text[64];
    const char *slash;
    int bytes;

    if (s == NULL)
        return -1;
    if (strcmp(s, "all") == 0 && !hba_field(hp, *f)->quoted) {
        r->any_addr = 1;
        return 0;
    }
    if (strcmp(s, "samehost") == 0 || strcmp(s, "samenet") == 0) {
        hba_error(hp, "address \"%s\" is not supported by pgrouter", s);
        return -1;
    }
    slash = strchr(s, '/');
    if (strlen(s) >= sizeof(text)) {
        hba_error(hp, "invalid IP address \"%.40s...\"", s);
        return -1;
    }
    memcpy(text, s, strlen(s) + 1);
    if (slash != NULL)
        text[slash - s] = '\0';
    r->family = hba_ip(text, r->addr);
    if (r->family == 0) {
        if (slash == NULL && strchr(s, ':') == NULL && strspn(s, "0123456789.") != strlen(s))
            hba_error(hp, "address \"%s\": host names are not supported by pgrouter; "
                      "give an IP address with a CIDR mask", s);
        else
            hba_error(hp, "invalid IP address \"%s\"", text);
        return -1;
    }
    bytes = r->family == 4 ? 4 : 16;
    if (slash != NULL) {
        char *endp;
        long bits = strtol(slash + 1, &endp, 10);

        if (slash[1] < '0' || slash[1] > '9' || *endp != '\0' || bits < 0 ||
            bits > bytes * 8) {
            hba_error(hp, "invalid CIDR mask in address \"%s\"", s);
            return -1;
        }
        hba_prefix_mask((int)bits, r->mask);
    } else {
        const char *m;
        uint8_t mask[16];

        if (*f + 1 >= hp->n_fields) {
            hba_error(hp, "end-of-line before netmask specification (or give the address "
                      "as CIDR, \"%s/%d\")", s, bytes * 8);
            return -1;
        }
        (*f)++;
        m = hba_single(hp, *f, "netmask");
        if (m == NULL)
            return -1;
        if (hba_ip(m, mask) != r->family) {
            hba_error(hp, "invalid IP mask \"%s\" for address \"%s\"", m, s);
            return -1;
        }
        memcpy(r->mask, mask, 16);
    }
    for (int i = 0; i < 16; i++)
        r->addr[i] &= r->mask[i];
    return 0;
}

static int hba_method(struct hba_parse *hp, size_t f, struct hba_rule *r)
{
    static const char *const unsupported[] = {
        "password", "peer", "ident", "ldap", "radius", "pam", "bsd", "gss", "sspi",
    };
    const char *s = hba_single(hp, f, "authentication method");

    if (s == NULL)
        return -1;
    if (strcmp(s, "trust") == 0)
        r->method = HBA_TRUST;
    else if (strcmp(s, "reject") == 0)
        r->method = HBA_REJECT;
    else if (strcmp(s, "md5") == 0)
        r->method = HBA_MD5;
    else if (strcmp(s, "scram-sha-256") == 0)
        r->method = HBA_SCRAM;
    else if (strcmp(s, "cert") == 0)
        r->method = HBA_CERT;
    else {
        for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++) {
            if (strcmp(s, unsupported[i]) == 0) {
                hba_error(hp, "authentication method \"%s\" is not supported by pgrouter "
                          "(trust, reject, md5, scram-sha-256, cert)", s);
                return -1;
            }
        }
        hba_error(hp, "invalid authentication method \"%s\"", s);
        return -1;
    }
    if (r->method == HBA_CERT && r->conn != HBA_HOSTSSL) {
        hba_error(hp, "cert authentication is only supported on hostssl lines");
        return -1;
    }
    if (f + 1 < hp->n_fields) {
        hba_error(hp, "authentication option \"%s\" is not supported by pgrouter",
                  hba_field(hp, f + 1)->s);
        return -1;
    }
    return 0;
}

static void hba_free_names(struct hba_names *n)
{
    for (size_t i = 0; i < n->n; i++)
        free(n->names[i]);
    free(n->names);
}

static void hba_free_rule(struct hba_rule *r)
{
    hba_free_names(&r->dbs);
    hba_free_names(&r->users);
}

/* Turn the tokenized record into a rule appended to hp->h. */
static void hba_record(struct hba_parse *hp)
{
    struct hba_rule r;
    const char *type;
    size_t f = 0;
    int rc;

    memset(&r, 0, sizeof(r));
    r.line = hp->line;
    type = hba_single(hp, 0, "connection type");
    if (type == NULL)
        return;
    if (strcmp(type, "local") == 0)
        r.conn = HBA_LOCAL;
    else if (strcmp(type, "host") == 0)
        r.conn = HBA_HOST;
    else if (strcmp(type, "hostssl") == 0)
        r.conn = HBA_HOSTSSL;
    else if (strcmp(type, "hostnossl") == 0)
        r.conn = HBA_HOSTNOSSL;
    else if (strcmp(type, "hostgssenc") == 0 || strcmp(type, "hostnogssenc") == 0) {
        hba_error(hp, "connection type \"%s\" is not supported by pgrouter", type);
        return;
    } else if (type[0] == '@' || strcmp(type, "include") == 0 ||
               strcmp(type, "include_if_exists") == 0 || strcmp(type, "include_dir") == 0) {
        hba_error(hp, "included files are not supported by pgrouter");
        return;
    } else {
        hba_error(hp, "invalid connection type \"%s\"", type);
        return;
    }
    if (++f >= hp->n_fields) {
        hba_error(hp, "end-of-line before database specification");
        return;
    }
    rc = hba_names(hp, f, 1, &r.dbs);
    if (rc == 0 && ++f >= hp->n_fields) {
        hba_error(hp, "end-of-line before role specification");
        rc = -1;
    }
    if (rc == 0)
        rc = hba_names(hp, f, 0, &r.users);
    if (rc == 0 && r.conn != HBA_LOCAL) {
        if (++f >= hp->n_fields) {
            hba_error(hp, "end-of-line before IP address specification");
            rc = -1;
        } else {
            rc = hba_address(hp, &f, &r);
        }
    } else if (rc == 0) {
        r.any_addr = 1;
    }
    if (rc == 0 && ++f >= hp->n_fields) {
        hba_error(hp, "end-of-line before authentication method");
        rc = -1;
    }
    if (rc == 0)
        rc = hba_method(hp, f, &r);
    if (rc == 0 && hp->h->n == HBA_MAX_RULES) {
        hba_error(hp, "too many rules (at most %d)", HBA_MAX_RULES);
        rc = -1;
    }
    if (rc == 0 && hp->h->n == hp->cap) {
        size_t cap = hp->cap ? hp->cap * 2 : 16;
        struct hba_rule *v = realloc(hp->h->rules, cap * sizeof(*v));

        if (v == NULL) {
            rc = -ENOMEM;
        } else {
            hp->h->rules = v;
            hp->cap = cap;
        }
    }
    if (rc == 0) {
        hp->h->rules[hp->h->n++] = r;
        return;
    }
    if (rc == -ENOMEM)
        hp->oom = 1;
    hba_free_rule(&r);
}

int hba_parse(const char *text, size_t len, hba_error_fn on_error, void *arg,
              struct hba **out)
{
    struct hba_parse *hp;
    size_t pos = 0;
    int lineno = 0;
    int rc;

    if (len > HBA_MAX_FILE)
        return -EFBIG;
    hp = malloc(sizeof(*hp));       /* large; only the bookkeeping needs zeroing */
    if (hp == NULL)
        return -ENOMEM;
    memset(hp, 0, offsetof(struct hba_parse, buf));
    hp->on_error = on_error;
    hp->arg = arg;
    hp->h = calloc(1, sizeof(*hp->h));
    if (hp->h == NULL) {
        free(hp);
        return -ENOMEM;
    }
    while (pos < len && !hp->oom) {
        int too_long = 0, has_nul = 0, cont;

        hp->len = 0;
        hp->line = lineno + 1;
        /* one record: physical lines joined while they end with a backslash */
        do {
            const char *nl = memchr(text + pos, '\n', len - pos);
            size_t n = nl != NULL ? (size_t)(nl - (text + pos)) : len - pos;

            lineno++;
            if (memchr(text + pos, '\0', n) != NULL)
                has_nul = 1;
            cont = n > 0 && text[pos + n - 1] == '\\';
            if (cont)
                n--;
            if (hp->len + n > HBA_MAX_LINE)
                too_long = 1;
            else
                memcpy(hp->buf + hp->len, text + pos, n);
            if (!too_long)
                hp->len += n;
            pos += (cont ? n + 1 : n) + (nl != NULL ? 1 : 0);
        } while (cont && pos < len);
        hp->buf[hp->len] = '\0';
        if (has_nul) {
            hba_error(hp, "line contains a NUL byte");
            continue;
        }
        if (too_long) {
            hba_error(hp, "record too long (at most %d characters)", HBA_MAX_LINE);
            continue;
        }
        if (hba_tokenize(hp) < 0 || hp->n_fields == 0)
            continue;
        hba_record(hp);
    }
    if (hp->oom)
        rc = -ENOMEM;
    else if (hp->failed)
        rc = -EINVAL;
    else
        rc = 0;
    if (rc == 0)
        *out = hp->h;
    else
        hba_free(hp->h);
    free(hp);
    return rc;
}

int hba_load(const char *path, hba_error_fn on_error, void *arg, struct hba **out)
{
    FILE *f = fopen(path, "r");
    char *buf;
    size_t len;
    int rc;

    if (f == NULL)
        return -errno;
    buf = malloc(HBA_MAX_FILE + 1);
    if (buf == NULL) {
        fclose(f);
        return -ENOMEM;
    }
    len = fread(buf, 1, HBA_MAX_FILE + 1, f);
    if (ferror(f))
        rc = -EIO;
    else if (len > HBA_MAX_FILE)
        rc = -EFBIG;
    else
        rc = hba_parse(buf, len, on_error, arg, out);
    free(buf);
    fclose(f);
    return rc;
}

void hba_free(struct hba *h)
{
    if (h == NULL)
        return;
    for (size_t i = 0; i < h->n; i++)
        hba_free_rule(&h->rules[i]);
    free(h->rules);
    free(h);
}

static int hba_listed(const struct hba_names *n, const char *name)
{
    for (size_t i = 0; i < n->n; i++)
        if (strcmp(n->names[i], name) == 0)
            return 1;
    return 0;
}

static int hba_addr_matches(const struct hba_rule *r, const struct hba_client *c)
{
    int bytes = c->family == 4 ? 4 : 16;

    if (r->any_addr)
        return 1;
    if (r->family != c->family)
        return 0;
    for (int i = 0; i < bytes; i++)
        if ((c->addr[i] & r->mask[i]) != r->addr[i])
            return 0;
    return 1;
}

const struct hba_rule *hba_match(const struct hba *h, const struct hba_client *c)
{
    if (h == NULL)
        return NULL;
    for (size_t i = 0; i < h->n; i++) {
        const struct hba_rule *r = &h->rules[i];

        switch (r->conn) {
        case HBA_LOCAL:
            continue;       /* pgrouter has no Unix socket for clients */
        case HBA_HOST:
            break;
        case HBA_HOSTSSL:
            if (!c->tls)
                continue;
            break;
        case HBA_HOSTNOSSL:
            if (c->tls)
                continue;
            break;
        }
        if (!hba_addr_matches(r, c))
            continue;
        if (!r->dbs.all && !(r->dbs.sameuser && strcmp(c->db, c->user) == 0) &&
            !hba_listed(&r->dbs, c->db))
            continue;
        if (!r->users.all && !hba_listed(&r->users, c->user))
            continue;
        return r;
    }
    return NULL;
}

const char *hba_method_name(enum hba_method m)
{
    switch (m) {
    case HBA_TRUST:
        return "trust";
    case HBA_REJECT:
        return "reject";
    case HBA_MD5:
        return "md5";
    case HBA_SCRAM:
        return "scram-sha-256";
    case HBA_CERT:
        return "cert";
    }
    return "?";
}
