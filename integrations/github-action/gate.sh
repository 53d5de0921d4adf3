#!/usr/bin/env bash
# Keyward approval gate: request → wait → verify, for any CI. The GitHub action (action.yml) runs
# exactly this; its inputs arrive as the KEYWARD_* variables below. Exit codes are those of
# `keyward approval`: 0 approved and verified, 1 rejected, 2 expired or timed out, 3 error (and
# verify's refusal, 1, when the token does not check out).
#
# Required: KEYWARD_URL, KEYWARD_API_KEY (kwk_…), and either KEYWARD_PLAN_FILE (a plan.json) or
#   KEYWARD_STAGE, KEYWARD_ENVIRONMENT, KEYWARD_PIPELINE, KEYWARD_RUN_ID, KEYWARD_COMMIT_SHA,
#   KEYWARD_COMMIT_AUTHOR, KEYWARD_REQUESTER, and KEYWARD_PLAN_DIGEST or KEYWARD_PLAN_ARTIFACT.
# Optional: KEYWARD_RUN_URL; KEYWARD_RESOURCES, KEYWARD_ENV_VARS_CHANGED, KEYWARD_SECRETS_ROTATED,
#   KEYWARD_SENSITIVE (one per line or comma-separated); KEYWARD_TIMEOUT (e.g. 30m); KEYWARD_JWKS
#   (URL or file; default $KEYWARD_URL/.well-known/jwks.json); KEYWARD_ISSUER; KEYWARD_REPLAY_CACHE;
#   KEYWARD_BIN (default: keyward on PATH).
# Outputs (to $GITHUB_OUTPUT when set, else as KEY=value lines on stdout): token, request-id,
# digest, approval-url. Progress goes to stderr.
set -euo pipefail

bin=${KEYWARD_BIN:-keyward}
: "${KEYWARD_URL:?KEYWARD_URL is required (the Keyward server URL)}"
: "${KEYWARD_API_KEY:?KEYWARD_API_KEY is required (an API key with the approvals:request scope)}"
export KEYWARD_URL KEYWARD_API_KEY

say() { printf 'keyward-gate: %s\n' "$*" >&2; }

# The value of "key" in the one-line JSON object `keyward approval request --output json` prints
# (string values without quotes inside: IDs, hex digests, URLs, statuses).
json_field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p" <<<"$2"; }

# Appends `flag item` to the array named $1 for each item of a newline- or comma-separated list.
add_list() {
  local -n into=$1
  local item
  while IFS= read -r item; do
    item=${item#"${item%%[![:space:]]*}"}
    item=${item%"${item##*[![:space:]]}"}
    [[ -n $item ]] && into+=("$2" "$item")
  done < <(tr ',' '\n' <<<"${3:-}")
  return 0
}

sha256_of() {
  if command -v sha256sum >/dev/null; then sha256sum "$1" | cut -d' ' -f1; else shasum -a 256 "$1" | cut -d' ' -f1; fi
}

output() {
  if [[ -n ${GITHUB_OUTPUT:-} ]]; then printf '%s=%s\n' "$1" "$2" >>"$GITHUB_OUTPUT"; else printf '%s=%s\n' "$1" "$2"; fi
}

request=() expect=()
if [[ -n ${KEYWARD_PLAN_FILE:-} ]]; then
  request=(--file "$KEYWARD_PLAN_FILE")
  expect=(--file "$KEYWARD_PLAN_FILE")
else
  plan_digest=${KEYWARD_PLAN_DIGEST:-}
  if [[ -z $plan_digest && -n ${KEYWARD_PLAN_ARTIFACT:-} ]]; then
    plan_digest=$(sha256_of "$KEYWARD_PLAN_ARTIFACT")
  fi
  : "${plan_digest:?set KEYWARD_PLAN_DIGEST or KEYWARD_PLAN_ARTIFACT (the file the deploy applies), or KEYWARD_PLAN_FILE}"
  request=(
    --pipeline "${KEYWARD_PIPELINE:?KEYWARD_PIPELINE is required}"
    --run-id "${KEYWARD_RUN_ID:?KEYWARD_RUN_ID is required}"
    --stage "${KEYWARD_STAGE:?KEYWARD_STAGE is required}"
    --environment "${KEYWARD_ENVIRONMENT:?KEYWARD_ENVIRONMENT is required}"
    --commit-sha "${KEYWARD_COMMIT_SHA:?KEYWARD_COMMIT_SHA is required}"
    --commit-author "${KEYWARD_COMMIT_AUTHOR:?KEYWARD_COMMIT_AUTHOR is required}"
    --requester "${KEYWARD_REQUESTER:?KEYWARD_REQUESTER is required}"
    --plan-digest "$plan_digest"
  )
  [[ -n ${KEYWARD_RUN_URL:-} ]] && request+=(--run-url "$KEYWARD_RUN_URL")
  add_list request --resource "${KEYWARD_RESOURCES:-}"
  add_list request --env-var-changed "${KEYWARD_ENV_VARS_CHANGED:-}"
  add_list request --secret-rotated "${KEYWARD_SECRETS_ROTATED:-}"
  add_list request --sensitive "${KEYWARD_SENSITIVE:-}"
  expect=(--stage "$KEYWARD_STAGE" --environment "$KEYWARD_ENVIRONMENT" --run "$KEYWARD_RUN_ID")
fi

created=$("$bin" approval request "${request[@]}" --output json)
id=$(json_field id "$created")
digest=$(json_field digest "$created")
url=$(json_field approvalUrl "$created")
[[ -n $id && -n $digest ]] || { say "unexpected answer from keyward approval request: $created"; exit 3; }
say "approval request $id ($(json_field status "$created")): approve it at $url"
output request-id "$id"
output digest "$digest"
output approval-url "$url"

wait_args=("$id")
[[ -n ${KEYWARD_TIMEOUT:-} ]] && wait_args+=(--timeout "$KEYWARD_TIMEOUT")
status=0
token=$("$bin" approval wait "${wait_args[@]}") || status=$?
case $status in
  0) ;;
  1) say "the request was rejected"; exit 1 ;;
  2) say "the request expired (or the wait timed out) before it was approved"; exit 2 ;;
  *) say "waiting for the approval failed (exit $status)"; exit "$status" ;;
esac
[[ ${GITHUB_ACTIONS:-} == true ]] && echo "::add-mask::$token"

verify=(--token - --jwks "${KEYWARD_JWKS:-${KEYWARD_URL%/}/.well-known/jwks.json}")
[[ -n ${KEYWARD_PLAN_FILE:-} ]] || verify+=(--digest "$digest")
[[ -n ${KEYWARD_ISSUER:-} ]] && verify+=(--issuer "$KEYWARD_ISSUER")
[[ -n ${KEYWARD_REPLAY_CACHE:-} ]] && verify+=(--replay-cache "$KEYWARD_REPLAY_CACHE")
printf '%s\n' "$token" | "$bin" approval verify "${verify[@]}" "${expect[@]}" >&2
say "approved, and the token checks out"
output token "$token"
