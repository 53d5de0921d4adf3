import { useState } from 'react'
import { useClient } from 'urql'
import { describeKeyStepError, type UiError } from '../errors'
import { markRecovered } from '../recovery'
import { useSession } from '../session'
import { loginWithSecurityKey } from '../webauthn'
import { ErrorAlert } from '../components/ErrorAlert'
import { RecoveryCodeForm } from '../components/RecoveryCodeForm'

/** Stage MFA_REQUIRED: touch a security key to finish logging in, or replace a lost key with a recovery code. */
export function SecurityKeyStep() {
  const client = useClient()
  const { viewer, refresh, logout } = useSession()
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<UiError | null>(null)
  const [recovering, setRecovering] = useState(false)
  const who = viewer ? viewer.member.displayName || viewer.member.username : 'you'

  async function run() {
    setBusy(true)
    setError(null)
    const outcome = await loginWithSecurityKey(client)
    setBusy(false)
    if (outcome.ok) refresh()
    else setError(describeKeyStepError(outcome.error, who))
  }

  return (
    <main id="main" className="auth-card" aria-labelledby="key-step-title">
      <h1 id="key-step-title">Use your security key</h1>
      <p>
        {viewer ? <>Logging in as <strong>{who}</strong>. </> : null}
        {!recovering && 'Insert or hold your security key near the device, press the button below, then touch the key.'}
      </p>
      {recovering ? (
        <RecoveryCodeForm
          onRecovered={() => {
            // The session now may only register a new key; the app routes there by the new stage.
            if (viewer) markRecovered(viewer.member.id)
            refresh()
          }}
          onBack={() => setRecovering(false)}
        />
      ) : (
        <>
          {error && <ErrorAlert error={error} technical />}
          <div className="row">
            <button type="button" className="button-primary" onClick={run} disabled={busy}>
              {busy ? 'Waiting for your security key…' : error ? 'Retry' : 'Use security key'}
            </button>
            <button type="button" className="button-link" onClick={() => void logout()} disabled={busy}>
              Log in as someone else
            </button>
          </div>
          <div className="alt-methods">
            <button type="button" className="button-link" onClick={() => setRecovering(true)} disabled={busy}>
              Lost your key? Use a recovery code
            </button>
          </div>
        </>
      )}
    </main>
  )
}
