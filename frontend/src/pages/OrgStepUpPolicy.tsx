import { useState } from 'react'
import { useClient, useQuery } from 'urql'
import { StepUpPolicyDocument, StepUpPolicySetDocument, type StepUpPolicyFieldsFragment } from '../gql/graphql'
import { useSession } from '../session'
import { LoadState } from '../components/Loading'
import { OrgPage } from '../components/OrgPage'
import { PolicyEditor, PolicyFacts } from '../components/org/PolicyEditor'
import { StepUpPolicyTester, sampleInput } from '../components/org/StepUpEvaluation'

/** The editor, its Save, and the tester, starting from `policy`'s text. */
function StepUpPolicyEditor({ policy, onSaved }: { policy: StepUpPolicyFieldsFragment; onSaved: (saved: StepUpPolicyFieldsFragment) => void }) {
  const client = useClient()
  const { viewer } = useSession()
  const [initialInput] = useState(() => sampleInput(viewer))
  return (
    <PolicyEditor
      policy={policy}
      hint="Package keyward.step_up; the rule decision gives require_mfa, max_age_seconds, reuse (“action” or “class”), deny and reason. Missing fields take their defaults."
      save={(rego) =>
        client
          .mutation(StepUpPolicySetDocument, { rego })
          .toPromise()
          .then((answer) => ({ ...answer, data: answer.data?.stepUpPolicySet }))
      }
      savedMessage={(saved) => `Saved: the step-up policy is now version ${saved.version}. It applies from the next action.`}
      onSaved={onSaved}
      tester={(slot) => <StepUpPolicyTester {...slot} initialInput={initialInput} />}
    />
  )
}

/** Organization settings → Step-up policy: the Rego policy deciding when an action needs a fresh key touch. */
export function OrgStepUpPolicyPage() {
  const [{ data, fetching, error }, reexecute] = useQuery({ query: StepUpPolicyDocument, requestPolicy: 'cache-and-network' })
  const [current, setCurrent] = useState<StepUpPolicyFieldsFragment | null>(null)
  const policy = current ?? data?.stepUpPolicy

  return (
    <OrgPage title="Step-up policy" busy={fetching && !policy}>
      <section className="card" aria-labelledby="step-up-policy-title">
        <h2 id="step-up-policy-title">When an action needs a fresh key touch</h2>
        <p>
          Before a sensitive action (deleting a key, changing a setting, a tool behind Keyward), this policy decides
          whether the member must touch their security key again, how recent that touch must be, and whether one touch
          covers the action alone or its whole class. The built-in policy asks for a touch within 15 minutes for
          actions on your own account and within 5 minutes for everything else.
        </p>
        <p className="alert alert-warning" data-testid="step-up-policy-self-rule">
          Changing this policy always needs a security key touch within the last 5 minutes. That is a built-in rule:
          the policy cannot change it.
        </p>
        {!policy && (
          <LoadState
            loading={fetching}
            loadingText="Loading the step-up policy…"
            error={error}
            onRetry={() => reexecute({ requestPolicy: 'network-only' })}
          />
        )}
        {policy && (
          <>
            <PolicyFacts policy={policy} testId="step-up-policy" />
            {/* The editor keeps what the admin typed: it starts from the policy that was loaded first. */}
            <StepUpPolicyEditor policy={policy} onSaved={setCurrent} />
          </>
        )}
      </section>
    </OrgPage>
  )
}
