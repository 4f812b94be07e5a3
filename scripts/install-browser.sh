#!/usr/bin/env bash
# Installs Debian's Chromium for the web UI tests when it is missing (Playwright drives
# it; it never downloads a browser of its own). Needs root, or sudo without a password.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
  echo "Chromium is missing and this user cannot install it: run 'apt-get install chromium' as root." >&2
  echo "The browser tests will be skipped." >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium >/dev/null
