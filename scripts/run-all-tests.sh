#!/usr/bin/env bash
# Runs every suite: the Rust tests (scripts/run-tests.sh), then the browser journeys
# (scripts/run-e2e.sh), whatever the outcome of the first, and ends with one line summing both:
#   tests: N passed, N failed (rust: N passed, N failed; e2e: N passed, N failed, N skipped)
# Needs the environment of scripts/with-services.sh, CARGO, and KEYWARD_BIN for the journeys.
set -uo pipefail
here=$(dirname "$0")
log=$(mktemp)
trap 'rm -f "$log"' EXIT

"$here/run-tests.sh" | tee "$log"
rust_rc=${PIPESTATUS[0]}
"$here/run-e2e.sh" | tee -a "$log"
e2e_rc=${PIPESTATUS[0]}

rust=$(grep -E '^tests: [0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
e2e=$(grep -E '^e2e: [0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
count() { sed -nE "s/.* ([0-9]+) $1.*/\1/p" <<<"$2"; }
rust_passed=$(count passed "$rust")
rust_failed=$(count failed "$rust")
e2e_passed=$(count passed "$e2e")
e2e_failed=$(count failed "$e2e")
e2e_skipped=$(count skipped "$e2e")
rust_passed=${rust_passed:-0} e2e_passed=${e2e_passed:-0} e2e_skipped=${e2e_skipped:-0}
# A suite that failed without a summary line counts as one failure.
rust_failed=${rust_failed:-$((rust_rc != 0))}
e2e_failed=${e2e_failed:-$((e2e_rc != 0))}

echo "tests: $((rust_passed + e2e_passed)) passed, $((rust_failed + e2e_failed)) failed" \
  "(rust: $rust_passed passed, $rust_failed failed; e2e: $e2e_passed passed, $e2e_failed failed, $e2e_skipped skipped)"
if [[ $rust_rc -ne 0 ]]; then exit "$rust_rc"; fi
exit "$e2e_rc"
