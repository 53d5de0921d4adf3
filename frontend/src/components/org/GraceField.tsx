import { Field } from '../Form'
import { CheckboxField } from '../Form'
import { browserTimeZone } from '../../rollout'

/** The longest grace period the API accepts. */
export const GRACE_MAX_DAYS = 90
/** What a large organization usually needs to get every member a key. */
export const GRACE_DEFAULT_DAYS = 14

const DAY_MS = 24 * 3600 * 1000

/** `yyyy-mm-dd` for a local date. */
export function dateInputValue(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0')
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`
}

/** The end of the chosen local day, as an RFC 3339 timestamp; null when `value` is no date. */
export function endOfDay(value: string): string | null {
  const date = new Date(`${value}T23:59:59`)
  return Number.isNaN(date.getTime()) ? null : date.toISOString()
}

/** The date input's value `days` from today. */
export function daysFromToday(days: number): string {
  return dateInputValue(new Date(Date.now() + days * DAY_MS))
}

/** What the admin chose: a grace period (on) ending on `date`, or none. */
export interface Grace {
  on: boolean
  date: string
}

interface GraceFieldProps {
  grace: Grace
  onChange: (grace: Grace) => void
  error: string | null
  disabled: boolean
  /** The checkbox's label. */
  label?: string
}

/** "Give members without a key until …", with the day's end stated in the browser's own time zone. */
export function GraceField({ grace, onChange, error, disabled, label = 'Give members without a key a grace period' }: GraceFieldProps) {
  const today = new Date()
  const latest = new Date(today.getTime() + GRACE_MAX_DAYS * DAY_MS)
  const zone = browserTimeZone(grace.date ? new Date(`${grace.date}T23:59:59`) : today)
  return (
    <div className="grace-field">
      <CheckboxField
        label={label}
        hint="Without one, members without a key must register one at their next login."
        checked={grace.on}
        disabled={disabled}
        onChange={(on) => onChange({ ...grace, on })}
      />
      {grace.on && (
        <Field
          label="Grace period ends"
          error={error}
          announce
          hint={
            <>
              Members without a key may keep working until the end of this day, 23:59 in{' '}
              <span data-testid="grace-zone">{zone}</span>. At most {GRACE_MAX_DAYS} days from today.
            </>
          }
        >
          {(control) => (
            <input
              {...control}
              type="date"
              value={grace.date}
              min={dateInputValue(today)}
              max={dateInputValue(latest)}
              onChange={(e) => onChange({ ...grace, date: e.target.value })}
              disabled={disabled}
              className="input-date"
              data-testid="grace-input"
            />
          )}
        </Field>
      )}
    </div>
  )
}

/** The grace period's end to send, or a problem with the date. */
export function graceDeadline(grace: Grace): { at: string | null } | { problem: string } {
  if (!grace.on) return { at: null }
  const at = grace.date ? endOfDay(grace.date) : null
  return at ? { at } : { problem: 'Enter a valid date.' }
}
