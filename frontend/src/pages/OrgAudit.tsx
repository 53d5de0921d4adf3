import { useCallback, useMemo, useState } from 'react'
import { useClient, useQuery } from 'urql'
import { AuditEventsDocument, AuditVerifyDocument, type AuditEventFilter, type AuditEventsQuery } from '../gql/graphql'
import { plural } from '../format'
import { usePaged } from '../operations'
import { browserTimeZone } from '../rollout'
import { navigate } from '../router'
import { useSession } from '../session'
import { LoadState, PagedList } from '../components/Loading'
import { OrgPage } from '../components/OrgPage'
import { AuditExport } from '../components/audit/AuditExport'
import { AuditFilters } from '../components/audit/AuditFilters'
import { AuditTable } from '../components/audit/AuditTable'

const PAGE_SIZE = 50

const selectEvents = (data: AuditEventsQuery) => data.auditEvents

const URL_FILTERS = ['action', 'actor', 'target'] as const

/** The filter in the page's address (`?actor=member:<id>`, as a member's page links it); null for none. */
function filterFromAddress(search: string): AuditEventFilter | null {
  const params = new URLSearchParams(search)
  const filter: AuditEventFilter = {}
  for (const key of URL_FILTERS) {
    const value = params.get(key)?.trim()
    if (value) filter[key] = value
  }
  return Object.keys(filter).length ? filter : null
}

/** The address for `filter`, so a filtered list can be bookmarked and shared (times stay out: they are local). */
function addressFor(filter: AuditEventFilter | null): string {
  const params = new URLSearchParams()
  for (const key of URL_FILTERS) {
    const value = filter?.[key]
    if (value) params.set(key, value)
  }
  const query = params.toString()
  return query ? `/org/audit?${query}` : '/org/audit'
}

/** Organization settings → Audit log: the tamper-evident trail, its verification and its export. */
export function OrgAuditPage() {
  const client = useClient()
  const { viewer } = useSession()
  const initial = useMemo(() => filterFromAddress(window.location.search), [])
  const [filter, setFilter] = useState<AuditEventFilter | null>(initial)
  const apply = useCallback((next: AuditEventFilter | null) => {
    setFilter(next)
    navigate(addressFor(next), { replace: true })
  }, [])
  const fetchPage = useCallback(
    (after: string | null) =>
      client.query(AuditEventsDocument, { filter, first: PAGE_SIZE, after }, { requestPolicy: 'network-only' }).toPromise(),
    [client, filter],
  )
  const events = usePaged(fetchPage, selectEvents)

  return (
    <OrgPage title="Audit log" busy={events.loading} wide>
      <section className="card" aria-labelledby="chain-title">
        <h2 id="chain-title">Integrity</h2>
        <ChainStatus />
        <AuditExport filter={filter} organization={viewer?.organization ?? { id: '', slug: 'organization' }} />
      </section>
      <section className="card" aria-labelledby="events-title" aria-busy={events.loading}>
        <h2 id="events-title">Events</h2>
        <AuditFilters initial={initial} onApply={apply} disabled={events.loading && events.rows === null} />
        <PagedList
          paged={events}
          loadingText="Loading events…"
          empty={<p data-testid="no-audit-events">{filter ? 'No events match these filters.' : 'Nothing has been recorded yet.'}</p>}
        >
          {(rows) => (
            <>
              <p className="muted">
                Newest first. {plural(rows.length, 'event', 'events')} shown{filter ? ' (filtered)' : ''}.
              </p>
              <p className="muted" data-testid="audit-zone">
                Times are in your time zone, {browserTimeZone()}.
              </p>
              <AuditTable events={rows} caption={filter ? 'Audit events matching the filters' : 'Audit events'} />
            </>
          )}
        </PagedList>
      </section>
    </OrgPage>
  )
}

/** Recomputes the hash chain on the server and says whether it holds. */
function ChainStatus() {
  const [{ data, fetching, error }, reexecute] = useQuery({ query: AuditVerifyDocument, requestPolicy: 'network-only' })
  const verdict = data?.auditVerify
  const verify = () => reexecute({ requestPolicy: 'network-only' })

  if (error && !verdict) return <LoadState loading={fetching} loadingText="" error={error} onRetry={verify} />
  return (
    <div className="chain">
      <p
        role="status"
        className={`alert ${verdict && !verdict.ok ? 'alert-error' : 'alert-info'}`}
        data-testid="chain-status"
      >
        {!verdict
          ? 'Verifying the chain…'
          : verdict.ok
            ? `Chain verified: ${plural(verdict.checked, 'event', 'events')}`
            : `Chain broken at event ${verdict.firstBrokenSeq ?? verdict.checked}`}
      </p>
      {verdict && !verdict.ok && (
        <p>
          {verdict.problem ? `${verdict.problem}. ` : ''}An event from there on was changed, removed or inserted outside
          Keyward. Export the log and compare it with your backups and the database&apos;s own logs.
        </p>
      )}
      {verdict?.ok && (
        <p className="muted" data-testid="chain-head">
          Verified head: <code>{`${verdict.verifiedHead.seq}:${verdict.verifiedHead.hash}`}</code>. Keep it outside the
          database (<code>keyward audit verify --expect-head</code> checks against it).
        </p>
      )}
      {verdict && (
        <p className="muted">
          Each event holds a hash of the one before it, so a change anywhere breaks every link after it.{' '}
          <button type="button" className="button-link" onClick={verify} disabled={fetching}>
            {fetching ? 'Verifying…' : 'Verify again'}
          </button>
        </p>
      )}
    </div>
  )
}
