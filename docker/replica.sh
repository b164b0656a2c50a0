#!/bin/sh
# Entry point of the replica containers: on first start, clone the primary with
# pg_basebackup (-R writes primary_conninfo and standby.signal), then run
# postgres as a hot standby.  Runs as the postgres user.
set -eu

: "${PRIMARY_HOST:=primary}"
: "${REPL_USER:=replicator}"
: "${REPL_PASSWORD:=replicator}"
: "${REPLICA_NAME:=replica}"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    until pg_isready -q -h "$PRIMARY_HOST" -U "$REPL_USER"; do
        echo "replica: waiting for $PRIMARY_HOST"
        sleep 1
    done
    PGPASSWORD=$REPL_PASSWORD pg_basebackup -h "$PRIMARY_HOST" -U "$REPL_USER" \
        -D "$PGDATA" -R -X stream -c fast
    chmod 700 "$PGDATA"
fi

exec postgres -c hot_standby=on -c max_connections=200 -c shared_buffers=32MB \
    -c "cluster_name=$REPLICA_NAME"
