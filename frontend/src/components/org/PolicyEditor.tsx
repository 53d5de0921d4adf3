import { useState, type FormEvent, type ReactNode } from 'react'
import { useAction, type Answer } from '../../operations'
import { ErrorAlert } from '../ErrorAlert'
import { Time } from '../Time'
import { RegoEditor, regoErrorFrom, type LineError } from './RegoEditor'
import type { TesterSlotProps } from './PolicyTester'

/** What the organization's Rego policies (step-up, approval) have in common. */
export interface PolicyFields {
  version: number
  rego: string
  builtIn: boolean
  updatedAt?: string | null
  updatedBy?: string | null
}

/** Where the policy came from: the built-in one, or who saved it when. `testId` prefixes the test IDs. */
export function PolicyFacts({ policy, testId }: { policy: PolicyFields; testId: string }) {
  return (
    <dl className="facts wrap-facts" data-testid={`${testId}-facts`}>
      <dt>Version</dt>
      <dd data-testid={`${testId}-version`}>{policy.version}</dd>
      <dt>Source</dt>
      <dd data-testid={`${testId}-source`}>
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

interface PolicyEditorProps<P extends PolicyFields> {
  /** The policy the editor starts from (what the admin types is kept when it is saved elsewhere). */
  policy: P
  /** Under the editor: the package, the rule and what it returns. */
  hint: string
  /** Saves the text; the answer's `data` is the saved policy. */
  save: (rego: string) => Promise<Answer<P>>
  /** Said next to the button once saved. */
  savedMessage: (saved: P) => string
  onSaved: (saved: P) => void
  /** The tester below the editor (a dry run of the text in the editor). */
  tester: (slot: TesterSlotProps) => ReactNode
}

/**
 * A Rego policy's editor, its Save, and its tester: a compile error from Save or from the tester is marked at
 * its line (BAD_USER_INPUT with `extensions.line`). Shared by the step-up and the approval policy pages.
 */
export function PolicyEditor<P extends PolicyFields>({ policy, hint, save, savedMessage, onSaved, tester }: PolicyEditorProps<P>) {
  const [rego, setRego] = useState(policy.rego)
  const [lineError, setLineError] = useState<LineError | null>(null)
  const [saved, setSaved] = useState('')
  const action = useAction()
  const general = action.failure && !regoErrorFrom(action.failure) ? action.error : null

  async function submit(event: FormEvent) {
    event.preventDefault()
    setSaved('')
    setLineError(null)
    const data = await action.run(() => save(rego))
    if (!data) return
    setRego(data.rego)
    setSaved(savedMessage(data))
    onSaved(data)
  }

  // A compile error from Save, or the tester's, whichever came last.
  const shownError = regoErrorFrom(action.failure) ?? lineError

  return (
    <>
      <form onSubmit={submit} noValidate aria-busy={action.busy}>
        <RegoEditor
          label="Policy (Rego)"
          hint={hint}
          value={rego}
          onChange={(text) => {
            setRego(text)
            setSaved('')
          }}
          error={shownError}
          disabled={action.busy}
        />
        {general && <ErrorAlert error={general} />}
        <button type="submit" className="button-primary" disabled={action.busy}>
          {action.busy ? 'Saving…' : 'Save policy'}
        </button>
        <p aria-live="polite" className="status alert alert-info form-status" data-testid="form-status">
          {saved}
        </p>
      </form>
      {tester({
        rego,
        onRegoResult: (error) => {
          action.reset()
          setLineError(error)
        },
      })}
    </>
  )
}
