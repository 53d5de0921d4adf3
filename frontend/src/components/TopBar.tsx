import { useState } from 'react'
import type { ViewerFieldsFragment } from '../gql/graphql'
import { Link } from '../router'
import { ApprovalsNavLink } from './approvals/ApprovalsNavLink'

/** How a main navigation link is marked on `path`: the page itself, or the section the page belongs to. */
function currentMark(to: string, path: string): 'page' | 'true' | undefined {
  if (path === to) return 'page'
  if (to === '/org' && path.startsWith('/org/')) return 'true'
  if (to === '/approvals' && path.startsWith('/approvals/')) return 'true'
  return undefined
}

interface TopBarProps {
  viewer: ViewerFieldsFragment
  path: string
  onLogout: () => Promise<void>
}

/** The bar on every page once logged in: the main navigation (Approvals with its pending count), who, Log out. */
export function TopBar({ viewer, path, onLogout }: TopBarProps) {
  const [busy, setBusy] = useState(false)
  const links = [
    { to: '/', label: 'Home' },
    { to: '/approvals', label: 'Approvals' },
    { to: '/settings/mfa', label: 'Security keys' },
    ...(viewer.role === 'ADMIN' ? [{ to: '/org', label: 'Organization' }] : []),
  ]
  return (
    <header className="topbar">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <Link to="/" className="brand">
        Keyward
      </Link>
      <nav aria-label="Main">
        <ul>
          {links.map((link) => (
            <li key={link.to}>
              {link.to === '/approvals' ? (
                <ApprovalsNavLink current={currentMark(link.to, path)} />
              ) : (
                <Link to={link.to} aria-current={currentMark(link.to, path)}>
                  {link.label}
                </Link>
              )}
            </li>
          ))}
        </ul>
      </nav>
      <div className="topbar-user">
        <span className="muted">
          {viewer.member.displayName || viewer.member.username} · {viewer.organization.name}
        </span>
        <button
          type="button"
          className="button-small"
          disabled={busy}
          onClick={async () => {
            setBusy(true)
            await onLogout()
          }}
        >
          Log out
        </button>
      </div>
    </header>
  )
}
