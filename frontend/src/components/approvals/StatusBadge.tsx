import { STATUS_LABELS, statusTone } from '../../approvalWords'

/** A request's status as a coloured badge. */
export function StatusBadge({ status }: { status: string }) {
  return (
    <span className={`badge ${statusTone(status)}`} data-testid="approval-status">
      {STATUS_LABELS[status] ?? status}
    </span>
  )
}
