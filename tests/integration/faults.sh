# tests/integration/faults.sh - server faults under a pgrouter with health
# checks and circuit breakers; sourced by run.sh, which calls faults_cases last
# of all.
#
# The cases kill, stop, pause (SIGSTOP) and promote servers of the cluster
# while clients run through a pgrouter instance of their own ("faults", config
# from faults_ini: query_timeout 2 s, server_connect_timeout 2 s, health checks
# as postgres every 500 ms with a 1 s timeout, failure_threshold 1, open_timeout
# 1 s, max_replica_lag_bytes 1kB, read_your_writes = lsn).  They time what they
# see from the clients (faults.py) and from pgrouter's log timestamps, and print
# the figures as `# measured: ...` lines (faults_cases copies them to the
# suite's output).
#
# Every case restores what it broke on exit (an EXIT trap: SIGCONT, start the
# stopped servers, resume WAL replay), whatever failed, except faults_promotion:
# it promotes replica1 and leaves the old primary stopped (starting it would
# make two primaries), so it must stay the last case of the suite.  With
# ITEST_REUSE=1 the stopped primary makes the next run build a new cluster
# (`cluster.sh status` fails).
# shellcheck shell=bash disable=SC2317,SC2154,SC2086

FAULTS_CASES=(faults_replica_kill faults_replica_sigstop faults_primary_down faults_replica_lag
    faults_promotion)

# The faults config, and the bounds derived from it (seconds).
F_QUERY_TIMEOUT=2
F_INTERVAL=0.5
F_HC_TIMEOUT=1
F_OPEN_TIMEOUT=1
# back in rotation: open_timeout + 2 health intervals + this much slack
F_SLACK=2
F_BACK_BOUND=$(awk -v o=$F_OPEN_TIMEOUT -v i=$F_INTERVAL -v s=$F_SLACK \
    'BEGIN { printf "%.1f", o + 2 * i + s }')

# ini_set FILE SECTION KEY VALUE: KEY = VALUE in [SECTION], wherever the key
# was before (the key names used here are unique over all sections).
ini_set() {
    local f=$1 sect=$2 key=$3 val=$4
    sed -i "/^[[:space:]]*${key}[[:space:]]*=/d" "$f"
    if grep -q "^\[$sect\]" "$f"; then
        sed -i "0,/^\[$sect\].*/s//&\n$key = $val/" "$f"
    else
        printf '\n[%s]\n%s = %s\n' "$sect" "$key" "$val" >>"$f"
    fi
}

# faults_ini FILE: run.sh's test config (write_ini) with health checks and
# breakers; start_pgrouter calls it after write_ini.
faults_ini() {
    local f=$1
    ini_set "$f" pgrouter query_timeout $F_QUERY_TIMEOUT
    ini_set "$f" pgrouter server_connect_timeout 2
    ini_set "$f" routing read_your_writes lsn
    ini_set "$f" health health_check_user postgres
    ini_set "$f" health health_check_password postgres
    ini_set "$f" health health_check_database postgres
    ini_set "$f" health health_check_interval 500ms
    ini_set "$f" health health_check_timeout ${F_HC_TIMEOUT}s
    ini_set "$f" health max_replica_lag_bytes 1kB
    ini_set "$f" health read_fallback primary
    ini_set "$f" breaker failure_threshold 1
    ini_set "$f" breaker open_timeout ${F_OPEN_TIMEOUT}s
}

# ---- helpers ----------------------------------------------------------------

FPY() {
    timeout 60 "$PY" "$HERE/faults.py" --port "$PORT_faults" "$@"
}

FPSQL() {
    PGPASSWORD=app timeout 20 "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 \
        -p "$PORT_faults" -U app -d appdb "$@"
}

FPGBENCH() {
    PGPASSWORD=app timeout 40 "$PGBIN/pgbench" -h 127.0.0.1 -p "$PORT_faults" -U app "$@" appdb
}

now() {
    local t=$EPOCHREALTIME
    echo "${t/,/.}"
}

# elapsed A B: B - A, in seconds with 3 decimals
elapsed() {
    awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'
}

# below A B: A < B (decimal numbers)
below() {
    awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'
}

ms() {
    awk -v s="$1" 'BEGIN { printf "%.0f ms", s * 1000 }'
}

log_size() {
    stat -c %s "$FLOG" 2>/dev/null || echo 0
}

# log_event OFFSET REGEX WAIT: the first line of the faults pgrouter's log from
# byte OFFSET on that matches REGEX, waiting up to WAIT s for it; sets EV_T (its
# timestamp, epoch seconds) and EV_LINE.
log_event() {
    local out
    EV_T=""
    EV_LINE=""
    out=$(FPY logtime "$FLOG" "$1" "$2" "$3") || return 1
    EV_T=${out%%$'\t'*}
    EV_LINE=${out#*$'\t'}
    echo "log: $EV_LINE"
}

# log_count OFFSET REGEX: lines of the log from byte OFFSET on matching REGEX.
log_count() {
    tail -c +"$(($1 + 1))" "$FLOG" | grep -c -E "$2"
}

# pm_pid DATA: the postmaster's pid, if it runs.
pm_pid() {
    local pid
    pid=$(head -n 1 "$1/postmaster.pid" 2>/dev/null) || return 1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
    echo "$pid"
}

# proc_children PID: pids of PID's children (from /proc).
proc_children() {
    local stat pid rest ppid
    for stat in /proc/[0-9]*/stat; do
        { read -r pid rest <"$stat"; } 2>/dev/null || continue
        rest=${rest##*) }
        read -r _ ppid _ <<<"$rest"
        [ "$ppid" = "$1" ] && echo "$pid"
    done
}

# signal_node SIG DATA: SIG to the node's postmaster and all its children, in
# one kill (the children are listed first: that takes a while); then to any
# child forked meanwhile.  SIGNAL_T is the time of the first kill.
signal_node() {
    local pid kids
    pid=$(pm_pid "$2") || return 1
    kids=$(proc_children "$pid")
    # shellcheck disable=SC2086
    kill -"$1" "$pid" $kids 2>/dev/null
    SIGNAL_T=$(now)
    # shellcheck disable=SC2046
    kill -"$1" $(proc_children "$pid") 2>/dev/null
    return 0
}

node_port() {
    case $1 in
    primary) echo "$PRIMARY_PORT" ;;
    replica1) echo "$REPLICA1_PORT" ;;
    replica2) echo "$REPLICA2_PORT" ;;
    esac
}

node_data() {
    case $1 in
    primary) echo "$PRIMARY_DATA" ;;
    replica1) echo "$REPLICA1_DATA" ;;
    replica2) echo "$REPLICA2_DATA" ;;
    esac
}

# faults_restore: the EXIT trap of every case but the promotion: let paused
# servers go on, start stopped ones, resume WAL replay.  run() reports a case's
# last line, so a failed case's reason is repeated after what was restored.
faults_restore() {
    local rc=$? me=$BASHPID out log last=""
    out=$(faults_restore_servers 2>&1)
    [ -n "$out" ] || return 0
    log=$(readlink "/proc/$me/fd/1")
    [ -f "$log" ] && last=$(grep -v '^[[:space:]]*$' "$log" | tail -n 1)
    echo "$out"
    [ $rc -eq 0 ] || [ -z "$last" ] || echo "$last"
}

faults_restore_servers() {
    local n port
    for n in primary replica1 replica2; do
        signal_node CONT "$(node_data $n)"
    done
    for n in primary replica1 replica2; do
        # a postmaster just killed may linger a moment: wait until it answers
        # or is gone (at most 10 s)
        for _ in $(seq 1 50); do
            pm_pid "$(node_data $n)" >/dev/null || break
            PGCONNECT_TIMEOUT=2 DIRECT "$(node_port $n)" 'SELECT 1' postgres >/dev/null 2>&1 &&
                continue 2
            sleep 0.2
        done
        echo "restore: starting $n"
        timeout 90 bash "$CLUSTER_SH" start "$CLUSTER_DIR" $n
    done
    for port in "$REPLICA1_PORT" "$REPLICA2_PORT"; do
        if [ "$(DIRECT "$port" 'SELECT pg_is_wal_replay_paused()' postgres 2>/dev/null)" = t ]; then
            echo "restore: resuming WAL replay on port $port"
            DIRECT "$port" 'SELECT pg_wal_replay_resume()' postgres
        fi
    done
}

# faults_ready: the cluster as run.sh made it (primary, two streaming
# replicas replaying), and the faults pgrouter reading from both replicas.
faults_ready() {
    local deadline=$((SECONDS + 30)) got out port
    faults_restore >/dev/null 2>&1
    while :; do
        got=$(DIRECT "$PRIMARY_PORT" "SELECT count(*) FROM pg_stat_replication
            WHERE state = 'streaming'" postgres 2>/dev/null)
        [ "$got" = 2 ] && break
        [ $SECONDS -lt $deadline ] || fail "precondition: $got of 2 replicas streaming"
        sleep 0.2
    done
    [ "$(DIRECT "$PRIMARY_PORT" 'SELECT pg_is_in_recovery()' postgres)" = f ] ||
        fail "precondition: the primary is in recovery"
    for port in "$REPLICA1_PORT" "$REPLICA2_PORT"; do
        [ "$(DIRECT "$port" 'SELECT pg_is_in_recovery()' postgres)" = t ] ||
            fail "precondition: port $port is not a replica"
        out=$(FPY until-port "$port" 15) ||
            fail "precondition: no read through pgrouter on port $port: $out"
    done
}

# faults_alive: the faults pgrouter still runs, without sanitizer reports.
faults_alive() {
    kill -0 "$PID_faults" 2>/dev/null || fail "pgrouter (faults) is gone; see $FLOG"
    if grep -E -q 'Sanitizer|runtime error:' "$FLOG"; then
        fail "sanitizer report in $FLOG"
    fi
}

# pgbench_tables: pgbench -S needs them; pgbench_init made them unless
# ITEST_ONLY left it out.
pgbench_tables() {
    if [ "$(DIRECT "$PRIMARY_PORT" "SELECT to_regclass('pgbench_accounts') IS NOT NULL")" != t ]; then
        PGPASSWORD=app timeout 120 "$PGBIN/pgbench" -i -s 1 -q -h 127.0.0.1 \
            -p "$PRIMARY_PORT" -U app appdb || fail "pgbench -i failed"
    fi
    wait_replay || fail "replicas did not replay the pgbench tables"
}

# pgbench_result FILE WHAT: checks pgbench -S's output: it ran, and no
# transaction failed and no client aborted; prints the figures.
pgbench_result() {
    local f=$1 what=$2 n failed aborted tps
    cat "$f"
    n=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$f")
    failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$f")
    aborted=$(grep -c 'aborted in command' "$f")
    tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$f")
    echo "# measured: $what: pgbench -S -c 16: ${n:-?} transactions (${tps:-?} tps)," \
        "${failed:-?} failed, $aborted clients aborted"
    [ "${n:-0}" -gt 0 ] || fail "$what: pgbench processed no transaction"
    [ "$aborted" -eq 0 ] ||
        fail "$what: $aborted pgbench clients aborted: $(grep -m 1 'aborted in command' "$f")"
    [ "${failed:-0}" -eq 0 ] || fail "$what: $failed failed transactions"
}

# pgbench_running FILE PID: wait until pgbench (run with -P 1, output in FILE)
# reports progress, so that a fault hits it mid-run (at most 30 s).
pgbench_running() {
    local deadline=$((SECONDS + 30))
    until grep -q '^progress: ' "$1"; do
        kill -0 "$2" 2>/dev/null || fail "pgbench ended before it reported progress: $(tail -n 3 "$1")"
        [ $SECONDS -lt $deadline ] || fail "pgbench reported no progress within 30 s"
        sleep 0.1
    done
}

# ---- cases ------------------------------------------------------------------

# kill -9 replica1 (the postmaster and every backend, as a crash does) under
# pgbench -S, start it again 1 s later: no read fails, the reads in flight on
# replica1 are retried on another node, the breaker opens, and replica1 comes
# back in the read rotation.  How fast is printed, not checked (a busy machine
# must not fail the case); the waits have generous deadlines.
t_faults_replica_kill() {
    proxy_only
    trap faults_restore EXIT
    pgbench_tables
    faults_ready
    local off off2 off_kill pid bpid rc t_kill t_start t_up d out retried
    local f=$LOGDIR/faults_replica_kill.pgbench
    local node="127\.0\.0\.1:$REPLICA1_PORT"
    off=$(log_size)
    FPGBENCH -n -S -c 16 -j 2 -T 12 -P 1 >"$f" 2>&1 &
    bpid=$!
    pgbench_running "$f" "$bpid"
    # On a loaded machine every read may happen to be between replica1's servers at the
    # instant of the kill (all of them idle): then nothing was in flight to retry, so kill
    # it again, at most 3 times, while pgbench still runs.
    local attempt
    for attempt in 1 2 3; do
        pid=$(pm_pid "$REPLICA1_DATA") || fail "replica1 is not running"
        off_kill=$(log_size)
        t_kill=$(now)
        out=$(bash "$CLUSTER_SH" kill "$CLUSTER_DIR" replica1 2>&1) ||
            fail "cluster.sh kill: $out"
        echo "$out"
        sleep 1
        off2=$(log_size)
        t_start=$(now)
        timeout 90 bash "$CLUSTER_SH" start "$CLUSTER_DIR" replica1 ||
            fail "cluster.sh start replica1"
        t_up=$(now)
        grep -q "^REPLICA1_PORT=$REPLICA1_PORT\$" "$CLUSTER_DIR/cluster.env" ||
            fail "replica1 moved to another port when it started again"
        [ "$(log_count "$off" 'retrying the read on another node')" -ge 1 ] && break
        echo "# kill $attempt of replica1 found no read in flight there"
        kill -0 "$bpid" 2>/dev/null || break
        log_event "$off2" "node $node: circuit breaker half-open -> closed" 50 ||
            fail "no 'half-open -> closed' for $node in the log after the start"
    done
    wait "$bpid"
    rc=$?
    pgbench_result "$f" "replica1 killed"
    [ $rc -eq 0 ] || fail "pgbench exited with status $rc"

    log_event "$off_kill" "node $node: circuit breaker [a-z-]+ -> open" 20 ||
        fail "no 'circuit breaker -> open' for $node in the log after the kill"
    d=$(elapsed "$t_kill" "$EV_T")
    echo "# measured: replica kill -9 -> breaker open: $(ms "$d")"
    retried=$(log_count "$off" 'retrying the read on another node')
    echo "# measured: replica kill: $retried reads retried on another node," \
        "$(log_count "$off" "query_timeout on $node") query_timeouts," \
        "$(log_count "$off" "node $node: circuit breaker") breaker transitions of replica1"
    grep -E "$node" <(tail -c +"$((off + 1))" "$FLOG") | head -n 30
    # 16 clients were reading, about half of them from replica1, when all its
    # processes died: reads were in flight there, and each must have been run
    # again elsewhere (pgbench_result found no failed transaction)
    [ "$retried" -ge 1 ] ||
        fail "no read in flight on the killed replica1 was retried on another node"

    # pgbench may have ended before the breaker let replica1 in again: read on
    out=$(FPY until-port "$REPLICA1_PORT" 20) ||
        fail "replica1 took no read after it started again: $out"
    log_event "$off2" "node $node: circuit breaker half-open -> closed" 50 ||
        fail "no 'half-open -> closed' for $node in the log after the start"
    d=$(elapsed "$t_up" "$EV_T")
    echo "# measured: replica start -> back in rotation (breaker closed): $(ms "$d")" \
        "after it accepted connections, $(ms "$(elapsed "$t_start" "$EV_T")") after" \
        "pg_ctl start began (nominal ${F_BACK_BOUND} s)"
    faults_alive
}

# SIGSTOP replica2 (postmaster and children) under pgbench -S until its breaker
# has opened and a stuck read has hit query_timeout (and at least 3.5 s): no
# read fails (the ones in flight move after query_timeout and run again
# elsewhere), and after SIGCONT replica2 comes back.  Speeds are printed only.
t_faults_replica_sigstop() {
    proxy_only
    trap faults_restore EXIT
    pgbench_tables
    faults_ready
    local off off2 off_stop bpid rc t_stop t_cont t_open t_qt d out retried
    local f=$LOGDIR/faults_replica_sigstop.pgbench
    local node="127\.0\.0\.1:$REPLICA2_PORT"
    off=$(log_size)
    FPGBENCH -n -S -c 16 -j 2 -T 10 -P 1 >"$f" 2>&1 &
    bpid=$!
    pgbench_running "$f" "$bpid"
    # events from here on are the stop's (a busy machine may open a breaker earlier)
    off_stop=$(log_size)
    signal_node STOP "$REPLICA2_DATA" || fail "replica2 is not running"
    t_stop=$SIGNAL_T
    # stopped until both happened (the trap sends SIGCONT if a wait fails)
    log_event "$off_stop" "node $node: circuit breaker [a-z-]+ -> open" 30 ||
        fail "no 'circuit breaker -> open' for $node in the log while it was stopped"
    t_open=$EV_T
    # the reads in flight on replica2 wait query_timeout, then move
    log_event "$off_stop" "query_timeout on $node after" 30 ||
        fail "no read on the stopped replica2 hit query_timeout (16 clients were reading)"
    t_qt=$EV_T
    while below "$(elapsed "$t_stop" "$(now)")" 3.5; do sleep 0.1; done
    off2=$(log_size)
    t_cont=$(now)
    signal_node CONT "$REPLICA2_DATA"
    wait "$bpid"
    rc=$?
    pgbench_result "$f" "replica2 SIGSTOPped $(elapsed "$t_stop" "$t_cont") s"
    [ $rc -eq 0 ] || fail "pgbench exited with status $rc"

    echo "# measured: replica SIGSTOP -> breaker open: $(ms "$(elapsed "$t_stop" "$t_open")")" \
        "(nominal: health_check_timeout + interval)"
    echo "# measured: replica SIGSTOP -> first in-flight read moved by query_timeout:" \
        "$(ms "$(elapsed "$t_stop" "$t_qt")") (query_timeout ${F_QUERY_TIMEOUT} s)"
    retried=$(log_count "$off" 'retrying the read on another node')
    echo "# measured: replica SIGSTOP: $(log_count "$off" "query_timeout on $node")" \
        "reads hit query_timeout and moved, $retried reads retried on another node"
    grep -E "$node" <(tail -c +"$((off + 1))" "$FLOG") | head -n 30
    [ "$retried" -ge 1 ] ||
        fail "reads hit query_timeout on the stopped replica2, but none was retried elsewhere"

    out=$(FPY until-port "$REPLICA2_PORT" 20) ||
        fail "replica2 took no read after SIGCONT: $out"
    log_event "$off2" "node $node: circuit breaker half-open -> closed" 50 ||
        fail "no 'half-open -> closed' for $node in the log after SIGCONT"
    d=$(elapsed "$t_cont" "$EV_T")
    echo "# measured: replica SIGCONT -> back in rotation (breaker closed): $(ms "$d")" \
        "(nominal ${F_BACK_BOUND} s)"
    faults_alive
}

# Stop the primary with -m immediate (no shutdown checkpoint, backends gone at
# once, crash recovery at the start): writes fail at once (breaker open, ERROR
# 08006 naming the node) while reads go on on the replicas; after its start
# writes work again.
t_faults_primary_down() {
    proxy_only
    trap faults_restore EXIT
    faults_ready
    local off off2 t_stop t_up t_start d out rc wait node="127\.0\.0\.1:$PRIMARY_PORT"
    FPSQL -c 'DROP TABLE IF EXISTS faults_pdown' -c 'CREATE TABLE faults_pdown (id int)' ||
        fail "CREATE TABLE failed"
    # An immediate stop cuts the WAL stream: replicas that had not replayed the CREATE
    # would lag beyond max_replica_lag_bytes (1kB) behind the last position seen, and
    # leave the read rotation, as configured.  This case is about the primary.
    wait_replay || fail "replicas did not replay the CREATE TABLE"
    off=$(log_size)
    t_stop=$(now)
    timeout 90 bash "$CLUSTER_SH" stop "$CLUSTER_DIR" primary immediate ||
        fail "cluster.sh stop primary immediate"
    echo "# measured: primary stop (pg_ctl -m immediate) took" \
        "$(ms "$(elapsed "$t_stop" "$(now)")")"
    out=$(FPY primary-down "$PRIMARY_PORT" 20)
    rc=$?
    echo "$out"
    # whatever happened, the primary comes back
    off2=$(log_size)
    t_start=$(now)
    timeout 90 bash "$CLUSTER_SH" start "$CLUSTER_DIR" primary || fail "cluster.sh start primary"
    t_up=$(now)
    grep -q "^PRIMARY_PORT=$PRIMARY_PORT\$" "$CLUSTER_DIR/cluster.env" ||
        fail "the primary moved to another port when it started again"
    [ $rc -eq 0 ] || fail "$(tail -n 1 <<<"$out")"

    log_event "$off" "node $node: circuit breaker [a-z-]+ -> open" 10 ||
        fail "no 'circuit breaker -> open' for the primary in the log"
    echo "# measured: primary stop began -> breaker open: $(ms "$(elapsed "$t_stop" "$EV_T")")"
    out=$(FPY until-write "$t_up" 40 faults_pdown "$PRIMARY_PORT") ||
        fail "writes after the primary's start: $out"
    d=${out%%$'\t'*}
    wait=$(tail -c +"$((off + 1))" "$FLOG" | grep -E "node $node: circuit" |
        grep -o 'retry in [0-9]* ms' | tail -n 1)
    echo "# measured: primary start -> first write through pgrouter: $(ms "$d") after it" \
        "accepted connections, $(ms "$(elapsed "$t_start" "$t_up")") for pg_ctl start;" \
        "the breaker's last open period: ${wait:-none}"
    grep -E "$node" <(tail -c +"$((off + 1))" "$FLOG") | head -n 30
    log_event "$off2" "node $node: circuit breaker half-open -> closed" 50 ||
        fail "no 'half-open -> closed' for the primary in the log after its start"
    faults_alive
}

# Pause WAL replay on replica1 and write: replica1 leaves the read rotation
# (max_replica_lag_bytes = 1kB), the writer reads its own rows (LSN
# read-your-writes), never from replica1; resume brings replica1 back.
t_faults_replica_lag() {
    proxy_only
    trap faults_restore EXIT
    faults_ready
    local off off2 t_w t_res d out rows node="127\.0\.0\.1:$REPLICA1_PORT"
    FPSQL -c 'DROP TABLE IF EXISTS faults_lag' -c 'CREATE TABLE faults_lag (id int, v text)' ||
        fail "CREATE TABLE failed"
    wait_replay || fail "replicas did not replay the CREATE TABLE"
    DIRECT "$REPLICA1_PORT" 'SELECT pg_wal_replay_pause()' postgres >/dev/null ||
        fail "pg_wal_replay_pause() on replica1 failed"
    off=$(log_size)
    t_w=$(now)
    out=$(FPY ryw faults_lag "$REPLICA1_PORT" 2) || fail "read-your-writes: $(tail -n 1 <<<"$out")"
    echo "$out"
    rows=$(sed -n 's/^ROWS //p' <<<"$out")
    echo "# measured: replica lag: the writer's reads for 2 s after its write: all saw it," \
        "on ports $(sed -n 's/^PORTS //p' <<<"$out") (replica1 $REPLICA1_PORT paused," \
        "replica2 $REPLICA2_PORT, primary $PRIMARY_PORT)"
    log_event "$off" "node $node: replica lags beyond max_replica_lag" 20 ||
        fail "replica1 paused: no 'lags beyond max_replica_lag' in the log"
    echo "# measured: write -> paused replica out of rotation: $(ms "$(elapsed "$t_w" "$EV_T")")"
    [ "$(DIRECT "$REPLICA1_PORT" 'SELECT pg_is_wal_replay_paused()' postgres)" = t ] ||
        fail "replica1's replay is no longer paused"
    out=$(FPY reads 10 --forbid "$REPLICA1_PORT") ||
        fail "reads of a new session with replica1 lagging: $(tail -n 1 <<<"$out")"
    echo "new session: $out"
    off2=$(log_size)
    t_res=$(now)
    DIRECT "$REPLICA1_PORT" 'SELECT pg_wal_replay_resume()' postgres >/dev/null ||
        fail "pg_wal_replay_resume() on replica1 failed"
    log_event "$off2" "node $node: replica caught up, back in the read rotation" 20 ||
        fail "replica1 resumed: no 'back in the read rotation' in the log"
    d=$(elapsed "$t_res" "$EV_T")
    echo "# measured: replay resumed -> replica back in rotation: $(ms "$d")"
    out=$(FPY until-port "$REPLICA1_PORT" 20) || fail "replica1 takes no read after resume: $out"
    out=$(FPY reads 6 --count "faults_lag=$rows") || fail "reads after resume: $out"
    echo "after resume: $out"
    faults_alive
}

# The promotion: stop the primary, promote replica1; pgrouter finds the new
# primary by its health checks and sends writes there without a restart, in a
# session opened before and in new ones.  Then replica2, left following the dead
# primary, must leave the read rotation once the new primary is 1kB ahead.
# The old primary stays stopped: keep this case last.
t_faults_promotion() {
    proxy_only
    trap 'set +e; for n in primary replica1 replica2; do signal_node CONT "$(node_data $n)"; done
          [ -z "${wpid:-}" ] || kill "$wpid" 2>/dev/null' EXIT
    faults_ready
    local off off2 t_p t_done d out wpid="" w=$LOGDIR/faults_promotion.writes first node2
    node2="127\.0\.0\.1:$REPLICA2_PORT"
    FPSQL -c 'DROP TABLE IF EXISTS faults_promo' -c 'CREATE TABLE faults_promo (id int)' ||
        fail "CREATE TABLE failed"
    # a session that writes all along, from before the stop
    FPY write-loop faults_promo 25 "$REPLICA1_PORT" >"$w" 2>&1 &
    wpid=$!
    for _ in $(seq 1 100); do
        [ -s "$w" ] && break
        sleep 0.05
    done
    first=$(head -n 1 "$w")
    [[ $first == *$'\tOK\t'"$PRIMARY_PORT" ]] || fail "the first write before the stop: $first"
    off=$(log_size)
    timeout 90 bash "$CLUSTER_SH" stop "$CLUSTER_DIR" primary || fail "cluster.sh stop primary"
    t_p=$(now)
    if [ "$(id -u)" -eq 0 ]; then
        out=$(timeout 60 runuser -u postgres -- "$PGBIN/pg_ctl" -D "$REPLICA1_DATA" -w -t 50 \
            promote 2>&1) || fail "pg_ctl promote replica1: $out"
    else
        out=$(timeout 60 "$PGBIN/pg_ctl" -D "$REPLICA1_DATA" -w -t 50 promote 2>&1) ||
            fail "pg_ctl promote replica1: $out"
    fi
    t_done=$(now)
    echo "$out"
    echo "# measured: pg_ctl promote took $(ms "$(elapsed "$t_p" "$t_done")")"
    [ "$(DIRECT "$REPLICA1_PORT" 'SELECT pg_is_in_recovery()' postgres)" = f ] ||
        fail "replica1 is still in recovery after pg_ctl promote"
    log_event "$off" "cluster main: 127\.0\.0\.1:$REPLICA1_PORT is the primary now" 30 ||
        fail "no 'cluster main: 127.0.0.1:$REPLICA1_PORT is the primary now' in the log" \
            "30 s after the promotion"
    d=$(elapsed "$t_p" "$EV_T")
    echo "# measured: pg_ctl promote began -> pgrouter follows ('is the primary now'):" \
        "$(ms "$d") (nominal 2 intervals)"

    timeout 30 tail --pid="$wpid" -f /dev/null
    wait "$wpid"
    echo "write loop (exit $?):"
    awk -F '\t' '{ k = $2 == "OK" ? "OK " $3 : $2 " " $3; if (k != prev) print; prev = k }' "$w"
    out=$(awk -F '\t' -v p="$REPLICA1_PORT" '$2 == "OK" && $3 == p { print $1; exit }' "$w")
    [ -n "$out" ] || fail "the session opened before the stop never wrote on replica1:" \
        "$(tail -n 1 "$w")"
    echo "# measured: pg_ctl promote began -> the session opened before the stop writes" \
        "on the new primary: $(ms "$(elapsed "$t_p" "$out")"); its writes in between:" \
        "$(grep -c $'\tERR\t' "$w") errors ($(cut -f 3 "$w" | grep -v '^[0-9]*$' |
            sed 's/next try in [0-9]* ms/next try in N ms/' | sort | uniq -c |
            sed 's/^ *//' | paste -s -d ';' -))"
    out=$(FPY until-write "$t_p" 15 faults_promo "$REPLICA1_PORT") ||
        fail "writes of a new session after the promotion: $out"
    echo "# measured: a new session $(ms "${out%%$'\t'*}") after pg_ctl promote began: its first" \
        "write ran on the new primary at try ${out##*$'\t'}"
    out=$(FPY reads 6 --forbid "$PRIMARY_PORT") || fail "reads after the promotion: $out"
    echo "reads after the promotion: $out"

    # replica2 follows the stopped primary: once the new primary is more than
    # max_replica_lag_bytes ahead, replica2 must leave the read rotation
    off2=$(log_size)
    t_p=$(now)
    FPSQL -c "INSERT INTO faults_promo SELECT g FROM generate_series(1, 2000) g" ||
        fail "INSERT of 2000 rows on the new primary failed"
    if log_event "$off2" "node $node2: replica lags beyond max_replica_lag" 20; then
        echo "# measured: 2000 rows on the new primary -> replica2 (on the old timeline)" \
            "out of rotation: $(ms "$(elapsed "$t_p" "$EV_T")")"
    else
        out=$(FPY reads 6)
        fail "replica2 follows the stopped old primary, the new primary is far ahead, and" \
            "it is still in the read rotation 20 s later (reads: $out)"
    fi
    out=$(FPY reads 6 --forbid "$REPLICA2_PORT" --forbid "$PRIMARY_PORT") ||
        fail "reads with replica2 out of rotation: $out"
    echo "reads with replica2 out: $out"
    grep -E "cluster main|$REPLICA1_PORT|$REPLICA2_PORT" <(tail -c +"$((off + 1))" "$FLOG") |
        grep -v -E 'idle server closed' | head -n 30
    faults_alive
}

# faults_cases: start the faults pgrouter (if a case is to run) and run the
# cases, the promotion last; copies their `# measured:` lines to the output.
faults_cases() {
    local c any=0
    for c in "${FAULTS_CASES[@]}"; do
        if [ -z "$ITEST_ONLY" ] || [[ $c =~ $ITEST_ONLY ]]; then
            any=1
        fi
    done
    [ "$any" -eq 1 ] || return 0
    if [ "$ITEST_DIRECT" != 1 ]; then
        start_pgrouter faults scram-sha-256 faults_ini
        FLOG=$ITEST_DIR/faults/pgrouter.log
    fi
    for c in "${FAULTS_CASES[@]}"; do
        run "$c" "t_$c"
        if [ -f "$LOGDIR/$c.log" ]; then
            grep '^# measured:' "$LOGDIR/$c.log"
        fi
    done
}
