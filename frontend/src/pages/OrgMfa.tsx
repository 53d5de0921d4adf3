import { useCallback, useState } from 'react'
import { useQuery } from 'urql'
import { OrganizationMfaDocument } from '../gql/graphql'
import { plural } from '../format'
import { useSession } from '../session'
import { LoadState } from '../components/Loading'
import { OrgPage } from '../components/OrgPage'
import { Time } from '../components/Time'
import { Link } from '../router'
import { browserTimeZone } from '../rollout'
import { DisableDialog, EnableDialog, GraceUpdateDialog } from '../components/org/EnforcementDialogs'

/** Organization settings → MFA: enforcement and the members (admins only). */
export function OrgMfaPage() {
  const [status, setStatus] = useState('')
  return (
    <OrgPage title="Multi-factor authentication" status={status}>
      <EnforcementCard onStatus={setStatus} />
      <p>
        Who has a key, who has none and who has only one: see <Link to="/org/members">Members</Link>.
      </p>
    </OrgPage>
  )
}

function EnforcementCard({ onStatus }: { onStatus: (text: string) => void }) {
  const { refresh: refreshViewer } = useSession()
  const [{ data, fetching, error }, reexecute] = useQuery({ query: OrganizationMfaDocument, requestPolicy: 'cache-and-network' })
  const [dialog, setDialog] = useState<'enable' | 'disable' | 'grace' | null>(null)
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
              Grace period: members without a key may keep working until <Time iso={org.gracePeriodEndsAt} />{' '}
              <span className="muted">({browserTimeZone(new Date(org.gracePeriodEndsAt))})</span>.
            </p>
          )}
          {org.mfaEnforced && !org.gracePeriodEndsAt && <p className="muted">No grace period: keys are required now.</p>}
          <div className="row">
            {org.mfaEnforced && (
              <button type="button" onClick={() => setDialog('grace')}>
                Change the grace period…
              </button>
            )}
            <button
              type="button"
              className={org.mfaEnforced ? 'button-danger' : 'button-primary'}
              onClick={() => setDialog(org.mfaEnforced ? 'disable' : 'enable')}
            >
              {org.mfaEnforced ? 'Stop enforcing MFA…' : 'Enforce MFA…'}
            </button>
          </div>
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
      {dialog === 'grace' && org && (
        <GraceUpdateDialog
          current={org.gracePeriodEndsAt ?? null}
          onClose={() => setDialog(null)}
          onDone={(at) =>
            done(at ? 'Grace period changed; no session ended.' : 'Grace period ended: members without a key must register one at their next login.')
          }
        />
      )}
      {dialog === 'disable' && <DisableDialog onClose={() => setDialog(null)} onDone={() => done('MFA is no longer enforced.')} />}
    </section>
  )
}
