import { useId, useState, type FormEvent } from 'react'
import { useClient } from 'urql'
import type { UiError } from '../errors'
import { registerSecurityKey, type RegisteredKey } from '../webauthn'
import { ErrorAlert } from './ErrorAlert'

export const KEY_NAME_MAX = 64

/** Validates a key name as the server does: 1-64 characters after trimming. */
export function keyNameProblem(name: string): string | null {
  const trimmed = name.trim()
  if (trimmed.length === 0) return 'Enter a name for the key.'
  if ([...trimmed].length > KEY_NAME_MAX) return `Use at most ${KEY_NAME_MAX} characters.`
  return null
}

interface AddKeyFormProps {
  onRegistered: (result: RegisteredKey) => void
  submitLabel: string
}

/** Name a key, then register it with the browser's WebAuthn prompt. */
export function AddKeyForm({ onRegistered, submitLabel }: AddKeyFormProps) {
  const client = useClient()
  const nameId = useId()
  const hintId = useId()
  const [name, setName] = useState('')
  const [busy, setBusy] = useState(false)
  const [problem, setProblem] = useState<string | null>(null)
  const [error, setError] = useState<UiError | null>(null)

  async function submit(event: FormEvent) {
    event.preventDefault()
    const invalid = keyNameProblem(name)
    setProblem(invalid)
    setError(null)
    if (invalid) return
    setBusy(true)
    const outcome = await registerSecurityKey(client, name.trim())
    setBusy(false)
    if (outcome.ok) {
      setName('')
      onRegistered(outcome.value)
    } else {
      setError(outcome.error)
    }
  }

  return (
    <form className="stack" onSubmit={submit} noValidate>
      <div className="field">
        <label htmlFor={nameId}>Key name</label>
        <input
          id={nameId}
          value={name}
          onChange={(e) => setName(e.target.value)}
          maxLength={KEY_NAME_MAX + 16}
          autoComplete="off"
          placeholder="e.g. YubiKey 5C"
          aria-describedby={hintId}
          aria-invalid={problem ? true : undefined}
          disabled={busy}
        />
        <p id={hintId} className={problem ? 'field-error' : 'hint'}>
          {problem ?? `1 to ${KEY_NAME_MAX} characters, so you can tell your keys apart.`}
        </p>
      </div>
      {error && <ErrorAlert error={error} />}
      <div>
        <button type="submit" className="button-primary" disabled={busy}>
          {busy ? 'Touch your security key…' : error ? 'Retry' : submitLabel}
        </button>
      </div>
    </form>
  )
}
