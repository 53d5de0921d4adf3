import { useState, type ReactNode } from 'react'
import { describeError, fieldError, unexpectedError, type UiError } from '../../errors'
import type { Answer } from '../../operations'
import { ErrorAlert } from '../ErrorAlert'
import { Field } from '../Form'
import { regoErrorFrom, type LineError } from './RegoEditor'

/** What the policy editor hands its tester: the text to test, and where a compile error goes. */
export interface TesterSlotProps {
  /** The policy text in the editor (tested as it is, saved or not). */
  rego: string
  /** The policy text does not compile (mark it in the editor), or null: it compiled. */
  onRegoResult: (error: LineError | null) => void
}

interface PolicyTesterProps<R> extends TesterSlotProps {
  initialInput: string
  /** What the input is (shown above it). */
  hint?: ReactNode
  /** Runs the policy text on the parsed input (a dry run on the server). */
  evaluate: (rego: string, input: object) => Promise<Answer<R>>
  /** Shows what the policy decided. */
  renderResult: (result: R) => ReactNode
}

/** "Test against input": runs the editor's policy on a JSON input and shows the decision. */
export function PolicyTester<R>({ rego, initialInput, onRegoResult, hint, evaluate, renderResult }: PolicyTesterProps<R>) {
  const [input, setInput] = useState(initialInput)
  const [problem, setProblem] = useState<string | null>(null)
  const [regoFailed, setRegoFailed] = useState(false)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<UiError | null>(null)
  const [result, setResult] = useState<{ value: R } | null>(null)

  async function run() {
    setResult(null)
    setError(null)
    setRegoFailed(false)
    let parsed: unknown
    try {
      parsed = JSON.parse(input)
    } catch (err) {
      setProblem(`This is not valid JSON: ${err instanceof Error ? err.message : 'it could not be read'}.`)
      return
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
      setProblem('The input must be a JSON object, like the sample.')
      return
    }
    setProblem(null)
    setBusy(true)
    const answer = await evaluate(rego, parsed)
    setBusy(false)
    if (answer.data && !answer.error) {
      setResult({ value: answer.data })
      onRegoResult(null)
      return
    }
    if (!answer.error) {
      setError(unexpectedError())
      return
    }
    const inputError = fieldError(answer.error, 'input')
    const regoError = regoErrorFrom(answer.error, ['input'])
    if (inputError) {
      setProblem(inputError)
    } else if (regoError) {
      // A policy that does not compile belongs to the editor: it is marked there.
      setRegoFailed(true)
      onRegoResult(regoError)
    } else {
      setError(describeError(answer.error))
    }
  }

  return (
    <section className="subsection" aria-labelledby="tester-title">
      <h3 id="tester-title">Test against input</h3>
      <p className="hint">
        Runs the policy in the editor (saved or not) on this input and shows what it decides. Nothing is saved and
        nothing else changes.
      </p>
      {hint && <p className="hint">{hint}</p>}
      <Field label="Input (JSON)" error={problem} announce>
        {(control) => (
          <textarea
            {...control}
            className="mono"
            rows={12}
            value={input}
            spellCheck={false}
            onChange={(e) => {
              setInput(e.target.value)
              setProblem(null)
            }}
          />
        )}
      </Field>
      {error && <ErrorAlert error={error} />}
      {regoFailed && (
        <p className="field-error" role="alert" data-testid="tester-rego-error">
          The policy in the editor does not compile; the error is shown under the editor.
        </p>
      )}
      <button type="button" onClick={run} disabled={busy}>
        {busy ? 'Evaluating…' : 'Evaluate'}
      </button>
      {result && renderResult(result.value)}
    </section>
  )
}
