import { useState } from 'react'
import { useClient, useQuery } from 'urql'
import { ApprovalPolicyDocument, ApprovalPolicySetDocument, type ApprovalPolicyFieldsFragment } from '../gql/graphql'
import { LoadState } from '../components/Loading'
import { OrgPage } from '../components/OrgPage'
import { ApprovalPolicyTester, sampleApprovalInput } from '../components/org/ApprovalEvaluation'
import { PolicyEditor, PolicyFacts } from '../components/org/PolicyEditor'

/** Organization settings → Approval policy: the Rego policy deciding what a pipeline's request needs. */
export function OrgApprovalPolicyPage() {
  const client = useClient()
  const [{ data, fetching, error }, reexecute] = useQuery({ query: ApprovalPolicyDocument, requestPolicy: 'cache-and-network' })
  const [current, setCurrent] = useState<ApprovalPolicyFieldsFragment | null>(null)
  const [initialInput] = useState(sampleApprovalInput)
  const policy = current ?? data?.approvalPolicy

  return (
    <OrgPage title="Approval policy" busy={fetching && !policy}>
      <section className="card" aria-labelledby="approval-policy-title">
        <h2 id="approval-policy-title">What a pipeline&apos;s request needs</h2>
        <p>
          When a pipeline asks to go on (deploy to production, change environment variables, rotate secrets), this
          policy decides: approve at once (e.g. staging), reject, or wait for people, and then how many, from which
          groups, and for how long. Keyward itself makes sure approvers are distinct people with distinct keys, and
          never the requester or the commit author when the policy excludes them.
        </p>
        <p className="muted">
          The built-in policy asks for one approval by someone other than the requester and the commit author, and lets
          a request wait one hour.
        </p>
        {!policy && (
          <LoadState
            loading={fetching}
            loadingText="Loading the approval policy…"
            error={error}
            onRetry={() => reexecute({ requestPolicy: 'network-only' })}
          />
        )}
        {policy && (
          <>
            <PolicyFacts policy={policy} testId="approval-policy" />
            <PolicyEditor
              policy={policy}
              hint="Package keyward.approval; the rule decision gives outcome (“APPROVED”, “PENDING” or “REJECTED”), requirements (count, groups_all, groups_any, exclude_requester, exclude_commit_author, distinct_keys, device_bound_only, max_mfa_age_seconds, expires_in_seconds) and reason."
              save={(rego) =>
                client
                  .mutation(ApprovalPolicySetDocument, { rego })
                  .toPromise()
                  .then((answer) => ({ ...answer, data: answer.data?.approvalPolicySet }))
              }
              savedMessage={(saved) => `Saved: the approval policy is now version ${saved.version}. It applies to new requests.`}
              onSaved={setCurrent}
              tester={(slot) => <ApprovalPolicyTester {...slot} initialInput={initialInput} />}
            />
          </>
        )}
      </section>
    </OrgPage>
  )
}
