/*
 * router/sql/sqllex.h - a lexer for PostgreSQL's SQL dialect, enough to classify statements:
 * comments (-- and nested slash-star), '' E'' U&'' B'' X'' N'' and dollar-quoted
 * strings, "" and U&"" identifiers, numbers, $n parameters, operators and punctuation.
 * Single pass, no allocation: a token is a slice of the caller's text. Comments are
 * skipped but can be shown to a callback (the classifier reads routing hints in them).
 * Unquoted identifiers are matched, ignoring case, against the keywords the classifier
 * acts on.
 */
#ifndef PGROUTER_SQLLEX_H
#define PGROUTER_SQLLEX_H

#include <stddef.h>

enum sqllex_kind {
    SQLLEX_EOF = 0,
    SQLLEX_IDENT,       /* unquoted identifier or keyword, as written (case kept) */
    SQLLEX_QIDENT,      /* "quoted" or U&"quoted" identifier; body is between the quotes */
    SQLLEX_STRING,      /* any string constant; body is the text between the delimiters */
    SQLLEX_NUMBER,      /* 42, 1.5e-3, .5, 0x1F, 1_000 */
    SQLLEX_PARAM,       /* $1 */
    SQLLEX_OP,          /* a run of operator characters: = <> ::... are OP or PUNCT below */
    SQLLEX_LPAREN,
    SQLLEX_RPAREN,
    SQLLEX_COMMA,
    SQLLEX_SEMI,
    SQLLEX_DOT,
    SQLLEX_PUNCT,       /* one other character: [ ] : $ \ { } and bytes PostgreSQL rejects */
    SQLLEX_BAD,         /* unterminated string, identifier or comment: the rest of the text */
};

/* The keywords sqllex recognises (those router/classify acts on), in strcmp order. */
#define SQLLEX_KEYWORDS(X) \
    X(ABORT, "abort") X(ALL, "all") X(ALTER, "alter") X(ANALYSE, "analyse") \
    X(ANALYZE, "analyze") X(AS, "as") X(ATOMIC, "atomic") X(BEGIN, "begin") \
    X(CALL, "call") X(CASE, "case") X(CHAIN, "chain") X(CHECKPOINT, "checkpoint") \
    X(CLOSE, "close") X(CLUSTER, "cluster") X(COMMENT, "comment") X(COMMIT, "commit") \
    X(CONSTRAINTS, "constraints") X(COPY, "copy") X(CREATE, "create") \
    X(DEALLOCATE, "deallocate") X(DECLARE, "declare") X(DEFAULT, "default") \
    X(DELETE, "delete") X(DISCARD, "discard") X(DO, "do") X(DROP, "drop") X(END, "end") \
    X(EXECUTE, "execute") X(EXPLAIN, "explain") X(FETCH, "fetch") X(FOR, "for") \
    X(FROM, "from") X(GLOBAL, "global") X(GRANT, "grant") X(HOLD, "hold") \
    X(IMPORT, "import") X(INSERT, "insert") X(INTO, "into") X(KEY, "key") \
    X(LISTEN, "listen") X(LOCAL, "local") X(LOCK, "lock") X(MERGE, "merge") \
    X(MOVE, "move") X(NO, "no") X(NOTIFY, "notify") X(ONLY, "only") X(OR, "or") \
    X(PREPARE, "prepare") X(PREPARED, "prepared") X(READ, "read") \
    X(REASSIGN, "reassign") X(REFRESH, "refresh") X(REINDEX, "reindex") \
    X(RELEASE, "release") X(REPLACE, "replace") X(RESET, "reset") X(REVOKE, "revoke") \
    X(ROLLBACK, "rollback") X(SAVEPOINT, "savepoint") X(SECURITY, "security") \
    X(SELECT, "select") X(SESSION, "session") X(SET, "set") X(SHARE, "share") \
    X(SHOW, "show") X(START, "start") X(SYSTEM, "system") X(TABLE, "table") \
    X(TEMP, "temp") X(TEMPORARY, "temporary") X(TO, "to") X(TRANSACTION, "transaction") \
    X(TRUNCATE, "truncate") X(UESCAPE, "uescape") X(UNLISTEN, "unlisten") \
    X(UPDATE, "update") X(VACUUM, "vacuum") X(VALUES, "values") X(VERBOSE, "verbose") \
    X(WITH, "with") X(WORK, "work") X(WRITE, "write")

#define SQLLEX_KW_ENUM(id, s) SQLLEX_KW_##id,
enum sqllex_kw { SQLLEX_KW_NONE = 0, SQLLEX_KEYWORDS(SQLLEX_KW_ENUM) SQLLEX_KW_COUNT };
#undef SQLLEX_KW_ENUM

/* PostgreSQL cuts identifiers to NAMEDATALEN - 1 bytes. */
#define SQLLEX_IDENT_MAX 63

/* Token flags. */
#define SQLLEX_T_ESCAPES 0x1u   /* body holds '' "" or backslash escapes, not undone */
#define SQLLEX_T_UNICODE 0x2u   /* U&'' or U&"": body may hold \XXXX escapes */
#define SQLLEX_T_EXTENDED 0x4u  /* E'' string (backslash escapes) */
#define SQLLEX_T_DOLLAR 0x8u    /* dollar-quoted string */

struct sqllex_token {
    enum sqllex_kind kind;
    enum sqllex_kw kw;      /* IDENT: SQLLEX_KW_NONE unless one of SQLLEX_KEYWORDS */
    unsigned flags;         /* SQLLEX_T_* */
    const char *p;          /* the whole token, prefix and quotes included */
    size_t len;
    const char *body;       /* STRING and QIDENT: the text inside the quotes, else = p */
    size_t body_len;
};

/* Called with the whole text of each comment, delimiters included. */
typedef void sqllex_comment_fn(void *arg, const char *text, size_t len);

struct sqllex {
    const char *p;          /* next byte to read */
    const char *end;
    int escape_strings;     /* backslash escapes in plain '' strings too */
    sqllex_comment_fn *on_comment;  /* may be NULL */
    void *arg;
};

/*
 * Start lexing sql[0..len). The text must stay alive and unchanged while tokens are used.
 * escape_strings is 1 when the server runs with standard_conforming_strings = off, where
 * a backslash escapes a quote inside a plain '' string as in E''. on_comment may be NULL.
 */
void sqllex_init(struct sqllex *lx, const char *sql, size_t len, int escape_strings,
                 sqllex_comment_fn *on_comment, void *arg);

/*
 * Fill t with the next token, skipping white space and comments, and return its kind.
 * After SQLLEX_EOF or SQLLEX_BAD every further call returns SQLLEX_EOF. Never fails.
 */
enum sqllex_kind sqllex_next(struct sqllex *lx, struct sqllex_token *t);

/*
 * A cursor for statement-at-a-time work over a query string: the current token, the three
 * before it, the parenthesis depth, and where a statement ends (as psql splits them).
 */
struct sqllex_cursor {
    struct sqllex lx;
    struct sqllex_token ring[4];    /* ring[pos & 3] is the current token */
    unsigned pos;
    int depth;              /* parentheses open, never below 0; the caller may reset it */
    int atomic;             /* BEGIN ATOMIC bodies open, counted by the caller */
    int bad;                /* a SQLLEX_BAD token was read; the caller clears it */
};

/* sqllex_init on cu->lx, then read the first token. */
void sqllex_cursor_init(struct sqllex_cursor *cu, const char *sql, size_t len,
                        int escape_strings, sqllex_comment_fn *on_comment, void *arg);

/* Move to the next token. At SQLLEX_EOF it stays there. */
void sqllex_advance(struct sqllex_cursor *cu);

/*
 * 1 if the current token ends a statement: the end of the text, or ';' outside
 * parentheses and BEGIN ATOMIC bodies (CREATE RULE and CREATE FUNCTION hold ';' there).
 */
int sqllex_at_end(const struct sqllex_cursor *cu);

/* The current token (k = 0) or the one k places before it (k = 1..3). */
static inline const struct sqllex_token *sqllex_back(const struct sqllex_cursor *cu,
                                                     unsigned k)
{
    return &cu->ring[(cu->pos - k) & 3];
}

/*
 * The name an IDENT or QIDENT token stands for, written to buf[SQLLEX_IDENT_MAX]: ASCII
 * letters folded to lowercase (in quoted identifiers too: callers use it to over-match,
 * never to tell names apart), doubled quotes and U&"" escapes (\XXXX, \+XXXXXX, \\)
 * undone, cut to 63 bytes without splitting a UTF-8 character as PostgreSQL does.
 * Returns the length (0 for other tokens).
 */
size_t sqllex_ident(const struct sqllex_token *t, char *buf);

/* 1 if p[0..n) equals the lowercase ASCII word w, ignoring case. */
int sqllex_ieq(const char *p, size_t n, const char *w);

/* 1 if t is an unquoted identifier equal to kw (lowercase ASCII) ignoring case, else 0. */
int sqllex_is(const struct sqllex_token *t, const char *kw);

#endif
