#!/usr/bin/env sh
# Installs Debian's Prometheus (prometheus and promtool), which the monitoring tests run: the
# alerting rules' unit tests and a real Prometheus scraping the services. Safe to run again:
# it does nothing once promtool is present. Only the binaries are used; no service is started.
set -eu

if command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; then
    echo "prometheus already installed: $(promtool --version 2>&1 | head -n 1)"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi

$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends prometheus
# The package enables a system service; the tests start their own Prometheus on a free port.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true
fi
echo "installed: $(promtool --version 2>&1 | head -n 1)"
