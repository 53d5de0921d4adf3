import { useCallback, useState } from 'react'
import { useQuery } from 'urql'
import { OrganizationMfaDocument } from '../gql/graphql'
import { plural } from '../format'
import { useSession } from '../session'
import { LoadState } from '../components/Loading'
import { OrgPage } from '../components/OrgPage'
import { Time } from '../components/Time'
import { DisableDialog, EnableDialog } from '../components/org/EnforcementDialogs'
import { MembersCard } from '../components/org/MembersCard'

/** Organization settings → MFA: enforcement and the members (admins only). */
export function OrgMfaPage() {
  const [status, setStatus] = useState('')
  // Bumped when enforcement changes, so the member list shows the sessions that ended.
  const [membersVersion, setMembersVersion] = useState(0)
  return (
    <OrgPage title="Multi-factor authentication" status={status}>
      <EnforcementCard
        onStatus={(text) => {
          setStatus(text)
          setMembersVersion((v) => v + 1)
        }}
      />
      <MembersCard version={membersVersion} />
    </OrgPage>
  )
}

function EnforcementCard({ onStatus }: { onStatus: (text: string) => void }) {
  const { refresh: refreshViewer } = useSession()
  const [{ data, fetching, error }, reexecute] = useQuery({ query: OrganizationMfaDocument, requestPolicy: 'cache-and-network' })
  const [dialog, setDialog] = useState<'enable' | 'disable' | null>(null)
  const reload = useCallback(() => reexecute({ requestPolicy: 'network-only' }), [reexecute])
  const org = data?.organization

  function done(text: string) {
    setDialog(null)
    onStatus(text)
    reload()
    refreshViewer()
  }

  return (
    <section className="card" aria-labelledby="enforce-title">
      <h2 id="enforce-title">Enforcement</h2>
      {!org && <LoadState loading={fetching} loadingText="Loading the enforcement setting…" error={error} onRetry={reload} />}
      {org && (
        <>
          <p data-testid="enforcement-state">
            {org.mfaEnforced ? (
              <>
                <strong>MFA is enforced.</strong> Every member must log in with a security key.
              </>
            ) : (
              <>
                <strong>MFA is not enforced.</strong> Members may log in without a security key.
              </>
            )}
          </p>
          {org.mfaEnforced && org.gracePeriodEndsAt && (
            <p data-testid="grace-deadline">
              Grace period: members without a key may keep working until{' '}
              <Time iso={org.gracePeriodEndsAt} />.
            </p>
          )}
          {org.mfaEnforced && !org.gracePeriodEndsAt && <p className="muted">No grace period: keys are required now.</p>}
          <button
            type="button"
            className={org.mfaEnforced ? 'button-danger' : 'button-primary'}
            onClick={() => setDialog(org.mfaEnforced ? 'disable' : 'enable')}
          >
            {org.mfaEnforced ? 'Stop enforcing MFA…' : 'Enforce MFA…'}
          </button>
        </>
      )}
      {dialog === 'enable' && (
        <EnableDialog
          onClose={() => setDialog(null)}
          onDone={(revoked, withoutKey) =>
            done(
              `MFA is now enforced: ${plural(revoked, 'session', 'sessions')} ended, ${plural(withoutKey, 'member', 'members')} without a key.`,
            )
          }
        />
      )}
      {dialog === 'disable' && <DisableDialog onClose={() => setDialog(null)} onDone={() => done('MFA is no longer enforced.')} />}
    </section>
  )
}
