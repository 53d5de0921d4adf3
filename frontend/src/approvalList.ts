// The inbox's list kept current from live updates: pure, so it is unit-tested (approvalList.test.ts).

/** The inbox's tabs. */
export type ApprovalFilter = 'pending' | 'decided' | 'all'

/** The `status` argument of `approvalRequests` for a tab (decided ones are read as all, then filtered). */
export function statusArgument(filter: ApprovalFilter): 'PENDING' | null {
  return filter === 'pending' ? 'PENDING' : null
}

/** Whether a request with `status` belongs on the tab. */
export function belongsTo(filter: ApprovalFilter, status: string): boolean {
  if (filter === 'pending') return status === 'PENDING'
  if (filter === 'decided') return status !== 'PENDING'
  return true
}

/** The tab named by the address's `?status=`; pending when missing or unknown. */
export function filterFromSearch(search: string): ApprovalFilter {
  const value = new URLSearchParams(search).get('status')
  return value === 'decided' || value === 'all' ? value : 'pending'
}

interface Row {
  id: string
  status: string
  createdAt: string
}

/**
 * `rows` (newest first) after `update`: replaced in place while it still belongs on the tab, dropped once it
 * does not (e.g. decided, on the pending tab), added at its place by creation time when it is new.
 */
export function mergeUpdate<T extends Row>(rows: readonly T[], update: T, filter: ApprovalFilter): T[] {
  const index = rows.findIndex((row) => row.id === update.id)
  const belongs = belongsTo(filter, update.status)
  if (index >= 0) {
    if (!belongs) return rows.filter((row) => row.id !== update.id)
    return rows.map((row, i) => (i === index ? update : row))
  }
  if (!belongs) return [...rows]
  const created = Date.parse(update.createdAt)
  const at = rows.findIndex((row) => Date.parse(row.createdAt) < created)
  return at < 0 ? [...rows, update] : [...rows.slice(0, at), update, ...rows.slice(at)]
}
