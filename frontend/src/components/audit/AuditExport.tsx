import { useEffect, useRef, useState } from 'react'
import { useClient } from 'urql'
import type { UiError } from '../../errors'
import type { AuditEventFilter } from '../../gql/graphql'
import { auditExportFilename, auditJsonLines, auditSubsetHeader, readAllAuditEvents, SUBSET_NOTE } from '../../auditExport'
import { downloadText } from '../CopyButton'
import { ErrorAlert } from '../ErrorAlert'

type State =
  | { kind: 'idle' }
  | { kind: 'reading'; read: number }
  | { kind: 'done'; count: number; filename: string }
  | { kind: 'failed'; error: UiError; read: number }

/** Downloads every event matching `filter` as JSON Lines, oldest first, as `keyward audit export` does. */
export function AuditExport({
  filter,
  organization,
}: {
  filter: AuditEventFilter | null
  organization: { id: string; slug: string }
}) {
  const client = useClient()
  const [state, setState] = useState<State>({ kind: 'idle' })
  const running = useRef<AbortController | null>(null)
  // Leaving the page stops an export in progress.
  useEffect(() => () => running.current?.abort(), [])

  async function start() {
    const controller = new AbortController()
    running.current = controller
    setState({ kind: 'reading', read: 0 })
    const outcome = await readAllAuditEvents(client, filter, (read) => setState({ kind: 'reading', read }), controller.signal)
    running.current = null
    if (outcome.kind === 'cancelled') {
      setState({ kind: 'idle' })
      return
    }
    if (outcome.kind === 'failed') {
      setState(outcome)
      return
    }
    const filename = auditExportFilename(organization.slug, !!filter)
    const lines = auditJsonLines(outcome.events, organization)
    const header = filter ? auditSubsetHeader(filter, organization, outcome.events.length) : ''
    downloadText(filename, header + lines, 'application/jsonl')
    setState({ kind: 'done', count: outcome.events.length, filename })
  }

  const reading = state.kind === 'reading'
  return (
    <div className="export">
      <h3>Export</h3>
      {filter ? (
        <>
          <p>Downloads the events that match the filters below as JSON Lines, oldest first.</p>
          <p className="alert alert-warning" data-testid="export-subset">
            {SUBSET_NOTE} The file says so in its first line.
          </p>
        </>
      ) : (
        <p>
          Downloads every event as JSON Lines, oldest first, with its hashes, so the chain can be checked outside Keyward.
        </p>
      )}
      <div className="row">
        <button type="button" onClick={() => void start()} disabled={reading}>
          {filter ? 'Export the filtered subset (JSON Lines)' : 'Export JSON Lines'}
        </button>
        {reading && (
          <button type="button" onClick={() => running.current?.abort()}>
            Cancel export
          </button>
        )}
      </div>
      <p aria-live="polite" className="export-progress" data-testid="export-progress">
        {state.kind === 'reading' && `Exporting… ${state.read} ${state.read === 1 ? 'event' : 'events'} read so far.`}
        {state.kind === 'done' && `Exported ${state.count} ${state.count === 1 ? 'event' : 'events'} to ${state.filename}.`}
      </p>
      {state.kind === 'failed' && (
        <ErrorAlert error={state.error}>
          <p>The export stopped after {state.read} events; nothing was downloaded.</p>
          <button type="button" onClick={() => void start()}>
            Retry
          </button>
        </ErrorAlert>
      )}
    </div>
  )
}
