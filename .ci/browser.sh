#!/usr/bin/env bash
# The browser tests (tests/e2e) drive Debian's Chromium through Playwright (never a browser
# download) and need a CJK font so Chinese pages render as text in screenshots. Installs both
# through apt-get when missing and this runs as root with apt-get; otherwise says in one line
# that the browser tests will be skipped (CI=true: the tests themselves then fail).
set -uo pipefail

have_browser() { command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; }
have_font() { fc-list 2>/dev/null | grep -qi wqy; }

if have_browser && have_font; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  if apt-get update -qq && apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null; then
    exit 0
  fi
  echo "browser.sh: apt-get could not install chromium / fonts-wqy-microhei" >&2
fi
if have_browser; then
  echo "browser tests: no CJK font (apt-get install fonts-wqy-microhei): Chinese shows as boxes in screenshots"
else
  echo "browser tests will be skipped: no Chromium and no way to install it here (as root: apt-get install chromium fonts-wqy-microhei)"
fi
exit 0
