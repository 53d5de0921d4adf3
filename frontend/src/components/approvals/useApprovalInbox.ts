import { useCallback, useEffect, useRef, useState } from 'react'
import type { CombinedError } from '@urql/core'
import { useClient } from 'urql'
import { belongsTo, mergeUpdate, statusArgument, type ApprovalFilter } from '../../approvalList'
import { ApprovalRequestsDocument, type ApprovalRequestFieldsFragment } from '../../gql/graphql'
import { useApprovalUpdates, type UpdateMode } from '../../live'

/** How many requests the inbox reads (the API's default and its page). */
export const INBOX_SIZE = 50

/** The inbox's requests for a tab, kept current live (or by polling). */
export interface Inbox {
  /** Newest first; null until the first read answered. */
  rows: ApprovalRequestFieldsFragment[] | null
  /** The last read's failure (the rows so far stay shown). */
  error: CombinedError | null
  loading: boolean
  mode: UpdateMode
  reload: () => void
  /** Puts a request as it now is into the list (e.g. after the viewer's own decision). */
  apply: (request: ApprovalRequestFieldsFragment) => void
}

export function useApprovalInbox(filter: ApprovalFilter): Inbox {
  const client = useClient()
  const [rows, setRows] = useState<ApprovalRequestFieldsFragment[] | null>(null)
  const [error, setError] = useState<CombinedError | null>(null)
  const [loading, setLoading] = useState(false)
  // Bumped for each read, so a late answer (an older tab, or a slower read) never replaces a newer one.
  const latest = useRef(0)

  const load = useCallback(async () => {
    const mine = ++latest.current
    setLoading(true)
    const result = await client
      .query(ApprovalRequestsDocument, { status: statusArgument(filter), first: INBOX_SIZE }, { requestPolicy: 'network-only' })
      .toPromise()
    if (mine !== latest.current) return
    setLoading(false)
    if (result.data) {
      setRows(result.data.approvalRequests.filter((request) => belongsTo(filter, request.status)))
      setError(null)
    } else if (result.error) {
      setError(result.error)
    }
  }, [client, filter])

  useEffect(() => {
    setRows(null)
    setError(null)
    void load()
  }, [load])

  const apply = useCallback(
    (request: ApprovalRequestFieldsFragment) => setRows((current) => (current ? mergeUpdate(current, request, filter) : current)),
    [filter],
  )
  const mode = useApprovalUpdates(null, apply, load)
  return { rows, error, loading, mode, reload: load, apply }
}
