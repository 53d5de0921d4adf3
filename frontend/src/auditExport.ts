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

/**
 * One JSON object a line, exactly as `keyward audit export --format jsonl` writes it (snake_case
 * keys in alphabetical order, with the organization's ID and slug), so one tool reads both.
 */
export function auditJsonLines(events: AuditEventFieldsFragment[], organization: { id: string; slug: string }): string {
  return events
    .map((e) =>
      JSON.stringify({
        action: e.action,
        actor: e.actor,
        actor_name: e.actorName ?? null,
        // GraphQL writes UTC as +00:00; the CLI (serde) writes Z. Same instant, same digits otherwise.
        at: e.at.replace(/\+00:00$/, 'Z'),
        details: e.details,
        hash: e.hash,
        hash_version: e.hashVersion,
        ip: e.ip ?? null,
        org_id: organization.id,
        organization: organization.slug,
        outcome: e.outcome,
        prev_hash: e.prevHash,
        request_id: e.requestId ?? null,
        seq: e.seq,
        target: e.target ?? null,
        target_name: e.targetName ?? null,
        user_agent: e.userAgent ?? null,
      }),
    )
    .map((line) => `${line}\n`)
    .join('')
}

/** Why a filtered export cannot be verified by itself, said in the UI and in the file. */
export const SUBSET_NOTE =
  'A filtered subset of the audit log: events in between are left out, so its hash chain cannot be checked on its own. Export without filters to verify the chain.'

/**
 * The first line of a filtered export: a metadata object (not an event: it has no `seq`) that says the
 * file is a subset and by which filter, so nobody mistakes it for the whole trail. Unfiltered exports have
 * none and stay byte for byte what `keyward audit export` writes.
 */
export function auditSubsetHeader(filter: AuditEventFilter, organization: { id: string; slug: string }, count: number): string {
  const set = Object.fromEntries(Object.entries(filter).filter(([, value]) => value !== null && value !== undefined && value !== ''))
  return `${JSON.stringify({
    keyward_audit_export: {
      subset: true,
      filter: set,
      events: count,
      note: SUBSET_NOTE,
      org_id: organization.id,
      organization: organization.slug,
    },
  })}\n`
}

/** The file name of an export: `-subset` marks a filtered one. */
export function auditExportFilename(slug: string, filtered: boolean): string {
  return `keyward-audit-${slug}${filtered ? '-subset' : ''}.jsonl`
}
