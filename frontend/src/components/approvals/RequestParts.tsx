// Small pieces of a request shared by the inbox and the request page: status, countdown, digests, how the
// page stays current, and what the request needs.
import { STATUS_LABELS, describeRequirements, formatTimeLeft, shortDigest, statusTone, timeLeftTone } from '../../approvalWords'
import { useNow } from '../../clock'
import { formatDateTime } from '../../format'
import type { ApprovalRequirementsFieldsFragment } from '../../gql/graphql'
import { POLL_INTERVAL_MS, type UpdateMode } from '../../live'
import { CopyButton } from '../CopyButton'

/** A request's status as a coloured badge. */
export function StatusBadge({ status }: { status: string }) {
  return (
    <span className={`badge ${statusTone(status)}`} data-testid="approval-status">
      {STATUS_LABELS[status] ?? status}
    </span>
  )
}

/** Says how the page stays current: live, or by reading again every few seconds. */
export function LiveStatus({ mode }: { mode: UpdateMode }) {
  return (
    <p className="muted live-status" data-testid="live-status" data-mode={mode}>
      <span className={mode === 'live' ? 'live-dot live-dot-on' : 'live-dot'} aria-hidden="true" />
      {mode === 'live' ? 'Live: changes appear as they happen.' : `Updating every ${POLL_INTERVAL_MS / 1000} seconds.`}
    </p>
  )
}

/**
 * A live countdown to `expiresAt` ("12:05 left"), urgent under five minutes. Not announced each second: the
 * expiry's date and time are in its title and in the accessible text.
 */
export function TimeLeft({ expiresAt }: { expiresAt: string }) {
  const now = useNow()
  const tone = timeLeftTone(expiresAt, now)
  const text = formatTimeLeft(expiresAt, now)
  return (
    <time dateTime={expiresAt} title={`Expires ${formatDateTime(expiresAt)}`} className={`time-left time-left-${tone}`} data-testid="time-left">
      {tone === 'expired' ? 'Expired' : `${text} left`}
      <span className="visually-hidden"> (expires {formatDateTime(expiresAt)})</span>
    </time>
  )
}

/** A request digest, shortened (the full one in its title), with a button that copies all of it. */
export function Digest({ digest, label = 'digest' }: { digest: string; label?: string }) {
  return (
    <span className="digest">
      <code title={digest} data-testid="digest-short">
        {shortDigest(digest)}
      </code>{' '}
      <CopyButton text={digest} label="Copy" ariaLabel={`Copy the full ${label}`} />
    </span>
  )
}

/** A digest in full, wrapped to fit, with a copy button. */
export function FullDigest({ digest, label = 'digest' }: { digest: string; label?: string }) {
  return (
    <span className="digest digest-full">
      <code data-testid="digest-full">{digest}</code> <CopyButton text={digest} label="Copy" ariaLabel={`Copy the ${label}`} />
    </span>
  )
}

/** What a request needs, in words; or that the policy decided it without people. */
export function Requirements({ requirements }: { requirements: ApprovalRequirementsFieldsFragment | null | undefined }) {
  if (!requirements) {
    return (
      <p className="muted" data-testid="requirements">
        The approval policy decided this request on its own: no approvals were needed.
      </p>
    )
  }
  return (
    <ul className="requirements" data-testid="requirements">
      {describeRequirements(requirements).map((line) => (
        <li key={line}>{line}</li>
      ))}
    </ul>
  )
}
