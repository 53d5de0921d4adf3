import { useRef, useState, type FormEvent } from 'react'
import { useQuery } from 'urql'
import { AuditActionsDocument, type AuditEventFilter } from '../../gql/graphql'
import { browserTimeZone } from '../../rollout'
import { Field, useFocusFirstInvalid, type ControlProps } from '../Form'
import { MemberFilterField } from './MemberFilterField'

interface Values {
  action: string
  actor: string
  target: string
  from: string
  to: string
}

const EMPTY: Values = { action: '', actor: '', target: '', from: '', to: '' }

/** The filter form's values for a filter from the page's address (`?actor=member:…`). */
function valuesOf(filter: AuditEventFilter | null): Values {
  return {
    ...EMPTY,
    action: filter?.action ?? '',
    actor: filter?.actor ?? '',
    target: filter?.target ?? '',
  }
}

/** A `datetime-local` value (the viewer's own time) as an RFC 3339 UTC timestamp; null when empty or invalid. */
function utc(local: string): string | null {
  if (!local) return null
  const date = new Date(local)
  return Number.isNaN(date.getTime()) ? null : date.toISOString()
}

/** The API's filter for these values; null when nothing is set. */
export function filterFrom(values: Values): AuditEventFilter | null {
  const filter: AuditEventFilter = {
    action: values.action.trim() || null,
    actor: values.actor.trim() || null,
    target: values.target.trim() || null,
    from: utc(values.from),
    to: utc(values.to),
  }
  return Object.values(filter).some((v) => v !== null) ? filter : null
}

function problemsIn(values: Values): { from?: string; to?: string } {
  const problems: { from?: string; to?: string } = {}
  if (values.from && !utc(values.from)) problems.from = 'Enter a valid date and time.'
  if (values.to && !utc(values.to)) problems.to = 'Enter a valid date and time.'
  const from = utc(values.from)
  const to = utc(values.to)
  if (from && to && to <= from) problems.to = 'Must be after From.'
  return problems
}

interface AuditFiltersProps {
  /** The filter the list starts with (from the address). */
  initial: AuditEventFilter | null
  /** Called with the filter to list by; null for every event. */
  onApply: (filter: AuditEventFilter | null) => void
  disabled?: boolean
}

/** The audit log's filters; every condition set must hold. */
export function AuditFilters({ initial, onApply, disabled }: AuditFiltersProps) {
  const [values, setValues] = useState<Values>(() => valuesOf(initial))
  const [{ data: actions }] = useQuery({ query: AuditActionsDocument })
  const zone = browserTimeZone()
  const [problems, setProblems] = useState<{ from?: string; to?: string }>({})
  const [failures, setFailures] = useState(0)
  const form = useRef<HTMLFormElement>(null)
  useFocusFirstInvalid(form, failures)
  const member = (field: 'actor' | 'target') => (value: string) => setValues((v) => ({ ...v, [field]: value }))
  const known = actions?.auditActions ?? []
  // An action from the address that the list does not name (an older one) stays choosable.
  const options = values.action && !known.some((a) => a.action === values.action) ? [...known, { action: values.action, label: values.action }] : known
  const time = (field: 'from' | 'to') => (control: ControlProps) => (
    <input
      {...control}
      type="datetime-local"
      value={values[field]}
      onChange={(e) => setValues((v) => ({ ...v, [field]: e.target.value }))}
    />
  )

  function apply(event: FormEvent) {
    event.preventDefault()
    const found = problemsIn(values)
    setProblems(found)
    if (found.from || found.to) {
      setFailures((n) => n + 1)
      return
    }
    onApply(filterFrom(values))
  }

  function clear() {
    setValues(EMPTY)
    setProblems({})
    onApply(null)
  }

  return (
    <form ref={form} className="filters" onSubmit={apply} noValidate aria-label="Filter the audit log">
      <div className="filter-grid">
        <Field label="Action" hint="What happened.">
          {(control) => (
            <select {...control} value={values.action} onChange={(e) => setValues((v) => ({ ...v, action: e.target.value }))}>
              <option value="">Any action</option>
              {options.map((a) => (
                <option key={a.action} value={a.action}>
                  {a.label}
                </option>
              ))}
            </select>
          )}
        </Field>
        <MemberFilterField label="Actor" value={values.actor} onChange={member('actor')} hint="Who did it" />
        <MemberFilterField label="Target" value={values.target} onChange={member('target')} hint="Who it was done to" />
        <Field label="From" error={problems.from} hint={`At or after, in ${zone}`}>
          {time('from')}
        </Field>
        <Field label="To" error={problems.to} hint={`Before, in ${zone}`}>
          {time('to')}
        </Field>
      </div>
      <div className="row">
        <button type="submit" className="button-primary" disabled={disabled}>
          Apply filters
        </button>
        <button type="button" onClick={clear} disabled={disabled}>
          Clear
        </button>
      </div>
    </form>
  )
}
