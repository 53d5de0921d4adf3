import { describeRequirements } from '../../approvalWords'
import type { ApprovalRequirementsFieldsFragment } from '../../gql/graphql'

/** What a request needs, in words; or that the policy decided it without people. */
export function Requirements({ requirements }: { requirements: ApprovalRequirementsFieldsFragment | null | undefined }) {
  if (!requirements) {
    return (
      <p className="muted" data-testid="requirements">
        The approval policy decided this request on its own: no approvals were needed.
      </p>
    )
  }
  return (
    <ul className="requirements" data-testid="requirements">
      {describeRequirements(requirements).map((line) => (
        <li key={line}>{line}</li>
      ))}
    </ul>
  )
}
