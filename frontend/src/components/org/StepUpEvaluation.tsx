import { useClient } from 'urql'
import { formatDuration } from '../../format'
import { PolicyEvaluateDocument, type PolicyEvaluateQuery, type ViewerFieldsFragment } from '../../gql/graphql'
import { PolicyTester, type TesterSlotProps } from './PolicyTester'

type Evaluation = PolicyEvaluateQuery['policyEvaluate']

/** A sample of what the gateway gives the policy (contract: the policy's `input`), for the viewer. */
export function sampleInput(viewer: ViewerFieldsFragment | null, now: Date = new Date()): string {
  const input = {
    action: 'security_key.delete',
    resource: { type: 'security_key', id: 'example-key-id', environment: '', labels: {} },
    principal: {
      id: viewer?.member.id ?? 'example-member-id',
      username: viewer?.member.username ?? 'admin',
      role: viewer?.role ?? 'ADMIN',
      groups: [],
    },
    session: {
      id_hash: 'example',
      age_seconds: 1200,
      mfa_age_seconds: 1200,
      methods: ['sso', 'security_key'],
      key: {
        aaguid: '00000000-0000-0000-0000-000000000000',
        model: null,
        backup_eligible: false,
        backup_state: false,
        user_verified: true,
      },
    },
    request: {
      time: now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      weekday: now.toLocaleDateString('en-US', { weekday: 'short', timeZone: 'UTC' }),
      ip: '203.0.113.10',
      user_agent: 'Mozilla/5.0',
      ip_changed_since_login: false,
    },
  }
  return JSON.stringify(input, null, 2)
}

/** The step-up policy's tester: `policyEvaluate` on a sample action of the viewer's. */
export function StepUpPolicyTester({ initialInput, ...slot }: TesterSlotProps & { initialInput: string }) {
  const client = useClient()
  return (
    <PolicyTester
      {...slot}
      initialInput={initialInput}
      evaluate={(rego, input) =>
        client
          .query(PolicyEvaluateDocument, { policy: rego, input }, { requestPolicy: 'network-only' })
          .toPromise()
          .then((answer) => ({ ...answer, data: answer.data?.policyEvaluate }))
      }
      renderResult={(result) => <EvaluationResult result={result} />}
    />
  )
}

function EvaluationResult({ result }: { result: Evaluation }) {
  const { decision } = result
  return (
    <div className="evaluation" data-testid="evaluation" role="status">
      <h4>Decision</h4>
      <dl className="facts wrap-facts">
        <dt>Outcome</dt>
        <dd data-testid="evaluation-outcome">
          {decision.deny
            ? 'Denied: the action is refused, key or not.'
            : decision.requireMfa
              ? `A key touch within the last ${formatDuration(decision.maxAgeSeconds)} is needed.`
              : 'No key touch needed.'}
        </dd>
        <dt>Require a key touch</dt>
        <dd>{decision.requireMfa ? 'Yes' : 'No'}</dd>
        <dt>Maximum age</dt>
        <dd data-testid="evaluation-max-age">
          {decision.maxAgeSeconds} seconds ({formatDuration(decision.maxAgeSeconds)})
        </dd>
        <dt>A touch counts for</dt>
        <dd data-testid="evaluation-reuse">
          {decision.reuse === 'CLASS' ? 'Every action of its class (reuse “class”)' : 'This action on this resource (reuse “action”)'}
        </dd>
        <dt>Deny</dt>
        <dd>{decision.deny ? 'Yes' : 'No'}</dd>
        <dt>Reason</dt>
        <dd>{decision.reason ? decision.reason : <span className="muted">none given</span>}</dd>
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
