import { useId, useState, type FormEvent } from 'react'
import { useClient, useQuery } from 'urql'
import { useAction } from '../operations'
import {
  RecoveryCodesGenerateDocument,
  SecurityKeyDeleteDocument,
  SecurityKeyRenameDocument,
  SecurityKeysDocument,
  type SecurityKeyFieldsFragment,
} from '../gql/graphql'
import { AddKeyForm, KEY_NAME_MAX, keyNameProblem } from '../components/AddKeyForm'
import { ActionDialog, Dialog } from '../components/Dialog'
import { ErrorAlert } from '../components/ErrorAlert'
import { LoadState } from '../components/Loading'
import { CopyButton, DownloadButton } from '../components/CopyButton'
import { DeleteKeyDialog, KeyDetailCells, KeysTable } from '../components/KeysTable'
import { clearRecovered, hasRecovered } from '../recovery'
import { useSession } from '../session'

/** Personal settings → Multi-factor authentication. */
export function MfaSettingsPage() {
  const client = useClient()
  const { viewer, refresh: refreshViewer } = useSession()
  const [recovered, setRecovered] = useState(() => hasRecovered(viewer?.member.id))
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
        {!keys && <LoadState loading={fetching} loadingText="Loading your security keys…" error={error} onRetry={reload} />}
        {keys && keys.length === 0 && <p data-testid="no-keys">You have no security keys yet. Add one below.</p>}
        {recovered && keys && keys.length > 1 && (
          <div className="alert alert-warning" data-testid="recovered-notice">
            <p>
              You logged in with a recovery code and registered a new key. If the key you lost is still listed below,
              delete it, so that nobody who finds it can use it.
            </p>
            <button
              type="button"
              className="button-small"
              onClick={() => {
                clearRecovered()
                setRecovered(false)
              }}
            >
              Dismiss
            </button>
          </div>
        )}
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
          If you lose all your security keys, a recovery code takes the place of a key once: log in as usual, choose “Lost
          your key?” at the security key step, then register a new key. Generating codes makes any codes you generated
          before stop working.
        </p>
        <button type="button" onClick={() => setShowCodes(true)}>
          Generate recovery codes
        </button>
      </section>

      {deleting && (
        <DeleteKeyDialog
          keyName={deleting.name}
          action={() => client.mutation(SecurityKeyDeleteDocument, { id: deleting.id }).toPromise()}
          onClose={() => setDeleting(null)}
          onDeleted={() => {
            setDeleting(null)
            setStatus(`Deleted “${deleting.name}”.`)
            reload()
          }}
          final={(error) => error.code === 'LAST_KEY_ENFORCED'}
        >
          <p>You will no longer be able to log in with this security key. This cannot be undone.</p>
        </DeleteKeyDialog>
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
  const [problem, setProblem] = useState<string | null>(null)
  const { busy, error, run, reset } = useAction()

  async function submit(event: FormEvent) {
    event.preventDefault()
    const invalid = keyNameProblem(name)
    setProblem(invalid)
    reset()
    if (invalid) return
    const data = await run(() => client.mutation(SecurityKeyRenameDocument, { id: key.id, name: name.trim() }).toPromise())
    if (data) onDone(data.securityKeyRename)
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

function RecoveryCodesDialog({ onClose }: { onClose: () => void }) {
  const client = useClient()
  const [codes, setCodes] = useState<string[] | null>(null)

  if (!codes) {
    return (
      <ActionDialog
        title="Generate recovery codes"
        confirmLabel="Generate new codes"
        busyLabel="Generating…"
        tone="primary"
        action={() => client.mutation(RecoveryCodesGenerateDocument, {}).toPromise()}
        onDone={(data) => setCodes(data.recoveryCodesGenerate.codes)}
        onClose={onClose}
        focusCancel={false}
      >
        <p className="alert alert-warning">New codes replace your old ones: any recovery codes you saved before stop working.</p>
      </ActionDialog>
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
        <DownloadButton text={text} filename="keyward-recovery-codes.txt" label="Download (.txt)" />
        <button type="button" className="button-primary" onClick={onClose}>
          I have saved them
        </button>
      </div>
    </Dialog>
  )
}
