#!/usr/bin/env sh
# Installs Debian's PgBouncer, which the data-tier tests start in transaction mode in front of
# the test Postgres (tests/data_tier/test_pgbouncer.py). Safe to run again: it does nothing
# once pgbouncer is present. Only the binary is used; no service is started.
set -eu

if command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ]; then
    echo "pgbouncer already installed"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi

$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends pgbouncer
# The package enables a system service; the tests start their own PgBouncer on a free port.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now pgbouncer >/dev/null 2>&1 || true
fi
echo "installed: pgbouncer"
