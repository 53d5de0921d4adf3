import { Link } from '../router'
import { useSession } from '../session'

/** Who you are and where to go. */
export function HomePage() {
  const { viewer } = useSession()
  if (!viewer) return null
  const name = viewer.member.displayName || viewer.member.username
  return (
    <main id="main" className="page" aria-labelledby="home-title">
      <h1 id="home-title">Welcome, {name}</h1>
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
        <h2 id="home-mfa">Multi-factor authentication</h2>
        <p>Manage your security keys and recovery codes.</p>
        <Link to="/settings/mfa" className="button button-primary">
          Security key settings
        </Link>
      </section>
    </main>
  )
}
