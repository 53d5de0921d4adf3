#!/usr/bin/env bash
# Runs every Rust test suite (SQLite, PostgreSQL, Redis and in-process) and ends with one plain
# summary line, "N passed, N failed", whichever runner was used.
set -uo pipefail
cargo=${CARGO:-cargo}
# The property tests draw the same cases on every run, so `make test` passes or fails the same way
# on every machine; `make fuzz` draws new ones each time to look further.
export PROPTEST_RNG_SEED=${PROPTEST_RNG_SEED:-20261130}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if $cargo nextest --version >/dev/null 2>&1; then
  $cargo nextest run --workspace --no-fail-fast 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  summary=$(grep -E '^ *Summary' "$log" | tail -1)
  passed=$(sed -nE 's/.* ([0-9]+) passed.*/\1/p' <<<"$summary")
  failed=$(sed -nE 's/.* ([0-9]+) failed.*/\1/p' <<<"$summary")
else
  $cargo test --workspace --no-fail-fast 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  passed=$(grep -E '^test result:' "$log" | sed -nE 's/.* ([0-9]+) passed.*/\1/p' | awk '{s+=$1} END {print s+0}')
  failed=$(grep -E '^test result:' "$log" | sed -nE 's/.* ([0-9]+) failed.*/\1/p' | awk '{s+=$1} END {print s+0}')
fi
passed=${passed:-0}
failed=${failed:-0}
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1 # the build or the runner itself failed
fi
echo "tests: ${passed} passed, ${failed} failed"
exit "$rc"
