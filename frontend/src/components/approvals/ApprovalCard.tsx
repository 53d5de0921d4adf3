import { useId } from 'react'
import { approvalProgress, shortSha } from '../../approvalWords'
import type { ApprovalRequestDetailFieldsFragment, ApprovalRequestFieldsFragment } from '../../gql/graphql'
import { Link } from '../../router'
import { Time } from '../Time'
import { ApprovalActions } from './ApprovalActions'
import { ChangeSummary } from './ChangeSummary'
import { Digest, StatusBadge, TimeLeft } from './RequestParts'

/** A link to the CI run when the pipeline gave one, the run ID as text otherwise. */
export function RunLink({ runId, runUrl }: { runId: string; runUrl?: string | null }) {
  // Only web addresses become links: the URL comes from a pipeline, not from Keyward.
  if (runUrl && /^https?:\/\//i.test(runUrl)) {
    return (
      <a href={runUrl} target="_blank" rel="noopener noreferrer">
        <code>{runId}</code>
      </a>
    )
  }
  return <code>{runId}</code>
}

interface ApprovalCardProps {
  request: ApprovalRequestFieldsFragment
  onDecided: (request: ApprovalRequestDetailFieldsFragment) => void
}

/** One request in the inbox: what would run where, what changes, how long is left, and the buttons. */
export function ApprovalCard({ request, onDecided }: ApprovalCardProps) {
  const titleId = useId()
  const approvals = request.approvals.filter((vote) => vote.decision === 'APPROVE')
  const rejecter = request.approvals.find((vote) => vote.decision === 'REJECT')
  return (
    <article className="card approval-card" aria-labelledby={titleId} data-testid={`approval-${request.id}`}>
      <header className="approval-head">
        <h2 id={titleId}>
          {request.pipeline}: {request.stage} → {request.environment}
        </h2>
        <StatusBadge status={request.status} />
        {request.status === 'PENDING' && <TimeLeft expiresAt={request.expiresAt} />}
      </header>
      <dl className="facts wrap-facts approval-facts">
        <dt>Run</dt>
        <dd>
          <RunLink runId={request.runId} runUrl={request.runUrl} />
        </dd>
        <dt>Commit</dt>
        <dd>
          <code title={request.commitSha} data-testid="commit-short">
            {shortSha(request.commitSha)}
          </code>{' '}
          by {request.commitAuthor}
        </dd>
        <dt>Requested by</dt>
        <dd data-testid="requester">
          {request.requester} <span className="muted">·</span> <Time iso={request.createdAt} />
        </dd>
        <dt>Digest</dt>
        <dd>
          <Digest digest={request.digest} label={`digest of ${request.pipeline} run ${request.runId}`} />
        </dd>
        <dt>Approvals</dt>
        <dd data-testid="approval-progress">
          {request.status === 'PENDING' || approvals.length > 0 ? approvalProgress(approvals.length, request.status === 'PENDING' ? request.approvalsNeeded : 0) : 'none'}
          {approvals.length > 0 && <span className="muted"> ({approvals.map((vote) => vote.username).join(', ')})</span>}
          {rejecter && <span className="muted"> · rejected by {rejecter.username}</span>}
        </dd>
        {request.reason && (
          <>
            <dt>{request.status === 'PENDING' ? 'Policy says' : 'Reason'}</dt>
            <dd data-testid="approval-reason">{request.reason}</dd>
          </>
        )}
        {request.decidedAt && (
          <>
            <dt>Decided</dt>
            <dd>
              <Time iso={request.decidedAt} />
            </dd>
          </>
        )}
      </dl>
      <ChangeSummary summary={request.changeSummary} />
      <ApprovalActions request={request} describedBy={titleId} onDecided={onDecided} />
      <p>
        <Link to={`/approvals/${encodeURIComponent(request.id)}`}>Details and decision log</Link>
      </p>
    </article>
  )
}
