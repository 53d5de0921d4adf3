#!/usr/bin/env bash
# A fake deploy pipeline gated by Keyward: it "builds" a plan, asks Keyward to approve applying it,
# waits until members approve with their security keys, verifies the approval token offline (bound to
# this plan, stage, environment and run; spent once through a replay cache) and only then deploys.
#
#   KEYWARD_URL=http://localhost:8080 KEYWARD_API_KEY=kwk_… examples/pipeline-demo.sh
#
# Exit codes are those of `keyward approval`: 1 rejected, 2 expired or timed out, 3 error; verify's
# refusal is 1. Settings (environment): KEYWARD_BIN (default keyward), PIPELINE, RUN_ID, STAGE,
# ENVIRONMENT, COMMIT_SHA, COMMIT_AUTHOR, REQUESTER, RUN_URL, RESOURCES, ENV_VARS_CHANGED,
# SECRETS_ROTATED, SENSITIVE (comma-separated), WAIT_TIMEOUT (e.g. 10m), JWKS, REPLAY_CACHE, WORK_DIR.
set -euo pipefail

KEYWARD_BIN=${KEYWARD_BIN:-keyward}
: "${KEYWARD_URL:?set KEYWARD_URL, e.g. http://localhost:8080}"
: "${KEYWARD_API_KEY:?set KEYWARD_API_KEY to an API key with the approvals:request scope (kwk_…)}"
export KEYWARD_URL KEYWARD_API_KEY

PIPELINE=${PIPELINE:-demo/web-shop}
RUN_ID=${RUN_ID:-run-$(date +%s)-$$}
STAGE=${STAGE:-deploy}
ENVIRONMENT=${ENVIRONMENT:-production}
COMMIT_SHA=${COMMIT_SHA:-$(git rev-parse HEAD 2>/dev/null || echo 4b825dc642cb6eb9a060e54bf8d69288fbee4904)}
COMMIT_AUTHOR=${COMMIT_AUTHOR:-dev@example.com}
REQUESTER=${REQUESTER:-ci-bot}
RUN_URL=${RUN_URL:-}
RESOURCES=${RESOURCES:-aws_ecs_service.web,aws_iam_role.deploy}
ENV_VARS_CHANGED=${ENV_VARS_CHANGED:-DATABASE_URL}
SECRETS_ROTATED=${SECRETS_ROTATED:-}
SENSITIVE=${SENSITIVE:-iam}
WAIT_TIMEOUT=${WAIT_TIMEOUT:-}
JWKS=${JWKS:-${KEYWARD_URL%/}/.well-known/jwks.json}
WORK_DIR=${WORK_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/pipeline-demo.XXXXXX")}
REPLAY_CACHE=${REPLAY_CACHE:-$WORK_DIR/replay-cache.jsonl}

step() { printf '==> %s\n' "$*"; }

json_string() {
  local s=$1
  s=${s//\\/\\\\}; s=${s//\"/\\\"}; s=${s//$'\n'/\\n}; s=${s//$'\r'/\\r}; s=${s//$'\t'/\\t}
  printf '"%s"' "$s"
}

# A JSON array of the comma-separated items of $1 (spaces around items dropped).
json_list() {
  local item out='' sep=''
  local -a items
  IFS=',' read -r -a items <<<"$1"
  for item in "${items[@]}"; do
    item=${item#"${item%%[![:space:]]*}"}
    item=${item%"${item##*[![:space:]]}"}
    [[ -n $item ]] || continue
    out+="$sep$(json_string "$item")"
    sep=','
  done
  printf '[%s]' "$out"
}

json_field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p" <<<"$2"; }

sha256_of() {
  if command -v sha256sum >/dev/null; then sha256sum "$1" | cut -d' ' -f1; else shasum -a 256 "$1" | cut -d' ' -f1; fi
}

step "building $PIPELINE at ${COMMIT_SHA:0:12} (run $RUN_ID)"
mkdir -p "$WORK_DIR"
cat >"$WORK_DIR/plan.txt" <<PLAN
# terraform plan (fake) for $ENVIRONMENT, commit $COMMIT_SHA
~ aws_ecs_service.web        image: web:previous -> web:${COMMIT_SHA:0:12}
~ aws_iam_role.deploy        policy: 2 statements changed
~ env DATABASE_URL           (sensitive value changed)
Plan: 0 to add, 3 to change, 0 to destroy.
PLAN
plan_digest=$(sha256_of "$WORK_DIR/plan.txt")

run_url=''
[[ -n $RUN_URL ]] && run_url=", \"runUrl\": $(json_string "$RUN_URL")"
cat >"$WORK_DIR/plan.json" <<JSON
{
  "pipeline": $(json_string "$PIPELINE"),
  "runId": $(json_string "$RUN_ID"),
  "stage": $(json_string "$STAGE"),
  "environment": $(json_string "$ENVIRONMENT"),
  "commitSha": $(json_string "$COMMIT_SHA"),
  "commitAuthor": $(json_string "$COMMIT_AUTHOR"),
  "requester": $(json_string "$REQUESTER"),
  "changeSummary": {
    "resources": $(json_list "$RESOURCES"),
    "envVarsChanged": $(json_list "$ENV_VARS_CHANGED"),
    "secretsRotated": $(json_list "$SECRETS_ROTATED"),
    "sensitiveFlags": $(json_list "$SENSITIVE")
  },
  "planDigest": "$plan_digest"$run_url
}
JSON
step "plan written to $WORK_DIR/plan.json (plan digest $plan_digest)"

step "asking Keyward to approve $STAGE to $ENVIRONMENT"
created=$("$KEYWARD_BIN" approval request --file "$WORK_DIR/plan.json" --output json)
request_id=$(json_field id "$created")
echo "request-id: $request_id"
echo "digest: $(json_field digest "$created")"
echo "status: $(json_field status "$created")"
echo "approval-url: $(json_field approvalUrl "$created")"

step "waiting for approvers"
wait_args=("$request_id")
[[ -n $WAIT_TIMEOUT ]] && wait_args+=(--timeout "$WAIT_TIMEOUT")
status=0
token=$("$KEYWARD_BIN" approval wait "${wait_args[@]}") || status=$?
case $status in
  0) step "approved" ;;
  1) step "rejected: not deploying"; exit 1 ;;
  2) step "expired before it was approved: not deploying"; exit 2 ;;
  *) step "waiting failed (exit $status): not deploying"; exit "$status" ;;
esac

step "verifying the approval token offline against $JWKS"
status=0
printf '%s\n' "$token" | "$KEYWARD_BIN" approval verify --token - --file "$WORK_DIR/plan.json" \
  --jwks "$JWKS" --replay-cache "$REPLAY_CACHE" >"$WORK_DIR/claims.json" || status=$?
if [[ $status -ne 0 ]]; then
  step "the approval token was refused: not deploying"
  exit "$status"
fi
step "token verified (claims in $WORK_DIR/claims.json)"

echo "deploying…"
sleep "${DEPLOY_SECONDS:-1}"
echo "deployed $PIPELINE ${COMMIT_SHA:0:12} to $ENVIRONMENT"
