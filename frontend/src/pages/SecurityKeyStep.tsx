import { useState } from 'react'
import { useClient } from 'urql'
import type { UiError } from '../errors'
import { useSession } from '../session'
import { loginWithSecurityKey } from '../webauthn'
import { ErrorAlert } from '../components/ErrorAlert'

/** Stage MFA_REQUIRED: touch a security key to finish logging in. */
export function SecurityKeyStep() {
  const client = useClient()
  const { viewer, refresh, logout } = useSession()
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<UiError | null>(null)

  async function run() {
    setBusy(true)
    setError(null)
    const outcome = await loginWithSecurityKey(client)
    setBusy(false)
    if (outcome.ok) refresh()
    else setError(outcome.error)
  }

  return (
    <main id="main" className="auth-card" aria-labelledby="key-step-title">
      <h1 id="key-step-title">Use your security key</h1>
      <p>
        {viewer ? <>Logging in as <strong>{viewer.member.displayName || viewer.member.username}</strong>. </> : null}
        Insert or hold your security key near the device, press the button below, then touch the key.
      </p>
      {error && (
        <ErrorAlert error={error}>
          {error.code === 'CEREMONY_EXPIRED' && <p>Retry starts a new request.</p>}
        </ErrorAlert>
      )}
      <div className="row">
        <button type="button" className="button-primary" onClick={run} disabled={busy}>
          {busy ? 'Waiting for your security key…' : error ? 'Retry' : 'Use security key'}
        </button>
        <button type="button" className="button-link" onClick={() => void logout()} disabled={busy}>
          Log in as someone else
        </button>
      </div>
    </main>
  )
}
