import { useState } from 'react'
import { useClient, useQuery } from 'urql'
import { describeError, hasCode, type UiError } from '../errors'
import {
  MemberDetailDocument,
  MemberSecurityKeyDeleteDocument,
  MemberSessionsRevokeDocument,
  type SecurityKeyFieldsFragment,
} from '../gql/graphql'
import { Link } from '../router'
import { KeyDetailCells, KeysTable } from '../components/KeysTable'
import { ConfirmActions, Dialog } from '../components/Dialog'
import { ErrorAlert } from '../components/ErrorAlert'
import { Time } from '../components/Time'

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`
}

/** Organization settings → one member: their keys and sessions (admins only). */
export function OrgMemberPage({ memberId }: { memberId: string }) {
  const [{ data, fetching, error }, reexecute] = useQuery({
    query: MemberDetailDocument,
    variables: { id: memberId },
    requestPolicy: 'cache-and-network',
  })
  const [status, setStatus] = useState('')
  const [deleting, setDeleting] = useState<SecurityKeyFieldsFragment | null>(null)
  const [revoking, setRevoking] = useState(false)
  const reload = () => reexecute({ requestPolicy: 'network-only' })
  const detail = data?.member
  const notFound = hasCode(error, 'NOT_FOUND')

  const back = (
    <p className="breadcrumb">
      <Link to="/org/mfa">← Organization settings: MFA</Link>
    </p>
  )

  if (notFound) {
    return (
      <main id="main" className="page" aria-labelledby="member-title">
        {back}
        <h1 id="member-title">Member not found</h1>
        <p data-testid="member-not-found">
          There is no member with this ID in your organization. They may have been removed, or the link is wrong.
        </p>
        <Link to="/org/mfa">Back to the member list</Link>
      </main>
    )
  }

  if (!detail) {
    return (
      <main id="main" className="page" aria-labelledby="member-title" aria-busy={fetching}>
        {back}
        <h1 id="member-title">Member</h1>
        {fetching && <p className="muted">Loading the member…</p>}
        {error && (
          <ErrorAlert error={describeError(error)}>
            <button type="button" onClick={reload}>
              Retry
            </button>
          </ErrorAlert>
        )}
      </main>
    )
  }

  const { member, keys } = detail
  const name = member.displayName || member.username

  return (
    <main id="main" className="page" aria-labelledby="member-title">
      {back}
      <h1 id="member-title">{name}</h1>
      <p aria-live="polite" className="status alert alert-info" data-testid="member-status">
        {status}
      </p>

      <section className="card" aria-labelledby="member-details">
        <h2 id="member-details">Details</h2>
        <dl className="facts member-facts">
          <dt>Username</dt>
          <dd>{member.username}</dd>
          <dt>Display name</dt>
          <dd>{member.displayName || <span className="muted">none</span>}</dd>
          <dt>E-mail</dt>
          <dd>{member.email ?? <span className="muted">none</span>}</dd>
          <dt>Role</dt>
          <dd>{member.role === 'ADMIN' ? 'Admin' : 'Member'}</dd>
          <dt>Joined</dt>
          <dd>
            <Time iso={member.createdAt} />
          </dd>
          <dt>Last login</dt>
          <dd>{member.lastLoginAt ? <Time iso={member.lastLoginAt} /> : <span className="muted">never</span>}</dd>
          <dt>Unused recovery codes</dt>
          <dd>{detail.unusedRecoveryCodes}</dd>
        </dl>
      </section>

      <section className="card" aria-labelledby="member-keys">
        <h2 id="member-keys">Security keys</h2>
        {keys.length === 0 ? (
          <p data-testid="member-no-keys">{name} has no security keys.</p>
        ) : (
          <KeysTable caption={`Security keys of ${name}`}>
              {keys.map((key) => (
                <tr key={key.id} data-testid={`member-key-${key.id}`}>
                  <td data-label="Name">
                    <strong>{key.name}</strong>
                  </td>
                  <KeyDetailCells securityKey={key} />
                  <td data-label="Actions" className="actions">
                    <button
                      type="button"
                      className="button-small button-danger"
                      onClick={() => setDeleting(key)}
                      aria-label={`Delete ${key.name}`}
                    >
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
          </KeysTable>
        )}
      </section>

      <section className="card" aria-labelledby="member-sessions">
        <h2 id="member-sessions">Sessions</h2>
        <p data-testid="member-live-sessions">
          {name} has {plural(detail.liveSessions, 'live session', 'live sessions')}.
        </p>
        <button type="button" className="button-danger" onClick={() => setRevoking(true)}>
          Revoke all sessions
        </button>
      </section>

      {deleting && (
        <DeleteMemberKeyDialog
          keyToDelete={deleting}
          ownerName={name}
          isLast={keys.length === 1}
          onClose={() => setDeleting(null)}
          onDeleted={(keyName, revoked) => {
            setDeleting(null)
            setStatus(`Deleted “${keyName}”; ${plural(revoked, 'session', 'sessions')} ended.`)
            reload()
          }}
        />
      )}
      {revoking && (
        <RevokeSessionsDialog
          memberId={member.id}
          name={name}
          onClose={() => setRevoking(false)}
          onRevoked={(count) => {
            setRevoking(false)
            setStatus(`${plural(count, 'session', 'sessions')} of ${name} ended.`)
            reload()
          }}
        />
      )}
    </main>
  )
}

function DeleteMemberKeyDialog({
  keyToDelete,
  ownerName,
  isLast,
  onClose,
  onDeleted,
}: {
  keyToDelete: SecurityKeyFieldsFragment
  ownerName: string
  isLast: boolean
  onClose: () => void
  onDeleted: (name: string, revokedSessions: number) => void
}) {
  const client = useClient()
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<UiError | null>(null)

  async function confirm() {
    setBusy(true)
    setError(null)
    const result = await client.mutation(MemberSecurityKeyDeleteDocument, { id: keyToDelete.id }).toPromise()
    setBusy(false)
    if (result.error || !result.data) {
      if (result.error) setError(describeError(result.error))
      return
    }
    onDeleted(keyToDelete.name, result.data.memberSecurityKeyDelete.revokedSessions)
  }

  return (
    <Dialog title={`Delete “${keyToDelete.name}”?`} onClose={onClose}>
      <p>
        {ownerName} will no longer be able to log in with this security key, and all their sessions end now. This cannot be
        undone.
      </p>
      {isLast && (
        <p className="alert alert-warning">This is their last key: they will have to register a new one at their next login.</p>
      )}
      {error && <ErrorAlert error={error} />}
      <ConfirmActions
        confirmLabel="Delete key"
        busyLabel="Deleting…"
        busy={busy}
        tone="danger"
        onConfirm={confirm}
        onCancel={onClose}
      />
    </Dialog>
  )
}

function RevokeSessionsDialog({
  memberId,
  name,
  onClose,
  onRevoked,
}: {
  memberId: string
  name: string
  onClose: () => void
  onRevoked: (count: number) => void
}) {
  const client = useClient()
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<UiError | null>(null)

  async function confirm() {
    setBusy(true)
    setError(null)
    const result = await client.mutation(MemberSessionsRevokeDocument, { memberId }).toPromise()
    setBusy(false)
    if (result.error || !result.data) {
      if (result.error) setError(describeError(result.error))
      return
    }
    onRevoked(result.data.memberSessionsRevoke)
  }

  return (
    <Dialog title={`Revoke all sessions of ${name}?`} onClose={onClose}>
      <p>Every session of {name} ends now, on every device. They will have to log in again.</p>
      {error && <ErrorAlert error={error} />}
      <ConfirmActions
        confirmLabel="Revoke sessions"
        busyLabel="Revoking…"
        busy={busy}
        tone="danger"
        onConfirm={confirm}
        onCancel={onClose}
      />
    </Dialog>
  )
}
