#!/usr/bin/env bash
# tests/cluster.sh - local PostgreSQL test clusters for pgrouter: a primary with
# two streaming replicas (and optionally two shard clusters, each a primary
# with one replica), all on 127.0.0.1 at ports picked at run time.
#
#   tests/cluster.sh up DIR [--shards]   start everything, write DIR/cluster.env
#   tests/cluster.sh down DIR            stop everything, remove the data (idempotent)
#   tests/cluster.sh env DIR             print DIR/cluster.env as export lines
#   tests/cluster.sh status DIR          one line per node: running or stopped
#   tests/cluster.sh stop DIR NODE [MODE]  shutdown of one node: MODE fast (the
#                                        default) or immediate (pg_ctl -m)
#   tests/cluster.sh start DIR NODE      start one node again
#   tests/cluster.sh kill DIR NODE       kill -9 the node's postmaster and every
#                                        one of its processes (a crash)
#
# NODE is primary, replica1, replica2, shard_a_primary, shard_a_replica,
# shard_b_primary or shard_b_replica.
#
# DIR only holds cluster.env; the data directories live in a mktemp directory
# under /tmp (recorded as CLUSTER_DATA) so that the postgres user can reach
# them even when DIR sits under a directory only root may enter.  PostgreSQL
# refuses to run as root: as root every server command runs as the postgres
# user; as any other user it runs as that user.
#
# Roles (passwords equal the names): postgres (superuser), replicator
# (replication, pg_monitor), app (owns database appdb), other, tlsonly (only
# over TLS: hostssl, hostnossl reject) and tlscert (only over TLS with a client
# certificate whose CN is tlscert: HBA "cert").
# Host connections use scram-sha-256 (md5 for the role passthru_md5, which
# test_passthru.py creates); the Unix socket trusts everyone.
# Every server has TLS on (ssl = on) with a certificate for localhost and
# 127.0.0.1 from a throw-away CA (tests/integration/tlsca.sh) made in
# $CLUSTER_DATA/tls: CLUSTER_TLS_DIR, CLUSTER_CA_FILE (the CA, for
# sslrootcert), and the client certificate tlscert.crt/tlscert.key there.
#
# Environment: PGBIN (default /usr/lib/postgresql/15/bin),
# CLUSTER_KEEP_ON_FAILURE=1 keeps the data of a failed `up` for inspection.
set -euo pipefail

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
WAIT_SECS=60
MAIN_NODES=(primary replica1 replica2)
SHARD_NODES=(shard_a_primary shard_a_replica shard_b_primary shard_b_replica)

die() {
    echo "cluster.sh: $*" >&2
    exit 1
}

say() {
    echo "cluster.sh: $*" >&2
}

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2
    exit 2
}

# --- running things as the server's owner --------------------------------

# as_pg CMD... runs CMD as the user that owns the servers.  The working
# directory is the data root so that the postgres user never starts in a
# directory it cannot enter.
as_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        (cd "$CLUSTER_DATA" && runuser -u postgres -- "$@")
    else
        (cd "$CLUSTER_DATA" && "$@")
    fi
}

# sql NODE SQL runs SQL as postgres over the node's Unix socket; prints rows.
sql() {
    as_pg "$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$CLUSTER_DATA/sock" \
        -p "$(node_port "$1")" -U postgres -d postgres -c "$2"
}

# --- node layout ----------------------------------------------------------
#   $CLUSTER_DATA/sock             Unix sockets of all nodes
#   $CLUSTER_DATA/NODE/data        the data directory
#   $CLUSTER_DATA/NODE/postgres.log
#   $CLUSTER_DATA/NODE/port        the node's port (so that restarts know it)

node_dir()  { echo "$CLUSTER_DATA/$1"; }
node_data() { echo "$CLUSTER_DATA/$1/data"; }
node_log()  { echo "$CLUSTER_DATA/$1/postgres.log"; }
node_port() { cat "$CLUSTER_DATA/$1/port"; }

# upstream NODE prints the primary a replica streams from (empty for a primary).
upstream() {
    case $1 in
    replica1 | replica2) echo primary ;;
    shard_a_replica) echo shard_a_primary ;;
    shard_b_replica) echo shard_b_primary ;;
    *) echo "" ;;
    esac
}

valid_node() {
    local n
    for n in "${MAIN_NODES[@]}" "${SHARD_NODES[@]}"; do
        [ "$n" = "$1" ] && return 0
    done
    return 1
}

log_tail() {
    local log
    log=$(node_log "$1")
    echo "---- last lines of $log ----" >&2
    if [ -f "$log" ]; then
        tail -n 25 "$log" >&2
    else
        echo "(no log file)" >&2
    fi
    echo "----" >&2
}

# pid of the node's postmaster, or nothing if it is not running.
node_pid() {
    local pidfile pid
    pidfile="$(node_data "$1")/postmaster.pid"
    [ -f "$pidfile" ] || return 0
    pid=$(head -n 1 "$pidfile" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        echo "$pid"
    fi
}

# --- ports ----------------------------------------------------------------

TAKEN_PORTS=" 5432 6432 "

port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# free_port prints a port nobody listens on and that this run has not handed
# out yet.  Ports start from a random base so that parallel runs rarely meet;
# a collision that still happens is caught by start_node, which retries.
free_port() {
    local p=$((20000 + RANDOM % 12000)) tries=0
    while [ $tries -lt 500 ]; do
        if [[ $TAKEN_PORTS != *" $p "* ]] && ! port_in_use "$p"; then
            TAKEN_PORTS="$TAKEN_PORTS$p "
            echo "$p"
            return 0
        fi
        p=$((p + 1 + RANDOM % 7))
        [ $p -lt 32000 ] || p=20000
        tries=$((tries + 1))
    done
    die "no free TCP port found on 127.0.0.1"
}

# --- environment file -----------------------------------------------------

env_var_prefix() {
    echo "$1" | tr '[:lower:]' '[:upper:]'
}

write_env() {
    local n up tmp="$ENV_FILE.tmp"
    {
        echo "# written by tests/cluster.sh up; source it, or: tests/cluster.sh env DIR"
        printf 'CLUSTER_DIR=%q\n' "$CLUSTER_DIR"
        printf 'CLUSTER_DATA=%q\n' "$CLUSTER_DATA"
        printf 'CLUSTER_SOCKET_DIR=%q\n' "$CLUSTER_DATA/sock"
        printf 'CLUSTER_SHARDS=%q\n' "$SHARDS"
        echo "CLUSTER_NODES=\"${NODES[*]}\""
        printf 'PGBIN=%q\n' "$PGBIN"
        echo "CLUSTER_HOST=127.0.0.1"
        echo "SUPERUSER=postgres"
        echo "SUPERUSER_PASSWORD=postgres"
        echo "REPL_USER=replicator"
        echo "REPL_PASSWORD=replicator"
        echo "APP_USER=app"
        echo "APP_PASSWORD=app"
        echo "APP_DB=appdb"
        echo "OTHER_USER=other"
        echo "OTHER_PASSWORD=other"
        echo "TLSONLY_USER=tlsonly"
        echo "TLSONLY_PASSWORD=tlsonly"
        echo "TLSCERT_USER=tlscert"
        printf 'CLUSTER_TLS_DIR=%q\n' "$CLUSTER_DATA/tls"
        printf 'CLUSTER_CA_FILE=%q\n' "$CLUSTER_DATA/tls/ca.crt"
        for n in "${NODES[@]}"; do
            up=$(env_var_prefix "$n")
            printf '%s_PORT=%q\n' "$up" "$(node_port "$n")"
            printf '%s_DATA=%q\n' "$up" "$(node_data "$n")"
            printf '%s_LOG=%q\n' "$up" "$(node_log "$n")"
        done
    } >"$tmp"
    mv "$tmp" "$ENV_FILE"
}

# load_env DIR reads DIR/cluster.env into this shell.
load_env() {
    CLUSTER_DIR=$(cd "$1" 2>/dev/null && pwd) || return 1
    ENV_FILE="$CLUSTER_DIR/cluster.env"
    [ -f "$ENV_FILE" ] || return 1
    local pgbin_override=$PGBIN
    # shellcheck disable=SC1090
    . "$ENV_FILE"
    [ -n "$PGBIN" ] || PGBIN=$pgbin_override
    read -r -a NODES <<<"$CLUSTER_NODES"
    SHARDS=$CLUSTER_SHARDS
}

# --- one node -------------------------------------------------------------

# settings common to every node; replicas inherit them through pg_basebackup
# and only override port and cluster_name.
base_conf() {
    cat <<EOF

# ---- added by tests/cluster.sh ----
listen_addresses = '127.0.0.1'
port = $1
unix_socket_directories = '$CLUSTER_DATA/sock'
cluster_name = '$2'
password_encryption = 'scram-sha-256'
max_connections = 200
shared_buffers = 32MB
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
wal_keep_size = 128MB
hot_standby = on
hot_standby_feedback = on
wal_retrieve_retry_interval = 1s
fsync = off
synchronous_commit = off
full_page_writes = off
log_line_prefix = '%m [%p] %q%u@%d '
log_connections = on
log_disconnections = on
ssl = on
ssl_cert_file = 'server.crt'
ssl_key_file = 'server.key'
ssl_ca_file = 'root.crt'
EOF
}

# make_tls: the CA, the servers' certificate and the client certificate of
# tlscert, once per cluster (the servers copy theirs into their data dirs).
make_tls() {
    bash "$(dirname "${BASH_SOURCE[0]}")/integration/tlsca.sh" "$CLUSTER_DATA/tls" tlscert \
        >/dev/null || die "tlsca.sh failed"
    chmod 755 "$CLUSTER_DATA/tls"
}

# install_tls NODE: the server certificate, its key (the postgres user's,
# mode 600, or the server refuses it) and the CA for client certificates.
install_tls() {
    local data
    data=$(node_data "$1")
    cp "$CLUSTER_DATA/tls/server.crt" "$data/server.crt"
    cp "$CLUSTER_DATA/tls/server.key" "$data/server.key"
    cp "$CLUSTER_DATA/tls/ca.crt" "$data/root.crt"
    chmod 600 "$data/server.key"
    [ "$(id -u)" -ne 0 ] || chown postgres: "$data/server.crt" "$data/server.key" "$data/root.crt"
}

write_hba() {
    cat >"$(node_data "$1")/pg_hba.conf" <<'EOF'
# written by tests/cluster.sh
# TYPE  DATABASE     USER  ADDRESS        METHOD
local   all          all                  trust
local   replication  all                  trust
host    all          passthru_md5  127.0.0.1/32   md5
hostnossl all        tlsonly 127.0.0.1/32 reject
hostssl all          tlsonly 127.0.0.1/32 scram-sha-256
hostnossl all        tlscert 127.0.0.1/32 reject
hostssl all          tlscert 127.0.0.1/32 cert
host    all          all   127.0.0.1/32   scram-sha-256
host    replication  all   127.0.0.1/32   scram-sha-256
EOF
}

set_port() {
    echo "$2" >"$(node_dir "$1")/port"
    # the last setting in postgresql.conf wins
    echo "port = $2" >>"$(node_data "$1")/postgresql.conf"
}

# start_node NODE starts the server and waits until it accepts connections.
# If another process grabbed the node's port in the meantime, the node moves
# to a new port (up to three times).
start_node() {
    local node=$1 attempt log
    log=$(node_log "$node")
    for attempt in 1 2 3 4; do
        if as_pg "$PGBIN/pg_ctl" -D "$(node_data "$node")" -l "$log" -w -t "$WAIT_SECS" \
            start >/dev/null 2>&1; then
            return 0
        fi
        if [ "$attempt" -lt 4 ] && tail -n 20 "$log" 2>/dev/null |
            grep -q -e 'could not bind' -e 'could not create any TCP/IP sockets'; then
            local p
            p=$(free_port)
            say "$node: port $(node_port "$node") is taken, moving to $p"
            set_port "$node" "$p"
            continue
        fi
        if [ "$attempt" -lt 4 ] && tail -n 20 "$log" 2>/dev/null |
            grep -q 'pre-existing shared memory block'; then
            # children of a killed postmaster are still exiting
            sleep 1
            continue
        fi
        break
    done
    say "$node: could not start (data $(node_data "$node"))"
    log_tail "$node"
    return 1
}

init_primary() {
    local node=$1 port=$2 dir
    dir=$(node_dir "$node")
    mkdir -p "$dir"
    [ "$(id -u)" -ne 0 ] || chown postgres: "$dir"
    echo "$port" >"$dir/port"
    printf 'postgres\n' >"$dir/pwfile"
    [ "$(id -u)" -ne 0 ] || chown postgres: "$dir/pwfile"
    if ! as_pg "$PGBIN/initdb" -D "$(node_data "$node")" -U postgres --pwfile="$dir/pwfile" \
        -E UTF8 --locale=C --auth-local=trust --auth-host=scram-sha-256 -N \
        >"$dir/initdb.log" 2>&1; then
        say "$node: initdb failed:"
        tail -n 20 "$dir/initdb.log" >&2
        return 1
    fi
    rm -f "$dir/pwfile"
    base_conf "$port" "$node" >>"$(node_data "$node")/postgresql.conf"
    write_hba "$node"
    install_tls "$node"
    start_node "$node"
    sql "$node" "
        CREATE ROLE replicator LOGIN REPLICATION PASSWORD 'replicator';
        GRANT pg_monitor TO replicator;
        CREATE ROLE app LOGIN PASSWORD 'app';
        CREATE ROLE other LOGIN PASSWORD 'other';
        CREATE ROLE tlsonly LOGIN PASSWORD 'tlsonly';
        CREATE ROLE tlscert LOGIN;" >/dev/null
    # CREATE DATABASE refuses to run inside the implicit transaction of -c
    sql "$node" "CREATE DATABASE appdb OWNER app" >/dev/null
}

# init_replica NODE PORT: base backup of the node's upstream with a
# replication slot named after NODE; -R writes primary_conninfo.
init_replica() {
    local node=$1 port=$2 up dir
    up=$(upstream "$node")
    dir=$(node_dir "$node")
    mkdir -p "$dir"
    [ "$(id -u)" -ne 0 ] || chown postgres: "$dir"
    echo "$port" >"$dir/port"
    if ! as_pg env PGPASSWORD=replicator PGAPPNAME="$node" "$PGBIN/pg_basebackup" \
        -h 127.0.0.1 -p "$(node_port "$up")" -U replicator -D "$(node_data "$node")" \
        -R -c fast -X stream -C -S "$node" --no-sync >"$dir/basebackup.log" 2>&1; then
        say "$node: pg_basebackup from $up failed:"
        tail -n 20 "$dir/basebackup.log" >&2
        log_tail "$up"
        return 1
    fi
    {
        echo "# ---- replica overrides (tests/cluster.sh) ----"
        echo "port = $port"
        echo "cluster_name = '$node'"
    } >>"$(node_data "$node")/postgresql.conf"
    start_node "$node"
}

# wait_streaming PRIMARY REPLICA...: every replica shows up as streaming in the
# primary's pg_stat_replication (walreceivers name themselves after
# cluster_name) and answers as a standby.
wait_streaming() {
    local primary=$1 n deadline=$((SECONDS + WAIT_SECS)) want got names sep
    shift
    want=$#
    names="$*"
    sep="','"
    while :; do
        got=$(sql "$primary" "SELECT count(*) FROM pg_stat_replication
                WHERE state = 'streaming'
                  AND application_name IN ('${names// /$sep}')" 2>/dev/null ||
            echo 0)
        [ "$got" = "$want" ] && break
        if [ $SECONDS -ge $deadline ]; then
            say "replicas of $primary not streaming after ${WAIT_SECS}s ($got of $want)"
            log_tail "$primary"
            for n in "$@"; do log_tail "$n"; done
            return 1
        fi
        sleep 0.2
    done
    for n in "$@"; do
        if [ "$(sql "$n" "SELECT pg_is_in_recovery()")" != "t" ]; then
            say "$n is not in recovery"
            log_tail "$n"
            return 1
        fi
    done
}

# setup_cluster PRIMARY REPLICA...: primary, then its replicas in parallel.
setup_cluster() {
    local primary=$1 n pids=() rc=0
    shift
    init_primary "$primary" "$(cat "$CLUSTER_DATA/.plan/$primary")"
    for n in "$@"; do
        init_replica "$n" "$(cat "$CLUSTER_DATA/.plan/$n")" &
        pids+=($!)
    done
    for n in "${pids[@]}"; do
        wait "$n" || rc=1
    done
    [ $rc -eq 0 ] || return 1
    wait_streaming "$primary" "$@"
}

# --- subcommands ----------------------------------------------------------

cmd_up() {
    local dir="" n pids=() rc=0 t0=$SECONDS
    SHARDS=0
    while [ $# -gt 0 ]; do
        case $1 in
        --shards) SHARDS=1 ;;
        -*) usage ;;
        *) [ -z "$dir" ] || usage; dir=$1 ;;
        esac
        shift
    done
    [ -n "$dir" ] || usage
    [ -x "$PGBIN/initdb" ] || die "no PostgreSQL binaries in $PGBIN (set PGBIN)"
    if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
        die "running as root but there is no postgres user to run the servers"
    fi

    mkdir -p "$dir"
    if load_env "$dir"; then
        for n in "${NODES[@]}"; do
            if [ -n "$(node_pid "$n")" ]; then
                die "a cluster is already running for $CLUSTER_DIR" \
                    "(tests/cluster.sh down $dir first)"
            fi
        done
        say "removing the stale cluster left in $CLUSTER_DIR"
        cmd_down "$dir"
    fi
    CLUSTER_DIR=$(cd "$dir" && pwd)
    ENV_FILE="$CLUSTER_DIR/cluster.env"

    NODES=("${MAIN_NODES[@]}")
    [ "$SHARDS" -eq 0 ] || NODES+=("${SHARD_NODES[@]}")

    CLUSTER_DATA=$(mktemp -d /tmp/pgrouter-XXXXXX)
    chmod 755 "$CLUSTER_DATA"
    mkdir -p "$CLUSTER_DATA/sock" "$CLUSTER_DATA/.plan"
    [ "$(id -u)" -ne 0 ] || chown postgres: "$CLUSTER_DATA" "$CLUSTER_DATA/sock"
    for n in "${NODES[@]}"; do
        mkdir -p "$(node_dir "$n")"
        free_port >"$CLUSTER_DATA/.plan/$n"
        cp "$CLUSTER_DATA/.plan/$n" "$(node_dir "$n")/port"
    done
    # written now so that `down` can clean up whatever a failed `up` leaves
    write_env
    make_tls

    trap 'up_failed' EXIT
    trap 'exit 130' INT TERM
    setup_cluster primary replica1 replica2 &
    pids+=($!)
    if [ "$SHARDS" -eq 1 ]; then
        setup_cluster shard_a_primary shard_a_replica &
        pids+=($!)
        setup_cluster shard_b_primary shard_b_replica &
        pids+=($!)
    fi
    for n in "${pids[@]}"; do
        wait "$n" || rc=1
    done
    [ $rc -eq 0 ] || exit 1
    trap - EXIT INT TERM
    rm -rf "$CLUSTER_DATA/.plan"
    write_env

    echo "cluster up in $((SECONDS - t0))s: $ENV_FILE"
    for n in "${NODES[@]}"; do
        printf '  %-16s 127.0.0.1:%-5s %s\n' "$n" "$(node_port "$n")" "$(node_data "$n")"
    done
    echo "  connect: PGPASSWORD=app psql -h 127.0.0.1 -p $(node_port primary) -U app appdb"
    echo "  stop:    tests/cluster.sh down $dir"
}

up_failed() {
    local rc=$?
    trap - EXIT
    [ $rc -ne 0 ] || return 0
    say "up failed"
    if [ "${CLUSTER_KEEP_ON_FAILURE:-0}" = 1 ]; then
        say "keeping $CLUSTER_DATA (CLUSTER_KEEP_ON_FAILURE=1); clean up with:" \
            "tests/cluster.sh down $CLUSTER_DIR"
    else
        stop_all immediate
        remove_data
    fi
    exit "$rc"
}

stop_all() {
    local n
    for n in "${NODES[@]}"; do
        if [ -n "$(node_pid "$n")" ]; then
            as_pg "$PGBIN/pg_ctl" -D "$(node_data "$n")" -m "$1" -w -t 30 stop \
                >/dev/null 2>&1 || say "$n: pg_ctl stop failed"
        fi
    done
    # a postmaster killed with -9 can leave children behind for a moment
    for n in "${NODES[@]}"; do
        local pid
        pid=$(node_pid "$n")
        [ -z "$pid" ] || kill -9 "$pid" 2>/dev/null || true
    done
}

remove_data() {
    case $CLUSTER_DATA in
    /tmp/pgrouter-??????) rm -rf "$CLUSTER_DATA" ;;
    *) say "not removing unexpected data directory '$CLUSTER_DATA'" ;;
    esac
    rm -f "$ENV_FILE" "$ENV_FILE.tmp"
}

cmd_down() {
    [ $# -eq 1 ] || usage
    if ! load_env "$1"; then
        say "no cluster in $1 (nothing to do)"
        return 0
    fi
    if [ -d "$CLUSTER_DATA" ]; then
        stop_all immediate
    fi
    remove_data
    say "cluster in $CLUSTER_DIR is down"
}

cmd_env() {
    [ $# -eq 1 ] || usage
    load_env "$1" || die "no cluster.env in $1 (run: tests/cluster.sh up $1)"
    sed -n 's/^\([A-Z][A-Z0-9_]*=\)/export \1/p' "$ENV_FILE"
}

cmd_status() {
    local n pid rc=0
    [ $# -eq 1 ] || usage
    load_env "$1" || die "no cluster.env in $1"
    for n in "${NODES[@]}"; do
        pid=$(node_pid "$n")
        if [ -n "$pid" ]; then
            printf '%-16s 127.0.0.1:%-5s running (pid %s)\n' "$n" "$(node_port "$n")" "$pid"
        else
            printf '%-16s 127.0.0.1:%-5s stopped\n' "$n" "$(node_port "$n")"
            rc=3
        fi
    done
    return $rc
}

node_cmd_setup() {
    [ $# -eq 2 ] || usage
    load_env "$1" || die "no cluster.env in $1"
    valid_node "$2" || die "unknown node '$2'"
    [ -d "$(node_data "$2")" ] || die "node $2 is not part of this cluster (--shards?)"
}

cmd_stop() {
    local mode=${3:-fast}
    [ $# -eq 2 ] || [ $# -eq 3 ] || usage
    case $mode in
    fast | immediate) ;;
    *) die "stop: mode '$mode' is not fast or immediate" ;;
    esac
    node_cmd_setup "$1" "$2"
    if [ -z "$(node_pid "$2")" ]; then
        say "$2 is not running"
        return 0
    fi
    as_pg "$PGBIN/pg_ctl" -D "$(node_data "$2")" -m "$mode" -w -t "$WAIT_SECS" stop >/dev/null ||
        { log_tail "$2"; die "$2: stop failed"; }
    say "$2 stopped (-m $mode)"
}

cmd_start() {
    node_cmd_setup "$@"
    if [ -n "$(node_pid "$2")" ]; then
        say "$2 is already running"
        return 0
    fi
    local before
    before=$(node_port "$2")
    start_node "$2" || die "$2: start failed"
    # a changed port must reach cluster.env
    [ "$(node_port "$2")" = "$before" ] || write_env
    say "$2 started on 127.0.0.1:$(node_port "$2")"
}

# children PID: the pids whose parent is PID (from /proc: procps may be missing).
children() {
    local stat pid rest ppid
    for stat in /proc/[0-9]*/stat; do
        { read -r pid rest <"$stat"; } 2>/dev/null || continue
        rest=${rest##*) }
        read -r _ ppid _ <<<"$rest"
        [ "$ppid" = "$1" ] && echo "$pid"
    done
    return 0
}

# alive PID: PID runs (a zombie does not count: it waits for its parent).
alive() {
    local rest
    { read -r _ rest <"/proc/$1/stat"; } 2>/dev/null || return 1
    rest=${rest##*) }
    [ "${rest%% *}" != Z ]
}

# A real crash takes the backends too: a postmaster killed alone leaves its
# backends answering the queries in flight until they notice.  The postmaster
# is stopped first, so that it forks nothing while its children are listed;
# then all of them get SIGKILL at once.
cmd_kill() {
    node_cmd_setup "$@"
    local pid kids p left
    pid=$(node_pid "$2")
    if [ -z "$pid" ]; then
        say "$2 is not running"
        return 0
    fi
    kill -STOP "$pid" 2>/dev/null || true
    kids=$(children "$pid")
    # shellcheck disable=SC2086
    kill -9 "$pid" $kids 2>/dev/null || true
    for _ in $(seq 1 100); do
        left=""
        for p in $pid $kids; do
            alive "$p" && left="$left $p"
        done
        [ -z "$left" ] && break
        sleep 0.1
    done
    [ -z "$left" ] || die "$2: processes$left survived kill -9"
    # a start reads postmaster.pid: wait until the dead postmaster is reaped
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    say "$2: postmaster $pid and its $(wc -w <<<"$kids") processes killed"
}

main() {
    [ $# -ge 1 ] || usage
    local cmd=$1
    shift
    case $cmd in
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    env) cmd_env "$@" ;;
    status) cmd_status "$@" ;;
    stop) cmd_stop "$@" ;;
    start) cmd_start "$@" ;;
    kill) cmd_kill "$@" ;;
    -h | --help | help) usage ;;
    *) usage ;;
    esac
}

main "$@"
