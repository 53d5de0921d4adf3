import { useId, useState, type FormEvent } from 'react'
import { useClient } from 'urql'
import { describeError, messageForSsoCallback, type UiError } from '../errors'
import { BackupCredentialsLoginDocument, SsoLoginStartDocument } from '../gql/graphql'
import { useSearch } from '../router'
import { useSession } from '../session'
import { goToIdentityProvider } from '../sso'
import { ErrorAlert } from '../components/ErrorAlert'

type Method = 'sso' | 'backup'

/** First factor: SSO or backup credentials (a recovery code comes later, in place of the security key). */
export function LoginPage({ notice }: { notice: string | null }) {
  const client = useClient()
  const { refresh } = useSession()
  const search = useSearch()
  const callbackCode = new URLSearchParams(search).get('error')
  const orgId = useId()
  const [organization, setOrganization] = useState('default')
  const [method, setMethod] = useState<Method>('sso')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<UiError | null>(null)
  const [problem, setProblem] = useState<string | null>(null)
  const shownCallbackError: UiError | null =
    callbackCode && !error ? { code: callbackCode, message: messageForSsoCallback(callbackCode) } : null

  function org(): string | null {
    const slug = organization.trim()
    if (!slug) {
      setProblem('Enter your organization.')
      return null
    }
    setProblem(null)
    return slug
  }

  async function startSso() {
    const slug = org()
    if (!slug) return
    setBusy(true)
    setError(null)
    const result = await client.mutation(SsoLoginStartDocument, { organization: slug }).toPromise()
    if (result.data) {
      const unsafe = goToIdentityProvider(result.data.ssoLoginStart.authorizationUrl)
      if (!unsafe) return
      setError(unsafe)
    }
    setBusy(false)
    if (result.error) setError(describeError(result.error))
  }

  async function backupLogin(username: string, secret: string) {
    const slug = org()
    if (!slug) return
    setBusy(true)
    setError(null)
    const result = await client.mutation(BackupCredentialsLoginDocument, { organization: slug, username, secret }).toPromise()
    setBusy(false)
    if (result.error) {
      const described = describeError(result.error)
      if (described.code === 'UNAUTHENTICATED') described.message = 'The organization, username or secret is not right.'
      setError(described)
      return
    }
    // The session cookie is set; the app routes by the new stage (key step, forced registration or home).
    refresh()
  }

  return (
    <main id="main" className="auth-card" aria-labelledby="login-title">
      <h1 id="login-title">Log in to Keyward</h1>
      {notice && (
        <div className="alert alert-info" role="alert">
          <p>{notice}</p>
        </div>
      )}
      {shownCallbackError && <ErrorAlert error={shownCallbackError} />}
      <div className="field">
        <label htmlFor={orgId}>Organization</label>
        <input
          id={orgId}
          value={organization}
          onChange={(e) => setOrganization(e.target.value)}
          autoComplete="organization"
          autoCapitalize="none"
          spellCheck={false}
          aria-invalid={problem ? true : undefined}
          aria-describedby={problem ? `${orgId}-problem` : undefined}
        />
        {problem && (
          <p id={`${orgId}-problem`} className="field-error">
            {problem}
          </p>
        )}
      </div>

      {error && <ErrorAlert error={error} />}

      {method === 'sso' && (
        <div className="stack">
          <button type="button" className="button-primary button-wide" onClick={startSso} disabled={busy}>
            {busy ? 'Opening single sign-on…' : 'Log in with SSO'}
          </button>
          <section className="other-ways" aria-labelledby={`${orgId}-other`}>
            <h2 id={`${orgId}-other`}>Other ways to log in</h2>
            <p className="hint">For when single sign-on is unavailable: break-glass credentials an admin gave you.</p>
            <button type="button" className="button-link" onClick={() => { setMethod('backup'); setError(null) }}>
              Use backup credentials
            </button>
          </section>
        </div>
      )}
      {method === 'backup' && (
        <BackupForm busy={busy} onSubmit={backupLogin} onBack={() => { setMethod('sso'); setError(null) }} />
      )}
    </main>
  )
}

interface BackupFormProps {
  busy: boolean
  onSubmit: (username: string, secret: string) => void
  onBack: () => void
}

function BackupForm({ busy, onSubmit, onBack }: BackupFormProps) {
  const userId = useId()
  const secretId = useId()
  const [username, setUsername] = useState('')
  const [secret, setSecret] = useState('')
  const [problem, setProblem] = useState<string | null>(null)

  function submit(event: FormEvent) {
    event.preventDefault()
    if (!username.trim() || !secret.trim()) {
      setProblem('Enter your username and secret.')
      return
    }
    setProblem(null)
    onSubmit(username.trim(), secret.trim())
  }

  return (
    <form className="stack" onSubmit={submit} noValidate aria-label="Backup credentials">
      <h2>Backup credentials</h2>
      <p className="hint">
        Break-glass access for when single sign-on is unavailable. You still need your security key if you have one.
      </p>
      <div className="field">
        <label htmlFor={userId}>Username</label>
        <input id={userId} value={username} onChange={(e) => setUsername(e.target.value)} autoComplete="username" autoCapitalize="none" spellCheck={false} />
      </div>
      <div className="field">
        <label htmlFor={secretId}>Secret</label>
        <input
          id={secretId}
          type="password"
          value={secret}
          onChange={(e) => setSecret(e.target.value)}
          autoComplete="current-password"
          autoCapitalize="none"
          spellCheck={false}
        />
      </div>
      {problem && (
        <p className="field-error" role="alert">
          {problem}
        </p>
      )}
      <div className="row">
        <button type="submit" className="button-primary" disabled={busy}>
          {busy ? 'Logging in…' : 'Log in'}
        </button>
        <button type="button" className="button-link" onClick={onBack}>
          Back to single sign-on
        </button>
      </div>
    </form>
  )
}
