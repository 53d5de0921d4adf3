import { useClient } from 'urql'
import { STATUS_LABELS } from '../../approvalWords'
import { ApprovalPolicyEvaluateDocument, type ApprovalPolicyEvaluateQuery } from '../../gql/graphql'
import { Requirements } from '../approvals/RequestParts'
import { PolicyTester, type TesterSlotProps } from './PolicyTester'

type Evaluation = ApprovalPolicyEvaluateQuery['approvalPolicyEvaluate']

/** A sample request, as a pipeline sends it (`ApprovalRequestInput`): a production deploy touching a database. */
export function sampleApprovalInput(): string {
  const input = {
    pipeline: 'billing-api',
    runId: '4711',
    stage: 'deploy',
    environment: 'production',
    commitSha: '3f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39',
    commitAuthor: 'alice',
    requester: 'ci-bot',
    changeSummary: {
      resources: ['aws_db_instance.main', 'aws_ecs_service.api'],
      envVarsChanged: ['DATABASE_URL'],
      secretsRotated: [],
      sensitiveFlags: ['database'],
    },
    planDigest: 'c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00',
    runUrl: 'https://ci.example.com/billing-api/runs/4711',
  }
  return JSON.stringify(input, null, 2)
}

/** The approval policy's tester: `approvalPolicyEvaluate` on a request as a pipeline would send it. */
export function ApprovalPolicyTester({ initialInput, ...slot }: TesterSlotProps & { initialInput: string }) {
  const client = useClient()
  return (
    <PolicyTester
      {...slot}
      initialInput={initialInput}
      hint="The input is a request as a pipeline sends it (the same JSON as keyward approval request --file). Keyward gives the policy its snake_case form, with the members matched to the requester and the commit author and the current time."
      evaluate={(rego, input) =>
        client
          .query(ApprovalPolicyEvaluateDocument, { policy: rego, input }, { requestPolicy: 'network-only' })
          .toPromise()
          .then((answer) => ({ ...answer, data: answer.data?.approvalPolicyEvaluate }))
      }
      renderResult={(result) => <ApprovalEvaluationResult result={result} />}
    />
  )
}

/** The outcome in a sentence. */
function outcomeSentence(result: Evaluation): string {
  if (result.outcome === 'APPROVED') return 'Approved at once: no human approval needed.'
  if (result.outcome === 'REJECTED') return 'Rejected: the pipeline may not go on.'
  return 'Pending: people must approve, as below.'
}

function ApprovalEvaluationResult({ result }: { result: Evaluation }) {
  return (
    <div className="evaluation" data-testid="evaluation" role="status">
      <h4>Decision</h4>
      <dl className="facts wrap-facts">
        <dt>Outcome</dt>
        <dd data-testid="evaluation-outcome" data-outcome={result.outcome}>
          <strong>{STATUS_LABELS[result.outcome] ?? result.outcome}.</strong> {outcomeSentence(result)}
        </dd>
        {result.outcome === 'PENDING' && (
          <>
            <dt>Requirements</dt>
            <dd data-testid="evaluation-requirements">
              <Requirements requirements={result.requirements} />
            </dd>
          </>
        )}
        <dt>Reason</dt>
        <dd data-testid="evaluation-reason">{result.reason ? result.reason : <span className="muted">none given</span>}</dd>
        <dt>Rules that fired</dt>
        <dd data-testid="evaluation-rules">
          {result.firedRules.length === 0 ? (
            <span className="muted">none (the defaults apply)</span>
          ) : (
            <ul className="plain-list">
              {result.firedRules.map((rule) => (
                <li key={rule}>
                  <code>{rule}</code>
                </li>
              ))}
            </ul>
          )}
        </dd>
        <dt>Evaluation time</dt>
        <dd data-testid="evaluation-time">{result.evaluationMicros} µs</dd>
      </dl>
    </div>
  )
}
