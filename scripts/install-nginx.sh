#!/usr/bin/env bash
# Usage: scripts/install-nginx.sh
#
# Makes sure an `nginx` binary is on the PATH for the forward-auth journey (e2e/tests/09-…), which runs
# a real nginx in front of Keyward. When it is missing, installs Debian's `nginx` package with apt-get:
# directly as root (CI runs as root, with CI=true and no stdin), with `sudo -n` otherwise. Fails loudly,
# naming the command to run, when it can do neither.
#
# The journey never uses the package's configuration or service: it runs `nginx -p DIR -c DIR/nginx.conf
# -g 'daemon off;'` on a free loopback port as the current user. So the package's own service is kept
# from starting during the install (a policy-rc.d that says "no", the mechanism Debian's invoke-rc.d and
# deb-systemd-invoke ask, used only when the machine has none), so that port 80 being taken, or no init
# system at all, cannot fail the install.
set -euo pipefail

say() { echo "install-nginx: $*" >&2; }

if command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]]; then
  exit 0
fi

HINT='sudo apt-get update && sudo apt-get install -y nginx'
if ! command -v apt-get >/dev/null; then
  say "ERROR: nginx is missing and this is not a Debian-like system (no apt-get): install nginx and put it on the PATH"
  exit 1
fi

if [[ $(id -u) == 0 ]]; then
  as_root=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  say "ERROR: nginx is missing, and installing it needs root (sudo asks for a password or is missing): $HINT"
  exit 1
fi

POLICY=/usr/sbin/policy-rc.d
placed_policy=
cleanup() {
  if [[ -n $placed_policy ]]; then
    "${as_root[@]}" rm -f "$POLICY"
  fi
}
trap cleanup EXIT
if [[ ! -e $POLICY ]]; then
  # 101: "action not allowed"; the package is installed, its service is not started.
  printf '#!/bin/sh\n# Placed by keyward scripts/install-nginx.sh for one apt-get run.\nexit 101\n' |
    "${as_root[@]}" tee "$POLICY" >/dev/null
  "${as_root[@]}" chmod 755 "$POLICY"
  placed_policy=1
fi

say "nginx is missing; installing Debian's nginx package with apt-get (its service is not started)"
if ! "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null ||
  ! "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nginx </dev/null; then
  say "ERROR: apt-get could not install nginx (see above); try: $HINT"
  exit 1
fi

if ! command -v nginx >/dev/null && [[ ! -x /usr/sbin/nginx ]]; then
  say "ERROR: apt-get installed the nginx package, but there is no nginx binary on the PATH or in /usr/sbin"
  exit 1
fi
say "installed $(/usr/sbin/nginx -v 2>&1 || nginx -v 2>&1)"
