import { useRef, useState, type FormEvent } from 'react'
import { useClient } from 'urql'
import { MfaRecoveryCodeFinishDocument } from '../gql/graphql'
import { ErrorAlert } from './ErrorAlert'
import { Field, useFocusFirstInvalid, useSettingsForm } from './Form'

const FIELDS = ['code'] as const

interface RecoveryCodeFormProps {
  /** The code was accepted: the session now may only register a new key. */
  onRecovered: () => void
  onBack: () => void
}

/** "Lost your key?": one recovery code in place of the security key, at the key step of login. */
export function RecoveryCodeForm({ onRecovered, onBack }: RecoveryCodeFormProps) {
  const client = useClient()
  const ref = useRef<HTMLFormElement>(null)
  const [code, setCode] = useState('')
  const form = useSettingsForm(FIELDS)
  useFocusFirstInvalid(ref, form.failures)

  async function submit(event: FormEvent) {
    event.preventDefault()
    const trimmed = code.trim()
    const problems = trimmed ? {} : { code: 'Enter one of your recovery codes.' }
    const data = await form.submit(problems, () => client.mutation(MfaRecoveryCodeFinishDocument, { code: trimmed }).toPromise(), '')
    if (data) onRecovered()
  }

  return (
    <form ref={ref} className="stack" onSubmit={submit} noValidate aria-label="Recovery code" aria-busy={form.busy}>
      <h2>Use a recovery code</h2>
      <p>
        Each code works once. Then register a new security key to finish logging in; your other sessions end.
      </p>
      <Field label="Recovery code" error={form.errors.code} hint="One of the codes you saved, like abcd-efgh-jkmn-pqrs.">
        {(control) => (
          <input
            {...control}
            value={code}
            onChange={(e) => setCode(e.target.value)}
            autoComplete="one-time-code"
            autoCapitalize="none"
            spellCheck={false}
            autoFocus
          />
        )}
      </Field>
      {form.general && <ErrorAlert error={form.general} />}
      <div className="row">
        <button type="submit" className="button-primary" disabled={form.busy}>
          {form.busy ? 'Checking the code…' : 'Use recovery code'}
        </button>
        <button type="button" className="button-link" onClick={onBack} disabled={form.busy}>
          Use my security key instead
        </button>
      </div>
    </form>
  )
}
