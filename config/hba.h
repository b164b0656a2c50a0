/*
 * config/hba.h - the auth_hba_file: PostgreSQL's pg_hba.conf format, the subset PgBouncer
 * supports, parsed into rules, and the first-match lookup over them. Pure: no sockets, no
 * logging; the caller gives the connection's facts and acts on the rule it gets.
 */
#ifndef PGROUTER_HBA_H
#define PGROUTER_HBA_H

#include <stddef.h>
#include <stdint.h>

#define HBA_MAX_FILE (1024 * 1024)  /* bytes of file read at most */
#define HBA_MAX_LINE 8192           /* one record, continuation lines included */
#define HBA_MAX_RULES 10000
#define HBA_MAX_NAME 63             /* PostgreSQL's NAMEDATALEN - 1 */

/* Connection type of a record. pgrouter listens on TCP only: HBA_LOCAL never matches. */
enum hba_conn { HBA_LOCAL = 0, HBA_HOST, HBA_HOSTSSL, HBA_HOSTNOSSL };

enum hba_method { HBA_TRUST = 0, HBA_REJECT, HBA_MD5, HBA_SCRAM, HBA_CERT };

/* A database or user column: "all", or a list of exact names. */
struct hba_names {
    int all;
    int sameuser;           /* database column only: the database named like the user */
    char **names;           /* n exact names (quoted keywords are names too) */
    size_t n;
};

struct hba_rule {
    int line;               /* where the record starts in the file */
    enum hba_conn conn;
    struct hba_names dbs;
    struct hba_names users;
    int any_addr;           /* address "all" (or a local record: no address) */
    int family;             /* 4 or 6 */
    uint8_t addr[16];       /* already masked */
    uint8_t mask[16];
    enum hba_method method;
};

struct hba {
    struct hba_rule *rules; /* in file order */
    size_t n;
};

/* A client connection as the rules see it. */
struct hba_client {
    int tls;                /* the connection is encrypted */
    int family;             /* 4 or 6; an IPv4-mapped IPv6 address is given as 4 */
    uint8_t addr[16];       /* 4 or 16 bytes used */
    const char *db;
    const char *user;
};

/* Called once per problem found; line counts from 1, msg has no file prefix. */
typedef void (*hba_error_fn)(void *arg, int line, const char *msg);

/*
 * Parse len bytes of pg_hba.conf text (NUL bytes are errors). Every problem is reported
 * through on_error with its line; then -EINVAL is returned and *out is untouched. On
 * success returns 0 and *out is a new struct hba (free with hba_free). -ENOMEM if memory
 * runs out, -EFBIG if len exceeds HBA_MAX_FILE.
 */
int hba_parse(const char *text, size_t len, hba_error_fn on_error, void *arg,
              struct hba **out);

/* Read the file at path (at most HBA_MAX_FILE bytes) and parse it. -errno if unreadable. */
int hba_load(const char *path, hba_error_fn on_error, void *arg, struct hba **out);

void hba_free(struct hba *h);

/* The first rule matching the client, or NULL when none does. */
const struct hba_rule *hba_match(const struct hba *h, const struct hba_client *c);

/* "trust", "reject", "md5", "scram-sha-256", "cert". */
const char *hba_method_name(enum hba_method m);

#endif
