import { useEffect, useState } from 'react'
import { useClient, useQuery } from 'urql'
import { hasCode } from '../errors'
import { plural } from '../format'
import {
  MemberDetailDocument,
  MemberSecurityKeyDeleteDocument,
  MemberSessionsRevokeDocument,
  type SecurityKeyFieldsFragment,
} from '../gql/graphql'
import { rememberName } from '../names'
import { Link } from '../router'
import { DeleteKeyDialog, KeyDetailCells, KeysTable } from '../components/KeysTable'
import { ActionDialog } from '../components/Dialog'
import { LoadState } from '../components/Loading'
import { Deactivated, MemberAccessCard } from '../components/org/MemberAccessCard'
import { MemberSessionsTable } from '../components/org/MemberSessions'
import { OrgPage } from '../components/OrgPage'
import { Time } from '../components/Time'
import { useSession } from '../session'

/** Organization settings → one member: their keys and sessions (admins only). */
export function OrgMemberPage({ memberId }: { memberId: string }) {
  const client = useClient()
  const { viewer } = useSession()
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
  // The step-up dialog names the member ("Deactivate ‘Alice Member’") for the actions on this page.
  const shownMember = detail?.member
  useEffect(() => {
    if (shownMember) rememberName(`member:${shownMember.id}`, shownMember.displayName || shownMember.username)
  }, [shownMember])

  const back = (
    <p className="breadcrumb">
      <Link to="/org/members">← All members</Link>
    </p>
  )

  if (notFound) {
    return (
      <OrgPage title="Member not found" breadcrumb={back}>
        <p data-testid="member-not-found">
          There is no member with this ID in your organization. They may have been removed, or the link is wrong.
        </p>
        <Link to="/org/members">Back to the member list</Link>
      </OrgPage>
    )
  }

  if (!detail) {
    return (
      <OrgPage title="Member" breadcrumb={back} busy={fetching}>
        <LoadState loading={fetching} loadingText="Loading the member…" error={error} onRetry={reload} />
      </OrgPage>
    )
  }

  const { member, keys } = detail
  const name = member.displayName || member.username

  return (
    <OrgPage title={name} breadcrumb={back} status={status} statusTestId="member-status">

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
          <dt>Status</dt>
          <dd data-testid="member-state">
            {member.deactivatedAt ? <Deactivated iso={member.deactivatedAt} /> : 'Active'}
          </dd>
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
        <h2 id="member-sessions">Active sessions</h2>
        <p data-testid="member-live-sessions">
          {name} has {plural(detail.liveSessions, 'active session', 'active sessions')}.
        </p>
        {detail.sessions.length > 0 && <MemberSessionsTable sessions={detail.sessions} name={name} />}
        <button type="button" className="button-danger" onClick={() => setRevoking(true)}>
          Revoke all sessions
        </button>
      </section>

      <section className="card" aria-labelledby="member-audit">
        <h2 id="member-audit">Activity</h2>
        <ul className="plain-list">
          <li>
            <Link to={auditLink('actor', member.id)} data-testid="member-audit-actor">
              What {name} did
            </Link>{' '}
            <span className="muted">(audit events by them)</span>
          </li>
          <li>
            <Link to={auditLink('target', member.id)} data-testid="member-audit-target">
              What happened to {name}
            </Link>{' '}
            <span className="muted">(audit events about them)</span>
          </li>
        </ul>
      </section>

      <MemberAccessCard
        member={member}
        name={name}
        self={member.id === viewer?.member.id}
        onChanged={(message) => {
          setStatus(message)
          reload()
        }}
      />

      {deleting && (
        <DeleteKeyDialog
          keyName={deleting.name}
          action={() => client.mutation(MemberSecurityKeyDeleteDocument, { id: deleting.id }).toPromise()}
          onClose={() => setDeleting(null)}
          onDeleted={(data) => {
            setDeleting(null)
            setStatus(`Deleted “${deleting.name}”; ${plural(data.memberSecurityKeyDelete.revokedSessions, 'session', 'sessions')} ended.`)
            reload()
          }}
        >
          <p>
            {name} will no longer be able to log in with this security key, and all their sessions end now. This cannot be
            undone.
          </p>
          {keys.length === 1 && (
            <p className="alert alert-warning">This is their last key: they will have to register a new one at their next login.</p>
          )}
        </DeleteKeyDialog>
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
    </OrgPage>
  )
}

/** The audit log filtered to events by (actor) or about (target) a member. */
function auditLink(filter: 'actor' | 'target', memberId: string): string {
  return `/org/audit?${new URLSearchParams({ [filter]: `member:${memberId}` }).toString()}`
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
  return (
    <ActionDialog
      title={`Revoke all sessions of ${name}?`}
      confirmLabel="Revoke sessions"
      busyLabel="Revoking…"
      tone="danger"
      action={() => client.mutation(MemberSessionsRevokeDocument, { memberId }).toPromise()}
      onDone={(data) => onRevoked(data.memberSessionsRevoke)}
      onClose={onClose}
    >
      <p>Every session of {name} ends now, on every device. They will have to log in again.</p>
    </ActionDialog>
  )
}
