import { Link } from '../router'
import { formatDateTime, formatRelative } from '../format'

/** Shown on every page while MFA enforcement's grace period runs for a member without a key. */
export function GraceBanner({ endsAt, linkToKeys }: { endsAt: string; linkToKeys: boolean }) {
  const text = `Register a security key before ${formatDateTime(endsAt)} (${formatRelative(endsAt)}).`
  return (
    <div className="banner" role="status" data-testid="grace-banner">
      {linkToKeys ? (
        <Link to="/settings/mfa">{text}</Link>
      ) : (
        <span>{text}</span>
      )}
    </div>
  )
}
