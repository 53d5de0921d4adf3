import { useId, useMemo, useState } from 'react'
import type { AuthenticatorModelsQuery } from '../../gql/graphql'

type Model = AuthenticatorModelsQuery['authenticatorModels'][number]

const AAGUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i
const SHOWN = 8

/** An AAGUID in one spelling (lower case, no dashes), to compare two. */
export function aaguidKey(aaguid: string): string {
  return aaguid.toLowerCase().replaceAll('-', '')
}

/** Whether `text` is an AAGUID (32 hexadecimal digits, dashes optional). */
export function isAaguid(text: string): boolean {
  return AAGUID.test(text.trim())
}

/** The models whose name or AAGUID contains `query` (case-insensitive), at most `limit`. */
export function matchModels(models: readonly Model[], query: string, exclude: ReadonlySet<string>, limit = SHOWN): Model[] {
  const q = query.trim().toLowerCase()
  if (!q) return []
  return models
    .filter((m) => !exclude.has(aaguidKey(m.aaguid)) && (m.name.toLowerCase().includes(q) || aaguidKey(m.aaguid).includes(aaguidKey(q))))
    .slice(0, limit)
}

interface AaguidPickerProps {
  label: string
  hint: string
  models: readonly Model[]
  value: string[]
  onChange: (value: string[]) => void
  error?: string | null
  disabled?: boolean
}

/** Picks authenticator models by name (the AAGUID in small text); an AAGUID the list does not know can be typed in. */
export function AaguidPicker({ label, hint, models, value, onChange, error, disabled }: AaguidPickerProps) {
  const id = useId()
  const [query, setQuery] = useState('')
  const names = useMemo(() => new Map(models.map((m) => [aaguidKey(m.aaguid), m.name])), [models])
  const chosen = useMemo(() => new Set(value.map(aaguidKey)), [value])
  const matches = matchModels(models, query, chosen)
  const typedAaguid = isAaguid(query) && !chosen.has(aaguidKey(query)) && !names.has(aaguidKey(query)) ? query.trim().toLowerCase() : null

  function add(aaguid: string) {
    onChange([...value, aaguid])
    setQuery('')
  }

  return (
    <fieldset className="field aaguid-picker" aria-describedby={`${id}-hint`} aria-invalid={error ? true : undefined}>
      <legend>{label}</legend>
      <p id={`${id}-hint`} className="hint">
        {hint}
      </p>
      {value.length === 0 ? (
        <p className="muted">None chosen.</p>
      ) : (
        <ul className="plain-list chosen-models" aria-label={`${label}: chosen`}>
          {value.map((aaguid) => (
            <li key={aaguid}>
              <span>
                {names.get(aaguidKey(aaguid)) ?? 'Unknown model'} <small className="mono muted">{aaguid}</small>
              </span>
              <button
                type="button"
                className="button-small"
                disabled={disabled}
                onClick={() => onChange(value.filter((a) => a !== aaguid))}
                aria-label={`Remove ${names.get(aaguidKey(aaguid)) ?? aaguid} from ${label.toLowerCase()}`}
              >
                Remove
              </button>
            </li>
          ))}
        </ul>
      )}
      <label htmlFor={id} className="visually-hidden">
        Find a model for {label.toLowerCase()}
      </label>
      <input
        id={id}
        type="search"
        value={query}
        disabled={disabled}
        placeholder="Find a model by name, or paste an AAGUID"
        autoComplete="off"
        spellCheck={false}
        aria-invalid={error ? true : undefined}
        onChange={(e) => setQuery(e.target.value)}
      />
      {(matches.length > 0 || typedAaguid) && (
        <ul className="plain-list suggestions" aria-label={`Models matching “${query.trim()}”`}>
          {matches.map((m) => (
            <li key={m.aaguid}>
              <button type="button" className="suggestion" disabled={disabled} onClick={() => add(m.aaguid)}>
                {m.name} <small className="mono muted">{m.aaguid}</small>
              </button>
            </li>
          ))}
          {typedAaguid && (
            <li>
              <button type="button" className="suggestion" disabled={disabled} onClick={() => add(typedAaguid)}>
                Add AAGUID <span className="mono">{typedAaguid}</span> (not in Keyward&apos;s list)
              </button>
            </li>
          )}
        </ul>
      )}
      {query.trim() && matches.length === 0 && !typedAaguid && <p className="muted">No model matches “{query.trim()}”.</p>}
      {error && <p className="field-error">{error}</p>}
    </fieldset>
  )
}
