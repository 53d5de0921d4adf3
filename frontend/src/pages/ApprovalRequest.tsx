import { useCallback, useEffect, useState } from 'react'
import type { CombinedError } from '@urql/core'
import { useClient } from 'urql'
import { clearAfterLogin } from '../afterLogin'
import { decidedMessage } from '../approvalWords'
import { ApprovalRequestDocument, type ApprovalRequestDetailFieldsFragment } from '../gql/graphql'
import { useApprovalUpdates } from '../live'
import { Link } from '../router'
import { LoadState } from '../components/Loading'
import { ApprovalActions } from '../components/approvals/ApprovalActions'
import { ChangeSummary } from '../components/approvals/ChangeSummary'
import { DecisionLog, Outcome } from '../components/approvals/Decision'
import { LiveStatus, Requirements, StatusBadge } from '../components/approvals/RequestParts'
import { RequestFacts } from '../components/approvals/RequestFacts'
import { VotesTable } from '../components/approvals/VotesTable'

type Detail = ApprovalRequestDetailFieldsFragment

const breadcrumb = (
  <p className="breadcrumb">
    <Link to="/approvals">← Approvals</Link>
  </p>
)

/** One request: everything about it, the buttons while it is pending, the votes and the decision log. */
export function ApprovalRequestPage({ id }: { id: string }) {
  const client = useClient()
  // undefined: not read yet; null: there is no such request (or it is not the viewer's to see).
  const [request, setRequest] = useState<Detail | null | undefined>(undefined)
  const [error, setError] = useState<CombinedError | null>(null)
  const [loading, setLoading] = useState(false)
  const [status, setStatus] = useState('')
  useEffect(() => clearAfterLogin(), [])

  const load = useCallback(async () => {
    setLoading(true)
    const result = await client.query(ApprovalRequestDocument, { id }, { requestPolicy: 'network-only' }).toPromise()
    setLoading(false)
    if (result.data) {
      setRequest(result.data.approvalRequest ?? null)
      setError(null)
    } else if (result.error) {
      setError(result.error)
    }
  }, [client, id])
  useEffect(() => void load(), [load])
  const mode = useApprovalUpdates(id, setRequest, load)

  const onDecided = useCallback((updated: Detail) => {
    setRequest(updated)
    setStatus(decidedMessage(updated))
  }, [])

  if (request === undefined || (request === null && error)) {
    return (
      <main id="main" className="page" aria-busy={loading || undefined}>
        {breadcrumb}
        <h1>Approval request</h1>
        <LoadState loading={loading || !error} loadingText="Loading the request…" error={error} onRetry={() => void load()} />
      </main>
    )
  }
  if (request === null) {
    return (
      <main id="main" className="page">
        {breadcrumb}
        <h1>Approval request not found</h1>
        <p data-testid="approval-not-found">There is no such request, or it belongs to another organization.</p>
      </main>
    )
  }

  return (
    <main id="main" className="page" aria-labelledby="request-title">
      {breadcrumb}
      <header className="approval-head">
        <h1 id="request-title">
          {request.pipeline}: {request.stage} → {request.environment}
        </h1>
        <StatusBadge status={request.status} />
      </header>
      <p aria-live="polite" className="status alert alert-info" data-testid="approval-page-status">
        {status}
      </p>
      <LiveStatus mode={mode} />
      <Outcome request={request} />
      {request.status === 'PENDING' && (
        <section className="card" aria-labelledby="decide-title">
          <h2 id="decide-title">Your decision</h2>
          <ApprovalActions request={request} describedBy="request-title" onDecided={onDecided} />
        </section>
      )}
      <section className="card" aria-labelledby="needs-title">
        <h2 id="needs-title">What it needs</h2>
        <Requirements requirements={request.requirements} />
      </section>
      <section className="card" aria-labelledby="changes-title">
        <h2 id="changes-title">What changes</h2>
        <ChangeSummary summary={request.changeSummary} />
      </section>
      <section className="card" aria-labelledby="facts-title">
        <h2 id="facts-title">Request</h2>
        <RequestFacts request={request} />
      </section>
      <section className="card" aria-labelledby="votes-title">
        <h2 id="votes-title">Approvals and rejections</h2>
        <VotesTable votes={request.approvals} />
      </section>
      <section className="card" aria-labelledby="log-title">
        <h2 id="log-title">Decision log</h2>
        <DecisionLog entries={request.decisionLog} />
      </section>
    </main>
  )
}
