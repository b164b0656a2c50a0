#!/usr/bin/env bash
# tests/bench/isolated.sh - the proxy alone: tests/bench/loadgen.c sends `SELECT 1` through
# pgrouter to tests/bench/fakepg.c, a fake server that answers at once, so neither
# PostgreSQL nor pgbench takes CPU from the proxy.  Part of `make bench`; a benchmark,
# not a test: it never fails on speed, only when it cannot set itself up or a client
# gets an error or loses its connection.
#
# Pinning (taskset), on a machine with at least 2 cores:
#   1 core    pgrouter on CPU 1 alone; fakepg and loadgen share CPU 0
#   2 cores   pgrouter may use CPUs 0 and 1; so may fakepg and loadgen
# With only 2 cores the second layout cannot give the proxy two cores of its own: the
# load side needs about as much CPU as the proxy.  So the figure that carries over to
# a bigger machine is the proxy's CPU time per transaction (utime + stime from
# /proc/PID/stat, all threads, over the measured window), not the 2-core tps.
# "direct" is loadgen straight to fakepg on CPU 0: the load side's own ceiling.
#
# For every worker count in BENCH_WORKERS (default "1 2"): a count other than 1 runs
# only if `pgrouter -t` accepts `workers = N`; otherwise it prints
# "workers=N: not supported by this build" and counts a skip.  workers = 1 is written
# into the config only when the key exists (an older build has one loop anyway).
#
# Environment: ISO_SECONDS (5; BENCH_QUICK=1: 2) measured seconds per run after 1 s of
# warm-up, ISO_ROUNDS (3; BENCH_QUICK=1: 1) rounds, each running every configuration
# once (the tables show medians), ISO_CONNS (16) client connections, ISO_MODES
# ("simple prepared"),
# BENCH_WORKERS, PGROUTER_BIN (./pgrouter), PGBOUNCER_BIN (/usr/sbin/pgbouncer: the
# same load through PgBouncer, simple protocol only), BENCH_TOOLS (build/bench).
# Output: build/bench/isolated.md (printed at the end) and build/bench/iso/*.log.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 1
OUT=$ROOT/build/bench/iso
RESULTS=$ROOT/build/bench/isolated.md
TOOLS=${BENCH_TOOLS:-$ROOT/build/bench}
PGROUTER_BIN=${PGROUTER_BIN:-$ROOT/pgrouter}
PGBOUNCER_BIN=${PGBOUNCER_BIN:-/usr/sbin/pgbouncer}
if [ "${BENCH_QUICK:-0}" = 1 ]; then
    SECS=${ISO_SECONDS:-2}
else
    SECS=${ISO_SECONDS:-5}
fi
CONNS=${ISO_CONNS:-16}
ROUNDS=${ISO_ROUNDS:-3}
[ "${BENCH_QUICK:-0}" != 1 ] || ROUNDS=${ISO_ROUNDS:-1}
read -r -a MODES <<<"${ISO_MODES:-simple prepared}"
read -r -a WORKERS <<<"${BENCH_WORKERS:-1 2}"
T0=$SECONDS

say() { echo "bench: isolated: $*"; }
die() {
    echo "bench: isolated: $*" >&2
    exit 1
}

[[ $SECS =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "ISO_SECONDS must be a number, not '$SECS'"
[[ $CONNS =~ ^[1-9][0-9]*$ ]] || die "ISO_CONNS must be a positive integer, not '$CONNS'"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ISO_ROUNDS must be a positive integer, not '$ROUNDS'"
for w in "${WORKERS[@]}"; do
    [[ $w =~ ^[1-9][0-9]?$ ]] || die "BENCH_WORKERS holds '$w', not a worker count"
done
[ -x "$PGROUTER_BIN" ] || die "no pgrouter binary at $PGROUTER_BIN"
mkdir -p "$OUT" || exit 1
rm -f "$OUT"/*.log "$RESULTS"
for t in fakepg loadgen; do
    if [ ! -x "$TOOLS/$t" ] || [ "$TOOLS/$t" -ot "tests/bench/$t.c" ]; then
        ${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -o "$TOOLS/$t" \
            "tests/bench/$t.c" -lcrypto || die "$t does not build"
    fi
done

FAKE_PID=""
PGB_PID=""          # pgbouncer itself
PGB_WRAP_PID=""     # runuser, or pgbouncer itself
PGB_PORT=""
PGB_DIR=""
declare -A PGR_PIDS=()
# stop_pid PID SIGNAL: send SIGNAL, wait up to 5 s, then SIGKILL.
# shellcheck disable=SC2317 # called from the trap
stop_pid() {
    local pid=$1 i
    [ -n "$pid" ] || return 0
    kill "-$2" "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
}
# shellcheck disable=SC2317 # called through the trap
cleanup() {
    trap - EXIT INT TERM HUP
    local w
    for w in "${!PGR_PIDS[@]}"; do
        stop_pid "${PGR_PIDS[$w]}" INT
    done
    stop_pid "$PGB_PID" INT
    stop_pid "$PGB_WRAP_PID" TERM
    stop_pid "$FAKE_PID" TERM
    case $PGB_DIR in
    /tmp/pgrouter-iso.??????)
        cp "$PGB_DIR/pgbouncer.log" "$OUT/pgbouncer.log" 2>/dev/null
        rm -rf "$PGB_DIR"
        ;;
    esac
    wait 2>/dev/null
}
trap cleanup EXIT
trap 'echo "bench: isolated: interrupted" >&2; exit 130' INT TERM HUP

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
    local p=$((20000 + RANDOM % 12000))
    while port_in_use "$p"; do p=$((20000 + RANDOM % 12000)); done
    echo "$p"
}
wait_port() {
    local i
    for ((i = 0; i < 200; i++)); do
        port_in_use "$1" && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

SKIPS=()
NCPU=$(nproc)
PIN=1
if [ "$NCPU" -lt 2 ] || ! command -v taskset >/dev/null; then
    PIN=0
    SKIPS+=("pinning: needs 2 cores and taskset (nproc $NCPU); every run is unpinned")
    say "${SKIPS[-1]}"
fi
# cpus LAYOUT ROLE: the CPU list for taskset
cpus() {
    case $1,$2 in
    1core,proxy) echo 1 ;;
    1core,*) echo 0 ;;
    *) echo 0,1 ;;
    esac
}
# pin PID LAYOUT ROLE: every thread of PID onto that layout's CPUs
pin() {
    [ "$PIN" = 1 ] || return 0
    taskset -a -pc "$(cpus "$2" "$3")" "$1" >/dev/null || die "taskset -a -pc failed for pid $1"
}

# ---- the fake server and the configs -------------------------------------------------

FAKE_PORT=$(free_port)
"$TOOLS/fakepg" -p "$FAKE_PORT" 2>"$OUT/fakepg.log" &
FAKE_PID=$!
wait_port "$FAKE_PORT" "$FAKE_PID" || die "fakepg does not listen on $FAKE_PORT"

printf '"app" "app"\n' >"$OUT/userlist.txt"
chmod 600 "$OUT/userlist.txt"
# write_ini FILE PORT WORKERS ("" leaves the key out)
write_ini() {
    cat >"$1" <<EOF
; written by tests/bench/isolated.sh: trust logins, fakepg behind
[pgrouter]
listen_addr = 127.0.0.1
listen_port = $2
auth_type = trust
auth_file = userlist.txt
pool_mode = transaction
default_pool_size = 20
max_client_conn = 1000
server_tls_sslmode = disable
log_connections = 0
log_disconnections = 0
${3:+workers = $3}

[cluster.main]
primary = 127.0.0.1:$FAKE_PORT
EOF
}

write_ini "$OUT/probe.ini" "$(free_port)" 2
HAVE_WORKERS=0
if "$PGROUTER_BIN" -t -c "$OUT/probe.ini" >"$OUT/probe.log" 2>&1; then
    HAVE_WORKERS=1
elif grep -q 'workers' "$OUT/probe.log"; then
    say "this pgrouter has no workers key: $(grep -m1 workers "$OUT/probe.log")"
else
    cat "$OUT/probe.log" >&2
    die "pgrouter -t rejects the config for another reason"
fi

declare -A TPS P50 P99 PROXY FAKE SELF
RUNS=()
FAILED=()           # runs with an error or a lost connection: not about speed
# run LABEL LAYOUT MODE PORT PROXY_PID ROUND: one loadgen run; appends its figures to
# the arrays under LABEL,LAYOUT,MODE
run() {
    local key=$1,$2,$3 log=$OUT/$1-$2-$3-$6.log line pids=$FAKE_PID cpu proxy fake
    [ -z "$5" ] || pids=$5,$FAKE_PID
    [ "$6" != 1 ] || RUNS+=("$key")
    pin "$FAKE_PID" "$2" load
    # shellcheck disable=SC2046 # no taskset words when unpinned
    $( [ "$PIN" = 1 ] && echo "taskset -c $(cpus "$2" load)") \
        "$TOOLS/loadgen" -p "$4" -c "$CONNS" -T "$SECS" -W 1 -M "$3" -P "$pids" >"$log" 2>&1
    line=$(grep '^tps=' "$log")
    if [ -z "$line" ]; then
        FAILED+=("$key round $6: loadgen printed nothing: $(head -n 3 "$log" | tr '\n' ' ')")
        say "${FAILED[-1]}"
        return
    fi
    cpu=$(sed -n 's/.*cpu_us=\([0-9.na/,]*\).*/\1/p' <<<"$line")
    if [ -z "$5" ]; then
        proxy=""
        fake=$cpu
    else
        IFS=, read -r proxy fake <<<"$cpu"
    fi
    TPS[$key]+=" $(sed -n 's/.*tps=\([0-9]*\).*/\1/p' <<<"$line")"
    P50[$key]+=" $(sed -n 's/.*p50_us=\([0-9]*\).*/\1/p' <<<"$line")"
    P99[$key]+=" $(sed -n 's/.*p99_us=\([0-9]*\).*/\1/p' <<<"$line")"
    SELF[$key]+=" $(sed -n 's/.*self_us=\([0-9.]*\).*/\1/p' <<<"$line")"
    [ -z "$proxy" ] || PROXY[$key]+=" $proxy"
    FAKE[$key]+=" $fake"
    if ! grep -q 'errors=0 ' "$log" || ! grep -q "conns=$CONNS " "$log"; then
        FAILED+=("$key round $6: $(grep -m1 -e ErrorResponse -e 'connection closed' "$log")")
        say "${FAILED[-1]}"
    fi
    say "$(printf 'round %d %-10s %-7s %-8s %s' "$6" "$1" "$2" "$3" "$line")"
}

say "fakepg on 127.0.0.1:$FAKE_PORT; $CONNS connections, ${SECS} s per run after 1 s of warm-up, $ROUNDS round(s)"
declare -A PGR_PORTS
RUN_WORKERS=()
for w in "${WORKERS[@]}"; do
    if [ "$w" != 1 ] && [ "$HAVE_WORKERS" = 0 ]; then
        SKIPS+=("workers=$w: not supported by this build")
        say "workers=$w: not supported by this build"
        continue
    fi
    port=$(free_port)
    key=""
    [ "$HAVE_WORKERS" = 0 ] || key=$w
    write_ini "$OUT/pgrouter-w$w.ini" "$port" "$key"
    "$PGROUTER_BIN" -c "$OUT/pgrouter-w$w.ini" >"$OUT/pgrouter-w$w.log" 2>&1 &
    PGR_PIDS[$w]=$!
    PGR_PORTS[$w]=$port
    wait_port "$port" "${PGR_PIDS[$w]}" || die "pgrouter (workers=$w) does not listen on $port"
    RUN_WORKERS+=("$w")
done

# PgBouncer in front of the same fake server, for the simple protocol only (1.18 cannot
# carry named prepared statements in transaction mode, and fakepg would not notice).
# It refuses to run as root: as root it runs as postgres, from a directory it owns.
if [ -x "$PGBOUNCER_BIN" ]; then
    # in /tmp: the user postgres may not be able to reach the build directory
    PGB_DIR=$(mktemp -d /tmp/pgrouter-iso.XXXXXX) || die "mktemp failed"
    chmod 755 "$PGB_DIR"
    PGB_PORT=$(free_port)
    printf '"app" ""\n' >"$PGB_DIR/userlist.txt"
    cat >"$PGB_DIR/pgbouncer.ini" <<EOF
[databases]
appdb = host=127.0.0.1 port=$FAKE_PORT dbname=appdb
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PGB_PORT
unix_socket_dir =
auth_type = trust
auth_file = $PGB_DIR/userlist.txt
pool_mode = transaction
default_pool_size = 20
max_client_conn = 1000
logfile = $PGB_DIR/pgbouncer.log
pidfile = $PGB_DIR/pgbouncer.pid
log_connections = 0
log_disconnections = 0
EOF
    if [ "$(id -u)" -eq 0 ]; then
        chown -R postgres: "$PGB_DIR"
        runuser -u postgres -- "$PGBOUNCER_BIN" "$PGB_DIR/pgbouncer.ini" >"$PGB_DIR/stdout.log" 2>&1 &
    else
        "$PGBOUNCER_BIN" "$PGB_DIR/pgbouncer.ini" >"$PGB_DIR/stdout.log" 2>&1 &
    fi
    PGB_WRAP_PID=$!
    wait_port "$PGB_PORT" "$PGB_WRAP_PID" || die "PgBouncer does not listen on $PGB_PORT (see $PGB_DIR)"
    for ((i = 0; i < 50; i++)); do
        [ -s "$PGB_DIR/pgbouncer.pid" ] && break
        sleep 0.1
    done
    PGB_PID=$(cat "$PGB_DIR/pgbouncer.pid" 2>/dev/null)
    [ -n "$PGB_PID" ] || die "PgBouncer wrote no pidfile"
else
    SKIPS+=("PgBouncer: no $PGBOUNCER_BIN (apt-get install pgbouncer)")
    say "${SKIPS[-1]}"
fi
# Rounds alternate every configuration, so a burst of load from elsewhere spreads
# over all of them instead of spoiling one.
for ((r = 1; r <= ROUNDS; r++)); do
    for m in "${MODES[@]}"; do
        run direct 1core "$m" "$FAKE_PORT" "" "$r"
    done
    if [ -n "$PGB_PID" ]; then
        for layout in 1core 2cores; do
            [ "$PIN" = 1 ] || [ "$layout" = 2cores ] || continue
            pin "$PGB_PID" "$layout" proxy
            run PgBouncer "$layout" simple "$PGB_PORT" "$PGB_PID" "$r"
        done
    fi
    for w in "${RUN_WORKERS[@]}"; do
        for layout in 1core 2cores; do
            [ "$PIN" = 1 ] || [ "$layout" = 2cores ] || continue
            pin "${PGR_PIDS[$w]}" "$layout" proxy
            for m in "${MODES[@]}"; do
                run "workers=$w" "$layout" "$m" "${PGR_PORTS[$w]}" "${PGR_PIDS[$w]}" "$r"
            done
        done
    done
done
for w in "${RUN_WORKERS[@]}"; do
    kill -0 "${PGR_PIDS[$w]}" 2>/dev/null || die "pgrouter (workers=$w) died (see $OUT/pgrouter-w$w.log)"
done

# median NUMBERS...: with one decimal, "" when there are none
median() {
    [ $# -gt 0 ] || { echo ""; return; }
    printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 }
        END { if (NR % 2) printf "%.1f\n", a[(NR + 1) / 2];
              else printf "%.1f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
# med ARRAY KEY [DECIMALS]: the median of the values stored under KEY
med() {
    local -n arr=$1
    local m
    # shellcheck disable=SC2086 # a list of numbers
    m=$(median ${arr[$2]:-})
    [ -z "$m" ] || [ "${3:-1}" = 1 ] || m=$(printf '%.0f' "$m")
    echo "$m"
}

# ratio A B: A/B with two decimals, or "-"
ratio() {
    if [ -z "${1:-}" ] || [ -z "${2:-}" ] || [ "$2" = 0 ]; then echo "-"; else
        awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f\n", a / b }'; fi
}

{
    echo "# pgrouter alone (tests/bench/isolated.sh)"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); load average before the summary: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- machine: nproc $NCPU, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
    echo "- loadgen: $CONNS connections, closed loop, \`SELECT 1\`, $SECS s measured after 1 s of warm-up; pgrouter in transaction mode, pool 20, trust logins; fakepg answers at once"
    echo "- 1 core: pgrouter on CPU 1 (alone as far as this benchmark goes: taskset keeps nothing else off it), loadgen and fakepg on CPU 0; 2 cores: all three may use CPUs 0-1 (the proxy shares them with the load side)"
    echo "- CPU us/xact: utime + stime from /proc/PID/stat over the measured window, divided by the transactions; proxy cores busy = tps x proxy CPU us/xact / 1e6 (under 1 on the 1-core layout means the proxy was not the bottleneck: it waited for the load side or for a CPU shared with other work); one proxy core at that cost = 1e6 / proxy CPU us/xact, an estimate, not a measurement"
    echo
    echo "Medians of $ROUNDS round(s):"
    echo
    echo "| target | pinning | protocol | tps | p50 us | p99 us | proxy CPU us/xact | proxy cores busy | one proxy core at that cost, tps | fakepg CPU us/xact | loadgen CPU us/xact |"
    echo "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    for k in "${RUNS[@]}"; do
        IFS=, read -r label layout mode <<<"$k"
        proxy=$(med PROXY "$k")
        tps=$(med TPS "$k" 0)
        busy=-
        ceiling=-
        if [ -n "$proxy" ] && [ -n "$tps" ] && [ "$proxy" != 0.0 ]; then
            busy=$(awk -v t="$tps" -v u="$proxy" 'BEGIN { printf "%.2f", t * u / 1e6 }')
            ceiling=$(awk -v u="$proxy" 'BEGIN { printf "%.0f", 1e6 / u }')
        fi
        echo "| $label | $layout | $mode | ${tps:-failed} | $(med P50 "$k" 0) | $(med P99 "$k" 0) | ${proxy:--} | $busy | $ceiling | $(med FAKE "$k") | $(med SELF "$k") |"
    done
    echo
    for m in "${MODES[@]}"; do
        echo "- $m: workers=1 2 cores / 1 core: $(ratio "$(med TPS "workers=1,2cores,$m")" "$(med TPS "workers=1,1core,$m")"); workers=2 / workers=1 on 2 cores: $(ratio "$(med TPS "workers=2,2cores,$m")" "$(med TPS "workers=1,2cores,$m")"); workers=2 / workers=1 on 1 core: $(ratio "$(med TPS "workers=2,1core,$m")" "$(med TPS "workers=1,1core,$m")")"
    done
    for layout in 1core 2cores; do
        [ -n "$(med TPS "PgBouncer,$layout,simple")" ] || continue
        echo "- simple, $layout: pgrouter workers=1 / PgBouncer: tps $(ratio "$(med TPS "workers=1,$layout,simple")" "$(med TPS "PgBouncer,$layout,simple")"), proxy CPU per transaction $(ratio "$(med PROXY "workers=1,$layout,simple")" "$(med PROXY "PgBouncer,$layout,simple")")"
    done
    echo
    echo "Skipped: ${#SKIPS[@]}"
    for s in "${SKIPS[@]}"; do
        echo "- $s"
    done
    echo
    echo "Runs with errors or lost connections: ${#FAILED[@]}"
    for f in "${FAILED[@]}"; do
        echo "- $f"
    done
    echo
    echo "Time: $((SECONDS - T0)) s."
} >"$RESULTS"
echo
cat "$RESULTS"
# Slowness never fails the benchmark; a wrong answer or a dropped client does.
[ "${#FAILED[@]}" = 0 ]
