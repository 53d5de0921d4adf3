import { useState, type FormEvent } from 'react'
import { useClient, useQuery } from 'urql'
import { StepUpPolicyDocument, StepUpPolicySetDocument, type StepUpPolicyFieldsFragment } from '../gql/graphql'
import { useAction } from '../operations'
import { useSession } from '../session'
import { ErrorAlert } from '../components/ErrorAlert'
import { LoadState } from '../components/Loading'
import { OrgPage } from '../components/OrgPage'
import { Time } from '../components/Time'
import { PolicyTester, sampleInput } from '../components/org/PolicyTester'
import { RegoEditor, regoErrorFrom, type LineError } from '../components/org/RegoEditor'

/** Where the policy came from: the built-in one, or who saved it when. */
function PolicyFacts({ policy }: { policy: StepUpPolicyFieldsFragment }) {
  return (
    <dl className="facts wrap-facts" data-testid="step-up-policy-facts">
      <dt>Version</dt>
      <dd data-testid="step-up-policy-version">{policy.version}</dd>
      <dt>Source</dt>
      <dd data-testid="step-up-policy-source">
        {policy.builtIn ? (
          'The built-in policy (nobody has saved one yet)'
        ) : (
          <>
            Saved
            {policy.updatedAt && (
              <>
                {' '}
                <Time iso={policy.updatedAt} />
              </>
            )}
            {policy.updatedBy && <> by {policy.updatedBy}</>}
          </>
        )}
      </dd>
    </dl>
  )
}

/** The editor, its Save, and the tester, starting from `policy`'s text. */
function PolicyEditor({ policy, onSaved }: { policy: StepUpPolicyFieldsFragment; onSaved: (saved: StepUpPolicyFieldsFragment) => void }) {
  const client = useClient()
  const { viewer } = useSession()
  const [rego, setRego] = useState(policy.rego)
  const [lineError, setLineError] = useState<LineError | null>(null)
  const [saved, setSaved] = useState('')
  const [initialInput] = useState(() => sampleInput(viewer))
  const save = useAction()
  const general = save.failure && !regoErrorFrom(save.failure) ? save.error : null

  async function submit(event: FormEvent) {
    event.preventDefault()
    setSaved('')
    setLineError(null)
    const data = await save.run(() => client.mutation(StepUpPolicySetDocument, { rego }).toPromise())
    if (!data) return
    setRego(data.stepUpPolicySet.rego)
    setSaved(`Saved: the step-up policy is now version ${data.stepUpPolicySet.version}. It applies from the next action.`)
    onSaved(data.stepUpPolicySet)
  }

  // A compile error from Save, or the tester's, whichever came last.
  const shownError = regoErrorFrom(save.failure) ?? lineError

  return (
    <>
      <form onSubmit={submit} noValidate aria-busy={save.busy}>
        <RegoEditor
          label="Policy (Rego)"
          hint="Package keyward.step_up; the rule decision gives require_mfa, max_age_seconds, reuse (“action” or “class”), deny and reason. Missing fields take their defaults."
          value={rego}
          onChange={(text) => {
            setRego(text)
            setSaved('')
          }}
          error={shownError}
          disabled={save.busy}
        />
        {general && <ErrorAlert error={general} />}
        <button type="submit" className="button-primary" disabled={save.busy}>
          {save.busy ? 'Saving…' : 'Save policy'}
        </button>
        <p aria-live="polite" className="status alert alert-info form-status" data-testid="form-status">
          {saved}
        </p>
      </form>
      <PolicyTester
        rego={rego}
        initialInput={initialInput}
        onRegoResult={(error) => {
          save.reset()
          setLineError(error)
        }}
      />
    </>
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
            <PolicyFacts policy={policy} />
            {/* The editor keeps what the admin typed: it starts from the policy that was loaded first. */}
            <PolicyEditor policy={policy} onSaved={setCurrent} />
          </>
        )}
      </section>
    </OrgPage>
  )
}
