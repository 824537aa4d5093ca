#!/usr/bin/env sh
# Installs the system Chromium that the browser tests drive through Playwright.
# Playwright's own browser download is not used: this machine has no route to it,
# so the tests launch /usr/bin/chromium instead. Safe to run again: it does nothing
# once Chromium is present.
set -eu

CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
# Hangul needs a CJK font and reactions an emoji font, or screenshots show empty boxes.
CJK_FONT=/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
EMOJI_FONT=/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf

if [ -x "$CHROMIUM" ] && [ -f "$CJK_FONT" ] && [ -f "$EMOJI_FONT" ]; then
    echo "chromium already installed: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi

$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium fonts-noto-cjk fonts-noto-color-emoji
echo "installed: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
