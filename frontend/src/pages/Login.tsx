import { useId, useState, type FormEvent } from 'react'
import { useClient } from 'urql'
import { describeError, messageForSsoCallback, type UiError } from '../errors'
import { BackupCredentialsLoginDocument, RecoveryCodeLoginDocument, SsoLoginStartDocument } from '../gql/graphql'
import { useSearch } from '../router'
import { useSession } from '../session'
import { ErrorAlert } from '../components/ErrorAlert'

type Method = 'sso' | 'backup' | 'recovery'

/** First factor: SSO, backup credentials or a recovery code. */
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
      window.location.assign(result.data.ssoLoginStart.authorizationUrl)
      return
    }
    setBusy(false)
    if (result.error) setError(describeError(result.error))
  }

  async function firstFactor(kind: 'backup' | 'recovery', username: string, secret: string) {
    const slug = org()
    if (!slug) return
    setBusy(true)
    setError(null)
    const result =
      kind === 'backup'
        ? await client.mutation(BackupCredentialsLoginDocument, { organization: slug, username, secret }).toPromise()
        : await client.mutation(RecoveryCodeLoginDocument, { organization: slug, username, code: secret }).toPromise()
    setBusy(false)
    if (result.error) {
      const described = describeError(result.error)
      if (described.code === 'UNAUTHENTICATED') {
        described.message =
          kind === 'backup'
            ? 'The organization, username or secret is not right.'
            : 'The organization, username or recovery code is not right, or the code was already used.'
      }
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
          <div className="alt-methods">
            <button type="button" className="button-link" onClick={() => { setMethod('backup'); setError(null) }}>
              Use backup credentials
            </button>
            <button type="button" className="button-link" onClick={() => { setMethod('recovery'); setError(null) }}>
              Use a recovery code
            </button>
          </div>
        </div>
      )}
      {method !== 'sso' && (
        <SecretForm
          key={method}
          kind={method}
          busy={busy}
          onSubmit={(username, secret) => firstFactor(method, username, secret)}
          onBack={() => { setMethod('sso'); setError(null) }}
        />
      )}
    </main>
  )
}

interface SecretFormProps {
  kind: 'backup' | 'recovery'
  busy: boolean
  onSubmit: (username: string, secret: string) => void
  onBack: () => void
}

function SecretForm({ kind, busy, onSubmit, onBack }: SecretFormProps) {
  const userId = useId()
  const secretId = useId()
  const [username, setUsername] = useState('')
  const [secret, setSecret] = useState('')
  const [problem, setProblem] = useState<string | null>(null)
  const secretLabel = kind === 'backup' ? 'Secret' : 'Recovery code'

  function submit(event: FormEvent) {
    event.preventDefault()
    if (!username.trim() || !secret.trim()) {
      setProblem(`Enter your username and ${secretLabel.toLowerCase()}.`)
      return
    }
    setProblem(null)
    onSubmit(username.trim(), secret.trim())
  }

  return (
    <form className="stack" onSubmit={submit} noValidate aria-label={kind === 'backup' ? 'Backup credentials' : 'Recovery code'}>
      <h2>{kind === 'backup' ? 'Backup credentials' : 'Recovery code'}</h2>
      <p className="hint">
        {kind === 'backup'
          ? "Break-glass access for when single sign-on is unavailable. You still need your security key if you have one."
          : 'Each code works once. After logging in you must register a new security key.'}
      </p>
      <div className="field">
        <label htmlFor={userId}>Username</label>
        <input id={userId} value={username} onChange={(e) => setUsername(e.target.value)} autoComplete="username" autoCapitalize="none" spellCheck={false} />
      </div>
      <div className="field">
        <label htmlFor={secretId}>{secretLabel}</label>
        <input
          id={secretId}
          type={kind === 'backup' ? 'password' : 'text'}
          value={secret}
          onChange={(e) => setSecret(e.target.value)}
          autoComplete={kind === 'backup' ? 'current-password' : 'one-time-code'}
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
