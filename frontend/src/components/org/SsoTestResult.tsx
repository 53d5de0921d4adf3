import { useEffect, useState } from 'react'
import { useClient } from 'urql'
import { describeError, unexpectedError, type UiError } from '../../errors'
import { SsoTestFinishDocument, type SsoTestFinishMutation } from '../../gql/graphql'
import { navigate } from '../../router'
import { clearSsoTest, pendingSsoTest, ssoTestCallback, type SsoFormDraft } from '../../sso'
import { ErrorAlert } from '../ErrorAlert'

type Result = SsoTestFinishMutation['ssoTestFinish']

type TestState = { kind: 'finishing' } | { kind: 'done'; result: Result } | { kind: 'failed'; error: UiError }

// A code works once; React may run an effect twice (StrictMode), so remember what was sent.
const finishing = new Map<string, Promise<TestState>>()

/**
 * Finishes a test sign-in when this tab started one and the IdP sent the browser back with a code: calls
 * `ssoTestFinish`, drops the code from the address, and hands back the form values kept before leaving.
 */
export function useSsoTest(search: string): { state: TestState | null; draft: SsoFormDraft | null; dismiss: () => void } {
  const client = useClient()
  const [pending] = useState(() => pendingSsoTest())
  const callback = pending ? ssoTestCallback(search) : null
  const [state, setState] = useState<TestState | null>(callback ? { kind: 'finishing' } : null)

  const code = callback?.code
  const oauthState = callback?.state
  useEffect(() => {
    if (!code || !oauthState) return
    let run = finishing.get(oauthState)
    if (!run) {
      run = client
        .mutation(SsoTestFinishDocument, { code, state: oauthState })
        .toPromise()
        .then((result): TestState => {
          if (result.data) return { kind: 'done', result: result.data.ssoTestFinish }
          return { kind: 'failed', error: result.error ? describeError(result.error) : unexpectedError() }
        })
      finishing.set(oauthState, run)
    }
    void run.then((outcome) => {
      setState(outcome)
      clearSsoTest()
      navigate('/org/sso?tested=1', { replace: true })
    })
  }, [client, code, oauthState])

  return { state, draft: pending?.draft ?? null, dismiss: () => setState(null) }
}

function yesNo(value: boolean): string {
  return value ? 'yes' : 'no'
}

/** What the test sign-in showed: who the IdP said it was, what these settings would make of it, what would fail. */
export function SsoTestResultCard({ state, onDismiss }: { state: TestState; onDismiss: () => void }) {
  return (
    <section className="card" aria-labelledby="sso-test-title" data-testid="sso-test-result">
      <h2 id="sso-test-title">Test sign-in</h2>
      {state.kind === 'finishing' && (
        <p className="muted" role="status">
          Checking what the identity provider sent…
        </p>
      )}
      {state.kind === 'failed' && <ErrorAlert error={state.error} />}
      {state.kind === 'done' && <ResultFacts result={state.result} />}
      {state.kind !== 'finishing' && (
        <p>
          Nothing was saved. Your unsaved settings are back in the form below (type a new client secret again if you had
          entered one).{' '}
          <a href="#sso-form-title" onClick={onDismiss}>
            Back to the form
          </a>
        </p>
      )}
    </section>
  )
}

function ResultFacts({ result }: { result: Result }) {
  const none = <span className="muted">none</span>
  return (
    <>
      {result.problems.length === 0 ? (
        <p className="alert alert-info" data-testid="sso-test-ok">
          A real login with these settings would work.
        </p>
      ) : (
        <div className="alert alert-warning" data-testid="sso-test-problems">
          <p>A real login with these settings would fail or surprise:</p>
          <ul>
            {result.problems.map((problem) => (
              <li key={problem}>{problem}</li>
            ))}
          </ul>
        </div>
      )}
      <dl className="facts wrap-facts">
        <dt>E-mail</dt>
        <dd>{result.email ?? none}</dd>
        <dt>Verified by the IdP</dt>
        <dd>{yesNo(result.emailVerified)}</dd>
        <dt>Allowed by the e-mail domains</dt>
        <dd>{yesNo(result.emailAllowed)}</dd>
        <dt>Groups</dt>
        <dd>{result.groups.length ? result.groups.join(', ') : none}</dd>
        <dt>Resulting role</dt>
        <dd data-testid="sso-test-role">
          {result.role === 'ADMIN' ? 'Admin' : result.role === 'MEMBER' ? 'Member' : 'unchanged (no admin group set)'}
        </dd>
        <dt>Linked member</dt>
        <dd>{result.member ? `${result.member.displayName || result.member.username} (${result.member.username})` : 'none yet (first login)'}</dd>
        <dt>IdP subject</dt>
        <dd>
          <code>{result.subject}</code>
        </dd>
      </dl>
    </>
  )
}
