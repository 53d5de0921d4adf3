import { useEffect, useRef, useState, type FormEvent } from 'react'
import { useClient } from 'urql'
import { API_KEY_NAME_MAX, SCOPES, apiKeyProblems, expiryFromDate } from '../../apiKeys'
import { ApiKeyCreateDocument, type ApiKeyCreateMutation, type ApiKeyScope } from '../../gql/graphql'
import { Dialog } from '../Dialog'
import { ErrorAlert } from '../ErrorAlert'
import { CheckboxField, CopyField, Field, useFocusFirstInvalid, useSettingsForm } from '../Form'

type Created = ApiKeyCreateMutation['apiKeyCreate']

const FIELDS = ['name', 'scopes', 'expiresAt'] as const

/** The create form; then, once created, the secret (shown this once). */
export function ApiKeyCreateDialog({ onCreated, onClose }: { onCreated: (created: Created) => void; onClose: () => void }) {
  const [created, setCreated] = useState<Created | null>(null)
  return (
    <Dialog title={created ? 'API key created' : 'Create an API key'} onClose={onClose}>
      {created ? (
        <NewKeySecret created={created} onDone={onClose} />
      ) : (
        <CreateForm
          onClose={onClose}
          onCreated={(result) => {
            setCreated(result)
            onCreated(result)
          }}
        />
      )}
    </Dialog>
  )
}

function CreateForm({ onCreated, onClose }: { onCreated: (created: Created) => void; onClose: () => void }) {
  const client = useClient()
  const form = useSettingsForm(FIELDS)
  const ref = useRef<HTMLFormElement>(null)
  useFocusFirstInvalid(ref, form.failures)
  const [name, setName] = useState('')
  const [scopes, setScopes] = useState<ApiKeyScope[]>(['APPROVALS_REQUEST'])
  const [expiry, setExpiry] = useState('')

  async function submit(event: FormEvent) {
    event.preventDefault()
    const problems = apiKeyProblems({ name, scopes, expiry }, Date.now())
    const input = { name: name.trim(), scopes, expiresAt: expiryFromDate(expiry) }
    const data = await form.submit(problems, () => client.mutation(ApiKeyCreateDocument, { input }).toPromise(), '')
    if (data) onCreated(data.apiKeyCreate)
  }

  return (
    <form ref={ref} onSubmit={submit} noValidate aria-busy={form.busy}>
      <Field label="Name" hint="Where the key is used, so you know what breaks if you revoke it." error={form.errors.name}>
        {(control) => (
          <input {...control} value={name} maxLength={API_KEY_NAME_MAX + 10} onChange={(e) => setName(e.target.value)} data-autofocus />
        )}
      </Field>
      <fieldset className="field" aria-describedby={form.errors.scopes ? 'api-key-scopes-error' : undefined}>
        <legend>Scopes</legend>
        {SCOPES.map((scope) => (
          <CheckboxField
            key={scope.value}
            label={scope.name}
            hint={scope.description}
            checked={scopes.includes(scope.value)}
            onChange={(checked) =>
              setScopes((current) => (checked ? [...current, scope.value] : current.filter((s) => s !== scope.value)))
            }
          />
        ))}
        {form.errors.scopes && (
          <p id="api-key-scopes-error" className="field-error" role="alert">
            {form.errors.scopes}
          </p>
        )}
      </fieldset>
      <Field label="Expires on (optional)" hint="The key stops working at the end of that day. Leave empty for no expiry." error={form.errors.expiresAt}>
        {(control) => <input {...control} type="date" className="input-date" value={expiry} onChange={(e) => setExpiry(e.target.value)} />}
      </Field>
      {form.general && <ErrorAlert error={form.general} />}
      <div className="row dialog-actions">
        <button type="submit" className="button-primary" disabled={form.busy}>
          {form.busy ? 'Creating…' : 'Create key'}
        </button>
        <button type="button" onClick={onClose}>
          Cancel
        </button>
      </div>
    </form>
  )
}

function NewKeySecret({ created, onDone }: { created: Created; onDone: () => void }) {
  const panel = useRef<HTMLDivElement>(null)
  // The form (and the focused button) is gone: bring the keyboard and screen readers to the secret.
  useEffect(() => panel.current?.focus(), [])
  return (
    <div data-testid="new-api-key-secret" ref={panel} tabIndex={-1} className="secret-panel">
      <p className="alert alert-warning">
        <strong>This secret is shown only once.</strong> Copy it into your CI&apos;s secret store now: Keyward keeps only a
        hash and cannot show it again. If you lose it, revoke the key and create another.
      </p>
      <CopyField label={`Secret of “${created.apiKey.name}”`} value={created.secret} />
      <p className="hint">
        Pipelines read it from <code>KEYWARD_API_KEY</code> (with <code>KEYWARD_URL</code> set to this server); it is
        sent as <code>Authorization: Bearer kwk_…</code>.
      </p>
      <div className="row dialog-actions">
        <button type="button" className="button-primary" onClick={onDone}>
          Done
        </button>
      </div>
    </div>
  )
}
