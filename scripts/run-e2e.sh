#!/usr/bin/env bash
# Usage: scripts/run-e2e.sh [PLAYWRIGHT ARGS...]
#
# Runs the browser journeys (e2e/: Playwright in Debian's Chromium, the real gateway on SQLite and on
# PostgreSQL, Redis, and the test OIDC IdP) and ends with one plain summary line:
#   e2e: N passed, N failed, N skipped (Ns)
# Expects what `make e2e-deps` provides (e2e/node_modules, frontend/dist, the keyward binary, named by
# KEYWARD_BIN) and the PostgreSQL and Redis that scripts/with-services.sh exports.
set -uo pipefail
cd "$(dirname "$0")/../e2e"

playwright=./node_modules/.bin/playwright
if [[ ! -x $playwright ]]; then
  echo "run-e2e: $playwright is missing: run make e2e-deps (or cd e2e && npm ci) first" >&2
  echo "e2e: 0 passed, 1 failed, 0 skipped"
  exit 1
fi

mkdir -p artifacts
results=$PWD/artifacts/results.json
rm -f "$results"
start=$(date +%s)
PLAYWRIGHT_JSON_OUTPUT_NAME=$results "$playwright" test --reporter=list,json "$@"
rc=$?
elapsed=$(($(date +%s) - start))

counts=
if [[ -s $results ]]; then
  # stats: expected (passed), flaky (passed on retry), unexpected (failed), skipped.
  counts=$(node -e '
    const { stats } = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    console.log(stats.expected + stats.flaky, stats.unexpected, stats.skipped);
  ' "$results" 2>/dev/null)
fi
read -r passed failed skipped <<<"${counts:-0 0 0}"
if [[ $rc -ne 0 && $failed -eq 0 ]]; then
  failed=1 # global setup, the runner or the reporter failed before any test did
fi
# A journey skips only when one it builds on did not pass; in a full run that must not pass quietly.
if [[ $# -eq 0 && $skipped -gt 0 && $rc -eq 0 ]]; then
  echo "run-e2e: $skipped journey(s) skipped in a full run: a journey they build on did not record its success" >&2
  rc=1
fi
echo "e2e: ${passed} passed, ${failed} failed, ${skipped} skipped (${elapsed}s)"
exit "$rc"
