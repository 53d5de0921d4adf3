import { useId, type ReactNode } from 'react'
import { Link } from '../router'

/** The organization settings sections, in the order of the sub-navigation. */
export const ORG_SECTIONS = [
  { to: '/org', label: 'Overview' },
  { to: '/org/members', label: 'Members' },
  { to: '/org/mfa', label: 'MFA' },
  { to: '/org/sso', label: 'Single sign-on' },
  { to: '/org/policy', label: 'WebAuthn policy' },
  { to: '/org/step-up', label: 'Step-up policy' },
  { to: '/org/approval-policy', label: 'Approval policy' },
  { to: '/org/api-keys', label: 'API keys' },
  { to: '/org/webhook', label: 'Webhook' },
  { to: '/org/audit', label: 'Audit log' },
] as const

/** How a section's link is marked on `path`: the page itself, or the section a member page belongs to. */
function currentMark(to: string, path: string): 'page' | 'true' | undefined {
  if (path === to) return 'page'
  // A member's page is reached from the member list.
  if (to === '/org/members' && path.startsWith('/org/members/')) return 'true'
  return undefined
}

/** The sub-navigation shown on every organization settings page (admins only). */
export function OrgNav({ path }: { path: string }) {
  return (
    <nav aria-label="Organization" className="subnav">
      <ul>
        {ORG_SECTIONS.map((section) => (
          <li key={section.to}>
            <Link to={section.to} aria-current={currentMark(section.to, path)}>
              {section.label}
            </Link>
          </li>
        ))}
      </ul>
    </nav>
  )
}

interface OrgPageProps {
  title: string
  /** A sentence about the last change, announced politely; empty for none. */
  status?: string
  statusTestId?: string
  /** Shown above the heading (e.g. a link back). */
  breadcrumb?: ReactNode
  busy?: boolean
  /** Use the whole width of large screens (for wide tables). */
  wide?: boolean
  children?: ReactNode
}

/** The frame of an organization settings page: its heading, the polite status line, then the sections. */
export function OrgPage({ title, status = '', statusTestId = 'org-status', breadcrumb, busy, wide, children }: OrgPageProps) {
  const titleId = useId()
  return (
    <main id="main" className={wide ? 'page page-wide' : 'page'} aria-labelledby={titleId} aria-busy={busy || undefined}>
      {breadcrumb}
      <h1 id={titleId}>{title}</h1>
      <p aria-live="polite" className="status alert alert-info" data-testid={statusTestId}>
        {status}
      </p>
      {children}
    </main>
  )
}
