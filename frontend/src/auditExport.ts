import type { Client, OperationResult } from '@urql/core'
import { describeError, unexpectedError, type UiError } from './errors'
import { AuditEventsDocument, type AuditEventFieldsFragment, type AuditEventFilter, type AuditEventsQuery } from './gql/graphql'

/** The most events the API returns at once. */
export const AUDIT_EXPORT_PAGE = 200

/** How reading every event ended. */
export type AuditReadOutcome =
  | { kind: 'done'; events: AuditEventFieldsFragment[] }
  | { kind: 'failed'; error: UiError; read: number }
  | { kind: 'cancelled' }

/**
 * Reads every event that matches `filter`, page by page, and returns them in chain order (oldest first).
 * `onProgress` hears how many have been read so far; aborting `signal` stops after the page in flight.
 */
export async function readAllAuditEvents(
  client: Client,
  filter: AuditEventFilter | null,
  onProgress: (read: number) => void,
  signal: AbortSignal,
): Promise<AuditReadOutcome> {
  const events: AuditEventFieldsFragment[] = []
  let after: string | null = null
  do {
    const result: OperationResult<AuditEventsQuery> = await client
      .query(AuditEventsDocument, { filter, first: AUDIT_EXPORT_PAGE, after }, { requestPolicy: 'network-only' })
      .toPromise()
    if (signal.aborted) return { kind: 'cancelled' }
    if (result.error || !result.data) {
      return { kind: 'failed', error: result.error ? describeError(result.error) : unexpectedError(), read: events.length }
    }
    const page = result.data.auditEvents
    events.push(...page.nodes)
    onProgress(events.length)
    after = page.pageInfo.hasNextPage ? (page.pageInfo.endCursor ?? null) : null
  } while (after)
  // The API pages newest first; a chain is read oldest first, as `keyward audit export` writes it.
  events.sort((a, b) => a.seq - b.seq)
  return { kind: 'done', events }
}

/** One JSON object a line with every field of the event, in a fixed order. */
export function auditJsonLines(events: AuditEventFieldsFragment[]): string {
  return events
    .map((e) =>
      JSON.stringify({
        seq: e.seq,
        at: e.at,
        actor: e.actor,
        action: e.action,
        target: e.target ?? null,
        outcome: e.outcome,
        ip: e.ip ?? null,
        details: e.details,
        prevHash: e.prevHash,
        hash: e.hash,
      }),
    )
    .map((line) => `${line}\n`)
    .join('')
}
