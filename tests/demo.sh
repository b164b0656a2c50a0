#!/usr/bin/env bash
# tests/demo.sh - `make demo` / `make demo-down`: a local primary with two
# streaming replicas and ./pgrouter in front of them, for trying things by hand.
#
#   bash tests/demo.sh up     start PostgreSQL (build/demo/cluster) and pgrouter
#   bash tests/demo.sh down   stop both (idempotent)
#
# The pgrouter config is config/pgrouter.ini with the real ports of this run
# (build/demo/pgrouter.ini); pgrouter logs to build/demo/pgrouter.log.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

DEMO=build/demo
CLUSTER_DIR=$DEMO/cluster
INI=$DEMO/pgrouter.ini
LOG=$DEMO/pgrouter.log
PIDFILE=$DEMO/pgrouter.pid
BIN=${PGROUTER_BIN:-./pgrouter}

die() {
    echo "demo: $*" >&2
    exit 1
}

port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

free_port() {
    local p=$((20000 + RANDOM % 30000))
    while port_in_use "$p"; do
        p=$((p + 1 + RANDOM % 7))
        [ $p -lt 60000 ] || p=20000
    done
    echo "$p"
}

pgrouter_pid() {
    local pid
    [ -f "$PIDFILE" ] || return 0
    pid=$(cat "$PIDFILE")
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        echo "$pid"
    fi
}

up() {
    local port pid i
    [ -x "$BIN" ] || die "no $BIN; build it first (make)"
    [ -f config/pgrouter.ini ] || die "config/pgrouter.ini is missing"
    if [ -n "$(pgrouter_pid)" ]; then
        die "the demo is already running (pid $(pgrouter_pid)); stop it with: make demo-down"
    fi
    mkdir -p "$DEMO"

    bash tests/cluster.sh up "$CLUSTER_DIR"
    # shellcheck disable=SC1091
    . "$CLUSTER_DIR/cluster.env"

    port=6432
    if port_in_use "$port"; then
        port=$(free_port)
        echo "demo: port 6432 is busy, pgrouter listens on $port instead"
    fi
    sed -e "s/127\.0\.0\.1:5432\b/127.0.0.1:$PRIMARY_PORT/g" \
        -e "s/127\.0\.0\.1:5433\b/127.0.0.1:$REPLICA1_PORT/g" \
        -e "s/127\.0\.0\.1:5434\b/127.0.0.1:$REPLICA2_PORT/g" \
        -e "s|^\([[:space:]]*listen_port[[:space:]]*=\).*|\1 $port|" \
        -e "s|^\([[:space:]]*auth_file[[:space:]]*=\).*|\1 $ROOT/config/userlist.txt|" \
        config/pgrouter.ini >"$INI"

    # its own session, so that it outlives make and ignores make's ctrl-c
    setsid "$BIN" -c "$INI" >"$LOG" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$PIDFILE"
    for ((i = 0; i < 100; i++)); do
        port_in_use "$port" && break
        if ! kill -0 "$pid" 2>/dev/null; then
            break
        fi
        sleep 0.1
    done
    if ! port_in_use "$port"; then
        echo "demo: pgrouter did not start listening on 127.0.0.1:$port; last lines of $LOG:" >&2
        tail -n 20 "$LOG" >&2
        down
        exit 1
    fi

    cat <<EOF

$("$BIN" --version 2>/dev/null | head -n 1 || echo pgrouter) is running (pid $pid) on 127.0.0.1:$port
  primary  127.0.0.1:$PRIMARY_PORT
  replica1 127.0.0.1:$REPLICA1_PORT
  replica2 127.0.0.1:$REPLICA2_PORT
  config   $INI
  log      $LOG

Connect:  PGPASSWORD=app psql -h 127.0.0.1 -p $port -U app appdb
Stop:     make demo-down
EOF
}

down() {
    local pid i
    pid=$(pgrouter_pid)
    if [ -n "$pid" ]; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        echo "demo: pgrouter (pid $pid) stopped"
    fi
    rm -f "$PIDFILE"
    bash tests/cluster.sh down "$CLUSTER_DIR"
}

case ${1:-} in
up) up ;;
down) down ;;
*)
    echo "usage: bash tests/demo.sh up|down" >&2
    exit 2
    ;;
esac
