// How a request was decided: the outcome in a sentence, and the log of everything that decided it.
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

type Entry = ApprovalRequestDetailFieldsFragment['decisionLog'][number]

/** The kinds of entries, in words (the API's `kind`: POLICY, APPROVAL, REJECTION, STATE, TOKEN). */
const KINDS: Record<string, string> = {
  POLICY: 'Policy',
  APPROVAL: 'Approval',
  REJECTION: 'Rejection',
  STATE: 'Status',
  TOKEN: 'Token',
}

/** Everything that decided the request, in order: the policy's rules, each vote, state changes, the token. */
export function DecisionLog({ entries }: { entries: readonly Entry[] }) {
  if (entries.length === 0) return <p className="muted">Nothing recorded yet.</p>
  return (
    <ol className="decision-log" data-testid="decision-log">
      {entries.map((entry, i) => (
        <li key={`${entry.at}-${i}`} data-kind={entry.kind}>
          <span className="log-time">
            <Time iso={entry.at} />
          </span>
          <span className={`badge log-kind log-kind-${entry.kind.toLowerCase()}`}>{KINDS[entry.kind] ?? entry.kind}</span>
          <span className="log-message">{entry.message}</span>
        </li>
      ))}
    </ol>
  )
}
