#!/bin/sh
# Runs once, when the primary's data directory is created (docker-entrypoint-initdb.d).
# Same roles and database as tests/cluster.sh; passwords equal the names.
set -eu

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres <<'SQL'
CREATE ROLE replicator LOGIN REPLICATION PASSWORD 'replicator';
GRANT pg_monitor TO replicator;
CREATE ROLE app LOGIN PASSWORD 'app';
CREATE ROLE other LOGIN PASSWORD 'other';
SQL
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -c "CREATE DATABASE appdb OWNER app"
# the sample sharded table of docker/pgrouter.ini, on every primary (main and shards)
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname appdb \
    -c "SET ROLE app" -c "CREATE TABLE accounts (tenant_id text, id int, balance numeric)"

# the image's pg_hba.conf has no line for replication connections from other hosts
echo "host replication all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
