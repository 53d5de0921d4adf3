import { useEffect, useRef, useState } from 'react'
import { useClient } from 'urql'
import type { UiError } from '../../errors'
import { membersCsv, readMembersWithoutKey } from '../../membersCsv'
import { formatCount } from '../../rollout'
import { downloadText } from '../CopyButton'
import { ErrorAlert } from '../ErrorAlert'

type State =
  | { kind: 'idle' }
  | { kind: 'reading'; read: number }
  | { kind: 'done'; count: number; filename: string }
  | { kind: 'failed'; error: UiError; read: number }

/** Downloads the active members without a security key as CSV, to chase them by e-mail. */
export function MembersExport({ slug }: { slug: string }) {
  const client = useClient()
  const [state, setState] = useState<State>({ kind: 'idle' })
  const running = useRef<AbortController | null>(null)
  // Leaving the page stops an export in progress.
  useEffect(() => () => running.current?.abort(), [])

  async function start() {
    const controller = new AbortController()
    running.current = controller
    setState({ kind: 'reading', read: 0 })
    const outcome = await readMembersWithoutKey(client, (read) => setState({ kind: 'reading', read }), controller.signal)
    running.current = null
    if (outcome.kind === 'cancelled') return setState({ kind: 'idle' })
    if (outcome.kind === 'failed') return setState(outcome)
    const filename = `keyward-members-without-key-${slug}.csv`
    downloadText(filename, membersCsv(outcome.members), 'text/csv')
    setState({ kind: 'done', count: outcome.members.length, filename })
  }

  const reading = state.kind === 'reading'
  const members = (n: number) => `${formatCount(n)} ${n === 1 ? 'member' : 'members'}`
  return (
    <div className="export">
      <p>
        A CSV file of the active members without a security key (username, display name, e-mail, created, last login),
        to remind them before enforcement.
      </p>
      <div className="row">
        <button type="button" onClick={() => void start()} disabled={reading}>
          Export members without a key (CSV)
        </button>
        {reading && (
          <button type="button" onClick={() => running.current?.abort()}>
            Cancel export
          </button>
        )}
      </div>
      <p aria-live="polite" className="export-progress" data-testid="members-export-progress">
        {state.kind === 'reading' && `Exporting… ${members(state.read)} read so far.`}
        {state.kind === 'done' && `Exported ${members(state.count)} to ${state.filename}.`}
      </p>
      {state.kind === 'failed' && (
        <ErrorAlert error={state.error}>
          <p>The export stopped after {members(state.read)}; nothing was downloaded.</p>
          <button type="button" onClick={() => void start()}>
            Retry
          </button>
        </ErrorAlert>
      )}
    </div>
  )
}
