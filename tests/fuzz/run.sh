#!/bin/sh
# tests/fuzz/run.sh - build the libFuzzer harnesses with clang and run each one.
#
#   sh tests/fuzz/run.sh            # FUZZ_SECONDS=20 per harness
#   FUZZ_SECONDS=300 sh tests/fuzz/run.sh
#
# Binaries, corpora and crash inputs go to build/fuzz/. A corpus persists between runs so
# each run starts where the last one stopped. Ends with `fuzz: N passed, M failed` (one
# per harness). Exits 1 if a harness fails to build or finds a crash (the input is saved
# as build/fuzz/<harness>-crash-*).

cd "$(dirname "$0")/../.." || exit 1

CLANG=${CLANG:-clang}
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
OUT=build/fuzz
CFLAGS="-std=c11 -D_GNU_SOURCE -g -O1 -Wall -Wextra -Werror -Wshadow \
-Wstrict-prototypes -Wmissing-prototypes -I. \
-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"

if ! command -v "$CLANG" >/dev/null 2>&1; then
    echo "fuzz: $CLANG not found; libFuzzer needs clang (set CLANG=...)" >&2
    exit 1
fi
mkdir -p "$OUT" || exit 1

# Seed a harness's corpus once with a few well-formed inputs so it starts from valid
# messages; printf's octal escapes write the binary fields.
seed()
{
    dir=$OUT/corpus/$1
    shift
    [ -d "$dir" ] && return 0
    mkdir -p "$dir" || return 1
    i=0
    for bytes in "$@"; do
        i=$((i + 1))
        # shellcheck disable=SC2059 # the seed is the format on purpose
        printf "$bytes" >"$dir/seed$i"
    done
}

# fuzz_frame: first byte picks max_len, then messages: Query, Sync, ErrorResponse, Z.
seed fuzz_frame \
    '\004Q\000\000\000\016select 1;\000S\000\000\000\004' \
    '\003E\000\000\000\031SERROR\000C42P01\000Mno t\000\000Z\000\000\000\005I' \
    '\005d\000\000\000\377abc'
# fuzz_startup: StartupMessage, SSLRequest, CancelRequest, SASLInitialResponse body.
seed fuzz_startup \
    '\000\000\000\040\000\003\000\000user\000app\000database\000shop\000\000' \
    '\000\000\000\010\004\322\026\057' \
    '\000\000\000\020\004\322\026\056\000\001\342\100\336\255\276\357' \
    'SCRAM-SHA-256\000\000\000\000\003n,,'
# fuzz_classify: option byte, then SQL with strings, comments, dollar quotes, CTEs, hints.
seed fuzz_classify \
    '\000SELECT 1; INSERT INTO t VALUES (1); BEGIN READ ONLY; COMMIT' \
    '\001select E'"'"'\\'"'"''"'"' || '"'"'for update'"'"', $q$ ; delete $q$ /* a /* b */ */' \
    '\002WITH x AS (DELETE FROM t RETURNING *) SELECT pg_catalog.nextval(U&"d\\0061t")' \
    '\000/* pgrouter_role: replica */ EXPLAIN (ANALYZE false) COPY (SELECT 1) TO STDOUT' \
    '\003SET pgrouter.tenant = '"'"'a'"'"''"'"'b'"'"'; PREPARE p AS SELECT 1 INTO TEMP x' \
    '\000CREATE FUNCTION f() BEGIN ATOMIC SELECT CASE WHEN 1 THEN 2 END; END; END' \
    '\000DECLARE c CURSOR WITH HOLD FOR SELECT 1; FETCH 1 FROM c; CLOSE c'
# fuzz_tenant: option byte, then SQL on sharded tables: values, negations, subqueries.
seed fuzz_tenant \
    '\000SELECT * FROM accounts a WHERE a.tenant_id = '"'"'x'"'"' AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.tenant_id IN (1, -2))' \
    '\001/* tenant=acme */ UPDATE accounts SET n = E'"'"'\\'"'"''"'"' WHERE NOT (tenant_id <> '"'"'a'"'"') OR (tenant_id = '"'"'b'"'"') IS FALSE' \
    '\002abcdefghINSERT INTO accounts (id, tenant_id) VALUES (1, $1), (2, $1::text) UNION SELECT CASE WHEN tenant_id = $1 THEN 1 END FROM orders'
# fuzz_cfg: a valid file, errors of several kinds, sharding sections.
seed fuzz_cfg \
    '[pgrouter]\nlisten_port = 6432\nauth_type = trust\n[cluster.main]\nprimary = 127.0.0.1:5432\n' \
    '[pgrouter]\nlisten_port = 70000\nbogus = 1\n[cluster.x]\nreplicas = a:1, b:2 weight=3\n' \
    '[pgrouter]\nauth_type = trust\ndefault_cluster = a\n[sharding]\ntenant_column = t\nsharded_tables = x\nbuckets = 4\n[cluster.a]\nprimary = h:1\nbuckets = 0-1\n[cluster.b]\nprimary = h:2\nbuckets = 2-3\n[tenants]\nacme = b\n'
# fuzz_admin: admin console Query strings: several statements, quotes, comments.
seed fuzz_admin \
    'SHOW POOLS; show\tclients ;; EXPLAIN ROUTE SELECT '"'"';'"'"' -- x;\n' \
    'KILL 42 /* a; /* b */ */; SHOW $q$;$q$ E'"'"'\\'"'"';'"'"' "a;b"'
# fuzz_adminarg: output size byte, then a control command's argument.
seed fuzz_adminarg \
    '\100appdb' \
    '\010"127.0.0.1:5433"' \
    '\0204294967295' \
    '\003a b'

# fuzz_httpreq: limit byte (0 = 8 KiB), then a scrape, a POST with a body, a bare-LF head.
seed fuzz_httpreq \
    '\000GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9187\r\nAccept: text/plain;version=0.0.4\r\n\r\n' \
    '\040POST /x?y=1 HTTP/1.0\r\nContent-Length: 2\r\n\r\nab' \
    '\000HEAD / HTTP/1.1\nA:\tb\n\n'

# fuzz_explain: option byte (tenant, role, transaction), then what EXPLAIN ROUTE is given.
seed fuzz_explain \
    '\000SELECT * FROM accounts WHERE tenant_id = '"'"'globex'"'"'' \
    '\001UPDATE orders SET n = 1 WHERE id = 2; SELECT nextval('"'"'s'"'"')' \
    '\030/* tenant=acme */ /* pgrouter_role: replica */ DELETE FROM accounts' \
    '\003tenant_xINSERT INTO accounts (tenant_id, id) VALUES ('"'"'a'"'"', 1), ('"'"'b'"'"', 2)'
# fuzz_saslprep: the issue's password, RFC 4013's examples, invalid UTF-8, bidi.
seed fuzz_saslprep \
    'p\302\240A\314\212ngstr\303\266m' 'I\302\255X' '\342\205\250\357\267\272' \
    '\330\2471' '\355\240\200\300\257' '\330\247a\330\250'

# fuzz_scramcli: a hostile server's server-first, NUL, server-final.
seed fuzz_scramcli \
    'r=fuzzNONCEsrv,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096\000v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=' \
    'r=fuzzNONCE%%hvY,s=AA==,i=1,x=ext\000e=invalid-proof' \
    'r=fuzzNONCEx,s=QUJD,i=2147483647'
# fuzz_srvauth: credentials byte, then 'R' bodies behind 2-byte lengths: SASL, md5, Ok.
seed fuzz_srvauth \
    '\000\000\026\000\000\000\012SCRAM-SHA-256\000\000\000\004\000\000\000\000' \
    '\002\000\010\000\000\000\005\001\002\003\004\000\004\000\000\000\000' \
    '\004\000\052\000\000\000\012SCRAM-SHA-256-PLUS\000SCRAM-SHA-256\000\000'

failed=0
passed=0
run()
{
    name=$1
    shift
    echo "fuzz: building $name"
    # shellcheck disable=SC2086 # CFLAGS is a list of words
    if ! "$CLANG" $CFLAGS -o "$OUT/$name" "tests/fuzz/$name.c" "$@"; then
        echo "fuzz: $name: build failed"
        failed=$((failed + 1))
        return
    fi
    echo "fuzz: running $name for ${FUZZ_SECONDS}s"
    if "$OUT/$name" -max_total_time="$FUZZ_SECONDS" -timeout=10 \
        -artifact_prefix="$OUT/$name-" "$OUT/corpus/$name"; then
        echo "fuzz: $name: no crash"
        passed=$((passed + 1))
    else
        echo "fuzz: $name: CRASH, input saved under $OUT/$name-*"
        failed=$((failed + 1))
    fi
}

run fuzz_frame protocol/frame.c protocol/msg.c
run fuzz_startup protocol/frame.c protocol/startup.c protocol/msg.c
run fuzz_classify router/classify.c router/sqllex.c router/funcset.c
run fuzz_cfg config/*.c -linih
run fuzz_scramcli protocol/scramcli.c protocol/scram.c protocol/saslprep.c protocol/md5auth.c \
    -lcrypto -lidn
run fuzz_srvauth protocol/srvauth.c protocol/scramcli.c protocol/scram.c protocol/saslprep.c \
    protocol/md5auth.c protocol/msg.c protocol/frame.c -lcrypto -lidn
run fuzz_admin router/adminparse.c
run fuzz_adminarg router/adminarg.c
run fuzz_httpreq router/httpreq.c
run fuzz_saslprep protocol/saslprep.c -lidn
run fuzz_tenant router/tenant.c router/tenantneg.c router/tenantval.c router/sqllex.c
run fuzz_explain router/explain.c router/decide.c router/route.c router/routing.c \
    router/shard.c router/classify.c router/sqllex.c router/funcset.c router/tenant.c \
    router/tenantneg.c router/tenantval.c config/*.c -linih

echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
