import { useQuery } from 'urql'
import { OrganizationOverviewDocument, SecurityKeysDocument } from '../gql/graphql'
import { Link } from '../router'
import { useSession } from '../session'
import { OrgAtAGlance } from '../components/org/OrgAtAGlance'

/** An admin's Home: the organization at a glance (the same tiles as Organization → Overview). */
function AdminGlance() {
  const [{ data }] = useQuery({ query: OrganizationOverviewDocument, requestPolicy: 'cache-and-network' })
  if (!data?.organization) return null
  return (
    <section aria-labelledby="home-org" data-testid="home-org-glance">
      <h2 id="home-org">{data.organization.name} at a glance</h2>
      <OrgAtAGlance org={data.organization} headingLevel={3} />
    </section>
  )
}

/** Who you are and where to go; a reminder while a member with a key has no recovery codes; for admins,
 * the organization at a glance. */
export function HomePage() {
  const { viewer } = useSession()
  const [{ data }] = useQuery({ query: SecurityKeysDocument, requestPolicy: 'cache-and-network' })
  if (!viewer) return null
  const name = viewer.member.displayName || viewer.member.username
  const hasKey = (data?.securityKeys.length ?? 0) > 0
  return (
    <main id="main" className="page" aria-labelledby="home-title">
      <h1 id="home-title">Welcome, {name}</h1>
      {hasKey && viewer.recoveryCodes.total === 0 && (
        <section className="card card-highlight" aria-labelledby="home-codes" data-testid="recovery-codes-reminder">
          <h2 id="home-codes">Save your recovery codes</h2>
          <p>
            You have no recovery codes yet. If you lose your security key, a recovery code lets you log in once and
            register a new key, without waiting for an admin.
          </p>
          <Link to="/recovery-codes" className="button button-primary">
            Set up recovery codes
          </Link>
        </section>
      )}
      {viewer.role === 'ADMIN' && <AdminGlance />}
      <dl className="facts">
        <dt>Username</dt>
        <dd>{viewer.member.username}</dd>
        <dt>Organization</dt>
        <dd>
          {viewer.organization.name} <span className="muted">({viewer.organization.slug})</span>
        </dd>
        <dt>Role</dt>
        <dd>{viewer.role === 'ADMIN' ? 'Admin' : 'Member'}</dd>
      </dl>
      <section className="card" aria-labelledby="home-mfa">
        <h2 id="home-mfa">Security keys</h2>
        <p>Add, rename or remove your security keys, and manage your recovery codes.</p>
        <Link to="/settings/mfa" className="button button-primary">
          Manage security keys
        </Link>
      </section>
    </main>
  )
}
