import { shortKeyId } from '../../format'
import type { ApprovalRequestFieldsFragment } from '../../gql/graphql'
import { CopyButton } from '../CopyButton'
import { Time } from '../Time'

type Vote = ApprovalRequestFieldsFragment['approvals'][number]

/** Who decided, with which key, when, and why (for a rejection). */
export function VotesTable({ votes }: { votes: readonly Vote[] }) {
  if (votes.length === 0) return <p className="muted" data-testid="no-votes">Nobody has decided yet.</p>
  return (
    <table className="keys votes" data-testid="votes">
      <caption className="visually-hidden">Approvals and rejections</caption>
      <thead>
        <tr>
          <th scope="col">Who</th>
          <th scope="col">Decision</th>
          <th scope="col">Security key</th>
          <th scope="col">When</th>
          <th scope="col">Reason</th>
        </tr>
      </thead>
      <tbody>
        {votes.map((vote) => (
          <tr key={`${vote.memberId}-${vote.at}`} data-testid={`vote-${vote.username}`}>
            <td data-label="Who">{vote.username}</td>
            <td data-label="Decision">
              <span className={vote.decision === 'APPROVE' ? 'badge badge-success' : 'badge badge-error'}>
                {vote.decision === 'APPROVE' ? 'Approved' : 'Rejected'}
              </span>
            </td>
            <td data-label="Security key">
              {vote.keyName ?? <span className="muted">a key since deleted</span>}{' '}
              <code title={vote.credentialId}>{shortKeyId(vote.credentialId)}</code>{' '}
              <CopyButton text={vote.credentialId} label="Copy" ariaLabel={`Copy the credential ID ${vote.username} used`} />
            </td>
            <td data-label="When">
              <Time iso={vote.at} />
            </td>
            <td data-label="Reason">{vote.reason ?? <span className="muted">—</span>}</td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}
