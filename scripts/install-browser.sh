#!/usr/bin/env sh
# Installs the system Chromium that the browser tests drive through Playwright.
# Playwright's own browser download is not used: this machine has no route to it,
# so the tests launch /usr/bin/chromium instead. Safe to run again: it does nothing
# once Chromium is present.
set -eu

CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

if [ -x "$CHROMIUM" ]; then
    echo "chromium already installed: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi

$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium
echo "installed: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
