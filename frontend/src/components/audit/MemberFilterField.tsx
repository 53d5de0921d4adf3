import { useId, useState } from 'react'
import { useQuery } from 'urql'
import { MemberSuggestionsDocument } from '../../gql/graphql'
import { useDebounced } from '../org/MembersCard'

/** Values the field takes as they are, without looking up members. */
const RAW = /^(member:|system$|anonymous$|api_key:|apikey:)/i

interface MemberFilterFieldProps {
  label: string
  value: string
  onChange: (value: string) => void
  /** Extra words for the hint ("who did it", "who or what it was done to"). */
  hint: string
}

/**
 * A filter on an actor or target: type a name or e-mail and pick a member (fills `member:<id>`), or
 * type an exact value (`system`, `member:<id>`) as before.
 */
export function MemberFilterField({ label, value, onChange, hint }: MemberFilterFieldProps) {
  const id = useId()
  const [open, setOpen] = useState(false)
  const typed = value.trim()
  const search = useDebounced(typed, 250)
  const lookUp = open && search.length >= 2 && !RAW.test(search)
  const [{ data, fetching }] = useQuery({ query: MemberSuggestionsDocument, variables: { search }, pause: !lookUp })
  const suggestions = lookUp ? (data?.organization.members.nodes ?? []) : []
  // The name shown under the field, while the field still holds the value it was picked for.
  const [picked, setPicked] = useState<{ value: string; name: string } | null>(null)
  const chosen = picked?.value === value ? picked.name : null

  const listId = `${id}-suggestions`
  return (
    <div className="field member-filter">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        value={value}
        spellCheck={false}
        autoComplete="off"
        aria-describedby={`${id}-hint`}
        aria-controls={suggestions.length ? listId : undefined}
        onFocus={() => setOpen(true)}
        onChange={(e) => {
          setOpen(true)
          onChange(e.target.value)
        }}
        onKeyDown={(e) => {
          if (e.key === 'Escape') setOpen(false)
        }}
      />
      {suggestions.length > 0 && (
        <ul id={listId} className="suggestions" aria-label={`Members matching “${search}”`}>
          {suggestions.map(({ member }) => (
            <li key={member.id}>
              <button
                type="button"
                className="suggestion"
                onClick={() => {
                  const next = `member:${member.id}`
                  onChange(next)
                  setPicked({ value: next, name: member.displayName || member.username })
                  setOpen(false)
                }}
              >
                <strong>{member.displayName || member.username}</strong>{' '}
                <span className="muted">
                  {member.username}
                  {member.email ? ` · ${member.email}` : ''}
                </span>
              </button>
            </li>
          ))}
        </ul>
      )}
      <p id={`${id}-hint`} className="hint" aria-live="polite">
        {chosen ? (
          <>Member: {chosen}</>
        ) : lookUp && fetching ? (
          'Looking up members…'
        ) : lookUp && data && suggestions.length === 0 ? (
          `No member matches “${search}”.`
        ) : (
          `${hint}: a member's name or e-mail, or exactly system, anonymous or member:<id>.`
        )}
      </p>
    </div>
  )
}
