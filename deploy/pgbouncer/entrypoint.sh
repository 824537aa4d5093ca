#!/bin/sh
# Writes pgbouncer.ini and the user list from the environment, then runs PgBouncer in the
# foreground. Transaction mode: each transaction takes any server connection, which is why
# the services set DB_POOLER=pgbouncer (no named prepared statements) and migrations connect
# to Postgres directly.
set -eu
run=/etc/pgbouncer/run
: > "$run/userlist.txt"
for pair in $(echo "${PGBOUNCER_USERS:?role:password,... of the services}" | tr ',' ' '); do
    printf '"%s" "%s"\n' "${pair%%:*}" "${pair#*:}" >> "$run/userlist.txt"
done
cat > "$run/pgbouncer.ini" <<INI
[databases]
* = host=${PGBOUNCER_UPSTREAM_HOST:-postgres} port=${PGBOUNCER_UPSTREAM_PORT:-5432}
[pgbouncer]
listen_addr = 0.0.0.0
listen_port = 6432
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $run/userlist.txt
pool_mode = transaction
default_pool_size = ${PGBOUNCER_POOL_SIZE:-20}
max_client_conn = ${PGBOUNCER_MAX_CLIENTS:-2000}
server_reset_query =
INI
exec pgbouncer "$run/pgbouncer.ini"
