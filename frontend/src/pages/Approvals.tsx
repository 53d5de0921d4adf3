import { useCallback, useEffect, useState } from 'react'
import { clearAfterLogin } from '../afterLogin'
import { filterFromSearch, type ApprovalFilter } from '../approvalList'
import { decidedMessage } from '../approvalWords'
import { describeError } from '../errors'
import type { ApprovalRequestDetailFieldsFragment } from '../gql/graphql'
import { Link, useSearch } from '../router'
import { ErrorAlert } from '../components/ErrorAlert'
import { LoadState } from '../components/Loading'
import { ApprovalCard } from '../components/approvals/ApprovalCard'
import { LiveStatus } from '../components/approvals/RequestParts'
import { INBOX_SIZE, useApprovalInbox } from '../components/approvals/useApprovalInbox'

const TABS: { filter: ApprovalFilter; label: string; to: string }[] = [
  { filter: 'pending', label: 'Pending', to: '/approvals' },
  { filter: 'decided', label: 'Decided', to: '/approvals?status=decided' },
  { filter: 'all', label: 'All', to: '/approvals?status=all' },
]

const EMPTY: Record<ApprovalFilter, string> = {
  pending: 'Nothing is waiting for approval.',
  decided: 'No request has been decided yet.',
  all: 'No pipeline has asked for approval yet.',
}

/** Approvals: what pipelines wait for, newest first, with Approve and Reject; decided ones on their tab. */
export function ApprovalsPage() {
  const filter = filterFromSearch(useSearch())
  const inbox = useApprovalInbox(filter)
  const [status, setStatus] = useState('')
  useEffect(() => clearAfterLogin(), [])
  const { apply } = inbox
  const onDecided = useCallback(
    (request: ApprovalRequestDetailFieldsFragment) => {
      apply(request)
      setStatus(decidedMessage(request))
    },
    [apply],
  )

  return (
    <main id="main" className="page" aria-labelledby="approvals-title" aria-busy={inbox.rows === null || undefined}>
      <h1 id="approvals-title">Approvals</h1>
      <p aria-live="polite" className="status alert alert-info" data-testid="approvals-status">
        {status}
      </p>
      <nav aria-label="Approval requests" className="subnav tabs">
        <ul>
          {TABS.map((tab) => (
            <li key={tab.filter}>
              <Link to={tab.to} aria-current={tab.filter === filter ? 'page' : undefined}>
                {tab.label}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      <LiveStatus mode={inbox.mode} />
      {inbox.rows === null ? (
        <LoadState loading={inbox.loading} loadingText="Loading approval requests…" error={inbox.error} onRetry={inbox.reload} />
      ) : (
        <>
          {inbox.error && <ErrorAlert error={{ ...describeError(inbox.error), message: `Could not refresh the list. ${describeError(inbox.error).message}` }} />}
          {inbox.rows.length === 0 ? (
            <p className="card" data-testid="no-approvals">
              {EMPTY[filter]}
            </p>
          ) : (
            <div className="approval-list" data-testid="approval-list">
              {inbox.rows.map((request) => (
                <ApprovalCard key={request.id} request={request} onDecided={onDecided} />
              ))}
            </div>
          )}
          {inbox.rows.length >= INBOX_SIZE && <p className="muted">Showing the newest {INBOX_SIZE}.</p>}
        </>
      )}
    </main>
  )
}
