import { useCallback, useEffect, useId, useRef, useState, type FormEvent, type ReactNode, type RefObject } from 'react'
import type { OperationResult } from '@urql/core'
import { formErrors, type UiError } from '../errors'
import { useAction } from '../operations'
import { CopyButton } from './CopyButton'
import { ErrorAlert } from './ErrorAlert'

/** What a form control needs to be tied to its label, hint and error. */
export interface ControlProps {
  id: string
  'aria-describedby'?: string
  'aria-invalid'?: true
}

interface FieldProps {
  label: string
  /** An ID for the label element, for others it describes. */
  labelId?: string
  hint?: ReactNode
  /** Shown under the control, which is then marked invalid. */
  error?: string | null
  /** Announce the error as it appears (where focus does not move to the field, e.g. in a dialog). */
  announce?: boolean
  /** Renders the control with the props that tie it to the label, hint and error. */
  children: (control: ControlProps) => ReactNode
}

/** A labelled form control with its hint and, when there is one, its error. */
export function Field({ label, labelId, hint, error, announce, children }: FieldProps) {
  const id = useId()
  const hintId = `${id}-hint`
  const errorId = `${id}-error`
  const describedBy = [error ? errorId : null, hint ? hintId : null].filter(Boolean).join(' ')
  return (
    <div className="field">
      <label htmlFor={id} id={labelId}>
        {label}
      </label>
      {children({ id, 'aria-describedby': describedBy || undefined, 'aria-invalid': error ? true : undefined })}
      {error && (
        <p id={errorId} className="field-error" role={announce ? 'alert' : undefined}>
          {error}
        </p>
      )}
      {hint && (
        <p id={hintId} className="hint">
          {hint}
        </p>
      )}
    </div>
  )
}

interface CheckboxFieldProps {
  label: string
  hint?: ReactNode
  checked: boolean
  disabled?: boolean
  onChange: (checked: boolean) => void
}

/** A checkbox with its label beside it and an optional hint below. */
export function CheckboxField({ label, hint, checked, disabled, onChange }: CheckboxFieldProps) {
  const id = useId()
  return (
    <div className="field">
      <div className="checkbox">
        <input
          id={id}
          type="checkbox"
          checked={checked}
          disabled={disabled}
          onChange={(e) => onChange(e.target.checked)}
          aria-describedby={hint ? `${id}-hint` : undefined}
        />
        <label htmlFor={id}>{label}</label>
      </div>
      {hint && (
        <p id={`${id}-hint`} className="hint checkbox-hint">
          {hint}
        </p>
      )}
    </div>
  )
}

interface SelectProps<V extends string> {
  control: ControlProps
  options: readonly { value: V; label: string }[]
  value: V
  disabled?: boolean
  onChange: (value: V) => void
}

/** A `<select>` of fixed options (e.g. an enum of the API) with human labels. */
export function Select<V extends string>({ control, options, value, disabled, onChange }: SelectProps<V>) {
  return (
    <select {...control} value={value} disabled={disabled} onChange={(e) => onChange(e.target.value as V)}>
      {options.map((option) => (
        <option key={option.value} value={option.value}>
          {option.label}
        </option>
      ))}
    </select>
  )
}

/** A read-only value to hand to someone else (a URL, a secret): selectable, with a copy button. */
export function CopyField({ label, value, hint }: { label: string; value: string; hint?: ReactNode }) {
  const labelId = useId()
  return (
    <Field label={label} labelId={labelId} hint={hint}>
      {(control) => (
        <div className="copy-field">
          {/* A textarea, so a long secret or URL wraps and can be read whole (e.g. to write it down) at 375 px. */}
          <textarea {...control} value={value} readOnly rows={1} spellCheck={false} onFocus={(e) => e.target.select()} />
          {/* Described, not labelled, by the field's label: a name like "Copy the secret" would also match the label. */}
          <CopyButton text={value} label="Copy" describedBy={labelId} />
        </div>
      )}
    </Field>
  )
}

/** The state of a settings form: client-side problems and the server's field errors, merged. */
export interface SettingsFormState<F extends string> {
  /** The error to show under each field. */
  errors: Partial<Record<F, string>>
  /** What went wrong that belongs under no field. */
  general: UiError | null
  busy: boolean
  /** Counts failed submits, so focus moves to the first field with an error each time. */
  failures: number
  /** What the last successful submit did, said next to the submit button; empty otherwise. */
  saved: string
  /**
   * Shows `problems` when there are any; otherwise runs `operation` and resolves to its data (then says
   * `savedMessage`) or to null.
   */
  submit: <T>(
    problems: Partial<Record<F, string>>,
    operation: () => Promise<OperationResult<T>>,
    savedMessage: string,
  ) => Promise<T | null>
}

/** Submitting a settings form whose server errors name one of `fields` (`extensions.field`). */
export function useSettingsForm<F extends string>(fields: readonly F[]): SettingsFormState<F> {
  const action = useAction()
  const [problems, setProblems] = useState<Partial<Record<F, string>>>({})
  const [failures, setFailures] = useState(0)
  const [saved, setSaved] = useState('')
  const server = formErrors(action.failure, fields)
  const { run, reset } = action

  const submit = useCallback(
    async <T,>(
      found: Partial<Record<F, string>>,
      operation: () => Promise<OperationResult<T>>,
      savedMessage: string,
    ): Promise<T | null> => {
      setSaved('')
      setProblems(found)
      if (Object.keys(found).length > 0) {
        reset()
        setFailures((n) => n + 1)
        return null
      }
      const data = await run(operation)
      if (data === null) setFailures((n) => n + 1)
      else setSaved(savedMessage)
      return data
    },
    [run, reset],
  )

  return {
    errors: { ...server.fields, ...problems },
    general: Object.keys(problems).length === 0 ? server.general : null,
    busy: action.busy,
    failures,
    saved,
    submit,
  }
}

/** Moves focus to the first control marked invalid inside `ref` each time `failures` grows. */
export function useFocusFirstInvalid(ref: RefObject<HTMLElement | null>, failures: number): void {
  useEffect(() => {
    // Field errors are not announced on their own: focusing the first invalid field reads it with its error.
    if (failures > 0) ref.current?.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus()
  }, [ref, failures])
}

interface SettingsFormProps<F extends string> {
  form: SettingsFormState<F>
  submitLabel: string
  busyLabel: string
  onSubmit: () => void
  children: ReactNode
}

/** A settings form: its fields, an error for what belongs under no field, and the submit button. */
export function SettingsForm<F extends string>({ form, submitLabel, busyLabel, onSubmit, children }: SettingsFormProps<F>) {
  const ref = useRef<HTMLFormElement>(null)
  useFocusFirstInvalid(ref, form.failures)

  function submit(event: FormEvent) {
    event.preventDefault()
    onSubmit()
  }

  return (
    <form ref={ref} onSubmit={submit} noValidate aria-busy={form.busy}>
      {children}
      {form.general && <ErrorAlert error={form.general} />}
      <button type="submit" className="button-primary" disabled={form.busy}>
        {form.busy ? busyLabel : submitLabel}
      </button>
      {/* Said here, next to the button, where the eyes are; the page's top is often out of view. */}
      <p aria-live="polite" className="status alert alert-info form-status" data-testid="form-status">
        {form.saved}
      </p>
    </form>
  )
}
