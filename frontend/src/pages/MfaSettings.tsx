import { useId, useState, type FormEvent } from 'react'
import { useClient, useQuery } from 'urql'
import { describeError, type UiError } from '../errors'
import {
  RecoveryCodesGenerateDocument,
  SecurityKeyDeleteDocument,
  SecurityKeyRenameDocument,
  SecurityKeysDocument,
  type SecurityKeyFieldsFragment,
} from '../gql/graphql'
import { AddKeyForm, KEY_NAME_MAX, keyNameProblem } from '../components/AddKeyForm'
import { ConfirmActions, Dialog } from '../components/Dialog'
import { ErrorAlert } from '../components/ErrorAlert'
import { CopyButton } from '../components/CopyButton'
import { KeyDetailCells, KeysTable } from '../components/KeysTable'
import { useSession } from '../session'

/** Personal settings → Multi-factor authentication. */
export function MfaSettingsPage() {
  const { refresh: refreshViewer } = useSession()
  const [{ data, fetching, error }, reexecute] = useQuery({ query: SecurityKeysDocument, requestPolicy: 'cache-and-network' })
  const [status, setStatus] = useState('')
  const [deleting, setDeleting] = useState<SecurityKeyFieldsFragment | null>(null)
  const [showCodes, setShowCodes] = useState(false)
  const reload = () => reexecute({ requestPolicy: 'network-only' })
  const keys = data?.securityKeys

  return (
    <main id="main" className="page" aria-labelledby="mfa-title">
      <h1 id="mfa-title">Multi-factor authentication</h1>
      <p aria-live="polite" className="status">
        {status}
      </p>

      <section className="card" aria-labelledby="keys-title">
        <h2 id="keys-title">Security keys</h2>
        {!keys && fetching && <p className="muted">Loading your security keys…</p>}
        {error && !keys && (
          <ErrorAlert error={describeError(error)}>
            <button type="button" onClick={reload}>
              Retry
            </button>
          </ErrorAlert>
        )}
        {keys && keys.length === 0 && <p data-testid="no-keys">You have no security keys yet. Add one below.</p>}
        {keys && keys.length === 1 && (
          <p className="alert alert-info">
            You have one security key. Register a second one as a backup, so losing a key does not lock you out.
          </p>
        )}
        {keys && keys.length > 0 && (
          <KeyTable
            keys={keys}
            onRenamed={(key) => setStatus(`Renamed the key to “${key.name}”.`)}
            onDelete={(key) => setDeleting(key)}
          />
        )}
      </section>

      <section className="card" aria-labelledby="add-title">
        <h2 id="add-title">Add a security key</h2>
        <AddKeyForm
          submitLabel="Add key"
          onRegistered={(result) => {
            setStatus(`Registered “${result.key.name}”.`)
            reload()
            refreshViewer()
          }}
        />
      </section>

      <section className="card" aria-labelledby="codes-title">
        <h2 id="codes-title">Recovery codes</h2>
        <p>
          If you lose all your security keys, a recovery code lets you log in once and register a new key. Generating codes
          makes any codes you generated before stop working.
        </p>
        <button type="button" onClick={() => setShowCodes(true)}>
          Generate recovery codes
        </button>
      </section>

      {deleting && (
        <DeleteKeyDialog
          keyToDelete={deleting}
          onClose={() => setDeleting(null)}
          onDeleted={(name) => {
            setDeleting(null)
            setStatus(`Deleted “${name}”.`)
            reload()
          }}
        />
      )}
      {showCodes && <RecoveryCodesDialog onClose={() => setShowCodes(false)} />}
    </main>
  )
}

function KeyTable({
  keys,
  onRenamed,
  onDelete,
}: {
  keys: SecurityKeyFieldsFragment[]
  onRenamed: (key: SecurityKeyFieldsFragment) => void
  onDelete: (key: SecurityKeyFieldsFragment) => void
}) {
  return (
    <KeysTable caption="Your security keys">
      {keys.map((key) => (
        <KeyRow key={key.id} securityKey={key} onRenamed={onRenamed} onDelete={onDelete} />
      ))}
    </KeysTable>
  )
}

function KeyRow({
  securityKey: key,
  onRenamed,
  onDelete,
}: {
  securityKey: SecurityKeyFieldsFragment
  onRenamed: (key: SecurityKeyFieldsFragment) => void
  onDelete: (key: SecurityKeyFieldsFragment) => void
}) {
  const [editing, setEditing] = useState(false)
  return (
    <tr data-testid={`key-${key.id}`}>
      <td data-label="Name">
        {editing ? (
          <RenameForm
            securityKey={key}
            onDone={(renamed) => {
              setEditing(false)
              if (renamed) onRenamed(renamed)
            }}
          />
        ) : (
          <strong>{key.name}</strong>
        )}
      </td>
      <KeyDetailCells securityKey={key} />
      <td data-label="Actions" className="actions">
        {!editing && (
          <button type="button" className="button-small" onClick={() => setEditing(true)} aria-label={`Rename ${key.name}`}>
            Rename
          </button>
        )}
        <button type="button" className="button-small button-danger" onClick={() => onDelete(key)} aria-label={`Delete ${key.name}`}>
          Delete
        </button>
      </td>
    </tr>
  )
}

function RenameForm({
  securityKey: key,
  onDone,
}: {
  securityKey: SecurityKeyFieldsFragment
  onDone: (renamed: SecurityKeyFieldsFragment | null) => void
}) {
  const client = useClient()
  const inputId = useId()
  const [name, setName] = useState(key.name)
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
    const result = await client.mutation(SecurityKeyRenameDocument, { id: key.id, name: name.trim() }).toPromise()
    setBusy(false)
    if (result.error || !result.data) {
      if (result.error) setError(describeError(result.error))
      return
    }
    onDone(result.data.securityKeyRename)
  }

  return (
    <form className="rename" onSubmit={submit} noValidate>
      <label htmlFor={inputId} className="visually-hidden">
        New name for {key.name}
      </label>
      <input
        id={inputId}
        value={name}
        onChange={(e) => setName(e.target.value)}
        maxLength={KEY_NAME_MAX + 16}
        autoFocus
        disabled={busy}
        aria-invalid={problem ? true : undefined}
        onKeyDown={(e) => {
          if (e.key === 'Escape') onDone(null)
        }}
      />
      {problem && (
        <p className="field-error" role="alert">
          {problem}
        </p>
      )}
      {error && <ErrorAlert error={error} />}
      <span className="row">
        <button type="submit" className="button-small button-primary" disabled={busy}>
          Save
        </button>
        <button type="button" className="button-small" onClick={() => onDone(null)} disabled={busy}>
          Cancel
        </button>
      </span>
    </form>
  )
}

function DeleteKeyDialog({
  keyToDelete,
  onClose,
  onDeleted,
}: {
  keyToDelete: SecurityKeyFieldsFragment
  onClose: () => void
  onDeleted: (name: string) => void
}) {
  const client = useClient()
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<UiError | null>(null)

  async function confirm() {
    setBusy(true)
    setError(null)
    const result = await client.mutation(SecurityKeyDeleteDocument, { id: keyToDelete.id }).toPromise()
    setBusy(false)
    if (result.error || !result.data) {
      if (result.error) setError(describeError(result.error))
      return
    }
    onDeleted(keyToDelete.name)
  }

  return (
    <Dialog title={`Delete “${keyToDelete.name}”?`} onClose={onClose}>
      <p>You will no longer be able to log in with this security key. This cannot be undone.</p>
      {error && <ErrorAlert error={error} />}
      <ConfirmActions
        confirmLabel="Delete key"
        busyLabel="Deleting…"
        busy={busy}
        disabled={error?.code === 'LAST_KEY_ENFORCED'}
        tone="danger"
        onConfirm={confirm}
        onCancel={onClose}
      />
    </Dialog>
  )
}

function RecoveryCodesDialog({ onClose }: { onClose: () => void }) {
  const client = useClient()
  const [busy, setBusy] = useState(false)
  const [codes, setCodes] = useState<string[] | null>(null)
  const [error, setError] = useState<UiError | null>(null)

  async function generate() {
    setBusy(true)
    setError(null)
    const result = await client.mutation(RecoveryCodesGenerateDocument, {}).toPromise()
    setBusy(false)
    if (result.error || !result.data) {
      if (result.error) setError(describeError(result.error))
      return
    }
    setCodes(result.data.recoveryCodesGenerate.codes)
  }

  function download(text: string) {
    const url = URL.createObjectURL(new Blob([text], { type: 'text/plain' }))
    const a = document.createElement('a')
    a.href = url
    a.download = 'keyward-recovery-codes.txt'
    document.body.append(a)
    a.click()
    a.remove()
    URL.revokeObjectURL(url)
  }

  if (!codes) {
    return (
      <Dialog title="Generate recovery codes" onClose={onClose}>
        <p className="alert alert-warning">
          New codes replace your old ones: any recovery codes you saved before stop working.
        </p>
        {error && <ErrorAlert error={error} />}
        <ConfirmActions
          confirmLabel="Generate new codes"
          busyLabel="Generating…"
          busy={busy}
          tone="primary"
          onConfirm={generate}
          onCancel={onClose}
          focusCancel={false}
        />
      </Dialog>
    )
  }

  const text = `Keyward recovery codes (each works once)\n\n${codes.join('\n')}\n`
  return (
    <Dialog title="Your recovery codes" onClose={onClose}>
      <p className="alert alert-warning">
        Store these codes somewhere safe now: they are shown only once. Each code works once. Your old codes no longer work.
      </p>
      <ol className="codes" data-testid="recovery-codes">
        {codes.map((code) => (
          <li key={code}>
            <code>{code}</code>
          </li>
        ))}
      </ol>
      <div className="row dialog-actions">
        <CopyButton text={codes.join('\n')} label="Copy all" />
        <button type="button" onClick={() => download(text)}>
          Download (.txt)
        </button>
        <button type="button" className="button-primary" onClick={onClose}>
          I have saved them
        </button>
      </div>
    </Dialog>
  )
}
