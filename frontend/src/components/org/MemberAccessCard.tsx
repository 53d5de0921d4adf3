import { useState } from 'react'
import { useClient } from 'urql'
import { MemberDeactivateDocument, MemberReactivateDocument, type OrgMemberFieldsFragment } from '../../gql/graphql'
import { formatDate, formatDateTime } from '../../format'
import { useAction } from '../../operations'
import { ActionDialog } from '../Dialog'
import { ErrorAlert } from '../ErrorAlert'
import { Time } from '../Time'

interface MemberAccessCardProps {
  member: OrgMemberFieldsFragment
  name: string
  /** The member is the admin looking at the page (the server refuses deactivating yourself). */
  self: boolean
  /** The member was deactivated or reactivated; `status` says so. */
  onChanged: (status: string) => void
}

/** Offboarding: deactivate a member (their sessions end, no login works) or let them back in. */
export function MemberAccessCard({ member, name, self, onChanged }: MemberAccessCardProps) {
  const client = useClient()
  const [confirming, setConfirming] = useState(false)
  const reactivation = useAction()

  async function reactivate() {
    const data = await reactivation.run(() => client.mutation(MemberReactivateDocument, { id: member.id }).toPromise())
    if (data) onChanged(`Reactivated ${name}: they can log in again.`)
  }

  return (
    <section className="card" aria-labelledby="member-access">
      <h2 id="member-access">Access</h2>
      {member.deactivatedAt ? (
        <>
          <p data-testid="member-deactivated">
            {name} was deactivated on <Time iso={member.deactivatedAt} />. They cannot log in until they are reactivated.
          </p>
          {reactivation.error && <ErrorAlert error={reactivation.error} />}
          <button type="button" className="button-primary" onClick={reactivate} disabled={reactivation.busy}>
            {reactivation.busy ? 'Reactivating…' : 'Reactivate member'}
          </button>
        </>
      ) : self ? (
        <p data-testid="member-self">This is you. You cannot deactivate yourself; another admin can.</p>
      ) : (
        <>
          <p>
            When {name} leaves, deactivate them: their sessions end at once and they can no longer log in. Their keys and
            history are kept, and you can reactivate them.
          </p>
          <button type="button" className="button-danger" onClick={() => setConfirming(true)}>
            Deactivate member
          </button>
        </>
      )}
      {confirming && (
        <ActionDialog
          title={`Deactivate ${name}?`}
          confirmLabel="Deactivate"
          busyLabel="Deactivating…"
          tone="danger"
          action={() => client.mutation(MemberDeactivateDocument, { id: member.id }).toPromise()}
          onDone={() => {
            setConfirming(false)
            onChanged(`Deactivated ${name}: their sessions ended and they can no longer log in.`)
          }}
          onClose={() => setConfirming(false)}
          final={(error) => error.code === 'LAST_ACTIVE_ADMIN'}
        >
          <p>
            All sessions of {name} end at once, on every device, and they can no longer log in: not by single sign-on,
            backup credentials or a recovery code. Their security keys stay registered until you delete them.
          </p>
        </ActionDialog>
      )}
    </section>
  )
}

/** "Deactivated" and since when: the time on the member page, the day in the narrow `compact` form (the member list). */
export function Deactivated({ iso, compact }: { iso: string; compact?: boolean }) {
  return (
    <>
      <span className="badge badge-error">Deactivated</span>{' '}
      {compact ? (
        <time className="muted" dateTime={iso} title={formatDateTime(iso)}>
          {formatDate(iso)}
        </time>
      ) : (
        <Time iso={iso} />
      )}
    </>
  )
}
