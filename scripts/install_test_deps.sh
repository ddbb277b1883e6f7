#!/usr/bin/env bash
# System packages the browser tests use, from Debian: chromium (Playwright drives it), fonts,
# coturn (the TURN relay test), caddy (the production profile's HTTPS test in tests/deploy).
# Installs only what is missing, and only where it can (root with apt-get); elsewhere it says
# what to install and the tests that need it skip (or fail under CI).
set -euo pipefail

needed=()
[ -x /usr/bin/chromium ] || needed+=(chromium)
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || needed+=(fonts-dejavu-core)
[ -x /usr/bin/turnserver ] || needed+=(coturn)
[ -x /usr/bin/caddy ] || needed+=(caddy)
[ ${#needed[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "Missing for the browser tests: ${needed[*]} (install with: sudo apt-get install ${needed[*]})" >&2
  exit 0
fi
echo "Installing for the browser tests: ${needed[*]} ..."
apt-get update -qq
# coturn's and caddy's packages would start system services; the tests start their own on loopback.
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${needed[@]}" >/dev/null
