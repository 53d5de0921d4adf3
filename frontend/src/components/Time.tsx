import { formatDateTime, formatRelative } from '../format'

/** A timestamp in local time with a relative hint ("3 days ago"). */
export function Time({ iso }: { iso: string }) {
  return (
    <time dateTime={iso} title={iso}>
      {formatDateTime(iso)} <span className="muted">({formatRelative(iso)})</span>
    </time>
  )
}
