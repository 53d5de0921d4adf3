import { createContext, useContext, type ReactNode } from 'react'
import { useQuery } from 'urql'
import { AuditVerifyDocument, type OrganizationOverviewQuery } from '../../gql/graphql'
import { formatCount } from '../../rollout'
import { Link } from '../../router'
import { LoadState } from '../Loading'
import { Time } from '../Time'
import { MemberSummary } from './MemberSummary'

type Overview = NonNullable<OrganizationOverviewQuery['organization']>

/** The tiles' heading level: h2 on the Overview page, h3 under Home's own heading. */
const TileHeading = createContext<'h2' | 'h3'>('h2')

/** One tile of the overview: a heading that links to its page, and what it says now. */
function Tile({ id, title, to, linkLabel, children }: { id: string; title: string; to: string; linkLabel: string; children: ReactNode }) {
  const Heading = useContext(TileHeading)
  return (
    <section className="card overview-tile" aria-labelledby={id} data-testid={id}>
      <Heading id={id}>{title}</Heading>
      {children}
      <p>
        <Link to={to}>{linkLabel}</Link>
      </p>
    </section>
  )
}

/** The organization at a glance: the rollout, enforcement, SSO and the audit chain, each linking to its page
 * (the Overview tab, and an admin's Home). */
export function OrgAtAGlance({ org, headingLevel = 2 }: { org: Overview; headingLevel?: 2 | 3 }) {
  return (
    <TileHeading.Provider value={headingLevel === 3 ? 'h3' : 'h2'}>
      <div className="overview-grid">
        <Tile id="overview-members" title="Members" to="/org/members" linkLabel="Members and the list of who has no key">
          <MemberSummary stats={org.memberStats} />
        </Tile>
        <Tile id="overview-enforcement" title="MFA enforcement" to="/org/mfa" linkLabel="Enforcement settings">
          {org.mfaEnforced ? (
            <p>
              <span className="badge badge-success">Enforced</span> Every member must log in with a security key.
            </p>
          ) : (
            <p>
              <span className="badge badge-warning">Not enforced</span> Members may log in without a security key
              {org.memberStats.withoutKey > 0 ? ` (${formatCount(org.memberStats.withoutKey)} have none)` : ''}.
            </p>
          )}
          {org.mfaEnforced && org.gracePeriodEndsAt && (
            <p data-testid="overview-grace">
              Grace period until <Time iso={org.gracePeriodEndsAt} />.
            </p>
          )}
        </Tile>
        <Tile id="overview-sso" title="Single sign-on" to="/org/sso" linkLabel="Single sign-on settings">
          {org.sso ? (
            <p>
              <span className="badge badge-success">Configured</span> with {org.sso.issuer}
              {org.sso.allowedEmailDomains.length === 0 && (
                <span className="overview-warning"> Any e-mail domain may sign in.</span>
              )}
            </p>
          ) : (
            <p>
              <span className="badge badge-warning">Not configured</span> Members cannot log in by SSO yet.
            </p>
          )}
        </Tile>
        <Tile id="overview-audit" title="Audit log" to="/org/audit" linkLabel="Audit log">
          <ChainVerdict />
        </Tile>
      </div>
    </TileHeading.Provider>
  )
}

/** The audit chain: verified (with how many events), or where it broke. */
function ChainVerdict() {
  const [{ data, fetching, error }, reexecute] = useQuery({ query: AuditVerifyDocument, requestPolicy: 'network-only' })
  const verdict = data?.auditVerify
  if (!verdict) {
    return (
      <LoadState loading={fetching} loadingText="Verifying the chain…" error={error} onRetry={() => reexecute({ requestPolicy: 'network-only' })} />
    )
  }
  if (verdict.ok) {
    return (
      <p data-testid="overview-chain">
        <span className="badge badge-success">Verified</span> {formatCount(verdict.checked)}{' '}
        {verdict.checked === 1 ? 'event' : 'events'}, unbroken.
      </p>
    )
  }
  return (
    <p data-testid="overview-chain">
      <span className="badge badge-error">Broken</span> at event {verdict.firstBrokenSeq ?? verdict.checked}
      {verdict.problem ? `: ${verdict.problem}` : ''}.
    </p>
  )
}
