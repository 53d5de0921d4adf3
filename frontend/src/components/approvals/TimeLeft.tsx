import { formatTimeLeft, timeLeftTone } from '../../approvalWords'
import { useNow } from '../../clock'
import { formatDateTime } from '../../format'

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
