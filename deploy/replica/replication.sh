#!/bin/sh
# Run once by the postgres image when it initialises an empty data directory
# (/docker-entrypoint-initdb.d): a role the streaming replica connects as, and the
# pg_hba.conf line that lets it (replication connections match no "all" database line).
# The replica (docker-compose.yml's postgres-replica, deploy/replica/postgres-replica.yaml)
# copies the primary with `pg_basebackup -R` as this role. A data directory made before this
# script was mounted needs both by hand (docs/operations.md, "Read replica").
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v password="${REPLICATION_PASSWORD:?the replica role's password}" <<'SQL'
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD :'password';
SQL
echo "host replication replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"
