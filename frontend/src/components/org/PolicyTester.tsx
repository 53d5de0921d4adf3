import { useState } from 'react'
import { useClient } from 'urql'
import { describeError, fieldError, unexpectedError, type UiError } from '../../errors'
import { formatDuration } from '../../format'
import { PolicyEvaluateDocument, type PolicyEvaluateQuery, type ViewerFieldsFragment } from '../../gql/graphql'
import { ErrorAlert } from '../ErrorAlert'
import { Field } from '../Form'
import { regoErrorFrom, type LineError } from './RegoEditor'

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

interface PolicyTesterProps {
  /** The policy text in the editor (tested as it is, saved or not). */
  rego: string
  initialInput: string
  /** The policy text does not compile (mark it in the editor), or null: it compiled. */
  onRegoResult: (error: LineError | null) => void
}

/** "Test against input": runs the editor's policy on a JSON input and shows the decision. */
export function PolicyTester({ rego, initialInput, onRegoResult }: PolicyTesterProps) {
  const client = useClient()
  const [input, setInput] = useState(initialInput)
  const [problem, setProblem] = useState<string | null>(null)
  const [regoFailed, setRegoFailed] = useState(false)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<UiError | null>(null)
  const [result, setResult] = useState<Evaluation | null>(null)

  async function evaluate() {
    setResult(null)
    setError(null)
    setRegoFailed(false)
    let parsed: unknown
    try {
      parsed = JSON.parse(input)
    } catch (err) {
      setProblem(`This is not valid JSON: ${err instanceof Error ? err.message : 'it could not be read'}.`)
      return
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
      setProblem('The input must be a JSON object, like the sample.')
      return
    }
    setProblem(null)
    setBusy(true)
    const answer = await client
      .query(PolicyEvaluateDocument, { policy: rego, input: parsed }, { requestPolicy: 'network-only' })
      .toPromise()
    setBusy(false)
    if (answer.data && !answer.error) {
      setResult(answer.data.policyEvaluate)
      onRegoResult(null)
      return
    }
    if (!answer.error) {
      setError(unexpectedError())
      return
    }
    const inputError = fieldError(answer.error, 'input')
    const regoError = regoErrorFrom(answer.error, ['input'])
    if (inputError) {
      setProblem(inputError)
    } else if (regoError) {
      // A policy that does not compile belongs to the editor: it is marked there.
      setRegoFailed(true)
      onRegoResult(regoError)
    } else {
      setError(describeError(answer.error))
    }
  }

  return (
    <section className="subsection" aria-labelledby="tester-title">
      <h3 id="tester-title">Test against input</h3>
      <p className="hint">
        Runs the policy in the editor (saved or not) on this input and shows what it decides. Nothing is saved and
        nothing else changes.
      </p>
      <Field label="Input (JSON)" error={problem} announce>
        {(control) => (
          <textarea
            {...control}
            className="mono"
            rows={12}
            value={input}
            spellCheck={false}
            onChange={(e) => {
              setInput(e.target.value)
              setProblem(null)
            }}
          />
        )}
      </Field>
      {error && <ErrorAlert error={error} />}
      {regoFailed && (
        <p className="field-error" role="alert" data-testid="tester-rego-error">
          The policy in the editor does not compile; the error is shown under the editor.
        </p>
      )}
      <button type="button" onClick={evaluate} disabled={busy}>
        {busy ? 'Evaluating…' : 'Evaluate'}
      </button>
      {result && <EvaluationResult result={result} />}
    </section>
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
