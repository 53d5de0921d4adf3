import { POLL_INTERVAL_MS, type UpdateMode } from '../../live'

/** Says how the page stays current: live, or by reading again every few seconds. */
export function LiveStatus({ mode }: { mode: UpdateMode }) {
  return (
    <p className="muted live-status" data-testid="live-status" data-mode={mode}>
      <span className={mode === 'live' ? 'live-dot live-dot-on' : 'live-dot'} aria-hidden="true" />
      {mode === 'live' ? 'Live: changes appear as they happen.' : `Updating every ${POLL_INTERVAL_MS / 1000} seconds.`}
    </p>
  )
}
