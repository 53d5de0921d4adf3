import type { ApprovalRequestDetailFieldsFragment } from '../../gql/graphql'
import { Time } from '../Time'

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
