import { useEffect, useState } from 'react'
import { clearAfterLogin } from '../afterLogin'
import { useSearch } from '../router'
import { useSession } from '../session'
import { safeReturnPath } from '../stepUpWords'
import { ErrorAlert } from '../components/ErrorAlert'
import { isFinalStepUpError, StepUpWhat, TOUCH_LABEL, useStepUpCeremony } from '../components/StepUp'

/** The query of a /step-up address (contract: action, resource, handoff, code, return). */
interface StepUpParams {
  action: string | null
  resource: string | null
  handoff: string | null
  code: string | null
  /** Where to go afterwards: only a path on this site; anything else is ignored. */
  returnTo: string | null
}

function paramsFrom(search: string): StepUpParams {
  const query = new URLSearchParams(search)
  const get = (name: string) => query.get(name)?.trim() || null
  return {
    action: get('action'),
    resource: get('resource'),
    handoff: get('handoff'),
    code: get('code'),
    returnTo: safeReturnPath(query.get('return')),
  }
}

/**
 * /step-up: one page for a tool behind Keyward's forward auth, the CLI's login and the CLI's step-up. Says
 * what is asked (and, for a terminal, the code to compare), takes a key touch, then goes back to `return` or
 * says the terminal can go on. The app sends a visitor who is not logged in through the login first.
 */
export function StepUpPage() {
  const search = useSearch()
  const { viewer } = useSession()
  const params = paramsFrom(search)
  const { busy, error, touch } = useStepUpCeremony()
  const [done, setDone] = useState<'returning' | 'done' | null>(null)
  const shownError =
    error && params.handoff && error.code === 'NOT_FOUND'
      ? { code: error.code, message: 'This request from your terminal expired or was already used; start again in the terminal.' }
      : error

  // Arrived: the login, if there was one, has brought the user back here.
  useEffect(() => clearAfterLogin(), [])

  async function confirm() {
    if (!params.action) return
    const ok = await touch({ action: params.action, resource: params.resource, handoff: params.handoff })
    if (!ok) return
    if (params.returnTo) {
      setDone('returning')
      // A full page load: the path may belong to a tool behind Keyward, not to this app.
      window.location.assign(params.returnTo)
    } else {
      setDone('done')
    }
  }

  return (
    <main id="main" className="auth-card" aria-labelledby="step-up-title">
      <h1 id="step-up-title">Confirm with your security key</h1>
      {!params.action ? (
        <ErrorAlert error={{ code: 'BAD_USER_INPUT', message: 'This link does not say what to confirm. Start again where you came from.' }} />
      ) : done === 'done' ? (
        <p className="alert alert-info" role="status" data-testid="step-up-done">
          Done. You can return to your terminal.
        </p>
      ) : done === 'returning' ? (
        <p className="muted" role="status">
          Done. Taking you back…
        </p>
      ) : (
        <>
          {viewer && (
            <p>
              Logged in as <strong>{viewer.member.displayName || viewer.member.username}</strong>.
            </p>
          )}
          {params.handoff && (
            <div className="handoff" data-testid="handoff">
              <p>Your terminal asked for this. Check that it shows the same code:</p>
              <p className="handoff-code" data-testid="handoff-code">
                {params.code ?? <span className="muted">(no code given)</span>}
              </p>
              <p className="hint">If the codes differ, or you did not start this in a terminal, close this page.</p>
            </div>
          )}
          <p>Keyward asks you to confirm with a touch of your security key:</p>
          <p className="step-up-what" data-testid="step-up-what">
            <StepUpWhat action={params.action} resource={params.resource} />
          </p>
          {params.returnTo && (
            <p className="hint step-up-return">
              Afterwards you go back to <code>{params.returnTo}</code>.
            </p>
          )}
          {shownError && <ErrorAlert error={shownError} />}
          <button type="button" className="button-primary button-wide" onClick={confirm} disabled={busy || isFinalStepUpError(error)}>
            {busy ? 'Waiting for your security key…' : TOUCH_LABEL}
          </button>
        </>
      )}
    </main>
  )
}
