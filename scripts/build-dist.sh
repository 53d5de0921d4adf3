#!/usr/bin/env bash
# Builds the keyward binary that ships (the web app's build, frontend/dist, embedded in it) and
# checks it the way the container image runs it: copied alone into OUT, started from an empty
# working directory with no static_dir and no configuration file, it must pass `keyward
# healthcheck` (the image's HEALTHCHECK), serve the embedded index.html at / and at an app route,
# serve each built asset byte for byte, and stop cleanly on SIGTERM.
#
# The Dockerfile's build stage runs exactly this script (--release); `make test` runs it too (make
# dist-check) in debug, on the binary the tests already built, so the check costs seconds.
#
# Usage: scripts/build-dist.sh [--release] [--out DIR]     (default: debug, into $TARGET/dist)
# Needs: frontend/dist (make frontend), cargo, curl.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO=${CARGO:-cargo}
target=${CARGO_TARGET_DIR:-target}
profile=dev
profile_dir=debug
out=
while [[ $# -gt 0 ]]; do
  case $1 in
    --release) profile=release profile_dir=release ;;
    --out) out=${2:?--out needs a directory}; shift ;;
    *) echo "usage: $0 [--release] [--out DIR]" >&2; exit 2 ;;
  esac
  shift
done
out=${out:-$target/dist}
say() { echo "build-dist: $*"; }

if [[ ! -f frontend/dist/index.html ]]; then
  echo "build-dist: frontend/dist/index.html is missing: run \`make frontend\` (cd frontend && npm ci && npm run build) first" >&2
  exit 1
fi

say "cargo build --profile $profile (the web app in frontend/dist is embedded)"
"$CARGO" build --locked --profile "$profile" -p keyward-gateway --bin keyward
mkdir -p "$out"
install -m 0755 "$target/$profile_dir/keyward" "$out/keyward"
binary=$(cd "$out" && pwd)/keyward

# --- the check: the binary alone, from an empty directory --------------------------------------------
work=$(mktemp -d)
pid=
cleanup() {
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "build-dist: FAILED: $*" >&2
  echo "--- keyward's output:" >&2
  cat "$work/stdout" "$work/stderr" >&2 || true
  exit 1
}

# Only PATH and HOME: no KEYWARD_* from the caller (a developer's static_dir would hide the embedded app).
(cd "$work" && exec env -i PATH="$PATH" HOME="$work" \
  KEYWARD_LISTEN=127.0.0.1:0 KEYWARD_MANAGEMENT_LISTEN=127.0.0.1:0 KEYWARD_LOG__LEVEL=warn \
  "$binary" serve >"$work/stdout" 2>"$work/stderr") &
pid=$!
for _ in $(seq 1 300); do
  grep -q '^keyward: listening on ' "$work/stdout" 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || fail "keyward serve exited before listening"
  sleep 0.1
done
grep -q '^keyward: listening on ' "$work/stdout" || fail "keyward serve did not listen within 30 s"
public=$(sed -nE 's/^keyward: listening on ([^ ]+) .*/\1/p' "$work/stdout")
management=$(sed -nE 's|^keyward: metrics and readiness on http://([^/]+)/.*|\1|p' "$work/stdout")

# The image's HEALTHCHECK: `keyward healthcheck` finds the management listener in the configuration.
env -i PATH="$PATH" KEYWARD_MANAGEMENT_LISTEN="$management" "$binary" healthcheck ||
  fail "keyward healthcheck against $management"

fetch() { curl -fsS --max-time 10 "http://$public$1" -o "$work/got" || fail "GET $1"; }
for path in / /index.html /org/members; do
  fetch "$path"
  cmp -s "$work/got" frontend/dist/index.html || fail "GET $path is not frontend/dist/index.html: the binary embeds another build"
done
assets=0
while IFS= read -r -d '' file; do
  fetch "/${file#frontend/dist/}"
  cmp -s "$work/got" "$file" || fail "GET /${file#frontend/dist/} differs from $file"
  assets=$((assets + 1))
done < <(find frontend/dist/assets -type f -print0)
[[ $assets -gt 0 ]] || fail "frontend/dist/assets holds no file"

kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=
[[ $status -eq 0 ]] || fail "keyward serve exited with $status on SIGTERM"

# The systemd unit, where systemd-analyze exists, with ExecStart on this binary.
if command -v systemd-analyze >/dev/null 2>&1; then
  sed "s|/usr/local/bin/keyward|$binary|" deploy/keyward.service >"$work/keyward.service"
  systemd-analyze verify "$work/keyward.service" || fail "systemd-analyze verify deploy/keyward.service"
  say "deploy/keyward.service verifies (systemd-analyze)"
fi

size=$(stat -c %s "$binary")
say "ok: $binary ($((size / 1024 / 1024)) MiB, $profile) serves its embedded web app (index and $assets assets) from an empty directory; healthcheck passes; SIGTERM stops it cleanly"
