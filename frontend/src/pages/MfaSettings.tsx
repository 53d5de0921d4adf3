import { useId, useState, type FormEvent } from 'react'
import { useClient, useQuery } from 'urql'
import { useAction } from '../operations'
import {
  SecurityKeyDeleteDocument,
  SecurityKeyRenameDocument,
  SecurityKeysDocument,
  type SecurityKeyFieldsFragment,
} from '../gql/graphql'
import { AddKeyForm, KEY_NAME_MAX, keyNameProblem } from '../components/AddKeyForm'
import { ErrorAlert } from '../components/ErrorAlert'
import { LoadState } from '../components/Loading'
import { DeleteKeyDialog, KeyDetailCells, KeysTable } from '../components/KeysTable'
import { Time } from '../components/Time'
import { RecoveryCodesSection } from '../components/RecoveryCodesSection'
import { RecoveryCodesStep } from '../components/RecoveryCodesStep'
import { dismissLostKeys, lostKeyCandidates, suggestRemovingLostKeys } from '../recovery'
import { shouldOfferRecoveryCodes } from '../recoveryCodes'
import { useSession } from '../session'

/** The personal page, "Security keys": your keys, adding one, recovery codes. */
export function MfaSettingsPage() {
  const client = useClient()
  const { viewer, refresh: refreshViewer } = useSession()
  const memberId = viewer?.member.id
  const [lostKeys, setLostKeys] = useState(() => suggestRemovingLostKeys(memberId, viewer?.methods))
  const [{ data, fetching, error }, reexecute] = useQuery({ query: SecurityKeysDocument, requestPolicy: 'cache-and-network' })
  const [status, setStatus] = useState('')
  const [deleting, setDeleting] = useState<SecurityKeyFieldsFragment | null>(null)
  const [offerCodes, setOfferCodes] = useState(false)
  const reload = () => reexecute({ requestPolicy: 'network-only' })
  const keys = data?.securityKeys
  const noModels = !!keys && keys.length > 0 && keys.every((key) => !key.model)

  return (
    <main id="main" className="page" aria-labelledby="mfa-title">
      <h1 id="mfa-title">Security keys</h1>
      <p role="status" className="notice-success">
        {status}
      </p>

      {offerCodes && <RecoveryCodesStep variant="card" onDone={() => setOfferCodes(false)} />}

      <section className="card" aria-labelledby="keys-title">
        <h2 id="keys-title">Your keys</h2>
        {!keys && <LoadState loading={fetching} loadingText="Loading your security keys…" error={error} onRetry={reload} />}
        {keys && keys.length === 0 && <p data-testid="no-keys">You have no security keys yet. Add one below.</p>}
        {lostKeys && memberId && keys && (
          <LostKeysNotice
            keys={keys}
            onRemove={(key) => setDeleting(key)}
            onDismiss={() => {
              dismissLostKeys(memberId)
              setLostKeys(false)
            }}
          />
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
        {noModels && (
          <p className="hint" data-testid="model-hint">
            Model: your organization does not ask keys to prove their model (attestation), so Keyward cannot tell which
            model a key is. Your keys work just the same.
          </p>
        )}
      </section>

      <section className="card" aria-labelledby="add-title">
        <h2 id="add-title">Add a security key</h2>
        <AddKeyForm
          submitLabel="Add key"
          onRegistered={(result) => {
            setStatus(`Registered “${result.key.name}”.`)
            // The first key: offer recovery codes right away, as the step after a forced first key does.
            if (keys?.length === 0 && memberId && viewer && shouldOfferRecoveryCodes(memberId, viewer.recoveryCodes)) setOfferCodes(true)
            reload()
            refreshViewer()
          }}
        />
      </section>

      <RecoveryCodesSection />

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

interface LostKeysNoticeProps {
  keys: SecurityKeyFieldsFragment[]
  onRemove: (key: SecurityKeyFieldsFragment) => void
  onDismiss: () => void
}

/**
 * After a recovery code and a new key: the keys registered before (one of them is the lost one, which still
 * works for whoever finds it), each with a Remove button. Dismissible.
 */
function LostKeysNotice({ keys, onRemove, onDismiss }: LostKeysNoticeProps) {
  const candidates = lostKeyCandidates(keys)
  if (candidates.length === 0) return null
  return (
    <div className="alert alert-warning" data-testid="recovered-notice" role="region" aria-labelledby="lost-keys-title">
      <h3 id="lost-keys-title">Remove the key you lost</h3>
      <p>
        You logged in with a recovery code and registered a new key. The key you lost still works for whoever finds it:
        remove it. These keys were registered before:
      </p>
      <ul className="lost-keys">
        {candidates.map((key) => (
          <li key={key.id}>
            <span>
              <strong>{key.name}</strong>{' '}
              <span className="muted">
                last used {key.lastUsedAt ? <Time iso={key.lastUsedAt} /> : 'never'}
              </span>
            </span>
            <button type="button" className="button-small button-danger" onClick={() => onRemove(key)} aria-label={`Remove ${key.name}`}>
              Remove
            </button>
          </li>
        ))}
      </ul>
      <button type="button" className="button-small" onClick={onDismiss}>
        Dismiss
      </button>
    </div>
  )
}
