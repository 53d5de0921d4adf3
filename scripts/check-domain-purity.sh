#!/usr/bin/env bash
# Fails when keyward-domain (pure rules, no IO) depends, directly or transitively, on a storage, web,
# GraphQL or async-runtime crate. Dev- and build-dependencies are not checked (`-e normal`).
set -euo pipefail
cd "$(dirname "$0")/.."

forbidden='^(sea-orm|sea-query|sqlx[a-z-]*|async-graphql[a-z-]*|axum[a-z-]*|redis|tokio[a-z-]*|hyper[a-z-]*) '

tree=$(${CARGO:-cargo} tree -p keyward-domain -e normal --prefix none)
offending=$(grep -E "$forbidden" <<<"$tree" | sort -u || true)

if [[ -n $offending ]]; then
  echo "domain purity: keyward-domain must not depend on these crates (see: cargo tree -p keyward-domain -e normal -i CRATE):" >&2
  sed 's/^/  /' <<<"$offending" >&2
  exit 1
fi
echo "domain purity: ok ($(sort -u <<<"$tree" | grep -c .) crates in keyward-domain's normal dependency tree)"
