import { useCallback, useEffect, useState } from 'react'
import { useClient } from 'urql'
import { BACKGROUND } from '../../client'
import { PendingApprovalCountDocument } from '../../gql/graphql'
import { useApprovalUpdates } from '../../live'
import { Link } from '../../router'

/** The most the badge counts (the query's page); more shows as "100+". */
const COUNT_LIMIT = 100
/** How often the badge reads again while live updates are down (the pages themselves read every 5 s). */
const BADGE_POLL_MS = 30_000

/**
 * The IDs of pending requests, kept current live (or by polling). Read in the background: a failure (e.g. the
 * session ended) is left for the user's next action to show, not sprung on them mid-page.
 */
function usePendingIds(): ReadonlySet<string> | null {
  const client = useClient()
  const [ids, setIds] = useState<ReadonlySet<string> | null>(null)

  const load = useCallback(async () => {
    const result = await client.query(PendingApprovalCountDocument, {}, { requestPolicy: 'network-only', ...BACKGROUND }).toPromise()
    if (result.data) setIds(new Set(result.data.approvalRequests.map((request) => request.id)))
  }, [client])
  useEffect(() => void load(), [load])

  const apply = useCallback((request: { id: string; status: string }) => {
    setIds((current) => {
      if (!current) return current
      const pending = request.status === 'PENDING'
      if (pending === current.has(request.id)) return current
      const next = new Set(current)
      if (pending) next.add(request.id)
      else next.delete(request.id)
      return next
    })
  }, [])
  useApprovalUpdates(null, apply, load, BADGE_POLL_MS)
  return ids
}

/** "Approvals" in the main navigation, with the number of pending requests. */
export function ApprovalsNavLink({ current }: { current: 'page' | 'true' | undefined }) {
  const ids = usePendingIds()
  const count = ids?.size ?? 0
  const shown = count >= COUNT_LIMIT ? `${COUNT_LIMIT}+` : String(count)
  return (
    <Link to="/approvals" aria-current={current} data-testid="nav-approvals">
      Approvals
      {count > 0 && (
        <>
          {' '}
          <span className="badge badge-warning nav-badge" data-testid="pending-count" aria-hidden="true">
            {shown}
          </span>
          <span className="visually-hidden">, {shown} pending</span>
        </>
      )}
    </Link>
  )
}
