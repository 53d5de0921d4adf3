import { listWords } from '../../approvalWords'
import type { ApprovalRequestDetailFieldsFragment } from '../../gql/graphql'
import { Time } from '../Time'

/** How a decided request ended, in a sentence at the top of its page; nothing while it is pending. */
export function Outcome({ request }: { request: ApprovalRequestDetailFieldsFragment }) {
  const at = request.decidedAt ?? request.expiresAt
  if (request.status === 'APPROVED') {
    const approvers = request.approvals.filter((vote) => vote.decision === 'APPROVE').map((vote) => vote.username)
    return (
      <div className="alert alert-info" data-testid="approval-outcome" data-status="APPROVED">
        <p>
          <strong>Approved</strong> <Time iso={at} />
          {approvers.length > 0 ? ` by ${listWords(approvers)}.` : ' by the approval policy, without people.'}
          {request.tokenJti && (
            <>
              {' '}
              The pipeline&apos;s token has ID <code>{request.tokenJti}</code>.
            </>
          )}
        </p>
      </div>
    )
  }
  if (request.status === 'REJECTED') {
    const by = request.approvals.find((vote) => vote.decision === 'REJECT')?.username
    return (
      <div className="alert alert-error" data-testid="approval-outcome" data-status="REJECTED">
        <p>
          <strong>Rejected</strong> <Time iso={at} />
          {by ? ` by ${by}` : ' by the approval policy'}
          {request.reason ? `: ${request.reason}` : '.'}
        </p>
      </div>
    )
  }
  if (request.status === 'EXPIRED') {
    return (
      <div className="alert alert-warning" data-testid="approval-outcome" data-status="EXPIRED">
        <p>
          <strong>Expired</strong> <Time iso={at} /> before enough people approved. The pipeline must ask again.
        </p>
      </div>
    )
  }
  return null
}
